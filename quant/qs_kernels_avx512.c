/* AVX-512 kernels (F/BW/VL/DQ + VNNI + BF16). Only reached after qs_cpu said the CPU and OS
 * can run them.
 *
 * Every dot product is one weight row against C activation rows (C = 1 in vec_dot and gemv,
 * which walk the rows one after the other so the weights are one sequential stream; C = 4 in
 * gemm, over panels of weight rows that stay in L2). The arithmetic of a row does not depend on
 * C or on how the caller splits rows, so gemv, gemm and vec_dot give bit-identical results.
 *
 *   F32 / F16 / BF16   weights converted in registers, FMA against F32 activations.
 *   32-value blocks    raw 64-byte chunks of the weight row against a prepared activation
 *                      (vpdpbusd, per-lane scales by vpermt2w); see the section below.
 *   K-quants, IQ4_XS   per 256-value block: vpmaddubsw / vpdpbusd on unsigned quants,
 *                      vpdpwssd or vpmulld with the sub-block scales, minimums and offsets from
 *                      the activation bsums, one float scaling per block.
 * Integer sums are exact; only the float accumulation order differs from the scalar level. */
#include <immintrin.h>
#include <math.h>

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

/* One accumulator pair per (weight row, activation row): values i with (i / 16) % 2 == k go to
 * accumulator k, each walking its values in order; the dot is the sum of the lanes of
 * a0 + a1. vec_dot and gemv run this for one row (two dependency chains, enough for a memory
 * stream), gemm for register tiles of F_TR x F_TC pairs: the arithmetic of a pair is the same,
 * so the three agree bit for bit. (Four accumulators per row do not fit a tile of useful size
 * in 32 registers; one per pair leaves gemv one dependency chain, too slow for F16 decode.)
 * pf: prefetch the weights ahead (gemv streams them from memory; gemm tiles find them in L2). */
#define F_TR 4
#define F_TC 3

AI void float_tile(const int ft, const int R, const int C, const bool pf, int64_t n, const uint8_t *w,
                   size_t ws, const uint8_t *act, size_t as, float *y, size_t ys) {
    const int es = ft == FT_F32 ? 4 : 2;
    const int64_t n32 = n & ~(int64_t)31;
    __m512 acc[F_TR][F_TC][2];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) acc[r][c][0] = acc[r][c][1] = _mm512_setzero_ps();
    for (int64_t i = 0; i < n32; i += 32) {
        if (pf)
            for (int o = 0; o < 32 * es; o += 64) _mm_prefetch((const char *)w + (size_t)i * es + o + QS_PREFETCH_AHEAD, _MM_HINT_T0);
        for (int k = 0; k < 2; k++) {
            __m512 wv[F_TR];
            for (int r = 0; r < R; r++) wv[r] = load_w16(ft, w + (size_t)r * ws + (size_t)(i + 16 * k) * es, 0, true);
            for (int c = 0; c < C; c++) {
                const __m512 av = _mm512_loadu_ps((const float *)(act + (size_t)c * as) + i + 16 * k);
                for (int r = 0; r < R; r++) acc[r][c][k] = _mm512_fmadd_ps(wv[r], av, acc[r][c][k]);
            }
        }
    }
    for (int k = 0; k < 2; k++) { /* the tail: accumulator k takes values n32 + 16 k .. (masked) */
        const int64_t i = n32 + 16 * k;
        if (i >= n) break;
        const int64_t left = n - i;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        __m512 wv[F_TR];
        for (int r = 0; r < R; r++) wv[r] = load_w16(ft, w + (size_t)r * ws + (size_t)i * es, m, false);
        for (int c = 0; c < C; c++) {
            const __m512 av = _mm512_maskz_loadu_ps(m, (const float *)(act + (size_t)c * as) + i);
            for (int r = 0; r < R; r++) acc[r][c][k] = _mm512_fmadd_ps(wv[r], av, acc[r][c][k]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++)
            y[(size_t)c * ys + (size_t)r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[r][c][0], acc[r][c][1]));
}

/* R x C tile for R <= F_TR, C <= F_TC (the edges), by dispatch to constant sizes. */
AI void float_tile_any(const int ft, int R, int C, int64_t n, const uint8_t *w, size_t ws, const uint8_t *act,
                       size_t as, float *y, size_t ys) {
#define FT_C(r, c) case c: float_tile(ft, r, c, false, n, w, ws, act, as, y, ys); return;
#define FT_R(r) case r: switch (C) { FT_C(r, 1) FT_C(r, 2) FT_C(r, 3) } return;
    switch (R) { FT_R(1) FT_R(2) FT_R(3) FT_R(4) }
#undef FT_C
#undef FT_R
}

