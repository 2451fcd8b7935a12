/* Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, IQ4_NL, IQ4_XS: layouts, bit-exact dequantization,
 * quantization error against ggml's reference quantizers, and edge cases. */
#include "qs_test_util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qs_formats.h"

typedef void (*lt_quant_fn)(const float *, void *, int64_t, const float *);
typedef void (*lt_dequant_fn)(const void *, float *, int64_t);

enum { LT_GAUSS, LT_HEAVY, LT_LLM, LT_NDATA };
static const char *const lt_data_names[LT_NDATA] = {"gaussian", "heavy", "llm-like"};

/* Reference data for the error comparison: LT_ROWS rows of LT_COLS values per data set. */
enum { LT_ROWS = 64, LT_COLS = 4096, LT_N = LT_ROWS * LT_COLS };
static const uint64_t lt_data_seeds[LT_NDATA] = {0x5eed0001, 0x5eed0002, 0x5eed0003};

/* Blocks for the dequantization hash: LT_HASH_BLOCKS random blocks per type. */
enum { LT_HASH_BLOCKS = 512 };
static const uint64_t lt_hash_seed = 0x9a55b10c;

typedef struct legacy_type {
    const char *name;
    int blck, size;
    lt_quant_fn quant;
    lt_dequant_fn dequant;
    int half_off[3]; /* byte offsets of the half fields (scales, min, sum); -1 ends the list */
    /* 64-bit FNV-1a of ggml's dequantize_row_X output (the float bits, little-endian) for the
     * blocks lt_random_blocks() makes, measured with llama.cpp commit d32676d7. 0: ggml has no
     * dequantizer for the type. */
    uint64_t ggml_hash;
    /* RMSE of ggml's reference quantizer (quantize_row_X_ref; for IQ4_NL and IQ4_XS
     * quantize_X with no importance matrix, the stronger of ggml's two IQ4_NL paths),
     * dequantized by ggml's dequantize_row_X (Q8_1, which ggml cannot dequantize: d * q), on
     * the data sets lt_data() split in LT_ROWS rows, measured with llama.cpp commit d32676d7. */
    double ggml_rmse[LT_NDATA];
    /* Our own RMSE on the same data when these tests were written, to 6 digits:
     * a regression guard (a change that loses more than 0.5% fails; improvements pass). */
    double our_rmse[LT_NDATA];
    int tie_ok; /* the reference is already optimal up to ties: allow equality within 1e-9 */
} legacy_type;

#define OFF(T, f) (int)offsetof(T, f)

static const legacy_type lt_types[] = {
    {"Q4_0", 32, 18, qs_quant_q4_0, qs_dequant_q4_0, {OFF(qs_block_q4_0, d), -1, -1},
     0x24cf7f53280b3602ull,
     {0.084439726171504859, 0.10447726035087709, 0.0057125629629412684},
     {0.0795012, 0.100866, 0.00559413}, 0},
    {"Q4_1", 32, 20, qs_quant_q4_1, qs_dequant_q4_1, {OFF(qs_block_q4_1, d), OFF(qs_block_q4_1, m), -1},
     0x8926cad06bcd955full,
     {0.077326793270604044, 0.081533022081787587, 0.0038518096708608082},
     {0.0686507, 0.0730734, 0.00347662}, 0},
    {"Q5_0", 32, 22, qs_quant_q5_0, qs_dequant_q5_0, {OFF(qs_block_q5_0, d), -1, -1},
     0x9583924d37f7d0d5ull,
     {0.041991464535773529, 0.053181260868657876, 0.0029825101416934238},
     {0.0393193, 0.0515888, 0.00294529}, 0},
    {"Q5_1", 32, 24, qs_quant_q5_1, qs_dequant_q5_1, {OFF(qs_block_q5_1, d), OFF(qs_block_q5_1, m), -1},
     0xa499a80d5d5225dcull,
     {0.037407381856561311, 0.039544510271602641, 0.0018563910913029632},
     {0.0327923, 0.0351655, 0.00167601}, 0},
    {"Q8_0", 32, 34, qs_quant_q8_0, qs_dequant_q8_0, {OFF(qs_block_q8_0, d), -1, -1},
     0x1e1e1862d782cc55ull,
     {0.0052595002516669072, 0.006649246056160003, 0.00037681808117577352},
     {0.00463714, 0.0060644, 0.000355457}, 1},
    {"Q8_1", 32, 36, qs_quant_q8_1, qs_dequant_q8_1, {OFF(qs_block_q8_1, d), OFF(qs_block_q8_1, s), -1},
     0x0ull,
     {0.0052595002516669072, 0.006649246056160003, 0.00037681808117577352},
     {0.00517624, 0.00660359, 0.000375762}, 1},
    {"IQ4_NL", 32, 18, qs_quant_iq4_nl, qs_dequant_iq4_nl, {OFF(qs_block_iq4_nl, d), -1, -1},
     0xe9bc516197f437e9ull,
     {0.075406541438329824, 0.083098056825701955, 0.0043993982111252489},
     {0.0726494, 0.0802091, 0.00427927}, 0},
    {"IQ4_XS", 256, 136, qs_quant_iq4_xs, qs_dequant_iq4_xs, {OFF(qs_block_iq4_xs, d), -1, -1},
     0x87e80c94c511655cull,
     {0.075965198970635653, 0.084005895379162462, 0.0044528707674037753},
     {0.0730859, 0.0809185, 0.00432123}, 0},
};
enum { LT_NTYPES = sizeof lt_types / sizeof lt_types[0] };

