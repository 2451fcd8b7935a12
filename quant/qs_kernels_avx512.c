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

#define KMAX_C 4 /* activation rows per pass in gemm */

/* ================================================================ small helpers */

AI __m512i zero512(void) { return _mm512_setzero_si512(); }

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

/* One weight row against C activation rows; 4 accumulators per column (the values i with
 * (i / 16) % 4 == k go to accumulator k), summed ((a0 + a1) + (a2 + a3)) at the end. */
AI void float_cols(const int ft, const int C, int64_t n, const uint8_t *w, const uint8_t *act, size_t as,
                   float *y, size_t ys) {
    const int es = ft == FT_F32 ? 4 : 2;
    __m512 acc[4][4];
    for (int c = 0; c < C; c++)
        for (int k = 0; k < 4; k++) acc[c][k] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 wv[4];
        for (int k = 0; k < 4; k++) wv[k] = load_w16(ft, w + (size_t)(i + 16 * k) * es, 0, true);
        for (int c = 0; c < C; c++) {
            const float *a = (const float *)(act + (size_t)c * as) + i;
            for (int k = 0; k < 4; k++) acc[c][k] = _mm512_fmadd_ps(wv[k], _mm512_loadu_ps(a + 16 * k), acc[c][k]);
        }
    }
    for (int k = 0; i < n; k++, i += 16) {
        const int64_t left = n - i;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        const __m512 wv = load_w16(ft, w + (size_t)i * es, m, false);
        for (int c = 0; c < C; c++)
            acc[c][k] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m, (const float *)(act + (size_t)c * as) + i), acc[c][k]);
    }
    for (int c = 0; c < C; c++)
        y[(size_t)c * ys] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[c][0], acc[c][1]), _mm512_add_ps(acc[c][2], acc[c][3])));
}

/* ================================================================ 32-value block types
 * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL: the weight row is walked as raw 64-byte chunks, each
 * loaded once (sequential, aligned when the row is): DRAM streams best that way. vpdpbusd runs
 * on the raw bytes (nibbles split, IQ4_NL looked up, Q8_0 made unsigned) against an activation
 * arranged to the same byte positions, with zeros under the scale / qh bytes. Blocks are 18..34
 * bytes, so a 4-byte int32 lane never holds quants of two blocks (when a lane straddles a block
 * start, the new block contributes only its scale bytes). Each lane is then scaled by its
 * block's d_w (picked out of this and the previous chunk with vpermt2w) times d_a.
 *
 * The arranged activation does not depend on the row: it is built once per call ("prepared"),
 * for 64 chunks (4 KiB of a weight row) at a time on the stack, with per lane: the block's d_a,
 * the offset sum -K * sum(a) (weights are used as unsigned u = value + K), the vpermt2w word
 * index of the block's d_w, and for Q4_1 / Q5_1 the block's s_a on one lane per block. */

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
AI bool b_five(const int t) { return t == B_Q5_0 || t == B_Q5_1; }
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

#define B_RANGE_CHUNKS 64 /* chunks prepared at a time */

typedef struct {
    __m512i alo, ahi; /* activation bytes under the low / high nibble (Q8_0: alo only) */
    __m512i base;     /* -K * sum of the lane's activation bytes */
    __m512i idx;      /* word l: vpermt2w index of lane l's d_w in (previous, this) chunk */
    __m512 da, sa;    /* lane's d_a; s_a on the first lane of each block (Q4_1, Q5_1) */
    int32_t blk;      /* first block whose quants overlap the chunk (Q5 fifth bits) */
} b_chunk;

