/* qs_kquants.c — the K-quant super-block formats: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and Q8_K.
 *
 * A super-block holds 256 values split into sub-blocks (16 of 16 values, or 8 of 32). Each
 * sub-block has a small integer scale (and for the "affine" formats a small integer min), and
 * the super-block stores the fp16 factors those integers multiply:
 *
 *   Q2_K, Q4_K, Q5_K (affine):   y = (d * sc_j) * q - (dmin * m_j),   q in 0..qmax
 *   Q3_K, Q6_K (symmetric):      y = (d * sc_j) * q,                  q in qlo..qhi
 *   Q8_K (activations):          y = d * q,  d a float, q an int8, plus sums of q per 16
 *
 * Dequantization repeats ggml's float operations in ggml's order (the products above are
 * rounded to float one at a time), so results are bit-identical. This file must not be built
 * with -ffast-math or with FP contraction into FMA (the project builds -std=c11, where GCC
 * keeps contraction off).
 *
 * Quantization minimizes the (importance-weighted) squared error of the dequantized values:
 *   1. per sub-block, a bounded search over candidate scales, each followed by a weighted
 *      least-squares fit of scale (and min), gives the real-valued ideal scale and min;
 *   2. the fp16 super-block factors are set from the largest ideal scale / min, and each
 *      sub-block picks, among the integers next to its ideal, the scale (and min) whose
 *      re-rounded quants give the lowest actual error with the fp16 factors as stored;
 *   3. the fp16 factors are refitted by least squares to those integers and quants, and step 2
 *      is repeated while the error keeps falling.
 * Every error is measured on exactly what dequantization will produce. To keep the search free
 * of overflow and underflow, each super-block is first scaled by a power of two so that its
 * largest magnitude lies in [0.5, 1); powers of two leave every rounding decision unchanged. */
#include "qs_formats.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#define QK QS_QK_K

/* ======================================================================================== */
/* Small numeric helpers                                                                     */
/* ======================================================================================== */

/* Nearest integer, ties to even, for |v| < 2^22: adding 1.5 * 2^23 leaves no fraction bits. */
static inline float kq_rint(float v) {
    const float magic = 12582912.0f;
    return (v + magic) - magic;
}

/* v rounded to the nearest integer in [lo, hi]; NaN gives lo. Branch-free so loops vectorize. */
static inline int kq_qint(float v, float lo, float hi) {
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    return (int)kq_rint(v);
}

static inline float kq_max(float a, float b) { return a > b ? a : b; }

/* ======================================================================================== */
/* A super-block prepared for the search                                                     */
/* ======================================================================================== */

typedef struct kq_in {
    float x[QK]; /* the values times 2^-e: max |x| in [0.5, 1) */
    float w[QK]; /* weights, all > 0, mean about 1 */
    int e;       /* the scaling exponent */
} kq_in;

/* Non-finite inputs cannot be represented; keep the output finite: NaN -> 0, inf -> +-FLT_MAX. */
static inline float kq_sanitize(float v) {
    if (v != v) return 0.0f;
    if (v > FLT_MAX) return FLT_MAX;
    if (v < -FLT_MAX) return -FLT_MAX;
    return v;
}

/* Fills in from 256 values and their importance (NULL: uniform). Returns false when every
 * value is zero (the block is then all zeros and needs no search). */
static bool kq_prepare(const float *src, const float *imp, kq_in *in) {
    float amax = 0.0f;
    for (int i = 0; i < QK; i++) {
        float v = kq_sanitize(src[i]);
        in->x[i] = v;
        amax = kq_max(amax, fabsf(v));
    }
    if (amax == 0.0f) return false;

    int e;
    (void)frexpf(amax, &e);
    in->e = e;
    if (e >= -120 && e <= 120) {
        const float s = ldexpf(1.0f, -e);
        for (int i = 0; i < QK; i++) in->x[i] *= s; /* exact: a power of two, results normal */
    } else {
        for (int i = 0; i < QK; i++) in->x[i] = ldexpf(in->x[i], -e);
    }

    /* Weights: scaling all of a super-block's weights by one factor does not change its best
     * quantization, so normalize them to mean 1. A tiny floor keeps every least-squares fit
     * well-posed where the importance is zero, without measurably changing the objective. */
    double sum = 0.0;
    if (imp) {
        for (int i = 0; i < QK; i++) {
            const float v = imp[i];
            in->w[i] = (v > 0.0f && v <= FLT_MAX) ? v : 0.0f;
            sum += in->w[i];
        }
    }
    if (!imp || !(sum > 0.0) || !(sum < HUGE_VAL)) {
        for (int i = 0; i < QK; i++) in->w[i] = 1.0f;
    } else {
        const double inv = (double)QK / sum;
        for (int i = 0; i < QK; i++) in->w[i] = (float)(in->w[i] * inv) + 1e-6f;
    }
    return true;
}

