/* The views: Model, Layers and plan, Memory; dispatch to Errors, Trade-off (tui_quality) and Chat.
 * Every figure is read from tui_app (which takes it from quant/ and engine/). */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "chat_template.h"
#include "tui_chat.h"
#include "tui_quality.h"
#include "tui_ui.h"

typedef struct line {
    tui_elem e;
    char text[256];
} line;

enum { MAX_LINES = 96 };

/* ---- Model --------------------------------------------------------------------------------- */

static int model_lines(tui_ui *ui, line *L) {
    const qs_model *m = ui->app.model;
    const qs_hparams *hp = &m->hp;
    char a[64], b[64], c[64];
    int n = 0;
#define ADD(E, ...) do { if (n < MAX_LINES) { L[n].e = (E); snprintf(L[n].text, sizeof L[n].text, __VA_ARGS__); n++; } } while (0)
    ADD(TUI_C_TITLE, "%.250s", ui->app.model_path);
    ADD(TUI_C_TEXT, "%s", "");
    ADD(TUI_C_TEXT, "name             %s", hp->name[0] ? hp->name : "(none)");
    ADD(TUI_C_TEXT, "architecture     %s", hp->arch);
    ADD(TUI_C_TEXT, "parameters       %s (%s)", tui_fmt_count(m->n_params, a, sizeof a),
        tui_fmt_int(m->n_params, b, sizeof b));
    ADD(TUI_C_TEXT, "blocks           %lld", (long long)hp->n_layer);
    ADD(TUI_C_TEXT, "embedding        %lld", (long long)hp->n_embd);
    if (hp->n_ff) ADD(TUI_C_TEXT, "feed-forward     %lld", (long long)hp->n_ff);
    ADD(TUI_C_TEXT, "heads            %lld (KV heads %lld, head dim %lld)", (long long)hp->n_head,
        (long long)hp->n_head_kv, (long long)hp->head_dim_k);
    if (hp->n_expert) ADD(TUI_C_TEXT, "experts          %lld (%lld used)", (long long)hp->n_expert,
                          (long long)hp->n_expert_used);
    ADD(TUI_C_TEXT, "context          %s (training)", tui_fmt_int(hp->n_ctx_train, a, sizeof a));
    ADD(TUI_C_TEXT, "vocabulary       %s (%s tokenizer%s%s)", tui_fmt_int(hp->n_vocab, a, sizeof a),
        hp->tok_model[0] ? hp->tok_model : "?", hp->tok_pre[0] ? ", pre " : "", hp->tok_pre);
    ADD(TUI_C_TEXT, "file type        %s", hp->file_type >= 0 ? qs_ftype_name(hp->file_type) : "(not recorded)");
    ADD(TUI_C_TEXT, "bits per weight  %.2f", qs_model_bpw(m));
    ADD(TUI_C_TEXT, "size             %s (%s B of tensor data; file %s)",
        tui_fmt_bytes(m->tensor_bytes, a, sizeof a), tui_fmt_int((int64_t)m->tensor_bytes, b, sizeof b),
        tui_fmt_bytes(m->gguf->file_size, c, sizeof c));
    ADD(TUI_C_TEXT, "tensors          %lld", (long long)m->n_tensors);
    {
        const qs_chat_tmpl t = qs_chat_tmpl_of_model(m->gguf);
        ADD(hp->has_chat_template ? TUI_C_OK : TUI_C_DIM, "chat template    %s",
            !hp->has_chat_template      ? "none (plain completion)"
            : t == QS_TMPL_UNKNOWN ? "present, family not recognised (chat uses chatml)"
                                   : qs_chat_tmpl_name(t));
    }
    ADD(TUI_C_TEXT, "embeddings       %s", hp->tied_embeddings ? "tied (output reuses token_embd)" : "separate output");
    ADD(TUI_C_TEXT, "%s", "");
    ADD(TUI_C_TITLE, "%-10s %8s %14s %12s", "type", "tensors", "parameters", "bytes");
    for (int t = 0; t < QS_TYPE_COUNT; t++) {
        const qs_type_total *tt = &m->by_type[t];
        if (!tt->n_tensors) continue;
        ADD(TUI_C_TEXT, "%-10s %8lld %14s %12s", qs_type_name(t), (long long)tt->n_tensors,
            tui_fmt_int(tt->n_params, a, sizeof a), tui_fmt_bytes(tt->bytes, b, sizeof b));
    }
    return n;
}

