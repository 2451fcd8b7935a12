/* tui_draw.h — the screen and the widgets drawn on it (the only ncurses code besides tui.c).
 *
 * Widgets, as in htop: a header line, view tabs, a scrollable list panel, a stacked meter bar,
 * a bottom function bar generated from the key table, popups. Their geometry comes from
 * tui_layout.h (pure, unit-tested); here they are only painted. UI thread only.
 * Owned by tui/. */
#ifndef TUI_DRAW_H
#define TUI_DRAW_H

#include <stdbool.h>
#include <stdint.h>

#include "tui_keys.h"
#include "tui_layout.h"
#include "tui_theme.h"

typedef struct tui_screen {
    bool utf8;        /* the locale's character set is UTF-8: block characters for bars */
    bool color;       /* colours in use (terminal has them and NO_COLOR is unset) */
    int ncolors;      /* COLORS of the terminal */
    tui_theme theme;
    unsigned long attr[TUI_C_COUNT]; /* ncurses attributes (colour pair | A_*) per element */
} tui_screen;

/* After initscr(): decides colour use (NO_COLOR, has_colors), maps the theme's colours to the
 * terminal (tui_color_map) and sets up one colour pair per element. */
void tui_screen_apply(tui_screen *s, const tui_theme *t, bool no_color);

/* Attribute of an element. */
unsigned long tui_attr(const tui_screen *s, tui_elem e);

/* Text clipped to w columns at (y, x); pads with spaces to w when pad. Returns columns used. */
int tui_text(const tui_screen *s, int y, int x, int w, tui_elem e, const char *text, bool pad);
/* printf into a line. */
int tui_textf(const tui_screen *s, int y, int x, int w, tui_elem e, bool pad, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* A stacked bar of n parts in w cells against capacity (0 = the parts' sum): each part in its
 * element's colour; the rest of the capacity drawn as free. Block characters in UTF-8 locales,
 * ASCII otherwise; without colours each part gets its own glyph. */
void tui_meter(const tui_screen *s, int y, int x, int w, const uint64_t *part, const tui_elem *elem,
               int n, uint64_t capacity);
/* Glyph drawn for part i of a meter (for legends). */
const char *tui_meter_glyph(const tui_screen *s, int i);

/* The view tabs on row y; fills widths[TUI_VIEW_COUNT] (for mouse hits, tui_tab_at, gap 1). */
void tui_tabs(const tui_screen *s, int y, int w, tui_view active, int *widths);

/* The bottom bar of key hints for a view. */
void tui_function_bar(const tui_screen *s, int y, int w, tui_view view);

/* A framed box with a title; clears its inside. */
void tui_box(const tui_screen *s, int y, int x, int h, int w, const char *title);

/* The "enlarge the terminal" screen for a terminal of cols x rows. */
void tui_too_small(const tui_screen *s, int cols, int rows);

#endif
