/* gguf.c — GGUF v2/v3 reader (mmap, validate everything, no copies) and streaming writer. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qs_types.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_MAX_NAME 64 /* ggml refuses tensor names of 64 bytes or more */

/* ------------------------------------------------------------------ value types */

static const struct {
    const char *name;
    int size;
} vtypes[GGUF_VT_COUNT] = {
    [GGUF_VT_UINT8] = {"u8", 1},    [GGUF_VT_INT8] = {"i8", 1},       [GGUF_VT_UINT16] = {"u16", 2},
    [GGUF_VT_INT16] = {"i16", 2},   [GGUF_VT_UINT32] = {"u32", 4},    [GGUF_VT_INT32] = {"i32", 4},
    [GGUF_VT_FLOAT32] = {"f32", 4}, [GGUF_VT_BOOL] = {"bool", 1},     [GGUF_VT_STRING] = {"string", 0},
    [GGUF_VT_ARRAY] = {"array", 0}, [GGUF_VT_UINT64] = {"u64", 8},    [GGUF_VT_INT64] = {"i64", 8},
    [GGUF_VT_FLOAT64] = {"f64", 8},
};

int gguf_vtype_size(gguf_vtype t) { return (unsigned)t < GGUF_VT_COUNT ? vtypes[t].size : 0; }
const char *gguf_vtype_name(gguf_vtype t) { return (unsigned)t < GGUF_VT_COUNT ? vtypes[t].name : "?"; }

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* ------------------------------------------------------------------ string hash index */

/* Open-addressing set of (ptr,len) strings, for duplicate detection and tensor lookup. */
typedef struct strindex {
    uint64_t cap;     /* power of two */
    int64_t *slots;   /* item index + 1, 0 = empty */
} strindex;

static uint64_t str_hash(const char *p, uint64_t n) {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h;
}

static int strindex_init(strindex *ix, int64_t n) {
    uint64_t cap = 16;
    while (cap < (uint64_t)n * 2) cap <<= 1;
    ix->cap = cap;
    ix->slots = calloc(cap, sizeof *ix->slots);
    return ix->slots ? QS_OK : QS_ENOMEM;
}

/* Inserts item i with name s; returns the index of an existing equal name, or -1. */
static int64_t strindex_put(strindex *ix, const gguf_str *names, size_t stride, int64_t i) {
    const gguf_str *s = (const gguf_str *)((const char *)names + stride * (size_t)i);
    uint64_t h = str_hash(s->ptr, s->len) & (ix->cap - 1);
    for (;; h = (h + 1) & (ix->cap - 1)) {
        if (!ix->slots[h]) {
            ix->slots[h] = i + 1;
            return -1;
        }
        int64_t j = ix->slots[h] - 1;
        const gguf_str *o = (const gguf_str *)((const char *)names + stride * (size_t)j);
        if (o->len == s->len && memcmp(o->ptr, s->ptr, s->len) == 0) return j;
    }
}

static int64_t strindex_get(const strindex *ix, const gguf_str *names, size_t stride, const char *name) {
    if (!ix->slots) return -1;
    uint64_t n = strlen(name);
    uint64_t h = str_hash(name, n) & (ix->cap - 1);
    for (;; h = (h + 1) & (ix->cap - 1)) {
        if (!ix->slots[h]) return -1;
        int64_t j = ix->slots[h] - 1;
        const gguf_str *o = (const gguf_str *)((const char *)names + stride * (size_t)j);
        if (o->len == n && memcmp(o->ptr, name, n) == 0) return j;
    }
}

/* ------------------------------------------------------------------ reader */

typedef struct gguf_impl {
    gguf_file pub;
    size_t map_len;     /* length mapped (0 for gguf_open_memory) */
    strindex tensor_ix;
} gguf_impl;

typedef struct reader {
    const uint8_t *p;
    uint64_t size, pos;
    const char *name;
    qs_error *err;
} reader;

/* Printable, bounded rendering of a name from the file for messages. */
static void quote(char *out, size_t outsz, const char *p, uint64_t n) {
    size_t o = 0;
    for (uint64_t i = 0; i < n && o + 5 < outsz; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f) out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
        if (i == 47 && n > 48) {
            snprintf(out + o, outsz - o, "...");
            return;
        }
    }
    out[o] = 0;
}

__attribute__((format(printf, 3, 4))) static int fail_at(reader *r, uint64_t off, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qs_error_set(r->err, "%s: offset %llu: %s", r->name, (unsigned long long)off, msg);
}

static uint64_t remaining(const reader *r) { return r->size - r->pos; }

static int need(reader *r, uint64_t n, const char *what) {
    if (n > remaining(r))
        return fail_at(r, r->pos, "file ends inside %s (needs %llu bytes, %llu left)", what,
                       (unsigned long long)n, (unsigned long long)remaining(r));
    return QS_OK;
}

static int rd_u32(reader *r, uint32_t *v, const char *what) {
    if (need(r, 4, what)) return QS_ERR;
    *v = le32(r->p + r->pos);
    r->pos += 4;
    return QS_OK;
}

static int rd_u64(reader *r, uint64_t *v, const char *what) {
    if (need(r, 8, what)) return QS_ERR;
    *v = le64(r->p + r->pos);
    r->pos += 8;
    return QS_OK;
}

