/* Plan files and search on screen: the s / S / o / e prompts and their questions, `/` with n / N,
 * the status-line prompt and the export gauge; dispatch to the rules, keep-ends and export
 * parts. */
#include "tui_planui.h"

#include <curses.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tui_pl_init(tui_ui *ui) {
    ui->pl = calloc(1, sizeof *ui->pl);
    return ui->pl ? QS_OK : QS_ENOMEM;
}

void tui_pl_shutdown(tui_ui *ui) {
    if (!ui->pl) return;
    tui_export_stop(ui);
    tui_rules_free(ui);
    free(ui->pl->search_exp);
    free(ui->pl);
    ui->pl = NULL;
}

void tui_pl_say(tui_app *a, bool error, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->status, sizeof a->status, fmt, ap);
    va_end(ap);
    a->status_error = error;
}

void tui_pl_message(tui_ui *ui, const char *title, const char *fmt, ...) {
    snprintf(ui->msg_title, sizeof ui->msg_title, "%s", title);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->msg, sizeof ui->msg, fmt, ap);
    va_end(ap);
    ui->mode = TUI_MODE_MESSAGE;
}

/* "~/x" -> "$HOME/x" */
static void expand_home(const char *in, char *out, size_t n) {
    const char *home = getenv("HOME");
    if (in[0] == '~' && (in[1] == '/' || !in[1]) && home && *home) snprintf(out, n, "%s%s", home, in + 1);
    else snprintf(out, n, "%s", in);
}

static void start_prompt(tui_ui *ui, tui_prompt_kind k, const char *text) {
    tui_plan_ui *pl = ui->pl;
    pl->prompt = k;
    tui_line_set(&pl->line, text);
    pl->line_first = 0;
    pl->note[0] = 0;
    ui->mode = TUI_MODE_PROMPT;
}

static void ask(tui_ui *ui, tui_ask_kind k, const char *path) {
    ui->pl->ask = k;
    snprintf(ui->pl->ask_path, sizeof ui->pl->ask_path, "%s", path ? path : "");
    ui->mode = TUI_MODE_ASK;
}

/* ---- the file actions ---------------------------------------------------------------------- */

static void do_save(tui_ui *ui, const char *path) {
    qs_error err;
    ui->mode = TUI_MODE_NORMAL;
    if (tui_app_save_plan(&ui->app, path, &err) != QS_OK)
        tui_pl_message(ui, "plan not saved", "%s", err.msg);
}

static void do_open(tui_ui *ui, const char *path) {
    qs_error err;
    ui->mode = TUI_MODE_NORMAL;
    if (tui_app_open_plan(&ui->app, path, &err) != QS_OK) {
        tui_pl_message(ui, "plan not opened", "%s -- the current plan is unchanged.", err.msg);
        return;
    }
    ui->list[TUI_VIEW_LAYERS].selected = 0;
    ui->list[TUI_VIEW_LAYERS].top = 0;
}

static void do_export(tui_ui *ui, const char *path) {
    qs_error err;
    ui->mode = TUI_MODE_NORMAL;
    if (tui_export_start(ui, path, &err) != QS_OK) tui_pl_message(ui, "export not started", "%s", err.msg);
}

static bool same_file(const char *a, const char *b) {
    char ra[4096], rb[4096];
    if (!realpath(a, ra) || !realpath(b, rb)) return !strcmp(a, b);
    return !strcmp(ra, rb);
}

static void prompt_accept(tui_ui *ui) {
    tui_plan_ui *pl = ui->pl;
    char path[1024];
    expand_home(pl->line.text, path, sizeof path);
    switch (pl->prompt) {
    case TUI_PROMPT_SEARCH:
        ui->mode = TUI_MODE_NORMAL;
        snprintf(pl->search, sizeof pl->search, "%s", pl->line.text);
        if (pl->search[0]) {
            int t = tui_app_row_tensor(&ui->app, ui->list[TUI_VIEW_LAYERS].selected), rank;
            int n = tui_app_count_matches(&ui->app, pl->search, t, &rank);
            tui_pl_say(&ui->app, n == 0, "search '%s': %d tensor%s%s", pl->search, n,
                     n == 1 ? "" : "s", n > 1 ? " (n / N: next / previous)" : "");
        }
        return;
    case TUI_PROMPT_SAVE:
    case TUI_PROMPT_OPEN:
    case TUI_PROMPT_EXPORT:
        break;
    }
    if (!path[0]) {
        snprintf(pl->note, sizeof pl->note, "type a file name (Esc cancels)");
        return;
    }
    if (pl->prompt == TUI_PROMPT_OPEN) {
        do_open(ui, path);
    } else if (pl->prompt == TUI_PROMPT_SAVE) {
        if (access(path, F_OK) == 0 && !(ui->app.plan_path[0] && same_file(path, ui->app.plan_path)))
            ask(ui, TUI_ASK_OVERWRITE_PLAN, path);
        else do_save(ui, path);
    } else {
        if (access(path, F_OK) == 0) ask(ui, TUI_ASK_OVERWRITE_EXPORT, path);
        else do_export(ui, path);
    }
}

