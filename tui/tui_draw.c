/* Painting: theme to colour pairs, text, meters, tabs, function bar, boxes. */
#include "tui_draw.h"

#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static short elem_pair(int e) { return (short)(e + 1); }

void tui_screen_apply(tui_screen *s, const tui_theme *t, bool no_color) {
    s->theme = *t;
    s->color = !no_color && has_colors();
    s->ncolors = 0;
    if (s->color) {
        start_color();
        use_default_colors();
        s->ncolors = COLORS;
        if (s->ncolors < 8) s->color = false;
    }
    tui_theme mono;
    tui_theme_mono(&mono);
    for (int e = 0; e < TUI_C_COUNT; e++) {
        const tui_style *st = s->color ? &t->s[e] : &mono.s[e];
        unsigned long a = 0;
        if (s->color) {
            bool fb = false, bb = false;
            int fg = tui_color_map(st->fg, s->ncolors, &fb);
            int bg = tui_color_map(st->bg, s->ncolors, &bb);
            if (init_pair(elem_pair(e), (short)fg, (short)bg) == OK) a |= COLOR_PAIR(elem_pair(e));
            if (fb) a |= A_BOLD;
        }
        if (st->attr & TUI_A_BOLD) a |= A_BOLD;
        if (st->attr & TUI_A_DIM) a |= A_DIM;
        if (st->attr & TUI_A_REVERSE) a |= A_REVERSE;
        if (st->attr & TUI_A_UNDERLINE) a |= A_UNDERLINE;
#ifdef A_ITALIC
        if (st->attr & TUI_A_ITALIC) a |= A_ITALIC;
#endif
        s->attr[e] = a;
    }
    if (!s->color) {
        /* a theme's attributes still count without colours (monochrome, high contrast) */
        s->theme = mono;
    }
}

unsigned long tui_attr(const tui_screen *s, tui_elem e) {
    return e >= 0 && e < TUI_C_COUNT ? s->attr[e] : 0;
}

/* columns of a UTF-8 string up to w columns: returns bytes that fit, *cols their width */
static int fit_bytes(const char *t, int w, int *cols) {
    int c = 0, i = 0;
    while (t[i] && c < w) {
        unsigned char b = (unsigned char)t[i];
        int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
        for (int k = 1; k < len; k++)
            if (!t[i + k]) { len = k; break; }
        i += len;
        c++;
    }
    *cols = c;
    return i;
}

int tui_text(const tui_screen *s, int y, int x, int w, tui_elem e, const char *text, bool pad) {
    if (w <= 0 || y < 0 || y >= LINES || x >= COLS) return 0;
    if (x + w > COLS) w = COLS - x;
    int cols;
    int bytes = fit_bytes(text ? text : "", w, &cols);
    attrset((attr_t)tui_attr(s, e));
    mvaddnstr(y, x, text ? text : "", bytes);
    if (pad)
        for (int i = cols; i < w; i++) addch(' ');
    attrset(A_NORMAL);
    return pad ? w : cols;
}

int tui_textf(const tui_screen *s, int y, int x, int w, tui_elem e, bool pad, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return tui_text(s, y, x, w, e, buf, pad);
}

const char *tui_meter_glyph(const tui_screen *s, int i) {
    static const char *const u_mono[] = {"\u2588", "\u2593", "\u2592", "\u2591", "\u259a", "\u2586"};
    static const char *const a_mono[] = {"#", "=", "%", "+", "*", "o"};
    if (i < 0) return s->utf8 ? "\u00b7" : ".";
    if (s->color) return s->utf8 ? "\u2588" : "#";
    return s->utf8 ? u_mono[i % 6] : a_mono[i % 6];
}

