#include "cli.h"
const char cmd_estimate_usage[] = "usage: quantscope estimate\n";
int cmd_estimate(int argc, char **argv) { (void)argc; (void)argv; return CLI_FAIL; }
