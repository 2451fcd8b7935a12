/* The explorer's state: model + plan -> resolution -> estimate, and the edits the views make. */
#include "tui_app.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qs_devices_probe.h"
#include "tui_layout.h"

static void status(tui_app *a, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void status(tui_app *a, bool error, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->status, sizeof a->status, fmt, ap);
    va_end(ap);
    a->status_error = error;
}

static int n_layer(const tui_app *a) { return a->pm.n_layer > 0 ? a->pm.n_layer : 0; }

/* group of a tensor: -1 token_embd & globals, block index, -2 output* */
static int group_of(const tui_app *a, int i) {
    const qs_plan_tensor *t = &a->pt[i];
    if (t->block >= 0 && t->block < n_layer(a)) return t->block;
    if (!strncmp(t->name, "output", 6)) return -2;
    return -1;
}

static int group_slot(const tui_app *a, int g) {
    return g == -1 ? 0 : g == -2 ? n_layer(a) + 1 : g + 1;
}

static uint64_t tensor_bytes(const tui_app *a, int i, int type) {
    const qs_plan_tensor *t = &a->pt[i];
    int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    return qs_type_row_bytes(type, t->ne[0]) * (uint64_t)rows;
}

static int planned_type(const tui_app *a, int i) {
    return a->res_ok ? (int)a->res.choice[i].type : a->pt[i].type;
}

static bool quantizable(const tui_app *a, int i) {
    return a->res_ok ? a->res.choice[i].reason != QS_REASON_KEPT
                     : qs_plan_tensor_quantizable(a->pm.arch, &a->pt[i], NULL);
}

/* ---- open / close -------------------------------------------------------------------------- */

static int default_type_of(const tui_app *a) {
    int count[QS_TYPE_COUNT] = {0};
    for (int i = 0; i < a->pm.n_tensors; i++)
        if (qs_plan_tensor_quantizable(a->pm.arch, &a->pt[i], NULL) && a->pt[i].type >= 0 &&
            a->pt[i].type < QS_TYPE_COUNT)
            count[a->pt[i].type]++;
    int best = -1;
    for (int t = 0; t < QS_TYPE_COUNT; t++)
        if (count[t] && qs_plan_type_allowed(t) && (best < 0 || count[t] > count[best])) best = t;
    return best < 0 ? QS_TYPE_F16 : best;
}

static void setup_devices(tui_app *a) {
    qs_device host;
    qs_error e;
    memset(&host, 0, sizeof host);
    if (qs_devices_probe_host(NULL, &host, &e) != QS_OK) {
        snprintf(host.name, sizeof host.name, "cpu");
        snprintf(host.label, sizeof host.label, "CPU only (RAM size unknown)");
    } else {
        char b[32];
        snprintf(host.name, sizeof host.name, "cpu");
        snprintf(host.label, sizeof host.label, "CPU only (this machine, %s RAM)",
                 tui_fmt_bytes(host.mem_total, b, sizeof b));
    }
    a->devices[0] = host;
    a->n_devices = 1;
    const qs_device *list;
    int n = qs_device_presets(&list);
    for (int i = 0; i < n && a->n_devices < (int)(sizeof a->devices / sizeof a->devices[0]); i++)
        if (list[i].kind == QS_DEV_NVIDIA || list[i].kind == QS_DEV_AMD) a->devices[a->n_devices++] = list[i];
}

