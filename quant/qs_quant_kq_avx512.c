/* K-quant quantizers (Q2_K .. Q6_K) built for the AVX512 level: the search of
 * qs_quant_kq_impl.h, vectorized by the compiler with this file's ISA flags (CMakeLists.txt).
 * Same bytes as the scalar build (see qs_quant_simd.h). Only reached after qs_cpu said the
 * CPU and OS can run this level. */
#include "qs_quant_simd.h"

#define KQ_FN(t) qs_quant_##t##_avx512
#include "qs_quant_kq_impl.h"
