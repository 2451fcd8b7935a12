/* applied.c — a plan applied in memory: converted weight buffers swapped into an inference model. */
#include "applied.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "export.h"
#include "qs_kernels.h"
#include "qs_quantize.h"

/* One tensor's state: what the planned model reads for it. */
typedef struct slot {
    int type;       /* the type the planned model reads */
    void *buf;      /* owned converted bytes, or NULL: the map */
    uint64_t bytes; /* size of buf (0 when NULL) */
} slot;

struct qs_applied {
    const qs_model *m;
    qs_infer_model *planned;  /* weights swapped per the committed plan */
    qs_infer_model *original; /* as stored */
    int64_t n;                /* m->n_tensors */
    bool *engine;             /* [n] the engine multiplies with this tensor (a weight view) */
    slot *cur;                /* [n] committed */
    slot *next;               /* [n] prepared (valid when prepared) */
    bool prepared;
    qs_applied_stats cur_stats, next_stats;
    uint64_t held;
    atomic_int tensors_done, tensors_total;
};

qs_applied *qs_applied_new(const qs_model *m, qs_error *err) {
    qs_applied *a = calloc(1, sizeof *a);
    if (!a) {
        qs_error_set(err, "out of memory");
        return NULL;
    }
    a->m = m;
    a->n = m->n_tensors;
    size_t n = (size_t)(a->n ? a->n : 1);
    a->engine = calloc(n, sizeof *a->engine);
    a->cur = calloc(n, sizeof *a->cur);
    a->next = calloc(n, sizeof *a->next);
    if (!a->engine || !a->cur || !a->next) {
        qs_error_set(err, "out of memory");
        qs_applied_free(a);
        return NULL;
    }
    a->planned = qs_infer_model_load(m->gguf, err);
    if (a->planned) a->original = qs_infer_model_load(m->gguf, err);
    if (!a->original) {
        qs_applied_free(a);
        return NULL;
    }
    for (int64_t i = 0; i < a->n; i++) {
        a->cur[i].type = m->tensors[i].t->type;
        a->engine[i] = qs_infer_model_weight(a->planned, m->tensors[i].name) != NULL;
    }
    atomic_init(&a->tensors_done, 0);
    atomic_init(&a->tensors_total, 0);
    return a;
}

/* Frees the buffers of next that cur does not share. */
static void discard_next(qs_applied *a) {
    if (!a->prepared) return;
    for (int64_t i = 0; i < a->n; i++)
        if (a->next[i].buf && a->next[i].buf != a->cur[i].buf) free(a->next[i].buf);
    memset(a->next, 0, (size_t)a->n * sizeof *a->next);
    a->prepared = false;
}

void qs_applied_free(qs_applied *a) {
    if (!a) return;
    discard_next(a);
    if (a->cur)
        for (int64_t i = 0; i < a->n; i++) free(a->cur[i].buf);
    qs_infer_model_free(a->planned);
    qs_infer_model_free(a->original);
    free(a->engine);
    free(a->cur);
    free(a->next);
    free(a);
}

void qs_applied_discard(qs_applied *a) { discard_next(a); }

/* ---------------------------------------------------------------- prepare */

/* Whether the engine can use a weight of `type` in place of tensor i (infer.h's
 * qs_infer_model_set_weight rules, checked before any work so a commit cannot fail). */
static int check_engine_type(const qs_applied *a, int64_t i, int type, qs_error *err) {
    const qs_model_tensor *mt = &a->m->tensors[i];
    const int64_t ne0 = mt->t->ne[0];
    const bool is_embd = strcmp(mt->name, "token_embd.weight") == 0;
    const bool as_matrix = !is_embd || a->planned->hp.tied_embeddings;
    if (as_matrix && !qs_kernels_can_dot(type, ne0))
        return qs_error_set(err, "%s: type %s has no matrix kernel for rows of %lld values", mt->name,
                            qs_type_name(type), (long long)ne0);
    const qs_type_traits *tt = qs_type_traits_get(type);
    if (is_embd && (!tt || !tt->to_float))
        return qs_error_set(err, "%s: cannot read values of type %s", mt->name, qs_type_name(type));
    return QS_OK;
}

/* Drops a converted tensor's source pages from this process (advisory; see the top of applied.h). */
static void release_pages(const uint8_t *p, uint64_t n) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || n == 0) return;
    uintptr_t lo = (uintptr_t)p / (uintptr_t)page * (uintptr_t)page;
    madvise((void *)lo, (uintptr_t)p + n - lo, MADV_DONTNEED);
}

typedef struct job {
    const qs_applied_opts *o;
    uint64_t done, total;   /* bytes over the job */
    uint64_t out_row;       /* bytes per row of the chunk running now */
} job;

static int job_report(job *j, uint64_t done) {
    if (j->o && j->o->progress) return j->o->progress(j->o->progress_user, done, j->total);
    return 0;
}

static int chunk_progress(void *user, uint64_t rows_done, uint64_t rows_total) {
    job *j = user;
    (void)rows_total;
    return job_report(j, j->done + rows_done * j->out_row);
}

