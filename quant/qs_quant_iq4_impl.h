/* qs_quant_iq4_impl.h — the IQ4_NL / IQ4_XS quantizers' search, compiled once per SIMD level
 * (internal to quant/).
 *
 * Included by qs_iq4.c (scalar), qs_quant_iq4_avx2.c and qs_quant_iq4_avx512.c, each with
 * IQ_FN(t) naming its entry points (qs_quant_<t>_scalar, ..._avx2, ..._avx512). Loops either
 * run over candidates side by side (one lane each, every lane summing its elements in order)
 * or over elements with no sum; no sum is reassociated and FP contraction stays off, so every
 * level writes the same bytes (tests/test_quant_levels.c). Pure functions: any thread.
 *
 * The search (see qs_iq4.c for the formats):
 *   - every block (32 values for IQ4_NL, 256 for IQ4_XS) is first scaled by a power of two so
 *     its largest magnitude lies in [0.5, 1): float sums then neither overflow nor underflow,
 *     and scaling the input by a power of two scales the output exactly;
 *   - group scale: IQ_LANES trial scales, one per lane, put the largest |x| near either end of
 *     the table (it is lopsided, -127 ... 113); each takes the nearest levels and fits the
 *     scale by weighted least squares; the best fit is polished by alternating nearest levels
 *     and refits while the fit improves;
 *   - IQ4_NL scores the rounded half scale and its two neighbouring halves exactly as the
 *     dequantizer reproduces them; IQ4_XS tries a few super-scales d and, for each group, the
 *     two 6-bit codes around its best scale / d, scoring every group exactly, then a joint
 *     least-squares refit of d over the chosen codes.
 * The nearest level of t is found without branches or table look-ups: 2t is compared with
 * every sum of neighbouring levels (twice the midpoints), and the level is -127 plus the steps
 * crossed. Stored codes are then checked against both neighbouring levels on the values the
 * dequantizer computes, so each code is the nearest one exactly. */
#ifndef IQ_FN
#error "define IQ_FN(t) before including qs_quant_iq4_impl.h"
#endif

#include "qs_formats.h"
#include "qs_quant_util.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define IQ_GROUP 32
#define IQ_LANES 16 /* trial scales per group: IQ_LANES / 2 at each end of the table */
#define IQ_NGROUP (QS_QK_K / IQ_GROUP)

/* The table (qs_iq4nl_values) as floats, the sums of neighbouring levels, and the steps. */
static const float iq_val[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                 1,    13,   25,  38,  53,  69,  89,  113};
static const float iq_mid2[15] = {-231, -187, -148, -114, -84, -57, -32, -9,
                                  14,   38,   63,   91,   122, 158, 202};
static const float iq_step[15] = {23, 21, 18, 16, 14, 13, 12, 11, 12, 12, 13, 15, 16, 20, 24};

/* Level nearest to t given as t2 = 2t (NaN: -127). */
static inline float iq_level(float t2) {
    float v = -127.0f;
    for (int k = 0; k < 15; k++) v += t2 > iq_mid2[k] ? iq_step[k] : 0.0f;
    return v;
}

/* Index of the level nearest to t given as t2 = 2t (ties to the lower level; NaN: 0). */
static inline int iq_index(float t2) {
    int k = 0;
    for (int m = 0; m < 15; m++) k += t2 > iq_mid2[m];
    return k;
}

/* Non-finite inputs cannot be represented; keep the output finite: NaN -> 0, inf -> +-FLT_MAX. */
static inline float iq_sanitize(float v) {
    if (v != v) return 0.0f;
    if (v > FLT_MAX) return FLT_MAX;
    if (v < -FLT_MAX) return -FLT_MAX;
    return v;
}

/* Copies n values into x scaled by 2^-e so the largest magnitude lies in [0.5, 1); *e is the
 * exponent. Returns false (x all zero) when every value is zero or NaN. */
