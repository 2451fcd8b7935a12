/* The Errors / Trade-off state and its jobs (see tui_quality.h). */
#include "tui_quality.h"
#include "tui_plot.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void status(tui_ui *ui, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void status(tui_ui *ui, bool error, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->app.status, sizeof ui->app.status, fmt, ap);
    va_end(ap);
    ui->app.status_error = error;
}

int tui_quality_planned_type(const tui_app *a, int tensor) {
    if (tensor < 0 || tensor >= a->pm.n_tensors) return -1;
    return a->res_ok ? (int)a->res.choice[tensor].type : a->pt[tensor].type;
}

/* ---- create / free ------------------------------------------------------------------------- */

tui_quality *tui_quality_get(tui_ui *ui) {
    if (ui->quality) return ui->quality;
    tui_quality *q = calloc(1, sizeof *q);
    qs_error err = {{0}};
    if (!q) {
        status(ui, true, "out of memory");
        return NULL;
    }
    if (qs_errv_table_init(&q->tab, ui->app.model, &err) != QS_OK || qs_errv_cache_init(&q->cache, 64) != QS_OK) {
        qs_errv_table_free(&q->tab);
        free(q);
        status(ui, true, "errors: %s", err.msg[0] ? err.msg : "out of memory");
        return NULL;
    }
    size_t nt = (size_t)(q->tab.n_tensors ? q->tab.n_tensors : 1);
    q->plan_types = calloc(nt, sizeof *q->plan_types);
    q->groups = calloc((size_t)q->tab.n_groups, sizeof *q->groups);
    q->items = calloc(nt, sizeof *q->items);
    if (!q->plan_types || !q->groups || !q->items) {
        ui->quality = q;
        tui_quality_free(ui);
        status(ui, true, "out of memory");
        return NULL;
    }
    for (int i = 0; i < q->tab.n_tensors; i++)
        if (q->tab.item[i]) q->items[q->n_items++] = i;
    q->layers_seen = -1;
    q->cmp_pref = -1;
    q->want = q->job_want = (tui_quality_want){-1, -1, -1};
    q->dirty = true;
    /* a few hundred MiB on a real model; an eighth of the plan, in 1-2-5 steps, on a small one */
    q->more_delta = 256 * QS_MIB;
    ui->quality = q;
    return q;
}

void tui_quality_free(tui_ui *ui) {
    tui_quality *q = ui->quality;
    if (!q) return;
    tui_jobs_cancel_key(&ui->jobs, TUI_JOB_KEY_ERROR_TABLE);
    tui_jobs_cancel_key(&ui->jobs, TUI_JOB_KEY_TENSOR_ERRORS);
    qs_errv_table_free(&q->tab);
    qs_errv_cache_free(&q->cache);
    free(q->plan_types);
    free(q->groups);
    free(q->items);
    free(q);
    ui->quality = NULL;
}

/* ---- the table job ------------------------------------------------------------------------- */

typedef struct cell_result {
    int tensor, type, mode;
    int status; /* QS_OK or QS_ERR (the cell cannot be measured) */
    double sse, ssx;
} cell_result;

typedef struct cell_batch {
    int n;
    cell_result r[256];
} cell_batch;

typedef struct table_job {
    uint64_t gen;
    const qs_model *m;
    qs_errv_worklist l;
} table_job;

typedef struct cell_progress {
    tui_job *job;
    uint64_t base, total;
    int64_t n_per_row;
} cell_progress;

static int cell_progress_fn(void *user, uint64_t rows, uint64_t total_rows) {
    (void)total_rows;
    cell_progress *p = user;
    return tui_job_progress(p->job, p->base + rows * (uint64_t)p->n_per_row, p->total);
}

/* UI thread: a batch of measured cells. Cells are facts about the model, valid whatever job
 * (generation) measured them. */
static void on_cells(void *uip, void *data) {
    tui_ui *ui = uip;
    cell_batch *b = data;
    tui_quality *q = ui->quality;
    if (q) {
        for (int i = 0; i < b->n; i++) {
            const cell_result *r = &b->r[i];
            if (r->status == QS_OK) qs_errv_table_set(&q->tab, r->tensor, r->type, (qs_metrics_mode)r->mode, r->sse, r->ssx);
            else qs_errv_table_fail(&q->tab, r->tensor, r->type);
        }
        q->dirty = true;
        q->frontier_dirty = true;
    }
    free(b);
}

