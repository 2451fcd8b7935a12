/* export.c — a plan applied to a model file: resolution helpers and the streaming GGUF export. */
#include "export.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qs_plan_internal.h" /* llama-quantize's ftype table (qs_ftype_for) */

/* ============================================================== fingerprint and resolution */

int qs_model_fingerprint(const qs_model *m, qs_plan_fingerprint *out) {
    memset(out, 0, sizeof *out);
    qs_plan_model view;
    qs_plan_tensor *vt;
    if (qs_model_plan_view(m, &view, &vt) != QS_OK) return QS_ENOMEM;
    const char *slash = strrchr(m->gguf->path, '/');
    out->file = strdup(slash ? slash + 1 : m->gguf->path);
    out->size = m->gguf->file_size;
    out->n_tensors = m->n_tensors;
    out->hash = qs_plan_tensor_hash(vt, (int)m->n_tensors);
    free(vt);
    return out->file ? QS_OK : QS_ENOMEM;
}

int qs_planned_init(qs_planned *out, const qs_model *m, const qs_plan *plan, qs_error *err) {
    memset(out, 0, sizeof *out);
    out->m = m;
    if (qs_model_plan_view(m, &out->view, &out->vt) != QS_OK) {
        qs_error_set(err, "out of memory");
        return QS_ENOMEM;
    }
    int rc = qs_plan_resolve(plan, &out->view, &out->res, err);
    if (rc != QS_OK) {
        free(out->vt);
        memset(out, 0, sizeof *out);
        return rc;
    }
    for (int64_t i = 0; i < m->n_tensors; i++) {
        out->bytes += qs_planned_tensor_bytes(out, i);
        out->n_params += m->tensors[i].t->n_elements;
    }
    return QS_OK;
}

void qs_planned_free(qs_planned *p) {
    if (!p) return;
    qs_plan_resolution_free(&p->res);
    free(p->vt);
    memset(p, 0, sizeof *p);
}

uint64_t qs_planned_tensor_bytes(const qs_planned *p, int64_t i) {
    const gguf_tensor *t = p->m->tensors[i].t;
    int type = p->res.choice[i].type;
    return qs_type_row_bytes(type, t->ne[0]) * (uint64_t)(t->n_elements / t->ne[0]);
}

int qs_planned_est_model(const qs_planned *p, qs_est_model *out, qs_est_tensor **tensors) {
    if (qs_model_est_view(p->m, NULL, out, tensors) != QS_OK) return QS_ENOMEM;
    for (int64_t i = 0; i < p->m->n_tensors; i++) (*tensors)[i].type = p->res.choice[i].type;
    return QS_OK;
}

int qs_plan_file_type(const qs_plan *plan, const qs_planned *p) {
    const qs_ftype_info *ft = qs_ftype_for(plan->preset, plan->default_type);
    if (ft) return ft->ftype;
    if (!p) return -1;
    /* the most common quantized type by parameters */
    int64_t params[QS_TYPE_COUNT] = {0};
    for (int64_t i = 0; i < p->m->n_tensors; i++) {
        int type = p->res.choice[i].type;
        const qs_type_traits *tr = qs_type_traits_get(type);
        if (tr && tr->quantized) params[type] += p->m->tensors[i].t->n_elements;
    }
    int best = -1;
    for (int t = 0; t < QS_TYPE_COUNT; t++)
        if (params[t] > 0 && (best < 0 || params[t] > params[best])) best = t;
    if (best < 0) return -1;
    ft = qs_ftype_for(QS_PRESET_NONE, (qs_type)best);
    return ft ? ft->ftype : -1;
}

/* ============================================================== converting a tensor */

int64_t qs_convert_chunk_rows(int64_t ne0, int64_t rows, int64_t chunk_floats) {
    if (chunk_floats <= 0) chunk_floats = QS_EXPORT_CHUNK_FLOATS;
    int64_t chunk_rows = ne0 > 0 ? chunk_floats / ne0 : 1;
    if (chunk_rows > rows) chunk_rows = rows;
    return chunk_rows < 1 ? 1 : chunk_rows;
}

