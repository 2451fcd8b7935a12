/* Theme files: the shipped themes load, bad files name file:line:col and leave the default,
 * colours map down to 8 / 16 / 256-colour terminals, user themes come from $XDG_CONFIG_HOME. */
#include "qs_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tui_theme.h"

static void assert_is_default(const tui_theme *t) {
    tui_theme d;
    tui_theme_default(&d);
    assert_memory_equal(t->s, d.s, sizeof d.s);
}

static void test_shipped(void **state) {
    (void)state;
    static const char *const names[] = {"default-dark", "light", "high-contrast", "monochrome"};
    tui_theme def;
    tui_theme_default(&def);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/../themes/%s.yaml", QS_TESTS_DIR, names[i]);
        tui_theme t;
        qs_error err = {{0}};
        int rc = tui_theme_load_file(path, &t, &err);
        if (rc) fail_msg("%s", err.msg);
        assert_string_equal(t.name, names[i]);
        /* every element is listed in every shipped theme */
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char text[8192];
        size_t len = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[len] = 0;
        for (int e = 0; e < TUI_C_COUNT; e++) {
            char key[64];
            snprintf(key, sizeof key, "\n  %s:", tui_elem_key((tui_elem)e));
            if (!strstr(text, key)) fail_msg("%s does not list %s", names[i], tui_elem_key((tui_elem)e));
        }
    }
    /* the file default-dark is the built-in default */
    char path[1024];
    snprintf(path, sizeof path, "%s/../themes/default-dark.yaml", QS_TESTS_DIR);
    tui_theme t;
    qs_error err;
    assert_int_equal(tui_theme_load_file(path, &t, &err), QS_OK);
    assert_memory_equal(t.s, def.s, sizeof def.s);
    /* monochrome has no colours at all */
    snprintf(path, sizeof path, "%s/../themes/monochrome.yaml", QS_TESTS_DIR);
    assert_int_equal(tui_theme_load_file(path, &t, &err), QS_OK);
    for (int e = 0; e < TUI_C_COUNT; e++) {
        assert_int_equal(t.s[e].fg, TUI_COLOR_DEFAULT);
        assert_int_equal(t.s[e].bg, TUI_COLOR_DEFAULT);
    }
    assert_int_equal(t.s[TUI_C_SELECTION].attr, TUI_A_REVERSE);
    assert_int_equal(t.s[TUI_C_ERROR].attr, TUI_A_BOLD | TUI_A_REVERSE);
}

static void test_parse_values(void **state) {
    (void)state;
    const char *y = "name: mine\n"
                    "colors:\n"
                    "  selection: { fg: bright-red, bg: \"#ff8700\", attr: [bold, underline] }\n"
                    "  bar_kv: { fg: 208 }\n"
                    "  ok: { bg: grey, attr: reverse }\n";
    tui_theme t;
    qs_error err = {{0}};
    int rc = tui_theme_parse(y, strlen(y), "mine.yaml", &t, &err);
    if (rc) fail_msg("%s", err.msg);
    assert_string_equal(t.name, "mine");
    assert_int_equal(t.s[TUI_C_SELECTION].fg, 9);
    assert_int_equal(t.s[TUI_C_SELECTION].bg, TUI_COLOR_RGB | 0xff8700);
    assert_int_equal(t.s[TUI_C_SELECTION].attr, TUI_A_BOLD | TUI_A_UNDERLINE);
    assert_int_equal(t.s[TUI_C_BAR_KV].fg, 208);
    assert_int_equal(t.s[TUI_C_BAR_KV].bg, TUI_COLOR_DEFAULT);
    assert_int_equal(t.s[TUI_C_OK].fg, TUI_COLOR_DEFAULT);
    assert_int_equal(t.s[TUI_C_OK].bg, 8);
    assert_int_equal(t.s[TUI_C_OK].attr, TUI_A_REVERSE);
    /* unlisted elements keep the default */
    tui_theme d;
    tui_theme_default(&d);
    assert_memory_equal(&t.s[TUI_C_HEADER], &d.s[TUI_C_HEADER], sizeof d.s[0]);
}

typedef struct bad_case {
    const char *text;
    const char *expect; /* substring of the message, starting with "line:col" */
} bad_case;

