/* AVX2 kernels (AVX2 + FMA + F16C + BMI2). Only reached after qs_cpu said the CPU and OS can
 * run them. */
#include <immintrin.h>

#include "qs_kernels_impl.h"

#define ROW(T, t, act, deq, q)                                                                   \
    [QS_TYPE_##T] = {deq, QS_TYPE_##act, qs_vec_dot_##t##_scalar, qs_gemv_##t##_scalar,         \
                     qs_gemm_##t##_scalar, q}

const qs_kernels qs_kernels_avx2_table = {
    .level = QS_SIMD_AVX2,
    .name = "avx2",
    .row = {
        ROW(F32, f32, F32, qs_dequant_f32, qs_quantize_act_f32_scalar),
        ROW(F16, f16, F32, qs_dequant_f16, NULL),
        ROW(BF16, bf16, F32, qs_dequant_bf16, NULL),
        ROW(Q4_0, q4_0, Q8_0, qs_dequant_q4_0, NULL),
        ROW(Q4_1, q4_1, Q8_1, qs_dequant_q4_1, NULL),
        ROW(Q5_0, q5_0, Q8_0, qs_dequant_q5_0, NULL),
        ROW(Q5_1, q5_1, Q8_1, qs_dequant_q5_1, NULL),
        ROW(Q8_0, q8_0, Q8_0, qs_dequant_q8_0, qs_quantize_act_q8_0_scalar),
        [QS_TYPE_Q8_1] = {qs_dequant_q8_1, -1, NULL, NULL, NULL, qs_quantize_act_q8_1_scalar},
        ROW(IQ4_NL, iq4_nl, Q8_0, qs_dequant_iq4_nl, NULL),
        ROW(IQ4_XS, iq4_xs, Q8_K, qs_dequant_iq4_xs, NULL),
        ROW(Q2_K, q2_K, Q8_K, NULL, NULL),
        ROW(Q3_K, q3_K, Q8_K, NULL, NULL),
        ROW(Q4_K, q4_K, Q8_K, NULL, NULL),
        ROW(Q5_K, q5_K, Q8_K, NULL, NULL),
        ROW(Q6_K, q6_K, Q8_K, NULL, NULL),
        [QS_TYPE_Q8_K] = {NULL, -1, NULL, NULL, NULL, qs_quantize_act_q8_K_scalar},
    },
};
