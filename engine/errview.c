/* errview.c — per-tensor errors, the (tensor, type) table, plan / block / preset / budget points
 * and the metrics cache (see errview.h). */
#include "errview.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

/* ---- one tensor ---------------------------------------------------------------------------- */

void qs_errv_metrics_opts(qs_metrics_mode mode, double hist_range, const qs_errv_opts *o,
                          qs_metrics_opts *mo) {
    qs_metrics_opts_default(mo);
    mo->mode = mode;
    if (mode == QS_METRICS_SAMPLED) {
        mo->sample_fraction = QS_ERRV_SAMPLE_FRACTION;
        mo->min_rows = QS_ERRV_SAMPLE_MIN_ROWS;
    }
    mo->seed = QS_ERRV_SEED;
    mo->hist_bins = QS_ERRV_HIST_BINS;
    mo->hist_range = hist_range > 0 ? hist_range : 0;
    if (o) {
        mo->n_threads = o->n_threads;
        mo->progress = o->progress;
        mo->progress_user = o->progress_user;
        mo->cancel = o->cancel;
    }
}

static int check_tensor(const qs_model *m, int64_t ti, qs_error *err) {
    if (!m || ti < 0 || ti >= m->n_tensors)
        return qs_error_set(err, "tensor %lld: no such tensor", (long long)ti);
    return QS_OK;
}

int qs_errv_tensor_metrics(const qs_model *m, int64_t ti, qs_type type, qs_metrics_mode mode,
                           double hist_range, const qs_errv_opts *o, qs_metrics *out, qs_error *err) {
    if (check_tensor(m, ti, err) != QS_OK) return QS_ERR;
    const qs_model_tensor *mt = &m->tensors[ti];
    qs_metrics_opts mo;
    qs_errv_metrics_opts(mode, hist_range, o, &mo);
    int rc = qs_metrics_compute((qs_type)mt->t->type, mt->t->data, mt->n_per_row, mt->n_rows, type, &mo,
                                out, err);
    if (rc == QS_ERR) qs_error_prefix(err, "%s", mt->name);
    return rc;
}

int qs_errv_auto_range(const qs_model *m, int64_t ti, qs_type type, const qs_errv_opts *o,
                       double *range, qs_error *err) {
    if (check_tensor(m, ti, err) != QS_OK) return QS_ERR;
    const qs_model_tensor *mt = &m->tensors[ti];
    qs_metrics_opts mo;
    qs_errv_metrics_opts(QS_METRICS_EXACT, 0, o, &mo);
    int rc = qs_metrics_auto_range((qs_type)mt->t->type, mt->t->data, mt->n_per_row, mt->n_rows, type,
                                   &mo, range, err);
    if (rc == QS_ERR) qs_error_prefix(err, "%s", mt->name);
    return rc;
}

/* ---- the table ----------------------------------------------------------------------------- */

int qs_errv_table_init(qs_errv_table *t, const qs_model *m, qs_error *err) {
    memset(t, 0, sizeof *t);
    t->m = m;
    t->n_tensors = (int)m->n_tensors;
    t->n_layer = m->hp.n_layer > 0 ? (int)m->hp.n_layer : 0;
    t->n_groups = t->n_layer + 2;
    size_t nt = (size_t)(t->n_tensors ? t->n_tensors : 1);
    qs_plan_model pm;
    qs_plan_tensor *pt = NULL;
    t->item = calloc(nt, sizeof *t->item);
    t->group = calloc(nt, sizeof *t->group);
    t->cells = calloc(nt * QS_TYPE_COUNT, sizeof *t->cells);
    t->preset_types = calloc(nt * QS_PRESET_COUNT, sizeof *t->preset_types);
    if (!t->item || !t->group || !t->cells || !t->preset_types || qs_model_plan_view(m, &pm, &pt) != QS_OK) {
        qs_errv_table_free(t);
        qs_error_set(err, "out of memory");
        return QS_ENOMEM;
    }
    for (int i = 0; i < t->n_tensors; i++) {
        const qs_model_tensor *mt = &m->tensors[i];
        t->item[i] = qs_plan_tensor_quantizable(pm.arch, &pt[i], NULL);
        t->n_items += t->item[i];
        t->n_params += mt->t->n_elements;
        if (mt->block >= 0 && mt->block < t->n_layer) t->group[i] = 1 + mt->block;
        else if (!strncmp(mt->name, "output", 6)) t->group[i] = t->n_layer + 1;
        else t->group[i] = 0;
    }
    free(pt);
    for (int p = 1; p < QS_PRESET_COUNT; p++) {
        qs_plan plan;
        qs_plan_init(&plan);
        qs_plan_set_preset(&plan, (qs_preset)p);
        qs_planned pl;
        qs_error e;
        int rc = qs_planned_init(&pl, m, &plan, &e);
        qs_plan_free(&plan);
        if (rc == QS_ENOMEM) {
            qs_errv_table_free(t);
            qs_error_set(err, "out of memory");
            return QS_ENOMEM;
        }
        if (rc != QS_OK) continue;
        int *row = t->preset_types + (size_t)p * nt;
        for (int i = 0; i < t->n_tensors; i++) row[i] = pl.res.choice[i].type;
        t->preset_ok[p] = true;
        qs_planned_free(&pl);
    }
    return QS_OK;
}