AI void float_gemm(const int ft, int64_t n, int64_t nrows, int64_t ncols, const uint8_t *w, size_t ws,
                   const uint8_t *act, size_t as, float *y, size_t ys) {
    const int64_t panel = qs_gemm_panel_rows(ws, nrows);
    for (int64_t r0 = 0; r0 < nrows; r0 += panel) {
        const int64_t r1 = r0 + panel < nrows ? r0 + panel : nrows;
        for (int64_t c = 0; c < ncols; c += F_TC) {
            const int C = ncols - c < F_TC ? (int)(ncols - c) : F_TC;
            const uint8_t *ac = act + (size_t)c * as;
            for (int64_t r = r0; r < r1; r += F_TR) {
                const int R = r1 - r < F_TR ? (int)(r1 - r) : F_TR;
                const uint8_t *wr = w + (size_t)r * ws;
                float *yr = y + (size_t)c * ys + (size_t)r;
                if (R == F_TR && C == F_TC) float_tile(ft, F_TR, F_TC, false, n, wr, ws, ac, as, yr, ys);
                else float_tile_any(ft, R, C, n, wr, ws, ac, as, yr, ys);
            }
        }
    }
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

#define B_RANGE_CHUNKS 256 /* chunks prepared at a time in gemv: rows of up to 16 KiB in one pass */
#define B_TILE_ROWS 2      /* weight rows per tile in gemm */
#ifndef QS_GEMV_PF_BYTES
#define QS_GEMV_PF_BYTES 2048 /* gemv prefetches the row this many bytes ahead (at least the next) */
#endif
/* gemv software prefetch: the rows to look ahead for rows ws bytes apart, and the prefetch of
 * bytes [0, len) of a row (DRAM streams the weights; the hardware prefetcher alone left a
 * thread at ~16 GB/s where the machine reads ~35) */
AI int64_t pf_ahead(size_t ws) { return ws >= QS_GEMV_PF_BYTES ? 1 : (int64_t)(QS_GEMV_PF_BYTES / (ws ? ws : 1)); }
AI void pf_bytes(const uint8_t *p, size_t len) {
    for (size_t o = 0; o < len; o += 64) _mm_prefetch((const char *)p + o, _MM_HINT_T0);
}

/* A prepared activation, one record per 64-byte chunk of the weight row (fields a type does
 * not use are never touched):
 *   alo, ahi  activation bytes under the low / high nibble of the weight bytes (Q8_0: alo)
 *   base      per lane: -K * sum of the lane's activation bytes (types with K != 0)
 *   idx       word l: vpermt2w index of lane l's d_w in (previous, this) chunk; words of lanes
 *             past the row's end point at a zero word of the (masked) chunk
 *   da, sa    per lane: the block's d_a; s_a on the lane holding the block's first byte
 *             (Q4_1, Q5_1)
 * The records of one activation row are consecutive, so a tile of several activation rows
 * reads them through one pointer; idx depends only on byte positions (the same for every
 * activation row). */
typedef struct {
    __m512i alo, ahi, base, idx;
    __m512 da, sa;
} b_rec;

/* floor(v / bs) for 0 <= v < 128 as (v * M) >> 12 (exact for the block sizes 18..34) */
AI int b_div_mul(const int t) { return (4096 + b_size(t) - 1) / b_size(t); }

/* What depends only on a chunk's byte positions in the row (the same for every weight and
 * activation row): lane l starts at byte v = phase + 4 l after the chunk's first block start
 * (phase = chunk start % bs), in block rel_l = v / bs of the chunk, at offset o_l = v % bs. */
typedef struct {
    __m512i idx;     /* b_rec.idx */
    __m512i rel;     /* lane l: rel_l (past the row's end: a block whose d_a slot is 0) */
    uint64_t qm;     /* the chunk's bytes that are quants */
    __mmask16 first; /* lanes holding a block's first byte */
} b_pos;

/* The positions of every chunk of a row: chunk c has the phase of chunk c % P (P = bs /
 * gcd(bs, 64) <= 17), except the row's last chunk, which may end early. */
#define B_MAX_PERIOD 17
typedef struct {
    b_pos per[B_MAX_PERIOD];
    b_pos last;
    int period;
    int64_t nchunks;
} b_layout;

/* Positions of the chunk starting at byte q0 of a row of rowb bytes. */
static void b_pos_make(const int t, int64_t q0, int64_t rowb, b_pos *p) {
    const int bs = b_size(t), qo = b_qs(t);
    const int ph = (int)(q0 % bs);
    const int left = rowb - q0 > 64 ? 64 : (int)(rowb - q0); /* bytes of the row in the chunk */
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i lane4 = _mm512_slli_epi32(lane, 2), vbs = _mm512_set1_epi32(bs), vleft = _mm512_set1_epi32(left);
    const __m512i v = _mm512_add_epi32(lane4, _mm512_set1_epi32(ph));
    const __m512i r = _mm512_srli_epi32(_mm512_mullo_epi32(v, _mm512_set1_epi32(b_div_mul(t))), 12);
    const __m512i o = _mm512_sub_epi32(v, _mm512_mullo_epi32(r, vbs));
    const __mmask16 in = _mm512_cmplt_epi32_mask(lane4, vleft);
    /* d_w's word: block start - (chunk start - 64) = r bs - ph + 64 bytes; lanes past the end:
     * word 2l of this chunk (zero after the masked load) */
    __m512i idx = _mm512_srli_epi32(_mm512_add_epi32(_mm512_sub_epi32(_mm512_mullo_epi32(r, vbs), _mm512_set1_epi32(ph)), _mm512_set1_epi32(64)), 1);
    idx = _mm512_mask_blend_epi32(in, _mm512_add_epi32(_mm512_set1_epi32(32), _mm512_slli_epi32(lane, 1)), idx);
    p->idx = _mm512_zextsi256_si512(_mm512_cvtepi32_epi16(idx));
    /* past the end: rel 16 + l points past every block of the d_a window (b_prep zeros them) */
    p->rel = _mm512_mask_blend_epi32(in, _mm512_add_epi32(lane, _mm512_set1_epi32(16)), r);
    /* quant bytes: byte k of lane l is at offset o + k (in the next block past bs) */
    uint64_t qm = 0;
    for (int k = 0; k < 4; k++) {
        __m512i ok = _mm512_add_epi32(o, _mm512_set1_epi32(k));
        ok = _mm512_mask_sub_epi32(ok, _mm512_cmpge_epi32_mask(ok, vbs), ok, vbs);
        const __mmask16 m = _mm512_cmpge_epi32_mask(ok, _mm512_set1_epi32(qo)) &
                            _mm512_cmplt_epi32_mask(_mm512_add_epi32(lane4, _mm512_set1_epi32(k)), vleft);
        qm |= _pdep_u64(m, 0x1111111111111111ull << k);
    }
    p->qm = qm;
    p->first = _mm512_cmplt_epi32_mask(o, _mm512_set1_epi32(4)) & in;
}

static void b_layout_make(const int t, int64_t nb, b_layout *L) {
    const int bs = b_size(t);
    const int64_t rowb = nb * bs;
    int g = 64, x = bs; /* gcd(64, bs) */
    while (x) { const int tmp = g % x; g = x; x = tmp; }
    L->period = bs / g;
    L->nchunks = (rowb + 63) / 64;
    for (int c = 0; c < L->period; c++) b_pos_make(t, 64 * (int64_t)c, INT64_MAX, &L->per[c]);
    b_pos_make(t, 64 * (L->nchunks - 1), rowb, &L->last);
}

AI const b_pos *b_pos_of(const b_layout *L, int64_t c) {
    return c == L->nchunks - 1 ? &L->last : &L->per[c % L->period];
}

/* Prepares the records of chunks [c0, c0 + nc) of a row of nb blocks from activation row act
 * (layout L). */
static void b_prep(const int t, const uint8_t *act, int64_t nb, int64_t c0, int nc, const b_layout *L, b_rec *rec) {
    const int bs = b_size(t), as = a_size(t), K = b_offset(t), qo = b_qs(t);
    const int64_t rowb = nb * bs, p0 = 64 * c0, b0 = p0 / bs;
    const int64_t pend = p0 + 64 * (int64_t)nc < rowb ? p0 + 64 * (int64_t)nc : rowb;
    const int nblk = (int)((pend - 1) / bs - b0 + 1);
    /* d_a (and s_a) of the range's blocks as floats, zeros after them for vpermps windows */
    float dfl[B_RANGE_CHUNKS * 4 + 40], sfl[B_RANGE_CHUNKS * 4 + 40];
    const uint8_t *ab = act + (size_t)b0 * (size_t)as;
    for (int i = 0; i < nblk; i++) {
        dfl[i] = _cvtsh_ss(qs_ld_u16(ab + (size_t)i * (size_t)as));
        if (b_has_min(t)) sfl[i] = _cvtsh_ss(qs_ld_u16(ab + (size_t)i * (size_t)as + 2));
    }
    for (int i = nblk; i < nblk + 36; i++) dfl[i] = sfl[i] = 0.0f;
    /* activation quants at the weight quants' byte positions (not Q8_0, whose weight and
     * activation blocks have the same layout: there the activation row itself is used):
     * blocks in order, each writes its 16 low / high values and 16 zeros after them (the next
     * block's values overwrite the zeros that are not gaps) */
    enum { PAD = 64 };
    _Alignas(64) uint8_t lo[B_RANGE_CHUNKS * 64 + 2 * PAD];
    _Alignas(64) uint8_t hi[B_RANGE_CHUNKS * 64 + 2 * PAD];
    if (t != B_Q8_0) {
        const __m128i z = _mm_setzero_si128();
        for (int i = 0; i < PAD / 16; i++) {
            _mm_store_si128((__m128i *)(lo + 16 * i), z);
            _mm_store_si128((__m128i *)(hi + 16 * i), z);
        }
        for (int i = 0; i < nblk; i++) {
            const int64_t b = b0 + i;
            const int64_t at = b * bs + qo - p0 + PAD; /* > 0: the first block starts < 64 before */
            const uint8_t *aq = act + (size_t)b * (size_t)as + a_qs(t);
            _mm_storeu_si128((__m128i *)(lo + at), _mm_loadu_si128((const __m128i *)aq));
            _mm_storeu_si128((__m128i *)(hi + at), _mm_loadu_si128((const __m128i *)(aq + 16)));
            _mm_storeu_si128((__m128i *)(lo + at + 16), z);
            _mm_storeu_si128((__m128i *)(hi + at + 16), z);
        }
    }
    const __m512i kv = _mm512_set1_epi8((char)K);
    int64_t cb = b0; /* the chunk's first block */
    for (int c = 0; c < nc; c++) {
        const int64_t q0 = p0 + 64 * c;
        while ((cb + 1) * bs <= q0) cb++;
        const b_pos *ps = b_pos_of(L, c0 + c);
        rec[c].idx = ps->idx;
        const __m512i alo = _mm512_maskz_loadu_epi8(ps->qm, t == B_Q8_0 ? act + q0 : lo + PAD + 64 * c);
        const __m512i ahi = t == B_Q8_0 ? zero512() : _mm512_maskz_loadu_epi8(ps->qm, hi + PAD + 64 * c);
        rec[c].alo = alo;
        if (t != B_Q8_0) rec[c].ahi = ahi;
        if (K) rec[c].base = _mm512_sub_epi32(zero512(), _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero512(), kv, alo), kv, ahi));
        const __m512i dwin = _mm512_castps_si512(_mm512_loadu_ps(dfl + (cb - b0)));
        const __m512i dwin2 = _mm512_castps_si512(_mm512_loadu_ps(dfl + (cb - b0) + 16));
        rec[c].da = _mm512_castsi512_ps(_mm512_permutex2var_epi32(dwin, ps->rel, dwin2));
        if (b_has_min(t)) {
            const __m512i swin = _mm512_castps_si512(_mm512_loadu_ps(sfl + (cb - b0)));
            rec[c].sa = _mm512_castsi512_ps(_mm512_maskz_permutexvar_epi32(ps->first, ps->rel, swin));
        }
    }
}

