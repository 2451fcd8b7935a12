/* Legacy quantizers (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1) built for the AVX2 level: the search
 * of qs_q_legacy_impl.h, its lanes in this file's registers (ISA flags: CMakeLists.txt). Same
 * bytes as the scalar build (see qs_quant_simd.h). Only reached after qs_cpu said the CPU and OS
 * can run this level. */
#include "qs_quant_simd.h"

#define LQ_FN(t) qs_quant_##t##_avx2
#include "qs_q_legacy_impl.h"
