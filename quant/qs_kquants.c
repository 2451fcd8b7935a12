/* qs_kquants.c — the K-quant super-block formats: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and Q8_K.
 *
 * A super-block holds 256 values split into sub-blocks (16 of 16 values, or 8 of 32). Each
 * sub-block has a small integer scale (and for the "affine" formats a small integer min), and
 * the super-block stores the fp16 factors those integers multiply:
 *
 *   Q2_K, Q4_K, Q5_K (affine):   y = (d * sc_j) * q - (dmin * m_j),   q in 0..qmax
 *   Q3_K, Q6_K (symmetric):      y = (d * sc_j) * q,                  q in qlo..qhi
 *   Q8_K (activations):          y = d * q,  d a float, q an int8, plus sums of q per 16
 *
 * Dequantization repeats ggml's float operations in ggml's order (the products above are
 * rounded to float one at a time), so results are bit-identical. This file must not be built
 * with -ffast-math (the rounding helper and the error sums rely on IEEE float semantics).
 *
 * Quantization minimizes the (importance-weighted) squared error of the dequantized values:
 *   1. per sub-block, a few candidate quant ranges, each followed by a weighted least-squares
 *      fit of scale (and min), give the real-valued ideal scale (and min);
 *   2. the fp16 super-block factors are set from the largest ideal scale / min, and each
 *      sub-block picks, among the integers near its ideal, the scale (and min) whose
 *      re-rounded quants give the lowest actual error with the factors as stored in fp16;
 *   3. the fp16 factors are refitted by least squares to those integers and quants, and the
 *      integers re-picked nearby, while the error keeps falling.
 * When a factor would fall below fp16's normal range, where it keeps few significant bits,
 * steps 2-3 also run from the smallest normal factor and the better result is kept. Every
 * error is measured on exactly what dequantization will produce. To keep the search free of
 * overflow and underflow, each super-block is first scaled by a power of two so that its
 * largest magnitude lies in [0.5, 1); that changes no rounding decision (values that become
 * subnormal lie far below any quantization step). */
#include "qs_formats.h"
#include "qs_quant_simd.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

/* Dequantization must round every product as ggml does: no fused multiply-add. GCC keeps
 * contraction off in ISO C mode (-std=c11); clang needs telling. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif
#define KQ_FN(t) qs_quant_##t##_scalar
#include "qs_quant_kq_impl.h"

/* ======================================================================================== */
/* Q2_K                                                                                      */
/* ======================================================================================== */

void qs_dequant_q2_K(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t b = 0; b < n / QK; b++, p += sizeof(qs_block_q2_K), dst += QK) {
        qs_block_q2_K blk;
        memcpy(&blk, p, sizeof blk);
        const float d = qs_fp16_to_f32(blk.d), dmin = qs_fp16_to_f32(blk.dmin);
        for (int j = 0; j < 16; j++) {
            const float dl = d * (float)(blk.scales[j] & 15);
            const float ml = dmin * (float)(blk.scales[j] >> 4);
            const uint8_t *q = blk.qs + kq_q2_byte(16 * j);
            const int shift = kq_q2_shift(16 * j);
            for (int l = 0; l < 16; l++) dst[16 * j + l] = dl * (float)((q[l] >> shift) & 3) - ml;
        }
    }
}

/* ======================================================================================== */
/* Q3_K                                                                                      */
/* ======================================================================================== */

void qs_dequant_q3_K(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t b = 0; b < n / QK; b++, p += sizeof(qs_block_q3_K), dst += QK) {
        qs_block_q3_K blk;
        memcpy(&blk, p, sizeof blk);
        const float d = qs_fp16_to_f32(blk.d);
        int sc[16];
        kq_unpack_scales_q3(blk.scales, sc);
        for (int j = 0; j < 16; j++) {
            const float dl = d * (float)sc[j];
            const uint8_t *q = blk.qs + kq_q2_byte(16 * j);
            const uint8_t *hm = blk.hmask + (16 * j) % 32;
            const int shift = kq_q2_shift(16 * j), hbit = (16 * j) / 32;
            for (int l = 0; l < 16; l++) {
                const int v = ((q[l] >> shift) & 3) - (((hm[l] >> hbit) & 1) ? 0 : 4);
                dst[16 * j + l] = dl * (float)v;
            }
        }
    }
}

/* ======================================================================================== */
/* Q4_K                                                                                      */
/* ======================================================================================== */

void qs_dequant_q4_K(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t b = 0; b < n / QK; b++, p += sizeof(qs_block_q4_K), dst += QK) {
        qs_block_q4_K blk;
        memcpy(&blk, p, sizeof blk);
        const float d = qs_fp16_to_f32(blk.d), dmin = qs_fp16_to_f32(blk.dmin);
        uint8_t sc[8], mn[8];
        kq_unpack_scales_k4(blk.scales, sc, mn);
        for (int j = 0; j < 8; j++) {
            const float d1 = d * (float)sc[j], m1 = dmin * (float)mn[j];
            const uint8_t *q = blk.qs + kq_q4_byte(32 * j);
            const int shift = kq_q4_shift(32 * j);
            for (int l = 0; l < 32; l++) dst[32 * j + l] = d1 * (float)((q[l] >> shift) & 15) - m1;
        }
    }
}

