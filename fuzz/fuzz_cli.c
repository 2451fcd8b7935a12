/* fuzz_cli.c — libFuzzer harness for the small parsers and formatters behind command-line
 * options: sizes, counts and numbers (cli_util.h), type / preset / SIMD names, the device
 * presets and the /proc/meminfo and nvidia-smi parsers (qs_devices.h), and llama-quantize
 * arguments (qs_plan_import_args: the input split at newlines into at most 32 arguments; a plan
 * it returns must validate and give a command line back).
 *
 * Input: the whole input, NUL-terminated, goes through every string parser; its first 8 bytes
 * (zero-padded) also make an integer for the formatters. Checked promises: a size that parses
 * is the number times its binary unit (within double rounding: the result is compared with an
 * independent long double computation); a plain digit string parses to exactly its value; a
 * size cli_fmt_bytes prints parses back to within the printed precision; parsed names print
 * back to a name that parses to the same value; formatters never overflow their buffer or
 * leave it unterminated. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_util.h"
#include "qs_cpu.h"
#include "qs_devices.h"
#include "qs_plan.h"
#include "qs_types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *s) {
    fprintf(stderr, "fuzz_cli: broken promise: %s: '%s'\n", what, s);
    abort();
}

/* The size grammar, read independently of cli_parse_size: spaces, digits and at most one '.',
 * spaces, unit. Returns the expected value in long double (negative when not a size). */
static long double expected_size(const char *s) {
    static const struct { const char *u; long double m; } units[] = {
        {"", 1}, {"b", 1}, {"k", 1024.0L}, {"kb", 1024.0L}, {"kib", 1024.0L},
        {"m", 1048576.0L}, {"mb", 1048576.0L}, {"mib", 1048576.0L},
        {"g", 1073741824.0L}, {"gb", 1073741824.0L}, {"gib", 1073741824.0L},
        {"t", 1099511627776.0L}, {"tb", 1099511627776.0L}, {"tib", 1099511627776.0L},
    };
    while (*s == ' ') s++;
    const char *num = s;
    while ((*s >= '0' && *s <= '9') || *s == '.') s++;
    char nbuf[80];
    size_t nl = (size_t)(s - num);
    if (nl == 0 || nl >= sizeof nbuf) return -1;
    memcpy(nbuf, num, nl);
    nbuf[nl] = 0;
    while (*s == ' ') s++;
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
        if (strcasecmp(s, units[k].u) == 0) return strtold(nbuf, NULL) * units[k].m;
    return -1;
}

static void check_size(const char *s) {
    uint64_t v = 12345;
    if (cli_parse_size(s, &v) != 0) {
        if (v != 12345) fail("cli_parse_size changed *out on failure", s);
        return;
    }
    long double want = expected_size(s);
    if (want < 0) fail("cli_parse_size accepted text outside its grammar", s);
    long double got = (long double)v, tol = want * 1e-15L + 1.0L;
    if (fabsl(got - want) > tol) {
        fprintf(stderr, "got %llu, want %.3Lf\n", (unsigned long long)v, want);
        fail("cli_parse_size gave the wrong value", s);
    }
    /* plain digits: exact */
    const char *p = s;
    while (*p == ' ') p++;
    if (*p && strspn(p, "0123456789") == strlen(p)) {
        errno = 0;
        unsigned long long u = strtoull(p, NULL, 10);
        if (errno == 0 && u != v) fail("cli_parse_size of plain digits is not exact", s);
    }
}

