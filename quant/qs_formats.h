/* qs_formats.h — block layouts and per-type scalar reference functions (internal to quant/).
 *
 * Block layouts are facts of the GGUF/ggml format (little-endian, packed, no padding). The
 * functions follow qs_types.h's conventions: n is the number of values, a multiple of the block
 * size; importance is NULL or n per-column weights. These scalar versions are the reference
 * that every SIMD kernel is tested against. */
#ifndef QS_FORMATS_H
#define QS_FORMATS_H

#include "qs_fp16.h"
#include "qs_types.h"

#define QS_QK32 32
#define QS_QK_K 256
#define QS_K_SCALE_SIZE 12

typedef struct { qs_fp16 d; uint8_t qs[16]; } qs_block_q4_0;                 /* 18 bytes */
typedef struct { qs_fp16 d, m; uint8_t qs[16]; } qs_block_q4_1;              /* 20 bytes */
typedef struct { qs_fp16 d; uint8_t qh[4]; uint8_t qs[16]; } qs_block_q5_0;  /* 22 bytes */
typedef struct { qs_fp16 d, m; uint8_t qh[4]; uint8_t qs[16]; } qs_block_q5_1; /* 24 bytes */
typedef struct { qs_fp16 d; int8_t qs[32]; } qs_block_q8_0;                  /* 34 bytes */
typedef struct { qs_fp16 d, s; int8_t qs[32]; } qs_block_q8_1;               /* 36 bytes; s = d * sum(qs) */
typedef struct { qs_fp16 d; uint8_t qs[16]; } qs_block_iq4_nl;               /* 18 bytes */

typedef struct { uint8_t scales[16]; uint8_t qs[64]; qs_fp16 d, dmin; } qs_block_q2_K;            /* 84 */
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; qs_fp16 d; } qs_block_q3_K; /* 110 */
typedef struct { qs_fp16 d, dmin; uint8_t scales[12]; uint8_t qs[128]; } qs_block_q4_K;           /* 144 */
typedef struct { qs_fp16 d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } qs_block_q5_K; /* 176 */
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; qs_fp16 d; } qs_block_q6_K; /* 210 */
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } qs_block_q8_K;                     /* 292 */
typedef struct { qs_fp16 d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } qs_block_iq4_xs; /* 136 */

/* The 16 non-linear levels of IQ4_NL / IQ4_XS (a fact of the format). */
extern const int8_t qs_iq4nl_values[16];

#define QS_FORMAT_FNS(t)                                                                    \
    void qs_dequant_##t(const void *src, float *dst, int64_t n);                            \
    void qs_quant_##t(const float *src, void *dst, int64_t n, const float *importance);

QS_FORMAT_FNS(f32)
QS_FORMAT_FNS(f16)
QS_FORMAT_FNS(bf16)
QS_FORMAT_FNS(q4_0)
QS_FORMAT_FNS(q4_1)
QS_FORMAT_FNS(q5_0)
QS_FORMAT_FNS(q5_1)
QS_FORMAT_FNS(q8_0)
QS_FORMAT_FNS(q8_1)
QS_FORMAT_FNS(iq4_nl)
QS_FORMAT_FNS(iq4_xs)
QS_FORMAT_FNS(q2_K)
QS_FORMAT_FNS(q3_K)
QS_FORMAT_FNS(q4_K)
QS_FORMAT_FNS(q5_K)
QS_FORMAT_FNS(q6_K)
QS_FORMAT_FNS(q8_K)

#undef QS_FORMAT_FNS

#endif
