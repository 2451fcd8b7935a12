/* AVX2 kernels (AVX2 + FMA + F16C + BMI2). Only reached after qs_cpu said the CPU and OS can
 * run them.
 *
 * Every dot product is one weight row against C activation rows (C = 1 in vec_dot and gemv,
 * which walks rows one after the other; C = 4 in gemm, over panels of rows that stay in L2),
 * so gemv, vec_dot and gemm give bit-identical results. Integer products use vpmaddubsw
 * (unsigned x signed bytes -> int16 pairs, exact for the ranges used here) and vpmaddwd;
 * signed weight quants go through the sign trick |w| * (a * sign(w)). */
#include <immintrin.h>

#include "qs_kernels_impl.h"

#define AI static inline __attribute__((always_inline))
#define KMAX_C 4

/* ================================================================ small helpers */

AI float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
AI int hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}
AI float f16s(const uint8_t *p) { return _cvtsh_ss(qs_ld_u16(p)); }
AI __m256i ld32(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* unsigned x signed bytes -> 8 int32 sums of 4 products */
AI __m256i dot_us(__m256i u, __m256i s) { return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)); }
/* signed x signed bytes (|w| <= 128, |a| <= 127) */
AI __m256i dot_ss(__m256i w, __m256i a) { return dot_us(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w)); }

/* 32 bits -> 32 bytes: byte i is 0xFF when bit i is set */
AI __m256i bits_to_bytes(uint32_t x) {
    const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x),
                                          _mm256_setr_epi64x(0x0000000000000000ll, 0x0101010101010101ll,
                                                             0x0202020202020202ll, 0x0303030303030303ll));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* 16 nibble bytes -> 32 bytes: low nibbles (values 0..15) then high nibbles (16..31) */
AI __m256i nibbles(const uint8_t *p) {
    const __m128i q = _mm_loadu_si128((const __m128i *)p);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
}

/* ================================================================ activation quantizers */

AI float q8_block32(const float *x, uint8_t *q, int *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4], m = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k]));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float d = amax / 127.0f;
    const __m256 vid = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    __m256i i[4];
    for (int k = 0; k < 4; k++) i[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], vid));
    /* pack 32 int32 -> 32 int8 in order (packs work within 128-bit lanes) */
    const __m256i p01 = _mm256_packs_epi32(i[0], i[1]), p23 = _mm256_packs_epi32(i[2], i[3]);
    const __m256i p = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, p);
    *sum = hsum8i(_mm256_add_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3])));
    return d;
}

static void quantize_act_q8_0_avx2(const float *x, void *dst, int64_t n) {
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / 32; b++, out += 34) {
        int sum;
        const float d = q8_block32(x + 32 * b, out + 2, &sum);
        const uint16_t h = (uint16_t)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        memcpy(out, &h, 2);
    }
}

static void quantize_act_q8_1_avx2(const float *x, void *dst, int64_t n) {
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / 32; b++, out += 36) {
        int sum;
        const float d = q8_block32(x + 32 * b, out + 4, &sum);
        const uint16_t h = (uint16_t)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        const uint16_t s = (uint16_t)_cvtss_sh(d * (float)sum, _MM_FROUND_TO_NEAREST_INT);
        memcpy(out, &h, 2);
        memcpy(out + 2, &s, 2);
    }
}

static void quantize_act_q8_K_avx2(const float *x, void *dst, int64_t n) {
    uint8_t *out = dst;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / QS_QK_K; b++, out += sizeof(qs_block_q8_K), x += QS_QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < 32; j++) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * j)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / 127.0f;
        const __m256 vid = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        int16_t bsums[16];
        for (int j = 0; j < 8; j++) { /* 32 values */
            __m256i i[4];
            for (int k = 0; k < 4; k++) i[k] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 32 * j + 8 * k), vid));
            const __m256i p01 = _mm256_packs_epi32(i[0], i[1]), p23 = _mm256_packs_epi32(i[2], i[3]);
            const __m256i p = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(out + offsetof(qs_block_q8_K, qs) + 32 * j), p);
            bsums[2 * j] = (int16_t)hsum8i(_mm256_add_epi32(i[0], i[1]));
            bsums[2 * j + 1] = (int16_t)hsum8i(_mm256_add_epi32(i[2], i[3]));
        }
        memcpy(out + offsetof(qs_block_q8_K, d), &d, 4);
        memcpy(out + offsetof(qs_block_q8_K, bsums), bsums, sizeof bsums);
    }
}

