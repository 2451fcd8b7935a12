/* Plans: the struct and its edits, validation, resolution, reports and preset expansion. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "qs_plan_internal.h"

#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Small helpers.
 * ------------------------------------------------------------------------------------------- */

char *qs_plan_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int qs_strlist_addf(qs_strlist *l, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return QS_ERR;
    char *s = malloc((size_t)n + 1);
    if (!s) return QS_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, sizeof *v * (size_t)cap);
        if (!v) {
            free(s);
            return QS_ENOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return QS_OK;
}

void qs_strlist_free(qs_strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* Grows an array of `size`-byte items to hold n + 1. */
static int grow(void **arr, int n, size_t size) {
    void *p = realloc(*arr, size * (size_t)(n + 1));
    if (!p) return QS_ENOMEM;
    *arr = p;
    return QS_OK;
}

static bool str_eq(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * Types a plan may use.
 * ------------------------------------------------------------------------------------------- */

bool qs_plan_type_allowed(int type) {
    if (!qs_type_valid(type)) return false;
    switch (type) {
    case QS_TYPE_Q8_1:
    case QS_TYPE_Q8_K:
    case QS_TYPE_I8:
    case QS_TYPE_I16:
    case QS_TYPE_I32:
    case QS_TYPE_I64:
    case QS_TYPE_F64: return false;
    default: return true;
    }
}

bool qs_plan_kv_type_allowed(int type) {
    switch (type) {
    case QS_TYPE_F32:
    case QS_TYPE_F16:
    case QS_TYPE_BF16:
    case QS_TYPE_Q8_0:
    case QS_TYPE_Q4_0:
    case QS_TYPE_Q4_1:
    case QS_TYPE_IQ4_NL:
    case QS_TYPE_Q5_0:
    case QS_TYPE_Q5_1: return true;
    default: return false;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Regexes.
 * ------------------------------------------------------------------------------------------- */

static pcre2_code *regex_compile_at(const char *pattern, size_t *err_offset, qs_error *err) {
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &off, NULL);
    if (!re) {
        if (err_offset) *err_offset = (size_t)off;
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(code, msg, sizeof msg) < 0) snprintf((char *)msg, sizeof msg, "error %d", code);
        qs_error_set(err, "invalid regex '%s': %s at offset %zu", pattern, (const char *)msg, (size_t)off);
    }
    return re;
}

static pcre2_code *regex_compile(const char *pattern, qs_error *err) { return regex_compile_at(pattern, NULL, err); }

int qs_regex_check(const char *pattern, qs_error *err) {
    if (!pattern) return qs_error_set(err, "missing regex");
    if (!*pattern) return qs_error_set(err, "empty regex (it would match every tensor; use the default type)");
    pcre2_code *re = regex_compile(pattern, err);
    if (!re) return QS_ERR;
    pcre2_code_free(re);
    return QS_OK;
}

/* 1 match, 0 no match, QS_ERR on a matching error (message in err). */
static int regex_search(pcre2_code *re, pcre2_match_data *md, const char *s, const char *pattern, qs_error *err) {
    int rc = pcre2_match(re, (PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    return qs_error_set(err, "regex '%s' on '%s': %s", pattern, s, (const char *)msg);
}

int qs_plan_rule_matches(const char *pattern, const qs_plan_model *model, bool *matched, size_t *err_offset,
                         qs_error *err) {
    if (err_offset) *err_offset = 0;
    if (!pattern) return qs_error_set(err, "missing regex");
    if (!*pattern) return qs_error_set(err, "empty regex (it would match every tensor; use the default type)");
    pcre2_code *re = regex_compile_at(pattern, err_offset, err);
    if (!re) return QS_ERR;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) {
        pcre2_code_free(re);
        return qs_error_set(err, "out of memory");
    }
    int count = 0;
    for (int i = 0; i < model->n_tensors; i++) {
        int m = regex_search(re, md, model->tensors[i].name, pattern, err);
        if (m < 0) {
            count = QS_ERR;
            break;
        }
        if (matched) matched[i] = m > 0;
        count += m;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return count;
}

/* ---------------------------------------------------------------------------------------------
 * The plan struct.
 * ------------------------------------------------------------------------------------------- */

void qs_plan_init(qs_plan *p) {
    memset(p, 0, sizeof *p);
    p->default_type = QS_TYPE_F16;
    p->preset = QS_PRESET_NONE;
    p->keep_type = QS_TYPE_Q8_0;
    p->kv_type = QS_TYPE_F16;
}

void qs_plan_free(qs_plan *p) {
    for (int i = 0; i < p->n_rules; i++) free(p->rules[i].pattern);
    for (int i = 0; i < p->n_tensors; i++) free(p->tensors[i].name);
    free(p->rules);
    free(p->layers);
    free(p->tensors);
    free(p->device);
    free(p->notes);
    free(p->model.file);
    qs_plan_init(p);
}

int qs_plan_copy(qs_plan *dst, const qs_plan *src) {
    qs_plan_init(dst);
    *dst = *src;
    dst->rules = NULL;
    dst->layers = NULL;
    dst->tensors = NULL;
    dst->n_rules = dst->n_layers = dst->n_tensors = 0;
    dst->device = qs_plan_strdup(src->device);
    dst->notes = qs_plan_strdup(src->notes);
    dst->model.file = qs_plan_strdup(src->model.file);
    if ((src->device && !dst->device) || (src->notes && !dst->notes) || (src->model.file && !dst->model.file))
        goto oom;
    if (src->n_rules) {
        dst->rules = calloc((size_t)src->n_rules, sizeof *dst->rules);
        if (!dst->rules) goto oom;
        for (int i = 0; i < src->n_rules; i++, dst->n_rules++) {
            dst->rules[i].type = src->rules[i].type;
            if (!(dst->rules[i].pattern = qs_plan_strdup(src->rules[i].pattern))) goto oom;
        }
    }
    if (src->n_layers) {
        dst->layers = malloc(sizeof *dst->layers * (size_t)src->n_layers);
        if (!dst->layers) goto oom;
        memcpy(dst->layers, src->layers, sizeof *dst->layers * (size_t)src->n_layers);
        dst->n_layers = src->n_layers;
    }
    if (src->n_tensors) {
        dst->tensors = calloc((size_t)src->n_tensors, sizeof *dst->tensors);
        if (!dst->tensors) goto oom;
        for (int i = 0; i < src->n_tensors; i++, dst->n_tensors++) {
            dst->tensors[i].type = src->tensors[i].type;
            if (!(dst->tensors[i].name = qs_plan_strdup(src->tensors[i].name))) goto oom;
        }
    }
    return QS_OK;
oom:
    qs_plan_free(dst);
    return QS_ENOMEM;
}

bool qs_plan_equal(const qs_plan *a, const qs_plan *b) {
    if (a->default_type != b->default_type || a->preset != b->preset) return false;
    if (a->n_rules != b->n_rules || a->n_layers != b->n_layers || a->n_tensors != b->n_tensors) return false;
    for (int i = 0; i < a->n_rules; i++)
        if (a->rules[i].type != b->rules[i].type || !str_eq(a->rules[i].pattern, b->rules[i].pattern)) return false;
    for (int i = 0; i < a->n_layers; i++)
        if (a->layers[i].block != b->layers[i].block || a->layers[i].type != b->layers[i].type) return false;
    for (int i = 0; i < a->n_tensors; i++)
        if (a->tensors[i].type != b->tensors[i].type || !str_eq(a->tensors[i].name, b->tensors[i].name)) return false;
    bool keep_a = a->keep_first || a->keep_last, keep_b = b->keep_first || b->keep_last;
    if (a->keep_first != b->keep_first || a->keep_last != b->keep_last) return false;
    if (keep_a && keep_b && a->keep_type != b->keep_type) return false;
    if (a->kv_type != b->kv_type || a->context != b->context) return false;
    if (!str_eq(a->device, b->device) || !str_eq(a->notes, b->notes)) return false;
    if (!str_eq(a->model.file, b->model.file)) return false;
    if (a->model.file && (a->model.size != b->model.size || a->model.n_tensors != b->model.n_tensors ||
                          a->model.hash != b->model.hash))
        return false;
    return true;
}

static int check_type(int type, const char *what, qs_error *err) {
    if (!qs_plan_type_allowed(type))
        return qs_error_set(err, "%s: type %s cannot be chosen for a tensor", what, qs_type_name(type));
    return QS_OK;
}

int qs_plan_insert_rule(qs_plan *p, int at, const char *pattern, qs_type type, qs_error *err) {
    if (at < 0 || at > p->n_rules) at = p->n_rules;
    if (check_type(type, "rule", err)) return QS_ERR;
    if (qs_regex_check(pattern, err)) return QS_ERR;
    char *s = qs_plan_strdup(pattern);
    if (!s || grow((void **)&p->rules, p->n_rules, sizeof *p->rules)) {
        free(s);
        return QS_ENOMEM;
    }
    memmove(&p->rules[at + 1], &p->rules[at], sizeof *p->rules * (size_t)(p->n_rules - at));
    p->rules[at].pattern = s;
    p->rules[at].type = type;
    p->n_rules++;
    return QS_OK;
}

int qs_plan_remove_rule(qs_plan *p, int at) {
    if (at < 0 || at >= p->n_rules) return QS_ERR;
    free(p->rules[at].pattern);
    memmove(&p->rules[at], &p->rules[at + 1], sizeof *p->rules * (size_t)(p->n_rules - at - 1));
    p->n_rules--;
    return QS_OK;
}

int qs_plan_set_layer(qs_plan *p, int block, qs_type type, qs_error *err) {
    if (block < 0) return qs_error_set(err, "layer override: block %d is negative", block);
    if (check_type(type, "layer override", err)) return QS_ERR;
    for (int i = 0; i < p->n_layers; i++)
        if (p->layers[i].block == block) return p->layers[i].type = type, QS_OK;
    if (grow((void **)&p->layers, p->n_layers, sizeof *p->layers)) return QS_ENOMEM;
    p->layers[p->n_layers++] = (qs_plan_layer_override){block, type};
    return QS_OK;
}

int qs_plan_set_tensor(qs_plan *p, const char *name, qs_type type, qs_error *err) {
    if (!name || !*name) return qs_error_set(err, "tensor override: empty tensor name");
    if (check_type(type, "tensor override", err)) return QS_ERR;
    for (int i = 0; i < p->n_tensors; i++)
        if (strcmp(p->tensors[i].name, name) == 0) return p->tensors[i].type = type, QS_OK;
    char *s = qs_plan_strdup(name);
    if (!s || grow((void **)&p->tensors, p->n_tensors, sizeof *p->tensors)) {
        free(s);
        return QS_ENOMEM;
    }
    p->tensors[p->n_tensors++] = (qs_plan_tensor_override){s, type};
    return QS_OK;
}

int qs_plan_clear_layer(qs_plan *p, int block) {
    for (int i = 0; i < p->n_layers; i++) {
        if (p->layers[i].block != block) continue;
        memmove(&p->layers[i], &p->layers[i + 1], sizeof *p->layers * (size_t)(p->n_layers - i - 1));
        p->n_layers--;
        return QS_OK;
    }
    return QS_ERR;
}

int qs_plan_clear_tensor(qs_plan *p, const char *name) {
    for (int i = 0; i < p->n_tensors; i++) {
        if (strcmp(p->tensors[i].name, name) != 0) continue;
        free(p->tensors[i].name);
        memmove(&p->tensors[i], &p->tensors[i + 1], sizeof *p->tensors * (size_t)(p->n_tensors - i - 1));
        p->n_tensors--;
        return QS_OK;
    }
    return QS_ERR;
}

void qs_plan_set_preset(qs_plan *p, qs_preset preset) {
    p->preset = preset;
    if (preset != QS_PRESET_NONE) p->default_type = qs_preset_base_type(preset);
}

int qs_plan_validate(const qs_plan *p, qs_error *err) {
    if ((int)p->preset < 0 || p->preset >= QS_PRESET_COUNT) return qs_error_set(err, "invalid preset %d", (int)p->preset);
    if (check_type(p->default_type, "default", err)) return QS_ERR;
    if (p->preset != QS_PRESET_NONE && p->default_type != qs_preset_base_type(p->preset))
        return qs_error_set(err, "default %s does not match preset %s (its default is %s)", qs_type_name(p->default_type),
                            qs_preset_name(p->preset), qs_type_name(qs_preset_base_type(p->preset)));
    for (int i = 0; i < p->n_rules; i++) {
        char what[32];
        snprintf(what, sizeof what, "rule %d", i + 1);
        if (check_type(p->rules[i].type, what, err)) return QS_ERR;
        if (qs_regex_check(p->rules[i].pattern, err)) return qs_error_prefix(err, "rule %d", i + 1);
    }
    for (int i = 0; i < p->n_layers; i++) {
        if (p->layers[i].block < 0) return qs_error_set(err, "layer override: block %d is negative", p->layers[i].block);
        if (check_type(p->layers[i].type, "layer override", err)) return QS_ERR;
        for (int j = 0; j < i; j++)
            if (p->layers[j].block == p->layers[i].block)
                return qs_error_set(err, "layer override: block %d given twice", p->layers[i].block);
    }
    for (int i = 0; i < p->n_tensors; i++) {
        if (!p->tensors[i].name || !*p->tensors[i].name) return qs_error_set(err, "tensor override: empty tensor name");
        if (check_type(p->tensors[i].type, "tensor override", err)) return QS_ERR;
        for (int j = 0; j < i; j++)
            if (strcmp(p->tensors[j].name, p->tensors[i].name) == 0)
                return qs_error_set(err, "tensor override: '%s' given twice", p->tensors[i].name);
    }
    if (p->keep_first < 0 || p->keep_last < 0) return qs_error_set(err, "keep: block counts must not be negative");
    if ((p->keep_first || p->keep_last) && check_type(p->keep_type, "keep", err)) return QS_ERR;
    if (!qs_plan_kv_type_allowed(p->kv_type))
        return qs_error_set(err, "kv_type: %s is not a KV-cache type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, IQ4_NL, Q5_0, Q5_1)",
                            qs_type_name(p->kv_type));
    if (p->context < 0) return qs_error_set(err, "context: %lld is negative", (long long)p->context);
    if (p->model.file && p->model.n_tensors < 0) return qs_error_set(err, "model: negative tensor count");
    return QS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Fingerprint.
 * ------------------------------------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i)); /* little-endian, any host */
    return fnv(h, b, 8);
}

uint64_t qs_plan_tensor_hash(const qs_plan_tensor *t, int n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n; i++) {
        h = fnv(h, t[i].name, strlen(t[i].name) + 1);
        h = fnv_u64(h, (uint64_t)t[i].n_dims);
        for (int d = 0; d < t[i].n_dims && d < 4; d++) h = fnv_u64(h, (uint64_t)t[i].ne[d]);
        h = fnv_u64(h, (uint64_t)(uint32_t)t[i].type);
    }
    return h;
}

/* ---------------------------------------------------------------------------------------------
 * Resolution.
 * ------------------------------------------------------------------------------------------- */

void qs_plan_resolution_free(qs_plan_resolution *r) {
    free(r->choice);
    free(r->rule_decided);
    free(r->rule_matched);
    free(r->layer_decided);
    free(r->tensor_decided);
    memset(r, 0, sizeof *r);
}

static bool in_keep(const qs_plan *p, const qs_plan_model *m, int block) {
    if (block < 0) return false;
    return block < p->keep_first || (p->keep_last > 0 && block >= m->n_layer - p->keep_last);
}

static void keep_text(const qs_plan *p, char *buf, size_t n) {
    if (p->keep_first && p->keep_last)
        snprintf(buf, n, "keep first %d and last %d blocks", p->keep_first, p->keep_last);
    else if (p->keep_first)
        snprintf(buf, n, "keep first %d blocks", p->keep_first);
    else
        snprintf(buf, n, "keep last %d blocks", p->keep_last);
}

int qs_plan_resolve(const qs_plan *plan, const qs_plan_model *model, qs_plan_resolution *out, qs_error *err) {
    memset(out, 0, sizeof *out);
    if (qs_plan_validate(plan, err)) return QS_ERR;
    const int n = model->n_tensors;
    int rc = QS_ENOMEM;
    pcre2_code **re = calloc((size_t)plan->n_rules + 1, sizeof *re);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int *order = qs_plan_llama_order(model);
    out->n = n;
    out->choice = calloc((size_t)n + 1, sizeof *out->choice);
    out->rule_decided = calloc((size_t)plan->n_rules + 1, sizeof(int));
    out->rule_matched = calloc((size_t)plan->n_rules + 1, sizeof(int));
    out->layer_decided = calloc((size_t)plan->n_layers + 1, sizeof(int));
    out->tensor_decided = calloc((size_t)plan->n_tensors + 1, sizeof(int));
    if (!re || !md || !order || !out->choice || !out->rule_decided || !out->rule_matched || !out->layer_decided ||
        !out->tensor_decided)
        goto done;
    for (int r = 0; r < plan->n_rules; r++) {
        if (!(re[r] = regex_compile(plan->rules[r].pattern, err))) {
            qs_error_prefix(err, "rule %d", r + 1);
            rc = QS_ERR;
            goto done;
        }
    }

    qs_mix_state mix;
    qs_mix_init(&mix, model);
    char keeps[64];
    keep_text(plan, keeps, sizeof keeps);

    for (int k = 0; k < n; k++) {
        const int i = order[k];
        const qs_plan_tensor *t = &model->tensors[i];
        qs_plan_choice *c = &out->choice[i];
        c->index = -1;
        const char *why_not;
        if (!qs_plan_tensor_quantizable(model->arch, t, &why_not)) {
            c->type = c->wanted = (qs_type)t->type;
            c->reason = QS_REASON_KEPT;
            snprintf(c->why, sizeof c->why, "%s: kept %s", why_not, qs_type_name(t->type));
            continue;
        }
        bool decided = false;
        char why[sizeof c->why];
        for (int j = 0; j < plan->n_tensors && !decided; j++) {
            if (strcmp(plan->tensors[j].name, t->name) != 0) continue;
            decided = true;
            c->wanted = plan->tensors[j].type;
            c->reason = QS_REASON_TENSOR;
            c->index = j;
            out->tensor_decided[j]++;
            snprintf(why, sizeof why, "tensor override -> %s", qs_type_name(c->wanted));
        }
        for (int j = 0; j < plan->n_layers && !decided && t->block >= 0; j++) {
            if (plan->layers[j].block != t->block) continue;
            decided = true;
            c->wanted = plan->layers[j].type;
            c->reason = QS_REASON_LAYER;
            c->index = j;
            out->layer_decided[j]++;
            snprintf(why, sizeof why, "layer override: block %d -> %s", t->block, qs_type_name(c->wanted));
        }
        if (!decided && in_keep(plan, model, t->block)) {
            decided = true;
            c->wanted = plan->keep_type;
            c->reason = QS_REASON_KEEP;
            out->keep_decided++;
            snprintf(why, sizeof why, "%s: block %d -> %s", keeps, t->block, qs_type_name(c->wanted));
        }
        for (int r = 0; r < plan->n_rules; r++) {
            int m = regex_search(re[r], md, t->name, plan->rules[r].pattern, err);
            if (m < 0) {
                rc = QS_ERR;
                goto done;
            }
            if (!m) continue;
            out->rule_matched[r]++;
            if (decided) continue;
            decided = true;
            c->wanted = plan->rules[r].type;
            c->reason = QS_REASON_RULE;
            c->index = r;
            out->rule_decided[r]++;
            snprintf(why, sizeof why, "rule %d: %.120s -> %s", r + 1, plan->rules[r].pattern, qs_type_name(c->wanted));
        }
        if (!decided && plan->preset != QS_PRESET_NONE) {
            int ty = qs_mix_pick(&mix, plan->preset, model, t, why, sizeof why, err);
            if (ty < 0) {
                rc = QS_ERR;
                goto done;
            }
            c->wanted = (qs_type)ty;
            c->reason = QS_REASON_PRESET;
            decided = true;
        }
        if (!decided) {
            c->wanted = plan->default_type;
            c->reason = QS_REASON_DEFAULT;
            snprintf(why, sizeof why, "default %s", qs_type_name(c->wanted));
        }
        char fb[sizeof c->why];
        c->type = qs_type_fallback(c->wanted, t->ne[0], fb, sizeof fb);
        c->fallback = c->type != c->wanted;
        if (c->fallback) {
            out->n_fallback++;
            /* the fallback sentence is kept whole; the decision is shortened if both do not fit */
            size_t lf = strlen(fb), lw = strlen(why), room = sizeof c->why - 1;
            if (lf + 2 > room) lf = room - 2;
            if (lw + 2 + lf > room) lw = room - 2 - lf;
            memcpy(c->why, why, lw);
            memcpy(c->why + lw, "; ", 2);
            memcpy(c->why + lw + 2, fb, lf);
            c->why[lw + 2 + lf] = 0;
        } else {
            memcpy(c->why, why, sizeof c->why);
        }
    }
    rc = QS_OK;
done:
    if (re)
        for (int r = 0; r < plan->n_rules; r++) pcre2_code_free(re[r]);
    free(re);
    pcre2_match_data_free(md);
    free(order);
    if (rc != QS_OK) {
        if (rc == QS_ENOMEM) qs_error_set(err, "out of memory");
        qs_plan_resolution_free(out);
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * What does not apply.
 * ------------------------------------------------------------------------------------------- */

static const qs_plan_tensor *find_tensor(const qs_plan_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

#define ADD(...)                                                         \
    do {                                                                 \
        if (qs_strlist_addf(out, __VA_ARGS__) != QS_OK) return QS_ENOMEM; \
        count++;                                                         \
    } while (0)

int qs_plan_unmatched(const qs_plan *plan, const qs_plan_model *model, const qs_plan_resolution *r, qs_strlist *out) {
    int count = 0;
    for (int j = 0; j < plan->n_tensors; j++) {
        if (r->tensor_decided[j]) continue;
        const qs_plan_tensor *t = find_tensor(model, plan->tensors[j].name);
        const char *why = NULL;
        if (!t)
            ADD("tensor override '%s' -> %s: the model has no such tensor", plan->tensors[j].name,
                qs_type_name(plan->tensors[j].type));
        else if (!qs_plan_tensor_quantizable(model->arch, t, &why))
            ADD("tensor override '%s' -> %s: never quantized (%s)", plan->tensors[j].name,
                qs_type_name(plan->tensors[j].type), why);
    }
    for (int j = 0; j < plan->n_layers; j++) {
        if (r->layer_decided[j]) continue;
        if (plan->layers[j].block >= model->n_layer)
            ADD("layer override block %d -> %s: the model has %d blocks", plan->layers[j].block,
                qs_type_name(plan->layers[j].type), model->n_layer);
        else
            ADD("layer override block %d -> %s: decides no tensor", plan->layers[j].block,
                qs_type_name(plan->layers[j].type));
    }
    if (plan->keep_first || plan->keep_last) {
        char keeps[64];
        keep_text(plan, keeps, sizeof keeps);
        if (plan->keep_first > model->n_layer || plan->keep_last > model->n_layer)
            ADD("%s -> %s: the model has %d blocks", keeps, qs_type_name(plan->keep_type), model->n_layer);
        else if (!r->keep_decided)
            ADD("%s -> %s: decides no tensor", keeps, qs_type_name(plan->keep_type));
    }
    for (int j = 0; j < plan->n_rules; j++) {
        if (r->rule_decided[j]) continue;
        if (!r->rule_matched[j])
            ADD("rule %d (%s -> %s) matches no quantizable tensor", j + 1, plan->rules[j].pattern,
                qs_type_name(plan->rules[j].type));
        else
            ADD("rule %d (%s -> %s) matches %d tensor%s, all decided by earlier entries", j + 1,
                plan->rules[j].pattern, qs_type_name(plan->rules[j].type), r->rule_matched[j],
                r->rule_matched[j] == 1 ? "" : "s");
    }
    return count;
}

int qs_plan_check_model(const qs_plan *plan, const qs_plan_fingerprint *fp, const qs_plan_model *model,
                        qs_strlist *out, qs_error *err) {
    int count = 0;
    if (fp && plan->model.file) {
        const qs_plan_fingerprint *a = &plan->model;
        if (!str_eq(a->file, fp->file))
            ADD("plan made for file '%s', this is '%s'", a->file, fp->file ? fp->file : "?");
        if (a->size != fp->size)
            ADD("plan made for a file of %llu bytes, this one has %llu", (unsigned long long)a->size,
                (unsigned long long)fp->size);
        if (a->n_tensors != fp->n_tensors)
            ADD("plan made for %lld tensors, this model has %lld", (long long)a->n_tensors, (long long)fp->n_tensors);
        if (a->hash != fp->hash)
            ADD("plan made for tensor table %016llx, this model's is %016llx", (unsigned long long)a->hash,
                (unsigned long long)fp->hash);
    }
    qs_plan_resolution r;
    int rc = qs_plan_resolve(plan, model, &r, err);
    if (rc != QS_OK) return rc;
    rc = qs_plan_unmatched(plan, model, &r, out);
    qs_plan_resolution_free(&r);
    if (rc < 0) return rc;
    return count + rc;
}

/* ---------------------------------------------------------------------------------------------
 * Preset expansion.
 * ------------------------------------------------------------------------------------------- */

void qs_sbuf_put(qs_sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void qs_sbuf_str(qs_sbuf *b, const char *s) { qs_sbuf_put(b, s, strlen(s)); }

/* Appends s with regex metacharacters escaped. */

static void sb_escaped(qs_sbuf *b, const char *s) {
    for (; *s; s++) {
        if (strchr("\\^$.|?*+()[]{}", *s)) qs_sbuf_put(b, "\\", 1);
        qs_sbuf_put(b, s, 1);
    }
}

/* "blk.12.attn_v.weight" -> block 12 and rest "attn_v.weight", when the name is in that form. */
static bool split_block_name(const char *name, int *block, const char **rest) {
    int b = qs_plan_name_block(name);
    if (b < 0) return false;
    char prefix[32];
    int len = snprintf(prefix, sizeof prefix, "blk.%d.", b);
    if (strncmp(name, prefix, (size_t)len) != 0) return false;
    *block = b;
    *rest = name + len;
    return true;
}

typedef struct {
    const char *rest;  /* kind without "blk.N." (or whole name when block < 0) */
    bool in_block;
    qs_type type;
    int *blocks;
    int n_blocks;
} expand_group;

int qs_plan_expand_preset(const qs_plan *plan, const qs_plan_model *model, qs_plan *out, qs_error *err) {
    if (plan->preset == QS_PRESET_NONE) {
        if (qs_plan_validate(plan, err)) return QS_ERR;
        return qs_plan_copy(out, plan) ? (qs_error_set(err, "out of memory"), QS_ENOMEM) : QS_OK;
    }
    qs_plan_init(out);
    qs_plan_resolution r;
    int rc = qs_plan_resolve(plan, model, &r, err);
    if (rc) return rc;
    const qs_type base = qs_preset_base_type(plan->preset);
    int *order = qs_plan_llama_order(model);
    expand_group *g = calloc((size_t)model->n_tensors + 1, sizeof *g);
    int ng = 0;
    rc = QS_ENOMEM;
    if (!order || !g || qs_plan_copy(out, plan)) goto done;
    out->preset = QS_PRESET_NONE;
    out->default_type = base;

    for (int k = 0; k < model->n_tensors; k++) {
        const int i = order[k];
        const qs_plan_choice *c = &r.choice[i];
        if (c->reason != QS_REASON_PRESET || c->wanted == base) continue;
        const char *name = model->tensors[i].name, *rest = name;
        int block = -1;
        bool in_block = split_block_name(name, &block, &rest);
        int j;
        for (j = 0; j < ng; j++)
            if (g[j].in_block == in_block && g[j].type == c->wanted && strcmp(g[j].rest, rest) == 0) break;
        if (j == ng) {
            g[ng].rest = rest;
            g[ng].in_block = in_block;
            g[ng].type = c->wanted;
            g[ng].blocks = malloc(sizeof(int) * (size_t)(model->n_tensors + 1));
            if (!g[ng].blocks) goto done;
            ng++;
        }
        if (in_block) g[j].blocks[g[j].n_blocks++] = block;
    }
    for (int j = 0; j < ng; j++) {
        qs_sbuf b = {0};
        qs_sbuf_str(&b, "^");
        if (g[j].in_block) {
            qs_sbuf_str(&b, "blk\\.");
            if (g[j].n_blocks > 1) qs_sbuf_str(&b, "(");
            for (int q = 0; q < g[j].n_blocks; q++) {
                char num[16];
                snprintf(num, sizeof num, q ? "|%d" : "%d", g[j].blocks[q]);
                qs_sbuf_str(&b, num);
            }
            if (g[j].n_blocks > 1) qs_sbuf_str(&b, ")");
            qs_sbuf_str(&b, "\\.");
        }
        sb_escaped(&b, g[j].rest);
        qs_sbuf_str(&b, "$");
        if (b.oom) {
            free(b.s);
            goto done;
        }
        int e = qs_plan_insert_rule(out, -1, b.s, g[j].type, err);
        free(b.s);
        if (e) {
            rc = e;
            goto done;
        }
    }
    rc = QS_OK;
done:
    if (g)
        for (int j = 0; j < ng; j++) free(g[j].blocks);
    free(g);
    free(order);
    qs_plan_resolution_free(&r);
    if (rc != QS_OK) {
        if (rc == QS_ENOMEM) qs_error_set(err, "out of memory");
        qs_plan_free(out);
    }
    return rc;
}