static int rd_str(reader *r, gguf_str *s, const char *what) {
    uint64_t at = r->pos, len;
    if (rd_u64(r, &len, what)) return QS_ERR;
    if (len > remaining(r))
        return fail_at(r, at, "%s length %llu exceeds the %llu bytes left in the file", what,
                       (unsigned long long)len, (unsigned long long)remaining(r));
    s->ptr = (const char *)r->p + r->pos;
    s->len = len;
    r->pos += len;
    return QS_OK;
}

/* Validates and skips one value of type t (array element types included). */
static int skip_value(reader *r, gguf_vtype t, int depth, gguf_vtype *arr_type, uint64_t *arr_count) {
    uint64_t at = r->pos;
    if ((unsigned)t >= GGUF_VT_COUNT) return fail_at(r, at, "unknown value type %u", (unsigned)t);
    if (t == GGUF_VT_STRING) {
        gguf_str s;
        return rd_str(r, &s, "a string value");
    }
    if (t == GGUF_VT_BOOL) {
        if (need(r, 1, "a bool value")) return QS_ERR;
        if (r->p[r->pos] > 1) return fail_at(r, at, "bool value is %u, not 0 or 1", r->p[r->pos]);
        r->pos += 1;
        return QS_OK;
    }
    if (t != GGUF_VT_ARRAY) {
        if (need(r, (uint64_t)vtypes[t].size, "a value")) return QS_ERR;
        r->pos += (uint64_t)vtypes[t].size;
        return QS_OK;
    }

    if (depth >= GGUF_MAX_ARRAY_DEPTH)
        return fail_at(r, at, "arrays nested deeper than %d levels", GGUF_MAX_ARRAY_DEPTH);
    uint32_t et;
    uint64_t n;
    if (rd_u32(r, &et, "an array element type") || rd_u64(r, &n, "an array length")) return QS_ERR;
    if (et >= GGUF_VT_COUNT) return fail_at(r, at, "array of unknown value type %u", et);
    if (arr_type) *arr_type = (gguf_vtype)et;
    if (arr_count) *arr_count = n;
    if (et == GGUF_VT_STRING || et == GGUF_VT_ARRAY) {
        /* each element takes at least 8 (string) or 12 (array) bytes: bound n before looping */
        uint64_t min = et == GGUF_VT_STRING ? 8 : 12;
        if (n > remaining(r) / min)
            return fail_at(r, at, "array of %llu %ss cannot fit in the %llu bytes left",
                           (unsigned long long)n, vtypes[et].name, (unsigned long long)remaining(r));
        for (uint64_t i = 0; i < n; i++)
            if (skip_value(r, (gguf_vtype)et, depth + 1, NULL, NULL)) return QS_ERR;
        return QS_OK;
    }
    uint64_t es = (uint64_t)vtypes[et].size;
    if (n > remaining(r) / es)
        return fail_at(r, at, "array of %llu %s values needs more than the %llu bytes left",
                       (unsigned long long)n, vtypes[et].name, (unsigned long long)remaining(r));
    if (et == GGUF_VT_BOOL)
        for (uint64_t i = 0; i < n; i++)
            if (r->p[r->pos + i] > 1)
                return fail_at(r, r->pos + i, "bool array element %llu is %u, not 0 or 1",
                               (unsigned long long)i, r->p[r->pos + i]);
    r->pos += n * es;
    return QS_OK;
}

