/* The memory estimate. Rules learned from llama.cpp d32676d7 (src/llama-model.cpp,
 * src/llama-model-loader.cpp, src/llama-kv-cache.cpp, src/llama-context.cpp, src/llama-graph.cpp,
 * ggml/src/ggml-alloc.c, ggml/src/ggml-backend.cpp, ggml/src/ggml-cpu/repack.cpp,
 * ggml/src/ggml-cuda/ggml-cuda.cu); written from their behaviour, not copied. */
#include "qs_estimate.h"

#include <stdlib.h>
#include <string.h>

#include "qs_types.h"

#define CPU_ALIGN 32u   /* TENSOR_ALIGNMENT: CPU, CPU_REPACK and CUDA_Host buffers */
#define CUDA_ALIGN 128u /* CUDA device buffers */
#define CUDA_ROW_PAD 512 /* quantized rows on CUDA are padded to a multiple of this */

/* Assumed runtime overheads (not reported by llama.cpp). */
#define HOST_OVERHEAD (64ull * QS_MIB)
#define GPU_OVERHEAD (400ull * QS_MIB)

static uint64_t pad_u64(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* ------------------------------------------------------------------------------------------ */
/* Parts                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    const char *label_cpu;  /* label in a CPU-only build */
    const char *label_gpu;  /* label with a CUDA device */
    qs_est_device dev;
} part_info[QS_EST_PART_COUNT] = {
    [QS_EST_WEIGHTS_MAPPED] = {"weights_mapped", "CPU_Mapped model buffer", "CPU_Mapped model buffer", QS_EST_HOST},
    [QS_EST_WEIGHTS_REPACK] = {"weights_repack", "CPU_REPACK model buffer", "CPU_REPACK model buffer", QS_EST_HOST},
    [QS_EST_WEIGHTS_HOST] = {"weights_host", "CPU model buffer", "CUDA_Host model buffer", QS_EST_HOST},
    [QS_EST_WEIGHTS_GPU] = {"weights_gpu", "CUDA0 model buffer", "CUDA0 model buffer", QS_EST_GPU},
    [QS_EST_KV_HOST] = {"kv_host", "CPU KV buffer", "CPU KV buffer", QS_EST_HOST},
    [QS_EST_KV_GPU] = {"kv_gpu", "CUDA0 KV buffer", "CUDA0 KV buffer", QS_EST_GPU},
    [QS_EST_OUTPUT] = {"output", "CPU output buffer", "CUDA_Host output buffer", QS_EST_HOST},
    [QS_EST_COMPUTE_HOST] = {"compute_host", "CPU compute buffer", "CUDA_Host compute buffer", QS_EST_HOST},
    [QS_EST_COMPUTE_GPU] = {"compute_gpu", "CUDA0 compute buffer", "CUDA0 compute buffer", QS_EST_GPU},
    [QS_EST_OVERHEAD_HOST] = {"overhead_host", "runtime overhead (host)", "runtime overhead (host)", QS_EST_HOST},
    [QS_EST_OVERHEAD_GPU] = {"overhead_gpu", "runtime overhead (GPU)", "CUDA context and pool", QS_EST_GPU},
};

const char *qs_est_part_name(qs_est_part_id id) {
    return (unsigned)id < QS_EST_PART_COUNT ? part_info[id].name : "?";
}

static void assume(qs_est_result *r, qs_est_part_id id, const char *why) {
    if (!r->part[id].assumed) {
        r->part[id].assumed = true;
        r->part[id].assumption = why;
    }
}

void qs_est_settings_default(qs_est_settings *s) {
    memset(s, 0, sizeof *s);
    s->n_ctx = 0;
    s->n_batch = 2048;
    s->n_ubatch = 512;
    s->n_seq = 1;
    s->kv_unified = false;
    s->type_k = QS_TYPE_F16;
    s->type_v = QS_TYPE_F16;
    s->flash_attn = QS_EST_FA_AUTO;
    s->n_gpu_layers = -1;
    s->margin = QS_GIB;
    s->mmap = true;
    s->repack = true;
    s->offload_kqv = true;
    s->op_offload = true;
    s->cpu_features = QS_EST_CPU_AVX2;
}

int qs_est_block_of(const char *name) {
    if (!name || strncmp(name, "blk.", 4) != 0) return -1;
    const char *p = name + 4;
    if (*p < '0' || *p > '9') return -1;
    long v = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        if (v > 1000000) return -1;
        p++;
    }
    return *p == '.' ? (int)v : -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Model facts                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* The op llama.cpp tests a weight's buffer with (llm_tensor_info): decides repacking. */
typedef enum { OP_NONE, OP_GET_ROWS, OP_MUL_MAT, OP_MUL_MAT_ID, OP_OTHER } wop;

static bool ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static wop weight_op(const qs_est_tensor *t) {
    if (strcmp(t->name, "token_embd.weight") == 0) return OP_GET_ROWS;
    if (ends_with(t->name, ".bias")) return OP_OTHER;
    if (!ends_with(t->name, ".weight")) return OP_OTHER;
    if (t->n_dims == 3 && strstr(t->name, "_exps")) return OP_MUL_MAT_ID;
    if (t->n_dims == 2) {
        /* 2-D weights used by something other than a matrix product */
        if (strstr(t->name, "conv") || strstr(t->name, "_norm") || strstr(t->name, "pos_embd") ||
            strstr(t->name, "type_embd"))
            return OP_OTHER;
        return OP_MUL_MAT;
    }
    return OP_OTHER;
}

typedef struct mfacts {
    int L;
    int64_t E, Hq, dk, dv, V;
    int hkv[QS_EST_MAX_LAYERS];
    int64_t ff[QS_EST_MAX_LAYERS];
    bool bq[QS_EST_MAX_LAYERS], bk[QS_EST_MAX_LAYERS], bv[QS_EST_MAX_LAYERS], bo[QS_EST_MAX_LAYERS];
    bool qnorm[QS_EST_MAX_LAYERS], knorm[QS_EST_MAX_LAYERS];
    bool tied;            /* no output.weight: token_embd doubles as the output matrix */
    bool output_bias;
    bool has_exps, has_fused_qkv;
    int64_t tok_embd_idx; /* index of token_embd.weight or -1 */
    uint32_t align;
    bool arch_exact;      /* llama / mistral / qwen2 graph */
} mfacts;

