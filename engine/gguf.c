/* gguf.c — GGUF v2/v3 reader (mmap, zero-copy, validated) and streaming atomic writer.
 *
 * The reader walks the file once: header, key/values, tensor infos, then checks the data
 * layout. Every length is compared with the bytes that remain before it is used, so nothing
 * past the end of the image is ever read and no allocation is sized from an unchecked count.
 * Tables grow as entries are parsed (a lying count cannot make us allocate ahead of the bytes
 * that back it). Tensor data is never touched.
 *
 * The writer keeps metadata and tensor infos in memory until the first data write, then
 * streams header, infos and data to "PATH.tmp.XXXXXX" and renames it over PATH at finish. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qs_tmpfile.h"
#include "qs_types.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "GGUF values are read in place: quantscope needs a little-endian host"
#endif

#define GGUF_MAGIC_LE 0x46554747u /* "GGUF" read as a little-endian u32 */

/* Smallest encodings, used to bound counts by the bytes left before allocating anything. */
#define MIN_KV_BYTES 14u     /* key len 8 + 1 key byte + type 4 + 1 value byte */
#define MIN_TENSOR_BYTES 33u /* name len 8 + 1 name byte + n_dims 4 + one dim 8 + type 4 + offset 8 */
#define MIN_STRING_BYTES 8u
#define MIN_ARRAY_BYTES 12u  /* element type 4 + count 8 */

static uint32_t load_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t load_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

static bool is_pow2(uint64_t a) { return a != 0 && (a & (a - 1)) == 0; }

static const int vtype_sizes[GGUF_VT_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static const char *const vtype_names[GGUF_VT_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
};

int gguf_vtype_size(gguf_vtype t) {
    return (unsigned)t < GGUF_VT_COUNT ? vtype_sizes[t] : 0;
}

const char *gguf_vtype_name(gguf_vtype t) {
    return (unsigned)t < GGUF_VT_COUNT ? vtype_names[t] : "?";
}

/* ------------------------------------------------------------------ names in messages */

/* Writes a name for an error message: printable ASCII kept, the rest escaped, long names cut
 * with "...". Returns buf. */
static const char *show_name(char *buf, size_t n, const char *p, uint64_t len) {
    size_t o = 0;
    uint64_t i;
    for (i = 0; i < len && o + 8 < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            buf[o++] = (char)c;
        } else {
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
        }
        if (o >= 64) {
            i++;
            break;
        }
    }
    if (i < len && o + 4 <= n) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o < n ? o : n - 1] = '\0';
    return buf;
}

/* ------------------------------------------------------------------ name index (hash table) */

/* Open addressing over (pointer, length) names that live elsewhere (the map or the writer's
 * own copies). The seed comes from the address of the owning object so that a file crafted to
 * collide cannot count on one hash function. */
typedef struct name_slot {
    const char *ptr;
    uint64_t len;
    uint64_t hash;
    int64_t idx; /* -1: empty */
} name_slot;

typedef struct name_index {
    name_slot *slots;
    uint64_t cap; /* power of two, 0 when unallocated */
    uint64_t count;
    uint64_t seed;
} name_index;