/* ------------------------------------------------------------------------------------------ */
/* Shared with the comparison harness that measured the constants above                      */

/* Random blocks: every byte from a splitmix64 stream, then each half field replaced by a sane
 * finite value, +-[1e-3, 2]. */
static void lt_random_blocks(const legacy_type *t, uint8_t *buf, int nblocks, uint64_t seed) {
    int n_half = 0;
    while (n_half < 3 && t->half_off[n_half] >= 0) n_half++;
    qs_test_random_blocks(buf, nblocks, t->size, t->half_off, n_half, seed);
}

/* 64-bit FNV-1a over the bits of n floats, each as 4 little-endian bytes. */
static uint64_t lt_hash_floats(const float *y, int64_t n) { return qs_test_hash_floats(y, n); }

static void lt_data(int which, float *x, int64_t n) {
    if (which == LT_GAUSS) qs_test_gaussian(x, n, lt_data_seeds[which]);
    else if (which == LT_HEAVY) qs_test_heavy(x, n, lt_data_seeds[which]);
    else qs_test_llm_like(x, n, lt_data_seeds[which]);
}

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */

static const legacy_type *lt_find(const char *name) {
    for (int i = 0; i < LT_NTYPES; i++)
        if (strcmp(lt_types[i].name, name) == 0) return &lt_types[i];
    fail_msg("no type %s", name);
    return NULL;
}

static uint8_t *lt_alloc_blocks(const legacy_type *t, int64_t n) {
    uint8_t *p = malloc((size_t)(n / t->blck) * (size_t)t->size);
    assert_non_null(p);
    return p;
}

static float *lt_alloc_floats(int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    assert_non_null(p);
    return p;
}

static double lt_weighted_sse(const float *x, const float *y, const float *w, int64_t n) {
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double e = (double)x[i] - (double)y[i];
        acc += (w ? (double)w[i] : 1.0) * e * e;
    }
    return acc;
}

static float lt_half_at(const legacy_type *t, const uint8_t *blocks, int64_t b, int k) {
    qs_fp16 h;
    memcpy(&h, blocks + b * t->size + t->half_off[k], sizeof h);
    return qs_fp16_to_f32(h);
}

/* ------------------------------------------------------------------------------------------ */
/* Layout facts, by hand                                                                      */

