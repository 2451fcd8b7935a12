/* qs_metrics.h — the error a target type adds to a tensor: statistics and a histogram.
 *
 * For each measured row: the source row (stored in any readable type) is dequantized to float
 * x, quantized to the target type, and dequantized again to q; the error is e = q - x. So the
 * reference is always the float value of the source as stored: when the target type equals the
 * stored type and that type is quantized (a Q4_K tensor measured against Q4_K), the figures
 * are the error of re-quantizing the already-quantized values, not the error against the
 * original weights (which the file no longer has). Requantizing F32/F16/BF16 to itself is
 * exact, so error 0.
 *
 * Modes: EXACT measures every row. SAMPLED measures a deterministic subset of rows, evenly
 * strided with an offset chosen from the seed (qs_metrics_sample_row), of
 * max(ceil(fraction * nrows), min(nrows, min_rows)) rows; the result reports the rows and the
 * fraction actually used.
 *
 * Determinism: for given inputs and options (thread count excluded) the result is bit-identical
 * whatever the number of threads: rows are grouped in chunks whose size depends only on
 * n_per_row, each chunk's sums are accumulated in double in row order, and the chunk sums are
 * combined pairwise in chunk order.
 *
 * Memory: per-thread buffers of a few rows, a histogram per thread and one small record per
 * chunk (about 60 bytes per 64K values) — never the whole tensor.
 *
 * Non-finite values: NaN/Inf source values are counted (n_src_nonfinite), replaced by 0 before
 * quantizing (quantizers assume finite input) and left out of every statistic; finite source
 * values whose quantized value is not finite (e.g. 1e5 in F16) are counted (n_overflow) and also
 * left out, so the figures stay finite and the counts say what was excluded.
 *
 * Histogram: n_bins equal bins over the symmetric range [-hist_range, +hist_range) of signed
 * error q - x in the tensor's own units; errors below / at-or-above the range are counted in
 * hist_under / hist_over, so sum(hist) + under + over == n. Unless a range is forced, it is
 * chosen from a quick pre-pass over 1 to 32 rows (<= 64K values when rows allow; seeded):
 * min(max|e|, max(4 * rmse_e, 99.9th percentile of |e|)) on those rows, rounded up to a
 * round number (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k): about +-4 error-RMSE, no wider
 * than the largest error (before rounding up), clipping at most ~0.1% of the pre-pass values
 * (the under/over counts say what the whole run clipped). Because the pre-pass does
 * not depend on the mode, a sampled and an exact run of the same tensor share their range.
 * Edges divided by rms_w (hist_range_rel, qs_metrics_hist_edge_rel) compare tensors of
 * different scale. To overlay two types on one axis, force the same range for both: e.g. the
 * larger of their qs_metrics_auto_range() values.
 *
 * Thread-safety: all functions are reentrant; progress runs as described in qs_quantize.h. */
#ifndef QS_METRICS_H
#define QS_METRICS_H

#include <stdatomic.h>

#include "qs_common.h"
#include "qs_types.h"

#define QS_METRICS_DEFAULT_BINS 64
#define QS_METRICS_MAX_BINS 256
#define QS_METRICS_DEFAULT_MIN_ROWS 16

typedef enum qs_metrics_mode {
    QS_METRICS_EXACT = 0,   /* every row */
    QS_METRICS_SAMPLED = 1, /* a deterministic subset of rows */
} qs_metrics_mode;

typedef struct qs_metrics_opts {
    qs_metrics_mode mode;
    double sample_fraction;   /* SAMPLED: 0 < f <= 1, share of rows to measure */
    int64_t min_rows;         /* SAMPLED: measure at least min(nrows, this); 0 = default 16 */
    uint64_t seed;            /* picks the sampled rows' offset and the pre-pass rows */
    int n_threads;            /* 0 = all cores */
    qs_progress_fn progress;  /* units: measured rows (0 .. rows_used); NULL = none */
    void *progress_user;
    const atomic_int *cancel; /* NULL or a flag set non-zero to stop (QS_CANCELLED) */
    const float *importance;  /* NULL or n_per_row per-column weights: given to the quantizer
                                 and used for rmse_weighted */
    int hist_bins;            /* 1 .. QS_METRICS_MAX_BINS; 0 = default 64 */
    double hist_range;        /* > 0: force the histogram to [-hist_range, +hist_range) in
                                 absolute units; 0 = choose automatically */
} qs_metrics_opts;

/* Result for one tensor (or, after qs_metrics_combine, for many). All error figures are in
 * the tensor's own units unless named _rel / _db. */
