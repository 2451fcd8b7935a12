/* tui_layout.h — the arithmetic of the widgets, as pure functions (no ncurses, no globals).
 *
 * Everything a widget decides about geometry — which rows of a list are visible, how many cells
 * each part of a stacked bar gets, which key hints fit in the bottom bar — is computed here so
 * the unit tests (tests/test_tui_layout.c) can pin it without a terminal. Owned by tui/. */
#ifndef TUI_LAYOUT_H
#define TUI_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------------
 * Scrollable list: a selection and a scroll offset over n items shown in `height` rows.
 * ------------------------------------------------------------------------------------------- */

typedef struct tui_list_pos {
    int n;        /* items */
    int selected; /* 0..n-1, or 0 when n == 0 */
    int top;      /* index of the first visible item */
} tui_list_pos;

/* Clamps selected into [0, n) and moves top the least so that the selection is visible in
 * `height` rows and no empty rows show below the last item when n >= height. */
void tui_list_clamp(tui_list_pos *p, int height);
/* Moves the selection by delta items (negative = up), then clamps. */
void tui_list_move(tui_list_pos *p, int delta, int height);
/* Page up / down: the selection moves by height - 1 rows (at least 1), so does the top. */
void tui_list_page(tui_list_pos *p, int pages, int height);
/* Home / End. */
void tui_list_home(tui_list_pos *p, int height);
void tui_list_end(tui_list_pos *p, int height);
/* Wheel: scrolls the view by delta rows, keeping the selection inside it. */
void tui_list_scroll(tui_list_pos *p, int delta, int height);
/* The item index shown at screen row `row` (0-based inside the list), or -1 if the row is empty. */
int tui_list_item_at(const tui_list_pos *p, int row, int height);

/* ---------------------------------------------------------------------------------------------
 * Stacked bar: parts of a whole drawn in `width` cells against a capacity.
 * ------------------------------------------------------------------------------------------- */

/* Splits width cells among n parts proportionally to part[i] against scale = max(capacity,
 * sum of parts) (capacity 0 = the sum), by the largest-remainder method, so the cells add up to
 * round(width * sum / scale) exactly. A non-zero part gets at least one cell when there are cells
 * to give (taken from the largest part). cells[i] receives each part's cells; returns their sum. */
int tui_bar_split(const uint64_t *part, int n, uint64_t capacity, int width, int *cells);

/* ---------------------------------------------------------------------------------------------
 * Function bar: key hints "F1Help  F2..." packed left to right.
 * ------------------------------------------------------------------------------------------- */

typedef struct tui_hint {
    const char *key;   /* "q", "Tab", "+/-" */
    const char *label; /* "Quit" */
} tui_hint;

/* How many of the n hints fit in width columns, each taking strlen(key) + 1 + strlen(label) + 1
 * columns (key, a space, label, a gap); x[i] receives each fitted hint's start column.
 * Column widths count bytes: keys and labels are ASCII. */
int tui_hints_fit(const tui_hint *h, int n, int width, int *x);

/* ---------------------------------------------------------------------------------------------
 * Minimum size and tabs.
 * ------------------------------------------------------------------------------------------- */

enum { TUI_MIN_COLS = 40, TUI_MIN_ROWS = 10 };
/* True when the terminal is large enough to draw the views. */
bool tui_size_ok(int cols, int rows);

/* Index of the tab under column x when n tabs of the given label widths are drawn from column 0
 * separated by `gap` columns, or -1. */
int tui_tab_at(const int *widths, int n, int gap, int x);

/* ---------------------------------------------------------------------------------------------
 * Number formatting (the same forms `quantscope info` prints).
 * ------------------------------------------------------------------------------------------- */

/* "292,800". Returns buf. */
const char *tui_fmt_int(int64_t v, char *buf, size_t n);
/* "292.8 K", "1.10 B". Returns buf. */
const char *tui_fmt_count(int64_t v, char *buf, size_t n);
/* "512 B", "12.0 KiB", "629.99 MiB", "4.37 GiB". Returns buf. */
const char *tui_fmt_bytes(uint64_t b, char *buf, size_t n);
/* Signed byte difference: "+12,288 B" (exact below 1 MiB), "-1.50 MiB"; 0 is "+0 B". */
const char *tui_fmt_delta(int64_t d, char *buf, size_t n);

#endif
