/* qs_quant_kq_impl.h — the K-quant quantizers' search (Q2_K .. Q6_K), compiled once per SIMD
 * level (internal to quant/).
 *
 * Included by qs_kquants.c (scalar), qs_quant_kq_avx2.c and qs_quant_kq_avx512.c, each with
 * KQ_FN(t) naming its entry points (qs_quant_<t>_scalar, ..._avx2, ..._avx512). The code is
 * plain C whose inner loops the compiler vectorizes for the level it is built for. No loop
 * reassociates a sum, and FP contraction stays off (GCC in ISO C mode; the pragma for clang),
 * so every level performs the same IEEE operations in the same order and writes the same
 * bytes; tests/test_quant_kquants.c checks that on every level the CPU can run.
 * Every function here is a pure function of its arguments: safe from any thread. */
#ifndef KQ_FN
#error "define KQ_FN(t) before including qs_quant_kq_impl.h"
#endif

#include "qs_formats.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

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

/* Largest |x| of 16 values, in 8 lanes (max is exact in any order; inputs are never NaN). */
static inline float kq_amax16(const float *x) {
    float m[8];
    for (int k = 0; k < 8; k++) m[k] = fabsf(x[k]);
    for (int k = 0; k < 8; k++) m[k] = kq_max(m[k], fabsf(x[k + 8]));
    float r = m[0];
    for (int k = 1; k < 8; k++) r = kq_max(r, m[k]);
    return r;
}

/* Inner loops run in 8 lanes, either 8 elements with a partial sum each or 8 candidates side
 * by side over the same elements; the compiler turns both into vector code without
 * reassociating anything, so results do not depend on the vector width. */
#define KQ_LANES 8

