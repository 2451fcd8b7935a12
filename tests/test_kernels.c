/* Compute kernels: every SIMD level against the scalar reference, for every computable type.
 *
 * Levels the CPU cannot run are skipped with a printed reason; the scalar level always runs.
 * Weight rows are random block bytes (every bit pattern of the quants, sane random fp16
 * scales), so the integer paths see values a quantizer might never produce. */
#include "qs_test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qs_cpu.h"
#include "qs_formats.h"
#include "qs_fp16.h"
#include "qs_kernels.h"

/* ---------------------------------------------------------------- levels */

static int levels(const qs_kernels *out[QS_SIMD_LEVEL_COUNT]) {
    static const qs_simd_level all[] = {QS_SIMD_SCALAR, QS_SIMD_AVX2, QS_SIMD_AVX512};
    const qs_cpu_features *f = qs_cpu_features_get();
    int n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const qs_kernels *k = qs_kernels_for(all[i]);
        if (!k) {
            printf("  [skip] level %s: no kernels in this build\n", qs_simd_level_name(all[i]));
            continue;
        }
        if (!qs_simd_level_usable(f, all[i])) {
            printf("  [skip] level %s: this CPU cannot run it\n", qs_simd_level_name(all[i]));
            continue;
        }
        out[n++] = k;
    }
    return n;
}

/* Weight types with a dot product, and the fp16 scale fields of their blocks. */
typedef struct {
    qs_type type;
    int nf16;      /* number of fp16 scale fields */
    int f16_off[2]; /* their byte offsets in the block */
} wtype;

static const wtype wtypes[] = {
    {QS_TYPE_F32, 0, {0}},
    {QS_TYPE_F16, 0, {0}},
    {QS_TYPE_BF16, 0, {0}},
    {QS_TYPE_Q4_0, 1, {0}},
    {QS_TYPE_Q4_1, 2, {0, 2}},
    {QS_TYPE_Q5_0, 1, {0}},
    {QS_TYPE_Q5_1, 2, {0, 2}},
    {QS_TYPE_Q8_0, 1, {0}},
    {QS_TYPE_IQ4_NL, 1, {0}},
    {QS_TYPE_IQ4_XS, 1, {offsetof(qs_block_iq4_xs, d)}},
    {QS_TYPE_Q2_K, 2, {offsetof(qs_block_q2_K, d), offsetof(qs_block_q2_K, dmin)}},
    {QS_TYPE_Q3_K, 1, {offsetof(qs_block_q3_K, d)}},
    {QS_TYPE_Q4_K, 2, {offsetof(qs_block_q4_K, d), offsetof(qs_block_q4_K, dmin)}},
    {QS_TYPE_Q5_K, 2, {offsetof(qs_block_q5_K, d), offsetof(qs_block_q5_K, dmin)}},
    {QS_TYPE_Q6_K, 1, {offsetof(qs_block_q6_K, d)}},
};
#define NWTYPES (int)(sizeof wtypes / sizeof wtypes[0])

/* Fills nrows rows (stride bytes apart) of n values of type wt with random data. Float types
 * get gaussian values; block types random bytes with fp16 scales in +-[0.001, 0.05]. Padding
 * between rows is filled with 0xA5 so reading it would show. */
static void fill_weights(const wtype *wt, uint8_t *buf, int64_t n, int64_t nrows, size_t stride,
                         uint64_t seed) {
    const qs_type_traits *tt = qs_type_traits_get(wt->type);
    const size_t rb = qs_type_row_bytes(wt->type, n);
    uint64_t s = seed;
    memset(buf, 0xA5, stride * (size_t)nrows);
    float *tmp = malloc((size_t)n * sizeof(float));
    for (int64_t r = 0; r < nrows; r++) {
        uint8_t *row = buf + (size_t)r * stride;
        if (!tt->quantized) {
            qs_test_gaussian(tmp, n, seed + (uint64_t)r * 7919);
            if (wt->type == QS_TYPE_F32) memcpy(row, tmp, rb);
            else if (wt->type == QS_TYPE_F16)
                for (int64_t i = 0; i < n; i++) { qs_fp16 h = qs_f32_to_fp16(tmp[i]); memcpy(row + 2 * i, &h, 2); }
            else
                for (int64_t i = 0; i < n; i++) { qs_bf16 h = qs_f32_to_bf16(tmp[i]); memcpy(row + 2 * i, &h, 2); }
            continue;
        }
        for (size_t i = 0; i < rb; i++) row[i] = (uint8_t)(qs_test_rng(&s) >> 56);
        for (int64_t b = 0; b < n / tt->blck_size; b++) {
            for (int f = 0; f < wt->nf16; f++) {
                float v = 0.001f + 0.049f * qs_test_uniform(&s);
                if (qs_test_rng(&s) & 1) v = -v;
                qs_fp16 h = qs_f32_to_fp16(v);
                memcpy(row + (size_t)b * (size_t)tt->type_size + (size_t)wt->f16_off[f], &h, 2);
            }
        }
    }
    free(tmp);
}