/* ---- search -------------------------------------------------------------------------------- */

static void search_select(tui_ui *ui, int tensor) {
    int row = tui_app_reveal_tensor(&ui->app, tensor);
    if (row < 0) return;
    tui_list_pos *p = &ui->list[TUI_VIEW_LAYERS];
    p->n = ui->app.n_rows;
    p->selected = row;
    int h = ui->body_h > 0 ? ui->body_h : 1;
    tui_list_clamp(p, h);
}

static int n_groups(const tui_app *a) { return (a->pm.n_layer > 0 ? a->pm.n_layer : 0) + 2; }

/* back to the Layers view as it was when `/` was pressed */
static void search_restore(tui_ui *ui) {
    tui_plan_ui *pl = ui->pl;
    if (pl->search_exp) {
        memcpy(ui->app.expanded, pl->search_exp, (size_t)n_groups(&ui->app) * sizeof *pl->search_exp);
        tui_app_rows(&ui->app);
    }
    ui->list[TUI_VIEW_LAYERS].n = ui->app.n_rows;
    ui->list[TUI_VIEW_LAYERS].selected = pl->search_sel;
    ui->list[TUI_VIEW_LAYERS].top = pl->search_top;
}

/* incremental: the first match at or after the selection `/` started from; only its block is
 * expanded beyond what was */
static void search_update(tui_ui *ui) {
    tui_plan_ui *pl = ui->pl;
    tui_app *a = &ui->app;
    pl->note[0] = 0;
    search_restore(ui);
    if (!pl->line.len) return;
    int start = pl->search_sel < a->n_rows ? a->rows[pl->search_sel].tensor : -1;
    /* from the tensor before the start, so the start itself is tried first */
    int from = start < 0 ? -1 : start - 1;
    int t = tui_app_find_tensor(a, pl->line.text, from, +1);
    if (t < 0) {
        snprintf(pl->note, sizeof pl->note, "no tensor matches");
        return;
    }
    search_select(ui, t);
    int rank, n = tui_app_count_matches(a, pl->line.text, t, &rank);
    snprintf(pl->note, sizeof pl->note, "match %d of %d", rank, n);
}

static void search_step(tui_ui *ui, int dir) {
    tui_plan_ui *pl = ui->pl;
    tui_app *a = &ui->app;
    if (!pl->search[0]) {
        tui_pl_say(a, true, "no search yet: / searches tensor names");
        return;
    }
    int cur = tui_app_row_tensor(a, ui->list[TUI_VIEW_LAYERS].selected);
    int t = tui_app_find_tensor(a, pl->search, cur, dir);
    if (t < 0) {
        tui_pl_say(a, true, "search '%s': no tensor matches", pl->search);
        return;
    }
    search_select(ui, t);
    int rank, n = tui_app_count_matches(a, pl->search, t, &rank);
    tui_pl_say(a, false, "search '%s': %s, match %d of %d", pl->search, a->pt[t].name, rank, n);
}

/* ---- dispatch ------------------------------------------------------------------------------ */

