/* Plan files: YAML in, YAML out (format: man/quantscope-plan.5).
 *
 * Reading goes through libyaml's loader, whose nodes carry the marks of the parser events, so
 * every error names the place: "plan.yaml:12:14: unknown type 'Q9_K'". The schema is strict:
 * unknown keys, duplicate keys and values of the wrong kind are errors, never ignored.
 *
 * Writing is ours, not libyaml's emitter: one canonical layout with a comment line on top, every
 * string in the simplest style that reads back exactly (plain, single-quoted, literal block or
 * double-quoted). Files written here parse to an equal plan and re-serialise byte for byte. */
#include "qs_plan_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "qs_tmpfile.h"

/* ---------------------------------------------------------------------------------------------
 * Reading.
 * ------------------------------------------------------------------------------------------- */

typedef struct reader {
    yaml_document_t *doc;
    const char *name; /* for messages */
    qs_error *err;
} reader;

/* "name:line:col: message" at a node. */
static int node_err(reader *r, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int node_err(reader *r, const yaml_node_t *n, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qs_error_set(r->err, "%s:%zu:%zu: %s", r->name, n->start_mark.line + 1, n->start_mark.column + 1, msg);
}

static const char *kind_name(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static yaml_node_t *node(reader *r, int id) { return yaml_document_get_node(r->doc, id); }

static bool is_null(const yaml_node_t *n) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* A scalar's text, NUL-terminated; errors for other nodes and for embedded NUL bytes. */
static int scalar(reader *r, const yaml_node_t *n, const char *what, const char **out) {
    *out = "";
    if (n->type != YAML_SCALAR_NODE) return node_err(r, n, "%s: expected a scalar, got %s", what, kind_name(n));
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return node_err(r, n, "%s: contains a NUL character", what);
    *out = (const char *)n->data.scalar.value;
    return QS_OK;
}

static int get_string(reader *r, const yaml_node_t *n, const char *what, char **out) {
    const char *s;
    if (scalar(r, n, what, &s)) return QS_ERR;
    free(*out);
    *out = qs_plan_strdup(s);
    return *out ? QS_OK : qs_error_set(r->err, "out of memory");
}

static int get_int(reader *r, const yaml_node_t *n, const char *what, int64_t lo, int64_t hi, int64_t *out) {
    const char *s;
    if (scalar(r, n, what, &s)) return QS_ERR;
    const char *p = s;
    if (*p == '+') p++;
    bool neg = *p == '-';
    if (neg) p++;
    if (!*p) return node_err(r, n, "%s: expected an integer, got '%s'", what, s);
    uint64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return node_err(r, n, "%s: expected an integer, got '%s'", what, s);
        if (v > (UINT64_MAX - 9) / 10) return node_err(r, n, "%s: %s is too large", what, s);
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > (uint64_t)INT64_MAX) return node_err(r, n, "%s: %s is too large", what, s);
    int64_t x = neg ? -(int64_t)v : (int64_t)v;
    if (x < lo || x > hi) {
        if (x < lo && lo == 0) return node_err(r, n, "%s: %s is negative", what, s);
        return node_err(r, n, "%s: %s is out of range [%lld, %lld]", what, s, (long long)lo, (long long)hi);
    }
    *out = x;
    return QS_OK;
}

static int get_u64(reader *r, const yaml_node_t *n, const char *what, uint64_t *out) {
    const char *s;
    if (scalar(r, n, what, &s)) return QS_ERR;
    if (!*s) return node_err(r, n, "%s: expected a non-negative integer, got ''", what);
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return node_err(r, n, "%s: expected a non-negative integer, got '%s'", what, s);
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) return node_err(r, n, "%s: %s is too large", what, s);
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return QS_OK;
}

static int get_type(reader *r, const yaml_node_t *n, const char *what, bool kv, qs_type *out) {
    const char *s;
    if (scalar(r, n, what, &s)) return QS_ERR;
    qs_type t;
    if (qs_type_from_name(s, &t)) return node_err(r, n, "%s: unknown type '%s'", what, s);
    if (kv ? !qs_plan_kv_type_allowed(t) : !qs_plan_type_allowed(t))
        return node_err(r, n, kv ? "%s: %s is not a KV-cache type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, IQ4_NL, Q5_0, Q5_1)"
                                 : "%s: type %s cannot be chosen for a tensor",
                        what, qs_type_name(t));
    *out = t;
    return QS_OK;
}