/* One chunk of one weight row, decoded: quants under the low / high nibble as unsigned bytes
 * (Q8_0: lo only), per lane the block's d_w (and m_w for Q4_1 / Q5_1). */
typedef struct {
    __m512i lo, hi;
    __m512 dw, mw;
} b_dec;

/* Decodes the chunk at byte p0 of the row at w (full: 64 bytes left in the row; else the
 * row's last, partial chunk), idx its layout; *prev holds the row's previous chunk (the
 * scales of blocks that started there) and becomes this one. */
AI b_dec b_decode(const int t, const bool full, const uint8_t *w, int64_t rowb, int64_t p0, __m512i idx,
                  __m512i *prev) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    _mm_prefetch((const char *)w + p0 + QS_PREFETCH_AHEAD, _MM_HINT_T0);
    const __m512i v = full ? _mm512_loadu_si512(w + p0)
                           : _mm512_maskz_loadu_epi8(((__mmask64)1 << (rowb - p0)) - 1, w + p0);
    b_dec d;
    d.hi = zero512();
    if (t == B_Q8_0) {
        d.lo = _mm512_xor_si512(v, _mm512_set1_epi8((char)0x80));
    } else {
        d.lo = _mm512_and_si512(v, m4);
        d.hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        if (t == B_IQ4_NL) {
            const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(
                1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166, (char)181,
                (char)197, (char)217, (char)241)); /* qs_iq4nl_values + 128 */
            d.lo = _mm512_shuffle_epi8(lut, d.lo);
            d.hi = _mm512_shuffle_epi8(lut, d.hi);
        }
        if (b_five(t)) {
            /* Lane l's block b has its d at word idx[l] of (previous, this) chunk and its 32 qh
             * bits right after (Q5_0: +1 word, Q5_1: +2). The lane's first byte is quant s_l of
             * the block (s_l = 4l + 64 - 2 idx[l] - qs offset, -8 <= s_l); its 4 fifth bits are
             * qh bits s_l .. s_l+3 (low nibbles) and 16+s_l .. (high), 0 outside 0..15. Lanes
             * whose qh lies past this chunk hold no quants (their activation is 0). */
            const __m512i dup = _mm512_permutexvar_epi16(
                _mm512_set_epi16(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0), idx);
            const int qw = b_qh(t) / 2;
            const __m512i qhi = _mm512_min_epu16(_mm512_add_epi16(dup, _mm512_set1_epi32(((qw + 1) << 16) | qw)), _mm512_set1_epi16(63));
            const __m512i qh = _mm512_permutex2var_epi16(*prev, qhi, v);
            /* shift + 8 = 4l + 72 - qs offset - 2 idx[l] (idx[l] zero-extended to the lane) */
            const __m512i sh = _mm512_sub_epi32(
                _mm512_add_epi32(_mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 2),
                                 _mm512_set1_epi32(72 - b_qs(t))),
                _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(idx)), 1));
            const __m512i m16 = _mm512_set1_epi32(0x00FFFF00), spread = _mm512_set1_epi32(0x02040810),
                          b4 = _mm512_set1_epi32(0x10101010), f = _mm512_set1_epi32(0xF);
            const __m512i bl = _mm512_and_si512(_mm512_srlv_epi32(_mm512_and_si512(_mm512_slli_epi32(qh, 8), m16), sh), f);
            const __m512i bh = _mm512_and_si512(_mm512_srlv_epi32(_mm512_and_si512(_mm512_srli_epi32(qh, 8), m16), sh), f);
            d.lo = _mm512_or_si512(d.lo, _mm512_and_si512(_mm512_mullo_epi32(bl, spread), b4));
            d.hi = _mm512_or_si512(d.hi, _mm512_and_si512(_mm512_mullo_epi32(bh, spread), b4));
        }
    }
    d.dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutex2var_epi16(*prev, idx, v)));
    d.mw = _mm512_setzero_ps();
    if (b_has_min(t))
        d.mw = _mm512_cvtph_ps(_mm512_castsi512_si256(
            _mm512_permutex2var_epi16(*prev, _mm512_add_epi16(idx, _mm512_set1_epi16(1)), v)));
    *prev = v;
    return d;
}