static uint64_t name_hash(uint64_t seed, const char *p, uint64_t len) {
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (uint64_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 32;
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static int64_t name_index_find(const name_index *ix, const char *p, uint64_t len) {
    if (ix->cap == 0) return -1;
    uint64_t h = name_hash(ix->seed, p, len), m = ix->cap - 1;
    for (uint64_t i = h & m;; i = (i + 1) & m) {
        const name_slot *s = &ix->slots[i];
        if (s->idx < 0) return -1;
        if (s->hash == h && s->len == len && memcmp(s->ptr, p, len) == 0) return s->idx;
    }
}

static int name_index_grow(name_index *ix) {
    uint64_t cap = ix->cap ? ix->cap * 2 : 64;
    if (cap > SIZE_MAX / sizeof(name_slot)) return QS_ENOMEM;
    name_slot *s = malloc((size_t)cap * sizeof *s);
    if (!s) return QS_ENOMEM;
    for (uint64_t i = 0; i < cap; i++) s[i].idx = -1;
    for (uint64_t i = 0; i < ix->cap; i++) {
        if (ix->slots[i].idx < 0) continue;
        uint64_t j = ix->slots[i].hash & (cap - 1);
        while (s[j].idx >= 0) j = (j + 1) & (cap - 1);
        s[j] = ix->slots[i];
    }
    free(ix->slots);
    ix->slots = s;
    ix->cap = cap;
    return QS_OK;
}

/* Inserts name -> idx. Returns -1 when inserted, the existing index for a duplicate, or
 * QS_ENOMEM (-3 is never a valid index either; callers test < -1). */
static int64_t name_index_add(name_index *ix, const char *p, uint64_t len, int64_t idx) {
    if ((ix->count + 1) * 2 > ix->cap && name_index_grow(ix) != QS_OK) return QS_ENOMEM;
    uint64_t h = name_hash(ix->seed, p, len), m = ix->cap - 1, i = h & m;
    for (;; i = (i + 1) & m) {
        name_slot *s = &ix->slots[i];
        if (s->idx < 0) break;
        if (s->hash == h && s->len == len && memcmp(s->ptr, p, len) == 0) return s->idx;
    }
    ix->slots[i] = (name_slot){p, len, h, idx};
    ix->count++;
    return -1;
}

static void name_index_free(name_index *ix) {
    free(ix->slots);
    ix->slots = NULL;
    ix->cap = ix->count = 0;
}

/* ------------------------------------------------------------------ reader: cursor */

typedef struct rd {
    const uint8_t *b;
    uint64_t size;
    uint64_t pos;
    const char *name; /* file name for messages */
    qs_error *err;
    const char *what; /* "key", "tensor", "value" */
    int64_t index;    /* entry number, for messages before its name is known */
    gguf_str label;   /* entry name once known (ptr NULL before) */
} rd;

static uint64_t rd_left(const rd *r) { return r->size - r->pos; }

/* "name: offset N: <entry>: message" */
static int rd_fail(rd *r, uint64_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int rd_fail(rd *r, uint64_t off, const char *fmt, ...) {
    if (!r->err) return QS_ERR;
    char *m = r->err->msg;
    size_t cap = sizeof r->err->msg;
    int n = snprintf(m, cap, "%s: offset %" PRIu64 ": ", r->name, off);
    if (n < 0 || (size_t)n >= cap) return QS_ERR;
    if (r->what) {
        char nb[96];
        int k = r->label.ptr
                    ? snprintf(m + n, cap - (size_t)n, "%s '%s': ", r->what,
                               show_name(nb, sizeof nb, r->label.ptr, r->label.len))
                    : snprintf(m + n, cap - (size_t)n, "%s #%" PRId64 ": ", r->what, r->index);
        if (k < 0 || (size_t)(n + k) >= cap) return QS_ERR;
        n += k;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return QS_ERR;
}

static int rd_need(rd *r, uint64_t n, const char *what) {
    if (rd_left(r) >= n) return QS_OK;
    return rd_fail(r, r->pos, "file ends inside %s (%" PRIu64 " bytes needed, %" PRIu64 " remain)",
                   what, n, rd_left(r));
}

static int rd_u32(rd *r, uint32_t *v, const char *what) {
    if (rd_need(r, 4, what) != QS_OK) return QS_ERR;
    *v = load_u32(r->b + r->pos);
    r->pos += 4;
    return QS_OK;
}

static int rd_u64(rd *r, uint64_t *v, const char *what) {
    if (rd_need(r, 8, what) != QS_OK) return QS_ERR;
    *v = load_u64(r->b + r->pos);
    r->pos += 8;
    return QS_OK;
}

/* A length-prefixed string; its bytes are checked against what remains, not trusted. */
static int rd_str(rd *r, gguf_str *s, const char *what) {
    uint64_t at = r->pos, len;
    if (rd_need(r, 8, what) != QS_OK) return QS_ERR;
    len = load_u64(r->b + r->pos);
    r->pos += 8;
    if (len > rd_left(r)) {
        r->pos = at;
        return rd_fail(r, at, "%s length %" PRIu64 " exceeds the %" PRIu64 " bytes left in the file",
                       what, len, rd_left(r) - 8);
    }
    s->ptr = (const char *)(r->b + r->pos);
    s->len = len;
    r->pos += len;
    return QS_OK;
}

/* Names used as keys must be reachable from C strings. */
static int rd_check_name(rd *r, uint64_t at, gguf_str s, const char *what, uint64_t max_len) {
    if (s.len == 0) return rd_fail(r, at, "%s is empty", what);
    if (s.len > max_len)
        return rd_fail(r, at, "%s is %" PRIu64 " bytes long, at most %" PRIu64 " allowed", what,
                       s.len, max_len);
    const void *nul = memchr(s.ptr, 0, s.len);
    if (nul)
        return rd_fail(r, at, "%s contains a NUL byte at position %td", what,
                       (const char *)nul - s.ptr);
    return QS_OK;
}

/* ------------------------------------------------------------------ reader: values */

/* Validates count elements of type t at the cursor and moves past them. depth is the nesting
 * level of the array holding them (1 for a key's own array). */
static int rd_elems(rd *r, uint32_t t, uint64_t count, int depth) {
    uint64_t at = r->pos;
    if (t >= GGUF_VT_COUNT)
        return rd_fail(r, at, "array element type %" PRIu32 " is not a GGUF value type (0..12)", t);
    if (t == GGUF_VT_STRING) {
        if (count > rd_left(r) / MIN_STRING_BYTES)
            return rd_fail(r, at,
                           "array of %" PRIu64 " strings cannot fit in the %" PRIu64
                           " bytes left (each takes at least 8)",
                           count, rd_left(r));
        /* One tight pass: lengths only, the bytes themselves are never looked at. */
        const uint8_t *b = r->b;
        uint64_t pos = r->pos, size = r->size;
        for (uint64_t i = 0; i < count; i++) {
            if (size - pos < 8) {
                r->pos = pos;
                return rd_fail(r, pos,
                               "file ends inside the length of string %" PRIu64 " of %" PRIu64
                               " (8 bytes needed, %" PRIu64 " remain)",
                               i, count, size - pos);
            }
            uint64_t len = load_u64(b + pos);
            if (len > size - pos - 8) {
                r->pos = pos;
                return rd_fail(r, pos,
                               "string %" PRIu64 " of %" PRIu64 " has length %" PRIu64
                               ", more than the %" PRIu64 " bytes left",
                               i, count, len, size - pos - 8);
            }
            pos += 8 + len;
        }
        r->pos = pos;
        return QS_OK;
    }
    if (t == GGUF_VT_ARRAY) {
        if (depth >= GGUF_MAX_ARRAY_DEPTH)
            return rd_fail(r, at, "arrays nested deeper than %d levels", GGUF_MAX_ARRAY_DEPTH);
        if (count > rd_left(r) / MIN_ARRAY_BYTES)
            return rd_fail(r, at,
                           "array of %" PRIu64 " arrays cannot fit in the %" PRIu64
                           " bytes left (each takes at least 12)",
                           count, rd_left(r));
        for (uint64_t i = 0; i < count; i++) {
            uint32_t et;
            uint64_t n;
            if (rd_u32(r, &et, "a nested array's element type") != QS_OK) return QS_ERR;
            if (rd_u64(r, &n, "a nested array's count") != QS_OK) return QS_ERR;
            if (rd_elems(r, et, n, depth + 1) != QS_OK) return QS_ERR;
        }
        return QS_OK;
    }
    uint64_t es = (uint64_t)vtype_sizes[t];
    if (count > rd_left(r) / es) {
        if (count > UINT64_MAX / es)
            return rd_fail(r, at, "array of %" PRIu64 " %s overflows 64-bit byte sizes", count,
                           vtype_names[t]);
        return rd_fail(r, at,
                       "array of %" PRIu64 " %s needs %" PRIu64 " bytes, only %" PRIu64 " remain",
                       count, vtype_names[t], count * es, rd_left(r));
    }
    if (t == GGUF_VT_BOOL) {
        for (uint64_t i = 0; i < count; i++) {
            uint8_t v = r->b[at + i];
            if (v > 1)
                return rd_fail(r, at + i, "bool element %" PRIu64 " is 0x%02x, expected 0 or 1", i,
                               v);
        }
    }
    r->pos += count * es;
    return QS_OK;
}

/* A value of type t at the cursor (for arrays: element type, count, elements). */
static int rd_value(rd *r, uint32_t t, uint32_t *arr_type, uint64_t *arr_count) {
    uint64_t at = r->pos;
    if (t >= GGUF_VT_COUNT)
        return rd_fail(r, at - 4, "value type %" PRIu32 " is not a GGUF value type (0..12)", t);
    if (t == GGUF_VT_STRING) {
        gguf_str s;
        return rd_str(r, &s, "the string value");
    }
    if (t == GGUF_VT_ARRAY) {
        if (rd_u32(r, arr_type, "the array element type") != QS_OK) return QS_ERR;
        if (rd_u64(r, arr_count, "the array count") != QS_OK) return QS_ERR;
        return rd_elems(r, *arr_type, *arr_count, 1);
    }
    if (rd_need(r, (uint64_t)vtype_sizes[t], "the value") != QS_OK) return QS_ERR;
    if (t == GGUF_VT_BOOL && r->b[at] > 1)
        return rd_fail(r, at, "bool value is 0x%02x, expected 0 or 1", r->b[at]);
    r->pos += (uint64_t)vtype_sizes[t];
    return QS_OK;
}

/* ------------------------------------------------------------------ reader: the file */

typedef struct gguf_file_priv {
    gguf_file pub; /* first: gguf_file * and gguf_file_priv * convert both ways */
    name_index keys, tensors;
    uint64_t map_len; /* nonzero when map is ours to munmap */
} gguf_file_priv;

static gguf_file_priv *priv_of(const gguf_file *f) { return (gguf_file_priv *)(uintptr_t)f; }

/* A table with room for `need` entries, grown by doubling up to `limit` (the count the header
 * declared). Returns the table (maybe moved) or NULL, leaving the old one to the caller. */
static void *grow(void *arr, int64_t *cap, int64_t need, int64_t limit, size_t elem) {
    if (need <= *cap) return arr;
    int64_t c = *cap ? *cap * 2 : 16;
    if (c > limit) c = limit;
    if (c < need) c = need;
    if ((uint64_t)c > SIZE_MAX / elem) return NULL;
    void *p = realloc(arr, (size_t)c * elem);
    if (p) *cap = c;
    return p;
}

static int parse_header(rd *r, gguf_file *f, uint64_t *n_tensors, uint64_t *n_kv) {
    uint32_t magic, version;
    if (r->size < 4)
        return rd_fail(r, 0, "file is %" PRIu64 " bytes, too short for the GGUF magic", r->size);
    magic = load_u32(r->b);
    if (magic != GGUF_MAGIC_LE) {
        char shown[16];
        for (int i = 0; i < 4; i++) {
            unsigned char c = r->b[i];
            shown[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        }
        shown[4] = '\0';
        return rd_fail(r, 0, "bad magic '%s' (%02x %02x %02x %02x), expected 'GGUF'", shown, r->b[0],
                       r->b[1], r->b[2], r->b[3]);
    }
    r->pos = 4;
    if (rd_u32(r, &version, "the version") != QS_OK) return QS_ERR;
    if (version != 0 && (version & 0xffffu) == 0)
        return rd_fail(r, 4,
                       "version field reads 0x%08" PRIx32 ": this is a big-endian GGUF file "
                       "(version %" PRIu32 " byte-swapped); only little-endian files are supported",
                       version, __builtin_bswap32(version));
    if (version == 1)
        return rd_fail(r, 4, "GGUF version 1 is obsolete and not supported (only 2 and 3); "
                             "convert the model again with a current llama.cpp");
    if (version != 2 && version != 3)
        return rd_fail(r, 4, "GGUF version %" PRIu32 " is not supported (only 2 and 3)", version);
    f->version = version;
    if (rd_u64(r, n_tensors, "the tensor count") != QS_OK) return QS_ERR;
    if (rd_u64(r, n_kv, "the metadata count") != QS_OK) return QS_ERR;
    uint64_t left = rd_left(r);
    if (*n_tensors > left / MIN_TENSOR_BYTES)
        return rd_fail(r, 8,
                       "tensor count %" PRIu64 " exceeds what a %" PRIu64
                       "-byte file can hold (each tensor info takes at least %u bytes)",
                       *n_tensors, r->size, MIN_TENSOR_BYTES);
    left -= *n_tensors * MIN_TENSOR_BYTES;
    if (*n_kv > left / MIN_KV_BYTES)
        return rd_fail(r, 16,
                       "metadata count %" PRIu64 " exceeds what a %" PRIu64 "-byte file can hold "
                       "with %" PRIu64 " tensors (each key/value takes at least %u bytes)",
                       *n_kv, r->size, *n_tensors, MIN_KV_BYTES);
    return QS_OK;
}

static int parse_kvs(rd *r, gguf_file_priv *fp, uint64_t n_kv) {
    gguf_file *f = &fp->pub;
    int64_t cap = 0;
    r->what = "key";
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv kv = {0};
        uint32_t t, arr_type = 0;
        uint64_t arr_count = 0;
        r->index = (int64_t)i;
        r->label.ptr = NULL;
        kv.file_offset = r->pos;
        if (rd_str(r, &kv.key, "the key") != QS_OK) return QS_ERR;
        if (rd_check_name(r, kv.file_offset, kv.key, "the key", UINT64_MAX) != QS_OK) return QS_ERR;
        r->label = kv.key;
        int64_t dup = name_index_add(&fp->keys, kv.key.ptr, kv.key.len, (int64_t)i);
        if (dup < -1) return rd_fail(r, kv.file_offset, "out of memory");
        if (dup >= 0)
            return rd_fail(r, kv.file_offset, "duplicate key (key #%" PRId64 " at offset %" PRIu64
                           " has the same name)", dup, f->kv[dup].file_offset);
        if (rd_u32(r, &t, "the value type") != QS_OK) return QS_ERR;
        uint64_t value_at = r->pos;
        if (rd_value(r, t, &arr_type, &arr_count) != QS_OK) return QS_ERR;
        kv.type = (gguf_vtype)t;
        if (t == GGUF_VT_ARRAY) {
            kv.arr_type = (gguf_vtype)arr_type;
            kv.arr_count = arr_count;
            value_at += MIN_ARRAY_BYTES;
        }
        kv.data = r->b + value_at;
        kv.data_bytes = r->pos - value_at;
        gguf_kv *tab = grow(f->kv, &cap, (int64_t)i + 1, (int64_t)n_kv, sizeof *f->kv);
        if (!tab) return rd_fail(r, kv.file_offset, "out of memory");
        f->kv = tab;
        f->kv[i] = kv;
        f->n_kv = (int64_t)i + 1;
    }
    r->what = NULL;

    /* general.alignment changes where the data section and every tensor start. */
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t a = name_index_find(&fp->keys, "general.alignment", 17);
    if (a >= 0) {
        const gguf_kv *kv = &f->kv[a];
        r->what = "key";
        r->label = kv->key;
        if (kv->type != GGUF_VT_UINT32)
            return rd_fail(r, kv->file_offset, "must be a u32, found %s", gguf_vtype_name(kv->type));
        uint32_t v = load_u32(kv->data);
        if (!is_pow2(v))
            return rd_fail(r, kv->file_offset, "alignment %" PRIu32 " is not a power of two", v);
        f->alignment = v;
        r->what = NULL;
    }
    return QS_OK;
}

static int parse_tensor_infos(rd *r, gguf_file_priv *fp, uint64_t n_tensors) {
    gguf_file *f = &fp->pub;
    int64_t cap = 0;
    r->what = "tensor";
    for (uint64_t i = 0; i < n_tensors; i++) {
        gguf_tensor ti = {0};
        uint32_t n_dims, type;
        r->index = (int64_t)i;
        r->label.ptr = NULL;
        ti.info_offset = r->pos;
        if (rd_str(r, &ti.name, "the name") != QS_OK) return QS_ERR;
        if (rd_check_name(r, ti.info_offset, ti.name, "the name", GGUF_MAX_TENSOR_NAME) != QS_OK)
            return QS_ERR;
        r->label = ti.name;
        int64_t dup = name_index_add(&fp->tensors, ti.name.ptr, ti.name.len, (int64_t)i);
        if (dup < -1) return rd_fail(r, ti.info_offset, "out of memory");
        if (dup >= 0)
            return rd_fail(r, ti.info_offset, "duplicate tensor name (tensor #%" PRId64
                           " at offset %" PRIu64 " has the same name)", dup, f->tensors[dup].info_offset);

        uint64_t at = r->pos;
        if (rd_u32(r, &n_dims, "the dimension count") != QS_OK) return QS_ERR;
        if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
            return rd_fail(r, at, "has %" PRIu32 " dimensions, expected 1 to %d", n_dims,
                           GGUF_MAX_DIMS);
        ti.n_dims = (int)n_dims;
        int64_t n = 1;
        for (int d = 0; d < GGUF_MAX_DIMS; d++) ti.ne[d] = 1;
        for (uint32_t d = 0; d < n_dims; d++) {
            uint64_t v;
            at = r->pos;
            if (rd_u64(r, &v, "a dimension") != QS_OK) return QS_ERR;
            if (v == 0 || v > (uint64_t)INT64_MAX)
                return rd_fail(r, at, "dimension %" PRIu32 " is %" PRId64 ", expected >= 1", d,
                               (int64_t)v);
            ti.ne[d] = (int64_t)v;
            if (ti.ne[d] > INT64_MAX / n)
                return rd_fail(r, at,
                               "element count overflows int64 (shape %" PRId64 " x %" PRId64
                               " x %" PRId64 " x %" PRId64 ")",
                               ti.ne[0], ti.ne[1], ti.ne[2], ti.ne[3]);
            n *= ti.ne[d];
        }
        ti.n_elements = n;

        at = r->pos;
        if (rd_u32(r, &type, "the type") != QS_OK) return QS_ERR;
        const qs_type_traits *tr = type < (uint32_t)QS_TYPE_COUNT ? qs_type_traits_get((int)type) : NULL;
        if (!tr) return rd_fail(r, at, "type id %" PRIu32 " is not a known ggml type", type);
        ti.type = (int)type;
        if (ti.ne[0] % tr->blck_size != 0)
            return rd_fail(r, at,
                           "row length %" PRId64 " is not a multiple of %s's block size %d",
                           ti.ne[0], tr->name, tr->blck_size);
        uint64_t blocks = (uint64_t)(n / tr->blck_size);
        if (blocks > UINT64_MAX / (uint64_t)tr->type_size)
            return rd_fail(r, at, "byte size of %" PRId64 " %s elements overflows 64 bits", n,
                           tr->name);
        ti.nbytes = blocks * (uint64_t)tr->type_size;

        if (rd_u64(r, &ti.offset, "the data offset") != QS_OK) return QS_ERR;
        gguf_tensor *tab = grow(f->tensors, &cap, (int64_t)i + 1, (int64_t)n_tensors, sizeof *f->tensors);
        if (!tab) return rd_fail(r, ti.info_offset, "out of memory");
        f->tensors = tab;
        f->tensors[i] = ti;
        f->n_tensors = (int64_t)i + 1;
    }
    r->what = NULL;
    return QS_OK;
}

/* The data section and where each tensor's bytes lie in it. */
static int check_layout(rd *r, gguf_file *f) {
    uint64_t end_infos = r->pos, a = f->alignment;
    uint64_t data = align_up(end_infos, a);
    if (f->n_tensors > 0 && data > r->size)
        return rd_fail(r, end_infos,
                       "file ends before the data section: tensor infos end here, data would "
                       "start at %" PRIu64 " (aligned to %" PRIu64 ") but the file is %" PRIu64 " bytes",
                       data, a, r->size);
    f->data_offset = data <= r->size ? data : r->size;
    uint64_t room = r->size - f->data_offset, expect = 0;
    r->what = "tensor";
    for (int64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        uint64_t off_field = t->info_offset + 8 + t->name.len + 4 + 8 * (uint64_t)t->n_dims + 4;
        r->label = t->name;
        if (t->offset % a != 0)
            return rd_fail(r, off_field,
                           "data offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                           t->offset, a);
        if (t->offset != expect)
            return rd_fail(r, off_field,
                           "data offset %" PRIu64 ", expected %" PRIu64 " (tensor data must follow in "
                           "declaration order, each padded to the alignment %" PRIu64 ")",
                           t->offset, expect, a);
        if (t->offset > room || t->nbytes > room - t->offset)
            return rd_fail(r, off_field,
                           "data [%" PRIu64 ", +%" PRIu64 ") runs past the end of the file: the data "
                           "section holds %" PRIu64 " bytes (file truncated?)",
                           t->offset, t->nbytes, room);
        t->data = r->b + f->data_offset + t->offset;
        expect = t->offset + align_up(t->nbytes, a); /* nbytes <= file size: no overflow */
    }
    r->what = NULL;
    return QS_OK;
}

static gguf_file_priv *file_new(const char *name) {
    gguf_file_priv *fp = calloc(1, sizeof *fp);
    if (!fp) return NULL;
    fp->pub.path = strdup(name ? name : "(memory)");
    if (!fp->pub.path) {
        free(fp);
        return NULL;
    }
    fp->keys.seed = fp->tensors.seed = (uint64_t)(uintptr_t)fp * 0x9e3779b97f4a7c15ull;
    return fp;
}

static int parse(gguf_file_priv *fp, const uint8_t *b, uint64_t size, qs_error *err) {
    gguf_file *f = &fp->pub;
    rd r = {.b = b, .size = size, .name = f->path, .err = err};
    uint64_t n_tensors = 0, n_kv = 0;
    f->map = b;
    f->file_size = size;
    if (parse_header(&r, f, &n_tensors, &n_kv) != QS_OK) return QS_ERR;
    if (parse_kvs(&r, fp, n_kv) != QS_OK) return QS_ERR;
    if (parse_tensor_infos(&r, fp, n_tensors) != QS_OK) return QS_ERR;
    return check_layout(&r, f);
}

gguf_file *gguf_open_memory(const void *buf, uint64_t size, const char *name, qs_error *err) {
    gguf_file_priv *fp = file_new(name);
    if (!fp) {
        qs_error_set(err, "%s: out of memory", name ? name : "(memory)");
        return NULL;
    }
    if (!buf) size = 0;
    if (parse(fp, buf ? buf : (const void *)"", size, err) != QS_OK) {
        gguf_close(&fp->pub);
        return NULL;
    }
    return &fp->pub;
}

gguf_file *gguf_open(const char *path, qs_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        qs_error_set(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        qs_error_set(err, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        qs_error_set(err, "%s: offset 0: not a regular file", path);
        close(fd);
        return NULL;
    }
    uint64_t size = (uint64_t)st.st_size;
    if ((uint64_t)(size_t)size != size) {
        qs_error_set(err, "%s: offset 0: file of %" PRIu64 " bytes is too large to map", path, size);
        close(fd);
        return NULL;
    }
    gguf_file_priv *fp = file_new(path);
    if (!fp) {
        qs_error_set(err, "%s: out of memory", path);
        close(fd);
        return NULL;
    }
    const uint8_t *map = (const uint8_t *)"";
    if (size > 0) {
        void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            qs_error_set(err, "%s: cannot map %" PRIu64 " bytes: %s", path, size, strerror(errno));
            close(fd);
            gguf_close(&fp->pub);
            return NULL;
        }
        map = m;
        fp->map_len = size;
    }
    close(fd); /* the mapping keeps the file */
    if (parse(fp, map, size, err) != QS_OK) {
        gguf_close(&fp->pub);
        return NULL;
    }
    return &fp->pub;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    gguf_file_priv *fp = priv_of(f);
    if (fp->map_len) munmap((void *)(uintptr_t)f->map, (size_t)fp->map_len);
    name_index_free(&fp->keys);
    name_index_free(&fp->tensors);
    free(f->kv);
    free(f->tensors);
    free(f->path);
    free(fp);
}

bool gguf_advise_stream(const gguf_file *f, const gguf_tensor *skip) {
    if (!f) return false;
    const gguf_file_priv *fp = priv_of(f);
    if (fp->map_len < (2u << 20)) return false;
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
    if (madvise((void *)(uintptr_t)f->map, (size_t)fp->map_len, MADV_HUGEPAGE) != 0) return false;
    if (skip && skip->nbytes > 0) {
        /* the pages wholly inside the tensor (madvise works on whole pages) */
        const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        const uintptr_t lo = ((uintptr_t)skip->data + page - 1) / page * page;
        const uintptr_t hi = ((uintptr_t)skip->data + (uintptr_t)skip->nbytes) / page * page;
        if (page > 0 && hi > lo) madvise((void *)lo, hi - lo, MADV_NOHUGEPAGE);
    }
    return true;
#else
    (void)skip;
    return false;
#endif
}

/* ------------------------------------------------------------------ lookups and getters */

int64_t gguf_find_key(const gguf_file *f, const char *key) {
    if (!f || !key) return -1;
    return name_index_find(&priv_of(f)->keys, key, strlen(key));
}

int64_t gguf_find_tensor(const gguf_file *f, const char *name) {
    if (!f || !name) return -1;
    return name_index_find(&priv_of(f)->tensors, name, strlen(name));
}

static const gguf_kv *find_kv(const gguf_file *f, const char *key) {
    int64_t i = gguf_find_key(f, key);
    return i >= 0 ? &f->kv[i] : NULL;
}

/* An integer scalar of any width as (negative?, magnitude). false when not an integer type. */
static bool load_integer(gguf_vtype t, const uint8_t *p, bool *neg, uint64_t *mag) {
    int64_t s;
    switch (t) {
    case GGUF_VT_UINT8: *neg = false; *mag = p[0]; return true;
    case GGUF_VT_UINT16: { uint16_t v; memcpy(&v, p, 2); *neg = false; *mag = v; return true; }
    case GGUF_VT_UINT32: *neg = false; *mag = load_u32(p); return true;
    case GGUF_VT_UINT64: *neg = false; *mag = load_u64(p); return true;
    case GGUF_VT_INT8: s = (int8_t)p[0]; break;
    case GGUF_VT_INT16: { int16_t v; memcpy(&v, p, 2); s = v; break; }
    case GGUF_VT_INT32: { int32_t v; memcpy(&v, p, 4); s = v; break; }
    case GGUF_VT_INT64: memcpy(&s, p, 8); break;
    default: return false;
    }
    *neg = s < 0;
    *mag = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    return true;
}

int gguf_get_int(const gguf_file *f, const char *key, int64_t *out) {
    const gguf_kv *kv = find_kv(f, key);
    bool neg;
    uint64_t mag;
    if (!kv || !load_integer(kv->type, kv->data, &neg, &mag)) return QS_ERR;
    if (!neg && mag > (uint64_t)INT64_MAX) return QS_ERR;
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return QS_OK;
}

int gguf_get_uint(const gguf_file *f, const char *key, uint64_t *out) {
    const gguf_kv *kv = find_kv(f, key);
    bool neg;
    uint64_t mag;
    if (!kv || !load_integer(kv->type, kv->data, &neg, &mag) || (neg && mag != 0)) return QS_ERR;
    *out = mag;
    return QS_OK;
}

int gguf_get_float(const gguf_file *f, const char *key, double *out) {
    const gguf_kv *kv = find_kv(f, key);
    if (!kv) return QS_ERR;
    if (kv->type == GGUF_VT_FLOAT32) {
        float v;
        memcpy(&v, kv->data, 4);
        *out = v;
        return QS_OK;
    }
    if (kv->type == GGUF_VT_FLOAT64) {
        memcpy(out, kv->data, 8);
        return QS_OK;
    }
    return QS_ERR;
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
    out->len = load_u64(kv->data);
    out->ptr = (const char *)kv->data + 8;
    return QS_OK;
}

int gguf_get_cstr(const gguf_file *f, const char *key, char *buf, size_t bufsize) {
    gguf_str s;
    if (bufsize == 0 || gguf_get_str(f, key, &s) != QS_OK) return QS_ERR;
    size_t n = s.len < bufsize - 1 ? (size_t)s.len : bufsize - 1;
    memcpy(buf, s.ptr, n);
    buf[n] = '\0';
    return QS_OK;
}

const gguf_kv *gguf_get_arr(const gguf_file *f, const char *key) {
    const gguf_kv *kv = find_kv(f, key);
    return kv && kv->type == GGUF_VT_ARRAY ? kv : NULL;
}

/* ------------------------------------------------------------------ array walking */

/* Encoded size of count elements of type t at p (bounded by end); UINT64_MAX when they do not
 * fit (cannot happen for validated data, but the walk never trusts it). */
static uint64_t elems_size(const uint8_t *p, const uint8_t *end, gguf_vtype t, uint64_t count,
                           int depth) {
    uint64_t avail = (uint64_t)(end - p);
    if ((unsigned)t >= GGUF_VT_COUNT || depth > GGUF_MAX_ARRAY_DEPTH) return UINT64_MAX;
    if (t != GGUF_VT_STRING && t != GGUF_VT_ARRAY) {
        uint64_t es = (uint64_t)vtype_sizes[t];
        return count <= avail / es ? count * es : UINT64_MAX;
    }
    uint64_t pos = 0;
    for (uint64_t i = 0; i < count; i++) {
        if (t == GGUF_VT_STRING) {
            if (avail - pos < 8) return UINT64_MAX;
            uint64_t len = load_u64(p + pos);
            if (len > avail - pos - 8) return UINT64_MAX;
            pos += 8 + len;
        } else {
            if (avail - pos < MIN_ARRAY_BYTES) return UINT64_MAX;
            uint32_t et = load_u32(p + pos);
            uint64_t n = load_u64(p + pos + 4);
            uint64_t sz = elems_size(p + pos + 12, end, (gguf_vtype)et, n, depth + 1);
            if (sz == UINT64_MAX) return UINT64_MAX;
            pos += 12 + sz;
        }
    }
    return pos;
}

void gguf_arr_begin(const gguf_kv *kv, gguf_arr_iter *it) {
    memset(it, 0, sizeof *it);
    if (!kv || kv->type != GGUF_VT_ARRAY) return;
    it->type = kv->arr_type;
    it->count = kv->arr_count;
    it->p = kv->data;
    it->end = kv->data + kv->data_bytes;
}

bool gguf_arr_next(gguf_arr_iter *it, const uint8_t **data, gguf_str *s, gguf_arr_iter *sub) {
    if (it->index >= it->count || !it->p || (unsigned)it->type >= GGUF_VT_COUNT) return false;
    uint64_t avail = (uint64_t)(it->end - it->p), used;
    if (data) *data = it->p;
    if (it->type == GGUF_VT_STRING) {
        if (avail < 8) return false;
        uint64_t len = load_u64(it->p);
        if (len > avail - 8) return false;
        if (s) *s = (gguf_str){(const char *)it->p + 8, len};
        used = 8 + len;
    } else if (it->type == GGUF_VT_ARRAY) {
        if (avail < MIN_ARRAY_BYTES) return false;
        gguf_vtype et = (gguf_vtype)load_u32(it->p);
        uint64_t n = load_u64(it->p + 4);
        uint64_t sz = elems_size(it->p + 12, it->end, et, n, 1);
        if (sz == UINT64_MAX) return false;
        if (sub) *sub = (gguf_arr_iter){et, n, 0, it->p + 12, it->p + 12 + sz};
        used = 12 + sz;
    } else {
        used = (uint64_t)vtype_sizes[it->type];
        if (avail < used) return false;
    }
    it->p += used;
    it->index++;
    return true;
}

static bool arr_elem(const gguf_kv *kv, uint64_t i, const uint8_t **p) {
    if (!kv || kv->type != GGUF_VT_ARRAY || i >= kv->arr_count) return false;
    int es = gguf_vtype_size(kv->arr_type);
    if (es == 0) return false;
    *p = kv->data + i * (uint64_t)es;
    return true;
}

int gguf_arr_num(const gguf_kv *kv, uint64_t i, double *out) {
    const uint8_t *p;
    bool neg;
    uint64_t mag;
    if (!arr_elem(kv, i, &p)) return QS_ERR;
    if (kv->arr_type == GGUF_VT_FLOAT32) {
        float v;
        memcpy(&v, p, 4);
        *out = v;
    } else if (kv->arr_type == GGUF_VT_FLOAT64) {
        memcpy(out, p, 8);
    } else if (kv->arr_type == GGUF_VT_BOOL) {
        *out = p[0] ? 1.0 : 0.0;
    } else if (load_integer(kv->arr_type, p, &neg, &mag)) {
        *out = neg ? -(double)mag : (double)mag;
    } else {
        return QS_ERR;
    }
    return QS_OK;
}

int gguf_arr_int(const gguf_kv *kv, uint64_t i, int64_t *out) {
    const uint8_t *p;
    bool neg;
    uint64_t mag;
    if (!arr_elem(kv, i, &p)) return QS_ERR;
    if (kv->arr_type == GGUF_VT_BOOL) {
        *out = p[0] != 0;
        return QS_OK;
    }
    if (!load_integer(kv->arr_type, p, &neg, &mag) || (!neg && mag > (uint64_t)INT64_MAX))
        return QS_ERR;
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return QS_OK;
}

/* ------------------------------------------------------------------ formatting */

#define ELLIPSIS "\xe2\x80\xa6" /* … */
#define FORMAT_MAX_LISTED 16

typedef struct sbuf {
    char *p;
    size_t cap; /* bytes available for text (bufsize - 1) */
    size_t len;
    bool full;
} sbuf;

/* Appends n bytes, all or nothing: a piece that does not fit marks the text as cut. */
static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->full) return;
    if (n > b->cap - b->len) {
        b->full = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes are not one. */
static int utf8_seq(const unsigned char *s, uint64_t n) {
    unsigned c = s[0];
    int len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, min = 0x10000;
    else return 0;
    if ((uint64_t)len > n) return 0;
    unsigned cp = c & (0x7fu >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

static void sb_text(sbuf *b, gguf_str s, bool quoted) {
    const unsigned char *p = (const unsigned char *)s.ptr;
    if (quoted) sb_put(b, "\"", 1);
    for (uint64_t i = 0; i < s.len && !b->full;) {
        unsigned c = p[i];
        int n = utf8_seq(p + i, s.len - i);
        char esc[8];
        if (n == 1 && c >= 0x20 && c != 0x7f && c != '\\' && !(quoted && c == '"')) {
            sb_put(b, (const char *)p + i, 1);
        } else if (n > 1) {
            sb_put(b, (const char *)p + i, (size_t)n);
        } else {
            n = 1;
            switch (c) {
            case '\n': sb_put(b, "\\n", 2); break;
            case '\t': sb_put(b, "\\t", 2); break;
            case '\r': sb_put(b, "\\r", 2); break;
            case '\\': sb_put(b, "\\\\", 2); break;
            case '"': sb_put(b, "\\\"", 2); break;
            default:
                snprintf(esc, sizeof esc, "\\x%02x", c);
                sb_put(b, esc, 4);
            }
        }
        i += (uint64_t)n;
    }
    if (quoted) sb_put(b, "\"", 1);
}

/* Shortest %g text that reads back to the same value; whole numbers below 1e15 in plain digits
 * ("500000", not "5e+05"). */
static void sb_float(sbuf *b, double v, bool single) {
    char tmp[40];
    if (v > -1e15 && v < 1e15 && v == trunc(v) && !(v == 0 && signbit(v))) { /* NaN fails */
        sb_printf(b, "%" PRId64, (int64_t)v);
        return;
    }
    int max = single ? 9 : 17;
    for (int prec = 1; prec <= max; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (v != v) break; /* NaN: any precision prints the same */
        if (single ? (strtof(tmp, NULL) == (float)v) : (strtod(tmp, NULL) == v)) break;
    }
    sb_str(b, tmp);
}

static void sb_scalar(sbuf *b, gguf_vtype t, const uint8_t *p) {
    bool neg;
    uint64_t mag;
    if (t == GGUF_VT_BOOL) {
        sb_str(b, p[0] ? "true" : "false");
    } else if (t == GGUF_VT_FLOAT32) {
        float v;
        memcpy(&v, p, 4);
        sb_float(b, v, true);
    } else if (t == GGUF_VT_FLOAT64) {
        double v;
        memcpy(&v, p, 8);
        sb_float(b, v, false);
    } else if (load_integer(t, p, &neg, &mag)) {
        sb_printf(b, "%s%" PRIu64, neg ? "-" : "", mag);
    } else {
        sb_str(b, "?");
    }
}

static void sb_array(sbuf *b, gguf_arr_iter *it) {
    sb_printf(b, "[%" PRIu64 " x %s", it->count, gguf_vtype_name(it->type));
    if (it->count > 0 && it->count <= FORMAT_MAX_LISTED) {
        const uint8_t *d;
        gguf_str s;
        gguf_arr_iter sub;
        sb_put(b, ": ", 2);
        for (uint64_t i = 0; !b->full && gguf_arr_next(it, &d, &s, &sub); i++) {
            if (i) sb_put(b, ", ", 2);
            if (it->type == GGUF_VT_STRING) sb_text(b, s, true);
            else if (it->type == GGUF_VT_ARRAY) sb_array(b, &sub);
            else sb_scalar(b, it->type, d);
        }
    }
    sb_put(b, "]", 1);
}

static void render(sbuf *b, const gguf_kv *kv) {
    if (!kv) {
        sb_str(b, "?");
    } else if (kv->type == GGUF_VT_STRING) {
        sb_text(b, (gguf_str){(const char *)kv->data + 8, load_u64(kv->data)}, false);
    } else if (kv->type == GGUF_VT_ARRAY) {
        gguf_arr_iter it;
        gguf_arr_begin(kv, &it);
        sb_array(b, &it);
    } else {
        sb_scalar(b, kv->type, kv->data);
    }
}

void gguf_kv_format(const gguf_kv *kv, char *buf, size_t bufsize) {
    if (!buf || bufsize == 0) return;
    sbuf b = {buf, bufsize - 1, 0, false};
    render(&b, kv);
    if (b.full && bufsize > 3) {
        /* Again with room kept for the ellipsis; pieces (characters, escapes, numbers) are
         * appended whole, so the cut never splits one. */
        b = (sbuf){buf, bufsize - 4, 0, false};
        render(&b, kv);
        memcpy(buf + b.len, ELLIPSIS, 3);
        b.len += 3;
    }
    buf[b.len] = '\0';
}

/* ------------------------------------------------------------------ writer */

#define WBUF_SIZE (1u << 20)

typedef struct wkv {
    char *key; /* owned, NUL-terminated (keys never hold NULs) */
    uint64_t key_len;
    uint8_t *enc; /* owned: value type u32 then the value's encoding */
    uint64_t enc_len;
} wkv;

typedef struct wtensor {
    char *name; /* owned */
    uint64_t name_len;
    int type;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint64_t nbytes;
    uint64_t offset;
} wtensor;

struct gguf_writer {
    char *path; /* the file to create */
    char *tmp;  /* PATH.tmp.XXXXXX while it exists, else NULL */
    int fd;
    uint32_t alignment;
    wkv *kv;
    int64_t n_kv, cap_kv;
    name_index kix;
    wtensor *t;
    int64_t n_t, cap_t;
    name_index tix;
    uint64_t data_total; /* padded bytes of the declared tensors */
    bool started; /* header written: metadata and tensors are frozen */
    bool failed;  /* an I/O error happened: the temporary file is gone */
    int64_t cur;  /* tensor being written */
    uint64_t cur_done;
    uint64_t pos; /* bytes handed to the file so far, buffered ones included */
    uint8_t *buf;
    size_t buf_len;
    char err[512];
};

static int werr(gguf_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int werr(gguf_writer *w, const char *fmt, ...) {
    int n = snprintf(w->err, sizeof w->err, "%s: ", w->path);
    if (n < 0 || (size_t)n >= sizeof w->err) return QS_ERR;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err + n, sizeof w->err - (size_t)n, fmt, ap);
    va_end(ap);
    return QS_ERR;
}

static void remove_tmp(gguf_writer *w) {
    qs_tmp_abort(w->fd, w->tmp); /* unlink, then close: our lock keeps cleaners off until then */
    w->fd = -1;
    free(w->tmp);
    w->tmp = NULL;
}

/* An I/O failure: say where, drop the temporary file, refuse everything after. */
static int wfail_io(gguf_writer *w, uint64_t off, const char *doing, int e) {
    werr(w, "offset %" PRIu64 ": %s temporary file %s: %s (temporary file removed)", off, doing,
         w->tmp ? w->tmp : "?", strerror(e));
    remove_tmp(w);
    w->failed = true;
    return QS_ERR;
}

static int write_all(gguf_writer *w, const uint8_t *p, uint64_t n, uint64_t off) {
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
        ssize_t k = write(w->fd, p, chunk);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return wfail_io(w, off, "writing", k < 0 ? errno : EIO);
        p += k;
        n -= (uint64_t)k;
        off += (uint64_t)k;
    }
    return QS_OK;
}

static int wflush(gguf_writer *w) {
    if (w->buf_len == 0) return QS_OK;
    size_t n = w->buf_len;
    w->buf_len = 0;
    return write_all(w, w->buf, n, w->pos - n);
}

static int wout(gguf_writer *w, const void *p, uint64_t n) {
    if (n >= WBUF_SIZE) {
        if (wflush(w) != QS_OK) return QS_ERR;
        w->pos += n;
        return write_all(w, p, n, w->pos - n);
    }
    if (w->buf_len + n > WBUF_SIZE && wflush(w) != QS_OK) return QS_ERR;
    memcpy(w->buf + w->buf_len, p, (size_t)n);
    w->buf_len += (size_t)n;
    w->pos += n;
    return QS_OK;
}

static int wout_u32(gguf_writer *w, uint32_t v) { return wout(w, &v, 4); }
static int wout_u64(gguf_writer *w, uint64_t v) { return wout(w, &v, 8); }

static int wpad(gguf_writer *w) {
    static const uint8_t zeros[256];
    uint64_t n = align_up(w->pos, w->alignment) - w->pos;
    while (n > 0) {
        uint64_t k = n < sizeof zeros ? n : sizeof zeros;
        if (wout(w, zeros, k) != QS_OK) return QS_ERR;
        n -= k;
    }
    return QS_OK;
}

/* The directory part of path, for fsync after the rename. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

gguf_writer *gguf_writer_open(const char *path, uint32_t alignment, qs_error *err) {
    if (!path || !*path) {
        qs_error_set(err, "gguf writer: empty output path");
        return NULL;
    }
    if (alignment == 0) alignment = GGUF_DEFAULT_ALIGNMENT;
    if (!is_pow2(alignment)) {
        qs_error_set(err, "%s: alignment %" PRIu32 " is not a power of two", path, alignment);
        return NULL;
    }
    mode_t mode = 0644;
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            qs_error_set(err, "%s: is a directory", path);
            return NULL;
        }
        mode = st.st_mode & 0777;
    }
    gguf_writer *w = calloc(1, sizeof *w);
    if (!w) {
        qs_error_set(err, "%s: out of memory", path);
        return NULL;
    }
    w->fd = -1;
    w->alignment = alignment;
    w->kix.seed = w->tix.seed = (uint64_t)(uintptr_t)w * 0x9e3779b97f4a7c15ull;
    w->path = strdup(path);
    w->buf = malloc(WBUF_SIZE);
    if (!w->path || !w->buf) {
        qs_error_set(err, "%s: out of memory", path);
        gguf_writer_abort(w);
        return NULL;
    }
    /* PATH.tmp.XXXXXX, locked while we write it; stale ones of killed writers are removed */
    w->fd = qs_tmp_create(path, 0600, &w->tmp, err);
    if (w->fd < 0) {
        gguf_writer_abort(w);
        return NULL;
    }
    if (fchmod(w->fd, mode) != 0) {
        qs_error_set(err, "%s: cannot set the mode of %s: %s", path, w->tmp, strerror(errno));
        gguf_writer_abort(w);
        return NULL;
    }
    return w;
}

const char *gguf_writer_error(const gguf_writer *w) { return w ? w->err : "no writer"; }

/* Checks common to every metadata setter. */
static int wcan_set(gguf_writer *w, const char *key) {
    if (w->failed) return QS_ERR;
    if (!key || !*key) return werr(w, "metadata key is empty");
    if (w->started)
        return werr(w, "key '%s' set after tensor data started; set all metadata before the "
                       "first gguf_writer_write", key);
    return QS_OK;
}

/* Stores an encoded value (type u32 + value) under key; replace decides what a duplicate does.
 * Takes ownership of enc. */
static int wset(gguf_writer *w, const char *key, uint64_t key_len, uint8_t *enc, uint64_t enc_len,
                bool replace) {
    char shown[96];
    show_name(shown, sizeof shown, key, key_len);
    int64_t i = name_index_find(&w->kix, key, key_len);
    if (i >= 0 && !replace) {
        free(enc);
        return werr(w, "key '%s' is already set", shown);
    }
    if (key_len == 17 && memcmp(key, "general.alignment", 17) == 0) {
        uint32_t t = load_u32(enc);
        uint32_t v = enc_len == 8 ? load_u32(enc + 4) : 0;
        if (t != GGUF_VT_UINT32 || !is_pow2(v)) {
            free(enc);
            return werr(w, "general.alignment must be a u32 power of two");
        }
        w->alignment = v;
    }
    if (i >= 0) {
        free(w->kv[i].enc);
        w->kv[i].enc = enc;
        w->kv[i].enc_len = enc_len;
        return QS_OK;
    }
    char *k = malloc((size_t)key_len + 1);
    wkv *tab = k ? grow(w->kv, &w->cap_kv, w->n_kv + 1, INT64_MAX, sizeof *w->kv) : NULL;
    if (!tab) {
        free(k);
        free(enc);
        return werr(w, "out of memory");
    }
    w->kv = tab;
    memcpy(k, key, (size_t)key_len);
    k[key_len] = '\0';
    if (name_index_add(&w->kix, k, key_len, w->n_kv) < -1) {
        free(k);
        free(enc);
        return werr(w, "out of memory");
    }
    w->kv[w->n_kv++] = (wkv){k, key_len, enc, enc_len};
    return QS_OK;
}

/* Type tag followed by n value bytes. */
static uint8_t *enc_new(uint32_t type, const void *val, uint64_t n) {
    if (n > SIZE_MAX - 4) return NULL;
    uint8_t *e = malloc((size_t)n + 4);
    if (!e) return NULL;
    memcpy(e, &type, 4);
    if (n) memcpy(e + 4, val, (size_t)n);
    return e;
}

int gguf_writer_set_scalar(gguf_writer *w, const char *key, gguf_vtype type, const void *value) {
    if (wcan_set(w, key) != QS_OK) return QS_ERR;
    int es = gguf_vtype_size(type);
    if (es == 0 || !value)
        return werr(w, "key '%s': %s is not a fixed-size scalar type", key, gguf_vtype_name(type));
    if (type == GGUF_VT_BOOL && *(const uint8_t *)value > 1)
        return werr(w, "key '%s': bool value must be 0 or 1", key);
    uint8_t *e = enc_new(type, value, (uint64_t)es);
    if (!e) return werr(w, "out of memory");
    return wset(w, key, strlen(key), e, 4 + (uint64_t)es, false);
}

int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v) {
    return gguf_writer_set_scalar(w, key, GGUF_VT_UINT32, &v);
}
int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v) {
    return gguf_writer_set_scalar(w, key, GGUF_VT_INT32, &v);
}
int gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v) {
    return gguf_writer_set_scalar(w, key, GGUF_VT_UINT64, &v);
}
int gguf_writer_set_f32(gguf_writer *w, const char *key, float v) {
    return gguf_writer_set_scalar(w, key, GGUF_VT_FLOAT32, &v);
}
int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    return gguf_writer_set_scalar(w, key, GGUF_VT_BOOL, &b);
}

int gguf_writer_set_strn(gguf_writer *w, const char *key, const char *v, uint64_t len) {
    if (wcan_set(w, key) != QS_OK) return QS_ERR;
    if (!v && len) return werr(w, "key '%s': NULL string", key);
    if (len > SIZE_MAX - 12) return werr(w, "out of memory");
    uint8_t *e = malloc((size_t)len + 12);
    if (!e) return werr(w, "out of memory");
    uint32_t t = GGUF_VT_STRING;
    memcpy(e, &t, 4);
    memcpy(e + 4, &len, 8);
    if (len) memcpy(e + 12, v, (size_t)len);
    return wset(w, key, strlen(key), e, len + 12, false);
}

int gguf_writer_set_str(gguf_writer *w, const char *key, const char *v) {
    return gguf_writer_set_strn(w, key, v, v ? strlen(v) : 0);
}

int gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype type, const void *data, uint64_t count) {
    if (wcan_set(w, key) != QS_OK) return QS_ERR;
    int es = gguf_vtype_size(type);
    if (es == 0)
        return werr(w, "key '%s': set_arr takes fixed-size element types, not %s", key,
                    gguf_vtype_name(type));
    if (count && !data) return werr(w, "key '%s': NULL array data", key);
    if (count > (SIZE_MAX - 16) / (uint64_t)es) return werr(w, "key '%s': array too large", key);
    uint64_t n = count * (uint64_t)es;
    if (type == GGUF_VT_BOOL)
        for (uint64_t i = 0; i < count; i++)
            if (((const uint8_t *)data)[i] > 1)
                return werr(w, "key '%s': bool element %" PRIu64 " is not 0 or 1", key, i);
    uint8_t *e = malloc((size_t)n + 16);
    if (!e) return werr(w, "out of memory");
    uint32_t t = GGUF_VT_ARRAY, et = (uint32_t)type;
    memcpy(e, &t, 4);
    memcpy(e + 4, &et, 4);
    memcpy(e + 8, &count, 8);
    if (n) memcpy(e + 16, data, (size_t)n);
    return wset(w, key, strlen(key), e, n + 16, false);
}

