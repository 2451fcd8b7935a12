/* AVX-512 kernels (F/BW/VL/DQ + VNNI + BF16). Only reached after qs_cpu said the CPU and OS
 * can run them.
 *
 * Dot products are written once per type as a microkernel over R weight rows that share one
 * activation row (R = 4 in gemv, 1 in vec_dot and for leftover rows). The per-row arithmetic
 * does not depend on R, so gemv and vec_dot give bit-identical results.
 *
 * Integer products use vpdpbusd (unsigned x signed bytes -> int32): weight quants are made
 * unsigned (value + K) and the offset comes back through the activation block sums
 * (sum(q_w * a) = sum((q_w + K) * a) - K * sum(a)), which are computed once per activation
 * block for all R rows. K-quants scale sub-block sums in int16/int32 (vpmaddubsw + vpdpwssd)
 * so every block's integer sum is exact, then apply the block's float scales once. */
#include <immintrin.h>

#include "qs_kernels_impl.h"

#define AI static inline __attribute__((always_inline))

/* ================================================================ small helpers */

AI __m512i zero512(void) { return _mm512_setzero_si512(); }

/* 16 fp16 values at base + idx[i] (byte offsets), lanes outside `valid` are 0. */
AI __m512 gather_f16(const uint8_t *base, __m512i idx, __mmask16 valid) {
    __m512i v = _mm512_mask_i32gather_epi32(zero512(), valid, idx, base, 1);
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}

/* ================================================================ activation quantizers */

/* One block of 32 floats: q (32 bytes) and its sum; returns d before fp16 rounding. */
AI float q8_block32(const float *x, uint8_t *q, int *sum) {
    const __m512 sign = _mm512_set1_ps(-0.0f);
    __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    __m512 m = _mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1));
    const float amax = _mm512_reduce_max_ps(m);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
    __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
    _mm_storeu_si128((__m128i *)q, _mm512_cvtepi32_epi8(i0));
    _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtepi32_epi8(i1));
    *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    return d;
}

static void quantize_act_q8_0_avx512(const float *x, void *dst, int64_t n) {
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / 32; b++, out += 34) {
        int sum;
        const float d = q8_block32(x + 32 * b, out + 2, &sum);
        const uint16_t h = (uint16_t)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        memcpy(out, &h, 2);
    }
}

static void quantize_act_q8_1_avx512(const float *x, void *dst, int64_t n) {
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

static void quantize_act_q8_K_avx512(const float *x, void *dst, int64_t n) {
    uint8_t *out = dst;
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / QS_QK_K; b++, out += sizeof(qs_block_q8_K), x += QS_QK_K) {
        __m512 m = _mm512_setzero_ps();
        for (int j = 0; j < 16; j++) m = _mm512_max_ps(m, _mm512_andnot_ps(sign, _mm512_loadu_ps(x + 16 * j)));
        const float amax = _mm512_reduce_max_ps(m);
        const float d = amax / 127.0f;
        const __m512 vid = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        int16_t bsums[16];
        for (int j = 0; j < 16; j++) {
            __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * j), vid));
            _mm_storeu_si128((__m128i *)(out + offsetof(qs_block_q8_K, qs) + 16 * j), _mm512_cvtepi32_epi8(q));
            bsums[j] = (int16_t)_mm512_reduce_add_epi32(q);
        }
        memcpy(out + offsetof(qs_block_q8_K, d), &d, 4);
        memcpy(out + offsetof(qs_block_q8_K, bsums), bsums, sizeof bsums);
    }
}

/* ================================================================ float types
 * F32 / F16 / BF16 weights against F32 activations: two accumulators per row (even and odd
 * 16-value chunks), masked loads for the last n % 32 values. */

enum { FT_F32, FT_F16, FT_BF16 };

