/* The Errors view: the selected tensor's error histogram and metrics at its planned type and at
 * a compare type (side by side on a shared axis), and the plan's error per block. Figures from
 * tui_quality (engine/errview.h); only drawing here. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tui_plot.h"
#include "tui_quality.h"

static const char *const vblocks[9] = {" ", "\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};

/* one cell of a vertical bar with e eighths (0..8) */
static const char *vcell(const tui_screen *s, int e, bool bottom) {
    if (s->utf8) return vblocks[e];
    if (e >= 4) return "#";
    return e > 0 && bottom ? "." : " ";
}

static void clear_rows(const tui_screen *s, int y, int h, int x, int w) {
    for (int r = 0; r < h; r++) tui_text(s, y + r, x, w, TUI_C_TEXT, "", true);
}

/* "1.234e-05" / "inf" as the CLI prints each figure */
static void metrics_row(char *buf, size_t n, const char *label, const qs_metrics *m, const char *state) {
    char snr[16];
    if (isinf(m->snr_db)) snprintf(snr, sizeof snr, "%8s", m->snr_db > 0 ? "inf" : "-inf");
    else snprintf(snr, sizeof snr, "%8.2f", m->snr_db);
    snprintf(buf, n, "%-14s %11.4g %9.4g %11.4g %s %9.6f  %s", label, m->rmse, m->rel_rmse, m->max_abs, snr, m->cosine,
             state);
}

static void state_text(char *buf, size_t n, const qs_metrics *m, bool exact) {
    if (exact) snprintf(buf, n, "exact");
    else snprintf(buf, n, "sampled %.0f%%", 100.0 * m->fraction);
}

/* A histogram panel: counts as a share of n, scaled to `scale` (the taller panel's peak share). */
static void hist_panel(const tui_screen *s, int y, int x, int w, int h, const qs_metrics *m, double scale) {
    uint64_t cols[2 * QS_METRICS_MAX_BINS + 512];
    int width = w < (int)(sizeof cols / sizeof cols[0]) ? w : (int)(sizeof cols / sizeof cols[0]);
    int per, k;
    int nc = tui_hist_columns(m->hist, m->hist_bins, width, cols, &per, &k);
    int x0 = x + (w - nc) / 2;
    for (int r = 0; r < h; r++) {
        move(y + h - 1 - r, x0);
        attrset((attr_t)tui_attr(s, TUI_C_HISTOGRAM));
        for (int c = 0; c < nc; c++) {
            double share = m->n ? (double)cols[c] / (double)m->n : 0;
            int e = tui_bar_eighths(share, scale, h);
            addstr(vcell(s, tui_bar_row_eighths(e, r), r == 0 && e > 0));
        }
        attrset(A_NORMAL);
    }
}

static double peak_share(const qs_metrics *m, int w) {
    uint64_t cols[2 * QS_METRICS_MAX_BINS + 512];
    int width = w < (int)(sizeof cols / sizeof cols[0]) ? w : (int)(sizeof cols / sizeof cols[0]);
    int per, k;
    int nc = tui_hist_columns(m->hist, m->hist_bins, width, cols, &per, &k);
    uint64_t mx = 0;
    for (int c = 0; c < nc; c++) mx = cols[c] > mx ? cols[c] : mx;
    return m->n ? (double)mx / (double)m->n : 0;
}

/* The plan's error per block as vertical columns (one per group with quantized tensors). */
static void block_chart(tui_ui *ui, tui_quality *q, int y, int x, int w, int h, int sel_group) {
    const tui_screen *s = &ui->scr;
    int gidx[4096 + 2], ng = 0;
    double mx = 0;
    for (int g = 0; g < q->tab.n_groups && ng < (int)(sizeof gidx / sizeof gidx[0]); g++) {
        const qs_errv_point *p = &q->groups[g];
        if (p->ssx <= 0 && !p->missing && !p->failed) continue; /* no quantized tensor */
        gidx[ng++] = g;
        if (isfinite(p->rel_rmse) && p->rel_rmse > mx) mx = p->rel_rmse;
    }
    int lw = 9; /* axis labels */
    int avail = w - lw;
    if (ng == 0 || avail < 4 || h < 3) return;
    int per = (ng + avail - 1) / avail;        /* groups per column when there are many */
    int ncol = (ng + per - 1) / per;
    int cw = avail / ncol;
    if (cw > 6) cw = 6;
    int gap = cw >= 3 ? 1 : 0;
    int bh = h - 1; /* last row: labels */
    char lab[32];
    tui_textf(s, y, x, lw, TUI_C_DIM, true, "%8s", tui_fmt_sig(mx, lab, sizeof lab));
    tui_text(s, y + bh - 1, x, lw, TUI_C_DIM, "       0", true);
    for (int c = 0; c < ncol; c++) {
        double v = 0;
        bool missing = false, selected = false;
        for (int k = c * per; k < (c + 1) * per && k < ng; k++) {
            const qs_errv_point *p = &q->groups[gidx[k]];
            if (!isfinite(p->rel_rmse)) missing = true;
            else if (p->rel_rmse > v) v = p->rel_rmse;
            if (gidx[k] == sel_group) selected = true;
        }
        int e = tui_bar_eighths(v, mx, bh);
        int cx = x + lw + c * cw;
        tui_elem el = selected ? TUI_C_WARN : TUI_C_HISTOGRAM;
        for (int r = 0; r < bh; r++) {
            move(y + bh - 1 - r, cx);
            attrset((attr_t)tui_attr(s, el));
            for (int k = 0; k < cw - gap; k++)
                addstr(missing && r == 0 ? "?" : vcell(s, tui_bar_row_eighths(e, r), r == 0 && e > 0));
            attrset(A_NORMAL);
        }
        /* label: the first group of the column */
        int g = gidx[c * per];
        char name[32];
        if (g == 0) snprintf(name, sizeof name, "E");
        else if (g == q->tab.n_layer + 1) snprintf(name, sizeof name, "O");
        else snprintf(name, sizeof name, "%d", g - 1);
        if ((int)strlen(name) <= cw - gap || c % 5 == 0)
            tui_text(s, y + bh, cx, cw, selected ? TUI_C_WARN : TUI_C_DIM, name, false);
    }
}

