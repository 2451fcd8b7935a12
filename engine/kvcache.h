/* kvcache.h — the attention key/value cache of one sequence.
 *
 * Keys: for every layer one row per position, each row the n_kv_head * head_dim values of
 * that position (heads side by side), stored in the cache type:
 *
 *   k    // (n_layer, n_ctx, n_kv_head * head_dim) rows of `type`
 *
 * so that the scores of one query head against every cached key are one matrix-vector
 * product (key rows of one head are head_dim values, row_bytes apart).
 *
 * Values: for F16 and F32 caches they are stored transposed, one row per value component
 * holding that component at every position:
 *
 *   v    // (n_layer, n_kv_head * head_dim, n_ctx) when v_trans (F16, F32)
 *        // (n_layer, n_ctx, n_kv_head * head_dim) otherwise (Q8_0: blocks run along heads)
 *
 * so that the output of a head, sum_p a_p v_p, is again one matrix-vector product (rows of
 * n_keys values against the attention weights). This is llama.cpp's layout without flash
 * attention; a Q8_0 value cache keeps rows (its blocks of 32 must run along the head) and is
 * read position by position.
 *
 * Types: F16 (default; what llama.cpp allocates by default, so keys and values are rounded to
 * half precision exactly as there), F32, Q8_0 (needs head_dim a multiple of 32). Positions
 * [0, n_pos) are filled; a forward pass appends after them.
 *
 * Removing old tokens (context shift): qs_kvcache_shift() drops positions
 * [n_keep, n_keep + n_discard), moves the later ones down by n_discard and re-rotates their
 * keys by -n_discard positions, so the cache reads as if those tokens had been computed at
 * their new positions. We re-rotate rather than recompute because RoPE angles are linear in
 * the position: rotating a key by the angle of a position delta is exact in real arithmetic
 * (the only error is one more rounding to the cache type), costs one pass over the kept keys,
 * and needs no forward pass. llama.cpp's context shift does the same. (What re-rotation cannot
 * undo, and recomputation would, is that the kept tokens' keys and values of deeper layers
 * were computed while the dropped tokens were in view; that is the nature of a context
 * shift.) Values carry no position and are only moved. The rotation itself is supplied by the
 * caller (the model knows its RoPE variant), see qs_kvcache_rotate_fn. */
#ifndef QS_KVCACHE_H
#define QS_KVCACHE_H

#include "qs_common.h"

typedef struct qs_kvcache {
    int type;            /* qs_type: QS_TYPE_F16, QS_TYPE_F32 or QS_TYPE_Q8_0 */
    int n_layer;
    int n_ctx;           /* positions per layer */
    int n_kv_head;
    int head_dim;
    int64_t kv_dim;      /* n_kv_head * head_dim: values per position */
    uint64_t row_bytes;  /* bytes of one key row (kv_dim values of `type`) */
    uint64_t head_bytes; /* bytes of one head's slice of a key row */
    bool v_trans;        /* values stored transposed (F16, F32) */
    uint64_t vt_row_bytes; /* v_trans: bytes of one value row (n_ctx values) */
    int n_pos;           /* filled positions */
    uint8_t *k;          /* owned, see above */
    uint8_t *v;          /* owned, see above */
} qs_kvcache;

/* Allocates a cache. Returns QS_OK, QS_ENOMEM (message gives the bytes asked for), or QS_ERR
 * for a type we do not store ("KV cache type Q4_K is not supported (f16, f32, q8_0)") or a
 * head_dim the type cannot hold. On failure *kv is zeroed. */
int qs_kvcache_init(qs_kvcache *kv, int type, int n_layer, int n_ctx, int n_kv_head,
                    int head_dim, qs_error *err);
void qs_kvcache_free(qs_kvcache *kv);

/* Bytes a cache of these dimensions takes (both K and V), 0 for an unsupported type. */
uint64_t qs_kvcache_bytes(int type, int n_layer, int n_ctx, int n_kv_head, int head_dim);

/* Key row of layer il at position pos (raw bytes in kv->type). */
static inline uint8_t *qs_kvcache_k_row(const qs_kvcache *kv, int il, int pos) {
    return kv->k + ((uint64_t)il * (uint64_t)kv->n_ctx + (uint64_t)pos) * kv->row_bytes;
}
/* v_trans: first value row of head kvh in layer il (head_dim rows follow, vt_row_bytes apart;
 * element p of a row is position p). */
static inline uint8_t *qs_kvcache_vt_head(const qs_kvcache *kv, int il, int kvh) {
    return kv->v + ((uint64_t)il * (uint64_t)kv->kv_dim + (uint64_t)kvh * (uint64_t)kv->head_dim) *
                       kv->vt_row_bytes;
}
/* !v_trans: value row of layer il at position pos. */
static inline uint8_t *qs_kvcache_v_row(const qs_kvcache *kv, int il, int pos) {
    return kv->v + ((uint64_t)il * (uint64_t)kv->n_ctx + (uint64_t)pos) * kv->row_bytes;
}

/* Stores the key / value of position pos in layer il (kv_dim floats each, converted to the
 * cache type). */
void qs_kvcache_store(const qs_kvcache *kv, int il, int pos, const float *k, const float *v);

/* Reads one head's slice (head_dim values) of a key row, or (!v_trans) of a value row, as
 * floats. */
void qs_kvcache_load_head(const qs_kvcache *kv, const uint8_t *row, int head, float *dst);

/* Rotates one key row in place by `delta` positions: x is the row as floats (kv_dim values,
 * n_kv_head heads of head_dim); user is what was passed to qs_kvcache_shift. */
typedef void (*qs_kvcache_rotate_fn)(void *user, float *x, int delta);

/* Context shift (see the top of this file). Requires 0 <= n_keep, n_discard >= 0,
 * n_keep + n_discard <= n_pos; returns QS_ERR otherwise. rotate may be NULL when keys carry no
 * position. scratch needs kv_dim floats. Afterwards n_pos is n_pos - n_discard. */
int qs_kvcache_shift(qs_kvcache *kv, int n_keep, int n_discard, qs_kvcache_rotate_fn rotate,
                     void *user, float *scratch, qs_error *err);

/* Forgets positions from n_pos on (n_pos <= current n_pos), e.g. to regenerate a reply. */
int qs_kvcache_truncate(qs_kvcache *kv, int n_pos, qs_error *err);

#endif
