/* The rules list, the rule editor (live PCRE2 validation with the error offset, the matching
 * tensors as you type) and the keep first / last blocks form. Figures from tui_planedit.h. */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "tui_planui.h"

static int box_h(const tui_ui *ui) { return ui->rows - 4 > 6 ? ui->rows - 4 : 6; }
static int box_w(const tui_ui *ui) { return ui->cols - 4 > 30 ? ui->cols - 4 : ui->cols; }

/* ---- the rules list ------------------------------------------------------------------------ */

void tui_rules_open(tui_ui *ui) {
    tui_plan_ui *pl = ui->pl;
    pl->rules.n = ui->app.plan.n_rules;
    tui_list_clamp(&pl->rules, 1);
    ui->mode = TUI_MODE_RULES;
}

void tui_rules_free(tui_ui *ui) {
    tui_rule_preview_free(&ui->pl->pv);
    tui_preview_free(&ui->pl->keep_pv);
}

static void refresh_preview(tui_ui *ui) {
    tui_plan_ui *pl = ui->pl;
    tui_rule_preview_free(&pl->pv);
    tui_rule_preview_make(&ui->app, pl->edit_at, pl->edit_replace, pl->pat.text, pl->edit_type, &pl->pv);
    pl->matches.n = pl->pv.valid ? pl->pv.n_matched : 0;
    tui_list_clamp(&pl->matches, 1);
}

static void start_edit(tui_ui *ui, int at, bool replace) {
    tui_plan_ui *pl = ui->pl;
    const qs_plan *p = &ui->app.plan;
    pl->edit_at = at;
    pl->edit_replace = replace;
    if (replace) {
        tui_line_set(&pl->pat, p->rules[at].pattern);
        pl->edit_type = p->rules[at].type;
    } else {
        tui_line_set(&pl->pat, "");
        /* rules mostly keep tensors at more bits than the rest */
        qs_type base = p->default_type;
        pl->edit_type = tui_ladder_step(base, +1);
        if (!qs_plan_type_allowed(pl->edit_type)) pl->edit_type = QS_TYPE_Q8_0;
    }
    pl->pat_first = 0;
    pl->matches.selected = pl->matches.top = 0;
    refresh_preview(ui);
    ui->mode = TUI_MODE_RULE_EDIT;
}

static int list_h(const tui_ui *ui) {
    int h = box_h(ui) - 5;
    return h > 1 ? h : 1;
}

static void rules_list_key(tui_ui *ui, int ch) {
    tui_plan_ui *pl = ui->pl;
    tui_app *a = &ui->app;
    tui_list_pos *p = &pl->rules;
    p->n = a->plan.n_rules;
    int h = list_h(ui);
    int sel = p->selected;
    tui_action act = tui_key_action(ch, TUI_VIEW_RULES);
    qs_error err;
    switch (act) {
    case TUI_ACT_UP: tui_list_move(p, -1, h); break;
    case TUI_ACT_DOWN: tui_list_move(p, +1, h); break;
    case TUI_ACT_PGUP: tui_list_page(p, -1, h); break;
    case TUI_ACT_PGDN: tui_list_page(p, +1, h); break;
    case TUI_ACT_HOME: tui_list_home(p, h); break;
    case TUI_ACT_END: tui_list_end(p, h); break;
    case TUI_ACT_ADD: start_edit(ui, p->n ? sel + 1 : 0, false); break;
    case TUI_ACT_EDIT:
        if (p->n) start_edit(ui, sel, true);
        break;
    case TUI_ACT_DELETE:
        if (p->n && tui_app_rule_delete(a, sel) == QS_OK) p->n = a->plan.n_rules;
        break;
    case TUI_ACT_MOVE_UP:
    case TUI_ACT_MOVE_DOWN: {
        int dir = act == TUI_ACT_MOVE_UP ? -1 : +1;
        if (p->n && tui_app_rule_move(a, sel, dir) == QS_OK) p->selected = sel + dir;
        break;
    }
    case TUI_ACT_TYPE_UP:
    case TUI_ACT_TYPE_DOWN:
        if (p->n) {
            const qs_plan_rule *r = &a->plan.rules[sel];
            qs_type t = tui_ladder_step(r->type, act == TUI_ACT_TYPE_UP ? +1 : -1);
            char pat[1024];
            snprintf(pat, sizeof pat, "%s", r->pattern);
            if (t != r->type && tui_app_rule_put(a, sel, true, pat, t, &err) != QS_OK) {
                tui_pl_say(a, true, "%s", err.msg);
            }
        }
        break;
    case TUI_ACT_CANCEL: ui->mode = TUI_MODE_NORMAL; break;
    default: break;
    }
    p->n = a->plan.n_rules;
    tui_list_clamp(p, h);
}

