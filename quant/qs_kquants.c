/* K-quants: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (super-blocks of 256) and Q8_K (activations).
 *
 * Every K-type splits a super-block into contiguous sub-blocks (16 values for Q2_K/Q3_K/Q6_K,
 * 32 for Q4_K/Q5_K) in natural element order; only the bit packing scatters them. So the
 * quantizers work in natural order — integer codes L[256] plus one integer scale (and min) per
 * sub-block — and a per-type pack/unpack step maps to and from the bytes.
 *
 * Two value models:
 *   affine   x ~ d*sc*q - dmin*m,  q in [0, nmax], sc and m small unsigned ints   (Q2_K, Q4_K, Q5_K)
 *   signed   x ~ d*sc*q,           q in [qmin, qmax], sc a signed int            (Q3_K, Q6_K)
 * The quantizers minimise the squared error weighted by the importance (1 when none) over the
 * whole super-block: a per-sub-block search for the real-valued scale, then the super-block scales
 * (d, dmin), then the integer sub-block scales, then a few rounds of re-fitting d/dmin by least
 * squares against the final integer codes, keeping a change only when the error really drops
 * (measured on the fp16-rounded values the dequantizer will use). */
#include <math.h>
#include <string.h>

#include "qs_formats.h"

#define QK QS_QK_K

