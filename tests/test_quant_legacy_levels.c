/* Legacy quantizers (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1) at every SIMD level against the
 * one-at-a-time search they replaced: the oracle below is the scalar code quant/qs_q_legacy.c
 * had before the search was put in lanes (qs_q_legacy_impl.h), kept unchanged, so "same bytes"
 * means the same decisions as the search the quality figures of test_quant_legacy were measured
 * on. Every level the CPU can run, and the public entry points, must write exactly its bytes on
 * varied data: Gaussian, heavy-tailed, LLM-like, all-equal blocks, zeros, tiny (subnormal) and
 * huge magnitudes, values at the half range's edge, one outlier per block, with and without
 * importance (skewed, sparse, all-zero). */
#include "qs_test_util.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "qs_formats.h"
#include "qs_quant_simd.h"
#include "qs_quant_util.h"
#include "qs_types.h"

#define QK QS_QK32

/* ========================================================================================== */
/* The oracle: the one-at-a-time search (quant/qs_q_legacy.c before qs_q_legacy_impl.h)       */
/* ========================================================================================== */

static void store_half(uint8_t *p, qs_fp16 h) { memcpy(p, &h, sizeof h); }

static void store_le32(uint8_t *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
}

static void pack_nibbles(const uint8_t *codes, uint8_t *qs) {
    for (int j = 0; j < QK / 2; j++)
        qs[j] = (uint8_t)((codes[j] & 0x0f) | (codes[j + QK / 2] & 0x0f) << 4);
}

static uint32_t pack_fifth_bits(const uint8_t *codes) {
    uint32_t qh = 0;
    for (int j = 0; j < QK; j++) qh |= (uint32_t)((codes[j] >> 4) & 1u) << j;
    return qh;
}

/* ------------------------------------------------------------------------------------------ */
/* Symmetric grids: value = d * q with integer q in [lo, hi] (Q4_0, Q5_0, Q8_0, Q8_1).          */

typedef struct sym_grid {
    int lo, hi;       /* code range, lo < 0 < hi */
    int n_fan;        /* scales tried per end of the grid in step 1 */
    double fan_below; /* the fan maps the largest |x| from |end| - fan_below ... */
    double fan_above; /* ... to |end| + fan_above (in code units) */
} sym_grid;

/* Nearest code to t (NaN gives lo: defined, if meaningless). Inside the range t - lo >= 0, so
 * truncating t - lo + 0.5 rounds to nearest. */
static int sym_nearest(double t, const sym_grid *g) {
    if (!(t > g->lo)) return g->lo;
    if (t >= g->hi) return g->hi;
    return (int)(t - g->lo + 0.5) + g->lo;
}

/* Codes nearest to x * inv; fitted scale in *d. Returns the weighted error drop
 * (sum w q x)^2 / sum w q^2 of that fit (error = sum w x^2 - drop), or -1 if degenerate. */
static double sym_fit(const float *x, const float *w, double inv, const sym_grid *g, double *d) {
    double sqx = 0.0, sqq = 0.0;
    for (int j = 0; j < QK; j++) {
        int q = sym_nearest((double)x[j] * inv, g);
        sqx += (double)w[j] * q * x[j];
        sqq += (double)w[j] * q * q;
    }
    if (!(sqq > 0.0)) return -1.0;
    *d = sqx / sqq;
    return sqx * sqx / sqq;
}

/* Weighted squared error of the block as stored with half scale h, nearest codes into q[]. */
static double sym_stored_error(const float *x, const float *w, qs_fp16 h, const sym_grid *g, int *q) {
    float d = qs_fp16_to_f32(h);
    double inv = d != 0.0f ? 1.0 / (double)d : 0.0; /* x * inv on the grid: 0 codes for d = 0 */
    double err = 0.0;
    for (int j = 0; j < QK; j++) {
        int c = sym_nearest((double)x[j] * inv, g);
        double e = (double)x[j] - (double)((float)c * d);
        q[j] = c;
        err += (double)w[j] * e * e;
    }
    return err;
}

