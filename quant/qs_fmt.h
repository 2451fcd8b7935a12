/* qs_fmt.h — numbers as quantscope prints them, the same on the command line and on screen.
 *
 * Each writes a NUL-terminated string of at most n bytes (n > 0) into buf and returns buf.
 * Pure functions, thread-safe. */
#ifndef QS_FMT_H
#define QS_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes in binary units: "512 B", "1.5 KiB", "2.25 MiB", "1.20 GiB". */
const char *qs_fmt_bytes(uint64_t bytes, char *buf, size_t n);
/* An integer with thousands separators: "-1,234,567". Correct for INT64_MIN. */
const char *qs_fmt_int(int64_t v, char *buf, size_t n);
/* A count in decimal units: "999", "1.5 K", "2.3 M", "1.24 B" (parameters, tokens). */
const char *qs_fmt_count(int64_t v, char *buf, size_t n);

#endif
