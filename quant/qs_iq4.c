/* qs_iq4.c — the 4-bit non-linear formats IQ4_NL and IQ4_XS.
 *
 * What a block means (facts of the GGUF format; layouts in qs_formats.h):
 *   IQ4_NL  32 values:  value = d * V[c]             c a 4-bit code, V the table below
 *   IQ4_XS  256 values in 8 groups of 32:
 *           value = (d * (l - 32)) * V[c]           l the group's 6-bit scale code
 * The four-bit codes of each 32-value group are packed as in Q4_0: byte j holds element j in
 * its low nibble and element j + 16 in its high nibble. In IQ4_XS the low four bits of group
 * b's scale code are nibble (b % 2) of scales_l[b / 2]; its two high bits are bits 2b, 2b + 1
 * of the little-endian 16-bit scales_h.
 *
 * Dequantization does ggml's float operations in ggml's order (for IQ4_XS the group scale
 * d * (l - 32) is rounded to float first), so results are bit-identical.
 *
 * Quantization. For a fixed group scale the best code of each value is the nearest level,
 * whatever the weights, so the search is over scales:
 *   - group scale: a fan of trial scales that put the largest |x| near either end of the
 *     table (the table is lopsided, -127 ... 113, so both signs are worth trying); each trial
 *     takes the nearest levels and refits the scale by weighted least squares; the best fit is
 *     polished by alternating nearest levels and refits;
 *   - IQ4_NL then scores the rounded half scale and its two neighbouring halves exactly as the
 *     dequantizer will reproduce them;
 *   - IQ4_XS tries a few super-scales d, and for each group the two 6-bit codes around its
 *     best scale / d, scoring every group exactly; a joint least-squares refit of d over the
 *     chosen codes gives one more candidate.
 * Uniform weights (importance NULL) minimize the plain squared error. */
#include "qs_formats.h"
#include "qs_quant_util.h"

#include <float.h>
#include <math.h>
#include <stddef.h>

#define GROUP 32

const int8_t qs_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                    1,    13,   25,  38,  53,  69,  89,  113};

/* Sums of neighbouring levels (twice the midpoints): a value t is nearer level k + 1 than
 * level k exactly when 2t > mid2[k]. */
static const int16_t mid2[15] = {-231, -187, -148, -114, -84, -57, -32, -9,
                                 14,   38,   63,   91,   122, 158, 202};

/* Index of the level nearest to t: the number of midpoints below t, found by a four-step
 * binary search (ties go to the lower level; both are equally near; NaN gives 0). */
static int level_index(double t) {
    double t2 = 2.0 * t;
    int k = 0;
    for (int step = 8; step > 0; step >>= 1)
        if (t2 > mid2[k + step - 1]) k += step;
    return k;
}

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */

static float load_half(const uint8_t *p) {
    qs_fp16 h;
    memcpy(&h, p, sizeof h);
    return qs_fp16_to_f32(h);
}

static void store_half(uint8_t *p, qs_fp16 h) { memcpy(p, &h, sizeof h); }



/* Packs the codes of one 32-value group into 16 bytes. */
static void pack_group(const uint8_t *codes, uint8_t *qs) {
    for (int j = 0; j < GROUP / 2; j++) qs[j] = (uint8_t)(codes[j] | codes[j + GROUP / 2] << 4);
}

