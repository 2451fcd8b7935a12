/* Quantizers per SIMD level (qs_quant_simd.h): every level the CPU can run writes the same
 * bytes as the scalar level, for every quantizable type, on the shared data sets, with and
 * without importance, on extreme inputs, and through the public (dispatching) entry points. */
#include "qs_test_util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qs_quant_simd.h"
#include "qs_types.h"

enum { ROWS = 16, COLS = 4096, N = ROWS * COLS };

static const qs_simd_level simd_levels[] = {QS_SIMD_AVX2, QS_SIMD_AVX512};

/* Inputs: the three data sets, one with a skewed importance row, and a row of extremes. */
static void make_inputs(float *x, float *imp) {
    qs_test_dataset(0, x, N / 4);
    qs_test_dataset(1, x + N / 4, N / 4);
    qs_test_dataset(2, x + N / 2, N / 4);
    qs_test_heavy(x + 3 * N / 4, N / 4, 17);
    float *e = x + 3 * N / 4;
    for (int i = 0; i < 4096; i++) { /* first row of the last quarter: mixed extremes */
        switch ((i / 256) % 8) {
        case 0: e[i] *= 1e30f; break;
        case 1: e[i] *= 1e-30f; break;
        case 2: e[i] *= 1e-41f; break;
        case 3: e[i] = (i % 7 == 0) ? NAN : e[i]; break;
        case 4: e[i] = (i % 9 == 0) ? INFINITY : e[i]; break;
        case 5: e[i] = (i % 16 == 0) ? 60000.0f : 0.0f; break;
        case 6: e[i] = 0.25f; break;
        default: break;
        }
    }
    uint64_t s = 11;
    for (int i = 0; i < COLS; i++) {
        float u = qs_test_uniform(&s);
        imp[i] = (i % 29 == 0) ? 0.0f : u * u * u * 40.0f + 0.01f;
    }
}

static void quant_rows(qs_quant_level_fn f, int t, const float *x, const float *imp, uint8_t *q) {
    const size_t rb = (size_t)qs_type_row_bytes(t, COLS);
    for (int r = 0; r < ROWS; r++) f(x + (size_t)r * COLS, q + r * rb, COLS, (r & 1) ? imp : NULL);
}

static void test_levels_same_bytes(void **state) {
    (void)state;
    float *x = malloc(sizeof(float) * N), *imp = malloc(sizeof(float) * COLS);
    uint8_t *ref = malloc((size_t)N * 4), *got = malloc((size_t)N * 4);
    assert_non_null(x);
    assert_non_null(imp);
    assert_non_null(ref);
    assert_non_null(got);
    make_inputs(x, imp);
    const qs_cpu_features *cpu = qs_cpu_features_get();
    const qs_type *ladder;
    const int nt = qs_type_ladder(&ladder);
    int checked = 0;
    for (int k = 0; k < nt; k++) {
        const int t = ladder[k];
        if (!qs_type_can_quantize(t) || COLS % qs_type_traits_get(t)->blck_size) continue;
        const qs_quant_level_fn scalar = qs_quant_fn_for_level(t, QS_SIMD_SCALAR);
        assert_non_null(scalar);
        const size_t bytes = (size_t)qs_type_row_bytes(t, COLS) * ROWS;
        quant_rows(scalar, t, x, imp, ref);
        /* the public entry point (whatever level this process runs) agrees */
        quant_rows(qs_type_traits_get(t)->quantize, t, x, imp, got);
        if (memcmp(ref, got, bytes)) fail_msg("%s: public quantizer differs from scalar", qs_type_name(t));
        for (size_t l = 0; l < sizeof simd_levels / sizeof simd_levels[0]; l++) {
            const qs_simd_level lv = simd_levels[l];
            const qs_quant_level_fn f = qs_quant_fn_for_level(t, lv);
            if (!f || !qs_simd_level_usable(cpu, lv)) continue;
            memset(got, 0x5a, bytes);
            quant_rows(f, t, x, imp, got);
            if (memcmp(ref, got, bytes))
                fail_msg("%s: level %s writes different bytes than scalar", qs_type_name(t), qs_simd_level_name(lv));
            checked++;
        }
    }
    if (!qs_simd_level_usable(cpu, QS_SIMD_AVX2)) print_message("  [note] no AVX2 on this CPU: only scalar checked\n");
    else assert_true(checked > 0);
    free(x);
    free(imp);
    free(ref);
    free(got);
}

static void test_level_lookup(void **state) {
    (void)state;
    assert_null(qs_quant_fn_for_level(QS_TYPE_F32 + 9999, QS_SIMD_SCALAR)); /* invalid type */
    assert_null(qs_quant_fn_for_level(QS_TYPE_Q4_K, QS_SIMD_AUTO));
    assert_non_null(qs_quant_fn_for_level(QS_TYPE_Q4_K, QS_SIMD_SCALAR));
#if defined(__x86_64__)
    assert_null(qs_quant_fn_for_level(QS_TYPE_Q4_K, QS_SIMD_NEON));
    assert_true(qs_quant_fn_for_level(QS_TYPE_Q4_K, QS_SIMD_AVX2) != qs_quant_fn_for_level(QS_TYPE_Q4_K, QS_SIMD_SCALAR));
#endif
    /* a type with one quantizer gives it for every level */
    assert_true(qs_quant_fn_for_level(QS_TYPE_Q8_K, QS_SIMD_SCALAR) == qs_type_traits_get(QS_TYPE_Q8_K)->quantize);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_lookup),
        cmocka_unit_test(test_levels_same_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
