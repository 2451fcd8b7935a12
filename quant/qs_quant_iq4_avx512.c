/* IQ4_NL / IQ4_XS quantizers built for the AVX512 level: the search of qs_quant_iq4_impl.h,
 * vectorized by the compiler with this file's ISA flags (CMakeLists.txt). Same bytes as the
 * scalar build (see qs_quant_simd.h). Only reached after qs_cpu said the CPU and OS can run
 * this level. */
#include "qs_quant_simd.h"

#define IQ_FN(t) qs_quant_##t##_avx512
#include "qs_quant_iq4_impl.h"
