/* The explorer's export job without a screen: started from the UI state, run as a tui_jobs job,
 * its end delivered through the event queue (as the event loop does: poll, drain), the output
 * holding the planned types; a second job refused while one is in flight; a failure reported; a
 * cancel reported once with nothing written; stopping at exit leaves no partial or temporary
 * file. (tests/e2e_tui_cancel.sh cancels an export while it writes.) */
#include "qs_test_util.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "tui_planui.h"

/* the explorer's setup (tui_run) with n_background + n_foreground workers */
static tui_ui *open_ui_workers(const char *model, int n_background, int n_foreground) {
    tui_ui *ui = calloc(1, sizeof *ui);
    qs_error err;
    assert_non_null(ui);
    if (tui_app_open(&ui->app, model, NULL, &err) != QS_OK) fail_msg("%s", err.msg);
    assert_int_equal(tui_events_init(&ui->ev, &err), QS_OK);
    assert_int_equal(tui_jobs_init(&ui->jobs, &ui->ev, n_background, n_foreground, &err), QS_OK);
    assert_int_equal(tui_pl_init(ui), QS_OK);
    return ui;
}

static tui_ui *open_ui(const char *model) { return open_ui_workers(model, 2, 2); }

/* as tui_run ends: the plan UI, the workers, then the done calls still queued */
static void close_ui(tui_ui *ui) {
    tui_pl_shutdown(ui);
    tui_jobs_shutdown(&ui->jobs);
    tui_events_drain(&ui->ev, ui);
    tui_events_destroy(&ui->ev);
    tui_app_close(&ui->app);
    free(ui);
}

/* the event loop's part: wait on the queue and run what arrives until the job is gone */
static void run_until_done(tui_ui *ui) {
    while (tui_export_running(ui)) {
        struct pollfd pf = {tui_events_fd(&ui->ev), POLLIN, 0};
        poll(&pf, 1, 1000);
        tui_events_drain(&ui->ev, ui);
    }
}

static void test_export_job(void **state) {
    (void)state;
    char model[1024];
    if (!qs_test_shared_path("models/stories260K.gguf", model, sizeof model)) skip();
    tui_ui *ui = open_ui(model);
    qs_error err;
    /* Q8_0 everywhere, the first block kept at F16 */
    ui->app.plan.default_type = QS_TYPE_Q8_0;
    assert_int_equal(tui_app_set_keep(&ui->app, 1, 0, QS_TYPE_F16, &err), QS_OK);
    char out[1024];
    snprintf(out, sizeof out, "%s/job-out.gguf", qs_test_tmpdir());
    assert_int_equal(tui_export_start(ui, out, &err), QS_OK);
    assert_true(tui_export_running(ui));
    /* one job at a time: the first is in flight until the loop has taken its result */
    char out2[1100];
    snprintf(out2, sizeof out2, "%s.2", out);
    assert_int_equal(tui_export_start(ui, out2, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "already running"));
    /* edits while it runs do not reach it */
    assert_int_equal(tui_app_set_keep(&ui->app, 0, 0, QS_TYPE_F16, &err), QS_OK);
    run_until_done(ui);
    assert_int_equal(ui->mode, TUI_MODE_MESSAGE);
    assert_string_equal(ui->msg_title, "export done");
    assert_non_null(strstr(ui->msg, out));
    assert_false(ui->app.status_error);
    qs_model *m = qs_model_open(out, &err);
    if (!m) fail_msg("%s", err.msg);
    int64_t q0 = qs_model_find(m, "blk.0.attn_q.weight"), q1 = qs_model_find(m, "blk.1.attn_q.weight");
    int64_t n0 = qs_model_find(m, "blk.0.attn_norm.weight");
    assert_true(q0 >= 0 && q1 >= 0 && n0 >= 0);
    assert_int_equal(m->tensors[q0].t->type, QS_TYPE_F16);
    assert_int_equal(m->tensors[q1].t->type, QS_TYPE_Q8_0);
    assert_int_equal(m->tensors[n0].t->type, QS_TYPE_F32);
    assert_int_equal(access(out2, F_OK), -1);
    qs_model_close(m);

    /* a folder that does not exist: the message says why, nothing is written */
    ui->mode = TUI_MODE_NORMAL;
    snprintf(out, sizeof out, "%s/no/such/folder/x.gguf", qs_test_tmpdir());
    assert_int_equal(tui_export_start(ui, out, &err), QS_OK);
    run_until_done(ui);
    assert_string_equal(ui->msg_title, "export failed");
    assert_non_null(strstr(ui->msg, "no/such/folder"));
    assert_true(ui->app.status_error);
    close_ui(ui);
}