/* ================================================================ float types
 * One row against C activation rows of floats; 4 accumulators per column (value i goes to
 * accumulator (i / 8) % 4), summed ((a0 + a1) + (a2 + a3)). The last n % 8 values go through a
 * zero-padded copy. */

enum { FT_F32, FT_F16, FT_BF16 };

AI __m256 load_w8(const int ft, const uint8_t *p) {
    switch (ft) {
    case FT_F32: return _mm256_loadu_ps((const float *)(const void *)p);
    case FT_F16: return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    default: return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
    }
}

AI void float_cols(const int ft, const int C, int64_t n, const uint8_t *w, const uint8_t *act, size_t as,
                   float *y, size_t ys) {
    const int es = ft == FT_F32 ? 4 : 2;
    __m256 acc[KMAX_C][4];
    for (int c = 0; c < C; c++)
        for (int k = 0; k < 4; k++) acc[c][k] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int k = 0; k < es; k++) _mm_prefetch((const char *)w + (size_t)i * es + 32 * k + QS_PREFETCH_AHEAD, _MM_HINT_T0);
        __m256 wv[4];
        for (int k = 0; k < 4; k++) wv[k] = load_w8(ft, w + (size_t)(i + 8 * k) * es);
        for (int c = 0; c < C; c++) {
            const uint8_t *a = act + (size_t)c * as + (size_t)i * 4;
            for (int k = 0; k < 4; k++) acc[c][k] = _mm256_fmadd_ps(wv[k], _mm256_loadu_ps((const float *)(const void *)(a + 32 * k)), acc[c][k]);
        }
    }
    for (int k = 0; i < n; k++, i += 8) {
        const int left = n - i >= 8 ? 8 : (int)(n - i);
        uint8_t wb[32] = {0};
        memcpy(wb, w + (size_t)i * es, (size_t)left * es);
        const __m256 wv = load_w8(ft, wb);
        for (int c = 0; c < C; c++) {
            float ab[8] = {0};
            memcpy(ab, act + (size_t)c * as + (size_t)i * 4, (size_t)left * 4);
            acc[c][k] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(ab), acc[c][k]);
        }
    }
    for (int c = 0; c < C; c++)
        y[(size_t)c * ys] = hsum8(_mm256_add_ps(_mm256_add_ps(acc[c][0], acc[c][1]), _mm256_add_ps(acc[c][2], acc[c][3])));
}

/* ================================================================ 32-value block types
 * Per block: the 32 quants as bytes in value order, one int32 vector of partial sums per
 * column, scaled by d_w * d_a; Q4_1 / Q5_1 add m_w * s_a. */

enum { B_Q4_0, B_Q4_1, B_Q5_0, B_Q5_1, B_Q8_0, B_IQ4_NL };

AI int b_size(const int t) {
    switch (t) {
    case B_Q4_0: case B_IQ4_NL: return 18;
    case B_Q4_1: return 20;
    case B_Q5_0: return 22;
    case B_Q5_1: return 24;
    default: return 34;
    }
}
AI bool b_has_min(const int t) { return t == B_Q4_1 || t == B_Q5_1; }

