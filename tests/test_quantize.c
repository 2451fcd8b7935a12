/* Whole-tensor quantize / dequantize driver and the row-parallel runner. */
#include "qs_test_util.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "qs_quantize.h"
#include "qs_types.h"

/* Quantizes x (nrows x n) with the given thread count into a fresh buffer (caller frees). */
static uint8_t *quantize_with(qs_type t, const float *x, int64_t n, int64_t nrows,
                              const float *imp, int threads) {
    uint64_t bytes = qs_type_row_bytes(t, n) * (uint64_t)nrows;
    uint8_t *dst = malloc(bytes);
    assert_non_null(dst);
    memset(dst, 0xA5, bytes);
    qs_quantize_opts o = {.n_threads = threads};
    qs_error err = {{0}};
    int rc = qs_quantize_rows(t, x, dst, n, nrows, imp, &o, &err);
    if (rc != QS_OK) fail_msg("%s: %s", qs_type_name(t), err.msg);
    return dst;
}

/* Every quantizable type (F16/BF16/F32 today; Q4_0..Q6_K once wired): 1, 2 and 3 threads
 * give the same bytes, and those bytes are what the per-row function writes. */
static void test_threads_identical_bytes(void **state) {
    (void)state;
    const int64_t n = 512, nrows = 300; /* 512: a multiple of every block size (32..256) */
    float *x = malloc((size_t)(n * nrows) * sizeof(float));
    float *imp = malloc((size_t)n * sizeof(float));
    qs_test_llm_like(x, n * nrows, 11);
    for (int64_t i = 0; i < n; i++) imp[i] = 0.5f + (float)(i % 7);
    int tested = 0;
    for (int t = 0; t < QS_TYPE_COUNT; t++) {
        if (!qs_type_can_quantize(t)) continue;
        const qs_type_traits *tt = qs_type_traits_get(t);
        if (n % tt->blck_size) continue;
        uint64_t row = qs_type_row_bytes(t, n);
        for (int use_imp = 0; use_imp < 2; use_imp++) {
            const float *w = use_imp ? imp : NULL;
            uint8_t *a = quantize_with((qs_type)t, x, n, nrows, w, 1);
            uint8_t *b = quantize_with((qs_type)t, x, n, nrows, w, 2);
            uint8_t *c = quantize_with((qs_type)t, x, n, nrows, w, 3);
            assert_memory_equal(a, b, row * nrows);
            assert_memory_equal(a, c, row * nrows);
            uint8_t *ref = malloc(row);
            for (int64_t r = 0; r < nrows; r += 37) {
                tt->quantize(x + r * n, ref, n, w);
                assert_memory_equal(ref, a + r * row, row);
            }
            free(ref);
            free(a);
            free(b);
            free(c);
        }
        tested++;
    }
    assert_true(tested >= 3); /* F32, F16, BF16 at least */
    free(x);
    free(imp);
}

typedef struct progress_log {
    int calls;
    uint64_t last_done, total;
    int non_increasing;
    int cancel_after;        /* > 0: return 1 on this call */
    atomic_int *set_flag_at; /* non-NULL: set this flag on the first call */
} progress_log;

/* Calls never overlap (the runner's guarantee), so plain fields are race-free; TSan checks. */
static int log_progress(void *user, uint64_t done, uint64_t total) {
    progress_log *p = user;
    p->calls++;
    if (done <= p->last_done && p->calls > 1) p->non_increasing++;
    p->last_done = done;
    p->total = total;
    if (p->set_flag_at) atomic_store(p->set_flag_at, 1);
    return p->cancel_after > 0 && p->calls >= p->cancel_after;
}

