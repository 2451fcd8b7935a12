/* tui_app.h — the explorer's state without the screen: the model, the plan being edited, its
 * resolution and the memory estimate, recomputed after every edit.
 *
 * Every number the views show is taken from here, and every number here comes from a quant/ or
 * engine/ call (qs_plan_resolve, qs_estimate, qs_type_row_bytes, ...): this module only wires
 * them together. No ncurses, so the unit tests drive edits and read figures directly.
 * Owned by tui/. */
#ifndef TUI_APP_H
#define TUI_APP_H

#include "model.h"
#include "qs_devices.h"
#include "qs_estimate.h"
#include "qs_plan.h"

/* One row of the Layers view: a group of tensors (token_embd, a block, output) or, when its
 * block is expanded, one tensor. */
typedef struct tui_row {
    int block;      /* block index; -1 token_embd and other globals before blocks; -2 output */
    int tensor;     /* tensor index in the model for a tensor row, -1 for a group row */
    bool expanded;  /* group rows: its tensors follow */
} tui_row;

typedef struct tui_app {
    qs_model *model;              /* owned */
    char model_path[1024];
    char plan_path[1024];         /* "" when the plan did not come from a file */
    qs_plan plan;                 /* being edited */
    qs_plan saved;                /* as loaded / last saved: dirty = !qs_plan_equal */

    qs_plan_model pm;             /* the model as the plan module sees it */
    qs_plan_tensor *pt;           /* [n_tensors], owned */
    qs_plan_resolution res;       /* valid when res_ok */
    bool res_ok;
    qs_error res_err;

    qs_est_tensor *et;            /* [n_tensors], owned; types from the resolution */
    qs_est_model em;
    qs_est_settings es;
    qs_est_result er;             /* valid when est_ok */
    bool est_ok;
    qs_error est_err;
    int64_t max_ctx;              /* largest context that fits (0: none; -1: not computed) */

    uint64_t planned_bytes;       /* sum of the planned tensors' bytes */

    int device;                   /* index into the device list */
    int n_devices;
    qs_device devices[48];        /* [0] this machine's RAM (CPU only), then GPU presets */

    bool *expanded;               /* [n_layer + 2]: group expanded (index block + 1, last = output) */
    tui_row *rows;                /* Layers view rows, rebuilt by tui_app_rows */
    int n_rows;

    char status[512];             /* last message for the status line */
    bool status_error;
} tui_app;

/* Opens the model (and the plan when plan_path is not NULL/""), probes this machine's RAM,
 * and computes everything. Without a plan: no preset, the default type the stored type most
 * quantizable tensors have (F16 if that is not a plan type), so the first view shows the model as
 * it is. QS_ERR with the message on failure (nothing to free then). */
int tui_app_open(tui_app *a, const char *model_path, const char *plan_path, qs_error *err);
void tui_app_close(tui_app *a);

/* Re-resolves the plan and re-estimates memory. Failures land in res_err / est_err. */
void tui_app_update(tui_app *a);

/* True when the plan differs from the loaded / saved one. */
bool tui_app_dirty(const tui_app *a);

/* Rebuilds a->rows from the expansion state. */
void tui_app_rows(tui_app *a);
/* Expands / collapses the group of a row (tensor rows collapse their group). */
void tui_app_toggle(tui_app *a, int row);

/* Planned bytes of a row (its tensors' types from the resolution, qs_type_row_bytes). */
uint64_t tui_app_row_bytes(const tui_app *a, const tui_row *r);
/* Bytes the row's tensors have in the file. */
uint64_t tui_app_row_stored_bytes(const tui_app *a, const tui_row *r);
/* "Q8_0x7 F32x2" style summary of the planned types of a row's tensors. */
void tui_app_row_types(const tui_app *a, const tui_row *r, char *buf, size_t n);
/* Display name of a row ("blk.3", "token_embd", "output", or the tensor name). */
void tui_app_row_name(const tui_app *a, const tui_row *r, char *buf, size_t n);
/* True when a per-layer or per-tensor override decides (some of) the row. */
bool tui_app_row_overridden(const tui_app *a, const tui_row *r);

/* Moves the selected row one step along qs_type_ladder (dir +1 more bits, -1 fewer) by setting
 * a per-layer override (block rows) or per-tensor override (tensor rows and the token_embd /
 * output groups, whose tensors get one each). Writes a message to a->status. QS_OK when the
 * plan changed. */
int tui_app_step_type(tui_app *a, int row, int dir);
/* Removes the override(s) of a row. */
int tui_app_clear_override(tui_app *a, int row);
/* Applies a preset (QS_PRESET_NONE keeps the current default type without a mix). */
void tui_app_set_preset(tui_app *a, qs_preset p);
/* The resolution's reason for a row (the tensor's `why`, or the block's first quantizable
 * tensor's). Writes into buf. */
void tui_app_why(const tui_app *a, int row, char *buf, size_t n);

/* Memory controls. Context, KV type and device are run settings a plan carries (qs_plan.context,
 * kv_type, device), so changing them modifies the plan; GPU layers are not part of a plan. */
void tui_app_set_ctx(tui_app *a, int64_t n_ctx);   /* clamped to [256, 16 Mi] */
void tui_app_next_kv(tui_app *a, int dir);
void tui_app_gpu_layers(tui_app *a, int delta);
void tui_app_set_device(tui_app *a, int idx);

/* The most common type among the row's tensors' resolved types (quantizable ones first). */
int tui_app_row_type(const tui_app *a, const tui_row *r);

#endif