/* Walks a mapping: for each pair, checks the key is a known, not repeated scalar and hands its
 * index in `keys` to the caller through *pairs / *which. */
typedef struct {
    const yaml_node_t *key, *value;
    int which;
} kv_pair;

static int mapping(reader *r, const yaml_node_t *n, const char *what, const char *const *keys, int nkeys,
                   const char *expected, kv_pair *pairs, int *npairs) {
    if (n->type != YAML_MAPPING_NODE) return node_err(r, n, "%s: expected a mapping, got %s", what, kind_name(n));
    *npairs = 0;
    bool seen[16] = {false};
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(r, p->key), *v = node(r, p->value);
        const char *ks;
        if (k->type != YAML_SCALAR_NODE) return node_err(r, k, "%s: keys must be scalars, got %s", what, kind_name(k));
        ks = (const char *)k->data.scalar.value;
        int w = -1;
        for (int i = 0; i < nkeys; i++)
            if (strcmp(ks, keys[i]) == 0) w = i;
        if (w < 0) return node_err(r, k, "unknown key '%s' in %s (expected %s)", ks, what, expected);
        if (seen[w]) return node_err(r, k, "duplicate key '%s' in %s", ks, what);
        seen[w] = true;
        pairs[*npairs].key = k;
        pairs[*npairs].value = v;
        pairs[*npairs].which = w;
        (*npairs)++;
    }
    return QS_OK;
}

static int need(reader *r, const yaml_node_t *n, const kv_pair *pairs, int np, int which, const char *key,
                const char *what) {
    for (int i = 0; i < np; i++)
        if (pairs[i].which == which) return QS_OK;
    return node_err(r, n, "%s: missing '%s'", what, key);
}

static int parse_model(reader *r, const yaml_node_t *n, qs_plan *p) {
    static const char *const keys[] = {"file", "size", "tensors", "hash"};
    kv_pair kv[4];
    int np = 0;
    if (mapping(r, n, "model", keys, 4, "file, size, tensors, hash", kv, &np)) return QS_ERR;
    for (int w = 0; w < 4; w++)
        if (need(r, n, kv, np, w, keys[w], "model")) return QS_ERR;
    for (int i = 0; i < np; i++) {
        const yaml_node_t *v = kv[i].value;
        int64_t x;
        const char *s;
        switch (kv[i].which) {
        case 0:
            if (get_string(r, v, "model file", &p->model.file)) return QS_ERR;
            break;
        case 1:
            if (get_u64(r, v, "model size", &p->model.size)) return QS_ERR;
            break;
        case 2:
            if (get_int(r, v, "model tensors", 0, INT64_MAX, &x)) return QS_ERR;
            p->model.n_tensors = x;
            break;
        case 3: {
            if (scalar(r, v, "model hash", &s)) return QS_ERR;
            size_t len = strlen(s);
            bool ok = len == 16;
            uint64_t h = 0;
            for (size_t k = 0; ok && k < len; k++) {
                char c = s[k];
                int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
                if (d < 0) ok = false;
                h = h << 4 | (uint64_t)(d & 15);
            }
            if (!ok) return node_err(r, v, "model hash: expected 16 hex digits, got '%s'", s);
            p->model.hash = h;
            break;
        }
        }
    }
    return QS_OK;
}

static int parse_keep(reader *r, const yaml_node_t *n, qs_plan *p) {
    static const char *const keys[] = {"first", "last", "type"};
    kv_pair kv[3];
    int np = 0;
    if (mapping(r, n, "keep", keys, 3, "first, last, type", kv, &np)) return QS_ERR;
    if (need(r, n, kv, np, 2, "type", "keep")) return QS_ERR;
    for (int i = 0; i < np; i++) {
        int64_t x;
        switch (kv[i].which) {
        case 0:
        case 1:
            if (get_int(r, kv[i].value, kv[i].which ? "keep last" : "keep first", 0, 1000000, &x)) return QS_ERR;
            *(kv[i].which ? &p->keep_last : &p->keep_first) = (int)x;
            break;
        case 2:
            if (get_type(r, kv[i].value, "keep type", false, &p->keep_type)) return QS_ERR;
            break;
        }
    }
    if (!p->keep_first && !p->keep_last) return node_err(r, n, "keep: give 'first' or 'last' (a number of blocks above 0)");
    return QS_OK;
}

