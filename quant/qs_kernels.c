/* Kernel dispatch and the scalar reference kernels.
 *
 * The scalar level is the reference every SIMD level is tested against: quantized dot
 * products are written as the plain math of the block formats (an exact integer sum per block
 * or sub-block, then the float scales), activation quantizers as the plain formulas. */
#include <math.h>

#include "qs_kernels_impl.h"

/* ================================================================ activation quantizers */

/* round to nearest, ties to even: what cvtps2dq does under the default MXCSR */
static inline int round_even(float v) { return (int)lrintf(v); }

void qs_quantize_act_f32_scalar(const float *x, void *dst, int64_t n) {
    memcpy(dst, x, (size_t)n * sizeof(float));
}

/* One 32-value block: returns d (before fp16 rounding), writes q and the sum of q. */
static float q8_block(const float *x, int8_t *q, int *sum) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int s = 0;
    for (int j = 0; j < 32; j++) {
        q[j] = (int8_t)round_even(x[j] * id);
        s += q[j];
    }
    *sum = s;
    return d;
}

void qs_quantize_act_q8_0_scalar(const float *x, void *dst, int64_t n) {
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / 32; b++, out += sizeof(qs_block_q8_0)) {
        int8_t q[32];
        int sum;
        qs_fp16 d = qs_f32_to_fp16(q8_block(x + 32 * b, q, &sum));
        memcpy(out, &d, 2);
        memcpy(out + 2, q, 32);
    }
}

void qs_quantize_act_q8_1_scalar(const float *x, void *dst, int64_t n) {
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / 32; b++, out += sizeof(qs_block_q8_1)) {
        int8_t q[32];
        int sum;
        float df = q8_block(x + 32 * b, q, &sum);
        qs_fp16 d = qs_f32_to_fp16(df), s = qs_f32_to_fp16(df * (float)sum);
        memcpy(out, &d, 2);
        memcpy(out + 2, &s, 2);
        memcpy(out + 4, q, 32);
    }
}

void qs_quantize_act_q8_K_scalar(const float *x, void *dst, int64_t n) {
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / QS_QK_K; b++, out += sizeof(qs_block_q8_K)) {
        const float *xb = x + QS_QK_K * b;
        float amax = 0.0f;
        for (int j = 0; j < QS_QK_K; j++) amax = fmaxf(amax, fabsf(xb[j]));
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int8_t q[QS_QK_K];
        int16_t bsums[16];
        for (int j = 0; j < QS_QK_K; j++) q[j] = (int8_t)round_even(xb[j] * id);
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += q[16 * g + j];
            bsums[g] = (int16_t)s;
        }
        memcpy(out + offsetof(qs_block_q8_K, d), &d, 4);
        memcpy(out + offsetof(qs_block_q8_K, qs), q, QS_QK_K);
        memcpy(out + offsetof(qs_block_q8_K, bsums), bsums, sizeof bsums);
    }
}

/* ================================================================ float dot products */

/* (activation rows need no alignment: floats are read with memcpy) */
float qs_vec_dot_f32_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *a = act;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)qs_ld_f32(x + 4 * i) * qs_ld_f32(a + 4 * i);
    return (float)s;
}

float qs_vec_dot_f16_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *a = act;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)qs_ld_f16(x + 2 * i) * qs_ld_f32(a + 4 * i);
    return (float)s;
}

float qs_vec_dot_bf16_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *a = act;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)qs_bf16_to_f32(qs_ld_u16(x + 2 * i)) * qs_ld_f32(a + 4 * i);
    return (float)s;
}

/* ================================================================ 32-value block formats
 * Weight block x, activation block y (Q8_0: d at 0, qs at 2; Q8_1: d at 0, s at 2, qs at 4). */

float qs_vec_dot_q4_0_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *y = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 32; b++, x += 18, y += 34) {
        const int8_t *a = (const int8_t *)(y + 2);
        int isum = 0;
        for (int j = 0; j < 16; j++)
            isum += ((x[2 + j] & 0xF) - 8) * a[j] + ((x[2 + j] >> 4) - 8) * a[j + 16];
        sum += (float)isum * (qs_ld_f16(x) * qs_ld_f16(y));
    }
    return sum;
}

