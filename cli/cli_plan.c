/* cli_plan.c — model + plan set-up shared by plan, estimate and quantize. */
#include "cli_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"

int cli_planned_open(cli_planned *c, const char *cmd, const char *model_path, const char *plan_path,
                     const char *preset) {
    memset(c, 0, sizeof *c);
    qs_plan_init(&c->plan);
    qs_preset pr = QS_PRESET_NONE;
    if (preset && qs_preset_from_name(preset, &pr) != QS_OK) {
        char list[512] = "";
        for (int i = 1; i < QS_PRESET_COUNT; i++) {
            strncat(list, i > 1 ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, qs_preset_name((qs_preset)i), sizeof list - strlen(list) - 1);
        }
        return cli_usage_error(cmd, "unknown preset '%s' (one of %s)", preset, list);
    }
    qs_error err;
    c->m = qs_model_open(model_path, &err);
    if (!c->m) return cli_fail(cmd, "%s", err.msg);
    if (plan_path && qs_plan_load(plan_path, &c->plan, &err) != QS_OK) {
        qs_model_close(c->m);
        c->m = NULL;
        return cli_fail(cmd, "%s", err.msg);
    }
    if (preset) qs_plan_set_preset(&c->plan, pr);
    return CLI_OK;
}

int cli_planned_resolve(cli_planned *c, const char *cmd) {
    qs_error err;
    qs_plan_fingerprint fp;
    if (qs_model_fingerprint(c->m, &fp) != QS_OK) return cli_fail(cmd, "out of memory");
    int rc = qs_planned_init(&c->p, c->m, &c->plan, &err);
    if (rc == QS_OK) {
        c->resolved = true;
        rc = qs_plan_check_model(&c->plan, &fp, &c->p.view, &c->warnings, &err);
        rc = rc < 0 ? rc : QS_OK;
    }
    free(fp.file);
    if (rc != QS_OK) return cli_fail(cmd, "%s", rc == QS_ENOMEM ? "out of memory" : err.msg);
    return CLI_OK;
}

void cli_planned_print_warnings(const cli_planned *c, const char *cmd) {
    for (int i = 0; i < c->warnings.n; i++) fprintf(stderr, "quantscope %s: warning: %s\n", cmd, c->warnings.v[i]);
}

void cli_planned_close(cli_planned *c) {
    if (c->resolved) qs_planned_free(&c->p);
    qs_plan_free(&c->plan);
    qs_strlist_free(&c->warnings);
    qs_model_close(c->m);
    memset(c, 0, sizeof *c);
}
