/* Error metrics: statistics against figures computed here directly, sampling, histogram,
 * determinism across thread counts, totals. */
#include "qs_test_util.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "qs_metrics.h"
#include "qs_quantize.h"
#include "qs_types.h"

/* ---------------------------------------------------------------- reference */

/* Figures computed the plain way, in long double over the given rows of x (float source). */
typedef struct ref_stats {
    int64_t n;
    double rmse, max_abs, mean_abs, rms_w, cosine, snr_db, rmse_w;
} ref_stats;

static ref_stats reference(qs_type t, const float *x, int64_t n_per_row, const int64_t *rows,
                           int64_t k, const float *imp) {
    const qs_type_traits *tt = qs_type_traits_get(t);
    uint8_t *qb = malloc(qs_type_row_bytes(t, n_per_row));
    float *q = malloc((size_t)n_per_row * sizeof(float));
    long double e2 = 0, x2 = 0, q2 = 0, xq = 0, ae = 0, we2 = 0, sw = 0;
    double mx = 0;
    ref_stats s = {0};
    for (int64_t i = 0; i < k; i++) {
        const float *xr = x + rows[i] * n_per_row;
        tt->quantize(xr, qb, n_per_row, imp);
        tt->to_float(qb, q, n_per_row);
        for (int64_t j = 0; j < n_per_row; j++) {
            long double e = (long double)q[j] - xr[j];
            e2 += e * e;
            x2 += (long double)xr[j] * xr[j];
            q2 += (long double)q[j] * q[j];
            xq += (long double)xr[j] * q[j];
            ae += fabsl(e);
            double w = imp ? imp[j] : 1.0;
            we2 += w * e * e;
            sw += w;
            if (fabs((double)e) > mx) mx = fabs((double)e);
            s.n++;
        }
    }
    s.rmse = (double)sqrtl(e2 / s.n);
    s.max_abs = mx;
    s.mean_abs = (double)(ae / s.n);
    s.rms_w = (double)sqrtl(x2 / s.n);
    s.cosine = (double)(xq / sqrtl(x2 * q2));
    s.snr_db = (double)(10.0L * log10l(x2 / e2));
    s.rmse_w = (double)sqrtl(we2 / sw);
    free(qb);
    free(q);
    return s;
}

static void assert_close(double got, double want, double rel) {
    if (!(fabs(got - want) <= rel * fabs(want) + 1e-300))
        fail_msg("got %.17g, want %.17g (rel %.3g)", got, want, fabs(got - want) / fabs(want));
}

static uint64_t hist_total(const qs_metrics *m) {
    uint64_t s = m->hist_under + m->hist_over;
    for (int b = 0; b < m->hist_bins; b++) s += m->hist[b];
    return s;
}

static void assert_bits_equal(double a, double b) { assert_memory_equal(&a, &b, sizeof a); }

/* Every field, every bit. */
static void assert_same_metrics(const qs_metrics *a, const qs_metrics *b) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->rows_used, b->rows_used);
    assert_int_equal(a->n_src_nonfinite, b->n_src_nonfinite);
    assert_int_equal(a->n_overflow, b->n_overflow);
    const double da[] = {a->rmse, a->rmse_weighted, a->max_abs, a->mean_abs, a->rms_w,
                         a->rel_rmse, a->snr_db, a->cosine, a->sum_e2, a->sum_x2, a->sum_q2,
                         a->sum_xq, a->sum_abs_e, a->sum_we2, a->sum_w, a->weight,
                         a->sum_scale, a->fraction, a->hist_range, a->hist_range_rel};
    const double db[] = {b->rmse, b->rmse_weighted, b->max_abs, b->mean_abs, b->rms_w,
                         b->rel_rmse, b->snr_db, b->cosine, b->sum_e2, b->sum_x2, b->sum_q2,
                         b->sum_xq, b->sum_abs_e, b->sum_we2, b->sum_w, b->weight,
                         b->sum_scale, b->fraction, b->hist_range, b->hist_range_rel};
    for (size_t i = 0; i < sizeof da / sizeof da[0]; i++) assert_bits_equal(da[i], db[i]);
    assert_int_equal(a->hist_bins, b->hist_bins);
    assert_int_equal(a->hist_under, b->hist_under);
    assert_int_equal(a->hist_over, b->hist_over);
    assert_memory_equal(a->hist, b->hist, sizeof a->hist);
}

