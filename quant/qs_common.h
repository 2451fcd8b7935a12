/* qs_common.h — status codes, error messages and callbacks shared by every layer.
 *
 * Errors are values: a library function returns QS_OK or a negative status and, on failure,
 * fills a caller-owned qs_error with a message that names the place (file, offset, line:col)
 * and what was expected. Library code never prints, never exits, never aborts on bad input. */
#ifndef QS_COMMON_H
#define QS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    QS_OK = 0,
    QS_ERR = -1,       /* bad input or failed operation; qs_error says why */
    QS_CANCELLED = -2, /* a progress callback or cancel flag asked to stop */
    QS_ENOMEM = -3,    /* allocation failed */
};

/* Caller-owned error buffer. msg is always NUL-terminated (empty when no error). */
typedef struct qs_error {
    char msg[512];
} qs_error;

/* printf-style: writes the message into e (if e is not NULL) and returns QS_ERR. */
int qs_error_set(qs_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes an existing message: "prefix: old message". Returns QS_ERR. */
int qs_error_prefix(qs_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Progress callback for long work. done/total are in units the caller documents (usually rows
 * or bytes). Called from worker threads, possibly concurrently: it must be thread-safe.
 * Return non-zero to ask the work to stop; the work then returns QS_CANCELLED. */
typedef int (*qs_progress_fn)(void *user, uint64_t done, uint64_t total);

/* Sizes: bytes are uint64_t, element counts int64_t (see DESIGN.md). */
#define QS_KIB (1024ull)
#define QS_MIB (1024ull * 1024ull)
#define QS_GIB (1024ull * 1024ull * 1024ull)

#endif
