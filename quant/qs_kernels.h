/* qs_kernels.h — compute kernels: dequantization, activation quantizers and dot products
 * (vec_dot, GEMV, GEMM) for every computable tensor type, with run-time SIMD dispatch.
 *
 * A kernel table (qs_kernels) has one row per ggml type id, like the type table in qs_types.h.
 * There is one table per SIMD level (scalar, AVX2, AVX-512); qs_kernels_for() returns the table
 * of a level and qs_kernels_best() the table of the level this process runs with (qs_cpu.h:
 * best usable level, or the QS_SIMD override). Tables are const and the choice is a pure
 * function of the level, so kernels may be called from any thread. A SIMD table is complete:
 * where a level has no faster code for a type, its row holds the next lower level's function.
 *
 * ---------------------------------------------------------------------------------------------
 * How a matrix product runs (the engine's y = W x, W has nrows rows of n values of type T):
 *
 *     const qs_kernels *k = qs_kernels_best();
 *     const qs_kernel_row *kw = &k->row[T];                 // kw->vec_dot != NULL: computable
 *     k->row[kw->act_type].quantize_act(x, act, n);          // once per activation row
 *     kw->gemv(n, nrows, W, row_bytes, act, y);              // y[r] = W[r] . x
 *
 * The activation row is converted once to the type the weight type pairs with (act_type), then
 * every weight row is dotted with it in integer arithmetic where the format allows:
 *
 *     weight type                  act_type   why
 *     F32                          F32        exact products
 *     F16, BF16                    F32        the weights are converted in registers; the
 *                                             activation is first rounded to the weight's
 *                                             precision (qs_kernels_act_round), see below
 *     Q4_0, Q5_0, Q8_0, IQ4_NL     Q8_0       32-value blocks, one scale
 *     Q4_1, Q5_1                   Q8_1       the weight minimum needs the activation block sum
 *     Q2_K..Q6_K, IQ4_XS           Q8_K       256-value super-blocks; bsums carry the sums the
 *                                             K-quant minimums and offsets need
 *
 * Types without a dot product: Q8_1 and Q8_K (activation formats, not weight formats) and the
 * ids we cannot compute with; their rows have vec_dot == NULL (act_type is then meaningless;
 * qs_kernels_act_type() returns -1). Activation buffers hold
 * qs_kernels_act_bytes(T, n) bytes. No buffer needs any particular alignment (weight rows that
 * start on 64 bytes stream a little faster). The AVX-512 gemv keeps its prepared activation on
 * the stack (about 50 KiB); every other function uses little stack and no heap.
 *
 * ---------------------------------------------------------------------------------------------
 * Activation quantizers (quantize_act, in the row of the activation type):
 *   Q8_0  per 32 values: amax = max|x|, d = amax / 127 (stored as fp16), q = round(x * 127/amax)
 *         (0 when amax is 0). Rounding is to nearest, ties to even, in every level.
 *   Q8_1  as Q8_0, plus s = fp16(d * sum(q)) (d before its fp16 rounding, as ggml does).
 *   Q8_K  per 256 values: d = amax / 127 (float), q = round(x * 127/amax), bsums[j] = sum of
 *         q[16j .. 16j+15].
 *   F32   copy.
 * The inputs must be finite. Every level produces the same bytes as the scalar level.
 *
 * F16 and BF16 weights: ggml multiplies them with activations converted to the weight's own
 * type (its vec_dot_type), so llama.cpp rounds every activation to f16 (bf16) before such a
 * product: the input of an F16 matrix, and with the default f16 KV cache the query before
 * K q and the attention weights before V p. We do the same, as floats holding f16 (bf16)
 * values: qs_kernels_act_round(type) gives the rounding and the F32-activation kernels do
 * the rest (a product of two f16 or two bf16 values is exact in float, so this is ggml's
 * F16 x F16 product up to the order of the float sums). Why it matters: in a Q8_0 model
 * every later product requantizes its input on a 1/127 grid, which turns a 2^-12 difference
 * into whole quantization steps and grows it about fourfold per product; without this
 * rounding, stories260K quantized with --preset Q8_0 (ffn_down stays F16) gave perplexity
 * 5.1763 where llama-perplexity gives 5.1880 (see README, "Perplexity").
 *
 * Dot products (the scalar level is the reference):
 *   Quantized types: per block an exact integer dot of the stored quants with the activation
 *   quants (with the format's sub-block scales, minimums and offsets applied in integers),
 *   then the block's float scales: sum over blocks of (d_w * d_a) * isum (- dmin_w * d_a * msum,
 *   + m_w * s_a for Q4_1/Q5_1). SIMD levels compute the same integers exactly; only the order
 *   of the float accumulation differs.
 *   Float types: sum of w_i * a_i (scalar level accumulates in double, SIMD levels in float
 *   lanes with FMA).
 *   Tolerance (what tests/test_kernels.c checks): for n <= 16384 the results of any two levels
 *   differ by at most 2^-16 * sum_i |w_i * a_i| (w_i, a_i the dequantized values), and each is
 *   within that bound of a double-precision dot of the dequantized rows.
 *
 * Dequantization (to_float) is bit-exact with ggml in every level: SIMD code repeats ggml's
 * float operations in the same order (never fused into FMA).
 *
 * Performance notes (x86-64; measured on a 2-core Zen 5 VM, see bench/bench_kernels.c):
 *   - gemv is the memory-bound decode path. It walks the weight rows one after the other, so
 *     the weights are one sequential stream (interleaving several rows halved the DRAM
 *     throughput there). Per-call work that does not depend on the row is done once:
 *     AVX-512 32-value block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL) read each weight row
 *     as raw 64-byte chunks, each loaded once, and run vpdpbusd on the raw bytes against an
 *     activation arranged once per call to the same byte positions (zero under the scales),
 *     with each int32 lane scaled by its block's scale picked out by vpermt2w. K-quants use
 *     vpmaddubsw + vpdpwssd with vectorised scale unpacking; float types convert in registers.
 *     No gathers (they cost ~20 cycles on that CPU).
 *   - gemm is for prompt processing (several activation rows). It walks panels of weight rows
 *     that stay in L2 (512 KiB, rows shared evenly between panels) and runs register tiles of
 *     several weight rows by several activation rows, decoding each weight chunk once per
 *     tile: AVX-512 32-value block types 2 x 4 (activation prepared per 16 chunks, in L1),
 *     K-quants 1 x 4, float types 4 x 3 (two accumulators per pair, as gemv has per row).
 *   - vec_dot is gemv of one row. gemv, gemm and vec_dot of one level give bit-identical
 *     results for a row (same per-row arithmetic; partial sums reduced at fixed positions), so
 *     a prompt processed in a batch gives the logits of the same prompt token by token up to
 *     the attention's order of summation.
 *   - Threads come from the caller: split the rows of a gemv/gemm between threads.
 * --------------------------------------------------------------------------------------------- */
