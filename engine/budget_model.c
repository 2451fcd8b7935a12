/* budget_model.c — candidate tables and budgets for a model (see budget_model.h). */
#include "budget_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void qs_budget_table_opts_default(qs_budget_table_opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = QS_METRICS_SAMPLED;
    o->sample_fraction = 0.1;
    o->min_rows = QS_METRICS_DEFAULT_MIN_ROWS;
}

void qs_budget_table_free(qs_budget_table *t) {
    if (!t) return;
    free(t->items);
    free(t->cands);
    free(t->tensor);
    memset(t, 0, sizeof *t);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median over the imatrix entries of their mean importance (1 without entries). */
static double median_importance(const qs_imatrix *im) {
    if (!im || im->n == 0) return 1.0;
    double *v = malloc((size_t)im->n * sizeof *v);
    if (!v) return 1.0;
    for (int i = 0; i < im->n; i++) {
        const qs_imatrix_entry *e = &im->entries[i];
        double s = 0;
        int64_t n = e->n_per_row * e->n_mat;
        for (int64_t j = 0; j < n; j++) s += e->values[j];
        v[i] = n ? s / (double)n : 1.0;
    }
    qsort(v, (size_t)im->n, sizeof *v, cmp_double);
    double r = im->n % 2 ? v[im->n / 2] : 0.5 * (v[im->n / 2 - 1] + v[im->n / 2]);
    free(v);
    return r > 0 ? r : 1.0;
}

int qs_budget_cell_measure(const qs_model *m, int64_t ti, qs_type type, const qs_budget_table_opts *o,
                           double fill_weight, qs_budget_cand *out, qs_error *err) {
    const qs_model_tensor *mt = &m->tensors[ti];
    const gguf_tensor *t = mt->t;
    int64_t n_per_row = t->ne[0], nrows = t->n_elements / t->ne[0];
    uint64_t rb = qs_type_row_bytes(type, n_per_row);
    if (rb == 0)
        return qs_error_set(err, "%s: row of %lld values cannot hold %s blocks", mt->name,
                            (long long)n_per_row, qs_type_name(type));
    const qs_imatrix_entry *ie = o->imatrix ? qs_imatrix_find(o->imatrix, mt->name) : NULL;
    int n_mat = 1;
    if (ie) {
        if (ie->n_per_row != n_per_row)
            return qs_error_set(err, "imatrix %s has %lld values per row, the tensor %lld", mt->name,
                                (long long)ie->n_per_row, (long long)n_per_row);
        n_mat = ie->n_mat;
        if (nrows % n_mat)
            return qs_error_set(err, "imatrix %s has %d matrices, the tensor's %lld rows do not split "
                                "into them", mt->name, n_mat, (long long)nrows);
    }
    qs_metrics_opts mo;
    qs_metrics_opts_default(&mo);
    mo.mode = o->mode;
    mo.sample_fraction = o->sample_fraction > 0 ? o->sample_fraction : 0.1;
    mo.min_rows = o->min_rows;
    mo.seed = o->seed;
    mo.n_threads = o->n_threads;
    mo.cancel = o->cancel;
    mo.hist_bins = 1;
    mo.hist_range = 1.0; /* skip the histogram pre-pass: only sums are used */
    int64_t rows_mat = nrows / n_mat;
    uint64_t src_row = qs_type_row_bytes(t->type, n_per_row);
    double error = 0;
    for (int k = 0; k < n_mat; k++) {
        mo.importance = ie ? ie->values + (int64_t)k * n_per_row : NULL;
        qs_metrics r;
        int rc = qs_metrics_compute((qs_type)t->type, t->data + (uint64_t)k * (uint64_t)rows_mat * src_row,
                                    n_per_row, rows_mat, type, &mo, &r, err);
        if (rc != QS_OK) {
            if (rc == QS_ERR) qs_error_prefix(err, "%s", mt->name);
            return rc;
        }
        double s = (ie ? r.sum_we2 : r.sum_e2) * r.sum_scale;
        if (o->imatrix && !ie) s *= fill_weight;
        error += s;
    }
    out->type = type;
    out->bytes = rb * (uint64_t)nrows;
    out->error = error;
    return QS_OK;
}

int qs_budget_table_build(const qs_model *m, const qs_budget_table_opts *o_in, qs_budget_table *t,
                          qs_error *err) {
    memset(t, 0, sizeof *t);
    qs_budget_table_opts o;
    if (o_in) o = *o_in;
    else qs_budget_table_opts_default(&o);
    const qs_type *types = o.types;
    int n_types = o.n_types;
    if (!types) n_types = qs_type_ladder(&types);
    qs_plan_model pm;
    qs_plan_tensor *pt = NULL;
    if (qs_model_plan_view(m, &pm, &pt) != QS_OK) return QS_ENOMEM;
    int64_t nt = m->n_tensors;
    t->items = calloc((size_t)(nt ? nt : 1), sizeof *t->items);
    t->tensor = calloc((size_t)(nt ? nt : 1), sizeof *t->tensor);
    t->cands = calloc((size_t)(nt ? nt : 1) * (size_t)(n_types ? n_types : 1), sizeof *t->cands);
    if (!t->items || !t->tensor || !t->cands) {
        free(pt);
        qs_budget_table_free(t);
        return QS_ENOMEM;
    }
    t->weighted = o.imatrix != NULL;
    t->fill_weight = o.imatrix ? median_importance(o.imatrix) : 1.0;
    /* count the cells first, for progress */
    uint64_t total_cells = 0, done = 0;
    for (int64_t i = 0; i < nt; i++) {
        t->n_params += m->tensors[i].t->n_elements;
        if (!qs_plan_tensor_quantizable(pm.arch, &pt[i], NULL)) continue;
        for (int k = 0; k < n_types; k++)
            if (qs_plan_type_allowed(types[k]) && qs_type_can_quantize(types[k]) &&
                qs_type_row_bytes(types[k], pt[i].ne[0]) > 0)
                total_cells++;
    }
    int rc = QS_OK;
    size_t used = 0;
    for (int64_t i = 0; i < nt && rc == QS_OK; i++) {
        const qs_model_tensor *mt = &m->tensors[i];
        if (!qs_plan_tensor_quantizable(pm.arch, &pt[i], NULL)) {
            t->fixed_bytes += mt->t->nbytes;
            continue;
        }
        qs_budget_item *it = &t->items[t->n_items];
        it->name = mt->name;
        it->cand = &t->cands[used];
        it->n_cand = 0;
        if (o.imatrix && !qs_imatrix_find(o.imatrix, mt->name)) t->n_unweighted++;
        for (int k = 0; k < n_types && rc == QS_OK; k++) {
            if (!qs_plan_type_allowed(types[k]) || !qs_type_can_quantize(types[k]) ||
                qs_type_row_bytes(types[k], mt->t->ne[0]) == 0)
                continue;
            rc = qs_budget_cell_measure(m, i, types[k], &o, t->fill_weight, &t->cands[used], err);
            if (rc != QS_OK) break;
            used++;
            it->n_cand++;
            done++;
            if (o.progress && o.progress(o.progress_user, done, total_cells)) rc = QS_CANCELLED;
        }
        if (rc == QS_OK && it->n_cand == 0)
            rc = qs_error_set(err, "%s: none of the candidate types fits rows of %lld values", mt->name,
                              (long long)mt->t->ne[0]);
        t->tensor[t->n_items] = (int)i;
        t->item_params += mt->t->n_elements;
        t->n_items++;
    }
    free(pt);
    if (rc != QS_OK) qs_budget_table_free(t);
    return rc;
}

void qs_budget_table_problem(const qs_budget_table *t, uint64_t budget, qs_budget_problem *p) {
    memset(p, 0, sizeof *p);
    p->items = t->items;
    p->n_items = t->n_items;
    p->budget = budget;
    p->fixed_bytes = t->fixed_bytes;
}

int qs_budget_table_eval(const qs_budget_table *t, const int *types, uint64_t *bytes, double *error,
                         qs_error *err) {
    uint64_t b = t->fixed_bytes;
    double e = 0;
    for (int i = 0; i < t->n_items; i++) {
        int ty = types[t->tensor[i]], c;
        const qs_budget_item *it = &t->items[i];
        for (c = 0; c < it->n_cand; c++)
            if (it->cand[c].type == ty) break;
        if (c == it->n_cand)
            return qs_error_set(err, "%s: type %s is not among the measured candidates", it->name,
                                qs_type_name(ty));
        b += it->cand[c].bytes;
        e += it->cand[c].error;
    }
    *bytes = b;
    *error = e;
    return QS_OK;
}

void qs_budget_solution_types(const qs_budget_table *t, const qs_budget_solution *s, const qs_model *m,
                              int *types) {
    for (int64_t i = 0; i < m->n_tensors; i++) types[i] = m->tensors[i].t->type;
    for (int i = 0; i < t->n_items && i < s->n_items; i++)
        types[t->tensor[i]] = t->items[i].cand[s->choice[i]].type;
}

int qs_budget_estimate_total(const qs_model *m, const int *types, const qs_est_settings *s,
                             uint64_t *total, qs_error *err) {
    qs_est_model em;
    qs_est_tensor *et;
    if (qs_model_est_view(m, types, &em, &et) != QS_OK) return QS_ENOMEM;
    qs_est_result r;
    int rc = qs_estimate(&em, s, &r, err);
    free(et);
    if (rc != QS_OK) return rc;
    *total = r.total[QS_EST_HOST] + r.total[QS_EST_GPU] - r.host_reclaimable;
    return QS_OK;
}

int qs_budget_weight_budget(const qs_model *m, const qs_est_settings *s, uint64_t total_budget,
                            uint64_t *weight_budget, uint64_t *nonweight, qs_error *err) {
    uint64_t total;
    int rc = qs_budget_estimate_total(m, NULL, s, &total, err);
    if (rc != QS_OK) return rc;
    /* the stored layout's weights: tensor bytes with their padding in the file */
    uint64_t align = m->gguf->alignment ? m->gguf->alignment : 32, stored = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) stored += m->tensors[i].t->nbytes;
    uint64_t nw = total > stored ? total - stored : 0;
    uint64_t pad = (uint64_t)m->n_tensors * (align - 1);
    if (nonweight) *nonweight = nw;
    if (total_budget < nw + pad)
        return qs_error_set(err, "budget %.2f MiB: the parts that are not weights (KV cache, compute, "
                            "output, overhead) already take %.2f MiB", (double)total_budget / QS_MIB,
                            (double)nw / QS_MIB);
    *weight_budget = total_budget - nw - pad;
    return QS_OK;
}