AI __m512 load_w16(const int ft, const uint8_t *p, __mmask16 m, const bool full) {
    switch (ft) {
    case FT_F32: return full ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
    case FT_F16:
        return _mm512_cvtph_ps(full ? _mm256_loadu_si256((const __m256i *)p) : _mm256_maskz_loadu_epi16(m, p));
    default: {
        __m256i h = full ? _mm256_loadu_si256((const __m256i *)p) : _mm256_maskz_loadu_epi16(m, p);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    }
}

AI void float_rows(const int ft, const int R, int64_t n, const uint8_t *w, size_t ws, const float *a,
                   float *y) {
    const int es = ft == FT_F32 ? 4 : 2;
    __m512 acc0[4], acc1[4];
    for (int r = 0; r < R; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 a0 = _mm512_loadu_ps(a + i), a1 = _mm512_loadu_ps(a + i + 16);
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + (size_t)r * ws + (size_t)i * es;
            acc0[r] = _mm512_fmadd_ps(load_w16(ft, p, 0, true), a0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(load_w16(ft, p + 16 * es, 0, true), a1, acc1[r]);
        }
    }
    for (int half = 0; half < 2 && i < n; half++, i += 16) {
        const int64_t left = n - i;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        const __m512 av = _mm512_maskz_loadu_ps(m, a + i);
        for (int r = 0; r < R; r++) {
            const __m512 wv = load_w16(ft, w + (size_t)r * ws + (size_t)i * es, m, false);
            if (half == 0) acc0[r] = _mm512_fmadd_ps(wv, av, acc0[r]);
            else acc1[r] = _mm512_fmadd_ps(wv, av, acc1[r]);
        }
    }
    for (int r = 0; r < R; r++) y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r], acc1[r]));
}

/* ================================================================ 32-value block types
 * A group is 16 blocks, handled as 4 quads of 4 blocks. A quad of weights becomes two byte
 * vectors: lo = values 0..15 of the 4 blocks (one block per 128-bit lane), hi = values
 * 16..31; the activation quad is arranged the same way. vpdpbusd leaves each block's sum in
 * the 4 int32 of its lane; a transpose-add over the 4 quads puts the 16 block sums in one
 * vector, which is scaled by the 16 (d_w * d_a) and accumulated in float. */

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
AI int b_qs(const int t) { return t == B_Q4_1 ? 4 : t == B_Q5_0 ? 6 : t == B_Q5_1 ? 8 : 2; }
AI int b_qh(const int t) { return t == B_Q5_0 ? 2 : 4; }
AI bool b_has_min(const int t) { return t == B_Q4_1 || t == B_Q5_1; }
/* weight quants are stored as unsigned u = value + K */
AI int b_offset(const int t) {
    switch (t) {
    case B_Q4_0: return 8;
    case B_Q5_0: return 16;
    case B_Q8_0: case B_IQ4_NL: return 128;
    default: return 0;
    }
}
/* activation block: Q8_1 for the types with a minimum, else Q8_0 */
AI int a_size(const int t) { return b_has_min(t) ? 36 : 34; }
AI int a_qs(const int t) { return b_has_min(t) ? 4 : 2; }

/* 4 x 16 bytes from p, p + s, p + 2s, p + 3s; only the first cnt when !full (rest 0). */
AI __m512i load_quad(const uint8_t *p, size_t s, const bool full, int cnt) {
    if (full) {
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)p));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + s)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 2 * s)), 2);
        return _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 3 * s)), 3);
    }
    __m512i v = zero512();
    if (cnt > 0) v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)p), 0);
    if (cnt > 1) v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + s)), 1);
    if (cnt > 2) v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 2 * s)), 2);
    if (cnt > 3) v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 3 * s)), 3);
    return v;
}

