/* qs_kernels_deq.h — SIMD dequantization of the block formats, shared by the AVX2 and AVX-512
 * kernel files (included only by them, after <immintrin.h> and qs_kernels_impl.h).
 *
 * The including file defines
 *   QS_DEQ_ST16(y, q, d)         y[0..15] = (float)q[i] * d        (q: 16 int8 in a __m128i,
 *   QS_DEQ_ST16M(y, q, d, m, s)  y[0..15] = (float)q[i] * d + m     d, m: floats; s: true to
 *                                (or - m when s)                     subtract m instead)
 *   QS_DEQ_NAME(t)               the function name for type t
 * The byte work is SSE/SSSE3 on 16 quants at a time. Every value is computed with the float
 * operations of ggml's reference, in the same order, never fused: scales are formed in scalar
 * (d * sc, dmin * m), then one multiply per value and, for formats with a minimum, one add or
 * subtract. So the result is bit-exact with the scalar reference. */
#ifndef QS_KERNELS_DEQ_H
#define QS_KERNELS_DEQ_H

static inline float qs_deq_f16(const uint8_t *p) { return _cvtsh_ss(qs_ld_u16(p)); }

/* 16 bits -> 16 bytes, 0x10 where the bit is set (fifth bits of Q5_0 / Q5_1) */
static inline __m128i qs_deq_bit4(uint32_t bits16) {
    const __m128i v = _mm_shuffle_epi8(_mm_cvtsi32_si128((int)bits16),
                                       _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    const __m128i bit = _mm_set1_epi64x((long long)0x8040201008040201ull);
    return _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(v, bit), bit), _mm_set1_epi8(0x10));
}

static inline __m128i qs_deq_lo(__m128i q) { return _mm_and_si128(q, _mm_set1_epi8(0x0F)); }
static inline __m128i qs_deq_hi(__m128i q) { return _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0F)); }
static inline __m128i qs_deq_ld(const uint8_t *p) { return _mm_loadu_si128((const __m128i *)p); }
static inline __m128i qs_deq_lut(void) {
    return _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
}

static void QS_DEQ_NAME(q4_0)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    const __m128i k8 = _mm_set1_epi8(8);
    for (int64_t b = 0; b < n / 32; b++, x += 18, y += 32) {
        const float d = qs_deq_f16(x);
        const __m128i q = qs_deq_ld(x + 2);
        QS_DEQ_ST16(y, _mm_sub_epi8(qs_deq_lo(q), k8), d);
        QS_DEQ_ST16(y + 16, _mm_sub_epi8(qs_deq_hi(q), k8), d);
    }
}

static void QS_DEQ_NAME(q4_1)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t b = 0; b < n / 32; b++, x += 20, y += 32) {
        const float d = qs_deq_f16(x), m = qs_deq_f16(x + 2);
        const __m128i q = qs_deq_ld(x + 4);
        QS_DEQ_ST16M(y, qs_deq_lo(q), d, m, false);
        QS_DEQ_ST16M(y + 16, qs_deq_hi(q), d, m, false);
    }
}

static void QS_DEQ_NAME(q5_0)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    const __m128i k16 = _mm_set1_epi8(16);
    for (int64_t b = 0; b < n / 32; b++, x += 22, y += 32) {
        const float d = qs_deq_f16(x);
        const uint32_t qh = qs_ld_u32(x + 2);
        const __m128i q = qs_deq_ld(x + 6);
        QS_DEQ_ST16(y, _mm_sub_epi8(_mm_or_si128(qs_deq_lo(q), qs_deq_bit4(qh & 0xFFFFu)), k16), d);
        QS_DEQ_ST16(y + 16, _mm_sub_epi8(_mm_or_si128(qs_deq_hi(q), qs_deq_bit4(qh >> 16)), k16), d);
    }
}

