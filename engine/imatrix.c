/* imatrix.c — llama.cpp importance matrices: GGUF and legacy .dat (see imatrix.h). */
#include "imatrix.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "qs_types.h"

static void entry_free(qs_imatrix_entry *e) {
    free(e->name);
    free(e->values);
    free(e->counts);
}

void qs_imatrix_free(qs_imatrix *im) {
    if (!im) return;
    for (int i = 0; i < im->n; i++) entry_free(&im->entries[i]);
    free(im->entries);
    for (int i = 0; i < im->n_datasets; i++) free(im->datasets[i]);
    free(im->datasets);
    memset(im, 0, sizeof *im);
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const qs_imatrix_entry *)a)->name, ((const qs_imatrix_entry *)b)->name);
}

const qs_imatrix_entry *qs_imatrix_find(const qs_imatrix *im, const char *name) {
    if (!im || im->n == 0) return NULL;
    qs_imatrix_entry key = {.name = (char *)name};
    return bsearch(&key, im->entries, (size_t)im->n, sizeof key, cmp_entry);
}

static char *strndup_c(const char *s, size_t n) {
    char *r = malloc(n + 1);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

static int push_entry(qs_imatrix *im, int *cap, qs_imatrix_entry *e) {
    if (im->n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        qs_imatrix_entry *ne = realloc(im->entries, (size_t)nc * sizeof *ne);
        if (!ne) return QS_ENOMEM;
        im->entries = ne;
        *cap = nc;
    }
    im->entries[im->n++] = *e;
    return QS_OK;
}

/* Sorts the entries and rejects duplicate names. */
static int finish(qs_imatrix *im, const char *path, qs_error *err) {
    if (im->n == 0) return qs_error_set(err, "%s: no importance entries", path);
    qsort(im->entries, (size_t)im->n, sizeof *im->entries, cmp_entry);
    for (int i = 1; i < im->n; i++)
        if (!strcmp(im->entries[i - 1].name, im->entries[i].name))
            return qs_error_set(err, "%s: duplicate entry %s", path, im->entries[i].name);
    return QS_OK;
}

static bool ends_with(const gguf_str *s, const char *suffix, size_t *stem) {
    size_t n = strlen(suffix);
    if (s->len <= n || memcmp(s->ptr + s->len - n, suffix, n)) return false;
    *stem = (size_t)s->len - n;
    return true;
}

static int load_gguf(const char *path, qs_imatrix *im, qs_error *err) {
    gguf_file *f = gguf_open(path, err);
    if (!f) return QS_ERR;
    int rc = QS_OK, cap = 0;
    int64_t k;
    bool has_ds = false, has_cc = false, has_cs = false;
    if ((k = gguf_find_key(f, "imatrix.datasets")) >= 0) {
        const gguf_kv *kv = &f->kv[k];
        if (kv->type == GGUF_VT_ARRAY && kv->arr_type == GGUF_VT_STRING) {
            has_ds = true;
            im->datasets = calloc((size_t)(kv->arr_count ? kv->arr_count : 1), sizeof(char *));
            if (!im->datasets) { rc = QS_ENOMEM; goto out; }
            gguf_arr_iter it;
            const uint8_t *d;
            gguf_str s;
            gguf_arr_begin(kv, &it);
            while (gguf_arr_next(&it, &d, &s, NULL)) {
                if (!(im->datasets[im->n_datasets] = strndup_c(s.ptr, (size_t)s.len))) {
                    rc = QS_ENOMEM;
                    goto out;
                }
                im->n_datasets++;
            }
        }
    }
    uint64_t u;
    if (gguf_get_uint(f, "imatrix.chunk_count", &u) == QS_OK) has_cc = true, im->chunk_count = (int64_t)u;
    if (gguf_get_uint(f, "imatrix.chunk_size", &u) == QS_OK) has_cs = true, im->chunk_size = (int64_t)u;
    im->has_metadata = has_ds && has_cc && has_cs;

    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        size_t stem;
        if (!ends_with(&t->name, ".in_sum2", &stem)) {
            if (!ends_with(&t->name, ".counts", &stem)) continue;
            /* a .counts must have its .in_sum2 */
            char nm[GGUF_MAX_TENSOR_NAME + 16];
            snprintf(nm, sizeof nm, "%.*s.in_sum2", (int)stem, t->name.ptr);
            if (gguf_find_tensor(f, nm) < 0) {
                rc = qs_error_set(err, "%s: %.*s has no matching .in_sum2 tensor", path,
                                  (int)t->name.len, t->name.ptr);
                goto out;
            }
            continue;
        }
        char cn[GGUF_MAX_TENSOR_NAME + 16];
        snprintf(cn, sizeof cn, "%.*s.counts", (int)stem, t->name.ptr);
        int64_t ci = gguf_find_tensor(f, cn);
        if (ci < 0) {
            rc = qs_error_set(err, "%s: %.*s has no matching .counts tensor", path, (int)t->name.len,
                              t->name.ptr);
            goto out;
        }
        const gguf_tensor *c = &f->tensors[ci];
        const gguf_tensor *both[2] = {t, c};
        for (int b = 0; b < 2; b++) {
            if (both[b]->type != QS_TYPE_F32) {
                rc = qs_error_set(err, "%s: tensor %.*s is %s, expected F32", path,
                                  (int)both[b]->name.len, both[b]->name.ptr, qs_type_name(both[b]->type));
                goto out;
            }
        }
        int64_t n_mat = t->n_elements / t->ne[0];
        if (c->n_elements != n_mat || c->ne[0] != 1 || n_mat > 1 << 20) {
            rc = qs_error_set(err, "%s: %.*s has %lld values for %lld matrices (expected shape 1 x %lld)",
                              path, (int)c->name.len, c->name.ptr, (long long)c->n_elements,
                              (long long)n_mat, (long long)n_mat);
            goto out;
        }
        qs_imatrix_entry e = {0};
        e.name = strndup_c(t->name.ptr, stem);
        e.n_per_row = t->ne[0];
        e.n_mat = (int)n_mat;
        e.values = malloc((size_t)t->n_elements * sizeof(float));
        e.counts = malloc((size_t)n_mat * sizeof(int64_t));
        float *sums = malloc((size_t)t->n_elements * sizeof(float));
        float *cnt = malloc((size_t)n_mat * sizeof(float));
        if (!e.name || !e.values || !e.counts || !sums || !cnt) {
            free(sums), free(cnt), entry_free(&e);
            rc = QS_ENOMEM;
            goto out;
        }
        memcpy(sums, t->data, (size_t)t->n_elements * sizeof(float));
        memcpy(cnt, c->data, (size_t)n_mat * sizeof(float));
        for (int64_t m = 0; m < n_mat && rc == QS_OK; m++) {
            if (!(cnt[m] >= 0) || !isfinite(cnt[m])) {
                rc = qs_error_set(err, "%s: %s count %lld is %g (expected a finite count >= 0)",
                                  path, cn, (long long)m, cnt[m]);
                break;
            }
            e.counts[m] = (int64_t)lroundf(cnt[m]);
            for (int64_t j = 0; j < e.n_per_row; j++) {
                float v = sums[m * e.n_per_row + j];
                if (!(v >= 0) || !isfinite(v)) {
                    rc = qs_error_set(err, "%s: %.*s value %lld is %g (expected a finite sum of squares)",
                                      path, (int)t->name.len, t->name.ptr,
                                      (long long)(m * e.n_per_row + j), v);
                    break;
                }
                e.values[m * e.n_per_row + j] = cnt[m] > 0 ? v / cnt[m] : 1.0f;
            }
        }
        free(sums), free(cnt);
        if (rc == QS_OK) rc = push_entry(im, &cap, &e);
        if (rc != QS_OK) {
            entry_free(&e);
            goto out;
        }
    }
    rc = finish(im, path, err);
out:
    gguf_close(f);
    return rc;
}