static void test_layouts_by_hand(void **state) {
    (void)state;
    float y[256];

    /* Q4_0: element j in the low nibble of byte j, element j + 16 in the high nibble */
    qs_block_q4_0 a;
    memset(&a, 0x88, sizeof a); /* code 8 everywhere: zero */
    a.d = 0x3800;               /* 0.5 */
    a.qs[0] = 0x1f;             /* element 0: code 15 -> 3.5; element 16: code 1 -> -3.5 */
    a.qs[15] = 0x08 | 0x00;     /* element 31: code 0 -> -4 */
    qs_dequant_q4_0(&a, y, 32);
    assert_true(y[0] == 3.5f && y[16] == -3.5f && y[31] == -4.0f && y[15] == 0.0f && y[1] == 0.0f);

    /* Q4_1: d * c + m */
    qs_block_q4_1 b1;
    memset(&b1, 0, sizeof b1);
    b1.d = 0x3c00; /* 1 */
    b1.m = 0xc000; /* -2 */
    b1.qs[3] = 0xa5;
    qs_dequant_q4_1(&b1, y, 32);
    assert_true(y[3] == 3.0f && y[19] == 8.0f && y[0] == -2.0f);

    /* Q5_0: bit j of the little-endian qh is bit 4 of element j */
    qs_block_q5_0 c;
    memset(&c, 0, sizeof c);
    c.d = 0x3c00;
    c.qh[0] = 0x01; /* element 0 */
    c.qh[2] = 0x02; /* element 17 */
    c.qh[3] = 0x80; /* element 31 */
    c.qs[0] = 0x03; /* element 0: 16 + 3 - 16 = 3 */
    c.qs[1] = 0xf0; /* element 17: 16 + 15 - 16 = 15 */
    qs_dequant_q5_0(&c, y, 32);
    assert_true(y[0] == 3.0f && y[17] == 15.0f && y[31] == 0.0f && y[1] == -16.0f);

    /* Q5_1 */
    qs_block_q5_1 e;
    memset(&e, 0, sizeof e);
    e.d = 0x3800; /* 0.5 */
    e.m = 0x3c00; /* 1 */
    e.qh[3] = 0x80;
    e.qs[15] = 0xf0; /* element 31: code 31 -> 16.5 */
    qs_dequant_q5_1(&e, y, 32);
    assert_true(y[31] == 16.5f && y[0] == 1.0f);

    /* Q8_0 / Q8_1 */
    qs_block_q8_1 g;
    memset(&g, 0, sizeof g);
    g.d = 0x4000; /* 2 */
    g.s = 0x7bff;  /* ignored by dequantization */
    g.qs[5] = -128;
    g.qs[6] = 127;
    qs_dequant_q8_1(&g, y, 32);
    assert_true(y[5] == -256.0f && y[6] == 254.0f && y[0] == 0.0f);

    /* IQ4_NL: the table */
    qs_block_iq4_nl h;
    memset(&h, 0, sizeof h);
    h.d = 0x3c00;
    h.qs[0] = 0xf8; /* element 0: level 8 = 1; element 16: level 15 = 113 */
    qs_dequant_iq4_nl(&h, y, 32);
    assert_true(y[0] == 1.0f && y[16] == 113.0f && y[1] == -127.0f);
    assert_int_equal(qs_iq4nl_values[0], -127);
    assert_int_equal(qs_iq4nl_values[15], 113);
    for (int k = 1; k < 16; k++) assert_true(qs_iq4nl_values[k] > qs_iq4nl_values[k - 1]);

    /* IQ4_XS: group g scale code = nibble g%2 of scales_l[g/2] | bits 2g..2g+1 of scales_h */
    qs_block_iq4_xs x;
    memset(&x, 0, sizeof x);
    x.d = 0x3c00;
    memset(x.scales_l, 0, sizeof x.scales_l);
    x.scales_l[0] = 0x1f;          /* group 0: low 15, group 1: low 1 */
    x.scales_h = (uint16_t)(2u | 3u << 2 | 2u << 14); /* group 0: high 2; group 1: 3; group 7: 2 */
    memset(x.qs, 0x88, sizeof x.qs); /* level 1 everywhere */
    qs_dequant_iq4_xs(&x, y, 256);
    assert_true(y[0] == (float)(47 - 32));    /* group 0: code 0x2f */
    assert_true(y[32] == (float)(49 - 32));   /* group 1: code 0x31 */
    assert_true(y[64] == -32.0f);             /* group 2: code 0 */
    assert_true(y[255] == (float)(32 - 32));  /* group 7: code 0x20 */
}

/* ------------------------------------------------------------------------------------------ */
/* Bit-exact dequantization                                                                   */