/* Prepares chunks [c0, c0 + nc) of a row of nb blocks. */
static void b_prep(const int t, const uint8_t *act, int64_t nb, int64_t c0, int nc, b_chunk *ch) {
    const int bs = b_size(t), as = a_size(t), qo = b_qs(t), K = b_offset(t);
    const int64_t rowb = nb * bs, p0 = 64 * c0, p1 = p0 + 64 * (int64_t)nc;
    /* activation bytes at the byte positions of the weight quants (zero elsewhere) */
    _Alignas(64) uint8_t lo[64 * B_RANGE_CHUNKS], hi[64 * B_RANGE_CHUNKS];
    memset(lo, 0, (size_t)(64 * nc));
    if (t != B_Q8_0) memset(hi, 0, (size_t)(64 * nc));
    const int nq = t == B_Q8_0 ? 32 : 16; /* quant bytes per block */
    for (int64_t b = p0 / bs; b < nb && b * bs + qo < p1; b++) {
        const uint8_t *aq = act + (size_t)b * (size_t)as + a_qs(t);
        const int64_t start = b * bs + qo - p0; /* may be < 0 for the first block */
        const int64_t j0 = start < 0 ? -start : 0, j1 = start + nq > p1 - p0 ? p1 - p0 - start : nq;
        if (j1 <= j0) continue;
        memcpy(lo + start + j0, aq + j0, (size_t)(j1 - j0));
        if (t != B_Q8_0) memcpy(hi + start + j0, aq + 16 + j0, (size_t)(j1 - j0));
    }
    const __m512i kv = _mm512_set1_epi8((char)K);
    int64_t b = p0 / bs; /* block of the current lane */
    for (int c = 0; c < nc; c++) {
        const int64_t q0 = p0 + 64 * c;
        const __m512i alo = _mm512_load_si512(lo + 64 * c);
        const __m512i ahi = t == B_Q8_0 ? zero512() : _mm512_load_si512(hi + 64 * c);
        ch[c].alo = alo;
        ch[c].ahi = ahi;
        ch[c].base = K ? _mm512_sub_epi32(zero512(), _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero512(), kv, alo), kv, ahi))
                       : zero512();
        _Alignas(64) int16_t idx[32] = {0};
        _Alignas(64) float da[16], sa[16];
        for (int l = 0; l < 16; l++) {
            const int64_t pos = q0 + 4 * l;
            if (pos >= rowb) { /* past the row: a word the masked load left 0 */
                idx[l] = (int16_t)(32 + 2 * l);
                da[l] = sa[l] = 0.0f;
                continue;
            }
            while (pos >= (b + 1) * bs) b++;
            idx[l] = (int16_t)((b * bs - (q0 - 64)) / 2);
            const uint8_t *ab = act + (size_t)b * (size_t)as;
            da[l] = _cvtsh_ss(qs_ld_u16(ab));
            /* the first lane that belongs to block b carries its s_a */
            sa[l] = b_has_min(t) && pos - 4 < b * bs ? _cvtsh_ss(qs_ld_u16(ab + 2)) : 0.0f;
        }
        ch[c].idx = _mm512_load_si512(idx);
        ch[c].da = _mm512_load_ps(da);
        ch[c].sa = _mm512_load_ps(sa);
        ch[c].blk = (int32_t)(q0 - qo - 16 >= 0 ? (q0 - qo - 16) / bs + 1 : 0); /* quants end past q0 */
    }
}

/* Q5 fifth bits for the chunk at byte p0 of the row (b0: first block whose quants overlap it):
 * bit p of *ml / *mh is the high bit of the low / high nibble quant at byte p. At most 4
 * blocks of 22 or 24 bytes overlap a chunk. */
AI void b_fifth_bits(const int t, const uint8_t *w, int64_t nb, int64_t p0, int64_t b0, uint64_t *ml,
                     uint64_t *mh) {
    const int bs = b_size(t), qo = b_qs(t);
    uint64_t lo = 0, hi = 0;
    for (int k = 0; k < 4; k++) {
        const int64_t b = b0 + k;
        const int64_t sh = b * bs + qo - p0; /* chunk bit of the block's first quant byte */
        if (b >= nb || sh >= 64) break;
        const uint32_t qh = qs_ld_u32(w + b * bs + b_qh(t));
        const uint64_t fl = qh & 0xFFFFu, fh = qh >> 16;
        lo |= sh >= 0 ? fl << sh : fl >> -sh;
        hi |= sh >= 0 ? fh << sh : fh >> -sh;
    }
    *ml = lo;
    *mh = hi;
}