#ifndef QS_KERNELS_H
#define QS_KERNELS_H

#include "qs_cpu.h"
#include "qs_types.h"

/* Converts n floats (a multiple of the activation type's block size) into one activation row
 * at dst (qs_type_row_bytes(act_type, n) bytes). */
typedef void (*qs_quantize_act_fn)(const float *x, void *dst, int64_t n);

/* Dot product of one weight row w (n values of the row's type) with one activation row act
 * (n values of the row's act_type). n must be a multiple of both block sizes. */
typedef float (*qs_vec_dot_fn)(int64_t n, const void *w, const void *act);

/* Matrix-vector product: y[r] = dot(w + r * w_stride, act) for 0 <= r < nrows.
 * w_stride is in bytes (usually qs_type_row_bytes(T, n)). */
typedef void (*qs_gemv_fn)(int64_t n, int64_t nrows, const void *w, size_t w_stride,
                           const void *act, float *y);

/* Matrix-matrix product: y[c * y_stride + r] = dot(w + r * w_stride, act + c * act_stride)
 * for 0 <= r < nrows, 0 <= c < ncols. Strides of w and act are in bytes, y_stride in floats. */
typedef void (*qs_gemm_fn)(int64_t n, int64_t nrows, int64_t ncols, const void *w,
                           size_t w_stride, const void *act, size_t act_stride, float *y,
                           size_t y_stride);