static inline float kq_lane_sum(const float *acc) {
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* Loops with the candidates in the lanes are written with GCC/clang vector extensions: left
 * to itself the compiler unrolls the 8 candidates and vectorizes across elements instead,
 * finishing every sum with scalar extracts. Each lane does exactly the scalar arithmetic
 * (no FP contraction, selects not min/max instructions with other NaN rules), and the types
 * lower to whatever registers the level has (two SSE halves, one AVX register). Macros, not
 * functions: 32-byte vector arguments would change the ABI of the baseline build. */
#if defined(__AVX__)
#define KQ_VEC 1
typedef float kq_v8 __attribute__((vector_size(32)));
typedef int32_t kq_v8i __attribute__((vector_size(32)));
#define KQ_V8_SET1(v) ((kq_v8){(v), (v), (v), (v), (v), (v), (v), (v)})
/* lane-wise m ? a : b for a comparison result m */
#define KQ_V8_SEL(m, a, b) ((kq_v8)(((m) & (kq_v8i)(a)) | (~(m) & (kq_v8i)(b))))
#define KQ_V8_LOAD(dst, p) memcpy(&(dst), (p), sizeof(kq_v8))
#define KQ_V8_STORE(p, v) memcpy((p), &(v), sizeof(kq_v8))
#define KQ_MAGIC 12582912.0f /* kq_rint's constant */
#else
/* Without AVX the 32-byte vectors would be split through memory: the same loops in plain C,
 * which the compiler keeps per lane on SSE. */
#define KQ_VEC 0
#endif

/* Rounds of "refit the fp16 factors, re-pick the integers" after the first pick. */
#define KQ_REFITS 3

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

/* A factor below fp16's normal range (2^-14) keeps only a few significant bits there. Returns
 * the smallest normal half (in the scaled domain, with v's sign) for such a v, else v: the
 * solvers then also try that factor, with smaller integers under it. */
static float kq_normal_floor(float v, int e) {
    const float real = ldexpf(v, e);
    if (real != 0.0f && fabsf(real) < 0x1p-14f) return copysignf(ldexpf(0x1p-14f, -e), v);
    return v;
}

/* ======================================================================================== */
/* Affine formats (Q2_K, Q4_K, Q5_K): y = d*sc*q - dmin*m                                    */
/* ======================================================================================== */

typedef struct kq_affine_fmt {
    int nsub;      /* sub-blocks per super-block */
    int len;       /* values per sub-block */
    int qmax;      /* quants are 0..qmax */
    int smax;      /* sub-block scales and mins are 0..smax */
    float cand_lo; /* the KQ_LANES candidates for a sub-block's ideal map its range onto */
    float cand_step; /* qmax + cand_lo + c*cand_step quant steps */
    int srad;   /* first pick: integer scales tried on each side of the ideal */
    float mrad; /* first pick: integer mins tried on each side of the ideal, at most */
} kq_affine_fmt;

static const kq_affine_fmt kq_fmt_q2_K = {16, 16, 3, 15, -0.5f, 0.2f, 2, 3.0f};
static const kq_affine_fmt kq_fmt_q4_K = {8, 32, 15, 63, -1.0f, 0.25f, 3, 4.0f};
static const kq_affine_fmt kq_fmt_q5_K = {8, 32, 31, 63, -0.5f, 0.2f, 3, 5.0f};

typedef struct kq_affine_q {
    qs_fp16 d, dmin;
    uint8_t sc[16], mn[16];
    uint8_t q[QK];
    double err; /* weighted squared error in the scaled domain */
} kq_affine_q;

/* For one scale step d1 and the integer mins mlo..mhi (min value dmin*mi): the weighted
 * squared error of a sub-block reconstructed as d1*q - m1, q = round((x+m1)/d1) clamped to
 * 0..qmax (q = 0 throughout when d1 is 0), exactly as dequantization computes it. Each error
 * is summed in KQ_LANES partial sums (element i into sum i % KQ_LANES, in order) combined by
 * kq_lane_sum's tree. The smallest error below *best updates *best and *bm (first one on
 * ties); returns whether any did. */
static bool kq_affine_errs(const float *x, const float *w, int len, float qmax, float d1,
                           float dmin, int mlo, int mhi, float *best, int *bm) {
    const float inv = d1 != 0.0f ? 1.0f / d1 : 0.0f;
#if KQ_VEC
    const kq_v8 vinv = KQ_V8_SET1(inv), vd1 = KQ_V8_SET1(d1), zero = KQ_V8_SET1(0.0f),
                vtop = KQ_V8_SET1(qmax), magic = KQ_V8_SET1(KQ_MAGIC);
#endif
    bool found = false;
    for (int mi = mlo; mi <= mhi; mi++) {
#if KQ_VEC
        const kq_v8 m1 = KQ_V8_SET1(dmin * (float)mi);
        kq_v8 acc = zero;
        for (int i = 0; i < len; i += KQ_LANES) {
            kq_v8 xv, wv;
            KQ_V8_LOAD(xv, x + i);
            KQ_V8_LOAD(wv, w + i);
            kq_v8 v = (xv + m1) * vinv;
            v = KQ_V8_SEL(v > zero, v, zero);
            v = KQ_V8_SEL(v < vtop, v, vtop);
            const kq_v8 r = vd1 * ((v + magic) - magic) - m1 - xv;
            acc += wv * r * r;
        }
        const float err = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
#else
        const float m1 = dmin * (float)mi;
        float acc[KQ_LANES] = {0};
        for (int i = 0; i < len; i += KQ_LANES) {
            for (int k = 0; k < KQ_LANES; k++) {
                float v = (x[i + k] + m1) * inv;
                v = v > 0.0f ? v : 0.0f;
                v = v < qmax ? v : qmax;
                const float r = d1 * kq_rint(v) - m1 - x[i + k];
                acc[k] += w[i + k] * r * r;
            }
        }
        const float err = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
#endif
        if (err < *best) {
            *best = err;
            *bm = mi;
            found = true;
        }
    }
    return found;
}

/* Quants of a sub-block for d1, m1 (computed in a local array: stores through uint8_t may
 * alias anything, which would keep the compiler from vectorizing the loop). */
static void kq_affine_quants(const float *x, int len, int qmax, float d1, float m1, uint8_t *l) {
    const float inv = d1 != 0.0f ? 1.0f / d1 : 0.0f, top = (float)qmax;
    float qf[32];
    uint8_t q[32];
    for (int i = 0; i < len; i++) {
        float v = (x[i] + m1) * inv;
        v = v > 0.0f ? v : 0.0f;
        v = v < top ? v : top;
        qf[i] = kq_rint(v);
    }
    for (int i = 0; i < len; i++) q[i] = (uint8_t)(int)qf[i];
    memcpy(l, q, (size_t)len);
}

/* Ideal real scale s >= 0 and min m >= 0 (y = s*q - m) of one sub-block: each of KQ_LANES
 * candidate quant ranges gives quants (evaluated side by side, one per lane), a weighted
 * least-squares fit of (s, m) to them gives the error, and the best fit wins. */
static void kq_affine_ideal(const kq_affine_fmt *f, const float *x, const float *w, float *s_out,
                            float *m_out) {
    const int len = f->len;
    float lo = x[0], hi = x[0], sw = 0.0f, swx = 0.0f, swxx = 0.0f;
    for (int i = 0; i < len; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        sw += w[i];
        swx += w[i] * x[i];
        swxx += w[i] * x[i] * x[i];
    }
    if (lo > 0.0f) lo = 0.0f; /* the format's offset -dmin*m is never positive */
    if (!(hi > lo)) {         /* constant non-positive values: the min alone represents them */
        *s_out = 0.0f;
        *m_out = -lo;
        return;
    }
    const float qmax = (float)f->qmax;
    /* quants round((x - lo) * inv[c]); x >= lo already, and clamping x at xhi[c] clamps the
     * quant at qmax (with a run-time bound, so the loop stays vectorizable) */
    float inv[KQ_LANES], xhi[KQ_LANES], a_l[KQ_LANES], a_ll[KQ_LANES], a_xl[KQ_LANES];
    for (int c = 0; c < KQ_LANES; c++) {
        inv[c] = (qmax + f->cand_lo + f->cand_step * (float)c) / (hi - lo);
        xhi[c] = lo + qmax / inv[c];
        a_l[c] = a_ll[c] = a_xl[c] = 0.0f;
    }
#if KQ_VEC
    {
        /* lane c: v = min(x, xhi); l = kq_rint((v - lo) * inv); sums of w*l, w*l*l, w*l*x */
        kq_v8 vinv, vxhi, sl, sll, sxl;
        const kq_v8 magic = KQ_V8_SET1(KQ_MAGIC), vlo = KQ_V8_SET1(lo);
        KQ_V8_LOAD(vinv, inv);
        KQ_V8_LOAD(vxhi, xhi);
        KQ_V8_LOAD(sl, a_l);
        KQ_V8_LOAD(sll, a_ll);
        KQ_V8_LOAD(sxl, a_xl);
        for (int i = 0; i < len; i++) {
            const kq_v8 xi = KQ_V8_SET1(x[i]), wi = KQ_V8_SET1(w[i]);
            const kq_v8 v = KQ_V8_SEL(xi < vxhi, xi, vxhi);
            const kq_v8 l = ((v - vlo) * vinv + magic) - magic, wl = wi * l;
            sl += wl;
            sll += wl * l;
            sxl += wl * xi;
        }
        KQ_V8_STORE(a_l, sl);
        KQ_V8_STORE(a_ll, sll);
        KQ_V8_STORE(a_xl, sxl);
    }
#else
    for (int i = 0; i < len; i++) {
        const float xi = x[i], wi = w[i];
        for (int c = 0; c < KQ_LANES; c++) {
            const float v = xi < xhi[c] ? xi : xhi[c];
            const float l = kq_rint((v - lo) * inv[c]), wl = wi * l;
            a_l[c] += wl;
            a_ll[c] += wl * l;
            a_xl[c] += wl * xi;
        }
    }
#endif
    /* every lane's fit first (branch-free, divisions side by side), then the pick */
    float fs[KQ_LANES], fb[KQ_LANES], fe[KQ_LANES];
    int ok[KQ_LANES];
    for (int c = 0; c < KQ_LANES; c++) {
        const float swl = a_l[c], swll = a_ll[c], swxl = a_xl[c];
        const float det = sw * swll - swl * swl;
        const float dd = det > 0.0f ? det : 1.0f, ll = swll > 0.0f ? swll : 1.0f;
        float sc = (sw * swxl - swl * swx) / dd;
        float b = (swll * swx - swl * swxl) / dd;
        const float sc0 = swxl / ll; /* the format's offset -dmin*m is never positive */
        sc = b > 0.0f ? sc0 : sc;
        b = b > 0.0f ? 0.0f : b;
        ok[c] = det > 0.0f && sc > 0.0f;
        fs[c] = sc;
        fb[c] = b;
        fe[c] = swxx - 2.0f * sc * swxl - 2.0f * b * swx + sc * sc * swll + 2.0f * sc * b * swl +
                b * b * sw;
    }
    float best = INFINITY, bs = (hi - lo) / qmax, bb = lo;
    for (int c = 0; c < KQ_LANES; c++) {
        if (ok[c] && fe[c] < best) {
            best = fe[c];
            bs = fs[c];
            bb = fb[c];
        }
    }
    *s_out = bs;
    *m_out = -bb;
}

/* How widely kq_affine_search looks: integer scales within srad of the target, and integer
 * mins within half a period (d*sc) of the target, at most mrad on each side. */
typedef struct kq_reach {
    int srad;
    float mrad;
} kq_reach;

/* With the factors d, dmin fixed, the best integer scale and min of one sub-block near the
 * real targets (s_t, m_t). For a given scale the error is nearly periodic in the min, with
 * period d*sc, so half a period each side covers every distinct case. Fills the quants;
 * returns the error. */
static float kq_affine_search(const kq_affine_fmt *f, const float *x, const float *w, float d,
                              float dmin, float s_t, float m_t, kq_reach reach, uint8_t *sc_out,
                              uint8_t *mn_out, uint8_t *l_out) {
    const int stop = d > 0.0f ? f->smax : 0, mtop = dmin > 0.0f ? f->smax : 0;
    const int s0 = stop ? kq_qint(s_t / d, 0.0f, (float)stop) : 0;
    const float qmax = (float)f->qmax;
    float best = INFINITY;
    int bs = 0, bm = 0;
    for (int sc = s0 - reach.srad; sc <= s0 + reach.srad; sc++) {
        if (sc < 0 || sc > stop) continue;
        const float d1 = d * (float)sc;
        int mlo = 0, mhi = 0;
        if (mtop) {
            float half = 0.5f * d1 / dmin;
            half = half < reach.mrad ? half : reach.mrad;
            const float c = m_t / dmin;
            mlo = kq_qint(floorf(c - half), 0.0f, (float)mtop);
            mhi = kq_qint(ceilf(c + half), 0.0f, (float)mtop);
        }
        if (kq_affine_errs(x, w, f->len, qmax, d1, dmin, mlo, mhi, &best, &bm)) bs = sc;
    }
    *sc_out = (uint8_t)bs;
    *mn_out = (uint8_t)bm;
    kq_affine_quants(x, f->len, f->qmax, d * (float)bs, dmin * (float)bm, l_out);
    return best;
}

/* With the factors d, dmin fixed, gives every sub-block its best integer scale and min near
 * the targets. Fills r (except d, dmin) and returns the total error. */
static double kq_affine_assign(const kq_affine_fmt *f, const kq_in *in, const float *s_t,
                               const float *m_t, float d, float dmin, kq_reach reach,
                               kq_affine_q *r) {
    double total = 0.0;
    for (int j = 0; j < f->nsub; j++) {
        total += kq_affine_search(f, in->x + j * f->len, in->w + j * f->len, d, dmin, s_t[j],
                                  m_t[j], reach, &r->sc[j], &r->mn[j], r->q + j * f->len);
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

/* From the factors d0, dmin0 (scaled domain, before fp16 rounding) and the per-sub-block
 * targets s_t, m_t: the first wide pick, then refits. */
static void kq_affine_run(const kq_affine_fmt *f, const kq_in *in, const float *s_t,
                          const float *m_t, float d0, float dmin0, kq_affine_q *best) {
    float s[16], m[16];
    memcpy(s, s_t, sizeof s);
    memcpy(m, m_t, sizeof m);
    kq_affine_q cur;
    float d = kq_store_fp16(d0, in->e, &cur.d);
    float dmin = kq_store_fp16(dmin0, in->e, &cur.dmin);
    const kq_reach wide = {f->srad, f->mrad}, near = {1, 1.0f};
    cur.err = kq_affine_assign(f, in, s, m, d, dmin, wide, &cur);
    *best = cur;
    /* Refit the factors to the chosen integers and re-pick the integers nearby, while the
     * error falls. The targets are then the previous pick's real scale and min. */
    for (int it = 0; it < KQ_REFITS; it++) {
        float nd = d, nm = dmin;
        if (!kq_affine_refit(f, in, best, &nd, &nm)) break;
        nd = kq_store_fp16(nd, in->e, &cur.d);
        nm = kq_store_fp16(nm, in->e, &cur.dmin);
        if (nd == d && nm == dmin) break;
        for (int j = 0; j < f->nsub; j++) {
            s[j] = d * (float)best->sc[j];
            m[j] = dmin * (float)best->mn[j];
        }
        d = nd;
        dmin = nm;
        cur.err = kq_affine_assign(f, in, s, m, d, dmin, near, &cur);
        if (!(cur.err < best->err)) break;
        *best = cur;
    }
}

static void kq_affine_solve(const kq_affine_fmt *f, const kq_in *in, kq_affine_q *best) {
    float s[16], m[16], smax = 0.0f, mmax = 0.0f;
    for (int j = 0; j < f->nsub; j++) {
        kq_affine_ideal(f, in->x + j * f->len, in->w + j * f->len, &s[j], &m[j]);
        smax = kq_max(smax, s[j]);
        mmax = kq_max(mmax, m[j]);
    }
    /* the largest ideal scale and min get the largest integers */
    const float d0 = smax / (float)f->smax, m0 = mmax / (float)f->smax;
    kq_affine_run(f, in, s, m, d0, m0, best);
    const float d1 = kq_normal_floor(d0, in->e), m1 = kq_normal_floor(m0, in->e);
    if (d1 != d0 || m1 != m0) {
        kq_affine_q alt;
        kq_affine_run(f, in, s, m, d1, m1, &alt);
        if (alt.err < best->err) *best = alt;
    }
}

/* ======================================================================================== */
/* Symmetric formats (Q3_K, Q6_K): y = d*sc*q                                                */
/* ======================================================================================== */

typedef struct kq_sym_fmt {
    int qlo, qhi;  /* quants */
    int slo, shi;  /* sub-block scales */
    float cand_lo; /* KQ_LANES/2 candidates per end of the quant range: the largest value maps */
    float cand_step; /* to that end widened by cand_lo + k*cand_step */
    int radius; /* integer scales tried on each side of the ideal */
} kq_sym_fmt;

static const kq_sym_fmt kq_fmt_q3_K = {-4, 3, -32, 31, -0.5f, 0.3f, 2};
static const kq_sym_fmt kq_fmt_q6_K = {-32, 31, -128, 127, -0.5f, 0.3f, 16};

#define KQ_SYM_LEN 16
#define KQ_SYM_NSUB 16

typedef struct kq_sym_q {
    qs_fp16 d;
    int8_t sc[KQ_SYM_NSUB];
    int8_t q[QK];
    double err;
} kq_sym_q;

/* For KQ_LANES candidate inverse steps side by side: sums of w*x*q and w*q*q over a sub-block
 * of 16, q = round(clamp(x, lo, hi) * inv). A function of its own so the compiler keeps the
 * candidates in the vector lanes. */
static void kq_sym_fit_sums(const float *x, const float *w, const float *inv, const float *lo,
                            const float *hi, float *a_xl, float *a_ll) {
#if KQ_VEC
    /* lane c: v = clamp(x, lo, hi); q = kq_rint(v * inv); a_xl += w*q*x; a_ll += w*q*q */
    kq_v8 vinv, vlo, vhi, sxl = KQ_V8_SET1(0.0f), sll = KQ_V8_SET1(0.0f);
    const kq_v8 magic = KQ_V8_SET1(KQ_MAGIC);
    KQ_V8_LOAD(vinv, inv);
    KQ_V8_LOAD(vlo, lo);
    KQ_V8_LOAD(vhi, hi);
    for (int i = 0; i < KQ_SYM_LEN; i++) {
        const kq_v8 xi = KQ_V8_SET1(x[i]), wi = KQ_V8_SET1(w[i]);
        kq_v8 v = KQ_V8_SEL(xi > vlo, xi, vlo);
        v = KQ_V8_SEL(v < vhi, v, vhi);
        const kq_v8 q = (v * vinv + magic) - magic, wq = wi * q;
        sxl += wq * xi;
        sll += wq * q;
    }
    KQ_V8_STORE(a_xl, sxl);
    KQ_V8_STORE(a_ll, sll);
#else
    float sxl[KQ_LANES], sll[KQ_LANES];
    for (int c = 0; c < KQ_LANES; c++) sxl[c] = sll[c] = 0.0f;
    for (int i = 0; i < KQ_SYM_LEN; i++) {
        const float xi = x[i], wi = w[i];
        for (int c = 0; c < KQ_LANES; c++) {
            float v = xi > lo[c] ? xi : lo[c];
            v = v < hi[c] ? v : hi[c];
            const float q = kq_rint(v * inv[c]), wq = wi * q;
            sxl[c] += wq * xi;
            sll[c] += wq * q;
        }
    }
    memcpy(a_xl, sxl, sizeof sxl);
    memcpy(a_ll, sll, sizeof sll);
#endif
}

/* Ideal real scale of one sub-block of 16 (y = s*q): candidates put the value of largest
 * magnitude at either end of the quant range, slightly inside or outside it, one candidate
 * per lane; the least-squares scale for each candidate's quants is scored by the error
 * reduction it achieves, swxl^2/swll (the error is swxx minus that). */
static float kq_sym_ideal(const kq_sym_fmt *f, const float *x, const float *w) {
    const float amax = kq_amax16(x);
    if (amax == 0.0f) return 0.0f;
    float mx = 0.0f; /* the first value of largest magnitude */
    for (int i = KQ_SYM_LEN - 1; i >= 0; i--) mx = fabsf(x[i]) == amax ? x[i] : mx;
    /* quants round(x * inv[c]), x first clamped to the range the quant range covers */
    float t[KQ_LANES], inv[KQ_LANES], lo[KQ_LANES], hi[KQ_LANES], a_xl[KQ_LANES], a_ll[KQ_LANES];
    for (int c = 0; c < KQ_LANES; c++) {
        const int neg = c < KQ_LANES / 2, k = neg ? c : c - KQ_LANES / 2;
        /* the negative end (qlo) is one level longer than the positive one */
        const float widen = f->cand_lo + f->cand_step * (float)k;
        t[c] = neg ? (float)f->qlo - widen : (float)f->qhi + widen;
    }
    const float qlo = (float)f->qlo, qhi = (float)f->qhi;
    for (int c = 0; c < KQ_LANES; c++) inv[c] = t[c] / mx;
    for (int c = 0; c < KQ_LANES; c++) {
        const float a = qlo / inv[c], b = qhi / inv[c];
        lo[c] = a < b ? a : b;
        hi[c] = a < b ? b : a;
    }
    kq_sym_fit_sums(x, w, inv, lo, hi, a_xl, a_ll);
    /* every lane's gain and scale first (divisions side by side), then the pick */
    float gain[KQ_LANES], scale[KQ_LANES];
    for (int c = 0; c < KQ_LANES; c++) {
        const float den = a_ll[c] > 0.0f ? a_ll[c] : 1.0f;
        gain[c] = a_xl[c] * a_xl[c] / den;
        scale[c] = a_xl[c] / den;
    }
    float best = 0.0f, bs = mx / (float)f->qlo;
    for (int c = 0; c < KQ_LANES; c++) {
        if (a_ll[c] > 0.0f && a_xl[c] * a_xl[c] > best * a_ll[c]) {
            best = gain[c];
            bs = scale[c];
        }
    }
    return bs;
}

/* Weighted squared errors of a sub-block of 16 reconstructed as d1[c]*q for KQ_LANES steps
 * d1[c] at once, q = round(x/d1) clamped to the format's range (0 throughout when d1 is 0),
 * as dequantization computes it. The lanes are the candidates, so the loop vectorizes with
 * no horizontal sums and each error is summed in element order. x is clamped to the
 * representable range [qlo*d1, qhi*d1] before dividing (which yields the same quants as
 * clamping the quotient): clamping to run-time bounds keeps the compiler from splitting the
 * loop into branches, which would stop it vectorizing. */
static void kq_sym_errs(const kq_sym_fmt *f, const float *x, const float *w, const float *d1,
                        float *err) {
#if KQ_VEC
    /* lane c: inv = d1 != 0 ? 1/d1 : 0; [lo, hi] = the span of d1*qlo and d1*qhi */
    kq_v8 vd1, vacc = KQ_V8_SET1(0.0f);
    const kq_v8 zero = KQ_V8_SET1(0.0f), one = KQ_V8_SET1(1.0f), magic = KQ_V8_SET1(KQ_MAGIC);
    KQ_V8_LOAD(vd1, d1);
    const kq_v8i nz = vd1 != zero;
    const kq_v8 vinv = KQ_V8_SEL(nz, one / KQ_V8_SEL(nz, vd1, one), zero);
    const kq_v8 a = vd1 * KQ_V8_SET1((float)f->qlo), b = vd1 * KQ_V8_SET1((float)f->qhi);
    const kq_v8i altb = a < b;
    const kq_v8 vlo = KQ_V8_SEL(altb, a, b), vhi = KQ_V8_SEL(altb, b, a);
    /* lane c: v = clamp(x, lo, hi); r = d1 * kq_rint(v * inv) - x; acc += w*r*r */
    for (int i = 0; i < KQ_SYM_LEN; i++) {
        const kq_v8 xi = KQ_V8_SET1(x[i]), wi = KQ_V8_SET1(w[i]);
        kq_v8 v = KQ_V8_SEL(xi > vlo, xi, vlo);
        v = KQ_V8_SEL(v < vhi, v, vhi);
        const kq_v8 r = vd1 * ((v * vinv + magic) - magic) - xi;
        vacc += wi * r * r;
    }
    KQ_V8_STORE(err, vacc);
#else
    float inv[KQ_LANES], lo[KQ_LANES], hi[KQ_LANES], acc[KQ_LANES];
    for (int c = 0; c < KQ_LANES; c++) {
        inv[c] = d1[c] != 0.0f ? 1.0f / d1[c] : 0.0f;
        const float a = d1[c] * (float)f->qlo, b = d1[c] * (float)f->qhi;
        lo[c] = a < b ? a : b;
        hi[c] = a < b ? b : a;
        acc[c] = 0.0f;
    }
    for (int i = 0; i < KQ_SYM_LEN; i++) {
        const float xi = x[i], wi = w[i];
        for (int c = 0; c < KQ_LANES; c++) {
            float v = xi > lo[c] ? xi : lo[c];
            v = v < hi[c] ? v : hi[c];
            const float r = d1[c] * kq_rint(v * inv[c]) - xi;
            acc[c] += wi * r * r;
        }
    }
    memcpy(err, acc, sizeof acc);
#endif
}

/* Quants round(x / d1) clamped to [qlo, qhi] of one sub-block of 16 (all 0 when d1 is 0).
 * Computed in a local array first: stores through int8_t may alias anything, which would keep
 * the compiler from vectorizing the loop. */
static inline void kq_sym_quants(const float *x, float qlo, float qhi, float d1, int8_t *out) {
    const float inv = d1 != 0.0f ? 1.0f / d1 : 0.0f;
    float qf[KQ_SYM_LEN];
    int8_t q[KQ_SYM_LEN];
    for (int i = 0; i < KQ_SYM_LEN; i++) {
        float v = x[i] * inv;
        v = v > qlo ? v : qlo;
        v = v < qhi ? v : qhi;
        qf[i] = kq_rint(v);
    }
    for (int i = 0; i < KQ_SYM_LEN; i++) q[i] = (int8_t)(int)qf[i];
    memcpy(out, q, sizeof q);
}

/* With d fixed, gives every sub-block the best integer scale among the 2*radius+1 nearest its
 * target s_t (the window slides inward at the ends of the range). Returns the total error. */
static double kq_sym_assign(const kq_sym_fmt *f, const kq_in *in, const float *s_t, float d,
                            int radius, kq_sym_q *r) {
    double total = 0.0;
    for (int j = 0; j < KQ_SYM_NSUB; j++) {
        const float *x = in->x + j * KQ_SYM_LEN, *w = in->w + j * KQ_SYM_LEN;
        int lo = 0, hi = 0;
        if (d != 0.0f) {
            const int c = kq_qint(s_t[j] / d, (float)f->slo, (float)f->shi);
            lo = c - radius;
            hi = c + radius;
            if (lo < f->slo) hi += f->slo - lo, lo = f->slo;
            if (hi > f->shi) lo -= hi - f->shi, hi = f->shi;
            if (lo < f->slo) lo = f->slo;
        }
        float best = INFINITY;
        int bsc = 0;
        for (int sc0 = lo; sc0 <= hi; sc0 += KQ_LANES) {
            float d1[KQ_LANES], err[KQ_LANES];
            for (int c = 0; c < KQ_LANES; c++) {
                const int sc = sc0 + c <= hi ? sc0 + c : hi; /* past the window: repeat hi */
                d1[c] = d * (float)sc;
            }
            kq_sym_errs(f, x, w, d1, err);
            for (int c = 0; c < KQ_LANES && sc0 + c <= hi; c++) {
                if (err[c] < best) {
                    best = err[c];
                    bsc = sc0 + c;
                }
            }
        }
        r->sc[j] = (int8_t)bsc;
        kq_sym_quants(x, (float)f->qlo, (float)f->qhi, d * (float)bsc, r->q + j * KQ_SYM_LEN);
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

/* From the factor d0 (scaled domain, before fp16 rounding) and the per-sub-block targets
 * s_t: the first wide pick, then refits. */
static void kq_sym_run(const kq_sym_fmt *f, const kq_in *in, const float *s_t, float d0,
                       kq_sym_q *best) {
    float s[KQ_SYM_NSUB];
    memcpy(s, s_t, sizeof s);
    kq_sym_q cur;
    float d = kq_store_fp16(d0, in->e, &cur.d);
    cur.err = kq_sym_assign(f, in, s, d, f->radius, &cur);
    *best = cur;
    /* Refit d to the chosen integers and re-pick them nearby, while the error falls. */
    for (int it = 0; it < KQ_REFITS; it++) {
        float nd = d;
        if (!kq_sym_refit(in, best, &nd)) break;
        nd = kq_store_fp16(nd, in->e, &cur.d);
        if (nd == d) break;
        for (int j = 0; j < KQ_SYM_NSUB; j++) s[j] = d * (float)best->sc[j];
        d = nd;
        cur.err = kq_sym_assign(f, in, s, d, 2 /* nearby */, &cur);
        if (!(cur.err < best->err)) break;
        *best = cur;
    }
}

static void kq_sym_solve(const kq_sym_fmt *f, const kq_in *in, kq_sym_q *best) {
    float s[KQ_SYM_NSUB], sbig = 0.0f;
    for (int j = 0; j < KQ_SYM_NSUB; j++) {
        s[j] = kq_sym_ideal(f, in->x + j * KQ_SYM_LEN, in->w + j * KQ_SYM_LEN);
        if (fabsf(s[j]) > fabsf(sbig)) sbig = s[j];
    }
    /* the largest sub-block scale goes to the longer, negative end of the scale range */
    const float d0 = sbig / (float)f->slo;
    kq_sym_run(f, in, s, d0, best);
    const float d1 = kq_normal_floor(d0, in->e);
    if (d1 != d0) {
        kq_sym_q alt;
        kq_sym_run(f, in, s, d1, &alt);
        if (alt.err < best->err) *best = alt;
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
static inline void kq_unpack_scales_k4(const uint8_t p[12], uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = p[j] & 63;
        mn[j] = p[j + 4] & 63;
        sc[j + 4] = (uint8_t)((p[j + 8] & 15) | ((p[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((p[j + 8] >> 4) | ((p[j + 4] >> 6) << 4));
    }
}

static inline void kq_pack_scales_k4(const uint8_t sc[8], const uint8_t mn[8], uint8_t p[12]) {
    for (int j = 0; j < 4; j++) {
        p[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        p[j + 4] = (uint8_t)((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
        p[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
}

/* Q3_K: sixteen 6-bit scales stored with a +32 bias in 12 bytes. The low nibble of scale j is
 * in byte j%8 (low nibble for j < 8, high for j >= 8); its top two bits are in byte 8 + j%4 at
 * bit 2*(j/4). */
static inline void kq_unpack_scales_q3(const uint8_t p[12], int sc[16]) {
    for (int j = 0; j < 16; j++) {
        const int low = (p[j & 7] >> (4 * (j >> 3))) & 15;
        const int top = (p[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
        sc[j] = (low | (top << 4)) - 32;
    }
}

static inline void kq_pack_scales_q3(const int8_t sc[16], uint8_t p[12]) {
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

/* Packing of 256 codes u (each below 2^bits) into the layouts above, a 32-byte row at a time
 * so the loops vectorize (the same bytes as placing each value by the formulas above). */
static inline void kq_pack_2bit(const uint8_t *u, uint8_t *qs) { /* 64 bytes: Q2_K, Q3_K */
    for (int n = 0; n < 2; n++)
        for (int l = 0; l < 32; l++)
            qs[32 * n + l] = (uint8_t)((u[128 * n + l] & 3) | (u[128 * n + 32 + l] & 3) << 2 |
                                       (u[128 * n + 64 + l] & 3) << 4 | (u[128 * n + 96 + l] & 3) << 6);
}

static inline void kq_pack_4bit(const uint8_t *u, uint8_t *qs) { /* 128 bytes: Q4_K, Q5_K */
    for (int p = 0; p < 4; p++)
        for (int l = 0; l < 32; l++)
            qs[32 * p + l] = (uint8_t)((u[64 * p + l] & 15) | (u[64 * p + 32 + l] & 15) << 4);
}

/* 32-byte mask: bit k of byte l is bit b of code 32k + l (Q3_K's hmask b = 2, Q5_K's qh b = 4). */
static inline void kq_pack_mask(const uint8_t *u, int b, uint8_t *m) {
    for (int l = 0; l < 32; l++) {
        unsigned v = 0;
        for (int k = 0; k < 8; k++) v |= ((unsigned)(u[32 * k + l] >> b) & 1u) << k;
        m[l] = (uint8_t)v;
    }
}

static inline void kq_pack_q6(const uint8_t *u, uint8_t *ql, uint8_t *qh) {
    for (int n = 0; n < 2; n++) {
        const uint8_t *h = u + 128 * n;
        for (int l = 0; l < 32; l++) {
            ql[64 * n + l] = (uint8_t)((h[l] & 15) | (h[64 + l] & 15) << 4);
            ql[64 * n + 32 + l] = (uint8_t)((h[32 + l] & 15) | (h[96 + l] & 15) << 4);
            qh[32 * n + l] = (uint8_t)((h[l] >> 4) | (h[32 + l] >> 4) << 2 | (h[64 + l] >> 4) << 4 |
                                       (h[96 + l] >> 4) << 6);
        }
    }
}

/* ======================================================================================== */
/* Entry points                                                                              */
/* ======================================================================================== */

void KQ_FN(q2_K)(const float *src, void *dst, int64_t n, const float *importance) {
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
            kq_pack_2bit(r.q, blk.qs);
        }
        memcpy(p, &blk, sizeof blk);
    }
}

void KQ_FN(q3_K)(const float *src, void *dst, int64_t n, const float *importance) {
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
        uint8_t u[QK];
        for (int e = 0; e < QK; e++) u[e] = (uint8_t)(r.q[e] + 4); /* 0..7: bit 2 is the high bit */
        kq_pack_2bit(u, blk.qs);
        kq_pack_mask(u, 2, blk.hmask);
        memcpy(p, &blk, sizeof blk);
    }
}

void KQ_FN(q4_K)(const float *src, void *dst, int64_t n, const float *importance) {
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
            kq_pack_4bit(r.q, blk.qs);
        }
        memcpy(p, &blk, sizeof blk);
    }
}

void KQ_FN(q5_K)(const float *src, void *dst, int64_t n, const float *importance) {
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
            kq_pack_4bit(r.q, blk.qs);
            kq_pack_mask(r.q, 4, blk.qh);
        }
        memcpy(p, &blk, sizeof blk);
    }
}

void KQ_FN(q6_K)(const float *src, void *dst, int64_t n, const float *importance) {
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
        uint8_t u[QK];
        for (int e = 0; e < QK; e++) u[e] = (uint8_t)(r.q[e] + 32); /* 0..63 */
        kq_pack_q6(u, blk.ql, blk.qh);
        memcpy(p, &blk, sizeof blk);
    }
}
