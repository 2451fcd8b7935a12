/* qs_quant_util.h — small helpers the block quantizers share (internal to quant/). */
#ifndef QS_QUANT_UTIL_H
#define QS_QUANT_UTIL_H

#include <float.h>

#include "qs_fp16.h"

#define QS_FP16_MAX 65504.0

/* The half nearest to v, saturated to the largest finite half (never inf or NaN). */
static inline qs_fp16 qs_half_saturated(double v) {
    if (!(v == v)) return 0;
    if (v > QS_FP16_MAX) v = QS_FP16_MAX;
    if (v < -QS_FP16_MAX) v = -QS_FP16_MAX;
    return qs_f32_to_fp16((float)v);
}

/* The half one step further from (dir > 0) or closer to (dir < 0) zero, keeping the sign.
 * Returns h itself when the step would leave the finite range or cross zero. */
static inline qs_fp16 qs_half_step(qs_fp16 h, int dir) {
    uint16_t mag = h & 0x7fffu, sign = h & 0x8000u;
    if (dir > 0 && mag < 0x7bffu) mag++;
    else if (dir < 0 && mag > 0u) mag--;
    return (qs_fp16)(sign | mag);
}

/* Weights of one block (or super-block) of n values: the importance values, cleaned (negative,
 * NaN or infinite become 0) and divided by their maximum so sums stay in range; uniform when
 * importance is NULL or all zero. Only ratios matter to the searches. */
static inline void qs_block_weights(const float *imp, float *w, int n) {
    float wmax = 0.0f;
    if (imp) {
        for (int j = 0; j < n; j++) {
            float v = imp[j];
            if (!(v > 0.0f) || v > FLT_MAX) v = 0.0f;
            w[j] = v;
            if (v > wmax) wmax = v;
        }
    }
    if (wmax > 0.0f) {
        for (int j = 0; j < n; j++) w[j] /= wmax;
    } else {
        for (int j = 0; j < n; j++) w[j] = 1.0f;
    }
}

#endif