typedef struct rd {
    const uint8_t *p;
    size_t n, off;
} rd;

static bool rd_i32(rd *r, int32_t *v) {
    if (r->n - r->off < 4) return false;
    memcpy(v, r->p + r->off, 4);
    r->off += 4;
    return true;
}

static int load_legacy(const char *path, const uint8_t *buf, size_t size, qs_imatrix *im, qs_error *err) {
    rd r = {buf, size, 0};
    int32_t n_entries;
    int cap = 0;
    if (!rd_i32(&r, &n_entries) || n_entries < 1)
        return qs_error_set(err, "%s: not a GGUF file, and not a legacy imatrix (no entries)", path);
    im->legacy = true;
    for (int32_t i = 0; i < n_entries; i++) {
        size_t at = r.off;
        int32_t len, ncall, nval;
        if (!rd_i32(&r, &len) || len < 1 || len > 4096 || r.n - r.off < (size_t)len)
            return qs_error_set(err, "%s: offset %zu: legacy entry %d: bad or truncated name", path, at, i);
        qs_imatrix_entry e = {0};
        e.name = strndup_c((const char *)r.p + r.off, (size_t)len);
        if (!e.name) return QS_ENOMEM;
        r.off += (size_t)len;
        if (!rd_i32(&r, &ncall) || !rd_i32(&r, &nval) || nval < 1 || ncall < 0 ||
            (r.n - r.off) / 4 < (size_t)nval) {
            entry_free(&e);
            return qs_error_set(err, "%s: offset %zu: truncated legacy entry %d", path, at, i);
        }
        e.n_per_row = nval;
        e.n_mat = 1;
        e.values = malloc((size_t)nval * sizeof(float));
        e.counts = malloc(sizeof(int64_t));
        if (!e.values || !e.counts) {
            entry_free(&e);
            return QS_ENOMEM;
        }
        memcpy(e.values, r.p + r.off, (size_t)nval * 4);
        r.off += (size_t)nval * 4;
        e.counts[0] = ncall;
        for (int32_t j = 0; j < nval; j++) {
            float v = e.values[j];
            if (!(v >= 0) || !isfinite(v)) {
                int rc = qs_error_set(err, "%s: legacy entry %s value %d is %g", path, e.name, j, v);
                entry_free(&e);
                return rc;
            }
            if (ncall > 0) e.values[j] = v / (float)ncall;
        }
        int rc = push_entry(im, &cap, &e);
        if (rc != QS_OK) {
            entry_free(&e);
            return rc;
        }
    }
    int32_t chunks, dlen;
    if (rd_i32(&r, &chunks)) {
        im->chunk_count = chunks;
        if (rd_i32(&r, &dlen) && dlen > 0 && r.n - r.off >= (size_t)dlen) {
            im->datasets = malloc(sizeof(char *));
            if (!im->datasets || !(im->datasets[0] = strndup_c((const char *)r.p + r.off, (size_t)dlen)))
                return QS_ENOMEM;
            im->n_datasets = 1;
        }
    }
    return finish(im, path, err);
}