static void QS_DEQ_NAME(q5_1)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t b = 0; b < n / 32; b++, x += 24, y += 32) {
        const float d = qs_deq_f16(x), m = qs_deq_f16(x + 2);
        const uint32_t qh = qs_ld_u32(x + 4);
        const __m128i q = qs_deq_ld(x + 8);
        QS_DEQ_ST16M(y, _mm_or_si128(qs_deq_lo(q), qs_deq_bit4(qh & 0xFFFFu)), d, m, false);
        QS_DEQ_ST16M(y + 16, _mm_or_si128(qs_deq_hi(q), qs_deq_bit4(qh >> 16)), d, m, false);
    }
}

static void QS_DEQ_NAME(q8_0)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t b = 0; b < n / 32; b++, x += 34, y += 32) {
        const float d = qs_deq_f16(x);
        QS_DEQ_ST16(y, qs_deq_ld(x + 2), d);
        QS_DEQ_ST16(y + 16, qs_deq_ld(x + 18), d);
    }
}

static void QS_DEQ_NAME(q8_1)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t b = 0; b < n / 32; b++, x += 36, y += 32) {
        const float d = qs_deq_f16(x);
        QS_DEQ_ST16(y, qs_deq_ld(x + 4), d);
        QS_DEQ_ST16(y + 16, qs_deq_ld(x + 20), d);
    }
}

static void QS_DEQ_NAME(iq4_nl)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    const __m128i lut = qs_deq_lut();
    for (int64_t b = 0; b < n / 32; b++, x += 18, y += 32) {
        const float d = qs_deq_f16(x);
        const __m128i q = qs_deq_ld(x + 2);
        QS_DEQ_ST16(y, _mm_shuffle_epi8(lut, qs_deq_lo(q)), d);
        QS_DEQ_ST16(y + 16, _mm_shuffle_epi8(lut, qs_deq_hi(q)), d);
    }
}

static void QS_DEQ_NAME(iq4_xs)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    const __m128i lut = qs_deq_lut();
    for (int64_t b = 0; b < n / QS_QK_K; b++, x += sizeof(qs_block_iq4_xs)) {
        const float d = qs_deq_f16(x);
        const uint16_t sh = qs_ld_u16(x + 2);
        for (int ib = 0; ib < 8; ib++, y += 32) {
            const float dl = d * (float)qs_iq4xs_scale(x + 4, sh, ib);
            const __m128i q = qs_deq_ld(x + 8 + 16 * ib);
            QS_DEQ_ST16(y, _mm_shuffle_epi8(lut, qs_deq_lo(q)), dl);
            QS_DEQ_ST16(y + 16, _mm_shuffle_epi8(lut, qs_deq_hi(q)), dl);
        }
    }
}

/* 2-bit field k of each byte */
static inline __m128i qs_deq_2bits(__m128i q, int k) {
    return _mm_and_si128(_mm_srli_epi16(q, 2 * k), _mm_set1_epi8(3));
}

static void QS_DEQ_NAME(q2_K)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t b = 0; b < n / QS_QK_K; b++, x += sizeof(qs_block_q2_K)) {
        const float d = qs_deq_f16(x + 80), dmin = qs_deq_f16(x + 82);
        const uint8_t *sc = x, *qs = x + 16;
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
                for (int s = 0; s < 2; s++, y += 16) {
                    const uint8_t v = sc[8 * h + 2 * k + s];
                    const float dl = d * (float)(v & 0xF), ml = dmin * (float)(v >> 4);
                    QS_DEQ_ST16M(y, qs_deq_2bits(qs_deq_ld(qs + 32 * h + 16 * s), k), dl, ml, true);
                }
    }
}

static void QS_DEQ_NAME(q3_K)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    const __m128i k4 = _mm_set1_epi8(4);
    for (int64_t b = 0; b < n / QS_QK_K; b++, x += sizeof(qs_block_q3_K)) {
        const float d = qs_deq_f16(x + 108);
        int8_t sc[16];
        qs_q3k_scales(x + 96, sc);
        const uint8_t *hm = x, *qs = x + 32;
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
                for (int s = 0; s < 2; s++, y += 16) {
                    const float dl = d * (float)sc[8 * h + 2 * k + s];
                    /* value = low 2 bits - 4, plus 4 when the hmask bit 4h + k is set */
                    const __m128i bit = _mm_set1_epi8((char)(1 << (4 * h + k)));
                    const __m128i hb = _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(qs_deq_ld(hm + 16 * s), bit), bit), k4);
                    const __m128i v = _mm_sub_epi8(_mm_or_si128(qs_deq_2bits(qs_deq_ld(qs + 32 * h + 16 * s), k), hb), k4);
                    QS_DEQ_ST16(y, v, dl);
                }
    }
}