/* One chunk j: decode once, accumulate into acc[c] for every column. */
AI void b_chunk_step(const int t, const int C, const uint8_t *w, int64_t nb, int64_t rowb, int64_t c0, int j,
                     b_chunk *const *ch, __m512i *prev, __m512 *acc) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const int64_t p0 = 64 * (c0 + j), rem = rowb - p0;
    const __m512i v = rem >= 64 ? _mm512_loadu_si512(w + p0)
                                : _mm512_maskz_loadu_epi8(((__mmask64)1 << rem) - 1, w + p0);
    __m512i lo, hi = zero512();
    if (t == B_Q8_0) {
        lo = _mm512_xor_si512(v, _mm512_set1_epi8((char)0x80));
    } else {
        lo = _mm512_and_si512(v, m4);
        hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        if (t == B_IQ4_NL) {
            const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(
                1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166, (char)181,
                (char)197, (char)217, (char)241)); /* qs_iq4nl_values + 128 */
            lo = _mm512_shuffle_epi8(lut, lo);
            hi = _mm512_shuffle_epi8(lut, hi);
        }
        if (b_five(t)) {
            uint64_t ml, mh;
            b_fifth_bits(t, w, nb, p0, ch[0][j].blk, &ml, &mh);
            const __m512i b4 = _mm512_set1_epi8(0x10);
            lo = _mm512_mask_add_epi8(lo, ml, lo, b4); /* bit 4 is clear: add == or */
            hi = _mm512_mask_add_epi8(hi, mh, hi, b4);
        }
    }
    const __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(*prev, ch[0][j].idx, v)));
    __m512 mw = _mm512_setzero_ps();
    if (b_has_min(t))
        mw = _mm512_cvtph_ps(_mm512_castsi512_si256(
            _mm512_permutex2var_epi16(*prev, _mm512_add_epi16(ch[0][j].idx, _mm512_set1_epi16(1)), v)));
    for (int c = 0; c < C; c++) {
        const b_chunk *k = &ch[c][j];
        __m512i s = _mm512_dpbusd_epi32(k->base, lo, k->alo);
        if (t != B_Q8_0) s = _mm512_dpbusd_epi32(s, hi, k->ahi);
        acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, k->da), acc[c]);
        if (b_has_min(t)) acc[c] = _mm512_fmadd_ps(mw, k->sa, acc[c]);
    }
    *prev = v;
}

/* One weight row over prepared chunks [c0, c0 + nc) (a whole number of granules, or the row's
 * end) against C activation rows (ch[c] prepared for activation row c). Even chunks go to one
 * accumulator, odd ones to another; the partial sums are reduced every B_GRANULE chunks (at
 * fixed positions of the row) and added to y[c * ys] in order, so the result does not depend
 * on how many chunks were prepared at a time. */
#define B_GRANULE 16

AI void b_cols_range(const int t, const int C, const uint8_t *w, int64_t nb, int64_t c0, int nc,
                     b_chunk *const *ch, float *y, size_t ys) {
    const int64_t rowb = nb * b_size(t);
    __m512i prev = c0 > 0 ? _mm512_loadu_si512(w + 64 * (c0 - 1)) : zero512();
    for (int g = 0; g < nc; g += B_GRANULE) {
        const int ge = g + B_GRANULE < nc ? g + B_GRANULE : nc;
        __m512 acc0[KMAX_C], acc1[KMAX_C];
        for (int c = 0; c < C; c++) acc0[c] = acc1[c] = _mm512_setzero_ps();
        int j = g;
        for (; j + 1 < ge; j += 2) {
            b_chunk_step(t, C, w, nb, rowb, c0, j, ch, &prev, acc0);
            b_chunk_step(t, C, w, nb, rowb, c0, j + 1, ch, &prev, acc1);
        }
        if (j < ge) b_chunk_step(t, C, w, nb, rowb, c0, j, ch, &prev, acc0);
        for (int c = 0; c < C; c++) {
            const float part = _mm512_reduce_add_ps(_mm512_add_ps(acc0[c], acc1[c]));
            y[(size_t)c * ys] = c0 + g == 0 ? part : y[(size_t)c * ys] + part;
        }
    }
}

AI void b_gemv(const int t, int64_t n, int64_t nrows, const uint8_t *w, size_t ws, const uint8_t *act,
               float *y) {
    _Alignas(64) b_chunk ch[B_RANGE_CHUNKS];
    b_chunk *const chp[1] = {ch};
    const int64_t nb = n / 32, nchunks = (nb * b_size(t) + 63) / 64;
    for (int64_t c0 = 0; c0 < nchunks; c0 += B_RANGE_CHUNKS) {
        const int nc = nchunks - c0 < B_RANGE_CHUNKS ? (int)(nchunks - c0) : B_RANGE_CHUNKS;
        b_prep(t, act, nb, c0, nc, ch);
        for (int64_t r = 0; r < nrows; r++) b_cols_range(t, 1, w + (size_t)r * ws, nb, c0, nc, chp, y + r, 0);
    }
}

