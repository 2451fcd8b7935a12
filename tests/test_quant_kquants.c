/* K-quants: Q2_K .. Q6_K against ggml's dequantization and reference quantizer; Q8_K. */
#include "qs_test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qs_formats.h"

typedef struct ktype {
    const char *name;
    int size;
    int half_off[2], n_half; /* fp16 fields: d (and dmin) */
    void (*dequant)(const void *, float *, int64_t);
    void (*quant)(const float *, void *, int64_t, const float *);
    /* FNV-1a of ggml's dequantize_row_X over qs_test_random_blocks(.., 512 blocks, seed
     * 0x9a55b10c), measured with llama.cpp commit d32676d7. */
    uint64_t ggml_hash;
    /* RMSE of ggml's reference quantizer (quantize_X, no importance matrix) on the three data
     * sets split in rows of 4096, measured with llama.cpp commit d32676d7. */
    double ggml_rmse[QS_TEST_NDATA];
    /* our RMSE when these tables were made: a change that loses more than 0.5 % fails */
    double our_rmse[QS_TEST_NDATA];
} ktype;

static const ktype kt[] = {
    {"Q2_K", 84, {80, 82}, 2, qs_dequant_q2_K, qs_quant_q2_K, 0x4867b66950b54692ull,
     {0.29353073, 0.29304436, 0.0111165013}, {0.260436773, 0.242052588, 0.00898728385}},
    {"Q3_K", 110, {108, -1}, 1, qs_dequant_q3_K, qs_quant_q3_K, 0x640c74aa2e9cd046ull,
     {0.14906109, 0.15817998, 0.00677876752}, {0.141749142, 0.151596078, 0.00665057717}},
    {"Q4_K", 144, {0, 2}, 2, qs_dequant_q4_K, qs_quant_q4_K, 0x37e0bcae7923ac18ull,
     {0.0705181958, 0.0758199897, 0.00359115724}, {0.0691182676, 0.0738310549, 0.00351206252}},
    {"Q5_K", 176, {0, 2}, 2, qs_dequant_q5_K, qs_quant_q5_K, 0x6f5c74376ef04a64ull,
     {0.0356799896, 0.0383167667, 0.00180022508}, {0.0342346235, 0.036666312, 0.00173022907}},
    {"Q6_K", 210, {208, -1}, 1, qs_dequant_q6_K, qs_quant_q6_K, 0xa8c067ab8787fda2ull,
     {0.0174513793, 0.0203767767, 0.00108461743}, {0.0166711143, 0.0196461818, 0.00106270686}},
};
enum { NK = sizeof kt / sizeof kt[0], HASH_BLOCKS = 512, ROWS = 64, COLS = 4096 };

static void test_block_sizes(void **state) {
    (void)state;
    assert_int_equal(sizeof(qs_block_q2_K), 84);
    assert_int_equal(sizeof(qs_block_q3_K), 110);
    assert_int_equal(sizeof(qs_block_q4_K), 144);
    assert_int_equal(sizeof(qs_block_q5_K), 176);
    assert_int_equal(sizeof(qs_block_q6_K), 210);
    assert_int_equal(sizeof(qs_block_q8_K), 292);
}

/* Dequantization is bit-identical with ggml's on random blocks (every code and scale pattern). */
static void test_dequant_matches_ggml(void **state) {
    (void)state;
    uint8_t *blocks = malloc((size_t)HASH_BLOCKS * 256);
    float *y = malloc((size_t)HASH_BLOCKS * 256 * sizeof *y);
    for (int i = 0; i < NK; i++) {
        qs_test_random_blocks(blocks, HASH_BLOCKS, kt[i].size, kt[i].half_off, kt[i].n_half, 0x9a55b10c);
        kt[i].dequant(blocks, y, (int64_t)HASH_BLOCKS * 256);
        uint64_t h = qs_test_hash_floats(y, (int64_t)HASH_BLOCKS * 256);
        if (h != kt[i].ggml_hash) fail_msg("%s: dequantization hash 0x%016llx, ggml's 0x%016llx", kt[i].name,
                                           (unsigned long long)h, (unsigned long long)kt[i].ggml_hash);
    }
    free(blocks);
    free(y);
}