static void QS_DEQ_NAME(q4_K)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t b = 0; b < n / QS_QK_K; b++, x += sizeof(qs_block_q4_K)) {
        const float d = qs_deq_f16(x), dmin = qs_deq_f16(x + 2);
        uint8_t sc[8], mn[8];
        qs_k4_scales_mins(x + 4, sc, mn);
        for (int j = 0; j < 8; j++, y += 32) {
            const float dl = d * (float)sc[j], ml = dmin * (float)mn[j];
            const uint8_t *q = x + 16 + 32 * (j / 2);
            for (int s = 0; s < 2; s++) {
                const __m128i v = qs_deq_ld(q + 16 * s);
                QS_DEQ_ST16M(y + 16 * s, j % 2 ? qs_deq_hi(v) : qs_deq_lo(v), dl, ml, true);
            }
        }
    }
}

static void QS_DEQ_NAME(q5_K)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    const __m128i k16 = _mm_set1_epi8(16);
    for (int64_t b = 0; b < n / QS_QK_K; b++, x += sizeof(qs_block_q5_K)) {
        const float d = qs_deq_f16(x), dmin = qs_deq_f16(x + 2);
        uint8_t sc[8], mn[8];
        qs_k4_scales_mins(x + 4, sc, mn);
        for (int j = 0; j < 8; j++, y += 32) {
            const float dl = d * (float)sc[j], ml = dmin * (float)mn[j];
            const uint8_t *q = x + 48 + 32 * (j / 2);
            const __m128i bit = _mm_set1_epi8((char)(1 << j));
            for (int s = 0; s < 2; s++) {
                const __m128i v = qs_deq_ld(q + 16 * s);
                const __m128i hb = _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(qs_deq_ld(x + 16 + 16 * s), bit), bit), k16);
                QS_DEQ_ST16M(y + 16 * s, _mm_or_si128(j % 2 ? qs_deq_hi(v) : qs_deq_lo(v), hb), dl, ml, true);
            }
        }
    }
}

static void QS_DEQ_NAME(q6_K)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    const __m128i m4 = _mm_set1_epi8(0x0F), m3 = _mm_set1_epi8(3), k32 = _mm_set1_epi8(32);
    for (int64_t b = 0; b < n / QS_QK_K; b++, x += sizeof(qs_block_q6_K)) {
        const float d = qs_deq_f16(x + 208);
        const int8_t *sc = (const int8_t *)(x + 192);
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
                for (int s = 0; s < 2; s++, y += 16) {
                    /* values 128h + 32k + 16s + l: low 4 bits from ql[64h + 32 (k % 2) + 16s + l]
                     * (high nibble for k >= 2), high 2 bits from qh[32h + 16s + l] >> 2k */
                    const __m128i ql = qs_deq_ld(x + 64 * h + 32 * (k % 2) + 16 * s);
                    const __m128i lo = k >= 2 ? _mm_and_si128(_mm_srli_epi16(ql, 4), m4) : _mm_and_si128(ql, m4);
                    const __m128i hi = _mm_and_si128(_mm_srli_epi16(qs_deq_ld(x + 128 + 32 * h + 16 * s), 2 * k), m3);
                    const __m128i v = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), k32);
                    QS_DEQ_ST16(y, v, d * (float)sc[8 * h + 2 * k + s]);
                }
    }
}

static void QS_DEQ_NAME(q8_K)(const void *src, float *y, int64_t n) {
    const uint8_t *x = src;
    for (int64_t b = 0; b < n / QS_QK_K; b++, x += sizeof(qs_block_q8_K)) {
        const float d = qs_ld_f32(x);
        for (int j = 0; j < 16; j++, y += 16) QS_DEQ_ST16(y, qs_deq_ld(x + 4 + 16 * j), d);
    }
}

#endif