/* ---- Layers -------------------------------------------------------------------------------- */

static void plan_summary(tui_ui *ui, char *buf, size_t n) {
    const qs_plan *p = &ui->app.plan;
    char a[32];
    if (p->preset != QS_PRESET_NONE)
        snprintf(buf, n, "preset %s  overrides: %d block, %d tensor  rules %d  planned weights %s",
                 qs_preset_name(p->preset), p->n_layers, p->n_tensors, p->n_rules,
                 tui_fmt_bytes(ui->app.planned_bytes, a, sizeof a));
    else
        snprintf(buf, n, "default %s (no preset)  overrides: %d block, %d tensor  rules %d  planned weights %s",
                 qs_type_name(p->default_type), p->n_layers, p->n_tensors, p->n_rules,
                 tui_fmt_bytes(ui->app.planned_bytes, a, sizeof a));
    size_t len = strlen(buf);
    if ((p->keep_first || p->keep_last) && len < n)
        snprintf(buf + len, n - len, "  keep %d/%d at %s", p->keep_first, p->keep_last, qs_type_name(p->keep_type));
}

static void draw_layers(tui_ui *ui, int y, int h) {
    tui_app *a = &ui->app;
    const tui_screen *s = &ui->scr;
    int w = ui->cols;
    char buf[256];
    plan_summary(ui, buf, sizeof buf);
    tui_text(s, y, 0, w, a->res_ok ? TUI_C_TEXT : TUI_C_ERROR, a->res_ok ? buf : a->res_err.msg, true);
    int name_w = w >= 100 ? 34 : w >= 70 ? 26 : 16;
    int bytes_w = 12;
    int types_w = w - name_w - 2 * bytes_w - 3;
    if (types_w < 8) types_w = 8;
    tui_textf(s, y + 1, 0, w, TUI_C_TITLE, true, "%-*s %-*s %*s %*s", name_w, "tensors", types_w,
              "planned types", bytes_w, "planned", bytes_w, "stored");
    ui->body_y = y + 2;
    ui->body_h = h - 2;
    tui_list_pos *p = &ui->list[TUI_VIEW_LAYERS];
    p->n = a->n_rows;
    tui_list_clamp(p, ui->body_h);
    for (int r = 0; r < ui->body_h; r++) {
        int i = tui_list_item_at(p, r, ui->body_h);
        int yy = ui->body_y + r;
        if (i < 0) {
            tui_text(s, yy, 0, w, TUI_C_TEXT, "", true);
            continue;
        }
        const tui_row *row = &a->rows[i];
        char name[96], types[160], pb[32], sb[32];
        tui_app_row_name(a, row, name, sizeof name);
        if (row->tensor < 0) {
            char tmp[128];
            snprintf(tmp, sizeof tmp, "%s %.90s", row->expanded ? "-" : "+", name);
            memcpy(name, tmp, sizeof name - 1);
            name[sizeof name - 1] = 0;
        }
        tui_app_row_types(a, row, types, sizeof types);
        uint64_t stored = tui_app_row_stored_bytes(a, row);
        tui_fmt_bytes(tui_app_row_bytes(a, row), pb, sizeof pb);
        tui_fmt_bytes(stored, sb, sizeof sb);
        bool sel = i == p->selected;
        bool over = tui_app_row_overridden(a, row);
        tui_elem e = sel ? TUI_C_SELECTION : over ? TUI_C_CHANGED : TUI_C_TEXT;
        tui_textf(s, yy, 0, w, e, true, "%-*.*s %-*.*s %*s %*s%s", name_w, name_w, name, types_w, types_w,
                  types, bytes_w, pb, bytes_w, sb, over ? " *" : "");
    }
}

/* ---- Memory -------------------------------------------------------------------------------- */