static void flush(tui_job *j, cell_batch **b) {
    if (!*b || !(*b)->n) return;
    if (tui_job_post(j, on_cells, *b) == QS_OK) *b = calloc(1, sizeof **b);
    else (*b)->n = 0; /* out of memory: those cells will be asked for again */
}

static int run_table(tui_job *j, void *arg, qs_error *err) {
    table_job *x = arg;
    /* progress is per phase (sampled, then exact): values measured of the phase's values */
    uint64_t totals[2] = {0, 0}, total = 0, done = 0;
    for (int k = 0; k < x->l.n; k++)
        totals[x->l.w[k].mode] += (uint64_t)qs_errv_cell_values(x->m, x->l.w[k].tensor, (qs_metrics_mode)x->l.w[k].mode);
    cell_batch *b = calloc(1, sizeof *b);
    if (!b) {
        qs_error_set(err, "out of memory");
        return QS_ENOMEM;
    }
    int64_t last = now_ns();
    int mode = -1, rc = QS_OK;
    for (int k = 0; k < x->l.n && rc == QS_OK; k++) {
        const qs_errv_work *w = &x->l.w[k];
        if (w->mode != mode) {
            mode = w->mode;
            total = totals[mode];
            done = 0;
            tui_job_progress(j, 0, total);
            tui_job_set_label(j, mode == QS_METRICS_EXACT ? "errors: exact" : "errors: sampled");
        }
        const qs_model_tensor *mt = &x->m->tensors[w->tensor];
        cell_progress cp = {j, done, total, mt->n_per_row};
        qs_errv_opts o = {0, cell_progress_fn, &cp, tui_job_cancel_flag(j)};
        cell_result r = {w->tensor, w->type, w->mode, QS_OK, 0, 0};
        qs_error e;
        int st = qs_errv_measure_cell(x->m, w->tensor, (qs_type)w->type, (qs_metrics_mode)w->mode, &o, &r.sse, &r.ssx, &e);
        if (st == QS_CANCELLED || tui_job_cancelled(j)) rc = QS_CANCELLED;
        else if (st == QS_ENOMEM) {
            qs_error_set(err, "out of memory");
            rc = QS_ENOMEM;
        }
        else {
            r.status = st == QS_OK ? QS_OK : QS_ERR;
            if (!b) { /* a failed re-allocation in flush */
                qs_error_set(err, "out of memory");
                rc = QS_ENOMEM;
                break;
            }
            b->r[b->n++] = r;
            done += (uint64_t)qs_errv_cell_values(x->m, w->tensor, (qs_metrics_mode)w->mode);
            tui_job_progress(j, done, total);
            int64_t now = now_ns();
            if (b->n == (int)(sizeof b->r / sizeof b->r[0]) || now - last >= 100000000) {
                flush(j, &b);
                last = now;
            }
        }
    }
    flush(j, &b);
    free(b);
    return rc;
}

static void table_done(void *uip, void *arg, int st, const char *msg) {
    tui_ui *ui = uip;
    table_job *x = arg;
    tui_quality *q = ui->quality;
    if (q && x->gen == q->table_gen) {
        q->table_busy = false;
        q->frontier_dirty = true;
        q->dirty = true;
        if (st != QS_OK && st != QS_CANCELLED) {
            snprintf(q->table_err, sizeof q->table_err, "%s", msg);
            q->stopped = true; /* do not loop on a failure */
        }
    }
    qs_errv_worklist_free(&x->l);
    free(x);
}