static int64_t *all_rows(int64_t nrows) {
    int64_t *r = malloc((size_t)nrows * sizeof *r);
    for (int64_t i = 0; i < nrows; i++) r[i] = i;
    return r;
}

static qs_metrics run(qs_type src_type, const void *src, int64_t n, int64_t nrows, qs_type t,
                      const qs_metrics_opts *o) {
    qs_metrics m;
    qs_error err = {{0}};
    int rc = qs_metrics_compute(src_type, src, n, nrows, t, o, &m, &err);
    if (rc != QS_OK) fail_msg("%s -> %s: rc %d: %s", qs_type_name(src_type), qs_type_name(t), rc,
                              err.msg);
    return m;
}

/* ---------------------------------------------------------------- tests */

static void test_f16_bf16_against_direct(void **state) {
    (void)state;
    const int64_t n = 1000, nrows = 64;
    float *x = malloc((size_t)(n * nrows) * sizeof(float));
    int64_t *rows = all_rows(nrows);
    const qs_type targets[] = {QS_TYPE_F16, QS_TYPE_BF16};
    for (int gen = 0; gen < 2; gen++) {
        if (gen == 0) qs_test_llm_like(x, n * nrows, 21);
        else qs_test_heavy(x, n * nrows, 22);
        for (size_t ti = 0; ti < 2; ti++) {
            qs_metrics m = run(QS_TYPE_F32, x, n, nrows, targets[ti], NULL);
            ref_stats r = reference(targets[ti], x, n, rows, nrows, NULL);
            assert_int_equal(m.n, n * nrows);
            assert_int_equal(m.n_values, n * nrows);
            assert_int_equal(m.rows_used, nrows);
            assert_int_equal(m.n_tensors, 1);
            assert_true(m.fraction == 1.0);
            assert_int_equal(m.src_type, QS_TYPE_F32);
            assert_int_equal(m.type, targets[ti]);
            assert_close(m.rmse, r.rmse, 1e-12);
            assert_true(m.max_abs == r.max_abs); /* a max is exact */
            assert_close(m.mean_abs, r.mean_abs, 1e-12);
            assert_close(m.rms_w, r.rms_w, 1e-12);
            assert_close(m.rel_rmse, r.rmse / r.rms_w, 1e-12);
            assert_close(m.cosine, r.cosine, 1e-14);
            assert_close(m.snr_db, r.snr_db, 1e-12);
            assert_true(m.rmse_weighted == m.rmse);
            assert_int_equal(hist_total(&m), (uint64_t)m.n);
            /* Half-precision rounding: F16 ~ 2^-12 relative RMS error, BF16 ~ 2^-9. */
            double expect = targets[ti] == QS_TYPE_F16 ? 0x1p-12 : 0x1p-9;
            assert_true(m.rel_rmse > expect * 0.3 && m.rel_rmse < expect * 1.5);
            assert_true(m.snr_db > 40.0);
        }
    }
    free(x);
    free(rows);
}

/* The stored type is F16: values are the F16 ones, measured against BF16. */
static void test_quantized_source(void **state) {
    (void)state;
    const int64_t n = 512, nrows = 40;
    float *x = malloc((size_t)(n * nrows) * sizeof(float));
    float *xs = malloc((size_t)(n * nrows) * sizeof(float));
    uint8_t *src = malloc((size_t)(n * nrows) * 2);
    int64_t *rows = all_rows(nrows);
    qs_test_gaussian(x, n * nrows, 31);
    qs_error err = {{0}};
    assert_int_equal(qs_quantize_rows(QS_TYPE_F16, x, src, n, nrows, NULL, NULL, &err), QS_OK);
    assert_int_equal(qs_dequantize_rows(QS_TYPE_F16, src, xs, n, nrows, NULL, &err), QS_OK);
    qs_metrics m = run(QS_TYPE_F16, src, n, nrows, QS_TYPE_BF16, NULL);
    ref_stats r = reference(QS_TYPE_BF16, xs, n, rows, nrows, NULL);
    assert_int_equal(m.src_type, QS_TYPE_F16);
    assert_true(m.rmse > 0);
    /* against the original floats the figures would differ: the reference is the stored F16 */
    ref_stats orig = reference(QS_TYPE_BF16, x, n, rows, nrows, NULL);
    assert_true(orig.rmse != r.rmse);
    assert_close(m.rmse, r.rmse, 1e-12);
    assert_true(m.max_abs == r.max_abs);
    assert_close(m.cosine, r.cosine, 1e-14);
    assert_close(m.snr_db, r.snr_db, 1e-12);
    free(x);
    free(xs);
    free(src);
    free(rows);
}

