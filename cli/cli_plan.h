/* cli_plan.h — what plan, estimate and quantize share: a model opened with a plan resolved
 * against it, built from --from/--plan FILE and --preset P. */
#ifndef QS_CLI_PLAN_H
#define QS_CLI_PLAN_H

#include "export.h"

typedef struct cli_planned {
    qs_model *m;      /* owned */
    qs_plan plan;     /* owned */
    qs_planned p;     /* resolution (valid after cli_planned_resolve) */
    bool resolved;
    qs_strlist warnings; /* what does not apply (fingerprint, unmatched rules), owned */
} cli_planned;

/* Opens model_path and starts the plan: loaded from plan_path when not NULL, then the preset
 * (when not NULL) set over it. Without either the plan is empty (default F16, no preset).
 * Prints "quantscope CMD: message" and returns CLI_FAIL / CLI_USAGE on failure (nothing to free);
 * CLI_OK otherwise. */
int cli_planned_open(cli_planned *c, const char *cmd, const char *model_path, const char *plan_path,
                     const char *preset);
/* Resolves the plan and collects the warnings (qs_plan_check_model against the model's own
 * fingerprint). CLI_OK or CLI_FAIL (message printed). */
int cli_planned_resolve(cli_planned *c, const char *cmd);
/* Prints each warning as "quantscope CMD: warning: ..." on stderr. */
void cli_planned_print_warnings(const cli_planned *c, const char *cmd);
void cli_planned_close(cli_planned *c);

#endif
