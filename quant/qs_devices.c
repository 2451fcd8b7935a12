/* Device presets and the parsers of what the system reports. */
#include "qs_devices.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define GIB(n) ((uint64_t)(n) * QS_GIB)
#define P(key, lbl, kind, gib, uni) {key, lbl, kind, GIB(gib), 0, uni, true}

static const qs_device presets[] = {
    P("cpu", "CPU (system RAM, size unknown: detect it)", QS_DEV_CPU, 0, false),
    P("rtx3060", "NVIDIA GeForce RTX 3060 (12 GiB)", QS_DEV_NVIDIA, 12, false),
    P("rtx3070", "NVIDIA GeForce RTX 3070 (8 GiB)", QS_DEV_NVIDIA, 8, false),
    P("rtx3080", "NVIDIA GeForce RTX 3080 (10 GiB)", QS_DEV_NVIDIA, 10, false),
    P("rtx3080-12gb", "NVIDIA GeForce RTX 3080 (12 GiB)", QS_DEV_NVIDIA, 12, false),
    P("rtx3090", "NVIDIA GeForce RTX 3090 (24 GiB)", QS_DEV_NVIDIA, 24, false),
    P("rtx4060", "NVIDIA GeForce RTX 4060 (8 GiB)", QS_DEV_NVIDIA, 8, false),
    P("rtx4060ti", "NVIDIA GeForce RTX 4060 Ti (16 GiB)", QS_DEV_NVIDIA, 16, false),
    P("rtx4060ti-8gb", "NVIDIA GeForce RTX 4060 Ti (8 GiB)", QS_DEV_NVIDIA, 8, false),
    P("rtx4070", "NVIDIA GeForce RTX 4070 (12 GiB)", QS_DEV_NVIDIA, 12, false),
    P("rtx4070tisuper", "NVIDIA GeForce RTX 4070 Ti SUPER (16 GiB)", QS_DEV_NVIDIA, 16, false),
    P("rtx4080", "NVIDIA GeForce RTX 4080 (16 GiB)", QS_DEV_NVIDIA, 16, false),
    P("rtx4090", "NVIDIA GeForce RTX 4090 (24 GiB)", QS_DEV_NVIDIA, 24, false),
    P("rtx5070", "NVIDIA GeForce RTX 5070 (12 GiB)", QS_DEV_NVIDIA, 12, false),
    P("rtx5080", "NVIDIA GeForce RTX 5080 (16 GiB)", QS_DEV_NVIDIA, 16, false),
    P("rtx5090", "NVIDIA GeForce RTX 5090 (32 GiB)", QS_DEV_NVIDIA, 32, false),
    P("t4", "NVIDIA T4 (16 GiB)", QS_DEV_NVIDIA, 16, false),
    P("l4", "NVIDIA L4 (24 GiB)", QS_DEV_NVIDIA, 24, false),
    P("a10", "NVIDIA A10 (24 GiB)", QS_DEV_NVIDIA, 24, false),
    P("l40s", "NVIDIA L40S (48 GiB)", QS_DEV_NVIDIA, 48, false),
    P("a6000", "NVIDIA RTX A6000 (48 GiB)", QS_DEV_NVIDIA, 48, false),
    P("a100-40gb", "NVIDIA A100 (40 GiB)", QS_DEV_NVIDIA, 40, false),
    P("a100-80gb", "NVIDIA A100 (80 GiB)", QS_DEV_NVIDIA, 80, false),
    P("h100", "NVIDIA H100 (80 GiB)", QS_DEV_NVIDIA, 80, false),
    P("h200", "NVIDIA H200 (141 GiB)", QS_DEV_NVIDIA, 141, false),
    P("rx7900xtx", "AMD Radeon RX 7900 XTX (24 GiB, CUDA rules assumed)", QS_DEV_AMD, 24, false),
    P("m-16gb", "Apple M-series, 16 GiB unified (Metal not modelled)", QS_DEV_APPLE, 16, true),
    P("m-24gb", "Apple M-series, 24 GiB unified (Metal not modelled)", QS_DEV_APPLE, 24, true),
    P("m-32gb", "Apple M-series, 32 GiB unified (Metal not modelled)", QS_DEV_APPLE, 32, true),
    P("m-64gb", "Apple M-series, 64 GiB unified (Metal not modelled)", QS_DEV_APPLE, 64, true),
    P("m-128gb", "Apple M-series, 128 GiB unified (Metal not modelled)", QS_DEV_APPLE, 128, true),
};