/* A tile of R weight rows (ws bytes apart) by C activation rows over chunks [c0 + j0, c0 + j1)
 * of a range prepared from chunk c0 (records rec + c * rs for activation c): y[c * ys + r]
 * for weight row r and activation c. j0 is a granule boundary, j1 too or the range's end.
 *
 * Each (row, activation) pair has two accumulators, one for the even and one for the odd
 * chunks of a granule; every B_GRANULE chunks (at fixed positions of the row) they are summed
 * and the sum is added to y. The arithmetic of a pair is thus the same whatever R, C and the
 * prepared ranges are, which makes vec_dot, gemv and gemm agree bit for bit. */
#define B_GRANULE 16

AI void b_step(const int t, const int R, const int C, const bool full, const uint8_t *w, size_t ws,
               int64_t rowb, int64_t p0, const b_rec *rec, size_t rs, __m512i *prev, __m512 (*acc)[KMAX_C]) {
    b_dec d[B_TILE_ROWS];
    for (int r = 0; r < R; r++) d[r] = b_decode(t, full, w + (size_t)r * ws, rowb, p0, rec->idx, &prev[r]);
    for (int c = 0; c < C; c++) {
        const b_rec *k = rec + (size_t)c * rs;
        for (int r = 0; r < R; r++) {
            __m512i s = _mm512_dpbusd_epi32(b_offset(t) ? k->base : zero512(), d[r].lo, k->alo);
            if (t != B_Q8_0) s = _mm512_dpbusd_epi32(s, d[r].hi, k->ahi);
            acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(d[r].dw, k->da), acc[r][c]);
            if (b_has_min(t)) acc[r][c] = _mm512_fmadd_ps(d[r].mw, k->sa, acc[r][c]);
        }
    }
}

