/* qs_fp16.h — IEEE half and bfloat16 conversions, bit-exact with ggml.
 *
 * fp32 -> fp16 rounds to nearest even; every NaN becomes 0x7E00 (with the sign), as ggml does.
 * fp32 -> bf16 rounds to nearest even; NaN is kept quiet (upper bits | 0x40), as ggml does. */
#ifndef QS_FP16_H
#define QS_FP16_H

#include <stdint.h>
#include <string.h>

typedef uint16_t qs_fp16;
typedef uint16_t qs_bf16;

static inline uint32_t qs_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float qs_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float qs_fp16_to_f32(qs_fp16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) /* inf, or NaN made quiet as a float multiply in ggml's path does */
        return qs_bits_f32(sign | 0x7f800000u | (man ? 0x400000u | (man << 13) : 0u));
    if (exp == 0) {
        if (man == 0) return qs_bits_f32(sign);
        /* subnormal: value = man * 2^-24, exact in float */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return qs_bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

static inline qs_fp16 qs_f32_to_fp16(float f) {
    uint32_t u = qs_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (qs_fp16)(sign | 0x7e00u); /* NaN */
    if (a >= 0x477ff000u) return (qs_fp16)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (a < 0x38800000u) { /* below the smallest normal half (2^-14): subnormal or zero */
        if (a < 0x33000000u) return sign; /* < 2^-25 rounds to 0 (2^-25 itself ties to even 0) */
        uint32_t e = a >> 23;                    /* 102..112 */
        uint32_t m = (a & 0x7fffffu) | 0x800000u; /* 24-bit significand */
        uint32_t shift = 126u - e;               /* value = m * 2^(e-150); half ulp is 2^-24 */
        uint32_t h = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u);
        uint32_t halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (h & 1u))) h++;
        return (qs_fp16)(sign | h);
    }
    uint32_t h = ((a >> 13) - (112u << 10)); /* rebias exponent, keep 10 mantissa bits */
    uint32_t rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++; /* carry may bump exponent: right */
    return (qs_fp16)(sign | h);
}

static inline float qs_bf16_to_f32(qs_bf16 h) { return qs_bits_f32((uint32_t)h << 16); }

static inline qs_bf16 qs_f32_to_bf16(float f) {
    uint32_t u = qs_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (qs_bf16)((u >> 16) | 64u); /* quiet NaN */
    return (qs_bf16)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

#endif
