/* qs_quant_simd.c — which compiled quantizer serves a type at a SIMD level. */
#include "qs_quant_simd.h"

#include "qs_types.h"

#define LEVELS(T, t)                                                                              \
    case T:                                                                                       \
        return l == QS_SIMD_SCALAR ? qs_quant_##t##_scalar                                        \
               : l == QS_SIMD_AVX2 ? qs_quant_##t##_avx2                                          \
                                   : qs_quant_##t##_avx512;

qs_quant_level_fn qs_quant_fn_for_level(int t, qs_simd_level l) {
    const qs_type_traits *tr = qs_type_traits_get(t);
    if (!tr || !tr->quantize) return NULL;
#if defined(__x86_64__)
    if (l != QS_SIMD_SCALAR && l != QS_SIMD_AVX2 && l != QS_SIMD_AVX512) return NULL;
    switch (t) {
        LEVELS(QS_TYPE_Q2_K, q2_K)
        LEVELS(QS_TYPE_Q3_K, q3_K)
        LEVELS(QS_TYPE_Q4_K, q4_K)
        LEVELS(QS_TYPE_Q5_K, q5_K)
        LEVELS(QS_TYPE_Q6_K, q6_K)
        LEVELS(QS_TYPE_IQ4_NL, iq4_nl)
        LEVELS(QS_TYPE_IQ4_XS, iq4_xs)
        LEVELS(QS_TYPE_Q4_0, q4_0)
        LEVELS(QS_TYPE_Q4_1, q4_1)
        LEVELS(QS_TYPE_Q5_0, q5_0)
        LEVELS(QS_TYPE_Q5_1, q5_1)
        LEVELS(QS_TYPE_Q8_0, q8_0)
        LEVELS(QS_TYPE_Q8_1, q8_1)
    default: return tr->quantize;
    }
#else
    return l == QS_SIMD_SCALAR ? tr->quantize : NULL;
#endif
}