/* Chooses the half scale of one block and its codes q[] (in [lo, hi]). */
static qs_fp16 sym_quantize_block(const float *x, const float *w, const sym_grid *g, int *q) {
    float xm = 0.0f, amax = 0.0f; /* the value of largest magnitude, and that magnitude */
    for (int j = 0; j < QK; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            xm = x[j];
        }
    }
    if (amax == 0.0f) {
        for (int j = 0; j < QK; j++) q[j] = 0;
        return 0;
    }

    /* 1. fan of scales at both ends of the grid (one end when the grid is symmetric); with no
     * fan, start from the max-based scale */
    double best_drop = -1.0, best_d = g->n_fan ? 0.0 : (double)xm / g->hi;
    for (int side = 0; side < 2; side++) {
        int end = side == 0 ? g->lo : g->hi;
        if (side == 0 && g->hi == -g->lo) continue; /* symmetric: the high end says it all */
        double mag = end < 0 ? -end : end;
        for (int k = 0; k < g->n_fan; k++) {
            double t = g->n_fan > 1 ? (double)k / (g->n_fan - 1) : 0.5;
            double target = mag - g->fan_below + t * (g->fan_below + g->fan_above);
            double inv = (end < 0 ? -target : target) / (double)xm;
            double d = 0.0, drop = sym_fit(x, w, inv, g, &d);
            if (drop > best_drop) {
                best_drop = drop;
                best_d = d;
            }
        }
    }

    /* 2. polish: nearest codes for the fitted scale, refit, while the fit improves */
    for (int it = 0; it < 4 && g->n_fan && best_d != 0.0; it++) {
        double d = 0.0, drop = sym_fit(x, w, 1.0 / best_d, g, &d);
        if (!(drop > best_drop)) break;
        best_drop = drop;
        best_d = d;
    }

    /* 3. score stored halves exactly: the fit, its neighbours, and the max-based scale */
    qs_fp16 cand[4];
    int nc = 0;
    qs_fp16 h = qs_half_saturated(best_d);
    cand[nc++] = h;
    cand[nc++] = qs_half_step(h, -1);
    cand[nc++] = qs_half_step(h, +1);
    cand[nc++] = qs_half_saturated((double)xm / (double)(g->hi == -g->lo ? g->hi : g->lo));
    if (g->hi == -g->lo) /* a symmetric grid does not care about the sign: keep d >= 0 */
        for (int c = 0; c < nc; c++) cand[c] &= 0x7fffu;

    int tmp[QK];
    double best_err = INFINITY;
    qs_fp16 best_h = 0;
    for (int c = 0; c < nc; c++) {
        double err = sym_stored_error(x, w, cand[c], g, tmp);
        if (c == 0 || err < best_err) {
            best_err = err;
            best_h = cand[c];
            memcpy(q, tmp, sizeof tmp);
        }
    }
    return best_h;
}

/* Fans tuned on Gaussian, heavy-tailed and LLM-like data against an exhaustive search over all
 * halves: Q4_0 and Q5_0 land within 0.1% of the best half scale. At 8 bits the error depends
 * mostly on how well the 32 values happen to line up with the grid, so Q8_0 fans over a wider
 * span of scales (each trial's refit finds a different alignment). */
static const sym_grid grid_q4 = {-8, 7, 8, 1.5, 0.6};
static const sym_grid grid_q5 = {-16, 15, 8, 1.5, 0.6};
/* Q8 keeps q within +-127, as ggml does: some SIMD dot kernels negate int8 codes, and -128 has
 * no int8 negation. */
static const sym_grid grid_q8_0 = {-127, 127, 16, 16.0, 0.5};
/* Q8_1 quantizes activations on the fly, so it stays cheap: no fan, only the max-based scale
 * and its neighbouring halves. */
static const sym_grid grid_q8_1 = {-127, 127, 0, 0.0, 0.0};