static int model_facts(const qs_est_model *m, mfacts *f, qs_error *err) {
    if (!m) return qs_error_set(err, "estimate: no model");
    if (m->n_layer < 1 || m->n_layer > QS_EST_MAX_LAYERS)
        return qs_error_set(err, "estimate: n_layer %d out of range 1..%d", m->n_layer, QS_EST_MAX_LAYERS);
    if (m->n_embd <= 0 || m->n_head <= 0)
        return qs_error_set(err, "estimate: n_embd (%lld) and n_head (%d) must be positive",
                            (long long)m->n_embd, m->n_head);
    if (m->n_tensors < 0 || (m->n_tensors > 0 && !m->tensors))
        return qs_error_set(err, "estimate: bad tensor list");
    memset(f, 0, sizeof *f);
    f->L = m->n_layer;
    f->E = m->n_embd;
    f->Hq = m->n_head;
    f->dk = m->head_dim_k > 0 ? m->head_dim_k : m->n_embd / m->n_head;
    f->dv = m->head_dim_v > 0 ? m->head_dim_v : f->dk;
    f->align = m->alignment ? m->alignment : 32;
    if (f->align & (f->align - 1)) return qs_error_set(err, "estimate: alignment %u is not a power of two", f->align);
    for (int il = 0; il < f->L; il++) {
        int h = m->n_head_kv_layer ? m->n_head_kv_layer[il] : (m->n_head_kv > 0 ? m->n_head_kv : m->n_head);
        if (h < 0) return qs_error_set(err, "estimate: layer %d: negative n_head_kv", il);
        f->hkv[il] = h;
        f->ff[il] = m->n_ff;
    }
    f->tok_embd_idx = -1;
    f->tied = true;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const qs_est_tensor *t = &m->tensors[i];
        if (!t->name) return qs_error_set(err, "estimate: tensor %lld has no name", (long long)i);
        if (!qs_type_valid(t->type))
            return qs_error_set(err, "estimate: tensor %s: invalid type id %d", t->name, t->type);
        if (t->n_dims < 1 || t->n_dims > 4)
            return qs_error_set(err, "estimate: tensor %s: n_dims %d", t->name, t->n_dims);
        for (int d = 0; d < 4; d++)
            if (t->ne[d] < 1 || t->ne[d] > (1ll << 40))
                return qs_error_set(err, "estimate: tensor %s: ne[%d] = %lld", t->name, d, (long long)t->ne[d]);
        const qs_type_traits *tt = qs_type_traits_get(t->type);
        if (t->ne[0] % tt->blck_size != 0)
            return qs_error_set(err, "estimate: tensor %s: row of %lld is not a multiple of %s's block of %d",
                                t->name, (long long)t->ne[0], tt->name, tt->blck_size);
        if (strcmp(t->name, "token_embd.weight") == 0) f->tok_embd_idx = i;
        if (strcmp(t->name, "output.weight") == 0) f->tied = false;
        if (strcmp(t->name, "output.bias") == 0) f->output_bias = true;
        int b = t->block >= 0 ? t->block : qs_est_block_of(t->name);
        if (b >= f->L) return qs_error_set(err, "estimate: tensor %s: block %d >= n_layer %d", t->name, b, f->L);
        if (b < 0) continue;
        const char *suf = strchr(t->name + 4, '.');
        if (!suf) continue;
        suf++;
        if (strcmp(suf, "ffn_up.weight") == 0 && t->n_dims == 2) f->ff[b] = t->ne[1];
        else if (strcmp(suf, "attn_q.bias") == 0) f->bq[b] = true;
        else if (strcmp(suf, "attn_k.bias") == 0) f->bk[b] = true;
        else if (strcmp(suf, "attn_v.bias") == 0) f->bv[b] = true;
        else if (strcmp(suf, "attn_output.bias") == 0) f->bo[b] = true;
        else if (strcmp(suf, "attn_q_norm.weight") == 0) f->qnorm[b] = true;
        else if (strcmp(suf, "attn_k_norm.weight") == 0) f->knorm[b] = true;
        else if (strcmp(suf, "attn_qkv.weight") == 0) f->has_fused_qkv = true;
        else if (strstr(suf, "_exps.")) f->has_exps = true;
    }
    f->V = m->n_vocab;
    if (f->V <= 0 && f->tok_embd_idx >= 0) f->V = m->tensors[f->tok_embd_idx].ne[1];
    if (f->V <= 0) return qs_error_set(err, "estimate: n_vocab unknown (no token_embd.weight)");
    for (int il = 0; il < f->L; il++)
        if (f->ff[il] <= 0) return qs_error_set(err, "estimate: layer %d: n_ff unknown", il);
    const char *a = m->arch ? m->arch : "";
    f->arch_exact = (strcmp(a, "llama") == 0 || strcmp(a, "mistral") == 0 || strcmp(a, "qwen2") == 0) &&
                    !f->has_exps && !f->has_fused_qkv;
    for (int il = 0; il < f->L; il++)
        if (f->qnorm[il] || f->knorm[il]) f->arch_exact = false;
    return QS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Runtime values llama.cpp derives from the settings                                          */
/* ------------------------------------------------------------------------------------------ */

typedef struct rt {
    int64_t n_ctx, n_ctx_seq, n_batch, n_ubatch;
    int n_seq, n_stream;
    bool fa, gpu;
    int ngl;              /* effective -ngl, 0..L+1 */
    int i_gpu_start;      /* first layer index (0..L, L = output) on the GPU */
    int64_t T_pp, out_pp; /* worst-case micro-batch: tokens and outputs */
} rt;

static bool layer_on_gpu(const rt *r, int il) { return r->gpu && il >= r->i_gpu_start; }

static bool kv_type_ok(int t) {
    return t == QS_TYPE_F32 || t == QS_TYPE_F16 || t == QS_TYPE_BF16 || t == QS_TYPE_Q8_0 || t == QS_TYPE_Q4_0 ||
           t == QS_TYPE_Q4_1 || t == QS_TYPE_Q5_0 || t == QS_TYPE_Q5_1 || t == QS_TYPE_IQ4_NL;
}