AI void b_cols(const int t, const int C, int64_t n, const uint8_t *w, const uint8_t *act, size_t as,
               float *y, size_t ys) {
    const int bs = b_size(t), abs_ = b_has_min(t) ? 36 : 34, aqs = b_has_min(t) ? 4 : 2;
    const __m128i lut = _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    __m256 acc[KMAX_C];
    float accm[KMAX_C];
    for (int c = 0; c < C; c++) { acc[c] = _mm256_setzero_ps(); accm[c] = 0.0f; }
    for (int64_t b = 0; b < n / 32; b++) {
        const uint8_t *x = w + (size_t)b * (size_t)bs;
        if (b % 2 == 0) _mm_prefetch((const char *)x + QS_PREFETCH_AHEAD, _MM_HINT_T0);
        __m256i q; /* weight quants in value order */
        bool is_signed = true;
        switch (t) {
        case B_Q4_0: q = _mm256_sub_epi8(nibbles(x + 2), _mm256_set1_epi8(8)); break;
        case B_Q4_1: q = nibbles(x + 4); is_signed = false; break;
        case B_Q5_0:
            q = _mm256_sub_epi8(_mm256_or_si256(nibbles(x + 6), _mm256_and_si256(bits_to_bytes(qs_ld_u32(x + 2)), _mm256_set1_epi8(0x10))),
                                _mm256_set1_epi8(16));
            break;
        case B_Q5_1:
            q = _mm256_or_si256(nibbles(x + 8), _mm256_and_si256(bits_to_bytes(qs_ld_u32(x + 4)), _mm256_set1_epi8(0x10)));
            is_signed = false;
            break;
        case B_Q8_0: q = ld32(x + 2); break;
        default: {
            const __m128i v = _mm_loadu_si128((const __m128i *)(x + 2)), m = _mm_set1_epi8(0x0F);
            q = _mm256_set_m128i(_mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(v, 4), m)),
                                 _mm_shuffle_epi8(lut, _mm_and_si128(v, m)));
        }
        }
        const __m256i qa = is_signed ? _mm256_sign_epi8(q, q) : q;
        const float dw = f16s(x), mw = b_has_min(t) ? f16s(x + 2) : 0.0f;
        for (int c = 0; c < C; c++) {
            const uint8_t *ab = act + (size_t)c * as + (size_t)b * (size_t)abs_;
            const __m256i a = ld32(ab + aqs);
            const __m256i s = dot_us(qa, is_signed ? _mm256_sign_epi8(a, q) : a);
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(dw * f16s(ab)), acc[c]);
            if (b_has_min(t)) accm[c] += mw * f16s(ab + 2);
        }
    }
    for (int c = 0; c < C; c++) y[(size_t)c * ys] = hsum8(acc[c]) + accm[c];
}

/* ================================================================ K-quants
 * Activation Q8_K: float d at 0, qs at 4, bsums at 260. Quants are unsigned bytes (value +
 * offset); offsets and minimums come back through the bsums. */

#define Q8K_QS 4
#define Q8K_BS 260

/* Q4_K / Q5_K: the 12 scale bytes -> 8 scales then 8 minimums. Reads 16 bytes. */
AI __m128i k4_scales_mins(const uint8_t *s12) {
    const __m128i s = _mm_loadu_si128((const __m128i *)s12);
    const __m128i a = _mm_shuffle_epi8(s, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    const __m128i lo = _mm_and_si128(a, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0));
    const __m128i hn = _mm_and_si128(_mm_srli_epi16(a, 4), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
    const __m128i h = _mm_shuffle_epi8(s, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    const __m128i hb = _mm_and_si128(_mm_srli_epi16(h, 2), _mm_set1_epi8(0x30));
    return _mm_or_si128(_mm_or_si128(lo, hn), hb);
}

/* Q3_K: 12 scale bytes -> 16 signed scales (value - 32) as int8. Reads exactly 12 bytes. */
AI __m128i q3k_scales(const uint8_t *s12) {
    const __m128i m15 = _mm_set1_epi8(15);
    const __m128i s = _mm_insert_epi32(_mm_loadl_epi64((const __m128i *)s12), (int)qs_ld_u32(s12 + 8), 2);
    const __m128i l = _mm_shuffle_epi8(s, _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7));
    const __m128i lo = _mm_blend_epi16(_mm_and_si128(l, m15), _mm_and_si128(_mm_srli_epi16(l, 4), m15), 0xF0);
    const __m128i h = _mm_shuffle_epi8(s, _mm_setr_epi8(8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11));
    const __m128i hs = _mm_and_si128(_mm_srlv_epi32(h, _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(3));
    return _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hs, 4)), _mm_set1_epi8(32));
}

/* vpshufb control: every word of both 128-bit lanes <- word a (lane 0) / word b (lane 1) */
AI __m256i ctl2(int a, int b) {
    return _mm256_set_m128i(_mm_set1_epi16((short)(0x0100 * (2 * b + 1) + 2 * b)),
                            _mm_set1_epi16((short)(0x0100 * (2 * a + 1) + 2 * a)));
}