void qs_errv_table_free(qs_errv_table *t) {
    if (!t) return;
    free(t->item);
    free(t->group);
    free(t->cells);
    free(t->preset_types);
    memset(t, 0, sizeof *t);
}

qs_errv_cell *qs_errv_cell_at(const qs_errv_table *t, int64_t ti, int type) {
    if (ti < 0 || ti >= t->n_tensors || type < 0 || type >= QS_TYPE_COUNT) return NULL;
    return &t->cells[(size_t)ti * QS_TYPE_COUNT + (size_t)type];
}

void qs_errv_table_set(qs_errv_table *t, int64_t ti, int type, qs_metrics_mode mode, double sse,
                       double ssx) {
    qs_errv_cell *c = qs_errv_cell_at(t, ti, type);
    if (!c || (mode != QS_METRICS_EXACT && mode != QS_METRICS_SAMPLED)) return;
    c->sse[mode] = sse;
    c->ssx[mode] = ssx;
    c->known |= (unsigned char)(1u << mode);
}

void qs_errv_table_fail(qs_errv_table *t, int64_t ti, int type) {
    qs_errv_cell *c = qs_errv_cell_at(t, ti, type);
    if (c) c->failed = 1;
}

bool qs_errv_cell_best(const qs_errv_table *t, int64_t ti, int type, double *sse, double *ssx,
                       bool *exact) {
    const qs_errv_cell *c = qs_errv_cell_at(t, ti, type);
    if (!c || c->failed || !c->known) return false;
    int mode = c->known & (1u << QS_METRICS_EXACT) ? QS_METRICS_EXACT : QS_METRICS_SAMPLED;
    if (sse) *sse = c->sse[mode];
    if (ssx) *ssx = c->ssx[mode];
    if (exact) *exact = mode == QS_METRICS_EXACT;
    return true;
}

bool qs_errv_is_candidate(const qs_errv_table *t, int64_t ti, int type) {
    if (ti < 0 || ti >= t->n_tensors || !t->item[ti]) return false;
    const qs_type *lad;
    int n = qs_type_ladder(&lad), k;
    for (k = 0; k < n; k++)
        if ((int)lad[k] == type) break;
    return k < n && qs_plan_type_allowed(type) && qs_type_can_quantize(type) &&
           qs_type_row_bytes(type, t->m->tensors[ti].t->ne[0]) > 0;
}

int qs_errv_measure_cell(const qs_model *m, int64_t ti, qs_type type, qs_metrics_mode mode,
                         const qs_errv_opts *o, double *sse, double *ssx, qs_error *err) {
    if (check_tensor(m, ti, err) != QS_OK) return QS_ERR;
    const qs_model_tensor *mt = &m->tensors[ti];
    qs_metrics_opts mo;
    qs_errv_metrics_opts(mode, 0, o, &mo);
    mo.hist_bins = 1;
    mo.hist_range = 1.0; /* no histogram pre-pass: only the sums are used */
    qs_metrics r;
    int rc = qs_metrics_compute((qs_type)mt->t->type, mt->t->data, mt->n_per_row, mt->n_rows, type, &mo, &r,
                                err);
    if (rc != QS_OK) {
        if (rc == QS_ERR) qs_error_prefix(err, "%s", mt->name);
        return rc;
    }
    *sse = r.sum_e2 * r.sum_scale;
    *ssx = r.sum_x2 * r.sum_scale;
    return QS_OK;
}

int64_t qs_errv_cell_values(const qs_model *m, int64_t ti, qs_metrics_mode mode) {
    if (!m || ti < 0 || ti >= m->n_tensors) return 0;
    const qs_model_tensor *mt = &m->tensors[ti];
    int64_t rows = mode == QS_METRICS_EXACT
                       ? mt->n_rows
                       : qs_metrics_sample_count(mt->n_rows, QS_ERRV_SAMPLE_FRACTION, QS_ERRV_SAMPLE_MIN_ROWS);
    return rows * mt->n_per_row;
}

