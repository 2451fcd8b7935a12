/* The one-line editor of the explorer's prompts: editing keys, UTF-8 cursor moves, the visible
 * window, path completion. */
#include "qs_test_util.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tui_prompt.h"

static void type(tui_line *l, const char *s) {
    for (const char *p = s; *p; p++) tui_line_key(l, (unsigned char)*p);
}

static void test_editing(void **state) {
    (void)state;
    tui_line l;
    tui_line_set(&l, "");
    type(&l, "blk.0.");
    assert_string_equal(l.text, "blk.0.");
    assert_int_equal(l.cur, 6);
    assert_int_equal(tui_line_key(&l, KEY_LEFT), TUI_LINE_MOVED);
    assert_int_equal(tui_line_key(&l, KEY_LEFT), TUI_LINE_MOVED);
    assert_int_equal(tui_line_key(&l, '1'), TUI_LINE_CHANGED);
    assert_string_equal(l.text, "blk.10.");
    assert_int_equal(tui_line_key(&l, KEY_BACKSPACE), TUI_LINE_CHANGED);
    assert_string_equal(l.text, "blk.0.");
    assert_int_equal(tui_line_key(&l, KEY_DC), TUI_LINE_CHANGED); /* deletes the '0' under the cursor */
    assert_string_equal(l.text, "blk..");
    assert_int_equal(l.cur, 4);
    assert_int_equal(tui_line_key(&l, 11), TUI_LINE_CHANGED); /* ^K */
    assert_string_equal(l.text, "blk.");
    assert_int_equal(tui_line_key(&l, 1), TUI_LINE_MOVED); /* ^A */
    assert_int_equal(l.cur, 0);
    assert_int_equal(tui_line_key(&l, KEY_BACKSPACE), TUI_LINE_MOVED); /* nothing before: consumed */
    assert_int_equal(tui_line_key(&l, 5), TUI_LINE_MOVED);          /* ^E */
    assert_int_equal(l.cur, 4);
    /* ^W: the word before the cursor, stopping at '/' (paths) and spaces */
    tui_line_set(&l, "models/q4 mix.yaml");
    assert_int_equal(tui_line_key(&l, 23), TUI_LINE_CHANGED);
    assert_string_equal(l.text, "models/q4 ");
    tui_line_set(&l, "/a/models/");
    tui_line_key(&l, 23);
    assert_string_equal(l.text, "/a/models");
    tui_line_key(&l, 23);
    assert_string_equal(l.text, "/a/");
    assert_int_equal(tui_line_key(&l, 21), TUI_LINE_CHANGED); /* ^U */
    assert_string_equal(l.text, "");
    /* keys that are not editing are left to the caller */
    assert_int_equal(tui_line_key(&l, '\n'), TUI_LINE_IGNORED);
    assert_int_equal(tui_line_key(&l, 27), TUI_LINE_IGNORED);
    assert_int_equal(tui_line_key(&l, '\t'), TUI_LINE_IGNORED);
    assert_int_equal(tui_line_key(&l, KEY_UP), TUI_LINE_IGNORED);
    /* a full line takes no more */
    char big[TUI_LINE_MAX + 10];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    tui_line_set(&l, big);
    assert_int_equal(l.len, TUI_LINE_MAX - 1);
    assert_int_equal(tui_line_key(&l, 'y'), TUI_LINE_MOVED);
    assert_int_equal(l.len, TUI_LINE_MAX - 1);
}

static void test_utf8(void **state) {
    (void)state;
    tui_line l;
    /* "é" is 2 bytes, "€" 3: the cursor steps over whole characters */
    tui_line_set(&l, "a\xc3\xa9\xe2\x82\xac" "b");
    assert_int_equal(l.len, 7);
    assert_int_equal(tui_line_cols(l.text, 0, l.len), 4);
    tui_line_key(&l, KEY_LEFT);
    assert_int_equal(l.cur, 6);
    tui_line_key(&l, KEY_LEFT);
    assert_int_equal(l.cur, 3);
    tui_line_key(&l, KEY_LEFT);
    assert_int_equal(l.cur, 1);
    tui_line_key(&l, KEY_RIGHT);
    assert_int_equal(l.cur, 3);
    /* Backspace removes the whole "é" */
    assert_int_equal(tui_line_key(&l, KEY_BACKSPACE), TUI_LINE_CHANGED);
    assert_string_equal(l.text, "a\xe2\x82\xac" "b");
    assert_int_equal(l.cur, 1);
    /* Delete removes the whole "€" */
    tui_line_key(&l, KEY_DC);
    assert_string_equal(l.text, "ab");
    /* typed bytes of a character arrive one by one and end up whole */
    tui_line_key(&l, 0xc3);
    tui_line_key(&l, 0xa9);
    assert_string_equal(l.text, "a\xc3\xa9" "b");
    assert_int_equal(l.cur, 3);
    /* set truncates at a character boundary */
    char s[TUI_LINE_MAX + 4];
    memset(s, 'x', TUI_LINE_MAX - 2);
    memcpy(s + TUI_LINE_MAX - 2, "\xe2\x82\xac", 4); /* "€" would end past the limit */
    tui_line_set(&l, s);
    assert_int_equal(l.len, TUI_LINE_MAX - 2);
}

