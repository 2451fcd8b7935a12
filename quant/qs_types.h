/* qs_types.h — the tensor type table: one row per ggml type id.
 *
 * Ids are ggml's (they are what GGUF files store). Every id that appears in published GGUF
 * files has a row with its name, block size and bytes per block, so any file opens and its
 * sizes are right; rows whose functions are NULL are types we recognise but cannot compute with.
 *
 * Function conventions (all pure, no state, thread-safe):
 *   to_float(src, dst, n):   dequantize n values (n a multiple of blck_size) from src blocks
 *                            into dst[n]. Bit-exact with ggml's dequantization.
 *   quantize(src, dst, n, importance): quantize one row of n values (multiple of blck_size) into
 *                            n / blck_size blocks at dst. importance is NULL or n per-column
 *                            weights (an importance matrix row); NULL means uniform weights. */
#ifndef QS_TYPES_H
#define QS_TYPES_H

#include "qs_common.h"

typedef enum qs_type {
    QS_TYPE_F32 = 0,
    QS_TYPE_F16 = 1,
    QS_TYPE_Q4_0 = 2,
    QS_TYPE_Q4_1 = 3,
    QS_TYPE_Q5_0 = 6,
    QS_TYPE_Q5_1 = 7,
    QS_TYPE_Q8_0 = 8,
    QS_TYPE_Q8_1 = 9,
    QS_TYPE_Q2_K = 10,
    QS_TYPE_Q3_K = 11,
    QS_TYPE_Q4_K = 12,
    QS_TYPE_Q5_K = 13,
    QS_TYPE_Q6_K = 14,
    QS_TYPE_Q8_K = 15,
    QS_TYPE_IQ2_XXS = 16,
    QS_TYPE_IQ2_XS = 17,
    QS_TYPE_IQ3_XXS = 18,
    QS_TYPE_IQ1_S = 19,
    QS_TYPE_IQ4_NL = 20,
    QS_TYPE_IQ3_S = 21,
    QS_TYPE_IQ2_S = 22,
    QS_TYPE_IQ4_XS = 23,
    QS_TYPE_I8 = 24,
    QS_TYPE_I16 = 25,
    QS_TYPE_I32 = 26,
    QS_TYPE_I64 = 27,
    QS_TYPE_F64 = 28,
    QS_TYPE_IQ1_M = 29,
    QS_TYPE_BF16 = 30,
    QS_TYPE_TQ1_0 = 34,
    QS_TYPE_TQ2_0 = 35,
    QS_TYPE_MXFP4 = 39,
    QS_TYPE_NVFP4 = 40,
    QS_TYPE_Q1_0 = 41,
    QS_TYPE_Q2_0 = 42,
    QS_TYPE_COUNT = 43, /* one past the largest id; not every id below it is valid */
} qs_type;

typedef void (*qs_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*qs_quantize_fn)(const float *src, void *dst, int64_t n, const float *importance);

typedef struct qs_type_traits {
    const char *name;    /* canonical upper-case name as llama.cpp prints it: "Q4_K", "F16" */
    int blck_size;       /* elements per block (1 for plain types) */
    int type_size;       /* bytes per block */
    bool quantized;      /* block-quantized (not a plain float/int type) */
    qs_to_float_fn to_float;  /* NULL: we cannot read its values yet */
    qs_quantize_fn quantize;  /* NULL: we cannot produce it */
} qs_type_traits;

/* The row for a type id, or NULL if the id is not a valid ggml type. */
const qs_type_traits *qs_type_traits_get(int type_id);

/* True if type_id names a valid (possibly not computable) type. */
bool qs_type_valid(int type_id);

/* Canonical name, or "?" for an invalid id. Never NULL. */
const char *qs_type_name(int type_id);

/* Parse a type name, case-insensitive ("q4_k", "Q4_K", "f16", "bf16"). QS_OK or QS_ERR. */
int qs_type_from_name(const char *name, qs_type *out);

/* Bits per weight: type_size * 8 / blck_size. 0 for an invalid id. */
double qs_type_bpw(int type_id);

/* Bytes for n elements of a type. n must be a multiple of blck_size; returns 0 otherwise or
 * for an invalid id. */
uint64_t qs_type_row_bytes(int type_id, int64_t n);

/* True when we can dequantize (to_float) / quantize this type. */
bool qs_type_can_read(int type_id);
bool qs_type_can_quantize(int type_id);

/* Types we quantize to, in the order of the precision ladder (lowest bits first), for menus
 * and the +/- keys. Returns the count and fills *list with a static array. */
int qs_type_ladder(const qs_type **list);

#endif