AI void b_tile(const int t, const int R, const int C, const uint8_t *w, size_t ws, int64_t nb, int64_t c0,
               int j0, int j1, const b_rec *rec, size_t rs, float *y, size_t ys) {
    const int64_t rowb = nb * b_size(t);
    const int64_t nfull = (rowb - 64 * c0) / 64; /* chunks of the range with 64 bytes left */
    __m512i prev[B_TILE_ROWS];
    for (int r = 0; r < R; r++)
        prev[r] = c0 + j0 > 0 ? _mm512_loadu_si512(w + (size_t)r * ws + 64 * (c0 + j0 - 1)) : zero512();
    for (int g = j0; g < j1; g += B_GRANULE) {
        const int ge = g + B_GRANULE < j1 ? g + B_GRANULE : j1;
        const int gf = ge < nfull ? ge : (int)nfull; /* full chunks end */
        __m512 a0[B_TILE_ROWS][KMAX_C], a1[B_TILE_ROWS][KMAX_C];
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) a0[r][c] = a1[r][c] = _mm512_setzero_ps();
        int j = g;
        for (; j + 1 < gf; j += 2) {
            b_step(t, R, C, true, w, ws, rowb, 64 * (c0 + j), rec + j, rs, prev, a0);
            b_step(t, R, C, true, w, ws, rowb, 64 * (c0 + j + 1), rec + j + 1, rs, prev, a1);
        }
        if (j < gf) {
            b_step(t, R, C, true, w, ws, rowb, 64 * (c0 + j), rec + j, rs, prev, a0);
            j++;
        }
        if (j < ge) /* the row's partial last chunk */
            b_step(t, R, C, false, w, ws, rowb, 64 * (c0 + j), rec + j, rs, prev, ((j - g) & 1) ? a1 : a0);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) {
                const float part = _mm512_reduce_add_ps(_mm512_add_ps(a0[r][c], a1[r][c]));
                float *yp = &y[(size_t)c * ys + (size_t)r];
                *yp = c0 + g == 0 ? part : *yp + part;
            }
    }
}

