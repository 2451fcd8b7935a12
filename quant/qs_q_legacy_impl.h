/* qs_q_legacy_impl.h — the legacy quantizers' search (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1),
 * compiled once per SIMD level (internal to quant/).
 *
 * Included by qs_q_legacy.c (scalar), qs_quant_legacy_avx2.c and qs_quant_legacy_avx512.c, each
 * with LQ_FN(t) naming its entry points (qs_quant_<t>_scalar, ..._avx2, ..._avx512). The search
 * is the one qs_q_legacy.c describes (fan of trial scales, refit, polish, exact scoring of the
 * stored halves); what changed is how it is computed, never what:
 *   - the trial scales of the fan, and the candidate halves of the final scoring, run side by
 *     side in the lanes of GCC/clang vector types (8 or 4 doubles), each lane doing exactly the
 *     double (and, where the dequantizer works in float, float) operations of the one-at-a-time
 *     search, in the same order over the 32 values: no sum is reassociated, FP contraction is
 *     off (GCC in ISO C mode; the pragma for clang), so every lane's result is bit-identical;
 *   - sums that do not depend on the codes (sum w, sum w x, sum w x^2) are formed once per block
 *     instead of once per trial, in the same order, so they are the same numbers;
 *   - a polish step whose nearest codes equal the current best's stops at once: same codes give
 *     the same fit to the bit, which the search would have rejected as "no better";
 *   - nearest codes are computed branch-free as doubles (floor by the 2^52 trick, exact for
 *     the positive arguments that reach it), equal to the integer codes of the plain search.
 * The original one-at-a-time search is kept in tests/test_quant_legacy_levels.c as the oracle
 * that every level must match byte for byte.
 * Every function here is a pure function of its arguments: safe from any thread. */
#ifndef LQ_FN
#error "define LQ_FN(t) before including qs_q_legacy_impl.h"
#endif

#include "qs_formats.h"
#include "qs_quant_util.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define LQ_QK QS_QK32

/* Lanes: LQ_W doubles side by side in the widest registers the level has (8 on AVX-512, 4 on
 * AVX2, 1 in the baseline build, where the "vector" is a plain double). Wider GCC vectors than
 * the hardware's get split lane by lane through scalar compares, so each level uses its own
 * width; lanes are independent, so how they are grouped cannot change any result. */
#if defined(__AVX512F__)
#define LQ_W 8
#elif defined(__AVX__)
#define LQ_W 4
#else
#define LQ_W 1
#endif

#if LQ_W > 1
typedef double lq_vd __attribute__((vector_size(8 * LQ_W)));
typedef int64_t lq_vm __attribute__((vector_size(8 * LQ_W))); /* comparison results */
typedef float lq_vf __attribute__((vector_size(4 * LQ_W)));
/* lane-wise m ? a : b for a comparison result m (all ones or zero per lane) */
#define LQ_SEL(m, a, b) ((lq_vd)(((m) & (lq_vm)(a)) | (~(m) & (lq_vm)(b))))
#define LQ_TO_F(v) __builtin_convertvector((v), lq_vf)
#define LQ_TO_D(v) __builtin_convertvector((v), lq_vd)
#if LQ_W == 8
#define lq_spl(v) ((lq_vd){(v), (v), (v), (v), (v), (v), (v), (v)})
#else
#define lq_spl(v) ((lq_vd){(v), (v), (v), (v)})
#endif
#else
typedef double lq_vd;
typedef int lq_vm;
typedef float lq_vf;
#define LQ_SEL(m, a, b) ((m) ? (a) : (b))
#define LQ_TO_F(v) ((float)(v))
#define LQ_TO_D(v) ((double)(v))
#define lq_spl(v) ((double)(v))
#endif