/* Stored type == target type and a float format: requantizing is exact. */
static void test_identical_types(void **state) {
    (void)state;
    const int64_t n = 256, nrows = 30;
    float *x = malloc((size_t)(n * nrows) * sizeof(float));
    uint8_t *src = malloc((size_t)(n * nrows) * 4);
    qs_test_llm_like(x, n * nrows, 41);
    const qs_type types[] = {QS_TYPE_F16, QS_TYPE_BF16, QS_TYPE_F32};
    qs_error err = {{0}};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(qs_quantize_rows(types[i], x, src, n, nrows, NULL, NULL, &err), QS_OK);
        qs_metrics m = run(types[i], src, n, nrows, types[i], NULL);
        assert_int_equal(m.n, n * nrows);
        assert_true(m.rmse == 0.0 && m.max_abs == 0.0 && m.mean_abs == 0.0);
        assert_true(m.rel_rmse == 0.0);
        assert_true(isinf(m.snr_db) && m.snr_db > 0);
        assert_true(m.cosine == 1.0);
        assert_true(m.rms_w > 0.01 && m.rms_w < 0.1);
        assert_int_equal(hist_total(&m), (uint64_t)m.n);
        /* all errors are 0: the bin holding 0 is [0, width), the middle one */
        assert_int_equal(m.hist[m.hist_bins / 2], (uint64_t)m.n);
        assert_true(m.hist_range > 0);
    }
    free(x);
    free(src);
}

static void test_zero_tensor(void **state) {
    (void)state;
    const int64_t n = 128, nrows = 20;
    float *x = calloc((size_t)(n * nrows), sizeof(float));
    qs_metrics m = run(QS_TYPE_F32, x, n, nrows, QS_TYPE_F16, NULL);
    assert_int_equal(m.n, n * nrows);
    assert_true(m.rmse == 0.0 && m.max_abs == 0.0 && m.rms_w == 0.0 && m.rel_rmse == 0.0);
    assert_true(isinf(m.snr_db) && m.snr_db > 0);
    assert_true(m.cosine == 1.0);
    assert_true(m.hist_range == 1.0); /* nothing to scale by: a unit range */
    assert_true(m.hist_range_rel == 0.0);
    assert_int_equal(m.hist[m.hist_bins / 2], (uint64_t)m.n);
    assert_true(qs_metrics_hist_edge_rel(&m, 3) == 0.0);
    free(x);
}

static void test_threads_bit_identical(void **state) {
    (void)state;
    const int64_t n = 512, nrows = 1100; /* 128 rows per chunk: 9 chunks */
    float *x = malloc((size_t)(n * nrows) * sizeof(float));
    float *imp = malloc((size_t)n * sizeof(float));
    qs_test_heavy(x, n * nrows, 51);
    for (int64_t i = 0; i < n; i++) imp[i] = 1.0f + (float)(i % 5);
    const qs_type targets[] = {QS_TYPE_F16, QS_TYPE_BF16};
    for (size_t ti = 0; ti < 2; ti++) {
        for (int mode = 0; mode < 2; mode++) {
            qs_metrics_opts o;
            qs_metrics_opts_default(&o);
            o.importance = imp;
            if (mode) {
                o.mode = QS_METRICS_SAMPLED;
                o.sample_fraction = 0.4;
            }
            o.n_threads = 1;
            qs_metrics m1 = run(QS_TYPE_F32, x, n, nrows, targets[ti], &o);
            o.n_threads = 2;
            qs_metrics m2 = run(QS_TYPE_F32, x, n, nrows, targets[ti], &o);
            o.n_threads = 5;
            qs_metrics m5 = run(QS_TYPE_F32, x, n, nrows, targets[ti], &o);
            assert_same_metrics(&m1, &m2);
            assert_same_metrics(&m1, &m5);
            assert_true(m1.sum_e2 > 0);
        }
    }
    free(x);
    free(imp);
}

