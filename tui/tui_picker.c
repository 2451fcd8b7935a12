/* The model picker: shown when quantscope starts without a model. The scan (engine/model_scan)
 * runs in a background thread and posts its list; Enter opens the selected model in the
 * explorer. */
#include <curses.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_planui.h"

struct tui_picker {
    char plan_path[1024];  /* opened with the model ("" none) */
    tui_events *ev;
    pthread_t th;
    bool scanning;         /* a scan thread runs (UI thread's view) */
    atomic_int cancel;
    atomic_int post_failed; /* the done message could not be queued: the next frame takes it */
    qs_scan_list found;    /* written by the worker while scanning, then read by the UI */
    int rc;
    qs_error err;
    qs_scan_list list;     /* what is shown */
    tui_list_pos pos;
    int list_y, list_h;    /* for the mouse */
};

static void *scan_worker(void *arg);

static void scan_done(void *uip, void *data) {
    tui_ui *ui = uip;
    struct tui_picker *p = ui->picker;
    if (!p || p != data || !p->scanning) return;
    pthread_join(p->th, NULL);
    p->scanning = false;
    qs_scan_list_free(&p->list);
    p->list = p->found;
    memset(&p->found, 0, sizeof p->found);
    p->pos.n = p->list.n;
    p->pos.selected = 0;
    p->pos.top = 0;
    if (p->rc == QS_ENOMEM) tui_pl_message(ui, "model scan", "%s", p->err.msg);
}

static void *scan_worker(void *arg) {
    struct tui_picker *p = arg;
    qs_scan_opts o = {.here = ".", .with_demo = true, .cancel = &p->cancel};
    p->rc = qs_model_scan(&p->found, &o, &p->err);
    if (tui_events_post(p->ev, scan_done, p) != QS_OK) {
        atomic_store(&p->post_failed, 1);
        tui_events_wake(p->ev);
    }
    return NULL;
}

static int start_scan(struct tui_picker *p, qs_error *err) {
    atomic_store(&p->cancel, 0);
    atomic_store(&p->post_failed, 0);
    memset(&p->found, 0, sizeof p->found);
    int e = pthread_create(&p->th, NULL, scan_worker, p);
    if (e != 0) return qs_error_set(err, "cannot start the model scan: %s", strerror(e));
    p->scanning = true;
    return QS_OK;
}

int tui_picker_open(tui_ui *ui, const char *plan_path, qs_error *err) {
    struct tui_picker *p = calloc(1, sizeof *p);
    if (!p) return qs_error_set(err, "out of memory");
    snprintf(p->plan_path, sizeof p->plan_path, "%s", plan_path ? plan_path : "");
    p->ev = &ui->ev;
    atomic_init(&p->cancel, 0);
    atomic_init(&p->post_failed, 0);
    if (start_scan(p, err) != QS_OK) {
        free(p);
        return QS_ERR;
    }
    ui->picker = p;
    return QS_OK;
}

bool tui_picker_active(const tui_ui *ui) { return ui->picker != NULL; }

void tui_picker_close(tui_ui *ui) {
    struct tui_picker *p = ui->picker;
    if (!p) return;
    if (p->scanning) {
        atomic_store(&p->cancel, 1);
        pthread_join(p->th, NULL);
        qs_scan_list_free(&p->found);
    }
    qs_scan_list_free(&p->list);
    free(p);
    ui->picker = NULL; /* a queued scan_done finds no picker */
}

/* ---- drawing ------------------------------------------------------------------------------- */

/* a name in w columns: long ones lose their start, where HF and path names repeat themselves */
static const char *fit_name(const tui_ui *ui, const char *name, int w, char *buf, size_t n) {
    int cols = 0;
    for (const char *p = name; *p; p++) cols += ((unsigned char)*p & 0xC0) != 0x80;
    if (cols <= w || w < 4) return name;
    const char *p = name;
    for (int drop = cols - (w - 1); drop > 0 && *p; drop--) /* skip characters, keep w - 1 */
        for (p++; ((unsigned char)*p & 0xC0) == 0x80; p++) {
        }
    snprintf(buf, n, "%s%s", ui->scr.utf8 ? "\u2026" : "~", p);
    return buf;
}