/* The cells still to measure, most wanted first. */
static int table_worklist(const tui_quality *q, qs_errv_worklist *l) {
    if (qs_errv_worklist_init(l, &q->tab) != QS_OK) return QS_ENOMEM;
    int rc = QS_OK;
    int modes[2] = {QS_METRICS_SAMPLED, QS_METRICS_EXACT};
    for (int mi = 0; mi < 2 && rc == QS_OK; mi++) {
        qs_metrics_mode m = (qs_metrics_mode)modes[mi];
        if (q->have_plan && (!q->stopped || m == QS_METRICS_SAMPLED)) rc = qs_errv_need_types(&q->tab, q->plan_types, m, l);
        if (q->stopped) continue; /* stopped: only the current plan's sampled figures */
        for (int p = 1; p < QS_PRESET_COUNT && rc == QS_OK; p++) {
            const int *ty = qs_errv_preset_types(&q->tab, (qs_preset)p);
            if (ty) rc = qs_errv_need_types(&q->tab, ty, m, l);
        }
        if (rc == QS_OK) rc = qs_errv_need_candidates(&q->tab, m, l);
    }
    if (rc != QS_OK) qs_errv_worklist_free(l);
    return rc;
}

static void submit_table(tui_ui *ui, tui_quality *q) {
    table_job *x = calloc(1, sizeof *x);
    if (!x) return;
    if (table_worklist(q, &x->l) != QS_OK) {
        free(x);
        return;
    }
    if (x->l.n == 0) { /* everything measured: nothing to do until the plan changes */
        qs_errv_worklist_free(&x->l);
        free(x);
        tui_jobs_cancel_key(&ui->jobs, TUI_JOB_KEY_ERROR_TABLE);
        q->table_busy = false;
        q->table_idle = true;
        return;
    }
    x->gen = ++q->table_gen;
    x->m = ui->app.model;
    tui_job_desc d = {.label = "errors: sampled", .key = TUI_JOB_KEY_ERROR_TABLE, .run = run_table,
                      .done = table_done, .arg = x};
    if (!tui_jobs_submit(&ui->jobs, &d)) {
        qs_errv_worklist_free(&x->l);
        free(x);
        return;
    }
    q->table_busy = true;
}

/* ---- the tensor job ------------------------------------------------------------------------ */

typedef struct tensor_job {
    uint64_t gen;
    const qs_model *m;
    int tensor;
    int types[2];
    int n_types;
    double range;       /* 0: compute the automatic ranges first */
    bool exact;         /* also EXACT */
    bool need[2][2];    /* [type index][mode] */
} tensor_job;

typedef struct tensor_result {
    uint64_t gen;
    int tensor, type, mode; /* mode -1: a range result */
    double range;
    int status;
    char msg[256];
    qs_metrics m;
} tensor_result;

static void on_tensor_result(void *uip, void *data) {
    tui_ui *ui = uip;
    tensor_result *r = data;
    tui_quality *q = ui->quality;
    if (q) {
        if (r->status != QS_OK) {
            if (r->gen == q->tensor_gen) snprintf(q->tensor_err, sizeof q->tensor_err, "%s", r->msg);
        } else if (r->mode < 0) {
            qs_errv_cache_put_range(&q->cache, r->tensor, r->type, r->range);
        } else {
            qs_errv_cache_put(&q->cache, r->tensor, r->type, r->mode, r->range, &r->m);
            qs_errv_table_set(&q->tab, r->tensor, r->type, (qs_metrics_mode)r->mode, r->m.sum_e2 * r->m.sum_scale,
                              r->m.sum_x2 * r->m.sum_scale);
            q->dirty = true;
            q->frontier_dirty = true;
        }
    }
    free(r);
}

static int post_result(tui_job *j, const tensor_job *x, int type, int mode, double range, int st,
                       const qs_error *e, const qs_metrics *m) {
    tensor_result *r = calloc(1, sizeof *r);
    if (!r) return QS_ENOMEM;
    *r = (tensor_result){.gen = x->gen, .tensor = x->tensor, .type = type, .mode = mode, .range = range, .status = st};
    if (e) snprintf(r->msg, sizeof r->msg, "%.255s", e->msg);
    if (m) r->m = *m;
    if (tui_job_post(j, on_tensor_result, r) != QS_OK) {
        free(r);
        return QS_ENOMEM;
    }
    return QS_OK;
}

