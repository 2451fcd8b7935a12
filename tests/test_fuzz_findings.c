/* Regressions for what the fuzzers (fuzz/) found: each test replays the (minimised) input of one
 * finding through the public call that failed and asserts the corrected behaviour. The harness
 * and the date are noted so the history can be followed in fuzz/README.md. */
#include "qs_test_util.h"

#include <stdint.h>
#include <string.h>

#include "cli_util.h"

/* fuzz_cli: sizes at or above 2^63 bytes came back wrong. cli_parse_size converted the double
 * with llround(), which returns a signed long: "12733188517.31 GiB" (about 1.37e19) gave
 * 9223372036854775808 instead of its value. Whole numbers also went through a double, so a
 * 20-digit byte count was rounded to 53 bits. */
static void test_parse_size_above_2_63(void **state) {
    (void)state;
    uint64_t v = 0;
    assert_int_equal(cli_parse_size("12733188517.31 GiB", &v), 0);
    /* 12733188517.31 * 2^30 = 13672157063912294973.44: the double nearest is what we want,
     * within one double ulp at this magnitude (2048) */
    assert_true(v >= 13672157063912292000ull && v <= 13672157063912298000ull);
    assert_int_equal(cli_parse_size("18446744073709551615", &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(cli_parse_size("9007199254740993", &v), 0); /* 2^53 + 1: not a double */
    assert_true(v == 9007199254740993ull);
    assert_int_equal(cli_parse_size("8388607 TiB", &v), 0); /* (2^23 - 1) * 2^40 */
    assert_true(v == (((1ull << 23) - 1) << 40));
    assert_int_equal(cli_parse_size("16777216 TiB", &v), -1); /* 2^64: does not fit */
    assert_int_equal(cli_parse_size("18446744073709551616", &v), -1);
    assert_int_equal(cli_parse_size("16777215.999 TiB", &v), 0);
    assert_true(v > 0xffffff0000000000ull);
    assert_int_equal(cli_parse_size("16777215.9999999999 TiB", &v), -1); /* rounds to 2^64 */
}

/* fuzz_cli: cli_fmt_int(INT64_MIN) negated INT64_MIN (signed overflow, undefined; UBSan). */
static void test_fmt_int_min(void **state) {
    (void)state;
    char b[64];
    assert_string_equal(cli_fmt_int(INT64_MIN, b, sizeof b), "-9,223,372,036,854,775,808");
    assert_string_equal(cli_fmt_int(INT64_MAX, b, sizeof b), "9,223,372,036,854,775,807");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size_above_2_63),
        cmocka_unit_test(test_fmt_int_min),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