/* The weight quad at p (first block), as unsigned lo / hi byte vectors. */
AI void b_decode_quad(const int t, const uint8_t *p, const bool full, int cnt, __m512i *lo,
                      __m512i *hi) {
    const size_t bs = (size_t)b_size(t);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    if (t == B_Q8_0) {
        const __m512i x80 = _mm512_set1_epi8((char)0x80);
        *lo = _mm512_xor_si512(load_quad(p + 2, bs, full, cnt), x80);
        *hi = _mm512_xor_si512(load_quad(p + 18, bs, full, cnt), x80);
        return;
    }
    const __m512i q = load_quad(p + b_qs(t), bs, full, cnt);
    __m512i l = _mm512_and_si512(q, m4), h = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
    if (t == B_IQ4_NL) {
        const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(
            1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166,
            (char)181, (char)197, (char)217, (char)241)); /* qs_iq4nl_values + 128 */
        l = _mm512_shuffle_epi8(lut, l);
        h = _mm512_shuffle_epi8(lut, h);
    }
    if (t == B_Q5_0 || t == B_Q5_1) {
        uint64_t ml = 0, mh = 0;
        for (int j = 0; j < 4; j++) {
            if (!full && j >= cnt) break;
            const uint32_t qh = qs_ld_u32(p + (size_t)j * bs + b_qh(t));
            ml |= (uint64_t)(qh & 0xFFFFu) << (16 * j);
            mh |= (uint64_t)(qh >> 16) << (16 * j);
        }
        const __m512i b4 = _mm512_set1_epi8(0x10);
        l = _mm512_mask_add_epi8(l, ml, l, b4); /* bit 4 is clear: add == or */
        h = _mm512_mask_add_epi8(h, mh, h, b4);
    }
    *lo = l;
    *hi = h;
}

/* The transpose-add: 4 quads of per-lane block sums -> lane 4L + q holds block 4q + L. */
AI __m512i pair_add(__m512i d0, __m512i d1) {
    return _mm512_add_epi32(_mm512_unpacklo_epi32(d0, d1), _mm512_unpackhi_epi32(d0, d1));
}
AI __m512i quad_add(__m512i s01, __m512i s23) {
    return _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
}

/* One group of up to 16 blocks starting at block g for R rows. */
AI void b_group(const int t, const int R, const bool full, int cnt, const uint8_t *w, size_t ws,
                const uint8_t *act, __m512 acc[4]) {
    const int bs = b_size(t), as = a_size(t), K = b_offset(t);
    __m512i s[4][2];
    for (int p = 0; p < 2; p++) {
        __m512i d[4][2];
        for (int qq = 0; qq < 2; qq++) {
            const int q = 2 * p + qq;
            const int qcnt = full ? 4 : cnt - 4 * q;
            if (!full && qcnt <= 0) {
                for (int r = 0; r < R; r++) d[r][qq] = zero512();
                continue;
            }
            const uint8_t *ap = act + (size_t)(4 * q) * (size_t)as;
            const __m512i alo = load_quad(ap + a_qs(t), (size_t)as, full, qcnt);
            const __m512i ahi = load_quad(ap + a_qs(t) + 16, (size_t)as, full, qcnt);
            __m512i base = zero512();
            if (K) {
                const __m512i k = _mm512_set1_epi8((char)K);
                base = _mm512_sub_epi32(zero512(), _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero512(), k, alo), k, ahi));
            }
            for (int r = 0; r < R; r++) {
                __m512i lo, hi;
                b_decode_quad(t, w + (size_t)r * ws + (size_t)(4 * q) * (size_t)bs, full, qcnt, &lo, &hi);
                d[r][qq] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(base, lo, alo), hi, ahi);
            }
        }
        for (int r = 0; r < R; r++) s[r][p] = pair_add(d[r][0], d[r][1]);
    }
    /* lane i = 4L + q <-> block 4q + L */
    const __m512i lane_blk = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __mmask16 valid = full ? (__mmask16)0xFFFF
                                 : _mm512_cmplt_epi32_mask(lane_blk, _mm512_set1_epi32(cnt));
    const __m512i aidx = _mm512_mullo_epi32(lane_blk, _mm512_set1_epi32(as));
    const __m512 da = gather_f16(act, aidx, valid);
    const __m512 sa = b_has_min(t) ? gather_f16(act + 2, aidx, valid) : _mm512_setzero_ps();
    const __m512i widx = _mm512_mullo_epi32(lane_blk, _mm512_set1_epi32(bs));
    for (int r = 0; r < R; r++) {
        const uint8_t *wr = w + (size_t)r * ws;
        const __m512i tsum = quad_add(s[r][0], s[r][1]);
        const __m512 dd = _mm512_mul_ps(gather_f16(wr, widx, valid), da);
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(tsum), dd, acc[r]);
        if (b_has_min(t)) acc[r] = _mm512_fmadd_ps(gather_f16(wr + 2, widx, valid), sa, acc[r]);
    }
}

