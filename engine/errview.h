/* errview.h — the figures behind the explorer's Errors and Trade-off views: the error a type
 * adds to one tensor (metrics and histogram), the error of a whole plan per block, and
 * (size, error) points for every preset, for the budget planner's best plans and for any plan.
 *
 * THE MEASURE. Everything here that adds tensors up uses one measure, the budget planner's
 * (engine/budget_model.h, no importance matrix): the squared error of tensor t at type T,
 *
 *     sse(t, T) = sum over t's values of (q - x)^2      (x as stored, q = x quantized to T and
 *                                                        dequantized; extrapolated when sampled)
 *
 * reported relative to the weights as
 *
 *     rel_rmse(S) = sqrt( sum_{t in S} sse(t, T_t) / sum_{t in S} ssx(t) ),  ssx(t) = sum of x^2
 *
 * over the quantizable tensors S of a block (block bars) or of the whole model (a plan's point).
 * This is qs_metrics_combine's rel_rmse over those tensors (the "total" of `quantscope errors`
 * when every tensor has the same type), 1 / sqrt(SNR), and — since the denominator does not
 * depend on the plan — a monotone function of the budget planner's objective, so the planner's
 * plans are the best possible under it too. Tensors llama.cpp never quantizes (norms, biases:
 * qs_plan_tensor_quantizable) keep their stored type, add no error and are left out of both
 * sums. Sizes are tensor bytes (qs_type_row_bytes x rows, no file padding), bits per weight
 * are bytes x 8 / all parameters.
 *
 * EXACTNESS. A cell (tensor, type) is measured SAMPLED (qs_metrics SAMPLED: 10 % of the rows, at
 * least 16, seed 0 — the budget planner's defaults, so sampled figures equal `quantscope plan
 * --budget`'s) or EXACT (every row). Sums use a cell's exact value when known, else its sampled
 * one, and report whether every cell they used was exact.
 *
 * THREADS. The measuring functions (qs_errv_tensor_metrics, qs_errv_measure_cell, ...) only
 * read the model: call them from any thread. A table or cache is plain data: one thread at a
 * time (the explorer keeps them on its UI thread and measures on workers).
 * Owned by engine/. */
#ifndef QS_ERRVIEW_H
#define QS_ERRVIEW_H

#include <stdatomic.h>

#include "model.h"
#include "qs_budget.h"
#include "qs_metrics.h"
#include "qs_plan.h"

#define QS_ERRV_SAMPLE_FRACTION 0.1 /* SAMPLED: share of rows (budget_model.h's default) */
#define QS_ERRV_SAMPLE_MIN_ROWS QS_METRICS_DEFAULT_MIN_ROWS
#define QS_ERRV_SEED 0
#define QS_ERRV_HIST_BINS QS_METRICS_DEFAULT_BINS

typedef struct qs_errv_opts {
    int n_threads;            /* 0 = all cores */
    qs_progress_fn progress;  /* units: rows measured (qs_metrics_compute's); NULL = none */
    void *progress_user;
    const atomic_int *cancel; /* NULL or a flag set non-zero to stop (QS_CANCELLED) */
} qs_errv_opts;

/* ---------------------------------------------------------------------------------------------
 * One tensor: metrics and histogram (the Errors view).
 * ------------------------------------------------------------------------------------------- */

/* The qs_metrics_opts the views use for mode (fraction, min rows, seed as above; 64 bins;
 * histogram range `hist_range`, 0 = automatic), with o's threads / progress / cancel. */
void qs_errv_metrics_opts(qs_metrics_mode mode, double hist_range, const qs_errv_opts *o,
                          qs_metrics_opts *mo);

/* qs_metrics_compute on tensor ti of m (its stored data) at type with those options. The figures
 * are exactly `quantscope errors MODEL --type T` (EXACT; with --sample 0.1 for SAMPLED) for that
 * tensor; the histogram range does not change them. Errors as qs_metrics_compute's, prefixed
 * with the tensor name. */
int qs_errv_tensor_metrics(const qs_model *m, int64_t ti, qs_type type, qs_metrics_mode mode,
                           double hist_range, const qs_errv_opts *o, qs_metrics *out, qs_error *err);

/* The histogram range qs_metrics_compute chooses automatically for tensor ti at type
 * (qs_metrics_auto_range; the same in both modes). */
int qs_errv_auto_range(const qs_model *m, int64_t ti, qs_type type, const qs_errv_opts *o,
                       double *range, qs_error *err);

/* ---------------------------------------------------------------------------------------------
 * The table of cells (tensor, type) -> sse, ssx in each mode.
 * ------------------------------------------------------------------------------------------- */