/* Activation values: gaussian with a few outliers, and some all-zero blocks of 32. */
static void fill_act(float *x, int64_t n, uint64_t seed) {
    qs_test_gaussian(x, n, seed);
    uint64_t s = seed ^ 0x5555;
    for (int64_t i = 0; i < n; i++)
        if ((qs_test_rng(&s) & 63) == 0) x[i] *= 20.0f;
    if (n >= 96)
        for (int i = 64; i < 96; i++) x[i] = 0.0f;
}

/* The reference dequantizer of a type: the scalar level's (qs_formats.h). */
static qs_to_float_fn ref_to_float(int t) { return qs_kernels_for(QS_SIMD_SCALAR)->row[t].to_float; }

/* ---------------------------------------------------------------- dispatch facts */

static void test_dispatch(void **state) {
    (void)state;
    const qs_kernels *s = qs_kernels_for(QS_SIMD_SCALAR);
    assert_non_null(s);
    assert_int_equal(s->level, QS_SIMD_SCALAR);
    assert_string_equal(s->name, "scalar");
    assert_null(qs_kernels_for(QS_SIMD_AUTO));
    assert_null(qs_kernels_for(QS_SIMD_NEON));
#if defined(__x86_64__)
    assert_int_equal(qs_kernels_for(QS_SIMD_AVX2)->level, QS_SIMD_AVX2);
    assert_int_equal(qs_kernels_for(QS_SIMD_AVX512)->level, QS_SIMD_AVX512);
#endif
    const qs_kernels *best = qs_kernels_best();
    assert_non_null(best);
    assert_true(qs_simd_level_usable(qs_cpu_features_get(), best->level));
    printf("  best kernels: %s\n", best->name);

    assert_int_equal(qs_kernels_act_type(QS_TYPE_Q4_0), QS_TYPE_Q8_0);
    assert_int_equal(qs_kernels_act_type(QS_TYPE_Q4_1), QS_TYPE_Q8_1);
    assert_int_equal(qs_kernels_act_type(QS_TYPE_Q4_K), QS_TYPE_Q8_K);
    assert_int_equal(qs_kernels_act_type(QS_TYPE_IQ4_XS), QS_TYPE_Q8_K);
    assert_int_equal(qs_kernels_act_type(QS_TYPE_F16), QS_TYPE_F32);
    assert_int_equal(qs_kernels_act_type(QS_TYPE_Q8_K), -1);
    assert_int_equal(qs_kernels_act_type(QS_TYPE_Q8_1), -1);
    assert_int_equal(qs_kernels_act_type(QS_TYPE_IQ2_XXS), -1);
    assert_int_equal(qs_kernels_act_type(4), -1);
    assert_int_equal(qs_kernels_act_type(-3), -1);
    assert_int_equal(qs_kernels_act_bytes(QS_TYPE_Q4_0, 64), 68);
    assert_int_equal(qs_kernels_act_bytes(QS_TYPE_Q6_K, 512), 584);
    assert_int_equal(qs_kernels_act_bytes(QS_TYPE_F16, 10), 40);
    assert_int_equal(qs_kernels_act_bytes(QS_TYPE_Q4_K, 32), 0);
    assert_false(qs_kernels_can_dot(QS_TYPE_Q8_0, 33));
    assert_true(qs_kernels_can_dot(QS_TYPE_Q8_0, 96));

    /* every level's table is complete: same act types, a function wherever scalar has one */
    const qs_kernels *lv[QS_SIMD_LEVEL_COUNT];
    int nl = levels(lv);
    for (int l = 0; l < nl; l++)
        for (int t = 0; t < QS_TYPE_COUNT; t++) {
            const qs_kernel_row *a = &s->row[t], *b = &lv[l]->row[t];
            assert_int_equal(a->vec_dot != NULL, b->vec_dot != NULL);
            assert_int_equal(a->gemv != NULL, b->gemv != NULL);
            assert_int_equal(a->gemm != NULL, b->gemm != NULL);
            assert_int_equal(a->to_float != NULL, b->to_float != NULL);
            assert_int_equal(a->quantize_act != NULL, b->quantize_act != NULL);
            if (a->vec_dot) assert_int_equal(a->act_type, b->act_type);
        }
}

/* ---------------------------------------------------------------- activation quantizers */

