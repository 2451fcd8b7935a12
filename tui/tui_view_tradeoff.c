/* The Trade-off view: size (MiB or bits per weight) against error for every preset, the budget
 * planner's frontier and the current plan, what a little more memory would buy, and a table of
 * the points (Enter makes the selected point the plan). Figures from tui_quality. */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_plot.h"
#include "tui_quality.h"

static const char *marker(const tui_screen *s, tui_qpoint_kind k) {
    switch (k) {
    case TUI_QP_PRESET: return s->utf8 ? "\u25cf" : "o";
    case TUI_QP_BUDGET: return s->utf8 ? "\u00b7" : ".";
    case TUI_QP_PLAN: return s->utf8 ? "\u25c6" : "@";
    case TUI_QP_MORE: return s->utf8 ? "\u25c7" : "+";
    }
    return "?";
}

static tui_elem marker_elem(tui_qpoint_kind k) {
    switch (k) {
    case TUI_QP_BUDGET: return TUI_C_OK;
    case TUI_QP_PLAN: return TUI_C_WARN;
    case TUI_QP_MORE: return TUI_C_CHANGED;
    default: return TUI_C_TEXT;
    }
}

static double xval(const tui_quality *q, const qs_errv_point *p) {
    return q->x_bpw ? p->bpw : (double)p->bytes / (double)QS_MIB;
}

static const char *state_of(const qs_errv_point *p) {
    return p->failed ? "cannot measure" : p->missing ? "measuring" : p->exact ? "exact" : "sampled";
}

/* The scatter plot in rows [y, y + h) (the last row holds the x axis labels). */
static void plot(tui_ui *ui, tui_quality *q, const tui_qpoint *pts, int n, int sel, int y, int h) {
    const tui_screen *s = &ui->scr;
    int lw = 9, w = ui->cols - lw - 1;
    int ph = h - 1;
    if (w < 10 || ph < 3) return;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < n; i++) {
        double xv = xval(q, &pts[i].p);
        if (xv < xlo) xlo = xv;
        if (xv > xhi) xhi = xv;
        double e = pts[i].p.rel_rmse;
        if (isfinite(e) && e > 0) {
            if (e < ylo) ylo = e;
            if (e > yhi) yhi = e;
        }
    }
    if (!(xhi >= xlo)) return;
    if (!(yhi >= ylo)) ylo = yhi = 0.01;
    double xstep = tui_axis_nice(&xlo, &xhi, w / 12 > 1 ? w / 12 : 1, false);
    tui_axis_nice(&ylo, &yhi, 4, true);
    unsigned char *occ = calloc((size_t)w * (size_t)ph, 1);
    int *px = calloc((size_t)(n ? n : 1), sizeof *px), *py = calloc((size_t)(n ? n : 1), sizeof *py);
    if (!occ || !px || !py) {
        free(occ);
        free(px);
        free(py);
        return;
    }
    /* y axis: decades */
    for (double v = ylo; v <= yhi * 1.0001; v *= 10) {
        int r = ph - 1 - tui_axis_pos(v, ylo, yhi, ph, true);
        tui_textf(s, y + r, 0, lw, TUI_C_DIM, false, "%8.0e", v);
    }
    /* points: the frontier first, the plan last (on top); zero error sits on the bottom row */
    int order[4] = {TUI_QP_BUDGET, TUI_QP_PRESET, TUI_QP_MORE, TUI_QP_PLAN};
    for (int o = 0; o < 4; o++)
        for (int i = 0; i < n; i++) {
            if ((int)pts[i].kind != order[o]) continue;
            double e = pts[i].p.rel_rmse;
            px[i] = tui_axis_pos(xval(q, &pts[i].p), xlo, xhi, w, false);
            py[i] = isfinite(e) ? ph - 1 - (e > 0 ? tui_axis_pos(e, ylo, yhi, ph, true) : 0) : -1;
            if (py[i] < 0) continue;
            occ[py[i] * w + px[i]] = 1;
            tui_text(s, y + py[i], lw + px[i], 1, i == sel ? TUI_C_SELECTION : marker_elem(pts[i].kind),
                     marker(s, pts[i].kind), false);
        }
    /* labels: the plan, the selection, then the presets from the smallest */
    for (int pass = 0; pass < 3; pass++)
        for (int i = 0; i < n; i++) {
            bool take = pass == 0 ? pts[i].kind == TUI_QP_PLAN || pts[i].kind == TUI_QP_MORE
                        : pass == 1 ? i == sel && pts[i].kind == TUI_QP_PRESET
                                    : pts[i].kind == TUI_QP_PRESET && i != sel;
            if (!take || py[i] < 0) continue;
            int len = (int)strlen(pts[i].label);
            int lx = tui_place_label(occ, w, ph, px[i], py[i], len);
            if (lx >= 0)
                tui_text(s, y + py[i], lw + lx, len, i == sel ? TUI_C_SELECTION : marker_elem(pts[i].kind),
                         pts[i].label, false);
        }
    /* x axis labels */
    unsigned char *xo = calloc((size_t)w + 1, 1);
    if (xo) {
        for (double v = xlo; v <= xhi + xstep * 1e-6; v += xstep) {
            char b[24];
            tui_fmt_sig(fabs(v) < xstep * 1e-9 ? 0 : v, b, sizeof b);
            int len = (int)strlen(b), c = tui_axis_pos(v, xlo, xhi, w, false) - len / 2;
            if (c < 0) c = 0;
            if (c + len > w) c = w - len;
            bool free_ = true;
            for (int k = c > 0 ? c - 1 : 0; k < c + len + 1 && k <= w; k++) free_ = free_ && !xo[k];
            if (!free_) continue;
            memset(xo + c, 1, (size_t)len);
            tui_text(s, y + ph, lw + c, len, TUI_C_DIM, b, false);
        }
        free(xo);
    }
    free(occ);
    free(px);
    free(py);
}