static const tui_elem part_elem[QS_EST_PART_COUNT] = {
    [QS_EST_WEIGHTS_MAPPED] = TUI_C_BAR_WEIGHTS_HOST,
    [QS_EST_WEIGHTS_REPACK] = TUI_C_BAR_WEIGHTS_HOST,
    [QS_EST_WEIGHTS_HOST] = TUI_C_BAR_WEIGHTS_HOST,
    [QS_EST_WEIGHTS_GPU] = TUI_C_BAR_WEIGHTS_DEVICE,
    [QS_EST_KV_HOST] = TUI_C_BAR_KV,
    [QS_EST_KV_GPU] = TUI_C_BAR_KV,
    [QS_EST_OUTPUT] = TUI_C_BAR_COMPUTE,
    [QS_EST_COMPUTE_HOST] = TUI_C_BAR_COMPUTE,
    [QS_EST_COMPUTE_GPU] = TUI_C_BAR_COMPUTE,
    [QS_EST_OVERHEAD_HOST] = TUI_C_BAR_OVERHEAD,
    [QS_EST_OVERHEAD_GPU] = TUI_C_BAR_OVERHEAD,
};

/* the meter groups: weights device, weights host, kv, compute, overhead */
static const tui_elem groups[5] = {TUI_C_BAR_WEIGHTS_DEVICE, TUI_C_BAR_WEIGHTS_HOST, TUI_C_BAR_KV,
                                   TUI_C_BAR_COMPUTE, TUI_C_BAR_OVERHEAD};
static const char *const group_names[5] = {"weights (device)", "weights (host)", "KV cache", "compute",
                                           "overhead"};

static void device_meter(tui_ui *ui, int y, int dev, uint64_t capacity, const char *label) {
    const tui_screen *s = &ui->scr;
    const qs_est_result *r = &ui->app.er;
    uint64_t g[5] = {0};
    for (int i = 0; i < QS_EST_PART_COUNT; i++) {
        if ((int)r->part[i].device != dev) continue;
        for (int k = 0; k < 5; k++)
            if (groups[k] == part_elem[i]) g[k] += r->part[i].bytes;
    }
    bool fits = dev == QS_EST_GPU ? r->fits_gpu : r->fits_host;
    char used[32], cap[32];
    tui_fmt_bytes(r->total[dev], used, sizeof used);
    tui_fmt_bytes(capacity, cap, sizeof cap);
    int w = ui->cols;
    char right[96];
    /* host capacity is the RAM available now (MemAvailable), a GPU's its total */
    if (capacity)
        snprintf(right, sizeof right, " %s / %s %s", used, cap, fits ? "fits" : "DOES NOT FIT");
    else
        snprintf(right, sizeof right, " %s (capacity unknown)", used);
    int lw = 10;
    int rw = (int)strlen(right);
    int bw = w - lw - rw - 2;
    tui_textf(s, y, 0, lw, TUI_C_TITLE, true, "%s", label);
    if (bw >= 4) {
        tui_text(s, y, lw, 1, TUI_C_TEXT, "[", false);
        tui_meter(s, y, lw + 1, bw, g, groups, 5, capacity);
        tui_text(s, y, lw + 1 + bw, 1, TUI_C_TEXT, "]", false);
    }
    int x = bw >= 4 ? lw + bw + 2 : lw;
    tui_text(s, y, x, w - x, capacity ? (fits ? TUI_C_OK : TUI_C_ERROR) : TUI_C_DIM, right, true);
}