/* A list of {KEY: ..., type: ...} mappings; kind 0 rules, 1 layers, 2 tensors. */
static int parse_list(reader *r, const yaml_node_t *n, int kind, qs_plan *p) {
    static const char *const what[] = {"rules", "layers", "tensors"};
    static const char *const entry[] = {"a rule", "a layer override", "a tensor override"};
    static const char *const first[] = {"pattern", "block", "name"};
    static const char *const expected[] = {"pattern, type", "block, type", "name, type"};
    if (is_null(n)) return QS_OK;
    if (n->type != YAML_SEQUENCE_NODE) return node_err(r, n, "%s: expected a list, got %s", what[kind], kind_name(n));
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        const yaml_node_t *e = node(r, *it);
        const char *const keys[] = {first[kind], "type"};
        kv_pair kv[2];
        int np = 0;
        if (mapping(r, e, entry[kind], keys, 2, expected[kind], kv, &np)) return QS_ERR;
        if (need(r, e, kv, np, 0, first[kind], entry[kind]) || need(r, e, kv, np, 1, "type", entry[kind])) return QS_ERR;
        const yaml_node_t *kn = kv[0].which == 0 ? kv[0].value : kv[1].value;
        const yaml_node_t *tn = kv[0].which == 1 ? kv[0].value : kv[1].value;
        qs_type t;
        if (get_type(r, tn, entry[kind], false, &t)) return QS_ERR;
        const char *s;
        qs_error e2 = {{0}};
        int rc;
        if (kind == 0) {
            if (scalar(r, kn, "pattern", &s)) return QS_ERR;
            rc = qs_plan_insert_rule(p, -1, s, t, &e2);
        } else if (kind == 1) {
            int64_t b;
            if (get_int(r, kn, "block", 0, 1000000, &b)) return QS_ERR;
            for (int i = 0; i < p->n_layers; i++)
                if (p->layers[i].block == b) return node_err(r, e, "layer override for block %lld given twice", (long long)b);
            rc = qs_plan_set_layer(p, (int)b, t, &e2);
        } else {
            if (scalar(r, kn, "tensor name", &s)) return QS_ERR;
            for (int i = 0; i < p->n_tensors; i++)
                if (strcmp(p->tensors[i].name, s) == 0) return node_err(r, e, "tensor override for '%s' given twice", s);
            rc = qs_plan_set_tensor(p, s, t, &e2);
        }
        if (rc == QS_ENOMEM) return qs_error_set(r->err, "out of memory");
        if (rc) return node_err(r, kn, "%s", e2.msg);
    }
    return QS_OK;
}

enum { K_VERSION, K_MODEL, K_DEFAULT, K_PRESET, K_KEEP, K_RULES, K_LAYERS, K_TENSORS, K_KV, K_CONTEXT, K_DEVICE, K_NOTES, K_COUNT };

