/* Whole-tensor quantize / dequantize and the row-parallel runner under them. */
#include "qs_quantize.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Progress is reported after at least 1/QS_PROGRESS_STEPS of the items (or at the end). */
#define QS_PROGRESS_STEPS 256
/* Rows per claim hold about this many values: big enough that the atomic counter and
 * progress cost nothing, small enough to balance load and to react to cancel quickly. */
#define QS_CHUNK_VALUES (64 * 1024)

/* ---------------------------------------------------------------- runner */

int qs_threads_resolve(int n_threads) {
    int n = n_threads;
    if (n <= 0) {
        n = 0;
#ifdef __linux__
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
        if (n <= 0) {
            long c = sysconf(_SC_NPROCESSORS_ONLN);
            n = c > 0 ? (c > QS_MAX_THREADS ? QS_MAX_THREADS : (int)c) : 1;
        }
    }
    return n > QS_MAX_THREADS ? QS_MAX_THREADS : n;
}

int qs_rows_workers(int n_threads, int64_t n_items, int64_t chunk) {
    int n = qs_threads_resolve(n_threads);
    if (chunk < 1) chunk = 1;
    int64_t chunks = n_items > 0 ? (n_items + chunk - 1) / chunk : 1;
    if ((int64_t)n > chunks) n = (int)chunks;
    return n < 1 ? 1 : n;
}

typedef struct run_shared {
    const qs_rows_job *job;
    atomic_int_fast64_t next;        /* first item of the next unclaimed chunk */
    atomic_int_fast64_t done;        /* items completed */
    atomic_int_fast64_t next_report; /* report when done reaches this (a hint; see report) */
    atomic_int stop;                 /* 0 while running, else the status that stopped it */
    int failed_worker;               /* written only by the worker that set stop to an error */
    int64_t step;                    /* items between progress reports */
    pthread_mutex_t report_lock;     /* serializes progress calls */
    int64_t last_reported;           /* guarded by report_lock */
} run_shared;

typedef struct run_worker {
    run_shared *sh;
    int id;
    bool started;
    pthread_t thread;
    qs_error err;
} run_worker;

static void set_stop(run_shared *sh, int status, int worker) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&sh->stop, &expected, status)) sh->failed_worker = worker;
}

static void report(run_shared *sh, int64_t done_now) {
    const qs_rows_job *job = sh->job;
    if (done_now < atomic_load_explicit(&sh->next_report, memory_order_relaxed) &&
        done_now != job->n_items)
        return;
    if (pthread_mutex_trylock(&sh->report_lock) != 0) return; /* someone is reporting */
    int64_t cur = atomic_load(&sh->done);
    if (cur > sh->last_reported &&
        (cur - sh->last_reported >= sh->step || cur == job->n_items)) {
        sh->last_reported = cur;
        atomic_store_explicit(&sh->next_report, cur + sh->step, memory_order_relaxed);
        if (atomic_load(&sh->stop) == 0 &&
            job->progress(job->progress_user, (uint64_t)cur, (uint64_t)job->n_items))
            set_stop(sh, QS_CANCELLED, -1);
    }
    pthread_mutex_unlock(&sh->report_lock);
}

static void *worker_main(void *arg) {
    run_worker *w = arg;
    run_shared *sh = w->sh;
    const qs_rows_job *job = sh->job;
    for (;;) {
        if (atomic_load_explicit(&sh->stop, memory_order_relaxed)) break;
        if (job->cancel && atomic_load(job->cancel)) {
            set_stop(sh, QS_CANCELLED, -1);
            break;
        }
        int64_t begin = atomic_fetch_add(&sh->next, job->chunk);
        if (begin >= job->n_items) break;
        int64_t end = begin + job->chunk < job->n_items ? begin + job->chunk : job->n_items;
        int rc = job->task(job->ctx, w->id, begin, end, &w->err);
        if (rc != QS_OK) {
            set_stop(sh, rc, w->id);
            break;
        }
        int64_t done_now = atomic_fetch_add(&sh->done, end - begin) + (end - begin);
        if (job->progress) report(sh, done_now);
    }
    return NULL;
}

int qs_rows_run(const qs_rows_job *job, qs_error *err) {
    if (!job || !job->task || job->n_items < 0 || job->chunk < 1 || job->n_workers < 1)
        return qs_error_set(err, "row runner: bad job");
    if (job->n_items == 0) return QS_OK;
    if (job->cancel && atomic_load(job->cancel)) return QS_CANCELLED;

    run_shared sh;
    sh.job = job;
    atomic_init(&sh.next, 0);
    atomic_init(&sh.done, 0);
    sh.step = job->n_items / QS_PROGRESS_STEPS;
    if (sh.step < 1) sh.step = 1;
    atomic_init(&sh.next_report, sh.step);
    atomic_init(&sh.stop, 0);
    sh.failed_worker = -1;
    sh.last_reported = 0;
    if (pthread_mutex_init(&sh.report_lock, NULL) != 0)
        return qs_error_set(err, "row runner: cannot create a mutex");

    int nw = job->n_workers > QS_MAX_THREADS ? QS_MAX_THREADS : job->n_workers;
    run_worker *ws = calloc((size_t)nw, sizeof *ws);
    if (!ws) {
        pthread_mutex_destroy(&sh.report_lock);
        qs_error_set(err, "out of memory for %d workers", nw);
        return QS_ENOMEM;
    }
    for (int i = 0; i < nw; i++) {
        ws[i].sh = &sh;
        ws[i].id = i;
    }
    /* Worker 0 is this thread; a thread that fails to start just leaves more for the rest. */
    for (int i = 1; i < nw; i++)
        ws[i].started = pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) == 0;
    worker_main(&ws[0]);
    for (int i = 1; i < nw; i++)
        if (ws[i].started) pthread_join(ws[i].thread, NULL);

    int status = atomic_load(&sh.stop);
    if (status == 0 && job->progress && sh.last_reported < job->n_items) {
        if (job->progress(job->progress_user, (uint64_t)job->n_items, (uint64_t)job->n_items))
            status = QS_CANCELLED;
    }
    if (status != QS_OK && status != QS_CANCELLED) {
        if (sh.failed_worker >= 0 && err) *err = ws[sh.failed_worker].err;
    }
    free(ws);
    pthread_mutex_destroy(&sh.report_lock);
    return status;
}

