/* tui_quality.h — the state behind the Errors and Trade-off views, and the background jobs that
 * fill it. No ncurses: the unit tests drive it without a terminal.
 *
 * Every figure comes from engine/errview.h (which says what is measured and how): the error
 * table (tensor x type, sampled then exact), the metrics cache (histograms of the selected
 * tensor) and the points computed from them. This module decides WHAT to measure and when:
 *
 * - The table job (key TUI_JOB_KEY_ERROR_TABLE) measures cells in this order: the current plan's
 *   types, then the presets', then every budget-planner candidate — all SAMPLED — and then the
 *   same again EXACT (progress is per phase). Results are posted in batches (about every 100 ms) and land in the table on
 *   the UI thread; the figures derived from it (plan point, block bars, preset points, frontier,
 *   "what more bytes would buy") are recomputed from the table after each batch (the frontier at
 *   most once a second while the job runs). When the plan changes and its cells are not measured
 *   yet, the job is restarted (superseded) with them first; cells already measured are kept.
 * - The tensor job (key TUI_JOB_KEY_TENSOR_ERRORS) measures the selected tensor at its planned
 *   type and at the compare type: first both automatic histogram ranges (the shared axis is the
 *   larger), then SAMPLED metrics, then EXACT ones, each posted as it lands in the cache (and in
 *   the table, since its sums are the same cell). Selecting another tensor or type supersedes it;
 *   coming back to a pair already measured is a cache hit and starts nothing.
 * - "Stop" (Esc) cancels both jobs; until "refine" (R) only SAMPLED figures of the current plan
 *   and of the selected tensor are measured (quick), nothing EXACT and nothing for the trade-off.
 *
 * UI thread only (the jobs talk to it through tui_events). Owned by tui/. */
#ifndef TUI_QUALITY_H
#define TUI_QUALITY_H

#include "errview.h"
#include "tui_ui.h"

enum { TUI_QUALITY_FRONTIER = 16 }; /* budget-planner points on the trade-off plot */

typedef struct tui_quality_want {
    int tensor;   /* model tensor index, -1 none */
    int type;     /* its planned type */
    int cmp;      /* compare type, -1 none */
} tui_quality_want;

typedef struct tui_quality {
    qs_errv_table tab;
    qs_errv_cache cache;

    /* the plan as last seen (types per tensor) */
    int *plan_types;
    bool have_plan;

    /* table job */
    uint64_t table_gen;          /* of the job last submitted */
    bool table_busy;
    bool table_idle;             /* nothing was left to measure (until the plan changes) */
    bool stopped;                /* the user stopped refining: no EXACT work until refine */
    char table_err[256];
    bool dirty;                  /* the table changed since the derived figures were computed */
    int64_t frontier_at_ns;      /* when the frontier was last computed */
    bool frontier_dirty;

    /* derived from the table (recomputed by tui_quality_sync) */
    qs_errv_point plan_pt;
    qs_errv_point *groups;       /* [tab.n_groups] block bars of the plan */
    qs_errv_point presets[QS_PRESET_COUNT];
    qs_errv_point frontier[TUI_QUALITY_FRONTIER];
    bool frontier_ok;
    char frontier_err[256];
    uint64_t more_delta;         /* "what this many more bytes would buy" */
    qs_errv_point more_pt;       /* the budget planner's best within plan + more_delta */
    bool more_ok;

    /* the Errors view */
    int *items;                  /* [n_items] model indices of the tensors listed */
    int n_items;
    int layers_seen;             /* Layers view selection last adopted (-1 = none yet) */
    int cmp_pref;                /* compare type chosen with [ / ] (-1 = one rung below) */
    bool cmp_off;                /* x: no comparison */
    tui_quality_want want;       /* what the view shows */
    tui_quality_want job_want;   /* what the tensor job was last submitted for */
    bool job_exact;              /* ... and whether it included EXACT work */
    uint64_t tensor_gen;
    bool tensor_busy;
    char tensor_err[256];        /* error of the last tensor job for `want` ("" if none) */

    /* the Trade-off view */
    bool x_bpw;                  /* x axis in bits per weight instead of MiB */
} tui_quality;

