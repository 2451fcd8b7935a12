/* The explorer's export job without a screen: started from the UI state, run in its thread, its
 * end delivered through the event queue (as the event loop does: poll, drain), the output holding
 * the planned types; a second job refused while one is in flight; a failure reported. */
#include "qs_test_util.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "tui_planui.h"

static tui_ui *open_ui(const char *model) {
    tui_ui *ui = calloc(1, sizeof *ui);
    qs_error err;
    assert_non_null(ui);
    if (tui_app_open(&ui->app, model, NULL, &err) != QS_OK) fail_msg("%s", err.msg);
    assert_int_equal(tui_events_init(&ui->ev, &err), QS_OK);
    assert_int_equal(tui_pl_init(ui), QS_OK);
    return ui;
}

static void close_ui(tui_ui *ui) {
    tui_pl_shutdown(ui);
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
    close_ui(ui); /* a queued done message is dropped with the queue */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_job),
        cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
