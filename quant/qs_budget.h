/* qs_budget.h — the budget planner: one type per tensor, total error minimal, size within a budget.
 *
 * A multiple-choice knapsack. Each item (a tensor) has candidates (type, bytes, error) computed by
 * the caller — engine/budget_model.h builds them for a model from qs_metrics_compute. The solver
 * picks one candidate per item so that fixed_bytes + sum(bytes) <= budget and sum(error) is
 * minimal. Errors of different items are added, so they must be commensurable: the caller uses
 * the total squared error of the tensor (rmse^2 x n_values), or its importance-weighted form.
 *
 * Method (deterministic; no globals, no files):
 *   1. Per item, candidates are sorted by bytes; dominated ones (no cheaper and no better than
 *      another) are dropped and the lower convex hull of (bytes, error) is kept.
 *   2. Lagrangian sweep: every hull segment has a slope (error saved per extra byte); taking the
 *      segments in decreasing slope while they fit is the solution of min error + lambda * bytes
 *      at the stopping lambda (reported). The rest of the budget is filled greedily by the best
 *      error-per-byte upgrades that still fit (hull or not), then single and paired moves that
 *      lower the error within the budget are applied until none is left.
 *   3. DP correction: unless switched off, a dynamic programme over bytes in quanta of
 *      q bytes (q = the gcd of the byte differences when the budget allows at most dp_states
 *      quanta — then the result is optimal and `exact` is set — else budget / dp_states with byte
 *      sizes rounded up, which stays within the budget). The better of (2) and (3) is returned.
 *
 * Cost: (2) is O(C log C) for C candidates in all, plus the local moves; (3) is O(dp_states x C)
 * time and O(dp_states x n_items) bytes, skipped when that exceeds ~64 MiB or 4e8 steps.
 * bench_budget, llama-3.1-8b shape (226 tensors x ~12 types): about 0.2-0.3 s with the DP,
 * 1.5 ms without it (dp_states < 0), and the error without it was within 1e-4 of the DP's —
 * so an interactive caller can solve without the DP on every key and with it once at the end. */
#ifndef QS_BUDGET_H
#define QS_BUDGET_H

#include "qs_common.h"
#include "qs_plan.h"
#include "qs_types.h"

/* One way to store an item. */
typedef struct qs_budget_cand {
    int type;       /* qs_type id (only carried through; the solver does not interpret it) */
    uint64_t bytes; /* bytes the item takes at this type */
    double error;   /* total error at this type: >= 0 and finite (e.g. sum of squared errors) */
} qs_budget_cand;

typedef struct qs_budget_item {
    const char *name;           /* for messages and plan overrides (borrowed) */
    const qs_budget_cand *cand; /* [n_cand] candidates, any order (borrowed) */
    int n_cand;                 /* >= 1 */
} qs_budget_item;

#define QS_BUDGET_DEFAULT_DP_STATES 65536

typedef struct qs_budget_problem {
    const qs_budget_item *items; /* [n_items] (borrowed) */
    int n_items;                 /* >= 0 */
    uint64_t budget;             /* bytes allowed for fixed_bytes + the chosen candidates */
    uint64_t fixed_bytes;        /* bytes outside the items that count against the budget */
    int dp_states;               /* DP size: 0 = QS_BUDGET_DEFAULT_DP_STATES, < 0 = no DP */
} qs_budget_problem;

typedef struct qs_budget_solution {
    int n_items;
    int *choice;         /* [n_items]: index into items[i].cand (malloc'd; free with _free) */
    uint64_t bytes;      /* fixed_bytes + sum of the chosen candidates' bytes */
    double error;        /* sum of the chosen candidates' errors */
    double lambda;       /* error per byte at which the Lagrangian sweep stopped (0 when every
                            item reached its lowest-error candidate) */
    bool exact;          /* the DP ran at byte granularity: error is the true optimum */
    uint64_t min_bytes;  /* fixed_bytes + every item at its cheapest candidate */
    uint64_t full_bytes; /* fixed_bytes + every item at its lowest-error (then cheapest) one */
    double min_error;    /* error with every item at its lowest-error candidate */
} qs_budget_solution;

/* Solves the problem. s is overwritten (free it with qs_budget_solution_free; it holds nothing
 * on failure). Returns QS_OK, QS_ENOMEM, or QS_ERR for a malformed problem (no candidates, negative
 * or non-finite error) or a budget below min_bytes ("budget 1.00 MiB is below the smallest
 * possible size 1.25 MiB"). With a budget >= full_bytes every item gets its lowest-error candidate
 * (the cheapest among equal errors). */
int qs_budget_solve(const qs_budget_problem *p, qs_budget_solution *s, qs_error *err);
void qs_budget_solution_free(qs_budget_solution *s);

/* Bytes for a bits-per-weight target over n_params weights: floor(bpw * n_params / 8). */
uint64_t qs_budget_bpw_bytes(double bpw, int64_t n_params);

/* Writes the solution into a plan: no preset, default_type = the type chosen for the most items
 * (ties: the lower type id), and a per-tensor override (qs_plan_set_tensor, by item name) for each
 * item whose chosen type differs. plan must be initialised (qs_plan_init or loaded); its preset,
 * rules, layer overrides and keep knob are cleared so that the overrides decide every item, its
 * other fields (kv type, context, fingerprint, notes) are kept. Items' candidate types must be
 * ones their rows can hold (as engine/budget_model.h builds them), so resolution gives exactly
 * the chosen types with no fallback. */
int qs_budget_to_plan(const qs_budget_problem *p, const qs_budget_solution *s, qs_plan *plan,
                      qs_error *err);

#endif