/* gemm: panels of rows that stay in L2; per panel, KMAX_C activation rows at a time, prepared
 * one granule at a time (KMAX_C granules of prepared activation fit L1). */
AI void b_gemm(const int t, int64_t n, int64_t nrows, int64_t ncols, const uint8_t *w, size_t ws,
               const uint8_t *act, size_t as, float *y, size_t ys) {
    _Alignas(64) b_chunk ch[KMAX_C][B_GRANULE];
    b_chunk *const chp[KMAX_C] = {ch[0], ch[1], ch[2], ch[3]};
    const int64_t nb = n / 32, nchunks = (nb * b_size(t) + 63) / 64;
    const int64_t panel = qs_gemm_panel_rows(ws);
    for (int64_t r0 = 0; r0 < nrows; r0 += panel) {
        const int64_t r1 = r0 + panel < nrows ? r0 + panel : nrows;
        for (int64_t c = 0; c < ncols;) {
            const int C = ncols - c >= KMAX_C ? KMAX_C : 1;
            for (int64_t c0 = 0; c0 < nchunks; c0 += B_GRANULE) {
                const int nc = nchunks - c0 < B_GRANULE ? (int)(nchunks - c0) : B_GRANULE;
                for (int k = 0; k < C; k++) b_prep(t, act + (size_t)(c + k) * as, nb, c0, nc, ch[k]);
                for (int64_t r = r0; r < r1; r++) {
                    float *yr = y + (size_t)c * ys + r;
                    if (C == KMAX_C) b_cols_range(t, KMAX_C, w + (size_t)r * ws, nb, c0, nc, chp, yr, ys);
                    else b_cols_range(t, 1, w + (size_t)r * ws, nb, c0, nc, chp, yr, ys);
                }
            }
            c += C;
        }
    }
}

/* ================================================================ K-quants
 * Q2_K .. Q6_K and IQ4_XS against Q8_K activations (float d at 0, qs at 4, bsums at 260).
 * One weight row at a time against C activation rows (C = 1 in gemv: rows stream one after the
 * other, which DRAM prefers; C > 1 in gemm: the weight block is decoded once for C columns).
 * Per block, sub-block sums are scaled in integers (vpmaddubsw: unsigned quants x activation
 * bytes -> int16 pairs; vpdpwssd: x scale -> int32), offsets and minimums come from the
 * activation bsums, then the block's float scales are applied once. */

#define Q8K_QS 4
#define Q8K_BS 260

AI __m512i k_act(const uint8_t *a, int j) { return _mm512_loadu_si512(a + Q8K_QS + 64 * j); }
AI float k_act_d(const uint8_t *a) { return qs_ld_f32(a); }
AI float f16s(const uint8_t *p) { return _cvtsh_ss(qs_ld_u16(p)); }
AI __m256i k_bsums(const uint8_t *a) { return _mm256_loadu_si256((const __m256i *)(a + Q8K_BS)); }

AI float hsum256(__m256 m) {
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
    return _mm_cvtss_f32(s4);
}

/* Q4_K / Q5_K: the 12 scale bytes at s12 -> 8 scales then 8 minimums (6 bits each). Reads 16
 * bytes (the block continues past the scales). */
AI __m128i k4_scales_mins(const uint8_t *s12) {
    const __m128i s = _mm_loadu_si128((const __m128i *)s12);
    const __m128i a = _mm_shuffle_epi8(s, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    const __m128i lo = _mm_and_si128(a, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0));
    const __m128i hn = _mm_and_si128(_mm_srli_epi16(a, 4), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
    const __m128i h = _mm_shuffle_epi8(s, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    const __m128i hb = _mm_and_si128(_mm_srli_epi16(h, 2), _mm_set1_epi8(0x30)); /* top 2 bits -> bits 4,5 */
    return _mm_or_si128(_mm_or_si128(lo, hn), hb);
}

/* Q3_K: the 12 scale bytes -> 16 signed scales (value - 32), as int8. */
AI __m128i q3k_scales(const uint8_t *s12) {
    const __m128i m15 = _mm_set1_epi8(15);
    const __m128i s = _mm_maskz_loadu_epi8(0x0FFF, s12);
    const __m128i l = _mm_shuffle_epi8(s, _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7));
    const __m128i lo = _mm_mask_blend_epi8(0xFF00, _mm_and_si128(l, m15), _mm_and_si128(_mm_srli_epi16(l, 4), m15));
    const __m128i h = _mm_shuffle_epi8(s, _mm_setr_epi8(8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11, 8, 9, 10, 11));
    const __m128i hs = _mm_and_si128(_mm_srlv_epi16(h, _mm_setr_epi16(0, 0, 2, 2, 4, 4, 6, 6)), _mm_set1_epi8(3));
    return _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hs, 4)), _mm_set1_epi8(32));
}