typedef struct qs_errv_cell {
    double sse[2];          /* [mode] (QS_METRICS_EXACT = 0, QS_METRICS_SAMPLED = 1) */
    double ssx[2];          /* [mode] */
    unsigned char known;    /* bit (1 << mode): that mode's figures are measured */
    unsigned char failed;   /* cannot be measured (type cannot hold the rows / cannot be produced,
                               stored type unreadable) */
} qs_errv_cell;

typedef struct qs_errv_table {
    const qs_model *m;        /* borrowed: must stay open */
    int n_tensors;
    int n_layer;
    int n_groups;             /* n_layer + 2: [0] token_embd and other tensors outside blocks,
                                 [1 + b] block b, [n_layer + 1] output (names "output*") */
    bool *item;               /* [n_tensors] quantizable: the tensors the measure sums over */
    int *group;               /* [n_tensors] group index */
    int n_items;
    int64_t n_params;         /* elements of every tensor */
    qs_errv_cell *cells;      /* [n_tensors * QS_TYPE_COUNT] */
    int *preset_types;        /* [QS_PRESET_COUNT * n_tensors]: every preset resolved on m */
    bool preset_ok[QS_PRESET_COUNT]; /* the preset resolved (row QS_PRESET_NONE: false) */
} qs_errv_table;

/* Builds an empty table for m and resolves every preset on it (qs_planned_init).
 * QS_OK or QS_ENOMEM. */
int qs_errv_table_init(qs_errv_table *t, const qs_model *m, qs_error *err);
void qs_errv_table_free(qs_errv_table *t);

/* The cell of tensor ti at type (NULL when out of range). */
qs_errv_cell *qs_errv_cell_at(const qs_errv_table *t, int64_t ti, int type);
/* Stores a measurement / marks a cell as impossible. */
void qs_errv_table_set(qs_errv_table *t, int64_t ti, int type, qs_metrics_mode mode, double sse,
                       double ssx);
void qs_errv_table_fail(qs_errv_table *t, int64_t ti, int type);
/* A cell's best figures: exact when known, else sampled. false when not measured (or failed). */
bool qs_errv_cell_best(const qs_errv_table *t, int64_t ti, int type, double *sse, double *ssx,
                       bool *exact);

/* True when type is one of the budget planner's candidates for item ti: on the ladder
 * (qs_type_ladder), allowed in plans, produced by quantscope and able to hold the rows — the
 * same set qs_budget_table_build measures. */
bool qs_errv_is_candidate(const qs_errv_table *t, int64_t ti, int type);

/* Measures one cell (tensor ti at type in mode): *sse and *ssx as at the top of this file
 * (qs_metrics sum_e2 and sum_x2 times sum_scale; sse equals qs_budget_cell_measure's error).
 * Errors as qs_errv_tensor_metrics. */
int qs_errv_measure_cell(const qs_model *m, int64_t ti, qs_type type, qs_metrics_mode mode,
                         const qs_errv_opts *o, double *sse, double *ssx, qs_error *err);
/* Values a cell measurement reads in mode (for progress over many cells). */
int64_t qs_errv_cell_values(const qs_model *m, int64_t ti, qs_metrics_mode mode);

/* ---------------------------------------------------------------------------------------------
 * Work lists: which cells are still to measure, in the order they are asked for.
 * ------------------------------------------------------------------------------------------- */

typedef struct qs_errv_work {
    int tensor;
    int type;
    int mode;   /* qs_metrics_mode */
} qs_errv_work;

typedef struct qs_errv_worklist {
    qs_errv_work *w;        /* [n] (owned) */
    int n, cap;
    unsigned char *seen;    /* [n_tensors * QS_TYPE_COUNT * 2] (owned): already listed */
    int n_tensors;
} qs_errv_worklist;

int qs_errv_worklist_init(qs_errv_worklist *l, const qs_errv_table *t);
void qs_errv_worklist_free(qs_errv_worklist *l);
/* Appends the cells (item, types[item]) not yet known in mode, not failed and not listed.
 * types[n_tensors] is one type per tensor (a resolution). QS_OK or QS_ENOMEM. */
int qs_errv_need_types(const qs_errv_table *t, const int *types, qs_metrics_mode mode,
                       qs_errv_worklist *l);
/* The same for every candidate cell of every item (what the budget planner needs). */
int qs_errv_need_candidates(const qs_errv_table *t, qs_metrics_mode mode, qs_errv_worklist *l);

/* ---------------------------------------------------------------------------------------------
 * Sums: plans, blocks, presets, the budget planner's plans.
 * ------------------------------------------------------------------------------------------- */