float qs_vec_dot_q4_1_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *y = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 32; b++, x += 20, y += 36) {
        const int8_t *a = (const int8_t *)(y + 4);
        int isum = 0;
        for (int j = 0; j < 16; j++) isum += (x[4 + j] & 0xF) * a[j] + (x[4 + j] >> 4) * a[j + 16];
        sum += (float)isum * (qs_ld_f16(x) * qs_ld_f16(y)) + qs_ld_f16(x + 2) * qs_ld_f16(y + 2);
    }
    return sum;
}

float qs_vec_dot_q5_0_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *y = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 32; b++, x += 22, y += 34) {
        const int8_t *a = (const int8_t *)(y + 2);
        const uint32_t qh = qs_ld_u32(x + 2);
        int isum = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = (x[6 + j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            int q1 = (x[6 + j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            isum += (q0 - 16) * a[j] + (q1 - 16) * a[j + 16];
        }
        sum += (float)isum * (qs_ld_f16(x) * qs_ld_f16(y));
    }
    return sum;
}

float qs_vec_dot_q5_1_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *y = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 32; b++, x += 24, y += 36) {
        const int8_t *a = (const int8_t *)(y + 4);
        const uint32_t qh = qs_ld_u32(x + 4);
        int isum = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = (x[8 + j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            int q1 = (x[8 + j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            isum += q0 * a[j] + q1 * a[j + 16];
        }
        sum += (float)isum * (qs_ld_f16(x) * qs_ld_f16(y)) + qs_ld_f16(x + 2) * qs_ld_f16(y + 2);
    }
    return sum;
}

float qs_vec_dot_q8_0_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *y = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 32; b++, x += 34, y += 34) {
        const int8_t *q = (const int8_t *)(x + 2), *a = (const int8_t *)(y + 2);
        int isum = 0;
        for (int j = 0; j < 32; j++) isum += q[j] * a[j];
        sum += (float)isum * (qs_ld_f16(x) * qs_ld_f16(y));
    }
    return sum;
}

float qs_vec_dot_iq4_nl_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *y = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 32; b++, x += 18, y += 34) {
        const int8_t *a = (const int8_t *)(y + 2);
        int isum = 0;
        for (int j = 0; j < 16; j++)
            isum += qs_iq4nl_values[x[2 + j] & 0xF] * a[j] + qs_iq4nl_values[x[2 + j] >> 4] * a[j + 16];
        sum += (float)isum * (qs_ld_f16(x) * qs_ld_f16(y));
    }
    return sum;
}

/* ================================================================ 256-value super-blocks
 * Activation Q8_K block y: float d, int8 qs[256], int16 bsums[16]. */

#define Q8K_D(y) qs_ld_f32((y) + offsetof(qs_block_q8_K, d))
#define Q8K_QS(y) ((const int8_t *)((y) + offsetof(qs_block_q8_K, qs)))
#define Q8K_BSUM(y, j) qs_ld_i16((y) + offsetof(qs_block_q8_K, bsums) + 2 * (j))

float qs_vec_dot_iq4_xs_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *y = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QS_QK_K; b++, x += sizeof(qs_block_iq4_xs), y += sizeof(qs_block_q8_K)) {
        const int8_t *a = Q8K_QS(y);
        const uint16_t sh = qs_ld_u16(x + offsetof(qs_block_iq4_xs, scales_h));
        const uint8_t *sl = x + offsetof(qs_block_iq4_xs, scales_l);
        const uint8_t *qs = x + offsetof(qs_block_iq4_xs, qs);
        int isum = 0;
        for (int ib = 0; ib < 8; ib++) {
            int s = 0;
            for (int j = 0; j < 16; j++)
                s += qs_iq4nl_values[qs[16 * ib + j] & 0xF] * a[32 * ib + j] +
                     qs_iq4nl_values[qs[16 * ib + j] >> 4] * a[32 * ib + j + 16];
            isum += qs_iq4xs_scale(sl, sh, ib) * s;
        }
        sum += (float)isum * (qs_ld_f16(x) * Q8K_D(y));
    }
    return sum;
}