static void test_quantize_act(void **state) {
    (void)state;
    const qs_kernels *lv[QS_SIMD_LEVEL_COUNT];
    int nl = levels(lv);
    const qs_type acts[] = {QS_TYPE_F32, QS_TYPE_Q8_0, QS_TYPE_Q8_1, QS_TYPE_Q8_K};
    const int64_t nblk[] = {1, 3, 17, 40};
    for (size_t ai = 0; ai < sizeof acts / sizeof acts[0]; ai++) {
        const qs_type at = acts[ai];
        const int bs = qs_type_traits_get(at)->blck_size == 1 ? 32 : qs_type_traits_get(at)->blck_size;
        for (size_t ni = 0; ni < sizeof nblk / sizeof nblk[0]; ni++) {
            const int64_t n = nblk[ni] * bs;
            for (int variant = 0; variant < 4; variant++) {
                float *x = malloc((size_t)n * sizeof(float));
                fill_act(x, n, 1000 + (uint64_t)ni * 10 + (uint64_t)variant);
                if (variant == 1) for (int64_t i = 0; i < n; i++) x[i] *= 1e-6f;   /* tiny: fp16 subnormal d */
                if (variant == 2) for (int64_t i = 0; i < n; i++) x[i] *= 3000.0f; /* large */
                if (variant == 3) /* exact ties: x * 127/amax lands on .5 */
                    for (int64_t i = 0; i < n; i++) x[i] = (float)((i % 255) - 127) * 0.5f;
                const size_t ab = qs_type_row_bytes(at, n);
                uint8_t *ref = malloc(ab), *got = malloc(ab);
                lv[0]->row[at].quantize_act(x, ref, n);
                for (int l = 1; l < nl; l++) {
                    memset(got, 0x5A, ab);
                    lv[l]->row[at].quantize_act(x, got, n);
                    if (memcmp(ref, got, ab) != 0) {
                        size_t i = 0;
                        while (ref[i] == got[i]) i++;
                        fail_msg("quantize_act %s level %s n=%lld variant %d: byte %zu differs (%u vs %u)",
                                 qs_type_name(at), lv[l]->name, (long long)n, variant, i, ref[i], got[i]);
                    }
                }
                /* the reference dequantizes back close to x (when we can dequantize) */
                const qs_to_float_fn deq = ref_to_float(at);
                if (deq && variant != 1) {
                    float *y = malloc((size_t)n * sizeof(float));
                    deq(ref, y, n);
                    for (int64_t b = 0; b < n / bs; b++) {
                        float amax = 0;
                        for (int j = 0; j < bs; j++) amax = fmaxf(amax, fabsf(x[b * bs + j]));
                        for (int j = 0; j < bs; j++)
                            assert_true(fabsf(y[b * bs + j] - x[b * bs + j]) <= amax / 127.0f * 0.57f + 1e-30f);
                    }
                    free(y);
                }
                free(ref);
                free(got);
                free(x);
            }
        }
    }
}

/* Q8_K bsums equal the sums of their 16 quants; Q8_1 s equals d * sum. */
static void test_act_side_sums(void **state) {
    (void)state;
    enum { N = 512 };
    float x[N];
    fill_act(x, N, 77);
    uint8_t buf[2 * sizeof(qs_block_q8_K)];
    qs_kernels_for(QS_SIMD_SCALAR)->row[QS_TYPE_Q8_K].quantize_act(x, buf, N);
    for (int b = 0; b < 2; b++) {
        qs_block_q8_K blk;
        memcpy(&blk, buf + b * sizeof blk, sizeof blk);
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += blk.qs[16 * g + j];
            assert_int_equal(s, blk.bsums[g]);
        }
        float amax = 0;
        for (int j = 0; j < 256; j++) amax = fmaxf(amax, fabsf(x[256 * b + j]));
        assert_true(blk.d == amax / 127.0f);
    }
    uint8_t b1[sizeof(qs_block_q8_1) * (N / 32)];
    qs_kernels_for(QS_SIMD_SCALAR)->row[QS_TYPE_Q8_1].quantize_act(x, b1, N);
    for (int b = 0; b < N / 32; b++) {
        qs_block_q8_1 blk;
        memcpy(&blk, b1 + b * sizeof blk, sizeof blk);
        int s = 0;
        float amax = 0;
        for (int j = 0; j < 32; j++) { s += blk.qs[j]; amax = fmaxf(amax, fabsf(x[32 * b + j])); }
        assert_int_equal(blk.s, qs_f32_to_fp16(amax / 127.0f * (float)s));
        assert_int_equal(blk.d, qs_f32_to_fp16(amax / 127.0f));
    }
}

/* ---------------------------------------------------------------- dequantization */

static bool same_float_bits(const float *a, const float *b, int64_t n, int64_t *where) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t x, y;
        memcpy(&x, a + i, 4);
        memcpy(&y, b + i, 4);
        if (x != y && !(isnan(a[i]) && isnan(b[i]))) { *where = i; return false; }
    }
    return true;
}

