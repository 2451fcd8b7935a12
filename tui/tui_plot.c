/* Chart arithmetic (see tui_plot.h). */
#include "tui_plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int tui_bar_eighths(double v, double max, int cells) {
    if (!(max > 0) || !(v > 0) || cells <= 0) return 0;
    double e = 8.0 * cells * v / max;
    int r = e >= 8.0 * cells ? 8 * cells : (int)floor(e + 0.5);
    return r < 1 ? 1 : r;
}

int tui_bar_row_eighths(int eighths, int row) {
    int e = eighths - 8 * row;
    return e < 0 ? 0 : e > 8 ? 8 : e;
}

int tui_hist_columns(const uint64_t *hist, int n, int width, uint64_t *out, int *bins_per_col,
                     int *cols_per_bin) {
    if (n <= 0 || width <= 0) {
        if (bins_per_col) *bins_per_col = 1;
        if (cols_per_bin) *cols_per_bin = 1;
        return 0;
    }
    if (n <= width) {
        int k = width / n;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < k; c++) out[i * k + c] = hist[i];
        if (bins_per_col) *bins_per_col = 1;
        if (cols_per_bin) *cols_per_bin = k;
        return n * k;
    }
    int per = (n + width - 1) / width;
    int cols = (n + per - 1) / per;
    for (int c = 0; c < cols; c++) out[c] = 0;
    for (int i = 0; i < n; i++) out[i / per] += hist[i];
    if (bins_per_col) *bins_per_col = per;
    if (cols_per_bin) *cols_per_bin = 1;
    return cols;
}

int tui_panels(int width, int n, int gap, int *x) {
    if (n <= 0) return 0;
    int w = (width - gap * (n - 1)) / n;
    if (w < 0) w = 0;
    for (int i = 0; i < n; i++) x[i] = i * (w + gap);
    return w;
}

int tui_axis_pos(double v, double lo, double hi, int n, bool log) {
    if (n <= 1) return 0;
    if (log) {
        if (!(v > 0) || !(lo > 0) || !(hi > 0)) return !(v > 0) ? 0 : n / 2;
        v = log10(v);
        lo = log10(lo);
        hi = log10(hi);
    }
    if (!(hi > lo)) return (n - 1) / 2;
    double f = (v - lo) / (hi - lo) * (n - 1);
    if (!(f > 0)) return 0; /* also NaN */
    if (f >= n - 1) return n - 1;
    return (int)floor(f + 0.5);
}

double tui_axis_nice(double *lo, double *hi, int ticks, bool log) {
    if (log) {
        double a = *lo > 0 ? *lo : (*hi > 0 ? *hi / 10 : 1e-6);
        double b = *hi > a ? *hi : a;
        double la = floor(log10(a) + 1e-9), lb = ceil(log10(b) - 1e-9);
        if (lb <= la) lb = la + 1;
        *lo = pow(10, la);
        *hi = pow(10, lb);
        return 10;
    }
    if (ticks < 1) ticks = 1;
    if (!(*hi > *lo)) {
        double d = fabs(*lo) > 0 ? fabs(*lo) * 0.1 : 1;
        *lo -= d;
        *hi += d;
    }
    double raw = (*hi - *lo) / ticks;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
    *lo = floor(*lo / step + 1e-9) * step;
    *hi = ceil(*hi / step - 1e-9) * step;
    return step;
}

int tui_place_label(unsigned char *occ, int w, int h, int x, int y, int len) {
    if (y < 0 || y >= h || len <= 0) return -1;
    int starts[2] = {x + 1, x - len};
    for (int k = 0; k < 2; k++) {
        int s = starts[k];
        if (s < 0 || s + len > w) continue;
        bool free = true;
        for (int c = s; c < s + len && free; c++) free = !occ[y * w + c];
        if (!free) continue;
        memset(occ + y * w + s, 1, (size_t)len);
        return s;
    }
    return -1;
}

int tui_gauge_fill(uint64_t done, uint64_t total, int width) {
    if (!total || width <= 0) return 0;
    if (done >= total) return width;
    return (int)((long double)done * width / total);
}

int tui_gauge_percent(uint64_t done, uint64_t total) {
    if (!total) return -1;
    if (done >= total) return 100;
    return (int)((long double)done * 100 / total);
}

const char *tui_fmt_sig(double v, char *buf, int n) {
    double a = fabs(v);
    if (v == 0) snprintf(buf, (size_t)n, "0");
    else if (!isfinite(v)) snprintf(buf, (size_t)n, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    else if (a < 0.01 || a >= 1e5) snprintf(buf, (size_t)n, "%.2e", v);
    else snprintf(buf, (size_t)n, "%.3g", v);
    return buf;
}
