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

#endif