static void test_to_float(void **state) {
    (void)state;
    const qs_kernels *lv[QS_SIMD_LEVEL_COUNT];
    int nl = levels(lv);
    int tested = 0;
    for (int t = 0; t < QS_TYPE_COUNT; t++) {
        const qs_to_float_fn ref = ref_to_float(t);
        if (!ref) continue;
        const qs_type_traits *tt = qs_type_traits_get(t);
        const int bs = tt->blck_size == 1 ? 32 : tt->blck_size;
        const int64_t nblk[] = {1, 3, 17};
        for (int ni = 0; ni < 3; ni++) {
            for (int raw = 0; raw < 2; raw++) {
                const int64_t n = nblk[ni] * bs + (tt->blck_size == 1 ? 5 : 0);
                const size_t rb = qs_type_row_bytes(t, n);
                uint8_t *src = malloc(rb);
                uint64_t s = (uint64_t)t * 131 + (uint64_t)ni;
                /* raw: every byte random (inf/NaN scales included); else sane scales */
                wtype wt = {(qs_type)t, 0, {0}};
                for (int k = 0; k < NWTYPES; k++) if ((int)wtypes[k].type == t) wt = wtypes[k];
                if (raw || t == QS_TYPE_Q8_1 || t == QS_TYPE_Q8_K)
                    for (size_t i = 0; i < rb; i++) src[i] = (uint8_t)(qs_test_rng(&s) >> 56);
                else
                    fill_weights(&wt, src, n, 1, rb, s);
                if (t == QS_TYPE_Q8_K && !raw) /* sane float d */
                    for (int64_t b = 0; b < n / 256; b++) {
                        float d = 0.01f * (float)(b + 1);
                        memcpy(src + (size_t)b * sizeof(qs_block_q8_K), &d, 4);
                    }
                float *y0 = malloc((size_t)n * 4), *y1 = malloc((size_t)n * 4);
                ref(src, y0, n);
                for (int l = 0; l < nl; l++) {
                    if (!lv[l]->row[t].to_float) continue;
                    memset(y1, 0x77, (size_t)n * 4);
                    lv[l]->row[t].to_float(src, y1, n);
                    int64_t where;
                    if (!same_float_bits(y0, y1, n, &where))
                        fail_msg("to_float %s level %s n=%lld raw=%d: value %lld is %a, reference %a",
                                 qs_type_name(t), lv[l]->name, (long long)n, raw, (long long)where,
                                 (double)y1[where], (double)y0[where]);
                }
                free(y0);
                free(y1);
                free(src);
            }
        }
        tested++;
    }
    printf("  to_float: %d types checked bit-exact\n", tested);
}

/* ---------------------------------------------------------------- dot products */

/* The tolerance of the header: 2^-16 * sum |w_i a_i|. Against a double dot of dequantized
 * values, Q8_1's s adds its own error: s = fp16(d * sum q) while the dequantized activation
 * uses fp16(d) * q, each off by up to 2^-11 relative: 2^-10 * |m_w * s_a| per block. */
static double dot_tolerance(const double abs_sum) { return 0x1p-16 * abs_sum + 1e-30; }

typedef struct {
    double dot;     /* double dot of dequantized rows, or NAN when we cannot dequantize */
    double abs_sum; /* sum |w_i a_i| (from dequantized rows), or a bound from the scalar dot */
    double extra;   /* Q8_1 term */
} dref;

static dref reference(const qs_kernels *s, const wtype *wt, const uint8_t *w, const uint8_t *act,
                      int64_t n) {
    dref r = {NAN, 0.0, 0.0};
    const int at = s->row[wt->type].act_type;
    (void)s;
    const qs_to_float_fn dw = ref_to_float(wt->type), da = ref_to_float(at);
    if (!dw || !da) return r;
    float *fw = malloc((size_t)n * 4), *fa = malloc((size_t)n * 4);
    dw(w, fw, n);
    da(act, fa, n);
    double d = 0, a = 0;
    for (int64_t i = 0; i < n; i++) {
        d += (double)fw[i] * fa[i];
        a += fabs((double)fw[i] * fa[i]);
    }
    if (at == QS_TYPE_Q8_1)
        for (int64_t b = 0; b < n / 32; b++) {
            qs_fp16 m, sa;
            memcpy(&m, w + b * (wt->type == QS_TYPE_Q4_1 ? 20 : 24) + 2, 2);
            memcpy(&sa, act + b * 36 + 2, 2);
            r.extra += 0x1p-10 * fabs((double)qs_fp16_to_f32(m) * qs_fp16_to_f32(sa));
        }
    r.dot = d;
    r.abs_sum = a;
    free(fw);
    free(fa);
    return r;
}