AI void k45_cols(const bool five, const int C, int64_t n, const uint8_t *w, const uint8_t *act, size_t as,
                 float *y, size_t ys) {
    const size_t bsz = five ? sizeof(qs_block_q5_K) : sizeof(qs_block_q4_K);
    const int qs_off = five ? 48 : 16;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 acc[KMAX_C];
    float accm[KMAX_C];
    for (int c = 0; c < C; c++) { acc[c] = _mm256_setzero_ps(); accm[c] = 0.0f; }
    for (int64_t b = 0; b < n / QS_QK_K; b++) {
        const uint8_t *blk = w + (size_t)b * bsz;
        for (size_t o = 0; o < bsz; o += 64) _mm_prefetch((const char *)blk + o + QS_PREFETCH_AHEAD, _MM_HINT_T0);
        const __m128i sm = k4_scales_mins(blk + 4);
        const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm)); /* 8 scale words */
        const __m256i mn = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));  /* m_j twice */
        __m256i q[8];                                                         /* sub-block j */
        for (int j = 0; j < 4; j++) {
            const __m256i v = ld32(blk + qs_off + 32 * j);
            q[2 * j] = _mm256_and_si256(v, m4);
            q[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        }
        if (five) {
            const __m256i qh = ld32(blk + 16);
            for (int j = 0; j < 8; j++) {
                const __m256i bit = _mm256_set1_epi8((char)(1 << j));
                q[j] = _mm256_or_si256(q[j], _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit), bit), _mm256_set1_epi8(0x10)));
            }
        }
        const float d = f16s(blk), dmin = f16s(blk + 2);
        for (int c = 0; c < C; c++) {
            const uint8_t *a = act + (size_t)c * as + (size_t)b * sizeof(qs_block_q8_K);
            __m256i isum = _mm256_setzero_si256();
            for (int j = 0; j < 8; j++)
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(q[j], ld32(a + Q8K_QS + 32 * j)),
                                                                _mm256_shuffle_epi8(sc, ctl2(j, j))));
            const int msum = hsum8i(_mm256_madd_epi16(ld32(a + Q8K_BS), mn));
            const float ad = qs_ld_f32(a);
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d * ad), acc[c]);
            accm[c] += (float)msum * (dmin * ad);
        }
    }
    for (int c = 0; c < C; c++) y[(size_t)c * ys] = hsum8(acc[c]) - accm[c];
}

enum { K_Q2, K_Q3, K_Q6 };