/* ---- work lists ---------------------------------------------------------------------------- */

int qs_errv_worklist_init(qs_errv_worklist *l, const qs_errv_table *t) {
    memset(l, 0, sizeof *l);
    l->n_tensors = t->n_tensors;
    l->seen = calloc((size_t)(t->n_tensors ? t->n_tensors : 1) * QS_TYPE_COUNT * 2, 1);
    return l->seen ? QS_OK : QS_ENOMEM;
}

void qs_errv_worklist_free(qs_errv_worklist *l) {
    if (!l) return;
    free(l->w);
    free(l->seen);
    memset(l, 0, sizeof *l);
}

static int need_cell(const qs_errv_table *t, int ti, int type, qs_metrics_mode mode, qs_errv_worklist *l) {
    const qs_errv_cell *c = qs_errv_cell_at(t, ti, type);
    if (!c || c->failed || (c->known & (1u << mode))) return QS_OK;
    size_t k = ((size_t)ti * QS_TYPE_COUNT + (size_t)type) * 2 + (size_t)mode;
    if (l->seen[k]) return QS_OK;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        qs_errv_work *w = realloc(l->w, (size_t)cap * sizeof *w);
        if (!w) return QS_ENOMEM;
        l->w = w;
        l->cap = cap;
    }
    l->seen[k] = 1;
    l->w[l->n++] = (qs_errv_work){ti, type, (int)mode};
    return QS_OK;
}

int qs_errv_need_types(const qs_errv_table *t, const int *types, qs_metrics_mode mode,
                       qs_errv_worklist *l) {
    for (int i = 0; i < t->n_tensors; i++)
        if (t->item[i] && need_cell(t, i, types[i], mode, l) != QS_OK) return QS_ENOMEM;
    return QS_OK;
}

int qs_errv_need_candidates(const qs_errv_table *t, qs_metrics_mode mode, qs_errv_worklist *l) {
    const qs_type *lad;
    int n = qs_type_ladder(&lad);
    for (int i = 0; i < t->n_tensors; i++)
        for (int k = 0; k < n; k++)
            if (qs_errv_is_candidate(t, i, lad[k]) && need_cell(t, i, lad[k], mode, l) != QS_OK)
                return QS_ENOMEM;
    return QS_OK;
}

/* ---- sums ---------------------------------------------------------------------------------- */

static uint64_t tensor_bytes(const qs_model *m, int i, int type) {
    const gguf_tensor *g = m->tensors[i].t;
    return g->ne[0] ? qs_type_row_bytes(type, g->ne[0]) * (uint64_t)(g->n_elements / g->ne[0]) : 0;
}

static void point_finish(qs_errv_point *p, int64_t n_params) {
    p->bpw = n_params > 0 ? (double)p->bytes * 8.0 / (double)n_params : 0;
    if (p->missing || p->failed) p->rel_rmse = NAN;
    else p->rel_rmse = p->ssx > 0 ? sqrt(p->sse / p->ssx) : 0;
    p->exact = p->exact && !p->missing && !p->failed;
}

static void point_add(const qs_errv_table *t, int i, int type, qs_errv_point *p) {
    p->bytes += tensor_bytes(t->m, i, type);
    if (!t->item[i]) return;
    const qs_errv_cell *c = qs_errv_cell_at(t, i, type);
    double sse, ssx;
    bool exact;
    if (c && c->failed) p->failed++;
    else if (!qs_errv_cell_best(t, i, type, &sse, &ssx, &exact)) p->missing++;
    else {
        p->sse += sse;
        p->ssx += ssx;
        p->exact = p->exact && exact;
    }
}

void qs_errv_eval(const qs_errv_table *t, const int *types, qs_errv_point *out) {
    memset(out, 0, sizeof *out);
    out->exact = true;
    for (int i = 0; i < t->n_tensors; i++) point_add(t, i, types[i], out);
    point_finish(out, t->n_params);
}

void qs_errv_groups(const qs_errv_table *t, const int *types, qs_errv_point *out) {
    int64_t *params = calloc((size_t)t->n_groups, sizeof *params);
    for (int g = 0; g < t->n_groups; g++) {
        memset(&out[g], 0, sizeof out[g]);
        out[g].exact = true;
    }
    for (int i = 0; i < t->n_tensors; i++) {
        point_add(t, i, types[i], &out[t->group[i]]);
        if (params) params[t->group[i]] += t->m->tensors[i].t->n_elements;
    }
    for (int g = 0; g < t->n_groups; g++) point_finish(&out[g], params ? params[g] : 0);
    free(params);
}

