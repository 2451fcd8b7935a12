/* The background job runner: results reach the UI thread in order, keys supersede, cancel and
 * shutdown end every job with exactly one done call; foreground jobs (a chat reply, an export)
 * start while background ones hold every background worker, and go ahead of queued ones;
 * tui_jobs_wait returns once a job has ended, its done call queued; the heap pages a job freed
 * are given back to the system by then (glibc: they stayed resident in the worker's arena). */
#include "qs_test_util.h"
#include "qs_devices_probe.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui_jobs.h"

typedef struct rec {
    int done_calls;
    int status;
    char msg[128];
    pthread_t done_thread;
    int runs;            /* the run function started (worker side, atomic enough for a test) */
    atomic_int release;  /* blocking jobs wait for this or for cancel */
    atomic_int started;
    atomic_int start_seq;  /* 1 + the order in which the job started (0: not yet) */
    char order[64];      /* 'p' for a post, 'd' for done, in arrival order */
    int order_n;
    uint64_t seen_done, seen_total;
} rec;

static void done_cb(void *ui, void *arg, int status, const char *msg) {
    (void)ui;
    rec *r = arg;
    r->done_calls++;
    r->status = status;
    snprintf(r->msg, sizeof r->msg, "%s", msg);
    r->done_thread = pthread_self();
    if (r->order_n < 63) r->order[r->order_n++] = 'd';
}

static void post_cb(void *ui, void *data) {
    (void)ui;
    rec *r = data;
    if (r->order_n < 63) r->order[r->order_n++] = 'p';
}

/* Drains events until cond(arg) holds; a guard of 20 s against a hang (not a timing check). */
static bool pump(tui_events *ev, bool (*cond)(void *), void *arg) {
    for (int i = 0; i < 2000 && !cond(arg); i++) {
        struct pollfd pf = {tui_events_fd(ev), POLLIN, 0};
        poll(&pf, 1, 10);
        tui_events_drain(ev, NULL);
    }
    return cond(arg);
}

static bool is_done(void *a) { return ((rec *)a)->done_calls > 0; }
static bool has_started(void *a) { return atomic_load(&((rec *)a)->started) != 0; }

static int run_progress(tui_job *j, void *arg, qs_error *err) {
    (void)err;
    rec *r = arg;
    r->runs++;
    for (uint64_t i = 1; i <= 10; i++)
        if (tui_job_progress(j, i, 10)) return QS_CANCELLED;
    tui_job_post(j, post_cb, r);
    tui_job_post(j, post_cb, r);
    return QS_OK;
}

static atomic_int g_seq;

static int run_blocking(tui_job *j, void *arg, qs_error *err) {
    (void)err;
    rec *r = arg;
    r->runs++;
    atomic_store(&r->start_seq, atomic_fetch_add(&g_seq, 1) + 1);
    atomic_store(&r->started, 1);
    while (!atomic_load(&r->release)) {
        if (tui_job_cancelled(j)) {
            /* progress reports the cancel too */
            return tui_job_progress(j, 1, 2) ? QS_CANCELLED : QS_ERR;
        }
        usleep(1000);
    }
    return QS_OK;
}

static int run_fail(tui_job *j, void *arg, qs_error *err) {
    (void)j;
    ((rec *)arg)->runs++;
    return qs_error_set(err, "model.gguf: tensor 3: bad type");
}

/* A queue and its workers (bg background, fg foreground), and their end: shutdown, the done
 * calls still queued run, the queue freed. */
static void jobs_up(tui_events *ev, tui_jobs *jobs, int bg, int fg) {
    qs_error err;
    assert_int_equal(tui_events_init(ev, &err), QS_OK);
    assert_int_equal(tui_jobs_init(jobs, ev, bg, fg, &err), QS_OK);
}
static void jobs_down(tui_events *ev, tui_jobs *jobs) {
    tui_jobs_shutdown(jobs);
    tui_events_drain(ev, NULL);
    tui_events_destroy(ev);
}