static bool job_cancelled(const job *j) {
    return j->o && j->o->cancel && atomic_load(j->o->cancel) != 0;
}

/* Converts tensor i to type `to` into a new buffer (*out, *nbytes). */
static int convert_tensor(qs_applied *a, int64_t i, int to, job *j, float *fbuf, int64_t chunk_floats,
                          void **out, uint64_t *nbytes, qs_error *err) {
    const qs_model_tensor *mt = &a->m->tensors[i];
    const gguf_tensor *t = mt->t;
    const int64_t ne0 = t->ne[0], rows = t->n_elements / ne0;
    const uint64_t out_row = qs_type_row_bytes(to, ne0), bytes = out_row * (uint64_t)rows;
    void *buf = qs_infer_weights_alloc(bytes);
    if (!buf) {
        qs_error_set(err, "%s: out of memory for %llu bytes of %s", mt->name, (unsigned long long)bytes,
                     qs_type_name(to));
        return QS_ENOMEM;
    }
    const float *importance = qs_convert_importance(j->o ? j->o->imatrix : NULL, mt->name, ne0);
    const int64_t chunk_rows = qs_convert_chunk_rows(ne0, rows, chunk_floats);
    qs_quantize_opts qo = {.n_threads = j->o ? j->o->n_threads : 0, .cancel = j->o ? j->o->cancel : NULL,
                           .progress = chunk_progress, .progress_user = j};
    j->out_row = out_row;
    int rc = QS_OK;
    for (int64_t r = 0; r < rows && rc == QS_OK; r += chunk_rows) {
        const int64_t n = rows - r < chunk_rows ? rows - r : chunk_rows;
        if (job_cancelled(j)) {
            rc = QS_CANCELLED;
            break;
        }
        rc = qs_convert_rows(t, mt->name, (qs_type)to, r, n, importance, fbuf, (uint8_t *)buf + (uint64_t)r * out_row,
                             &qo, err);
        j->done += (uint64_t)n * out_row;
    }
    if (rc != QS_OK) {
        free(buf);
        return rc;
    }
    release_pages(t->data, t->nbytes);
    *out = buf;
    *nbytes = bytes;
    return QS_OK;
}

int qs_applied_prepare(qs_applied *a, const qs_plan *plan, const qs_applied_opts *o,
                       qs_applied_stats *stats, qs_error *err) {
    discard_next(a);
    qs_planned p;
    int rc = qs_planned_init(&p, a->m, plan, err);
    if (rc != QS_OK) return rc;

    /* decide, check, and size the job */
    qs_applied_stats st = {0};
    job j = {.o = o};
    int64_t max_floats = 0;
    const int64_t chunk_floats = o && o->chunk_floats > 0 ? o->chunk_floats : QS_EXPORT_CHUNK_FLOATS;
    bool *redo = calloc((size_t)(a->n ? a->n : 1), sizeof *redo);
    if (!redo) {
        qs_planned_free(&p);
        qs_error_set(err, "out of memory");
        return QS_ENOMEM;
    }
    for (int64_t i = 0; i < a->n && rc == QS_OK; i++) {
        const qs_model_tensor *mt = &a->m->tensors[i];
        const int stored = mt->t->type, to = (int)p.res.choice[i].type;
        a->next[i] = (slot){.type = stored};
        if (!a->engine[i]) {
            st.n_ignored += to != stored;
            continue;
        }
        if (to == stored) {
            st.n_mmap++;
            if (a->cur[i].buf) st.n_freed++;
            continue;
        }
        if (a->cur[i].buf && a->cur[i].type == to) {
            a->next[i] = a->cur[i];
            st.n_reused++;
            continue;
        }
        if (!qs_type_can_read(stored))
            rc = qs_error_set(err, "%s: cannot read values of %s tensors", mt->name, qs_type_name(stored));
        else if (!qs_type_can_quantize(to))
            rc = qs_error_set(err, "%s: cannot quantize to %s", mt->name, qs_type_name(to));
        else
            rc = check_engine_type(a, i, to, err);
        if (rc != QS_OK) break;
        redo[i] = true;
        st.n_redone++;
        if (a->cur[i].buf) st.n_freed++;
        const int64_t ne0 = mt->t->ne[0], rows = mt->t->n_elements / ne0;
        const int64_t f = qs_convert_chunk_rows(ne0, rows, chunk_floats) * ne0;
        if (f > max_floats) max_floats = f;
        st.bytes_redone += qs_planned_tensor_bytes(&p, i);
    }
    if (rc != QS_OK) {
        free(redo);
        qs_planned_free(&p);
        memset(a->next, 0, (size_t)a->n * sizeof *a->next);
        return rc;
    }
    a->prepared = true; /* from here discard_next frees what is built */

    float *fbuf = NULL;
    if (max_floats > 0 && !(fbuf = malloc((size_t)max_floats * sizeof *fbuf))) {
        qs_error_set(err, "out of memory for %lld floats of scratch", (long long)max_floats);
        rc = QS_ENOMEM;
    }
    j.total = st.bytes_redone;
    atomic_store(&a->tensors_done, 0);
    atomic_store(&a->tensors_total, st.n_redone);
    for (int64_t i = 0; i < a->n && rc == QS_OK; i++) {
        if (!redo[i]) continue;
        if (job_cancelled(&j)) {
            rc = QS_CANCELLED;
            break;
        }
        void *buf;
        uint64_t nb;
        const int type = (int)p.res.choice[i].type;
        rc = convert_tensor(a, i, type, &j, fbuf, chunk_floats, &buf, &nb, err);
        if (rc == QS_OK) {
            a->next[i] = (slot){.type = type, .buf = buf, .bytes = nb};
            atomic_fetch_add(&a->tensors_done, 1);
            if (job_report(&j, j.done)) rc = QS_CANCELLED;
        }
    }
    free(fbuf);
    free(redo);
    qs_planned_free(&p);
    if (rc == QS_CANCELLED) qs_error_set(err, "cancelled");
    if (rc != QS_OK) {
        discard_next(a);
        return rc;
    }
    for (int64_t i = 0; i < a->n; i++) st.bytes_held += a->next[i].bytes;
    a->next_stats = st;
    if (stats) *stats = st;
    return QS_OK;
}

