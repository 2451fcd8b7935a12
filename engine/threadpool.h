/* threadpool.h — a persistent pool of worker threads for the forward pass.
 *
 * The pool starts n_threads - 1 workers once (the calling thread is worker 0) and keeps them
 * for its whole life: running a job creates no thread. A job is one function that every
 * worker runs at the same time, as fn(arg, ith, nth) with ith in [0, nth); each worker takes
 * its share of the work from ith/nth (see qs_split_range) and workers meet at
 * qs_threadpool_barrier() between steps that depend on each other. This is the ggml way of
 * running a graph: one wake-up per forward pass, then cheap barriers, instead of one dispatch
 * per matrix product.
 *
 * Waiting: idle workers spin for a short while (a few tens of microseconds) after a job, so
 * that the next job of a token loop starts without a system call, then sleep on a condition
 * variable. Barriers spin, yielding the CPU after a while (safe when threads outnumber cores).
 *
 * Thread-safety: one job at a time per pool. qs_threadpool_run() must not be called from
 * two threads at once, nor from inside a job. Different pools are independent. */
#ifndef QS_THREADPOOL_H
#define QS_THREADPOOL_H

#include "qs_common.h"

typedef struct qs_threadpool qs_threadpool;

/* A job: runs on every worker at once. ith is this worker's index (0 is the thread that
 * called qs_threadpool_run), nth the number of workers. */
typedef void (*qs_pool_fn)(void *arg, int ith, int nth);

/* Largest pool size (requests above it are clamped). */
#define QS_POOL_MAX_THREADS 256

/* Starts a pool of n_threads workers (n_threads - 1 new threads; 0 = the CPUs this process
 * may run on). If the system refuses a thread the pool keeps the workers it got (size says
 * how many). Returns NULL with err set only when memory is short. Caller owns the pool:
 * qs_threadpool_destroy() joins the threads and frees it. */
qs_threadpool *qs_threadpool_create(int n_threads, qs_error *err);

/* Stops and joins the workers, frees the pool. NULL is fine. Must not be called while a job
 * runs. */
void qs_threadpool_destroy(qs_threadpool *pool);

/* Workers in the pool (the caller counted), >= 1. */
int qs_threadpool_size(const qs_threadpool *pool);

/* Runs fn(arg, ith, nth) on every worker, the calling thread as worker 0, and returns when
 * all have returned. nth = qs_threadpool_size(pool), or 1 when pool is NULL (then fn runs on
 * the caller alone). max_threads > 0 limits the job to that many workers (the others stay
 * idle, the barrier counts only the job's workers; a one-worker job does not wake them);
 * 0 uses them all. */
void qs_threadpool_run(qs_threadpool *pool, qs_pool_fn fn, void *arg, int max_threads);

/* Inside a job: returns when every worker of the job has called it. All workers of the job
 * must call it the same number of times. Memory written before the barrier by any worker is
 * visible to every worker after it. With pool NULL (or a one-worker job) it returns at once. */
void qs_threadpool_barrier(qs_threadpool *pool);

/* Total threads ever created by every pool of the process (tests use it to check that jobs
 * create none). */
uint64_t qs_threadpool_threads_created(void);

/* Splits [0, n) into nth contiguous parts whose boundaries are multiples of align (except n)
 * and returns part ith as [*begin, *end) (possibly empty). */
static inline void qs_split_range(int64_t n, int ith, int nth, int64_t align, int64_t *begin,
                                  int64_t *end) {
    if (align < 1) align = 1;
    int64_t units = (n + align - 1) / align;
    int64_t per = units / nth, extra = units % nth;
    int64_t u0 = ith * per + (ith < extra ? ith : extra);
    int64_t u1 = u0 + per + (ith < extra ? 1 : 0);
    int64_t b = u0 * align, e = u1 * align;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}

#endif