int tui_app_open(tui_app *a, const char *model_path, const char *plan_path, qs_error *err) {
    memset(a, 0, sizeof *a);
    qs_plan_init(&a->plan);
    qs_plan_init(&a->saved);
    a->max_ctx = -1;
    snprintf(a->model_path, sizeof a->model_path, "%s", model_path ? model_path : "");
    a->model = qs_model_open(model_path, err);
    if (!a->model) return QS_ERR;
    if (qs_model_plan_view(a->model, &a->pm, &a->pt) != QS_OK) {
        qs_model_close(a->model);
        return qs_error_set(err, "out of memory");
    }
    int n = a->pm.n_tensors;
    a->et = calloc((size_t)(n ? n : 1), sizeof *a->et);
    a->expanded = calloc((size_t)n_layer(a) + 2, sizeof *a->expanded);
    a->rows = calloc((size_t)n + (size_t)n_layer(a) + 2, sizeof *a->rows);
    if (!a->et || !a->expanded || !a->rows) {
        tui_app_close(a);
        return qs_error_set(err, "out of memory");
    }
    if (plan_path && *plan_path) {
        qs_plan_free(&a->plan);
        if (qs_plan_load(plan_path, &a->plan, err) != QS_OK) {
            tui_app_close(a);
            return QS_ERR;
        }
        snprintf(a->plan_path, sizeof a->plan_path, "%s", plan_path);
    } else {
        a->plan.default_type = (qs_type)default_type_of(a);
    }
    if (qs_plan_copy(&a->saved, &a->plan) != QS_OK) {
        tui_app_close(a);
        return qs_error_set(err, "out of memory");
    }
    /* the estimator's view: the same one `quantscope estimate` and export build */
    qs_model_est_fill(a->model, NULL, a->et, &a->em);
    qs_est_settings_default(&a->es);
    setup_devices(a);
    a->device = 0;
    if (a->plan.device) {
        for (int i = 1; i < a->n_devices; i++)
            if (!strcmp(a->devices[i].name, a->plan.device)) a->device = i;
    }
    tui_app_set_device(a, a->device);
    /* tui_app_set_device recorded the device in the plan; a loaded plan without one is not
     * changed by merely opening it */
    if (!a->saved.device && a->plan.device && a->device == 0) {
        free(a->plan.device);
        a->plan.device = NULL;
    }
    tui_app_update(a);
    tui_app_rows(a);
    status(a, false, "%s", plan_path && *plan_path ? "plan loaded" : "no plan file: the plan starts from the stored types");
    return QS_OK;
}

void tui_app_close(tui_app *a) {
    if (a->res_ok) qs_plan_resolution_free(&a->res);
    a->res_ok = false;
    qs_plan_free(&a->plan);
    qs_plan_free(&a->saved);
    free(a->pt);
    free(a->et);
    free(a->expanded);
    free(a->rows);
    if (a->model) qs_model_close(a->model);
    memset(a, 0, sizeof *a);
}

bool tui_app_dirty(const tui_app *a) { return !qs_plan_equal(&a->plan, &a->saved); }

/* ---- recompute ----------------------------------------------------------------------------- */

void tui_app_update(tui_app *a) {
    if (a->res_ok) qs_plan_resolution_free(&a->res);
    a->res_ok = qs_plan_resolve(&a->plan, &a->pm, &a->res, &a->res_err) == QS_OK;
    a->planned_bytes = 0;
    for (int i = 0; i < a->pm.n_tensors; i++) {
        a->et[i].type = planned_type(a, i);
        a->planned_bytes += tensor_bytes(a, i, a->et[i].type);
    }
    int64_t ctx = a->plan.context > 0 ? a->plan.context : a->model->hp.n_ctx_train;
    a->es.n_ctx = ctx;
    a->es.type_k = a->es.type_v = a->plan.kv_type;
    a->est_ok = qs_estimate(&a->em, &a->es, &a->er, &a->est_err) == QS_OK;
    a->max_ctx = -1;
    if (a->est_ok) {
        int64_t m = 0;
        qs_error e;
        int64_t cap = a->model->hp.n_ctx_train > 0 ? a->model->hp.n_ctx_train : 0;
        if (qs_estimate_max_ctx(&a->em, &a->es, cap, &m, &e) == QS_OK) a->max_ctx = m;
    }
}

/* ---- rows ---------------------------------------------------------------------------------- */

void tui_app_rows(tui_app *a) {
    int k = 0, nl = n_layer(a);
    for (int gi = 0; gi < nl + 2; gi++) {
        int g = gi == 0 ? -1 : gi == nl + 1 ? -2 : gi - 1;
        bool any = false;
        for (int i = 0; i < a->pm.n_tensors && !any; i++) any = group_of(a, i) == g;
        if (!any) continue;
        a->rows[k++] = (tui_row){g, -1, a->expanded[gi]};
        if (!a->expanded[gi]) continue;
        for (int i = 0; i < a->pm.n_tensors; i++)
            if (group_of(a, i) == g) a->rows[k++] = (tui_row){g, i, false};
    }
    a->n_rows = k;
}