/* Hand-made blocks pin the layouts: one code set, every other zero. */
static void test_layout_by_hand(void **state) {
    (void)state;
    float y[256];
    /* Q4_K: d = 1, dmin = 0, sub-block scales all 1: element 40 is byte 8's high nibble */
    qs_block_q4_K b4;
    memset(&b4, 0, sizeof b4);
    b4.d = qs_f32_to_fp16(1.0f);
    for (int j = 0; j < 4; j++) b4.scales[j] = 1;
    for (int j = 8; j < 12; j++) b4.scales[j] = 1; /* sub-blocks 4..7: scale nibble */
    b4.qs[8] = 0x70;
    qs_dequant_q4_K(&b4, y, 256);
    for (int e = 0; e < 256; e++) assert_true(y[e] == (e == 40 ? 7.0f : 0.0f));
    /* Q6_K: d = 1, scale of sub-block 13 = 2; element 208 = chunk 1, quarter 2, l = 16 */
    qs_block_q6_K b6;
    memset(&b6, 0, sizeof b6);
    b6.d = qs_f32_to_fp16(1.0f);
    b6.scales[13] = 2;
    for (int i = 0; i < 128; i++) b6.ql[i] = 0x88; /* code 8 - 32 = -24 ... */
    for (int i = 0; i < 64; i++) b6.qh[i] = 0xAA;  /* ... plus 32: 40 - 32 = 8 everywhere */
    qs_dequant_q6_K(&b6, y, 256);
    for (int e = 0; e < 256; e++) assert_true(y[e] == (e / 16 == 13 ? 16.0f : 0.0f));
}

/* Our quantizers beat ggml's reference quantizer on every data set; ggml reads our bytes (the
 * dequantizers being bit-identical, our dequantization of our bytes is what ggml computes). */
static void test_rmse_vs_ggml(void **state) {
    (void)state;
    float *x = malloc((size_t)ROWS * COLS * sizeof *x), *y = malloc((size_t)ROWS * COLS * sizeof *y);
    uint8_t *q = malloc((size_t)ROWS * COLS);
    for (int d = 0; d < QS_TEST_NDATA; d++) {
        qs_test_dataset(d, x, (int64_t)ROWS * COLS);
        for (int i = 0; i < NK; i++) {
            size_t rb = (COLS / 256) * (size_t)kt[i].size;
            for (int r = 0; r < ROWS; r++) kt[i].quant(x + r * COLS, q + r * rb, COLS, NULL);
            for (int r = 0; r < ROWS; r++) kt[i].dequant(q + r * rb, y + r * COLS, COLS);
            double ours = qs_test_rmse(x, y, (int64_t)ROWS * COLS);
            print_message("%-9s %s rmse %.9g  ggml %.9g  ratio %.4f\n", qs_test_data_names[d], kt[i].name, ours,
                          kt[i].ggml_rmse[d], ours / kt[i].ggml_rmse[d]);
            if (!(ours <= kt[i].ggml_rmse[d]))
                fail_msg("%s on %s: rmse %.9g above ggml's %.9g", kt[i].name, qs_test_data_names[d], ours, kt[i].ggml_rmse[d]);
            if (!(ours <= kt[i].our_rmse[d] * 1.005))
                fail_msg("%s on %s: rmse %.9g regressed from %.9g", kt[i].name, qs_test_data_names[d], ours, kt[i].our_rmse[d]);
        }
    }
    free(x);
    free(y);
    free(q);
}

