/* tui_run: terminal setup, the event loop (poll on stdin and the event pipe), the frame, the
 * modal overlays (help, presets, messages, quit confirmation, typed context). */
#include "tui.h"

#include <curses.h>
#include <errno.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "tui_chat.h"
#include "tui_quality.h"
#include "tui_planui.h"
#include "tui_ui.h"

#ifndef QS_THEMES_DIR
#define QS_THEMES_DIR "/usr/local/share/quantscope/themes"
#endif
#ifndef QS_SOURCE_THEMES_DIR
#define QS_SOURCE_THEMES_DIR "themes"
#endif

static tui_events *g_events; /* for the SIGWINCH handler only */

static void on_winch(int sig) {
    (void)sig;
    if (g_events) tui_events_wake(g_events);
}

/* ---- frame --------------------------------------------------------------------------------- */

static void draw_header(tui_ui *ui) {
    tui_app *a = &ui->app;
    const char *base = strrchr(a->model_path, '/');
    base = base ? base + 1 : a->model_path;
    const char *pbase = a->plan_path[0] ? strrchr(a->plan_path, '/') : NULL;
    pbase = pbase ? pbase + 1 : a->plan_path[0] ? a->plan_path : "(new plan)";
    char size[32];
    tui_textf(&ui->scr, 0, 0, ui->cols, TUI_C_HEADER, true, " quantscope  %s  plan %s%s  %s weights planned",
              base, pbase, tui_app_dirty(a) ? " [modified]" : "",
              tui_fmt_bytes(a->planned_bytes, size, sizeof size));
}

static void draw_help(tui_ui *ui) {
    const tui_keydef *t;
    int n = tui_keys(&t);
    int h = ui->rows - 4, w = ui->cols - 4;
    if (w > 90) w = 90;
    int x0 = (ui->cols - w) / 2, y0 = 2;
    tui_box(&ui->scr, y0, x0, h, w, "Help: keys (arrows scroll, Esc closes)");
    static char lines[128][160];
    static tui_elem le[128];
    int k = 0;
    /* the current screen's keys first, then the other views', the overlays', and last the keys
     * that work everywhere (the bottom bar shows most of those) */
    int order[1 + TUI_VIEW_COUNT + (TUI_VIEW_OVERLAY_END - TUI_VIEW_PICKER)], n_passes = 0;
    int cur = tui_picker_active(ui) ? TUI_VIEW_PICKER : (int)ui->view;
    order[n_passes++] = cur;
    for (int v = 0; v < TUI_VIEW_COUNT; v++)
        if (v != cur) order[n_passes++] = v;
    for (int v = TUI_VIEW_PICKER; v < TUI_VIEW_OVERLAY_END; v++)
        if (v != cur) order[n_passes++] = v;
    order[n_passes++] = TUI_VIEW_GLOBAL;
    for (int pass = 0; pass < n_passes && k < 128; pass++) {
        int view = order[pass];
        bool any = false;
        for (int i = 0; i < n && k < 127; i++) {
            if (t[i].view != view) continue;
            bool seen = false; /* one line per (view, action): its keys together */
            for (int j = 0; j < i && !seen; j++) seen = t[j].view == view && t[j].action == t[i].action;
            if (seen) continue;
            if (!any) {
                snprintf(lines[k], sizeof lines[k], "%s", view < 0 ? "Everywhere" : tui_view_name((tui_view)view));
                le[k++] = TUI_C_TITLE;
                any = true;
            }
            char keys[64] = "";
            for (int j = i; j < n; j++) {
                if (t[j].view != view || t[j].action != t[i].action) continue;
                char kb[16];
                const char *name = tui_key_name(t[j].key, kb, sizeof kb);
                char with[20];
                snprintf(with, sizeof with, "/%s/", name);
                char have[70];
                snprintf(have, sizeof have, "/%s/", keys);
                if (strstr(have, with)) continue;
                size_t len = strlen(keys);
                snprintf(keys + len, sizeof keys - len, "%s%s", len ? "/" : "", name);
            }
            snprintf(lines[k], sizeof lines[k], "  %-14s %s", keys, t[i].help);
            le[k++] = TUI_C_TEXT;
        }
    }
    if (k < 128) {
        snprintf(lines[k], sizeof lines[k], "Mouse: click a tab or a row to select it, wheel to scroll.");
        le[k++] = TUI_C_DIM;
    }
    ui->help.n = k;
    int ih = h - 2;
    tui_list_clamp(&ui->help, ih);
    for (int r = 0; r < ih; r++) {
        int i = tui_list_item_at(&ui->help, r, ih);
        if (i >= 0) tui_text(&ui->scr, y0 + 1 + r, x0 + 2, w - 4, le[i], lines[i], false);
    }
}