static int parse_root(reader *r, const yaml_node_t *root, qs_plan *p) {
    static const char *const keys[K_COUNT] = {"version", "model", "default", "preset", "keep", "rules",
                                              "layers", "tensors", "kv_type", "context", "device", "notes"};
    kv_pair kv[K_COUNT];
    int np = 0;
    if (mapping(r, root, "the plan", keys, K_COUNT,
                "version, model, default, preset, keep, rules, layers, tensors, kv_type, context, device, notes", kv, &np))
        return QS_ERR;
    if (need(r, root, kv, np, K_VERSION, "version", "the plan")) return QS_ERR;
    const yaml_node_t *default_node = NULL, *preset_node = NULL;
    bool have_default = false;
    for (int i = 0; i < np; i++) {
        const yaml_node_t *v = kv[i].value;
        int64_t x;
        const char *s;
        switch (kv[i].which) {
        case K_VERSION:
            if (get_int(r, v, "version", 0, INT64_MAX, &x)) return QS_ERR;
            if (x != QS_PLAN_FORMAT_VERSION)
                return node_err(r, v, "version %lld is not supported (this program reads version %d)", (long long)x,
                                QS_PLAN_FORMAT_VERSION);
            break;
        case K_MODEL:
            if (!is_null(v) && parse_model(r, v, p)) return QS_ERR;
            break;
        case K_DEFAULT:
            if (get_type(r, v, "default", false, &p->default_type)) return QS_ERR;
            default_node = v;
            have_default = true;
            break;
        case K_PRESET: {
            if (scalar(r, v, "preset", &s)) return QS_ERR;
            qs_preset pr;
            if (qs_preset_from_name(s, &pr))
                return node_err(r, v, "preset: unknown preset '%s' (Q8_0, Q6_K, Q5_K_M, Q5_K_S, Q4_K_M, Q4_K_S, Q3_K_L, "
                                      "Q3_K_M, Q3_K_S, Q2_K, Q5_0, Q5_1, Q4_0, Q4_1, IQ4_NL, IQ4_XS, F16, BF16, none)", s);
            p->preset = pr;
            preset_node = v;
            break;
        }
        case K_KEEP:
            if (!is_null(v) && parse_keep(r, v, p)) return QS_ERR;
            break;
        case K_RULES:
        case K_LAYERS:
        case K_TENSORS:
            if (parse_list(r, v, kv[i].which - K_RULES, p)) return QS_ERR;
            break;
        case K_KV:
            if (get_type(r, v, "kv_type", true, &p->kv_type)) return QS_ERR;
            break;
        case K_CONTEXT:
            if (get_int(r, v, "context", 0, INT64_MAX, &x)) return QS_ERR;
            p->context = x;
            break;
        case K_DEVICE:
            if (!is_null(v) && get_string(r, v, "device", &p->device)) return QS_ERR;
            break;
        case K_NOTES:
            if (!is_null(v) && get_string(r, v, "notes", &p->notes)) return QS_ERR;
            break;
        }
    }
    if (p->preset != QS_PRESET_NONE) {
        qs_type base = qs_preset_base_type(p->preset);
        if (have_default && p->default_type != base)
            return node_err(r, default_node, "default %s does not match preset %s (its default is %s)",
                            qs_type_name(p->default_type), qs_preset_name(p->preset), qs_type_name(base));
        p->default_type = base;
    } else if (!have_default) {
        return node_err(r, preset_node ? preset_node : root, "the plan: missing 'default' (or a 'preset')");
    }
    return QS_OK;
}

/* 1-based line and column of a byte offset (reader errors carry only the offset). */
static void offset_pos(const char *text, size_t len, size_t off, size_t *line, size_t *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)text[i] & 0xc0) != 0x80) {
            (*col)++;
        }
    }
}

static int parser_err(const yaml_parser_t *y, const char *text, size_t len, const char *name, qs_error *err) {
    if (y->error == YAML_MEMORY_ERROR) return qs_error_set(err, "%s: out of memory", name);
    size_t line, col;
    if (y->error == YAML_READER_ERROR) {
        offset_pos(text, len, y->problem_offset, &line, &col);
        return qs_error_set(err, "%s:%zu:%zu: %s", name, line, col, y->problem ? y->problem : "cannot read");
    }
    line = y->problem_mark.line + 1;
    col = y->problem_mark.column + 1;
    if (y->context)
        return qs_error_set(err, "%s:%zu:%zu: syntax error: %s (%s at %zu:%zu)", name, line, col, y->problem, y->context,
                            y->context_mark.line + 1, y->context_mark.column + 1);
    return qs_error_set(err, "%s:%zu:%zu: syntax error: %s", name, line, col, y->problem ? y->problem : "?");
}