static void test_sampled(void **state) {
    (void)state;
    const int64_t n = 256, nrows = 1000;
    float *x = malloc((size_t)(n * nrows) * sizeof(float));
    qs_test_llm_like(x, n * nrows, 61);
    qs_metrics_opts o;
    qs_metrics_opts_default(&o);
    o.mode = QS_METRICS_SAMPLED;
    o.sample_fraction = 0.25;
    o.seed = 7;
    o.n_threads = 2;
    qs_metrics a = run(QS_TYPE_F32, x, n, nrows, QS_TYPE_BF16, &o);
    qs_metrics b = run(QS_TYPE_F32, x, n, nrows, QS_TYPE_BF16, &o);
    assert_same_metrics(&a, &b); /* deterministic */
    assert_int_equal(a.rows_used, 250);
    assert_true(a.fraction == 0.25);
    assert_int_equal(a.n, 250 * n);
    assert_int_equal(a.n_sampled, 250 * n);
    assert_int_equal(a.n_values, nrows * n);
    assert_true(a.sum_scale == 4.0);

    /* The rows measured are the documented ones: evenly strided, increasing, in range. */
    int64_t rows[250];
    for (int64_t i = 0; i < 250; i++) {
        rows[i] = qs_metrics_sample_row(nrows, 250, 7, i);
        assert_true(rows[i] >= 0 && rows[i] < nrows);
        if (i) assert_true(rows[i] - rows[i - 1] == 4); /* 1000 / 250 */
    }
    ref_stats r = reference(QS_TYPE_BF16, x, n, rows, 250, NULL);
    assert_close(a.rmse, r.rmse, 1e-12);
    assert_true(a.max_abs == r.max_abs);
    assert_close(a.cosine, r.cosine, 1e-14);

    /* Another seed picks other rows (offset 0..3 of each stride of 4). */
    int64_t differ = 0;
    for (uint64_t s = 0; s < 8; s++)
        differ += qs_metrics_sample_row(nrows, 250, s, 0) != rows[0];
    assert_true(differ > 0);

    /* Uneven stride: k rows, strictly increasing, all distinct and < nrows. */
    for (int64_t k = 1; k <= 97; k += 8) {
        int64_t prev = -1;
        for (int64_t i = 0; i < k; i++) {
            int64_t rr = qs_metrics_sample_row(97, k, 12345, i);
            assert_true(rr > prev && rr < 97);
            prev = rr;
        }
    }

    /* The floor: at least min(nrows, 16) rows. */
    assert_int_equal(qs_metrics_sample_count(1000, 0.001, 0), 16);
    assert_int_equal(qs_metrics_sample_count(1000, 0.001, 40), 40);
    assert_int_equal(qs_metrics_sample_count(10, 0.01, 0), 10);
    assert_int_equal(qs_metrics_sample_count(1000, 0.0105, 0), 16);
    assert_int_equal(qs_metrics_sample_count(1000, 0.1234, 0), 124);
    assert_int_equal(qs_metrics_sample_count(1000, 1.0, 0), 1000);
    assert_int_equal(qs_metrics_sample_count(0, 0.5, 0), 0);
    o.sample_fraction = 0.001;
    qs_metrics c = run(QS_TYPE_F32, x, n, nrows, QS_TYPE_BF16, &o);
    assert_int_equal(c.rows_used, 16);
    assert_true(c.fraction == 0.016);

    /* Sampled at 100% equals exact. */
    o.sample_fraction = 1.0;
    qs_metrics full_s = run(QS_TYPE_F32, x, n, nrows, QS_TYPE_BF16, &o);
    o.mode = QS_METRICS_EXACT;
    qs_metrics full_e = run(QS_TYPE_F32, x, n, nrows, QS_TYPE_BF16, &o);
    assert_same_metrics(&full_s, &full_e);
    /* And sampled / exact of the same tensor share their automatic range. */
    assert_true(a.hist_range == full_e.hist_range);
    free(x);
}