static void test_zero_and_odd_counts(void **state) {
    (void)state;
    for (int i = 0; i < NK; i++) {
        for (int nb = 1; nb <= 5; nb += 2) {
            int64_t n = 256 * nb;
            float *x = calloc((size_t)n, sizeof *x), *y = malloc((size_t)n * sizeof *y);
            uint8_t *q = malloc((size_t)nb * kt[i].size + 16);
            memset(q, 0xA5, (size_t)nb * kt[i].size + 16);
            kt[i].quant(x, q, n, NULL);
            for (int k = 0; k < 16; k++) assert_int_equal(q[(size_t)nb * kt[i].size + k], 0xA5); /* no overrun */
            kt[i].dequant(q, y, n);
            for (int64_t e = 0; e < n; e++) assert_true(y[e] == 0.0f);
            /* a constant block is reproduced closely */
            for (int64_t e = 0; e < n; e++) x[e] = 0.25f;
            kt[i].quant(x, q, n, NULL);
            kt[i].dequant(q, y, n);
            for (int64_t e = 0; e < n; e++) assert_true(fabsf(y[e] - 0.25f) < 0.25f * 0.02f);
            free(x);
            free(y);
            free(q);
        }
    }
}

static void test_importance(void **state) {
    (void)state;
    enum { N = 256 * 8 };
    float x[N], y[N], imp[N];
    uint8_t q[8 * 210];
    qs_test_llm_like(x, N, 99);
    uint64_t s = 7;
    for (int e = 0; e < N; e++) imp[e] = (qs_test_rng(&s) & 7) == 0 ? 50.0f : 0.1f;
    for (int i = 0; i < NK; i++) {
        double werr[2];
        for (int k = 0; k < 2; k++) {
            kt[i].quant(x, q, N, k ? imp : NULL);
            kt[i].dequant(q, y, N);
            double acc = 0;
            for (int e = 0; e < N; e++) acc += imp[e] * (double)(x[e] - y[e]) * (x[e] - y[e]);
            werr[k] = acc;
        }
        if (!(werr[1] < werr[0])) fail_msg("%s: importance did not lower the weighted error", kt[i].name);
    }
}

static void test_extremes(void **state) {
    (void)state;
    enum { N = 512 };
    float x[N], y[N];
    uint8_t q[2 * 210];
    const float mags[] = {1e-30f, 1e-7f, 3e4f, 1e9f, 3e38f};
    for (size_t m = 0; m < sizeof mags / sizeof mags[0]; m++) {
        qs_test_heavy(x, N, 5 + m);
        for (int e = 0; e < N; e++) x[e] *= mags[m];
        x[3] = NAN; /* a NaN must not spread beyond its own block's statistics or crash */
        for (int i = 0; i < NK; i++) {
            kt[i].quant(x, q, N, NULL);
            kt[i].dequant(q, y, N);
            for (int e = 0; e < N; e++)
                if (!isfinite(y[e])) fail_msg("%s: non-finite output for magnitude %g", kt[i].name, mags[m]);
        }
    }
}

static void test_q8_K(void **state) {
    (void)state;
    enum { N = 512 };
    float x[N], y[N];
    qs_block_q8_K b[2];
    qs_test_gaussian(x, N, 3);
    qs_quant_q8_K(x, b, N, NULL);
    qs_dequant_q8_K(b, y, N);
    for (int k = 0; k < 2; k++)
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int e = 0; e < 16; e++) sum += b[k].qs[16 * g + e];
            assert_int_equal(b[k].bsums[g], sum);
        }
    for (int e = 0; e < N; e++) assert_true(fabsf(x[e] - y[e]) <= fabsf(b[e / 256].d) * 0.5f + 1e-6f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_sizes),   cmocka_unit_test(test_dequant_matches_ggml),
        cmocka_unit_test(test_layout_by_hand), cmocka_unit_test(test_rmse_vs_ggml),
        cmocka_unit_test(test_zero_and_odd_counts), cmocka_unit_test(test_importance),
        cmocka_unit_test(test_extremes),      cmocka_unit_test(test_q8_K),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