static void test_dequant_matches_ggml(void **state) {
    (void)state;
    for (int i = 0; i < LT_NTYPES; i++) {
        const legacy_type *t = &lt_types[i];
        if (!t->ggml_hash) continue;
        int64_t n = (int64_t)LT_HASH_BLOCKS * t->blck;
        uint8_t *blocks = lt_alloc_blocks(t, n);
        float *y = lt_alloc_floats(n);
        lt_random_blocks(t, blocks, LT_HASH_BLOCKS, lt_hash_seed);
        t->dequant(blocks, y, n);
        uint64_t h = lt_hash_floats(y, n);
        if (h != t->ggml_hash) fail_msg("%s: hash %016llx, ggml %016llx", t->name,
                                        (unsigned long long)h, (unsigned long long)t->ggml_hash);
        free(blocks);
        free(y);
    }
}

/* Q8_1 has no ggml dequantizer: its values must read exactly as Q8_0 bytes with the same d and
 * codes, and s must be the stored d times the code sum. */
static void test_q8_1_reads_as_q8_0_with_sum(void **state) {
    (void)state;
    enum { NB = 256, N = NB * 32 };
    float *x = lt_alloc_floats(N), *y0 = lt_alloc_floats(N), *y1 = lt_alloc_floats(N);
    qs_block_q8_1 *b1 = malloc(NB * sizeof *b1);
    qs_block_q8_0 *b0 = malloc(NB * sizeof *b0);
    assert_non_null(b1), assert_non_null(b0);
    qs_test_heavy(x, N, 77);
    qs_quant_q8_1(x, b1, N, NULL);
    int nonzero_sums = 0;
    for (int b = 0; b < NB; b++) {
        int sum = 0;
        for (int j = 0; j < 32; j++) sum += b1[b].qs[j];
        assert_int_equal(b1[b].s, qs_f32_to_fp16((float)sum * qs_fp16_to_f32(b1[b].d)));
        nonzero_sums += sum != 0;
        b0[b].d = b1[b].d;
        memcpy(b0[b].qs, b1[b].qs, 32);
    }
    assert_true(nonzero_sums > NB / 2);
    qs_dequant_q8_1(b1, y1, N);
    qs_dequant_q8_0(b0, y0, N);
    assert_memory_equal(y0, y1, sizeof(float) * N);
    assert_true(qs_test_rmse(x, y1, N) < 0.01); /* heavy data, |x| up to ~10, at 8 bits */
    free(x), free(y0), free(y1), free(b1), free(b0);
}

/* ------------------------------------------------------------------------------------------ */
/* Error against ggml's reference quantizers                                                   */

static void test_rmse_not_above_ggml(void **state) {
    (void)state;
    float *x = lt_alloc_floats(LT_N), *y = lt_alloc_floats(LT_N);
    for (int dset = 0; dset < LT_NDATA; dset++) {
        lt_data(dset, x, LT_N);
        for (int i = 0; i < LT_NTYPES; i++) {
            const legacy_type *t = &lt_types[i];
            uint8_t *blocks = lt_alloc_blocks(t, LT_N);
            for (int r = 0; r < LT_ROWS; r++)
                t->quant(x + (int64_t)r * LT_COLS, blocks + (int64_t)r * (LT_COLS / t->blck) * t->size,
                         LT_COLS, NULL);
            t->dequant(blocks, y, LT_N);
            double ours = qs_test_rmse(x, y, LT_N), ref = t->ggml_rmse[dset];
            print_message("%-6s %-8s rmse %.9g  ggml %.9g  ratio %.4f\n", t->name,
                          lt_data_names[dset], ours, ref, ours / ref);
            assert_true(ref > 0.0);
            if (t->tie_ok) assert_true(ours <= ref * (1.0 + 1e-9));
            else assert_true(ours <= ref);
            assert_true(ours <= t->our_rmse[dset] * 1.005);
            free(blocks);
        }
    }
    free(x), free(y);
}

/* ------------------------------------------------------------------------------------------ */
/* Round trips                                                                                */

