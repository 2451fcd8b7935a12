/* The Chat view's text arithmetic (tui_wrap.h): character widths, word wrap, columns,
 * scrolling and the line editor. No terminal. */
#include "qs_test_util.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "tui_wrap.h"

static int cols_of(const char *s) {
    uint32_t cp;
    int w;
    tui_utf8_char(s, strlen(s), &cp, &w, NULL);
    return w;
}

static void test_widths(void **state) {
    (void)state;
    assert_int_equal(cols_of("a"), 1);
    assert_int_equal(cols_of("\xc3\xa9"), 1);         /* é */
    assert_int_equal(cols_of("\xcc\x81"), 0);         /* U+0301 combining acute */
    assert_int_equal(cols_of("\xe4\xb8\xad"), 2);     /* 中 */
    assert_int_equal(cols_of("\xed\x95\x9c"), 2);     /* 한 */
    assert_int_equal(cols_of("\xef\xbd\xb1"), 1);     /* U+FF71 halfwidth katakana */
    assert_int_equal(cols_of("\xef\xbc\xa1"), 2);     /* U+FF21 fullwidth A */
    assert_int_equal(cols_of("\xf0\x9f\x98\x80"), 2); /* U+1F600 emoji */
    assert_int_equal(cols_of("\xe2\x80\x8b"), 0);     /* U+200B zero width space */
    assert_int_equal(cols_of("\xe2\x94\x82"), 1);     /* U+2502 box drawing */
    assert_int_equal(cols_of("\n"), 0);
    /* an independent reference: the C library's wcwidth in a UTF-8 locale, where there is one */
    if (setlocale(LC_CTYPE, "C.UTF-8") || setlocale(LC_CTYPE, "en_US.UTF-8")) {
        static const uint32_t cps[] = {'a', 0xE9, 0x301, 0x4E2D, 0xD55C, 0xFF71, 0xFF21, 0x1F600,
                                       0x3042, 0x30A2, 0xAC00, 0x2502, 0x20AC, 0x3000, 0x5B57};
        for (size_t i = 0; i < sizeof cps / sizeof *cps; i++)
            if (wcwidth((wchar_t)cps[i]) >= 0) assert_int_equal(tui_cp_cols(cps[i]), wcwidth((wchar_t)cps[i]));
        setlocale(LC_CTYPE, "C");
    }
}

static void test_decode_bad(void **state) {
    (void)state;
    uint32_t cp;
    int w;
    bool sub;
    assert_int_equal(tui_utf8_char("\xe4\xb8\xad", 3, &cp, &w, &sub), 3);
    assert_int_equal(cp, 0x4E2D);
    assert_false(sub);
    /* cut short, overlong, surrogate, stray continuation, beyond U+10FFFF: one substituted byte */
    static const char *const bad[] = {"\xe4\xb8", "\xc0\x80", "\xed\xa0\x80", "\x80", "\xf4\x90\x80\x80", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(tui_utf8_char(bad[i], strlen(bad[i]), &cp, &w, &sub), 1);
        assert_true(sub);
        assert_int_equal(w, 1);
        assert_int_equal(cp, 0xFFFD);
    }
    assert_int_equal(tui_utf8_char("\t", 1, &cp, &w, &sub), 1);
    assert_true(sub);
    assert_int_equal(w, 1);
    assert_int_equal(tui_text_cols("a\xe4\xb8\xad" "b\n\xcc\x81", 8), 4);
}

/* wraps text and compares with the expected lines (joined by '|') */
static void expect_wrap(const char *text, int width, const char *expect) {
    tui_wline l[64];
    int n = tui_wrap(text, strlen(text), width, l, 64);
    char got[512] = "";
    for (int i = 0; i < n; i++) {
        if (i) strcat(got, "|");
        strncat(got, text + l[i].start, (size_t)l[i].len);
        assert_int_equal(l[i].cols, tui_text_cols(text + l[i].start, (size_t)l[i].len));
    }
    if (strcmp(got, expect)) fail_msg("wrap(\"%s\", %d) = \"%s\", expected \"%s\"", text, width, got, expect);
    assert_int_equal(tui_wrap(text, strlen(text), width, NULL, 0), n); /* counting alone agrees */
}