static int run_tensor(tui_job *j, void *arg, qs_error *err) {
    tensor_job *x = arg;
    qs_errv_opts o = {0, tui_job_progress, j, tui_job_cancel_flag(j)};
    qs_error e;
    double range = x->range;
    if (range <= 0) {
        tui_job_set_label(j, "tensor: range");
        for (int k = 0; k < x->n_types; k++) {
            double r;
            int st = qs_errv_auto_range(x->m, x->tensor, (qs_type)x->types[k], &o, &r, &e);
            if (st == QS_CANCELLED) return QS_CANCELLED;
            if (st != QS_OK) {
                post_result(j, x, x->types[k], -1, 0, st, &e, NULL);
                return QS_OK; /* the view shows the message */
            }
            post_result(j, x, x->types[k], -1, r, QS_OK, NULL, NULL);
            if (r > range) range = r;
        }
    }
    for (int mode = QS_METRICS_SAMPLED; mode >= QS_METRICS_EXACT; mode--) {
        if (mode == QS_METRICS_EXACT && !x->exact) break;
        tui_job_set_label(j, mode == QS_METRICS_EXACT ? "tensor: exact" : "tensor: sampled");
        for (int k = 0; k < x->n_types; k++) {
            if (!x->need[k][mode]) continue;
            qs_metrics m;
            int st = qs_errv_tensor_metrics(x->m, x->tensor, (qs_type)x->types[k], (qs_metrics_mode)mode, range, &o, &m, &e);
            if (st == QS_CANCELLED) return QS_CANCELLED;
            if (st == QS_ENOMEM) {
                qs_error_set(err, "out of memory");
                return QS_ENOMEM;
            }
            post_result(j, x, x->types[k], mode, range, st, &e, st == QS_OK ? &m : NULL);
            if (st != QS_OK) return QS_OK;
        }
    }
    return QS_OK;
}

static void tensor_done(void *uip, void *arg, int st, const char *msg) {
    tui_ui *ui = uip;
    tensor_job *x = arg;
    tui_quality *q = ui->quality;
    if (q && x->gen == q->tensor_gen) {
        q->tensor_busy = false;
        if (st != QS_OK && st != QS_CANCELLED) snprintf(q->tensor_err, sizeof q->tensor_err, "%s", msg);
    }
    free(x);
}

double tui_quality_range(tui_quality *q, const tui_quality_want *w) {
    if (w->tensor < 0 || w->type < 0) return 0;
    double ra = qs_errv_cache_range(&q->cache, w->tensor, w->type);
    double rb = w->cmp >= 0 ? qs_errv_cache_range(&q->cache, w->tensor, w->cmp) : ra;
    if (ra <= 0 || rb <= 0) return 0;
    return ra > rb ? ra : rb;
}

static bool want_eq(const tui_quality_want *a, const tui_quality_want *b) {
    return a->tensor == b->tensor && a->type == b->type && a->cmp == b->cmp;
}

static void sync_tensor(tui_ui *ui, tui_quality *q) {
    const tui_quality_want *w = &q->want;
    if (w->tensor < 0 || w->type < 0) return;
    bool want_exact = !q->stopped;
    if (want_eq(w, &q->job_want) && (q->tensor_busy || q->tensor_err[0]) && (q->job_exact || !want_exact)) return;
    tensor_job x = {.m = ui->app.model, .tensor = w->tensor, .exact = want_exact};
    x.types[x.n_types++] = w->type;
    if (w->cmp >= 0 && w->cmp != w->type) x.types[x.n_types++] = w->cmp;
    x.range = tui_quality_range(q, w);
    bool any = x.range <= 0;
    for (int k = 0; k < x.n_types; k++) {
        bool has_s = x.range > 0 && qs_errv_cache_get(&q->cache, w->tensor, x.types[k], QS_METRICS_SAMPLED, x.range);
        bool has_e = x.range > 0 && qs_errv_cache_get(&q->cache, w->tensor, x.types[k], QS_METRICS_EXACT, x.range);
        x.need[k][QS_METRICS_SAMPLED] = !has_s && !has_e;
        x.need[k][QS_METRICS_EXACT] = !has_e && want_exact;
        any = any || x.need[k][QS_METRICS_SAMPLED] || x.need[k][QS_METRICS_EXACT];
    }
    if (!want_eq(w, &q->job_want)) q->tensor_err[0] = 0;
    if (!any) {
        if (q->tensor_busy) tui_jobs_cancel_key(&ui->jobs, TUI_JOB_KEY_TENSOR_ERRORS);
        q->tensor_busy = false;
        q->job_want = *w;
        q->job_exact = want_exact;
        return;
    }
    tensor_job *h = malloc(sizeof *h);
    if (!h) return;
    *h = x;
    h->gen = ++q->tensor_gen;
    tui_job_desc d = {.label = "tensor: sampled", .key = TUI_JOB_KEY_TENSOR_ERRORS, .run = run_tensor,
                      .done = tensor_done, .arg = h};
    if (!tui_jobs_submit(&ui->jobs, &d)) {
        free(h);
        return;
    }
    q->tensor_busy = true;
    q->job_want = *w;
    q->job_exact = want_exact;
}