int qs_plan_parse(const char *text, size_t len, const char *name, qs_plan *out, qs_error *err) {
    qs_plan_init(out);
    if (!name) name = "<plan>";
    yaml_parser_t y;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&y)) return qs_error_set(err, "%s: out of memory", name);
    yaml_parser_set_input_string(&y, (const unsigned char *)text, len);
    yaml_parser_set_encoding(&y, YAML_UTF8_ENCODING);
    int rc = QS_ERR;
    if (!yaml_parser_load(&y, &doc)) {
        parser_err(&y, text, len, name, err);
        yaml_parser_delete(&y);
        return QS_ERR;
    }
    reader r = {&doc, name, err};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        qs_error_set(err, "%s:1:1: empty plan (expected a mapping with at least 'version' and 'default')", name);
        goto done;
    }
    if (parse_root(&r, root, out)) goto done;
    /* a second document would be silently ignored: refuse it */
    yaml_document_t doc2;
    if (!yaml_parser_load(&y, &doc2)) {
        parser_err(&y, text, len, name, err);
        goto done;
    }
    yaml_node_t *root2 = yaml_document_get_root_node(&doc2);
    if (root2) {
        reader r2 = {&doc2, name, err};
        node_err(&r2, root2, "a plan file holds one YAML document; found another");
        yaml_document_delete(&doc2);
        goto done;
    }
    yaml_document_delete(&doc2);
    if (qs_plan_validate(out, err)) {
        qs_error_prefix(err, "%s", name);
        goto done;
    }
    rc = QS_OK;
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&y);
    if (rc) qs_plan_free(out);
    return rc;
}

int qs_plan_load(const char *path, qs_plan *out, qs_error *err) {
    qs_plan_init(out);
    FILE *f = fopen(path, "rb");
    if (!f) return qs_error_set(err, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return qs_error_set(err, "%s: out of memory", path);
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return qs_error_set(err, "%s: read error", path);
    }
    int rc = qs_plan_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Writing.
 * ------------------------------------------------------------------------------------------- */



static void putf(qs_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(qs_sbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) qs_sbuf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Decodes one UTF-8 character at p: its code point and length, or -1 for malformed input
 * (overlong forms, surrogates, beyond U+10FFFF). */
static int32_t utf8_next(const unsigned char *p, int *len) {
    unsigned c = p[0];
    int n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
    if (n < 0) return -1;
    uint32_t cp = n == 0 ? c : n == 1 ? c & 0x1f : n == 2 ? c & 0x0f : c & 0x07;
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80) return -1;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *len = n + 1;
    return (int32_t)cp;
}

static bool valid_utf8(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n;
        if (utf8_next(p, &n) < 0) return false;
        p += n;
    }
    return true;
}

/* Characters that may appear as themselves inside a quoted scalar on one line: what libyaml's
 * reader accepts, minus line breaks, the byte-order mark and (for single quotes) nothing else. */
static bool inline_char(int32_t cp) {
    if (cp == 0x09) return true;
    if (cp < 0x20 || cp == 0x7f) return false;
    if (cp == 0x85 || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff) return false; /* breaks, BOM */
    if (cp >= 0x80 && cp < 0xa0) return false;
    if (cp == 0xfffe || cp == 0xffff) return false;
    return true;
}

/* Plain style reads back as the same string, here and in other YAML tools (never a number, a
 * boolean or null), in block and, if flow, in flow context. */
static bool plain_ok(const char *s, bool flow) {
    size_t n = strlen(s);
    if (!n || s[0] == ' ' || s[n - 1] == ' ' || s[n - 1] == ':') return false;
    if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0])) return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c >= 0x7f) return false; /* ASCII only: no tabs, no Unicode line breaks */
        /* libyaml refuses ':' inside flow plain scalars, and ": " ends a key anywhere */
        if (p[0] == ':' && (flow || p[1] == ' ')) return false;
        if (p[0] == ' ' && p[1] == '#') return false;
        if (flow && strchr(",[]{}", c)) return false;
    }
    /* anything YAML 1.1 or 1.2 might read as null, a boolean or a number */
    static const char *const words[] = {"~", "null", "true", "false", "yes", "no", "on", "off", "y", "n"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasecmp(s, words[i]) == 0) return false;
    const char *q = s + (s[0] == '+' || s[0] == '-');
    if ((q[0] >= '0' && q[0] <= '9') || (q[0] == '.' && ((q[1] >= '0' && q[1] <= '9') || strchr("iInN", q[1]))))
        return false;
    return true;
}

/* Single-quoted style reads back as the same string: one line of characters that stand for
 * themselves, tabs excepted (they would be invisible). The string must be valid UTF-8. */