const char *qs_errv_group_name(const qs_errv_table *t, int g, char *buf, size_t n) {
    if (g == 0) snprintf(buf, n, "token_embd");
    else if (g == t->n_layer + 1) snprintf(buf, n, "output");
    else snprintf(buf, n, "blk.%d", g - 1);
    return buf;
}

const int *qs_errv_preset_types(const qs_errv_table *t, qs_preset p) {
    if ((int)p <= 0 || p >= QS_PRESET_COUNT || !t->preset_ok[p]) return NULL;
    return t->preset_types + (size_t)p * (size_t)(t->n_tensors ? t->n_tensors : 1);
}

/* ---- the budget planner over the table ----------------------------------------------------- */

typedef struct problem {
    qs_budget_item *items;
    qs_budget_cand *cands;
    int *tensor; /* [n_items] */
    int n_items;
    uint64_t fixed;
} problem;

static void problem_free(problem *p) {
    free(p->items);
    free(p->cands);
    free(p->tensor);
}

static int problem_build(const qs_errv_table *t, problem *p, qs_error *err) {
    memset(p, 0, sizeof *p);
    const qs_type *lad;
    int nl = qs_type_ladder(&lad);
    size_t ni = (size_t)(t->n_items ? t->n_items : 1);
    p->items = calloc(ni, sizeof *p->items);
    p->tensor = calloc(ni, sizeof *p->tensor);
    p->cands = calloc(ni * (size_t)nl, sizeof *p->cands);
    if (!p->items || !p->tensor || !p->cands) {
        problem_free(p);
        qs_error_set(err, "out of memory");
        return QS_ENOMEM;
    }
    int missing = 0, used = 0;
    for (int i = 0; i < t->n_tensors; i++) {
        if (!t->item[i]) {
            p->fixed += t->m->tensors[i].t->nbytes;
            continue;
        }
        qs_budget_item *it = &p->items[p->n_items];
        it->name = t->m->tensors[i].name;
        it->cand = &p->cands[used];
        for (int k = 0; k < nl; k++) {
            if (!qs_errv_is_candidate(t, i, lad[k])) continue;
            double sse;
            const qs_errv_cell *c = qs_errv_cell_at(t, i, lad[k]);
            if (c->failed) continue;
            if (!qs_errv_cell_best(t, i, lad[k], &sse, NULL, NULL)) {
                missing++;
                continue;
            }
            p->cands[used++] = (qs_budget_cand){(int)lad[k], tensor_bytes(t->m, i, lad[k]), sse};
            it->n_cand++;
        }
        if (it->n_cand == 0 && !missing) {
            problem_free(p);
            return qs_error_set(err, "%s: no candidate type can be measured", it->name);
        }
        p->tensor[p->n_items++] = i;
    }
    if (missing) {
        problem_free(p);
        return qs_error_set(err, "%d error%s not measured yet", missing, missing == 1 ? "" : "s");
    }
    return QS_OK;
}

int qs_errv_solve(const qs_errv_table *t, uint64_t budget, int dp_states, qs_errv_point *out,
                  int *types, qs_plan *plan, qs_error *err) {
    problem pb;
    int rc = problem_build(t, &pb, err);
    if (rc != QS_OK) return rc;
    qs_budget_problem bp = {pb.items, pb.n_items, budget, pb.fixed, dp_states};
    qs_budget_solution s;
    rc = qs_budget_solve(&bp, &s, err);
    if (rc == QS_OK) {
        int *ty = types ? types : malloc((size_t)(t->n_tensors ? t->n_tensors : 1) * sizeof *ty);
        if (!ty) rc = QS_ENOMEM;
        else {
            for (int i = 0; i < t->n_tensors; i++) ty[i] = t->m->tensors[i].t->type;
            for (int k = 0; k < pb.n_items; k++) ty[pb.tensor[k]] = pb.items[k].cand[s.choice[k]].type;
            if (out) qs_errv_eval(t, ty, out);
            if (!types) free(ty);
        }
        if (rc == QS_OK && plan) rc = qs_budget_to_plan(&bp, &s, plan, err);
        qs_budget_solution_free(&s);
    }
    problem_free(&pb);
    if (rc == QS_ENOMEM) qs_error_set(err, "out of memory");
    return rc;
}