typedef struct qs_metrics {
    qs_type src_type;          /* stored type; QS_TYPE_COUNT in a total mixing types */
    qs_type type;              /* target type; QS_TYPE_COUNT in a total mixing types */
    int64_t n_per_row;         /* 0 in a total mixing row lengths */
    int64_t nrows;             /* rows of the tensor(s) */
    int64_t rows_used;         /* rows measured */
    int64_t n_values;          /* values in the tensor(s): nrows * n_per_row */
    int64_t n_sampled;         /* values in the measured rows: rows_used * n_per_row */
    int64_t n;                 /* values that entered the statistics (n_sampled minus the
                                  two exclusion counts below) */
    int64_t n_src_nonfinite;   /* NaN/Inf source values (excluded) */
    int64_t n_overflow;        /* finite source values quantized to non-finite (excluded) */
    int64_t n_tensors;         /* 1 for one tensor; the count for a total */
    double fraction;           /* n_sampled / n_values: share actually measured (1 when exact) */

    double rmse;               /* sqrt(mean(e^2)) */
    double rmse_weighted;      /* sqrt(sum w e^2 / sum w) over columns' importance w; = rmse
                                  when no importance was given */
    double max_abs;            /* max |e| over measured values */
    double mean_abs;           /* mean |e| */
    double rms_w;              /* sqrt(mean(x^2)): scale of the weights */
    double rel_rmse;           /* rmse / rms_w (0 when both are 0, +inf when only rms_w is) */
    double snr_db;             /* 10 log10(sum x^2 / sum e^2); +INFINITY when there is no error
                                  (also for an all-zero tensor), -INFINITY when x is all zero
                                  but e is not. Printers should show "inf" / JSON null. */
    double cosine;             /* sum xq / sqrt(sum x^2 sum q^2), in [-1, 1]; exactly 1 when
                                  there is no error, 0 when exactly one side is all zero */

    /* Sums the figures above come from (measured values only), kept so results combine.
     * weight is the count they stand for (n for one tensor); sum_scale is the factor that
     * extrapolates them to the whole tensor (n_values / n_sampled for one tensor, 1 for a
     * total, whose sums are already extrapolated). */
    double sum_e2, sum_x2, sum_q2, sum_xq, sum_abs_e, sum_we2, sum_w;
    double weight, sum_scale;

    /* Histogram of e (see the top of this file). In a total: the sum of the parts' counts when
     * every part has the same bins and range, else hist_bins == 0 (no histogram). */
    int hist_bins;
    double hist_range;         /* absolute; bins cover [-hist_range, +hist_range) */
    double hist_range_rel;     /* hist_range / rms_w (0 when rms_w is 0) */
    uint64_t hist_under;       /* e < -hist_range */
    uint64_t hist_over;        /* e >= +hist_range */
    uint64_t hist[QS_METRICS_MAX_BINS]; /* first hist_bins entries used */
} qs_metrics;

/* Defaults: EXACT, fraction 1, min_rows 16, seed 0, all cores, 64 bins, automatic range. */
void qs_metrics_opts_default(qs_metrics_opts *opts);

/* Measures the error of storing the tensor at src in type. src holds nrows rows of n_per_row
 * values in src_type (nrows * qs_type_row_bytes(src_type, n_per_row) bytes; src_type must be
 * readable). type must be quantizable and readable. opts may be NULL (defaults).
 * Fills *out on QS_OK. Returns QS_CANCELLED, QS_ENOMEM, or QS_ERR with a message for an
 * unusable type ("cannot quantize to IQ1_M", "cannot read values of IQ1_M tensors"), a row
 * length that does not fit either type's blocks ("row of 172 values cannot hold Q4_K blocks of
 * 256") or bad options. nrows == 0 gives an empty result (n == 0, no error). */
int qs_metrics_compute(qs_type src_type, const void *src, int64_t n_per_row, int64_t nrows,
                       qs_type type, const qs_metrics_opts *opts, qs_metrics *out,
                       qs_error *err);

/* The histogram range qs_metrics_compute would choose for these arguments (only the quick
 * pre-pass runs; opts->mode, sample_fraction and hist_range are ignored). *range > 0. */
int qs_metrics_auto_range(qs_type src_type, const void *src, int64_t n_per_row, int64_t nrows,
                          qs_type type, const qs_metrics_opts *opts, double *range,
                          qs_error *err);

/* Rows measured in SAMPLED mode: max(ceil(fraction * nrows), min(nrows, min_rows)),
 * capped at nrows (min_rows 0 = default). 0 when nrows <= 0. */
int64_t qs_metrics_sample_count(int64_t nrows, double fraction, int64_t min_rows);

/* The i-th sampled row (0 <= i < k <= nrows): floor((i * nrows + o) / k) with an offset o in
 * [0, nrows) derived from seed — k rows evenly spread, strictly increasing, all < nrows. */
int64_t qs_metrics_sample_row(int64_t nrows, int64_t k, uint64_t seed, int64_t i);

/* Lower edge of bin i in absolute units (i == hist_bins gives the top of the range):
 * -hist_range + i * 2 * hist_range / hist_bins. */
double qs_metrics_hist_edge(const qs_metrics *m, int i);
/* The same edge divided by rms_w (0 when rms_w is 0): comparable across tensors. */
double qs_metrics_hist_edge_rel(const qs_metrics *m, int i);

/* Model totals. Start from qs_metrics_total_init(&t), then qs_metrics_combine(&t, &part) per
 * tensor (or per partial total). Each part counts by its element count: its sums are scaled by
 * sum_scale so a tensor measured on 10% of its rows weighs as much as its whole size. The
 * total's rmse is then sqrt(sum over all values of e^2 / count) (estimated where sampled),
 * max_abs the largest, counts (n, n_values, rows, exclusions, histogram) plain sums, fraction
 * the share of values actually measured. */
void qs_metrics_total_init(qs_metrics *total);
void qs_metrics_combine(qs_metrics *total, const qs_metrics *part);

#endif
