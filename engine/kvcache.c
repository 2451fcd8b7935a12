/* kvcache.c — KV cache storage, conversion, context shift. */
#include "kvcache.h"

#include <stdlib.h>
#include <string.h>

#include "qs_fp16.h"
#include "qs_kernels.h"
#include "qs_types.h"

static bool kv_type_ok(int type) {
    return type == QS_TYPE_F16 || type == QS_TYPE_F32 || type == QS_TYPE_Q8_0;
}

uint64_t qs_kvcache_bytes(int type, int n_layer, int n_ctx, int n_kv_head, int head_dim) {
    if (!kv_type_ok(type)) return 0;
    uint64_t row = qs_type_row_bytes(type, (int64_t)n_kv_head * head_dim);
    return 2ull * (uint64_t)n_layer * (uint64_t)n_ctx * row;
}

int qs_kvcache_init(qs_kvcache *kv, int type, int n_layer, int n_ctx, int n_kv_head,
                    int head_dim, qs_error *err) {
    memset(kv, 0, sizeof *kv);
    if (!kv_type_ok(type))
        return qs_error_set(err, "KV cache type %s is not supported (f16, f32, q8_0)",
                            qs_type_name(type));
    if (n_layer < 1 || n_ctx < 1 || n_kv_head < 1 || head_dim < 1)
        return qs_error_set(err, "KV cache: bad dimensions (layers %d, context %d, heads %d, "
                                 "head size %d)", n_layer, n_ctx, n_kv_head, head_dim);
    const qs_type_traits *tt = qs_type_traits_get(type);
    if (head_dim % tt->blck_size != 0)
        return qs_error_set(err, "KV cache type %s needs a head size that is a multiple of %d "
                                 "(this model's is %d)", tt->name, tt->blck_size, head_dim);
    kv->type = type;
    kv->n_layer = n_layer;
    kv->n_ctx = n_ctx;
    kv->n_kv_head = n_kv_head;
    kv->head_dim = head_dim;
    kv->kv_dim = (int64_t)n_kv_head * head_dim;
    kv->row_bytes = qs_type_row_bytes(type, kv->kv_dim);
    kv->head_bytes = qs_type_row_bytes(type, head_dim);
    kv->v_trans = type != QS_TYPE_Q8_0;
    kv->vt_row_bytes = kv->v_trans ? qs_type_row_bytes(type, n_ctx) : 0;
    /* both layouts hold n_layer * n_ctx * kv_dim values of `type` */
    uint64_t half = (uint64_t)n_layer * (uint64_t)n_ctx * kv->row_bytes;
    kv->k = malloc(half);
    kv->v = malloc(half);
    if (!kv->k || !kv->v) {
        free(kv->k);
        free(kv->v);
        memset(kv, 0, sizeof *kv);
        qs_error_set(err, "KV cache: out of memory (%llu bytes)", (unsigned long long)(2 * half));
        return QS_ENOMEM;
    }
    return QS_OK;
}

void qs_kvcache_free(qs_kvcache *kv) {
    if (!kv) return;
    free(kv->k);
    free(kv->v);
    memset(kv, 0, sizeof *kv);
}

static void store_row(const qs_kvcache *kv, uint8_t *row, const float *src) {
    switch (kv->type) {
    case QS_TYPE_F32: memcpy(row, src, (size_t)kv->kv_dim * sizeof(float)); break;
    case QS_TYPE_F16: {
        qs_fp16 *h = (qs_fp16 *)(void *)row;
        for (int64_t i = 0; i < kv->kv_dim; i++) h[i] = qs_f32_to_fp16(src[i]);
        break;
    }
    default: /* Q8_0: the activation quantizer writes the same block format */
        qs_kernels_best()->row[QS_TYPE_Q8_0].quantize_act(src, row, kv->kv_dim);
        break;
    }
}

void qs_kvcache_store(const qs_kvcache *kv, int il, int pos, const float *k, const float *v) {
    store_row(kv, qs_kvcache_k_row(kv, il, pos), k);
    if (!kv->v_trans) {
        store_row(kv, qs_kvcache_v_row(kv, il, pos), v);
        return;
    }
    uint8_t *col = qs_kvcache_vt_head(kv, il, 0);
    if (kv->type == QS_TYPE_F32) {
        for (int64_t d = 0; d < kv->kv_dim; d++)
            memcpy(col + (uint64_t)d * kv->vt_row_bytes + (uint64_t)pos * 4, &v[d], 4);
    } else {
        for (int64_t d = 0; d < kv->kv_dim; d++) {
            const qs_fp16 h = qs_f32_to_fp16(v[d]);
            memcpy(col + (uint64_t)d * kv->vt_row_bytes + (uint64_t)pos * 2, &h, 2);
        }
    }
}

static void load_n(int type, const uint8_t *src, float *dst, int64_t n) {
    if (type == QS_TYPE_F32) memcpy(dst, src, (size_t)n * sizeof(float));
    else qs_kernels_best()->row[type].to_float(src, dst, n); /* bit-exact, vectorized */
}

void qs_kvcache_load_head(const qs_kvcache *kv, const uint8_t *row, int head, float *dst) {
    load_n(kv->type, row + (uint64_t)head * kv->head_bytes, dst, kv->head_dim);
}

int qs_kvcache_shift(qs_kvcache *kv, int n_keep, int n_discard, qs_kvcache_rotate_fn rotate,
                     void *user, float *scratch, qs_error *err) {
    if (n_keep < 0 || n_discard < 0 || n_keep + n_discard > kv->n_pos)
        return qs_error_set(err, "KV shift: cannot keep %d and drop %d of %d positions", n_keep,
                            n_discard, kv->n_pos);
    if (n_discard == 0) return QS_OK;
    const int n_move = kv->n_pos - n_keep - n_discard;
    for (int il = 0; il < kv->n_layer; il++) {
        uint8_t *kd = qs_kvcache_k_row(kv, il, n_keep);
        memmove(kd, qs_kvcache_k_row(kv, il, n_keep + n_discard), (size_t)n_move * kv->row_bytes);
        if (kv->v_trans) {
            const uint64_t es = kv->vt_row_bytes / (uint64_t)kv->n_ctx;
            for (int64_t d = 0; d < kv->kv_dim; d++) {
                uint8_t *row = qs_kvcache_vt_head(kv, il, 0) + (uint64_t)d * kv->vt_row_bytes;
                memmove(row + (uint64_t)n_keep * es, row + (uint64_t)(n_keep + n_discard) * es,
                        (size_t)n_move * es);
            }
        } else {
            memmove(qs_kvcache_v_row(kv, il, n_keep), qs_kvcache_v_row(kv, il, n_keep + n_discard),
                    (size_t)n_move * kv->row_bytes);
        }
        if (!rotate) continue;
        for (int p = 0; p < n_move; p++) {
            uint8_t *row = kd + (uint64_t)p * kv->row_bytes;
            load_n(kv->type, row, scratch, kv->kv_dim);
            rotate(user, scratch, -n_discard);
            store_row(kv, row, scratch);
        }
    }
    kv->n_pos -= n_discard;
    return QS_OK;
}

int qs_kvcache_truncate(qs_kvcache *kv, int n_pos, qs_error *err) {
    if (n_pos < 0 || n_pos > kv->n_pos)
        return qs_error_set(err, "KV truncate: %d is outside the %d filled positions", n_pos,
                            kv->n_pos);
    kv->n_pos = n_pos;
    return QS_OK;
}
