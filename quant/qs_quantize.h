/* qs_quantize.h — whole-tensor quantization and dequantization over many threads.
 *
 * A tensor here is nrows rows of n_per_row values, rows contiguous (row r of a float tensor
 * starts at src + r * n_per_row; row r of a tensor of type t starts at byte
 * r * qs_type_row_bytes(t, n_per_row)). Rows are independent, so the work is split over rows:
 * worker threads claim chunks of consecutive rows from a shared atomic counter until none are
 * left. The result is the same bytes whatever the thread count.
 *
 * Threads are spawned per call (the calling thread works too) and joined before return: the
 * calls are meant for whole tensors, where thread start-up is noise. Everything that runs
 * rows in parallel goes through qs_rows_run() below, so moving to a persistent pool later
 * changes that one function.
 *
 * Progress and cancel: progress(user, rows_done, rows_total) is called after chunks of rows
 * complete, at most about 256 times per call plus a final call with rows_done == rows_total
 * (not called when nrows is 0). Calls never overlap, rows_done never decreases, and a call may
 * come from any worker thread or from the calling thread. A non-zero return from progress, or
 * *cancel becoming non-zero, stops the work after the chunks in flight: the function then
 * returns QS_CANCELLED and the output buffer holds an unspecified mix of done and untouched
 * rows. */
#ifndef QS_QUANTIZE_H
#define QS_QUANTIZE_H

#include <stdatomic.h>

#include "qs_common.h"
#include "qs_types.h"

/* Largest worker count any call uses (requests above it are clamped). */
#define QS_MAX_THREADS 256

typedef struct qs_quantize_opts {
    int n_threads;            /* workers; 0 = all cores this process may run on */
    qs_progress_fn progress;  /* NULL: no progress; units are rows (see above) */
    void *progress_user;      /* passed to progress */
    const atomic_int *cancel; /* NULL, or a flag another thread sets non-zero to stop */
} qs_quantize_opts;

/* Quantizes nrows rows of n_per_row floats at src (nrows * n_per_row values) into dst, which
 * must hold nrows * qs_type_row_bytes(type, n_per_row) bytes. importance is NULL or n_per_row
 * per-column weights used for every row (an importance-matrix row). opts may be NULL (all
 * cores, no progress, no cancel).
 * Returns QS_OK; QS_CANCELLED; QS_ENOMEM; or QS_ERR when the type cannot be quantized
 * ("cannot quantize to IQ1_M"), when the row length does not fit the type's blocks
 * ("row of 172 values cannot hold Q4_K blocks of 256") or for other bad arguments. */
int qs_quantize_rows(qs_type type, const float *src, void *dst, int64_t n_per_row,
                     int64_t nrows, const float *importance, const qs_quantize_opts *opts,
                     qs_error *err);

/* The reverse: reads nrows rows of n_per_row values stored in type at src
 * (nrows * qs_type_row_bytes(type, n_per_row) bytes) into dst_f32 (nrows * n_per_row floats).
 * Works for every type with qs_type_can_read(): the way to get float values of a tensor stored
 * in any readable type. Same threading, progress, cancel and errors as qs_quantize_rows
 * ("cannot read values of IQ1_M tensors"). */
int qs_dequantize_rows(qs_type type, const void *src, float *dst_f32, int64_t n_per_row,
                       int64_t nrows, const qs_quantize_opts *opts, qs_error *err);

/* ---------------------------------------------------------------- row-parallel runner
 *
 * The machinery under the two calls above, public so other whole-tensor work (error metrics)
 * shares it. Items are numbered 0 .. n_items-1 (usually rows); they are handed out in chunks:
 * task(ctx, worker, begin, end, err) is called with begin a multiple of chunk and
 * end = min(begin + chunk, n_items), so begin / chunk numbers the chunk. Each chunk is given
 * to exactly one call; chunks run concurrently on different workers, in no fixed order.
 * worker is in [0, n_workers): at most one call per worker id runs at a time, so per-worker
 * scratch indexed by it needs no locking.
 *
 * task returns QS_OK, or a status (QS_ERR / QS_ENOMEM / QS_CANCELLED) after writing a message
 * into its err (a per-worker buffer): the first failure stops the run and is returned, with
 * its message copied to the caller's err. */
typedef int (*qs_rows_task_fn)(void *ctx, int worker, int64_t begin, int64_t end,
                               qs_error *err);

typedef struct qs_rows_job {
    int64_t n_items;          /* >= 0 */
    int64_t chunk;            /* >= 1 items per claim */
    int n_workers;            /* >= 1; the caller sizes per-worker scratch with it */
    qs_rows_task_fn task;
    void *ctx;
    qs_progress_fn progress;  /* units: items; same guarantees as described at the top */
    void *progress_user;
    const atomic_int *cancel;
} qs_rows_job;

/* Number of workers for a request: n_threads > 0 is taken as is (clamped to QS_MAX_THREADS),
 * 0 means the CPUs this process may run on (sched affinity, else online CPUs). Always >= 1. */
int qs_threads_resolve(int n_threads);

/* Workers worth starting for n_items items in chunks of chunk: min(threads, chunk count),
 * at least 1. */
int qs_rows_workers(int n_threads, int64_t n_items, int64_t chunk);

/* Runs the job; returns when every worker has finished. If a thread cannot be created the
 * remaining workers do its share (the run still completes). Returns QS_OK, QS_CANCELLED, or
 * the first failing task's status. */
int qs_rows_run(const qs_rows_job *job, qs_error *err);

#endif
