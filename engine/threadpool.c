/* threadpool.c — persistent workers, one job at a time, spin-then-block waiting.
 *
 * Three waits, each the same shape: poll an atomic for a while (cheap when the other side is
 * running on another CPU, which is the common case inside a forward pass), then block on a
 * condition variable (when the machine is busy the thread we wait for may not be running, and
 * polling would only take its CPU). The side that changes the atomic changes it first and then
 * looks for sleepers; the sleeper announces itself first and then re-checks the atomic under
 * the mutex. With sequentially consistent atomics one of the two always sees the other, so no
 * wake-up is lost.
 *
 *   workers wait for a job       gen        (job posted by qs_threadpool_run)
 *   workers wait at a barrier    bar_phase  (bumped by the last to arrive)
 *   the caller waits for the end n_done     (the last worker to finish wakes it) */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "qs_quantize.h" /* qs_threads_resolve */

static atomic_uint_fast64_t g_threads_created;

uint64_t qs_threadpool_threads_created(void) { return (uint64_t)atomic_load(&g_threads_created); }

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* How long an idle worker polls for the next job before sleeping: long enough to cover the
 * sampling step between two tokens, short enough not to burn a core once generation ends. */
#define IDLE_SPIN_NS 2000000ull
/* Polls in a barrier or completion wait before blocking (a few tens of microseconds). */
#define WAIT_SPINS 4096

typedef struct worker {
    qs_threadpool *pool;
    int ith;
} worker;

struct qs_threadpool {
    int n;                   /* workers, the caller included */
    int n_started;           /* threads actually created (n - 1) */
    bool spin;               /* at most one worker per CPU: waits poll before blocking */
    pthread_t *threads;
    worker *workers;

    pthread_mutex_t mu;
    pthread_cond_t job_cv;    /* gen changed */
    pthread_cond_t bar_cv;    /* bar_phase changed */
    pthread_cond_t done_cv;   /* n_done reached its target */
    atomic_uint_fast64_t gen; /* bumped once per job (and at shutdown) */
    atomic_int stop;

    /* the current job (written before gen is bumped, read after it is seen) */
    qs_pool_fn fn;
    void *arg;
    int nth;

    atomic_int n_done;        /* workers (other than the caller) done with the current job */
    atomic_int done_sleeping; /* the caller blocks on done_cv */

    /* barrier among the job's nth workers */
    atomic_int bar_count;
    atomic_uint bar_phase;
    atomic_int bar_sleepers;
};

static void wait_for_job(qs_threadpool *pool, uint_fast64_t seen) {
    if (pool->spin) {
        const uint64_t t0 = now_ns();
        for (unsigned i = 1;; i++) {
            cpu_relax();
            if (atomic_load(&pool->gen) != seen) return;
            if ((i & 255) == 0 && now_ns() - t0 > IDLE_SPIN_NS) break;
        }
    }
    pthread_mutex_lock(&pool->mu);
    while (atomic_load(&pool->gen) == seen) pthread_cond_wait(&pool->job_cv, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}

static void *worker_main(void *p) {
    worker *w = p;
    qs_threadpool *pool = w->pool;
    uint_fast64_t seen = 0;
    for (;;) {
        wait_for_job(pool, seen);
        seen = atomic_load(&pool->gen);
        if (atomic_load(&pool->stop)) break;
        if (w->ith < pool->nth) pool->fn(pool->arg, w->ith, pool->nth);
        atomic_fetch_add(&pool->n_done, 1);
        if (atomic_load(&pool->done_sleeping)) {
            pthread_mutex_lock(&pool->mu);
            pthread_cond_broadcast(&pool->done_cv);
            pthread_mutex_unlock(&pool->mu);
        }
    }
    return NULL;
}

qs_threadpool *qs_threadpool_create(int n_threads, qs_error *err) {
    int n = qs_threads_resolve(n_threads);
    if (n > QS_POOL_MAX_THREADS) n = QS_POOL_MAX_THREADS;
    qs_threadpool *pool = calloc(1, sizeof *pool);
    if (!pool) {
        qs_error_set(err, "thread pool: out of memory");
        return NULL;
    }
    pool->threads = calloc((size_t)n, sizeof *pool->threads);
    pool->workers = calloc((size_t)n, sizeof *pool->workers);
    if (!pool->threads || !pool->workers) {
        free(pool->threads);
        free(pool->workers);
        free(pool);
        qs_error_set(err, "thread pool: out of memory");
        return NULL;
    }
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->job_cv, NULL);
    pthread_cond_init(&pool->bar_cv, NULL);
    pthread_cond_init(&pool->done_cv, NULL);
    atomic_init(&pool->gen, 0);
    atomic_init(&pool->stop, 0);
    atomic_init(&pool->n_done, 0);
    atomic_init(&pool->done_sleeping, 0);
    atomic_init(&pool->bar_count, 0);
    atomic_init(&pool->bar_phase, 0);
    atomic_init(&pool->bar_sleepers, 0);
    pool->nth = 1;
    pool->spin = n <= qs_threads_resolve(0); /* set before any worker reads it */
    for (int i = 1; i < n; i++) {
        pool->workers[i].pool = pool;
        pool->workers[i].ith = i;
        if (pthread_create(&pool->threads[i], NULL, worker_main, &pool->workers[i]) != 0) break;
        atomic_fetch_add(&g_threads_created, 1);
        pool->n_started++;
    }
    pool->n = pool->n_started + 1;
    return pool;
}