static void rule_edit_key(tui_ui *ui, int ch) {
    tui_plan_ui *pl = ui->pl;
    tui_app *a = &ui->app;
    tui_action act = tui_key_action_in(ch, TUI_VIEW_RULE_EDIT);
    int mh = box_h(ui) - 9;
    if (mh < 1) mh = 1;
    switch (act) {
    case TUI_ACT_ACCEPT: {
        if (!pl->pv.valid) return; /* the message is on screen already */
        qs_error err;
        if (tui_app_rule_put(a, pl->edit_at, pl->edit_replace, pl->pat.text, pl->edit_type, &err) != QS_OK) {
            snprintf(pl->pv.err.msg, sizeof pl->pv.err.msg, "%s", err.msg);
            pl->pv.valid = false;
            return;
        }
        pl->rules.n = a->plan.n_rules;
        pl->rules.selected = pl->edit_at < a->plan.n_rules ? pl->edit_at : a->plan.n_rules - 1;
        tui_rule_preview_free(&pl->pv);
        ui->mode = TUI_MODE_RULES;
        return;
    }
    case TUI_ACT_CANCEL:
        tui_rule_preview_free(&pl->pv);
        ui->mode = TUI_MODE_RULES;
        return;
    case TUI_ACT_TYPE_UP:
    case TUI_ACT_TYPE_DOWN: {
        qs_type t = tui_ladder_step(pl->edit_type, act == TUI_ACT_TYPE_UP ? +1 : -1);
        if (qs_plan_type_allowed(t)) pl->edit_type = t;
        refresh_preview(ui);
        return;
    }
    case TUI_ACT_PGUP: tui_list_page(&pl->matches, -1, mh); return;
    case TUI_ACT_PGDN: tui_list_page(&pl->matches, +1, mh); return;
    default: break;
    }
    if (tui_line_key(&pl->pat, ch) == TUI_LINE_CHANGED) refresh_preview(ui);
}

void tui_rules_key(tui_ui *ui, int ch) {
    if (ui->mode == TUI_MODE_RULE_EDIT) rule_edit_key(ui, ch);
    else rules_list_key(ui, ch);
}

static void draw_list(tui_ui *ui) {
    tui_plan_ui *pl = ui->pl;
    tui_app *a = &ui->app;
    const qs_plan *p = &a->plan;
    const tui_screen *s = &ui->scr;
    int h = box_h(ui), w = box_w(ui), y0 = 2, x0 = (ui->cols - w) / 2;
    tui_box(s, y0, x0, h, w, "Rules: PCRE2 pattern -> type, first match wins");
    int iw = w - 4, x = x0 + 2, y = y0 + 1;
    char keep[96] = "";
    if (p->keep_first || p->keep_last)
        snprintf(keep, sizeof keep, ", keep first %d / last %d at %s", p->keep_first, p->keep_last,
                 qs_type_name(p->keep_type));
    tui_textf(s, y++, x, iw, TUI_C_DIM, true, "before the rules: tensor overrides %d, block overrides %d%s",
              p->n_tensors, p->n_layers, keep);
    int pw = iw - 34;
    if (pw < 10) pw = 10;
    tui_textf(s, y++, x, iw, TUI_C_TITLE, true, "%3s  %-*s %-8s %8s %8s", "#", pw, "pattern", "type", "decides", "matches");
    int lh = list_h(ui);
    pl->rules.n = p->n_rules;
    tui_list_clamp(&pl->rules, lh);
    if (!p->n_rules) tui_text(s, y, x, iw, TUI_C_DIM, "(no rules: a adds one)", true);
    for (int r = 0; r < lh && p->n_rules; r++) {
        int i = tui_list_item_at(&pl->rules, r, lh);
        if (i < 0) continue;
        char dec[16] = "-", mat[16] = "-";
        if (a->res_ok) {
            snprintf(dec, sizeof dec, "%d", a->res.rule_decided[i]);
            snprintf(mat, sizeof mat, "%d", a->res.rule_matched[i]);
        }
        bool sel = i == pl->rules.selected;
        bool idle = a->res_ok && !a->res.rule_decided[i];
        tui_textf(s, y + r, x, iw, sel ? TUI_C_SELECTION : idle ? TUI_C_WARN : TUI_C_TEXT, true,
                  "%3d  %-*.*s %-8s %8s %8s", i + 1, pw, pw, p->rules[i].pattern, qs_type_name(p->rules[i].type), dec,
                  mat);
    }
    char then[96];
    if (p->preset != QS_PRESET_NONE) snprintf(then, sizeof then, "then: preset %s", qs_preset_name(p->preset));
    else snprintf(then, sizeof then, "then: default %s", qs_type_name(p->default_type));
    tui_text(s, y0 + h - 2, x, iw, TUI_C_DIM, then, true);
}