static bool iq_prepare(const float *src, float *x, int n, int *e) {
    float amax = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = iq_sanitize(src[i]);
        const float a = fabsf(x[i]);
        amax = a > amax ? a : amax;
    }
    *e = 0;
    if (amax == 0.0f) return false;
    (void)frexpf(amax, e);
    if (*e >= -120 && *e <= 120) {
        const float s = ldexpf(1.0f, -*e);
        for (int i = 0; i < n; i++) x[i] *= s; /* exact: a power of two, results normal */
    } else {
        for (int i = 0; i < n; i++) x[i] = ldexpf(x[i], -*e);
    }
    return true;
}

/* A scale given in the scaled domain as the nearest half (saturated to the largest finite
 * half), and back: the scaled-domain value the stored half stands for. */
static inline qs_fp16 iq_half(double v, int e) { return qs_half_saturated(ldexp(v, e)); }
static inline float iq_unhalf(qs_fp16 h, int e) { return ldexpf(qs_fp16_to_f32(h), -e); }

/* ------------------------------------------------------------------------------------------ */
/* Scale search for one group                                                                 */

/* Fan: trial targets for the largest |x| run from end - IQ_FAN_IN to end + IQ_FAN_OUT in table
 * units, in IQ_LANES / 2 steps, at both ends of the table. */
#define IQ_FAN_IN 16.0f
#define IQ_FAN_OUT 8.0f
#define IQ_POLISH 4

/* Best continuous scale of one group (0 for an all-zero group). */
static float iq_group_scale(const float *x, const float *w) {
    float xm = 0.0f, amax = 0.0f;
    for (int j = 0; j < IQ_GROUP; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            xm = x[j];
        }
    }
    if (amax == 0.0f) return 0.0f;

    /* the trials side by side: lane c sums its elements in order */
    float inv2[IQ_LANES], a_vx[IQ_LANES], a_vv[IQ_LANES];
    for (int c = 0; c < IQ_LANES; c++) {
        const int side = c / (IQ_LANES / 2), k = c % (IQ_LANES / 2);
        const float end = side == 0 ? -127.0f : 113.0f;
        const float target = fabsf(end) - IQ_FAN_IN +
                             (IQ_FAN_IN + IQ_FAN_OUT) * (float)k / (float)(IQ_LANES / 2 - 1);
        inv2[c] = 2.0f * (end < 0.0f ? -target : target) / xm;
        a_vx[c] = a_vv[c] = 0.0f;
    }
    for (int j = 0; j < IQ_GROUP; j++) {
        const float xj = x[j], wj = w[j];
        for (int c = 0; c < IQ_LANES; c++) {
            const float v = iq_level(xj * inv2[c]), wv = wj * v;
            a_vx[c] += wv * xj;
            a_vv[c] += wv * v;
        }
    }
    float best_vx = 0.0f, best_vv = 0.0f, best_d = 0.0f; /* drop = vx^2 / vv */
    for (int c = 0; c < IQ_LANES; c++) {
        if (!(a_vv[c] > 0.0f)) continue;
        if (best_vv == 0.0f || a_vx[c] * a_vx[c] * best_vv > best_vx * best_vx * a_vv[c]) {
            best_vx = a_vx[c];
            best_vv = a_vv[c];
            best_d = a_vx[c] / a_vv[c];
        }
    }
    /* polish: nearest levels for the fitted scale (elements side by side), refit */
    for (int it = 0; it < IQ_POLISH && best_d != 0.0f; it++) {
        const float i2 = 2.0f / best_d;
        float v[IQ_GROUP];
        for (int j = 0; j < IQ_GROUP; j++) v[j] = iq_level(x[j] * i2);
        float svx = 0.0f, svv = 0.0f;
        for (int j = 0; j < IQ_GROUP; j++) {
            const float wv = w[j] * v[j];
            svx += wv * x[j];
            svv += wv * v[j];
        }
        if (!(svv > 0.0f) || !(svx * svx * best_vv > best_vx * best_vx * svv)) break;
        best_vx = svx;
        best_vv = svv;
        best_d = svx / svv;
    }
    return best_d;
}

/* Weighted squared error of a group stored with float scale s, as the dequantizer computes
 * s * V[c] (the error of each value on its own, then summed in order). With codes != NULL the
 * nearest codes are also written, each checked against both neighbouring levels. */