/* Q2_K, Q3_K, Q6_K: 32 values 32i .. 32i+31 (sub-blocks 2i, 2i+1) per ymm, in value order. */
AI void k16_cols(const int t, const int C, int64_t n, const uint8_t *w, const uint8_t *act, size_t as,
                 float *y, size_t ys) {
    const size_t bsz = t == K_Q2 ? sizeof(qs_block_q2_K) : t == K_Q3 ? sizeof(qs_block_q3_K) : sizeof(qs_block_q6_K);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3), m30 = _mm256_set1_epi8(0x30);
    const int off = t == K_Q6 ? 32 : t == K_Q3 ? 4 : 0; /* quants are used as value + off */
    __m256 acc[KMAX_C];
    float accm[KMAX_C];
    for (int c = 0; c < C; c++) { acc[c] = _mm256_setzero_ps(); accm[c] = 0.0f; }
    for (int64_t b = 0; b < n / QS_QK_K; b++) {
        const uint8_t *blk = w + (size_t)b * bsz;
        for (size_t o = 0; o < bsz; o += 64) _mm_prefetch((const char *)blk + o + QS_PREFETCH_AHEAD, _MM_HINT_T0);
        __m256i q[8];
        __m128i sc8; /* 16 scales as int8 */
        __m256i mn = _mm256_setzero_si256();
        float d, dmin = 0.0f;
        if (t == K_Q6) {
            for (int h = 0; h < 2; h++) {
                const __m256i l0 = ld32(blk + 64 * h), l1 = ld32(blk + 64 * h + 32), qh = ld32(blk + 128 + 32 * h);
                q[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
                q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
                q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30));
                q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
            }
            sc8 = _mm_loadu_si128((const __m128i *)(blk + 192));
            d = f16s(blk + 208);
        } else {
            const uint8_t *qs = blk + (t == K_Q2 ? 16 : 32);
            for (int h = 0; h < 2; h++) {
                const __m256i v = ld32(qs + 32 * h);
                for (int k = 0; k < 4; k++) q[4 * h + k] = _mm256_and_si256(_mm256_srli_epi16(v, 2 * k), m3);
            }
            if (t == K_Q3) {
                const __m256i hm = ld32(blk);
                for (int j = 0; j < 8; j++) { /* value 32j + l: high bit j of hmask[l] */
                    const __m256i bit = _mm256_set1_epi8((char)(1 << j));
                    q[j] = _mm256_or_si256(q[j], _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit), _mm256_set1_epi8(4)));
                }
                sc8 = q3k_scales(blk + 96);
                d = f16s(blk + 108);
            } else {
                const __m128i s = _mm_loadu_si128((const __m128i *)blk);
                sc8 = _mm_and_si128(s, _mm_set1_epi8(0x0F));
                mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(0x0F)));
                d = f16s(blk + 80);
                dmin = f16s(blk + 82);
            }
        }
        const __m256i sc16 = t == K_Q2 ? _mm256_cvtepu8_epi16(sc8) : _mm256_cvtepi8_epi16(sc8);
        const __m256i scl = _mm256_permute2x128_si256(sc16, sc16, 0x00), sch = _mm256_permute2x128_si256(sc16, sc16, 0x11);
        for (int c = 0; c < C; c++) {
            const uint8_t *a = act + (size_t)c * as + (size_t)b * sizeof(qs_block_q8_K);
            __m256i isum = _mm256_setzero_si256();
            for (int j = 0; j < 8; j++) { /* sub-blocks 2j (lane 0), 2j + 1 (lane 1) */
                const __m256i scw = _mm256_shuffle_epi8(j < 4 ? scl : sch, ctl2((2 * j) & 7, (2 * j + 1) & 7));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(q[j], ld32(a + Q8K_QS + 32 * j)), scw));
            }
            const __m256i bs16 = ld32(a + Q8K_BS);
            if (off) isum = _mm256_sub_epi32(isum, _mm256_mullo_epi32(_mm256_madd_epi16(bs16, sc16), _mm256_set1_epi32(off)));
            const float ad = qs_ld_f32(a);
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d * ad), acc[c]);
            if (t == K_Q2) accm[c] += (float)hsum8i(_mm256_madd_epi16(bs16, mn)) * (dmin * ad);
        }
    }
    for (int c = 0; c < C; c++) y[(size_t)c * ys] = hsum8(acc[c]) - accm[c];
}

AI void iq4xs_cols(const int C, int64_t n, const uint8_t *w, const uint8_t *act, size_t as, float *y, size_t ys) {
    const __m128i lut = _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    const __m128i m4 = _mm_set1_epi8(0x0F);
    __m256 acc[KMAX_C];
    for (int c = 0; c < C; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QS_QK_K; b++) {
        const uint8_t *blk = w + (size_t)b * sizeof(qs_block_iq4_xs);
        for (size_t o = 0; o < sizeof(qs_block_iq4_xs); o += 64) _mm_prefetch((const char *)blk + o + QS_PREFETCH_AHEAD, _MM_HINT_T0);
        const uint16_t sh = qs_ld_u16(blk + 2);
        __m256i q[8];
        int ls[8];
        for (int ib = 0; ib < 8; ib++) {
            const __m128i v = _mm_loadu_si128((const __m128i *)(blk + 8 + 16 * ib));
            q[ib] = _mm256_set_m128i(_mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(v, 4), m4)),
                                     _mm_shuffle_epi8(lut, _mm_and_si128(v, m4)));
            ls[ib] = qs_iq4xs_scale(blk + 4, sh, ib);
        }
        const float d = f16s(blk);
        for (int c = 0; c < C; c++) {
            const uint8_t *a = act + (size_t)c * as + (size_t)b * sizeof(qs_block_q8_K);
            __m256i isum = _mm256_setzero_si256();
            for (int ib = 0; ib < 8; ib++)
                isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(dot_ss(q[ib], ld32(a + Q8K_QS + 32 * ib)), _mm256_set1_epi32(ls[ib])));
            acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d * qs_ld_f32(a)), acc[c]);
        }
    }
    for (int c = 0; c < C; c++) y[(size_t)c * ys] = hsum8(acc[c]);
}