/* Every stored code is the best one for its value given the block's scales: decoding the block
 * with the code moved one step either way is never closer. Checked by re-encoding each value
 * with both neighbours through the real dequantizer. */
static void test_codes_are_nearest(void **state) {
    (void)state;
    enum { N = 2048 };
    float *x = lt_alloc_floats(N), *y = lt_alloc_floats(N), *z = lt_alloc_floats(N);
    qs_test_llm_like(x, N, 11);
    /* symmetric and affine 32-blocks: edit codes of the packed nibbles and check */
    const char *names[] = {"Q4_0", "Q4_1", "IQ4_NL"};
    for (int k = 0; k < 3; k++) {
        const legacy_type *t = lt_find(names[k]);
        uint8_t *blocks = lt_alloc_blocks(t, N);
        t->quant(x, blocks, N, NULL);
        t->dequant(blocks, y, N);
        int qs_off = t->size - 16; /* the nibbles end these three layouts */
        for (int b = 0; b < N / 32; b++) {
            uint8_t *qs = blocks + b * t->size + qs_off;
            for (int j = 0; j < 32; j++) {
                uint8_t *byte = &qs[j % 16];
                int shift = j < 16 ? 0 : 4, code = (*byte >> shift) & 15;
                for (int dir = -1; dir <= 1; dir += 2) {
                    int other = code + dir;
                    if (other < 0 || other > 15) continue;
                    uint8_t saved = *byte;
                    *byte = (uint8_t)((*byte & ~(15 << shift)) | other << shift);
                    t->dequant(blocks + b * t->size, z + b * 32, 32);
                    *byte = saved;
                    int i = b * 32 + j;
                    assert_true(fabs((double)x[i] - y[i]) <= fabs((double)x[i] - z[i]));
                }
            }
        }
        free(blocks);
    }
    free(x), free(y), free(z);
}

/* Block error never exceeds what the max-based scale (the classic quantizers' choice, which the
 * search always considers) would give: half a step per value, more only where that scale clips a
 * value at the short end of an asymmetric grid (Q4_0, Q5_0 code 7 / 15 against -8 / -16), plus
 * the slack of rounding d (and m) to half, 2^-11 relative. */