static void test_progress_reaches_total(void **state) {
    (void)state;
    const int64_t n = 32, nrows = 20000; /* tiny rows: reports must be rate-limited */
    float *x = malloc((size_t)(n * nrows) * sizeof(float));
    uint8_t *dst = malloc((size_t)(n * nrows) * 2);
    qs_test_gaussian(x, n * nrows, 3);
    progress_log log = {0};
    qs_quantize_opts o = {.n_threads = 2, .progress = log_progress, .progress_user = &log};
    qs_error err = {{0}};
    assert_int_equal(qs_quantize_rows(QS_TYPE_F16, x, dst, n, nrows, NULL, &o, &err), QS_OK);
    assert_int_equal(log.last_done, (uint64_t)nrows);
    assert_int_equal(log.total, (uint64_t)nrows);
    assert_int_equal(log.non_increasing, 0);
    assert_true(log.calls >= 2);
    assert_true(log.calls <= 258); /* ~256 steps + the final call */

    /* Dequantize reports the same way. */
    float *back = malloc((size_t)(n * nrows) * sizeof(float));
    progress_log log2 = {0};
    o.progress_user = &log2;
    assert_int_equal(qs_dequantize_rows(QS_TYPE_F16, dst, back, n, nrows, &o, &err), QS_OK);
    assert_int_equal(log2.last_done, (uint64_t)nrows);
    assert_int_equal(log2.non_increasing, 0);

    /* No rows: nothing to do, no progress. */
    progress_log log3 = {0};
    o.progress_user = &log3;
    assert_int_equal(qs_quantize_rows(QS_TYPE_F16, x, dst, n, 0, NULL, &o, &err), QS_OK);
    assert_int_equal(log3.calls, 0);
    free(x);
    free(dst);
    free(back);
}

static void test_cancel(void **state) {
    (void)state;
    const int64_t n = 64, nrows = 50000;
    float *x = malloc((size_t)(n * nrows) * sizeof(float));
    uint8_t *dst = malloc((size_t)(n * nrows) * 2);
    qs_test_gaussian(x, n * nrows, 5);
    qs_error err = {{0}};

    /* The progress callback asks to stop. */
    progress_log log = {.cancel_after = 1};
    qs_quantize_opts o = {.n_threads = 2, .progress = log_progress, .progress_user = &log};
    assert_int_equal(qs_quantize_rows(QS_TYPE_BF16, x, dst, n, nrows, NULL, &o, &err),
                     QS_CANCELLED);
    assert_int_equal(log.calls, 1); /* never called again after asking to stop */

    /* The callback sets the shared cancel flag (as a UI thread would). */
    atomic_int flag;
    atomic_init(&flag, 0);
    progress_log log2 = {.set_flag_at = &flag};
    o.progress_user = &log2;
    o.cancel = &flag;
    assert_int_equal(qs_quantize_rows(QS_TYPE_BF16, x, dst, n, nrows, NULL, &o, &err),
                     QS_CANCELLED);
    assert_true(log2.last_done < (uint64_t)nrows);

    /* Already cancelled: returns at once, writes nothing. */
    memset(dst, 0x5A, (size_t)(n * nrows) * 2);
    qs_quantize_opts o2 = {.n_threads = 2, .cancel = &flag};
    assert_int_equal(qs_quantize_rows(QS_TYPE_F16, x, dst, n, nrows, NULL, &o2, &err),
                     QS_CANCELLED);
    for (int64_t i = 0; i < n * nrows * 2; i += 4099) assert_int_equal(dst[i], 0x5A);
    float *back = malloc((size_t)(n * nrows) * sizeof(float));
    assert_int_equal(qs_dequantize_rows(QS_TYPE_F16, dst, back, n, nrows, &o2, &err),
                     QS_CANCELLED);
    free(back);
    free(x);
    free(dst);
}