/* Stores a super-block factor given in the scaled domain as fp16 (saturating at the largest
 * finite half) and returns the scaled-domain value the stored half stands for. */
static float kq_store_fp16(float v, int e, qs_fp16 *h) {
    float real = ldexpf(v, e);
    if (!(real == real)) real = 0.0f;
    if (real > 65504.0f) real = 65504.0f;
    if (real < -65504.0f) real = -65504.0f;
    *h = qs_f32_to_fp16(real);
    return ldexpf(qs_fp16_to_f32(*h), -e);
}

/* ======================================================================================== */
/* Affine formats (Q2_K, Q4_K, Q5_K): y = d*sc*q - dmin*m                                    */
/* ======================================================================================== */

typedef struct kq_affine_fmt {
    int nsub;      /* sub-blocks per super-block */
    int len;       /* values per sub-block */
    int qmax;      /* quants are 0..qmax */
    int smax;      /* sub-block scales and mins are 0..smax */
    int ncand;     /* candidate quant ranges tried per sub-block */
    float cand_lo; /* candidates map the sub-block's range onto qmax + cand_lo + k*cand_step */
    float cand_step;
} kq_affine_fmt;

static const kq_affine_fmt kq_fmt_q2_K = {16, 16, 3, 15, 16, -0.5f, 0.1f};
static const kq_affine_fmt kq_fmt_q4_K = {8, 32, 15, 63, 21, -1.0f, 0.1f};
static const kq_affine_fmt kq_fmt_q5_K = {8, 32, 31, 63, 16, -0.5f, 0.1f};

typedef struct kq_affine_q {
    qs_fp16 d, dmin;
    uint8_t sc[16], mn[16];
    uint8_t q[QK];
    double err; /* weighted squared error in the scaled domain */
} kq_affine_q;

/* Weighted least-squares (s, b) for x ~ s*l + b with b <= 0, given the quants l. Returns the
 * error, or +inf when the fit is degenerate. */
static float kq_affine_fit(const float *x, const float *w, const uint8_t *l, int len, float sw,
                           float swx, float swxx, float *s_out, float *b_out) {
    float swl = 0.0f, swll = 0.0f, swxl = 0.0f;
    for (int i = 0; i < len; i++) {
        const float wl = w[i] * (float)l[i];
        swl += wl;
        swll += wl * (float)l[i];
        swxl += wl * x[i];
    }
    const float det = sw * swll - swl * swl;
    if (!(det > 0.0f)) return INFINITY;
    float s = (sw * swxl - swl * swx) / det;
    float b = (swll * swx - swl * swxl) / det;
    if (b > 0.0f) { /* the format's offset is -dmin*m with m >= 0 */
        b = 0.0f;
        s = swxl / swll;
    }
    if (!(s > 0.0f)) return INFINITY;
    *s_out = s;
    *b_out = b;
    return swxx - 2.0f * s * swxl - 2.0f * b * swx + s * s * swll + 2.0f * s * b * swl + b * b * sw;
}

/* Ideal real scale s >= 0 and min m >= 0 (y = s*q - m) of one sub-block. */
static void kq_affine_ideal(const kq_affine_fmt *f, const float *x, const float *w, float *s_out,
                            float *m_out) {
    float lo = x[0], hi = x[0], sw = 0.0f, swx = 0.0f, swxx = 0.0f;
    for (int i = 0; i < f->len; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        sw += w[i];
        swx += w[i] * x[i];
        swxx += w[i] * x[i] * x[i];
    }
    if (lo > 0.0f) lo = 0.0f;
    if (!(hi > lo)) { /* constant non-positive values: the min alone represents them */
        *s_out = 0.0f;
        *m_out = -lo;
        return;
    }
    const float qmax = (float)f->qmax;
    uint8_t l[32], lbest[32];
    float best = INFINITY, bs = (hi - lo) / qmax, bb = lo;
    for (int k = 0; k < f->ncand; k++) {
        const float inv = (qmax + f->cand_lo + f->cand_step * (float)k) / (hi - lo);
        for (int i = 0; i < f->len; i++) l[i] = (uint8_t)kq_qint((x[i] - lo) * inv, 0.0f, qmax);
        float s, b;
        const float err = kq_affine_fit(x, w, l, f->len, sw, swx, swxx, &s, &b);
        if (err < best) {
            best = err;
            bs = s;
            bb = b;
            memcpy(lbest, l, (size_t)f->len);
        }
    }
    /* Alternate re-rounding and refitting from the best candidate while it helps. */
    for (int it = 0; it < 3 && best < INFINITY; it++) {
        const float inv = 1.0f / bs;
        bool changed = false;
        for (int i = 0; i < f->len; i++) {
            l[i] = (uint8_t)kq_qint((x[i] - bb) * inv, 0.0f, qmax);
            changed |= l[i] != lbest[i];
        }
        if (!changed) break;
        float s, b;
        const float err = kq_affine_fit(x, w, l, f->len, sw, swx, swxx, &s, &b);
        if (!(err < best)) break;
        best = err;
        bs = s;
        bb = b;
        memcpy(lbest, l, (size_t)f->len);
    }
    *s_out = bs;
    *m_out = -bb;
}