static void draw_presets(tui_ui *ui) {
    int h = QS_PRESET_COUNT + 2;
    if (h > ui->rows - 4) h = ui->rows - 4;
    int w = 34, x0 = (ui->cols - w) / 2, y0 = 2;
    tui_box(&ui->scr, y0, x0, h, w, "Presets (Enter applies)");
    int ih = h - 2;
    tui_list_clamp(&ui->presets, ih);
    for (int r = 0; r < ih; r++) {
        int i = tui_list_item_at(&ui->presets, r, ih);
        if (i < 0) continue;
        char b[48];
        if (i == QS_PRESET_NONE)
            snprintf(b, sizeof b, "none (default %s)", qs_type_name(ui->app.plan.default_type));
        else
            snprintf(b, sizeof b, "%s", qs_preset_name((qs_preset)i));
        tui_text(&ui->scr, y0 + 1 + r, x0 + 1, w - 2, i == ui->presets.selected ? TUI_C_SELECTION : TUI_C_TEXT, b, true);
    }
}

static void draw_message(tui_ui *ui) {
    int w = ui->cols - 8;
    if (w > 100) w = 100;
    int tw = w - 4;
    /* wrap */
    char lines[16][128];
    int n = 0;
    const char *p = ui->msg;
    while (*p && n < 16) {
        int len = (int)strlen(p);
        int take = len < tw ? len : tw;
        if (take < len)
            for (int i = take; i > tw / 2; i--)
                if (p[i] == ' ') { take = i; break; }
        if (take > 127) take = 127;
        memcpy(lines[n], p, (size_t)take);
        lines[n][take] = 0;
        n++;
        p += take;
        while (*p == ' ') p++;
    }
    int h = n + 4;
    if (h > ui->rows - 2) h = ui->rows - 2;
    int x0 = (ui->cols - w) / 2, y0 = (ui->rows - h) / 2;
    tui_box(&ui->scr, y0, x0, h, w, ui->msg_title);
    for (int i = 0; i < n && i < h - 4; i++) tui_text(&ui->scr, y0 + 1 + i, x0 + 2, tw, TUI_C_TEXT, lines[i], false);
    tui_text(&ui->scr, y0 + h - 2, x0 + 2, tw, TUI_C_DIM, "(any key closes)", false);
}

static void draw(tui_ui *ui) {
    getmaxyx(stdscr, ui->rows, ui->cols);
    if (!tui_size_ok(ui->cols, ui->rows)) {
        tui_too_small(&ui->scr, ui->cols, ui->rows);
        refresh();
        return;
    }
    if (tui_picker_active(ui)) {
        tui_picker_draw(ui);
        if (ui->mode == TUI_MODE_HELP) draw_help(ui);
        if (ui->mode == TUI_MODE_MESSAGE) draw_message(ui);
        refresh();
        return;
    }
    draw_header(ui);
    tui_tabs(&ui->scr, 1, ui->cols, ui->view, ui->tab_w);
    tui_view_draw(ui, 2, ui->rows - 4);
    int sy = ui->rows - 2;
    if (ui->mode == TUI_MODE_CONFIRM_QUIT)
        tui_text(&ui->scr, sy, 0, ui->cols, TUI_C_WARN,
                 "The plan has unsaved changes (s saves them). Quit anyway? [y/N]", true);
    else if (ui->mode == TUI_MODE_INPUT_CTX)
        tui_textf(&ui->scr, sy, 0, ui->cols, TUI_C_TEXT, true,
                  "context length (tokens, k = x1024; Enter sets, Esc cancels): %s_", ui->input);
    else if (tui_pl_status(ui, sy))
        ;
    else {
        int gw = tui_jobs_gauge(ui, sy, ui->cols);
        tui_text(&ui->scr, sy, 0, ui->cols - gw, ui->app.status_error ? TUI_C_ERROR : TUI_C_DIM, ui->app.status, true);
    }
    tui_function_bar(&ui->scr, ui->rows - 1, ui->cols, tui_pl_bar_view(ui));
    if (ui->mode == TUI_MODE_HELP) draw_help(ui);
    if (ui->mode == TUI_MODE_PRESETS) draw_presets(ui);
    tui_pl_draw(ui);
    if (ui->mode == TUI_MODE_MESSAGE) draw_message(ui);
    refresh();
}

/* ---- input --------------------------------------------------------------------------------- */