static void check_type_dots(const qs_kernels *const *lv, int nl, const wtype *wt, int64_t nblk,
                            uint64_t seed) {
    const qs_type t = wt->type;
    const qs_kernels *s = lv[0];
    const int at = s->row[t].act_type;
    const int bs = qs_type_traits_get(t)->blck_size == 1 ? 32 : qs_type_traits_get(t)->blck_size;
    const int abs_ = qs_type_traits_get(at)->blck_size == 1 ? 32 : qs_type_traits_get(at)->blck_size;
    const int64_t unit = bs > abs_ ? bs : abs_;
    const int64_t n = nblk * unit;
    const int64_t nrows = 11;
    const size_t rb = qs_type_row_bytes(t, n), stride = rb + 6; /* odd padding between rows */
    const int ncols = 3;
    const size_t ab = qs_type_row_bytes(at, n), astride = ab + 2;

    uint8_t *w = malloc(stride * nrows);
    fill_weights(wt, w, n, nrows, stride, seed);
    float *x = malloc((size_t)n * 4);
    uint8_t *act = malloc(astride * ncols);
    for (int c = 0; c < ncols; c++) {
        fill_act(x, n, seed * 3 + (uint64_t)c);
        s->row[at].quantize_act(x, act + (size_t)c * astride, n);
    }

    float ref[11], got[11], gm[3 * 16];
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *wr = w + (size_t)r * stride;
        ref[r] = s->row[t].vec_dot(n, wr, act);
        dref d = reference(s, wt, wr, act, n);
        if (!isnan(d.dot)) {
            const double tol = dot_tolerance(d.abs_sum) + d.extra;
            if (fabs(ref[r] - d.dot) > tol)
                fail_msg("%s n=%lld row %lld: scalar %.9g vs double %.9g (tol %.3g)", qs_type_name(t),
                         (long long)n, (long long)r, (double)ref[r], d.dot, tol);
        }
        for (int l = 1; l < nl; l++) {
            float v = lv[l]->row[t].vec_dot(n, wr, act);
            /* without dequantization, bound sum|w a| loosely by the dequantized-free scalar
             * result's magnitude is not possible; use the double reference when there is one,
             * else a relative tolerance on the scalar result */
            double tol = !isnan(d.dot) ? dot_tolerance(d.abs_sum) + 2 * d.extra
                                       : 1e-4 * fabs((double)ref[r]) + 1e-6;
            if (fabs((double)v - ref[r]) > tol)
                fail_msg("%s level %s n=%lld row %lld: %.9g vs scalar %.9g (tol %.3g)", qs_type_name(t),
                         lv[l]->name, (long long)n, (long long)r, (double)v, (double)ref[r], tol);
        }
    }
    /* gemv over every row count 1..nrows equals vec_dot of the same level, bit for bit; gemm
     * equals gemv */
    for (int l = 0; l < nl; l++) {
        const qs_kernel_row *k = &lv[l]->row[t];
        float one[11];
        for (int64_t r = 0; r < nrows; r++) one[r] = k->vec_dot(n, w + (size_t)r * stride, act);
        for (int64_t nr = 1; nr <= nrows; nr++) {
            for (int64_t r = 0; r < nrows; r++) got[r] = -12345.0f;
            k->gemv(n, nr, w, stride, act, got);
            for (int64_t r = 0; r < nrows; r++) {
                if (r < nr) {
                    if (memcmp(&got[r], &one[r], 4) != 0)
                        fail_msg("%s level %s n=%lld: gemv(%lld rows) row %lld = %.9g, vec_dot %.9g",
                                 qs_type_name(t), lv[l]->name, (long long)n, (long long)nr,
                                 (long long)r, (double)got[r], (double)one[r]);
                } else {
                    assert_true(got[r] == -12345.0f); /* never writes past nrows */
                }
            }
        }
        const size_t ys = 16;
        for (size_t i = 0; i < sizeof gm / sizeof gm[0]; i++) gm[i] = -1.0f;
        k->gemm(n, nrows, ncols, w, stride, act, astride, gm, ys);
        for (int c = 0; c < ncols; c++) {
            k->gemv(n, nrows, w, stride, act + (size_t)c * astride, got);
            for (int64_t r = 0; r < nrows; r++)
                if (memcmp(&gm[c * ys + (size_t)r], &got[r], 4) != 0)
                    fail_msg("%s level %s: gemm[%d][%lld] = %.9g, gemv %.9g", qs_type_name(t),
                             lv[l]->name, c, (long long)r, (double)gm[c * ys + (size_t)r], (double)got[r]);
            for (size_t r = (size_t)nrows; r < ys; r++) assert_true(gm[c * ys + r] == -1.0f);
        }
    }
    free(w);
    free(x);
    free(act);
}

