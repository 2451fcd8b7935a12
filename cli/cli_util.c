#include "cli_util.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "qs_fmt.h"

const char *cli_fmt_bytes(uint64_t b, char *buf, size_t n) { return qs_fmt_bytes(b, buf, n); }

const char *cli_fmt_int(int64_t v, char *buf, size_t n) { return qs_fmt_int(v, buf, n); }

const char *cli_fmt_count(int64_t v, char *buf, size_t n) { return qs_fmt_count(v, buf, n); }

int cli_parse_size(const char *s, uint64_t *out) {
    if (!s) return -1;
    /* Only plain decimal numbers: strtod alone would also take "0x10", "1e3", "inf", "-1". */
    const char *p = s;
    while (*p == ' ') p++;
    const char *num = p;
    int digits = 0, dots = 0;
    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
        if (*p == '.') dots++;
        else digits++;
    }
    if (digits == 0 || dots > 1) return -1;
    char nbuf[64];
    if ((size_t)(p - num) >= sizeof nbuf) return -1;
    memcpy(nbuf, num, (size_t)(p - num));
    nbuf[p - num] = 0;
    while (*p == ' ') p++;
    double mul = 1;
    if (*p) {
        static const struct { const char *u; double m; } units[] = {
            {"b", 1},           {"k", 1024.0},       {"kb", 1024.0},      {"kib", 1024.0},
            {"m", 1048576.0},   {"mb", 1048576.0},   {"mib", 1048576.0},  {"g", 1073741824.0},
            {"gb", 1073741824.0}, {"gib", 1073741824.0}, {"t", 1099511627776.0},
            {"tb", 1099511627776.0}, {"tib", 1099511627776.0},
        };
        size_t k;
        for (k = 0; k < sizeof units / sizeof units[0]; k++)
            if (strcasecmp(p, units[k].u) == 0) break;
        if (k == sizeof units / sizeof units[0]) return -1;
        mul = units[k].m;
        if (mul == 1 && dots) return -1; /* "1.5B": fractional bytes */
    } else if (dots) {
        return -1; /* fractional bytes */
    }
    if (!dots) {
        /* whole numbers exactly (a double would round above 2^53), units are powers of two */
        errno = 0;
        unsigned long long n = strtoull(nbuf, NULL, 10);
        uint64_t m = (uint64_t)mul;
        if (errno == ERANGE || n > UINT64_MAX / m) return -1;
        *out = (uint64_t)n * m;
        return 0;
    }
    double r = strtod(nbuf, NULL) * mul;
    if (!(r < 18446744073709551616.0)) return -1; /* does not fit in 64 bits */
    /* llround returns a signed long: at 2^63 and above the value is already a whole number */
    *out = r < 9223372036854775808.0 ? (uint64_t)llround(r) : (uint64_t)r;
    return 0;
}

int cli_parse_int(const char *s, int64_t *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || errno) return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || errno || isnan(v)) return -1;
    *out = v;
    return 0;
}

void cli_json_print(json_t *v) {
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(v);
}

json_t *cli_json_real(double v) { return isfinite(v) ? json_real(v) : json_null(); }

bool cli_utf8(void) {
    const char *cs = nl_langinfo(CODESET);
    return cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "quantscope %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nRun 'quantscope %s --help' for usage.\n", cmd);
    va_end(ap);
    return CLI_USAGE;
}

int cli_fail(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "quantscope %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_FAIL;
}
