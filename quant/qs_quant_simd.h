/* qs_quant_simd.h — block quantizers compiled per SIMD level.
 *
 * The searching quantizers (K-quants Q2_K..Q6_K, IQ4_NL, IQ4_XS, and the legacy Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0, Q8_1) are built once per x86 SIMD level from one source
 * (quant/qs_quant_*_impl.h, quant/qs_q_legacy_impl.h) whose loops are vectorized; no sum
 * is reassociated and no multiply-add is fused, so every level writes the same bytes as the
 * scalar level. The public qs_quant_<type>() functions (qs_formats.h) run the level
 * qs_simd_active_level() chose (best usable, or the QS_SIMD override).
 *
 * Thread-safety: all functions are pure on their buffers; call from any thread. */
#ifndef QS_QUANT_SIMD_H
#define QS_QUANT_SIMD_H

#include "qs_cpu.h"

/* Same contract as qs_quant_<type>() in qs_formats.h: n values of src (n a multiple of the
 * block size) into n / block_size blocks at dst; importance NULL or n weights. */
typedef void (*qs_quant_level_fn)(const float *src, void *dst, int64_t n, const float *importance);

/* The quantizer of type t (a qs_type id) compiled for level l. Types without per-level code
 * give their one quantizer for every level this build has. NULL when t cannot be quantized
 * or this build has no code for l (NEON on x86, AVX on other machines). The caller checks
 * qs_simd_level_usable() before calling an AVX level. */
qs_quant_level_fn qs_quant_fn_for_level(int t, qs_simd_level l);

/* Internal: the per-level entry points. */
#define QS_QUANT_LEVEL_DECL(t)                                                                    \
    void qs_quant_##t##_scalar(const float *src, void *dst, int64_t n, const float *importance); \
    void qs_quant_##t##_avx2(const float *src, void *dst, int64_t n, const float *importance);   \
    void qs_quant_##t##_avx512(const float *src, void *dst, int64_t n, const float *importance);
QS_QUANT_LEVEL_DECL(q2_K)
QS_QUANT_LEVEL_DECL(q3_K)
QS_QUANT_LEVEL_DECL(q4_K)
QS_QUANT_LEVEL_DECL(q5_K)
QS_QUANT_LEVEL_DECL(q6_K)
QS_QUANT_LEVEL_DECL(iq4_nl)
QS_QUANT_LEVEL_DECL(iq4_xs)
QS_QUANT_LEVEL_DECL(q4_0)
QS_QUANT_LEVEL_DECL(q4_1)
QS_QUANT_LEVEL_DECL(q5_0)
QS_QUANT_LEVEL_DECL(q5_1)
QS_QUANT_LEVEL_DECL(q8_0)
QS_QUANT_LEVEL_DECL(q8_1)
#undef QS_QUANT_LEVEL_DECL

/* Internal: defines qs_quant_<t> (qs_types.h's entry point) as the call of the level the process
 * runs with. Used once per type by the file that builds its scalar level. */
#if defined(__x86_64__)
#define QS_QUANT_DISPATCH(t)                                                                    \
    void qs_quant_##t(const float *src, void *dst, int64_t n, const float *importance) {        \
        switch (qs_simd_active_level(NULL)) {                                                   \
        case QS_SIMD_AVX512: qs_quant_##t##_avx512(src, dst, n, importance); break;             \
        case QS_SIMD_AVX2: qs_quant_##t##_avx2(src, dst, n, importance); break;                 \
        default: qs_quant_##t##_scalar(src, dst, n, importance); break;                         \
        }                                                                                       \
    }
#else
#define QS_QUANT_DISPATCH(t)                                                                    \
    void qs_quant_##t(const float *src, void *dst, int64_t n, const float *importance) {        \
        qs_quant_##t##_scalar(src, dst, n, importance);                                         \
    }
#endif

#endif