static void test_vec_dot(void **state) {
    (void)state;
    const qs_kernels *lv[QS_SIMD_LEVEL_COUNT];
    int nl = levels(lv);
    const int64_t nblk[] = {1, 3, 17, 33};
    for (int i = 0; i < NWTYPES; i++) {
        assert_non_null(lv[0]->row[wtypes[i].type].vec_dot);
        for (int k = 0; k < 4; k++) check_type_dots(lv, nl, &wtypes[i], nblk[k], 100 + (uint64_t)(i * 8 + k));
    }
}

/* The reference quantizers of qs_formats.h (the type table may not list them yet). */
static qs_quantize_fn quantizer(qs_type t) {
    switch (t) {
    case QS_TYPE_F32: return qs_quant_f32;
    case QS_TYPE_F16: return qs_quant_f16;
    case QS_TYPE_BF16: return qs_quant_bf16;
    case QS_TYPE_Q4_0: return qs_quant_q4_0;
    case QS_TYPE_Q4_1: return qs_quant_q4_1;
    case QS_TYPE_Q5_0: return qs_quant_q5_0;
    case QS_TYPE_Q5_1: return qs_quant_q5_1;
    case QS_TYPE_Q8_0: return qs_quant_q8_0;
    case QS_TYPE_IQ4_NL: return qs_quant_iq4_nl;
    case QS_TYPE_IQ4_XS: return qs_quant_iq4_xs;
    case QS_TYPE_Q2_K: return qs_quant_q2_K;
    case QS_TYPE_Q3_K: return qs_quant_q3_K;
    case QS_TYPE_Q4_K: return qs_quant_q4_K;
    case QS_TYPE_Q5_K: return qs_quant_q5_K;
    case QS_TYPE_Q6_K: return qs_quant_q6_K;
    default: return qs_type_traits_get(t)->quantize;
    }
}

/* Long rows (as in real models) with data the real quantizers produce, when they exist. */
static void test_vec_dot_quantized_rows(void **state) {
    (void)state;
    const qs_kernels *lv[QS_SIMD_LEVEL_COUNT];
    int nl = levels(lv);
    const int64_t n = 4096 + 512;
    float *x = malloc(n * 4), *a = malloc(n * 4);
    int tested = 0;
    for (int i = 0; i < NWTYPES; i++) {
        const qs_type t = wtypes[i].type;
        const qs_quantize_fn quant = quantizer(t);
        if (!quant) continue;
        const int at = lv[0]->row[t].act_type;
        qs_test_llm_like(x, n, 5 + (uint64_t)i);
        qs_test_gaussian(a, n, 9 + (uint64_t)i);
        uint8_t *w = malloc(qs_type_row_bytes(t, n)), *act = malloc(qs_type_row_bytes(at, n));
        quant(x, w, n, NULL);
        lv[0]->row[at].quantize_act(a, act, n);
        const float ref = lv[0]->row[t].vec_dot(n, w, act);
        dref d = reference(lv[0], &wtypes[i], w, act, n);
        if (!isnan(d.dot)) assert_true(fabs(ref - d.dot) <= dot_tolerance(d.abs_sum) + d.extra);
        for (int l = 1; l < nl; l++) {
            const float v = lv[l]->row[t].vec_dot(n, w, act);
            const double tol = !isnan(d.dot) ? dot_tolerance(d.abs_sum) + 2 * d.extra : 1e-4 * fabs(ref);
            if (fabs((double)v - ref) > tol)
                fail_msg("%s level %s quantized row: %.9g vs %.9g", qs_type_name(t), lv[l]->name,
                         (double)v, (double)ref);
        }
        tested++;
        free(w);
        free(act);
    }
    printf("  quantized rows: %d types\n", tested);
    free(x);
    free(a);
}

/* Rows longer than the kernels' internal chunking (prepared ranges of 8 KiB, gemm granules of
 * 1 KiB): every level against the scalar reference, gemv and gemm against vec_dot. */
