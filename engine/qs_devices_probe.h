/* qs_devices_probe.h — the devices of this machine: system RAM from /proc/meminfo and NVIDIA GPUs
 * from nvidia-smi; this process's memory from /proc/self/status. The I/O lives here; the parsing is quant/qs_devices.c's (pure, tested on text). */
#ifndef QS_DEVICES_PROBE_H
#define QS_DEVICES_PROBE_H

#include "qs_devices.h"

/* Reads path (NULL = "/proc/meminfo") and fills a CPU device (MemTotal, MemAvailable).
 * QS_ERR with "PATH: ..." when the file cannot be read or parsed. */
int qs_devices_probe_host(const char *path, qs_device *out, qs_error *err);

/* Runs nvidia-smi (--query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits) and
 * parses up to max GPUs into out; *n = 0 when nvidia-smi is absent or fails (not an error: a
 * machine without NVIDIA GPUs). QS_ERR only when its output cannot be parsed. */
int qs_devices_probe_nvidia(qs_device *out, int max, int *n, qs_error *err);

/* A "Field:   N kB" line of a /proc file (status, smaps_rollup, meminfo), in bytes; 0 when
 * the file or the field is unavailable. */
uint64_t qs_proc_field_bytes(const char *path, const char *field);
/* This process's memory: a /proc/self/status field ("VmRSS", "VmHWM", "RssAnon", ...). */
uint64_t qs_proc_self_bytes(const char *field);
/* This process's resident memory on 2 MiB pages: AnonHugePages + FilePmdMapped of
 * /proc/self/smaps_rollup (weights quantized in memory, and the model file's mapped pages). */
uint64_t qs_proc_self_huge_bytes(void);

#endif