void tui_errors_draw(tui_ui *ui, int y, int h) {
    const tui_screen *s = &ui->scr;
    int w = ui->cols;
    clear_rows(s, y, h, 0, w);
    ui->body_y = y;
    ui->body_h = 0;
    tui_quality_sync(ui, true);
    tui_quality *q = ui->quality;
    if (!q) {
        tui_text(s, y, 0, w, TUI_C_ERROR, ui->app.status, true);
        return;
    }
    if (q->n_items == 0) {
        tui_text(s, y, 0, w, TUI_C_DIM, "no tensor of this model is quantized (nothing to measure)", true);
        return;
    }
    tui_app *a = &ui->app;
    tui_list_pos *lp = &ui->list[TUI_VIEW_ERRORS];
    lp->n = q->n_items;

    /* the list of tensors on the left when there is room */
    int lw = w >= 110 ? 44 : 0;
    if (lw) {
        tui_text(s, y, 0, lw - 1, TUI_C_TITLE, "tensor                      plan  rel RMSE", true);
        ui->body_y = y + 1;
        ui->body_h = h - 1;
        tui_list_clamp(lp, ui->body_h);
        for (int r = 0; r < ui->body_h; r++) {
            int i = tui_list_item_at(lp, r, ui->body_h);
            if (i < 0) continue;
            int t = q->items[i];
            int ty = q->plan_types[t];
            double sse, ssx;
            bool exact;
            char err[24] = "";
            if (qs_errv_cell_best(&q->tab, t, ty, &sse, &ssx, &exact)) {
                char v[20];
                snprintf(err, sizeof err, "%s%s", exact ? " " : "~", tui_fmt_sig(ssx > 0 ? sqrt(sse / ssx) : 0, v, sizeof v));
            }
            tui_textf(s, y + 1 + r, 0, lw - 1, i == lp->selected ? TUI_C_SELECTION : TUI_C_TEXT, true, "%-27.27s %-5s %9s",
                      a->pt[t].name, qs_type_name(ty), err);
        }
    } else {
        tui_list_clamp(lp, 1);
    }
    int x = lw, dw = w - lw;
    int t = q->want.tensor;
    if (t < 0) return;
    const qs_plan_tensor *pt = &a->pt[t];
    int yy = y;
    tui_textf(s, yy++, x, dw, TUI_C_TITLE, true, "%s  %lld x %lld  stored %s  (%d of %d; j/k: tensor)", pt->name,
              (long long)pt->ne[0], (long long)(pt->ne[1] * pt->ne[2] * pt->ne[3]), qs_type_name(pt->type),
              lp->selected + 1, q->n_items);
    char cmp[48];
    if (q->want.cmp >= 0) snprintf(cmp, sizeof cmp, "compare %s ([ ] type, x off)", qs_type_name(q->want.cmp));
    else snprintf(cmp, sizeof cmp, "%s", q->cmp_off ? "no comparison (x: compare)" : "no type to compare with");
    tui_textf(s, yy++, x, dw, TUI_C_TEXT, true, "planned %s   %s", qs_type_name(q->want.type), cmp);
    tui_textf(s, yy++, x, dw, TUI_C_TITLE, true, "%-14s %11s %9s %11s %8s %9s", "type", "rmse", "rel", "max|e|", "snr dB",
              "cosine");
    double range = tui_quality_range(q, &q->want);
    const qs_metrics *mm[2] = {NULL, NULL};
    bool ex[2] = {false, false};
    int types[2] = {q->want.type, q->want.cmp};
    for (int k = 0; k < 2; k++) {
        if (types[k] < 0) continue;
        char label[24], line[160], st[32];
        snprintf(label, sizeof label, "%s%s", qs_type_name(types[k]), k == 0 ? " (plan)" : "");
        if (range > 0) mm[k] = qs_errv_cache_best(&q->cache, t, types[k], range, &ex[k]);
        if (mm[k]) {
            state_text(st, sizeof st, mm[k], ex[k]);
            metrics_row(line, sizeof line, label, mm[k], st);
            tui_text(s, yy, x, dw, ex[k] ? TUI_C_TEXT : TUI_C_WARN, line, true);
        } else {
            tui_textf(s, yy, x, dw, q->tensor_err[0] ? TUI_C_ERROR : TUI_C_DIM, true, "%-14s %s", label,
                      q->tensor_err[0] ? q->tensor_err : q->tensor_busy ? "measuring..." : "not measured (R measures)");
        }
        yy++;
    }
    int left = y + h - yy;
    /* room: histogram (title + bars + axis) and block chart (title + bars + labels) */
    int hist_h = 0, blk_h = 0;
    if (left >= 12) {
        hist_h = (left - 2) * 55 / 100;
        blk_h = left - 2 - hist_h;
        if (blk_h > 12) {
            hist_h += blk_h - 12;
            blk_h = 12;
        }
    } else if (left >= 5) {
        hist_h = left - 2;
    }
    if (hist_h >= 2 && mm[0]) {
        int np = mm[1] ? 2 : 1, px[2];
        int pw = tui_panels(dw, np, 3, px);
        double scale = 0;
        for (int k = 0; k < np; k++) {
            double p = peak_share(mm[k], pw);
            if (p > scale) scale = p;
        }
        for (int k = 0; k < np; k++) {
            char title[96];
            uint64_t out = mm[k]->hist_under + mm[k]->hist_over;
            if (out) snprintf(title, sizeof title, "%s: error q - x (%llu outside)", qs_type_name(types[k]), (unsigned long long)out);
            else snprintf(title, sizeof title, "%s: error q - x", qs_type_name(types[k]));
            tui_text(s, yy, x + px[k], pw, TUI_C_TITLE, title, false);
            hist_panel(s, yy + 1, x + px[k], pw, hist_h, mm[k], scale);
            char lo[24], hi[24], axis[160];
            tui_fmt_sig(-mm[k]->hist_range, lo, sizeof lo);
            tui_fmt_sig(mm[k]->hist_range, hi, sizeof hi);
            int mid = pw / 2;
            snprintf(axis, sizeof axis, "%-*s0", mid > (int)strlen(lo) ? mid : (int)strlen(lo) + 1, lo);
            int len = (int)strlen(axis);
            if (pw - len > (int)strlen(hi)) snprintf(axis + len, sizeof axis - (size_t)len, "%*s", pw - len, hi);
            tui_text(s, yy + 1 + hist_h, x + px[k], pw, TUI_C_DIM, axis, false);
        }
        yy += hist_h + 2;
    } else if (hist_h >= 2) {
        yy += hist_h + 2;
    }
    if (blk_h >= 3) {
        const qs_errv_point *pp = &q->plan_pt;
        char v[24], wv[24], sv[24], worst_name[32] = "", sel_name[32];
        int worst = -1;
        for (int g = 0; g < q->tab.n_groups; g++)
            if (q->groups[g].ssx > 0 && isfinite(q->groups[g].rel_rmse) &&
                (worst < 0 || q->groups[g].rel_rmse > q->groups[worst].rel_rmse))
                worst = g;
        int sg = q->tab.group[t];
        if (worst >= 0) qs_errv_group_name(&q->tab, worst, worst_name, sizeof worst_name);
        qs_errv_group_name(&q->tab, sg, sel_name, sizeof sel_name);
        const char *state = pp->exact ? "exact" : pp->missing ? "measuring" : "sampled";
        tui_textf(s, yy++, x, dw, TUI_C_TITLE, true, "rel RMSE per block (%s): plan %s  worst %s %s  this %s %s", state,
                  isfinite(pp->rel_rmse) ? tui_fmt_sig(pp->rel_rmse, v, sizeof v) : "?", worst_name,
                  worst >= 0 ? tui_fmt_sig(q->groups[worst].rel_rmse, wv, sizeof wv) : "?", sel_name,
                  isfinite(q->groups[sg].rel_rmse) ? tui_fmt_sig(q->groups[sg].rel_rmse, sv, sizeof sv) : "?");
        block_chart(ui, q, yy, x, dw, blk_h - 1, sg);
    }
}

bool tui_errors_action(tui_ui *ui, tui_action act) {
    switch (act) {
    case TUI_ACT_CMP_LOWER: tui_quality_step_compare(ui, -1); return true;
    case TUI_ACT_CMP_HIGHER: tui_quality_step_compare(ui, +1); return true;
    case TUI_ACT_CMP_TOGGLE: {
        tui_quality *q = tui_quality_get(ui);
        if (q) {
            q->cmp_off = !q->cmp_off;
            snprintf(ui->app.status, sizeof ui->app.status, "%s", q->cmp_off ? "comparison off" : "comparison on");
            ui->app.status_error = false;
        }
        return true;
    }
    case TUI_ACT_RAISE: tui_quality_step_type(ui, +1); return true;
    case TUI_ACT_LOWER: tui_quality_step_type(ui, -1); return true;
    case TUI_ACT_STOP_JOBS: tui_quality_stop(ui); return true;
    case TUI_ACT_REFINE: tui_quality_refine(ui); return true;
    default: return false;
    }
}
