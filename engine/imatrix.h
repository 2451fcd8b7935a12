/* imatrix.h — llama.cpp importance matrices (llama-imatrix output), read-only.
 *
 * Two formats are read, as llama.cpp's common_imatrix_load does:
 *   - GGUF (current): for each weight W, an F32 tensor "W.in_sum2" of shape (n_per_row, n_mat)
 *     holding the sums over tokens of the squared input activations, and an F32 tensor
 *     "W.counts" of shape (1, n_mat) holding how many tokens were summed (n_mat > 1 for MoE
 *     experts). Metadata keys imatrix.datasets (string array), imatrix.chunk_count and
 *     imatrix.chunk_size (u32) are read when present (llama-quantize requires them; we only
 *     report whether they are there).
 *   - legacy .dat: i32 n_entries, then per entry i32 name length, name bytes, i32 ncall,
 *     i32 nval, nval f32 values (already averaged sums times ncall); optionally i32 chunk count,
 *     i32 dataset name length and the name.
 * The values handed out are what llama-quantize gives its quantizers: mean squared activation
 * per input column, sum / count (GGUF) or value / ncall (legacy); columns of a matrix whose
 * count is 0 get 1.
 *
 * Everything is copied out of the file; the struct owns its memory (qs_imatrix_free). */
#ifndef QS_IMATRIX_H
#define QS_IMATRIX_H

#include "qs_common.h"

typedef struct qs_imatrix_entry {
    char *name;        /* weight tensor name: "blk.0.attn_q.weight" (owned) */
    int64_t n_per_row; /* values per matrix: ne[0] (row length) of the weight */
    int n_mat;         /* matrices: 1, or the number of experts */
    float *values;     /* [n_mat * n_per_row] mean squared activations, >= 0 (owned) */
    int64_t *counts;   /* [n_mat] tokens summed per matrix (legacy: ncall) (owned) */
} qs_imatrix_entry;

typedef struct qs_imatrix {
    int n;                     /* entries, sorted by name */
    qs_imatrix_entry *entries; /* [n] (owned) */
    bool legacy;               /* read from the .dat format */
    bool has_metadata;         /* GGUF: datasets, chunk_count and chunk_size keys all present */
    int64_t chunk_count;       /* 0 if unknown */
    int64_t chunk_size;        /* 0 if unknown */
    int n_datasets;
    char **datasets;           /* [n_datasets] (owned) */
} qs_imatrix;

/* Reads an imatrix file (GGUF, or legacy .dat when the file does not start with "GGUF").
 * *out is initialised here and holds nothing on failure. Errors name the file and what is wrong:
 * "PATH: blk.0.attn_q.weight.in_sum2 has no matching .counts tensor", "PATH: tensor T is Q8_0,
 * expected F32", "PATH: no importance entries", "PATH: offset 123: truncated legacy entry 4". */
int qs_imatrix_load(const char *path, qs_imatrix *out, qs_error *err);
void qs_imatrix_free(qs_imatrix *im);

/* The entry for a weight name, or NULL. */
const qs_imatrix_entry *qs_imatrix_find(const qs_imatrix *im, const char *name);

#endif