const float *qs_convert_importance(const qs_imatrix *im, const char *name, int64_t ne0) {
    if (!im) return NULL;
    const qs_imatrix_entry *e = qs_imatrix_find(im, name);
    if (!e || e->n_mat != 1 || e->n_per_row != ne0) return NULL;
    return e->values;
}

int qs_convert_rows(const gguf_tensor *t, const char *name, qs_type to, int64_t row0, int64_t n,
                    const float *importance, float *fbuf, void *dst, const qs_quantize_opts *qo,
                    qs_error *err) {
    const int64_t ne0 = t->ne[0];
    const uint64_t in_row = qs_type_row_bytes(t->type, ne0);
    qs_quantize_opts dq = qo ? *qo : (qs_quantize_opts){0};
    dq.progress = NULL;
    int rc = qs_dequantize_rows((qs_type)t->type, t->data + (uint64_t)row0 * in_row, fbuf, ne0, n, &dq, err);
    if (rc == QS_OK) rc = qs_quantize_rows(to, fbuf, dst, ne0, n, importance, qo, err);
    if (rc == QS_ERR) qs_error_prefix(err, "%s", name);
    return rc;
}

/* ============================================================== export */

/* Drops the input's pages of a converted or copied range from this process (the map is read-only, so the
 * pages are clean: a later access reads them again). Keeps the resident size of an export near
 * the scratch buffers instead of growing to the whole input file. Advisory: errors ignored. */
static void release_pages(const uint8_t *p, uint64_t n) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || n == 0) return;
    uintptr_t a = (uintptr_t)p, b = a + n;
    a = a / (uintptr_t)page * (uintptr_t)page;
    madvise((void *)a, b - a, MADV_DONTNEED);
}

typedef struct export_ctx {
    const qs_export_opts *o;
    uint64_t done, total;   /* output bytes: finished tensors / chunks, whole model */
    uint64_t chunk_bytes_per_row;
} export_ctx;

static int report(export_ctx *x, uint64_t done) {
    if (x->o && x->o->progress) return x->o->progress(x->o->progress_user, done, x->total);
    return 0;
}

/* Progress of qs_quantize_rows (rows of the current chunk) as bytes over the model. */
static int chunk_progress(void *user, uint64_t rows_done, uint64_t rows_total) {
    export_ctx *x = user;
    (void)rows_total;
    return report(x, x->done + rows_done * x->chunk_bytes_per_row);
}

static bool cancelled(const export_ctx *x) {
    return x->o && x->o->cancel && atomic_load(x->o->cancel) != 0;
}