static void test_histogram(void **state) {
    (void)state;
    const int64_t n = 512, nrows = 200;
    float *x = malloc((size_t)(n * nrows) * sizeof(float));
    float *q = malloc((size_t)n * sizeof(float));
    uint8_t *qb = malloc((size_t)n * 2);
    qs_test_gaussian(x, n * nrows, 71);
    qs_error err = {{0}};

    /* Automatic range: what auto_range reports, round, about +-4 error RMSE, tiny tail. */
    qs_metrics m = run(QS_TYPE_F32, x, n, nrows, QS_TYPE_BF16, NULL);
    double auto_r = 0;
    assert_int_equal(qs_metrics_auto_range(QS_TYPE_F32, x, n, nrows, QS_TYPE_BF16, NULL, &auto_r,
                                           &err), QS_OK);
    assert_true(auto_r == m.hist_range);
    assert_int_equal(m.hist_bins, QS_METRICS_DEFAULT_BINS);
    assert_int_equal(hist_total(&m), (uint64_t)m.n);
    assert_true(m.hist_range <= fmax(4.0 * m.rmse, m.max_abs) * 1.34);
    assert_true(m.hist_range >= fmin(4.0 * m.rmse, m.max_abs) * 0.5);
    assert_true((double)(m.hist_under + m.hist_over) <= 0.002 * (double)m.n);
    double mant = m.hist_range / pow(10.0, floor(log10(m.hist_range)));
    const double nice[] = {1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8};
    int is_nice = 0;
    for (int i = 0; i < 10; i++) is_nice |= fabs(mant - nice[i]) < 1e-9;
    assert_true(is_nice);
    assert_true(qs_metrics_hist_edge(&m, 0) == -m.hist_range);
    assert_close(qs_metrics_hist_edge(&m, m.hist_bins), m.hist_range, 1e-15);
    assert_close(qs_metrics_hist_edge_rel(&m, 5), qs_metrics_hist_edge(&m, 5) / m.rms_w, 1e-15);
    assert_close(m.hist_range_rel, m.hist_range / m.rms_w, 1e-15);
    /* Rounding error is symmetric: the two halves hold about the same counts. */
    uint64_t lo = 0, hi = 0;
    for (int b = 0; b < m.hist_bins / 2; b++) lo += m.hist[b];
    for (int b = m.hist_bins / 2; b < m.hist_bins; b++) hi += m.hist[b];
    assert_true(fabs((double)lo - (double)hi) < 0.02 * (double)m.n);

    /* Forced narrow range, 50 bins: counts match binning done here; the tails are counted. */
    qs_metrics m16 = run(QS_TYPE_F32, x, n, nrows, QS_TYPE_F16, NULL);
    qs_metrics_opts o;
    qs_metrics_opts_default(&o);
    o.hist_range = 0.3 * m16.max_abs;
    o.hist_bins = 50;
    qs_metrics f = run(QS_TYPE_F32, x, n, nrows, QS_TYPE_F16, &o);
    assert_true(f.hist_range == o.hist_range);
    assert_int_equal(f.hist_bins, 50);
    uint64_t want[50] = {0}, under = 0, over = 0;
    double width = 2.0 * o.hist_range / 50.0;
    for (int64_t r = 0; r < nrows; r++) {
        qs_type_traits_get(QS_TYPE_F16)->quantize(x + r * n, qb, n, NULL);
        qs_type_traits_get(QS_TYPE_F16)->to_float(qb, q, n);
        for (int64_t j = 0; j < n; j++) {
            double e = (double)q[j] - x[r * n + j];
            if (e < -o.hist_range) under++;
            else if (e >= o.hist_range) over++;
            else want[(int)floor((e + o.hist_range) / width)]++;
        }
    }
    assert_int_equal(f.hist_under, under);
    assert_int_equal(f.hist_over, over);
    assert_true(under > 0 && over > 0);
    assert_memory_equal(f.hist, want, sizeof want);
    assert_int_equal(hist_total(&f), (uint64_t)f.n);

    /* Overlay: two types forced to one range share every edge. */
    qs_metrics g = run(QS_TYPE_F32, x, n, nrows, QS_TYPE_BF16, &o);
    for (int b = 0; b <= 50; b++)
        assert_true(qs_metrics_hist_edge(&f, b) == qs_metrics_hist_edge(&g, b));
    assert_int_equal(hist_total(&g), (uint64_t)g.n);
    assert_true(g.hist_under + g.hist_over > f.hist_under + f.hist_over); /* BF16 is wider */
    free(x);
    free(q);
    free(qb);
}