/* IQ4_XS: 8 six-bit scales (value - 32) as int32. */
AI __m256i iq4xs_scales(const uint8_t *blk) {
    const __m128i sl = _mm_cvtsi32_si128((int)qs_ld_u32(blk + 4));
    const __m128i w = _mm_cvtepu8_epi16(_mm_shuffle_epi8(sl, _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, -1, -1, -1, -1, -1, -1, -1, -1)));
    const __m128i lo = _mm_and_si128(_mm_srlv_epi16(w, _mm_setr_epi16(0, 4, 0, 4, 0, 4, 0, 4)), _mm_set1_epi16(15));
    const __m128i hi = _mm_and_si128(_mm_srlv_epi16(_mm_set1_epi16((short)qs_ld_u16(blk + 2)),
                                                    _mm_setr_epi16(0, 2, 4, 6, 8, 10, 12, 14)),
                                     _mm_set1_epi16(3));
    return _mm256_cvtepi16_epi32(_mm_sub_epi16(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi16(32)));
}

/* vpshufb controls that spread scale word A over 128-bit lanes 0,1 and word B over 2,3. */
AI __m512i ctl_words(int a, int b) {
    const __m128i ca = _mm_set1_epi16((short)(0x0100 * (2 * a + 1) + 2 * a));
    const __m128i cb = _mm_set1_epi16((short)(0x0100 * (2 * b + 1) + 2 * b));
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(ca, ca)), _mm256_set_m128i(cb, cb), 1);
}

/* Q4_K / Q5_K: sub-block j (32 values) is the low (j even) or high (j odd) nibble of
 * qs[32 (j/2) ..]; the fifth bit (Q5_K) is bit j of qh[l]. zmm k holds two sub-blocks:
 * 0: (0 | 2), 1: (1 | 3), 2: (4 | 6), 3: (5 | 7); the activation is shuffled to match. */
AI void k45_cols(const bool five, const int C, int64_t n, const uint8_t *w, const uint8_t *act,
                 size_t as, float *y, size_t ys) {
    const size_t bsz = five ? sizeof(qs_block_q5_K) : sizeof(qs_block_q4_K);
    const int qs_off = five ? 48 : 16;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const int sbA[4] = {0, 1, 4, 5}, sbB[4] = {2, 3, 6, 7};
    __m512 acc[KMAX_C];
    __m256 accm[KMAX_C];
    for (int c = 0; c < C; c++) { acc[c] = _mm512_setzero_ps(); accm[c] = _mm256_setzero_ps(); }
    for (int64_t b = 0; b < n / QS_QK_K; b++) {
        const uint8_t *blk = w + (size_t)b * bsz;
        const __m128i sm = k4_scales_mins(blk + 4);
        const __m512i sc = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(sm));
        const __m256i mn = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm)); /* m_j twice */
        const __m512i z0 = _mm512_loadu_si512(blk + qs_off), z1 = _mm512_loadu_si512(blk + qs_off + 64);
        __m512i q[4], scv[4];
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
        for (int k = 0; k < 4; k++) scv[k] = _mm512_shuffle_epi8(sc, ctl_words(sbA[k], sbB[k]));
        const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128((int)qs_ld_u32(blk))); /* d, dmin */
        for (int c = 0; c < C; c++) {
            const uint8_t *a = act + (size_t)c * as + (size_t)b * sizeof(qs_block_q8_K);
            const __m512i l0 = k_act(a, 0), l1 = k_act(a, 1), l2 = k_act(a, 2), l3 = k_act(a, 3);
            __m512i x[4];
            x[0] = _mm512_shuffle_i64x2(l0, l1, _MM_SHUFFLE(1, 0, 1, 0));
            x[1] = _mm512_shuffle_i64x2(l0, l1, _MM_SHUFFLE(3, 2, 3, 2));
            x[2] = _mm512_shuffle_i64x2(l2, l3, _MM_SHUFFLE(1, 0, 1, 0));
            x[3] = _mm512_shuffle_i64x2(l2, l3, _MM_SHUFFLE(3, 2, 3, 2));
            __m512i isum = zero512();
            for (int k = 0; k < 4; k++) isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(q[k], x[k]), scv[k]);
            const __m256i msum = _mm256_madd_epi16(k_bsums(a), mn); /* m_j (bsums[2j] + bsums[2j+1]) */
            const __m128 s = _mm_mul_ps(dm, _mm_set1_ps(k_act_d(a)));
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_broadcastss_ps(s), acc[c]);
            accm[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_broadcastss_ps(_mm_movehdup_ps(s)), accm[c]);
        }
    }
    for (int c = 0; c < C; c++) y[(size_t)c * ys] = _mm512_reduce_add_ps(acc[c]) - hsum256(accm[c]);
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