static void warn(const qs_export_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(const qs_export_opts *o, const char *fmt, ...) {
    if (!o || (!o->warnings && !o->warn)) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (o->warnings) qs_strlist_addf(o->warnings, "%s", buf);
    if (o->warn) o->warn(o->warn_user, buf);
}

static bool key_is(const gguf_kv *kv, const char *key) {
    size_t n = strlen(key);
    return kv->key.len == n && memcmp(kv->key.ptr, key, n) == 0;
}

/* Metadata: the input's keys in order, with the three keys we set written in place (or appended
 * when the input lacks them) and split.* dropped. */
static int write_metadata(gguf_writer *w, const qs_model *m, uint32_t ftype, bool set_ftype,
                          const char *plan_yaml, qs_error *err) {
    static const char *const drop[] = {"split.no", "split.count", "split.tensors.count"};
    bool have_qv = false, have_ft = false, have_plan = false;
    int rc = QS_OK;
    for (int64_t i = 0; i < m->gguf->n_kv && rc == QS_OK; i++) {
        const gguf_kv *kv = &m->gguf->kv[i];
        bool skip = false;
        for (size_t d = 0; d < sizeof drop / sizeof drop[0]; d++) skip |= key_is(kv, drop[d]);
        if (skip) continue;
        if (key_is(kv, "general.quantization_version")) {
            have_qv = true;
            rc = gguf_writer_set_u32(w, "general.quantization_version", QS_EXPORT_QNT_VERSION);
        } else if (set_ftype && key_is(kv, "general.file_type")) {
            have_ft = true;
            rc = gguf_writer_set_u32(w, "general.file_type", ftype);
        } else if (key_is(kv, QS_EXPORT_PLAN_KEY)) {
            have_plan = true;
            rc = gguf_writer_set_str(w, QS_EXPORT_PLAN_KEY, plan_yaml);
        } else {
            rc = gguf_writer_copy_kv(w, kv);
        }
    }
    if (rc == QS_OK && !have_qv) rc = gguf_writer_set_u32(w, "general.quantization_version", QS_EXPORT_QNT_VERSION);
    if (rc == QS_OK && set_ftype && !have_ft) rc = gguf_writer_set_u32(w, "general.file_type", ftype);
    if (rc == QS_OK && !have_plan) rc = gguf_writer_set_str(w, QS_EXPORT_PLAN_KEY, plan_yaml);
    if (rc != QS_OK) return qs_error_set(err, "writing metadata: %s", gguf_writer_error(w));
    return QS_OK;
}

static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int qs_export(const qs_model *m, const qs_plan *plan, const char *out_path,
              const qs_export_opts *opts, qs_error *err) {
    if (same_file(m->gguf->path, out_path))
        return qs_error_set(err, "%s: is the input model; refusing to overwrite it", out_path);

    qs_planned p;
    int rc = qs_planned_init(&p, m, plan, err);
    if (rc != QS_OK) return rc;
    const int64_t chunk_floats = opts && opts->chunk_floats > 0 ? opts->chunk_floats : QS_EXPORT_CHUNK_FLOATS;

    /* what can be done, and what deserves a warning */
    int64_t requant[QS_TYPE_COUNT] = {0};
    int64_t max_floats = 0, max_out = 0;
    for (int64_t i = 0; i < m->n_tensors && rc == QS_OK; i++) {
        const qs_model_tensor *mt = &m->tensors[i];
        int from = mt->t->type, to = p.res.choice[i].type;
        if (from == to) continue;
        if (!qs_type_can_read(from))
            rc = qs_error_set(err, "%s: cannot read values of %s tensors", mt->name, qs_type_name(from));
        else if (!qs_type_can_quantize(to))
            rc = qs_error_set(err, "%s: cannot quantize to %s", mt->name, qs_type_name(to));
        if (rc != QS_OK) break;
        const qs_type_traits *tr = qs_type_traits_get(from);
        if (tr->quantized) requant[from]++;
        int64_t ne0 = mt->t->ne[0], rows = mt->t->n_elements / ne0;
        int64_t chunk_rows = qs_convert_chunk_rows(ne0, rows, chunk_floats);
        if (chunk_rows * ne0 > max_floats) max_floats = chunk_rows * ne0;
        int64_t ob = (int64_t)qs_type_row_bytes(to, ne0) * chunk_rows;
        if (ob > max_out) max_out = ob;
    }
    if (rc != QS_OK) goto out_planned;
    for (int t = 0; t < QS_TYPE_COUNT; t++)
        if (requant[t])
            warn(opts, "requantizing %lld tensor%s already stored as %s: the new error adds to the old",
                 (long long)requant[t], requant[t] == 1 ? "" : "s", qs_type_name(t));

    /* the plan as recorded in the file: fingerprint of the input */
    qs_plan rec;
    char *yaml = NULL;
    if (qs_plan_copy(&rec, plan) != QS_OK) {
        rc = qs_error_set(err, "out of memory");
        goto out_planned;
    }
    free(rec.model.file);
    rc = qs_model_fingerprint(m, &rec.model);
    if (rc == QS_OK) rc = qs_plan_format(&rec, &yaml, NULL, err);
    qs_plan_free(&rec);
    if (rc != QS_OK) goto out_planned;

    int ftype = qs_plan_file_type(plan, &p);
    if (ftype < 0) warn(opts, "no llama.cpp file type describes this plan: general.file_type left as it was");

    float *fbuf = NULL;
    uint8_t *obuf = NULL;
    if (max_floats > 0) {
        fbuf = malloc((size_t)max_floats * sizeof *fbuf);
        obuf = malloc((size_t)max_out);
        if (!fbuf || !obuf) {
            rc = qs_error_set(err, "out of memory for %lld floats of scratch", (long long)max_floats);
            goto out_bufs;
        }
    }

    gguf_writer *w = gguf_writer_open(out_path, 0, err);
    if (!w) {
        rc = QS_ERR;
        goto out_bufs;
    }
    rc = write_metadata(w, m, (uint32_t)ftype, ftype >= 0, yaml, err);
    for (int64_t i = 0; i < m->n_tensors && rc == QS_OK; i++) {
        const gguf_tensor *t = m->tensors[i].t;
        if (gguf_writer_add_tensor(w, m->tensors[i].name, p.res.choice[i].type, t->n_dims, t->ne) != QS_OK)
            rc = qs_error_set(err, "%s: %s", m->tensors[i].name, gguf_writer_error(w));
    }

    export_ctx x = {.o = opts, .total = p.bytes};
    qs_quantize_opts qo = {.n_threads = opts ? opts->n_threads : 0, .cancel = opts ? opts->cancel : NULL,
                           .progress = chunk_progress, .progress_user = &x};
    for (int64_t i = 0; i < m->n_tensors && rc == QS_OK; i++) {
        const qs_model_tensor *mt = &m->tensors[i];
        const gguf_tensor *t = mt->t;
        int from = t->type, to = p.res.choice[i].type;
        if (from == to) { /* byte for byte, in slices so progress and cancel stay responsive */
            const uint64_t slice = 64 * QS_MIB;
            for (uint64_t o = 0; o < t->nbytes && rc == QS_OK; o += slice) {
                uint64_t n = t->nbytes - o < slice ? t->nbytes - o : slice;
                if (cancelled(&x)) rc = QS_CANCELLED;
                else if (gguf_writer_write(w, t->data + o, n) != QS_OK)
                    rc = qs_error_set(err, "%s: %s", mt->name, gguf_writer_error(w));
                else if (x.done += n, report(&x, x.done))
                    rc = QS_CANCELLED;
                release_pages(t->data + o, n);
            }
            continue;
        }
        int64_t ne0 = t->ne[0], rows = t->n_elements / ne0;
        int64_t chunk_rows = qs_convert_chunk_rows(ne0, rows, chunk_floats);
        uint64_t in_row = qs_type_row_bytes(from, ne0), out_row = qs_type_row_bytes(to, ne0);
        const float *importance = qs_convert_importance(opts ? opts->imatrix : NULL, mt->name, ne0);
        x.chunk_bytes_per_row = out_row;
        for (int64_t r = 0; r < rows && rc == QS_OK; r += chunk_rows) {
            int64_t n = rows - r < chunk_rows ? rows - r : chunk_rows;
            if (cancelled(&x)) {
                rc = QS_CANCELLED;
                break;
            }
            rc = qs_convert_rows(t, mt->name, (qs_type)to, r, n, importance, fbuf, obuf, &qo, err);
            if (rc == QS_OK && gguf_writer_write(w, obuf, (uint64_t)n * out_row) != QS_OK)
                rc = qs_error_set(err, "%s: %s", mt->name, gguf_writer_error(w));
            x.done += (uint64_t)n * out_row;
            release_pages(t->data + (uint64_t)r * in_row, (uint64_t)n * in_row);
        }
    }
    if (rc == QS_CANCELLED) qs_error_set(err, "cancelled");
    if (rc == QS_OK) rc = gguf_writer_finish(w, err);
    else gguf_writer_abort(w);

out_bufs:
    free(fbuf);
    free(obuf);
    free(yaml);
out_planned:
    qs_planned_free(&p);
    return rc;
}