static void test_bad_arguments(void **state) {
    (void)state;
    float x[512] = {0};
    uint8_t dst[2048];
    qs_error err = {{0}};
    assert_int_equal(qs_quantize_rows(QS_TYPE_Q4_K, x, dst, 172, 1, NULL, NULL, &err), QS_ERR);
    assert_string_equal(err.msg, "row of 172 values cannot hold Q4_K blocks of 256");
    assert_int_equal(qs_quantize_rows(QS_TYPE_Q8_0, x, dst, 48, 1, NULL, NULL, &err), QS_ERR);
    assert_string_equal(err.msg, "row of 48 values cannot hold Q8_0 blocks of 32");
    assert_int_equal(qs_dequantize_rows(QS_TYPE_Q6_K, dst, x, 100, 1, NULL, &err), QS_ERR);
    assert_string_equal(err.msg, "row of 100 values cannot hold Q6_K blocks of 256");
    /* Q8_K exists only as a dot-product partner: never a quantization target. */
    assert_int_equal(qs_quantize_rows(QS_TYPE_Q8_K, x, dst, 256, 1, NULL, NULL, &err), QS_ERR);
    assert_string_equal(err.msg, "cannot quantize to Q8_K");
    assert_int_equal(qs_quantize_rows(QS_TYPE_I32, x, dst, 16, 1, NULL, NULL, &err), QS_ERR);
    assert_string_equal(err.msg, "cannot quantize to I32");
    assert_int_equal(qs_dequantize_rows(QS_TYPE_I64, dst, x, 16, 1, NULL, &err), QS_ERR);
    assert_string_equal(err.msg, "cannot read values of I64 tensors");
    assert_int_equal(qs_quantize_rows((qs_type)4, x, dst, 32, 1, NULL, NULL, &err), QS_ERR);
    assert_string_equal(err.msg, "unknown tensor type id 4");
    assert_int_equal(qs_quantize_rows(QS_TYPE_F16, x, dst, 0, 1, NULL, NULL, &err), QS_ERR);
    assert_string_equal(err.msg, "row length must be positive (got 0)");
    assert_int_equal(qs_quantize_rows(QS_TYPE_F16, x, dst, 8, -1, NULL, NULL, &err), QS_ERR);
    assert_string_equal(err.msg, "row count must not be negative (got -1)");
    qs_quantize_opts o = {.n_threads = -2};
    assert_int_equal(qs_quantize_rows(QS_TYPE_F16, x, dst, 8, 1, NULL, &o, &err), QS_ERR);
    assert_string_equal(err.msg, "thread count must not be negative (got -2)");
    assert_int_equal(qs_quantize_rows(QS_TYPE_F16, NULL, dst, 8, 1, NULL, NULL, &err), QS_ERR);
    /* err may be NULL */
    assert_int_equal(qs_quantize_rows(QS_TYPE_Q4_K, x, dst, 172, 1, NULL, NULL, NULL), QS_ERR);
}

/* Dequantize: F16/BF16 bytes back to floats equal the scalar conversion, any thread count; and
 * for every type we can both write and read, dequantize(quantize(x)) matches the row functions. */