static void test_done_on_ui_thread_in_order(void **state) {
    (void)state;
    tui_events ev;
    tui_jobs jobs;
    jobs_up(&ev, &jobs, 2, 0);
    static rec r;
    memset(&r, 0, sizeof r);
    tui_job_desc d = {.label = "progress", .run = run_progress, .done = done_cb, .arg = &r};
    assert_true(tui_jobs_submit(&jobs, &d) > 0);
    assert_true(pump(&ev, is_done, &r));
    assert_int_equal(r.done_calls, 1);
    assert_int_equal(r.status, QS_OK);
    assert_string_equal(r.msg, "");
    assert_true(pthread_equal(r.done_thread, pthread_self()));
    assert_string_equal(r.order, "ppd"); /* posts first, then done */
    assert_false(tui_jobs_busy(&jobs, 0));

    /* a failing job: its message reaches done */
    static rec f;
    memset(&f, 0, sizeof f);
    d = (tui_job_desc){.label = "fail", .run = run_fail, .done = done_cb, .arg = &f};
    assert_true(tui_jobs_submit(&jobs, &d) > 0);
    assert_true(pump(&ev, is_done, &f));
    assert_int_equal(f.status, QS_ERR);
    assert_string_equal(f.msg, "model.gguf: tensor 3: bad type");

    jobs_down(&ev, &jobs);
}

static void test_supersede_and_cancel(void **state) {
    (void)state;
    tui_events ev;
    tui_jobs jobs;
    jobs_up(&ev, &jobs, 1, 0);
    static rec a, b, c, x;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    memset(&x, 0, sizeof x);
    /* a (key 7) runs and blocks the only worker; b (key 9) waits behind it */
    tui_job_desc da = {.label = "a", .key = 7, .run = run_blocking, .done = done_cb, .arg = &a};
    tui_job_desc db = {.label = "b", .key = 9, .run = run_blocking, .done = done_cb, .arg = &b};
    uint64_t ida = tui_jobs_submit(&jobs, &da);
    assert_true(ida > 0);
    assert_true(pump(&ev, has_started, &a));
    uint64_t idb = tui_jobs_submit(&jobs, &db);
    assert_true(idb > ida);
    tui_job_info info[4];
    int n = tui_jobs_list(&jobs, info, 4);
    assert_int_equal(n, 2);
    assert_true(info[0].running && info[0].id == ida && !strcmp(info[0].label, "a"));
    assert_true(!info[1].running && info[1].id == idb);
    assert_true(tui_jobs_busy(&jobs, 9));

    /* c with key 9 supersedes the queued b: b ends without ever running */
    tui_job_desc dc = {.label = "c", .key = 9, .run = run_progress, .done = done_cb, .arg = &c};
    assert_true(tui_jobs_submit(&jobs, &dc) > 0);
    assert_true(pump(&ev, is_done, &b));
    assert_int_equal(b.status, QS_CANCELLED);
    assert_int_equal(b.runs, 0);
    assert_int_equal(c.done_calls, 0); /* still behind a */

    /* x with key 7 supersedes the running a: its cancel flag stops it, then c and x run */
    tui_job_desc dx = {.label = "x", .key = 7, .run = run_progress, .done = done_cb, .arg = &x};
    assert_true(tui_jobs_submit(&jobs, &dx) > 0);
    assert_true(pump(&ev, is_done, &a));
    assert_int_equal(a.status, QS_CANCELLED);
    assert_true(pump(&ev, is_done, &x));
    assert_int_equal(c.status, QS_OK);
    assert_int_equal(x.status, QS_OK);
    assert_int_equal(a.done_calls + b.done_calls + c.done_calls + x.done_calls, 4);

    /* cancel by id */
    static rec y;
    memset(&y, 0, sizeof y);
    tui_job_desc dy = {.label = "y", .run = run_blocking, .done = done_cb, .arg = &y};
    uint64_t idy = tui_jobs_submit(&jobs, &dy);
    assert_true(pump(&ev, has_started, &y));
    assert_false(tui_jobs_cancel(&jobs, idy + 100));
    assert_true(tui_jobs_cancel(&jobs, idy));
    assert_true(pump(&ev, is_done, &y));
    assert_int_equal(y.status, QS_CANCELLED);
    assert_false(tui_jobs_cancel_key(&jobs, 7));

    jobs_down(&ev, &jobs);
}

static void test_shutdown_ends_everything(void **state) {
    (void)state;
    tui_events ev;
    tui_jobs jobs;
    jobs_up(&ev, &jobs, 1, 0);
    static rec a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    tui_job_desc da = {.label = "a", .run = run_blocking, .done = done_cb, .arg = &a};
    tui_job_desc db = {.label = "b", .run = run_blocking, .done = done_cb, .arg = &b};
    assert_true(tui_jobs_submit(&jobs, &da) > 0);
    assert_true(tui_jobs_submit(&jobs, &db) > 0);
    assert_true(pump(&ev, has_started, &a));
    tui_jobs_shutdown(&jobs); /* returns: the running job saw its cancel flag */
    tui_events_drain(&ev, NULL);
    assert_int_equal(a.done_calls, 1);
    assert_int_equal(a.status, QS_CANCELLED);
    assert_int_equal(b.done_calls, 1);
    assert_int_equal(b.status, QS_CANCELLED);
    assert_int_equal(b.runs, 0);
    /* after shutdown nothing is queued, and the caller keeps its argument */
    static rec c;
    memset(&c, 0, sizeof c);
    tui_job_desc dc = {.label = "c", .run = run_progress, .done = done_cb, .arg = &c};
    assert_int_equal(tui_jobs_submit(&jobs, &dc), 0);
    tui_jobs_shutdown(&jobs); /* twice is harmless */
    tui_events_destroy(&ev);
}