static void draw_memory(tui_ui *ui, int y, int h) {
    tui_app *a = &ui->app;
    const tui_screen *s = &ui->scr;
    int w = ui->cols;
    const qs_device *d = &a->devices[a->device];
    char b1[32], b2[32], b3[32];
    int yy = y;
    char avail[32];
    tui_fmt_bytes(a->es.host_mem, avail, sizeof avail);
    tui_textf(s, yy++, 0, w, TUI_C_TEXT, true, "device     %s; host RAM available %s", d->label, avail);
    if (!a->est_ok) {
        tui_text(s, yy++, 0, w, TUI_C_ERROR, a->est_err.msg, true);
        for (; yy < y + h; yy++) tui_text(s, yy, 0, w, TUI_C_TEXT, "", true);
        ui->body_y = y;
        ui->body_h = 0;
        return;
    }
    const qs_est_result *r = &a->er;
    int max_gl = a->pm.n_layer + 1;
    tui_textf(s, yy++, 0, w, TUI_C_TEXT, true, "context    %s tokens (runs as %s)   KV cache %s   GPU layers %d of %d",
              tui_fmt_int(a->es.n_ctx, b1, sizeof b1), tui_fmt_int(r->n_ctx, b2, sizeof b2),
              qs_type_name(a->plan.kv_type), r->gpu_layers + (r->output_on_gpu ? 1 : 0), max_gl);
    if (a->max_ctx > 0)
        tui_textf(s, yy++, 0, w, TUI_C_OK, true, "largest context that fits: %s tokens",
                  tui_fmt_int(a->max_ctx, b3, sizeof b3));
    else if (a->max_ctx == 0)
        tui_text(s, yy++, 0, w, TUI_C_ERROR, "no context fits (not even 256 tokens)", true);
    else
        tui_text(s, yy++, 0, w, TUI_C_DIM, "largest context that fits: unknown", true);
    tui_text(s, yy++, 0, w, TUI_C_TEXT, "", true);
    uint64_t host_cap = a->es.host_mem;
    device_meter(ui, yy++, QS_EST_HOST, host_cap, "host RAM");
    if (a->es.gpu_mem) device_meter(ui, yy++, QS_EST_GPU, a->es.gpu_mem, "GPU");
    /* legend */
    int x = 0;
    for (int k = 0; k < 5 && yy < y + h; k++) {
        char lg[48];
        snprintf(lg, sizeof lg, "%s %s  ", tui_meter_glyph(s, k), group_names[k]);
        if (x == 0) tui_text(s, yy, 0, w, TUI_C_TEXT, "", true);
        x += tui_text(s, yy, x, w - x, groups[k], lg, false);
    }
    yy++;
    tui_text(s, yy++, 0, w, TUI_C_TEXT, "", true);
    /* parts table (scrolls) */
    ui->body_y = yy + 1;
    ui->body_h = y + h - ui->body_y;
    if (yy < y + h) tui_textf(s, yy++, 0, w, TUI_C_TITLE, true, "%-30s %-5s %16s %11s", "part", "where", "bytes", "");
    line L[QS_EST_PART_COUNT + 8];
    int n = 0;
    for (int i = 0; i < QS_EST_PART_COUNT; i++) {
        const qs_est_part *p = &r->part[i];
        if (!p->bytes) continue;
        L[n].e = p->assumed ? TUI_C_WARN : TUI_C_TEXT;
        snprintf(L[n].text, sizeof L[n].text, "%-30s %-5s %16s %11s%s", p->label,
                 p->device == QS_EST_GPU ? "GPU" : "host", tui_fmt_int((int64_t)p->bytes, b1, sizeof b1),
                 tui_fmt_bytes(p->bytes, b2, sizeof b2), p->assumed ? "  (assumed)" : "");
        n++;
    }
    for (int dv = 0; dv < QS_EST_DEVICE_COUNT; dv++) {
        if (dv == QS_EST_GPU && !a->es.gpu_mem) continue;
        L[n].e = TUI_C_TITLE;
        snprintf(L[n].text, sizeof L[n].text, "%-30s %-5s %16s %11s", "total", dv == QS_EST_GPU ? "GPU" : "host",
                 tui_fmt_int((int64_t)r->total[dv], b1, sizeof b1), tui_fmt_bytes(r->total[dv], b2, sizeof b2));
        n++;
    }
    L[n].e = TUI_C_TEXT;
    snprintf(L[n].text, sizeof L[n].text, "%-30s %-5s %16s %11s", "planned weights (all tensors)", "",
             tui_fmt_int((int64_t)a->planned_bytes, b1, sizeof b1), tui_fmt_bytes(a->planned_bytes, b2, sizeof b2));
    n++;
    if (!r->graph_exact) {
        L[n].e = TUI_C_WARN;
        snprintf(L[n].text, sizeof L[n].text, "compute buffer: %s graph approximated with llama's", a->pm.arch);
        n++;
    }
    tui_list_pos *p = &ui->list[TUI_VIEW_MEMORY];
    p->n = n;
    int bh = ui->body_h > 0 ? ui->body_h : 1;
    tui_list_clamp(p, bh);
    for (int row = 0; yy < y + h; row++, yy++) {
        int i = tui_list_item_at(p, row, bh);
        tui_text(s, yy, 0, w, i < 0 ? TUI_C_TEXT : L[i].e, i < 0 ? "" : L[i].text, true);
    }
}