float qs_vec_dot_q2_K_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *y = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QS_QK_K; b++, x += sizeof(qs_block_q2_K), y += sizeof(qs_block_q8_K)) {
        const int8_t *a = Q8K_QS(y);
        const uint8_t *sc = x + offsetof(qs_block_q2_K, scales);
        const uint8_t *q = x + offsetof(qs_block_q2_K, qs);
        int isum = 0, msum = 0;
        for (int j = 0; j < 16; j++) msum += (sc[j] >> 4) * Q8K_BSUM(y, j);
        /* 16 sub-blocks of 16: sub-block j reads 16 bytes of qs at 32*(j/8) + 16*(j%2),
         * shifted by 2*((j%8)/2) */
        for (int j = 0; j < 16; j++) {
            const uint8_t *qq = q + 32 * (j / 8) + 16 * (j % 2);
            const int shift = 2 * ((j % 8) / 2);
            int s = 0;
            for (int l = 0; l < 16; l++) s += ((qq[l] >> shift) & 3) * a[16 * j + l];
            isum += (sc[j] & 0xF) * s;
        }
        const float da = Q8K_D(y);
        sum += (float)isum * (qs_ld_f16(x + offsetof(qs_block_q2_K, d)) * da) -
               (float)msum * (qs_ld_f16(x + offsetof(qs_block_q2_K, dmin)) * da);
    }
    return sum;
}

float qs_vec_dot_q3_K_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *y = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QS_QK_K; b++, x += sizeof(qs_block_q3_K), y += sizeof(qs_block_q8_K)) {
        const int8_t *a = Q8K_QS(y);
        const uint8_t *hm = x + offsetof(qs_block_q3_K, hmask);
        const uint8_t *q = x + offsetof(qs_block_q3_K, qs);
        int8_t sc[16];
        qs_q3k_scales(x + offsetof(qs_block_q3_K, scales), sc);
        int isum = 0;
        /* sub-block j: 16 values at qs 32*(j/8) + 16*(j%2), low bits shifted by 2*((j%8)/2),
         * high bit in hmask[16*(j%2) + l] bit (j/2); value = low | high << 2, minus 4 */
        for (int j = 0; j < 16; j++) {
            const uint8_t *qq = q + 32 * (j / 8) + 16 * (j % 2);
            const uint8_t *hh = hm + 16 * (j % 2);
            const int shift = 2 * ((j % 8) / 2), hbit = j / 2;
            int s = 0;
            for (int l = 0; l < 16; l++) {
                int v = (((qq[l] >> shift) & 3) | (((hh[l] >> hbit) & 1) << 2)) - 4;
                s += v * a[16 * j + l];
            }
            isum += sc[j] * s;
        }
        sum += (float)isum * (qs_ld_f16(x + offsetof(qs_block_q3_K, d)) * Q8K_D(y));
    }
    return sum;
}

float qs_vec_dot_q4_K_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *y = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QS_QK_K; b++, x += sizeof(qs_block_q4_K), y += sizeof(qs_block_q8_K)) {
        const int8_t *a = Q8K_QS(y);
        const uint8_t *q = x + offsetof(qs_block_q4_K, qs);
        uint8_t sc[8], mn[8];
        qs_k4_scales_mins(x + offsetof(qs_block_q4_K, scales), sc, mn);
        int isum = 0, msum = 0;
        /* sub-block j (32 values): qs bytes 32*(j/2).., low nibble for even j, high for odd */
        for (int j = 0; j < 8; j++) {
            const uint8_t *qq = q + 32 * (j / 2);
            const int shift = 4 * (j % 2);
            int s = 0;
            for (int l = 0; l < 32; l++) s += ((qq[l] >> shift) & 0xF) * a[32 * j + l];
            isum += sc[j] * s;
            msum += mn[j] * (Q8K_BSUM(y, 2 * j) + Q8K_BSUM(y, 2 * j + 1));
        }
        const float da = Q8K_D(y);
        sum += (float)isum * (qs_ld_f16(x + offsetof(qs_block_q4_K, d)) * da) -
               (float)msum * (qs_ld_f16(x + offsetof(qs_block_q4_K, dmin)) * da);
    }
    return sum;
}