int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t count) {
    if (wcan_set(w, key) != QS_OK) return QS_ERR;
    if (count && !strs) return werr(w, "key '%s': NULL string array", key);
    uint64_t n = 16;
    for (uint64_t i = 0; i < count; i++) {
        if (!strs[i]) return werr(w, "key '%s': string %" PRIu64 " is NULL", key, i);
        n += 8 + strlen(strs[i]);
        if (n > SIZE_MAX / 2) return werr(w, "key '%s': array too large", key);
    }
    uint8_t *e = malloc((size_t)n);
    if (!e) return werr(w, "out of memory");
    uint32_t t = GGUF_VT_ARRAY, et = GGUF_VT_STRING;
    memcpy(e, &t, 4);
    memcpy(e + 4, &et, 4);
    memcpy(e + 8, &count, 8);
    size_t o = 16;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t len = strlen(strs[i]);
        memcpy(e + o, &len, 8);
        memcpy(e + o + 8, strs[i], (size_t)len);
        o += 8 + (size_t)len;
    }
    return wset(w, key, strlen(key), e, n, false);
}

/* Validates an encoded value like the reader does, then stores it. */
static int wset_raw(gguf_writer *w, const char *key, uint64_t key_len, gguf_vtype type,
                    const void *enc, uint64_t nbytes, bool replace) {
    char shown[96];
    show_name(shown, sizeof shown, key, key_len);
    if (key_len == 0) return werr(w, "metadata key is empty");
    if (memchr(key, 0, (size_t)key_len)) return werr(w, "key '%s' contains a NUL byte", shown);
    if (w->started)
        return werr(w, "key '%s' set after tensor data started; set all metadata before the "
                       "first gguf_writer_write", shown);
    if (nbytes && !enc) return werr(w, "key '%s': NULL value", shown);
    qs_error e;
    char label[128];
    snprintf(label, sizeof label, "value of key '%s'", shown);
    rd r = {.b = nbytes ? enc : (const void *)"", .size = nbytes, .name = label, .err = &e};
    uint32_t at;
    uint64_t ac;
    if ((unsigned)type >= GGUF_VT_COUNT)
        return werr(w, "key '%s': value type %d is not a GGUF value type", shown, (int)type);
    if (rd_value(&r, (uint32_t)type, &at, &ac) != QS_OK) return werr(w, "%s", e.msg);
    if (r.pos != nbytes)
        return werr(w, "%s: %" PRIu64 " bytes given, the value takes %" PRIu64, label, nbytes, r.pos);
    uint8_t *copy = enc_new((uint32_t)type, enc, nbytes);
    if (!copy) return werr(w, "out of memory");
    return wset(w, key, key_len, copy, nbytes + 4, replace);
}

