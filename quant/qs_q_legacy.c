/* qs_q_legacy.c — the original 32-value block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1.
 *
 * What a block means (facts of the GGUF format; layouts in qs_formats.h):
 *   Q4_0  value = d * (c - 8)     c a 4-bit code
 *   Q4_1  value = d * c + m       c a 4-bit code
 *   Q5_0  value = d * (c - 16)    c a 5-bit code
 *   Q5_1  value = d * c + m       c a 5-bit code
 *   Q8_0  value = d * q           q an int8
 *   Q8_1  value = d * q           and s = d * sum(q), kept for dot products
 * d, m and s are IEEE halves. Four-bit codes are packed two per byte: byte j holds element j
 * in its low nibble and element j + 16 in its high nibble. The fifth bit of a 5-bit code lives
 * in qh, a little-endian 32-bit word whose bit j belongs to element j.
 *
 * Dequantization does the float operations ggml does, in the same order (an int code converted
 * to float, times d, then + m), so results are bit-identical. The product of a code of at most
 * 8 bits and a half is exact in float, so a compiler fusing d * c + m cannot change it either.
 *
 * Quantization searches the scale instead of taking it from the block maximum. For a fixed
 * scale (and min) the best code of each value is simply the nearest one, whatever the weights,
 * so the search is over the scale only:
 *   1. try a fan of scales that put the largest value on or near the outer codes; for each, take
 *      the nearest codes and fit the scale (and min) by weighted least squares;
 *   2. polish the best fit by alternating nearest codes and refits until it stops improving;
 *   3. round to half precision, and score the rounded value, its neighbouring halves and the
 *      classic max-based scale exactly as the dequantizer will reproduce them.
 * Step 3 keeps the max-based choice among the candidates, so no block is ever worse than it.
 * Internal arithmetic is double so huge or tiny inputs neither overflow nor lose the fit;
 * stored scales saturate at the largest finite half, so output is always finite. */
#include "qs_formats.h"
#include "qs_quant_simd.h"
#include "qs_quant_util.h"

#include <float.h>
#include <math.h>
#include <stddef.h>

#define QK QS_QK32

/* ------------------------------------------------------------------------------------------ */
/* Byte-level access (blocks may sit at any address in a mapped file).                         */

static float load_half(const uint8_t *p) {
    qs_fp16 h;
    memcpy(&h, p, sizeof h);
    return qs_fp16_to_f32(h);
}


static uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}


/* Code of element j (0..31) from a 16-byte nibble array. */
static int nibble_at(const uint8_t *qs, int j) {
    return j < QK / 2 ? qs[j] & 0x0f : qs[j - QK / 2] >> 4;
}



/* ------------------------------------------------------------------------------------------ */
/* Q4_0                                                                                       */

void qs_dequant_q4_0(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK; i++, b += sizeof(qs_block_q4_0), dst += QK) {
        float d = load_half(b + offsetof(qs_block_q4_0, d));
        const uint8_t *qs = b + offsetof(qs_block_q4_0, qs);
        for (int j = 0; j < QK; j++) dst[j] = (float)(nibble_at(qs, j) - 8) * d;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Q4_1                                                                                       */

void qs_dequant_q4_1(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK; i++, b += sizeof(qs_block_q4_1), dst += QK) {
        float d = load_half(b + offsetof(qs_block_q4_1, d));
        float m = load_half(b + offsetof(qs_block_q4_1, m));
        const uint8_t *qs = b + offsetof(qs_block_q4_1, qs);
        for (int j = 0; j < QK; j++) dst[j] = (float)nibble_at(qs, j) * d + m;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Q5_0                                                                                       */

void qs_dequant_q5_0(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK; i++, b += sizeof(qs_block_q5_0), dst += QK) {
        float d = load_half(b + offsetof(qs_block_q5_0, d));
        uint32_t qh = load_le32(b + offsetof(qs_block_q5_0, qh));
        const uint8_t *qs = b + offsetof(qs_block_q5_0, qs);
        for (int j = 0; j < QK; j++) {
            int code = nibble_at(qs, j) | (int)((qh >> j) & 1u) << 4;
            dst[j] = (float)(code - 16) * d;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Q5_1                                                                                       */

void qs_dequant_q5_1(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK; i++, b += sizeof(qs_block_q5_1), dst += QK) {
        float d = load_half(b + offsetof(qs_block_q5_1, d));
        float m = load_half(b + offsetof(qs_block_q5_1, m));
        uint32_t qh = load_le32(b + offsetof(qs_block_q5_1, qh));
        const uint8_t *qs = b + offsetof(qs_block_q5_1, qs);
        for (int j = 0; j < QK; j++) {
            int code = nibble_at(qs, j) | (int)((qh >> j) & 1u) << 4;
            dst[j] = (float)code * d + m;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Q8_0 and Q8_1                                                                              */

void qs_dequant_q8_0(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK; i++, b += sizeof(qs_block_q8_0), dst += QK) {
        float d = load_half(b + offsetof(qs_block_q8_0, d));
        const int8_t *qs = (const int8_t *)(b + offsetof(qs_block_q8_0, qs));
        for (int j = 0; j < QK; j++) dst[j] = (float)qs[j] * d;
    }
}

/* ggml has no Q8_1 dequantizer; the values are d * q as in Q8_0 (s is redundant). */
void qs_dequant_q8_1(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK; i++, b += sizeof(qs_block_q8_1), dst += QK) {
        float d = load_half(b + offsetof(qs_block_q8_1, d));
        const int8_t *qs = (const int8_t *)(b + offsetof(qs_block_q8_1, qs));
        for (int j = 0; j < QK; j++) dst[j] = (float)qs[j] * d;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Quantizers: the search of qs_q_legacy_impl.h, built here for the scalar level, and the      */
/* level the process runs with (qs_quant_simd.h).                                              */

#define LQ_FN(t) qs_quant_##t##_scalar
#include "qs_q_legacy_impl.h"

QS_QUANT_DISPATCH(q4_0)
QS_QUANT_DISPATCH(q4_1)
QS_QUANT_DISPATCH(q5_0)
QS_QUANT_DISPATCH(q5_1)
QS_QUANT_DISPATCH(q8_0)
QS_QUANT_DISPATCH(q8_1)