float qs_vec_dot_q5_K_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *y = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QS_QK_K; b++, x += sizeof(qs_block_q5_K), y += sizeof(qs_block_q8_K)) {
        const int8_t *a = Q8K_QS(y);
        const uint8_t *q = x + offsetof(qs_block_q5_K, qs);
        const uint8_t *qh = x + offsetof(qs_block_q5_K, qh);
        uint8_t sc[8], mn[8];
        qs_k4_scales_mins(x + offsetof(qs_block_q5_K, scales), sc, mn);
        int isum = 0, msum = 0;
        /* as Q4_K, plus a fifth bit: qh[l] bit j for value l of sub-block j */
        for (int j = 0; j < 8; j++) {
            const uint8_t *qq = q + 32 * (j / 2);
            const int shift = 4 * (j % 2);
            int s = 0;
            for (int l = 0; l < 32; l++)
                s += (((qq[l] >> shift) & 0xF) | (((qh[l] >> j) & 1) << 4)) * a[32 * j + l];
            isum += sc[j] * s;
            msum += mn[j] * (Q8K_BSUM(y, 2 * j) + Q8K_BSUM(y, 2 * j + 1));
        }
        const float da = Q8K_D(y);
        sum += (float)isum * (qs_ld_f16(x + offsetof(qs_block_q5_K, d)) * da) -
               (float)msum * (qs_ld_f16(x + offsetof(qs_block_q5_K, dmin)) * da);
    }
    return sum;
}

float qs_vec_dot_q6_K_scalar(int64_t n, const void *w, const void *act) {
    const uint8_t *x = w, *y = act;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QS_QK_K; b++, x += sizeof(qs_block_q6_K), y += sizeof(qs_block_q8_K)) {
        const int8_t *a = Q8K_QS(y);
        const uint8_t *ql = x + offsetof(qs_block_q6_K, ql);
        const uint8_t *qh = x + offsetof(qs_block_q6_K, qh);
        const int8_t *sc = (const int8_t *)(x + offsetof(qs_block_q6_K, scales));
        int isum = 0;
        /* value i = 128h + 32k + l (h half, k quarter, l < 32): low 4 bits from
         * ql[64h + 32(k%2) + l] (low nibble for k < 2, high for k >= 2), high 2 bits from
         * qh[32h + l] >> 2k; minus 32. Sub-block of 16 values: i / 16. */
        for (int i = 0; i < QS_QK_K; i += 16) {
            int s = 0;
            for (int t = i; t < i + 16; t++) {
                const int h = t / 128, k = (t % 128) / 32, l = t % 32;
                const int lo = (ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0xF;
                const int hi = (qh[32 * h + l] >> (2 * k)) & 3;
                s += ((lo | (hi << 4)) - 32) * a[t];
            }
            isum += sc[i / 16] * s;
        }
        sum += (float)isum * (qs_ld_f16(x + offsetof(qs_block_q6_K, d)) * Q8K_D(y));
    }
    return sum;
}

/* ================================================================ gemv / gemm by rows */

#define QS_SCALAR_MULTI(t)                                                                     \
    void qs_gemv_##t##_scalar(int64_t n, int64_t nrows, const void *w, size_t w_stride,        \
                              const void *act, float *y) {                                     \
        for (int64_t r = 0; r < nrows; r++)                                                    \
            y[r] = qs_vec_dot_##t##_scalar(n, (const uint8_t *)w + (size_t)r * w_stride, act); \
    }                                                                                          \
    void qs_gemm_##t##_scalar(int64_t n, int64_t nrows, int64_t ncols, const void *w,          \
                              size_t w_stride, const void *act, size_t act_stride, float *y,   \
                              size_t y_stride) {                                               \
        qs_gemm_by_gemv(qs_gemv_##t##_scalar, n, nrows, ncols, w, w_stride, act, act_stride,   \
                        y, y_stride);                                                          \
    }
QS_KERNEL_TYPES(QS_SCALAR_MULTI)

/* ================================================================ element-wise ops */

void qs_softmax_scalar(float *x, int64_t n, float scale) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        x[i] *= scale;
        if (x[i] > max) max = x[i];
    }
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

