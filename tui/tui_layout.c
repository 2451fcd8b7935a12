/* Widget arithmetic: list scrolling, bar splitting, key-hint packing, number formats. */
#include "tui_layout.h"

#include <stdio.h>
#include <string.h>

#include "qs_fmt.h"

/* ---- list ---------------------------------------------------------------------------------- */

void tui_list_clamp(tui_list_pos *p, int height) {
    if (height < 1) height = 1;
    if (p->n <= 0) {
        p->n = p->n < 0 ? 0 : p->n;
        p->selected = 0;
        p->top = 0;
        return;
    }
    if (p->selected < 0) p->selected = 0;
    if (p->selected >= p->n) p->selected = p->n - 1;
    if (p->top > p->selected) p->top = p->selected;
    if (p->selected >= p->top + height) p->top = p->selected - height + 1;
    int max_top = p->n > height ? p->n - height : 0;
    if (p->top > max_top) p->top = max_top;
    if (p->top < 0) p->top = 0;
}

void tui_list_move(tui_list_pos *p, int delta, int height) {
    long s = (long)p->selected + delta;
    if (s < 0) s = 0;
    if (s > p->n - 1) s = p->n - 1;
    p->selected = (int)s;
    tui_list_clamp(p, height);
}

void tui_list_page(tui_list_pos *p, int pages, int height) {
    int step = height > 1 ? height - 1 : 1;
    long d = (long)pages * step;
    long top = (long)p->top + d;
    if (top < 0) top = 0;
    if (top > p->n) top = p->n;
    p->top = (int)top;
    tui_list_move(p, (int)d, height);
}

void tui_list_home(tui_list_pos *p, int height) {
    p->selected = 0;
    p->top = 0;
    tui_list_clamp(p, height);
}

void tui_list_end(tui_list_pos *p, int height) {
    p->selected = p->n - 1;
    tui_list_clamp(p, height);
}

void tui_list_scroll(tui_list_pos *p, int delta, int height) {
    if (height < 1) height = 1;
    int max_top = p->n > height ? p->n - height : 0;
    long top = (long)p->top + delta;
    if (top < 0) top = 0;
    if (top > max_top) top = max_top;
    p->top = (int)top;
    if (p->selected < p->top) p->selected = p->top;
    if (p->selected >= p->top + height) p->selected = p->top + height - 1;
    tui_list_clamp(p, height);
}

int tui_list_item_at(const tui_list_pos *p, int row, int height) {
    if (row < 0 || row >= height) return -1;
    int i = p->top + row;
    return i < p->n ? i : -1;
}

/* ---- bar ----------------------------------------------------------------------------------- */

int tui_bar_split(const uint64_t *part, int n, uint64_t capacity, int width, int *cells) {
    long double sum = 0;
    for (int i = 0; i < n; i++) {
        cells[i] = 0;
        sum += (long double)part[i];
    }
    if (width <= 0 || n <= 0 || sum <= 0) return 0;
    long double scale = (long double)capacity > sum ? (long double)capacity : sum;
    int total = (int)(width * sum / scale + 0.5L);
    if (total > width) total = width;
    if (total == 0) total = 1; /* something exists: show it */
    /* largest remainder of part[i] * total / sum */
    long double rem[64];
    int m = n < 64 ? n : 64;
    int given = 0;
    for (int i = 0; i < m; i++) {
        long double exact = (long double)part[i] * total / sum;
        cells[i] = (int)exact;
        rem[i] = exact - cells[i];
        given += cells[i];
    }
    while (given < total) {
        int best = -1;
        for (int i = 0; i < m; i++)
            if (part[i] && (best < 0 || rem[i] > rem[best])) best = i;
        if (best < 0) break;
        cells[best]++;
        rem[best] = -1;
        given++;
    }
    /* every non-zero part visible: take a cell from the largest */
    for (int i = 0; i < m; i++) {
        if (!part[i] || cells[i]) continue;
        int big = -1;
        for (int j = 0; j < m; j++)
            if (cells[j] > 1 && (big < 0 || cells[j] > cells[big])) big = j;
        if (big < 0) break;
        cells[big]--;
        cells[i] = 1;
    }
    return given;
}

/* ---- hints --------------------------------------------------------------------------------- */

int tui_hints_fit(const tui_hint *h, int n, int width, int *x) {
    int col = 0, k = 0;
    for (int i = 0; i < n; i++) {
        int w = (int)strlen(h[i].key) + 1 + (int)strlen(h[i].label);
        if (col + w > width) break;
        if (x) x[k] = col;
        k++;
        col += w + 1;
    }
    return k;
}

/* ---- size, tabs ---------------------------------------------------------------------------- */

bool tui_size_ok(int cols, int rows) { return cols >= TUI_MIN_COLS && rows >= TUI_MIN_ROWS; }

int tui_tab_at(const int *widths, int n, int gap, int x) {
    int col = 0;
    for (int i = 0; i < n; i++) {
        if (x >= col && x < col + widths[i]) return i;
        col += widths[i] + gap;
    }
    return -1;
}

/* ---- numbers ------------------------------------------------------------------------------- */

const char *tui_fmt_int(int64_t v, char *buf, size_t n) { return qs_fmt_int(v, buf, n); }

const char *tui_fmt_count(int64_t v, char *buf, size_t n) { return qs_fmt_count(v, buf, n); }

const char *tui_fmt_bytes(uint64_t b, char *buf, size_t n) { return qs_fmt_bytes(b, buf, n); }

const char *tui_fmt_delta(int64_t d, char *buf, size_t n) {
    char num[40];
    uint64_t a = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
    if (a < 1024 * 1024) {
        tui_fmt_int((int64_t)a, num, sizeof num);
        snprintf(buf, n, "%s%s B", d < 0 ? "-" : "+", num);
    } else {
        tui_fmt_bytes(a, num, sizeof num);
        snprintf(buf, n, "%s%s", d < 0 ? "-" : "+", num);
    }
    return buf;
}
