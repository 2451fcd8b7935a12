/* tui_planedit.h — the explorer's plan file and rule work, without the screen: saving and
 * opening plans, previewing a rule or the keep knob before it is committed (which tensors match,
 * which it would decide, what the weights would weigh), rule list edits, searching tensors.
 *
 * Like tui_app.h, every figure comes from quant/ or engine/ calls (qs_plan_rule_matches,
 * qs_plan_resolve, qs_type_row_bytes, qs_plan_save / qs_plan_load, qs_model_fingerprint); this
 * module wires them to the app state. No ncurses: tests/test_tui_planedit.c drives it. UI thread
 * only. Owned by tui/. */
#ifndef TUI_PLANEDIT_H
#define TUI_PLANEDIT_H

#include "tui_app.h"

/* ---- plan files ---------------------------------------------------------------------------- */

/* Saves the plan to path (atomically, qs_plan_save), with this model's fingerprint. On success
 * the plan is no longer modified (saved = plan) and path becomes the plan's file; a->status says
 * so. On failure nothing changes and err says why. */
int tui_app_save_plan(tui_app *a, const char *path, qs_error *err);

/* Opens a plan file in place of the current plan. On failure (unreadable, bad YAML: err is
 * "file:line:col: message", or a plan that does not resolve on this model) the current plan is
 * untouched. On success plan and saved are the file's, the device / context it records are
 * applied, and a->status says what of it does not apply to this model (qs_plan_check_model: the
 * first warning and their count). */
int tui_app_open_plan(tui_app *a, const char *path, qs_error *err);

/* Suggested paths. Plan: the plan's file, else MODEL.plan.yaml in the current folder (MODEL =
 * the model file's name without .gguf). Export: MODEL-LABEL.gguf beside the model when that
 * folder is writable and is not a download cache (Ollama blobs, Hugging Face snapshots), else in
 * the current folder; LABEL is the plan file's name without .yaml, .plan and the model's name,
 * else the preset or the default type, with "-custom" when rules, overrides or the keep knob add
 * to it ("stories260K-Q4_K_M.gguf", "m-q4.yaml" -> "m-q4.gguf"). An Ollama blob's "sha256-..."
 * name is replaced by general.name (or "model"). */
void tui_app_plan_path_suggest(const tui_app *a, char *buf, size_t n);
void tui_app_export_path_suggest(const tui_app *a, char *buf, size_t n);

/* ---- previews ------------------------------------------------------------------------------ */

/* What a candidate plan would change against the current resolution. */
typedef struct tui_preview {
    bool ok;                /* the candidate resolves; err says why not */
    qs_error err;
    qs_plan_resolution res; /* valid when ok (free with tui_preview_free) */
    int n_changed;          /* tensors whose resolved type differs from now */
    int64_t bytes_delta;    /* planned weight bytes, candidate minus now */
} tui_preview;

/* Resolves `candidate` against the app's model and compares. Returns p->ok ? QS_OK : QS_ERR. */
int tui_preview_plan(const tui_app *a, const qs_plan *candidate, tui_preview *p);
void tui_preview_free(tui_preview *p);

/* A rule being typed: its pattern checked and matched as the resolution would, and the plan it
 * would make. */
typedef struct tui_rule_preview {
    bool valid;            /* the pattern compiles */
    qs_error err;          /* when !valid: PCRE2's message with the offset */
    size_t err_offset;     /* when !valid: byte offset into the pattern */
    bool *matched;         /* [n_tensors]: the pattern matches the tensor's name (owned) */
    int n_matched;         /* tensors matched */
    int n_quantizable;     /* of those, tensors the plan can change (not kept as stored) */
    int n_decided;         /* of those, tensors this rule would decide (first match) */
    tui_preview plan;      /* the plan with the rule in place (when valid) */
} tui_rule_preview;

/* Previews rule `at` (0-based) with pattern -> type: replacing that rule when replace is true,
 * else inserted at `at` (n_rules appends). Returns QS_OK when the pattern is valid and the
 * candidate resolves, QS_ERR otherwise (QS_ENOMEM on allocation failure). Free with
 * tui_rule_preview_free in every case. */
int tui_rule_preview_make(const tui_app *a, int at, bool replace, const char *pattern, qs_type type,
                          tui_rule_preview *p);
void tui_rule_preview_free(tui_rule_preview *p);

/* ---- edits (each re-resolves, updates memory and writes a->status) ------------------------- */

int tui_app_rule_put(tui_app *a, int at, bool replace, const char *pattern, qs_type type, qs_error *err);
int tui_app_rule_delete(tui_app *a, int at);
/* Swaps rule `at` with its neighbour (dir -1 up, +1 down). QS_ERR at the ends. */
int tui_app_rule_move(tui_app *a, int at, int dir);
/* The keep knob: first / last block counts (0..n_layer) and their type. */
int tui_app_set_keep(tui_app *a, int first, int last, qs_type type, qs_error *err);

/* The type one rung up (dir +1) or down (-1) qs_type_ladder from `type` (types off the ladder go
 * to the nearest rung by bits per weight); `type` itself at the ends. */
qs_type tui_ladder_step(qs_type type, int dir);

/* ---- search -------------------------------------------------------------------------------- */

/* True when `text` occurs in the tensor's name, ignoring case. Empty text matches nothing. */
bool tui_app_tensor_matches(const tui_app *a, int tensor, const char *text);
/* The next tensor (in file order, dir +1) or previous (dir -1) after `from` whose name matches,
 * wrapping around; `from` itself is tried last; -1 when none does. from = -1 starts at the first
 * (or, going back, the last). */
int tui_app_find_tensor(const tui_app *a, const char *text, int from, int dir);
/* How many tensors match, and the 1-based rank of `tensor` among them (0 if it does not). */
int tui_app_count_matches(const tui_app *a, const char *text, int tensor, int *rank);
/* Expands the tensor's group and returns its row in the Layers view. */
int tui_app_reveal_tensor(tui_app *a, int tensor);
/* The tensor a Layers row shows (group rows: -1). */
int tui_app_row_tensor(const tui_app *a, int row);

#endif