static void test_wrap_cases(void **state) {
    (void)state;
    expect_wrap("the quick brown fox", 10, "the quick|brown fox");
    expect_wrap("the quick brown fox", 9, "the quick|brown fox");
    expect_wrap("the quick brown fox", 8, "the|quick|brown|fox");
    expect_wrap("aaaa bbbb", 4, "aaaa|bbbb");             /* the space at the edge is the break */
    expect_wrap("abcdefghij", 4, "abcd|efgh|ij");         /* a long word breaks where it must */
    expect_wrap("ab cdefghij", 4, "ab|cdef|ghij");
    expect_wrap("", 5, "");
    expect_wrap("ab\n", 5, "ab|");
    expect_wrap("a\n\nb", 5, "a||b");
    expect_wrap("\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97", 5, "\xe4\xb8\xad\xe6\x96\x87|\xe5\xad\x97"); /* 中文|字 */
    expect_wrap("\xe4\xb8\xad", 1, "\xe4\xb8\xad"); /* wider than the line: alone, not split */
    expect_wrap("e\xcc\x81t\xc3\xa9 ok", 4, "e\xcc\x81t\xc3\xa9|ok"); /* a combining mark takes no column */
    expect_wrap("Once upon a time, there was", 17, "Once upon a time,|there was");
}

/* Properties over random text: every byte is on a line or is the one dropped separator between
 * two lines; no line starts inside a character; lines fit the width (a lone wide character
 * excepted); a soft break happens only when the next word really does not fit. */
static void test_wrap_random(void **state) {
    (void)state;
    static const char *const atoms[] = {"a", "bc", "def", " ", " ", "\n", "\xe4\xb8\xad", "\xc3\xa9",
                                        "\xcc\x81", "\xf0\x9f\x98\x80", "longerword", "\xff"};
    srand(12345);
    char text[400];
    tui_wline l[512];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 0;
        int k = rand() % 40;
        for (int i = 0; i < k; i++) {
            const char *a = atoms[rand() % (int)(sizeof atoms / sizeof *atoms)];
            size_t al = strlen(a);
            if (n + al >= sizeof text) break;
            memcpy(text + n, a, al);
            n += al;
        }
        text[n] = 0;
        bool boundary[sizeof text + 1] = {false};
        for (size_t i = 0; i <= n;) {
            boundary[i] = true;
            if (i == n) break;
            uint32_t cp;
            int cw;
            i += (size_t)tui_utf8_char(text + i, n - i, &cp, &cw, NULL);
        }
        int width = 1 + rand() % 20;
        int nl = tui_wrap(text, n, width, l, 512);
        assert_true(nl >= 1 && nl <= 512);
        assert_int_equal(l[0].start, 0);
        for (int i = 0; i < nl; i++) {
            assert_true(l[i].cols <= width || (l[i].cols == 2 && width == 1));
            assert_true(boundary[l[i].start]); /* never inside a character */
            int end = l[i].start + l[i].len;
            if (i + 1 < nl) {
                int gap = l[i + 1].start - end;
                assert_true(gap == 0 || gap == 1);
                if (gap == 1) assert_true(text[end] == ' ' || text[end] == '\n');
                if (gap == 0) assert_true(l[i].len > 0); /* a hard break never makes an empty line */
                if (gap == 1 && text[end] == ' ') {
                    /* a soft break: the next word (up to a space or a newline) did not fit after
                     * this line */
                    int w = 0, j = l[i + 1].start;
                    while (j < (int)n && text[j] != ' ' && text[j] != '\n') {
                        uint32_t cp;
                        int cw;
                        j += tui_utf8_char(text + j, n - (size_t)j, &cp, &cw, NULL);
                        w += cw;
                    }
                    if (l[i].cols + 1 + w <= width)
                        fail_msg("width %d: line %d could hold the next word (%d + 1 + %d)", width, i, l[i].cols, w);
                }
            } else { /* the end, or a last space dropped at the line's edge */
                assert_true(end == (int)n || (end == (int)n - 1 && text[end] == ' ' && l[i].cols + 1 > width));
            }
        }
    }
}