int gguf_writer_set_raw(gguf_writer *w, const char *key, gguf_vtype type, const void *enc, uint64_t nbytes) {
    if (wcan_set(w, key) != QS_OK) return QS_ERR;
    return wset_raw(w, key, strlen(key), type, enc, nbytes, false);
}

int gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv) {
    if (w->failed) return QS_ERR;
    if (!kv || !kv->data) return werr(w, "copy_kv: no value");
    const uint8_t *enc = kv->data;
    uint64_t n = kv->data_bytes;
    if (kv->type == GGUF_VT_ARRAY) { /* element type and count sit just before the elements */
        enc -= MIN_ARRAY_BYTES;
        n += MIN_ARRAY_BYTES;
    }
    return wset_raw(w, kv->key.ptr, kv->key.len, kv->type, enc, n, true);
}

int gguf_writer_add_tensor(gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne) {
    if (w->failed) return QS_ERR;
    if (!name || !*name) return werr(w, "tensor name is empty");
    uint64_t len = strlen(name);
    char shown[96];
    show_name(shown, sizeof shown, name, len);
    if (w->started) return werr(w, "tensor '%s' declared after tensor data started", shown);
    if (len > GGUF_MAX_TENSOR_NAME)
        return werr(w, "tensor name '%s' is %" PRIu64 " bytes, at most %d allowed", shown, len,
                    GGUF_MAX_TENSOR_NAME);
    if (name_index_find(&w->tix, name, len) >= 0) return werr(w, "tensor '%s' is already declared", shown);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS || !ne)
        return werr(w, "tensor '%s' has %d dimensions, expected 1 to %d", shown, n_dims, GGUF_MAX_DIMS);
    const qs_type_traits *tr = qs_type_traits_get(type);
    if (!tr) return werr(w, "tensor '%s': type id %d is not a known ggml type", shown, type);
    wtensor t = {.type = type, .n_dims = (uint32_t)n_dims};
    int64_t n = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t.ne[d] = d < n_dims ? ne[d] : 1;
    for (int d = 0; d < n_dims; d++) {
        if (t.ne[d] < 1)
            return werr(w, "tensor '%s': dimension %d is %" PRId64 ", expected >= 1", shown, d,
                        t.ne[d]);
        if (t.ne[d] > INT64_MAX / n) return werr(w, "tensor '%s': element count overflows int64", shown);
        n *= t.ne[d];
    }
    if (t.ne[0] % tr->blck_size != 0)
        return werr(w, "tensor '%s': row length %" PRId64 " is not a multiple of %s's block size %d",
                    shown, t.ne[0], tr->name, tr->blck_size);
    uint64_t blocks = (uint64_t)(n / tr->blck_size);
    if (blocks > UINT64_MAX / (uint64_t)tr->type_size)
        return werr(w, "tensor '%s': byte size overflows", shown);
    t.nbytes = blocks * (uint64_t)tr->type_size;
    uint64_t padded = t.nbytes + (w->alignment - 1); /* checked against 64 bits at emission too */
    if (padded < t.nbytes || w->data_total > UINT64_MAX - padded)
        return werr(w, "tensor '%s': total tensor data exceeds 64-bit offsets", shown);
    w->data_total += padded;
    t.name = strdup(name);
    t.name_len = len;
    wtensor *tab = t.name ? grow(w->t, &w->cap_t, w->n_t + 1, INT64_MAX, sizeof *w->t) : NULL;
    if (!tab || name_index_add(&w->tix, t.name, len, w->n_t) < -1) {
        free(t.name);
        return werr(w, "out of memory");
    }
    w->t = tab;
    w->t[w->n_t++] = t;
    return QS_OK;
}