typedef struct qs_errv_point {
    uint64_t bytes;     /* all tensors at their types */
    double bpw;         /* bytes * 8 / n_params */
    double sse, ssx;    /* sums over the items (known cells only) */
    double rel_rmse;    /* sqrt(sse / ssx); NaN while a cell is missing */
    int missing;        /* items whose cell is not measured yet */
    int failed;         /* items whose cell cannot be measured */
    bool exact;         /* complete and every cell exact */
} qs_errv_point;

/* The point of an assignment of types (types[n_tensors], e.g. a qs_plan_resolution's). */
void qs_errv_eval(const qs_errv_table *t, const int *types, qs_errv_point *out);

/* The same per group (block bars): out[t->n_groups]; a group without items has ssx 0 and
 * rel_rmse 0. bytes / bpw are the group's own (bpw over the group's parameters). */
void qs_errv_groups(const qs_errv_table *t, const int *types, qs_errv_point *out);
/* "token_embd", "blk.3", "output". Returns buf. */
const char *qs_errv_group_name(const qs_errv_table *t, int g, char *buf, size_t n);

/* The resolved types of a preset on the table's model, or NULL if it did not resolve. */
const int *qs_errv_preset_types(const qs_errv_table *t, qs_preset p);

/* The budget planner on the table's cells: the least-error assignment of candidate types whose
 * bytes stay within budget (qs_budget_solve over items with every candidate cell's best sse;
 * tensors that are not items keep their stored type and count as fixed bytes, as in
 * qs_budget_table_build). dp_states as qs_budget_problem's (< 0: no DP, fast). *out is the
 * solution's point; types (NULL or [n_tensors]) receives its types; plan (NULL or an initialised
 * plan) receives it as qs_budget_to_plan writes it. QS_ERR when a candidate cell is not measured
 * yet ("12 errors not measured yet") or the budget is below the smallest size; QS_ENOMEM. */
int qs_errv_solve(const qs_errv_table *t, uint64_t budget, int dp_states, qs_errv_point *out,
                  int *types, qs_plan *plan, qs_error *err);

/* Smallest and largest useful sizes for the budget planner (every item at its cheapest
 * candidate / at its least-error one, ties to the cheaper). QS_ERR as qs_errv_solve. */
int qs_errv_size_range(const qs_errv_table *t, uint64_t *min_bytes, uint64_t *full_bytes,
                       qs_error *err);

/* The budget planner's best plans at n budgets evenly spaced from the smallest to the largest
 * useful size (n >= 2), without the DP. out[n]. QS_ERR as qs_errv_solve. */
int qs_errv_frontier(const qs_errv_table *t, int n, qs_errv_point *out, qs_error *err);

/* ---------------------------------------------------------------------------------------------
 * A small cache of per-tensor metrics (histograms included) for the Errors view.
 * ------------------------------------------------------------------------------------------- */

typedef struct qs_errv_cache_entry {
    int tensor, type, mode;
    double range;       /* the histogram range it was measured with (> 0) */
    uint64_t used;      /* LRU clock */
    qs_metrics m;
} qs_errv_cache_entry;

typedef struct qs_errv_range_entry {
    int tensor, type;
    double range;
} qs_errv_range_entry;

typedef struct qs_errv_cache {
    qs_errv_cache_entry *e; /* [cap] (owned) */
    int n, cap;
    uint64_t clock;
    qs_errv_range_entry *r; /* automatic ranges (owned), [rcap], LRU by insertion */
    int rn, rcap, rnext;
} qs_errv_cache;

/* cap entries (at least 2; each holds a qs_metrics, about 2.3 KiB). QS_OK or QS_ENOMEM. */
int qs_errv_cache_init(qs_errv_cache *c, int cap);
void qs_errv_cache_free(qs_errv_cache *c);
/* The entry for (tensor, type, mode, range), or NULL. A hit counts as a use. */
const qs_metrics *qs_errv_cache_get(qs_errv_cache *c, int tensor, int type, int mode, double range);
/* The exact entry if cached, else the sampled one, else NULL; *exact says which. */
const qs_metrics *qs_errv_cache_best(qs_errv_cache *c, int tensor, int type, double range,
                                     bool *exact);
/* Stores a copy (replacing the same key, else evicting the least recently used). */
void qs_errv_cache_put(qs_errv_cache *c, int tensor, int type, int mode, double range,
                       const qs_metrics *m);
/* Automatic histogram ranges (qs_errv_auto_range results): 0 when not cached. */
double qs_errv_cache_range(const qs_errv_cache *c, int tensor, int type);
void qs_errv_cache_put_range(qs_errv_cache *c, int tensor, int type, double range);

#endif