static int runtime(const qs_est_model *m, const mfacts *f, const qs_est_settings *s, rt *r, qs_error *err) {
    memset(r, 0, sizeof *r);
    if (!s) return qs_error_set(err, "estimate: no settings");
    if (!kv_type_ok(s->type_k) || !kv_type_ok(s->type_v))
        return qs_error_set(err, "estimate: KV cache type %s/%s not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL)",
                            qs_type_name(s->type_k), qs_type_name(s->type_v));
    if (s->n_seq < 0 || s->n_seq > 256) return qs_error_set(err, "estimate: n_seq %d out of range 1..256", s->n_seq);
    if (s->n_ctx < 0 || s->n_batch < 0 || s->n_ubatch < 0)
        return qs_error_set(err, "estimate: negative n_ctx, n_batch or n_ubatch");
    r->n_seq = s->n_seq > 0 ? s->n_seq : 1;
    int64_t n_ctx = s->n_ctx > 0 ? s->n_ctx : m->n_ctx_train;
    if (n_ctx <= 0) return qs_error_set(err, "estimate: n_ctx not given and n_ctx_train unknown");
    if (n_ctx > (1ll << 32)) return qs_error_set(err, "estimate: n_ctx %lld too large", (long long)n_ctx);
    int64_t req_batch = s->n_batch > 0 ? s->n_batch : 2048;
    int64_t req_ubatch = s->n_ubatch > 0 ? s->n_ubatch : req_batch;
    /* the batch is limited by the requested context, before the context is padded */
    r->n_batch = n_ctx < req_batch ? n_ctx : req_batch;
    r->n_ubatch = req_ubatch < r->n_batch ? req_ubatch : r->n_batch;
    n_ctx = (int64_t)pad_u64((uint64_t)n_ctx, 256);
    if (s->kv_unified) {
        r->n_ctx_seq = n_ctx;
        r->n_stream = 1;
    } else {
        r->n_ctx_seq = (int64_t)pad_u64((uint64_t)(n_ctx / r->n_seq), 256);
        n_ctx = r->n_ctx_seq * r->n_seq;
        r->n_stream = r->n_seq;
    }
    r->n_ctx = n_ctx;
    r->gpu = s->gpu_mem > 0;
    r->fa = s->flash_attn != QS_EST_FA_OFF; /* auto: CPU and CUDA support it for these head sizes */
    if (!r->fa && qs_type_traits_get(s->type_v)->quantized)
        return qs_error_set(err, "estimate: a quantized V cache (%s) requires flash attention", qs_type_name(s->type_v));
    int L = f->L;
    int ngl = s->n_gpu_layers < 0 ? L + 1 : s->n_gpu_layers;
    if (ngl > L + 1) ngl = L + 1;
    if (!r->gpu) ngl = 0;
    r->ngl = ngl;
    r->i_gpu_start = L + 1 - ngl;
    int64_t n_tok = r->n_ctx < r->n_ubatch ? r->n_ctx : r->n_ubatch;
    r->out_pp = n_tok < r->n_batch ? n_tok : r->n_batch;
    if (n_tok % r->n_seq) n_tok = (n_tok + r->n_seq - 1) / r->n_seq * r->n_seq;
    r->T_pp = n_tok;
    return QS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Weights                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static bool cpu_repacks(const qs_est_tensor *t, wop op, unsigned feat) {
    if (op == OP_MUL_MAT) {
        if (t->n_dims != 2) return false;
    } else if (op == OP_MUL_MAT_ID) {
        if (t->n_dims != 3) return false;
    } else {
        return false;
    }
    bool avx2 = feat & (QS_EST_CPU_AVX2 | QS_EST_CPU_AVX512);
    bool avx512 = feat & QS_EST_CPU_AVX512;
    bool dot = feat & (QS_EST_CPU_NEON_DOTPROD | QS_EST_CPU_NEON_I8MM);
    bool i8mm = feat & QS_EST_CPU_NEON_I8MM;
    int64_t rows = t->ne[1];
    switch (t->type) {
    case QS_TYPE_Q4_0:
        return (avx2 && rows % 8 == 0) || (dot && rows % 4 == 0);
    case QS_TYPE_Q4_K:
        return (avx2 || dot) && rows % 8 == 0;
    case QS_TYPE_IQ4_NL:
    case QS_TYPE_MXFP4:
        return (avx2 && rows % 8 == 0) || (dot && rows % 4 == 0);
    case QS_TYPE_Q2_K:
        return avx512 && rows % 8 == 0;
    case QS_TYPE_Q5_K:
    case QS_TYPE_Q6_K:
        return dot && rows % 8 == 0;
    case QS_TYPE_Q8_0:
        return (dot || i8mm) && rows % 4 == 0;
    default:
        return false;
    }
}

static uint64_t tensor_bytes(const qs_est_tensor *t) {
    uint64_t row = qs_type_row_bytes(t->type, t->ne[0]);
    return row * (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
}

static uint64_t cuda_alloc_size(const qs_est_tensor *t) {
    uint64_t size = tensor_bytes(t);
    if (qs_type_traits_get(t->type)->quantized && t->ne[0] % CUDA_ROW_PAD != 0)
        size += qs_type_row_bytes(t->type, CUDA_ROW_PAD - t->ne[0] % CUDA_ROW_PAD);
    return size;
}

/* Which logical layer a tensor belongs to: 0..L-1 repeating, L = output, -1 = input. */
static int tensor_layer(const qs_est_tensor *t, int L) {
    int b = t->block >= 0 ? t->block : qs_est_block_of(t->name);
    if (b >= 0) return b;
    if (strcmp(t->name, "rope_freqs.weight") == 0) return 0; /* created with layer 0's buffers */
    if (strncmp(t->name, "output", 6) == 0) return L;
    return -1; /* token_embd and other input-side tensors stay on the host */
}

typedef struct wsum {
    uint64_t mapped_lo, mapped_hi; /* span of mapped tensors */
    bool any_mapped;
    uint64_t repack, host_copy, gpu, repack_in_span;
    uint64_t largest_host_mm;     /* largest host MUL_MAT weight (CUDA size), for op offload */
} wsum;

/* One use of a tensor: placed in a buffer. off/bytes: its place in the file. */
static void place(const qs_est_tensor *t, wop op, int layer, uint64_t off, const rt *r,
                  const qs_est_settings *s, wsum *w) {
    uint64_t nb = tensor_bytes(t);
    bool on_gpu = layer >= 0 && layer_on_gpu(r, layer);
    if (on_gpu) {
        w->gpu += pad_u64(cuda_alloc_size(t), CUDA_ALIGN);
        return;
    }
    /* host buffer list: [CUDA_Host], [CPU_REPACK], CPU. With a GPU the pinned host buffer is
     * first and takes every weight; with mmap it is turned back into the mapped CPU buffer, so
     * repacking only happens in CPU-only runs. */
    if (!r->gpu && s->repack && cpu_repacks(t, op, s->cpu_features)) {
        w->repack += pad_u64(nb, CPU_ALIGN);
        return;
    }
    if (r->gpu && (op == OP_MUL_MAT || op == OP_MUL_MAT_ID)) {
        uint64_t c = cuda_alloc_size(t);
        if (c > w->largest_host_mm) w->largest_host_mm = c;
    }
    if (s->mmap) {
        if (!w->any_mapped || off < w->mapped_lo) w->mapped_lo = off;
        if (!w->any_mapped || off + nb > w->mapped_hi) w->mapped_hi = off + nb;
        w->any_mapped = true;
    } else {
        w->host_copy += pad_u64(nb, CPU_ALIGN);
    }
}

/* Returns the largest host matrix-product weight (CUDA size), used by the op-offload rule. */
static uint64_t weights(const qs_est_model *m, const mfacts *f, const rt *r, const qs_est_settings *s,
                        qs_est_result *res) {
    wsum w;
    memset(&w, 0, sizeof w);
    uint64_t off = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const qs_est_tensor *t = &m->tensors[i];
        place(t, weight_op(t), tensor_layer(t, f->L), off, r, s, &w);
        off = pad_u64(off + tensor_bytes(t), f->align);
    }
    /* tied embeddings: the output layer uses token_embd again, as a matrix product */
    if (f->tied && f->tok_embd_idx >= 0) {
        const qs_est_tensor *t = &m->tensors[f->tok_embd_idx];
        uint64_t toff = 0;
        for (int64_t i = 0; i < f->tok_embd_idx; i++) toff = pad_u64(toff + tensor_bytes(&m->tensors[i]), f->align);
        place(t, OP_MUL_MAT, f->L, toff, r, s, &w);
    }
    /* repacked tensors whose bytes lie inside the mapped span are mapped but unused */
    if (w.any_mapped && w.repack) {
        off = 0;
        for (int64_t i = 0; i < m->n_tensors; i++) {
            const qs_est_tensor *t = &m->tensors[i];
            uint64_t nb = tensor_bytes(t);
            int layer = tensor_layer(t, f->L);
            bool host = !(layer >= 0 && layer_on_gpu(r, layer));
            if (host && !r->gpu && s->repack && cpu_repacks(t, weight_op(t), s->cpu_features) &&
                off >= w.mapped_lo && off + nb <= w.mapped_hi)
                w.repack_in_span += nb;
            off = pad_u64(off + nb, f->align);
        }
    }
    res->part[QS_EST_WEIGHTS_MAPPED].bytes = w.any_mapped ? w.mapped_hi - w.mapped_lo : 0;
    res->part[QS_EST_WEIGHTS_REPACK].bytes = w.repack;
    res->part[QS_EST_WEIGHTS_HOST].bytes = w.host_copy;
    res->part[QS_EST_WEIGHTS_GPU].bytes = w.gpu;
    res->host_reclaimable = w.repack_in_span;
    if (r->gpu) {
        if (w.gpu) assume(res, QS_EST_WEIGHTS_GPU,
                          "CUDA rules: 128-byte alignment, quantized rows padded to 512 elements; other GPU backends differ");
        if (w.host_copy)
            assume(res, QS_EST_WEIGHTS_HOST, "without mmap, host layers go to pinned CUDA_Host memory");
    }
    if (!f->arch_exact && w.repack)
        assume(res, QS_EST_WEIGHTS_REPACK, "tensor roles (which weights are matrix products) guessed from names");
    res->gpu_layers = r->ngl > f->L ? f->L : (r->ngl > 0 ? r->ngl - 1 : 0);
    res->output_on_gpu = r->ngl >= 1;
    return w.largest_host_mm;
}

/* ------------------------------------------------------------------------------------------ */
/* KV cache and output buffer                                                                  */
/* ------------------------------------------------------------------------------------------ */

static int kv_cache(const mfacts *f, const rt *r, const qs_est_settings *s, qs_est_result *res, qs_error *err) {
    uint64_t host = 0, gpu = 0;
    int64_t hkv_max = 0;
    for (int il = 0; il < f->L; il++)
        if (f->hkv[il] > hkv_max) hkv_max = f->hkv[il];
    for (int il = 0; il < f->L; il++) {
        if (f->hkv[il] == 0) continue;
        int64_t ek = f->dk * f->hkv[il];
        /* without flash attention V is stored transposed, every layer at the widest width */
        int64_t ev = r->fa ? f->dv * f->hkv[il] : f->dv * hkv_max;
        uint64_t rk = qs_type_row_bytes(s->type_k, ek), rv = qs_type_row_bytes(s->type_v, ev);
        if (rk == 0 || rv == 0)
            return qs_error_set(err, "estimate: layer %d: K/V width %lld/%lld is not a multiple of the %s/%s block",
                                il, (long long)ek, (long long)ev, qs_type_name(s->type_k), qs_type_name(s->type_v));
        uint64_t cells = (uint64_t)r->n_ctx_seq * (uint64_t)r->n_stream;
        bool dev = s->offload_kqv && layer_on_gpu(r, il);
        uint64_t a = dev ? CUDA_ALIGN : CPU_ALIGN;
        uint64_t b = pad_u64(rk * cells, a) + pad_u64(rv * cells, a);
        if (dev) gpu += b; else host += b;
    }
    res->part[QS_EST_KV_HOST].bytes = host;
    res->part[QS_EST_KV_GPU].bytes = gpu;
    return QS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Compute buffers: a replay of ggml-alloc over llama.cpp's graph                              */
/*                                                                                             */
/* llama.cpp reserves its compute buffers by allocating the worst-case graph (one full         */
/* micro-batch, every token an output) with ggml-alloc: tensors are placed in graph order with */
/* a best-fit free list, reuse their input's memory when the op can work in place, and are     */
/* freed after their last consumer. The buffer size is the high-water mark. The size depends   */
/* on the order of allocation, not only on what is live at once, so we rebuild the graph in    */
/* the same order (the depth-first order of ggml_build_forward_expand) and run the same        */
/* allocator.                                                                                  */
/* ------------------------------------------------------------------------------------------ */

#define EXT (-2) /* a tensor with its own buffer: weights, KV cache */
#define NONE (-1)

enum { GF_INPLACE = 1, GF_INPUT = 2, GF_OUTPUT = 4, GF_FA = 8 };

typedef struct gten {
    uint64_t size;    /* bytes (0 for views) */
    int64_t lay[3];   /* shape of a contiguous f32 tensor (ne0, ne1, ne2); lay[0] < 0: unique */
    int32_t src[4];
    int32_t view;     /* root tensor when a view, EXT for views of external tensors, NONE */
    uint8_t flags;
    uint8_t dev;
    uint8_t visited;
    uint8_t allocated;
    int32_t n_children, n_views;
    int32_t hkv;      /* flash-attention node: KV heads of its layer (for the CUDA size) */
    uint64_t offset;
} gten;

typedef struct graph {
    gten *t;
    int32_t n, cap;
    int32_t *order; /* nodes in execution order */
    int32_t n_order;
    int32_t *leafs; /* input leafs in discovery order */
    int32_t n_leafs;
    int64_t uniq;
    int cur_dev;
} graph;

static int32_t g_add(graph *g, uint64_t size, int64_t l0, int64_t l1, int64_t l2, uint8_t flags,
                     int32_t s0, int32_t s1, int32_t s2, int32_t s3) {
    if (g->n >= g->cap) return NONE; /* cannot happen: capacity computed from the shape */
    gten *t = &g->t[g->n];
    memset(t, 0, sizeof *t);
    t->size = size;
    if (l0 < 0) l0 = -(++g->uniq);
    t->lay[0] = l0;
    t->lay[1] = l1;
    t->lay[2] = l2;
    t->src[0] = s0;
    t->src[1] = s1;
    t->src[2] = s2;
    t->src[3] = s3;
    t->view = NONE;
    t->flags = flags;
    t->dev = (uint8_t)g->cur_dev;
    return g->n++;
}

/* a contiguous f32 activation */
static int32_t g_f32(graph *g, int64_t ne0, int64_t ne1, int64_t ne2, uint8_t flags, int32_t s0, int32_t s1) {
    return g_add(g, 4ull * (uint64_t)(ne0 * ne1 * ne2), ne0, ne1, ne2, flags, s0, s1, NONE, NONE);
}

/* a node with a shape no in-place op will share */
static int32_t g_node(graph *g, uint64_t size, int32_t s0, int32_t s1, int32_t s2, int32_t s3) {
    return g_add(g, size, -1, 0, 0, 0, s0, s1, s2, s3);
}

static int32_t g_input(graph *g, uint64_t size) { return g_add(g, size, -1, 0, 0, GF_INPUT, NONE, NONE, NONE, NONE); }

/* a view (reshape, permute, ...) of `of`; EXT for a view of the KV cache */
static int32_t g_view(graph *g, int32_t of, int64_t l0, int64_t l1, int64_t l2) {
    int32_t v = g_add(g, 0, l0, l1, l2, 0, of >= 0 ? of : EXT, NONE, NONE, NONE);
    if (v < 0) return v;
    if (of >= 0) {
        g->t[v].view = g->t[of].view != NONE ? g->t[of].view : of;
        g->t[v].dev = g->t[of].dev;
    } else {
        g->t[v].view = EXT;
    }
    return v;
}

/* ggml_build_forward_expand: depth-first over sources, in source order */
static void g_expand(graph *g, int32_t id) {
    if (id < 0 || g->t[id].visited) return;
    g->t[id].visited = 1;
    for (int j = 0; j < 4; j++) g_expand(g, g->t[id].src[j]);
    gten *t = &g->t[id];
    bool leaf = t->src[0] == NONE && t->src[1] == NONE && t->src[2] == NONE && t->src[3] == NONE && t->view == NONE;
    if (leaf && (t->flags & GF_INPUT)) g->leafs[g->n_leafs++] = id;
    else g->order[g->n_order++] = id;
}

typedef struct gparams {
    const mfacts *f;
    const rt *r;
    int type_k, type_v;
    int64_t T, n_out, n_kv, ns;
    bool multi_dev;
} gparams;

static int layer_dev(const gparams *p, int il) { return layer_on_gpu(p->r, il) ? 1 : 0; }

/* llama_mul_mat_hadamard on a contiguous tensor: reshape, rotate, reshape back */
static int32_t g_hadamard(graph *g, int32_t cur, int32_t rot, uint64_t bytes) {
    int32_t r2 = g_view(g, cur, -1, 0, 0);
    int32_t mm = g_node(g, bytes, rot, r2, NONE, NONE);
    return g_view(g, mm, -1, 0, 0);
}

static int rot_size(int64_t d, bool for_k) {
    if (d % 64 != 0) return 0;
    int n = 64;
    if (for_k)
        while (d % (n * 2) == 0) n *= 2;
    return n;
}

/* The llama / qwen2 decoder graph, in llama.cpp's node order. */
static void build_graph(graph *g, const gparams *p) {
    const mfacts *f = p->f;
    const int64_t E = f->E, Hq = f->Hq, dk = f->dk, dv = f->dv, V = f->V;
    const int64_t T = p->T, n_out = p->n_out, n_kv = p->n_kv, ns = p->ns;
    const int L = f->L;
    const bool fa = p->r->fa;
    const bool qk = qs_type_traits_get(p->type_k)->quantized, qv = qs_type_traits_get(p->type_v)->quantized;
    int64_t hkv_max = 0;
    for (int il = 0; il < L; il++)
        if (f->hkv[il] > hkv_max) hkv_max = f->hkv[il];
    int nrot_k = qk ? rot_size(dk, true) : 0, nrot_v = qv ? rot_size(dv, false) : 0;

    g->cur_dev = 0; /* inputs and the token embedding live on the host */
    int32_t tokens = g_input(g, 4ull * (uint64_t)T);
    int32_t inpL = g_f32(g, E, T, 1, 0, EXT, tokens);
    g_expand(g, inpL);
    /* the vector-embedding input is built too (ggml_build_forward_select) and stays allocated */
    g_expand(g, g_input(g, 4ull * (uint64_t)(E * T)));
    int32_t rot_k = nrot_k ? g_input(g, 4ull * (uint64_t)(nrot_k * nrot_k)) : NONE;
    int32_t rot_v = nrot_v ? g_input(g, 4ull * (uint64_t)(nrot_v * nrot_v)) : NONE;
    int32_t pos = g_input(g, 4ull * (uint64_t)T);
    int32_t k_idxs = g_input(g, 8ull * (uint64_t)T);
    int32_t v_idxs = g_input(g, fa ? 8ull * (uint64_t)T : 8ull * (uint64_t)(T * dv * hkv_max));
    int32_t mask = g_input(g, (fa ? 2ull : 4ull) * (uint64_t)(n_kv * T));
    int32_t out_ids = g_input(g, 4ull * (uint64_t)n_out);

    for (int il = 0; il < L; il++) {
        g->cur_dev = layer_dev(p, il);
        const int64_t Hk = f->hkv[il], F = f->ff[il];
        const int64_t Eq = dk * Hq, Ek = dk * Hk, Ev = dv * Hk;
        int32_t inpSA = inpL;
        int32_t norm = g_f32(g, E, T, 1, GF_INPLACE, inpL, NONE);
        int32_t an = g_f32(g, E, T, 1, GF_INPLACE, norm, EXT);
        int32_t q = g_f32(g, Eq, T, 1, 0, EXT, an);
        if (f->bq[il]) q = g_f32(g, Eq, T, 1, GF_INPLACE, q, EXT);
        int32_t k = g_f32(g, Ek, T, 1, 0, EXT, an);
        if (f->bk[il]) k = g_f32(g, Ek, T, 1, GF_INPLACE, k, EXT);
        int32_t v = g_f32(g, Ev, T, 1, 0, EXT, an);
        if (f->bv[il]) v = g_f32(g, Ev, T, 1, GF_INPLACE, v, EXT);
        q = g_view(g, q, dk, Hq, T);
        k = g_view(g, k, dk, Hk, T);
        v = g_view(g, v, dv, Hk, T);
        if (f->qnorm[il]) {
            q = g_f32(g, dk, Hq, T, GF_INPLACE, q, NONE);
            q = g_f32(g, dk, Hq, T, GF_INPLACE, q, EXT);
        }
        if (f->knorm[il]) {
            k = g_f32(g, dk, Hk, T, GF_INPLACE, k, NONE);
            k = g_f32(g, dk, Hk, T, GF_INPLACE, k, EXT);
        }
        q = g_f32(g, dk, Hq, T, GF_INPLACE, q, pos);
        k = g_f32(g, dk, Hk, T, GF_INPLACE, k, pos);
        if (rot_k != NONE) {
            q = g_hadamard(g, q, rot_k, 4ull * (uint64_t)(Eq * T));
            k = g_hadamard(g, k, rot_k, 4ull * (uint64_t)(Ek * T));
        }
        if (rot_v != NONE) v = g_hadamard(g, v, rot_v, 4ull * (uint64_t)(Ev * T));
        g_expand(g, q);
        g_expand(g, v);
        g_expand(g, k);
        /* store K and V into the cache (set_rows results are views of the cache) */
        int32_t k2 = g_view(g, k, -1, 0, 0);
        int32_t ck = ns > 1 ? g_view(g, EXT, -1, 0, 0) : EXT;
        int32_t setk = g_add(g, 0, -1, 0, 0, 0, k2, k_idxs, ck, NONE);
        g->t[setk].view = EXT;
        g_expand(g, setk);
        int32_t vsrc = g_view(g, v, -1, 0, 0);
        int32_t cv;
        if (fa) {
            cv = ns > 1 ? g_view(g, EXT, -1, 0, 0) : EXT;
        } else {
            vsrc = g_view(g, vsrc, -1, 0, 0);
            cv = g_view(g, EXT, -1, 0, 0);
        }
        int32_t setv = g_add(g, 0, -1, 0, 0, 0, vsrc, v_idxs, cv, NONE);
        g->t[setv].view = EXT;
        g_expand(g, setv);
        /* attention */
        int32_t qp = g_view(g, g_view(g, q, -1, 0, 0), -1, 0, 0);
        int32_t kp = g_view(g, g_view(g, EXT, -1, 0, 0), -1, 0, 0);
        int32_t cur;
        if (fa) {
            int32_t vp = g_view(g, g_view(g, EXT, -1, 0, 0), -1, 0, 0);
            if (p->type_k == QS_TYPE_F32) kp = g_node(g, 2ull * (uint64_t)(dk * n_kv * Hk * ns), kp, NONE, NONE, NONE);
            if (p->type_v == QS_TYPE_F32) vp = g_node(g, 2ull * (uint64_t)(dv * n_kv * Hk * ns), vp, NONE, NONE, NONE);
            int32_t o = g_node(g, 4ull * (uint64_t)(dv * Hq * T), qp, kp, vp, mask);
            g->t[o].flags |= GF_FA;
            g->t[o].hkv = (int32_t)Hk;
            cur = g_view(g, o, dv * Hq, T, 1);
        } else {
            int32_t kq = g_f32(g, n_kv, T, Hq, 0, kp, qp);
            kq = g_f32(g, n_kv, T, Hq, GF_INPLACE, kq, mask);
            int32_t vp = g_view(g, g_view(g, EXT, -1, 0, 0), -1, 0, 0);
            int32_t kqv = g_node(g, 4ull * (uint64_t)(dv * T * Hq), vp, kq, NONE, NONE);
            cur = g_f32(g, dv * Hq, T, 1, 0, g_view(g, kqv, -1, 0, 0), NONE);
        }
        if (rot_v != NONE) cur = g_hadamard(g, cur, rot_v, 4ull * (uint64_t)(dv * Hq * T));
        g_expand(g, cur);
        cur = g_f32(g, E, T, 1, 0, EXT, cur);
        if (f->bo[il]) cur = g_f32(g, E, T, 1, GF_INPLACE, cur, EXT);
        int64_t To = T;
        if (il == L - 1) {
            cur = g_f32(g, E, n_out, 1, 0, cur, out_ids);
            inpSA = g_f32(g, E, n_out, 1, 0, inpSA, out_ids);
            To = n_out;
        }
        int32_t ffn_inp = g_f32(g, E, To, 1, GF_INPLACE, cur, inpSA);
        norm = g_f32(g, E, To, 1, GF_INPLACE, ffn_inp, NONE);
        int32_t fn = g_f32(g, E, To, 1, GF_INPLACE, norm, EXT);
        int32_t up = g_f32(g, F, To, 1, 0, EXT, fn);
        int32_t gate = g_f32(g, F, To, 1, 0, EXT, fn);
        int32_t sw = g_f32(g, F, To, 1, 0, gate, up);
        int32_t down = g_f32(g, E, To, 1, 0, EXT, sw);
        inpL = g_f32(g, E, To, 1, GF_INPLACE, down, ffn_inp);
    }
    g->cur_dev = layer_dev(p, L);
    int32_t norm = g_f32(g, E, n_out, 1, GF_INPLACE, inpL, NONE);
    int32_t rn = g_f32(g, E, n_out, 1, GF_INPLACE | GF_OUTPUT, norm, EXT);
    int32_t logits = g_f32(g, V, n_out, 1, GF_OUTPUT, EXT, rn);
    if (f->output_bias) logits = g_f32(g, V, n_out, 1, GF_INPLACE | GF_OUTPUT, logits, EXT);
    g_expand(g, logits);
}

/* --- the allocator (ggml_dyn_tallocr with one chunk) --- */

#define MAX_FREE_BLOCKS 256

typedef struct dynalloc {
    uint64_t off[MAX_FREE_BLOCKS], sz[MAX_FREE_BLOCKS];
    int n;
    uint64_t align, max_size;
    bool started, overflow;
} dynalloc;

static void da_init(dynalloc *a, uint64_t align) {
    a->n = 0;
    a->align = align;
    a->max_size = 0;
    a->started = false;
    a->overflow = false;
}

static void da_remove(dynalloc *a, int i) {
    for (int j = i; j < a->n - 1; j++) {
        a->off[j] = a->off[j + 1];
        a->sz[j] = a->sz[j + 1];
    }
    a->n--;
}

static uint64_t da_alloc(dynalloc *a, uint64_t size) {
    size = pad_u64(size, a->align);
    if (!a->started) {
        a->started = true;
        a->n = 1;
        a->off[0] = 0;
        a->sz[0] = UINT64_MAX / 4;
    }
    int best = -1;
    uint64_t best_size = UINT64_MAX;
    for (int i = 0; i < a->n - 1; i++) {
        if (a->sz[i] >= size && a->sz[i] <= best_size) {
            best = i;
            best_size = a->sz[i];
        }
    }
    if (best < 0) best = a->n - 1; /* the tail: the rest of the buffer */
    uint64_t o = a->off[best];
    a->off[best] += size;
    a->sz[best] -= size;
    if (a->sz[best] == 0) da_remove(a, best);
    if (o + size > a->max_size) a->max_size = o + size;
    return o;
}

static void da_free(dynalloc *a, uint64_t o, uint64_t size) {
    size = pad_u64(size, a->align);
    for (int i = 0; i < a->n; i++) {
        if (a->off[i] + a->sz[i] == o) {
            a->sz[i] += size;
            if (i < a->n - 1 && a->off[i] + a->sz[i] == a->off[i + 1]) {
                a->sz[i] += a->sz[i + 1];
                da_remove(a, i + 1);
            }
            return;
        }
        if (o + size == a->off[i]) {
            a->off[i] = o;
            a->sz[i] += size;
            if (i > 0 && a->off[i - 1] + a->sz[i - 1] == a->off[i]) {
                a->sz[i - 1] += a->sz[i];
                da_remove(a, i);
            }
            return;
        }
    }
    if (a->n >= MAX_FREE_BLOCKS) {
        a->overflow = true;
        return;
    }
    int pos = 0;
    while (pos < a->n && a->off[pos] < o) pos++;
    for (int j = a->n; j > pos; j--) {
        a->off[j] = a->off[j - 1];
        a->sz[j] = a->sz[j - 1];
    }
    a->off[pos] = o;
    a->sz[pos] = size;
    a->n++;
}

typedef struct sim {
    graph *g;
    dynalloc a[2];
    const gparams *p;
} sim;

static bool same_layout(const gten *x, const gten *y) {
    return x->lay[0] >= 0 && x->lay[0] == y->lay[0] && x->lay[1] == y->lay[1] && x->lay[2] == y->lay[2];
}

static uint64_t size_host(const sim *S, const gten *t) {
    (void)S;
    return t->size;
}

/* CUDA: the flash-attention node also holds f16 copies of quantized (or f32) K and V */
static uint64_t size_cuda(const sim *S, const gten *t) {
    if (!(t->flags & GF_FA)) return t->size;
    const gparams *p = S->p;
    uint64_t end = t->size;
    uint64_t nk = (uint64_t)(p->f->dk * p->n_kv * t->hkv * p->ns);
    uint64_t nv = (uint64_t)(p->f->dv * p->n_kv * t->hkv * p->ns);
    if (p->type_k != QS_TYPE_F16) end = pad_u64(end, 128) + 2 * nk;
    if (p->type_v != QS_TYPE_F16) end = pad_u64(end, 128) + 2 * nv;
    return end;
}

static uint64_t sz_of(const sim *S, const gten *t) {
    return t->dev ? size_cuda(S, t) : size_host(S, t);
}

static void sim_free_extra(sim *S, gten *node, gten *parent) {
    dynalloc *a = &S->a[parent->dev];
    uint64_t ps = pad_u64(sz_of(S, parent), a->align), ns = pad_u64(sz_of(S, node), a->align);
    if (ps > ns) da_free(a, parent->offset + ns, ps - ns);
}

static void sim_allocate(sim *S, int32_t id) {
    gten *t = &S->g->t[id];
    if (t->allocated || t->view != NONE) return;
    t->allocated = 1;
    if (t->flags & GF_INPLACE) {
        for (int j = 0; j < 4; j++) {
            int32_t pid = t->src[j];
            if (pid < 0) continue;
            gten *pt = &S->g->t[pid];
            if (!pt->allocated || (pt->flags & GF_OUTPUT) || pt->dev != t->dev) continue;
            if (!same_layout(t, pt)) continue;
            if (pt->n_children == 1 && pt->n_views == 0) {
                t->offset = pt->offset;
                pt->allocated = 0;
                sim_free_extra(S, t, pt);
                return;
            }
        }
    }
    t->offset = da_alloc(&S->a[t->dev], sz_of(S, t));
}

static void sim_free(sim *S, gten *t) {
    if (t->flags & GF_OUTPUT) return;
    da_free(&S->a[t->dev], t->offset, sz_of(S, t));
    t->allocated = 0;
}

static void sim_run(sim *S) {
    graph *g = S->g;
    for (int i = 0; i < g->n_leafs; i++) sim_allocate(S, g->leafs[i]);
    for (int i = 0; i < g->n_order; i++) {
        gten *t = &g->t[g->order[i]];
        if (t->view >= 0) g->t[t->view].n_views++;
        for (int j = 0; j < 4; j++)
            if (t->src[j] >= 0) g->t[t->src[j]].n_children++;
    }
    for (int i = 0; i < g->n_order; i++) {
        int32_t id = g->order[i];
        gten *t = &g->t[id];
        for (int j = 0; j < 4; j++)
            if (t->src[j] >= 0) sim_allocate(S, t->src[j]);
        sim_allocate(S, id);
        for (int j = 0; j < 4; j++) {
            int32_t pid = t->src[j];
            if (pid < 0) continue;
            gten *pt = &g->t[pid];
            pt->n_children--;
            if (pt->n_children == 0 && pt->n_views == 0) {
                if (pt->view != NONE) {
                    if (pt->view >= 0) {
                        gten *vs = &g->t[pt->view];
                        vs->n_views--;
                        if (vs->n_views == 0 && vs->n_children == 0 && vs->allocated) sim_free(S, vs);
                    }
                } else if (pt->allocated) {
                    sim_free(S, pt);
                }
            }
        }
    }
}

/* With a GPU: ggml-backend's scheduler cuts the graph into runs of nodes on one device and copies
 * each tensor a run needs from the other device into a fresh tensor at the start of the run (one
 * copy per tensor and device, kept until its last user). Rebuild the order with those copies. */
static void insert_copies(graph *g, int32_t *tmp, int32_t *copy_of) {
    int32_t n = g->n_order;
    memcpy(tmp, g->order, sizeof(int32_t) * (size_t)n);
    for (int32_t i = 0; i < g->n; i++) copy_of[i] = NONE;
    /* views run with their source */
    for (int32_t i = 0; i < g->n; i++) {
        gten *t = &g->t[i];
        if (t->view >= 0) t->dev = g->t[t->view].dev;
    }
    int32_t out = 0;
    int cur = -1;
    for (int32_t i = 0; i < n;) {
        gten *t = &g->t[tmp[i]];
        if (t->view != NONE || t->dev == cur) {
            g->order[out++] = tmp[i++];
            continue;
        }
        /* a new run starts at node i: find the end and its inputs */
        cur = t->dev;
        int32_t end = i;
        while (end < n && (g->t[tmp[end]].view != NONE || g->t[tmp[end]].dev == cur)) end++;
        for (int32_t k = i; k < end; k++) {
            gten *u = &g->t[tmp[k]];
            if (u->view != NONE) continue;
            for (int j = 0; j < 4; j++) {
                int32_t s = u->src[j];
                if (s < 0) continue;
                if (g->t[s].dev == cur) continue;
                if (copy_of[s] == NONE && g->n + 2 <= g->cap) {
                    /* a dependency view on the source side, then the copy on this device */
                    int saved = g->cur_dev;
                    g->cur_dev = g->t[s].dev;
                    int32_t dep = g_add(g, 0, -1, 0, 0, 0, s, NONE, NONE, NONE);
                    g->t[dep].view = g->t[s].view != NONE ? g->t[s].view : s;
                    g->cur_dev = cur;
                    int32_t c = g_add(g, g->t[s].size, g->t[s].lay[0], g->t[s].lay[1], g->t[s].lay[2], 0, NONE, NONE,
                                      NONE, NONE);
                    g->cur_dev = saved;
                    copy_of[s] = c;
                    g->order[out++] = dep;
                    g->order[out++] = c;
                }
                if (copy_of[s] != NONE) u->src[j] = copy_of[s];
            }
        }
        while (i < end) g->order[out++] = tmp[i++];
    }
    g->n_order = out;
}

typedef struct gbufs {
    int32_t *mem;
    size_t cap_tensors;
} gbufs;

/* Peak bytes per device for one graph. */
static int replay(const gparams *p, gbufs *b, uint64_t peak[2], qs_error *err) {
    const mfacts *f = p->f;
    size_t per_layer = 96, cap = (size_t)f->L * per_layer + 64;
    if (p->multi_dev) cap += cap; /* room for cross-device copies */
    if (b->cap_tensors < cap) {
        free(b->mem);
        size_t bytes = cap * (sizeof(gten) + 4 * sizeof(int32_t));
        b->mem = malloc(bytes);
        if (!b->mem) {
            b->cap_tensors = 0;
            qs_error_set(err, "estimate: out of memory for the graph (%zu bytes)", bytes);
            return QS_ENOMEM;
        }
        b->cap_tensors = cap;
    }
    graph g;
    memset(&g, 0, sizeof g);
    g.t = (gten *)(void *)b->mem;
    g.cap = (int32_t)cap;
    int32_t *ints = (int32_t *)(void *)(g.t + cap);
    g.order = ints;
    g.leafs = ints + cap;
    int32_t *tmp = ints + 2 * cap, *copy_of = ints + 3 * cap;
    build_graph(&g, p);
    if (p->multi_dev) insert_copies(&g, tmp, copy_of);
    sim S;
    S.g = &g;
    S.p = p;
    da_init(&S.a[0], CPU_ALIGN);
    da_init(&S.a[1], CUDA_ALIGN);
    sim_run(&S);
    if (S.a[0].overflow || S.a[1].overflow) {
        qs_error_set(err, "estimate: graph replay ran out of free blocks");
        return QS_ERR;
    }
    peak[0] = S.a[0].max_size;
    peak[1] = S.a[1].max_size;
    return QS_OK;
}

static int compute(const mfacts *f, const rt *r, const qs_est_settings *s, uint64_t largest_host_mm,
                   qs_est_result *res, qs_error *err) {
    gparams p;
    memset(&p, 0, sizeof p);
    p.f = f;
    p.r = r;
    p.type_k = s->type_k;
    p.type_v = s->type_v;
    p.n_kv = r->n_ctx_seq;
    p.ns = r->n_stream;
    p.multi_dev = r->gpu && r->ngl > 0;
    gbufs b = {NULL, 0};
    uint64_t pp[2], tg[2];
    p.T = r->T_pp;
    p.n_out = r->out_pp;
    int rc = replay(&p, &b, pp, err);
    if (rc == QS_OK) {
        p.T = r->n_seq;
        p.n_out = r->n_seq;
        rc = replay(&p, &b, tg, err);
    }
    free(b.mem);
    if (rc != QS_OK) return rc;
    uint64_t host = pp[0] > tg[0] ? pp[0] : tg[0];
    uint64_t gpu = pp[1] > tg[1] ? pp[1] : tg[1];
    if (r->gpu) {
        /* host layers' large-batch matrix products run on the GPU, their weights copied over */
        bool offloads = s->op_offload && r->T_pp >= 32 && largest_host_mm > 0;
        if (offloads) gpu += pad_u64(largest_host_mm, CUDA_ALIGN);
        res->part[QS_EST_COMPUTE_GPU].bytes = gpu;
        assume(res, QS_EST_COMPUTE_GPU,
               offloads ? "graph replayed with CUDA sizes; plus one host weight copied for op offload (largest)"
                        : "graph replayed with CUDA sizes and flash-attention MMA kernel; not measured");
        assume(res, QS_EST_COMPUTE_HOST, "scheduler split between host and GPU replayed; not measured");
    }
    res->part[QS_EST_COMPUTE_HOST].bytes = host;
    if (!f->arch_exact) {
        assume(res, QS_EST_COMPUTE_HOST, "graph of this architecture approximated by the llama graph");
        if (r->gpu) assume(res, QS_EST_COMPUTE_GPU, "graph of this architecture approximated by the llama graph");
    }
    return QS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* The estimate                                                                                */
/* ------------------------------------------------------------------------------------------ */

static int estimate_impl(const qs_est_model *m, const mfacts *f, const qs_est_settings *s, qs_est_result *r,
                         qs_error *err) {
    rt rtv;
    int rc = runtime(m, f, s, &rtv, err);
    if (rc != QS_OK) return rc;
    memset(r, 0, sizeof *r);
    for (int i = 0; i < QS_EST_PART_COUNT; i++) {
        r->part[i].name = part_info[i].name;
        r->part[i].label = rtv.gpu ? part_info[i].label_gpu : part_info[i].label_cpu;
        r->part[i].device = part_info[i].dev;
    }
    r->n_ctx = rtv.n_ctx;
    r->n_ctx_seq = rtv.n_ctx_seq;
    r->n_batch = rtv.n_batch;
    r->n_ubatch = rtv.n_ubatch;
    r->n_stream = rtv.n_stream;
    r->flash_attn = rtv.fa;
    r->graph_exact = f->arch_exact;

    uint64_t largest_host_mm = weights(m, f, &rtv, s, r);
    rc = kv_cache(f, &rtv, s, r, err);
    if (rc != QS_OK) return rc;
    if (f->has_exps || f->has_fused_qkv)
        assume(r, QS_EST_KV_HOST, "architecture not modelled: plain full-attention KV cache assumed");

    /* logits of one output per sequence (llama_context::output_reserve) */
    r->part[QS_EST_OUTPUT].bytes = 4ull * (uint64_t)f->V * (uint64_t)rtv.n_seq;

    rc = compute(f, &rtv, s, largest_host_mm, r, err);
    if (rc != QS_OK) return rc;

    r->part[QS_EST_OVERHEAD_HOST].bytes = HOST_OVERHEAD;
    assume(r, QS_EST_OVERHEAD_HOST, "64 MiB for the process, ggml contexts and graph metadata (not reported by llama.cpp)");
    if (rtv.gpu) {
        r->part[QS_EST_OVERHEAD_GPU].bytes = GPU_OVERHEAD;
        assume(r, QS_EST_OVERHEAD_GPU, "400 MiB for the CUDA context, cuBLAS workspace and the CUDA memory pool");
    }
    for (int i = 0; i < QS_EST_PART_COUNT; i++) r->total[r->part[i].device] += r->part[i].bytes;

    r->host_mem_known = s->host_mem > 0;
    uint64_t host_need = r->total[QS_EST_HOST] - r->host_reclaimable;
    r->fits_host = !r->host_mem_known || (s->host_mem > s->margin && host_need <= s->host_mem - s->margin);
    r->fits_gpu = !rtv.gpu || (s->gpu_mem > s->margin && r->total[QS_EST_GPU] <= s->gpu_mem - s->margin);
    r->fits = r->fits_host && r->fits_gpu;
    return QS_OK;
}

int qs_estimate(const qs_est_model *m, const qs_est_settings *s, qs_est_result *r, qs_error *err) {
    if (!r) return qs_error_set(err, "estimate: no result");
    mfacts *f = malloc(sizeof *f);
    if (!f) return qs_error_set(err, "estimate: out of memory"), QS_ENOMEM;
    int rc = model_facts(m, f, err);
    if (rc == QS_OK) rc = estimate_impl(m, f, s, r, err);
    free(f);
    return rc;
}

int qs_estimate_max_ctx(const qs_est_model *m, const qs_est_settings *s, int64_t cap, int64_t *n_ctx_out,
                        qs_error *err) {
    if (!s || !n_ctx_out) return qs_error_set(err, "estimate: no settings or output");
    *n_ctx_out = 0;
    mfacts *f = malloc(sizeof *f);
    qs_est_result *r = malloc(sizeof *r);
    if (!f || !r) {
        free(f);
        free(r);
        return qs_error_set(err, "estimate: out of memory"), QS_ENOMEM;
    }
    int rc = model_facts(m, f, err);
    if (rc == QS_OK) {
        if (cap <= 0) cap = m->n_ctx_train > 0 ? m->n_ctx_train : (1ll << 20);
        qs_est_settings t = *s;
        int64_t lo = 0, hi = cap / 256; /* answer in units of 256 */
        while (lo < hi && rc == QS_OK) {
            int64_t mid = lo + (hi - lo + 1) / 2;
            t.n_ctx = mid * 256;
            rc = estimate_impl(m, f, &t, r, err);
            if (rc != QS_OK) break;
            if (r->fits) lo = mid;
            else hi = mid - 1;
        }
        if (rc == QS_OK) *n_ctx_out = lo * 256;
    }
    free(f);
    free(r);
    return rc;
}

int qs_estimate_max_gpu_layers(const qs_est_model *m, const qs_est_settings *s, int *ngl_out, qs_error *err) {
    if (!s || !ngl_out) return qs_error_set(err, "estimate: no settings or output");
    *ngl_out = 0;
    if (s->gpu_mem == 0) return QS_OK;
    mfacts *f = malloc(sizeof *f);
    qs_est_result *r = malloc(sizeof *r);
    if (!f || !r) {
        free(f);
        free(r);
        return qs_error_set(err, "estimate: out of memory"), QS_ENOMEM;
    }
    int rc = model_facts(m, f, err);
    if (rc == QS_OK) {
        qs_est_settings t = *s;
        int lo = 0, hi = f->L + 1;
        while (lo < hi) {
            int mid = lo + (hi - lo + 1) / 2;
            t.n_gpu_layers = mid;
            rc = estimate_impl(m, f, &t, r, err);
            if (rc != QS_OK) break;
            if (r->fits_gpu) lo = mid;
            else hi = mid - 1;
        }
        if (rc == QS_OK) *ngl_out = lo;
    }
    free(f);
    free(r);
    return rc;
}