/* ---------------------------------------------------------------- commit */

/* Points the planned model's view of tensor i at slot s (its buffer or the map). */
static int point_at(qs_applied *a, int64_t i, const slot *s, qs_error *err) {
    const qs_model_tensor *mt = &a->m->tensors[i];
    if (s->buf) return qs_infer_model_set_weight(a->planned, mt->name, s->type, s->buf, s->bytes, err);
    return qs_infer_model_set_weight(a->planned, mt->name, mt->t->type, mt->t->data, mt->t->nbytes, err);
}

int qs_applied_commit(qs_applied *a, qs_error *err) {
    if (!a->prepared) return qs_error_set(err, "commit: no prepared plan");
    int64_t i;
    int rc = QS_OK;
    for (i = 0; i < a->n && rc == QS_OK; i++)
        if (a->engine[i] && (a->next[i].buf != a->cur[i].buf || a->next[i].type != a->cur[i].type))
            rc = point_at(a, i, &a->next[i], err);
    if (rc != QS_OK) { /* checked in prepare, so not expected: put back what was swapped */
        qs_error e2;
        for (int64_t k = 0; k < i; k++)
            if (a->engine[k]) point_at(a, k, &a->cur[k], &e2);
        discard_next(a);
        return rc;
    }
    a->held = 0;
    for (i = 0; i < a->n; i++) {
        if (a->cur[i].buf && a->cur[i].buf != a->next[i].buf) free(a->cur[i].buf);
        a->cur[i] = a->next[i];
        a->held += a->cur[i].bytes;
    }
    memset(a->next, 0, (size_t)a->n * sizeof *a->next);
    a->prepared = false;
    a->cur_stats = a->next_stats;
    return QS_OK;
}

int qs_applied_apply(qs_applied *a, const qs_plan *plan, const qs_applied_opts *o,
                     qs_applied_stats *stats, qs_error *err) {
    int rc = qs_applied_prepare(a, plan, o, stats, err);
    return rc == QS_OK ? qs_applied_commit(a, err) : rc;
}

void qs_applied_reset(qs_applied *a) {
    discard_next(a);
    qs_applied_stats st = {0};
    for (int64_t i = 0; i < a->n; i++) {
        const qs_model_tensor *mt = &a->m->tensors[i];
        if (a->cur[i].buf) {
            qs_error e;
            slot stored = {.type = mt->t->type};
            point_at(a, i, &stored, &e); /* the stored type was loadable: cannot fail */
            free(a->cur[i].buf);
            st.n_freed++;
        }
        a->cur[i] = (slot){.type = mt->t->type};
        st.n_mmap += a->engine[i];
    }
    a->held = 0;
    a->cur_stats = st;
}

/* ---------------------------------------------------------------- accessors */

const qs_infer_model *qs_applied_planned(const qs_applied *a) { return a->planned; }
const qs_infer_model *qs_applied_original(const qs_applied *a) { return a->original; }
const qs_model *qs_applied_model(const qs_applied *a) { return a->m; }
uint64_t qs_applied_bytes(const qs_applied *a) { return a->held; }
qs_applied_stats qs_applied_last_stats(const qs_applied *a) { return a->cur_stats; }

int qs_applied_tensor_type(const qs_applied *a, int64_t i) {
    return i < 0 || i >= a->n ? -1 : a->cur[i].type;
}

const void *qs_applied_tensor_data(const qs_applied *a, int64_t i, uint64_t *nbytes) {
    if (i < 0 || i >= a->n) return NULL;
    if (nbytes) *nbytes = a->cur[i].buf ? a->cur[i].bytes : a->m->tensors[i].t->nbytes;
    return a->cur[i].buf ? a->cur[i].buf : a->m->tensors[i].t->data;
}

void qs_applied_progress_tensors(const qs_applied *a, int *done, int *total) {
    if (done) *done = atomic_load(&a->tensors_done);
    if (total) *total = atomic_load(&a->tensors_total);
}