static void draw_editor(tui_ui *ui) {
    tui_plan_ui *pl = ui->pl;
    tui_app *a = &ui->app;
    const tui_screen *s = &ui->scr;
    int h = box_h(ui), w = box_w(ui), y0 = 2, x0 = (ui->cols - w) / 2;
    char title[64];
    snprintf(title, sizeof title, "Rule %d%s", pl->edit_at + 1, pl->edit_replace ? "" : " (new)");
    tui_box(s, y0, x0, h, w, title);
    int iw = w - 4, x = x0 + 2, y = y0 + 1;
    const char *lab = "pattern  ";
    int lx = x + tui_text(s, y, x, iw, TUI_C_TITLE, lab, false);
    int fw = iw - (lx - x);
    int col;
    pl->pat_first = tui_line_view(&pl->pat, fw, pl->pat_first, &col);
    tui_text(s, y, lx, fw, TUI_C_TEXT, pl->pat.text + pl->pat_first, true);
    char under[8] = " ";
    if (pl->pat.cur < pl->pat.len) {
        int e = pl->pat.cur + 1;
        while (e < pl->pat.len && ((unsigned char)pl->pat.text[e] & 0xC0) == 0x80) e++;
        snprintf(under, sizeof under, "%.*s", e - pl->pat.cur, pl->pat.text + pl->pat.cur);
    }
    tui_text(s, y, lx + col, 1, TUI_C_SELECTION, under, false);
    y++;
    const tui_rule_preview *pv = &pl->pv;
    if (!pl->pat.len) {
        tui_text(s, y++, x, iw, TUI_C_DIM, "type a PCRE2 pattern: it is searched in tensor names (blk\\.0\\., ffn_down)", true);
        y++;
    } else if (!pv->valid) {
        /* a caret under the offset PCRE2 names, when it is in view */
        int off = (int)pv->err_offset;
        if (off > pl->pat.len) off = pl->pat.len;
        if (off >= pl->pat_first) {
            int c = tui_line_cols(pl->pat.text, pl->pat_first, off);
            if (c < fw) tui_textf(s, y, lx + c, fw - c, TUI_C_ERROR, true, "^ offset %d", off);
        }
        y++;
        tui_text(s, y++, x, iw, TUI_C_ERROR, pv->err.msg, true);
    } else {
        y += 2;
    }
    tui_textf(s, y++, x, iw, TUI_C_TEXT, true, "type     < %s >   (Up / Down: the ladder)", qs_type_name(pl->edit_type));
    int n = a->pm.n_tensors;
    if (pv->valid && pv->plan.ok) {
        char d[48];
        tui_fmt_delta(pv->plan.bytes_delta, d, sizeof d);
        tui_textf(s, y++, x, iw, pv->n_matched ? TUI_C_OK : TUI_C_WARN, true,
                  "matches %d of %d tensors (%d quantizable), decides %d, %d change type, weights %s",
                  pv->n_matched, n, pv->n_quantizable, pv->n_decided, pv->plan.n_changed, d);
    } else {
        tui_text(s, y++, x, iw, TUI_C_DIM, pl->pat.len && pv->valid ? pv->err.msg : "", true);
    }
    /* the name column as wide as the longest name, leaving room for the types and a note */
    int nw = 16;
    for (int i = 0; i < a->pm.n_tensors; i++)
        if ((int)strlen(a->pt[i].name) + 1 > nw) nw = (int)strlen(a->pt[i].name) + 1;
    if (nw > iw - 50) nw = iw - 50 > 16 ? iw - 50 : 16;
    tui_textf(s, y++, x, iw, TUI_C_TITLE, true, "%-*s %-10s    %s", nw, "matching tensors", "now", "with the rule");
    int mh = y0 + h - 1 - y;
    if (mh < 1) return;
    /* the matched tensors, in model order */
    pl->matches.n = pv->valid ? pv->n_matched : 0;
    tui_list_clamp(&pl->matches, mh);
    int k = 0, shown = 0;
    for (int i = 0; i < n && pv->valid && shown < mh; i++) {
        if (!pv->matched[i]) continue;
        if (k++ < pl->matches.top) continue;
        const qs_plan_choice *c = pv->plan.ok ? &pv->plan.res.choice[i] : NULL;
        int now = a->res_ok ? (int)a->res.choice[i].type : a->pt[i].type;
        bool decides = c && c->reason == QS_REASON_RULE && c->index == pl->edit_at;
        const char *then = !c ? "?" : c->reason == QS_REASON_KEPT ? "kept as stored" : qs_type_name(c->type);
        char note[64] = "";
        if (c && c->reason != QS_REASON_KEPT && !decides) snprintf(note, sizeof note, "  (decided earlier)");
        else if (c && c->fallback) snprintf(note, sizeof note, "  (%s cannot hold a row of %lld)", qs_type_name(c->wanted),
                                            (long long)a->pt[i].ne[0]);
        tui_textf(s, y + shown, x, iw, decides ? TUI_C_CHANGED : c && c->reason == QS_REASON_KEPT ? TUI_C_DIM : TUI_C_TEXT,
                  true, "%-*.*s %-10s -> %s%s", nw, nw, a->pt[i].name, qs_type_name(now), then, note);
        shown++;
    }
    if (pv->valid && pv->n_matched > mh)
        tui_textf(s, y0 + h - 1, x0 + w - 24, 20, TUI_C_BORDER, false, " %d-%d of %d ", pl->matches.top + 1,
                  pl->matches.top + shown, pv->n_matched);
}