void tui_tradeoff_draw(tui_ui *ui, int y, int h) {
    const tui_screen *s = &ui->scr;
    int w = ui->cols;
    for (int r = 0; r < h; r++) tui_text(s, y + r, 0, w, TUI_C_TEXT, "", true);
    ui->body_y = y;
    ui->body_h = 0;
    tui_quality_sync(ui, false);
    tui_quality *q = ui->quality;
    if (!q) {
        tui_text(s, y, 0, w, TUI_C_ERROR, ui->app.status, true);
        return;
    }
    tui_qpoint pts[TUI_QPOINTS_MAX];
    int n = tui_quality_points(q, pts, TUI_QPOINTS_MAX);
    tui_list_pos *lp = &ui->list[TUI_VIEW_TRADEOFF];
    lp->n = n;
    int yy = y;
    /* legend */
    int x = 0;
    x += tui_textf(s, yy, x, w - x, TUI_C_TITLE, false, "%s vs rel RMSE of the quantized weights (log)  ",
                   q->x_bpw ? "bits per weight" : "MiB");
    tui_qpoint_kind kinds[4] = {TUI_QP_PRESET, TUI_QP_BUDGET, TUI_QP_PLAN, TUI_QP_MORE};
    const char *names[4] = {" preset  ", " budget planner  ", " plan  ", " plan + more"};
    for (int k = 0; k < 4 && x < w; k++) {
        x += tui_text(s, yy, x, w - x, marker_elem(kinds[k]), marker(s, kinds[k]), false);
        x += tui_text(s, yy, x, w - x, TUI_C_DIM, names[k], false);
    }
    yy++;
    /* split: plot, two summary lines, table */
    int rest = y + h - yy;
    int table_h = rest >= 16 ? rest * 2 / 5 : rest >= 10 ? 3 : 0;
    if (table_h > n + 1) table_h = n + 1;
    int plot_h = rest - 2 - table_h;
    int sel = table_h > 1 ? lp->selected : -1;
    if (sel >= n) sel = n - 1;
    if (plot_h >= 4) plot(ui, q, pts, n, sel, yy, plot_h);
    yy += plot_h > 0 ? plot_h : 0;
    /* the plan and what more memory buys */
    const qs_errv_point *pp = &q->plan_pt;
    char b1[32], b2[32], v1[24], v2[24];
    tui_textf(s, yy++, 0, w, TUI_C_WARN, true, "plan: %s  %.2f bpw  rel RMSE %s (%s)", tui_fmt_bytes(pp->bytes, b1, sizeof b1),
              pp->bpw, isfinite(pp->rel_rmse) ? tui_fmt_sig(pp->rel_rmse, v1, sizeof v1) : "?", state_of(pp));
    if (q->more_ok && isfinite(pp->rel_rmse) && isfinite(q->more_pt.rel_rmse)) {
        double d = pp->rel_rmse > 0 ? 100.0 * (q->more_pt.rel_rmse - pp->rel_rmse) / pp->rel_rmse : 0;
        tui_textf(s, yy++, 0, w, TUI_C_TEXT, true, "%s more would buy: rel RMSE %s at %s (%+.0f%%), the budget planner's mix "
                  "([ ] change)", tui_fmt_bytes(q->more_delta, b1, sizeof b1), tui_fmt_sig(q->more_pt.rel_rmse, v2, sizeof v2),
                  tui_fmt_bytes(q->more_pt.bytes, b2, sizeof b2), d);
    } else if (!q->frontier_ok) {
        tui_textf(s, yy++, 0, w, TUI_C_DIM, true, "budget planner: waiting for errors (%s)",
                  q->frontier_err[0] ? q->frontier_err : "measuring");
    } else {
        tui_text(s, yy++, 0, w, TUI_C_DIM, "", true);
    }
    if (table_h < 2) return;
    tui_textf(s, yy++, 0, w, TUI_C_TITLE, true, "%-16s %11s %7s %10s  %s", "point (Enter: use)", "size", "bpw", "rel RMSE", "");
    ui->body_y = yy;
    ui->body_h = table_h - 1;
    tui_list_clamp(lp, ui->body_h);
    for (int r = 0; r < ui->body_h; r++) {
        int i = tui_list_item_at(lp, r, ui->body_h);
        if (i < 0) continue;
        const tui_qpoint *t = &pts[i];
        char sz[32], v[24];
        tui_textf(s, yy + r, 0, w, i == lp->selected ? TUI_C_SELECTION : marker_elem(t->kind), true, "%s %-14s %11s %7.2f %10s  %s",
                  marker(s, t->kind), t->label, tui_fmt_bytes(t->p.bytes, sz, sizeof sz), t->p.bpw,
                  isfinite(t->p.rel_rmse) ? tui_fmt_sig(t->p.rel_rmse, v, sizeof v) : "?", state_of(&t->p));
    }
}

