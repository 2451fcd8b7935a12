/* Chart arithmetic: bar eighths, histogram columns, panels, axes, label placement, gauge. */
#include "qs_test_util.h"

#include <math.h>
#include <string.h>

#include "tui_plot.h"

static void test_bar_eighths(void **state) {
    (void)state;
    assert_int_equal(tui_bar_eighths(10, 10, 6), 48);   /* the max fills every cell */
    assert_int_equal(tui_bar_eighths(5, 10, 6), 24);    /* half */
    assert_int_equal(tui_bar_eighths(1, 1000, 6), 1);   /* 0.048 eighths rounds to 0: shown as 1 */
    assert_int_equal(tui_bar_eighths(0, 10, 6), 0);
    assert_int_equal(tui_bar_eighths(3, 0, 6), 0);
    assert_int_equal(tui_bar_eighths(20, 10, 6), 48);   /* clamped */
    assert_int_equal(tui_bar_eighths(1, 3, 1), 3);      /* 2.67 -> 3 */
    /* 19 eighths over 3 rows: 8, 8, 3 from the bottom */
    assert_int_equal(tui_bar_row_eighths(19, 0), 8);
    assert_int_equal(tui_bar_row_eighths(19, 1), 8);
    assert_int_equal(tui_bar_row_eighths(19, 2), 3);
    assert_int_equal(tui_bar_row_eighths(19, 3), 0);
}

static void test_hist_columns(void **state) {
    (void)state;
    uint64_t h[64], out[128];
    for (int i = 0; i < 64; i++) h[i] = (uint64_t)i;
    int per, k;
    /* 64 bins in 30 columns: 3 bins per column, 22 columns, sums preserved */
    int n = tui_hist_columns(h, 64, 30, out, &per, &k);
    assert_int_equal(per, 3);
    assert_int_equal(k, 1);
    assert_int_equal(n, 22);
    assert_int_equal(out[0], 0 + 1 + 2);
    assert_int_equal(out[21], 63); /* the last column holds the one remaining bin */
    uint64_t s = 0;
    for (int i = 0; i < n; i++) s += out[i];
    assert_int_equal(s, 63 * 64 / 2);
    /* 64 bins in 64 or 100 columns: one column per bin */
    n = tui_hist_columns(h, 64, 100, out, &per, &k);
    assert_int_equal(n, 64);
    assert_int_equal(k, 1);
    assert_int_equal(out[17], 17);
    /* 8 bins in 20 columns: each bin widened to 2 columns */
    n = tui_hist_columns(h, 8, 20, out, &per, &k);
    assert_int_equal(n, 16);
    assert_int_equal(k, 2);
    assert_int_equal(per, 1);
    assert_int_equal(out[6], 3);
    assert_int_equal(out[7], 3);
    assert_int_equal(tui_hist_columns(h, 0, 20, out, &per, &k), 0);
}

static void test_panels_and_axes(void **state) {
    (void)state;
    int x[3];
    assert_int_equal(tui_panels(81, 2, 3, x), 39);
    assert_int_equal(x[0], 0);
    assert_int_equal(x[1], 42);
    assert_int_equal(tui_panels(10, 3, 1, x), 2);
    assert_int_equal(x[2], 6);
    /* linear axis: ends and middle */
    assert_int_equal(tui_axis_pos(0, 0, 10, 11, false), 0);
    assert_int_equal(tui_axis_pos(10, 0, 10, 11, false), 10);
    assert_int_equal(tui_axis_pos(5, 0, 10, 11, false), 5);
    assert_int_equal(tui_axis_pos(-3, 0, 10, 11, false), 0);
    assert_int_equal(tui_axis_pos(30, 0, 10, 11, false), 10);
    /* log axis over three decades in 7 cells: 1e-2 is the middle */
    assert_int_equal(tui_axis_pos(1e-2, 1e-3, 1e-1, 7, true), 3);
    assert_int_equal(tui_axis_pos(0, 1e-3, 1e-1, 7, true), 0);
    assert_int_equal(tui_axis_pos(5, 5, 5, 9, false), 4);
    /* nice bounds */
    double lo = 0.23, hi = 8.7;
    double step = tui_axis_nice(&lo, &hi, 4, false);
    assert_true(fabs(step - 2) < 1e-12);
    assert_true(fabs(lo - 0) < 1e-12 && fabs(hi - 10) < 1e-12);
    lo = 0.0031;
    hi = 0.27;
    tui_axis_nice(&lo, &hi, 4, true);
    assert_true(fabs(lo - 1e-3) < 1e-15 && fabs(hi - 1) < 1e-12);
    lo = hi = 0.05;
    tui_axis_nice(&lo, &hi, 4, true);
    assert_true(fabs(lo - 0.01) < 1e-15 && fabs(hi - 0.1) < 1e-12);
}

static void test_labels(void **state) {
    (void)state;
    unsigned char occ[10 * 3];
    memset(occ, 0, sizeof occ);
    assert_int_equal(tui_place_label(occ, 10, 3, 2, 1, 4), 3);  /* right of x=2: 3..6 */
    assert_int_equal(tui_place_label(occ, 10, 3, 6, 1, 3), 7);  /* right 7..9 is free */
    assert_int_equal(tui_place_label(occ, 10, 3, 5, 1, 2), -1); /* right 6..7 and left 3..4 taken */
    memset(occ, 0, sizeof occ);
    assert_int_equal(tui_place_label(occ, 10, 3, 2, 1, 4), 3);
    assert_int_equal(tui_place_label(occ, 10, 3, 9, 1, 2), 7);  /* right would pass the edge */
    assert_int_equal(tui_place_label(occ, 10, 3, 8, 1, 3), -1); /* right passes the edge, left 5..7 taken */
    assert_int_equal(tui_place_label(occ, 10, 3, 1, 1, 2), -1); /* right 2..3 taken, left -1 */
    assert_int_equal(tui_place_label(occ, 10, 3, 1, 0, 2), 2);  /* another row is free */
    assert_int_equal(tui_place_label(occ, 10, 3, 1, 5, 2), -1); /* outside */
}

static void test_gauge_and_numbers(void **state) {
    (void)state;
    assert_int_equal(tui_gauge_fill(0, 100, 10), 0);
    assert_int_equal(tui_gauge_fill(99, 100, 10), 9);
    assert_int_equal(tui_gauge_fill(100, 100, 10), 10);
    assert_int_equal(tui_gauge_fill(5, 0, 10), 0);
    assert_int_equal(tui_gauge_percent(999, 1000), 99);
    assert_int_equal(tui_gauge_percent(1000, 1000), 100);
    assert_int_equal(tui_gauge_percent(1, 0), -1);
    char b[32];
    assert_string_equal(tui_fmt_sig(0, b, sizeof b), "0");
    assert_string_equal(tui_fmt_sig(0.08182, b, sizeof b), "0.0818");
    assert_string_equal(tui_fmt_sig(0.004243, b, sizeof b), "4.24e-03");
    assert_string_equal(tui_fmt_sig(12.34, b, sizeof b), "12.3");
    assert_string_equal(tui_fmt_sig(123456, b, sizeof b), "1.23e+05");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bar_eighths),
        cmocka_unit_test(test_hist_columns),
        cmocka_unit_test(test_panels_and_axes),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_gauge_and_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