bool tui_pl_action(tui_ui *ui, tui_action act) {
    tui_plan_ui *pl = ui->pl;
    tui_app *a = &ui->app;
    char sug[1024];
    switch (act) {
    case TUI_ACT_SAVE:
        if (a->plan_path[0]) do_save(ui, a->plan_path);
        else {
            tui_app_plan_path_suggest(a, sug, sizeof sug);
            start_prompt(ui, TUI_PROMPT_SAVE, sug);
        }
        return true;
    case TUI_ACT_SAVE_AS:
        tui_app_plan_path_suggest(a, sug, sizeof sug);
        start_prompt(ui, TUI_PROMPT_SAVE, sug);
        return true;
    case TUI_ACT_OPEN_PLAN:
        if (tui_app_dirty(a)) ask(ui, TUI_ASK_DISCARD_OPEN, NULL);
        else start_prompt(ui, TUI_PROMPT_OPEN, "");
        return true;
    case TUI_ACT_EXPORT:
        if (tui_export_running(ui)) {
            tui_pl_say(a, true, "an export is running (Esc cancels it)");
            return true;
        }
        tui_app_export_path_suggest(a, sug, sizeof sug);
        start_prompt(ui, TUI_PROMPT_EXPORT, sug);
        return true;
    case TUI_ACT_CANCEL:
    case TUI_ACT_STOP_JOBS: /* Esc in Errors / Trade-off: the export first, refinement next */
        if (!tui_export_running(ui)) return false;
        tui_export_cancel(ui);
        return true;
    case TUI_ACT_QUIT:
        if (!tui_export_running(ui)) return false;
        ask(ui, TUI_ASK_QUIT_EXPORT, NULL);
        return true;
    case TUI_ACT_RULES:
        if (ui->view != TUI_VIEW_LAYERS) return false;
        tui_rules_open(ui);
        return true;
    case TUI_ACT_KEEP:
        if (ui->view != TUI_VIEW_LAYERS) return false;
        tui_keep_open(ui);
        return true;
    case TUI_ACT_SEARCH:
        if (ui->view != TUI_VIEW_LAYERS) return false;
        pl->search_sel = ui->list[TUI_VIEW_LAYERS].selected;
        pl->search_top = ui->list[TUI_VIEW_LAYERS].top;
        free(pl->search_exp);
        pl->search_exp = malloc((size_t)n_groups(a) * sizeof *pl->search_exp);
        if (pl->search_exp) memcpy(pl->search_exp, a->expanded, (size_t)n_groups(a) * sizeof *pl->search_exp);
        start_prompt(ui, TUI_PROMPT_SEARCH, "");
        return true;
    case TUI_ACT_SEARCH_NEXT:
    case TUI_ACT_SEARCH_PREV:
        if (ui->view != TUI_VIEW_LAYERS) return false;
        search_step(ui, act == TUI_ACT_SEARCH_NEXT ? +1 : -1);
        return true;
    default: return false;
    }
}

static void prompt_key(tui_ui *ui, int ch) {
    tui_plan_ui *pl = ui->pl;
    tui_action act = tui_key_action_in(ch, TUI_VIEW_PROMPT);
    if (act == TUI_ACT_ACCEPT) {
        prompt_accept(ui);
        return;
    }
    if (act == TUI_ACT_CANCEL) {
        ui->mode = TUI_MODE_NORMAL;
        if (pl->prompt == TUI_PROMPT_SEARCH) search_restore(ui);
        return;
    }
    if (act == TUI_ACT_COMPLETE) {
        if (pl->prompt == TUI_PROMPT_SEARCH) return;
        if (pl->line.text[0] == '~') { /* complete from the real folder */
            char full[TUI_LINE_MAX];
            expand_home(pl->line.text, full, sizeof full);
            tui_line_set(&pl->line, full);
        }
        int n = tui_line_complete_path(&pl->line, pl->note, sizeof pl->note);
        if (n == 0) snprintf(pl->note, sizeof pl->note, "no file starts so");
        else if (n == 1) pl->note[0] = 0;
        return;
    }
    tui_line_result r = tui_line_key(&pl->line, ch);
    if (r == TUI_LINE_CHANGED) {
        if (pl->prompt == TUI_PROMPT_SEARCH) search_update(ui);
        else pl->note[0] = 0;
    }
}

static void ask_key(tui_ui *ui, int ch) {
    tui_plan_ui *pl = ui->pl;
    bool yes = ch == 'y' || ch == 'Y';
    ui->mode = TUI_MODE_NORMAL;
    switch (pl->ask) {
    case TUI_ASK_OVERWRITE_PLAN:
        if (yes) do_save(ui, pl->ask_path);
        else tui_pl_say(&ui->app, false, "plan not saved");
        break;
    case TUI_ASK_OVERWRITE_EXPORT:
        if (yes) do_export(ui, pl->ask_path);
        else tui_pl_say(&ui->app, false, "not exported");
        break;
    case TUI_ASK_DISCARD_OPEN:
        if (yes) start_prompt(ui, TUI_PROMPT_OPEN, "");
        break;
    case TUI_ASK_QUIT_EXPORT:
        if (yes) {
            tui_export_stop(ui);
            if (tui_app_dirty(&ui->app)) ui->mode = TUI_MODE_CONFIRM_QUIT;
            else ui->quit = true;
        }
        break;
    }
}

void tui_pl_key(tui_ui *ui, int ch) {
    switch (ui->mode) {
    case TUI_MODE_PROMPT: prompt_key(ui, ch); break;
    case TUI_MODE_ASK: ask_key(ui, ch); break;
    case TUI_MODE_RULES:
    case TUI_MODE_RULE_EDIT: tui_rules_key(ui, ch); break;
    case TUI_MODE_KEEP: tui_keep_key(ui, ch); break;
    default: ui->mode = TUI_MODE_NORMAL; break;
    }
}

void tui_pl_draw(tui_ui *ui) {
    switch (ui->mode) {
    case TUI_MODE_RULES:
    case TUI_MODE_RULE_EDIT: tui_rules_draw(ui); break;
    case TUI_MODE_KEEP: tui_keep_draw(ui); break;
    default: break;
    }
}