/* gemv: the activation is prepared B_RANGE_CHUNKS chunks at a time (rows up to 8 KiB in one
 * pass); the rows are walked one after the other (one sequential stream through DRAM: several
 * rows walked side by side measured much slower there). */
AI void b_gemv(const int t, int64_t n, int64_t nrows, const uint8_t *w, size_t ws, const uint8_t *act,
               float *y) {
    _Alignas(64) b_rec rec[B_RANGE_CHUNKS];
    b_layout L;
    const int64_t nb = n / 32, nchunks = (nb * b_size(t) + 63) / 64;
    b_layout_make(t, nb, &L);
    for (int64_t c0 = 0; c0 < nchunks; c0 += B_RANGE_CHUNKS) {
        const int nc = nchunks - c0 < B_RANGE_CHUNKS ? (int)(nchunks - c0) : B_RANGE_CHUNKS;
        b_prep(t, act, nb, c0, nc, &L, rec);
        const int64_t ahead = pf_ahead(ws);
        for (int64_t r = 0; r < nrows; r++) {
            if (r + ahead < nrows) pf_bytes(w + (size_t)(r + ahead) * ws + 64 * (size_t)c0, 64 * (size_t)nc);
            b_tile(t, 1, 1, w + (size_t)r * ws, ws, nb, c0, 0, nc, rec, 0, y + r, 0);
        }
    }
}

/* gemm: panels of weight rows that stay in L2; per panel, groups of KMAX_C activation rows,
 * prepared B_GRANULE chunks at a time (the group's records of those chunks stay in L1), against
 * tiles of B_TILE_ROWS weight rows. */
