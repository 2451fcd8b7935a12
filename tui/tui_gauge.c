/* The status line's gauge of background jobs (the oldest running job, and how many more). */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "tui_plot.h"
#include "tui_ui.h"

int tui_jobs_gauge(tui_ui *ui, int y, int w) {
    tui_job_info info[8];
    int n = tui_jobs_list(&ui->jobs, info, 8);
    if (n <= 0 || w < 12) return 0;
    const tui_job_info *j = &info[0];
    const tui_screen *s = &ui->scr;
    char more[16] = "";
    if (n > 1) snprintf(more, sizeof more, " +%d", n - 1);
    int pct = tui_gauge_percent(j->done, j->total);
    char tail[24];
    if (j->cancelling) snprintf(tail, sizeof tail, " stopping");
    else if (!j->running) snprintf(tail, sizeof tail, " queued");
    else if (pct < 0) snprintf(tail, sizeof tail, " ...");
    else snprintf(tail, sizeof tail, " %3d%%", pct);
    int label_w = (int)strlen(j->label);
    if (label_w > 24) label_w = 24;
    int bar = pct >= 0 && j->running && !j->cancelling ? 10 : 0;
    int need = 1 + label_w + (bar ? bar + 3 : 0) + (int)strlen(tail) + (int)strlen(more);
    if (need > w / 2) {
        bar = 0;
        need = 1 + label_w + (int)strlen(tail) + (int)strlen(more);
    }
    if (need > w / 2) return 0;
    int x = w - need;
    tui_textf(s, y, x, 1 + label_w, TUI_C_DIM, true, " %.*s", label_w, j->label);
    x += 1 + label_w;
    if (bar) {
        int fill = tui_gauge_fill(j->done, j->total, bar);
        tui_text(s, y, x, 2, TUI_C_DIM, " [", false);
        x += 2;
        uint64_t parts[1] = {(uint64_t)fill};
        tui_elem el[1] = {TUI_C_BAR_WEIGHTS_DEVICE};
        tui_meter(s, y, x, bar, parts, el, 1, (uint64_t)bar);
        x += bar;
        tui_text(s, y, x++, 1, TUI_C_DIM, "]", false);
    }
    tui_textf(s, y, x, w - x, TUI_C_DIM, false, "%s%s", tail, more);
    return need;
}
