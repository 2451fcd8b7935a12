/* qs_devices.h — devices to fit a model into: a table of common GPUs, and parsers for what the
 * system reports (/proc/meminfo, nvidia-smi). Pure: the parsers take text; reading the file and
 * running nvidia-smi live in engine/qs_devices_probe.c. */
#ifndef QS_DEVICES_H
#define QS_DEVICES_H

#include "qs_common.h"

typedef enum qs_device_kind {
    QS_DEV_CPU = 0,   /* system RAM */
    QS_DEV_NVIDIA,    /* CUDA: the estimate's GPU rules are CUDA's */
    QS_DEV_AMD,       /* ROCm/HIP: CUDA's rules assumed */
    QS_DEV_APPLE,     /* unified memory, Metal: not modelled, see quantscope-estimate(7) */
} qs_device_kind;

typedef struct qs_device {
    char name[64];        /* preset key ("rtx4090") or the name the driver reports */
    char label[96];       /* for people: "NVIDIA GeForce RTX 4090 (24 GiB)" */
    qs_device_kind kind;
    uint64_t mem_total;   /* bytes */
    uint64_t mem_free;    /* bytes available now; 0 = unknown (presets) */
    bool unified;         /* memory shared with the host (Apple M-series) */
    bool preset;          /* from the table, not detected */
} qs_device;

/* The preset table (static, never NULL); returns its length. Capacities are nominal (n GiB); what
 * a driver reports as usable is a little lower, so detected devices are preferred when present. */
int qs_device_presets(const qs_device **list);

/* A preset by name, case-insensitive, ignoring spaces, '-' and '_' and an "nvidia"/"geforce"
 * prefix: "RTX 4090", "rtx-4090", "4090" all find "rtx4090". NULL if none. */
const qs_device *qs_device_preset_find(const char *name);

/* Parses /proc/meminfo text (len bytes, need not be NUL-terminated) into a CPU device:
 * mem_total = MemTotal, mem_free = MemAvailable (or MemFree + Cached when MemAvailable is
 * missing). QS_ERR with "meminfo: line N: ..." when MemTotal is missing or a line is malformed. */
int qs_device_parse_meminfo(const char *text, size_t len, qs_device *out, qs_error *err);

/* Parses the output of
 *   nvidia-smi --query-gpu=name,memory.total[,memory.free] --format=csv,noheader,nounits
 * (one GPU per line, MiB) into up to max devices; *n = devices found. Empty text is 0 devices.
 * QS_ERR with "nvidia-smi: line N: ..." on a malformed line, "[N/A]" memory included. */
int qs_device_parse_nvidia_smi(const char *text, size_t len, qs_device *out, int max, int *n, qs_error *err);

#endif