AI void b_rows(const int t, const int R, int64_t n, const uint8_t *w, size_t ws, const uint8_t *act,
               float *y) {
    const int64_t nb = n / 32;
    const size_t gw = 16 * (size_t)b_size(t), ga = 16 * (size_t)a_size(t);
    __m512 acc[4];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    int64_t g = 0;
    for (; g + 16 <= nb; g += 16) b_group(t, R, true, 16, w + (size_t)(g / 16) * gw, ws, act + (size_t)(g / 16) * ga, acc);
    if (g < nb) b_group(t, R, false, (int)(nb - g), w + (size_t)(g / 16) * gw, ws, act + (size_t)(g / 16) * ga, acc);
    for (int r = 0; r < R; r++) y[r] = _mm512_reduce_add_ps(acc[r]);
}

/* ================================================================ K-quants
 * Activation: Q8_K (float d at 0, qs at 4, bsums at 260). */

#define Q8K_QS 4
#define Q8K_BS 260

AI __m512i k_act(const uint8_t *a, int j) { return _mm512_loadu_si512(a + Q8K_QS + 64 * j); }
AI float k_act_d(const uint8_t *a) { return qs_ld_f32(a); }
AI float f16s(const uint8_t *p) { return _cvtsh_ss(qs_ld_u16(p)); }

/* Q4_K / Q5_K scales: 16 bytes, 8 scales then 8 minimums. */
AI __m128i k4_scales_mins(const uint8_t *s12) {
    uint32_t u[4];
    memcpy(u, s12, 12);
    const uint32_t k1 = 0x3f3f3f3f, k2 = 0x0f0f0f0f, k3 = 0x03030303;
    u[3] = ((u[2] >> 4) & k2) | (((u[1] >> 6) & k3) << 4);
    const uint32_t m03 = u[1] & k1;
    u[1] = (u[2] & k2) | (((u[0] >> 6) & k3) << 4);
    u[2] = m03;
    u[0] &= k1;
    return _mm_loadu_si128((const __m128i *)u); /* sc0..3 sc4..7 m0..3 m4..7 */
}

/* vpshufb controls that spread scale word A over 128-bit lanes 0,1 and word B over 2,3. */
AI __m512i ctl_words(int a, int b) {
    const __m128i ca = _mm_set1_epi16((short)(0x0100 * (2 * a + 1) + 2 * a));
    const __m128i cb = _mm_set1_epi16((short)(0x0100 * (2 * b + 1) + 2 * b));
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(ca, ca)), _mm256_set_m128i(cb, cb), 1);
}

/* Q4_K and Q5_K: sub-block j (32 values) of the 256 is the low (j even) or high (j odd) nibble
 * of qs[32 (j/2) ..]. zmm k holds sub-blocks (2k' , 2k'+2) pairs as below. */