/* Error of one sub-block with integer scale sc and min mi under the stored factors d, dmin;
 * fills the quants. The reconstruction is computed exactly as dequantization does it. */
static float kq_affine_try(const kq_affine_fmt *f, const float *x, const float *w, float d,
                           float dmin, int sc, int mi, uint8_t *l) {
    const float d1 = d * (float)sc, m1 = dmin * (float)mi;
    const float inv = d1 != 0.0f ? 1.0f / d1 : 0.0f;
    const float qmax = (float)f->qmax;
    float err = 0.0f;
    for (int i = 0; i < f->len; i++) {
        const int q = kq_qint((x[i] + m1) * inv, 0.0f, qmax);
        l[i] = (uint8_t)q;
        const float r = d1 * (float)q - m1 - x[i];
        err += w[i] * r * r;
    }
    return err;
}

/* Candidate integers next to an ideal real value v / unit, inside [0, top]. */
static int kq_near_ints(float v, float unit, int top, int radius, int *out) {
    if (!(unit > 0.0f) || !(v > 0.0f)) {
        out[0] = 0;
        return 1;
    }
    const int c = kq_qint(v / unit, 0.0f, (float)top);
    int n = 0;
    for (int k = c - radius; k <= c + radius; k++)
        if (k >= 0 && k <= top) out[n++] = k;
    return n;
}

/* With the factors d, dmin fixed, gives every sub-block the best integer scale and min near
 * its ideal. Fills r (except d, dmin) and returns the total error. */
static double kq_affine_assign(const kq_affine_fmt *f, const kq_in *in, const float *s_ideal,
                               const float *m_ideal, float d, float dmin, kq_affine_q *r) {
    double total = 0.0;
    for (int j = 0; j < f->nsub; j++) {
        const float *x = in->x + j * f->len, *w = in->w + j * f->len;
        int scs[3], mis[3];
        const int nsc = kq_near_ints(s_ideal[j], d, f->smax, 1, scs);
        const int nmi = kq_near_ints(m_ideal[j], dmin, f->smax, 1, mis);
        float best = INFINITY;
        uint8_t l[32];
        for (int a = 0; a < nsc; a++) {
            for (int b = 0; b < nmi; b++) {
                const float err = kq_affine_try(f, x, w, d, dmin, scs[a], mis[b], l);
                if (err < best) {
                    best = err;
                    r->sc[j] = (uint8_t)scs[a];
                    r->mn[j] = (uint8_t)mis[b];
                    memcpy(r->q + j * f->len, l, (size_t)f->len);
                }
            }
        }
        total += best;
    }
    return total;
}

/* Least-squares factors (d, dmin) for the integers and quants in r. Returns false when the
 * system is degenerate; *dmin stays as given when no sub-block uses a min. */
static bool kq_affine_refit(const kq_affine_fmt *f, const kq_in *in, const kq_affine_q *r,
                            float *d, float *dmin) {
    double saa = 0, sab = 0, sbb = 0, sax = 0, sbx = 0;
    for (int j = 0; j < f->nsub; j++) {
        const double b = (double)r->mn[j];
        for (int i = j * f->len; i < (j + 1) * f->len; i++) {
            const double a = (double)r->sc[j] * (double)r->q[i], w = in->w[i], x = in->x[i];
            saa += w * a * a;
            sab += w * a * b;
            sbb += w * b * b;
            sax += w * a * x;
            sbx += w * b * x;
        }
    }
    if (!(saa > 0.0)) return false;
    const double det = saa * sbb - sab * sab;
    if (sbb > 0.0 && det > 1e-12 * saa * sbb) {
        /* y = d*a - dmin*b: normal equations in (d, dmin) */
        const double nd = (sax * sbb - sab * sbx) / det;
        const double nm = (sax * sab - saa * sbx) / det;
        if (nd > 0.0 && nm >= 0.0) {
            *d = (float)nd;
            *dmin = (float)nm;
            return true;
        }
    }
    const double nd = (sax + (double)*dmin * sab) / saa; /* dmin kept */
    if (!(nd > 0.0)) return false;
    *d = (float)nd;
    return true;
}

