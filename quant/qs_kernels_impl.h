/* qs_kernels_impl.h — private to qs_kernels*.c: the per-level kernel functions and the small
 * helpers every level shares (unaligned loads, K-quant scale unpacking, GEMM panel walk).
 *
 * Kernel files for a SIMD level are compiled with that level's ISA flags; nothing here may be
 * called before the CPU was checked for that level (qs_kernels_for documents that). */
#ifndef QS_KERNELS_IMPL_H
#define QS_KERNELS_IMPL_H

#include <string.h>

#include "qs_formats.h"
#include "qs_kernels.h"

/* ---------------------------------------------------------------- the tables of each level */

extern const qs_kernels qs_kernels_scalar_table;
extern const qs_kernels qs_kernels_avx2_table;
void qs_act_round_f16_avx2(const float *x, float *y, int64_t n);
extern const qs_kernels qs_kernels_avx512_table;

/* ---------------------------------------------------------------- byte-level loads
 * Blocks are read through byte pointers and memcpy so no alignment is ever assumed. */

static inline uint16_t qs_ld_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t qs_ld_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline int16_t qs_ld_i16(const uint8_t *p) { int16_t v; memcpy(&v, p, 2); return v; }
static inline float qs_ld_f32(const uint8_t *p) { float v; memcpy(&v, p, 4); return v; }
static inline float qs_ld_f16(const uint8_t *p) { return qs_fp16_to_f32(qs_ld_u16(p)); }

/* ---------------------------------------------------------------- format facts */

/* Q4_K / Q5_K: 12 bytes hold 8 six-bit scales and 8 six-bit minimums. */
static inline void qs_k4_scales_mins(const uint8_t s[12], uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 0xF) | ((s[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

/* Q3_K: 12 bytes hold 16 six-bit scales, stored with an offset of 32. Returns them as
 * signed values (scale - 32). */
static inline void qs_q3k_scales(const uint8_t s[12], int8_t out[16]) {
    for (int j = 0; j < 16; j++) {
        int lo = (j < 8) ? (s[j] & 0xF) : (s[j - 8] >> 4);
        int hi = (s[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
        out[j] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

/* IQ4_XS: 8 six-bit scales (low 4 bits in scales_l, high 2 in scales_h), offset 32. */
static inline int qs_iq4xs_scale(const uint8_t *scales_l, uint16_t scales_h, int ib) {
    return (((scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scales_h >> (2 * ib)) & 3) << 4)) - 32;
}

/* ---------------------------------------------------------------- prefetch
 * Weight rows are read as one sequential stream; prefetching this far ahead (into L1) measured
 * ~10% more DRAM throughput than the hardware prefetchers alone on the target machine. */
#define QS_PREFETCH_AHEAD 2048

/* ---------------------------------------------------------------- GEMM by panels
 * gemm walks panels of weight rows small enough to stay in L2 (half of a 1 MiB L2): the
 * weights come from memory once per call and every activation row reuses them from cache.
 * (The scalar level runs gemv per activation row on each panel; SIMD levels have their own
 * loops with several activation rows per pass.) */

#define QS_GEMM_PANEL_BYTES (512u * 1024u)

/* Rows of a panel of a gemm over nrows rows: at most what fits QS_GEMM_PANEL_BYTES (at least
 * 4), the rows shared evenly between the panels (a last panel of a few rows would pay the
 * per-panel work for little), a multiple of 4. */
static inline int64_t qs_gemm_panel_rows(size_t w_stride, int64_t nrows) {
    int64_t max = (int64_t)(QS_GEMM_PANEL_BYTES / (w_stride ? w_stride : 1));
    if (max < 4) max = 4;
    const int64_t npanels = nrows > max ? (nrows + max - 1) / max : 1;
    const int64_t panel = (nrows + npanels - 1) / npanels;
    return (panel + 3) & ~(int64_t)3;
}

static inline void qs_gemm_by_gemv(qs_gemv_fn gemv, int64_t n, int64_t nrows, int64_t ncols,
                                   const void *w, size_t w_stride, const void *act,
                                   size_t act_stride, float *y, size_t y_stride) {
    const int64_t panel = qs_gemm_panel_rows(w_stride, nrows);
    for (int64_t r0 = 0; r0 < nrows; r0 += panel) {
        int64_t nr = nrows - r0 < panel ? nrows - r0 : panel;
        const uint8_t *wp = (const uint8_t *)w + (size_t)r0 * w_stride;
        for (int64_t c = 0; c < ncols; c++)
            gemv(n, nr, wp, w_stride, (const uint8_t *)act + (size_t)c * act_stride,
                 y + (size_t)c * y_stride + r0);
    }
}

/* ---------------------------------------------------------------- scalar functions other
 * levels fall back to */

#define QS_KERNEL_TYPES(X)                                                                     \
    X(f32) X(f16) X(bf16) X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q8_0) X(iq4_nl) X(iq4_xs)         \
    X(q2_K) X(q3_K) X(q4_K) X(q5_K) X(q6_K)

#define QS_DECL_SCALAR(t)                                                                      \
    float qs_vec_dot_##t##_scalar(int64_t n, const void *w, const void *act);                  \
    void qs_gemv_##t##_scalar(int64_t n, int64_t nrows, const void *w, size_t w_stride,        \
                              const void *act, float *y);                                      \
    void qs_gemm_##t##_scalar(int64_t n, int64_t nrows, int64_t ncols, const void *w,          \
                              size_t w_stride, const void *act, size_t act_stride, float *y,   \
                              size_t y_stride);
QS_KERNEL_TYPES(QS_DECL_SCALAR)
#undef QS_DECL_SCALAR

void qs_quantize_act_f32_scalar(const float *x, void *dst, int64_t n);
void qs_quantize_act_q8_0_scalar(const float *x, void *dst, int64_t n);
void qs_quantize_act_q8_1_scalar(const float *x, void *dst, int64_t n);
void qs_quantize_act_q8_K_scalar(const float *x, void *dst, int64_t n);
void qs_softmax_scalar(float *x, int64_t n, float scale);
void qs_silu_mul_scalar(float *g, const float *u, int64_t n);

#endif
