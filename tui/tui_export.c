/* The export job: qs_export on a copy of the plan in a background thread, a progress gauge on the
 * status line, Esc to cancel, a message when it ends.
 *
 * This is the smallest job runner one export needs (a thread, atomics for progress, a
 * tui_events_post when done). It moves to tui_jobs, the shared background-job runner, when both
 * are merged. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "export.h"
#include "tui_planui.h"

struct tui_export_job {
    pthread_t th;
    tui_events *ev;
    const qs_model *m;           /* the app's model (read-only; stays open while the job runs) */
    qs_plan plan;                /* a copy: the user may keep editing */
    char out[1024];
    atomic_int cancel;
    _Atomic uint64_t done, total; /* bytes of output tensor data */
    atomic_int shown;            /* progress in 1/1000 last woken for */
    atomic_int finished;         /* the thread has returned its result */
    atomic_int post_failed;      /* the done message could not be queued: the frame polls */
    int rc;
    qs_error err;
    qs_strlist warnings;
    double seconds;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int on_progress(void *user, uint64_t done, uint64_t total) {
    tui_export_job *j = user;
    atomic_store(&j->done, done);
    atomic_store(&j->total, total);
    int pm = total ? (int)(done * 1000 / total) : 0;
    /* wake the loop for a redraw every 0.5 % */
    if (pm - atomic_load(&j->shown) >= 5 || pm == 1000) {
        atomic_store(&j->shown, pm);
        tui_events_wake(j->ev);
    }
    return atomic_load(&j->cancel);
}

static void finish(tui_ui *ui);

static void on_done(void *uip, void *data) {
    tui_ui *ui = uip;
    if (ui->pl && ui->pl->job == data) finish(ui);
}

static void *worker(void *arg) {
    tui_export_job *j = arg;
    double t0 = now_s();
    qs_export_opts o = {
        .progress = on_progress,
        .progress_user = j,
        .cancel = &j->cancel,
        .warnings = &j->warnings,
    };
    j->rc = qs_export(j->m, &j->plan, j->out, &o, &j->err);
    j->seconds = now_s() - t0;
    atomic_store(&j->finished, 1);
    if (tui_events_post(j->ev, on_done, j) != QS_OK) {
        atomic_store(&j->post_failed, 1);
        tui_events_wake(j->ev);
    }
    return NULL;
}

static void job_free(tui_export_job *j) {
    qs_plan_free(&j->plan);
    qs_strlist_free(&j->warnings);
    free(j);
}

int tui_export_start(tui_ui *ui, const char *out_path, qs_error *err) {
    tui_plan_ui *pl = ui->pl;
    if (pl->job) return qs_error_set(err, "an export is already running (Esc cancels it)");
    if (!ui->app.res_ok) return qs_error_set(err, "the plan does not resolve: %s", ui->app.res_err.msg);
    tui_export_job *j = calloc(1, sizeof *j);
    if (!j) return qs_error_set(err, "out of memory");
    qs_plan_init(&j->plan);
    if (qs_plan_copy(&j->plan, &ui->app.plan) != QS_OK) {
        free(j);
        return qs_error_set(err, "out of memory");
    }
    j->ev = &ui->ev;
    j->m = ui->app.model;
    snprintf(j->out, sizeof j->out, "%s", out_path);
    atomic_init(&j->cancel, 0);
    atomic_init(&j->done, 0);
    atomic_init(&j->total, 0);
    atomic_init(&j->shown, 0);
    atomic_init(&j->finished, 0);
    atomic_init(&j->post_failed, 0);
    int e = pthread_create(&j->th, NULL, worker, j);
    if (e != 0) {
        job_free(j);
        return qs_error_set(err, "cannot start the export thread: %s", strerror(e));
    }
    pl->job = j;
    tui_pl_say(&ui->app, false, "exporting to %s", out_path);
    return QS_OK;
}

bool tui_export_running(const tui_ui *ui) { return ui->pl && ui->pl->job; }

void tui_export_cancel(tui_ui *ui) {
    if (tui_export_running(ui)) atomic_store(&ui->pl->job->cancel, 1);
}

bool tui_export_progress(const tui_ui *ui, double *frac, const char **path, bool *cancelling) {
    if (!tui_export_running(ui)) return false;
    tui_export_job *j = ui->pl->job;
    if (atomic_load(&j->post_failed)) {
        finish((tui_ui *)ui);
        return false;
    }
    uint64_t d = atomic_load(&j->done), t = atomic_load(&j->total);
    *frac = t ? (double)d / (double)t : 0.0;
    *path = j->out;
    *cancelling = atomic_load(&j->cancel) != 0;
    return true;
}

/* UI thread, once the worker has returned: joins it and says how it went. */
static void finish(tui_ui *ui) {
    tui_export_job *j = ui->pl->job;
    pthread_join(j->th, NULL);
    ui->pl->job = NULL;
    if (j->rc == QS_OK) {
        struct stat st;
        char sz[32] = "?";
        if (stat(j->out, &st) == 0) tui_fmt_bytes((uint64_t)st.st_size, sz, sizeof sz);
        char w[400] = "";
        if (j->warnings.n)
            snprintf(w, sizeof w, " %d warning%s: %s", j->warnings.n, j->warnings.n > 1 ? "s" : "", j->warnings.v[0]);
        tui_pl_message(ui, "export done", "Exported %s (%s) in %.1f s. The plan is recorded in its metadata "
                       "(quantscope.plan).%s", j->out, sz, j->seconds, w);
        tui_pl_say(&ui->app, false, "exported %s", j->out);
    } else if (j->rc == QS_CANCELLED) {
        tui_pl_say(&ui->app, true, "export cancelled: nothing written to %s", j->out);
    } else {
        tui_pl_message(ui, "export failed", "%s", j->rc == QS_ENOMEM ? "out of memory" : j->err.msg);
        tui_pl_say(&ui->app, true, "export failed");
    }
    job_free(j);
}

void tui_export_stop(tui_ui *ui) {
    if (!tui_export_running(ui)) return;
    tui_export_job *j = ui->pl->job;
    atomic_store(&j->cancel, 1);
    pthread_join(j->th, NULL);
    /* a done message may still be queued: it finds pl->job NULL (or the queue is destroyed
     * without running it) */
    ui->pl->job = NULL;
    job_free(j);
}