static void kq_affine_solve(const kq_affine_fmt *f, const kq_in *in, kq_affine_q *best) {
    float s[16], m[16], smax = 0.0f, mmax = 0.0f;
    for (int j = 0; j < f->nsub; j++) {
        kq_affine_ideal(f, in->x + j * f->len, in->w + j * f->len, &s[j], &m[j]);
        smax = kq_max(smax, s[j]);
        mmax = kq_max(mmax, m[j]);
    }
    kq_affine_q cur;
    float d = kq_store_fp16(smax / (float)f->smax, in->e, &cur.d);
    float dmin = kq_store_fp16(mmax / (float)f->smax, in->e, &cur.dmin);
    cur.err = kq_affine_assign(f, in, s, m, d, dmin, &cur);
    *best = cur;
    for (int it = 0; it < 3; it++) {
        float nd = d, nm = dmin;
        if (!kq_affine_refit(f, in, best, &nd, &nm)) break;
        nd = kq_store_fp16(nd, in->e, &cur.d);
        nm = kq_store_fp16(nm, in->e, &cur.dmin);
        if (nd == d && nm == dmin) break;
        d = nd;
        dmin = nm;
        cur.err = kq_affine_assign(f, in, s, m, d, dmin, &cur);
        if (!(cur.err < best->err)) break;
        *best = cur;
    }
}

/* ======================================================================================== */
/* Symmetric formats (Q3_K, Q6_K): y = d*sc*q                                                */
/* ======================================================================================== */

typedef struct kq_sym_fmt {
    int qlo, qhi;  /* quants */
    int slo, shi;  /* sub-block scales */
    int ncand;     /* candidates per orientation */
    float cand_lo; /* the largest value maps to (qlo or qhi) widened by cand_lo + k*cand_step */
    float cand_step;
    int radius; /* integer scales tried on each side of the ideal */
} kq_sym_fmt;

static const kq_sym_fmt kq_fmt_q3_K = {-4, 3, -32, 31, 12, -0.6f, 0.1f, 2};
static const kq_sym_fmt kq_fmt_q6_K = {-32, 31, -128, 127, 12, -0.6f, 0.1f, 1};

#define KQ_SYM_LEN 16
#define KQ_SYM_NSUB 16

typedef struct kq_sym_q {
    qs_fp16 d;
    int8_t sc[KQ_SYM_NSUB];
    int8_t q[QK];
    double err;
} kq_sym_q;

/* Ideal real scale of one sub-block of 16 (y = s*q). */
static float kq_sym_ideal(const kq_sym_fmt *f, const float *x, const float *w) {
    float amax = 0.0f, mx = 0.0f;
    for (int i = 0; i < KQ_SYM_LEN; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            mx = x[i];
        }
    }
    if (amax == 0.0f) return 0.0f;
    const float qlo = (float)f->qlo, qhi = (float)f->qhi;
    int8_t l[KQ_SYM_LEN];
    float best_gain = 0.0f, bs = mx / qlo; /* gain = swxl^2/swll = swxx - error */
    for (int side = 0; side < 2; side++) {
        /* side 0: the largest magnitude goes to the negative end (qlo, one level longer) */
        const float end = side == 0 ? qlo : qhi;
        const float widen = side == 0 ? -1.0f : 1.0f;
        for (int k = 0; k < f->ncand; k++) {
            const float t = end + widen * (f->cand_lo + f->cand_step * (float)k);
            const float inv = t / mx;
            float swxl = 0.0f, swll = 0.0f;
            for (int i = 0; i < KQ_SYM_LEN; i++) {
                const float q = (float)kq_qint(x[i] * inv, qlo, qhi);
                swxl += w[i] * x[i] * q;
                swll += w[i] * q * q;
            }
            if (swll > 0.0f && swxl * swxl > best_gain * swll) {
                best_gain = swxl * swxl / swll;
                bs = swxl / swll;
            }
        }
    }
    for (int it = 0; it < 3 && bs != 0.0f; it++) { /* re-round and refit while it helps */
        const float inv = 1.0f / bs;
        float swxl = 0.0f, swll = 0.0f;
        for (int i = 0; i < KQ_SYM_LEN; i++) {
            l[i] = (int8_t)kq_qint(x[i] * inv, qlo, qhi);
            swxl += w[i] * x[i] * (float)l[i];
            swll += w[i] * (float)l[i] * (float)l[i];
        }
        if (!(swll > 0.0f) || !(swxl * swxl > best_gain * swll * 1.0000001f)) break;
        best_gain = swxl * swxl / swll;
        bs = swxl / swll;
    }
    return bs;
}