static void list_action(tui_ui *ui, tui_list_pos *p, tui_action act, int h) {
    switch (act) {
    case TUI_ACT_UP: tui_list_move(p, -1, h); break;
    case TUI_ACT_DOWN: tui_list_move(p, +1, h); break;
    case TUI_ACT_PGUP: tui_list_page(p, -1, h); break;
    case TUI_ACT_PGDN: tui_list_page(p, +1, h); break;
    case TUI_ACT_HOME: tui_list_home(p, h); break;
    case TUI_ACT_END: tui_list_end(p, h); break;
    default: break;
    }
}

static void request_quit(tui_ui *ui) {
    if (tui_app_dirty(&ui->app)) ui->mode = TUI_MODE_CONFIRM_QUIT;
    else ui->quit = true;
}

static void on_mouse(tui_ui *ui) {
    MEVENT me;
    if (getmouse(&me) != OK) return;
    if (ui->mode != TUI_MODE_NORMAL) {
        if (ui->mode == TUI_MODE_MESSAGE && (me.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED))) ui->mode = TUI_MODE_NORMAL;
        return;
    }
    tui_list_pos *p = &ui->list[ui->view];
    int h = ui->body_h > 0 ? ui->body_h : 1;
    if (ui->view == TUI_VIEW_CHAT && (me.bstate & BUTTON4_PRESSED)) {
        tui_chat_scroll(ui, -3);
        return;
    }
#ifdef BUTTON5_PRESSED
    if (ui->view == TUI_VIEW_CHAT && (me.bstate & BUTTON5_PRESSED)) {
        tui_chat_scroll(ui, +3);
        return;
    }
#endif
    if (me.bstate & BUTTON4_PRESSED) {
        tui_list_scroll(p, -3, h);
        return;
    }
#ifdef BUTTON5_PRESSED
    if (me.bstate & BUTTON5_PRESSED) {
        tui_list_scroll(p, +3, h);
        return;
    }
#endif
    if (!(me.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_DOUBLE_CLICKED))) return;
    if (me.y == 1) {
        int v = tui_tab_at(ui->tab_w, TUI_VIEW_COUNT, 1, me.x);
        if (v >= 0) ui->view = (tui_view)v;
        return;
    }
    if (me.y >= ui->body_y && me.y < ui->body_y + ui->body_h) {
        int i = tui_list_item_at(p, me.y - ui->body_y, h);
        if (i >= 0) {
            p->selected = i;
            tui_list_clamp(p, h);
            if ((me.bstate & BUTTON1_DOUBLE_CLICKED) && ui->view == TUI_VIEW_LAYERS)
                tui_view_action(ui, TUI_ACT_EXPAND);
        }
    }
}