static float iq_stored_error(const float *x, const float *w, float s, uint8_t *codes) {
    float e2[IQ_GROUP];
    const float i2 = s != 0.0f ? 2.0f / s : 0.0f;
    for (int j = 0; j < IQ_GROUP; j++) {
        const float r = x[j] - s * iq_level(x[j] * i2); /* s = 0: level 1, value 0 */
        e2[j] = r * r;
    }
    float err = 0.0f;
    for (int j = 0; j < IQ_GROUP; j++) err += w[j] * e2[j];
    if (codes) {
        for (int j = 0; j < IQ_GROUP; j++) {
            int c = s != 0.0f ? iq_index(x[j] * i2) : 8;
            double best = fabs((double)x[j] - (double)(s * iq_val[c]));
            for (int k = c - 1; k <= c + 1; k += 2) {
                if (k < 0 || k > 15) continue;
                const double r = fabs((double)x[j] - (double)(s * iq_val[k]));
                if (r < best) best = r, c = k;
            }
            codes[j] = (uint8_t)c;
        }
    }
    return err;
}

/* ------------------------------------------------------------------------------------------ */
/* IQ4_NL                                                                                     */

void IQ_FN(iq4_nl)(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / IQ_GROUP; i++, b += sizeof(qs_block_iq4_nl)) {
        float x[IQ_GROUP], w[IQ_GROUP];
        uint8_t codes[IQ_GROUP] = {0};
        qs_fp16 best_h = 0;
        int e = 0;
        if (iq_prepare(src + i * IQ_GROUP, x, IQ_GROUP, &e)) {
            qs_block_weights(importance ? importance + i * IQ_GROUP : NULL, w, IQ_GROUP);
            const qs_fp16 h = iq_half(iq_group_scale(x, w), e);
            const qs_fp16 cand[3] = {h, qs_half_step(h, -1), qs_half_step(h, +1)};
            float best_err = INFINITY;
            for (int c = 0; c < 3; c++) {
                const float err = iq_stored_error(x, w, iq_unhalf(cand[c], e), NULL);
                if (c == 0 || err < best_err) {
                    best_err = err;
                    best_h = cand[c];
                }
            }
            (void)iq_stored_error(x, w, iq_unhalf(best_h, e), codes);
        } else {
            for (int j = 0; j < IQ_GROUP; j++) codes[j] = 8; /* level 1 times d = 0 */
        }
        memcpy(b + offsetof(qs_block_iq4_nl, d), &best_h, sizeof best_h);
        uint8_t *qs = b + offsetof(qs_block_iq4_nl, qs);
        for (int j = 0; j < IQ_GROUP / 2; j++) qs[j] = (uint8_t)(codes[j] | codes[j + IQ_GROUP / 2] << 4);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* IQ4_XS                                                                                     */

#define IQ_XS_FAN 2        /* super-scale candidates per sign */
#define IQ_XS_FAN_STEP 1.0 /* in scale-code units */

/* One super-scale candidate d (scaled domain): for every group the better of the two scale
 * codes around scale[g] / d. Fills l[] (signed, -32..31); returns the total weighted error. */
static float iq_xs_try(const float *x, const float *w, const float *scale, float d, int *l) {
    float total = 0.0f;
    for (int g = 0; g < IQ_NGROUP; g++) {
        const float *xg = x + g * IQ_GROUP, *wg = w + g * IQ_GROUP;
        int k0 = 0, k1 = 0;
        if (d != 0.0f) {
            const float t = scale[g] / d;
            k0 = !(t > -32.0f) ? -32 : t >= 31.0f ? 31 : (int)(t + 32.0f) - 32; /* floor */
            k1 = k0 < 31 ? k0 + 1 : k0;
        }
        float best = INFINITY;
        for (int k = k0; k <= k1; k++) {
            const float err = iq_stored_error(xg, wg, d * (float)k, NULL);
            if (k == k0 || err < best) {
                best = err;
                l[g] = k;
            }
        }
        total += best;
    }
    return total;
}

void IQ_FN(iq4_xs)(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QS_QK_K; i++, b += sizeof(qs_block_iq4_xs)) {
        float x[QS_QK_K], w[QS_QK_K], scale[IQ_NGROUP];
        int l[IQ_NGROUP] = {0};
        uint8_t codes[QS_QK_K];
        qs_fp16 best_h = 0;
        int e = 0;
        if (iq_prepare(src + i * QS_QK_K, x, QS_QK_K, &e)) {
            qs_block_weights(importance ? importance + i * QS_QK_K : NULL, w, QS_QK_K);
            float smax = 0.0f;
            for (int g = 0; g < IQ_NGROUP; g++) {
                scale[g] = iq_group_scale(x + g * IQ_GROUP, w + g * IQ_GROUP);
                if (fabsf(scale[g]) > fabsf(smax)) smax = scale[g];
            }
            /* super-scales that put the largest group scale on the scale code -32 or 31, or a
             * little inside (the ends are where the group scales are coarsest) */
            qs_fp16 cand[2 * IQ_XS_FAN];
            int nc = 0;
            for (int k = 0; k < IQ_XS_FAN; k++) {
                cand[nc++] = iq_half((double)smax / -(32.0 - IQ_XS_FAN_STEP * k), e);
                cand[nc++] = iq_half((double)smax / (31.0 - IQ_XS_FAN_STEP * k), e);
            }
            int tl[IQ_NGROUP];
            float best_err = INFINITY;
            for (int c = 0; c < nc; c++) {
                const float err = iq_xs_try(x, w, scale, iq_unhalf(cand[c], e), tl);
                if (c == 0 || err < best_err) {
                    best_err = err;
                    best_h = cand[c];
                    memcpy(l, tl, sizeof tl);
                }
            }
            /* joint refit of d over the chosen scale codes and levels */
            const float d = iq_unhalf(best_h, e);
            float sux = 0.0f, suu = 0.0f;
            for (int g = 0; g < IQ_NGROUP; g++) {
                const float s = d * (float)l[g], i2 = s != 0.0f ? 2.0f / s : 0.0f;
                for (int j = g * IQ_GROUP; j < (g + 1) * IQ_GROUP; j++) {
                    const float u = (float)l[g] * iq_level(x[j] * i2), wu = w[j] * u;
                    sux += wu * x[j];
                    suu += wu * u;
                }
            }
            if (suu > 0.0f) {
                const qs_fp16 h = iq_half((double)sux / (double)suu, e);
                const float err = iq_xs_try(x, w, scale, iq_unhalf(h, e), tl);
                if (err < best_err) {
                    best_h = h;
                    memcpy(l, tl, sizeof tl);
                }
            }
            const float db = iq_unhalf(best_h, e);
            for (int g = 0; g < IQ_NGROUP; g++)
                (void)iq_stored_error(x + g * IQ_GROUP, w + g * IQ_GROUP, db * (float)l[g], codes + g * IQ_GROUP);
        } else {
            memset(codes, 8, sizeof codes);
        }
        uint16_t sh = 0;
        uint8_t *sl = b + offsetof(qs_block_iq4_xs, scales_l);
        memset(sl, 0, IQ_NGROUP / 2);
        for (int g = 0; g < IQ_NGROUP; g++) {
            const unsigned u = (unsigned)(l[g] + 32);
            sl[g / 2] |= (uint8_t)((u & 0x0f) << (4 * (g % 2)));
            sh |= (uint16_t)((u >> 4) << (2 * g));
            uint8_t *qs = b + offsetof(qs_block_iq4_xs, qs) + g * IQ_GROUP / 2;
            const uint8_t *cg = codes + g * IQ_GROUP;
            for (int j = 0; j < IQ_GROUP / 2; j++) qs[j] = (uint8_t)(cg[j] | cg[j + IQ_GROUP / 2] << 4);
        }
        memcpy(b + offsetof(qs_block_iq4_xs, d), &best_h, sizeof best_h);
        memcpy(b + offsetof(qs_block_iq4_xs, scales_h), &sh, sizeof sh);
    }
}