/* ================================================================ entry points */

#define COLS(t, call)                                                                            \
    AI void cols_##t(const int C, int64_t n, const uint8_t *w, const uint8_t *a, size_t as, float *y, size_t ys) { call; } \
    static float vec_dot_##t##_avx2(int64_t n, const void *w, const void *act) {                \
        float y;                                                                                 \
        cols_##t(1, n, w, act, 0, &y, 0);                                                        \
        return y;                                                                                \
    }                                                                                            \
    static void gemv_##t##_avx2(int64_t n, int64_t nrows, const void *w, size_t ws,              \
                                const void *act, float *y) {                                    \
        for (int64_t r = 0; r < nrows; r++) cols_##t(1, n, (const uint8_t *)w + (size_t)r * ws, act, 0, y + r, 0); \
    }                                                                                            \
    static void gemm_##t##_avx2(int64_t n, int64_t nrows, int64_t ncols, const void *w,         \
                                size_t ws, const void *act, size_t as, float *y, size_t ys) {   \
        const int64_t panel = qs_gemm_panel_rows(ws, nrows);                                            \
        for (int64_t r0 = 0; r0 < nrows; r0 += panel) {                                          \
            const int64_t r1 = r0 + panel < nrows ? r0 + panel : nrows;                           \
            int64_t c = 0;                                                                       \
            for (; c + KMAX_C <= ncols; c += KMAX_C)                                             \
                for (int64_t r = r0; r < r1; r++)                                                \
                    cols_##t(KMAX_C, n, (const uint8_t *)w + (size_t)r * ws,                     \
                             (const uint8_t *)act + (size_t)c * as, as, y + (size_t)c * ys + r, ys); \
            for (; c < ncols; c++)                                                               \
                for (int64_t r = r0; r < r1; r++)                                                \
                    cols_##t(1, n, (const uint8_t *)w + (size_t)r * ws,                          \
                             (const uint8_t *)act + (size_t)c * as, as, y + (size_t)c * ys + r, ys); \
        }                                                                                        \
    }
COLS(f32, float_cols(FT_F32, C, n, w, a, as, y, ys))
COLS(f16, float_cols(FT_F16, C, n, w, a, as, y, ys))
COLS(bf16, float_cols(FT_BF16, C, n, w, a, as, y, ys))
COLS(q4_0, b_cols(B_Q4_0, C, n, w, a, as, y, ys))
COLS(q4_1, b_cols(B_Q4_1, C, n, w, a, as, y, ys))
COLS(q5_0, b_cols(B_Q5_0, C, n, w, a, as, y, ys))
COLS(q5_1, b_cols(B_Q5_1, C, n, w, a, as, y, ys))
COLS(q8_0, b_cols(B_Q8_0, C, n, w, a, as, y, ys))
COLS(iq4_nl, b_cols(B_IQ4_NL, C, n, w, a, as, y, ys))
COLS(q4_K, k45_cols(false, C, n, w, a, as, y, ys))
COLS(q5_K, k45_cols(true, C, n, w, a, as, y, ys))
COLS(q2_K, k16_cols(K_Q2, C, n, w, a, as, y, ys))
COLS(q3_K, k16_cols(K_Q3, C, n, w, a, as, y, ys))
COLS(q6_K, k16_cols(K_Q6, C, n, w, a, as, y, ys))
COLS(iq4_xs, iq4xs_cols(C, n, w, a, as, y, ys))

/* ================================================================ dequantization */

#define QS_DEQ_ST16(y, q, d)                                                                     \
    do {                                                                                         \
        const __m128i q_ = (q);                                                                  \
        const __m256 d_ = _mm256_set1_ps(d);                                                     \
        _mm256_storeu_ps((y), _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q_)), d_));  \
        _mm256_storeu_ps((y) + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q_, 8))), d_)); \
    } while (0)