/* ---- dispatch ------------------------------------------------------------------------------ */

void tui_view_draw(tui_ui *ui, int y, int h) {
    if (h <= 0) return;
    switch (ui->view) {
    case TUI_VIEW_MODEL: {
        line L[MAX_LINES];
        int n = model_lines(ui, L);
        tui_list_pos *p = &ui->list[TUI_VIEW_MODEL];
        p->n = n;
        ui->body_y = y;
        ui->body_h = h;
        tui_list_clamp(p, h);
        for (int r = 0; r < h; r++) {
            int i = tui_list_item_at(p, r, h);
            tui_text(&ui->scr, y + r, 0, ui->cols, i < 0 ? TUI_C_TEXT : L[i].e, i < 0 ? "" : L[i].text, true);
        }
        break;
    }
    case TUI_VIEW_LAYERS: draw_layers(ui, y, h); break;
    case TUI_VIEW_MEMORY: draw_memory(ui, y, h); break;
    case TUI_VIEW_ERRORS: tui_errors_draw(ui, y, h); break;
    case TUI_VIEW_TRADEOFF: tui_tradeoff_draw(ui, y, h); break;
    case TUI_VIEW_CHAT: tui_chat_draw(ui, y, h); break;
    default: break;
    }
}

int tui_view_rows(tui_ui *ui) { return ui->list[ui->view].n; }

bool tui_view_action(tui_ui *ui, tui_action act) {
    if (ui->view == TUI_VIEW_ERRORS) return tui_errors_action(ui, act);
    if (ui->view == TUI_VIEW_TRADEOFF) return tui_tradeoff_action(ui, act);
    tui_app *a = &ui->app;
    int sel = ui->list[TUI_VIEW_LAYERS].selected;
    if (ui->view == TUI_VIEW_LAYERS) {
        switch (act) {
        case TUI_ACT_EXPAND: {
            int block = sel < a->n_rows ? a->rows[sel].block : 0;
            tui_app_toggle(a, sel);
            /* keep the selection on the group row */
            for (int i = 0; i < a->n_rows; i++)
                if (a->rows[i].block == block && a->rows[i].tensor < 0) ui->list[TUI_VIEW_LAYERS].selected = i;
            return true;
        }
        case TUI_ACT_RAISE: tui_app_step_type(a, sel, +1); return true;
        case TUI_ACT_LOWER: tui_app_step_type(a, sel, -1); return true;
        case TUI_ACT_CLEAR: tui_app_clear_override(a, sel); return true;
        case TUI_ACT_PRESETS:
            ui->mode = TUI_MODE_PRESETS;
            ui->presets.n = QS_PRESET_COUNT;
            ui->presets.selected = a->plan.preset;
            ui->presets.top = 0;
            return true;
        case TUI_ACT_WHY:
            snprintf(ui->msg_title, sizeof ui->msg_title, "why this type");
            tui_app_why(a, sel, ui->msg, sizeof ui->msg);
            ui->mode = TUI_MODE_MESSAGE;
            return true;
        default: return false;
        }
    }
    if (ui->view == TUI_VIEW_MEMORY) {
        switch (act) {
        case TUI_ACT_RAISE: tui_app_set_ctx(a, a->es.n_ctx * 2); return true;
        case TUI_ACT_LOWER: tui_app_set_ctx(a, a->es.n_ctx / 2); return true;
        case TUI_ACT_CTX_TYPE:
            ui->mode = TUI_MODE_INPUT_CTX;
            ui->input[0] = 0;
            return true;
        case TUI_ACT_KV_TYPE: tui_app_next_kv(a, +1); return true;
        case TUI_ACT_GPU_MORE: tui_app_gpu_layers(a, +1); return true;
        case TUI_ACT_GPU_LESS: tui_app_gpu_layers(a, -1); return true;
        case TUI_ACT_DEVICE_NEXT: tui_app_set_device(a, a->device + 1); return true;
        case TUI_ACT_DEVICE_PREV: tui_app_set_device(a, a->device - 1); return true;
        default: return false;
        }
    }
    return false;
}
