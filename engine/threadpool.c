/* threadpool.c — persistent workers, one job at a time, spin-then-sleep waiting. */
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
/* Spins in a barrier / completion wait before yielding the CPU to others. */
#define BARRIER_SPINS 4096

typedef struct worker {
    qs_threadpool *pool;
    int ith;
} worker;

struct qs_threadpool {
    int n;                   /* workers, the caller included */
    int n_started;           /* threads actually created (n - 1) */
    bool spin;               /* at most one worker per CPU: waiting may poll; else it yields */
    pthread_t *threads;
    worker *workers;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint_fast64_t gen; /* bumped once per job (and at shutdown) */
    atomic_int n_done;        /* workers that finished the current job */
    atomic_int stop;

    /* the current job (written before gen is bumped, read after it is seen) */
    qs_pool_fn fn;
    void *arg;
    int nth;

    /* barrier among the job's nth workers */
    atomic_int bar_count;
    atomic_uint bar_phase;
};

static void *worker_main(void *p) {
    worker *w = p;
    qs_threadpool *pool = w->pool;
    uint_fast64_t seen = 0;
    for (;;) {
        uint_fast64_t g = atomic_load(&pool->gen);
        if (g == seen && pool->spin) {
            uint64_t t0 = now_ns();
            for (unsigned i = 1;; i++) {
                cpu_relax();
                g = atomic_load(&pool->gen);
                if (g != seen) break;
                if ((i & 255) == 0 && now_ns() - t0 > IDLE_SPIN_NS) break;
            }
        }
        if (g == seen) {
            pthread_mutex_lock(&pool->mu);
            while ((g = atomic_load(&pool->gen)) == seen) pthread_cond_wait(&pool->cv, &pool->mu);
            pthread_mutex_unlock(&pool->mu);
        }
        seen = g;
        if (atomic_load(&pool->stop)) break;
        if (w->ith < pool->nth) pool->fn(pool->arg, w->ith, pool->nth);
        atomic_fetch_add(&pool->n_done, 1);
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
    pthread_cond_init(&pool->cv, NULL);
    atomic_init(&pool->gen, 0);
    atomic_init(&pool->n_done, 0);
    atomic_init(&pool->stop, 0);
    atomic_init(&pool->bar_count, 0);
    atomic_init(&pool->bar_phase, 0);
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
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i <= pool->n_started; i++) pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->cv);
    pthread_mutex_destroy(&pool->mu);
    free(pool->threads);
    free(pool->workers);
    free(pool);
}

int qs_threadpool_size(const qs_threadpool *pool) { return pool ? pool->n : 1; }

/* One step of waiting for other workers. When workers outnumber CPUs the one we wait for may
 * need our CPU, so we yield at once instead of polling. */
static void spin_wait_step(const qs_threadpool *pool, unsigned *spins) {
    if (pool->spin && ++*spins < BARRIER_SPINS) cpu_relax();
    else sched_yield();
}

void qs_threadpool_run(qs_threadpool *pool, qs_pool_fn fn, void *arg, int max_threads) {
    if (!pool || pool->n == 1) {
        if (pool) pool->nth = 1;
        fn(arg, 0, 1);
        return;
    }
    int nth = pool->n;
    if (max_threads > 0 && max_threads < nth) nth = max_threads;
    pool->fn = fn;
    pool->arg = arg;
    pool->nth = nth;
    atomic_store(&pool->n_done, 0);
    atomic_store(&pool->bar_count, 0);
    /* The bump happens under the mutex so that a worker about to sleep (which re-checks gen
     * while holding it) cannot miss the wake-up. */
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add(&pool->gen, 1);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);

    fn(arg, 0, nth);

    unsigned spins = 0;
    while (atomic_load(&pool->n_done) < pool->n - 1) spin_wait_step(pool, &spins);
}

void qs_threadpool_barrier(qs_threadpool *pool) {
    if (!pool || pool->nth <= 1) return;
    unsigned phase = atomic_load(&pool->bar_phase);
    if (atomic_fetch_add(&pool->bar_count, 1) == pool->nth - 1) {
        atomic_store(&pool->bar_count, 0);
        atomic_fetch_add(&pool->bar_phase, 1);
        return;
    }
    unsigned spins = 0;
    while (atomic_load(&pool->bar_phase) == phase) spin_wait_step(pool, &spins);
}