static void test_max_scale_bounds(void **state) {
    (void)state;
    enum { N = 32 * 257 };
    float *x = lt_alloc_floats(N), *y = lt_alloc_floats(N);
    qs_test_heavy(x, N, 21);
    const struct { const char *name; int lo, hi, affine; } cases[] = {
        {"Q4_0", -8, 7, 0},    {"Q5_0", -16, 15, 0}, {"Q8_0", -127, 127, 0},
        {"Q8_1", -127, 127, 0}, {"Q4_1", 0, 15, 1},   {"Q5_1", 0, 31, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const legacy_type *t = lt_find(cases[k].name);
        uint8_t *blocks = lt_alloc_blocks(t, N);
        t->quant(x, blocks, N, NULL);
        t->dequant(blocks, y, N);
        for (int b = 0; b < N / 32; b++) {
            const float *xb = x + b * 32;
            float lo = xb[0], hi = xb[0], xm = 0.0f;
            for (int j = 0; j < 32; j++) {
                lo = fminf(lo, xb[j]), hi = fmaxf(hi, xb[j]);
                if (fabsf(xb[j]) > fabsf(xm)) xm = xb[j];
            }
            double bound2 = 0.0;
            for (int j = 0; j < 32; j++) {
                double step, steps_off;
                if (cases[k].affine) {
                    step = ((double)hi - lo) / cases[k].hi;
                    steps_off = 0.5 + (cases[k].hi + 1) * 0x1p-11 + fabs((double)lo) * 0x1p-11 / step;
                } else {
                    double d = (double)xm / cases[k].lo; /* xm lands on the low end */
                    double tj = xb[j] / d;
                    step = fabs(d);
                    steps_off = fmax(0.5, tj - cases[k].hi) + (cases[k].hi + 1) * 0x1p-11;
                }
                double bj = steps_off * step + 1e-6 * fabs((double)xm);
                bound2 += bj * bj;
            }
            double sse = 0.0;
            for (int j = 0; j < 32; j++) {
                double e = (double)xb[j] - y[b * 32 + j];
                sse += e * e;
            }
            assert_true(sse <= bound2);
        }
        free(blocks);
    }
    free(x), free(y);
}

static void test_zero_blocks_and_odd_counts(void **state) {
    (void)state;
    enum { GUARD = 64 };
    for (int i = 0; i < LT_NTYPES; i++) {
        const legacy_type *t = &lt_types[i];
        int64_t counts[] = {(int64_t)t->blck, 3 * (int64_t)t->blck, 7 * (int64_t)t->blck};
        for (int c = 0; c < 3; c++) {
            int64_t n = counts[c], bytes = n / t->blck * t->size;
            float *x = lt_alloc_floats(n), *y = lt_alloc_floats(n + GUARD);
            uint8_t *blocks = malloc((size_t)(bytes + GUARD));
            assert_non_null(blocks);
            /* zeros everywhere except the middle block, which holds real data */
            memset(x, 0, (size_t)n * sizeof(float));
            int64_t mid = n / t->blck / 2 * t->blck;
            qs_test_gaussian(x + mid, t->blck, 5 + (uint64_t)c);
            memset(blocks, 0xa5, (size_t)(bytes + GUARD));
            for (int g = 0; g < GUARD; g++) y[n + g] = -7.0f;
            t->quant(x, blocks, n, NULL);
            t->dequant(blocks, y, n);
            for (int g = 0; g < GUARD; g++) {
                assert_int_equal(blocks[bytes + g], 0xa5); /* nothing written past the row */
                assert_true(y[n + g] == -7.0f);
            }
            for (int64_t j = 0; j < n; j++) {
                if (j >= mid && j < mid + t->blck) continue;
                assert_true(y[j] == 0.0f); /* all-zero blocks come back exactly zero */
            }
            double rms = qs_test_rmse(x + mid, y + mid, t->blck);
            assert_true(rms > 0.0 && rms < 0.2); /* N(0,1) data at 4 bits or more */
            free(x), free(y), free(blocks);
        }
    }
}

/* With an importance vector the weighted error must drop compared with ignoring it. */
static void test_importance_lowers_weighted_error(void **state) {
    (void)state;
    enum { N = 64 * 256 };
    float *x = lt_alloc_floats(N), *w = lt_alloc_floats(N), *y = lt_alloc_floats(N);
    qs_test_llm_like(x, N, 31);
    uint64_t s = 99;
    for (int i = 0; i < N; i++) {
        float u = qs_test_uniform(&s);
        w[i] = (i % 256) % 7 == 0 ? 50.0f * u + 1.0f : 0.05f + u; /* some columns matter more */
    }
    for (int i = 0; i < LT_NTYPES; i++) {
        const legacy_type *t = &lt_types[i];
        uint8_t *blocks = lt_alloc_blocks(t, N);
        t->quant(x, blocks, N, NULL);
        t->dequant(blocks, y, N);
        double plain = lt_weighted_sse(x, y, w, N);
        t->quant(x, blocks, N, w);
        t->dequant(blocks, y, N);
        double weighted = lt_weighted_sse(x, y, w, N);
        print_message("%-6s weighted sse: ignoring importance %.6g, using it %.6g\n", t->name, plain,
                      weighted);
        assert_true(weighted < plain);
        free(blocks);
    }
    free(x), free(w), free(y);
}

/* Huge, tiny and mixed magnitudes: finite output, sane signs, no UB (run under UBSan). */
static void test_extreme_magnitudes(void **state) {
    (void)state;
    enum { N = 512 };
    float *x = lt_alloc_floats(N), *y = lt_alloc_floats(N), *w = lt_alloc_floats(N);
    /* 0 stands for O(1) data with +-FLT_MAX outliers */
    const float scales[] = {FLT_MAX / 16.0f, 1e30f, 7e4f /* d beyond half range */, 1e-6f,
                            1e-30f, 1e-40f /* subnormal */, 0.0f};
    for (int j = 0; j < N; j++) w[j] = (j % 3) ? 1.0f : (j % 2 ? FLT_MAX : 0.0f);
    for (int i = 0; i < LT_NTYPES; i++) {
        const legacy_type *t = &lt_types[i];
        uint8_t *blocks = lt_alloc_blocks(t, N);
        for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
            qs_test_heavy(x, N, 3 + k);
            for (int j = 0; j < N; j++) {
                if (scales[k] == 0.0f) {
                    if (j % 97 == 0) x[j] = j % 2 ? FLT_MAX : -FLT_MAX;
                } else {
                    x[j] *= scales[k];
                    if (!isfinite(x[j])) x[j] = x[j] > 0 ? FLT_MAX : -FLT_MAX;
                }
            }
            for (int pass = 0; pass < 2; pass++) {
                t->quant(x, blocks, N, pass ? w : NULL);
                t->dequant(blocks, y, N);
                for (int64_t b = 0; b < N / t->blck; b++)
                    for (int f = 0; f < 3 && t->half_off[f] >= 0; f++)
                        assert_true(isfinite(lt_half_at(t, blocks, b, f)));
                for (int j = 0; j < N; j++) {
                    assert_true(isfinite(y[j]));
                    /* a value that dominates its block never comes back with the wrong sign */
                    if (fabsf(x[j]) > 1e20f) assert_true(y[j] * x[j] >= 0.0f);
                }
            }
        }
        free(blocks);
    }
    free(x), free(y), free(w);
}