/* fp16 rounding of a scale, saturating at the largest finite half so a scale never becomes inf. */
static float fp16_round(float v) {
    float r = qs_fp16_to_f32(qs_f32_to_fp16(v));
    return isinf(r) ? (r > 0 ? 65504.0f : -65504.0f) : r;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Nearest integer, ties away from zero: a fixed rule so results do not depend on the FPU mode.
 * Inline (no libm call: this is the quantizers' inner loop); the clamp keeps the conversion
 * defined for any input, and every caller clamps the code to a small range afterwards. */
static inline int nearest(float v) {
    v = v > 1e6f ? 1e6f : v < -1e6f ? -1e6f : v; /* also maps NaN to -1e6 below */
    if (!(v == v)) return 0;
    return v >= 0 ? (int)(v + 0.5f) : -(int)(0.5f - v);
}

/* Code of v clamped to [lo, hi] (small integers, |lo|, |hi| < 64), rounded half up: clamping
 * first keeps the conversion defined for any finite v, and the truncating conversion of a
 * positive value vectorises (the search loops below run it for every candidate scale). */
static inline float code_of(float v, float lo, float hi) {
    v = v < lo ? lo : v > hi ? hi : v;
    return (float)((int)(v + 64.5f) - 64);
}

/* ------------------------------------------------------------------ Q4_K / Q5_K scale packing */

/* 8 pairs of 6-bit (scale, min) in 12 bytes: pairs 0..3 in the low 6 bits of bytes 0..3 / 4..7;
 * pairs 4..7 as a nibble in bytes 8..11 plus their top 2 bits in the top of bytes 0..7. */
static void k4_get(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

static void k4_put(uint8_t *s, const int *sc, const int *m) {
    memset(s, 0, QS_K_SCALE_SIZE);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s[j] |= (uint8_t)sc[j];
            s[j + 4] |= (uint8_t)m[j];
        } else {
            s[j + 4] = (uint8_t)((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
            s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            s[j] |= (uint8_t)((m[j] >> 4) << 6);
        }
    }
}

/* Q3_K: 16 signed 6-bit scales stored as s+32: low nibble of scale j in byte j%8 (low nibble for
 * j < 8, high for j >= 8); its top 2 bits in byte 8 + j%4 at bit 2*(j/4). */
static int k3_get(const uint8_t *s, int j) {
    int lo = (s[j % 8] >> (4 * (j / 8))) & 0xF;
    int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | hi << 4) - 32;
}

static void k3_put(uint8_t *s, const int *sc) {
    memset(s, 0, QS_K_SCALE_SIZE);
    for (int j = 0; j < 16; j++) {
        int v = sc[j] + 32;
        s[j % 8] |= (uint8_t)((v & 0xF) << (4 * (j / 8)));
        s[8 + j % 4] |= (uint8_t)(((v >> 4) & 3) << (2 * (j / 4)));
    }
}

/* ------------------------------------------------------------------ code packing (natural order) */

/* Q2_K / Q3_K low bits: element e -> byte (e/128)*32 + e%32, bit 2*((e%128)/32). */
static int k2_code(const uint8_t *qs, int e) { return (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3; }
static void k2_pack(uint8_t *qs, const int *L) {
    memset(qs, 0, 64);
    for (int e = 0; e < QK; e++) qs[(e / 128) * 32 + e % 32] |= (uint8_t)((L[e] & 3) << (2 * ((e % 128) / 32)));
}
/* Q3_K high bit: hmask[e%32] bit (e/32). */
static int k3_hbit(const uint8_t *hm, int e) { return (hm[e % 32] >> (e / 32)) & 1; }

/* Q4_K / Q5_K low nibble: element e -> byte 32*(e/64) + e%32, high nibble when (e%64) >= 32. */
static int k4_code(const uint8_t *qs, int e) { return (qs[32 * (e / 64) + e % 32] >> (4 * ((e % 64) / 32))) & 0xF; }
static void k4_pack(uint8_t *qs, const int *L) {
    memset(qs, 0, 128);
    for (int e = 0; e < QK; e++) qs[32 * (e / 64) + e % 32] |= (uint8_t)((L[e] & 0xF) << (4 * ((e % 64) / 32)));
}
/* Q5_K fifth bit: qh[e%32] bit (e/32). */
static int k5_hbit(const uint8_t *qh, int e) { return (qh[e % 32] >> (e / 32)) & 1; }

/* Q6_K: element e in chunk c = e/128, quarter r = (e%128)/32, l = e%32: low nibble in
 * ql[64c + l + 32*(r&1)] (high nibble when r >= 2), top 2 bits in qh[32c + l] at bit 2r. */
static int k6_code(const qs_block_q6_K *b, int e) {
    int c = e / 128, r = (e % 128) / 32, l = e % 32;
    int lo = (b->ql[64 * c + l + 32 * (r & 1)] >> (4 * (r >> 1))) & 0xF;
    int hi = (b->qh[32 * c + l] >> (2 * r)) & 3;
    return lo | hi << 4;
}
static void k6_pack(qs_block_q6_K *b, const int *L) { /* L in [0, 63] */
    memset(b->ql, 0, sizeof b->ql);
    memset(b->qh, 0, sizeof b->qh);
    for (int e = 0; e < QK; e++) {
        int c = e / 128, r = (e % 128) / 32, l = e % 32;
        b->ql[64 * c + l + 32 * (r & 1)] |= (uint8_t)((L[e] & 0xF) << (4 * (r >> 1)));
        b->qh[32 * c + l] |= (uint8_t)(((L[e] >> 4) & 3) << (2 * r));
    }
}

/* ------------------------------------------------------------------ dequantization */
/* Each formula keeps ggml's float operation order, so results are bit-identical. */

void qs_dequant_q2_K(const void *src, float *y, int64_t n) {
    const qs_block_q2_K *b = src;
    for (int64_t i = 0; i < n / QK; i++, b++) {
        float d = qs_fp16_to_f32(b->d), dmin = qs_fp16_to_f32(b->dmin);
        for (int s = 0; s < 16; s++) {
            float dl = d * (float)(b->scales[s] & 0xF), ml = dmin * (float)(b->scales[s] >> 4);
            for (int e = 16 * s; e < 16 * s + 16; e++) *y++ = dl * (float)k2_code(b->qs, e) - ml;
        }
    }
}

void qs_dequant_q3_K(const void *src, float *y, int64_t n) {
    const qs_block_q3_K *b = src;
    for (int64_t i = 0; i < n / QK; i++, b++) {
        float d = qs_fp16_to_f32(b->d);
        for (int s = 0; s < 16; s++) {
            float dl = d * (float)k3_get(b->scales, s);
            for (int e = 16 * s; e < 16 * s + 16; e++)
                *y++ = dl * (float)(k2_code(b->qs, e) - (k3_hbit(b->hmask, e) ? 0 : 4));
        }
    }
}

static void dequant_q45(const uint8_t *scales, const uint8_t *qs, const uint8_t *qh, qs_fp16 d16, qs_fp16 m16, float *y) {
    float d = qs_fp16_to_f32(d16), dmin = qs_fp16_to_f32(m16);
    for (int s = 0; s < 8; s++) {
        int sc, m;
        k4_get(scales, s, &sc, &m);
        float d1 = d * (float)sc, m1 = dmin * (float)m;
        for (int e = 32 * s; e < 32 * s + 32; e++) {
            int q = k4_code(qs, e) + (qh && k5_hbit(qh, e) ? 16 : 0);
            *y++ = d1 * (float)q - m1;
        }
    }
}

void qs_dequant_q4_K(const void *src, float *y, int64_t n) {
    const qs_block_q4_K *b = src;
    for (int64_t i = 0; i < n / QK; i++, b++, y += QK) dequant_q45(b->scales, b->qs, NULL, b->d, b->dmin, y);
}

void qs_dequant_q5_K(const void *src, float *y, int64_t n) {
    const qs_block_q5_K *b = src;
    for (int64_t i = 0; i < n / QK; i++, b++, y += QK) dequant_q45(b->scales, b->qs, b->qh, b->d, b->dmin, y);
}

void qs_dequant_q6_K(const void *src, float *y, int64_t n) {
    const qs_block_q6_K *b = src;
    for (int64_t i = 0; i < n / QK; i++, b++) {
        float d = qs_fp16_to_f32(b->d);
        for (int e = 0; e < QK; e++) *y++ = d * (float)b->scales[e / 16] * (float)(k6_code(b, e) - 32);
    }
}

void qs_dequant_q8_K(const void *src, float *y, int64_t n) {
    const qs_block_q8_K *b = src;
    for (int64_t i = 0; i < n / QK; i++, b++)
        for (int e = 0; e < QK; e++) *y++ = b->d * (float)b->qs[e];
}

/* ------------------------------------------------------------------ search helpers */

/* Candidate scales tried per sub-block: a trade of speed for error, measured against ggml. */
#ifndef AFFINE_STEPS_DOWN
#define AFFINE_STEPS_DOWN 10
#endif
#ifndef AFFINE_STEPS_UP
#define AFFINE_STEPS_UP 14
#endif
#ifndef SIGNED_STEPS
#define SIGNED_STEPS 9
#endif

typedef struct sub_fit {
    float a, b; /* affine: x ~ a*q - b (b >= 0); signed: x ~ a*q */
} sub_fit;

/* Best real (a, b) for one sub-block of the affine model, q in [0, nmax]: candidate scales
 * from the value range, each followed by a weighted least-squares solve for (a, b) given the
 * rounded codes. b is kept >= 0 (the format stores the offset as a non-negative min). */
static sub_fit fit_affine(const float *x, const float *w, int n, int nmax) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    if (lo > 0) lo = 0;
    sub_fit best = {0, -lo};
    if (hi <= lo) return best; /* constant sub-block: q = 0, offset reproduces it */
    double best_err = INFINITY;
    const float fmax = (float)nmax;
    for (int step = -AFFINE_STEPS_DOWN; step <= AFFINE_STEPS_UP; step++) {
        float iscale = (fmax + 0.1f * (float)step) / (hi - lo);
        if (iscale <= 0) continue;
        float sw = 0, sq = 0, sqq = 0, sx = 0, sxq = 0; /* 16 or 32 terms: float is exact enough */
        for (int i = 0; i < n; i++) {
            float q = code_of(iscale * (x[i] - lo), 0.0f, fmax);
            sw += w[i];
            sq += w[i] * q;
            sqq += w[i] * q * q;
            sx += w[i] * x[i];
            sxq += w[i] * x[i] * q;
        }
        double det = (double)sw * sqq - (double)sq * sq;
        double a = 0, off = 1; /* x ~ a q + off */
        if (det > 0) {
            a = ((double)sw * sxq - (double)sq * sx) / det;
            off = ((double)sqq * sx - (double)sq * sxq) / det;
        }
        if (off > 0) { /* all codes equal, or a positive offset: fit the scale alone, offset 0 */
            off = 0;
            a = sqq > 0 ? (double)sxq / sqq : 0;
        }
        if (a <= 0) continue;
        float err = 0, fa = (float)a, inv = (float)(1.0 / a), offf = (float)off;
        for (int i = 0; i < n; i++) {
            float q = code_of((x[i] - offf) * inv, 0.0f, fmax);
            float e = fa * q + offf - x[i];
            err += w[i] * e * e;
        }
        if (err < best_err) {
            best_err = err;
            best.a = fa;
            best.b = -offf;
        }
    }
    return best;
}

/* Best real scale a for one sub-block of the signed model, q in [qmin, qmax] (qmin = -qmax-1):
 * both signs are tried, since the extra negative level favours mapping the largest |x| to qmin. */
static float fit_signed(const float *x, const float *w, int n, int qmin, int qmax) {
    float amax = 0, vmax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            vmax = x[i];
        }
    if (amax == 0) return 0;
    float best_a = 0;
    double best_err = INFINITY;
    for (int side = 0; side < 2; side++) {
        float target = side ? (float)qmin : (float)qmax; /* level the largest value maps to */
        if (vmax < 0) target = -target;
        for (int step = -SIGNED_STEPS; step <= SIGNED_STEPS; step++) {
            float inv0 = (target + (target > 0 ? 0.1f : -0.1f) * (float)step) / vmax;
            if (!(inv0 != 0) || !isfinite(inv0)) continue;
            float sxq = 0, sqq = 0, fqmin = (float)qmin, fqmax = (float)qmax;
            for (int i = 0; i < n; i++) {
                float q = code_of(x[i] * inv0, fqmin, fqmax);
                sxq += w[i] * x[i] * q;
                sqq += w[i] * q * q;
            }
            if (sqq <= 0) continue;
            float a = sxq / sqq, inv = a != 0 ? 1.0f / a : 0.0f;
            float err = 0;
            for (int i = 0; i < n; i++) {
                float e = a * code_of(x[i] * inv, fqmin, fqmax) - x[i];
                err += w[i] * e * e;
            }
            if (err < best_err) {
                best_err = err;
                best_a = a;
            }
        }
    }
    return best_a;
}

/* ------------------------------------------------------------------ affine super-blocks */

typedef struct affine_spec {
    int sub;     /* values per sub-block (16 or 32) */
    int nmax;    /* largest code */
    int scmax;   /* largest integer sub-block scale / min (15 or 63) */
} affine_spec;

/* Quantizes one super-block; fills L[256], sc[], m[] and the fp16 d, dmin. */
static void quant_affine(const float *x, const float *w, const affine_spec *sp, int *L, int *sc, int *m,
                         qs_fp16 *d16, qs_fp16 *m16) {
    int ns = QK / sp->sub;
    sub_fit f[16];
    float amax = 0, bmax = 0;
    for (int s = 0; s < ns; s++) {
        f[s] = fit_affine(x + s * sp->sub, w + s * sp->sub, sp->sub, sp->nmax);
        amax = f[s].a > amax ? f[s].a : amax;
        bmax = f[s].b > bmax ? f[s].b : bmax;
    }
    float d = fp16_round(amax / (float)sp->scmax), dmin = fp16_round(bmax / (float)sp->scmax);

    /* For given d, dmin: the best integer (sc, m) per sub-block near the real fit, and codes. */
    double best_total = INFINITY;
    int bL[QK], bsc[16], bm[16];
    float bd = d, bdmin = dmin;
    for (int round = 0; round < 4; round++) {
        double total = 0;
        for (int s = 0; s < ns; s++) {
            const float *xs = x + s * sp->sub, *ws = w + s * sp->sub;
            int sc0 = d > 0 ? nearest(f[s].a / d) : 0, m0 = dmin > 0 ? nearest(f[s].b / dmin) : 0;
            double best = INFINITY;
            for (int ds = -1; ds <= 1; ds++)
                for (int dm = -1; dm <= 1; dm++) {
                    int isc = clampi(sc0 + ds, 0, sp->scmax), im = clampi(m0 + dm, 0, sp->scmax);
                    float dl = d * (float)isc, ml = dmin * (float)im, inv = dl > 0 ? 1.0f / dl : 0.0f;
                    float err = 0, fmax = (float)sp->nmax;
                    int codes[32];
                    for (int i = 0; i < sp->sub; i++) {
                        float q = code_of((xs[i] + ml) * inv, 0.0f, fmax);
                        codes[i] = (int)q;
                        float e = dl * q - ml - xs[i];
                        err += ws[i] * e * e;
                    }
                    if (err < best) {
                        best = err;
                        sc[s] = isc;
                        m[s] = im;
                        memcpy(L + s * sp->sub, codes, sizeof(int) * (size_t)sp->sub);
                    }
                }
            total += best;
        }
        if (total < best_total) {
            best_total = total;
            memcpy(bL, L, sizeof bL);
            memcpy(bsc, sc, sizeof(int) * (size_t)ns);
            memcpy(bm, m, sizeof(int) * (size_t)ns);
            bd = d;
            bdmin = dmin;
        } else {
            break;
        }
        /* re-fit d, dmin by least squares given the integer codes: x ~ d*(sc*q) - dmin*m */
        double saa = 0, sab = 0, sbb = 0, sxa = 0, sxb = 0;
        for (int e = 0; e < QK; e++) {
            int s = e / sp->sub;
            double A = (double)sc[s] * L[e], B = -(double)m[s];
            saa += w[e] * A * A;
            sab += w[e] * A * B;
            sbb += w[e] * B * B;
            sxa += w[e] * x[e] * A;
            sxb += w[e] * x[e] * B;
        }
        double det = saa * sbb - sab * sab;
        if (det > 0) {
            double nd = (sxa * sbb - sxb * sab) / det, nm = (saa * sxb - sab * sxa) / det;
            if (nd > 0 && nm >= 0) {
                d = fp16_round((float)nd);
                dmin = fp16_round((float)nm);
            } else break;
        } else if (saa > 0 && sbb == 0) {
            d = fp16_round((float)(sxa / saa));
            dmin = 0;
        } else break;
    }
    memcpy(L, bL, sizeof bL);
    memcpy(sc, bsc, sizeof(int) * (size_t)ns);
    memcpy(m, bm, sizeof(int) * (size_t)ns);
    *d16 = qs_f32_to_fp16(bd);
    *m16 = qs_f32_to_fp16(bdmin);
}

/* ------------------------------------------------------------------ signed super-blocks */

typedef struct signed_spec {
    int qmin, qmax;   /* code range */
    int scmin, scmax; /* integer sub-block scale range */
} signed_spec;

static void quant_signed(const float *x, const float *w, const signed_spec *sp, int *L, int *sc, qs_fp16 *d16) {
    enum { SUB = 16, NS = QK / SUB };
    float a[NS], amax = 0, avmax = 0;
    for (int s = 0; s < NS; s++) {
        a[s] = fit_signed(x + s * SUB, w + s * SUB, SUB, sp->qmin, sp->qmax);
        if (fabsf(a[s]) > amax) {
            amax = fabsf(a[s]);
            avmax = a[s];
        }
    }
    if (amax == 0) {
        for (int e = 0; e < QK; e++) L[e] = 0;
        for (int s = 0; s < NS; s++) sc[s] = 0;
        *d16 = 0;
        return;
    }
    /* the largest scale maps to the wider (negative) end of the integer scale range */
    float d = fp16_round(avmax / (float)sp->scmin);
    double best_total = INFINITY;
    int bL[QK], bsc[NS];
    float bd = d;
    for (int round = 0; round < 4 && d != 0; round++) {
        double total = 0;
        for (int s = 0; s < NS; s++) {
            const float *xs = x + s * SUB, *ws = w + s * SUB;
            int s0 = nearest(a[s] / d);
            double best = INFINITY;
            for (int ds = -1; ds <= 1; ds++) {
                int is = clampi(s0 + ds, sp->scmin, sp->scmax);
                float dl = d * (float)is, inv = dl != 0 ? 1.0f / dl : 0.0f;
                float err = 0, fqmin = (float)sp->qmin, fqmax = (float)sp->qmax;
                int codes[SUB];
                for (int i = 0; i < SUB; i++) {
                    float q = code_of(xs[i] * inv, fqmin, fqmax);
                    codes[i] = (int)q;
                    float e = dl * q - xs[i];
                    err += ws[i] * e * e;
                }
                if (err < best) {
                    best = err;
                    sc[s] = is;
                    memcpy(L + s * SUB, codes, sizeof codes);
                }
            }
            total += best;
        }
        if (total < best_total) {
            best_total = total;
            memcpy(bL, L, sizeof bL);
            memcpy(bsc, sc, sizeof bsc);
            bd = d;
        } else {
            break;
        }
        double saa = 0, sxa = 0; /* re-fit d: x ~ d * (sc*q) */
        for (int e = 0; e < QK; e++) {
            double A = (double)sc[e / SUB] * L[e];
            saa += w[e] * A * A;
            sxa += w[e] * x[e] * A;
        }
        if (saa <= 0) break;
        d = fp16_round((float)(sxa / saa));
    }
    memcpy(L, bL, sizeof bL);
    memcpy(sc, bsc, sizeof bsc);
    *d16 = qs_f32_to_fp16(bd);
}

/* Per-value weights of one super-block: the importance, or 1. Non-finite or negative
 * importance is treated as 0 so it cannot poison the fits. */
static void weights(const float *imp, float *w) {
    for (int i = 0; i < QK; i++) {
        float v = imp ? imp[i] : 1.0f;
        w[i] = isfinite(v) && v > 0 ? v : (imp ? 0.0f : 1.0f);
    }
    if (imp) { /* all-zero importance: fall back to uniform */
        float s = 0;
        for (int i = 0; i < QK; i++) s += w[i];
        if (!(s > 0))
            for (int i = 0; i < QK; i++) w[i] = 1.0f;
    }
}

/* Inputs beyond fp16 range would make fp16 scales infinite: clamp to what the format holds. */
static void sanitize(const float *src, float *x, float limit) {
    for (int i = 0; i < QK; i++) {
        float v = src[i];
        x[i] = isnan(v) ? 0.0f : v > limit ? limit : v < -limit ? -limit : v;
    }
}

/* ------------------------------------------------------------------ quantizers */

void qs_quant_q2_K(const float *src, void *dst, int64_t n, const float *imp) {
    static const affine_spec sp = {16, 3, 15};
    qs_block_q2_K *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b++) {
        float x[QK], w[QK];
        int L[QK], sc[16], m[16];
        sanitize(src + i * QK, x, 65504.0f * 15.0f);
        weights(imp ? imp + i * QK : NULL, w);
        quant_affine(x, w, &sp, L, sc, m, &b->d, &b->dmin);
        for (int s = 0; s < 16; s++) b->scales[s] = (uint8_t)(sc[s] | m[s] << 4);
        k2_pack(b->qs, L);
    }
}