AI void b_gemm(const int t, int64_t n, int64_t nrows, int64_t ncols, const uint8_t *w, size_t ws,
               const uint8_t *act, size_t as, float *y, size_t ys) {
    _Alignas(64) b_rec rec[KMAX_C * B_GRANULE];
    b_layout L;
    const int64_t nb = n / 32, nchunks = (nb * b_size(t) + 63) / 64;
    b_layout_make(t, nb, &L);
    const int64_t panel = qs_gemm_panel_rows(ws, nrows);
    for (int64_t r0 = 0; r0 < nrows; r0 += panel) {
        const int64_t r1 = r0 + panel < nrows ? r0 + panel : nrows;
        for (int64_t c = 0; c < ncols;) {
            const int C = ncols - c >= KMAX_C ? KMAX_C : 1;
            /* the next group's activation rows, towards L2 while this group computes (b_prep
             * reads them scattered, one block scale at a time: misses would stall it) */
            for (int64_t k = c + C; k < c + C + KMAX_C && k < ncols; k++)
                for (size_t o = 0; o < (size_t)nb * (size_t)a_size(t); o += 64)
                    _mm_prefetch((const char *)act + (size_t)k * as + o, _MM_HINT_T1);
            for (int64_t c0 = 0; c0 < nchunks; c0 += B_GRANULE) {
                const int nc = nchunks - c0 < B_GRANULE ? (int)(nchunks - c0) : B_GRANULE;
                for (int k = 0; k < C; k++) b_prep(t, act + (size_t)(c + k) * as, nb, c0, nc, &L, rec + k * B_GRANULE);
                int64_t r = r0;
                for (; r + B_TILE_ROWS <= r1; r += B_TILE_ROWS) {
                    float *yr = y + (size_t)c * ys + r;
                    const uint8_t *wr = w + (size_t)r * ws;
                    if (C == KMAX_C) b_tile(t, B_TILE_ROWS, KMAX_C, wr, ws, nb, c0, 0, nc, rec, B_GRANULE, yr, ys);
                    else b_tile(t, B_TILE_ROWS, 1, wr, ws, nb, c0, 0, nc, rec, B_GRANULE, yr, ys);
                }
                for (; r < r1; r++) {
                    float *yr = y + (size_t)c * ys + r;
                    const uint8_t *wr = w + (size_t)r * ws;
                    if (C == KMAX_C) b_tile(t, 1, KMAX_C, wr, ws, nb, c0, 0, nc, rec, B_GRANULE, yr, ys);
                    else b_tile(t, 1, 1, wr, ws, nb, c0, 0, nc, rec, B_GRANULE, yr, ys);
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
 * qs[32 (j/2) ..]; the fifth bit (Q5_K) is bit j of qh[l]. The nibbles of 64 bytes give
 * (0 | 2) and (1 | 3) (and (4 | 6), (5 | 7)); their 256-bit halves are regrouped once per
 * weight block into zmm k = sub-blocks (2k | 2k+1), the order of the activation, which is then
 * used as it is stored (no per-column shuffles). */
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
        for (size_t o = 0; o < bsz; o += 64) _mm_prefetch((const char *)blk + o + QS_PREFETCH_AHEAD, _MM_HINT_T0);
        const __m128i sm = k4_scales_mins(blk + 4);
        const __m512i sc = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(sm));
        const __m256i mn = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm)); /* m_j twice */
        const __m512i z0 = _mm512_loadu_si512(blk + qs_off), z1 = _mm512_loadu_si512(blk + qs_off + 64);
        __m512i p[4], q[4], scv[4];
        p[0] = _mm512_and_si512(z0, m4);
        p[1] = _mm512_and_si512(_mm512_srli_epi16(z0, 4), m4);
        p[2] = _mm512_and_si512(z1, m4);
        p[3] = _mm512_and_si512(_mm512_srli_epi16(z1, 4), m4);
        if (five) {
            const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk + 16)));
            const __m512i b16 = _mm512_set1_epi8(0x10);
            for (int k = 0; k < 4; k++) {
                const __m512i sel = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << sbA[k])),
                                                       _mm256_set1_epi8((char)(1 << sbB[k])), 1);
                p[k] = _mm512_mask_add_epi8(p[k], _mm512_test_epi8_mask(qh, sel), p[k], b16);
            }
        }
        q[0] = _mm512_shuffle_i64x2(p[0], p[1], _MM_SHUFFLE(1, 0, 1, 0)); /* 0 | 1 */
        q[1] = _mm512_shuffle_i64x2(p[0], p[1], _MM_SHUFFLE(3, 2, 3, 2)); /* 2 | 3 */
        q[2] = _mm512_shuffle_i64x2(p[2], p[3], _MM_SHUFFLE(1, 0, 1, 0)); /* 4 | 5 */
        q[3] = _mm512_shuffle_i64x2(p[2], p[3], _MM_SHUFFLE(3, 2, 3, 2)); /* 6 | 7 */
        for (int k = 0; k < 4; k++) scv[k] = _mm512_shuffle_epi8(sc, ctl_words(2 * k, 2 * k + 1));
        const __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128((int)qs_ld_u32(blk))); /* d, dmin */
        for (int c = 0; c < C; c++) {
            const uint8_t *a = act + (size_t)c * as + (size_t)b * sizeof(qs_block_q8_K);
            __m512i isum = zero512();
            for (int k = 0; k < 4; k++) isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(q[k], k_act(a, k)), scv[k]);
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
        for (size_t o = 0; o < bsz; o += 64) _mm_prefetch((const char *)blk + o + QS_PREFETCH_AHEAD, _MM_HINT_T0);
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
        for (size_t o = 0; o < sizeof(qs_block_iq4_xs); o += 64) _mm_prefetch((const char *)blk + o + QS_PREFETCH_AHEAD, _MM_HINT_T0);
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