static void check_formatters(uint64_t u) {
    char buf[64], small[6];
    cli_fmt_bytes(u, buf, sizeof buf);
    uint64_t back;
    /* printed with 2 significant digits at least ("1.3 KiB"): within 5% (+ rounding of small values);
     * values within that of 2^64 may print as 2^64, which is not a size */
    if (u < 0xfd00000000000000ull) {
        if (cli_parse_size(buf, &back) != 0) fail("cli_fmt_bytes output does not parse", buf);
        double rel = fabs((double)back - (double)u) / ((double)u + 1.0);
        if (rel > 0.05 + 1.0 / ((double)u + 1.0)) fail("cli_fmt_bytes does not parse back near the value", buf);
    }
    cli_fmt_bytes(u, small, sizeof small);
    if (!memchr(small, 0, sizeof small)) fail("cli_fmt_bytes left a small buffer unterminated", buf);

    int64_t i = (int64_t)u;
    cli_fmt_int(i, buf, sizeof buf);
    char *end;
    errno = 0;
    char digits[64];
    size_t o = 0;
    for (const char *p = buf; *p; p++)
        if (*p != ',') digits[o++] = *p;
    digits[o] = 0;
    long long r = strtoll(digits, &end, 10);
    if (*end || errno || r != i) fail("cli_fmt_int does not read back", buf);
    cli_fmt_int(i, small, sizeof small);
    if (!memchr(small, 0, sizeof small)) fail("cli_fmt_int left a small buffer unterminated", buf);
    cli_fmt_count(i, buf, sizeof buf);
    cli_fmt_count(i, small, sizeof small);
    if (!memchr(small, 0, sizeof small)) fail("cli_fmt_count left a small buffer unterminated", buf);
}

static void check_names(const char *s) {
    qs_type t;
    if (qs_type_from_name(s, &t) == QS_OK) {
        qs_type t2;
        if (!qs_type_valid(t) || qs_type_from_name(qs_type_name(t), &t2) != QS_OK || t2 != t)
            fail("type name does not round-trip", s);
    }
    qs_preset p;
    if (qs_preset_from_name(s, &p) == QS_OK) {
        qs_preset p2;
        if (p < 0 || p >= QS_PRESET_COUNT || qs_preset_from_name(qs_preset_name(p), &p2) != QS_OK || p2 != p)
            fail("preset name does not round-trip", s);
    }
    qs_simd_level l;
    qs_error err;
    if (qs_simd_parse(s, &l, &err) == QS_OK) {
        qs_simd_level l2;
        if (qs_simd_parse(qs_simd_level_name(l), &l2, &err) != QS_OK || l2 != l)
            fail("SIMD level name does not round-trip", s);
    }
    const qs_device *d = qs_device_preset_find(s);
    if (d && qs_device_preset_find(d->name) != d) fail("device preset name does not round-trip", s);
    int64_t iv = 7;
    if (cli_parse_int(s, &iv) != 0 && iv != 7) fail("cli_parse_int changed *out on failure", s);
    double dv = 7;
    if (cli_parse_double(s, &dv) == 0 && isnan(dv)) fail("cli_parse_double accepted NaN", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    check_size(s);
    check_names(s);

    qs_device dev;
    qs_error err;
    qs_device_parse_meminfo((const char *)data, size, &dev, &err);
    qs_device gpus[4];
    int n = -1;
    if (qs_device_parse_nvidia_smi((const char *)data, size, gpus, 4, &n, &err) == QS_OK && (n < 0 || n > 4))
        fail("nvidia-smi parser count out of range", s);

    /* llama-quantize arguments, one per line */
    char *argv[32];
    int argc = 0;
    for (char *p = s; argc < 32;) {
        argv[argc++] = p;
        char *nl = strchr(p, '\n');
        if (!nl) break;
        *nl = 0;
        p = nl + 1;
    }
    qs_plan plan;
    qs_strlist notes = {0};
    if (qs_plan_import_args(argc, (const char *const *)argv, NULL, &plan, &notes, &err) == QS_OK) {
        if (qs_plan_validate(&plan, &err) != QS_OK) fail("imported plan does not validate", err.msg);
        qs_strlist back = {0};
        if (qs_plan_export_args(&plan, NULL, &back, &err) == QS_OK) free(qs_plan_args_command(&back, "in", "out"));
        qs_strlist_free(&back);
        qs_plan_free(&plan);
    }
    qs_strlist_free(&notes);
    free(s);

    uint64_t u = 0;
    memcpy(&u, data, size < 8 ? size : 8);
    check_formatters(u);
    return 0;
}