static void test_long_rows(void **state) {
    (void)state;
    const qs_kernels *lv[QS_SIMD_LEVEL_COUNT];
    int nl = levels(lv);
    const int64_t n = 16384 + 5 * 256; /* 17664: 552 blocks of 32, 69 of 256 */
    for (int i = 0; i < NWTYPES; i++) {
        const wtype *wt = &wtypes[i];
        const int at = lv[0]->row[wt->type].act_type;
        const size_t rb = qs_type_row_bytes(wt->type, n), ab = qs_type_row_bytes(at, n);
        enum { ROWS = 5, COLS = 5 };
        uint8_t *w = malloc(rb * ROWS), *act = malloc(ab * COLS);
        float *x = malloc((size_t)n * 4);
        fill_weights(wt, w, n, ROWS, rb, 7000 + (uint64_t)i);
        for (int c = 0; c < COLS; c++) {
            fill_act(x, n, 8000 + (uint64_t)(i * 8 + c));
            lv[0]->row[at].quantize_act(x, act + (size_t)c * ab, n);
        }
        for (int l = 0; l < nl; l++) {
            const qs_kernel_row *k = &lv[l]->row[wt->type];
            float yv[ROWS], ym[COLS * ROWS];
            k->gemv(n, ROWS, w, rb, act, yv);
            k->gemm(n, ROWS, COLS, w, rb, act, ab, ym, ROWS);
            for (int r = 0; r < ROWS; r++) {
                const uint8_t *wr = w + (size_t)r * rb;
                const float one = k->vec_dot(n, wr, act), ref = lv[0]->row[wt->type].vec_dot(n, wr, act);
                assert_memory_equal(&one, &yv[r], 4);
                for (int c = 0; c < COLS; c++) {
                    const float g = ym[c * ROWS + r];
                    const float o = k->vec_dot(n, wr, act + (size_t)c * ab);
                    if (memcmp(&g, &o, 4) != 0)
                        fail_msg("%s level %s long row: gemm[%d][%d] %.9g vs vec_dot %.9g", qs_type_name(wt->type),
                                 lv[l]->name, c, r, (double)g, (double)o);
                }
                const dref d = reference(lv[0], wt, wr, act, n);
                const double tol = !isnan(d.dot) ? dot_tolerance(d.abs_sum) + 2 * d.extra : 1e-4 * fabs(ref);
                if (fabs((double)one - ref) > tol)
                    fail_msg("%s level %s long row %d: %.9g vs scalar %.9g (tol %.3g)", qs_type_name(wt->type),
                             lv[l]->name, r, (double)one, (double)ref, tol);
            }
        }
        free(w);
        free(act);
        free(x);
    }
}

/* Element-wise ops: every level against double-precision formulas (softmax, silu * u) within
 * 2^-20 relative (a few float ulp: the SIMD exp is a polynomial, the scalar one libm; softmax
 * also the rounding of its float argument scale x - max), on
 * lengths around the vector widths and on the ranges the forward pass sees, including
 * arguments whose exp underflows or overflows. */
static void test_elementwise(void **state) {
    (void)state;
    const qs_kernels *lv[QS_SIMD_LEVEL_COUNT];
    int nl = levels(lv);
    const int64_t lens[] = {1, 7, 16, 17, 33, 100, 1000};
    for (int l = 0; l < nl; l++) {
        assert_non_null(lv[l]->softmax);
        assert_non_null(lv[l]->silu_mul);
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int64_t n = lens[li];
            float *x = malloc((size_t)n * 4), *g = malloc((size_t)n * 4), *u = malloc((size_t)n * 4);
            qs_test_gaussian(x, n, 31 + (uint64_t)li);
            qs_test_gaussian(u, n, 41 + (uint64_t)li);
            for (int64_t i = 0; i < n; i++) {
                x[i] *= 30.0f; /* scores: spread enough that some exp underflow */
                g[i] = x[i] * (i % 5 == 0 ? 4.0f : 0.5f); /* gate values up to +-400: exp(-g) over/underflows */
            }
            const float scale = 0.125f;
            double max = -INFINITY, sum = 0.0;
            for (int64_t i = 0; i < n; i++) max = fmax(max, (double)(x[i] * scale));
            for (int64_t i = 0; i < n; i++) sum += exp((double)(x[i] * scale) - max);
            float *y = malloc((size_t)n * 4);
            memcpy(y, x, (size_t)n * 4);
            lv[l]->softmax(y, n, scale);
            for (int64_t i = 0; i < n; i++) {
                /* the float difference scale x - max carries up to |d| 2^-24 of its own */
                const double d = (double)(x[i] * scale) - max;
                const double want = exp(d) / sum;
                if (fabs(y[i] - want) > (0x1p-20 + 0x1p-23 * fabs(d)) * want + 1e-38)
                    fail_msg("softmax level %s n=%lld [%lld]: %.9g, want %.9g", lv[l]->name, (long long)n,
                             (long long)i, (double)y[i], want);
            }
            memcpy(y, g, (size_t)n * 4);
            lv[l]->silu_mul(y, u, n);
            for (int64_t i = 0; i < n; i++) {
                const double want = (double)g[i] / (1.0 + exp(-(double)g[i])) * u[i];
                if (fabs(y[i] - want) > 0x1p-20 * fabs(want) + 1e-38)
                    fail_msg("silu_mul level %s n=%lld [%lld]: g %.9g u %.9g: %.9g, want %.9g", lv[l]->name,
                             (long long)n, (long long)i, (double)g[i], (double)u[i], (double)y[i], want);
            }
            free(x);
            free(g);
            free(u);
            free(y);
        }
    }
}