void tui_meter(const tui_screen *s, int y, int x, int w, const uint64_t *part, const tui_elem *elem,
               int n, uint64_t capacity) {
    if (w <= 0) return;
    int cells[16];
    if (n > 16) n = 16;
    int used = tui_bar_split(part, n, capacity, w, cells);
    move(y, x);
    for (int i = 0; i < n; i++) {
        attrset((attr_t)tui_attr(s, elem[i]));
        for (int c = 0; c < cells[i]; c++) addstr(tui_meter_glyph(s, i));
    }
    attrset((attr_t)tui_attr(s, TUI_C_BAR_FREE));
    for (int c = used; c < w; c++) addstr(tui_meter_glyph(s, -1));
    attrset(A_NORMAL);
}

void tui_tabs(const tui_screen *s, int y, int w, tui_view active, int *widths) {
    int x = 0;
    tui_text(s, y, 0, w, TUI_C_TEXT, "", true);
    for (int v = 0; v < TUI_VIEW_COUNT; v++) {
        char b[32];
        snprintf(b, sizeof b, " %d %s ", v + 1, tui_view_name((tui_view)v));
        int len = (int)strlen(b);
        widths[v] = len;
        if (x < w) tui_text(s, y, x, w - x, v == (int)active ? TUI_C_TAB_ACTIVE : TUI_C_TAB, b, false);
        x += len + 1;
    }
}

void tui_function_bar(const tui_screen *s, int y, int w, tui_view view) {
    tui_hint h[32];
    int x[32];
    int n = tui_key_hints(view, h, 32);
    int k = tui_hints_fit(h, n, w, x);
    tui_text(s, y, 0, w, TUI_C_FLABEL, "", true);
    for (int i = 0; i < k; i++) {
        int kl = (int)strlen(h[i].key);
        tui_text(s, y, x[i], kl, TUI_C_FKEY, h[i].key, false);
        tui_text(s, y, x[i] + kl, (int)strlen(h[i].label) + 1, TUI_C_FLABEL, "", true);
        tui_text(s, y, x[i] + kl + 1, (int)strlen(h[i].label), TUI_C_FLABEL, h[i].label, false);
    }
}

void tui_box(const tui_screen *s, int y, int x, int h, int w, const char *title) {
    if (h < 2 || w < 2) return;
    attrset((attr_t)tui_attr(s, TUI_C_BORDER));
    mvaddch(y, x, ACS_ULCORNER);
    mvhline(y, x + 1, ACS_HLINE, w - 2);
    mvaddch(y, x + w - 1, ACS_URCORNER);
    for (int r = 1; r < h - 1; r++) {
        mvaddch(y + r, x, ACS_VLINE);
        mvaddch(y + r, x + w - 1, ACS_VLINE);
    }
    mvaddch(y + h - 1, x, ACS_LLCORNER);
    mvhline(y + h - 1, x + 1, ACS_HLINE, w - 2);
    mvaddch(y + h - 1, x + w - 1, ACS_LRCORNER);
    attrset(A_NORMAL);
    for (int r = 1; r < h - 1; r++) tui_text(s, y + r, x + 1, w - 2, TUI_C_TEXT, "", true);
    if (title && *title) tui_textf(s, y, x + 2, w - 4, TUI_C_TITLE, false, " %s ", title);
}

void tui_too_small(const tui_screen *s, int cols, int rows) {
    erase();
    char l2[64];
    snprintf(l2, sizeof l2, "to %dx%d (now %dx%d)", TUI_MIN_COLS, TUI_MIN_ROWS, cols, rows);
    const char *l1 = "enlarge the terminal";
    int y = rows / 2 - 1;
    if (y < 0) y = 0;
    int x1 = (cols - (int)strlen(l1)) / 2, x2 = (cols - (int)strlen(l2)) / 2;
    tui_text(s, y, x1 < 0 ? 0 : x1, cols, TUI_C_WARN, l1, false);
    if (y + 1 < rows) tui_text(s, y + 1, x2 < 0 ? 0 : x2, cols, TUI_C_TEXT, l2, false);
}
