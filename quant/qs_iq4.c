/* qs_iq4.c — the 4-bit non-linear formats IQ4_NL and IQ4_XS.
 *
 * What a block means (facts of the GGUF format; layouts in qs_formats.h):
 *   IQ4_NL  32 values:  value = d * V[c]             c a 4-bit code, V the table below
 *   IQ4_XS  256 values in 8 groups of 32:
 *           value = (d * (l - 32)) * V[c]           l the group's 6-bit scale code
 * The four-bit codes of each 32-value group are packed as in Q4_0: byte j holds element j in
 * its low nibble and element j + 16 in its high nibble. In IQ4_XS the low four bits of group
 * b's scale code are nibble (b % 2) of scales_l[b / 2]; its two high bits are bits 2b, 2b + 1
 * of the little-endian 16-bit scales_h.
 *
 * Dequantization does ggml's float operations in ggml's order (for IQ4_XS the group scale
 * d * (l - 32) is rounded to float first), so results are bit-identical.
 *
 * Quantization (qs_quant_iq4_impl.h, built per SIMD level with identical output): for a fixed
 * group scale the best code of each value is the nearest level, whatever the weights, so the
 * search is over scales: a fan of trial group scales fitted by weighted least squares and
 * polished; IQ4_NL then scores the rounded half and its neighbours exactly as stored; IQ4_XS
 * scores a few super-scales with the two 6-bit codes around each group's ideal, and a joint
 * refit of the super-scale.
 * Uniform weights (importance NULL) minimize the plain squared error. */
#include "qs_formats.h"
#include "qs_quant_simd.h"
#include "qs_quant_util.h"

#include <float.h>
#include <math.h>
#include <stddef.h>

#define GROUP 32

const int8_t qs_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                    1,    13,   25,  38,  53,  69,  89,  113};

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */

static float load_half(const uint8_t *p) {
    qs_fp16 h;
    memcpy(&h, p, sizeof h);
    return qs_fp16_to_f32(h);
}

static void unpack_group(const uint8_t *qs, float scale, float *dst) {
    for (int j = 0; j < GROUP / 2; j++) {
        dst[j] = scale * (float)qs_iq4nl_values[qs[j] & 0x0f];
        dst[j + GROUP / 2] = scale * (float)qs_iq4nl_values[qs[j] >> 4];
    }
}

/* ------------------------------------------------------------------------------------------ */
/* IQ4_NL                                                                                     */

void qs_dequant_iq4_nl(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / GROUP; i++, b += sizeof(qs_block_iq4_nl), dst += GROUP) {
        float d = load_half(b + offsetof(qs_block_iq4_nl, d));
        unpack_group(b + offsetof(qs_block_iq4_nl, qs), d, dst);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* IQ4_XS                                                                                     */

#define NGROUP (QS_QK_K / GROUP)

static int xs_scale_code(const uint8_t *blk, int g) {
    uint16_t sh;
    memcpy(&sh, blk + offsetof(qs_block_iq4_xs, scales_h), sizeof sh);
    int lo = (blk[offsetof(qs_block_iq4_xs, scales_l) + g / 2] >> (4 * (g % 2))) & 0x0f;
    int hi = (sh >> (2 * g)) & 3;
    return lo | hi << 4;
}

void qs_dequant_iq4_xs(const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / QS_QK_K; i++, b += sizeof(qs_block_iq4_xs)) {
        float d = load_half(b + offsetof(qs_block_iq4_xs, d));
        const uint8_t *qs = b + offsetof(qs_block_iq4_xs, qs);
        for (int g = 0; g < NGROUP; g++, dst += GROUP)
            unpack_group(qs + g * GROUP / 2, d * (float)(xs_scale_code(b, g) - 32), dst);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Quantizers: the search (qs_quant_iq4_impl.h) at the level the process runs with           */

#define IQ_FN(t) qs_quant_##t##_scalar
#include "qs_quant_iq4_impl.h"

QS_QUANT_DISPATCH(iq4_nl)
QS_QUANT_DISPATCH(iq4_xs)