static void test_nonfinite_and_importance(void **state) {
    (void)state;
    const int64_t n = 64, nrows = 4;
    float x[256];
    float imp[64];
    qs_test_gaussian(x, n * nrows, 81);
    for (int64_t i = 0; i < n; i++) imp[i] = (float)(i % 4);
    x[3] = NAN;
    x[70] = INFINITY;
    x[200] = 1e5f; /* above F16's 65504: overflows */
    qs_metrics_opts o;
    qs_metrics_opts_default(&o);
    o.importance = imp;
    qs_metrics m = run(QS_TYPE_F32, x, n, nrows, QS_TYPE_F16, &o);
    assert_int_equal(m.n_src_nonfinite, 2);
    assert_int_equal(m.n_overflow, 1);
    assert_int_equal(m.n, n * nrows - 3);
    assert_int_equal(hist_total(&m), (uint64_t)m.n);
    assert_true(isfinite(m.rmse) && isfinite(m.snr_db) && isfinite(m.cosine));
    /* Reference over the clean values: same figures. */
    x[3] = 0.0f;
    x[70] = 0.0f;
    x[200] = 0.0f;
    int64_t *rows = all_rows(nrows);
    ref_stats r = reference(QS_TYPE_F16, x, n, rows, nrows, imp); /* zeros add no error */
    assert_close(m.sum_e2, r.rmse * r.rmse * (double)(n * nrows), 1e-12);
    /* weights: 4 rows x 16 x (0+1+2+3) = 384, minus those of the 3 excluded columns (3, 6, 8) */
    assert_close(m.sum_w, 379.0, 1e-15);
    assert_close(m.rmse_weighted, sqrt(r.rmse_w * r.rmse_w * 384.0 / 379.0), 1e-12);
    assert_true(m.rmse_weighted != m.rmse);
    free(rows);
}

static void test_errors_and_cancel(void **state) {
    (void)state;
    float x[4096] = {0};
    qs_metrics m;
    qs_error err = {{0}};
    assert_int_equal(qs_metrics_compute(QS_TYPE_F32, x, 172, 2, QS_TYPE_Q4_K, NULL, &m, &err),
                     QS_ERR);
    assert_string_equal(err.msg, "row of 172 values cannot hold Q4_K blocks of 256");
    assert_int_equal(qs_metrics_compute(QS_TYPE_Q8_0, x, 48, 2, QS_TYPE_F16, NULL, &m, &err),
                     QS_ERR);
    assert_string_equal(err.msg, "row of 48 values cannot hold Q8_0 blocks of 32");
    assert_int_equal(qs_metrics_compute(QS_TYPE_I32, x, 16, 2, QS_TYPE_F16, NULL, &m, &err),
                     QS_ERR);
    assert_string_equal(err.msg, "cannot read values of I32 tensors");
    assert_int_equal(qs_metrics_compute(QS_TYPE_F32, x, 256, 2, QS_TYPE_Q8_K, NULL, &m, &err),
                     QS_ERR);
    assert_string_equal(err.msg, "cannot quantize to Q8_K");
    qs_metrics_opts o;
    qs_metrics_opts_default(&o);
    o.mode = QS_METRICS_SAMPLED;
    o.sample_fraction = 0.0;
    assert_int_equal(qs_metrics_compute(QS_TYPE_F32, x, 16, 2, QS_TYPE_F16, &o, &m, &err),
                     QS_ERR);
    assert_string_equal(err.msg, "sample fraction must be in (0, 1] (got 0)");
    qs_metrics_opts_default(&o);
    o.hist_bins = 1000;
    assert_int_equal(qs_metrics_compute(QS_TYPE_F32, x, 16, 2, QS_TYPE_F16, &o, &m, &err),
                     QS_ERR);
    assert_string_equal(err.msg, "histogram bins must be 1..256 (got 1000)");
    qs_metrics_opts_default(&o);
    o.hist_range = NAN;
    assert_int_equal(qs_metrics_compute(QS_TYPE_F32, x, 16, 2, QS_TYPE_F16, &o, &m, &err),
                     QS_ERR);

    /* Empty tensor: fine, nothing measured. */
    assert_int_equal(qs_metrics_compute(QS_TYPE_F32, x, 16, 0, QS_TYPE_F16, NULL, &m, &err),
                     QS_OK);
    assert_int_equal(m.n, 0);
    assert_int_equal(m.rows_used, 0);

    /* Cancel from progress, and a pre-set flag; progress reaches rows_used otherwise. */
    const int64_t n = 64, nrows = 40000;
    float *big = malloc((size_t)(n * nrows) * sizeof(float));
    qs_test_gaussian(big, n * nrows, 91);
    qs_metrics_opts_default(&o);
    o.n_threads = 2;
    atomic_int flag;
    atomic_init(&flag, 1);
    o.cancel = &flag;
    assert_int_equal(qs_metrics_compute(QS_TYPE_F32, big, n, nrows, QS_TYPE_F16, &o, &m, &err),
                     QS_CANCELLED);
    free(big);
}

