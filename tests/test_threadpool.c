/* Thread pool: jobs reach every worker, barriers order memory, no thread per job, clean
 * shutdown. */
#include "qs_test_util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "threadpool.h"

typedef struct count_job {
    atomic_int calls;
    atomic_int mask; /* bit ith set by worker ith */
    int nth_seen;
} count_job;

static void count_fn(void *arg, int ith, int nth) {
    count_job *j = arg;
    atomic_fetch_add(&j->calls, 1);
    atomic_fetch_or(&j->mask, 1 << ith);
    if (ith == 0) j->nth_seen = nth;
}

static void test_many_small_jobs_no_thread_creation(void **state) {
    (void)state;
    qs_error err = {{0}};
    const uint64_t before = qs_threadpool_threads_created();
    qs_threadpool *pool = qs_threadpool_create(4, &err);
    assert_non_null(pool);
    const int n = qs_threadpool_size(pool);
    assert_int_equal(n, 4);
    const uint64_t after_create = qs_threadpool_threads_created();
    assert_int_equal(after_create - before, 3); /* the caller is worker 0 */
    for (int i = 0; i < 20000; i++) {
        count_job j;
        atomic_init(&j.calls, 0);
        atomic_init(&j.mask, 0);
        j.nth_seen = 0;
        qs_threadpool_run(pool, count_fn, &j, 0);
        assert_int_equal(atomic_load(&j.calls), 4);
        assert_int_equal(atomic_load(&j.mask), 0xf);
        assert_int_equal(j.nth_seen, 4);
    }
    /* a job limited to fewer workers */
    count_job j;
    atomic_init(&j.calls, 0);
    atomic_init(&j.mask, 0);
    qs_threadpool_run(pool, count_fn, &j, 2);
    assert_int_equal(atomic_load(&j.calls), 2);
    assert_int_equal(atomic_load(&j.mask), 0x3);
    assert_int_equal(j.nth_seen, 2);
    assert_int_equal(qs_threadpool_threads_created(), after_create); /* none per job */
    qs_threadpool_destroy(pool);
}

/* Steps separated by barriers: each step reads what every worker wrote in the step before. */
typedef struct barrier_job {
    qs_threadpool *pool;
    int64_t n;
    int64_t *a, *b;
    atomic_int errors;
} barrier_job;

static void barrier_fn(void *arg, int ith, int nth) {
    barrier_job *j = arg;
    int64_t b0, b1;
    qs_split_range(j->n, ith, nth, 16, &b0, &b1);
    for (int step = 0; step < 50; step++) {
        for (int64_t i = b0; i < b1; i++) j->a[i] = i * (step + 1);
        qs_threadpool_barrier(j->pool);
        /* read a value written by another worker (the mirror index) */
        for (int64_t i = b0; i < b1; i++) {
            int64_t m = j->n - 1 - i;
            if (j->a[m] != m * (step + 1)) atomic_fetch_add(&j->errors, 1);
            j->b[i] = j->a[m];
        }
        qs_threadpool_barrier(j->pool);
    }
}

static void test_barrier(void **state) {
    (void)state;
    qs_error err = {{0}};
    for (int threads = 1; threads <= 3; threads++) {
        qs_threadpool *pool = qs_threadpool_create(threads, &err);
        assert_non_null(pool);
        barrier_job j = {.pool = pool, .n = 1000};
        j.a = calloc((size_t)j.n, sizeof *j.a);
        j.b = calloc((size_t)j.n, sizeof *j.b);
        atomic_init(&j.errors, 0);
        for (int rep = 0; rep < 20; rep++) qs_threadpool_run(pool, barrier_fn, &j, 0);
        assert_int_equal(atomic_load(&j.errors), 0);
        for (int64_t i = 0; i < j.n; i++) assert_int_equal(j.b[i], (j.n - 1 - i) * 50);
        free(j.a);
        free(j.b);
        qs_threadpool_destroy(pool);
    }
}

/* Idle workers go to sleep and wake for the next job. */
static void test_sleep_and_wake(void **state) {
    (void)state;
    qs_error err = {{0}};
    qs_threadpool *pool = qs_threadpool_create(3, &err);
    assert_non_null(pool);
    for (int i = 0; i < 3; i++) {
        struct timespec ts = {0, 20 * 1000 * 1000}; /* longer than the idle spin */
        nanosleep(&ts, NULL);
        count_job j;
        atomic_init(&j.calls, 0);
        atomic_init(&j.mask, 0);
        qs_threadpool_run(pool, count_fn, &j, 0);
        assert_int_equal(atomic_load(&j.calls), 3);
    }
    qs_threadpool_destroy(pool);
}

static void test_null_pool_and_shutdown(void **state) {
    (void)state;
    count_job j;
    atomic_init(&j.calls, 0);
    atomic_init(&j.mask, 0);
    qs_threadpool_run(NULL, count_fn, &j, 0); /* runs on the caller */
    assert_int_equal(atomic_load(&j.calls), 1);
    assert_int_equal(j.nth_seen, 1);
    qs_threadpool_barrier(NULL);
    qs_threadpool_destroy(NULL);
    /* create and destroy repeatedly, with and without jobs */
    qs_error err = {{0}};
    for (int i = 0; i < 50; i++) {
        qs_threadpool *pool = qs_threadpool_create(2 + i % 3, &err);
        assert_non_null(pool);
        if (i % 2) qs_threadpool_run(pool, count_fn, &j, 0);
        qs_threadpool_destroy(pool);
    }
    /* 0 = the CPUs we may run on */
    qs_threadpool *pool = qs_threadpool_create(0, &err);
    assert_non_null(pool);
    assert_true(qs_threadpool_size(pool) >= 1);
    qs_threadpool_destroy(pool);
}

static void test_split_range(void **state) {
    (void)state;
    for (int64_t n = 0; n < 200; n += 7) {
        for (int nth = 1; nth <= 5; nth++) {
            for (int64_t align = 1; align <= 16; align *= 4) {
                int64_t next = 0;
                for (int ith = 0; ith < nth; ith++) {
                    int64_t b, e;
                    qs_split_range(n, ith, nth, align, &b, &e);
                    assert_int_equal(b, next);
                    assert_true(e >= b);
                    if (e < n) assert_int_equal(e % align, 0);
                    next = e;
                }
                assert_int_equal(next, n);
            }
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_small_jobs_no_thread_creation),
        cmocka_unit_test(test_barrier),
        cmocka_unit_test(test_sleep_and_wake),
        cmocka_unit_test(test_null_pool_and_shutdown),
        cmocka_unit_test(test_split_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