/* Header, metadata and tensor infos, then padding to the data section. */
static int wstart(gguf_writer *w) {
    if (w->alignment != GGUF_DEFAULT_ALIGNMENT &&
        name_index_find(&w->kix, "general.alignment", 17) < 0) {
        uint32_t a = w->alignment;
        uint8_t *e = enc_new(GGUF_VT_UINT32, &a, 4);
        if (!e || wset(w, "general.alignment", 17, e, 8, false) != QS_OK)
            return werr(w, "out of memory");
    }
    uint64_t off = 0;
    for (int64_t i = 0; i < w->n_t; i++) {
        w->t[i].offset = off;
        off += align_up(w->t[i].nbytes, w->alignment);
    }
    w->started = true;
    if (wout_u32(w, GGUF_MAGIC_LE) || wout_u32(w, 3) || wout_u64(w, (uint64_t)w->n_t) ||
        wout_u64(w, (uint64_t)w->n_kv))
        return QS_ERR;
    for (int64_t i = 0; i < w->n_kv; i++) {
        const wkv *k = &w->kv[i];
        if (wout_u64(w, k->key_len) || wout(w, k->key, k->key_len) || wout(w, k->enc, k->enc_len))
            return QS_ERR;
    }
    for (int64_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        if (wout_u64(w, t->name_len) || wout(w, t->name, t->name_len) || wout_u32(w, t->n_dims))
            return QS_ERR;
        for (uint32_t d = 0; d < t->n_dims; d++)
            if (wout_u64(w, (uint64_t)t->ne[d])) return QS_ERR;
        if (wout_u32(w, (uint32_t)t->type) || wout_u64(w, t->offset)) return QS_ERR;
    }
    return wpad(w);
}