/* ---- selection ----------------------------------------------------------------------------- */

static bool type_fits(const tui_app *a, int tensor, int type) {
    return type >= 0 && qs_type_can_quantize(type) && qs_plan_type_allowed(type) &&
           qs_type_row_bytes(type, a->pt[tensor].ne[0]) > 0;
}

static int ladder_pos(int type) {
    const qs_type *lad;
    int n = qs_type_ladder(&lad);
    for (int i = 0; i < n; i++)
        if ((int)lad[i] == type) return i;
    /* off the ladder: the rung with the nearest bits per weight below it */
    int best = -1;
    for (int i = 0; i < n; i++)
        if (qs_type_bpw(lad[i]) <= qs_type_bpw(type)) best = i;
    return best < 0 ? 0 : best;
}

int tui_quality_compare_type(const tui_quality *q, const tui_app *a, int tensor) {
    if (q->cmp_off || tensor < 0) return -1;
    const qs_type *lad;
    int n = qs_type_ladder(&lad);
    int planned = tui_quality_planned_type(a, tensor);
    int start = q->cmp_pref >= 0 ? ladder_pos(q->cmp_pref) : ladder_pos(planned) - 1;
    if (q->cmp_pref < 0 && ladder_pos(planned) == 0 && (int)lad[0] == planned) start = 1;
    if (start < 0) start = 0;
    /* nearest fitting rung: downwards first (fewer bits is what people compare with), then up */
    for (int d = 0; d < n; d++) {
        int lo = start - d, hi = start + d;
        if (lo >= 0 && type_fits(a, tensor, lad[lo]) && (int)lad[lo] != planned) return lad[lo];
        if (hi < n && type_fits(a, tensor, lad[hi]) && (int)lad[hi] != planned) return lad[hi];
    }
    return -1;
}

void tui_quality_step_compare(tui_ui *ui, int dir) {
    tui_quality *q = tui_quality_get(ui);
    if (!q) return;
    int t = tui_quality_selected(ui);
    if (t < 0) return;
    const qs_type *lad;
    int n = qs_type_ladder(&lad);
    if (q->cmp_off) {
        q->cmp_off = false;
    } else {
        int cur = tui_quality_compare_type(q, &ui->app, t);
        int pos = cur >= 0 ? ladder_pos(cur) : ladder_pos(tui_quality_planned_type(&ui->app, t));
        int planned = tui_quality_planned_type(&ui->app, t);
        int next = -1;
        for (int p = pos + dir; p >= 0 && p < n && next < 0; p += dir)
            if (type_fits(&ui->app, t, lad[p]) && (int)lad[p] != planned) next = lad[p];
        if (next < 0) {
            status(ui, true, "no %s type to compare with for %s", dir < 0 ? "lower" : "higher", ui->app.pt[t].name);
            return;
        }
        q->cmp_pref = next;
    }
    int c = tui_quality_compare_type(q, &ui->app, t);
    status(ui, false, "compare with %s", c >= 0 ? qs_type_name(c) : "nothing");
}

int tui_quality_selected(tui_ui *ui) {
    tui_quality *q = ui->quality;
    if (!q || q->n_items == 0) return -1;
    int s = ui->list[TUI_VIEW_ERRORS].selected;
    if (s < 0) s = 0;
    if (s >= q->n_items) s = q->n_items - 1;
    return q->items[s];
}

