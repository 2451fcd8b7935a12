/* CLI helpers: size parsing, number and size formatting, strict option parsers, JSON numbers. */
#include "qs_test_util.h"

#include <math.h>
#include <string.h>

#include "cli_util.h"

static void test_parse_size(void **state) {
    (void)state;
    struct { const char *s; uint64_t v; } good[] = {
        {"0", 0},
        {"1048576", 1048576},
        {"6GiB", 6ull << 30},
        {"6.5G", 6979321856ull}, /* 6.5 x 1024^3 */
        {"800MiB", 800ull << 20},
        {"800 MiB", 800ull << 20},
        {"512k", 512ull << 10},
        {"1.5KB", 1536},
        {"2t", 2ull << 40},
        {"24gb", 24ull << 30},
        {"7b", 7},
        {".5G", 1ull << 29},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v = 12345;
        if (cli_parse_size(good[i].s, &v) != 0) fail_msg("'%s' refused", good[i].s);
        if (v != good[i].v) fail_msg("'%s' -> %llu, expected %llu", good[i].s, (unsigned long long)v,
                                     (unsigned long long)good[i].v);
    }
    const char *bad[] = {"", " ", "G", "-1G", "1.5", "1.5B", "6 GiBs", "6X", "0x10", "1e3", "inf", "nan",
                         "1.2.3G", "99999999999T", "6 G B", NULL};
    for (int i = 0; bad[i]; i++) {
        uint64_t v = 777;
        if (cli_parse_size(bad[i], &v) == 0) fail_msg("'%s' accepted as %llu", bad[i], (unsigned long long)v);
        assert_int_equal(v, 777); /* untouched */
    }
    uint64_t v;
    assert_int_equal(cli_parse_size(NULL, &v), -1);
}

static void test_format(void **state) {
    (void)state;
    char b[64];
    assert_string_equal(cli_fmt_bytes(0, b, sizeof b), "0 B");
    assert_string_equal(cli_fmt_bytes(1023, b, sizeof b), "1023 B");
    assert_string_equal(cli_fmt_bytes(12288, b, sizeof b), "12.0 KiB");
    assert_string_equal(cli_fmt_bytes(7373280, b, sizeof b), "7.03 MiB");
    assert_string_equal(cli_fmt_bytes(16060522496ull, b, sizeof b), "14.96 GiB");
    assert_string_equal(cli_fmt_int(0, b, sizeof b), "0");
    assert_string_equal(cli_fmt_int(999, b, sizeof b), "999");
    assert_string_equal(cli_fmt_int(292800, b, sizeof b), "292,800");
    assert_string_equal(cli_fmt_int(8030261248, b, sizeof b), "8,030,261,248");
    assert_string_equal(cli_fmt_int(-1234567, b, sizeof b), "-1,234,567");
    assert_string_equal(cli_fmt_count(512, b, sizeof b), "512");
    assert_string_equal(cli_fmt_count(292800, b, sizeof b), "292.8 K");
    assert_string_equal(cli_fmt_count(596049920, b, sizeof b), "596.0 M");
    assert_string_equal(cli_fmt_count(1100048384, b, sizeof b), "1.10 B");
    /* a short buffer truncates, NUL-terminated */
    char s[4];
    cli_fmt_int(1234567, s, sizeof s);
    assert_int_equal(strlen(s), 3);
}

static void test_parse_numbers(void **state) {
    (void)state;
    int64_t i = 5;
    assert_int_equal(cli_parse_int("42", &i), 0);
    assert_int_equal(i, 42);
    assert_int_equal(cli_parse_int("-7", &i), 0);
    assert_int_equal(i, -7);
    assert_int_equal(cli_parse_int("", &i), -1);
    assert_int_equal(cli_parse_int("4x", &i), -1);
    assert_int_equal(cli_parse_int("1.0", &i), -1);
    assert_int_equal(cli_parse_int("99999999999999999999", &i), -1);
    assert_int_equal(i, -7);
    double d = 0;
    assert_int_equal(cli_parse_double("0.25", &d), 0);
    assert_true(d == 0.25);
    assert_int_equal(cli_parse_double("1e-3", &d), 0);
    assert_true(d == 1e-3);
    assert_int_equal(cli_parse_double("nan", &d), -1);
    assert_int_equal(cli_parse_double("0.5x", &d), -1);
    assert_int_equal(cli_parse_double("", &d), -1);
}

static void test_json_real(void **state) {
    (void)state;
    json_t *v = cli_json_real(1.5);
    assert_true(json_is_real(v));
    assert_true(json_real_value(v) == 1.5);
    json_decref(v);
    v = cli_json_real(INFINITY);
    assert_true(json_is_null(v));
    json_decref(v);
    v = cli_json_real(NAN);
    assert_true(json_is_null(v));
    json_decref(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size), cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse_numbers), cmocka_unit_test(test_json_real),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
