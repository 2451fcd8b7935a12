#include "qs_stats.h"

#include <math.h>
#include <stdlib.h>

int qs_value_stats_compute(qs_type type, const void *src, int64_t n_per_row, int64_t nrows,
                           qs_value_stats *out, qs_error *err) {
    const qs_type_traits *tr = qs_type_traits_get(type);
    if (!tr || !tr->to_float)
        return qs_error_set(err, "values of type %s cannot be read yet", qs_type_name(type));
    if (n_per_row <= 0 || n_per_row % tr->blck_size)
        return qs_error_set(err, "row of %lld values cannot hold %s blocks of %d", (long long)n_per_row,
                            tr->name, tr->blck_size);
    float *row = malloc((size_t)n_per_row * sizeof *row);
    if (!row) return qs_error_set(err, "out of memory");
    uint64_t row_bytes = qs_type_row_bytes(type, n_per_row);
    double sum = 0, sum2 = 0, sum_abs = 0, mn = INFINITY, mx = -INFINITY;
    qs_value_stats s = {0};
    for (int64_t r = 0; r < nrows; r++) {
        tr->to_float((const uint8_t *)src + (uint64_t)r * row_bytes, row, n_per_row);
        double rs = 0, rs2 = 0, ra = 0; /* per-row partial sums keep precision on big tensors */
        for (int64_t i = 0; i < n_per_row; i++) {
            float v = row[i];
            if (isnan(v)) { s.n_nan++; continue; }
            if (isinf(v)) { s.n_inf++; continue; }
            if (v == 0.0f) s.n_zero++;
            rs += v;
            rs2 += (double)v * v;
            ra += fabs(v);
            if (v < mn) mn = v;
            if (v > mx) mx = v;
        }
        sum += rs;
        sum2 += rs2;
        sum_abs += ra;
    }
    free(row);
    s.n = n_per_row * nrows;
    int64_t nf = s.n - s.n_nan - s.n_inf;
    if (nf > 0) {
        s.min = mn;
        s.max = mx;
        s.mean = sum / (double)nf;
        double var = sum2 / (double)nf - s.mean * s.mean;
        s.std = var > 0 ? sqrt(var) : 0;
        s.rms = sqrt(sum2 / (double)nf);
        s.mean_abs = sum_abs / (double)nf;
    }
    *out = s;
    return QS_OK;
}