int qs_imatrix_load(const char *path, qs_imatrix *out, qs_error *err) {
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return qs_error_set(err, "%s: %s", path, strerror(errno));
    char magic[4] = {0};
    size_t got = fread(magic, 1, 4, fp);
    int rc;
    if (got == 4 && !memcmp(magic, "GGUF", 4)) {
        fclose(fp);
        rc = load_gguf(path, out, err);
    } else {
        /* legacy: read the whole file (imatrix files are small: a few MiB) */
        if (fseek(fp, 0, SEEK_END) != 0) {
            fclose(fp);
            return qs_error_set(err, "%s: cannot seek", path);
        }
        long sz = ftell(fp);
        if (sz < 0 || sz > (1L << 31)) {
            fclose(fp);
            return qs_error_set(err, "%s: unreasonable size for a legacy imatrix", path);
        }
        uint8_t *buf = malloc((size_t)sz + 1);
        if (!buf) {
            fclose(fp);
            return QS_ENOMEM;
        }
        rewind(fp);
        size_t n = fread(buf, 1, (size_t)sz, fp);
        fclose(fp);
        rc = n == (size_t)sz ? load_legacy(path, buf, n, out, err) : qs_error_set(err, "%s: read error", path);
        free(buf);
    }
    if (rc != QS_OK) qs_imatrix_free(out);
    return rc;
}