/* ======================================================================================== */
/* Q5_K                                                                                      */
/* ======================================================================================== */

void qs_dequant_q5_K(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t b = 0; b < n / QK; b++, p += sizeof(qs_block_q5_K), dst += QK) {
        qs_block_q5_K blk;
        memcpy(&blk, p, sizeof blk);
        const float d = qs_fp16_to_f32(blk.d), dmin = qs_fp16_to_f32(blk.dmin);
        uint8_t sc[8], mn[8];
        kq_unpack_scales_k4(blk.scales, sc, mn);
        for (int j = 0; j < 8; j++) {
            const float d1 = d * (float)sc[j], m1 = dmin * (float)mn[j];
            const uint8_t *q = blk.qs + kq_q4_byte(32 * j);
            const int shift = kq_q4_shift(32 * j);
            for (int l = 0; l < 32; l++) {
                const int v = ((q[l] >> shift) & 15) | (((blk.qh[l] >> j) & 1) << 4);
                dst[32 * j + l] = d1 * (float)v - m1;
            }
        }
    }
}

/* ======================================================================================== */
/* Q6_K                                                                                      */
/* ======================================================================================== */

void qs_dequant_q6_K(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t b = 0; b < n / QK; b++, p += sizeof(qs_block_q6_K), dst += QK) {
        qs_block_q6_K blk;
        memcpy(&blk, p, sizeof blk);
        const float d = qs_fp16_to_f32(blk.d);
        for (int j = 0; j < 16; j++) {
            const float ds = d * (float)blk.scales[j]; /* ggml: (d * sc) * q */
            const int e0 = 16 * j;
            const uint8_t *ql = blk.ql + kq_q6_lbyte(e0), *qh = blk.qh + kq_q6_hbyte(e0);
            const int ls = kq_q6_lshift(e0), hs = kq_q6_hshift(e0);
            for (int l = 0; l < 16; l++) {
                const int v = (((ql[l] >> ls) & 15) | (((qh[l] >> hs) & 3) << 4)) - 32;
                dst[e0 + l] = ds * (float)v;
            }
        }
    }
}

/* ======================================================================================== */
/* Quantizers: the level the process runs with (qs_quant_simd.h)                            */
/* ======================================================================================== */

QS_QUANT_DISPATCH(q2_K)
QS_QUANT_DISPATCH(q3_K)
QS_QUANT_DISPATCH(q4_K)
QS_QUANT_DISPATCH(q5_K)
QS_QUANT_DISPATCH(q6_K)

/* ======================================================================================== */
/* Q8_K                                                                                      */
/* ======================================================================================== */

void qs_dequant_q8_K(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t b = 0; b < n / QK; b++, p += sizeof(qs_block_q8_K), dst += QK) {
        qs_block_q8_K blk;
        memcpy(&blk, p, sizeof blk);
        for (int i = 0; i < QK; i++) dst[i] = blk.d * (float)blk.qs[i];
    }
}

/* Q8_K is the activation format the K-quant dot products take, so it is produced exactly as
 * ggml does: the value of largest magnitude (the first one, on ties) maps to -127, the others
 * round (ties to even) by the same inverse scale, and d = 1/inverse. The importance is ignored:
 * activations have none. */
void qs_quant_q8_K(const float *src, void *dst, int64_t n, const float *importance) {
    (void)importance;
    uint8_t *p = dst;
    for (int64_t b = 0; b < n / QK; b++, src += QK, p += sizeof(qs_block_q8_K)) {
        qs_block_q8_K blk;
        memset(&blk, 0, sizeof blk);
        float x[QK], amax = 0.0f, mx = 0.0f;
        for (int i = 0; i < QK; i++) {
            x[i] = kq_sanitize(src[i]);
            if (fabsf(x[i]) > amax) {
                amax = fabsf(x[i]);
                mx = x[i];
            }
        }
        if (amax > 0.0f) {
            const float iscale = -127.0f / mx;
            if (fabsf(iscale) <= FLT_MAX) {
                for (int i = 0; i < QK; i++)
                    blk.qs[i] = (int8_t)kq_qint(iscale * x[i], -128.0f, 127.0f);
                blk.d = 1.0f / iscale;
                /* only for |values| near FLT_MAX can d * 127 overflow; keep the output finite */
                while (!(fabsf(blk.d) * 127.0f <= FLT_MAX)) blk.d = nextafterf(blk.d, 0.0f);
            } else { /* |mx| so small that 127/mx overflows: divide instead */
                for (int i = 0; i < QK; i++)
                    blk.qs[i] = (int8_t)kq_qint(-127.0f * (x[i] / mx), -128.0f, 127.0f);
                blk.d = mx / -127.0f;
            }
            for (int j = 0; j < 16; j++) {
                int sum = 0;
                for (int i = 0; i < 16; i++) sum += blk.qs[16 * j + i];
                blk.bsums[j] = (int16_t)sum;
            }
        }
        memcpy(p, &blk, sizeof blk);
    }
}