int gguf_writer_write(gguf_writer *w, const void *data, uint64_t nbytes) {
    if (w->failed) return QS_ERR;
    if (!w->started && wstart(w) != QS_OK) return QS_ERR;
    if (nbytes == 0) return QS_OK;
    if (!data) return werr(w, "write: NULL data");
    if (w->cur >= w->n_t)
        return werr(w, "write of %" PRIu64 " bytes after all %" PRId64 " tensors were written",
                    nbytes, w->n_t);
    wtensor *t = &w->t[w->cur];
    if (nbytes > t->nbytes - w->cur_done)
        return werr(w, "tensor '%s': write of %" PRIu64 " bytes exceeds its declared size (%" PRIu64
                    " of %" PRIu64 " bytes written)", t->name, nbytes, w->cur_done, t->nbytes);
    if (wout(w, data, nbytes) != QS_OK) return QS_ERR;
    w->cur_done += nbytes;
    if (w->cur_done == t->nbytes) {
        if (wpad(w) != QS_OK) return QS_ERR;
        w->cur++;
        w->cur_done = 0;
    }
    return QS_OK;
}

static void writer_free(gguf_writer *w) {
    for (int64_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].enc);
    }
    for (int64_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    name_index_free(&w->kix);
    name_index_free(&w->tix);
    free(w->buf);
    free(w->path);
    free(w);
}