static int parse(gguf_impl *g, reader *r) {
    gguf_file *f = &g->pub;
    if (need(r, 4, "the magic")) return QS_ERR;
    if (memcmp(r->p, GGUF_MAGIC, 4) != 0)
        return fail_at(r, 0, "not a GGUF file (magic is not \"GGUF\")");
    r->pos = 4;
    uint32_t version;
    if (rd_u32(r, &version, "the version")) return QS_ERR;
    if (version == 1) return fail_at(r, 4, "GGUF version 1 is not supported (only 2 and 3)");
    if (version == 0x02000000u || version == 0x03000000u)
        return fail_at(r, 4, "big-endian GGUF files are not supported");
    if (version != 2 && version != 3) return fail_at(r, 4, "unknown GGUF version %u (expected 2 or 3)", version);
    f->version = version;

    uint64_t n_tensors, n_kv;
    if (rd_u64(r, &n_tensors, "the tensor count") || rd_u64(r, &n_kv, "the metadata count")) return QS_ERR;
    /* a key/value takes at least 8+1+4+1 bytes, a tensor info at least 8+1+4+8+4+8 */
    if (n_kv > remaining(r) / 14)
        return fail_at(r, 16, "metadata count %llu exceeds what a %llu-byte file can hold",
                       (unsigned long long)n_kv, (unsigned long long)r->size);
    if (n_tensors > remaining(r) / 33)
        return fail_at(r, 8, "tensor count %llu exceeds what a %llu-byte file can hold",
                       (unsigned long long)n_tensors, (unsigned long long)r->size);

    f->kv = calloc(n_kv ? n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors) return qs_error_set(r->err, "%s: out of memory", r->name);

    strindex keys = {0};
    if (strindex_init(&keys, (int64_t)n_kv)) return qs_error_set(r->err, "%s: out of memory", r->name);
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        kv->file_offset = r->pos;
        uint32_t t;
        if (rd_str(r, &kv->key, "a metadata key") || rd_u32(r, &t, "a value type")) goto fail;
        char q[256];
        quote(q, sizeof q, kv->key.ptr, kv->key.len);
        if (kv->key.len == 0) {
            fail_at(r, kv->file_offset, "empty metadata key");
            goto fail;
        }
        if (t >= GGUF_VT_COUNT) {
            fail_at(r, r->pos - 4, "key '%s' has unknown value type %u", q, t);
            goto fail;
        }
        kv->type = (gguf_vtype)t;
        kv->data = r->p + r->pos;
        uint64_t start = r->pos;
        if (skip_value(r, kv->type, 0, &kv->arr_type, &kv->arr_count)) {
            qs_error_prefix(r->err, "key '%s'", q);
            goto fail;
        }
        if (kv->type == GGUF_VT_ARRAY) kv->data += 12; /* past element type and count */
        kv->data_bytes = r->pos - start - (kv->type == GGUF_VT_ARRAY ? 12 : 0);
        f->n_kv = (int64_t)i + 1;
        int64_t dup = strindex_put(&keys, &f->kv[0].key, sizeof(gguf_kv), (int64_t)i);
        if (dup >= 0) {
            fail_at(r, kv->file_offset, "duplicate key '%s' (first at offset %llu)", q,
                    (unsigned long long)f->kv[dup].file_offset);
            goto fail;
        }
        if (kv->key.len == 17 && memcmp(kv->key.ptr, "general.alignment", 17) == 0) {
            if (kv->type != GGUF_VT_UINT32) {
                fail_at(r, kv->file_offset, "general.alignment must be u32, not %s", vtypes[kv->type].name);
                goto fail;
            }
            uint32_t a = le32(kv->data);
            if (a == 0 || (a & (a - 1))) {
                fail_at(r, kv->file_offset, "general.alignment %u is not a power of two", a);
                goto fail;
            }
            f->alignment = a;
        }
    }
    free(keys.slots);
    keys.slots = NULL;

    if (strindex_init(&g->tensor_ix, (int64_t)n_tensors)) return qs_error_set(r->err, "%s: out of memory", r->name);
    for (uint64_t i = 0; i < n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        t->info_offset = r->pos;
        if (rd_str(r, &t->name, "a tensor name")) return QS_ERR;
        char q[256];
        quote(q, sizeof q, t->name.ptr, t->name.len);
        if (t->name.len == 0) return fail_at(r, t->info_offset, "tensor %llu has an empty name", (unsigned long long)i);
        if (t->name.len >= GGUF_MAX_NAME)
            return fail_at(r, t->info_offset, "tensor name '%s' is %llu bytes (limit %d)", q,
                           (unsigned long long)t->name.len, GGUF_MAX_NAME - 1);
        uint32_t nd;
        uint64_t at = r->pos;
        if (rd_u32(r, &nd, "a tensor's dimension count")) return QS_ERR;
        if (nd > GGUF_MAX_DIMS)
            return fail_at(r, at, "tensor '%s' has %u dimensions (at most %d)", q, nd, GGUF_MAX_DIMS);
        t->n_dims = (int)nd;
        int64_t total = 1;
        for (int d = 0; d < GGUF_MAX_DIMS; d++) {
            t->ne[d] = 1;
            if (d >= (int)nd) continue;
            uint64_t v;
            at = r->pos;
            if (rd_u64(r, &v, "a tensor dimension")) return QS_ERR;
            if (v > (uint64_t)INT64_MAX)
                return fail_at(r, at, "tensor '%s' dimension %d is negative or too large", q, d);
            t->ne[d] = (int64_t)v;
            if (__builtin_mul_overflow(total, t->ne[d], &total))
                return fail_at(r, at, "tensor '%s' element count overflows 64 bits", q);
        }
        t->n_elements = total;
        uint32_t type;
        at = r->pos;
        if (rd_u32(r, &type, "a tensor type")) return QS_ERR;
        const qs_type_traits *tr = qs_type_traits_get((int)type);
        if (!tr) return fail_at(r, at, "tensor '%s' has unknown type id %u", q, type);
        t->type = (int)type;
        if (t->ne[0] % tr->blck_size)
            return fail_at(r, at, "tensor '%s' rows of %lld values are not a multiple of %s blocks (%d)", q,
                           (long long)t->ne[0], tr->name, tr->blck_size);
        uint64_t blocks = (uint64_t)(total / tr->blck_size);
        if (__builtin_mul_overflow(blocks, (uint64_t)tr->type_size, &t->nbytes))
            return fail_at(r, at, "tensor '%s' byte size overflows 64 bits", q);
        at = r->pos;
        if (rd_u64(r, &t->offset, "a tensor offset")) return QS_ERR;
        if (t->offset % f->alignment)
            return fail_at(r, at, "tensor '%s' offset %llu is not a multiple of the alignment %u", q,
                           (unsigned long long)t->offset, f->alignment);
        f->n_tensors = (int64_t)i + 1;
        int64_t dup = strindex_put(&g->tensor_ix, &f->tensors[0].name, sizeof(gguf_tensor), (int64_t)i);
        if (dup >= 0)
            return fail_at(r, t->info_offset, "duplicate tensor name '%s' (first at offset %llu)", q,
                           (unsigned long long)f->tensors[dup].info_offset);
    }

    /* the data section starts at the next multiple of the alignment */
    uint64_t data = r->pos + (f->alignment - r->pos % f->alignment) % f->alignment;
    if (n_tensors > 0 && data > r->size)
        return fail_at(r, r->pos, "file ends before its data section (aligned start %llu)", (unsigned long long)data);
    f->data_offset = data;
    uint64_t avail = r->size > data ? r->size - data : 0;
    for (int64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (t->offset > avail || t->nbytes > avail - t->offset) {
            char q[256];
            quote(q, sizeof q, t->name.ptr, t->name.len);
            return fail_at(r, t->info_offset, "tensor '%s' data [%llu, +%llu) lies beyond the end of the file", q,
                           (unsigned long long)(data + t->offset), (unsigned long long)t->nbytes);
        }
        t->data = r->p + data + t->offset;
    }
    /* tensors must not overlap: check neighbours in offset order */
    if (f->n_tensors > 1) {
        int64_t *ord = malloc((size_t)f->n_tensors * sizeof *ord);
        if (!ord) return qs_error_set(r->err, "%s: out of memory", r->name);
        for (int64_t i = 0; i < f->n_tensors; i++) ord[i] = i;
        /* shell sort by offset: no global state needed for the comparison */
        for (int64_t gap = f->n_tensors / 2; gap > 0; gap /= 2)
            for (int64_t i = gap; i < f->n_tensors; i++)
                for (int64_t j = i; j >= gap && f->tensors[ord[j - gap]].offset > f->tensors[ord[j]].offset; j -= gap) {
                    int64_t tmp = ord[j];
                    ord[j] = ord[j - gap];
                    ord[j - gap] = tmp;
                }
        for (int64_t k = 1; k < f->n_tensors; k++) {
            const gguf_tensor *a = &f->tensors[ord[k - 1]], *b = &f->tensors[ord[k]];
            if (a->nbytes > 0 && b->nbytes > 0 && a->offset + a->nbytes > b->offset) {
                char qa[256], qb[256];
                quote(qa, sizeof qa, a->name.ptr, a->name.len);
                quote(qb, sizeof qb, b->name.ptr, b->name.len);
                free(ord);
                return fail_at(r, b->info_offset, "tensor '%s' overlaps tensor '%s'", qb, qa);
            }
        }
        free(ord);
    }
    return QS_OK;