typedef struct plog {
    int calls;
    uint64_t last, total;
    int stop_at;
} plog;

static int plog_fn(void *user, uint64_t done, uint64_t total) {
    plog *p = user;
    p->calls++;
    p->last = done;
    p->total = total;
    return p->stop_at && p->calls >= p->stop_at;
}

static void test_progress(void **state) {
    (void)state;
    const int64_t n = 64, nrows = 40000;
    float *x = malloc((size_t)(n * nrows) * sizeof(float));
    qs_test_gaussian(x, n * nrows, 92);
    qs_metrics_opts o;
    qs_metrics_opts_default(&o);
    o.n_threads = 2;
    o.mode = QS_METRICS_SAMPLED;
    o.sample_fraction = 0.5;
    plog p = {0};
    o.progress = plog_fn;
    o.progress_user = &p;
    qs_metrics m = run(QS_TYPE_F32, x, n, nrows, QS_TYPE_F16, &o);
    assert_int_equal(p.last, (uint64_t)m.rows_used);
    assert_int_equal(p.total, 20000);
    assert_true(p.calls >= 2 && p.calls <= 258);
    plog p2 = {.stop_at = 1};
    o.progress_user = &p2;
    qs_error err = {{0}};
    assert_int_equal(qs_metrics_compute(QS_TYPE_F32, x, n, nrows, QS_TYPE_F16, &o, &m, &err),
                     QS_CANCELLED);
    assert_int_equal(p2.calls, 1);
    free(x);
}

static void test_totals(void **state) {
    (void)state;
    const int64_t n = 256, ra = 100, rb = 300;
    float *x = malloc((size_t)(n * (ra + rb)) * sizeof(float));
    qs_test_llm_like(x, n * (ra + rb), 101);
    qs_metrics_opts o;
    qs_metrics_opts_default(&o);
    o.hist_range = 1e-4;
    qs_metrics a = run(QS_TYPE_F32, x, n, ra, QS_TYPE_F16, &o);
    qs_metrics b = run(QS_TYPE_F32, x + n * ra, n, rb, QS_TYPE_F16, &o);
    qs_metrics whole = run(QS_TYPE_F32, x, n, ra + rb, QS_TYPE_F16, &o);

    /* A total of one tensor is that tensor. */
    qs_metrics t1;
    qs_metrics_total_init(&t1);
    assert_int_equal(t1.n_tensors, 0);
    qs_metrics_combine(&t1, &a);
    assert_bits_equal(t1.rmse, a.rmse);
    assert_bits_equal(t1.cosine, a.cosine);
    assert_bits_equal(t1.snr_db, a.snr_db);
    assert_int_equal(t1.type, QS_TYPE_F16);

    /* Two halves make the whole (same range: histograms add up too). */
    qs_metrics t;
    qs_metrics_total_init(&t);
    qs_metrics_combine(&t, &a);
    qs_metrics_combine(&t, &b);
    assert_int_equal(t.n_tensors, 2);
    assert_int_equal(t.n, whole.n);
    assert_int_equal(t.nrows, ra + rb);
    assert_close(t.rmse, whole.rmse, 1e-13);
    assert_close(t.mean_abs, whole.mean_abs, 1e-13);
    assert_close(t.rms_w, whole.rms_w, 1e-13);
    assert_close(t.cosine, whole.cosine, 1e-14);
    assert_close(t.snr_db, whole.snr_db, 1e-12);
    assert_true(t.max_abs == whole.max_abs);
    assert_int_equal(t.hist_bins, whole.hist_bins);
    assert_memory_equal(t.hist, whole.hist, sizeof t.hist);
    assert_int_equal(t.hist_under + t.hist_over, whole.hist_under + whole.hist_over);
    assert_true(t.fraction == 1.0);

    /* A sampled part weighs by its full size: sums scaled by n_values / n_sampled. */
    qs_metrics_opts so = o;
    so.mode = QS_METRICS_SAMPLED;
    so.sample_fraction = 0.25;
    qs_metrics bs = run(QS_TYPE_F32, x + n * ra, n, rb, QS_TYPE_BF16, &so);
    assert_int_equal(bs.rows_used, 75);
    qs_metrics ts;
    qs_metrics_total_init(&ts);
    qs_metrics_combine(&ts, &a);
    qs_metrics_combine(&ts, &bs);
    assert_close(ts.rmse, sqrt((a.sum_e2 + 4.0 * bs.sum_e2) / (double)(a.n + 4 * bs.n)), 1e-14);
    assert_close(ts.weight, (double)(a.n + 4 * bs.n), 1e-15);
    assert_close(ts.fraction, (double)(ra + 75) / (double)(ra + rb), 1e-15);
    assert_int_equal(ts.type, QS_TYPE_COUNT); /* F16 and BF16 mixed */
    assert_int_equal(ts.src_type, QS_TYPE_F32);
    assert_int_equal(ts.hist_bins, QS_METRICS_DEFAULT_BINS); /* same bins and forced range */
    assert_int_equal(hist_total(&ts), (uint64_t)(a.n + bs.n));   /* counts are not scaled */

    /* Totals of totals: combining is associative over the scaled sums. */
    qs_metrics tt;
    qs_metrics_total_init(&tt);
    qs_metrics_combine(&tt, &ts);
    assert_bits_equal(tt.rmse, ts.rmse);

    /* Parts with different ranges: no total histogram. */
    qs_metrics_opts o2 = o;
    o2.hist_range = 2e-4;
    qs_metrics c = run(QS_TYPE_F32, x, n, ra, QS_TYPE_F16, &o2);
    qs_metrics_combine(&t, &c);
    assert_int_equal(t.hist_bins, 0);
    assert_int_equal(t.n_tensors, 3);
    free(x);
}