void qs_threadpool_destroy(qs_threadpool *pool) {
    if (!pool) return;
    atomic_store(&pool->stop, 1);
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add(&pool->gen, 1);
    pthread_cond_broadcast(&pool->job_cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i <= pool->n_started; i++) pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->job_cv);
    pthread_cond_destroy(&pool->bar_cv);
    pthread_cond_destroy(&pool->done_cv);
    pthread_mutex_destroy(&pool->mu);
    free(pool->threads);
    free(pool->workers);
    free(pool);
}

int qs_threadpool_size(const qs_threadpool *pool) { return pool ? pool->n : 1; }

/* Polls *a until it differs from old, up to the spin budget; true if it did. */
static bool poll_change_uint(const qs_threadpool *pool, atomic_uint *a, unsigned old) {
    const int spins = pool->spin ? WAIT_SPINS : 16;
    for (int i = 0; i < spins; i++) {
        if (atomic_load(a) != old) return true;
        if (pool->spin) cpu_relax();
        else sched_yield();
    }
    return atomic_load(a) != old;
}

void qs_threadpool_run(qs_threadpool *pool, qs_pool_fn fn, void *arg, int max_threads) {
    if (!pool || pool->n == 1) {
        if (pool) pool->nth = 1;
        fn(arg, 0, 1);
        return;
    }
    int nth = pool->n;
    if (max_threads > 0 && max_threads < nth) nth = max_threads;
    if (nth == 1) { /* the caller alone: the workers need not even wake up */
        pool->nth = 1;
        fn(arg, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    pool->nth = nth;
    atomic_store(&pool->n_done, 0);
    atomic_store(&pool->bar_count, 0);
    /* The bump happens under the mutex so that a worker about to sleep (which re-checks gen
     * while holding it) cannot miss the wake-up. */
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add(&pool->gen, 1);
    pthread_cond_broadcast(&pool->job_cv);
    pthread_mutex_unlock(&pool->mu);

    fn(arg, 0, nth);

    /* every worker acknowledges every job (also those outside it), so that none can still be
     * reading this job's fn/arg/nth when the next job is posted */
    const int target = pool->n - 1;
    const int spins = pool->spin ? WAIT_SPINS : 16;
    for (int i = 0; i < spins && atomic_load(&pool->n_done) < target; i++) {
        if (pool->spin) cpu_relax();
        else sched_yield();
    }
    if (atomic_load(&pool->n_done) < target) {
        pthread_mutex_lock(&pool->mu);
        atomic_store(&pool->done_sleeping, 1);
        while (atomic_load(&pool->n_done) < target) pthread_cond_wait(&pool->done_cv, &pool->mu);
        atomic_store(&pool->done_sleeping, 0);
        pthread_mutex_unlock(&pool->mu);
    }
}

void qs_threadpool_barrier(qs_threadpool *pool) {
    if (!pool || pool->nth <= 1) return;
    const unsigned phase = atomic_load(&pool->bar_phase);
    if (atomic_fetch_add(&pool->bar_count, 1) == pool->nth - 1) {
        atomic_store(&pool->bar_count, 0);
        atomic_fetch_add(&pool->bar_phase, 1);
        if (atomic_load(&pool->bar_sleepers) > 0) {
            pthread_mutex_lock(&pool->mu);
            pthread_cond_broadcast(&pool->bar_cv);
            pthread_mutex_unlock(&pool->mu);
        }
        return;
    }
    if (poll_change_uint(pool, &pool->bar_phase, phase)) return;
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add(&pool->bar_sleepers, 1);
    while (atomic_load(&pool->bar_phase) == phase) pthread_cond_wait(&pool->bar_cv, &pool->mu);
    atomic_fetch_sub(&pool->bar_sleepers, 1);
    pthread_mutex_unlock(&pool->mu);
}