static void on_key(tui_ui *ui, int ch) {
    if (ch == KEY_RESIZE) return; /* the next frame reads the new size */
    if (ch == KEY_MOUSE) {
        if (tui_picker_active(ui)) tui_picker_mouse(ui);
        else on_mouse(ui);
        return;
    }
    if (!tui_size_ok(ui->cols, ui->rows)) {
        if (ch == 'q' || ch == KEY_F(10)) request_quit(ui);
        if (ui->mode == TUI_MODE_CONFIRM_QUIT && (ch == 'y' || ch == 'Y')) ui->quit = true;
        return;
    }
    if (tui_picker_active(ui) && ui->mode == TUI_MODE_NORMAL) {
        tui_picker_key(ui, ch);
        return;
    }
    switch (ui->mode) {
    case TUI_MODE_CONFIRM_QUIT:
        if (ch == 'y' || ch == 'Y') ui->quit = true;
        else ui->mode = TUI_MODE_NORMAL;
        return;
    case TUI_MODE_MESSAGE:
        ui->mode = TUI_MODE_NORMAL;
        return;
    case TUI_MODE_INPUT_CTX: {
        size_t len = strlen(ui->input);
        if (ch == TUI_KEY_ESC) ui->mode = TUI_MODE_NORMAL;
        else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
            if (len) ui->input[len - 1] = 0;
        } else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
            char *end;
            long long v = strtoll(ui->input, &end, 10);
            if (*end == 'k' || *end == 'K') { v *= 1024; end++; }
            if (end == ui->input || *end || v <= 0) {
                snprintf(ui->app.status, sizeof ui->app.status, "not a context length: '%s'", ui->input);
                ui->app.status_error = true;
            } else {
                tui_app_set_ctx(&ui->app, v);
            }
            ui->mode = TUI_MODE_NORMAL;
        } else if (((ch >= '0' && ch <= '9') || ch == 'k' || ch == 'K') && len + 1 < sizeof ui->input) {
            ui->input[len] = (char)ch;
            ui->input[len + 1] = 0;
        }
        return;
    }
    case TUI_MODE_HELP: {
        tui_action act = tui_key_action(ch, TUI_VIEW_GLOBAL);
        if (ch == TUI_KEY_ESC || act == TUI_ACT_HELP || ch == 'q') ui->mode = TUI_MODE_NORMAL;
        else list_action(ui, &ui->help, act, ui->rows - 6 > 0 ? ui->rows - 6 : 1);
        return;
    }
    case TUI_MODE_PRESETS: {
        int h = QS_PRESET_COUNT < ui->rows - 6 ? QS_PRESET_COUNT : ui->rows - 6;
        if (h < 1) h = 1;
        if (ch == TUI_KEY_ESC || ch == 'q') ui->mode = TUI_MODE_NORMAL;
        else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER || ch == ' ') {
            tui_app_set_preset(&ui->app, (qs_preset)ui->presets.selected);
            ui->mode = TUI_MODE_NORMAL;
        } else list_action(ui, &ui->presets, tui_key_action(ch, TUI_VIEW_GLOBAL), h);
        return;
    }
    case TUI_MODE_NORMAL: break;
    default: /* tui_planui.c's modes */
        tui_pl_key(ui, ch);
        return;
    }
    if (ui->view == TUI_VIEW_CHAT && tui_chat_key(ui, ch)) return; /* its line editor comes first */
    tui_action act = tui_key_action(ch, ui->view);
    if (tui_pl_action(ui, act)) return;
    if (tui_view_action(ui, act)) return;
    int h = ui->body_h > 0 ? ui->body_h : 1;
    switch (act) {
    case TUI_ACT_QUIT: request_quit(ui); break;
    case TUI_ACT_HELP:
        ui->mode = TUI_MODE_HELP;
        ui->help.selected = ui->help.top = 0;
        break;
    case TUI_ACT_NEXT_VIEW: ui->view = (tui_view)((ui->view + 1) % TUI_VIEW_COUNT); break;
    case TUI_ACT_PREV_VIEW: ui->view = (tui_view)((ui->view + TUI_VIEW_COUNT - 1) % TUI_VIEW_COUNT); break;
    case TUI_ACT_VIEW_1: case TUI_ACT_VIEW_2: case TUI_ACT_VIEW_3:
    case TUI_ACT_VIEW_4: case TUI_ACT_VIEW_5: case TUI_ACT_VIEW_6:
        ui->view = (tui_view)(act - TUI_ACT_VIEW_1);
        break;
    case TUI_ACT_REDRAW: clearok(curscr, TRUE); break;
    case TUI_ACT_UP: case TUI_ACT_DOWN: case TUI_ACT_PGUP: case TUI_ACT_PGDN:
    case TUI_ACT_HOME: case TUI_ACT_END:
        list_action(ui, &ui->list[ui->view], act, h);
        break;
    default: break;
    }
}

/* ---- heap figures for the long-run tests ---------------------------------------------------- */

/* QS_TUI_MEMSTATS=FILE (a test aid, tests/long/tui_soak.sh): at most every 50 ms, after a frame,
 * FILE is replaced (written beside it, then renamed) by one line "in_use BYTES free BYTES":
 * the bytes the allocator has handed out and not got back (glibc mallinfo2: uordblks + hblkhd)
 * and those it holds free (fordblks). The soak subtracts in_use from RssAnon, so what the
 * program legitimately holds at the moment (a chat's contexts, error tables) does not hide or
 * fake a creep of memory the allocator keeps. Without glibc >= 2.33 nothing is written. */
static void write_memstats(const char *path, int64_t *last_ns) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (*last_ns && now - *last_ns < 50000000) return;
    *last_ns = now;
    struct mallinfo2 mi = mallinfo2();
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return;
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "in_use %zu free %zu\n", mi.uordblks + mi.hblkhd, mi.fordblks);
    if (fclose(f) == 0) rename(tmp, path);
#else
    (void)path;
    (void)last_ns;
#endif
}

/* ---- run ----------------------------------------------------------------------------------- */

static bool locale_utf8(void) {
    const char *cs = nl_langinfo(CODESET);
    return cs && (!strcasecmp(cs, "UTF-8") || !strcasecmp(cs, "utf8"));
}

