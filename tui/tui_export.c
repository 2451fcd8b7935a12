/* The export job: qs_export on a copy of the plan as a foreground tui_jobs job (key
 * TUI_JOB_KEY_EXPORT), a progress gauge on the status line, Esc to cancel, one message when it
 * ends. qs_export writes a temporary file beside the output and renames it at the end; a cancel
 * or a failure removes the temporary file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "export.h"
#include "tui_planui.h"

/* Owned by the job from submit to its done call, which frees it. */
struct tui_export_job {
    const qs_model *m;           /* the app's model (read-only; open until the job has ended) */
    qs_plan plan;                /* a copy: the user may keep editing */
    char out[1024];
    uint64_t id;                 /* tui_jobs id */
    int rc;                      /* qs_export's status (worker; read in done) */
    qs_strlist warnings;
    double seconds;
    double shown;                /* UI thread: the fraction last drawn */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void job_free(tui_export_job *x) {
    qs_plan_free(&x->plan);
    qs_strlist_free(&x->warnings);
    free(x);
}

/* worker thread */
static int run_export(tui_job *job, void *arg, qs_error *err) {
    tui_export_job *x = arg;
    double t0 = now_s();
    qs_export_opts o = {
        .progress = tui_job_progress,
        .progress_user = job,
        .cancel = tui_job_cancel_flag(job),
        .warnings = &x->warnings,
    };
    x->rc = qs_export(x->m, &x->plan, x->out, &o, err);
    x->seconds = now_s() - t0;
    return x->rc;
}

/* UI thread, once the job has ended (also when stopped at exit: then ui->pl is gone or holds
 * no job, and only the argument is freed). */
static void export_done(void *uip, void *arg, int status, const char *msg) {
    tui_ui *ui = uip;
    tui_export_job *x = arg;
    if (!ui || !ui->pl || ui->pl->job != x) {
        job_free(x);
        return;
    }
    ui->pl->job = NULL;
    if (status == QS_OK) {
        struct stat st;
        char sz[32] = "?";
        if (stat(x->out, &st) == 0) tui_fmt_bytes((uint64_t)st.st_size, sz, sizeof sz);
        char w[400] = "";
        if (x->warnings.n)
            snprintf(w, sizeof w, " %d warning%s: %s", x->warnings.n, x->warnings.n > 1 ? "s" : "", x->warnings.v[0]);
        tui_pl_message(ui, "export done", "Exported %s (%s) in %.1f s. The plan is recorded in its metadata "
                       "(quantscope.plan).%s", x->out, sz, x->seconds, w);
        tui_pl_say(&ui->app, false, "exported %s", x->out);
    } else if (status == QS_CANCELLED) {
        tui_pl_say(&ui->app, true, "export cancelled: nothing written to %s", x->out);
    } else {
        tui_pl_message(ui, "export failed", "%s", status == QS_ENOMEM ? "out of memory" : msg);
        tui_pl_say(&ui->app, true, "export failed");
    }
    job_free(x);
}

int tui_export_start(tui_ui *ui, const char *out_path, qs_error *err) {
    tui_plan_ui *pl = ui->pl;
    if (pl->job) return qs_error_set(err, "an export is already running (Esc cancels it)");
    if (!ui->app.res_ok) return qs_error_set(err, "the plan does not resolve: %s", ui->app.res_err.msg);
    tui_export_job *x = calloc(1, sizeof *x);
    if (!x) return qs_error_set(err, "out of memory");
    qs_plan_init(&x->plan);
    if (qs_plan_copy(&x->plan, &ui->app.plan) != QS_OK) {
        job_free(x);
        return qs_error_set(err, "out of memory");
    }
    x->m = ui->app.model;
    snprintf(x->out, sizeof x->out, "%s", out_path);
    tui_job_desc d = {.label = "export", .key = TUI_JOB_KEY_EXPORT, .run = run_export, .done = export_done,
                      .arg = x, .foreground = true};
    x->id = tui_jobs_submit(&ui->jobs, &d);
    if (!x->id) {
        job_free(x);
        return qs_error_set(err, "cannot start the export (out of memory, or the program is stopping)");
    }
    pl->job = x;
    tui_pl_say(&ui->app, false, "exporting to %s", out_path);
    return QS_OK;
}

bool tui_export_running(const tui_ui *ui) { return ui->pl && ui->pl->job; }

void tui_export_cancel(tui_ui *ui) {
    if (tui_export_running(ui)) tui_jobs_cancel(&ui->jobs, ui->pl->job->id);
}

bool tui_export_progress(const tui_ui *ui, double *frac, const char **path, bool *cancelling) {
    if (!tui_export_running(ui)) return false;
    tui_export_job *x = ui->pl->job;
    tui_job_info info;
    /* (ended but its done call not run yet: the last figure drawn stays) */
    *cancelling = false;
    if (tui_jobs_info((tui_jobs *)&ui->jobs, x->id, &info)) {
        if (info.total) x->shown = (double)info.done / (double)info.total;
        *cancelling = info.cancelling;
    }
    *frac = x->shown;
    *path = x->out;
    return true;
}

void tui_export_stop(tui_ui *ui) {
    if (!tui_export_running(ui)) return;
    tui_export_job *x = ui->pl->job;
    tui_jobs_cancel(&ui->jobs, x->id);
    tui_jobs_wait(&ui->jobs, x->id);
    /* its done call is queued: it finds pl->job NULL and only frees x */
    ui->pl->job = NULL;
}