fail:
    free(keys.slots);
    return QS_ERR;
}

static gguf_file *open_impl(const uint8_t *map, uint64_t size, size_t map_len, const char *name, qs_error *err) {
    gguf_impl *g = calloc(1, sizeof *g);
    if (!g) {
        qs_error_set(err, "%s: out of memory", name);
        if (map_len) munmap((void *)map, map_len);
        return NULL;
    }
    g->pub.path = strdup(name);
    g->pub.map = map;
    g->pub.file_size = size;
    g->map_len = map_len;
    reader r = {.p = map, .size = size, .name = name, .err = err};
    if (!g->pub.path || parse(g, &r) != QS_OK) {
        if (!g->pub.path) qs_error_set(err, "%s: out of memory", name);
        gguf_close(&g->pub);
        return NULL;
    }
    return &g->pub;
}

gguf_file *gguf_open_memory(const void *buf, uint64_t size, const char *name, qs_error *err) {
    return open_impl(buf, size, 0, name ? name : "<memory>", err);
}

gguf_file *gguf_open(const char *path, qs_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        qs_error_set(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        qs_error_set(err, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_size < 24) {
        qs_error_set(err, "%s: offset %lld: file is too small to be GGUF (%lld bytes)", path,
                     (long long)st.st_size, (long long)st.st_size);
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        qs_error_set(err, "%s: cannot map the file: %s", path, strerror(errno));
        return NULL;
    }
    return open_impl(map, (uint64_t)st.st_size, (size_t)st.st_size, path, err);
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    gguf_impl *g = (gguf_impl *)f;
    if (g->map_len) munmap((void *)f->map, g->map_len);
    free(g->tensor_ix.slots);
    free(f->kv);
    free(f->tensors);
    free(f->path);
    free(g);
}

/* ------------------------------------------------------------------ lookups and getters */

int64_t gguf_find_key(const gguf_file *f, const char *key) {
    size_t n = strlen(key);
    for (int64_t i = 0; i < f->n_kv; i++)
        if (f->kv[i].key.len == n && memcmp(f->kv[i].key.ptr, key, n) == 0) return i;
    return -1;
}

int64_t gguf_find_tensor(const gguf_file *f, const char *name) {
    const gguf_impl *g = (const gguf_impl *)f;
    return strindex_get(&g->tensor_ix, &f->tensors[0].name, sizeof(gguf_tensor), name);
}

/* Decodes a fixed-size numeric value as signed/unsigned/float. Returns the kind: 'i', 'u', 'f', 0. */
static int decode_num(gguf_vtype t, const uint8_t *p, int64_t *i, uint64_t *u, double *d) {
    switch (t) {
    case GGUF_VT_UINT8: *u = p[0]; return 'u';
    case GGUF_VT_INT8: *i = (int8_t)p[0]; return 'i';
    case GGUF_VT_UINT16: *u = le16(p); return 'u';
    case GGUF_VT_INT16: *i = (int16_t)le16(p); return 'i';
    case GGUF_VT_UINT32: *u = le32(p); return 'u';
    case GGUF_VT_INT32: *i = (int32_t)le32(p); return 'i';
    case GGUF_VT_UINT64: *u = le64(p); return 'u';
    case GGUF_VT_INT64: *i = (int64_t)le64(p); return 'i';
    case GGUF_VT_BOOL: *u = p[0]; return 'b';
    case GGUF_VT_FLOAT32: {
        uint32_t b = le32(p);
        float v;
        memcpy(&v, &b, 4);
        *d = v;
        return 'f';
    }
    case GGUF_VT_FLOAT64: {
        uint64_t b = le64(p);
        memcpy(d, &b, 8);
        return 'f';
    }
    default: return 0;
    }
}

static const gguf_kv *find_kv(const gguf_file *f, const char *key) {
    int64_t i = gguf_find_key(f, key);
    return i < 0 ? NULL : &f->kv[i];
}

int gguf_get_int(const gguf_file *f, const char *key, int64_t *out) {
    const gguf_kv *kv = find_kv(f, key);
    int64_t i;
    uint64_t u;
    double d;
    if (!kv) return QS_ERR;
    switch (decode_num(kv->type, kv->data, &i, &u, &d)) {
    case 'i': *out = i; return QS_OK;
    case 'u':
        if (u > (uint64_t)INT64_MAX) return QS_ERR;
        *out = (int64_t)u;
        return QS_OK;
    default: return QS_ERR;
    }
}

int gguf_get_uint(const gguf_file *f, const char *key, uint64_t *out) {
    const gguf_kv *kv = find_kv(f, key);
    int64_t i;
    uint64_t u;
    double d;
    if (!kv) return QS_ERR;
    switch (decode_num(kv->type, kv->data, &i, &u, &d)) {
    case 'i':
        if (i < 0) return QS_ERR;
        *out = (uint64_t)i;
        return QS_OK;
    case 'u': *out = u; return QS_OK;
    default: return QS_ERR;
    }
}

int gguf_get_float(const gguf_file *f, const char *key, double *out) {
    const gguf_kv *kv = find_kv(f, key);
    int64_t i;
    uint64_t u;
    double d;
    if (!kv || decode_num(kv->type, kv->data, &i, &u, &d) != 'f') return QS_ERR;
    *out = d;
    return QS_OK;
}

int gguf_get_bool(const gguf_file *f, const char *key, bool *out) {
    const gguf_kv *kv = find_kv(f, key);
    if (!kv || kv->type != GGUF_VT_BOOL) return QS_ERR;
    *out = kv->data[0] != 0;
    return QS_OK;
}

int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out) {
    const gguf_kv *kv = find_kv(f, key);
    if (!kv || kv->type != GGUF_VT_STRING) return QS_ERR;
    out->len = le64(kv->data);
    out->ptr = (const char *)kv->data + 8;
    return QS_OK;
}