static void unpack_group(const uint8_t *qs, float scale, float *dst) {
    for (int j = 0; j < GROUP / 2; j++) {
        dst[j] = scale * (float)qs_iq4nl_values[qs[j] & 0x0f];
        dst[j + GROUP / 2] = scale * (float)qs_iq4nl_values[qs[j] >> 4];
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Scale search for one group                                                                 */

/* Levels nearest to x * inv; least-squares scale in *d. Returns the weighted error drop
 * (sum w v x)^2 / sum w v^2 of the fit (error = sum w x^2 - drop), or -1 if degenerate. */
static double group_fit(const float *x, const float *w, double inv, double *d) {
    double svx = 0.0, svv = 0.0;
    for (int j = 0; j < GROUP; j++) {
        double v = qs_iq4nl_values[level_index((double)x[j] * inv)];
        svx += (double)w[j] * v * x[j];
        svv += (double)w[j] * v * v;
    }
    if (!(svv > 0.0)) return -1.0;
    *d = svx / svv;
    return svx * svx / svv;
}

/* Fan width: trial targets for the largest |x| run from end - FAN_IN to end + FAN_OUT in
 * table units, in FAN_STEPS steps, at both ends of the table. */
#define FAN_STEPS 8
#define FAN_IN 16.0
#define FAN_OUT 8.0

/* Best continuous scale of one group (0 for an all-zero group). */
static double group_scale(const float *x, const float *w) {
    float xm = 0.0f, amax = 0.0f;
    for (int j = 0; j < GROUP; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            xm = x[j];
        }
    }
    if (amax == 0.0f) return 0.0;

    double best_drop = -1.0, best_d = 0.0;
    for (int side = 0; side < 2; side++) {
        double end = side == 0 ? qs_iq4nl_values[0] : qs_iq4nl_values[15];
        double sgn = end < 0 ? -1.0 : 1.0;
        for (int k = 0; k < FAN_STEPS; k++) {
            double target = fabs(end) - FAN_IN + (FAN_IN + FAN_OUT) * k / (FAN_STEPS - 1);
            double d = 0.0, drop = group_fit(x, w, sgn * target / (double)xm, &d);
            if (drop > best_drop) {
                best_drop = drop;
                best_d = d;
            }
        }
    }
    for (int it = 0; it < 4 && best_d != 0.0; it++) {
        double d = 0.0, drop = group_fit(x, w, 1.0 / best_d, &d);
        if (!(drop > best_drop)) break;
        best_drop = drop;
        best_d = d;
    }
    return best_d;
}

/* Weighted squared error of a group stored with float scale s (nearest levels into codes). */
static double group_stored_error(const float *x, const float *w, float s, uint8_t *codes) {
    double err = 0.0;
    for (int j = 0; j < GROUP; j++) {
        int c = s != 0.0f ? level_index((double)x[j] / (double)s) : 8; /* level 1: times 0 */
        double e = (double)x[j] - (double)(s * (float)qs_iq4nl_values[c]);
        codes[j] = (uint8_t)c;
        err += (double)w[j] * e * e;
    }
    return err;
}

/* ------------------------------------------------------------------------------------------ */
/* IQ4_NL                                                                                     */

void qs_dequant_iq4_nl(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GROUP; i++, b += sizeof(qs_block_iq4_nl), dst += GROUP) {
        float d = load_half(b + offsetof(qs_block_iq4_nl, d));
        unpack_group(b + offsetof(qs_block_iq4_nl, qs), d, dst);
    }
}

void qs_quant_iq4_nl(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / GROUP; i++, b += sizeof(qs_block_iq4_nl)) {
        const float *x = src + i * GROUP;
        float w[GROUP];
        uint8_t codes[GROUP] = {0}, tmp[GROUP];
        qs_block_weights(importance ? importance + i * GROUP : NULL, w, GROUP);

        qs_fp16 h = qs_half_saturated(group_scale(x, w));
        qs_fp16 cand[3] = {h, qs_half_step(h, -1), qs_half_step(h, +1)};
        double best_err = INFINITY;
        qs_fp16 best_h = 0;
        for (int c = 0; c < 3; c++) {
            double err = group_stored_error(x, w, qs_fp16_to_f32(cand[c]), tmp);
            if (c == 0 || err < best_err) {
                best_err = err;
                best_h = cand[c];
                memcpy(codes, tmp, sizeof tmp);
            }
        }
        store_half(b + offsetof(qs_block_iq4_nl, d), best_h);
        pack_group(codes, b + offsetof(qs_block_iq4_nl, qs));
    }
}

/* ------------------------------------------------------------------------------------------ */
/* IQ4_XS                                                                                     */

#define NGROUP (QS_QK_K / GROUP)
#define XS_FAN 2        /* super-scale candidates per sign */
#define XS_FAN_STEP 1.0 /* in scale-code units */

static int xs_scale_code(const uint8_t *blk, int g) {
    uint16_t sh;
    memcpy(&sh, blk + offsetof(qs_block_iq4_xs, scales_h), sizeof sh);
    int lo = (blk[offsetof(qs_block_iq4_xs, scales_l) + g / 2] >> (4 * (g % 2))) & 0x0f;
    int hi = (sh >> (2 * g)) & 3;
    return lo | hi << 4;
}

