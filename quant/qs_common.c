#include "qs_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int qs_error_set(qs_error *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return QS_ERR;
}

int qs_error_prefix(qs_error *e, const char *fmt, ...) {
    if (e) {
        char old[sizeof e->msg];
        memcpy(old, e->msg, sizeof old);
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof e->msg)
            snprintf(e->msg + n, sizeof e->msg - (size_t)n, ": %s", old);
    }
    return QS_ERR;
}