/* The Layers view's selection, when it moved, becomes the Errors view's: a tensor row selects
 * that tensor, a group row its first listed tensor. */
static void adopt_layers_selection(tui_ui *ui, tui_quality *q) {
    const tui_app *a = &ui->app;
    int ls = ui->list[TUI_VIEW_LAYERS].selected;
    if (ls == q->layers_seen || ls < 0 || ls >= a->n_rows) return;
    q->layers_seen = ls;
    const tui_row *r = &a->rows[ls];
    int want = -1;
    for (int k = 0; k < q->n_items && want < 0; k++) {
        int i = q->items[k];
        if (r->tensor >= 0 ? i == r->tensor : q->tab.group[i] == (r->block == -1 ? 0 : r->block == -2 ? q->tab.n_layer + 1 : r->block + 1))
            want = k;
    }
    if (want >= 0) ui->list[TUI_VIEW_ERRORS].selected = want;
}

/* ---- derived figures ----------------------------------------------------------------------- */

static uint64_t nice_bytes(uint64_t b) {
    uint64_t p = 1;
    while (p * 10 <= b) p *= 10;
    uint64_t r = b / p >= 5 ? 5 * p : b / p >= 2 ? 2 * p : p;
    return r ? r : 1;
}

static void derive(tui_quality *q, bool final_frontier) {
    qs_errv_table *t = &q->tab;
    qs_errv_eval(t, q->plan_types, &q->plan_pt);
    qs_errv_groups(t, q->plan_types, q->groups);
    for (int p = 1; p < QS_PRESET_COUNT; p++) {
        const int *ty = qs_errv_preset_types(t, (qs_preset)p);
        if (ty) qs_errv_eval(t, ty, &q->presets[p]);
    }
    int64_t now = now_ns();
    if (q->frontier_dirty && (final_frontier || now - q->frontier_at_ns >= 1000000000)) {
        qs_error e;
        q->frontier_ok = qs_errv_frontier(t, TUI_QUALITY_FRONTIER, q->frontier, &e) == QS_OK;
        if (!q->frontier_ok) snprintf(q->frontier_err, sizeof q->frontier_err, "%.255s", e.msg);
        q->frontier_at_ns = now;
        q->frontier_dirty = false;
    }
    q->more_ok = false;
    if (q->frontier_ok) {
        qs_error e;
        q->more_ok = qs_errv_solve(t, q->plan_pt.bytes + q->more_delta, -1, &q->more_pt, NULL, NULL, &e) == QS_OK;
    }
    q->dirty = false;
}

/* ---- sync ---------------------------------------------------------------------------------- */

void tui_quality_sync(tui_ui *ui, bool errors_view) {
    tui_quality *q = tui_quality_get(ui);
    if (!q) return;
    tui_app *a = &ui->app;
    /* the plan */
    bool changed = !q->have_plan;
    for (int i = 0; i < q->tab.n_tensors; i++) {
        int ty = tui_quality_planned_type(a, i);
        if (q->plan_types[i] != ty) {
            q->plan_types[i] = ty;
            changed = true;
        }
    }
    if (changed) {
        if (!q->have_plan) {
            /* an eighth of the planned size as the step on models below 2 GiB */
            uint64_t b = 0;
            for (int i = 0; i < q->tab.n_tensors; i++) b += qs_type_row_bytes(q->plan_types[i], a->pt[i].ne[0]) * (uint64_t)(a->pt[i].ne[1] * a->pt[i].ne[2] * a->pt[i].ne[3]);
            if (b < 2 * QS_GIB) q->more_delta = nice_bytes(b / 8 > 1024 ? b / 8 : 1024);
        }
        q->have_plan = true;
        q->dirty = true;
    }
    /* the table job: restarted when the plan needs cells it has not measured (so they come
     * first), started when idle and something is left to measure */
    bool plan_missing = false;
    if (changed) {
        qs_errv_point p;
        qs_errv_eval(&q->tab, q->plan_types, &p);
        plan_missing = p.missing > 0 || (!p.exact && !q->stopped);
    }
    if (changed) q->table_idle = false;
    if ((!q->table_busy && !q->table_idle && !q->table_err[0]) || (q->table_busy && plan_missing)) submit_table(ui, q);
    if (q->dirty) derive(q, !q->table_busy);
    else if (q->frontier_dirty && !q->table_busy) derive(q, true);

    if (!errors_view) return;
    tui_list_pos *lp = &ui->list[TUI_VIEW_ERRORS];
    lp->n = q->n_items;
    adopt_layers_selection(ui, q);
    int t = tui_quality_selected(ui);
    tui_quality_want w = {t, t >= 0 ? tui_quality_planned_type(a, t) : -1, -1};
    if (t >= 0) w.cmp = tui_quality_compare_type(q, a, t);
    q->want = w;
    sync_tensor(ui, q);
}

