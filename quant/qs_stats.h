/* qs_stats.h — value statistics of a tensor stored in any readable type. */
#ifndef QS_STATS_H
#define QS_STATS_H

#include "qs_common.h"
#include "qs_types.h"

typedef struct qs_value_stats {
    int64_t n;          /* values */
    int64_t n_nan;      /* NaN values (excluded from the figures below) */
    int64_t n_inf;      /* +-Inf values (excluded) */
    int64_t n_zero;     /* exact zeros */
    double min, max;    /* over finite values (0 when there are none) */
    double mean, std;   /* population standard deviation */
    double rms;         /* sqrt(mean(x^2)) */
    double mean_abs;
} qs_value_stats;

/* Dequantizes src (nrows rows of n_per_row values of `type`) a chunk at a time and measures it.
 * Memory: one chunk of floats. QS_OK, or QS_ERR when the type cannot be read. */
int qs_value_stats_compute(qs_type type, const void *src, int64_t n_per_row, int64_t nrows,
                           qs_value_stats *out, qs_error *err);

/* Percentiles of the finite values: for each p in ps[0 .. np-1] (0 <= p <= 100) the value at
 * nearest rank ceil(p/100 * n) of the sorted finite values (p = 0 gives the minimum). When the
 * tensor holds more than max_values values (0 = default 1,048,576), whole rows are taken evenly
 * spread over the tensor (deterministic: row floor(i * nrows / k)) until at least max_values
 * values, and the percentiles are those of that sample. *n_used receives the count of finite
 * values sorted (0: no finite value, out[] all 0). Memory: n_used floats.
 * QS_OK, QS_ENOMEM, or QS_ERR for an unreadable type / a row that does not hold its blocks /
 * p out of range. */
#define QS_PERCENTILE_DEFAULT_VALUES (1 << 20)
int qs_value_percentiles(qs_type type, const void *src, int64_t n_per_row, int64_t nrows,
                         const double *ps, int np, int64_t max_values, double *out,
                         int64_t *n_used, qs_error *err);

#endif