static void test_view(void **state) {
    (void)state;
    tui_line l;
    tui_line_set(&l, "0123456789abcdefghijklmnopqrst"); /* 30 characters, cursor at the end */
    int col;
    /* the cursor sits one past the text: 9 characters and the cursor fill 10 columns */
    int first = tui_line_view(&l, 10, 0, &col);
    assert_int_equal(first, 21);
    assert_int_equal(col, 9);
    /* moving left frees the cursor's column past the end: one more character shows on the left */
    for (int i = 0; i < 5; i++) tui_line_key(&l, KEY_LEFT);
    first = tui_line_view(&l, 10, first, &col);
    assert_int_equal(first, 20);
    assert_int_equal(col, 5);
    /* inside the window the view stays */
    tui_line_key(&l, KEY_LEFT);
    assert_int_equal(tui_line_view(&l, 10, first, &col), 20);
    assert_int_equal(col, 4);
    /* leaving it on the left scrolls just enough */
    for (int i = 0; i < 6; i++) tui_line_key(&l, KEY_LEFT);
    first = tui_line_view(&l, 10, first, &col);
    assert_int_equal(first, 18);
    assert_int_equal(col, 0);
    /* Home shows the start */
    tui_line_key(&l, KEY_HOME);
    first = tui_line_view(&l, 10, first, &col);
    assert_int_equal(first, 0);
    assert_int_equal(col, 0);
    /* after deleting, a window that can show more on its left does */
    tui_line_key(&l, KEY_END);
    first = tui_line_view(&l, 10, 0, &col);
    for (int i = 0; i < 25; i++) tui_line_key(&l, KEY_BACKSPACE);
    first = tui_line_view(&l, 10, first, &col);
    assert_int_equal(first, 0);
    assert_int_equal(col, 5);
    /* columns count characters, not bytes */
    tui_line_set(&l, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"); /* 4 characters, 8 bytes */
    first = tui_line_view(&l, 3, 0, &col);
    assert_int_equal(first, 4); /* two characters shown, then the cursor */
    assert_int_equal(col, 2);
}

static void test_complete(void **state) {
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/complete", qs_test_tmpdir());
    mkdir(dir, 0755);
    char p[1024];
    static const char *const files[] = {"alpha.yaml", "alps.yaml", "beta"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        if (i == 2) mkdir(p, 0755);
        else fclose(fopen(p, "w"));
    }
    tui_line l;
    char shown[256];
    snprintf(p, sizeof p, "%s/al", dir);
    tui_line_set(&l, p);
    assert_int_equal(tui_line_complete_path(&l, shown, sizeof shown), 2);
    snprintf(p, sizeof p, "%s/alp", dir);
    assert_string_equal(l.text, p);
    assert_string_equal(shown, "alpha.yaml  alps.yaml");
    /* one candidate: completed; a folder gets its '/' */
    snprintf(p, sizeof p, "%s/b", dir);
    tui_line_set(&l, p);
    assert_int_equal(tui_line_complete_path(&l, NULL, 0), 1);
    snprintf(p, sizeof p, "%s/beta/", dir);
    assert_string_equal(l.text, p);
    snprintf(p, sizeof p, "%s/alph", dir);
    tui_line_set(&l, p);
    assert_int_equal(tui_line_complete_path(&l, shown, sizeof shown), 1);
    snprintf(p, sizeof p, "%s/alpha.yaml", dir);
    assert_string_equal(l.text, p);
    /* nothing matches: unchanged */
    snprintf(p, sizeof p, "%s/zz", dir);
    tui_line_set(&l, p);
    assert_int_equal(tui_line_complete_path(&l, shown, sizeof shown), 0);
    assert_string_equal(l.text, p);
    /* only at the end of the line */
    snprintf(p, sizeof p, "%s/al", dir);
    tui_line_set(&l, p);
    tui_line_key(&l, KEY_LEFT);
    assert_int_equal(tui_line_complete_path(&l, shown, sizeof shown), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_editing),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_view),
        cmocka_unit_test(test_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