static inline lq_vd lq_load(const double *p) {
    lq_vd v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void lq_store(double *p, lq_vd v) { memcpy(p, &v, sizeof v); }

/* LQ_W consecutive floats as doubles (exact). */
static inline lq_vd lq_load_x(const float *p) {
    lq_vf v;
    memcpy(&v, p, sizeof v);
    return LQ_TO_D(v);
}

/* Nearest codes, equal to the one-at-a-time search's integer codes (as doubles):
 *   symmetric  !(t > lo) ? lo : t >= hi ? hi : (int)(t - lo + 0.5) + lo
 *   affine     !(t > 0) ? 0 : t >= cmax ? cmax : (int)(t + 0.5)
 *   floor      !(t > 0) ? 0 : t >= cmax ? cmax : (int)t
 * Vectors clamp first, t' = min(max(t, lo), hi) (max's second operand wins on NaN, as the
 * comparison does), then floor: for t' = lo the formula gives lo, for t' = hi it gives hi, and
 * inside the range it is the truncation above, since its argument is positive. One lane keeps
 * the branches of the plain search: they are almost always predicted, and truncation happens
 * only on arguments known to be in range. */
#if LQ_W == 8
#define LQ_MAX(a, b) _mm512_max_pd((a), (b))
#define LQ_MIN(a, b) _mm512_min_pd((a), (b))
#define LQ_FLOOR(a) _mm512_roundscale_pd((a), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
#elif LQ_W == 4
#define LQ_MAX(a, b) _mm256_max_pd((a), (b))
#define LQ_MIN(a, b) _mm256_min_pd((a), (b))
#define LQ_FLOOR(a) _mm256_round_pd((a), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
#endif

#if LQ_W > 1
static inline lq_vd lq_sym_near(lq_vd t, lq_vd lo, lq_vd hi) {
    return LQ_FLOOR((LQ_MIN(LQ_MAX(t, lo), hi) - lo) + 0.5) + lo;
}

static inline lq_vd lq_affine_near(lq_vd t, lq_vd cmax) {
    return LQ_FLOOR(LQ_MIN(LQ_MAX(t, lq_spl(0.0)), cmax) + 0.5);
}

static inline lq_vd lq_affine_floor(lq_vd t, lq_vd cmax) {
    return LQ_FLOOR(LQ_MIN(LQ_MAX(t, lq_spl(0.0)), cmax));
}
#else
static inline lq_vd lq_sym_near(lq_vd t, lq_vd lo, lq_vd hi) {
    return !(t > lo) ? lo : t >= hi ? hi : (double)(int32_t)((t - lo) + 0.5) + lo;
}

static inline lq_vd lq_affine_near(lq_vd t, lq_vd cmax) {
    return !(t > 0.0) ? 0.0 : t >= cmax ? cmax : (double)(int32_t)(t + 0.5);
}

static inline lq_vd lq_affine_floor(lq_vd t, lq_vd cmax) {
    return !(t > 0.0) ? 0.0 : t >= cmax ? cmax : (double)(int32_t)t;
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* Byte packing                                                                               */

static inline void lq_store_half(uint8_t *p, qs_fp16 h) { memcpy(p, &h, sizeof h); }

static inline void lq_store_le32(uint8_t *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
}

/* byte j: element j in the low nibble, element j + 16 in the high nibble */
static inline void lq_pack_nibbles(const uint8_t *codes, uint8_t *qs) {
    for (int j = 0; j < LQ_QK / 2; j++)
        qs[j] = (uint8_t)((codes[j] & 0x0f) | (codes[j + LQ_QK / 2] & 0x0f) << 4);
}

/* bit j of the little-endian word: the fifth bit of element j's code */
static inline uint32_t lq_pack_fifth_bits(const uint8_t *codes) {
    uint32_t qh = 0;
    for (int j = 0; j < LQ_QK; j++) qh |= (uint32_t)((codes[j] >> 4) & 1u) << j;
    return qh;
}

/* ------------------------------------------------------------------------------------------ */
/* Symmetric grids: value = d * q with integer q in [lo, hi] (Q4_0, Q5_0, Q8_0, Q8_1).          */

typedef struct lq_sym_grid {
    int lo, hi;       /* code range, lo < 0 < hi */
    int n_fan;        /* scales tried per end of the grid in step 1 (0 or at most 8) */
    double fan_below; /* the fan maps the largest |x| from |end| - fan_below ... */
    double fan_above; /* ... to |end| + fan_above (in code units) */
} lq_sym_grid;

/* Step 1 for n trial inverse scales inv[0..n-1] (n a multiple of 2 LQ_W), LQ_W at a time: nearest
 * codes to x * inv, then the weighted least-squares scale d[k] and the error drop
 * (sum w q x)^2 / sum w q^2 in drop[k] (-1 if degenerate, d[k] then 0). */
static void lq_sym_fit(const double *xs, const double *ws, const double *inv, int n, const lq_sym_grid *g,
                       double *drop, double *d) {
    const lq_vd lo = lq_spl((double)g->lo), hi = lq_spl((double)g->hi), zero = lq_spl(0.0);
    for (int k = 0; k < n; k += 2 * LQ_W) { /* two groups per pass: two independent sum chains */
        const lq_vd inv0 = lq_load(inv + k), inv1 = lq_load(inv + k + LQ_W);
        lq_vd sqx0 = zero, sqq0 = zero, sqx1 = zero, sqq1 = zero;
        for (int j = 0; j < LQ_QK; j++) {
            const lq_vd xd = lq_spl(xs[j]), wd = lq_spl(ws[j]);
            const lq_vd q0 = lq_sym_near(xd * inv0, lo, hi), q1 = lq_sym_near(xd * inv1, lo, hi);
            const lq_vd wq0 = wd * q0, wq1 = wd * q1;
            sqx0 = sqx0 + wq0 * xd;
            sqq0 = sqq0 + wq0 * q0;
            sqx1 = sqx1 + wq1 * xd;
            sqq1 = sqq1 + wq1 * q1;
        }
        for (int h = 0; h < 2; h++) {
            const lq_vd sqx = h ? sqx1 : sqx0, sqq = h ? sqq1 : sqq0;
            const lq_vm ok = sqq > zero;
            const lq_vd den = LQ_SEL(ok, sqq, lq_spl(1.0));
            lq_store(d + k + h * LQ_W, LQ_SEL(ok, sqx / den, zero));
            lq_store(drop + k + h * LQ_W, LQ_SEL(ok, (sqx * sqx) / den, lq_spl(-1.0)));
        }
    }
}

/* Nearest codes to x * inv, as doubles. */
static void lq_sym_codes(const float *x, double inv, const lq_sym_grid *g, double *q) {
    const lq_vd lo = lq_spl((double)g->lo), hi = lq_spl((double)g->hi), vinv = lq_spl(inv);
    for (int j = 0; j < LQ_QK; j += LQ_W) lq_store(q + j, lq_sym_near(lq_load_x(x + j) * vinv, lo, hi));
}

static bool lq_same_codes(const double *a, const double *b) {
    int diff = 0;
    for (int j = 0; j < LQ_QK; j++) diff |= a[j] != b[j];
    return !diff;
}

/* Lanes the 4 candidate halves of step 3 take: a multiple of LQ_W. */
#define LQ_SYM_NC ((4 + LQ_W - 1) / LQ_W * LQ_W)

/* Step 3 for the candidate halves cand[0..LQ_SYM_NC-1] side by side: weighted squared error of
 * the block as each stored scale reproduces it into err[c], nearest codes into
 * codes[j * LQ_SYM_NC + c]. The dequantizer's value is the float product (float)q * d; q has at
 * most 8 bits and d is a half (11 significant bits), so that product is exact in float and
 * equals the double product used here. */
static void lq_sym_stored(const double *xs, const double *ws, const qs_fp16 *cand, const lq_sym_grid *g,
                          double *err, double *codes) {
    double dd[LQ_SYM_NC], inv[LQ_SYM_NC];
    for (int c = 0; c < LQ_SYM_NC; c++) {
        const float df = qs_fp16_to_f32(cand[c]);
        dd[c] = df;
        inv[c] = df != 0.0f ? 1.0 / (double)df : 0.0; /* d = 0: all codes 0 */
    }
    const lq_vd lo = lq_spl((double)g->lo), hi = lq_spl((double)g->hi);
    for (int c = 0; c < LQ_SYM_NC; c += LQ_W) {
        const lq_vd vd = lq_load(dd + c), vinv = lq_load(inv + c);
        lq_vd acc = lq_spl(0.0);
        for (int j = 0; j < LQ_QK; j++) {
            const lq_vd xd = lq_spl(xs[j]), wd = lq_spl(ws[j]);
            const lq_vd q = lq_sym_near(xd * vinv, lo, hi);
            const lq_vd e = xd - q * vd;
            acc = acc + (wd * e) * e;
            lq_store(codes + LQ_SYM_NC * j + c, q);
        }
        lq_store(err + c, acc);
    }
}

/* Chooses the half scale of one block and its codes q[] (in [lo, hi]). */
static qs_fp16 lq_sym_block(const float *x, const float *w, const lq_sym_grid *g, int *q) {
    float xm = 0.0f, amax = 0.0f; /* the value of largest magnitude (first of ties), its size */
    for (int j = 0; j < LQ_QK; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            xm = x[j];
        }
    }
    if (amax == 0.0f) {
        for (int j = 0; j < LQ_QK; j++) q[j] = 0;
        return 0;
    }

    double best_drop = -1.0, best_d = g->n_fan ? 0.0 : (double)xm / g->hi;
    double xs[LQ_QK], ws[LQ_QK]; /* the values and weights as doubles (exact), for the lanes */
    for (int j = 0; j < LQ_QK; j++) xs[j] = x[j], ws[j] = w[j];
    if (g->n_fan) {
        /* 1. the fan: both ends of the grid unless it is symmetric, in that order */
        double inv[16 + 2 * LQ_W], drop[16 + 2 * LQ_W], d[16 + 2 * LQ_W];
        int nt = 0;
        for (int side = 0; side < 2; side++) {
            int end = side == 0 ? g->lo : g->hi;
            if (side == 0 && g->hi == -g->lo) continue;
            double mag = end < 0 ? -end : end;
            for (int k = 0; k < g->n_fan; k++) {
                double t = g->n_fan > 1 ? (double)k / (g->n_fan - 1) : 0.5;
                double target = mag - g->fan_below + t * (g->fan_below + g->fan_above);
                inv[nt++] = (end < 0 ? -target : target) / (double)xm;
            }
        }
        const int nfit = (nt + 2 * LQ_W - 1) / (2 * LQ_W) * (2 * LQ_W); /* 16: no padding */
        for (int k = nt; k < nfit; k++) inv[k] = inv[0]; /* padding lanes, ignored */
        lq_sym_fit(xs, ws, inv, nfit, g, drop, d);
        int best_k = -1;
        for (int k = 0; k < nt; k++) {
            if (drop[k] > best_drop) {
                best_drop = drop[k];
                best_d = d[k];
                best_k = k;
            }
        }

        /* 2. polish: nearest codes for the fitted scale, refit, while the fit improves */
        double cur[LQ_QK], nq[LQ_QK];
        if (best_k >= 0) lq_sym_codes(x, inv[best_k], g, cur);
        for (int it = 0; it < 4 && best_d != 0.0; it++) {
            lq_sym_codes(x, 1.0 / best_d, g, nq);
            if (lq_same_codes(nq, cur)) break; /* the same fit again: no improvement */
            double sqx = 0.0, sqq = 0.0;
            for (int j = 0; j < LQ_QK; j++) {
                const double wq = (double)w[j] * nq[j];
                sqx += wq * x[j];
                sqq += wq * nq[j];
            }
            if (!(sqq > 0.0)) break;
            const double drop1 = sqx * sqx / sqq;
            if (!(drop1 > best_drop)) break;
            best_drop = drop1;
            best_d = sqx / sqq;
            memcpy(cur, nq, sizeof cur);
        }
    }

    /* 3. score stored halves exactly: the fit, its neighbours, and the max-based scale */
    qs_fp16 cand[LQ_SYM_NC];
    qs_fp16 h = qs_half_saturated(best_d);
    cand[0] = h;
    cand[1] = qs_half_step(h, -1);
    cand[2] = qs_half_step(h, +1);
    cand[3] = qs_half_saturated((double)xm / (double)(g->hi == -g->lo ? g->hi : g->lo));
    if (g->hi == -g->lo) /* a symmetric grid does not care about the sign: keep d >= 0 */
        for (int c = 0; c < 4; c++) cand[c] &= 0x7fffu;
    for (int c = 4; c < LQ_SYM_NC; c++) cand[c] = cand[0]; /* padding lanes, ignored */

    double err[LQ_SYM_NC], codes[LQ_SYM_NC * LQ_QK];
    lq_sym_stored(xs, ws, cand, g, err, codes);
    int bc = 0;
    for (int c = 1; c < 4; c++)
        if (err[c] < err[bc]) bc = c;
    for (int j = 0; j < LQ_QK; j++) q[j] = (int)codes[LQ_SYM_NC * j + bc];
    return cand[bc];
}

/* Fans tuned on Gaussian, heavy-tailed and LLM-like data against an exhaustive search over all
 * halves: Q4_0 and Q5_0 land within 0.1% of the best half scale. At 8 bits the error depends
 * mostly on how well the 32 values happen to line up with the grid, so Q8_0 fans over a wider
 * span of scales (each trial's refit finds a different alignment). */
static const lq_sym_grid lq_grid_q4 = {-8, 7, 8, 1.5, 0.6};
static const lq_sym_grid lq_grid_q5 = {-16, 15, 8, 1.5, 0.6};
/* Q8 keeps q within +-127, as ggml does: some SIMD dot kernels negate int8 codes, and -128 has
 * no int8 negation. */
static const lq_sym_grid lq_grid_q8_0 = {-127, 127, 16, 16.0, 0.5};
/* Q8_1 quantizes activations on the fly, so it stays cheap: no fan, only the max-based scale
 * and its neighbouring halves. */
static const lq_sym_grid lq_grid_q8_1 = {-127, 127, 0, 0.0, 0.0};

/* ------------------------------------------------------------------------------------------ */
/* Affine grids: value = d * c + m with integer c in [0, cmax] (Q4_1, Q5_1).                   */

typedef struct lq_affine_fit {
    double d, m; /* fitted scale (> 0) and min */
    double err;  /* weighted squared error of the fit */
} lq_affine_fit;

/* The sums of a block that do not depend on the codes, in the order the refit forms them. */
typedef struct lq_wsums {
    double sw, sx, sxx;
} lq_wsums;

static lq_wsums lq_block_wsums(const float *x, const float *w) {
    lq_wsums s = {0.0, 0.0, 0.0};
    for (int j = 0; j < LQ_QK; j++) {
        const double wj = w[j], xj = x[j];
        s.sw += wj;
        s.sx += wj * xj;
        s.sxx += wj * xj * xj;
    }
    return s;
}

/* Step 1 for n trial inverse scales (n a multiple of 2 LQ_W), LQ_W at a time: least-squares
 * (d, m) for the codes nearest to (x - base) * inv[k]; ok[k] false if degenerate. */
static void lq_affine_fan(const double *xs, const double *ws, double base, const double *inv, int n,
                          double cmax, const lq_wsums *s, bool *ok, lq_affine_fit *out) {
    const lq_vd vb = lq_spl(base), zero = lq_spl(0.0), vmax = lq_spl(cmax);
    const lq_vd sw = lq_spl(s->sw), sx = lq_spl(s->sx), sxx = lq_spl(s->sxx);
    const lq_vd big = lq_spl(DBL_MAX), nbig = lq_spl(-DBL_MAX);
    for (int k = 0; k < n; k += 2 * LQ_W) { /* two groups per pass: independent sum chains */
        const lq_vd inv0 = lq_load(inv + k), inv1 = lq_load(inv + k + LQ_W);
        lq_vd sc0 = zero, scc0 = zero, scx0 = zero, sc1 = zero, scc1 = zero, scx1 = zero;
        for (int j = 0; j < LQ_QK; j++) {
            const lq_vd xd = lq_spl(xs[j]), wd = lq_spl(ws[j]), xb = xd - vb;
            const lq_vd c0 = lq_affine_near(xb * inv0, vmax), c1 = lq_affine_near(xb * inv1, vmax);
            const lq_vd wc0 = wd * c0, wc1 = wd * c1;
            sc0 = sc0 + wc0;
            scc0 = scc0 + wc0 * c0;
            scx0 = scx0 + wc0 * xd;
            sc1 = sc1 + wc1;
            scc1 = scc1 + wc1 * c1;
            scx1 = scx1 + wc1 * xd;
        }
        for (int h = 0; h < 2; h++) {
            const lq_vd sc = h ? sc1 : sc0, scc = h ? scc1 : scc0, scx = h ? scx1 : scx0;
            const lq_vd det = sw * scc - sc * sc;
            const lq_vm pos = det > zero;
            const lq_vd den = LQ_SEL(pos, det, lq_spl(1.0));
            const lq_vd d = (sw * scx - sc * sx) / den;
            const lq_vd m = (scc * sx - sc * scx) / den;
            /* d > 0 and finite, m finite (NaN fails every comparison) */
            const lq_vm good = pos & (d > zero) & (d <= big) & (m <= big) & (m >= nbig);
            const lq_vd err = sxx - d * scx - m * sx;
            double ad[LQ_W], am[LQ_W], ae[LQ_W], ag[LQ_W];
            lq_store(ad, d);
            lq_store(am, m);
            lq_store(ae, err);
            lq_store(ag, LQ_SEL(good, lq_spl(1.0), zero));
            for (int l = 0; l < LQ_W; l++) {
                ok[k + h * LQ_W + l] = ag[l] != 0.0;
                out[k + h * LQ_W + l] = (lq_affine_fit){ad[l], am[l], ae[l]};
            }
        }
    }
}

/* Nearest codes to (x - base) * inv, as doubles. */
static void lq_affine_codes(const float *x, double base, double inv, double cmax, double *c) {
    const lq_vd vb = lq_spl(base), vinv = lq_spl(inv), vmax = lq_spl(cmax);
    for (int j = 0; j < LQ_QK; j += LQ_W) lq_store(c + j, lq_affine_near((lq_load_x(x + j) - vb) * vinv, vmax));
}

/* Least-squares (d, m) for given codes, as the one-at-a-time refit. False if degenerate. */
static bool lq_affine_refit_codes(const float *x, const float *w, const double *c, const lq_wsums *s,
                                  lq_affine_fit *out) {
    double sc = 0, scc = 0, scx = 0;
    for (int j = 0; j < LQ_QK; j++) {
        const double wc = (double)w[j] * c[j];
        sc += wc;
        scc += wc * c[j];
        scx += wc * x[j];
    }
    double det = s->sw * scc - sc * sc;
    if (!(det > 0.0)) return false;
    double d = (s->sw * scx - sc * s->sx) / det;
    double m = (scc * s->sx - sc * scx) / det;
    if (!(d > 0.0) || !isfinite(d) || !isfinite(m)) return false;
    out->d = d;
    out->m = m;
    out->err = s->sxx - d * scx - m * s->sx;
    return true;
}

/* Lanes the 6 candidate (scale, min) pairs of step 3 take: a multiple of LQ_W. */
#define LQ_AFF_NC ((6 + LQ_W - 1) / LQ_W * LQ_W)

/* Step 3 for the candidate (scale, min) halves hd[l], hm[l], l < nc (a multiple of LQ_W), side
 * by side: weighted squared error of the block as stored with them (each code the better of
 * the two around (x - m) / d, judged on the float value d * c + m the dequantizer computes)
 * into err[l], codes into codes[j * nc + l]. */
static void lq_affine_stored(const double *xs, const double *ws, const qs_fp16 *hd, const qs_fp16 *hm,
                             int nc, double cmax, double *err, double *codes) {
    float df[LQ_AFF_NC], mf[LQ_AFF_NC];
    double dd[LQ_AFF_NC], md[LQ_AFF_NC], inv[LQ_AFF_NC];
    for (int l = 0; l < nc; l++) {
        df[l] = qs_fp16_to_f32(hd[l]);
        mf[l] = qs_fp16_to_f32(hm[l]);
        inv[l] = df[l] > 0.0f ? 1.0 / (double)df[l] : 0.0;
        dd[l] = df[l];
        md[l] = mf[l];
    }
    const lq_vd zero = lq_spl(0.0), one = lq_spl(1.0), vmax = lq_spl(cmax);
    for (int k = 0; k < nc; k += LQ_W) {
        lq_vf vdf, vmf;
        memcpy(&vdf, df + k, sizeof vdf);
        memcpy(&vmf, mf + k, sizeof vmf);
        const lq_vd vinv = lq_load(inv + k), vm = lq_load(md + k);
        const lq_vm dpos = lq_load(dd + k) > zero;
        lq_vd acc = zero;
        for (int j = 0; j < LQ_QK; j++) {
            const lq_vd xd = lq_spl(xs[j]), wd = lq_spl(ws[j]);
            const lq_vd t = (xd - vm) * vinv;
            const lq_vd k0 = lq_affine_floor(t, vmax);
            const lq_vd k1 = LQ_SEL((k0 < vmax) & dpos, k0 + one, k0);
            const lq_vf y0 = LQ_TO_F(k0) * vdf + vmf;
            const lq_vf y1 = LQ_TO_F(k1) * vdf + vmf;
            const lq_vd e0 = xd - LQ_TO_D(y0), e1 = xd - LQ_TO_D(y1);
            const lq_vd s0 = e0 * e0, s1 = e1 * e1;
            const lq_vm up = s1 < s0;
            acc = acc + wd * LQ_SEL(up, s1, s0);
            lq_store(codes + nc * j + k, LQ_SEL(up, k1, k0));
        }
        lq_store(err + k, acc);
    }
}

/* Chooses half scale *hd, half min *hm and codes c[] of one block. */
static void lq_affine_block(const float *x, const float *w, int cmax_i, int n_fan, qs_fp16 *hd,
                            qs_fp16 *hm, int *c) {
    const double cmax = cmax_i;
    float xmin = x[0], xmax = x[0];
    for (int j = 1; j < LQ_QK; j++) {
        if (x[j] < xmin) xmin = x[j];
        if (x[j] > xmax) xmax = x[j];
    }
    double range = (double)xmax - (double)xmin;
    double xs[LQ_QK], ws[LQ_QK]; /* the values and weights as doubles (exact), for the lanes */
    for (int j = 0; j < LQ_QK; j++) xs[j] = x[j], ws[j] = w[j];

    /* 1. fan of scales spanning the range with cmax - 3 ... cmax + 1 steps; 2. polish the best */
    lq_affine_fit best = {0.0, xmin, INFINITY};
    bool have = false;
    if (range > 0.0) {
        const lq_wsums s = lq_block_wsums(x, w);
        double inv[16 + 2 * LQ_W];
        lq_affine_fit f[16 + 2 * LQ_W];
        bool ok[16 + 2 * LQ_W];
        for (int k = 0; k < n_fan; k++) {
            double steps = cmax - 3.0 + 4.0 * (double)k / (n_fan - 1);
            inv[k] = steps / range;
        }
        const int nfit = (n_fan + 2 * LQ_W - 1) / (2 * LQ_W) * (2 * LQ_W); /* 16: no padding */
        for (int k = n_fan; k < nfit; k++) inv[k] = inv[0]; /* padding lanes, ignored */
        lq_affine_fan(xs, ws, xmin, inv, nfit, cmax, &s, ok, f);
        int best_k = -1;
        for (int k = 0; k < n_fan; k++) {
            if (ok[k] && f[k].err < best.err) {
                best = f[k];
                have = true;
                best_k = k;
            }
        }
        double cur[LQ_QK], nc[LQ_QK];
        if (have) lq_affine_codes(x, xmin, inv[best_k], cmax, cur);
        for (int it = 0; it < 4 && have; it++) {
            lq_affine_codes(x, best.m, 1.0 / best.d, cmax, nc);
            if (lq_same_codes(nc, cur)) break; /* the same fit again: no improvement */
            lq_affine_fit f1;
            if (!lq_affine_refit_codes(x, w, nc, &s, &f1) || !(f1.err < best.err)) break;
            best = f1;
            memcpy(cur, nc, sizeof cur);
        }
    }

    /* 3. score stored halves exactly: the fitted (d, m), its neighbours one half step away in
     * d or in m, and the max-based (range / cmax, xmin); padding lanes repeat the first */
    qs_fp16 cd[LQ_AFF_NC], cm[LQ_AFF_NC];
    qs_fp16 d0 = qs_half_saturated(best.d), m0 = qs_half_saturated(best.m);
    cd[0] = d0, cm[0] = m0;
    cd[1] = qs_half_step(d0, -1), cm[1] = m0;
    cd[2] = qs_half_step(d0, +1), cm[2] = m0;
    cd[3] = d0, cm[3] = qs_half_step(m0, -1);
    cd[4] = d0, cm[4] = qs_half_step(m0, +1);
    cd[5] = qs_half_saturated(range / cmax), cm[5] = qs_half_saturated(xmin);
    for (int k = 6; k < LQ_AFF_NC; k++) cd[k] = d0, cm[k] = m0;

    double err[LQ_AFF_NC], codes[LQ_AFF_NC * LQ_QK];
    lq_affine_stored(xs, ws, cd, cm, LQ_AFF_NC, cmax, err, codes);
    int bk = 0;
    for (int k = 1; k < 6; k++)
        if (err[k] < err[bk]) bk = k;
    const double best_err = err[bk];
    *hd = cd[bk];
    *hm = cm[bk];
    for (int j = 0; j < LQ_QK; j++) c[j] = (int)codes[LQ_AFF_NC * j + bk];

    /* the min is rounded now: refit the scale alone to those codes and try it */
    float m = qs_fp16_to_f32(*hm);
    double scx = 0.0, scc = 0.0;
    for (int j = 0; j < LQ_QK; j++) {
        scx += (double)w[j] * c[j] * ((double)x[j] - m);
        scc += (double)w[j] * c[j] * c[j];
    }
    if (scc > 0.0 && scx > 0.0) {
        qs_fp16 d1 = qs_half_saturated(scx / scc);
        if (d1 == *hd) return; /* the chosen candidate again: not better */
        for (int l = 0; l < LQ_W; l++) cd[l] = d1, cm[l] = *hm; /* one group of lanes */
        lq_affine_stored(xs, ws, cd, cm, LQ_W, cmax, err, codes);
        if (err[0] < best_err) {
            *hd = d1;
            for (int j = 0; j < LQ_QK; j++) c[j] = (int)codes[LQ_W * j];
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Entry points                                                                               */

void LQ_FN(q4_0)(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / LQ_QK; i++, b += sizeof(qs_block_q4_0)) {
        float w[LQ_QK];
        int q[LQ_QK];
        uint8_t codes[LQ_QK];
        qs_block_weights(importance ? importance + i * LQ_QK : NULL, w, LQ_QK);
        qs_fp16 d = lq_sym_block(src + i * LQ_QK, w, &lq_grid_q4, q);
        for (int j = 0; j < LQ_QK; j++) codes[j] = (uint8_t)(q[j] + 8);
        lq_store_half(b + offsetof(qs_block_q4_0, d), d);
        lq_pack_nibbles(codes, b + offsetof(qs_block_q4_0, qs));
    }
}

void LQ_FN(q4_1)(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / LQ_QK; i++, b += sizeof(qs_block_q4_1)) {
        float w[LQ_QK];
        int c[LQ_QK];
        uint8_t codes[LQ_QK];
        qs_fp16 d = 0, m = 0;
        qs_block_weights(importance ? importance + i * LQ_QK : NULL, w, LQ_QK);
        lq_affine_block(src + i * LQ_QK, w, 15, 16, &d, &m, c);
        for (int j = 0; j < LQ_QK; j++) codes[j] = (uint8_t)c[j];
        lq_store_half(b + offsetof(qs_block_q4_1, d), d);
        lq_store_half(b + offsetof(qs_block_q4_1, m), m);
        lq_pack_nibbles(codes, b + offsetof(qs_block_q4_1, qs));
    }
}

void LQ_FN(q5_0)(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / LQ_QK; i++, b += sizeof(qs_block_q5_0)) {
        float w[LQ_QK];
        int q[LQ_QK];
        uint8_t codes[LQ_QK];
        qs_block_weights(importance ? importance + i * LQ_QK : NULL, w, LQ_QK);
        qs_fp16 d = lq_sym_block(src + i * LQ_QK, w, &lq_grid_q5, q);
        for (int j = 0; j < LQ_QK; j++) codes[j] = (uint8_t)(q[j] + 16);
        lq_store_half(b + offsetof(qs_block_q5_0, d), d);
        lq_store_le32(b + offsetof(qs_block_q5_0, qh), lq_pack_fifth_bits(codes));
        lq_pack_nibbles(codes, b + offsetof(qs_block_q5_0, qs));
    }
}

void LQ_FN(q5_1)(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / LQ_QK; i++, b += sizeof(qs_block_q5_1)) {
        float w[LQ_QK];
        int c[LQ_QK];
        uint8_t codes[LQ_QK];
        qs_fp16 d = 0, m = 0;
        qs_block_weights(importance ? importance + i * LQ_QK : NULL, w, LQ_QK);
        lq_affine_block(src + i * LQ_QK, w, 31, 16, &d, &m, c);
        for (int j = 0; j < LQ_QK; j++) codes[j] = (uint8_t)c[j];
        lq_store_half(b + offsetof(qs_block_q5_1, d), d);
        lq_store_half(b + offsetof(qs_block_q5_1, m), m);
        lq_store_le32(b + offsetof(qs_block_q5_1, qh), lq_pack_fifth_bits(codes));
        lq_pack_nibbles(codes, b + offsetof(qs_block_q5_1, qs));
    }
}