AI void k45_rows(const bool five, const int R, int64_t n, const uint8_t *w, size_t ws,
                 const uint8_t *act, float *y) {
    const size_t bsz = five ? sizeof(qs_block_q5_K) : sizeof(qs_block_q4_K);
    const int qs_off = five ? 48 : 16;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    /* zmm k covers sub-blocks (sbA | sbB): 0:(0,2) 1:(1,3) 2:(4,6) 3:(5,7) */
    const int sbA[4] = {0, 1, 4, 5}, sbB[4] = {2, 3, 6, 7};
    __m512 acc[4];
    __m256 accm[4];
    for (int r = 0; r < R; r++) { acc[r] = _mm512_setzero_ps(); accm[r] = _mm256_setzero_ps(); }
    for (int64_t b = 0; b < n / QS_QK_K; b++) {
        const uint8_t *a = act + (size_t)b * sizeof(qs_block_q8_K);
        const __m512i l0 = k_act(a, 0), l1 = k_act(a, 1), l2 = k_act(a, 2), l3 = k_act(a, 3);
        __m512i x[4];
        x[0] = _mm512_shuffle_i64x2(l0, l1, _MM_SHUFFLE(1, 0, 1, 0));
        x[1] = _mm512_shuffle_i64x2(l0, l1, _MM_SHUFFLE(3, 2, 3, 2));
        x[2] = _mm512_shuffle_i64x2(l2, l3, _MM_SHUFFLE(1, 0, 1, 0));
        x[3] = _mm512_shuffle_i64x2(l2, l3, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256i bs16 = _mm256_loadu_si256((const __m256i *)(a + Q8K_BS));
        const float ad = k_act_d(a);
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = w + (size_t)r * ws + (size_t)b * bsz;
            const __m128i sm = k4_scales_mins(blk + 4);
            const __m512i sc = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(sm));
            /* minimums: each m_j times (bsums[2j] + bsums[2j+1]) */
            const __m256i mn = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));
            const __m256i msum = _mm256_madd_epi16(bs16, mn);
            const __m512i z0 = _mm512_loadu_si512(blk + qs_off), z1 = _mm512_loadu_si512(blk + qs_off + 64);
            __m512i q[4];
            q[0] = _mm512_and_si512(z0, m4);
            q[1] = _mm512_and_si512(_mm512_srli_epi16(z0, 4), m4);
            q[2] = _mm512_and_si512(z1, m4);
            q[3] = _mm512_and_si512(_mm512_srli_epi16(z1, 4), m4);
            if (five) {
                const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk + 16)));
                const __m512i b16 = _mm512_set1_epi8(0x10);
                for (int k = 0; k < 4; k++) {
                    const __m512i sel = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << sbA[k])),
                                                           _mm256_set1_epi8((char)(1 << sbB[k])), 1);
                    q[k] = _mm512_mask_add_epi8(q[k], _mm512_test_epi8_mask(qh, sel), q[k], b16);
                }
            }
            __m512i isum = zero512();
            for (int k = 0; k < 4; k++) {
                const __m512i p = _mm512_maddubs_epi16(q[k], x[k]);
                isum = _mm512_dpwssd_epi32(isum, p, _mm512_shuffle_epi8(sc, ctl_words(sbA[k], sbB[k])));
            }
            const float d = f16s(blk) * ad, dmin = f16s(blk + 2) * ad;
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d), acc[r]);
            accm[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin), accm[r]);
        }
    }
    for (int r = 0; r < R; r++) {
        const __m256 m = accm[r];
        __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
        y[r] = _mm512_reduce_add_ps(acc[r]) - _mm_cvtss_f32(s4);
    }
}

/* Sub-blocks of 16 (Q2_K, Q3_K, Q6_K): zmm k covers values 64k .. 64k+63 = sub-blocks
 * 4k .. 4k+3, i.e. the plain activation load k. Scale words for zmm k: word 8i + j -> scale
 * 4k + i. */
AI __m512i sc16_idx(int k) {
    return _mm512_set_epi16(4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3,
                            4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2,
                            4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1,
                            4 * k, 4 * k, 4 * k, 4 * k, 4 * k, 4 * k, 4 * k, 4 * k);
}

enum { K_Q2, K_Q3, K_Q6 };

AI float hsum256(__m256 m) {
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
    return _mm_cvtss_f32(s4);
}