void tui_app_toggle(tui_app *a, int row) {
    if (row < 0 || row >= a->n_rows) return;
    int slot = group_slot(a, a->rows[row].block);
    a->expanded[slot] = !a->expanded[slot];
    tui_app_rows(a);
}

static bool in_row(const tui_app *a, const tui_row *r, int i) {
    return r->tensor >= 0 ? i == r->tensor : group_of(a, i) == r->block;
}

uint64_t tui_app_row_bytes(const tui_app *a, const tui_row *r) {
    uint64_t s = 0;
    for (int i = 0; i < a->pm.n_tensors; i++)
        if (in_row(a, r, i)) s += tensor_bytes(a, i, planned_type(a, i));
    return s;
}

uint64_t tui_app_row_stored_bytes(const tui_app *a, const tui_row *r) {
    uint64_t s = 0;
    for (int i = 0; i < a->pm.n_tensors; i++)
        if (in_row(a, r, i)) s += a->model->tensors[i].t->nbytes;
    return s;
}

void tui_app_row_types(const tui_app *a, const tui_row *r, char *buf, size_t n) {
    int count[QS_TYPE_COUNT] = {0};
    bool fb = false;
    for (int i = 0; i < a->pm.n_tensors; i++) {
        if (!in_row(a, r, i)) continue;
        int t = planned_type(a, i);
        if (t >= 0 && t < QS_TYPE_COUNT) count[t]++;
        if (a->res_ok && a->res.choice[i].fallback) fb = true;
    }
    size_t o = 0;
    buf[0] = 0;
    /* most common first */
    int order[QS_TYPE_COUNT], k = 0;
    for (int t = 0; t < QS_TYPE_COUNT; t++)
        if (count[t]) order[k++] = t;
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && count[order[j]] > count[order[j - 1]]; j--) {
            int x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    for (int oi = 0; oi < k && o + 1 < n; oi++) {
        int t = order[oi];
        int w = r->tensor >= 0 ? snprintf(buf + o, n - o, "%s%s", o ? " " : "", qs_type_name(t))
                               : snprintf(buf + o, n - o, "%s%s x%d", o ? "  " : "", qs_type_name(t), count[t]);
        if (w < 0) break;
        o += (size_t)w;
        if (o >= n) { o = n - 1; break; }
    }
    if (fb && o + 12 < n) snprintf(buf + o, n - o, " (fallback)");
}

void tui_app_row_name(const tui_app *a, const tui_row *r, char *buf, size_t n) {
    if (r->tensor >= 0) snprintf(buf, n, "  %s", a->pt[r->tensor].name);
    else if (r->block == -1) snprintf(buf, n, "token_embd");
    else if (r->block == -2) snprintf(buf, n, "output");
    else snprintf(buf, n, "blk.%d", r->block);
}

bool tui_app_row_overridden(const tui_app *a, const tui_row *r) {
    if (!a->res_ok) return false;
    for (int i = 0; i < a->pm.n_tensors; i++) {
        if (!in_row(a, r, i)) continue;
        qs_plan_reason why = a->res.choice[i].reason;
        if (why == QS_REASON_TENSOR || why == QS_REASON_LAYER) return true;
    }
    return false;
}

int tui_app_row_type(const tui_app *a, const tui_row *r) {
    int count[QS_TYPE_COUNT] = {0};
    int best = -1;
    for (int pass = 0; pass < 2 && best < 0; pass++) {
        for (int i = 0; i < a->pm.n_tensors; i++) {
            if (!in_row(a, r, i) || (pass == 0 && !quantizable(a, i))) continue;
            int t = a->res_ok ? (int)a->res.choice[i].wanted : a->pt[i].type;
            if (t < 0 || t >= QS_TYPE_COUNT) continue;
            count[t]++;
            if (best < 0 || count[t] > count[best]) best = t;
        }
    }
    return best;
}

/* ---- edits --------------------------------------------------------------------------------- */