/* ------------------------------------------------------------------------------------------ */
/* Affine grids: value = d * c + m with integer c in [0, cmax] (Q4_1, Q5_1).                   */

typedef struct affine_fit {
    double d, m;   /* fitted scale (> 0) and min */
    double err;    /* weighted squared error of the fit */
} affine_fit;

static int affine_nearest(double t, int cmax) {
    if (!(t > 0.0)) return 0;
    if (t >= cmax) return cmax;
    return (int)(t + 0.5);
}

/* Least-squares (d, m) for the codes nearest to (x - base) * inv. False if degenerate. */
static bool affine_refit(const float *x, const float *w, double base, double inv, int cmax,
                         affine_fit *out) {
    double sw = 0, sc = 0, scc = 0, sx = 0, scx = 0, sxx = 0;
    for (int j = 0; j < QK; j++) {
        double c = affine_nearest(((double)x[j] - base) * inv, cmax), wj = w[j], xj = x[j];
        sw += wj;
        sc += wj * c;
        scc += wj * c * c;
        sx += wj * xj;
        scx += wj * c * xj;
        sxx += wj * xj * xj;
    }
    double det = sw * scc - sc * sc;
    if (!(det > 0.0)) return false;
    double d = (sw * scx - sc * sx) / det;
    double m = (scc * sx - sc * scx) / det;
    if (!(d > 0.0) || !isfinite(d) || !isfinite(m)) return false;
    out->d = d;
    out->m = m;
    out->err = sxx - d * scx - m * sx; /* residual at the least-squares optimum */
    return true;
}

/* Weighted squared error of the block as stored with half scale hd and half min hm; codes into
 * c[]. Each code is the better of the two around (x - m) / d, judged on the float value the
 * dequantizer will compute. */
static double affine_stored_error(const float *x, const float *w, qs_fp16 hd, qs_fp16 hm, int cmax,
                                  int *c) {
    float d = qs_fp16_to_f32(hd), m = qs_fp16_to_f32(hm);
    double inv = d > 0.0f ? 1.0 / (double)d : 0.0;
    double err = 0.0;
    for (int j = 0; j < QK; j++) {
        double t = ((double)x[j] - (double)m) * inv;
        int k0 = !(t > 0.0) ? 0 : t >= cmax ? cmax : (int)t;
        int k1 = k0 < cmax && d > 0.0f ? k0 + 1 : k0;
        float y0 = (float)k0 * d + m;
        float y1 = (float)k1 * d + m;
        double e0 = (double)x[j] - (double)y0, e1 = (double)x[j] - (double)y1;
        bool up = e1 * e1 < e0 * e0;
        c[j] = up ? k1 : k0;
        err += (double)w[j] * (up ? e1 * e1 : e0 * e0);
    }
    return err;
}

