#include "qs_fmt.h"

#include <stdio.h>
#include <string.h>

const char *qs_fmt_bytes(uint64_t b, char *buf, size_t n) {
    if (b < 1024) snprintf(buf, n, "%llu B", (unsigned long long)b);
    else if (b < 1024ull * 1024) snprintf(buf, n, "%.1f KiB", (double)b / 1024.0);
    else if (b < 1024ull * 1024 * 1024) snprintf(buf, n, "%.2f MiB", (double)b / (1024.0 * 1024.0));
    else snprintf(buf, n, "%.2f GiB", (double)b / (1024.0 * 1024.0 * 1024.0));
    return buf;
}

const char *qs_fmt_int(int64_t v, char *buf, size_t n) {
    if (n == 0) return buf;
    char tmp[32];
    /* the magnitude in unsigned arithmetic: -INT64_MIN does not fit an int64_t */
    const uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)a);
    size_t len = strlen(tmp), o = 0;
    if (v < 0 && o + 1 < n) buf[o++] = '-';
    for (size_t i = 0; i < len && o + 1 < n; i++) {
        buf[o++] = tmp[i];
        size_t left = len - i - 1;
        if (left > 0 && left % 3 == 0 && o + 1 < n) buf[o++] = ',';
    }
    buf[o] = 0;
    return buf;
}

const char *qs_fmt_count(int64_t v, char *buf, size_t n) {
    const double d = (double)v;
    if (v < 1000) snprintf(buf, n, "%lld", (long long)v);
    else if (v < 1000000) snprintf(buf, n, "%.1f K", d / 1e3);
    else if (v < 1000000000) snprintf(buf, n, "%.1f M", d / 1e6);
    else snprintf(buf, n, "%.2f B", d / 1e9);
    return buf;
}
