/* Dispatch: quantscope [--help|--version] SUBCOMMAND [ARGS]. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#ifndef QS_VERSION
#define QS_VERSION "0.0.0"
#endif

extern const char cmd_tokenize_usage[];
int cmd_tokenize(int argc, char **argv);

const cli_command cli_commands[] = {
    {"tokenize", "text from stdin to token ids with the model's own tokenizer", cmd_tokenize_usage,
     cmd_tokenize},
    {NULL, NULL, NULL, NULL},
};

static void print_usage(FILE *f) {
    fprintf(f, "usage: quantscope [--help] [--version] COMMAND [ARGS]\n\n"
               "A terminal model explorer for local LLMs: inspect GGUF models, measure the\n"
               "error each quantization type adds, plan and export quantized models.\n\n"
               "commands:\n");
    for (const cli_command *c = cli_commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\nRun 'quantscope COMMAND --help' for a command's options.\n");
}

int cli_main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return CLI_USAGE;
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