static void test_columns_and_scroll(void **state) {
    (void)state;
    int a, b;
    tui_split2(120, 1, &a, &b);
    assert_int_equal(a, 59);
    assert_int_equal(b, 60);
    tui_split2(40, 1, &a, &b);
    assert_int_equal(a + b + 1, 40);
    assert_int_equal(a, 19);
    tui_split2(2, 1, &a, &b);
    assert_int_equal(a, 0);
    assert_int_equal(b, 0);
    tui_split2(3, 1, &a, &b);
    assert_int_equal(a, 1);
    assert_int_equal(b, 1);

    int up = 0;
    assert_int_equal(tui_scroll_top(100, 10, &up), 90); /* following the bottom */
    up = 5;
    assert_int_equal(tui_scroll_top(100, 10, &up), 85);
    up = 1000;
    assert_int_equal(tui_scroll_top(100, 10, &up), 0);
    assert_int_equal(up, 90);
    up = 3;
    assert_int_equal(tui_scroll_top(5, 10, &up), 0); /* everything fits: no scrolling */
    assert_int_equal(up, 0);
    up = -4;
    assert_int_equal(tui_scroll_top(12, 10, &up), 2);
    assert_int_equal(up, 0);
}

static void type(tui_edit *e, const char *s) {
    for (const char *p = s; *p; p++) assert_true(tui_edit_insert(e, p, 1)); /* a byte at a time */
}

static void test_edit(void **state) {
    (void)state;
    tui_edit e;
    tui_edit_clear(&e);
    type(&e, "h\xc3\xa9llo");
    assert_string_equal(e.buf, "h\xc3\xa9llo");
    assert_int_equal(e.cur, 6);
    tui_edit_home(&e);
    tui_edit_right(&e);
    tui_edit_right(&e); /* over é, both bytes */
    assert_int_equal(e.cur, 3);
    tui_edit_backspace(&e); /* removes é whole */
    assert_string_equal(e.buf, "hllo");
    assert_int_equal(e.cur, 1);
    type(&e, "\xe4\xb8\xad");
    assert_string_equal(e.buf, "h\xe4\xb8\xadllo");
    tui_edit_left(&e);
    assert_int_equal(e.cur, 1);
    tui_edit_delete(&e);
    assert_string_equal(e.buf, "hllo");
    tui_edit_end(&e);
    tui_edit_delete(&e); /* nothing under the cursor */
    assert_int_equal(e.len, 4);
    tui_edit_home(&e);
    tui_edit_backspace(&e); /* nothing before it */
    assert_string_equal(e.buf, "hllo");
    tui_edit_left(&e);
    assert_int_equal(e.cur, 0);

    /* full buffer: refused, nothing changes */
    tui_edit_clear(&e);
    char big[TUI_EDIT_MAX];
    memset(big, 'x', sizeof big);
    assert_true(tui_edit_insert(&e, big, TUI_EDIT_MAX - 1 - 1));
    assert_true(tui_edit_insert(&e, "y", 1));
    assert_false(tui_edit_insert(&e, "z", 1));
    assert_int_equal(e.len, TUI_EDIT_MAX - 1);
    assert_int_equal((int)strlen(e.buf), e.len);
}

static void test_edit_view(void **state) {
    (void)state;
    tui_edit e;
    tui_edit_clear(&e);
    type(&e, "0123456789");
    int col;
    assert_int_equal(tui_edit_view(&e, 20, &col), 0);
    assert_int_equal(col, 10);
    assert_int_equal(tui_edit_view(&e, 5, &col), 6); /* "6789" then the cursor in the last column */
    assert_int_equal(col, 4);
    tui_edit_home(&e);
    assert_int_equal(tui_edit_view(&e, 5, &col), 0);
    assert_int_equal(col, 0);
    /* wide characters: the cursor column counts 2 per character, never lands inside one */
    tui_edit_clear(&e);
    type(&e, "\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad"); /* 4 x 中 = 8 columns */
    int start = tui_edit_view(&e, 5, &col);
    assert_int_equal(start % 3, 0);
    assert_true(col <= 4);
    assert_int_equal(col, tui_text_cols(e.buf + start, (size_t)(e.cur - start)));
    assert_int_equal(start, 6); /* two characters (4 columns) before the cursor */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widths),     cmocka_unit_test(test_decode_bad),
        cmocka_unit_test(test_wrap_cases), cmocka_unit_test(test_wrap_random),
        cmocka_unit_test(test_columns_and_scroll), cmocka_unit_test(test_edit),
        cmocka_unit_test(test_edit_view),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