int gguf_get_cstr(const gguf_file *f, const char *key, char *buf, size_t bufsize) {
    gguf_str s;
    if (bufsize == 0 || gguf_get_str(f, key, &s)) return QS_ERR;
    size_t n = s.len < bufsize - 1 ? (size_t)s.len : bufsize - 1;
    memcpy(buf, s.ptr, n);
    buf[n] = 0;
    return QS_OK;
}

const gguf_kv *gguf_get_arr(const gguf_file *f, const char *key) {
    const gguf_kv *kv = find_kv(f, key);
    return kv && kv->type == GGUF_VT_ARRAY ? kv : NULL;
}

/* ------------------------------------------------------------------ arrays */

void gguf_arr_begin(const gguf_kv *kv, gguf_arr_iter *it) {
    it->type = kv->arr_type;
    it->count = kv->arr_count;
    it->index = 0;
    it->p = kv->data;
    it->end = kv->data + kv->data_bytes;
}

/* Encoded size of the value at p (already validated at open). */
static uint64_t value_size(gguf_vtype t, const uint8_t *p) {
    if (t == GGUF_VT_STRING) return 8 + le64(p);
    if (t != GGUF_VT_ARRAY) return (uint64_t)vtypes[t].size;
    gguf_vtype et = (gguf_vtype)le32(p);
    uint64_t n = le64(p + 4), sz = 12;
    if (et != GGUF_VT_STRING && et != GGUF_VT_ARRAY) return sz + n * (uint64_t)vtypes[et].size;
    for (uint64_t i = 0; i < n; i++) sz += value_size(et, p + sz);
    return sz;
}

bool gguf_arr_next(gguf_arr_iter *it, const uint8_t **data, gguf_str *s, gguf_arr_iter *sub) {
    if (it->index >= it->count || it->p >= it->end) return false;
    const uint8_t *p = it->p;
    uint64_t sz = value_size(it->type, p);
    if (data) *data = p;
    if (it->type == GGUF_VT_STRING && s) {
        s->len = le64(p);
        s->ptr = (const char *)p + 8;
    }
    if (it->type == GGUF_VT_ARRAY && sub) {
        sub->type = (gguf_vtype)le32(p);
        sub->count = le64(p + 4);
        sub->index = 0;
        sub->p = p + 12;
        sub->end = p + sz;
    }
    it->p += sz;
    it->index++;
    return true;
}

int gguf_arr_num(const gguf_kv *kv, uint64_t i, double *out) {
    if (kv->type != GGUF_VT_ARRAY || i >= kv->arr_count) return QS_ERR;
    int sz = gguf_vtype_size(kv->arr_type);
    if (sz == 0) return QS_ERR;
    int64_t iv;
    uint64_t u;
    double d;
    switch (decode_num(kv->arr_type, kv->data + i * (uint64_t)sz, &iv, &u, &d)) {
    case 'i': *out = (double)iv; return QS_OK;
    case 'u': case 'b': *out = (double)u; return QS_OK;
    case 'f': *out = d; return QS_OK;
    default: return QS_ERR;
    }
}