/* Float types: one row x C columns for vec_dot / gemv, tiled gemm */
#define F_COLS(t, ft)                                                                            \
    static float vec_dot_##t##_avx512(int64_t n, const void *w, const void *act) {              \
        float y;                                                                                 \
        float_tile(ft, 1, 1, false, n, w, 0, act, 0, &y, 0);                                    \
        return y;                                                                                \
    }                                                                                            \
    static void gemv_##t##_avx512(int64_t n, int64_t nrows, const void *w, size_t ws,            \
                                  const void *act, float *y) {                                  \
        for (int64_t r = 0; r < nrows; r++) float_tile(ft, 1, 1, true, n, (const uint8_t *)w + (size_t)r * ws, 0, act, 0, y + r, 0); \
    }                                                                                            \
    static void gemm_##t##_avx512(int64_t n, int64_t nrows, int64_t ncols, const void *w,       \
                                  size_t ws, const void *act, size_t as, float *y, size_t ys) { \
        float_gemm(ft, n, nrows, ncols, w, ws, act, as, y, ys);                                  \
    }

/* K-quants: cols_<t>(C, n, row, act, act_stride, y, y_stride) */
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
F_COLS(f32, FT_F32)
F_COLS(f16, FT_F16)
F_COLS(bf16, FT_BF16)
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

/* ================================================================ element-wise ops */

/* exp(x) for x <= 88.7: x = k ln2 + r (|r| <= ln2 / 2, ln2 split in two parts so k ln2 is
 * exact), e^r by its degree-6 Taylor polynomial (relative error < 2e-7), times 2^k (vscalefps:
 * exact, underflows to 0 below -87.3 as expf does to within a denormal). */
AI __m512 exp512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(1.428606765330187e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

__attribute__((unused)) static void softmax_avx512(float *x, int64_t n, float scale) {
    const __m512 vs = _mm512_set1_ps(scale);
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vs);
        _mm512_storeu_ps(x + i, v);
        vmax = _mm512_max_ps(vmax, v);
    }
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
    if (i < n) {
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vs);
        _mm512_mask_storeu_ps(x + i, m, v);
        vmax = _mm512_mask_max_ps(vmax, m, vmax, v);
    }
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 vsum = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), mx));
        _mm512_storeu_ps(x + i, e);
        vsum = _mm512_add_ps(vsum, e);
    }
    if (i < n) {
        const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mx));
        _mm512_mask_storeu_ps(x + i, m, e);
        vsum = _mm512_mask_add_ps(vsum, m, vsum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
    if (i < n) _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
}

AI __m512 silu512(__m512 g) {
    /* exp(-g) overflows to +inf for g < -88.7: g / inf = -0, as expf gives */
    const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), g));
    return _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

__attribute__((unused)) static void silu_mul_avx512(float *g, const float *u, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(g + i, _mm512_mul_ps(silu512(_mm512_loadu_ps(g + i)), _mm512_loadu_ps(u + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(g + i, m, _mm512_mul_ps(silu512(_mm512_maskz_loadu_ps(m, g + i)), _mm512_maskz_loadu_ps(m, u + i)));
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
    .softmax = softmax_avx512,
    .silu_mul = silu_mul_avx512,
};