/* 2 background workers busy with long jobs and a third background job queued: a foreground
 * job (a chat reply) still starts, on the worker kept for it, and the queued background job does
 * not take that worker. No timing: the long jobs hold until released. */
static void test_foreground_lane(void **state) {
    (void)state;
    tui_events ev;
    tui_jobs jobs;
    jobs_up(&ev, &jobs, 2, 1);
    static rec a, b, c, f;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    memset(&f, 0, sizeof f);
    tui_job_desc da = {.label = "errors a", .key = TUI_JOB_KEY_ERROR_TABLE, .run = run_blocking, .done = done_cb, .arg = &a};
    tui_job_desc db = {.label = "errors b", .key = TUI_JOB_KEY_TENSOR_ERRORS, .run = run_blocking, .done = done_cb, .arg = &b};
    tui_job_desc dc = {.label = "errors c", .run = run_blocking, .done = done_cb, .arg = &c};
    tui_job_desc df = {.label = "generating", .key = TUI_JOB_KEY_GENERATE, .run = run_blocking, .done = done_cb,
                       .arg = &f, .foreground = true};
    assert_true(tui_jobs_submit(&jobs, &da) > 0);
    assert_true(tui_jobs_submit(&jobs, &db) > 0);
    assert_true(pump(&ev, has_started, &a));
    assert_true(pump(&ev, has_started, &b));
    uint64_t idc = tui_jobs_submit(&jobs, &dc);
    uint64_t idf = tui_jobs_submit(&jobs, &df);
    assert_true(idc > 0 && idf > idc);
    assert_true(pump(&ev, has_started, &f)); /* would hang (and fail) if it queued behind a, b, c */
    assert_int_equal(atomic_load(&c.started), 0); /* c cannot start before a or b ends */
    tui_job_info info;
    assert_true(tui_jobs_info(&jobs, idf, &info));
    assert_true(info.running && info.foreground && !strcmp(info.label, "generating"));
    assert_true(tui_jobs_info(&jobs, idc, &info));
    assert_true(!info.running && !info.foreground);
    /* the reply ends; the background jobs are still where they were */
    atomic_store(&f.release, 1);
    assert_true(pump(&ev, is_done, &f));
    assert_int_equal(f.status, QS_OK);
    assert_int_equal(a.done_calls + b.done_calls + c.done_calls, 0);
    assert_int_equal(atomic_load(&c.started), 0);
    assert_false(tui_jobs_info(&jobs, idf, &info));
    /* a background job ends: c takes its worker */
    atomic_store(&a.release, 1);
    assert_true(pump(&ev, has_started, &c));
    assert_int_equal(a.status, QS_OK);
    atomic_store(&b.release, 1);
    atomic_store(&c.release, 1);
    assert_true(pump(&ev, is_done, &b));
    assert_true(pump(&ev, is_done, &c));
    jobs_down(&ev, &jobs);
}

/* one worker, no reserved lane: a foreground job queued after a background one starts first */
static void test_foreground_first_in_queue(void **state) {
    (void)state;
    tui_events ev;
    tui_jobs jobs;
    jobs_up(&ev, &jobs, 1, 0);
    static rec a, b, f;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&f, 0, sizeof f);
    atomic_store(&g_seq, 0);
    tui_job_desc da = {.label = "a", .run = run_blocking, .done = done_cb, .arg = &a};
    tui_job_desc db = {.label = "b", .run = run_blocking, .done = done_cb, .arg = &b};
    tui_job_desc df = {.label = "f", .run = run_blocking, .done = done_cb, .arg = &f, .foreground = true};
    assert_true(tui_jobs_submit(&jobs, &da) > 0);
    assert_true(pump(&ev, has_started, &a));
    assert_true(tui_jobs_submit(&jobs, &db) > 0);
    assert_true(tui_jobs_submit(&jobs, &df) > 0);
    atomic_store(&b.release, 1);
    atomic_store(&f.release, 1);
    atomic_store(&a.release, 1);
    assert_true(pump(&ev, is_done, &b));
    assert_true(pump(&ev, is_done, &f));
    assert_int_equal(atomic_load(&a.start_seq), 1);
    assert_int_equal(atomic_load(&f.start_seq), 2);
    assert_int_equal(atomic_load(&b.start_seq), 3);
    jobs_down(&ev, &jobs);
}

