/* cli.h — the quantscope command line: one table of subcommands, each parse -> call -> print.
 *
 * Exit codes: 0 success, 1 user error (message on stderr), 2 bad usage. */
#ifndef QS_CLI_H
#define QS_CLI_H

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct cli_command {
    const char *name;
    const char *summary; /* one line for the command list */
    const char *usage;   /* full --help text */
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} cli_command;

/* The program's entry point (main() only calls this). */
int cli_main(int argc, char **argv);

/* The subcommand table (NULL-name terminated). */
extern const cli_command cli_commands[];

#endif