static int ladder_step(int type, int dir) {
    const qs_type *lad;
    int n = qs_type_ladder(&lad);
    int pos = -1;
    for (int i = 0; i < n; i++)
        if ((int)lad[i] == type) pos = i;
    if (pos < 0) {
        /* not on the ladder: the nearest rung in the wanted direction by bits per weight */
        double b = qs_type_bpw(type);
        if (dir > 0) {
            for (int i = 0; i < n; i++)
                if (qs_type_bpw(lad[i]) > b) return lad[i];
            return -1;
        }
        for (int i = n - 1; i >= 0; i--)
            if (qs_type_bpw(lad[i]) < b) return lad[i];
        return -1;
    }
    pos += dir;
    return pos >= 0 && pos < n ? (int)lad[pos] : -1;
}

int tui_app_step_type(tui_app *a, int row, int dir) {
    if (row < 0 || row >= a->n_rows) return QS_ERR;
    const tui_row r = a->rows[row];
    char name[96];
    tui_app_row_name(a, &r, name, sizeof name);
    const char *nm = name[0] == ' ' ? name + 2 : name;
    if (r.tensor >= 0 && !quantizable(a, r.tensor)) {
        const char *why = "not quantized";
        qs_plan_tensor_quantizable(a->pm.arch, &a->pt[r.tensor], &why);
        status(a, true, "%s: kept as stored (%s)", nm, why);
        return QS_ERR;
    }
    int cur = tui_app_row_type(a, &r);
    int next = cur < 0 ? -1 : ladder_step(cur, dir);
    if (next < 0) {
        status(a, true, "%s: %s is already the %s type of the ladder", nm, qs_type_name(cur),
               dir > 0 ? "highest" : "lowest");
        return QS_ERR;
    }
    uint64_t before = a->er.total[QS_EST_HOST] + a->er.total[QS_EST_GPU];
    qs_error e;
    int rc = QS_OK;
    if (r.tensor >= 0) {
        rc = qs_plan_set_tensor(&a->plan, a->pt[r.tensor].name, (qs_type)next, &e);
    } else if (r.block >= 0) {
        rc = qs_plan_set_layer(&a->plan, r.block, (qs_type)next, &e);
    } else {
        int changed = 0;
        for (int i = 0; i < a->pm.n_tensors && rc == QS_OK; i++)
            if (group_of(a, i) == r.block && quantizable(a, i)) {
                rc = qs_plan_set_tensor(&a->plan, a->pt[i].name, (qs_type)next, &e);
                changed++;
            }
        if (!changed) {
            status(a, true, "%s: nothing here is quantized", nm);
            return QS_ERR;
        }
    }
    if (rc != QS_OK) {
        status(a, true, "%s: %s", nm, e.msg);
        tui_app_update(a);
        return QS_ERR;
    }
    bool had_est = a->est_ok;
    tui_app_update(a);
    if (had_est && a->est_ok) {
        uint64_t after = a->er.total[QS_EST_HOST] + a->er.total[QS_EST_GPU];
        char d[48];
        tui_fmt_delta((int64_t)(after - before), d, sizeof d);
        status(a, false, "%s: %s -> %s (memory %s)", nm, qs_type_name(cur), qs_type_name(next), d);
    } else {
        status(a, !a->est_ok, "%s: %s -> %s%s%s", nm, qs_type_name(cur), qs_type_name(next),
               a->est_ok ? "" : "; no memory estimate: ", a->est_ok ? "" : a->est_err.msg);
    }
    return QS_OK;
}

int tui_app_clear_override(tui_app *a, int row) {
    if (row < 0 || row >= a->n_rows) return QS_ERR;
    const tui_row r = a->rows[row];
    int cleared = 0;
    if (r.tensor >= 0) cleared += qs_plan_clear_tensor(&a->plan, a->pt[r.tensor].name) == QS_OK;
    else {
        if (r.block >= 0) cleared += qs_plan_clear_layer(&a->plan, r.block) == QS_OK;
        for (int i = 0; i < a->pm.n_tensors; i++)
            if (group_of(a, i) == r.block) cleared += qs_plan_clear_tensor(&a->plan, a->pt[i].name) == QS_OK;
    }
    char name[96];
    tui_app_row_name(a, &r, name, sizeof name);
    if (!cleared) {
        status(a, true, "%s: no override to remove", name[0] == ' ' ? name + 2 : name);
        return QS_ERR;
    }
    tui_app_update(a);
    status(a, false, "%s: %d override(s) removed", name[0] == ' ' ? name + 2 : name, cleared);
    return QS_OK;
}