void tui_quality_stop(tui_ui *ui) {
    tui_quality *q = tui_quality_get(ui);
    if (!q) return;
    q->stopped = true;
    q->table_idle = false;
    bool any = tui_jobs_cancel_key(&ui->jobs, TUI_JOB_KEY_ERROR_TABLE);
    any = tui_jobs_cancel_key(&ui->jobs, TUI_JOB_KEY_TENSOR_ERRORS) || any;
    q->table_busy = false;
    q->tensor_busy = false;
    q->job_want = (tui_quality_want){-1, -1, -1};
    status(ui, false, "%s", any ? "refining stopped (R resumes)" : "nothing to stop");
}

void tui_quality_refine(tui_ui *ui) {
    tui_quality *q = tui_quality_get(ui);
    if (!q) return;
    q->stopped = false;
    q->table_idle = false;
    q->table_err[0] = 0;
    q->tensor_err[0] = 0;
    q->job_want = (tui_quality_want){-1, -1, -1};
    tui_jobs_cancel_key(&ui->jobs, TUI_JOB_KEY_ERROR_TABLE);
    q->table_busy = false;
    status(ui, false, "refining errors in the background");
}

/* ---- applying a trade-off point ------------------------------------------------------------ */

/* A copy of the plan with nothing deciding tensor types: no preset, rules, overrides, keep knob. */
static int bare_copy(const qs_plan *src, qs_plan *dst) {
    qs_plan_init(dst);
    if (qs_plan_copy(dst, src) != QS_OK) return QS_ENOMEM;
    while (dst->n_rules) qs_plan_remove_rule(dst, dst->n_rules - 1);
    while (dst->n_layers) qs_plan_clear_layer(dst, dst->layers[dst->n_layers - 1].block);
    while (dst->n_tensors) {
        char name[256];
        snprintf(name, sizeof name, "%s", dst->tensors[dst->n_tensors - 1].name);
        if (qs_plan_clear_tensor(dst, name) != QS_OK) break;
    }
    dst->keep_first = dst->keep_last = 0;
    qs_plan_set_preset(dst, QS_PRESET_NONE);
    return QS_OK;
}

static void replace_plan(tui_ui *ui, qs_plan *np) {
    qs_plan_free(&ui->app.plan);
    ui->app.plan = *np;
    tui_app_update(&ui->app);
}

int tui_quality_apply_preset(tui_ui *ui, qs_preset p) {
    qs_plan np;
    if (bare_copy(&ui->app.plan, &np) != QS_OK) {
        qs_plan_free(&np);
        status(ui, true, "out of memory");
        return QS_ENOMEM;
    }
    qs_plan_set_preset(&np, p);
    replace_plan(ui, &np);
    if (!ui->app.res_ok) status(ui, true, "%s", ui->app.res_err.msg);
    else status(ui, false, "plan: preset %s (rules and overrides removed)", qs_preset_name(p));
    return ui->app.res_ok ? QS_OK : QS_ERR;
}