int qs_device_presets(const qs_device **list) {
    *list = presets;
    return (int)(sizeof presets / sizeof presets[0]);
}

/* lower-case, without spaces, '-', '_', and without a leading "nvidia" / "geforce" */
static void normalise(const char *in, char *out, size_t cap) {
    size_t n = 0;
    for (; *in && n + 1 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == ' ' || c == '-' || c == '_') continue;
        out[n++] = (char)tolower(c);
    }
    out[n] = 0;
    for (int again = 1; again;) {
        again = 0;
        static const char *prefixes[] = {"nvidia", "geforce"};
        for (size_t i = 0; i < 2; i++) {
            size_t lp = strlen(prefixes[i]);
            if (strncmp(out, prefixes[i], lp) == 0) {
                memmove(out, out + lp, strlen(out + lp) + 1);
                again = 1;
            }
        }
    }
}

const qs_device *qs_device_preset_find(const char *name) {
    if (!name) return NULL;
    char want[96], key[96];
    normalise(name, want, sizeof want);
    if (!want[0]) return NULL;
    const qs_device *list;
    int n = qs_device_presets(&list);
    for (int i = 0; i < n; i++) {
        normalise(list[i].name, key, sizeof key);
        if (strcmp(key, want) == 0) return &list[i];
        /* "4090" for "rtx4090" */
        if (strncmp(key, "rtx", 3) == 0 && strcmp(key + 3, want) == 0) return &list[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Line parsing                                                                                */
/* ------------------------------------------------------------------------------------------ */

typedef struct lines {
    const char *p, *end;
    int no;
} lines;

/* next line without its '\n' (and '\r'); false at the end */
static bool next_line(lines *L, const char **s, size_t *n) {
    if (L->p >= L->end) return false;
    const char *e = memchr(L->p, '\n', (size_t)(L->end - L->p));
    if (!e) e = L->end;
    *s = L->p;
    *n = (size_t)(e - L->p);
    if (*n && (*s)[*n - 1] == '\r') (*n)--;
    L->p = e < L->end ? e + 1 : e;
    L->no++;
    return true;
}

static void trim(const char **s, size_t *n) {
    while (*n && isspace((unsigned char)**s)) (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

/* a decimal unsigned integer filling the whole field */
static bool parse_u64(const char *s, size_t n, uint64_t *v) {
    trim(&s, &n);
    if (!n) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        if (x > (UINT64_MAX - 9) / 10) return false;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    *v = x;
    return true;
}

int qs_device_parse_meminfo(const char *text, size_t len, qs_device *out, qs_error *err) {
    if (!text || !out) return qs_error_set(err, "meminfo: no text");
    uint64_t total = 0, avail = 0, mfree = 0, cached = 0;
    bool have_total = false, have_avail = false;
    lines L = {text, text + len, 0};
    const char *s;
    size_t n;
    while (next_line(&L, &s, &n)) {
        trim(&s, &n);
        if (!n) continue;
        const char *colon = memchr(s, ':', n);
        if (!colon) return qs_error_set(err, "meminfo: line %d: expected \"Key: value kB\"", L.no);
        size_t klen = (size_t)(colon - s);
        const char *v = colon + 1;
        size_t vn = n - klen - 1;
        trim(&v, &vn);
        uint64_t mult = 1;
        if (vn >= 2 && strncmp(v + vn - 2, "kB", 2) == 0) {
            mult = 1024;
            vn -= 2;
        }
        uint64_t x;
        bool wanted = (klen == 8 && !strncmp(s, "MemTotal", 8)) || (klen == 12 && !strncmp(s, "MemAvailable", 12)) ||
                      (klen == 7 && !strncmp(s, "MemFree", 7)) || (klen == 6 && !strncmp(s, "Cached", 6));
        if (!wanted) continue; /* other keys may carry anything; we only need these */
        if (!parse_u64(v, vn, &x) || x > UINT64_MAX / mult)
            return qs_error_set(err, "meminfo: line %d: expected a number of kB after \"%.*s:\"", L.no, (int)klen, s);
        x *= mult;
        if (klen == 8) total = x, have_total = true;
        else if (klen == 12) avail = x, have_avail = true;
        else if (klen == 7) mfree = x;
        else cached = x;
    }
    if (!have_total) return qs_error_set(err, "meminfo: no MemTotal line");
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "cpu");
    out->kind = QS_DEV_CPU;
    out->mem_total = total;
    out->mem_free = have_avail ? avail : mfree + cached;
    snprintf(out->label, sizeof out->label, "CPU (system RAM, %.1f GiB, %.1f GiB available)",
             (double)total / (double)QS_GIB, (double)out->mem_free / (double)QS_GIB);
    return QS_OK;
}

int qs_device_parse_nvidia_smi(const char *text, size_t len, qs_device *out, int max, int *n_out, qs_error *err) {
    if (!n_out) return qs_error_set(err, "nvidia-smi: no output count");
    *n_out = 0;
    if (!text) return QS_OK;
    lines L = {text, text + len, 0};
    const char *s;
    size_t n;
    int count = 0;
    while (next_line(&L, &s, &n)) {
        trim(&s, &n);
        if (!n) continue;
        /* fields: name, memory.total [, memory.free]; the name itself has no commas */
        const char *f[3];
        size_t fl[3];
        int nf = 0;
        const char *p = s, *e = s + n;
        while (nf < 3) {
            const char *c = memchr(p, ',', (size_t)(e - p));
            f[nf] = p;
            fl[nf] = (size_t)((c ? c : e) - p);
            trim(&f[nf], &fl[nf]);
            nf++;
            if (!c) break;
            p = c + 1;
            if (nf == 3) return qs_error_set(err, "nvidia-smi: line %d: expected \"name, MiB[, MiB]\", got more fields", L.no);
        }
        if (nf < 2 || fl[0] == 0)
            return qs_error_set(err, "nvidia-smi: line %d: expected \"name, memory.total\" (csv, noheader, nounits)", L.no);
        uint64_t total, freem = 0;
        if (!parse_u64(f[1], fl[1], &total))
            return qs_error_set(err, "nvidia-smi: line %d: memory.total \"%.*s\" is not a number of MiB", L.no,
                                (int)fl[1], f[1]);
        if (nf == 3 && !parse_u64(f[2], fl[2], &freem))
            return qs_error_set(err, "nvidia-smi: line %d: memory.free \"%.*s\" is not a number of MiB", L.no,
                                (int)fl[2], f[2]);
        if (total > UINT64_MAX / QS_MIB) return qs_error_set(err, "nvidia-smi: line %d: memory.total too large", L.no);
        if (count < max && out) {
            qs_device *d = &out[count];
            memset(d, 0, sizeof *d);
            snprintf(d->name, sizeof d->name, "%.*s", (int)(fl[0] < 63 ? fl[0] : 63), f[0]);
            d->kind = QS_DEV_NVIDIA;
            d->mem_total = total * QS_MIB;
            d->mem_free = freem * QS_MIB;
            snprintf(d->label, sizeof d->label, "%s (%.1f GiB)", d->name, (double)d->mem_total / (double)QS_GIB);
        }
        count++;
    }
    *n_out = count < max ? count : max;
    return QS_OK;
}