/* Chooses half scale *hd, half min *hm and codes c[] of one block. */
static void affine_quantize_block(const float *x, const float *w, int cmax, int n_fan, qs_fp16 *hd,
                                  qs_fp16 *hm, int *c) {
    float xmin = x[0], xmax = x[0];
    for (int j = 1; j < QK; j++) {
        if (x[j] < xmin) xmin = x[j];
        if (x[j] > xmax) xmax = x[j];
    }
    double range = (double)xmax - (double)xmin;

    /* 1. fan of scales spanning the range with cmax - 3 ... cmax + 1 steps; 2. polish the best */
    affine_fit best = {0.0, xmin, INFINITY};
    bool have = false;
    if (range > 0.0) {
        for (int k = 0; k < n_fan; k++) {
            double steps = cmax - 3.0 + 4.0 * (double)k / (n_fan - 1);
            affine_fit f;
            if (affine_refit(x, w, xmin, steps / range, cmax, &f) && f.err < best.err) {
                best = f;
                have = true;
            }
        }
        for (int it = 0; it < 4 && have; it++) {
            affine_fit f;
            if (!affine_refit(x, w, best.m, 1.0 / best.d, cmax, &f) || !(f.err < best.err)) break;
            best = f;
        }
    }

    /* 3. score stored halves exactly: the fitted (d, m), its neighbours one half step away in
     * d or in m, and the max-based (range / cmax, xmin) */
    qs_fp16 cd[6], cm[6];
    int nc = 0;
    qs_fp16 d0 = qs_half_saturated(best.d), m0 = qs_half_saturated(best.m);
    cd[nc] = d0, cm[nc++] = m0;
    cd[nc] = qs_half_step(d0, -1), cm[nc++] = m0;
    cd[nc] = qs_half_step(d0, +1), cm[nc++] = m0;
    cd[nc] = d0, cm[nc++] = qs_half_step(m0, -1);
    cd[nc] = d0, cm[nc++] = qs_half_step(m0, +1);
    cd[nc] = qs_half_saturated(range / cmax), cm[nc++] = qs_half_saturated(xmin);

    int tmp[QK];
    double best_err = INFINITY;
    for (int k = 0; k < nc; k++) {
        double err = affine_stored_error(x, w, cd[k], cm[k], cmax, tmp);
        if (k == 0 || err < best_err) {
            best_err = err;
            *hd = cd[k];
            *hm = cm[k];
            memcpy(c, tmp, sizeof tmp);
        }
    }

    /* the min is rounded now: refit the scale alone to those codes and try it */
    float m = qs_fp16_to_f32(*hm);
    double scx = 0.0, scc = 0.0;
    for (int j = 0; j < QK; j++) {
        scx += (double)w[j] * c[j] * ((double)x[j] - m);
        scc += (double)w[j] * c[j] * c[j];
    }
    if (scc > 0.0 && scx > 0.0) {
        qs_fp16 d1 = qs_half_saturated(scx / scc);
        double err = affine_stored_error(x, w, d1, *hm, cmax, tmp);
        if (err < best_err) {
            *hd = d1;
            memcpy(c, tmp, sizeof tmp);
        }
    }
}

static void ref_quant_q4_0(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b += sizeof(qs_block_q4_0)) {
        float w[QK];
        int q[QK];
        uint8_t codes[QK];
        qs_block_weights(importance ? importance + i * QK : NULL, w, QK);
        qs_fp16 d = sym_quantize_block(src + i * QK, w, &grid_q4, q);
        for (int j = 0; j < QK; j++) codes[j] = (uint8_t)(q[j] + 8);
        store_half(b + offsetof(qs_block_q4_0, d), d);
        pack_nibbles(codes, b + offsetof(qs_block_q4_0, qs));
    }
}

static void ref_quant_q4_1(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b += sizeof(qs_block_q4_1)) {
        float w[QK];
        int c[QK];
        uint8_t codes[QK];
        qs_fp16 d = 0, m = 0;
        qs_block_weights(importance ? importance + i * QK : NULL, w, QK);
        affine_quantize_block(src + i * QK, w, 15, 16, &d, &m, c);
        for (int j = 0; j < QK; j++) codes[j] = (uint8_t)c[j];
        store_half(b + offsetof(qs_block_q4_1, d), d);
        store_half(b + offsetof(qs_block_q4_1, m), m);
        pack_nibbles(codes, b + offsetof(qs_block_q4_1, qs));
    }
}

static void ref_quant_q5_0(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b += sizeof(qs_block_q5_0)) {
        float w[QK];
        int q[QK];
        uint8_t codes[QK];
        qs_block_weights(importance ? importance + i * QK : NULL, w, QK);
        qs_fp16 d = sym_quantize_block(src + i * QK, w, &grid_q5, q);
        for (int j = 0; j < QK; j++) codes[j] = (uint8_t)(q[j] + 16);
        store_half(b + offsetof(qs_block_q5_0, d), d);
        store_le32(b + offsetof(qs_block_q5_0, qh), pack_fifth_bits(codes));
        pack_nibbles(codes, b + offsetof(qs_block_q5_0, qs));
    }
}