int tui_quality_apply_budget(tui_ui *ui, uint64_t budget) {
    tui_quality *q = tui_quality_get(ui);
    if (!q) return QS_ERR;
    qs_plan np;
    qs_error e;
    if (bare_copy(&ui->app.plan, &np) != QS_OK) {
        qs_plan_free(&np);
        status(ui, true, "out of memory");
        return QS_ENOMEM;
    }
    qs_errv_point pt;
    int rc = qs_errv_solve(&q->tab, budget, -1, &pt, NULL, &np, &e);
    if (rc != QS_OK) {
        qs_plan_free(&np);
        status(ui, true, "budget planner: %s", e.msg);
        return rc;
    }
    replace_plan(ui, &np);
    char b1[32], b2[32], v[24];
    status(ui, false, "plan: the budget planner's mix within %s (%s, rel RMSE %s)", tui_fmt_bytes(budget, b1, sizeof b1),
           tui_fmt_bytes(pt.bytes, b2, sizeof b2), tui_fmt_sig(pt.rel_rmse, v, sizeof v));
    return QS_OK;
}

/* ---- trade-off points ---------------------------------------------------------------------- */

static int cmp_points(const void *a, const void *b) {
    const tui_qpoint *x = a, *y = b;
    if (x->p.bytes != y->p.bytes) return x->p.bytes < y->p.bytes ? -1 : 1;
    if (x->kind != y->kind) return (int)x->kind - (int)y->kind;
    return (int)x->preset - (int)y->preset;
}

int tui_quality_points(const tui_quality *q, tui_qpoint *out, int max) {
    int n = 0;
    for (int p = 1; p < QS_PRESET_COUNT && n < max; p++) {
        if (!qs_errv_preset_types(&q->tab, (qs_preset)p)) continue;
        tui_qpoint *o = &out[n++];
        *o = (tui_qpoint){.kind = TUI_QP_PRESET, .preset = (qs_preset)p, .p = q->presets[p]};
        snprintf(o->label, sizeof o->label, "%s", qs_preset_name((qs_preset)p));
    }
    if (q->frontier_ok)
        for (int k = 0; k < TUI_QUALITY_FRONTIER && n < max; k++) {
            tui_qpoint *o = &out[n++];
            *o = (tui_qpoint){.kind = TUI_QP_BUDGET, .p = q->frontier[k]};
            snprintf(o->label, sizeof o->label, "budget");
        }
    if (n < max && q->have_plan) {
        tui_qpoint *o = &out[n++];
        *o = (tui_qpoint){.kind = TUI_QP_PLAN, .p = q->plan_pt};
        snprintf(o->label, sizeof o->label, "plan");
    }
    if (n < max && q->more_ok) {
        tui_qpoint *o = &out[n++];
        char b[32];
        *o = (tui_qpoint){.kind = TUI_QP_MORE, .p = q->more_pt};
        snprintf(o->label, sizeof o->label, "plan +%s", tui_fmt_bytes(q->more_delta, b, sizeof b));
    }
    qsort(out, (size_t)n, sizeof *out, cmp_points);
    return n;
}

/* ---- editing the selected tensor's type ---------------------------------------------------- */

int tui_quality_step_type(tui_ui *ui, int dir) {
    tui_quality *q = tui_quality_get(ui);
    int t = q ? tui_quality_selected(ui) : -1;
    if (t < 0) return QS_ERR;
    tui_app *a = &ui->app;
    const qs_type *lad;
    int n = qs_type_ladder(&lad);
    int cur = tui_quality_planned_type(a, t), next = -1;
    for (int p = ladder_pos(cur) + dir; p >= 0 && p < n && next < 0; p += dir)
        if (type_fits(a, t, lad[p]) && (int)lad[p] != cur && (dir > 0 ? qs_type_bpw(lad[p]) > qs_type_bpw(cur)
                                                                      : qs_type_bpw(lad[p]) < qs_type_bpw(cur)))
            next = lad[p];
    if (next < 0) {
        status(ui, true, "%s: no type with %s bits than %s fits its rows", a->pt[t].name, dir > 0 ? "more" : "fewer",
               qs_type_name(cur));
        return QS_ERR;
    }
    qs_error e;
    if (qs_plan_set_tensor(&a->plan, a->pt[t].name, (qs_type)next, &e) != QS_OK) {
        status(ui, true, "%s: %s", a->pt[t].name, e.msg);
        return QS_ERR;
    }
    tui_app_update(a);
    status(ui, false, "%s: %s -> %s", a->pt[t].name, qs_type_name(cur), qs_type_name(tui_quality_planned_type(a, t)));
    return QS_OK;
}