/* tui_jobs_wait: after cancel + wait the job has ended and its done call is already queued */
static void test_wait(void **state) {
    (void)state;
    tui_events ev;
    tui_jobs jobs;
    jobs_up(&ev, &jobs, 1, 1);
    static rec a, q;
    memset(&a, 0, sizeof a);
    memset(&q, 0, sizeof q);
    tui_job_desc da = {.label = "export", .run = run_blocking, .done = done_cb, .arg = &a, .foreground = true};
    uint64_t id = tui_jobs_submit(&jobs, &da);
    assert_true(pump(&ev, has_started, &a));
    assert_true(tui_jobs_cancel(&jobs, id));
    tui_jobs_wait(&jobs, id);
    tui_job_info info;
    assert_false(tui_jobs_info(&jobs, id, &info));
    assert_int_equal(a.done_calls, 0);    /* not run on the waiting thread ... */
    tui_events_drain(&ev, NULL);          /* ... but queued: one drain runs it */
    assert_int_equal(a.done_calls, 1);
    assert_int_equal(a.status, QS_CANCELLED);
    tui_jobs_wait(&jobs, id);             /* an ended id: at once */
    tui_jobs_wait(&jobs, id + 100);       /* an unknown one too */
    jobs_down(&ev, &jobs);
}

/* RSS means nothing under ASan (quarantine), and the trim is glibc's. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QS_TEST_NO_RSS 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
#define QS_TEST_NO_RSS 1
#endif

#ifndef QS_TEST_NO_RSS
enum { FRAG_N = 160, FRAG_BIG = 32 * 1024 };

typedef struct frag {
    void *pin[FRAG_N]; /* small blocks kept between the freed ones (they pin the arena's top) */
    int ok;
} frag;

/* Worker: what error-metric jobs do on a small scale: 5 MiB of buffers in 32 KiB pieces,
 * touched, freed, with small blocks that stay allocated between them. */
static int run_fragment(tui_job *j, void *arg, qs_error *err) {
    (void)j;
    (void)err;
    frag *f = arg;
    static void *big[FRAG_N];
    f->ok = 1;
    for (int i = 0; i < FRAG_N; i++) {
        big[i] = malloc(FRAG_BIG);
        f->pin[i] = malloc(48);
        if (!big[i] || !f->pin[i]) f->ok = 0;
        else memset(big[i], i + 1, FRAG_BIG);
    }
    for (int i = 0; i < FRAG_N; i++) free(big[i]);
    return QS_OK;
}

#endif

/* Long sessions: a job's freed buffers must not stay resident. Without the worker's trim the
 * 5 MiB freed above stay in RssAnon (their holes lie below live blocks: glibc returns only a free
 * top); with it at most a few pages remain. RSS means nothing under ASan (quarantine), and the
 * trim is glibc's: skipped elsewhere. */
static void test_freed_pages_returned(void **state) {
    (void)state;
#ifdef QS_TEST_NO_RSS
    skip();
#else
    static frag f;
    memset(&f, 0, sizeof f);
    const long before = (long)(qs_proc_self_bytes("RssAnon") / 1024);
    if (before <= 0) skip(); /* no /proc/self/status here */
    tui_events ev;
    tui_jobs jobs;
    jobs_up(&ev, &jobs, 1, 1);
    tui_job_desc d = {.label = "fragment", .run = run_fragment, .arg = &f};
    uint64_t id = tui_jobs_submit(&jobs, &d);
    assert_true(id != 0);
    tui_jobs_wait(&jobs, id);
    const long after = (long)(qs_proc_self_bytes("RssAnon") / 1024);
    assert_int_equal(f.ok, 1);
    printf("RssAnon %ld KiB before the job, %ld KiB after it (%d KiB allocated and freed)\n", before, after,
           FRAG_N * FRAG_BIG / 1024);
    assert_true(after - before < 1024);
    for (int i = 0; i < FRAG_N; i++) free(f.pin[i]);
    jobs_down(&ev, &jobs);
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_done_on_ui_thread_in_order),
        cmocka_unit_test(test_supersede_and_cancel),
        cmocka_unit_test(test_shutdown_ends_everything),
        cmocka_unit_test(test_foreground_lane),
        cmocka_unit_test(test_foreground_first_in_queue),
        cmocka_unit_test(test_wait),
        cmocka_unit_test(test_freed_pages_returned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