/* One row of a kernel table. A NULL function pointer means the type cannot be used that way
 * (at any level: every level has the same functions, only their speed differs). */
typedef struct qs_kernel_row {
    qs_to_float_fn to_float;         /* dequantize n values (bit-exact with ggml) */
    int act_type;                    /* activation type vec_dot/gemv/gemm expect (when vec_dot) */
    qs_vec_dot_fn vec_dot;           /* one weight row . one activation row */
    qs_gemv_fn gemv;                 /* many weight rows . one activation row */
    qs_gemm_fn gemm;                 /* many weight rows . many activation rows */
    qs_quantize_act_fn quantize_act; /* floats -> this type, as an activation (act types only) */
} qs_kernel_row;

/* Element-wise float operations of the forward pass (activations, not weights). The scalar
 * level is the reference (libm expf); SIMD levels use a polynomial exp (range reduction by
 * ln 2, degree-6 polynomial, scaling by 2^k) within 4 ulp of expf for |x| <= 87, so results
 * differ from the scalar level by a few ulp (tests/test_kernels.c checks 2^-20 relative).
 * Inputs must be finite. */

/* x[i] = exp(scale x[i] - m) / sum_j exp(scale x[j] - m), m = max_j scale x[j]; n >= 1. */
typedef void (*qs_softmax_fn)(float *x, int64_t n, float scale);

/* g[i] = silu(g[i]) * u[i] = g[i] / (1 + exp(-g[i])) * u[i] (SwiGLU). */
typedef void (*qs_silu_mul_fn)(float *g, const float *u, int64_t n);

typedef struct qs_kernels {
    qs_simd_level level; /* the level these kernels were compiled for */
    const char *name;    /* "scalar", "avx2", "avx512" */
    qs_kernel_row row[QS_TYPE_COUNT];
    qs_softmax_fn softmax;
    qs_silu_mul_fn silu_mul;
} qs_kernels;

/* The kernel table of a level, or NULL when this build has no kernels for that level (NEON on
 * x86-64, QS_SIMD_AUTO, unknown values). Does not check that the CPU can run it: callers that
 * choose a level themselves must check qs_simd_level_usable() first. */
const qs_kernels *qs_kernels_for(qs_simd_level level);

/* The table of the level this process runs with: qs_simd_active_level() (best usable level
 * or the QS_SIMD override), or the scalar table when this build has no kernels for that level.
 * Never NULL. */
const qs_kernels *qs_kernels_best(void);

/* Rounds n floats to the precision of a product with weight (or KV cache) type `type`:
 * y[i] = float(f16(x[i])) for F16, float(bf16(x[i])) for BF16, round to nearest even as
 * ggml's conversions (qs_fp16.h; beyond the f16 range: inf, as ggml). x == y is allowed. */
typedef void (*qs_act_round_fn)(const float *x, float *y, int64_t n);

/* The rounding F32 activations get before a product with weight type `type` (F16, BF16), or
 * NULL when they are used as they are. The same at every SIMD level (exact conversions). */
qs_act_round_fn qs_kernels_act_round(int type);

/* The activation type weight type `type` pairs with, or -1 when it has no dot product. */
int qs_kernels_act_type(int type);

/* Bytes of the activation row that weight type `type` pairs with, for n values; 0 when the
 * type has no dot product or n is not a multiple of the block sizes. */
uint64_t qs_kernels_act_bytes(int type, int64_t n);

/* True when weight type `type` has a dot product (in every level) and n fits its blocks and
 * its activation type's blocks. */
bool qs_kernels_can_dot(int type, int64_t n);

#endif