bool tui_tradeoff_action(tui_ui *ui, tui_action act) {
    tui_quality *q = tui_quality_get(ui);
    if (!q) return false;
    switch (act) {
    case TUI_ACT_AXIS_TOGGLE:
        q->x_bpw = !q->x_bpw;
        return true;
    case TUI_ACT_CMP_LOWER:
    case TUI_ACT_CMP_HIGHER: {
        uint64_t d = act == TUI_ACT_CMP_LOWER ? q->more_delta / 2 : q->more_delta * 2;
        if (d >= 1024 && d <= 1024 * QS_GIB) q->more_delta = d;
        q->dirty = true;
        char b[32];
        snprintf(ui->app.status, sizeof ui->app.status, "what %s more would buy", tui_fmt_bytes(q->more_delta, b, sizeof b));
        ui->app.status_error = false;
        return true;
    }
    case TUI_ACT_APPLY: {
        tui_qpoint pts[TUI_QPOINTS_MAX];
        int n = tui_quality_points(q, pts, TUI_QPOINTS_MAX);
        int i = ui->list[TUI_VIEW_TRADEOFF].selected;
        if (i < 0 || i >= n) return true;
        if (pts[i].kind == TUI_QP_PRESET) tui_quality_apply_preset(ui, pts[i].preset);
        else if (pts[i].kind == TUI_QP_PLAN) {
            snprintf(ui->app.status, sizeof ui->app.status, "that is the current plan");
            ui->app.status_error = false;
        } else {
            tui_quality_apply_budget(ui, pts[i].p.bytes);
        }
        return true;
    }
    case TUI_ACT_STOP_JOBS: tui_quality_stop(ui); return true;
    case TUI_ACT_REFINE: tui_quality_refine(ui); return true;
    default: return false;
    }
}