AI void k16_cols(const int t, const int C, int64_t n, const uint8_t *w, const uint8_t *act, size_t as,
                 float *y, size_t ys) {
    const size_t bsz = t == K_Q2 ? sizeof(qs_block_q2_K) : t == K_Q3 ? sizeof(qs_block_q3_K) : sizeof(qs_block_q6_K);
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3), m30 = _mm512_set1_epi8(0x30);
    const int off = t == K_Q6 ? 32 : t == K_Q3 ? 4 : 0; /* quants are used as value + off */
    __m512 acc[KMAX_C];
    __m256 accm[KMAX_C];
    for (int c = 0; c < C; c++) { acc[c] = _mm512_setzero_ps(); accm[c] = _mm256_setzero_ps(); }
    for (int64_t b = 0; b < n / QS_QK_K; b++) {
        const uint8_t *blk = w + (size_t)b * bsz;
        __m512i q[4], scv[4];
        __m256i sc, mn = _mm256_setzero_si256(); /* 16 scale words, Q2_K minimum words */
        float d, dmin = 0.0f;
        if (t == K_Q6) {
            for (int h = 0; h < 2; h++) {
                const __m512i ql = _mm512_loadu_si512(blk + 64 * h);
                const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h)));
                const __m512i hx = _mm512_sllv_epi64(qh, _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4));
                const __m512i hy = _mm512_srlv_epi64(qh, _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0));
                /* (ql nibble) | (2 high bits at bits 4,5): ternary A | (B & C) */
                q[2 * h] = _mm512_ternarylogic_epi32(_mm512_and_si512(ql, m4), hx, m30, 0xF8);
                q[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), hy, m30, 0xF8);
            }
            sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(blk + 192)));
            d = f16s(blk + 208);
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
                    /* zmm k = (h, p): high bits 4h + 2p (low half) and 4h + 2p + 1 (high half) */
                    const __m512i sel = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (2 * k))),
                                                           _mm256_set1_epi8((char)(1 << (2 * k + 1))), 1);
                    q[k] = _mm512_mask_add_epi8(q[k], _mm512_test_epi8_mask(hm, sel), q[k], b4);
                }
                sc = _mm256_cvtepi8_epi16(q3k_scales(blk + 96));
                d = f16s(blk + 108);
            } else {
                const __m128i s = _mm_loadu_si128((const __m128i *)blk);
                sc = _mm256_cvtepu8_epi16(_mm_and_si128(s, _mm_set1_epi8(0x0F)));
                mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(0x0F)));
                d = f16s(blk + 80);
                dmin = f16s(blk + 82);
            }
        }
        const __m512i scz = _mm512_castsi256_si512(sc);
        for (int k = 0; k < 4; k++) scv[k] = _mm512_permutexvar_epi16(sc16_idx(k), scz);
        for (int c = 0; c < C; c++) {
            const uint8_t *a = act + (size_t)c * as + (size_t)b * sizeof(qs_block_q8_K);
            __m512i isum = zero512();
            for (int k = 0; k < 4; k++) isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(q[k], k_act(a, k)), scv[k]);
            const __m256i bs16 = k_bsums(a);
            if (off) { /* minus off * sum_j sc_j * bsums_j */
                const __m256i corr = _mm256_mullo_epi32(_mm256_madd_epi16(bs16, sc), _mm256_set1_epi32(off));
                isum = _mm512_sub_epi32(isum, _mm512_zextsi256_si512(corr));
            }
            const float ad = k_act_d(a);
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d * ad), acc[c]);
            if (t == K_Q2)
                accm[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(bs16, mn)), _mm256_set1_ps(dmin * ad), accm[c]);
        }
    }
    for (int c = 0; c < C; c++) y[(size_t)c * ys] = _mm512_reduce_add_ps(acc[c]) - (t == K_Q2 ? hsum256(accm[c]) : 0.0f);
}

