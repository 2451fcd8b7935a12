/* budget_model.h — the budget planner's inputs for a real model: candidate table and budgets.
 *
 * The candidate table lists, for every tensor llama-quantize would quantize
 * (qs_plan_tensor_quantizable), each candidate type whose blocks its rows can hold, with
 *   bytes = qs_type_row_bytes(type, ne[0]) x rows, and
 *   error = the tensor's total squared error at that type, from qs_metrics_compute:
 *           sum over values of e^2 (rmse^2 x n_values, extrapolated when sampled), or, with an
 *           importance matrix, sum over values of w_col x e^2 where w_col is the mean squared
 *           input activation of the column (llama-imatrix's in_sum2 / counts). That is the
 *           expected squared error the tensor adds to its outputs per token, so it is comparable
 *           across tensors. The quantizers are given the same importance, as llama-quantize
 *           does. Tensors the imatrix has no entry for (token_embd in llama.cpp's files) use a
 *           uniform weight equal to the median of the entries' mean importance.
 * Every other tensor keeps its stored type and counts as fixed bytes.
 *
 * Budgets: qs_budget_weight_budget turns "bytes of the whole memory estimate at a context"
 * (qs_estimate: weights + KV + compute + output + overhead, counted as the fit test counts them:
 * both devices, less the host bytes llama.cpp can reclaim after repacking) into bytes for the
 * tensors. The non-weight parts do not depend on the weight types (KV, output and compute
 * buffers depend on the model's shape and the settings only), so they are computed once, with
 * the stored types, and subtracted, together with the worst-case alignment padding of the
 * tensors (alignment - 1 bytes each) so that the solution's estimate never exceeds the budget
 * (the test re-runs qs_estimate on solutions to check). For a bits-per-weight budget, use
 * qs_budget_bpw_bytes(bpw, table.n_params) — over all weights, fixed tensors included.
 *
 * Cost: each (tensor, type) cell is one qs_metrics_compute; SAMPLED mode with a small fraction
 * makes the table quick (stories260K: milliseconds; 1B models: seconds), EXACT refines it.
 * Cells are independent: a UI can recompute single cells (qs_budget_cell_measure) and keep the
 * table as a cache keyed by (tensor, type, mode).
 *
 * Typical use (`quantscope plan MODEL --budget 6GiB --ctx 8192 [--imatrix F]`):
 *
 *   qs_imatrix im;                        qs_imatrix_load(path, &im, &err);      (optional)
 *   qs_budget_table_opts o;               qs_budget_table_opts_default(&o); o.imatrix = &im;
 *   qs_budget_table tab;                  qs_budget_table_build(model, &o, &tab, &err);
 *   uint64_t wb;                          qs_budget_weight_budget(model, &est_settings, 6 * QS_GIB,
 *                                                                 &wb, NULL, &err);
 *                                         (or wb = qs_budget_bpw_bytes(4.8, tab.n_params))
 *   qs_budget_problem p;                  qs_budget_table_problem(&tab, wb, &p);
 *   qs_budget_solution s;                 qs_budget_solve(&p, &s, &err);  -> s.bytes, s.error
 *   qs_plan plan;                         qs_plan_init(&plan); qs_budget_to_plan(&p, &s, &plan, &err);
 *   ... resolve / print / save the plan as any other; free: solution, table, imatrix, plan.
 *
 * To compare with a preset, resolve it (qs_plan_model.has_imatrix set when an imatrix is used,
 * as llama-quantize changes some mixes then) and qs_budget_table_eval the resolved types. */
#ifndef QS_BUDGET_MODEL_H
#define QS_BUDGET_MODEL_H

#include <stdatomic.h>

#include "imatrix.h"
#include "model.h"
#include "qs_budget.h"
#include "qs_estimate.h"
#include "qs_metrics.h"