/* Scaling the input by a power of two (keeping every scale a normal half) scales the output by
 * exactly that power: the search has no absolute thresholds. */
static void test_power_of_two_scaling(void **state) {
    (void)state;
    enum { N = 1024 };
    float *x = lt_alloc_floats(N), *xs = lt_alloc_floats(N), *y = lt_alloc_floats(N),
          *ys = lt_alloc_floats(N);
    qs_test_heavy(x, N, 41);
    for (int j = 0; j < N; j++) xs[j] = x[j] * 8192.0f;
    for (int i = 0; i < LT_NTYPES; i++) {
        const legacy_type *t = &lt_types[i];
        uint8_t *blocks = lt_alloc_blocks(t, N);
        t->quant(x, blocks, N, NULL);
        t->dequant(blocks, y, N);
        t->quant(xs, blocks, N, NULL);
        t->dequant(blocks, ys, N);
        for (int j = 0; j < N; j++) assert_true(ys[j] == y[j] * 8192.0f);
        free(blocks);
    }
    free(x), free(xs), free(y), free(ys);
}

/* NaN is not valid input, but it must stay contained: no UB, finite output, and the other
 * blocks of the row quantize exactly as they would alone. */
static void test_nan_input_is_contained(void **state) {
    (void)state;
    enum { N = 512 };
    float *x = lt_alloc_floats(N), *y = lt_alloc_floats(N), *y2 = lt_alloc_floats(N);
    for (int i = 0; i < LT_NTYPES; i++) {
        const legacy_type *t = &lt_types[i];
        uint8_t *blocks = lt_alloc_blocks(t, N);
        qs_test_gaussian(x, N, 8);
        t->quant(x + t->blck, blocks, N - t->blck, NULL);
        t->dequant(blocks, y2, N - t->blck);
        x[0] = NAN;
        x[t->blck - 1] = NAN;
        t->quant(x, blocks, N, NULL);
        t->dequant(blocks, y, N);
        for (int j = 0; j < N; j++) assert_true(isfinite(y[j]));
        assert_memory_equal(y + t->blck, y2, sizeof(float) * (size_t)(N - t->blck));
        free(blocks);
    }
    free(x), free(y), free(y2);
}

#ifndef LT_NO_MAIN
int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts_by_hand),
        cmocka_unit_test(test_dequant_matches_ggml),
        cmocka_unit_test(test_q8_1_reads_as_q8_0_with_sum),
        cmocka_unit_test(test_rmse_not_above_ggml),
        cmocka_unit_test(test_codes_are_nearest),
        cmocka_unit_test(test_max_scale_bounds),
        cmocka_unit_test(test_zero_blocks_and_odd_counts),
        cmocka_unit_test(test_importance_lowers_weighted_error),
        cmocka_unit_test(test_extreme_magnitudes),
        cmocka_unit_test(test_power_of_two_scaling),
        cmocka_unit_test(test_nan_input_is_contained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