/* IQ4_XS: sub-block ib (32 values) = low nibbles of qs[16 ib ..] (values 0..15) and high
 * nibbles (16..31); one sub-block per 128-bit lane, 4 per zmm. Values are looked up as
 * unsigned (value + 128); the offset returns through -128 * sum(a) per lane. */
AI void iq4xs_cols(const int C, int64_t n, const uint8_t *w, const uint8_t *act, size_t as, float *y, size_t ys) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(
        1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166, (char)181,
        (char)197, (char)217, (char)241));
    const __m512i k80 = _mm512_set1_epi8((char)0x80);
    __m512 acc[KMAX_C];
    for (int c = 0; c < C; c++) acc[c] = _mm512_setzero_ps();
    for (int64_t b = 0; b < n / QS_QK_K; b++) {
        const uint8_t *blk = w + (size_t)b * sizeof(qs_block_iq4_xs);
        const __m512i l8 = _mm512_castsi256_si512(iq4xs_scales(blk));
        __m512i lo[2], hi[2], scv[2];
        for (int z = 0; z < 2; z++) {
            const __m512i v = _mm512_loadu_si512(blk + 8 + 64 * z);
            lo[z] = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, m4));
            hi[z] = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
            scv[z] = _mm512_permutexvar_epi32(
                _mm512_set_epi32(4 * z + 3, 4 * z + 3, 4 * z + 3, 4 * z + 3, 4 * z + 2, 4 * z + 2, 4 * z + 2, 4 * z + 2,
                                 4 * z + 1, 4 * z + 1, 4 * z + 1, 4 * z + 1, 4 * z, 4 * z, 4 * z, 4 * z), l8);
        }
        const float d = f16s(blk);
        for (int c = 0; c < C; c++) {
            const uint8_t *a = act + (size_t)c * as + (size_t)b * sizeof(qs_block_q8_K);
            __m512i isum = zero512();
            for (int z = 0; z < 2; z++) {
                const __m512i l0 = k_act(a, 2 * z), l1 = k_act(a, 2 * z + 1);
                const __m512i xl = _mm512_shuffle_i64x2(l0, l1, _MM_SHUFFLE(2, 0, 2, 0));
                const __m512i xh = _mm512_shuffle_i64x2(l0, l1, _MM_SHUFFLE(3, 1, 3, 1));
                const __m512i base = _mm512_sub_epi32(zero512(), _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero512(), k80, xl), k80, xh));
                const __m512i dsum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(base, lo[z], xl), hi[z], xh);
                isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(dsum, scv[z]));
            }
            acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d * k_act_d(a)), acc[c]);
        }
    }
    for (int c = 0; c < C; c++) y[(size_t)c * ys] = _mm512_reduce_add_ps(acc[c]);
}

/* ================================================================ entry points
 * gemv walks the rows one after the other (one sequential stream through the weights); gemm
 * takes KMAX_C activation rows per pass over a panel of weight rows that stays in L2. */