AI void k16_rows(const int t, const int R, int64_t n, const uint8_t *w, size_t ws,
                 const uint8_t *act, float *y) {
    const size_t bsz = t == K_Q2 ? sizeof(qs_block_q2_K) : t == K_Q3 ? sizeof(qs_block_q3_K) : sizeof(qs_block_q6_K);
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3), m30 = _mm512_set1_epi8(0x30);
    __m512 acc[4];
    __m256 accm[4];
    for (int r = 0; r < R; r++) { acc[r] = _mm512_setzero_ps(); accm[r] = _mm256_setzero_ps(); }
    for (int64_t b = 0; b < n / QS_QK_K; b++) {
        const uint8_t *a = act + (size_t)b * sizeof(qs_block_q8_K);
        __m512i x[4];
        for (int k = 0; k < 4; k++) x[k] = k_act(a, k);
        const __m256i bs16 = _mm256_loadu_si256((const __m256i *)(a + Q8K_BS));
        const float ad = k_act_d(a);
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = w + (size_t)r * ws + (size_t)b * bsz;
            __m512i q[4];
            __m256i sc; /* 16 scale words */
            float d, dmin = 0.0f;
            int off = 0;   /* offset K of the unsigned quants */
            __m256i msum = _mm256_setzero_si256();
            if (t == K_Q6) {
                for (int h = 0; h < 2; h++) {
                    const __m512i ql = _mm512_loadu_si512(blk + 64 * h);
                    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h)));
                    const __m512i hx = _mm512_sllv_epi64(qh, _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4));
                    const __m512i hy = _mm512_srlv_epi64(qh, _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0));
                    q[2 * h] = _mm512_ternarylogic_epi32(_mm512_and_si512(ql, m4), hx, m30, 0xF8);
                    q[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), hy, m30, 0xF8);
                }
                sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(blk + 192)));
                d = f16s(blk + 208) * ad;
                off = 32;
            } else {
                const uint8_t *qs = blk + (t == K_Q2 ? 16 : 32);
                for (int h = 0; h < 2; h++) {
                    const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * h)));
                    /* zmm 2h+p: values 128h + 64p + (0..31 | 32..63) = shifts (4p | 4p+2) */
                    q[2 * h] = _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0)), m3);
                    q[2 * h + 1] = _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_set_epi64(6, 6, 6, 6, 4, 4, 4, 4)), m3);
                }
                if (t == K_Q3) {
                    const __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)blk));
                    const __m512i b4 = _mm512_set1_epi8(4);
                    for (int k = 0; k < 4; k++) {
                        /* zmm k = (h, p): bits 4h + 2p (low half) and 4h + 2p + 1 (high half) */
                        const __m512i sel = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (2 * k))),
                                                               _mm256_set1_epi8((char)(1 << (2 * k + 1))), 1);
                        q[k] = _mm512_mask_add_epi8(q[k], _mm512_test_epi8_mask(hm, sel), q[k], b4);
                    }
                    int8_t s8[16];
                    qs_q3k_scales(blk + 96, s8);
                    sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)s8));
                    d = f16s(blk + 108) * ad;
                    off = 4;
                } else {
                    const __m128i s = _mm_loadu_si128((const __m128i *)blk);
                    sc = _mm256_cvtepu8_epi16(_mm_and_si128(s, _mm_set1_epi8(0x0F)));
                    const __m256i mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(0x0F)));
                    msum = _mm256_madd_epi16(bs16, mn);
                    d = f16s(blk + 80) * ad;
                    dmin = f16s(blk + 82) * ad;
                }
            }
            const __m512i scz = _mm512_castsi256_si512(sc);
            __m512i isum = zero512();
            for (int k = 0; k < 4; k++) {
                const __m512i p = _mm512_maddubs_epi16(q[k], x[k]);
                isum = _mm512_dpwssd_epi32(isum, p, _mm512_permutexvar_epi16(sc16_idx(k), scz));
            }
            if (off) { /* minus off * sum_j sc_j * bsums_j */
                const __m256i c = _mm256_mullo_epi32(_mm256_madd_epi16(bs16, sc), _mm256_set1_epi32(off));
                isum = _mm512_sub_epi32(isum, _mm512_zextsi256_si512(c));
            }
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d), acc[r]);
            if (t == K_Q2) accm[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(dmin), accm[r]);
        }
    }
    for (int r = 0; r < R; r++) y[r] = _mm512_reduce_add_ps(acc[r]) - (t == K_Q2 ? hsum256(accm[r]) : 0.0f);
}