static void test_bad_files(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {"name: x\ncolors:\n  selection: { fg: purple }\n", "bad.yaml:3:20: bad colour 'purple'"},
        {"name: x\ncolors:\n  selecton: { fg: red }\n", "bad.yaml:3:3: unknown element 'selecton'"},
        {"name: x\ncolors:\n  ok: { fg: red, blink: yes }\n", "bad.yaml:3:18: unknown key 'blink'"},
        {"name: x\ncolors:\n  ok: { attr: sparkly }\n", "bad.yaml:3:15: unknown attribute 'sparkly'"},
        {"name: x\ncolours: 3\n", "bad.yaml:2:10: colors: expected a mapping"},
        {"nmae: x\n", "bad.yaml:1:1: unknown key 'nmae'"},
        {"- a\n- b\n", "bad.yaml:1:1: expected a mapping"},
        {"", "bad.yaml:1:1: empty theme file"},
        {"name: x\ncolors:\n  ok: { fg: red\n", "bad.yaml:4:1:"},      /* unclosed flow mapping */
        {"name: x\ncolors:\n  ok: red\n", "bad.yaml:3:7: expected a mapping"},
        {"name: x\ncolors:\n  ok: { fg: \"#12345\" }\n", "bad.yaml:3:13: bad colour '#12345'"},
        {"name: x\ncolors:\n  ok: { fg: 256 }\n", "bad.yaml:3:13: bad colour '256'"},
        {"name: [x]\n", "bad.yaml:1:7: name: expected text"},
        {"name: x\n\tcolors: {}\n", "bad.yaml:2:1:"},                 /* tab indentation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tui_theme t;
        qs_error err = {{0}};
        int rc = tui_theme_parse(cases[i].text, strlen(cases[i].text), "bad.yaml", &t, &err);
        assert_int_equal(rc, QS_ERR);
        if (strncmp(err.msg, cases[i].expect, strlen(cases[i].expect)))
            fail_msg("case %zu: got '%s', expected '%s...'", i, err.msg, cases[i].expect);
        assert_is_default(&t);
    }
    /* random damage never crashes, and any error names the file */
    const char *good = "name: x\ncolors:\n  selection: { fg: black, bg: cyan, attr: [bold] }\n";
    uint64_t rng = 11;
    char buf[256];
    for (int k = 0; k < 3000; k++) {
        size_t len = strlen(good);
        memcpy(buf, good, len);
        int edits = 1 + (int)(qs_test_rng(&rng) % 4);
        for (int e = 0; e < edits; e++) buf[qs_test_rng(&rng) % len] = (char)(qs_test_rng(&rng) % 128);
        if (qs_test_rng(&rng) % 4 == 0) len = qs_test_rng(&rng) % len;
        tui_theme t;
        qs_error err = {{0}};
        if (tui_theme_parse(buf, len, "fuzz.yaml", &t, &err) != QS_OK) {
            assert_true(!strncmp(err.msg, "fuzz.yaml:", 10));
            assert_is_default(&t);
        }
    }
}