static bool single_ok(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n;
        int32_t cp = utf8_next(p, &n);
        if (cp < 0 || cp == '\t' || !inline_char(cp)) return false; /* tabs: visible as \t */
        p += n;
    }
    return true;
}

static void put_single(qs_sbuf *b, const char *s) {
    qs_sbuf_str(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'') qs_sbuf_str(b, "'"); /* a quote is written twice */
        qs_sbuf_put(b, p, 1);
    }
    qs_sbuf_str(b, "'");
}

/* Double-quoted style holds anything (valid UTF-8): what cannot stand for itself is escaped. */
static void put_double(qs_sbuf *b, const char *s) {
    qs_sbuf_str(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = 1;
        int32_t cp = utf8_next(p, &n);
        if (cp < 0) cp = *p, n = 1; /* not reached: strings are checked first */
        if (cp == '"')
            qs_sbuf_str(b, "\\\"");
        else if (cp == '\\')
            qs_sbuf_str(b, "\\\\");
        else if (cp == '\n')
            qs_sbuf_str(b, "\\n");
        else if (cp == '\t')
            qs_sbuf_str(b, "\\t");
        else if (cp == '\r')
            qs_sbuf_str(b, "\\r");
        else if (!inline_char(cp))
            putf(b, cp < 0x100 ? "\\x%02x" : "\\u%04x", (unsigned)cp);
        else
            qs_sbuf_put(b, (const char *)p, (size_t)n);
        p += n;
    }
    qs_sbuf_str(b, "\"");
}

/* A string in the simplest style that reads back exactly. */
static void put_str(qs_sbuf *b, const char *s, bool flow) {
    if (plain_ok(s, flow))
        qs_sbuf_str(b, s);
    else if (single_ok(s))
        put_single(b, s);
    else
        put_double(b, s);
}

/* Literal block style for multi-line text at indentation 2, when it reads back exactly: lines of
 * characters that stand for themselves, the first not starting with white space, no line of only
 * white space (it would read as indentation). */
static bool literal_ok(const char *s) {
    if (!*s || s[0] == ' ' || s[0] == '\n' || s[0] == '\t' || !strchr(s, '\n')) return false;
    const char *line = s;
    bool blank = true;
    for (const unsigned char *p = (const unsigned char *)s;;) {
        if (*p == '\n' || !*p) {
            if (blank && (const char *)p > line) return false;
            if (!*p) break;
            line = (const char *)++p;
            blank = true;
            continue;
        }
        int n;
        int32_t cp = utf8_next(p, &n);
        if (cp < 0 || !inline_char(cp)) return false;
        if (cp != ' ' && cp != '\t') blank = false;
        p += n;
    }
    return true;
}

static void put_text(qs_sbuf *b, const char *key, const char *s) {
    qs_sbuf_str(b, key);
    qs_sbuf_str(b, ":");
    if (!literal_ok(s)) {
        qs_sbuf_str(b, " ");
        put_str(b, s, false);
        qs_sbuf_str(b, "\n");
        return;
    }
    size_t n = strlen(s), trail = 0;
    while (trail < n && s[n - 1 - trail] == '\n') trail++;
    qs_sbuf_str(b, trail == 0 ? " |-\n" : trail == 1 ? " |\n" : " |+\n");
    const char *line = s;
    for (const char *p = s; p < s + n; p++) {
        if (*p != '\n') continue;
        if (p > line) {
            qs_sbuf_str(b, "  ");
            qs_sbuf_put(b, line, (size_t)(p - line));
        }
        qs_sbuf_str(b, "\n");
        line = p + 1;
    }
    if (line < s + n) {
        qs_sbuf_str(b, "  ");
        qs_sbuf_put(b, line, (size_t)(s + n - line));
        qs_sbuf_str(b, "\n");
    }
}

static int check_utf8(const char *s, const char *what, qs_error *err) {
    if (s && !valid_utf8(s)) return qs_error_set(err, "%s: not valid UTF-8 text", what);
    return QS_OK;
}