/* ---------------------------------------------------------------- quantize / dequantize */

typedef struct rows_ctx {
    const qs_type_traits *tt;
    const uint8_t *src_bytes; /* dequantize */
    const float *src_f32;     /* quantize */
    uint8_t *dst_bytes;       /* quantize */
    float *dst_f32;           /* dequantize */
    int64_t n_per_row;
    uint64_t row_bytes;
    const float *importance;
} rows_ctx;

static int quantize_task(void *ctx, int worker, int64_t begin, int64_t end, qs_error *err) {
    (void)worker, (void)err;
    const rows_ctx *c = ctx;
    for (int64_t r = begin; r < end; r++)
        c->tt->quantize(c->src_f32 + r * c->n_per_row, c->dst_bytes + (uint64_t)r * c->row_bytes,
                        c->n_per_row, c->importance);
    return QS_OK;
}

static int dequantize_task(void *ctx, int worker, int64_t begin, int64_t end, qs_error *err) {
    (void)worker, (void)err;
    const rows_ctx *c = ctx;
    for (int64_t r = begin; r < end; r++)
        c->tt->to_float(c->src_bytes + (uint64_t)r * c->row_bytes, c->dst_f32 + r * c->n_per_row,
                        c->n_per_row);
    return QS_OK;
}

/* Checks shape and options shared by both calls; fills *row_bytes. */
static int check_shape(qs_type type, int64_t n_per_row, int64_t nrows, const qs_quantize_opts *o,
                       uint64_t *row_bytes, qs_error *err) {
    const qs_type_traits *tt = qs_type_traits_get((int)type);
    if (!tt) return qs_error_set(err, "unknown tensor type id %d", (int)type);
    if (n_per_row <= 0)
        return qs_error_set(err, "row length must be positive (got %lld)", (long long)n_per_row);
    if (nrows < 0) return qs_error_set(err, "row count must not be negative (got %lld)",
                                       (long long)nrows);
    if (n_per_row % tt->blck_size != 0)
        return qs_error_set(err, "row of %lld values cannot hold %s blocks of %d",
                            (long long)n_per_row, tt->name, tt->blck_size);
    if (o && o->n_threads < 0)
        return qs_error_set(err, "thread count must not be negative (got %d)", o->n_threads);
    *row_bytes = qs_type_row_bytes((int)type, n_per_row);
    return QS_OK;
}

/* Chunk for a plain row loop: ~QS_CHUNK_VALUES values, but at least 4 chunks per worker when
 * there are enough rows, so threads stay busy on small tensors. */
static int64_t plain_chunk(int64_t n_per_row, int64_t nrows, int n_threads) {
    int64_t chunk = QS_CHUNK_VALUES / n_per_row;
    int64_t balance = nrows / (4 * (int64_t)n_threads);
    if (balance < chunk) chunk = balance;
    return chunk < 1 ? 1 : chunk;
}

static int run_rows(rows_ctx *c, qs_rows_task_fn task, int64_t nrows, const qs_quantize_opts *o,
                    qs_error *err) {
    int threads = qs_threads_resolve(o ? o->n_threads : 0);
    qs_rows_job job = {
        .n_items = nrows,
        .chunk = plain_chunk(c->n_per_row, nrows, threads),
        .task = task,
        .ctx = c,
        .progress = o ? o->progress : NULL,
        .progress_user = o ? o->progress_user : NULL,
        .cancel = o ? o->cancel : NULL,
    };
    job.n_workers = qs_rows_workers(threads, nrows, job.chunk);
    return qs_rows_run(&job, err);
}

int qs_quantize_rows(qs_type type, const float *src, void *dst, int64_t n_per_row,
                     int64_t nrows, const float *importance, const qs_quantize_opts *opts,
                     qs_error *err) {
    rows_ctx c = {.tt = qs_type_traits_get((int)type), .src_f32 = src, .dst_bytes = dst,
                  .n_per_row = n_per_row, .importance = importance};
    if (check_shape(type, n_per_row, nrows, opts, &c.row_bytes, err) != QS_OK) return QS_ERR;
    if (!qs_type_can_quantize((int)type))
        return qs_error_set(err, "cannot quantize to %s", qs_type_name((int)type));
    if (nrows > 0 && (!src || !dst)) return qs_error_set(err, "quantize: NULL buffer");
    return run_rows(&c, quantize_task, nrows, opts, err);
}

int qs_dequantize_rows(qs_type type, const void *src, float *dst_f32, int64_t n_per_row,
                       int64_t nrows, const qs_quantize_opts *opts, qs_error *err) {
    rows_ctx c = {.tt = qs_type_traits_get((int)type), .src_bytes = src, .dst_f32 = dst_f32,
                  .n_per_row = n_per_row};
    if (check_shape(type, n_per_row, nrows, opts, &c.row_bytes, err) != QS_OK) return QS_ERR;
    if (!qs_type_can_read((int)type))
        return qs_error_set(err, "cannot read values of %s tensors", qs_type_name((int)type));
    if (nrows > 0 && (!src || !dst_f32)) return qs_error_set(err, "dequantize: NULL buffer");
    return run_rows(&c, dequantize_task, nrows, opts, err);
}