void qs_quant_q4_K(const float *src, void *dst, int64_t n, const float *imp) {
    static const affine_spec sp = {32, 15, 63};
    qs_block_q4_K *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b++) {
        float x[QK], w[QK];
        int L[QK], sc[8], m[8];
        sanitize(src + i * QK, x, 65504.0f * 63.0f);
        weights(imp ? imp + i * QK : NULL, w);
        quant_affine(x, w, &sp, L, sc, m, &b->d, &b->dmin);
        k4_put(b->scales, sc, m);
        k4_pack(b->qs, L);
    }
}

void qs_quant_q5_K(const float *src, void *dst, int64_t n, const float *imp) {
    static const affine_spec sp = {32, 31, 63};
    qs_block_q5_K *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b++) {
        float x[QK], w[QK];
        int L[QK], sc[8], m[8], lo[QK];
        sanitize(src + i * QK, x, 65504.0f * 63.0f);
        weights(imp ? imp + i * QK : NULL, w);
        quant_affine(x, w, &sp, L, sc, m, &b->d, &b->dmin);
        k4_put(b->scales, sc, m);
        memset(b->qh, 0, sizeof b->qh);
        for (int e = 0; e < QK; e++) {
            lo[e] = L[e] & 0xF;
            b->qh[e % 32] |= (uint8_t)((L[e] >> 4) << (e / 32));
        }
        k4_pack(b->qs, lo);
    }
}

