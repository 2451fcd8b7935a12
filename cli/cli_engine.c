/* cli_engine.c — model + plan + in-memory quantization for the engine commands. */
#include "cli_engine.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"

static atomic_int g_cancel;

static void on_signal(int sig) {
    (void)sig;
    atomic_store(&g_cancel, 1);
}

typedef struct progress_line {
    const qs_applied *a;
    int last_pm;  /* last permille drawn */
    int last_td;  /* last tensor count drawn */
    int width;    /* characters drawn, to wipe them */
} progress_line;

static int draw_progress(void *user, uint64_t done, uint64_t total) {
    progress_line *p = user;
    int pm = total ? (int)(1000 * done / total) : 1000;
    int td, tt;
    qs_applied_progress_tensors(p->a, &td, &tt);
    if (pm == p->last_pm && td == p->last_td) return 0;
    p->last_pm = pm;
    p->last_td = td;
    char a[32], b[32];
    int w = fprintf(stderr, "\rquantizing %d/%d tensors %3d%%  %s of %s ", td, tt, pm / 10,
                    cli_fmt_bytes(done, a, sizeof a), cli_fmt_bytes(total, b, sizeof b));
    if (w - 1 > p->width) p->width = w - 1;
    return 0;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int cli_engine_open(cli_engine *e, const char *cmd, const char *model_path, const char *plan_path,
                    const char *preset, int n_threads) {
    memset(e, 0, sizeof *e);
    if (plan_path && preset) return cli_usage_error(cmd, "give at most one of --plan and --preset");
    int rc = cli_planned_open(&e->cp, cmd, model_path, plan_path, preset);
    if (rc != CLI_OK) {
        memset(e, 0, sizeof *e);
        return rc;
    }
    e->n_threads = n_threads;
    e->has_plan = plan_path || preset;
    if (e->has_plan && (rc = cli_planned_resolve(&e->cp, cmd)) != CLI_OK) goto fail;
    cli_planned_print_warnings(&e->cp, cmd);

    qs_error err;
    e->applied = qs_applied_new(e->cp.m, &err);
    if (!e->applied) {
        rc = cli_fail(cmd, "%s", err.msg);
        goto fail;
    }
    if (!e->has_plan) {
        const int ft = e->cp.m->hp.file_type;
        snprintf(e->plan_desc, sizeof e->plan_desc, "as stored (%s)", ft >= 0 ? qs_ftype_name(ft) : "no file type");
        return CLI_OK;
    }
    if (preset) snprintf(e->plan_desc, sizeof e->plan_desc, "preset %s", qs_preset_name(e->cp.plan.preset));
    else snprintf(e->plan_desc, sizeof e->plan_desc, "plan %s", plan_path);

    const bool tty = isatty(STDERR_FILENO);
    progress_line pl = {.a = e->applied, .last_pm = -1, .last_td = -1};
    atomic_store(&g_cancel, 0);
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    qs_applied_opts o = {.n_threads = n_threads, .cancel = &g_cancel, .progress = tty ? draw_progress : NULL,
                         .progress_user = &pl};
    const double t0 = now_ms();
    int arc = qs_applied_apply(e->applied, &e->cp.plan, &o, &e->stats, &err);
    e->apply_ms = now_ms() - t0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (tty && pl.width > 0) fprintf(stderr, "\r%*s\r", pl.width, "");
    if (arc == QS_CANCELLED) {
        rc = cli_fail(cmd, "interrupted while quantizing %s in memory", e->plan_desc);
        goto fail;
    }
    if (arc != QS_OK) {
        rc = cli_fail(cmd, "%s: %s", model_path, err.msg);
        goto fail;
    }
    return CLI_OK;
fail:
    cli_engine_close(e);
    return rc;
}

const qs_infer_model *cli_engine_model(const cli_engine *e) { return qs_applied_planned(e->applied); }
const qs_infer_model *cli_engine_original(const cli_engine *e) { return qs_applied_original(e->applied); }
uint64_t cli_engine_quantized_bytes(const cli_engine *e) { return e->applied ? qs_applied_bytes(e->applied) : 0; }

const qs_tokenizer *cli_engine_tokenizer(cli_engine *e, const char *cmd) {
    if (e->tok) return e->tok;
    qs_error err;
    e->tok = qs_tok_load(e->cp.m->gguf, &err);
    if (!e->tok) cli_fail(cmd, "%s: %s", e->cp.m->gguf->path, err.msg);
    return e->tok;
}

void cli_engine_close(cli_engine *e) {
    qs_tok_free(e->tok);
    qs_applied_free(e->applied);
    if (e->cp.m) cli_planned_close(&e->cp);
    memset(e, 0, sizeof *e);
}