int qs_errv_size_range(const qs_errv_table *t, uint64_t *min_bytes, uint64_t *full_bytes,
                       qs_error *err) {
    problem pb;
    int rc = problem_build(t, &pb, err);
    if (rc != QS_OK) return rc;
    uint64_t lo = pb.fixed, hi = pb.fixed;
    for (int k = 0; k < pb.n_items; k++) {
        const qs_budget_item *it = &pb.items[k];
        int cheap = 0, best = 0;
        for (int c = 1; c < it->n_cand; c++) {
            if (it->cand[c].bytes < it->cand[cheap].bytes) cheap = c;
            if (it->cand[c].error < it->cand[best].error ||
                (it->cand[c].error == it->cand[best].error && it->cand[c].bytes < it->cand[best].bytes))
                best = c;
        }
        lo += it->cand[cheap].bytes;
        hi += it->cand[best].bytes;
    }
    problem_free(&pb);
    *min_bytes = lo;
    *full_bytes = hi;
    return QS_OK;
}

int qs_errv_frontier(const qs_errv_table *t, int n, qs_errv_point *out, qs_error *err) {
    if (n < 2) return qs_error_set(err, "a frontier needs at least 2 points");
    uint64_t lo, hi;
    int rc = qs_errv_size_range(t, &lo, &hi, err);
    if (rc != QS_OK) return rc;
    for (int k = 0; k < n && rc == QS_OK; k++) {
        uint64_t b = lo + (uint64_t)((long double)(hi - lo) * k / (n - 1));
        rc = qs_errv_solve(t, b, -1, &out[k], NULL, NULL, err);
    }
    return rc;
}

/* ---- the metrics cache --------------------------------------------------------------------- */

int qs_errv_cache_init(qs_errv_cache *c, int cap) {
    memset(c, 0, sizeof *c);
    if (cap < 2) cap = 2;
    c->e = calloc((size_t)cap, sizeof *c->e);
    c->rcap = 4 * cap;
    c->r = calloc((size_t)c->rcap, sizeof *c->r);
    if (!c->e || !c->r) {
        qs_errv_cache_free(c);
        return QS_ENOMEM;
    }
    c->cap = cap;
    return QS_OK;
}

void qs_errv_cache_free(qs_errv_cache *c) {
    if (!c) return;
    free(c->e);
    free(c->r);
    memset(c, 0, sizeof *c);
}

static qs_errv_cache_entry *cache_find(qs_errv_cache *c, int tensor, int type, int mode, double range) {
    for (int i = 0; i < c->n; i++) {
        qs_errv_cache_entry *e = &c->e[i];
        if (e->tensor == tensor && e->type == type && e->mode == mode && e->range == range) return e;
    }
    return NULL;
}

const qs_metrics *qs_errv_cache_get(qs_errv_cache *c, int tensor, int type, int mode, double range) {
    qs_errv_cache_entry *e = cache_find(c, tensor, type, mode, range);
    if (!e) return NULL;
    e->used = ++c->clock;
    return &e->m;
}

const qs_metrics *qs_errv_cache_best(qs_errv_cache *c, int tensor, int type, double range,
                                     bool *exact) {
    const qs_metrics *m = qs_errv_cache_get(c, tensor, type, QS_METRICS_EXACT, range);
    if (m) {
        if (exact) *exact = true;
        return m;
    }
    m = qs_errv_cache_get(c, tensor, type, QS_METRICS_SAMPLED, range);
    if (exact) *exact = false;
    return m;
}

void qs_errv_cache_put(qs_errv_cache *c, int tensor, int type, int mode, double range,
                       const qs_metrics *m) {
    if (!c->cap) return;
    qs_errv_cache_entry *e = cache_find(c, tensor, type, mode, range);
    if (!e) {
        if (c->n < c->cap) e = &c->e[c->n++];
        else {
            e = &c->e[0];
            for (int i = 1; i < c->n; i++)
                if (c->e[i].used < e->used) e = &c->e[i];
        }
    }
    e->tensor = tensor;
    e->type = type;
    e->mode = mode;
    e->range = range;
    e->m = *m;
    e->used = ++c->clock;
}

double qs_errv_cache_range(const qs_errv_cache *c, int tensor, int type) {
    for (int i = 0; i < c->rn; i++)
        if (c->r[i].tensor == tensor && c->r[i].type == type) return c->r[i].range;
    return 0;
}

void qs_errv_cache_put_range(qs_errv_cache *c, int tensor, int type, double range) {
    if (!c->rcap) return;
    for (int i = 0; i < c->rn; i++)
        if (c->r[i].tensor == tensor && c->r[i].type == type) {
            c->r[i].range = range;
            return;
        }
    int slot = c->rn < c->rcap ? c->rn++ : c->rnext;
    if (c->rn == c->rcap) c->rnext = (slot + 1) % c->rcap;
    c->r[slot] = (qs_errv_range_entry){tensor, type, range};
}