int qs_plan_format(const qs_plan *p, char **text, size_t *len, qs_error *err) {
    *text = NULL;
    if (len) *len = 0;
    if (qs_plan_validate(p, err)) return QS_ERR;
    if (check_utf8(p->device, "device", err) || check_utf8(p->notes, "notes", err) ||
        check_utf8(p->model.file, "model file", err))
        return QS_ERR;
    for (int i = 0; i < p->n_rules; i++)
        if (check_utf8(p->rules[i].pattern, "rule pattern", err)) return QS_ERR;
    for (int i = 0; i < p->n_tensors; i++)
        if (check_utf8(p->tensors[i].name, "tensor override name", err)) return QS_ERR;

    qs_sbuf b = {0};
    qs_sbuf_str(&b, "# quantscope plan (see quantscope-plan(5))\n");
    putf(&b, "version: %d\n", QS_PLAN_FORMAT_VERSION);
    if (p->model.file) {
        qs_sbuf_str(&b, "model:\n  file: ");
        put_str(&b, p->model.file, false);
        putf(&b, "\n  size: %" PRIu64 "\n  tensors: %" PRId64 "\n  hash: '%016" PRIx64 "'\n", p->model.size,
             p->model.n_tensors, p->model.hash);
    }
    putf(&b, "default: %s\n", qs_type_name(p->default_type));
    if (p->preset != QS_PRESET_NONE) putf(&b, "preset: %s\n", qs_preset_name(p->preset));
    if (p->keep_first || p->keep_last)
        putf(&b, "keep: {first: %d, last: %d, type: %s}\n", p->keep_first, p->keep_last, qs_type_name(p->keep_type));
    if (p->n_tensors) {
        qs_sbuf_str(&b, "tensors:\n");
        for (int i = 0; i < p->n_tensors; i++) {
            qs_sbuf_str(&b, "  - {name: ");
            put_str(&b, p->tensors[i].name, true);
            putf(&b, ", type: %s}\n", qs_type_name(p->tensors[i].type));
        }
    }
    if (p->n_layers) {
        qs_sbuf_str(&b, "layers:\n");
        for (int i = 0; i < p->n_layers; i++)
            putf(&b, "  - {block: %d, type: %s}\n", p->layers[i].block, qs_type_name(p->layers[i].type));
    }
    if (p->n_rules) {
        qs_sbuf_str(&b, "rules:\n");
        for (int i = 0; i < p->n_rules; i++) {
            qs_sbuf_str(&b, "  - {pattern: ");
            if (single_ok(p->rules[i].pattern))
                put_single(&b, p->rules[i].pattern);
            else
                put_double(&b, p->rules[i].pattern);
            putf(&b, ", type: %s}\n", qs_type_name(p->rules[i].type));
        }
    }
    putf(&b, "kv_type: %s\n", qs_type_name(p->kv_type));
    if (p->context) putf(&b, "context: %" PRId64 "\n", p->context);
    if (p->device) {
        qs_sbuf_str(&b, "device: ");
        put_str(&b, p->device, false);
        qs_sbuf_str(&b, "\n");
    }
    if (p->notes) put_text(&b, "notes", p->notes);
    if (b.oom) {
        free(b.s);
        return qs_error_set(err, "out of memory");
    }
    *text = b.s;
    if (len) *len = b.n;
    return QS_OK;
}

int qs_plan_save(const qs_plan *plan, const char *path, qs_error *err) {
    char *text, *tmp;
    size_t len;
    int rc = qs_plan_format(plan, &text, &len, err);
    if (rc) return rc;
    /* PATH.tmp.XXXXXX in the target's folder, so rename() is atomic; locked while written so a
     * later save can tell a killed writer's leftover from a live one (qs_tmpfile.h). The mode
     * follows the umask like any file the user creates. */
    int fd = qs_tmp_create(path, 0666, &tmp, err);
    if (fd < 0) {
        free(text);
        return QS_ERR;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = qs_error_set(err, "%s: write failed: %s (temporary file removed)", tmp,
                              w < 0 ? strerror(errno) : "no progress");
            qs_tmp_abort(fd, tmp);
            goto out;
        }
        off += (size_t)w;
    }
    rc = qs_tmp_commit(fd, tmp, path, err);
out:
    free(tmp);
    free(text);
    return rc;
}