static void ref_quant_q5_1(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b += sizeof(qs_block_q5_1)) {
        float w[QK];
        int c[QK];
        uint8_t codes[QK];
        qs_fp16 d = 0, m = 0;
        qs_block_weights(importance ? importance + i * QK : NULL, w, QK);
        affine_quantize_block(src + i * QK, w, 31, 16, &d, &m, c);
        for (int j = 0; j < QK; j++) codes[j] = (uint8_t)c[j];
        store_half(b + offsetof(qs_block_q5_1, d), d);
        store_half(b + offsetof(qs_block_q5_1, m), m);
        store_le32(b + offsetof(qs_block_q5_1, qh), pack_fifth_bits(codes));
        pack_nibbles(codes, b + offsetof(qs_block_q5_1, qs));
    }
}

static void ref_quant_q8_0(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b += sizeof(qs_block_q8_0)) {
        float w[QK];
        int q[QK];
        qs_block_weights(importance ? importance + i * QK : NULL, w, QK);
        qs_fp16 d = sym_quantize_block(src + i * QK, w, &grid_q8_0, q);
        int8_t *qs = (int8_t *)(b + offsetof(qs_block_q8_0, qs));
        for (int j = 0; j < QK; j++) qs[j] = (int8_t)q[j];
        store_half(b + offsetof(qs_block_q8_0, d), d);
    }
}

static void ref_quant_q8_1(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b += sizeof(qs_block_q8_1)) {
        float w[QK];
        int q[QK], sum = 0;
        qs_block_weights(importance ? importance + i * QK : NULL, w, QK);
        qs_fp16 d = sym_quantize_block(src + i * QK, w, &grid_q8_1, q);
        int8_t *qs = (int8_t *)(b + offsetof(qs_block_q8_1, qs));
        for (int j = 0; j < QK; j++) {
            qs[j] = (int8_t)q[j];
            sum += q[j];
        }
        store_half(b + offsetof(qs_block_q8_1, d), d);
        store_half(b + offsetof(qs_block_q8_1, s), qs_half_saturated((float)sum * qs_fp16_to_f32(d)));
    }
}

/* ========================================================================================== */
/* Data                                                                                       */
/* ========================================================================================== */

enum { COLS = 4096, NKIND = 12, NIMP = 5 };