void tui_rules_draw(tui_ui *ui) {
    draw_list(ui);
    if (ui->mode == TUI_MODE_RULE_EDIT) draw_editor(ui);
}

/* ---- keep first / last --------------------------------------------------------------------- */

static void keep_refresh(tui_ui *ui) {
    tui_plan_ui *pl = ui->pl;
    tui_preview_free(&pl->keep_pv);
    qs_plan cand;
    qs_plan_init(&cand);
    if (qs_plan_copy(&cand, &ui->app.plan) != QS_OK) return;
    cand.keep_first = pl->keep_first;
    cand.keep_last = pl->keep_last;
    cand.keep_type = pl->keep_type;
    tui_preview_plan(&ui->app, &cand, &pl->keep_pv);
    qs_plan_free(&cand);
}

void tui_keep_open(tui_ui *ui) {
    tui_plan_ui *pl = ui->pl;
    const qs_plan *p = &ui->app.plan;
    pl->keep_first = p->keep_first;
    pl->keep_last = p->keep_last;
    pl->keep_type = qs_plan_type_allowed(p->keep_type) ? p->keep_type : QS_TYPE_Q8_0;
    pl->keep_field = 0;
    keep_refresh(ui);
    ui->mode = TUI_MODE_KEEP;
}

void tui_keep_key(tui_ui *ui, int ch) {
    tui_plan_ui *pl = ui->pl;
    int nl = ui->app.pm.n_layer > 0 ? ui->app.pm.n_layer : 0;
    tui_action act = tui_key_action_in(ch, TUI_VIEW_KEEP);
    int *count = pl->keep_field == 0 ? &pl->keep_first : pl->keep_field == 1 ? &pl->keep_last : NULL;
    switch (act) {
    case TUI_ACT_NEXT_FIELD: pl->keep_field = (pl->keep_field + 1) % 3; return;
    case TUI_ACT_PREV_FIELD: pl->keep_field = (pl->keep_field + 2) % 3; return;
    case TUI_ACT_TYPE_UP:
    case TUI_ACT_TYPE_DOWN: {
        int dir = act == TUI_ACT_TYPE_UP ? +1 : -1;
        if (count) {
            *count += dir;
            if (*count < 0) *count = 0;
            if (*count > nl) *count = nl;
        } else {
            qs_type t = tui_ladder_step(pl->keep_type, dir);
            if (qs_plan_type_allowed(t)) pl->keep_type = t;
        }
        keep_refresh(ui);
        return;
    }
    case TUI_ACT_DELETE:
        pl->keep_first = pl->keep_last = 0;
        keep_refresh(ui);
        return;
    case TUI_ACT_ACCEPT: {
        qs_error err;
        if (tui_app_set_keep(&ui->app, pl->keep_first, pl->keep_last, pl->keep_type, &err) != QS_OK) {
            tui_pl_say(&ui->app, true, "%s", err.msg);
        }
        tui_preview_free(&pl->keep_pv);
        ui->mode = TUI_MODE_NORMAL;
        return;
    }
    case TUI_ACT_CANCEL:
        tui_preview_free(&pl->keep_pv);
        ui->mode = TUI_MODE_NORMAL;
        return;
    default: break;
    }
    /* digits type a count */
    if (count && ch >= '0' && ch <= '9') {
        int v = *count * 10 + (ch - '0');
        *count = v > nl ? ch - '0' : v;
        if (*count > nl) *count = nl;
        keep_refresh(ui);
    } else if (count && (ch == 127 || ch == 8 || ch == KEY_BACKSPACE)) {
        *count /= 10;
        keep_refresh(ui);
    }
}

