/* tui_planui.h — internal: the explorer's plan work on screen and the model picker, as hooks
 * the event loop (tui.c) calls.
 *
 *   tui_planui.c  s / S / o / e prompts and questions, `/` search with n / N, the status line
 *   tui_rules.c   the rules list and rule editor (live PCRE2 validation and matches), keep-ends
 *   tui_export.c  the export job (a foreground tui_jobs job, progress gauge, Esc cancels)
 *   tui_picker.c  the model picker shown when no model is given
 *
 * The state behind the numbers is in tui_planedit.h (no ncurses); everything here runs on the UI
 * thread, except the export's run function (a tui_jobs worker) and the picker's scan thread,
 * which only post to ui->ev.
 * Owned by tui/. */
#ifndef TUI_PLANUI_H
#define TUI_PLANUI_H

#include <stdatomic.h>

#include "model_scan.h"
#include "tui_planedit.h"
#include "tui_prompt.h"
#include "tui_ui.h"

typedef enum tui_prompt_kind {
    TUI_PROMPT_SAVE,   /* path to save the plan to */
    TUI_PROMPT_OPEN,   /* plan file to open */
    TUI_PROMPT_EXPORT, /* path of the exported GGUF */
    TUI_PROMPT_SEARCH, /* text searched in tensor names (Layers view) */
} tui_prompt_kind;

typedef enum tui_ask_kind {
    TUI_ASK_OVERWRITE_PLAN,   /* the save path exists */
    TUI_ASK_OVERWRITE_EXPORT, /* the export path exists */
    TUI_ASK_DISCARD_OPEN,     /* opening a plan drops unsaved changes */
    TUI_ASK_QUIT_EXPORT,      /* quitting cancels the running export */
} tui_ask_kind;

typedef struct tui_export_job tui_export_job; /* tui_export.c */

typedef struct tui_plan_ui {
    /* line prompt (TUI_MODE_PROMPT) */
    tui_prompt_kind prompt;
    tui_line line;
    int line_first;          /* first shown byte (tui_line_view) */
    char note[256];          /* completions, or why Enter did nothing */
    /* question (TUI_MODE_ASK) */
    tui_ask_kind ask;
    char ask_path[1024];
    /* rules list (TUI_MODE_RULES) and editor (TUI_MODE_RULE_EDIT) */
    tui_list_pos rules;
    int edit_at;             /* rule index being edited / inserted at */
    bool edit_replace;       /* editing an existing rule (else a new one) */
    tui_line pat;
    int pat_first;
    qs_type edit_type;
    tui_rule_preview pv;     /* preview of the pattern as typed */
    tui_list_pos matches;    /* scroll of the matching tensors */
    /* keep first / last (TUI_MODE_KEEP) */
    int keep_first, keep_last;
    qs_type keep_type;
    int keep_field;          /* 0 first, 1 last, 2 type */
    tui_preview keep_pv;
    /* search */
    char search[TUI_LINE_MAX]; /* the last search text ("" none) */
    int search_sel, search_top; /* Layers selection before `/` (Esc goes back) */
    bool *search_exp;        /* expanded groups before `/` ([n_layer + 2], owned) */
    /* export */
    tui_export_job *job;
} tui_plan_ui;

/* ---- tui_planui.c -------------------------------------------------------------------------- */

/* Allocates ui->pl. QS_OK or QS_ENOMEM. */
int tui_pl_init(tui_ui *ui);
/* Cancels and waits for a running export, frees ui->pl. */
void tui_pl_shutdown(tui_ui *ui);
/* Normal-mode actions it owns (save, open, export, rules, keep, search, quit while exporting).
 * True when handled. */
bool tui_pl_action(tui_ui *ui, tui_action act);
/* A key in one of its modes (TUI_MODE_PROMPT and after). */
void tui_pl_key(tui_ui *ui, int ch);
/* Its overlays, after the view is drawn. */
void tui_pl_draw(tui_ui *ui);
/* Draws the status row y when it owns it (a prompt, a question, the export gauge). */
bool tui_pl_status(tui_ui *ui, int y);
/* The key rows the bottom bar shows: its overlay's, else the current view's. */
tui_view tui_pl_bar_view(const tui_ui *ui);

/* the status line: a->status and a->status_error */
void tui_pl_say(tui_app *a, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* a popup message (TUI_MODE_MESSAGE) */
void tui_pl_message(tui_ui *ui, const char *title, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- tui_rules.c --------------------------------------------------------------------------- */

void tui_rules_open(tui_ui *ui);
void tui_rules_key(tui_ui *ui, int ch);      /* TUI_MODE_RULES and TUI_MODE_RULE_EDIT */
void tui_rules_draw(tui_ui *ui);
void tui_keep_open(tui_ui *ui);
void tui_keep_key(tui_ui *ui, int ch);
void tui_keep_draw(tui_ui *ui);
void tui_rules_free(tui_ui *ui);             /* previews */

/* ---- tui_export.c -------------------------------------------------------------------------- */
/* The export runs on ui->jobs (key TUI_JOB_KEY_EXPORT, foreground: it never waits behind error
 * refinement); its end reaches the UI thread as the job's done call (one message: done, failed,
 * or cancelled with nothing written). */

/* Starts exporting the current plan to out_path as a job. QS_ERR (err) when an export is
 * already running or the job cannot be queued. */
int tui_export_start(tui_ui *ui, const char *out_path, qs_error *err);
bool tui_export_running(const tui_ui *ui);
/* Asks the running job to stop (it reports "cancelled" when it has). */
void tui_export_cancel(tui_ui *ui);
/* Progress of the running job: fraction 0..1, and the output path. False when none runs. */
bool tui_export_progress(const tui_ui *ui, double *frac, const char **path, bool *cancelling);
/* Cancels a running export and waits until it has ended (quitting: the model must stay open
 * while it reads it). Its done call, still queued, then only frees the job. */
void tui_export_stop(tui_ui *ui);

/* ---- tui_picker.c -------------------------------------------------------------------------- */

/* Starts the picker: scans for models in a background thread; plan_path (may be NULL) is opened
 * with the model chosen. QS_OK or QS_ERR/QS_ENOMEM. */
int tui_picker_open(tui_ui *ui, const char *plan_path, qs_error *err);
/* True while no model is open and the picker is shown. */
bool tui_picker_active(const tui_ui *ui);
void tui_picker_draw(tui_ui *ui);
void tui_picker_key(tui_ui *ui, int ch);
void tui_picker_mouse(tui_ui *ui);
/* Waits for a running scan and frees the picker (at exit, or once a model is open). */
void tui_picker_close(tui_ui *ui);

#endif