typedef struct qs_budget_table_opts {
    const qs_type *types;     /* candidate types; NULL = qs_type_ladder() */
    int n_types;
    qs_metrics_mode mode;     /* SAMPLED (default) or EXACT */
    double sample_fraction;   /* SAMPLED: share of rows, default 0.1 */
    int64_t min_rows;         /* SAMPLED: default 16 */
    uint64_t seed;            /* rows sampled: same seed, same figures */
    int n_threads;            /* 0 = all cores */
    const qs_imatrix *imatrix;/* NULL = unweighted */
    qs_progress_fn progress;  /* units: cells (tensor x type) measured; NULL = none */
    void *progress_user;
    const atomic_int *cancel; /* NULL or a flag set non-zero to stop (QS_CANCELLED) */
} qs_budget_table_opts;

/* SAMPLED 10 % (at least 16 rows), seed 0, all cores, the ladder, no imatrix. */
void qs_budget_table_opts_default(qs_budget_table_opts *o);

typedef struct qs_budget_table {
    int n_items;
    qs_budget_item *items;  /* [n_items], model order; names borrowed from the model (owned array) */
    qs_budget_cand *cands;  /* storage of all candidates (owned) */
    int *tensor;            /* [n_items] index into model->tensors (owned) */
    int64_t n_params;       /* elements of every tensor of the model */
    int64_t item_params;    /* elements of the items */
    uint64_t fixed_bytes;   /* stored bytes of the tensors that are not items */
    bool weighted;          /* an imatrix was used */
    int n_unweighted;       /* weighted: items the imatrix has no entry for */
    double fill_weight;     /* weighted: the uniform importance used for those */
} qs_budget_table;

/* Builds the table. The model must stay open while the table is used (names are borrowed).
 * Errors: QS_CANCELLED, QS_ENOMEM, QS_ERR (a tensor no candidate fits; an imatrix entry whose
 * length differs from the tensor's rows: "imatrix blk.0.attn_q.weight has 64 values per row,
 * the tensor 256"). */
int qs_budget_table_build(const qs_model *m, const qs_budget_table_opts *o, qs_budget_table *t,
                          qs_error *err);
void qs_budget_table_free(qs_budget_table *t);

/* One cell: the candidate for tensor ti of m at type (bytes and error as above). fill_weight is
 * the uniform importance for tensors without an imatrix entry (ignored without an imatrix).
 * QS_ERR if the type cannot hold the rows. */
int qs_budget_cell_measure(const qs_model *m, int64_t ti, qs_type type, const qs_budget_table_opts *o,
                           double fill_weight, qs_budget_cand *out, qs_error *err);

/* A problem over the table: items, fixed bytes and the budget (bytes for all tensors). */
void qs_budget_table_problem(const qs_budget_table *t, uint64_t budget, qs_budget_problem *p);

/* Bytes and error of an assignment of types to the model's tensors (types[n_tensors] in model
 * order, e.g. from a qs_plan_resolution): fixed bytes + items' bytes, items' errors.
 * QS_ERR if an item's type is not one of its candidates. */
int qs_budget_table_eval(const qs_budget_table *t, const int *types, uint64_t *bytes, double *error,
                         qs_error *err);

/* The chosen type per model tensor (stored type for non-items) into types[n_tensors]. */
void qs_budget_solution_types(const qs_budget_table *t, const qs_budget_solution *s, const qs_model *m,
                              int *types);

/* The estimate's total as the fit test counts it: total[HOST] + total[GPU] - host_reclaimable. */
int qs_budget_estimate_total(const qs_model *m, const int *types, const qs_est_settings *s,
                             uint64_t *total, qs_error *err);

/* Bytes for the tensors when the whole estimate at settings s must stay within total_budget
 * (see the top of this file). *nonweight receives the parts that are not weights (may be NULL).
 * QS_ERR when the non-weight parts alone exceed the budget. */
int qs_budget_weight_budget(const qs_model *m, const qs_est_settings *s, uint64_t total_budget,
                            uint64_t *weight_budget, uint64_t *nonweight, qs_error *err);

#endif