/* qs_kernels_best() runs the level the process chose (QS_SIMD or detection). */
static void test_best_is_active(void **state) {
    (void)state;
    const qs_kernels *k = qs_kernels_best();
    const qs_simd_level active = qs_simd_active_level(NULL);
    if (qs_kernels_for(active)) assert_int_equal(k->level, active);
    else assert_int_equal(k->level, QS_SIMD_SCALAR);
}

/* F16 / BF16 weights: the activation is rounded to the weight's precision first, as ggml
 * converts it to the weight type (vec_dot_type) before the product. Expected values worked out
 * by hand from the formats (f16: 10 fraction bits, bf16: 7; ties to even), not from our
 * conversion code. This is what makes our Q8_0 stories260K perplexity comparable with
 * llama-perplexity's (README "Perplexity"): without it ours was 5.1763, theirs 5.1880. */
static void test_act_round(void **state) {
    (void)state;
    assert_null(qs_kernels_act_round(QS_TYPE_F32));
    assert_null(qs_kernels_act_round(QS_TYPE_Q8_0));
    assert_null(qs_kernels_act_round(QS_TYPE_Q4_K));
    const qs_act_round_fn h = qs_kernels_act_round(QS_TYPE_F16);
    const qs_act_round_fn b = qs_kernels_act_round(QS_TYPE_BF16);
    assert_non_null(h);
    assert_non_null(b);
    const float in[] = {
        1.0f + 0x1p-11f,          /* f16: halfway between 1 and 1 + 2^-10: even -> 1 */
        1.0f + 3 * 0x1p-11f,      /* halfway between 1 + 2^-10 and 1 + 2^-9: even -> 1 + 2^-9 */
        1.0f + 0x1p-11f + 0x1p-20f, /* just above halfway -> 1 + 2^-10 */
        -3.14159265f,             /* steps of 2^-9 in [2, 4): -1608 x 2^-9 = -3.140625 */
        65519.0f,                 /* below 65520: 65504, the largest f16 */
        65520.0f,                 /* rounds beyond the f16 range: inf, as ggml */
        0x1p-25f,                 /* half of the smallest subnormal 2^-24: even -> 0 */
        3 * 0x1p-25f,             /* 1.5 x 2^-24 -> 2 x 2^-24 */
        0.0f,
    };
    const float want_h[] = {1.0f, 1.0f + 0x1p-9f, 1.0f + 0x1p-10f, -3.140625f, 65504.0f,
                            INFINITY, 0.0f, 0x1p-23f, 0.0f};
    enum { N = sizeof in / sizeof *in };
    float out[N];
    h(in, out, N);
    for (int i = 0; i < N; i++) assert_true(out[i] == want_h[i]);
    memcpy(out, in, sizeof out); /* in place */
    h(out, out, N);
    for (int i = 0; i < N; i++) assert_true(out[i] == want_h[i]);
    /* the level's rounding (F16C at AVX2 and above) gives the scalar bits on many values */
    {
        enum { M = 4099 };
        float *r = malloc(M * sizeof *r), *a = malloc(M * sizeof *a);
        assert_non_null(r);
        assert_non_null(a);
        uint32_t st = 12345;
        for (int i = 0; i < M; i++) {
            st = st * 1664525u + 1013904223u;
            r[i] = ldexpf((float)(st >> 8) / 16777216.0f - 0.5f, (int)(st % 48) - 30);
            a[i] = qs_fp16_to_f32(qs_f32_to_fp16(r[i]));
        }
        h(r, r, M);
        assert_memory_equal(r, a, M * sizeof *r);
        free(r);
        free(a);
    }
    /* bf16: 8 significant bits */
    const float in_b[] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-20f,
                          -3.14159265f, 1e30f, 0x1p-130f};
    /* 1e30 (bits 0x7149F2CA) is checked by its bits below */
    const float want_b[] = {1.0f, 1.0f + 0x1p-6f, 1.0f + 0x1p-7f, -3.140625f, 0.0f, 0x1p-130f};
    float out_b[6];
    b(in_b, out_b, 6);
    for (int i = 0; i < 6; i++) {
        if (i == 4) {
            /* 1e30 = 0x7149F2CA: the low half 0xF2CA is above halfway -> 0x714A0000 */
            uint32_t u;
            memcpy(&u, &out_b[i], 4);
            assert_int_equal(u, 0x714A0000u);
        } else {
            assert_true(out_b[i] == want_b[i]);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_quantize_act),
        cmocka_unit_test(test_act_side_sums),
        cmocka_unit_test(test_to_float),
        cmocka_unit_test(test_vec_dot),
        cmocka_unit_test(test_vec_dot_quantized_rows),
        cmocka_unit_test(test_long_rows),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_best_is_active),
        cmocka_unit_test(test_act_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
