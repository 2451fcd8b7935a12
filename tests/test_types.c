/* The type table and the float formats. */
#include "qs_test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qs_formats.h"
#include "qs_types.h"

static void test_table_facts(void **state) {
    (void)state;
    /* Sizes and block sizes are facts of the GGUF format. */
    assert_int_equal(qs_type_traits_get(QS_TYPE_Q4_0)->type_size, 18);
    assert_int_equal(qs_type_traits_get(QS_TYPE_Q4_K)->type_size, 144);
    assert_int_equal(qs_type_traits_get(QS_TYPE_Q6_K)->type_size, 210);
    assert_int_equal(qs_type_traits_get(QS_TYPE_IQ4_XS)->type_size, 136);
    assert_int_equal(qs_type_traits_get(QS_TYPE_IQ2_XXS)->type_size, 66);
    assert_int_equal(qs_type_traits_get(QS_TYPE_Q4_K)->blck_size, 256);
    assert_true(fabs(qs_type_bpw(QS_TYPE_Q4_K) - 4.5) < 1e-12);
    assert_true(fabs(qs_type_bpw(QS_TYPE_Q6_K) - 6.5625) < 1e-12);
    assert_true(fabs(qs_type_bpw(QS_TYPE_Q8_0) - 8.5) < 1e-12);
    /* ids 4, 5 and 31..33 were removed from ggml and are not valid in files */
    assert_false(qs_type_valid(4));
    assert_false(qs_type_valid(31));
    assert_false(qs_type_valid(-1));
    assert_false(qs_type_valid(QS_TYPE_COUNT));
    assert_string_equal(qs_type_name(99), "?");
    assert_int_equal(qs_type_row_bytes(QS_TYPE_Q4_0, 64), 36);
    assert_int_equal(qs_type_row_bytes(QS_TYPE_Q4_0, 65), 0);
    assert_int_equal(qs_type_row_bytes(QS_TYPE_F16, 7), 14);
}

static void test_names(void **state) {
    (void)state;
    qs_type t;
    assert_int_equal(qs_type_from_name("q4_k", &t), QS_OK);
    assert_int_equal(t, QS_TYPE_Q4_K);
    assert_int_equal(qs_type_from_name("BF16", &t), QS_OK);
    assert_int_equal(t, QS_TYPE_BF16);
    assert_int_equal(qs_type_from_name("q4_2", &t), QS_ERR);
    assert_int_equal(qs_type_from_name("", &t), QS_ERR);
    for (int i = 0; i < QS_TYPE_COUNT; i++) {
        if (!qs_type_valid(i)) continue;
        assert_int_equal(qs_type_from_name(qs_type_name(i), &t), QS_OK);
        assert_int_equal((int)t, i);
    }
}

static void test_fp16_edges(void **state) {
    (void)state;
    assert_int_equal(qs_f32_to_fp16(1.0f), 0x3c00);
    assert_int_equal(qs_f32_to_fp16(-2.0f), 0xc000);
    assert_int_equal(qs_f32_to_fp16(65504.0f), 0x7bff);
    assert_int_equal(qs_f32_to_fp16(65520.0f), 0x7c00);     /* rounds to inf */
    assert_int_equal(qs_f32_to_fp16(0x1p-24f), 0x0001);     /* smallest subnormal */
    assert_int_equal(qs_f32_to_fp16(0x1p-25f), 0x0000);     /* tie to even: zero */
    assert_int_equal(qs_f32_to_fp16(0x1.8p-25f), 0x0001);
    assert_int_equal(qs_f32_to_fp16(1.0f + 0x1p-11f), 0x3c00); /* tie to even */
    assert_int_equal(qs_f32_to_fp16(1.0f + 0x1.8p-11f), 0x3c01);
    assert_int_equal(qs_f32_to_fp16(1.0f + 0x1.8p-10f), 0x3c02); /* tie between 3c01 and 3c02 */
    assert_int_equal(qs_f32_to_fp16(NAN) & 0x7fff, 0x7e00);
    assert_true(qs_fp16_to_f32(0x7c00) == INFINITY);
    assert_true(qs_fp16_to_f32(0x0001) == 0x1p-24f);
    /* every half survives a round trip through float */
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaNs */
        assert_int_equal(qs_f32_to_fp16(qs_fp16_to_f32((qs_fp16)h)), h);
    }
}

static void test_bf16(void **state) {
    (void)state;
    assert_int_equal(qs_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(qs_f32_to_bf16(qs_bits_f32(0x3f808000u)), 0x3f80); /* tie to even */
    assert_int_equal(qs_f32_to_bf16(qs_bits_f32(0x3f818000u)), 0x3f82);
    assert_int_equal(qs_f32_to_bf16(qs_bits_f32(0x7f800001u)), 0x7fc0);  /* NaN stays NaN */
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7f80) == 0x7f80 && (h & 0x7f)) continue;
        assert_int_equal(qs_f32_to_bf16(qs_bf16_to_f32((qs_bf16)h)), h);
    }
}

static void test_float_rows(void **state) {
    (void)state;
    enum { N = 1000 };
    float x[N], y[N];
    uint8_t buf[N * 4];
    qs_test_gaussian(x, N, 7);
    const int types[] = {QS_TYPE_F32, QS_TYPE_F16, QS_TYPE_BF16};
    const double tol[] = {0.0, 1e-3, 8e-3}; /* relative error bound of each format */
    for (int k = 0; k < 3; k++) {
        const qs_type_traits *t = qs_type_traits_get(types[k]);
        t->quantize(x, buf, N, NULL);
        t->to_float(buf, y, N);
        for (int i = 0; i < N; i++) assert_true(fabsf(x[i] - y[i]) <= tol[k] * fabsf(x[i]));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_facts), cmocka_unit_test(test_names),
        cmocka_unit_test(test_fp16_edges),  cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_float_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
