/* Run-time CPU feature detection (cpuid + xgetbv) and the SIMD level choice. */
#include "qs_cpu.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__) || defined(_M_X64)
#define QS_CPU_X86 1
#include <cpuid.h>
#endif

/* ---------------------------------------------------------------- detection */

#ifdef QS_CPU_X86
static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    r[0] = r[1] = r[2] = r[3] = 0;
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

/* XCR0: which register states the OS saves on context switch. Only valid when OSXSAVE. */
static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static bool bit(uint32_t v, int b) { return (v >> b) & 1u; }

static void detect_x86(qs_cpu_features *f) {
    uint32_t r[4];
    snprintf(f->arch, sizeof f->arch, "x86-64");
    cpuid(0, 0, r);
    uint32_t max_leaf = r[0];
    memcpy(f->vendor + 0, &r[1], 4); /* EBX, EDX, ECX spell the vendor */
    memcpy(f->vendor + 4, &r[3], 4);
    memcpy(f->vendor + 8, &r[2], 4);
    f->vendor[12] = '\0';

    uint32_t l1c = 0, l7b = 0, l7c = 0, l7s1a = 0;
    if (max_leaf >= 1) {
        cpuid(1, 0, r);
        l1c = r[2];
    }
    if (max_leaf >= 7) {
        cpuid(7, 0, r);
        uint32_t max_sub = r[0];
        l7b = r[1];
        l7c = r[2];
        if (max_sub >= 1) {
            cpuid(7, 1, r);
            l7s1a = r[0];
        }
    }

    bool osxsave = bit(l1c, 27);
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    f->os_ymm = (xcr0 & 0x6u) == 0x6u;                       /* SSE (1) + AVX (2) */
    f->os_zmm = f->os_ymm && (xcr0 & 0xe0u) == 0xe0u;        /* opmask, ZMM_Hi256, Hi16_ZMM */

    f->sse42 = bit(l1c, 20);
    f->avx = f->os_ymm && bit(l1c, 28);
    f->fma = f->avx && bit(l1c, 12);
    f->f16c = f->avx && bit(l1c, 29);
    f->avx2 = f->avx && bit(l7b, 5);
    f->bmi2 = bit(l7b, 8);
    f->avx512f = f->os_zmm && bit(l7b, 16);
    f->avx512dq = f->avx512f && bit(l7b, 17);
    f->avx512bw = f->avx512f && bit(l7b, 30);
    f->avx512vl = f->avx512f && bit(l7b, 31);
    f->avx512vnni = f->avx512f && bit(l7c, 11);
    f->avx512bf16 = f->avx512f && bit(l7s1a, 5);
    f->avxvnni = f->avx && bit(l7s1a, 4);

    cpuid(0x80000000u, 0, r);
    if (r[0] >= 0x80000004u) {
        char b[49];
        for (uint32_t i = 0; i < 3; i++) {
            cpuid(0x80000002u + i, 0, r);
            memcpy(b + 16 * i, r, 16);
        }
        b[48] = '\0';
        const char *s = b;
        while (*s == ' ') s++;
        snprintf(f->brand, sizeof f->brand, "%s", s);
        size_t n = strlen(f->brand);
        while (n > 0 && f->brand[n - 1] == ' ') f->brand[--n] = '\0';
    }
}
#endif

void qs_cpu_detect(qs_cpu_features *out) {
    memset(out, 0, sizeof *out);
#if defined(QS_CPU_X86)
    detect_x86(out);
#elif defined(__aarch64__)
    snprintf(out->arch, sizeof out->arch, "aarch64");
    out->neon = true; /* Advanced SIMD is mandatory in AArch64 */
#if defined(__ARM_FEATURE_DOTPROD)
    out->neon_dotprod = true;
#endif
#else
    snprintf(out->arch, sizeof out->arch, "other");
#endif
}

static pthread_once_t features_once = PTHREAD_ONCE_INIT;
static qs_cpu_features features_cached; /* written once under pthread_once, then read-only */

static void features_init(void) { qs_cpu_detect(&features_cached); }

const qs_cpu_features *qs_cpu_features_get(void) {
    pthread_once(&features_once, features_init);
    return &features_cached;
}

/* ---------------------------------------------------------------- levels */

bool qs_simd_level_usable(const qs_cpu_features *f, qs_simd_level l) {
    switch (l) {
    case QS_SIMD_SCALAR: return true;
    case QS_SIMD_NEON: return f->neon;
    case QS_SIMD_AVX2: return f->avx2 && f->fma && f->f16c && f->bmi2 && f->os_ymm;
    case QS_SIMD_AVX512:
        return qs_simd_level_usable(f, QS_SIMD_AVX2) && f->os_zmm && f->avx512f &&
               f->avx512bw && f->avx512vl && f->avx512dq && f->avx512vnni && f->avx512bf16;
    default: return false;
    }
}

/* Preference order, best first. */
static const qs_simd_level preference[] = {QS_SIMD_AVX512, QS_SIMD_AVX2, QS_SIMD_NEON,
                                           QS_SIMD_SCALAR};

qs_simd_level qs_simd_best_level(const qs_cpu_features *f) {
    for (size_t i = 0; i < sizeof preference / sizeof preference[0]; i++)
        if (qs_simd_level_usable(f, preference[i])) return preference[i];
    return QS_SIMD_SCALAR;
}