static float kq_sym_try(const kq_sym_fmt *f, const float *x, const float *w, float d, int sc,
                        int8_t *l) {
    const float d1 = d * (float)sc;
    const float inv = d1 != 0.0f ? 1.0f / d1 : 0.0f;
    float err = 0.0f;
    for (int i = 0; i < KQ_SYM_LEN; i++) {
        const int q = kq_qint(x[i] * inv, (float)f->qlo, (float)f->qhi);
        l[i] = (int8_t)q;
        const float r = d1 * (float)q - x[i];
        err += w[i] * r * r;
    }
    return err;
}

static double kq_sym_assign(const kq_sym_fmt *f, const kq_in *in, const float *s_ideal, float d,
                            kq_sym_q *r) {
    double total = 0.0;
    for (int j = 0; j < KQ_SYM_NSUB; j++) {
        const float *x = in->x + j * KQ_SYM_LEN, *w = in->w + j * KQ_SYM_LEN;
        int c = 0;
        if (d != 0.0f) c = kq_qint(s_ideal[j] / d, (float)f->slo, (float)f->shi);
        float best = INFINITY;
        int8_t l[KQ_SYM_LEN];
        for (int sc = c - f->radius; sc <= c + f->radius; sc++) {
            if (sc < f->slo || sc > f->shi) continue;
            const float err = kq_sym_try(f, x, w, d, sc, l);
            if (err < best) {
                best = err;
                r->sc[j] = (int8_t)sc;
                memcpy(r->q + j * KQ_SYM_LEN, l, KQ_SYM_LEN);
            }
        }
        total += best;
    }
    return total;
}

static bool kq_sym_refit(const kq_in *in, const kq_sym_q *r, float *d) {
    double saa = 0.0, sax = 0.0;
    for (int i = 0; i < QK; i++) {
        const double a = (double)r->sc[i / KQ_SYM_LEN] * (double)r->q[i];
        saa += in->w[i] * a * a;
        sax += in->w[i] * a * in->x[i];
    }
    if (!(saa > 0.0)) return false;
    *d = (float)(sax / saa);
    return true;
}

static void kq_sym_solve(const kq_sym_fmt *f, const kq_in *in, kq_sym_q *best) {
    float s[KQ_SYM_NSUB], sbig = 0.0f;
    for (int j = 0; j < KQ_SYM_NSUB; j++) {
        s[j] = kq_sym_ideal(f, in->x + j * KQ_SYM_LEN, in->w + j * KQ_SYM_LEN);
        if (fabsf(s[j]) > fabsf(sbig)) sbig = s[j];
    }
    kq_sym_q cur;
    /* the largest sub-block scale goes to the longer, negative end of the scale range */
    float d = kq_store_fp16(sbig / (float)f->slo, in->e, &cur.d);
    cur.err = kq_sym_assign(f, in, s, d, &cur);
    *best = cur;
    for (int it = 0; it < 3; it++) {
        float nd = d;
        if (!kq_sym_refit(in, best, &nd)) break;
        nd = kq_store_fp16(nd, in->e, &cur.d);
        if (nd == d) break;
        d = nd;
        cur.err = kq_sym_assign(f, in, s, d, &cur);
        if (!(cur.err < best->err)) break;
        *best = cur;
    }
}

/* ======================================================================================== */
/* Bit layouts                                                                               */
/* ======================================================================================== */

/* Q2_K and Q3_K keep 2-bit quants in 64 bytes: value e sits in byte 32*(e/128) + e%32, at bit
 * 2*((e%128)/32). */
static inline int kq_q2_byte(int e) { return 32 * (e / 128) + e % 32; }
static inline int kq_q2_shift(int e) { return 2 * ((e % 128) / 32); }

/* Q4_K and Q5_K keep 4-bit quants in 128 bytes: value e sits in byte 32*(e/64) + e%32, in the
 * low nibble for even sub-blocks of 32 and the high nibble for odd ones. Q5_K's fifth bit and
 * Q3_K's third bit sit in byte e%32 of a 32-byte mask, at bit e/32. */
static inline int kq_q4_byte(int e) { return 32 * (e / 64) + e % 32; }
static inline int kq_q4_shift(int e) { return 4 * ((e / 32) & 1); }

/* Q4_K / Q5_K: eight 6-bit scales and eight 6-bit mins in 12 bytes. Bytes 0-3 hold scales 0-3,
 * bytes 4-7 mins 0-3 (low 6 bits each); bytes 8-11 hold the low nibbles of scale (low) and
 * min (high) 4-7, whose top two bits sit in bits 6-7 of bytes 0-3 (scales) and 4-7 (mins). */