/* quitting while a job runs: stopping joins the thread and leaves no file behind */
static void test_stop(void **state) {
    (void)state;
    char model[1024];
    if (!qs_test_shared_path("models/stories260K.gguf", model, sizeof model)) skip();
    tui_ui *ui = open_ui(model);
    qs_error err;
    ui->app.plan.default_type = QS_TYPE_Q4_0;
    tui_app_update(&ui->app);
    char out[1024];
    snprintf(out, sizeof out, "%s/stopped.gguf", qs_test_tmpdir());
    assert_int_equal(tui_export_start(ui, out, &err), QS_OK);
    tui_export_stop(ui);
    assert_false(tui_export_running(ui));
    /* either it was stopped in time (no file) or it had finished (a complete file): never a
     * partial one, and no temporary file either way */
    struct stat st;
    if (stat(out, &st) == 0) {
        qs_model *m = qs_model_open(out, &err);
        if (!m) fail_msg("a partial file was left: %s", err.msg);
        qs_model_close(m);
    }
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q 'stopped.gguf.tmp'", qs_test_tmpdir());
    assert_int_not_equal(system(cmd), 0);
    close_ui(ui); /* the queued done call only frees the job */
}

/* A job that holds a worker until released (the export queued behind it can be cancelled at a
 * known point). */
static atomic_int g_hold_started, g_hold_release;
static int run_hold(tui_job *j, void *arg, qs_error *err) {
    (void)arg;
    (void)err;
    atomic_store(&g_hold_started, 1);
    while (!atomic_load(&g_hold_release) && !tui_job_cancelled(j)) usleep(1000);
    return QS_OK;
}

static void count_status(tui_ui *ui, int *cancelled_msgs) {
    if (strstr(ui->app.status, "export cancelled")) (*cancelled_msgs)++;
    ui->app.status[0] = 0;
}

/* Esc on an export that has not written yet: one "cancelled" message, no output, no temporary
 * file, and the next export runs to completion */
static void test_cancel(void **state) {
    (void)state;
    char model[1024];
    if (!qs_test_shared_path("models/stories260K.gguf", model, sizeof model)) skip();
    tui_ui *ui = open_ui_workers(model, 1, 0); /* one worker: held, the export waits */
    qs_error err;
    atomic_store(&g_hold_started, 0);
    atomic_store(&g_hold_release, 0);
    tui_job_desc hold = {.label = "hold", .run = run_hold, .foreground = true};
    assert_true(tui_jobs_submit(&ui->jobs, &hold) > 0);
    while (!atomic_load(&g_hold_started)) usleep(1000);
    ui->app.plan.default_type = QS_TYPE_Q8_0;
    tui_app_update(&ui->app);
    char out[1024];
    snprintf(out, sizeof out, "%s/cancelled.gguf", qs_test_tmpdir());
    unlink(out);
    assert_int_equal(tui_export_start(ui, out, &err), QS_OK);
    double frac;
    const char *path;
    bool cancelling;
    assert_true(tui_export_progress(ui, &frac, &path, &cancelling));
    assert_string_equal(path, out);
    assert_false(cancelling);
    assert_true(tui_jobs_busy(&ui->jobs, TUI_JOB_KEY_EXPORT));
    tui_export_cancel(ui);
    atomic_store(&g_hold_release, 1);
    int msgs = 0;
    while (tui_export_running(ui)) {
        struct pollfd pf = {tui_events_fd(&ui->ev), POLLIN, 0};
        poll(&pf, 1, 1000);
        tui_events_drain(&ui->ev, ui);
        count_status(ui, &msgs);
    }
    /* whatever else arrives afterwards says nothing more about the export */
    tui_job_info left[1];
    while (tui_jobs_list(&ui->jobs, left, 1) > 0) { /* the held job ends too */
        struct pollfd pf = {tui_events_fd(&ui->ev), POLLIN, 0};
        poll(&pf, 1, 100);
        tui_events_drain(&ui->ev, ui);
        count_status(ui, &msgs);
    }
    tui_events_drain(&ui->ev, ui);
    count_status(ui, &msgs);
    assert_int_equal(msgs, 1);
    assert_int_not_equal(ui->mode, TUI_MODE_MESSAGE);
    assert_int_equal(access(out, F_OK), -1);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q 'cancelled.gguf.tmp'", qs_test_tmpdir());
    assert_int_not_equal(system(cmd), 0);

    /* the program goes on: the same export again, to the end */
    assert_int_equal(tui_export_start(ui, out, &err), QS_OK);
    run_until_done(ui);
    assert_string_equal(ui->msg_title, "export done");
    qs_model *m = qs_model_open(out, &err);
    if (!m) fail_msg("%s", err.msg);
    int64_t q1 = qs_model_find(m, "blk.1.attn_q.weight");
    assert_true(q1 >= 0);
    assert_int_equal(m->tensors[q1].t->type, QS_TYPE_Q8_0);
    qs_model_close(m);
    close_ui(ui);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_job),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