void gguf_writer_abort(gguf_writer *w) {
    if (!w) return;
    remove_tmp(w);
    writer_free(w);
}

int gguf_writer_finish(gguf_writer *w, qs_error *err) {
    if (!w) return qs_error_set(err, "gguf writer: no writer");
    int rc = QS_OK;
    if (!w->failed && !w->started && wstart(w) != QS_OK) rc = QS_ERR;
    if (rc == QS_OK && !w->failed && w->cur < w->n_t) {
        const wtensor *t = &w->t[w->cur];
        rc = werr(w, "tensor '%s' (#%" PRId64 " of %" PRId64 ") is incomplete: %" PRIu64 " of %" PRIu64
                  " bytes written; nothing was saved", t->name, w->cur, w->n_t, w->cur_done, t->nbytes);
    }
    if (w->failed) rc = QS_ERR;
    if (rc == QS_OK && wflush(w) != QS_OK) rc = QS_ERR;
    if (rc == QS_OK && fsync(w->fd) != 0) rc = wfail_io(w, w->pos, "syncing", errno);
    /* rename before close: the lock on the temporary file (qs_tmpfile.h) lasts until close */
    if (rc == QS_OK && rename(w->tmp, w->path) != 0)
        rc = wfail_io(w, w->pos, "renaming", errno);
    if (rc == QS_OK) {
        close(w->fd); /* synced above: nothing is left for close to lose */
        w->fd = -1;
        free(w->tmp);
        w->tmp = NULL; /* it is PATH now */
        char *dir = dir_of(w->path);
        int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        /* Some filesystems cannot sync a directory (EINVAL): the rename itself stands. */
        if (dfd >= 0 && fsync(dfd) != 0 && errno != EINVAL && errno != ENOTSUP)
            rc = werr(w, "saved, but syncing directory %s failed: %s", dir, strerror(errno));
        if (dfd >= 0) close(dfd);
        free(dir);
    }
    if (rc != QS_OK) {
        if (err) snprintf(err->msg, sizeof err->msg, "%s", w->err);
        remove_tmp(w);
    }
    writer_free(w);
    return rc;
}