static void kq_unpack_scales_k4(const uint8_t p[12], uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = p[j] & 63;
        mn[j] = p[j + 4] & 63;
        sc[j + 4] = (uint8_t)((p[j + 8] & 15) | ((p[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((p[j + 8] >> 4) | ((p[j + 4] >> 6) << 4));
    }
}

static void kq_pack_scales_k4(const uint8_t sc[8], const uint8_t mn[8], uint8_t p[12]) {
    for (int j = 0; j < 4; j++) {
        p[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        p[j + 4] = (uint8_t)((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
        p[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
}

/* Q3_K: sixteen 6-bit scales stored with a +32 bias in 12 bytes. The low nibble of scale j is
 * in byte j%8 (low nibble for j < 8, high for j >= 8); its top two bits are in byte 8 + j%4 at
 * bit 2*(j/4). */
static void kq_unpack_scales_q3(const uint8_t p[12], int sc[16]) {
    for (int j = 0; j < 16; j++) {
        const int low = (p[j & 7] >> (4 * (j >> 3))) & 15;
        const int top = (p[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
        sc[j] = (low | (top << 4)) - 32;
    }
}

static void kq_pack_scales_q3(const int8_t sc[16], uint8_t p[12]) {
    memset(p, 0, 12);
    for (int j = 0; j < 16; j++) {
        const unsigned u = (unsigned)(sc[j] + 32);
        p[j & 7] |= (uint8_t)((u & 15u) << (4 * (j >> 3)));
        p[8 + (j & 3)] |= (uint8_t)((u >> 4) << (2 * (j >> 2)));
    }
}

/* Q6_K: value e of a 128-value half n = e/128 (r = e%128, quarter t = r/32, lane l = r%32) has
 * its low nibble in ql[64n + l + 32*(t&1)] (low nibble for t < 2, high for t >= 2) and its top
 * two bits in qh[32n + l] at bit 2t. */
static inline int kq_q6_lbyte(int e) { return 64 * (e / 128) + e % 32 + 32 * ((e % 128) / 32 & 1); }
static inline int kq_q6_lshift(int e) { return 4 * ((e % 128) / 64); }
static inline int kq_q6_hbyte(int e) { return 32 * (e / 128) + e % 32; }
static inline int kq_q6_hshift(int e) { return 2 * ((e % 128) / 32); }

/* ======================================================================================== */
/* Q2_K                                                                                      */
/* ======================================================================================== */

void qs_dequant_q2_K(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t b = 0; b < n / QK; b++, p += sizeof(qs_block_q2_K), dst += QK) {
        qs_block_q2_K blk;
        memcpy(&blk, p, sizeof blk);
        const float d = qs_fp16_to_f32(blk.d), dmin = qs_fp16_to_f32(blk.dmin);
        for (int j = 0; j < 16; j++) {
            const float dl = d * (float)(blk.scales[j] & 15);
            const float ml = dmin * (float)(blk.scales[j] >> 4);
            const uint8_t *q = blk.qs + kq_q2_byte(16 * j);
            const int shift = kq_q2_shift(16 * j);
            for (int l = 0; l < 16; l++) dst[16 * j + l] = dl * (float)((q[l] >> shift) & 3) - ml;
        }
    }
}

void qs_quant_q2_K(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *p = dst;
    kq_in in;
    kq_affine_q r;
    for (int64_t b = 0; b < n / QK; b++, src += QK, p += sizeof(qs_block_q2_K)) {
        qs_block_q2_K blk;
        memset(&blk, 0, sizeof blk);
        if (kq_prepare(src, importance ? importance + b * QK : NULL, &in)) {
            kq_affine_solve(&kq_fmt_q2_K, &in, &r);
            blk.d = r.d;
            blk.dmin = r.dmin;
            for (int j = 0; j < 16; j++) blk.scales[j] = (uint8_t)(r.sc[j] | (r.mn[j] << 4));
            for (int e = 0; e < QK; e++) blk.qs[kq_q2_byte(e)] |= (uint8_t)(r.q[e] << kq_q2_shift(e));
        }
        memcpy(p, &blk, sizeof blk);
    }
}

/* ======================================================================================== */
/* Q3_K                                                                                      */
/* ======================================================================================== */

void qs_dequant_q3_K(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t b = 0; b < n / QK; b++, p += sizeof(qs_block_q3_K), dst += QK) {
        qs_block_q3_K blk;
        memcpy(&blk, p, sizeof blk);
        const float d = qs_fp16_to_f32(blk.d);
        int sc[16];
        kq_unpack_scales_q3(blk.scales, sc);
        for (int j = 0; j < 16; j++) {
            const float dl = d * (float)sc[j];
            const uint8_t *q = blk.qs + kq_q2_byte(16 * j);
            const uint8_t *hm = blk.hmask + (16 * j) % 32;
            const int shift = kq_q2_shift(16 * j), hbit = (16 * j) / 32;
            for (int l = 0; l < 16; l++) {
                const int v = ((q[l] >> shift) & 3) - (((hm[l] >> hbit) & 1) ? 0 : 4);
                dst[16 * j + l] = dl * (float)v;
            }
        }
    }
}

void qs_quant_q3_K(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *p = dst;
    kq_in in;
    kq_sym_q r;
    for (int64_t b = 0; b < n / QK; b++, src += QK, p += sizeof(qs_block_q3_K)) {
        qs_block_q3_K blk;
        memset(&blk, 0, sizeof blk);
        if (kq_prepare(src, importance ? importance + b * QK : NULL, &in)) {
            kq_sym_solve(&kq_fmt_q3_K, &in, &r);
        } else {
            memset(&r, 0, sizeof r);
        }
        blk.d = r.d;
        kq_pack_scales_q3(r.sc, blk.scales);
        for (int e = 0; e < QK; e++) {
            const unsigned u = (unsigned)(r.q[e] + 4); /* 0..7: bit 2 is the high bit */
            blk.qs[kq_q2_byte(e)] |= (uint8_t)((u & 3u) << kq_q2_shift(e));
            blk.hmask[e % 32] |= (uint8_t)((u >> 2) << (e / 32));
        }
        memcpy(p, &blk, sizeof blk);
    }
}

/* ======================================================================================== */
/* Q4_K                                                                                      */
/* ======================================================================================== */

void qs_dequant_q4_K(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t b = 0; b < n / QK; b++, p += sizeof(qs_block_q4_K), dst += QK) {
        qs_block_q4_K blk;
        memcpy(&blk, p, sizeof blk);
        const float d = qs_fp16_to_f32(blk.d), dmin = qs_fp16_to_f32(blk.dmin);
        uint8_t sc[8], mn[8];
        kq_unpack_scales_k4(blk.scales, sc, mn);
        for (int j = 0; j < 8; j++) {
            const float d1 = d * (float)sc[j], m1 = dmin * (float)mn[j];
            const uint8_t *q = blk.qs + kq_q4_byte(32 * j);
            const int shift = kq_q4_shift(32 * j);
            for (int l = 0; l < 32; l++) dst[32 * j + l] = d1 * (float)((q[l] >> shift) & 15) - m1;
        }
    }
}

void qs_quant_q4_K(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *p = dst;
    kq_in in;
    kq_affine_q r;
    for (int64_t b = 0; b < n / QK; b++, src += QK, p += sizeof(qs_block_q4_K)) {
        qs_block_q4_K blk;
        memset(&blk, 0, sizeof blk);
        if (kq_prepare(src, importance ? importance + b * QK : NULL, &in)) {
            kq_affine_solve(&kq_fmt_q4_K, &in, &r);
            blk.d = r.d;
            blk.dmin = r.dmin;
            kq_pack_scales_k4(r.sc, r.mn, blk.scales);
            for (int e = 0; e < QK; e++) blk.qs[kq_q4_byte(e)] |= (uint8_t)(r.q[e] << kq_q4_shift(e));
        }
        memcpy(p, &blk, sizeof blk);
    }
}

/* ======================================================================================== */
/* Q5_K                                                                                      */
/* ======================================================================================== */

void qs_dequant_q5_K(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t b = 0; b < n / QK; b++, p += sizeof(qs_block_q5_K), dst += QK) {
        qs_block_q5_K blk;
        memcpy(&blk, p, sizeof blk);
        const float d = qs_fp16_to_f32(blk.d), dmin = qs_fp16_to_f32(blk.dmin);
        uint8_t sc[8], mn[8];
        kq_unpack_scales_k4(blk.scales, sc, mn);
        for (int j = 0; j < 8; j++) {
            const float d1 = d * (float)sc[j], m1 = dmin * (float)mn[j];
            const uint8_t *q = blk.qs + kq_q4_byte(32 * j);
            const int shift = kq_q4_shift(32 * j);
            for (int l = 0; l < 32; l++) {
                const int v = ((q[l] >> shift) & 15) | (((blk.qh[l] >> j) & 1) << 4);
                dst[32 * j + l] = d1 * (float)v - m1;
            }
        }
    }
}

void qs_quant_q5_K(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *p = dst;
    kq_in in;
    kq_affine_q r;
    for (int64_t b = 0; b < n / QK; b++, src += QK, p += sizeof(qs_block_q5_K)) {
        qs_block_q5_K blk;
        memset(&blk, 0, sizeof blk);
        if (kq_prepare(src, importance ? importance + b * QK : NULL, &in)) {
            kq_affine_solve(&kq_fmt_q5_K, &in, &r);
            blk.d = r.d;
            blk.dmin = r.dmin;
            kq_pack_scales_k4(r.sc, r.mn, blk.scales);
            for (int e = 0; e < QK; e++) {
                blk.qs[kq_q4_byte(e)] |= (uint8_t)((r.q[e] & 15) << kq_q4_shift(e));
                blk.qh[e % 32] |= (uint8_t)((r.q[e] >> 4) << (e / 32));
            }
        }
        memcpy(p, &blk, sizeof blk);
    }
}

/* ======================================================================================== */
/* Q6_K                                                                                      */
/* ======================================================================================== */

void qs_dequant_q6_K(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t b = 0; b < n / QK; b++, p += sizeof(qs_block_q6_K), dst += QK) {
        qs_block_q6_K blk;
        memcpy(&blk, p, sizeof blk);
        const float d = qs_fp16_to_f32(blk.d);
        for (int j = 0; j < 16; j++) {
            const float ds = d * (float)blk.scales[j]; /* ggml: (d * sc) * q */
            const int e0 = 16 * j;
            const uint8_t *ql = blk.ql + kq_q6_lbyte(e0), *qh = blk.qh + kq_q6_hbyte(e0);
            const int ls = kq_q6_lshift(e0), hs = kq_q6_hshift(e0);
            for (int l = 0; l < 16; l++) {
                const int v = (((ql[l] >> ls) & 15) | (((qh[l] >> hs) & 3) << 4)) - 32;
                dst[e0 + l] = ds * (float)v;
            }
        }
    }
}

void qs_quant_q6_K(const float *src, void *dst, int64_t n, const float *importance) {
    uint8_t *p = dst;
    kq_in in;
    kq_sym_q r;
    for (int64_t b = 0; b < n / QK; b++, src += QK, p += sizeof(qs_block_q6_K)) {
        qs_block_q6_K blk;
        memset(&blk, 0, sizeof blk);
        if (kq_prepare(src, importance ? importance + b * QK : NULL, &in)) {
            kq_sym_solve(&kq_fmt_q6_K, &in, &r);
        } else {
            memset(&r, 0, sizeof r);
        }
        blk.d = r.d;
        memcpy(blk.scales, r.sc, 16);
        for (int e = 0; e < QK; e++) {
            const unsigned u = (unsigned)(r.q[e] + 32); /* 0..63 */
            blk.ql[kq_q6_lbyte(e)] |= (uint8_t)((u & 15u) << kq_q6_lshift(e));
            blk.qh[kq_q6_hbyte(e)] |= (uint8_t)((u >> 4) << kq_q6_hshift(e));
        }
        memcpy(p, &blk, sizeof blk);
    }
}

/* ======================================================================================== */
/* Q8_K                                                                                      */
/* ======================================================================================== */

void qs_dequant_q8_K(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t b = 0; b < n / QK; b++, p += sizeof(qs_block_q8_K), dst += QK) {
        qs_block_q8_K blk;
        memcpy(&blk, p, sizeof blk);
        for (int i = 0; i < QK; i++) dst[i] = blk.d * (float)blk.qs[i];
    }
}

/* Q8_K is the activation format the K-quant dot products take, so it is produced exactly as
 * ggml does: the value of largest magnitude (the first one, on ties) maps to -127, the others
 * round (ties to even) by the same inverse scale, and d = 1/inverse. The importance is ignored:
 * activations have none. */
void qs_quant_q8_K(const float *src, void *dst, int64_t n, const float *importance) {
    (void)importance;
    uint8_t *p = dst;
    for (int64_t b = 0; b < n / QK; b++, src += QK, p += sizeof(qs_block_q8_K)) {
        qs_block_q8_K blk;
        memset(&blk, 0, sizeof blk);
        float x[QK], amax = 0.0f, mx = 0.0f;
        for (int i = 0; i < QK; i++) {
            x[i] = kq_sanitize(src[i]);
            if (fabsf(x[i]) > amax) {
                amax = fabsf(x[i]);
                mx = x[i];
            }
        }
        if (amax > 0.0f) {
            const float iscale = -127.0f / mx;
            if (fabsf(iscale) <= FLT_MAX) {
                for (int i = 0; i < QK; i++)
                    blk.qs[i] = (int8_t)kq_qint(iscale * x[i], -128.0f, 127.0f);
                blk.d = 1.0f / iscale;
            } else { /* |mx| so small that 127/mx overflows: divide instead */
                for (int i = 0; i < QK; i++)
                    blk.qs[i] = (int8_t)kq_qint(-127.0f * (x[i] / mx), -128.0f, 127.0f);
                blk.d = mx / -127.0f;
            }
            for (int j = 0; j < 16; j++) {
                int sum = 0;
                for (int i = 0; i < 16; i++) sum += blk.qs[16 * j + i];
                blk.bsums[j] = (int16_t)sum;
            }
        }
        memcpy(p, &blk, sizeof blk);
    }
}
