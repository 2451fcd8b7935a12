/* tui_plot.h — the arithmetic of the charts (Errors and Trade-off views, the job gauge), as pure
 * functions: no ncurses, no globals, unit-tested in tests/test_tui_plot.c.
 *
 * Bars are measured in eighths of a cell: UTF-8 terminals draw a partial cell with one of the
 * block characters U+2581..U+2588 (vertical) or U+258F..U+2589 (horizontal); ASCII terminals
 * round to whole cells. Owned by tui/. */
#ifndef TUI_PLOT_H
#define TUI_PLOT_H

#include <stdbool.h>
#include <stdint.h>

/* Eighths of a cell for a bar of value v against max filling `cells` cells: round(8 * cells *
 * v / max), at least 1 when v > 0 (a non-zero count never looks empty), at most 8 * cells.
 * 0 when max <= 0 or v <= 0. */
int tui_bar_eighths(double v, double max, int cells);

/* The eighths of a vertical bar that fall into row r (0 = bottom row): clamp(e - 8 r, 0, 8). */
int tui_bar_row_eighths(int eighths, int row);

/* Histogram columns: n bins shown in at most `width` columns. When n <= width each bin gets
 * floor(width / n) columns (its count repeated); otherwise ceil(n / width) adjacent bins are
 * summed into one column. Writes the columns' counts to out (room for max(width, n) values) and
 * returns the number of columns; *bins_per_col receives the bins summed per column (1 when
 * bins are widened) and *cols_per_bin the columns per bin (1 when bins are merged). */
int tui_hist_columns(const uint64_t *hist, int n, int width, uint64_t *out, int *bins_per_col,
                     int *cols_per_bin);

/* Splits width columns into n equal panels separated by `gap` columns: each panel's width
 * (floor((width - gap * (n - 1)) / n), 0 if negative) and x offsets in x[n]. */
int tui_panels(int width, int n, int gap, int *x);

/* Position of v on an axis of n cells covering [lo, hi] (log10 scale when log; then values
 * <= 0 and below lo go to cell 0): round((v - lo) / (hi - lo) * (n - 1)), clamped to [0, n-1].
 * A degenerate axis (hi <= lo) puts everything in the middle cell. */
int tui_axis_pos(double v, double lo, double hi, int n, bool log);

/* "Nice" axis bounds: lo rounded down and hi rounded up to a multiple of the 1-2-5 step nearest
 * (by ratio: below 1.5, 3, 7) to (hi - lo) / ticks; returns the step. For a log axis, lo and hi
 * become powers of ten enclosing the range (at least one decade) and the return value is 10.
 * lo == hi widens. */
double tui_axis_nice(double *lo, double *hi, int ticks, bool log);

/* Label placement on a grid of w x h cells (occ: w * h bytes, non-zero = taken). A label of len
 * cells for a point at (x, y) goes right of the point (x + 1 .. x + len) if those cells are free
 * and inside the grid, else left of it (x - len .. x - 1), else it is not placed. On success the
 * cells are marked taken and the label's first column is returned; -1 if it does not fit. */
int tui_place_label(unsigned char *occ, int w, int h, int x, int y, int len);

/* The job gauge: cells of a `width`-cell bar filled for done of total (floor, all of them only
 * when done >= total > 0). 0 when total is 0. */
int tui_gauge_fill(uint64_t done, uint64_t total, int width);
/* Percentage shown beside it: floor(100 * done / total), 100 only when done >= total; -1 when
 * total is 0 (unknown). */
int tui_gauge_percent(uint64_t done, uint64_t total);

/* A compact number for axes and tables: 3 significant digits, "1.23e-03" style below 0.01 or
 * from 1e5, plain ("0.123", "12.3", "1230") between. "0" for 0. Returns buf. */
const char *tui_fmt_sig(double v, char *buf, int n);

#endif
