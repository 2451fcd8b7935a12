#include "cli.h"
const char cmd_quantize_usage[] = "usage: quantscope quantize\n";
int cmd_quantize(int argc, char **argv) { (void)argc; (void)argv; return CLI_FAIL; }
