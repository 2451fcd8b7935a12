/* tui_ui.h — internal: the UI state shared by tui.c (loop, modes) and tui_views.c (views).
 * Owned by tui/. */
#ifndef TUI_UI_H
#define TUI_UI_H

#include "tui_app.h"
#include "tui_draw.h"
#include "tui_events.h"
#include "tui_jobs.h"
#include "tui_keys.h"

typedef enum tui_mode {
    TUI_MODE_NORMAL = 0,
    TUI_MODE_HELP,        /* help overlay (scrollable) */
    TUI_MODE_PRESETS,     /* presets menu */
    TUI_MODE_MESSAGE,     /* a popup message (why, theme error); any key closes */
    TUI_MODE_CONFIRM_QUIT,
    TUI_MODE_INPUT_CTX,   /* typing a context length */
    /* tui_planui.c (plan files, rules, keep-ends, search, export): */
    TUI_MODE_PROMPT,      /* typing a path or a search on the status line */
    TUI_MODE_ASK,         /* a yes / no question on the status line */
    TUI_MODE_RULES,       /* the rules list */
    TUI_MODE_RULE_EDIT,   /* typing a rule */
    TUI_MODE_KEEP,        /* keep first / last blocks */
} tui_mode;

struct tui_plan_ui; /* tui_planui.h */
struct tui_picker;  /* tui_planui.h */

typedef struct tui_ui {
    tui_app app;
    tui_screen scr;
    tui_events ev;
    tui_jobs jobs;                     /* background work (tui_jobs.h); results come through ev */
    struct tui_quality *quality;       /* Errors / Trade-off state, created on first use (tui_quality.h) */
    struct tui_chat *chat;             /* Chat view state, created on first use (tui_chat.h) */
    tui_view view;
    tui_mode mode;
    bool quit;
    int cols, rows;
    int tab_w[TUI_VIEW_COUNT];
    tui_list_pos list[TUI_VIEW_COUNT]; /* per-view list positions */
    tui_list_pos help, presets;
    int body_y, body_h;                /* rows of the view's list (for mouse and paging) */
    char msg_title[64];
    char msg[1024];
    char input[32];
    struct tui_plan_ui *pl;    /* plan files, rules, keep-ends, search, export (tui_planui.c) */
    struct tui_picker *picker; /* the model picker while no model is open (tui_picker.c) */
} tui_ui;

/* Draws the current view into rows [y, y + h). Sets ui->body_y / body_h for its list. */
void tui_view_draw(tui_ui *ui, int y, int h);
/* Handles a view-specific action; returns true if it was one. */
bool tui_view_action(tui_ui *ui, tui_action act);
/* Number of rows in the current view's list. */
int tui_view_rows(tui_ui *ui);
/* Draws the background-job gauge right-aligned in row y of a w-column line (the status line);
 * returns the columns it took (0 when no job runs). */
int tui_jobs_gauge(tui_ui *ui, int y, int w);

#endif
