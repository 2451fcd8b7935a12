/* Plain float formats: F32, F16, BF16. */
#include "qs_formats.h"

void qs_dequant_f32(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }
void qs_quant_f32(const float *src, void *dst, int64_t n, const float *importance) {
    (void)importance;
    memcpy(dst, src, (size_t)n * 4);
}

void qs_dequant_f16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) {
        qs_fp16 h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = qs_fp16_to_f32(h);
    }
}
void qs_quant_f16(const float *src, void *dst, int64_t n, const float *importance) {
    (void)importance;
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) {
        qs_fp16 h = qs_f32_to_fp16(src[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

void qs_dequant_bf16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) {
        qs_bf16 h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = qs_bf16_to_f32(h);
    }
}
void qs_quant_bf16(const float *src, void *dst, int64_t n, const float *importance) {
    (void)importance;
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) {
        qs_bf16 h = qs_f32_to_bf16(src[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}