void tui_picker_draw(tui_ui *ui) {
    struct tui_picker *p = ui->picker;
    if (p->scanning && atomic_load(&p->post_failed)) scan_done(ui, p);
    const tui_screen *s = &ui->scr;
    int w = ui->cols;
    tui_text(s, 0, 0, w, TUI_C_HEADER, " quantscope  choose a model (Enter opens it)", true);
    tui_text(s, 1, 0, w, TUI_C_DIM,
             "found in: this folder, $QUANTSCOPE_MODEL_PATH, Hugging Face and llama.cpp caches, Ollama, LM Studio",
             true);
    int name_w = w - 56;
    if (name_w < 16) name_w = 16;
    tui_textf(s, 2, 0, w, TUI_C_TITLE, true, "%-*s %-9s %-10s %-12s %10s %8s", name_w, "model", "where", "arch",
              "type", "size", "params");
    p->list_y = 3;
    p->list_h = ui->rows - 5;
    if (p->list_h < 1) p->list_h = 1;
    p->pos.n = p->list.n;
    tui_list_clamp(&p->pos, p->list_h);
    for (int r = 0; r < p->list_h; r++) {
        int y = p->list_y + r;
        int i = tui_list_item_at(&p->pos, r, p->list_h);
        if (i < 0) {
            tui_text(s, y, 0, w, TUI_C_TEXT, r == 0 && p->scanning ? "looking for models..." : "", true);
            continue;
        }
        const qs_scan_entry *e = &p->list.v[i];
        bool sel = i == p->pos.selected;
        char nb[300], cell[600];
        const char *name = fit_name(ui, e->name, name_w, nb, sizeof nb);
        /* pad by columns, not bytes (names may hold UTF-8) */
        int cols = 0;
        for (const char *q = name; *q; q++) cols += ((unsigned char)*q & 0xC0) != 0x80;
        snprintf(cell, sizeof cell, "%s%*s", name, name_w - cols > 0 ? name_w - cols : 0, "");
        if (!e->ok) {
            tui_textf(s, y, 0, w, sel ? TUI_C_SELECTION : TUI_C_DIM, true, "%s %-9s not usable: %s", cell,
                      qs_scan_source_name(e->source), e->reason);
            continue;
        }
        char sz[32], np[32];
        tui_fmt_bytes(e->size, sz, sizeof sz);
        tui_fmt_count(e->n_params, np, sizeof np);
        tui_textf(s, y, 0, w, sel ? TUI_C_SELECTION : e->source == QS_SCAN_DEMO ? TUI_C_CHANGED : TUI_C_TEXT, true,
                  "%s %-9s %-10.10s %-12.12s %10s %8s", cell, qs_scan_source_name(e->source),
                  e->arch[0] ? e->arch : "?", e->type, sz, np);
    }
    int sy = ui->rows - 2;
    if (ui->app.status[0]) {
        tui_text(s, sy, 0, w, ui->app.status_error ? TUI_C_ERROR : TUI_C_DIM, ui->app.status, true);
    } else if (p->list.n && p->pos.selected < p->list.n) {
        const qs_scan_entry *e = &p->list.v[p->pos.selected];
        if (e->ok) tui_textf(s, sy, 0, w, TUI_C_DIM, true, "%s%s%s", e->path, e->label[0] ? "  -- " : "", e->label);
        else tui_textf(s, sy, 0, w, TUI_C_ERROR, true, "%s: %s", e->path, e->reason);
    } else {
        tui_text(s, sy, 0, w, TUI_C_DIM, p->scanning ? "" : "no models found", true);
    }
    tui_function_bar(s, ui->rows - 1, w, TUI_VIEW_PICKER);
}