void qs_silu_mul_scalar(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* ================================================================ the scalar table */

/* to_float of the scalar level is the reference dequantization of qs_formats.h. */
#define REF(t) qs_dequant_##t

#define DOT(T, t, act, q)                                                                      \
    [QS_TYPE_##T] = {REF(t), QS_TYPE_##act, qs_vec_dot_##t##_scalar, qs_gemv_##t##_scalar,     \
                     qs_gemm_##t##_scalar, q}
#define ACT(T, t, q) [QS_TYPE_##T] = {REF(t), -1, NULL, NULL, NULL, q}

const qs_kernels qs_kernels_scalar_table = {
    .level = QS_SIMD_SCALAR,
    .name = "scalar",
    .row = {
        DOT(F32, f32, F32, qs_quantize_act_f32_scalar),
        DOT(F16, f16, F32, NULL),
        DOT(BF16, bf16, F32, NULL),
        DOT(Q4_0, q4_0, Q8_0, NULL),
        DOT(Q4_1, q4_1, Q8_1, NULL),
        DOT(Q5_0, q5_0, Q8_0, NULL),
        DOT(Q5_1, q5_1, Q8_1, NULL),
        DOT(Q8_0, q8_0, Q8_0, qs_quantize_act_q8_0_scalar),
        ACT(Q8_1, q8_1, qs_quantize_act_q8_1_scalar),
        DOT(IQ4_NL, iq4_nl, Q8_0, NULL),
        DOT(IQ4_XS, iq4_xs, Q8_K, NULL),
        DOT(Q2_K, q2_K, Q8_K, NULL),
        DOT(Q3_K, q3_K, Q8_K, NULL),
        DOT(Q4_K, q4_K, Q8_K, NULL),
        DOT(Q5_K, q5_K, Q8_K, NULL),
        DOT(Q6_K, q6_K, Q8_K, NULL),
        ACT(Q8_K, q8_K, qs_quantize_act_q8_K_scalar),
    },
    .softmax = qs_softmax_scalar,
    .silu_mul = qs_silu_mul_scalar,
};

/* ================================================================ dispatch */

const qs_kernels *qs_kernels_for(qs_simd_level level) {
    switch (level) {
    case QS_SIMD_SCALAR: return &qs_kernels_scalar_table;
#if defined(__x86_64__)
    case QS_SIMD_AVX2: return &qs_kernels_avx2_table;
    case QS_SIMD_AVX512: return &qs_kernels_avx512_table;
#endif
    default: return NULL;
    }
}

const qs_kernels *qs_kernels_best(void) {
    const qs_kernels *k = qs_kernels_for(qs_simd_active_level(NULL));
    return k ? k : &qs_kernels_scalar_table;
}

static void act_round_f16(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = qs_fp16_to_f32(qs_f32_to_fp16(x[i]));
}

static void act_round_bf16(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = qs_bf16_to_f32(qs_f32_to_bf16(x[i]));
}

qs_act_round_fn qs_kernels_act_round(int type) {
#if defined(__x86_64__)
    if (type == QS_TYPE_F16 && qs_kernels_best()->level >= QS_SIMD_AVX2)
        return qs_act_round_f16_avx2; /* the same bits, faster */
#endif
    if (type == QS_TYPE_F16) return act_round_f16;
    if (type == QS_TYPE_BF16) return act_round_bf16;
    return NULL;
}

int qs_kernels_act_type(int type) {
    if (!qs_type_valid(type) || !qs_kernels_scalar_table.row[type].vec_dot) return -1;
    return qs_kernels_scalar_table.row[type].act_type;
}

bool qs_kernels_can_dot(int type, int64_t n) {
    int act = qs_kernels_act_type(type);
    if (act < 0 || n <= 0) return false;
    return n % qs_type_traits_get(type)->blck_size == 0 && n % qs_type_traits_get(act)->blck_size == 0;
}

uint64_t qs_kernels_act_bytes(int type, int64_t n) {
    if (!qs_kernels_can_dot(type, n)) return 0;
    return qs_type_row_bytes(qs_kernels_act_type(type), n);
}
