/* Reading /proc/meminfo and running nvidia-smi. */
#include "qs_devices_probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Reads a whole stream into a malloc'd buffer (at most cap bytes). */
static char *slurp(FILE *f, size_t cap, size_t *len) {
    size_t n = 0, size = 4096;
    char *buf = malloc(size);
    if (!buf) return NULL;
    for (;;) {
        if (n == size) {
            if (size >= cap) break;
            size *= 2;
            char *nb = realloc(buf, size);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, size - n, f);
        n += got;
        if (got == 0) break;
    }
    *len = n;
    return buf;
}

int qs_devices_probe_host(const char *path, qs_device *out, qs_error *err) {
    if (!path) path = "/proc/meminfo";
    FILE *f = fopen(path, "r");
    if (!f) return qs_error_set(err, "%s: %s", path, strerror(errno));
    size_t len = 0;
    char *text = slurp(f, 1u << 20, &len);
    bool read_err = ferror(f);
    fclose(f);
    if (!text) return qs_error_set(err, "%s: out of memory", path), QS_ENOMEM;
    if (read_err) {
        free(text);
        return qs_error_set(err, "%s: read error", path);
    }
    int rc = qs_device_parse_meminfo(text, len, out, err);
    free(text);
    if (rc != QS_OK) qs_error_prefix(err, "%s", path);
    return rc;
}

int qs_devices_probe_nvidia(qs_device *out, int max, int *n, qs_error *err) {
    if (!n) return qs_error_set(err, "nvidia-smi: no output count");
    *n = 0;
    FILE *p = popen("nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits 2>/dev/null",
                    "r");
    if (!p) return QS_OK; /* cannot start a shell: treat as no GPU */
    size_t len = 0;
    char *text = slurp(p, 1u << 20, &len);
    int status = pclose(p);
    if (!text) return qs_error_set(err, "nvidia-smi: out of memory"), QS_ENOMEM;
    int rc = QS_OK;
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        rc = qs_device_parse_nvidia_smi(text, len, out, max, n, err);
    free(text);
    return rc;
}

uint64_t qs_proc_field_bytes(const char *path, const char *field) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[256];
    uint64_t kb = 0;
    const size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') {
            kb = strtoull(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb * 1024;
}

uint64_t qs_proc_self_bytes(const char *field) { return qs_proc_field_bytes("/proc/self/status", field); }

uint64_t qs_proc_self_huge_bytes(void) {
    return qs_proc_field_bytes("/proc/self/smaps_rollup", "AnonHugePages") +
           qs_proc_field_bytes("/proc/self/smaps_rollup", "FilePmdMapped");
}