int tui_run(const char *model_path, const char *plan_path, const char *theme, qs_error *err) {
    bool picker = !model_path || !*model_path;
    setlocale(LC_ALL, "");
    tui_ui *ui = calloc(1, sizeof *ui);
    if (!ui) return qs_error_set(err, "out of memory");
    if (!picker && tui_app_open(&ui->app, model_path, plan_path, err) != QS_OK) {
        free(ui);
        return QS_ERR;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        tui_app_close(&ui->app);
        free(ui);
        return qs_error_set(err, "the explorer needs a terminal (stdin and stdout)");
    }
    if (tui_events_init(&ui->ev, err) != QS_OK) {
        tui_app_close(&ui->app);
        free(ui);
        return QS_ERR;
    }
    /* two workers refine error figures; two more are kept for what the person waits for (a chat
     * reply, an export), so those never queue behind the refinement */
    if (tui_jobs_init(&ui->jobs, &ui->ev, 2, 2, err) != QS_OK) {
        tui_events_destroy(&ui->ev);
        tui_app_close(&ui->app);
        free(ui);
        return QS_ERR;
    }
    if (tui_pl_init(ui) != QS_OK || (picker && tui_picker_open(ui, plan_path, err) != QS_OK)) {
        if (!ui->pl) qs_error_set(err, "out of memory");
        tui_pl_shutdown(ui);
        tui_jobs_shutdown(&ui->jobs);
        tui_events_drain(&ui->ev, ui);
        tui_events_destroy(&ui->ev);
        tui_app_close(&ui->app);
        free(ui);
        return QS_ERR;
    }
    tui_theme th;
    qs_error terr;
    static const char *const dirs[] = {QS_THEMES_DIR, QS_SOURCE_THEMES_DIR, NULL};
    bool theme_bad = tui_theme_find(theme, dirs, &th, &terr) != QS_OK;

    const char *nc = getenv("NO_COLOR");
    bool no_color = nc && *nc;
    if (!getenv("ESCDELAY")) set_escdelay(25);
    if (!initscr()) {
        tui_picker_close(ui);
        tui_pl_shutdown(ui);
        tui_jobs_shutdown(&ui->jobs);
        tui_events_drain(&ui->ev, ui);
        tui_events_destroy(&ui->ev);
        tui_app_close(&ui->app);
        free(ui);
        return qs_error_set(err, "cannot initialise the terminal (TERM=%s)", getenv("TERM") ? getenv("TERM") : "");
    }
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    curs_set(0);
    mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
                  | BUTTON5_PRESSED
#endif
              , NULL);
    mouseinterval(0);
    ui->scr.utf8 = locale_utf8();
    tui_screen_apply(&ui->scr, &th, no_color);
    if (theme_bad) {
        snprintf(ui->msg_title, sizeof ui->msg_title, "theme not used");
        snprintf(ui->msg, sizeof ui->msg, "%s -- using the built-in default-dark theme.", terr.msg);
        ui->mode = TUI_MODE_MESSAGE;
    }

    /* ncurses turns SIGWINCH into KEY_RESIZE; our handler, chained in front, also wakes poll() */
    g_events = &ui->ev;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sigaction(SIGWINCH, NULL, &old);
    sa = old;
    bool chained = old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN;
    if (chained) {
        sa.sa_handler = on_winch;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        sigaction(SIGWINCH, &sa, NULL);
    }

    const char *memstats = getenv("QS_TUI_MEMSTATS");
    int64_t memstats_ns = 0;
    draw(ui);
    while (!ui->quit) {
        bool woke = false;
        struct pollfd pf[2] = {{STDIN_FILENO, POLLIN, 0}, {tui_events_fd(&ui->ev), POLLIN, 0}};
        int pr = poll(pf, 2, 1000);
        if (pr < 0 && errno != EINTR) break;
        if (pr > 0 && (pf[1].revents & POLLIN)) {
            tui_events_drain(&ui->ev, ui);
            woke = true;
        }
        if (pr > 0 && (pf[0].revents & (POLLHUP | POLLERR | POLLNVAL))) break;
        int ch;
        /* one frame per key: list sizes and positions are those of the frame the key acts on */
        while (!ui->quit && (ch = getch()) != ERR) {
            on_key(ui, ch);
            if (!ui->quit) draw(ui);
        }
        if (woke || pr <= 0) draw(ui);
        if (memstats && *memstats) write_memstats(memstats, &memstats_ns);
    }
    if (chained) sigaction(SIGWINCH, &old, NULL);
    g_events = NULL;
    endwin();
    tui_picker_close(ui);
    tui_pl_shutdown(ui);
    /* stop the workers, then let the ended jobs' done calls free what they own */
    tui_jobs_shutdown(&ui->jobs);
    tui_events_drain(&ui->ev, ui);
    tui_chat_free(ui);
    tui_quality_free(ui);
    tui_events_destroy(&ui->ev);
    tui_app_close(&ui->app);
    free(ui);
    return QS_OK;
}