tui_view tui_pl_bar_view(const tui_ui *ui) {
    switch (ui->mode) {
    case TUI_MODE_PROMPT: return TUI_VIEW_PROMPT;
    case TUI_MODE_RULES: return TUI_VIEW_RULES;
    case TUI_MODE_RULE_EDIT: return TUI_VIEW_RULE_EDIT;
    case TUI_MODE_KEEP: return TUI_VIEW_KEEP;
    default: return ui->view;
    }
}

/* ---- the status row ------------------------------------------------------------------------ */

static void draw_prompt(tui_ui *ui, int y) {
    tui_plan_ui *pl = ui->pl;
    static const char *const label[] = {
        [TUI_PROMPT_SAVE] = "save plan to: ",
        [TUI_PROMPT_OPEN] = "open plan: ",
        [TUI_PROMPT_EXPORT] = "export GGUF to: ",
        [TUI_PROMPT_SEARCH] = "/",
    };
    const tui_screen *s = &ui->scr;
    int x = tui_text(s, y, 0, ui->cols, TUI_C_TITLE, label[pl->prompt], false);
    int note_w = pl->note[0] ? (int)strlen(pl->note) + 3 : 0;
    int w = ui->cols - x - note_w;
    if (w < 10) {
        w = ui->cols - x;
        note_w = 0;
    }
    if (w < 1) return;
    int col;
    pl->line_first = tui_line_view(&pl->line, w, pl->line_first, &col);
    tui_text(s, y, x, w, TUI_C_TEXT, pl->line.text + pl->line_first, true);
    /* the cursor: the character under it in reverse */
    char under[8] = " ";
    int at = pl->line.cur;
    if (at < pl->line.len) {
        int e = at + 1;
        while (e < pl->line.len && ((unsigned char)pl->line.text[e] & 0xC0) == 0x80) e++;
        snprintf(under, sizeof under, "%.*s", e - at, pl->line.text + at);
    }
    tui_text(s, y, x + col, 1, TUI_C_SELECTION, under, false);
    if (note_w) tui_textf(s, y, x + w, note_w, TUI_C_DIM, true, "  %s", pl->note);
}

static void draw_gauge(tui_ui *ui, int y, double frac, const char *path, bool cancelling) {
    const tui_screen *s = &ui->scr;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char left[160], right[64];
    snprintf(left, sizeof left, "exporting %.100s ", base);
    snprintf(right, sizeof right, " %5.1f%%  %s", frac * 100.0, cancelling ? "cancelling..." : "Esc cancels");
    int lw = (int)strlen(left), rw = (int)strlen(right);
    int bw = ui->cols - lw - rw - 2;
    int x = tui_text(s, y, 0, ui->cols, TUI_C_TEXT, left, false);
    if (bw >= 4) {
        uint64_t part[1] = {(uint64_t)(frac * 1e6)};
        tui_elem el[1] = {TUI_C_BAR_WEIGHTS_HOST};
        x += tui_text(s, y, x, 1, TUI_C_TEXT, "[", false);
        tui_meter(s, y, x, bw, part, el, 1, 1000000);
        x += bw;
        x += tui_text(s, y, x, 1, TUI_C_TEXT, "]", false);
    }
    tui_text(s, y, x, ui->cols - x, cancelling ? TUI_C_WARN : TUI_C_DIM, right, true);
}

bool tui_pl_status(tui_ui *ui, int y) {
    tui_plan_ui *pl = ui->pl;
    if (!pl) return false;
    if (ui->mode == TUI_MODE_PROMPT) {
        draw_prompt(ui, y);
        return true;
    }
    if (ui->mode == TUI_MODE_ASK) {
        char q[1200];
        switch (pl->ask) {
        case TUI_ASK_OVERWRITE_PLAN: snprintf(q, sizeof q, "%s exists. Replace it? [y/N]", pl->ask_path); break;
        case TUI_ASK_OVERWRITE_EXPORT: snprintf(q, sizeof q, "%s exists. Replace it? [y/N]", pl->ask_path); break;
        case TUI_ASK_DISCARD_OPEN:
            snprintf(q, sizeof q, "The plan has unsaved changes. Open another plan anyway? [y/N]");
            break;
        case TUI_ASK_QUIT_EXPORT: snprintf(q, sizeof q, "An export is running. Cancel it and quit? [y/N]"); break;
        }
        tui_text(&ui->scr, y, 0, ui->cols, TUI_C_WARN, q, true);
        return true;
    }
    double frac;
    const char *path;
    bool cancelling;
    if (tui_export_progress(ui, &frac, &path, &cancelling)) {
        draw_gauge(ui, y, frac, path, cancelling);
        return true;
    }
    return false;
}