/* IQ4_XS: sub-block ib (32 values) = low nibbles of qs[16 ib ..] (values 0..15) and high
 * nibbles (16..31); one sub-block per 128-bit lane, 4 per zmm. */
AI void iq4xs_rows(const int R, int64_t n, const uint8_t *w, size_t ws, const uint8_t *act, float *y) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(
        1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166, (char)181,
        (char)197, (char)217, (char)241));
    const __m512i k80 = _mm512_set1_epi8((char)0x80);
    __m512 acc[4];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / QS_QK_K; b++) {
        const uint8_t *a = act + (size_t)b * sizeof(qs_block_q8_K);
        __m512i xl[2], xh[2], base[2];
        for (int z = 0; z < 2; z++) {
            const __m512i l0 = k_act(a, 2 * z), l1 = k_act(a, 2 * z + 1);
            xl[z] = _mm512_shuffle_i64x2(l0, l1, _MM_SHUFFLE(2, 0, 2, 0));
            xh[z] = _mm512_shuffle_i64x2(l0, l1, _MM_SHUFFLE(3, 1, 3, 1));
            base[z] = _mm512_sub_epi32(zero512(), _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero512(), k80, xl[z]), k80, xh[z]));
        }
        const float ad = k_act_d(a);
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = w + (size_t)r * ws + (size_t)b * sizeof(qs_block_iq4_xs);
            int32_t ls[8];
            const uint16_t sh = qs_ld_u16(blk + 2);
            for (int ib = 0; ib < 8; ib++) ls[ib] = qs_iq4xs_scale(blk + 4, sh, ib);
            const __m256i l8 = _mm256_loadu_si256((const __m256i *)ls);
            __m512i isum = zero512();
            for (int z = 0; z < 2; z++) {
                const __m512i v = _mm512_loadu_si512(blk + 8 + 64 * z);
                const __m512i lo = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, m4));
                const __m512i hi = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
                const __m512i dsum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(base[z], lo, xl[z]), hi, xh[z]);
                const __m512i scv = _mm512_permutexvar_epi32(
                    _mm512_set_epi32(4 * z + 3, 4 * z + 3, 4 * z + 3, 4 * z + 3, 4 * z + 2, 4 * z + 2, 4 * z + 2, 4 * z + 2,
                                     4 * z + 1, 4 * z + 1, 4 * z + 1, 4 * z + 1, 4 * z, 4 * z, 4 * z, 4 * z),
                    _mm512_castsi256_si512(l8));
                isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(dsum, scv));
            }
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(f16s(blk) * ad), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) y[r] = _mm512_reduce_add_ps(acc[r]);
}

/* ================================================================ entry points
 * Every type gets rows_<t>(R, ...) and from it vec_dot (R = 1) and gemv (R = 4 + leftovers). */

#define ROWS_FLOAT(t, ft) AI void rows_##t(const int R, int64_t n, const uint8_t *w, size_t ws, const void *a, float *y) { float_rows(ft, R, n, w, ws, a, y); }
#define ROWS_B32(t, bt) AI void rows_##t(const int R, int64_t n, const uint8_t *w, size_t ws, const void *a, float *y) { b_rows(bt, R, n, w, ws, a, y); }
ROWS_FLOAT(f32, FT_F32)
ROWS_FLOAT(f16, FT_F16)
ROWS_FLOAT(bf16, FT_BF16)
ROWS_B32(q4_0, B_Q4_0)
ROWS_B32(q4_1, B_Q4_1)
ROWS_B32(q5_0, B_Q5_0)
ROWS_B32(q5_1, B_Q5_1)
ROWS_B32(q8_0, B_Q8_0)
ROWS_B32(iq4_nl, B_IQ4_NL)
AI void rows_q4_K(const int R, int64_t n, const uint8_t *w, size_t ws, const void *a, float *y) { k45_rows(false, R, n, w, ws, a, y); }
AI void rows_q5_K(const int R, int64_t n, const uint8_t *w, size_t ws, const void *a, float *y) { k45_rows(true, R, n, w, ws, a, y); }
AI void rows_q2_K(const int R, int64_t n, const uint8_t *w, size_t ws, const void *a, float *y) { k16_rows(K_Q2, R, n, w, ws, a, y); }
AI void rows_q3_K(const int R, int64_t n, const uint8_t *w, size_t ws, const void *a, float *y) { k16_rows(K_Q3, R, n, w, ws, a, y); }
AI void rows_q6_K(const int R, int64_t n, const uint8_t *w, size_t ws, const void *a, float *y) { k16_rows(K_Q6, R, n, w, ws, a, y); }
AI void rows_iq4_xs(const int R, int64_t n, const uint8_t *w, size_t ws, const void *a, float *y) { iq4xs_rows(R, n, w, ws, a, y); }