void LQ_FN(q8_0)(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / LQ_QK; i++, b += sizeof(qs_block_q8_0)) {
        float w[LQ_QK];
        int q[LQ_QK];
        qs_block_weights(importance ? importance + i * LQ_QK : NULL, w, LQ_QK);
        qs_fp16 d = lq_sym_block(src + i * LQ_QK, w, &lq_grid_q8_0, q);
        int8_t qs[LQ_QK];
        for (int j = 0; j < LQ_QK; j++) qs[j] = (int8_t)q[j];
        memcpy(b + offsetof(qs_block_q8_0, qs), qs, sizeof qs);
        lq_store_half(b + offsetof(qs_block_q8_0, d), d);
    }
}

/* s is the stored d times the code sum, saturated to the largest finite half. */
void LQ_FN(q8_1)(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / LQ_QK; i++, b += sizeof(qs_block_q8_1)) {
        float w[LQ_QK];
        int q[LQ_QK], sum = 0;
        qs_block_weights(importance ? importance + i * LQ_QK : NULL, w, LQ_QK);
        qs_fp16 d = lq_sym_block(src + i * LQ_QK, w, &lq_grid_q8_1, q);
        int8_t qs[LQ_QK];
        for (int j = 0; j < LQ_QK; j++) {
            qs[j] = (int8_t)q[j];
            sum += q[j];
        }
        memcpy(b + offsetof(qs_block_q8_1, qs), qs, sizeof qs);
        lq_store_half(b + offsetof(qs_block_q8_1, d), d);
        lq_store_half(b + offsetof(qs_block_q8_1, s), qs_half_saturated((float)sum * qs_fp16_to_f32(d)));
    }
}
