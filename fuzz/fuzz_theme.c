/* fuzz_theme.c — libFuzzer harness for colour themes (tui_theme_parse, tui_color_parse,
 * tui_color_map).
 *
 * Input: any bytes, parsed as theme YAML (not NUL-terminated). Checked promises (tui_theme.h):
 * on error the theme holds the built-in default; on success the name is NUL-terminated and
 * every colour is the default, an xterm index 0..255 or an RGB value, every attribute a known
 * TUI_A_* bit; mapping any of them to 8, 16, 256 or direct colours gives a colour that terminal
 * has (an index below the terminal's colour count, at most 255). The first
 * line of the input (up to 63 bytes) also goes through tui_color_parse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_theme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, int elem, int value) {
    fprintf(stderr, "fuzz_theme: broken promise: %s (element %d, value %d)\n", what, elem, value);
    abort();
}

static bool color_ok(int c) {
    return c == TUI_COLOR_DEFAULT || (c >= 0 && c <= 255) ||
           (c >= TUI_COLOR_RGB && c <= (TUI_COLOR_RGB | 0xffffff));
}

static void check_map(int c, int e) {
    static const int ncolors[] = {0, 8, 16, 88, 256, 1 << 24};
    for (size_t k = 0; k < sizeof ncolors / sizeof ncolors[0]; k++) {
        bool bold;
        int m = tui_color_map(c, ncolors[k], &bold);
        int lim = ncolors[k] < 8 ? 0 : ncolors[k] < 256 ? ncolors[k] : 256;
        if (m != TUI_COLOR_DEFAULT && (m < 0 || m >= lim)) fail("mapped colour out of the terminal's range", e, m);
        if (c == TUI_COLOR_DEFAULT && m != TUI_COLOR_DEFAULT) fail("default did not stay default", e, m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tui_theme t, def;
    qs_error err;
    tui_theme_default(&def);
    int rc = tui_theme_parse((const char *)data, size, "fuzz.yaml", &t, &err);
    if (rc != QS_OK) {
        if (memcmp(&t, &def, sizeof t) != 0) fail("a theme that fails to parse is not the default", -1, rc);
    } else {
        if (!memchr(t.name, 0, sizeof t.name)) fail("name not NUL-terminated", -1, 0);
        for (int e = 0; e < TUI_C_COUNT; e++) {
            const tui_style *s = &t.s[e];
            if (!color_ok(s->fg)) fail("bad fg colour", e, s->fg);
            if (!color_ok(s->bg)) fail("bad bg colour", e, s->bg);
            if (s->attr & ~31u) fail("unknown attribute bits", e, (int)s->attr);
            check_map(s->fg, e);
            check_map(s->bg, e);
        }
    }
    char word[64];
    size_t n = 0;
    while (n < size && n < sizeof word - 1 && data[n] != '\n') {
        word[n] = (char)data[n];
        n++;
    }
    word[n] = '\0';
    int c;
    if (tui_color_parse(word, &c) == QS_OK) {
        if (!color_ok(c)) fail("tui_color_parse gave a bad colour", -1, c);
        check_map(c, -1);
    }
    return 0;
}