void qs_quant_q3_K(const float *src, void *dst, int64_t n, const float *imp) {
    static const signed_spec sp = {-4, 3, -32, 31};
    qs_block_q3_K *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b++) {
        float x[QK], w[QK];
        int L[QK], sc[16], lo[QK];
        sanitize(src + i * QK, x, 65504.0f * 32.0f);
        weights(imp ? imp + i * QK : NULL, w);
        quant_signed(x, w, &sp, L, sc, &b->d);
        k3_put(b->scales, sc);
        memset(b->hmask, 0, sizeof b->hmask);
        for (int e = 0; e < QK; e++) {
            int u = L[e] + 4; /* 0..7: low 2 bits in qs, bit 2 in hmask (set = no -4 offset) */
            lo[e] = u & 3;
            b->hmask[e % 32] |= (uint8_t)((u >> 2) << (e / 32));
        }
        k2_pack(b->qs, lo);
    }
}

void qs_quant_q6_K(const float *src, void *dst, int64_t n, const float *imp) {
    static const signed_spec sp = {-32, 31, -128, 127};
    qs_block_q6_K *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b++) {
        float x[QK], w[QK];
        int L[QK], sc[16];
        sanitize(src + i * QK, x, 65504.0f * 128.0f);
        weights(imp ? imp + i * QK : NULL, w);
        quant_signed(x, w, &sp, L, sc, &b->d);
        for (int s = 0; s < 16; s++) b->scales[s] = (int8_t)sc[s];
        for (int e = 0; e < QK; e++) L[e] += 32;
        k6_pack(b, L);
    }
}

/* Q8_K: activations for dot products with K-quants. d = max|x| / 127 with the sign of the
 * largest value so it maps to -128 (ggml's convention), codes clamped to 127, exact group sums. */
void qs_quant_q8_K(const float *src, void *dst, int64_t n, const float *imp) {
    (void)imp;
    qs_block_q8_K *b = dst;
    for (int64_t i = 0; i < n / QK; i++, b++) {
        const float *x = src + i * QK;
        float amax = 0, vmax = 0;
        for (int e = 0; e < QK; e++)
            if (fabsf(x[e]) > amax) {
                amax = fabsf(x[e]);
                vmax = x[e];
            }
        memset(b->bsums, 0, sizeof b->bsums);
        if (amax == 0 || !isfinite(amax)) {
            b->d = 0;
            memset(b->qs, 0, sizeof b->qs);
            continue;
        }
        float iscale = -128.0f / vmax;
        for (int e = 0; e < QK; e++) {
            int q = nearest(iscale * x[e]);
            b->qs[e] = (int8_t)(q > 127 ? 127 : q < -128 ? -128 : q);
            b->bsums[e / 16] = (int16_t)(b->bsums[e / 16] + b->qs[e]);
        }
        b->d = 1.0f / iscale;
    }
}
