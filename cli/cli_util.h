/* cli_util.h — small helpers shared by the subcommands: sizes, counts, JSON, locale. */
#ifndef QS_CLI_UTIL_H
#define QS_CLI_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "512 B", "12.0 KiB", "629.99 MiB", "4.37 GiB" into buf. Returns buf. */
const char *cli_fmt_bytes(uint64_t bytes, char *buf, size_t n);
/* "292,800" into buf. Returns buf. */
const char *cli_fmt_int(int64_t v, char *buf, size_t n);
/* "292.8 K", "1.10 B" into buf. Returns buf. */
const char *cli_fmt_count(int64_t v, char *buf, size_t n);

/* Parses a size: plain bytes ("1048576"), or a number with a unit: K/KB/KiB, M/MB/MiB,
 * G/GB/GiB, T/TB/TiB (all binary: 1 G = 1024^3, as memory is sized), case-insensitive,
 * fractions allowed ("6.5G"). 0 on success, -1 on a malformed or overflowing size. */
int cli_parse_size(const char *s, uint64_t *out);

/* Strict number parsers for option values: the whole string must be a number. 0 / -1. */
int cli_parse_int(const char *s, int64_t *out);
int cli_parse_double(const char *s, double *out);

/* Prints a JSON value to stdout with a newline and releases it. */
void cli_json_print(json_t *v);
/* JSON number for a double; +-inf and NaN become null. */
json_t *cli_json_real(double v);

/* True when the locale's character set is UTF-8 (after setlocale(LC_ALL, "")). */
bool cli_utf8(void);

/* Usage error: prints "quantscope CMD: message" and a hint to stderr, returns CLI_USAGE (2). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* User error: prints "quantscope CMD: message" to stderr, returns CLI_FAIL (1). */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