/* Every quantizable type runs on a 256 x 512 matrix (lights up as types are wired). */
static void test_every_type(void **state) {
    (void)state;
    const int64_t n = 512, nrows = 256;
    float *x = malloc((size_t)(n * nrows) * sizeof(float));
    qs_test_llm_like(x, n * nrows, 111);
    int tested = 0;
    for (int t = 0; t < QS_TYPE_COUNT; t++) {
        if (!qs_type_can_quantize(t) || !qs_type_can_read(t)) continue;
        qs_metrics_opts o;
        qs_metrics_opts_default(&o);
        o.n_threads = 1;
        qs_metrics m1 = run(QS_TYPE_F32, x, n, nrows, (qs_type)t, &o);
        o.n_threads = 2;
        qs_metrics m2 = run(QS_TYPE_F32, x, n, nrows, (qs_type)t, &o);
        assert_same_metrics(&m1, &m2);
        assert_int_equal(m1.n, n * nrows);
        assert_int_equal(hist_total(&m1), (uint64_t)m1.n);
        assert_true(isfinite(m1.rmse) && m1.rel_rmse < 1.0);
        assert_true(m1.cosine > 0.5 && m1.cosine <= 1.0);
        assert_true(m1.snr_db > 0.0);
        /* the automatic range keeps the tail small */
        assert_true((double)(m1.hist_under + m1.hist_over) <= 0.005 * (double)m1.n);
        o.mode = QS_METRICS_SAMPLED;
        o.sample_fraction = 0.1;
        qs_metrics s = run(QS_TYPE_F32, x, n, nrows, (qs_type)t, &o);
        assert_int_equal(s.rows_used, 26);
        assert_true(s.rel_rmse < 1.0);
        /* Requantizing a tensor already stored in this type: measured against its own
         * dequantized values (exact for the float formats). */
        uint8_t *stored = malloc(qs_type_row_bytes(t, n) * (uint64_t)nrows);
        qs_error err = {{0}};
        assert_int_equal(qs_quantize_rows((qs_type)t, x, stored, n, nrows, NULL, NULL, &err),
                         QS_OK);
        qs_metrics_opts_default(&o);
        qs_metrics rq = run((qs_type)t, stored, n, nrows, (qs_type)t, &o);
        assert_true(isfinite(rq.rmse) && rq.rel_rmse < 1.0);
        if (!qs_type_traits_get(t)->quantized) assert_true(rq.rmse == 0.0 && rq.cosine == 1.0);
        free(stored);
        tested++;
    }
    assert_true(tested >= 3);
    free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_bf16_against_direct),
        cmocka_unit_test(test_quantized_source),
        cmocka_unit_test(test_identical_types),
        cmocka_unit_test(test_zero_tensor),
        cmocka_unit_test(test_threads_bit_identical),
        cmocka_unit_test(test_sampled),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_nonfinite_and_importance),
        cmocka_unit_test(test_errors_and_cancel),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_totals),
        cmocka_unit_test(test_every_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
