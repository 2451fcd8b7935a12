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

static void store_half(uint8_t *p, qs_fp16 h) { memcpy(p, &h, sizeof h); }

static uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_le32(uint8_t *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
}

/* Code of element j (0..31) from a 16-byte nibble array. */
static int nibble_at(const uint8_t *qs, int j) {
    return j < QK / 2 ? qs[j] & 0x0f : qs[j - QK / 2] >> 4;
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
/* Weights                                                                                    */

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

void qs_quant_q4_0(const float *src, void *dst, int64_t n, const float *importance) {
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

void qs_quant_q4_1(const float *src, void *dst, int64_t n, const float *importance) {
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

void qs_quant_q5_0(const float *src, void *dst, int64_t n, const float *importance) {
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

void qs_quant_q5_1(const float *src, void *dst, int64_t n, const float *importance) {
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

void qs_quant_q8_0(const float *src, void *dst, int64_t n, const float *importance) {
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

/* ggml has no Q8_1 dequantizer; the values are d * q as in Q8_0 (s is redundant). */
void qs_dequant_q8_1(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QK; i++, b += sizeof(qs_block_q8_1), dst += QK) {
        float d = load_half(b + offsetof(qs_block_q8_1, d));
        const int8_t *qs = (const int8_t *)(b + offsetof(qs_block_q8_1, qs));
        for (int j = 0; j < QK; j++) dst[j] = (float)qs[j] * d;
    }
}

/* s is the stored d times the code sum (the block sum a dot product needs), saturated to the
 * largest finite half for blocks so large that it would overflow. */
void qs_quant_q8_1(const float *src, void *dst, int64_t n, const float *importance) {
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