/* Float types and K-quants: cols_<t>(C, n, row, act, act_stride, y, y_stride) */
#define K_COLS(t, call)                                                                          \
    AI void cols_##t(const int C, int64_t n, const uint8_t *w, const uint8_t *a, size_t as, float *y, size_t ys) { call; } \
    static float vec_dot_##t##_avx512(int64_t n, const void *w, const void *act) {              \
        float y;                                                                                 \
        cols_##t(1, n, w, act, 0, &y, 0);                                                        \
        return y;                                                                                \
    }                                                                                            \
    static void gemv_##t##_avx512(int64_t n, int64_t nrows, const void *w, size_t ws,            \
                                  const void *act, float *y) {                                  \
        for (int64_t r = 0; r < nrows; r++) cols_##t(1, n, (const uint8_t *)w + (size_t)r * ws, act, 0, y + r, 0); \
    }                                                                                            \
    static void gemm_##t##_avx512(int64_t n, int64_t nrows, int64_t ncols, const void *w,       \
                                  size_t ws, const void *act, size_t as, float *y, size_t ys) { \
        const int64_t panel = qs_gemm_panel_rows(ws);                                            \
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
K_COLS(f32, float_cols(FT_F32, C, n, w, a, as, y, ys))
K_COLS(f16, float_cols(FT_F16, C, n, w, a, as, y, ys))
K_COLS(bf16, float_cols(FT_BF16, C, n, w, a, as, y, ys))
K_COLS(q4_K, k45_cols(false, C, n, w, a, as, y, ys))
K_COLS(q5_K, k45_cols(true, C, n, w, a, as, y, ys))
K_COLS(q2_K, k16_cols(K_Q2, C, n, w, a, as, y, ys))
K_COLS(q3_K, k16_cols(K_Q3, C, n, w, a, as, y, ys))
K_COLS(q6_K, k16_cols(K_Q6, C, n, w, a, as, y, ys))
K_COLS(iq4_xs, iq4xs_cols(C, n, w, a, as, y, ys))

#define ENTRY_B32(t, bt)                                                                         \
    static void gemv_##t##_avx512(int64_t n, int64_t nrows, const void *w, size_t ws,            \
                                  const void *act, float *y) {                                  \
        b_gemv(bt, n, nrows, w, ws, act, y);                                                     \
    }                                                                                            \
    static float vec_dot_##t##_avx512(int64_t n, const void *w, const void *act) {              \
        float y = 0.0f;                                                                          \
        b_gemv(bt, n, 1, w, 0, act, &y);                                                         \
        return y;                                                                                \
    }                                                                                            \
    static void gemm_##t##_avx512(int64_t n, int64_t nrows, int64_t ncols, const void *w,       \
                                  size_t ws, const void *act, size_t as, float *y, size_t ys) { \
        b_gemm(bt, n, nrows, ncols, w, ws, act, as, y, ys);                                      \
    }
ENTRY_B32(q4_0, B_Q4_0)
ENTRY_B32(q4_1, B_Q4_1)
ENTRY_B32(q5_0, B_Q5_0)
ENTRY_B32(q5_1, B_Q5_1)
ENTRY_B32(q8_0, B_Q8_0)
ENTRY_B32(iq4_nl, B_IQ4_NL)

/* ================================================================ dequantization */

#define QS_DEQ_ST16(y, q, d) _mm512_storeu_ps((y), _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), _mm512_set1_ps(d)))
#define QS_DEQ_ST16M(y, q, d, m, s)                                                              \
    do {                                                                                         \
        const __m512 v_ = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), _mm512_set1_ps(d)); \
        _mm512_storeu_ps((y), (s) ? _mm512_sub_ps(v_, _mm512_set1_ps(m)) : _mm512_add_ps(v_, _mm512_set1_ps(m))); \
    } while (0)
#define QS_DEQ_NAME(t) to_float_##t##_avx512
#include "qs_kernels_deq.h"

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
        ROW(Q4_0, q4_0, Q8_0, to_float_q4_0_avx512, NULL),
        ROW(Q4_1, q4_1, Q8_1, to_float_q4_1_avx512, NULL),
        ROW(Q5_0, q5_0, Q8_0, to_float_q5_0_avx512, NULL),
        ROW(Q5_1, q5_1, Q8_1, to_float_q5_1_avx512, NULL),
        ROW(Q8_0, q8_0, Q8_0, to_float_q8_0_avx512, quantize_act_q8_0_avx512),
        [QS_TYPE_Q8_1] = {to_float_q8_1_avx512, -1, NULL, NULL, NULL, quantize_act_q8_1_avx512},
        ROW(IQ4_NL, iq4_nl, Q8_0, to_float_iq4_nl_avx512, NULL),
        ROW(IQ4_XS, iq4_xs, Q8_K, to_float_iq4_xs_avx512, NULL),
        ROW(Q2_K, q2_K, Q8_K, to_float_q2_K_avx512, NULL),
        ROW(Q3_K, q3_K, Q8_K, to_float_q3_K_avx512, NULL),
        ROW(Q4_K, q4_K, Q8_K, to_float_q4_K_avx512, NULL),
        ROW(Q5_K, q5_K, Q8_K, to_float_q5_K_avx512, NULL),
        ROW(Q6_K, q6_K, Q8_K, to_float_q6_K_avx512, NULL),
        [QS_TYPE_Q8_K] = {to_float_q8_K_avx512, -1, NULL, NULL, NULL, quantize_act_q8_K_avx512},
    },
};