#define QS_DEQ_ST16M(y, q, d, m, s)                                                              \
    do {                                                                                         \
        const __m128i q_ = (q);                                                                  \
        const __m256 d_ = _mm256_set1_ps(d), m_ = _mm256_set1_ps(m);                             \
        const __m256 v0_ = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q_)), d_);       \
        const __m256 v1_ = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q_, 8))), d_); \
        _mm256_storeu_ps((y), (s) ? _mm256_sub_ps(v0_, m_) : _mm256_add_ps(v0_, m_));            \
        _mm256_storeu_ps((y) + 8, (s) ? _mm256_sub_ps(v1_, m_) : _mm256_add_ps(v1_, m_));        \
    } while (0)
#define QS_DEQ_NAME(t) to_float_##t##_avx2
#include "qs_kernels_deq.h"

static void to_float_f16_avx2(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 2 * i))));
    if (i < n) qs_dequant_f16(p + 2 * i, dst + i, n - i);
}

static void to_float_bf16_avx2(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + 2 * i))), 16));
    if (i < n) qs_dequant_bf16(p + 2 * i, dst + i, n - i);
}

/* ================================================================ the table */

#define ROW(T, t, act, deq, q)                                                                   \
    [QS_TYPE_##T] = {deq, QS_TYPE_##act, vec_dot_##t##_avx2, gemv_##t##_avx2, gemm_##t##_avx2, q}

const qs_kernels qs_kernels_avx2_table = {
    .level = QS_SIMD_AVX2,
    .name = "avx2",
    .row = {
        ROW(F32, f32, F32, qs_dequant_f32, qs_quantize_act_f32_scalar),
        ROW(F16, f16, F32, to_float_f16_avx2, NULL),
        ROW(BF16, bf16, F32, to_float_bf16_avx2, NULL),
        ROW(Q4_0, q4_0, Q8_0, to_float_q4_0_avx2, NULL),
        ROW(Q4_1, q4_1, Q8_1, to_float_q4_1_avx2, NULL),
        ROW(Q5_0, q5_0, Q8_0, to_float_q5_0_avx2, NULL),
        ROW(Q5_1, q5_1, Q8_1, to_float_q5_1_avx2, NULL),
        ROW(Q8_0, q8_0, Q8_0, to_float_q8_0_avx2, quantize_act_q8_0_avx2),
        [QS_TYPE_Q8_1] = {to_float_q8_1_avx2, -1, NULL, NULL, NULL, quantize_act_q8_1_avx2},
        ROW(IQ4_NL, iq4_nl, Q8_0, to_float_iq4_nl_avx2, NULL),
        ROW(IQ4_XS, iq4_xs, Q8_K, to_float_iq4_xs_avx2, NULL),
        ROW(Q2_K, q2_K, Q8_K, to_float_q2_K_avx2, NULL),
        ROW(Q3_K, q3_K, Q8_K, to_float_q3_K_avx2, NULL),
        ROW(Q4_K, q4_K, Q8_K, to_float_q4_K_avx2, NULL),
        ROW(Q5_K, q5_K, Q8_K, to_float_q5_K_avx2, NULL),
        ROW(Q6_K, q6_K, Q8_K, to_float_q6_K_avx2, NULL),
        [QS_TYPE_Q8_K] = {to_float_q8_K_avx2, -1, NULL, NULL, NULL, quantize_act_q8_K_avx2},
    },
    .softmax = qs_softmax_scalar,
    .silu_mul = qs_silu_mul_scalar,
};

/* qs_kernels_act_round for F16 with F16C: vcvtps2ph rounds to nearest even like
 * qs_f32_to_fp16 (finite inputs; subnormals and overflow to inf alike), so every level gives
 * the scalar level's bits (tests/test_kernels.c compares them). About 20x the scalar speed:
 * the attention rounds every weight of an f16 cache. */
void qs_act_round_f16_avx2(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i),
                                                                 _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; i++) y[i] = qs_fp16_to_f32(qs_f32_to_fp16(x[i]));
}
