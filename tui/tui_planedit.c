/* Plan files, previews and rule edits on the explorer's state (no screen). */
#include "tui_planedit.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "export.h"
#include "tui_layout.h"

static void status(tui_app *a, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void status(tui_app *a, bool error, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->status, sizeof a->status, fmt, ap);
    va_end(ap);
    a->status_error = error;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static uint64_t tensor_bytes(const tui_app *a, int i, int type) {
    const qs_plan_tensor *t = &a->pt[i];
    return qs_type_row_bytes(type, t->ne[0]) * (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
}

/* ---- plan files ---------------------------------------------------------------------------- */

int tui_app_save_plan(tui_app *a, const char *path, qs_error *err) {
    if (!path || !*path) return qs_error_set(err, "no file name given");
    qs_plan copy;
    qs_plan_init(&copy);
    if (qs_plan_copy(&copy, &a->plan) != QS_OK) return qs_error_set(err, "out of memory");
    free(copy.model.file);
    if (qs_model_fingerprint(a->model, &copy.model) != QS_OK) {
        qs_plan_free(&copy);
        return qs_error_set(err, "out of memory");
    }
    if (qs_plan_save(&copy, path, err) != QS_OK) {
        qs_plan_free(&copy);
        return QS_ERR;
    }
    qs_plan saved;
    qs_plan_init(&saved);
    if (qs_plan_copy(&saved, &copy) != QS_OK) {
        /* the file is written; only the "modified" mark cannot follow */
        qs_plan_free(&copy);
        return qs_error_set(err, "%s written, but out of memory afterwards", path);
    }
    qs_plan_free(&a->plan);
    qs_plan_free(&a->saved);
    a->plan = copy;
    a->saved = saved;
    if (a->plan_path != path) snprintf(a->plan_path, sizeof a->plan_path, "%s", path);
    tui_app_update(a);
    status(a, false, "plan saved to %s", path);
    return QS_OK;
}

/* Applies the plan's device (by name) to the estimate without changing the plan. */
static void apply_plan_device(tui_app *a) {
    int idx = 0;
    if (a->plan.device)
        for (int i = 1; i < a->n_devices; i++)
            if (!strcmp(a->devices[i].name, a->plan.device)) idx = i;
    char *keep = a->plan.device;
    a->plan.device = NULL;
    tui_app_set_device(a, idx); /* sets plan.device to the device's name */
    free(a->plan.device);
    a->plan.device = keep;
}

int tui_app_open_plan(tui_app *a, const char *path, qs_error *err) {
    if (!path || !*path) return qs_error_set(err, "no file name given");
    qs_plan p;
    if (qs_plan_load(path, &p, err) != QS_OK) return QS_ERR;
    qs_plan_fingerprint fp;
    if (qs_model_fingerprint(a->model, &fp) != QS_OK) {
        qs_plan_free(&p);
        return qs_error_set(err, "out of memory");
    }
    qs_strlist warn = {0};
    int nw = qs_plan_check_model(&p, &fp, &a->pm, &warn, err);
    free(fp.file);
    if (nw < 0) {
        qs_strlist_free(&warn);
        qs_plan_free(&p);
        if (nw == QS_ENOMEM) return qs_error_set(err, "out of memory");
        return qs_error_prefix(err, "%s", path);
    }
    qs_plan saved;
    qs_plan_init(&saved);
    if (qs_plan_copy(&saved, &p) != QS_OK) {
        qs_strlist_free(&warn);
        qs_plan_free(&p);
        return qs_error_set(err, "out of memory");
    }
    qs_plan_free(&a->plan);
    qs_plan_free(&a->saved);
    a->plan = p;
    a->saved = saved;
    snprintf(a->plan_path, sizeof a->plan_path, "%s", path);
    apply_plan_device(a);
    tui_app_update(a);
    if (nw > 0) status(a, true, "plan %s loaded; %d warning%s: %s", base_name(path), nw, nw > 1 ? "s" : "", warn.v[0]);
    else status(a, false, "plan %s loaded", base_name(path));
    qs_strlist_free(&warn);
    return QS_OK;
}

/* the model file's name without .gguf (an Ollama blob's digest replaced by general.name) */
static void model_stem(const tui_app *a, char *buf, size_t n) {
    const char *b = base_name(a->model_path);
    size_t len = strlen(b);
    if (len > 5 && !strcasecmp(b + len - 5, ".gguf")) len -= 5;
    if (!strncmp(b, "sha256-", 7) || len == 0) {
        const char *nm = a->model->hp.name;
        size_t o = 0;
        for (size_t i = 0; nm[i] && o + 1 < n; i++) {
            unsigned char c = (unsigned char)nm[i];
            buf[o++] = isalnum(c) || c == '.' || c == '-' || c == '_' ? (char)c : '-';
        }
        buf[o] = 0;
        if (!o) snprintf(buf, n, "model");
        return;
    }
    snprintf(buf, n, "%.*s", (int)len, b);
}

void tui_app_plan_path_suggest(const tui_app *a, char *buf, size_t n) {
    if (a->plan_path[0]) {
        snprintf(buf, n, "%s", a->plan_path);
        return;
    }
    char stem[256];
    model_stem(a, stem, sizeof stem);
    snprintf(buf, n, "%s.plan.yaml", stem);
}

void tui_app_export_path_suggest(const tui_app *a, char *buf, size_t n) {
    char stem[256], label[256] = "";
    model_stem(a, stem, sizeof stem);
    if (a->plan_path[0]) {
        /* the plan file's name without .yaml, .plan and the model's name: m.plan.yaml, m-q4.yaml */
        const char *b = base_name(a->plan_path);
        size_t len = strlen(b), sl = strlen(stem);
        if (len > 5 && !strcasecmp(b + len - 5, ".yaml")) len -= 5;
        else if (len > 4 && !strcasecmp(b + len - 4, ".yml")) len -= 4;
        if (len > 5 && !strncasecmp(b + len - 5, ".plan", 5)) len -= 5;
        if (len >= sl && !strncmp(b, stem, sl) && (len == sl || strchr("-._", b[sl]))) {
            b += len == sl ? sl : sl + 1;
            len -= len == sl ? sl : sl + 1;
        }
        snprintf(label, sizeof label, "%.*s", (int)len, b);
    }
    if (!label[0]) {
        const qs_plan *p = &a->plan;
        bool custom = p->n_rules || p->n_layers || p->n_tensors || p->keep_first || p->keep_last;
        snprintf(label, sizeof label, "%s%s",
                 p->preset != QS_PRESET_NONE ? qs_preset_name(p->preset) : qs_type_name(p->default_type),
                 custom ? "-custom" : "");
    }
    char dir[1024] = "";
    const char *slash = strrchr(a->model_path, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - a->model_path), a->model_path);
    else snprintf(dir, sizeof dir, ".");
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
    /* caches belong to the tools that fill them: the export goes to the current folder */
    bool cache = !strncmp(base_name(a->model_path), "sha256-", 7) || strstr(a->model_path, "/snapshots/") ||
                 strstr(a->model_path, "/blobs/");
    if (cache || access(dir, W_OK) != 0 || !strcmp(dir, ".")) snprintf(buf, n, "%s-%s.gguf", stem, label);
    else snprintf(buf, n, "%s/%s-%s.gguf", !strcmp(dir, "/") ? "" : dir, stem, label);
}

/* ---- previews ------------------------------------------------------------------------------ */

int tui_preview_plan(const tui_app *a, const qs_plan *candidate, tui_preview *p) {
    memset(p, 0, sizeof *p);
    if (qs_plan_resolve(candidate, &a->pm, &p->res, &p->err) != QS_OK) return QS_ERR;
    p->ok = true;
    int64_t delta = 0;
    for (int i = 0; i < a->pm.n_tensors; i++) {
        int now = a->res_ok ? (int)a->res.choice[i].type : a->pt[i].type;
        int then = (int)p->res.choice[i].type;
        if (now == then) continue;
        p->n_changed++;
        delta += (int64_t)tensor_bytes(a, i, then) - (int64_t)tensor_bytes(a, i, now);
    }
    p->bytes_delta = delta;
    return QS_OK;
}

void tui_preview_free(tui_preview *p) {
    if (p->ok) qs_plan_resolution_free(&p->res);
    memset(p, 0, sizeof *p);
}

/* the plan with the rule put in (QS_ERR: the rule does not validate, err says why) */
static int with_rule(const qs_plan *plan, int at, bool replace, const char *pattern, qs_type type, qs_plan *out,
                     qs_error *err) {
    qs_plan_init(out);
    if (qs_plan_copy(out, plan) != QS_OK) return qs_error_set(err, "out of memory");
    if (at < 0 || at > out->n_rules || (replace && at >= out->n_rules)) at = out->n_rules, replace = false;
    if (replace) qs_plan_remove_rule(out, at);
    int rc = qs_plan_insert_rule(out, at, pattern, type, err);
    if (rc != QS_OK) qs_plan_free(out);
    return rc;
}

int tui_rule_preview_make(const tui_app *a, int at, bool replace, const char *pattern, qs_type type,
                          tui_rule_preview *p) {
    memset(p, 0, sizeof *p);
    int n = a->pm.n_tensors;
    p->matched = calloc((size_t)(n > 0 ? n : 1), sizeof *p->matched);
    if (!p->matched) {
        qs_error_set(&p->err, "out of memory");
        return QS_ENOMEM;
    }
    int m = qs_plan_rule_matches(pattern, &a->pm, p->matched, &p->err_offset, &p->err);
    if (m < 0) return QS_ERR;
    p->valid = true;
    p->n_matched = m;
    qs_plan cand;
    if (with_rule(&a->plan, at, replace, pattern, type, &cand, &p->plan.err) != QS_OK) {
        p->err = p->plan.err;
        return QS_ERR;
    }
    if (at < 0 || at > a->plan.n_rules || (replace && at >= a->plan.n_rules)) at = a->plan.n_rules;
    int rc = tui_preview_plan(a, &cand, &p->plan);
    qs_plan_free(&cand);
    if (rc != QS_OK) {
        p->err = p->plan.err;
        return QS_ERR;
    }
    for (int i = 0; i < n; i++) {
        if (!p->matched[i]) continue;
        const qs_plan_choice *c = &p->plan.res.choice[i];
        if (c->reason != QS_REASON_KEPT) p->n_quantizable++;
        if (c->reason == QS_REASON_RULE && c->index == at) p->n_decided++;
    }
    return QS_OK;
}

void tui_rule_preview_free(tui_rule_preview *p) {
    free(p->matched);
    tui_preview_free(&p->plan);
    memset(p, 0, sizeof *p);
}

/* ---- edits --------------------------------------------------------------------------------- */

/* replaces the plan with *np (taken), re-resolves, reports the change in memory */
static void adopt(tui_app *a, qs_plan *np, const char *what) {
    uint64_t before = a->planned_bytes;
    qs_plan_free(&a->plan);
    a->plan = *np;
    tui_app_update(a);
    if (!a->res_ok) {
        status(a, true, "%s; %s", what, a->res_err.msg);
        return;
    }
    char d[48];
    tui_fmt_delta((int64_t)a->planned_bytes - (int64_t)before, d, sizeof d);
    status(a, false, "%s (weights %s)", what, d);
}

int tui_app_rule_put(tui_app *a, int at, bool replace, const char *pattern, qs_type type, qs_error *err) {
    qs_plan np;
    if (with_rule(&a->plan, at, replace, pattern, type, &np, err) != QS_OK) return QS_ERR;
    if (at < 0 || at > a->plan.n_rules || (replace && at >= a->plan.n_rules)) at = a->plan.n_rules, replace = false;
    char what[256];
    snprintf(what, sizeof what, "rule %d %s: %.150s -> %s", at + 1, replace ? "changed" : "added", pattern,
             qs_type_name(type));
    adopt(a, &np, what);
    return QS_OK;
}

int tui_app_rule_delete(tui_app *a, int at) {
    if (at < 0 || at >= a->plan.n_rules) return QS_ERR;
    qs_plan np;
    qs_plan_init(&np);
    if (qs_plan_copy(&np, &a->plan) != QS_OK) return QS_ENOMEM;
    char what[256];
    snprintf(what, sizeof what, "rule %d deleted: %.150s", at + 1, np.rules[at].pattern);
    qs_plan_remove_rule(&np, at);
    adopt(a, &np, what);
    return QS_OK;
}

int tui_app_rule_move(tui_app *a, int at, int dir) {
    int to = at + (dir < 0 ? -1 : 1);
    if (at < 0 || at >= a->plan.n_rules || to < 0 || to >= a->plan.n_rules) return QS_ERR;
    qs_plan np;
    qs_plan_init(&np);
    if (qs_plan_copy(&np, &a->plan) != QS_OK) return QS_ENOMEM;
    qs_plan_rule t = np.rules[at];
    np.rules[at] = np.rules[to];
    np.rules[to] = t;
    char what[256];
    snprintf(what, sizeof what, "rule %.150s moved to %d", t.pattern, to + 1);
    adopt(a, &np, what);
    return QS_OK;
}

int tui_app_set_keep(tui_app *a, int first, int last, qs_type type, qs_error *err) {
    int nl = a->pm.n_layer > 0 ? a->pm.n_layer : 0;
    if (first < 0 || last < 0 || first > nl || last > nl)
        return qs_error_set(err, "keep counts must be 0..%d (the model has %d blocks)", nl, nl);
    qs_plan np;
    qs_plan_init(&np);
    if (qs_plan_copy(&np, &a->plan) != QS_OK) return qs_error_set(err, "out of memory");
    np.keep_first = first;
    np.keep_last = last;
    np.keep_type = type; /* compared (and saved) only while a count is non-zero */
    if (qs_plan_validate(&np, err) != QS_OK) {
        qs_plan_free(&np);
        return QS_ERR;
    }
    char what[128];
    if (first || last) snprintf(what, sizeof what, "keep first %d / last %d blocks at %s", first, last, qs_type_name(type));
    else snprintf(what, sizeof what, "keep knob off");
    adopt(a, &np, what);
    return QS_OK;
}

qs_type tui_ladder_step(qs_type type, int dir) {
    const qs_type *lad;
    int n = qs_type_ladder(&lad);
    int pos = -1;
    for (int i = 0; i < n; i++)
        if (lad[i] == type) pos = i;
    if (pos < 0) {
        double b = qs_type_bpw(type);
        if (dir > 0) {
            for (int i = 0; i < n; i++)
                if (qs_type_bpw(lad[i]) > b) return lad[i];
        } else {
            for (int i = n - 1; i >= 0; i--)
                if (qs_type_bpw(lad[i]) < b) return lad[i];
        }
        return type;
    }
    pos += dir > 0 ? 1 : dir < 0 ? -1 : 0;
    return pos >= 0 && pos < n ? lad[pos] : type;
}

/* ---- search -------------------------------------------------------------------------------- */

bool tui_app_tensor_matches(const tui_app *a, int tensor, const char *text) {
    if (!text || !*text || tensor < 0 || tensor >= a->pm.n_tensors) return false;
    return strcasestr(a->pt[tensor].name, text) != NULL;
}

int tui_app_find_tensor(const tui_app *a, const char *text, int from, int dir) {
    int n = a->pm.n_tensors;
    if (n <= 0 || !text || !*text) return -1;
    int step = dir < 0 ? -1 : 1;
    if (from < 0 || from >= n) from = step > 0 ? n - 1 : 0;
    for (int k = 1; k <= n; k++) {
        int i = ((from + step * k) % n + n) % n;
        if (tui_app_tensor_matches(a, i, text)) return i;
    }
    return -1;
}

int tui_app_count_matches(const tui_app *a, const char *text, int tensor, int *rank) {
    int c = 0;
    if (rank) *rank = 0;
    for (int i = 0; i < a->pm.n_tensors; i++) {
        if (!tui_app_tensor_matches(a, i, text)) continue;
        c++;
        if (i == tensor && rank) *rank = c;
    }
    return c;
}

int tui_app_reveal_tensor(tui_app *a, int tensor) {
    for (int r = 0; r < a->n_rows; r++)
        if (a->rows[r].tensor == tensor) return r;
    /* its group row is the one whose expansion lists it: expand the group it belongs to */
    for (int r = 0; r < a->n_rows; r++) {
        if (a->rows[r].tensor >= 0 || a->rows[r].expanded) continue;
        tui_app_toggle(a, r);
        for (int k = 0; k < a->n_rows; k++)
            if (a->rows[k].tensor == tensor) return k;
        /* not this group: fold it back (the row index r still names it) */
        tui_app_toggle(a, r);
    }
    return -1;
}

int tui_app_row_tensor(const tui_app *a, int row) {
    return row >= 0 && row < a->n_rows ? a->rows[row].tensor : -1;
}