static void test_dequantize_rows(void **state) {
    (void)state;
    const int64_t n = 256, nrows = 700;
    float *x = malloc((size_t)(n * nrows) * sizeof(float));
    float *a = malloc((size_t)(n * nrows) * sizeof(float));
    float *b = malloc((size_t)(n * nrows) * sizeof(float));
    float *ref = malloc((size_t)n * sizeof(float));
    qs_test_heavy(x, n * nrows, 9);
    qs_error err = {{0}};
    int tested = 0;
    for (int t = 0; t < QS_TYPE_COUNT; t++) {
        if (!qs_type_can_quantize(t) || !qs_type_can_read(t)) continue;
        const qs_type_traits *tt = qs_type_traits_get(t);
        if (n % tt->blck_size) continue;
        uint8_t *q = quantize_with((qs_type)t, x, n, nrows, NULL, 0 /* all cores */);
        qs_quantize_opts o1 = {.n_threads = 1}, o2 = {.n_threads = 2};
        assert_int_equal(qs_dequantize_rows((qs_type)t, q, a, n, nrows, &o1, &err), QS_OK);
        assert_int_equal(qs_dequantize_rows((qs_type)t, q, b, n, nrows, &o2, &err), QS_OK);
        assert_memory_equal(a, b, (size_t)(n * nrows) * sizeof(float));
        uint64_t row = qs_type_row_bytes(t, n);
        for (int64_t r = 0; r < nrows; r += 13) {
            tt->to_float(q + r * row, ref, n);
            assert_memory_equal(ref, a + r * n, (size_t)n * sizeof(float));
        }
        if (t == QS_TYPE_F32) assert_memory_equal(a, x, (size_t)(n * nrows) * sizeof(float));
        if (t == QS_TYPE_F16 || t == QS_TYPE_BF16) {
            /* half-precision round trip: relative error below 2^-11 (F16) / 2^-8 (BF16) */
            double tol = t == QS_TYPE_F16 ? 0x1p-11 : 0x1p-8;
            for (int64_t i = 0; i < n * nrows; i += 7)
                assert_true(fabs((double)a[i] - x[i]) <= tol * fabs((double)x[i]) + 1e-7);
        }
        free(q);
        tested++;
    }
    assert_true(tested >= 3);
    free(x);
    free(a);
    free(b);
    free(ref);
}

/* ---------------------------------------------------------------- runner */

typedef struct count_ctx {
    atomic_int *seen;       /* per item: how many times processed */
    atomic_int max_worker;
    int64_t chunk;
    int fail_at_chunk;      /* >= 0: that chunk fails with a message */
} count_ctx;

static int count_task(void *ctx, int worker, int64_t begin, int64_t end, qs_error *err) {
    count_ctx *c = ctx;
    if (begin % c->chunk != 0) return qs_error_set(err, "misaligned chunk %lld", (long long)begin);
    int prev = atomic_load(&c->max_worker);
    while (worker > prev && !atomic_compare_exchange_weak(&c->max_worker, &prev, worker)) {}
    if (c->fail_at_chunk >= 0 && begin / c->chunk == c->fail_at_chunk)
        return qs_error_set(err, "chunk %lld broke", (long long)(begin / c->chunk));
    for (int64_t i = begin; i < end; i++) atomic_fetch_add(&c->seen[i], 1);
    return QS_OK;
}

static void test_runner(void **state) {
    (void)state;
    const int64_t n_items = 1001;
    atomic_int *seen = calloc((size_t)n_items, sizeof *seen);
    count_ctx c = {.seen = seen, .chunk = 3, .fail_at_chunk = -1};
    atomic_init(&c.max_worker, -1);
    qs_rows_job job = {.n_items = n_items, .chunk = 3, .n_workers = 7, .task = count_task,
                       .ctx = &c};
    qs_error err = {{0}};
    assert_int_equal(qs_rows_run(&job, &err), QS_OK);
    for (int64_t i = 0; i < n_items; i++) assert_int_equal(atomic_load(&seen[i]), 1);
    assert_true(atomic_load(&c.max_worker) < 7);

    /* A failing chunk stops the run and its message reaches the caller. */
    c.fail_at_chunk = 100;
    assert_int_equal(qs_rows_run(&job, &err), QS_ERR);
    assert_string_equal(err.msg, "chunk 100 broke");

    /* Worker counts. */
    assert_int_equal(qs_rows_workers(8, 5, 1), 5);
    assert_int_equal(qs_rows_workers(8, 100, 50), 2);
    assert_int_equal(qs_rows_workers(3, 0, 1), 1);
    assert_int_equal(qs_threads_resolve(4), 4);
    assert_int_equal(qs_threads_resolve(100000), QS_MAX_THREADS);
    assert_true(qs_threads_resolve(0) >= 1);
    job.chunk = 0;
    assert_int_equal(qs_rows_run(&job, &err), QS_ERR);
    free(seen);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_identical_bytes),
        cmocka_unit_test(test_progress_reaches_total),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_dequantize_rows),
        cmocka_unit_test(test_runner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