static void test_find(void **state) {
    (void)state;
    char dir[1024], tdir[1100], path[1200];
    snprintf(dir, sizeof dir, "%s", qs_test_tmpdir());
    snprintf(tdir, sizeof tdir, "%s/quantscope", dir);
    mkdir(tdir, 0755);
    snprintf(tdir, sizeof tdir, "%s/quantscope/themes", dir);
    mkdir(tdir, 0755);
    snprintf(path, sizeof path, "%s/mine.yaml", tdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("name: mine\ncolors:\n  ok: { fg: blue }\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/broken.yaml", tdir);
    f = fopen(path, "w");
    fputs("name: broken\ncolors:\n  ok: { fg: blu }\n", f);
    fclose(f);
    setenv("XDG_CONFIG_HOME", dir, 1);
    char shipped[1024];
    snprintf(shipped, sizeof shipped, "%s/../themes", QS_TESTS_DIR);
    const char *const dirs[] = {"/nonexistent", shipped, NULL};
    tui_theme t;
    qs_error err = {{0}};
    assert_int_equal(tui_theme_find("mine", dirs, &t, &err), QS_OK);
    assert_string_equal(t.name, "mine");
    assert_int_equal(t.s[TUI_C_OK].fg, 4);
    /* shipped themes are found in the extra directories */
    assert_int_equal(tui_theme_find("light", dirs, &t, &err), QS_OK);
    assert_string_equal(t.name, "light");
    /* NULL / "" = default-dark, built in even without files */
    assert_int_equal(tui_theme_find(NULL, NULL, &t, &err), QS_OK);
    assert_is_default(&t);
    /* a bad user theme: file:line:col, default used */
    assert_int_equal(tui_theme_find("broken", dirs, &t, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "broken.yaml:3:13: bad colour 'blu'"));
    assert_is_default(&t);
    /* a missing one says so */
    assert_int_equal(tui_theme_find("nosuch", dirs, &t, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "theme 'nosuch' not found"));
    assert_is_default(&t);
    /* a path */
    assert_int_equal(tui_theme_find(path, NULL, &t, &err), QS_ERR);
    assert_non_null(strstr(err.msg, ":3:13:"));
    assert_int_equal(tui_theme_find("/nonexistent/x.yaml", NULL, &t, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "/nonexistent/x.yaml"));
    unsetenv("XDG_CONFIG_HOME");
}

static void test_color_map(void **state) {
    (void)state;
    bool bold;
    /* default stays default; no colours at all -> default */
    assert_int_equal(tui_color_map(TUI_COLOR_DEFAULT, 256, &bold), TUI_COLOR_DEFAULT);
    assert_int_equal(tui_color_map(3, 0, &bold), TUI_COLOR_DEFAULT);
    /* basic colours pass through */
    assert_int_equal(tui_color_map(3, 8, &bold), 3);
    assert_false(bold);
    /* bright on 8 colours: the dim twin, bold */
    assert_int_equal(tui_color_map(9, 8, &bold), 1);
    assert_true(bold);
    assert_int_equal(tui_color_map(9, 16, &bold), 9);
    assert_false(bold);
    /* RGB: the xterm cube on 256 colours */
    assert_int_equal(tui_color_map(TUI_COLOR_RGB | 0xff8700, 256, &bold), 208);
    assert_int_equal(tui_color_map(TUI_COLOR_RGB | 0x000000, 256, &bold), 16);
    assert_int_equal(tui_color_map(TUI_COLOR_RGB | 0x808080, 256, &bold), 244);
    /* RGB and 256-indexes on 16 / 8 colours: nearest basic */
    assert_int_equal(tui_color_map(TUI_COLOR_RGB | 0xff0000, 16, &bold), 9);
    assert_int_equal(tui_color_map(TUI_COLOR_RGB | 0xd00000, 8, &bold), 1);
    assert_int_equal(tui_color_map(196, 16, &bold), 9);  /* 196 = #ff0000 */
    assert_int_equal(tui_color_map(21, 8, &bold), 4);    /* 21 = #0000ff */
    assert_int_equal(tui_color_map(231, 8, &bold), 7);   /* white */
    /* indexes and RGB on truecolour terminals stay in the 256 palette */
    assert_int_equal(tui_color_map(208, 1 << 24, &bold), 208);
    /* parse */
    int c;
    assert_int_equal(tui_color_parse("Bright-Cyan", &c), QS_OK);
    assert_int_equal(c, 14);
    assert_int_equal(tui_color_parse("bright_blue", &c), QS_OK);
    assert_int_equal(c, 12);
    assert_int_equal(tui_color_parse("#00ff7F", &c), QS_OK);
    assert_int_equal(c, TUI_COLOR_RGB | 0x00ff7f);
    assert_int_equal(tui_color_parse("#00ff7g", &c), QS_ERR);
    assert_int_equal(tui_color_parse("-1", &c), QS_ERR);
    assert_int_equal(tui_color_parse("", &c), QS_ERR);
    assert_int_equal(tui_color_parse("12a", &c), QS_ERR);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped),   cmocka_unit_test(test_parse_values),
        cmocka_unit_test(test_bad_files), cmocka_unit_test(test_find),
        cmocka_unit_test(test_color_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
