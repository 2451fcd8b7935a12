/* qs_cpu.h — run-time CPU feature detection and the choice of SIMD kernel level.
 *
 * One binary runs on any x86-64: kernels for each level live in *_avx2.c / *_avx512.c files
 * compiled for that level only (see CMakeLists.txt), and callers pick among them with the level
 * returned here. A level is "usable" only when the CPU reports every instruction set the build
 * enables for that level's files AND the operating system saves the registers they use
 * (checked with xgetbv), because the compiler may emit any enabled instruction anywhere in
 * those files:
 *
 *   QS_SIMD_AVX2    AVX2 + FMA + F16C + BMI2, OS saves YMM state
 *                   (= -mavx2 -mfma -mf16c -mbmi2)
 *   QS_SIMD_AVX512  all of AVX2 plus AVX-512 F/BW/VL/DQ/VNNI/BF16, OS saves ZMM and opmask state
 *                   (= the flags given to *_avx512.c; CPUs with AVX-512 but without VNNI or
 *                   BF16 — Skylake-X, Cascade Lake, Ice Lake — run the AVX2 kernels)
 *   QS_SIMD_NEON    aarch64 (Advanced SIMD is part of the base architecture; compile-time)
 *   QS_SIMD_SCALAR  always usable; the reference every test also runs
 *
 * The order of the enum values means nothing across architectures; use qs_simd_level_usable().
 *
 * Thread-safety: every function is safe to call from any thread. qs_cpu_detect() executes
 * cpuid on each call; qs_cpu_features_get() and qs_simd_active_level() compute their result
 * once (pthread_once) and return the same answer for the life of the process. */
#ifndef QS_CPU_H
#define QS_CPU_H

#include "qs_common.h"

typedef enum qs_simd_level {
    QS_SIMD_AUTO = -1, /* only as a request: "let detection choose" (qs_simd_parse result) */
    QS_SIMD_SCALAR = 0,
    QS_SIMD_NEON = 1,
    QS_SIMD_AVX2 = 2,
    QS_SIMD_AVX512 = 3,
} qs_simd_level;

#define QS_SIMD_LEVEL_COUNT 4 /* levels 0 .. QS_SIMD_LEVEL_COUNT-1 */

/* What this CPU (and OS) can run. On x86-64 each flag is true only when the CPU reports the
 * instruction set and, for AVX/AVX-512 families, the OS has enabled the register state they
 * need; on other architectures the x86 flags are false. */
typedef struct qs_cpu_features {
    char arch[16];   /* "x86-64", "aarch64" or "other" */
    char vendor[13]; /* cpuid vendor ("GenuineIntel", "AuthenticAMD"); "" when not x86 */
    char brand[49];  /* processor brand string, leading spaces removed; "" if not reported */
    /* x86-64 */
    bool sse42;
    bool avx, avx2, fma, f16c, bmi2;
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512bf16;
    bool avxvnni; /* VEX-encoded VNNI (Alder Lake, Zen 5 ...) */
    bool os_ymm;  /* XCR0 enables SSE and AVX (YMM) state */
    bool os_zmm;  /* XCR0 enables opmask and ZMM state */
    /* aarch64 (compile-time facts of the target) */
    bool neon;
    bool neon_dotprod;
} qs_cpu_features;

/* Fills *out by querying the CPU now (cpuid + xgetbv on x86-64). Never fails. */
void qs_cpu_detect(qs_cpu_features *out);

/* The features of this machine, detected once. Pointer to read-only storage that lives for
 * the whole process. */
const qs_cpu_features *qs_cpu_features_get(void);

/* True when kernels of level l can run on a machine with features f (SCALAR always true,
 * AUTO and unknown values false). */
bool qs_simd_level_usable(const qs_cpu_features *f, qs_simd_level l);

/* The best usable level for f: AVX512 > AVX2 > SCALAR on x86-64, NEON > SCALAR on aarch64. */
qs_simd_level qs_simd_best_level(const qs_cpu_features *f);

/* Short lower-case name as accepted by QS_SIMD: "scalar", "neon", "avx2", "avx512"
 * ("auto" for QS_SIMD_AUTO, "?" otherwise). Never NULL. */
const char *qs_simd_level_name(qs_simd_level l);

/* One line for people: "AVX-512 (F/BW/VL/DQ/VNNI/BF16)", "AVX2 + FMA + F16C", ... */
const char *qs_simd_level_describe(qs_simd_level l);

/* Parses an override string: "scalar", "avx2", "avx512" (also "avx-512"), "neon", or
 * "auto"/"" (QS_SIMD_AUTO). Case-insensitive, surrounding spaces ignored. NULL parses as
 * QS_SIMD_AUTO. Returns QS_OK, or QS_ERR (message lists the accepted values; *out is set to
 * QS_SIMD_AUTO). */
int qs_simd_parse(const char *s, qs_simd_level *out, qs_error *err);

/* The level to run with for features f and an override string request (NULL/"auto": best
 * usable). *out is always set to a usable level. Returns QS_OK, or QS_ERR when the request
 * is not understood or asks for a level this machine cannot run — then *out is the best
 * usable level at or below the request (or the best level for an unknown string) and the
 * message says what was chosen instead, so the caller can warn and continue. */
int qs_simd_choose(const qs_cpu_features *f, const char *request, qs_simd_level *out,
                   qs_error *err);

/* Reads the environment variable QS_SIMD (now, every call) and applies qs_simd_choose().
 * Same return contract; messages are prefixed with "QS_SIMD". */
int qs_simd_level_from_env(const qs_cpu_features *f, qs_simd_level *out, qs_error *err);

/* The level the process's kernels use: qs_simd_level_from_env(qs_cpu_features_get()),
 * computed on the first call only. If note is not NULL it receives "" or the warning from
 * an ignored/clamped QS_SIMD (static storage, lives for the process). */
qs_simd_level qs_simd_active_level(const char **note);

/* Human description for `quantscope info` / bench output, e.g.
 * "x86-64, AMD EPYC 9R14 96-Core Processor; SSE4.2 AVX AVX2 FMA F16C BMI2 AVX512F ...;
 *  kernels: avx512 (AVX-512 (F/BW/VL/DQ/VNNI/BF16))". Always NUL-terminated, truncated to
 * size. Returns buf. */
char *qs_cpu_describe(const qs_cpu_features *f, qs_simd_level active, char *buf, size_t size);

#endif