/* ------------------------------------------------------------------ formatting */

static size_t fmt_scalar(gguf_vtype t, const uint8_t *p, char *buf, size_t n) {
    int64_t i;
    uint64_t u;
    double d;
    int r;
    switch (decode_num(t, p, &i, &u, &d)) {
    case 'i': r = snprintf(buf, n, "%lld", (long long)i); break;
    case 'u': r = snprintf(buf, n, "%llu", (unsigned long long)u); break;
    case 'b': r = snprintf(buf, n, "%s", u ? "true" : "false"); break;
    case 'f': r = snprintf(buf, n, "%.7g", d); break;
    default: r = snprintf(buf, n, "?"); break;
    }
    return r < 0 ? 0 : ((size_t)r < n ? (size_t)r : (n ? n - 1 : 0));
}

static size_t fmt_str(const char *p, uint64_t len, char *buf, size_t n, size_t limit) {
    if (n == 0) return 0;
    size_t o = 0;
    for (uint64_t i = 0; i < len && o + 4 < n; i++) {
        if (o >= limit) {
            memcpy(buf + o, "\xe2\x80\xa6", 3); /* … */
            o += 3;
            break;
        }
        unsigned char c = (unsigned char)p[i];
        buf[o++] = (c == '\n' || c == '\t' || c == '\r') ? ' ' : (c < 0x20 ? '?' : (char)c);
    }
    buf[o] = 0;
    return o;
}

void gguf_kv_format(const gguf_kv *kv, char *buf, size_t bufsize) {
    if (bufsize == 0) return;
    buf[0] = 0;
    if (kv->type == GGUF_VT_STRING) {
        fmt_str((const char *)kv->data + 8, le64(kv->data), buf, bufsize, 60);
        return;
    }
    if (kv->type != GGUF_VT_ARRAY) {
        fmt_scalar(kv->type, kv->data, buf, bufsize);
        return;
    }
    int o = snprintf(buf, bufsize, "[%llu x %s", (unsigned long long)kv->arr_count, vtypes[kv->arr_type].name);
    if (o < 0 || (size_t)o >= bufsize) return;
    size_t pos = (size_t)o;
    gguf_arr_iter it;
    gguf_arr_begin(kv, &it);
    const uint8_t *d;
    gguf_str s;
    for (int k = 0; k < 4 && pos + 16 < bufsize && gguf_arr_next(&it, &d, &s, NULL); k++) {
        pos += (size_t)snprintf(buf + pos, bufsize - pos, k ? ", " : ": ");
        if (it.type == GGUF_VT_STRING) pos += fmt_str(s.ptr, s.len, buf + pos, bufsize - pos, 16);
        else if (it.type == GGUF_VT_ARRAY) pos += (size_t)snprintf(buf + pos, bufsize - pos, "[...]");
        else pos += fmt_scalar(it.type, d, buf + pos, bufsize - pos);
    }
    if (pos + 5 < bufsize) snprintf(buf + pos, bufsize - pos, "%s]", kv->arr_count > 4 ? ", ..." : "");
}

/* ------------------------------------------------------------------ writer */

typedef struct wkv {
    char *key;
    uint8_t *enc; /* value type (u32) + encoded value */
    size_t len;
} wkv;

typedef struct wtensor {
    char *name;
    int type, n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint64_t nbytes, offset;
} wtensor;

struct gguf_writer {
    char *path, *tmp;
    FILE *fp;
    uint32_t alignment;
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    bool started;
    size_t cur;          /* tensor being written */
    uint64_t cur_done;   /* bytes of it written */
    uint64_t pos;        /* bytes written to the file */
    bool failed;
    char err[512];
};

__attribute__((format(printf, 2, 3))) static int wfail(gguf_writer *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(w->err, sizeof w->err, "%s: ", w->path);
    vsnprintf(w->err + n, sizeof w->err - (size_t)n, fmt, ap);
    va_end(ap);
    w->failed = true;
    return QS_ERR;
}

const char *gguf_writer_error(const gguf_writer *w) { return w->err; }