/* The state, created on first use (NULL if that failed: ui->app.status says why). */
tui_quality *tui_quality_get(tui_ui *ui);
/* Cancels its jobs and frees it (after tui_jobs_shutdown and a drain, or at any time). */
void tui_quality_free(tui_ui *ui);

/* Brings everything up to date with the plan and (when `errors_view`) with the Errors view's
 * selection: recomputes derived figures if the table changed, (re)submits jobs as described
 * above. Cheap when nothing changed; called before each frame of the two views. */
void tui_quality_sync(tui_ui *ui, bool errors_view);

/* The selected tensor of the Errors view (model index, -1 when there is none). */
int tui_quality_selected(tui_ui *ui);
/* The compare type for a tensor under the current choice (-1 when off or none fits): cmp_pref
 * if the tensor's rows can hold it, else the nearest ladder type that fits; by default the
 * ladder rung below the planned type (above it when the planned type is the lowest). */
int tui_quality_compare_type(const tui_quality *q, const tui_app *a, int tensor);
/* Moves the compare choice one ladder rung (dir -1 fewer bits, +1 more) for the selected tensor. */
void tui_quality_step_compare(tui_ui *ui, int dir);
/* Moves the selected tensor's planned type one step along the ladder (dir +1 more bits, -1
 * fewer), skipping types its rows cannot hold, with a per-tensor override. QS_OK if changed. */
int tui_quality_step_type(tui_ui *ui, int dir);
/* Stops refining (cancels the jobs) / resumes it. */
void tui_quality_stop(tui_ui *ui);
void tui_quality_refine(tui_ui *ui);

/* The histogram range shared by the selected tensor's two types, 0 while unknown. */
double tui_quality_range(tui_quality *q, const tui_quality_want *w);

/* The planned type of a tensor (the resolution's, the stored type without one). */
int tui_quality_planned_type(const tui_app *a, int tensor);

/* Makes the plan exactly a trade-off point: a preset with nothing else deciding types (rules,
 * overrides and the keep knob removed; KV type, context, device, notes kept), or the budget
 * planner's mix within `budget` bytes (qs_errv_solve, written as qs_budget_to_plan does).
 * Re-resolves and re-estimates; a->status says what happened. QS_OK when the plan changed. */
int tui_quality_apply_preset(tui_ui *ui, qs_preset p);
int tui_quality_apply_budget(tui_ui *ui, uint64_t budget);

/* The Trade-off view's points, sorted by bytes (ties: presets, budget plans, the plan): every
 * preset that resolves on the model, the budget planner's frontier (once every candidate error
 * is measured), the current plan, and the planner's best within plan + more_delta. */
typedef enum tui_qpoint_kind {
    TUI_QP_PRESET = 0,
    TUI_QP_BUDGET,
    TUI_QP_PLAN,
    TUI_QP_MORE,
} tui_qpoint_kind;

typedef struct tui_qpoint {
    tui_qpoint_kind kind;
    qs_preset preset;     /* TUI_QP_PRESET */
    qs_errv_point p;
    char label[32];       /* "Q4_K_M", "budget", "plan", "plan +256 MiB" */
} tui_qpoint;

enum { TUI_QPOINTS_MAX = QS_PRESET_COUNT + TUI_QUALITY_FRONTIER + 2 };
int tui_quality_points(const tui_quality *q, tui_qpoint *out, int max);

/* The views (tui_view_errors.c, tui_view_tradeoff.c): draw into rows [y, y + h) and handle
 * their keys (true when the action was theirs). */
void tui_errors_draw(tui_ui *ui, int y, int h);
bool tui_errors_action(tui_ui *ui, tui_action act);
void tui_tradeoff_draw(tui_ui *ui, int y, int h);
bool tui_tradeoff_action(tui_ui *ui, tui_action act);

#endif
