/* tui_driver — runs the explorer for tests/e2e_tui.sh until `quantscope MODEL` calls tui_run.
 * Usage: tui_driver MODEL.gguf [--plan PLAN.yaml] [--theme NAME] */
#include <stdio.h>
#include <string.h>

#include "tui.h"

int main(int argc, char **argv) {
    const char *model = NULL, *plan = NULL, *theme = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--plan") && i + 1 < argc) plan = argv[++i];
        else if (!strcmp(argv[i], "--theme") && i + 1 < argc) theme = argv[++i];
        else if (argv[i][0] != '-' && !model) model = argv[i];
        else {
            fprintf(stderr, "usage: tui_driver MODEL.gguf [--plan PLAN.yaml] [--theme NAME]\n");
            return 2;
        }
    }
    qs_error err = {{0}};
    if (tui_run(model, plan, theme, &err) != QS_OK) {
        fprintf(stderr, "tui_driver: %s\n", err.msg);
        return 1;
    }
    return 0;
}