void tui_app_set_preset(tui_app *a, qs_preset p) {
    qs_plan_set_preset(&a->plan, p);
    tui_app_update(a);
    if (a->res_ok) status(a, false, "preset %s", qs_preset_name(p));
    else status(a, true, "%s", a->res_err.msg);
}

void tui_app_why(const tui_app *a, int row, char *buf, size_t n) {
    if (row < 0 || row >= a->n_rows || !a->res_ok) {
        snprintf(buf, n, "%s", a->res_ok ? "nothing selected" : a->res_err.msg);
        return;
    }
    const tui_row *r = &a->rows[row];
    int t = r->tensor;
    if (t < 0) {
        for (int i = 0; i < a->pm.n_tensors && t < 0; i++)
            if (in_row(a, r, i) && quantizable(a, i)) t = i;
        for (int i = 0; i < a->pm.n_tensors && t < 0; i++)
            if (in_row(a, r, i)) t = i;
    }
    if (t < 0) {
        snprintf(buf, n, "no tensors");
        return;
    }
    snprintf(buf, n, "%s: %s", a->pt[t].name, a->res.choice[t].why);
}

/* ---- memory controls ----------------------------------------------------------------------- */

void tui_app_set_ctx(tui_app *a, int64_t n_ctx) {
    if (n_ctx < 256) n_ctx = 256;
    if (n_ctx > 16 * 1024 * 1024) n_ctx = 16 * 1024 * 1024;
    a->plan.context = n_ctx;
    tui_app_update(a);
    char b[32];
    status(a, false, "context %s tokens", tui_fmt_int(n_ctx, b, sizeof b));
}

void tui_app_next_kv(tui_app *a, int dir) {
    static const qs_type kv[] = {QS_TYPE_F16, QS_TYPE_BF16, QS_TYPE_F32, QS_TYPE_Q8_0, QS_TYPE_Q5_1,
                                 QS_TYPE_Q5_0, QS_TYPE_Q4_1, QS_TYPE_Q4_0, QS_TYPE_IQ4_NL};
    int n = (int)(sizeof kv / sizeof kv[0]), pos = 0;
    for (int i = 0; i < n; i++)
        if (kv[i] == a->plan.kv_type) pos = i;
    pos = ((pos + dir) % n + n) % n;
    a->plan.kv_type = kv[pos];
    tui_app_update(a);
    status(a, false, "KV cache %s", qs_type_name(kv[pos]));
}

void tui_app_gpu_layers(tui_app *a, int delta) {
    int max = n_layer(a) + 1;
    if (a->devices[a->device].kind == QS_DEV_CPU) {
        status(a, true, "no GPU: choose a device with d");
        return;
    }
    int cur = a->es.n_gpu_layers < 0 || a->es.n_gpu_layers > max ? max : a->es.n_gpu_layers;
    cur += delta;
    if (cur < 0) cur = 0;
    if (cur > max) cur = max;
    a->es.n_gpu_layers = cur;
    tui_app_update(a);
    status(a, false, "GPU layers %d of %d", cur, max);
}

void tui_app_set_device(tui_app *a, int idx) {
    if (a->n_devices <= 0) return;
    idx = ((idx % a->n_devices) + a->n_devices) % a->n_devices;
    a->device = idx;
    const qs_device *d = &a->devices[idx];
    uint64_t host = a->devices[0].mem_free ? a->devices[0].mem_free : a->devices[0].mem_total;
    a->es.host_mem = host;
    if (d->kind == QS_DEV_CPU) {
        a->es.gpu_mem = 0;
        a->es.n_gpu_layers = 0;
    } else {
        a->es.gpu_mem = d->mem_total;
        a->es.n_gpu_layers = -1;
    }
    free(a->plan.device);
    a->plan.device = strdup(d->name);
    tui_app_update(a);
    status(a, false, "device: %s", d->label);
}