gguf_writer *gguf_writer_open(const char *path, uint32_t alignment, qs_error *err) {
    if (alignment == 0) alignment = GGUF_DEFAULT_ALIGNMENT;
    if (alignment & (alignment - 1)) {
        qs_error_set(err, "%s: alignment %u is not a power of two", path, alignment);
        return NULL;
    }
    gguf_writer *w = calloc(1, sizeof *w);
    if (!w) {
        qs_error_set(err, "%s: out of memory", path);
        return NULL;
    }
    w->alignment = alignment;
    w->path = strdup(path);
    size_t n = strlen(path) + 16;
    w->tmp = malloc(n);
    if (!w->path || !w->tmp) {
        qs_error_set(err, "%s: out of memory", path);
        gguf_writer_abort(w);
        return NULL;
    }
    snprintf(w->tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(w->tmp);
    if (fd < 0) {
        qs_error_set(err, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(w->tmp);
        w->tmp = NULL;
        gguf_writer_abort(w);
        return NULL;
    }
    fchmod(fd, 0644);
    w->fp = fdopen(fd, "wb");
    if (!w->fp) {
        close(fd);
        qs_error_set(err, "%s: %s", path, strerror(errno));
        gguf_writer_abort(w);
        return NULL;
    }
    return w;
}

static int put_kv(gguf_writer *w, const char *key, gguf_vtype type, const void *val, size_t len) {
    if (w->failed) return QS_ERR;
    if (w->started) return wfail(w, "metadata '%s' set after tensor data started", key);
    if (!key[0]) return wfail(w, "empty metadata key");
    uint8_t *enc = malloc(4 + len);
    if (!enc) return wfail(w, "out of memory");
    uint32_t t = (uint32_t)type;
    memcpy(enc, &t, 4);
    if (len) memcpy(enc + 4, val, len);
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) { /* replace in place: keeps the first position */
            free(w->kv[i].enc);
            w->kv[i].enc = enc;
            w->kv[i].len = 4 + len;
            return QS_OK;
        }
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
        wkv *nk = realloc(w->kv, cap * sizeof *nk);
        if (!nk) {
            free(enc);
            return wfail(w, "out of memory");
        }
        w->kv = nk;
        w->cap_kv = cap;
    }
    w->kv[w->n_kv] = (wkv){strdup(key), enc, 4 + len};
    if (!w->kv[w->n_kv].key) {
        free(enc);
        return wfail(w, "out of memory");
    }
    w->n_kv++;
    if (strcmp(key, "general.alignment") == 0) {
        uint32_t a;
        if (type != GGUF_VT_UINT32) return wfail(w, "general.alignment must be u32");
        memcpy(&a, val, 4);
        if (a == 0 || (a & (a - 1))) return wfail(w, "general.alignment %u is not a power of two", a);
        w->alignment = a;
    }
    return QS_OK;
}

int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v) { return put_kv(w, key, GGUF_VT_UINT32, &v, 4); }
int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v) { return put_kv(w, key, GGUF_VT_INT32, &v, 4); }
int gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v) { return put_kv(w, key, GGUF_VT_UINT64, &v, 8); }
int gguf_writer_set_f32(gguf_writer *w, const char *key, float v) { return put_kv(w, key, GGUF_VT_FLOAT32, &v, 4); }
int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    return put_kv(w, key, GGUF_VT_BOOL, &b, 1);
}

int gguf_writer_set_str(gguf_writer *w, const char *key, const char *v) {
    uint64_t n = strlen(v);
    uint8_t *buf = malloc(8 + n);
    if (!buf) return wfail(w, "out of memory");
    memcpy(buf, &n, 8);
    memcpy(buf + 8, v, n);
    int rc = put_kv(w, key, GGUF_VT_STRING, buf, 8 + n);
    free(buf);
    return rc;
}

int gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype type, const void *data, uint64_t count) {
    int es = gguf_vtype_size(type);
    if (es == 0) return wfail(w, "array '%s': element type %s is not fixed-size", key, gguf_vtype_name(type));
    size_t len = 12 + (size_t)count * (size_t)es;
    uint8_t *buf = malloc(len);
    if (!buf) return wfail(w, "out of memory");
    uint32_t t = (uint32_t)type;
    memcpy(buf, &t, 4);
    memcpy(buf + 4, &count, 8);
    if (count) memcpy(buf + 12, data, (size_t)count * (size_t)es);
    int rc = put_kv(w, key, GGUF_VT_ARRAY, buf, len);
    free(buf);
    return rc;
}

int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t count) {
    size_t len = 12;
    for (uint64_t i = 0; i < count; i++) len += 8 + strlen(strs[i]);
    uint8_t *buf = malloc(len), *p;
    if (!buf) return wfail(w, "out of memory");
    uint32_t t = GGUF_VT_STRING;
    memcpy(buf, &t, 4);
    memcpy(buf + 4, &count, 8);
    p = buf + 12;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t n = strlen(strs[i]);
        memcpy(p, &n, 8);
        memcpy(p + 8, strs[i], n);
        p += 8 + n;
    }
    int rc = put_kv(w, key, GGUF_VT_ARRAY, buf, len);
    free(buf);
    return rc;
}

int gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv) {
    char key[4096];
    if (kv->key.len >= sizeof key) return wfail(w, "metadata key too long to copy");
    memcpy(key, kv->key.ptr, kv->key.len);
    key[kv->key.len] = 0;
    if (kv->type != GGUF_VT_ARRAY) return put_kv(w, key, kv->type, kv->data, kv->data_bytes);
    /* arrays: the stored data starts after the element type and count, which precede it */
    return put_kv(w, key, GGUF_VT_ARRAY, kv->data - 12, kv->data_bytes + 12);
}

