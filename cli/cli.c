/* Dispatch: quantscope [--help|--version] SUBCOMMAND [ARGS]. */
#include "cli.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_scan.h"
#include "tui.h"

#ifndef QS_VERSION
#define QS_VERSION "0.0.0"
#endif

extern const char cmd_info_usage[], cmd_tensor_usage[], cmd_errors_usage[], cmd_synth_usage[];
extern const char cmd_plan_usage[], cmd_estimate_usage[], cmd_quantize_usage[];
int cmd_plan(int argc, char **argv);
int cmd_estimate(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tensor(int argc, char **argv);
int cmd_errors(int argc, char **argv);
extern const char cmd_tokenize_usage[];
int cmd_tokenize(int argc, char **argv);
extern const char cmd_ppl_usage[], cmd_bench_usage[];
int cmd_ppl(int argc, char **argv);
int cmd_bench(int argc, char **argv);
extern const char cmd_chat_usage[];
int cmd_chat(int argc, char **argv);

const cli_command cli_commands[] = {
    {"info", "what a model is made of: hyper-parameters, types, tensor table", cmd_info_usage, cmd_info},
    {"tensor", "one tensor's facts and value statistics; dump its values", cmd_tensor_usage, cmd_tensor},
    {"errors", "the error quantizing each tensor to a type adds (stats, histograms)", cmd_errors_usage, cmd_errors},
    {"plan", "resolve a quantization plan: type, reason and bytes per tensor", cmd_plan_usage, cmd_plan},
    {"estimate", "memory a model needs under a plan: parts by device, fit, max context", cmd_estimate_usage, cmd_estimate},
    {"quantize", "export a GGUF quantized per a plan or preset", cmd_quantize_usage, cmd_quantize},
    {"synth", "write a random-weight model with a real model's shape", cmd_synth_usage, cmd_synth},
    {"tokenize", "text from stdin to token ids with the model's own tokenizer", cmd_tokenize_usage, cmd_tokenize},
    {"ppl", "perplexity over a text; with --kld, a plan's divergence from the original", cmd_ppl_usage, cmd_ppl},
    {"bench", "prompt and generation speed (tokens/s) of the model as planned", cmd_bench_usage, cmd_bench},
    {"chat", "talk with the model, or complete a prompt, through quantscope's engine", cmd_chat_usage, cmd_chat},
    {NULL, NULL, NULL, NULL},
};

static void print_usage(FILE *f) {
    fprintf(f, "usage: quantscope [MODEL.gguf] [--plan PLAN.yaml] [--theme NAME]\n"
               "       quantscope [--help] [--version] COMMAND [ARGS]\n\n"
               "A terminal model explorer for local LLMs: inspect GGUF models, measure the\n"
               "error each quantization type adds, plan and export quantized models.\n\n"
               "commands:\n");
    for (const cli_command *c = cli_commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\nWith no model, quantscope opens a picker of the GGUF models on this machine and its\n"
               "built-in demo model (random weights); not on a terminal, it prints the demo's info.\n"
               "Run 'quantscope COMMAND --help' for a command's options.\n");
}

static bool is_command(const char *name) {
    for (const cli_command *c = cli_commands; c->name; c++)
        if (!strcmp(c->name, name)) return true;
    return false;
}

int cli_main(int argc, char **argv) {
    setlocale(LC_ALL, "");
    /* Past a file-size limit (ulimit -f) write() fails with EFBIG once SIGXFSZ is ignored;
     * by default the signal would kill us with the temporary file half written and no word. */
    signal(SIGXFSZ, SIG_IGN);
    /* quantscope [MODEL.gguf] [--plan P] [--theme T]: the explorer on a terminal (no model: the
     * model picker, which lists the built-in demo model too); when stdin or stdout is not a
     * terminal (pipes, scripts), the model's info instead (no model: the demo's). A command
     * name wins over a file of that name (the source tree has a bench/ folder). */
    bool no_model = argc < 2 || !strcmp(argv[1], "--plan") || !strcmp(argv[1], "--theme");
    if (no_model || (argv[1][0] != '-' && !is_command(argv[1]) && access(argv[1], F_OK) == 0)) {
        const char *model = no_model ? NULL : argv[1];
        const char *plan = NULL, *theme = NULL;
        for (int i = no_model ? 1 : 2; i < argc; i++) {
            if (!strcmp(argv[i], "--plan") && i + 1 < argc) plan = argv[++i];
            else if (!strcmp(argv[i], "--theme") && i + 1 < argc) theme = argv[++i];
            else {
                fprintf(stderr, "quantscope: unexpected argument '%s' (usage: quantscope [MODEL.gguf] "
                                "[--plan PLAN.yaml] [--theme NAME])\n", argv[i]);
                return CLI_USAGE;
            }
        }
        qs_error err;
        if (isatty(0) && isatty(1)) {
            if (tui_run(model, plan, theme, &err) != QS_OK) {
                fprintf(stderr, "quantscope: %s\n", err.msg);
                return CLI_FAIL;
            }
            return CLI_OK;
        }
        char demo[1024];
        if (!model) {
            if (!(model = qs_demo_model(demo, sizeof demo, &err))) {
                fprintf(stderr, "quantscope: %s\n", err.msg);
                return CLI_FAIL;
            }
            printf("built-in demo model (random weights, tiny llama shape): %s\n\n", model);
        }
        char *args[] = {"info", (char *)model, NULL};
        return cmd_info(2, args);
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        print_usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("quantscope %s\n", QS_VERSION);
        return CLI_OK;
    }
    for (const cli_command *c = cli_commands; c->name; c++) {
        if (strcmp(argv[1], c->name) != 0) continue;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--")) break;
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                fputs(c->usage, stdout);
                return CLI_OK;
            }
        }
        return c->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "quantscope: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return CLI_USAGE;
}