/* Row `kind` of COLS values (seed varies the draw). */
static void make_row(int kind, uint64_t seed, float *x) {
    uint64_t s = seed * 7919u + (uint64_t)kind;
    switch (kind) {
    case 0: qs_test_gaussian(x, COLS, seed); break;
    case 1: qs_test_heavy(x, COLS, seed); break;
    case 2: qs_test_llm_like(x, COLS, seed); break;
    case 3: /* all-equal blocks: each block one value, of varied sign and size */
        for (int b = 0; b < COLS / QK; b++) {
            float v = (qs_test_uniform(&s) - 0.5f) * powf(10.0f, (float)(b % 9) - 4.0f);
            if (b % 5 == 0) v = (b & 1) ? 0.25f : -3.0f;
            for (int j = 0; j < QK; j++) x[b * QK + j] = v;
        }
        break;
    case 4: /* zeros: whole zero blocks, blocks with one or two non-zeros, signed zeros */
        for (int i = 0; i < COLS; i++) x[i] = (i / QK) % 3 == 0 ? 0.0f : (i & 1) ? -0.0f : 0.0f;
        for (int b = 1; b < COLS / QK; b += 3) x[b * QK + (b % QK)] = qs_test_uniform(&s) - 0.5f;
        for (int b = 2; b < COLS / QK; b += 6) x[b * QK + 31 - (b % QK)] = -2.0f * qs_test_uniform(&s);
        break;
    case 5: /* tiny: scales below the half's normal range, subnormal halves and floats */
        qs_test_gaussian(x, COLS, seed + 1);
        for (int i = 0; i < COLS; i++) {
            static const float mul[4] = {1e-5f, 1e-7f, 1e-9f, 1e-41f};
            x[i] *= mul[(i / QK) % 4];
        }
        break;
    case 6: /* huge: scales at and past the largest half, and far beyond */
        qs_test_gaussian(x, COLS, seed + 2);
        for (int i = 0; i < COLS; i++) {
            static const float mul[5] = {1e3f, 3e4f, 1e6f, 1e30f, 1e37f};
            x[i] *= mul[(i / QK) % 5];
        }
        for (int b = 0; b < COLS / QK; b += 7) x[b * QK] = (b & 1) ? 65504.0f : -65504.0f;
        for (int b = 3; b < COLS / QK; b += 11) x[b * QK + 5] = (b & 1) ? FLT_MAX : -FLT_MAX;
        break;
    case 7: /* one outlier per block over small Gaussian values */
        qs_test_gaussian(x, COLS, seed + 3);
        for (int b = 0; b < COLS / QK; b++) x[b * QK + (b * 7) % QK] *= (b & 1) ? 40.0f : -25.0f;
        break;
    case 8: /* values already on grids (ties between codes, exact fits) */
        for (int i = 0; i < COLS; i++) {
            int k = (int)(qs_test_uniform(&s) * 31.0f) - 15;
            x[i] = (float)k * ((i / QK) % 2 ? 0.125f : 0.1f) + ((i / QK) % 4 == 3 ? 0.05f : 0.0f);
        }
        break;
    case 9: /* one-signed blocks (affine formats' min at the edge), two-valued blocks */
        qs_test_gaussian(x, COLS, seed + 4);
        for (int i = 0; i < COLS; i++) {
            switch ((i / QK) % 4) {
            case 0: x[i] = fabsf(x[i]) + 1.0f; break;
            case 1: x[i] = -fabsf(x[i]) - 0.001f; break;
            case 2: x[i] = (i & 1) ? 1.5f : -0.5f; break;
            default: break;
            }
        }
        break;
    case 10: /* non-finite values among ordinary ones (defined, finite output) */
        qs_test_gaussian(x, COLS, seed + 5);
        for (int i = 0; i < COLS; i++) {
            if ((i / QK) % 4 == 0 && i % 5 == 0) x[i] = NAN;
            if ((i / QK) % 4 == 1 && i % 9 == 0) x[i] = (i & 1) ? INFINITY : -INFINITY;
            if ((i / QK) % 4 == 2 && i % QK == 3) x[i] = NAN, x[i + 1] = INFINITY;
        }
        break;
    default: /* a mix of magnitudes from block to block */
        qs_test_heavy(x, COLS, seed + 6);
        for (int i = 0; i < COLS; i++) x[i] *= ldexpf(1.0f, ((i / QK) * 5) % 41 - 20);
        break;
    }
}

/* Importance variant `v` (NULL for v == 0): skewed, sparse, all zero, dirty (negative, NaN, inf). */
static const float *make_importance(int v, uint64_t seed, float *imp) {
    uint64_t s = seed + 101u * (uint64_t)v;
    for (int i = 0; i < COLS; i++) {
        const float u = qs_test_uniform(&s);
        switch (v) {
        case 1: imp[i] = u * u * u * 40.0f + 0.01f; break;
        case 2: imp[i] = (i % 3 == 0 || (i / QK) % 5 == 0) ? 0.0f : u; break;
        case 3: imp[i] = 0.0f; break;
        default: imp[i] = i % 7 == 0 ? -1.0f : i % 11 == 0 ? NAN : i % 13 == 0 ? INFINITY : u + 1e-30f; break;
        }
    }
    return v == 0 ? NULL : imp;
}

/* ========================================================================================== */
/* Tests                                                                                      */
/* ========================================================================================== */

typedef void (*quant_fn)(const float *src, void *dst, int64_t n, const float *importance);