int gguf_writer_add_tensor(gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne) {
    if (w->failed) return QS_ERR;
    if (w->started) return wfail(w, "tensor '%s' declared after tensor data started", name);
    size_t nl = strlen(name);
    if (nl == 0 || nl >= GGUF_MAX_NAME) return wfail(w, "tensor name '%s' must be 1..%d bytes", name, GGUF_MAX_NAME - 1);
    const qs_type_traits *tr = qs_type_traits_get(type);
    if (!tr) return wfail(w, "tensor '%s': unknown type id %d", name, type);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS) return wfail(w, "tensor '%s': %d dimensions", name, n_dims);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0) return wfail(w, "duplicate tensor name '%s'", name);
    wtensor t = {.type = type, .n_dims = n_dims};
    int64_t total = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] < 0 || __builtin_mul_overflow(total, t.ne[d], &total))
            return wfail(w, "tensor '%s': bad dimensions", name);
    }
    if (t.ne[0] % tr->blck_size)
        return wfail(w, "tensor '%s': rows of %lld values cannot hold %s blocks of %d", name,
                     (long long)t.ne[0], tr->name, tr->blck_size);
    t.nbytes = (uint64_t)(total / tr->blck_size) * (uint64_t)tr->type_size;
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 64;
        wtensor *nt = realloc(w->t, cap * sizeof *nt);
        if (!nt) return wfail(w, "out of memory");
        w->t = nt;
        w->cap_t = cap;
    }
    t.name = strdup(name);
    if (!t.name) return wfail(w, "out of memory");
    w->t[w->n_t++] = t;
    return QS_OK;
}

static int wbytes(gguf_writer *w, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, w->fp) != n) return wfail(w, "write failed: %s", strerror(errno));
    w->pos += n;
    return QS_OK;
}

static int wpad(gguf_writer *w) {
    static const uint8_t zeros[256];
    uint64_t pad = (w->alignment - w->pos % w->alignment) % w->alignment;
    while (pad) {
        size_t k = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
        if (wbytes(w, zeros, k)) return QS_ERR;
        pad -= k;
    }
    return QS_OK;
}

static int write_header(gguf_writer *w) {
    uint32_t version = 3;
    uint64_t nt = w->n_t, nk = w->n_kv;
    if (wbytes(w, GGUF_MAGIC, 4) || wbytes(w, &version, 4) || wbytes(w, &nt, 8) || wbytes(w, &nk, 8)) return QS_ERR;
    for (size_t i = 0; i < w->n_kv; i++) {
        uint64_t kl = strlen(w->kv[i].key);
        if (wbytes(w, &kl, 8) || wbytes(w, w->kv[i].key, kl) || wbytes(w, w->kv[i].enc, w->kv[i].len)) return QS_ERR;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        wtensor *t = &w->t[i];
        t->offset = off;
        off += t->nbytes + (w->alignment - t->nbytes % w->alignment) % w->alignment;
        uint64_t nl = strlen(t->name);
        uint32_t nd = (uint32_t)t->n_dims, ty = (uint32_t)t->type;
        if (wbytes(w, &nl, 8) || wbytes(w, t->name, nl) || wbytes(w, &nd, 4)) return QS_ERR;
        for (int d = 0; d < t->n_dims; d++)
            if (wbytes(w, &t->ne[d], 8)) return QS_ERR;
        if (wbytes(w, &ty, 4) || wbytes(w, &t->offset, 8)) return QS_ERR;
    }
    w->started = true;
    return wpad(w);
}

int gguf_writer_write(gguf_writer *w, const void *data, uint64_t nbytes) {
    if (w->failed) return QS_ERR;
    if (!w->started && write_header(w)) return QS_ERR;
    const uint8_t *p = data;
    while (nbytes > 0) {
        while (w->cur < w->n_t && w->cur_done == w->t[w->cur].nbytes) { /* zero-size tensors */
            w->cur++;
            w->cur_done = 0;
        }
        if (w->cur >= w->n_t) return wfail(w, "more tensor data written than declared");
        wtensor *t = &w->t[w->cur];
        uint64_t k = t->nbytes - w->cur_done;
        if (k > nbytes) k = nbytes;
        if (wbytes(w, p, (size_t)k)) return QS_ERR;
        p += k;
        nbytes -= k;
        w->cur_done += k;
        if (w->cur_done == t->nbytes) {
            if (wpad(w)) return QS_ERR;
            w->cur++;
            w->cur_done = 0;
        }
    }
    return QS_OK;
}

static void writer_free(gguf_writer *w) {
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].enc);
    }
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w->path);
    free(w->tmp);
    free(w);
}

void gguf_writer_abort(gguf_writer *w) {
    if (!w) return;
    if (w->fp) fclose(w->fp);
    if (w->tmp) unlink(w->tmp);
    writer_free(w);
}

int gguf_writer_finish(gguf_writer *w, qs_error *err) {
    if (!w->failed && !w->started) write_header(w);
    while (!w->failed && w->cur < w->n_t && w->t[w->cur].nbytes == 0) w->cur++;
    if (!w->failed && w->cur < w->n_t)
        wfail(w, "tensor '%s' incomplete: %llu of %llu bytes written", w->t[w->cur].name,
              (unsigned long long)w->cur_done, (unsigned long long)w->t[w->cur].nbytes);
    if (!w->failed && (fflush(w->fp) != 0 || fsync(fileno(w->fp)) != 0))
        wfail(w, "write failed: %s", strerror(errno));
    if (!w->failed) {
        int rc = fclose(w->fp);
        w->fp = NULL;
        if (rc != 0) wfail(w, "write failed: %s", strerror(errno));
    }
    if (!w->failed && rename(w->tmp, w->path) != 0) wfail(w, "cannot rename into place: %s", strerror(errno));
    if (w->failed) {
        qs_error_set(err, "%s", w->err);
        gguf_writer_abort(w);
        return QS_ERR;
    }
    /* make the rename durable */
    char *dir = strdup(w->path);
    if (dir) {
        int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    free(w->tmp);
    w->tmp = NULL;
    writer_free(w);
    return QS_OK;
}