const char *qs_simd_level_name(qs_simd_level l) {
    switch (l) {
    case QS_SIMD_AUTO: return "auto";
    case QS_SIMD_SCALAR: return "scalar";
    case QS_SIMD_NEON: return "neon";
    case QS_SIMD_AVX2: return "avx2";
    case QS_SIMD_AVX512: return "avx512";
    }
    return "?";
}

const char *qs_simd_level_describe(qs_simd_level l) {
    switch (l) {
    case QS_SIMD_AUTO: return "automatic";
    case QS_SIMD_SCALAR: return "portable C (no SIMD)";
    case QS_SIMD_NEON: return "ARM NEON";
    case QS_SIMD_AVX2: return "AVX2 + FMA + F16C";
    case QS_SIMD_AVX512: return "AVX-512 (F/BW/VL/DQ/VNNI/BF16)";
    }
    return "?";
}

int qs_simd_parse(const char *s, qs_simd_level *out, qs_error *err) {
    *out = QS_SIMD_AUTO;
    if (!s) return QS_OK;
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
    static const struct { const char *name; qs_simd_level level; } names[] = {
        {"auto", QS_SIMD_AUTO},  {"scalar", QS_SIMD_SCALAR}, {"neon", QS_SIMD_NEON},
        {"avx2", QS_SIMD_AVX2},  {"avx512", QS_SIMD_AVX512}, {"avx-512", QS_SIMD_AVX512},
    };
    if (n == 0) return QS_OK;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == n && strncasecmp(s, names[i].name, n) == 0) {
            *out = names[i].level;
            return QS_OK;
        }
    }
    return qs_error_set(err, "unknown SIMD level \"%.*s\": expected scalar, avx2, avx512, neon "
                             "or auto", (int)(n > 64 ? 64 : n), s);
}

int qs_simd_choose(const qs_cpu_features *f, const char *request, qs_simd_level *out,
                   qs_error *err) {
    qs_simd_level best = qs_simd_best_level(f);
    qs_simd_level want;
    *out = best;
    qs_error perr;
    if (qs_simd_parse(request, &want, &perr) != QS_OK)
        return qs_error_set(err, "%s; using %s", perr.msg, qs_simd_level_name(best));
    if (want == QS_SIMD_AUTO) return QS_OK;
    if (qs_simd_level_usable(f, want)) {
        *out = want;
        return QS_OK;
    }
    /* Clamp: the best usable level that is not above the request in the preference order. */
    size_t i = 0;
    while (preference[i] != want) i++;
    for (; i < sizeof preference / sizeof preference[0]; i++) {
        if (qs_simd_level_usable(f, preference[i])) {
            *out = preference[i];
            break;
        }
    }
    return qs_error_set(err, "%s kernels cannot run on this CPU (best: %s); using %s",
                        qs_simd_level_name(want), qs_simd_level_name(best),
                        qs_simd_level_name(*out));
}

int qs_simd_level_from_env(const qs_cpu_features *f, qs_simd_level *out, qs_error *err) {
    const char *v = getenv("QS_SIMD");
    if (qs_simd_choose(f, v, out, err) != QS_OK) return qs_error_prefix(err, "QS_SIMD");
    return QS_OK;
}

static pthread_once_t active_once = PTHREAD_ONCE_INIT;
static qs_simd_level active_level; /* written once under pthread_once */
static qs_error active_note;       /* idem */

static void active_init(void) {
    active_note.msg[0] = '\0';
    if (qs_simd_level_from_env(qs_cpu_features_get(), &active_level, &active_note) == QS_OK)
        active_note.msg[0] = '\0';
}

qs_simd_level qs_simd_active_level(const char **note) {
    pthread_once(&active_once, active_init);
    if (note) *note = active_note.msg;
    return active_level;
}

/* ---------------------------------------------------------------- description */

char *qs_cpu_describe(const qs_cpu_features *f, qs_simd_level active, char *buf, size_t size) {
    if (!buf || size == 0) return buf;
    size_t len = 0;
#define PUT(...)                                                                         \
    do {                                                                                 \
        if (len < size) {                                                                \
            int k_ = snprintf(buf + len, size - len, __VA_ARGS__);                       \
            if (k_ > 0) len += (size_t)k_;                                               \
        }                                                                                \
    } while (0)
    buf[0] = '\0';
    PUT("%s", f->arch);
    if (f->brand[0]) PUT(", %s", f->brand);
    else if (f->vendor[0]) PUT(", %s", f->vendor);
    const struct { bool on; const char *name; } flags[] = {
        {f->sse42, "SSE4.2"},         {f->avx, "AVX"},           {f->avx2, "AVX2"},
        {f->fma, "FMA"},              {f->f16c, "F16C"},         {f->bmi2, "BMI2"},
        {f->avx512f, "AVX512F"},      {f->avx512bw, "AVX512BW"}, {f->avx512vl, "AVX512VL"},
        {f->avx512dq, "AVX512DQ"},    {f->avx512vnni, "AVX512VNNI"},
        {f->avx512bf16, "AVX512BF16"}, {f->avxvnni, "AVXVNNI"},  {f->neon, "NEON"},
        {f->neon_dotprod, "DOTPROD"},
    };
    const char *sep = "; ";
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (!flags[i].on) continue;
        PUT("%s%s", sep, flags[i].name);
        sep = " ";
    }
    PUT("; kernels: %s (%s)", qs_simd_level_name(active), qs_simd_level_describe(active));
#undef PUT
    return buf;
}