void qs_dequant_iq4_xs(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QS_QK_K; i++, b += sizeof(qs_block_iq4_xs)) {
        float d = load_half(b + offsetof(qs_block_iq4_xs, d));
        const uint8_t *qs = b + offsetof(qs_block_iq4_xs, qs);
        for (int g = 0; g < NGROUP; g++, dst += GROUP)
            unpack_group(qs + g * GROUP / 2, d * (float)(xs_scale_code(b, g) - 32), dst);
    }
}

/* One super-scale candidate: for every group the better of the two scale codes around
 * scale[g] / d. Fills l[] (signed, -32..31) and codes; returns the total weighted error. */
static double xs_try(const float *x, const float *w, const double *scale, qs_fp16 hd, int *l,
                     uint8_t *codes) {
    float d = qs_fp16_to_f32(hd);
    double total = 0.0;
    uint8_t tmp[GROUP];
    for (int g = 0; g < NGROUP; g++) {
        const float *xg = x + g * GROUP, *wg = w + g * GROUP;
        int k0 = 0, k1 = 0;
        if (d != 0.0f) {
            double t = scale[g] / (double)d;
            k0 = !(t > -32.0) ? -32 : t >= 31.0 ? 31 : (int)(t + 32.0) - 32; /* floor */
            k1 = k0 < 31 ? k0 + 1 : k0;
        }
        double best = INFINITY;
        for (int k = k0; k <= k1; k++) {
            double err = group_stored_error(xg, wg, d * (float)k, tmp);
            if (k == k0 || err < best) {
                best = err;
                l[g] = k;
                memcpy(codes + g * GROUP, tmp, sizeof tmp);
            }
        }
        total += best;
    }
    return total;
}

void qs_quant_iq4_xs(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QS_QK_K; i++, b += sizeof(qs_block_iq4_xs)) {
        const float *x = src + i * QS_QK_K;
        float w[QS_QK_K];
        double scale[NGROUP], smax = 0.0;
        qs_block_weights(importance ? importance + i * QS_QK_K : NULL, w, QS_QK_K);
        for (int g = 0; g < NGROUP; g++) {
            scale[g] = group_scale(x + g * GROUP, w + g * GROUP);
            if (fabs(scale[g]) > fabs(smax)) smax = scale[g];
        }

        /* super-scales that put the largest group scale on the scale code -32 or 31, or a
         * little inside (the ends are where the group scales are coarsest) */
        qs_fp16 cand[2 * XS_FAN + 1];
        int nc = 0;
        for (int k = 0; k < XS_FAN; k++) {
            cand[nc++] = qs_half_saturated(smax / -(32.0 - XS_FAN_STEP * k));
            cand[nc++] = qs_half_saturated(smax / (31.0 - XS_FAN_STEP * k));
        }

        int l[NGROUP] = {0}, tl[NGROUP];
        uint8_t codes[QS_QK_K] = {0}, tcodes[QS_QK_K];
        double best_err = INFINITY;
        qs_fp16 best_h = 0;
        for (int c = 0; c <= nc; c++) {
            if (c == nc) {
                /* joint refit of d over the chosen scale codes and levels */
                double sux = 0.0, suu = 0.0;
                for (int j = 0; j < QS_QK_K; j++) {
                    double u = (double)l[j / GROUP] * qs_iq4nl_values[codes[j]];
                    sux += (double)w[j] * u * x[j];
                    suu += (double)w[j] * u * u;
                }
                if (!(suu > 0.0)) break;
                cand[nc] = qs_half_saturated(sux / suu);
            }
            double err = xs_try(x, w, scale, cand[c], tl, tcodes);
            if (c == 0 || err < best_err) {
                best_err = err;
                best_h = cand[c];
                memcpy(l, tl, sizeof tl);
                memcpy(codes, tcodes, sizeof tcodes);
            }
        }

        uint16_t sh = 0;
        uint8_t *sl = b + offsetof(qs_block_iq4_xs, scales_l);
        memset(sl, 0, NGROUP / 2);
        for (int g = 0; g < NGROUP; g++) {
            unsigned u = (unsigned)(l[g] + 32);
            sl[g / 2] |= (uint8_t)((u & 0x0f) << (4 * (g % 2)));
            sh |= (uint16_t)((u >> 4) << (2 * g));
            pack_group(codes + g * GROUP, b + offsetof(qs_block_iq4_xs, qs) + g * GROUP / 2);
        }
        store_half(b + offsetof(qs_block_iq4_xs, d), best_h);
        memcpy(b + offsetof(qs_block_iq4_xs, scales_h), &sh, sizeof sh);
    }
}