/* ---- keys ---------------------------------------------------------------------------------- */

static void open_selected(tui_ui *ui) {
    struct tui_picker *p = ui->picker;
    if (p->scanning || !p->list.n) return;
    const qs_scan_entry *e = &p->list.v[p->pos.selected];
    if (!e->ok) {
        tui_pl_say(&ui->app, true, "%s cannot be opened: %s", e->name, e->reason);
        return;
    }
    char path[1024];
    qs_error err;
    snprintf(path, sizeof path, "%s", e->path);
    if (e->source == QS_SCAN_DEMO && !qs_demo_model(path, sizeof path, &err)) {
        tui_pl_message(ui, "demo model", "%s", err.msg);
        return;
    }
    if (tui_app_open(&ui->app, path, p->plan_path[0] ? p->plan_path : NULL, &err) != QS_OK) {
        memset(&ui->app, 0, sizeof ui->app);
        tui_pl_message(ui, "model not opened", "%s", err.msg);
        return;
    }
    tui_picker_close(ui);
    ui->view = TUI_VIEW_MODEL;
    ui->mode = TUI_MODE_NORMAL;
}

void tui_picker_key(tui_ui *ui, int ch) {
    struct tui_picker *p = ui->picker;
    tui_action act = tui_key_action(ch, TUI_VIEW_PICKER);
    int h = p->list_h > 0 ? p->list_h : 1;
    ui->app.status[0] = 0;
    switch (act) {
    case TUI_ACT_UP: tui_list_move(&p->pos, -1, h); break;
    case TUI_ACT_DOWN: tui_list_move(&p->pos, +1, h); break;
    case TUI_ACT_PGUP: tui_list_page(&p->pos, -1, h); break;
    case TUI_ACT_PGDN: tui_list_page(&p->pos, +1, h); break;
    case TUI_ACT_HOME: tui_list_home(&p->pos, h); break;
    case TUI_ACT_END: tui_list_end(&p->pos, h); break;
    case TUI_ACT_OPEN: open_selected(ui); break;
    case TUI_ACT_RESCAN: {
        qs_error err;
        if (!p->scanning && start_scan(p, &err) != QS_OK) tui_pl_message(ui, "model scan", "%s", err.msg);
        break;
    }
    case TUI_ACT_HELP:
        ui->mode = TUI_MODE_HELP;
        ui->help.selected = ui->help.top = 0;
        break;
    case TUI_ACT_QUIT: ui->quit = true; break;
    case TUI_ACT_REDRAW: clearok(curscr, TRUE); break;
    default: break;
    }
}

void tui_picker_mouse(tui_ui *ui) {
    struct tui_picker *p = ui->picker;
    MEVENT me;
    if (getmouse(&me) != OK) return;
    if (ui->mode != TUI_MODE_NORMAL) {
        if (ui->mode == TUI_MODE_MESSAGE && (me.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED))) ui->mode = TUI_MODE_NORMAL;
        return;
    }
    int h = p->list_h > 0 ? p->list_h : 1;
    if (me.bstate & BUTTON4_PRESSED) {
        tui_list_scroll(&p->pos, -3, h);
        return;
    }
#ifdef BUTTON5_PRESSED
    if (me.bstate & BUTTON5_PRESSED) {
        tui_list_scroll(&p->pos, +3, h);
        return;
    }
#endif
    if (!(me.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_DOUBLE_CLICKED))) return;
    if (me.y < p->list_y || me.y >= p->list_y + h) return;
    int i = tui_list_item_at(&p->pos, me.y - p->list_y, h);
    if (i < 0) return;
    p->pos.selected = i;
    tui_list_clamp(&p->pos, h);
    if (me.bstate & BUTTON1_DOUBLE_CLICKED) open_selected(ui);
}