static const struct {
    qs_type type;
    quant_fn ref;
} cases[] = {
    {QS_TYPE_Q4_0, ref_quant_q4_0}, {QS_TYPE_Q4_1, ref_quant_q4_1}, {QS_TYPE_Q5_0, ref_quant_q5_0},
    {QS_TYPE_Q5_1, ref_quant_q5_1}, {QS_TYPE_Q8_0, ref_quant_q8_0}, {QS_TYPE_Q8_1, ref_quant_q8_1},
};

/* Index of the first differing block, or -1. */
static int first_diff_block(const uint8_t *a, const uint8_t *b, size_t bytes, size_t block_bytes) {
    for (size_t i = 0; i < bytes; i++)
        if (a[i] != b[i]) return (int)(i / block_bytes);
    return -1;
}

static void test_every_level_matches_oracle(void **state) {
    (void)state;
    float *x = malloc(sizeof(float) * COLS), *imp = malloc(sizeof(float) * COLS);
    uint8_t *ref = malloc((size_t)COLS * 2), *got = malloc((size_t)COLS * 2);
    assert_non_null(x);
    assert_non_null(imp);
    assert_non_null(ref);
    assert_non_null(got);
    const qs_cpu_features *cpu = qs_cpu_features_get();
    static const qs_simd_level levels[] = {QS_SIMD_SCALAR, QS_SIMD_AVX2, QS_SIMD_AVX512};
    int compared = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const qs_type t = cases[c].type;
        const size_t rb = (size_t)qs_type_row_bytes(t, COLS);
        const size_t bb = (size_t)qs_type_traits_get(t)->type_size;
        for (int kind = 0; kind < NKIND; kind++) {
            for (uint64_t seed = 1; seed <= 2; seed++) {
                make_row(kind, seed, x);
                for (int v = 0; v < NIMP; v++) {
                    const float *w = make_importance(v, seed, imp);
                    memset(ref, 0xa5, rb);
                    cases[c].ref(x, ref, COLS, w);
                    for (size_t l = 0; l <= sizeof levels / sizeof levels[0]; l++) {
                        quant_fn f;
                        const char *name;
                        if (l == sizeof levels / sizeof levels[0]) { /* the public entry point */
                            f = qs_type_traits_get(t)->quantize;
                            name = "public";
                        } else {
                            if (!qs_simd_level_usable(cpu, levels[l])) continue;
                            f = qs_quant_fn_for_level(t, levels[l]);
                            name = qs_simd_level_name(levels[l]);
                        }
                        assert_non_null(f);
                        memset(got, 0x5a, rb);
                        f(x, got, COLS, w);
                        const int b = first_diff_block(ref, got, rb, bb);
                        if (b >= 0)
                            fail_msg("%s level %s: data kind %d seed %d importance %d: block %d differs "
                                     "from the oracle",
                                     qs_type_name(t), name, kind, (int)seed, v, b);
                        compared++;
                    }
                }
            }
        }
    }
    /* scalar and public at least, for each type, kind, seed and importance variant */
    assert_true(compared >= (int)(sizeof cases / sizeof cases[0]) * NKIND * 2 * NIMP * 2);
    if (!qs_simd_level_usable(cpu, QS_SIMD_AVX2)) print_message("  [note] no AVX2 on this CPU: scalar only\n");
    free(x);
    free(imp);
    free(ref);
    free(got);
}

/* Each legacy type has its own code per level on x86 (not the one function for all levels). */
static void test_levels_are_distinct(void **state) {
    (void)state;
#if defined(__x86_64__)
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const qs_type t = cases[c].type;
        quant_fn s = qs_quant_fn_for_level(t, QS_SIMD_SCALAR), a2 = qs_quant_fn_for_level(t, QS_SIMD_AVX2),
                 a5 = qs_quant_fn_for_level(t, QS_SIMD_AVX512);
        assert_non_null(s);
        assert_non_null(a2);
        assert_non_null(a5);
        assert_true(s != a2 && s != a5 && a2 != a5);
    }
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels_are_distinct),
        cmocka_unit_test(test_every_level_matches_oracle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