void tui_keep_draw(tui_ui *ui) {
    tui_plan_ui *pl = ui->pl;
    const tui_screen *s = &ui->scr;
    int w = ui->cols - 4 < 84 ? ui->cols - 4 : 84, h = 8;
    int x0 = (ui->cols - w) / 2, y0 = 3;
    tui_box(s, y0, x0, h, w, "Keep the first / last blocks at a type");
    int x = x0 + 2, y = y0 + 1, iw = w - 4;
    char f[16], l[16];
    snprintf(f, sizeof f, " %d ", pl->keep_first);
    snprintf(l, sizeof l, " %d ", pl->keep_last);
    char t[32];
    snprintf(t, sizeof t, " %s ", qs_type_name(pl->keep_type));
    int cx = x;
    cx += tui_text(s, y, cx, iw, TUI_C_TEXT, "keep the first ", false);
    cx += tui_text(s, y, cx, 8, pl->keep_field == 0 ? TUI_C_SELECTION : TUI_C_CHANGED, f, false);
    cx += tui_text(s, y, cx, 20, TUI_C_TEXT, " and the last ", false);
    cx += tui_text(s, y, cx, 8, pl->keep_field == 1 ? TUI_C_SELECTION : TUI_C_CHANGED, l, false);
    cx += tui_text(s, y, cx, 20, TUI_C_TEXT, " blocks at ", false);
    tui_text(s, y, cx, 12, pl->keep_field == 2 ? TUI_C_SELECTION : TUI_C_CHANGED, t, false);
    y += 2;
    int nl = ui->app.pm.n_layer;
    char blocks[160] = "";
    size_t o = 0;
    int shown = 0;
    for (int b = 0; b < nl && o + 16 < sizeof blocks; b++) {
        bool in = b < pl->keep_first || (pl->keep_last > 0 && b >= nl - pl->keep_last);
        if (!in) continue;
        if (shown++ == 12) {
            o += (size_t)snprintf(blocks + o, sizeof blocks - o, " ...");
            break;
        }
        o += (size_t)snprintf(blocks + o, sizeof blocks - o, "%s%d", o ? ", " : "", b);
    }
    tui_textf(s, y++, x, iw, TUI_C_TEXT, true, "blocks kept: %s (the model has %d)", o ? blocks : "none", nl);
    const tui_preview *pv = &pl->keep_pv;
    if (pv->ok) {
        char d[48];
        tui_fmt_delta(pv->bytes_delta, d, sizeof d);
        tui_textf(s, y++, x, iw, TUI_C_OK, true, "decides %d tensors; %d change type; weights %s", pv->res.keep_decided,
                  pv->n_changed, d);
    } else {
        tui_text(s, y++, x, iw, TUI_C_ERROR, pv->err.msg, true);
    }
    tui_text(s, y++, x, iw, TUI_C_DIM, "Tensor and block overrides come first; the rules and the preset after.", true);
}