#define ENTRY(t)                                                                                 \
    static float vec_dot_##t##_avx512(int64_t n, const void *w, const void *act) {              \
        float y;                                                                                 \
        rows_##t(1, n, w, 0, act, &y);                                                           \
        return y;                                                                                \
    }                                                                                            \
    static void gemv_##t##_avx512(int64_t n, int64_t nrows, const void *w, size_t ws,            \
                                  const void *act, float *y) {                                  \
        const uint8_t *wp = w;                                                                   \
        int64_t r = 0;                                                                           \
        for (; r + 4 <= nrows; r += 4) rows_##t(4, n, wp + (size_t)r * ws, ws, act, y + r);      \
        for (; r < nrows; r++) rows_##t(1, n, wp + (size_t)r * ws, ws, act, y + r);              \
    }                                                                                            \
    QS_GEMM_FROM_GEMV(t, avx512)
QS_KERNEL_TYPES(ENTRY)

/* ================================================================ dequantization */

static void to_float_f16_avx512(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 2 * i))));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p + 2 * i)));
    }
}

static void to_float_bf16_avx512(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_si512(dst + i, _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p + 2 * i))), 16));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_epi32(dst + i, m, _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p + 2 * i)), 16));
    }
}

/* ================================================================ the table */

#define ROW(T, t, act, deq, q)                                                                   \
    [QS_TYPE_##T] = {deq, QS_TYPE_##act, vec_dot_##t##_avx512, gemv_##t##_avx512,               \
                     gemm_##t##_avx512, q}

const qs_kernels qs_kernels_avx512_table = {
    .level = QS_SIMD_AVX512,
    .name = "avx512",
    .row = {
        ROW(F32, f32, F32, qs_dequant_f32, qs_quantize_act_f32_scalar),
        ROW(F16, f16, F32, to_float_f16_avx512, NULL),
        ROW(BF16, bf16, F32, to_float_bf16_avx512, NULL),
        ROW(Q4_0, q4_0, Q8_0, qs_dequant_q4_0, NULL),
        ROW(Q4_1, q4_1, Q8_1, qs_dequant_q4_1, NULL),
        ROW(Q5_0, q5_0, Q8_0, qs_dequant_q5_0, NULL),
        ROW(Q5_1, q5_1, Q8_1, qs_dequant_q5_1, NULL),
        ROW(Q8_0, q8_0, Q8_0, qs_dequant_q8_0, quantize_act_q8_0_avx512),
        [QS_TYPE_Q8_1] = {qs_dequant_q8_1, -1, NULL, NULL, NULL, quantize_act_q8_1_avx512},
        ROW(IQ4_NL, iq4_nl, Q8_0, qs_dequant_iq4_nl, NULL),
        ROW(IQ4_XS, iq4_xs, Q8_K, qs_dequant_iq4_xs, NULL),
        ROW(Q2_K, q2_K, Q8_K, NULL, NULL),
        ROW(Q3_K, q3_K, Q8_K, NULL, NULL),
        ROW(Q4_K, q4_K, Q8_K, NULL, NULL),
        ROW(Q5_K, q5_K, Q8_K, NULL, NULL),
        ROW(Q6_K, q6_K, Q8_K, NULL, NULL),
        [QS_TYPE_Q8_K] = {NULL, -1, NULL, NULL, NULL, quantize_act_q8_K_avx512},
    },
};
