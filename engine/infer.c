/* infer.c — model binding, the forward pass, decoding and generation (see infer.h).
 *
 * Reading order: hyper-parameters and tensors (binding a GGUF file), rotary embeddings, the
 * context, the forward pass (one function that reads like the architecture diagram), decode
 * and generate. */
#include "infer.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "kvcache.h"
#include "model.h"
#include "qs_kernels.h"
#include "qs_types.h"
#include "threadpool.h"

/* ================================================================ owned storage */

/* Everything the model allocates: tensor names and vectors converted to float. */
typedef struct owned {
    void **ptrs;
    int n, cap;
} owned;

static void *own(qs_infer_model *m, size_t bytes) {
    owned *o = m->owned;
    if (o->n == o->cap) {
        int cap = o->cap ? 2 * o->cap : 64;
        void **p = realloc(o->ptrs, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        o->ptrs = p;
        o->cap = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (p) o->ptrs[o->n++] = p;
    return p;
}

static const char *own_str(qs_infer_model *m, const char *s) {
    size_t n = strlen(s);
    char *p = own(m, n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

void qs_infer_model_free(qs_infer_model *m) {
    if (!m) return;
    owned *o = m->owned;
    if (o) {
        for (int i = 0; i < o->n; i++) free(o->ptrs[i]);
        free(o->ptrs);
        free(o);
    }
    free(m->layers);
    free(m);
}

/* ================================================================ hyper-parameters */

static const char *file_name(const gguf_file *f) { return f->path ? f->path : "model"; }

/* The engine's parameters from model.h's reader (the one place that knows the GGUF keys),
 * checked for what the engine can run, and RoPE's derived as llama.cpp derives them
 * (llama-model.cpp, llama-context.cpp). Returns QS_OK or QS_ERR naming the file. */
static int read_hparams(const gguf_file *f, qs_infer_hparams *hp, qs_error *err) {
    memset(hp, 0, sizeof *hp);
    qs_hparams g;
    if (qs_hparams_read(f, &g, err) != QS_OK) return QS_ERR;
    snprintf(hp->arch_name, sizeof hp->arch_name, "%s", g.arch);
    const char *a = hp->arch_name;
    if (strcmp(a, "llama") == 0) hp->arch = QS_ARCH_LLAMA;
    else if (strcmp(a, "qwen2") == 0) hp->arch = QS_ARCH_QWEN2;
    else if (strcmp(a, "qwen3") == 0) hp->arch = QS_ARCH_QWEN3;
    else
        return qs_error_set(err, "%s: architecture '%s' is not yet supported (supported: llama, "
                                 "qwen2, qwen3)", file_name(f), a);
    hp->rope_kind = hp->arch == QS_ARCH_LLAMA ? QS_ROPE_NORMAL : QS_ROPE_NEOX;

    if (g.n_expert > 0)
        return qs_error_set(err, "%s: mixture-of-experts models (%s.expert_count = %lld) are not "
                                 "yet supported", file_name(f), a, (long long)g.n_expert);
    if (g.layers_differ)
        return qs_error_set(err, "%s: different head counts or feed-forward widths per layer are "
                                 "not yet supported", file_name(f));
    const int64_t n_ctx_train = g.n_ctx_train > 0 ? g.n_ctx_train : 2048;
    const int64_t lim = 1 << 24; /* keeps every product below in range */
    if (g.n_embd < 1 || g.n_embd > lim || g.n_layer < 1 || g.n_layer > 4096 || g.n_ff < 1 ||
        g.n_ff > lim || g.n_head < 1 || g.n_head > 4096 || g.n_head_kv < 1 ||
        g.n_head % g.n_head_kv != 0 || n_ctx_train > INT32_MAX)
        return qs_error_set(err, "%s: bad dimensions: embedding %lld, blocks %lld, feed-forward "
                                 "%lld, heads %lld, KV heads %lld, context %lld (absent keys "
                                 "count as 0)", file_name(f), (long long)g.n_embd,
                            (long long)g.n_layer, (long long)g.n_ff, (long long)g.n_head,
                            (long long)g.n_head_kv, (long long)n_ctx_train);
    if (!(g.rms_eps > 0))
        return qs_error_set(err, "%s: no RMS norm epsilon (%s.attention.layer_norm_rms_epsilon)",
                            file_name(f), a);
    hp->n_embd = (int)g.n_embd;
    hp->n_layer = (int)g.n_layer;
    hp->n_ff = (int)g.n_ff;
    hp->n_head = (int)g.n_head;
    hp->n_head_kv = (int)g.n_head_kv;
    hp->n_ctx_train = (int)n_ctx_train;
    hp->rms_eps = (float)g.rms_eps;

    if (g.head_dim_v != g.head_dim_k)
        return qs_error_set(err, "%s: key and value heads of different sizes (%lld, %lld) are "
                                 "not supported", file_name(f), (long long)g.head_dim_k,
                            (long long)g.head_dim_v);
    if (g.head_dim_k < 1 || g.head_dim_k > 65536 || g.n_rot < 2 || g.n_rot % 2 ||
        g.n_rot > g.head_dim_k)
        return qs_error_set(err, "%s: bad head size %lld / rotary dimension %lld", file_name(f),
                            (long long)g.head_dim_k, (long long)g.n_rot);
    hp->head_dim = (int)g.head_dim_k;
    hp->n_rot = (int)g.n_rot;

    /* RoPE, as llama.cpp derives its parameters (llama-model.cpp, llama-context.cpp) */
    hp->rope_freq_base = (float)g.rope_freq_base;
    const char *scaling = g.rope_scaling[0] ? g.rope_scaling : "linear";
    const bool yarn = strcmp(scaling, "yarn") == 0;
    if (!yarn && strcmp(scaling, "none") != 0 && strcmp(scaling, "linear") != 0)
        return qs_error_set(err, "%s: rope scaling '%s' is not yet supported (none, linear, "
                                 "yarn)", file_name(f), scaling);
    const int64_t n_ctx_orig = g.rope_orig_ctx > 0 ? g.rope_orig_ctx : n_ctx_train;
    if (!(hp->rope_freq_base > 0.0f) || n_ctx_orig > INT32_MAX)
        return qs_error_set(err, "%s: bad rope parameters (base %g, original context %lld)",
                            file_name(f), hp->rope_freq_base, (long long)n_ctx_orig);
    hp->rope_freq_scale = strcmp(scaling, "none") == 0 ? 1.0f : (float)g.rope_freq_scale;
    hp->n_ctx_orig = (int)n_ctx_orig;
    hp->yarn_ext_factor = yarn ? 1.0f : 0.0f;
    hp->yarn_attn_factor = 1.0f;
    hp->yarn_beta_fast = 32.0f;
    hp->yarn_beta_slow = 1.0f;
    if (hp->yarn_ext_factor != 0.0f) {
        const float fac = 1.0f / hp->rope_freq_scale;
        hp->yarn_attn_factor = fac <= 1.0f ? 1.0f : 0.1f * logf(fac) + 1.0f;
        /* ggml multiplies cos/sin by 1 + 0.1 ln(factor) itself under YaRN; llama.cpp cancels
         * that here so the net magnitude is the one above */
        hp->yarn_attn_factor *= 1.0f / (1.0f + 0.1f * logf(fac));
    }
    hp->yarn_attn_factor *= g.rope_attn_factor > 0 ? (float)g.rope_attn_factor : 1.0f;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    return QS_OK;
}

/* ================================================================ tensors */

static const gguf_tensor *find_tensor(const gguf_file *f, const char *name) {
    int64_t i = gguf_find_tensor(f, name);
    return i < 0 ? NULL : &f->tensors[i];
}

/* A matrix of n_rows x n_cols (ne = [n_cols, n_rows]) that the kernels can multiply. */
static int bind_matrix(qs_infer_model *m, const char *name, int64_t n_cols, int64_t n_rows,
                       bool required, qs_weight *w, qs_error *err) {
    const gguf_file *f = m->file;
    memset(w, 0, sizeof *w);
    const gguf_tensor *t = find_tensor(f, name);
    if (!t) {
        if (required) return qs_error_set(err, "%s: missing tensor %s", file_name(f), name);
        return QS_OK;
    }
    if (t->ne[0] != n_cols || t->ne[1] != n_rows || t->ne[2] != 1 || t->ne[3] != 1)
        return qs_error_set(err, "%s: tensor %s: shape [%lld, %lld, %lld, %lld], expected "
                                 "[%lld, %lld]", file_name(f), name, (long long)t->ne[0],
                            (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                            (long long)n_cols, (long long)n_rows);
    w->name = own_str(m, name);
    if (!w->name) return qs_error_set(err, "out of memory");
    w->data = t->data;
    w->type = t->type;
    w->n_cols = n_cols;
    w->n_rows = n_rows;
    w->row_bytes = qs_type_row_bytes(t->type, n_cols);
    return QS_OK;
}

static int check_dot(const qs_infer_model *m, const qs_weight *w, qs_error *err) {
    if (!qs_kernels_can_dot(w->type, w->n_cols))
        return qs_error_set(err, "%s: tensor %s: type %s has no matrix kernel for rows of %lld "
                                 "values", file_name(m->file), w->name, qs_type_name(w->type),
                            (long long)w->n_cols);
    return QS_OK;
}

/* A vector of n values as floats: in place when stored as F32, else converted (owned). */
static int bind_vector(qs_infer_model *m, const char *name, int64_t n, bool required,
                       const float **out, qs_error *err) {
    const gguf_file *f = m->file;
    *out = NULL;
    const gguf_tensor *t = find_tensor(f, name);
    if (!t) {
        if (required) return qs_error_set(err, "%s: missing tensor %s", file_name(f), name);
        return QS_OK;
    }
    if (t->n_elements != n || t->ne[0] != n)
        return qs_error_set(err, "%s: tensor %s: %lld values, expected %lld", file_name(f), name,
                            (long long)t->n_elements, (long long)n);
    if (t->type == QS_TYPE_F32) {
        *out = (const float *)(const void *)t->data;
        return QS_OK;
    }
    const qs_type_traits *tt = qs_type_traits_get(t->type);
    if (!tt || !tt->to_float || n % tt->blck_size)
        return qs_error_set(err, "%s: tensor %s: cannot read values of type %s", file_name(f),
                            name, qs_type_name(t->type));
    float *v = own(m, (size_t)n * sizeof(float));
    if (!v) return qs_error_set(err, "out of memory");
    tt->to_float(t->data, v, n);
    *out = v;
    return QS_OK;
}

static int bind_layer(qs_infer_model *m, int il, qs_error *err) {
    const qs_infer_hparams *hp = &m->hp;
    qs_layer *L = &m->layers[il];
    const int64_t E = hp->n_embd, F = hp->n_ff;
    const int64_t QD = (int64_t)hp->n_head * hp->head_dim, KD = (int64_t)hp->n_head_kv * hp->head_dim;
    char nm[96];
#define NAME(s) (snprintf(nm, sizeof nm, "blk.%d.%s", il, s), nm)
    if (bind_vector(m, NAME("attn_norm.weight"), E, true, &L->attn_norm, err)) return QS_ERR;
    if (bind_matrix(m, NAME("attn_qkv.weight"), E, QD + 2 * KD, false, &L->wqkv, err))
        return QS_ERR;
    if (L->wqkv.data) {
        if (check_dot(m, &L->wqkv, err)) return QS_ERR;
        if (bind_vector(m, NAME("attn_qkv.bias"), QD + 2 * KD, false, &L->bqkv, err))
            return QS_ERR;
    } else {
        if (bind_matrix(m, NAME("attn_q.weight"), E, QD, true, &L->wq, err) ||
            bind_matrix(m, NAME("attn_k.weight"), E, KD, true, &L->wk, err) ||
            bind_matrix(m, NAME("attn_v.weight"), E, KD, true, &L->wv, err) ||
            check_dot(m, &L->wq, err) || check_dot(m, &L->wk, err) || check_dot(m, &L->wv, err))
            return QS_ERR;
        /* qwen2 always has these; llama may */
        const bool need_b = hp->arch == QS_ARCH_QWEN2;
        if (bind_vector(m, NAME("attn_q.bias"), QD, need_b, &L->bq, err) ||
            bind_vector(m, NAME("attn_k.bias"), KD, need_b, &L->bk, err) ||
            bind_vector(m, NAME("attn_v.bias"), KD, need_b, &L->bv, err))
            return QS_ERR;
    }
    if (hp->arch == QS_ARCH_QWEN3) {
        if (bind_vector(m, NAME("attn_q_norm.weight"), hp->head_dim, true, &L->q_norm, err) ||
            bind_vector(m, NAME("attn_k_norm.weight"), hp->head_dim, true, &L->k_norm, err))
            return QS_ERR;
    }
    if (bind_matrix(m, NAME("attn_output.weight"), QD, E, true, &L->wo, err) ||
        check_dot(m, &L->wo, err) ||
        bind_vector(m, NAME("attn_output.bias"), E, false, &L->bo, err))
        return QS_ERR;
    if (bind_vector(m, NAME("ffn_norm.weight"), E, true, &L->ffn_norm, err) ||
        bind_matrix(m, NAME("ffn_gate.weight"), E, F, true, &L->w_gate, err) ||
        bind_matrix(m, NAME("ffn_up.weight"), E, F, true, &L->w_up, err) ||
        bind_matrix(m, NAME("ffn_down.weight"), F, E, true, &L->w_down, err) ||
        check_dot(m, &L->w_gate, err) || check_dot(m, &L->w_up, err) ||
        check_dot(m, &L->w_down, err))
        return QS_ERR;
    if (bind_vector(m, NAME("ffn_gate.bias"), F, false, &L->b_gate, err) ||
        bind_vector(m, NAME("ffn_up.bias"), F, false, &L->b_up, err) ||
        bind_vector(m, NAME("ffn_down.bias"), E, false, &L->b_down, err))
        return QS_ERR;
#undef NAME
    return QS_OK;
}

void *qs_infer_weights_alloc(uint64_t nbytes) {
    const uint64_t huge = (uint64_t)2 << 20;
    if ((uint64_t)(size_t)nbytes != nbytes) return NULL;
    void *buf = NULL;
    if (nbytes >= huge) {
        if (posix_memalign(&buf, (size_t)huge, (size_t)nbytes) != 0) return NULL;
#ifdef MADV_HUGEPAGE
        madvise(buf, (size_t)(nbytes / huge * huge), MADV_HUGEPAGE); /* advisory */
#endif
        return buf;
    }
    return posix_memalign(&buf, 64, nbytes ? (size_t)nbytes : 64) == 0 ? buf : NULL;
}

qs_infer_model *qs_infer_model_load(const gguf_file *f, qs_error *err) {
    qs_infer_model *m = calloc(1, sizeof *m);
    if (!m || !(m->owned = calloc(1, sizeof(owned)))) {
        qs_infer_model_free(m);
        qs_error_set(err, "out of memory");
        return NULL;
    }
    m->file = f;
    qs_infer_hparams *hp = &m->hp;
    if (read_hparams(f, hp, err)) goto fail;

    /* token embeddings: their row count is the vocabulary */
    const gguf_tensor *te = find_tensor(f, "token_embd.weight");
    if (!te) {
        qs_error_set(err, "%s: missing tensor token_embd.weight", file_name(f));
        goto fail;
    }
    if (te->ne[1] < 1 || te->ne[1] > INT32_MAX) {
        qs_error_set(err, "%s: tensor token_embd.weight: %lld rows", file_name(f),
                     (long long)te->ne[1]);
        goto fail;
    }
    hp->n_vocab = (int)te->ne[1];
    if (bind_matrix(m, "token_embd.weight", hp->n_embd, hp->n_vocab, true, &m->tok_embd, err))
        goto fail;
    const qs_type_traits *tt = qs_type_traits_get(m->tok_embd.type);
    if (!tt || !tt->to_float) {
        qs_error_set(err, "%s: tensor token_embd.weight: cannot read values of type %s",
                     file_name(f), qs_type_name(m->tok_embd.type));
        goto fail;
    }
    if (bind_vector(m, "output_norm.weight", hp->n_embd, true, &m->output_norm, err)) goto fail;
    if (bind_matrix(m, "output.weight", hp->n_embd, hp->n_vocab, false, &m->output, err))
        goto fail;
    if (!m->output.data) { /* tied embeddings: the output projection reuses token_embd */
        m->output = m->tok_embd;
        hp->tied_embeddings = true;
    }
    if (check_dot(m, &m->output, err)) goto fail;
    /* every matrix is read whole once per token: huge pages where the kernel has them; the
     * embeddings only when they are also the output matrix (else a row per token is read) */
    gguf_advise_stream(f, hp->tied_embeddings ? NULL : te);
    if (bind_vector(m, "output.bias", hp->n_vocab, false, &m->output_b, err)) goto fail;
    if (bind_vector(m, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs, err))
        goto fail;

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) {
        qs_error_set(err, "out of memory");
        goto fail;
    }
    for (int il = 0; il < hp->n_layer; il++)
        if (bind_layer(m, il, err)) goto fail;
    return m;
fail:
    qs_infer_model_free(m);
    return NULL;
}

/* Calls fn on every weight view of the model (a tied output is a second view). */
static int each_weight(qs_infer_model *m, int (*fn)(qs_weight *, void *), void *arg) {
    int n = 0;
    n += fn(&m->tok_embd, arg);
    n += fn(&m->output, arg);
    for (int il = 0; il < m->hp.n_layer; il++) {
        qs_layer *L = &m->layers[il];
        qs_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->w_gate, &L->w_up,
                           &L->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof *ws; i++) n += fn(ws[i], arg);
    }
    return n;
}

typedef struct find_arg {
    const char *name;
    qs_weight *found;
} find_arg;

static int find_fn(qs_weight *w, void *arg) {
    find_arg *a = arg;
    if (w->name && w->data && strcmp(w->name, a->name) == 0) {
        if (!a->found) a->found = w;
        return 1;
    }
    return 0;
}

const qs_weight *qs_infer_model_weight(const qs_infer_model *m, const char *name) {
    find_arg a = {name, NULL};
    each_weight((qs_infer_model *)m, find_fn, &a);
    return a.found;
}

typedef struct set_arg {
    const char *name;
    int type;
    const void *data;
    uint64_t row_bytes;
} set_arg;

static int set_fn(qs_weight *w, void *arg) {
    set_arg *a = arg;
    if (!w->name || !w->data || strcmp(w->name, a->name) != 0) return 0;
    w->data = a->data;
    w->type = a->type;
    w->row_bytes = a->row_bytes;
    return 1;
}

int qs_infer_model_set_weight(qs_infer_model *m, const char *name, int type, const void *data,
                              uint64_t nbytes, qs_error *err) {
    const qs_weight *w = qs_infer_model_weight(m, name);
    if (!w) return qs_error_set(err, "set weight: no matrix named %s in the model", name);
    if (!data) return qs_error_set(err, "set weight %s: no data", name);
    uint64_t rb = qs_type_row_bytes(type, w->n_cols);
    if (rb == 0 || rb * (uint64_t)w->n_rows != nbytes)
        return qs_error_set(err, "set weight %s: %llu bytes of %s do not hold %lld x %lld values",
                            name, (unsigned long long)nbytes, qs_type_name(type),
                            (long long)w->n_rows, (long long)w->n_cols);
    const bool is_embd = strcmp(name, "token_embd.weight") == 0;
    const bool used_as_matrix = !is_embd || m->hp.tied_embeddings;
    if (used_as_matrix && !qs_kernels_can_dot(type, w->n_cols))
        return qs_error_set(err, "set weight %s: type %s has no matrix kernel for rows of %lld "
                                 "values", name, qs_type_name(type), (long long)w->n_cols);
    const qs_type_traits *tt = qs_type_traits_get(type);
    if (is_embd && (!tt || !tt->to_float))
        return qs_error_set(err, "set weight %s: cannot read values of type %s", name,
                            qs_type_name(type));
    set_arg a = {name, type, data, rb};
    each_weight(m, set_fn, &a);
    return QS_OK;
}

/* ================================================================ rotary embeddings */

/* ggml's YaRN ramp over pair index i0/2 between the correction dims */
static float yarn_ramp(float low, float high, int i0) {
    const float y = (float)(i0 / 2 - low) / fmaxf(0.001f, high - low);
    return 1.0f - fminf(1.0f, fmaxf(0.0f, y));
}

static float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
    return (float)n_dims * logf((float)n_ctx_orig / (n_rot * 2.0f * (float)M_PI)) /
           (2.0f * logf(base));
}

/* cos/sin of every rotated pair at position pos: cs[2i] = cos, cs[2i+1] = sin (n_rot floats).
 * With pure (a rotation by a position delta for a context shift), the YaRN magnitude factors
 * are left out: the keys already carry them. */
static void rope_table(const qs_infer_model *m, float pos, bool pure, float *cs) {
    const qs_infer_hparams *hp = &m->hp;
    const int n_dims = hp->n_rot;
    const float theta_scale = powf(hp->rope_freq_base, -2.0f / (float)n_dims);
    float corr[2] = {0, 0};
    if (hp->yarn_ext_factor != 0.0f) {
        float start = floorf(yarn_corr_dim(n_dims, hp->n_ctx_orig, hp->yarn_beta_fast,
                                           hp->rope_freq_base));
        float end = ceilf(yarn_corr_dim(n_dims, hp->n_ctx_orig, hp->yarn_beta_slow,
                                        hp->rope_freq_base));
        corr[0] = fmaxf(0.0f, start);
        corr[1] = fminf((float)(n_dims - 1), end);
    }
    float theta = pos;
    for (int i0 = 0; i0 < n_dims; i0 += 2) {
        const float ff = m->rope_freqs ? m->rope_freqs[i0 / 2] : 1.0f;
        const float theta_extrap = theta / ff;
        const float theta_interp = hp->rope_freq_scale * theta_extrap;
        float th = theta_interp;
        float mscale = pure ? 1.0f : hp->yarn_attn_factor;
        if (hp->yarn_ext_factor != 0.0f) {
            const float mix = yarn_ramp(corr[0], corr[1], i0) * hp->yarn_ext_factor;
            th = theta_interp * (1 - mix) + theta_extrap * mix;
            if (!pure) mscale *= 1.0f + 0.1f * logf(1.0f / hp->rope_freq_scale);
        }
        cs[i0] = cosf(th) * mscale;
        cs[i0 + 1] = sinf(th) * mscale;
        theta *= theta_scale;
    }
}

/* Rotates one head (head_dim values; the first n_rot rotate) by the table cs. */
static void rope_head(const qs_infer_hparams *hp, const float *cs, float *x) {
    const int half = hp->n_rot / 2;
    const int stride = hp->rope_kind == QS_ROPE_NEOX ? half : 1; /* partner offset */
    for (int i = 0; i < half; i++) {
        const int i0 = hp->rope_kind == QS_ROPE_NEOX ? i : 2 * i;
        const float c = cs[2 * i], s = cs[2 * i + 1];
        const float x0 = x[i0], x1 = x[i0 + stride];
        x[i0] = x0 * c - x1 * s;
        x[i0 + stride] = x0 * s + x1 * c;
    }
}

/* ================================================================ context */

#define MM_MIN_CHUNK 16 /* rows: the smallest chunk of a matmul handed to a worker */
#define ACT_SLOTS 3
/* Queries an attention work item takes at most: the heads that share a KV head, for a few
 * tokens, go through the key and value products together (matrix-matrix, not per query). */
#define ATT_Q 32

struct qs_infer_ctx {
    const qs_infer_model *m;
    const qs_kernels *kern;
    qs_threadpool *pool;
    int n_threads;
    bool auto_threads;  /* n_threads was 0: small passes use fewer workers */
    int64_t n_mat_params; /* multiply-adds of one token's matrix products */
    int n_ctx, n_batch;
    qs_kvcache kv;

    /* activations of up to n_batch tokens, one row per token */
    float *x;       /* (n_batch, n_embd) the residual stream */
    float *xb;      /* (n_batch, n_embd) normed input of a block */
    float *xb2;     /* (n_batch, n_embd) a block's output before the residual add */
    float *q;       /* (n_batch, n_head * head_dim) */
    float *k;       /* (n_batch, n_head_kv * head_dim) */
    float *v;       /* (n_batch, n_head_kv * head_dim) */
    float *qkv;     /* (n_batch, (n_head + 2 n_head_kv) * head_dim) fused projection output */
    float *att;     /* (n_batch, n_head * head_dim) attention output */
    float *hb;      /* (n_batch, n_ff) gate, then silu(gate) * up */
    float *hb2;     /* (n_batch, n_ff) up */
    float *rope_cs; /* (n_batch, n_rot) cos/sin pairs of each token's position */
    uint8_t *act[ACT_SLOTS]; /* (n_batch, act_row_cap) activations quantized for the kernels */
    uint64_t act_row_cap;
    /* matmul: the next weight row (over all its outputs) not yet handed to a worker; reset by
     * worker 0 before the barrier that precedes the products */
    atomic_int_fast64_t mm_next;

    /* per worker */
    int att_tok;    /* tokens per attention work item (att_tok * heads per KV head <= ATT_Q) */
    float *scores;  /* (n_threads, ATT_Q, n_ctx) attention weights of an item's queries */
    float *vtmp;    /* (n_threads, head_dim) a value head as floats */
    uint8_t *qact;  /* (n_threads, ATT_Q, qact_cap) an item's queries in the key dot's type */
    uint64_t qact_cap;

    /* output */
    float *logits;  /* (logits_cap, n_vocab) */
    int logits_cap; /* rows allocated */
    int n_logits;   /* rows valid from the last decode (0: none) */
};

qs_infer_params qs_infer_default_params(void) {
    qs_infer_params p = {.n_ctx = 0, .n_batch = 256, .n_threads = 0, .kv_type = QS_TYPE_F16};
    return p;
}

void qs_infer_ctx_free(qs_infer_ctx *c) {
    if (!c) return;
    qs_threadpool_destroy(c->pool);
    qs_kvcache_free(&c->kv);
    float *fs[] = {c->x, c->xb, c->xb2, c->q, c->k, c->v, c->qkv, c->att, c->hb, c->hb2,
                   c->rope_cs, c->scores, c->vtmp, c->logits};
    for (size_t i = 0; i < sizeof fs / sizeof *fs; i++) free(fs[i]);
    for (int i = 0; i < ACT_SLOTS; i++) free(c->act[i]);
    free(c->qact);
    free(c);
}

/* Allocation tally of one qs_infer_ctx_new (the total goes into the out-of-memory message). */
typedef struct alloc_tally {
    uint64_t bytes;
    bool ok;
} alloc_tally;

static void *ctx_alloc(uint64_t n_elems, size_t size, alloc_tally *a) {
    uint64_t bytes = n_elems * size;
    a->bytes += bytes;
    void *p = malloc(bytes ? bytes : 1);
    if (!p) a->ok = false;
    return p;
}

qs_infer_ctx *qs_infer_ctx_new(const qs_infer_model *m, const qs_infer_params *pp,
                               qs_error *err) {
    qs_infer_params p = pp ? *pp : qs_infer_default_params();
    const qs_infer_hparams *hp = &m->hp;
    if (p.n_ctx < 0 || p.n_batch < 0 || p.n_threads < 0) {
        qs_error_set(err, "context: negative size (context %d, batch %d, threads %d)", p.n_ctx,
                     p.n_batch, p.n_threads);
        return NULL;
    }
    if (p.n_ctx == 0) p.n_ctx = hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
    if (p.n_batch == 0) p.n_batch = 256;
    if (p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;

    qs_infer_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        qs_error_set(err, "context: out of memory");
        return NULL;
    }
    c->m = m;
    c->kern = qs_kernels_best();
    c->n_ctx = p.n_ctx;
    c->n_batch = p.n_batch;
    int st = qs_kvcache_init(&c->kv, p.kv_type, hp->n_layer, p.n_ctx, hp->n_head_kv,
                             hp->head_dim, err);
    if (st != QS_OK) {
        free(c);
        return NULL;
    }
    c->pool = qs_threadpool_create(p.n_threads, err);
    if (!c->pool) {
        qs_infer_ctx_free(c);
        return NULL;
    }
    c->n_threads = qs_threadpool_size(c->pool);
    c->auto_threads = p.n_threads == 0;
    c->n_mat_params = hp->n_embd * (int64_t)hp->n_vocab;
    for (int il = 0; il < hp->n_layer; il++) {
        const qs_layer *L = &m->layers[il];
        const qs_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->w_gate, &L->w_up,
                                 &L->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof *ws; i++)
            if (ws[i]->data) c->n_mat_params += ws[i]->n_rows * ws[i]->n_cols;
    }

    const uint64_t B = (uint64_t)p.n_batch, E = (uint64_t)hp->n_embd, F = (uint64_t)hp->n_ff;
    const uint64_t QD = (uint64_t)hp->n_head * (uint64_t)hp->head_dim;
    const uint64_t KD = (uint64_t)hp->n_head_kv * (uint64_t)hp->head_dim;
    uint64_t widest = E > F ? E : F;
    if (QD > widest) widest = QD;
    /* any activation type takes at most 36 bytes per 32 values (Q8_1) or 292 per 256 (Q8_K);
     * floats rounded for F16 / BF16 weights 4 bytes per value */
    c->act_row_cap = widest * 4 + 64;
    c->qact_cap = (uint64_t)hp->head_dim * 4 + 64; /* f32, or any quantized type */
    const int group = hp->n_head / hp->n_head_kv;
    c->att_tok = group >= ATT_Q ? 1 : ATT_Q / group;
    const uint64_t T = (uint64_t)c->n_threads;
    alloc_tally ok = {0, true};
    c->x = ctx_alloc(B * E, sizeof(float), &ok);
    c->xb = ctx_alloc(B * E, sizeof(float), &ok);
    c->xb2 = ctx_alloc(B * E, sizeof(float), &ok);
    c->q = ctx_alloc(B * QD, sizeof(float), &ok);
    c->k = ctx_alloc(B * KD, sizeof(float), &ok);
    c->v = ctx_alloc(B * KD, sizeof(float), &ok);
    c->qkv = ctx_alloc(B * (QD + 2 * KD), sizeof(float), &ok);
    c->att = ctx_alloc(B * QD, sizeof(float), &ok);
    c->hb = ctx_alloc(B * F, sizeof(float), &ok);
    c->hb2 = ctx_alloc(B * F, sizeof(float), &ok);
    c->rope_cs = ctx_alloc(B * (uint64_t)hp->n_rot, sizeof(float), &ok);
    for (int i = 0; i < ACT_SLOTS; i++) c->act[i] = ctx_alloc(B * c->act_row_cap, 1, &ok);
    const uint64_t att_q = (uint64_t)c->att_tok * (uint64_t)group;
    c->scores = ctx_alloc(T * att_q * (uint64_t)p.n_ctx, sizeof(float), &ok);
    c->vtmp = ctx_alloc(T * (uint64_t)hp->head_dim, sizeof(float), &ok);
    c->qact = ctx_alloc(T * att_q * c->qact_cap, 1, &ok);
    c->logits = ctx_alloc((uint64_t)hp->n_vocab, sizeof(float), &ok);
    c->logits_cap = 1;
    if (!ok.ok) {
        qs_error_set(err, "context: out of memory (%llu bytes of buffers)",
                     (unsigned long long)ok.bytes);
        qs_infer_ctx_free(c);
        return NULL;
    }
    return c;
}

const qs_infer_model *qs_infer_ctx_model(const qs_infer_ctx *c) { return c->m; }
int qs_infer_n_ctx(const qs_infer_ctx *c) { return c->n_ctx; }
int qs_infer_n_past(const qs_infer_ctx *c) { return c->kv.n_pos; }
int qs_infer_n_threads(const qs_infer_ctx *c) { return c->n_threads; }
uint64_t qs_infer_kv_bytes(const qs_infer_ctx *c) { return 2 * (uint64_t)c->kv.n_layer * (uint64_t)c->kv.n_ctx * c->kv.row_bytes; }

const float *qs_infer_logits(const qs_infer_ctx *c, int i) {
    if (c->n_logits == 0) return NULL;
    if (i < 0) i = c->n_logits - 1;
    if (i >= c->n_logits) return NULL;
    return c->logits + (uint64_t)i * (uint64_t)c->m->hp.n_vocab;
}

/* ================================================================ the forward pass
 *
 * One job per batch of tokens: every worker runs forward() below. Steps marked "per token"
 * give worker ith the tokens [t0, t1) (the same split everywhere, so two per-token steps in a
 * row need no barrier between them); matrix products split output rows; attention splits
 * (token, head) pairs. */

typedef struct fwd {
    qs_infer_ctx *c;
    const int32_t *tokens; /* n_tok ids */
    int n_tok;
    int pos0;              /* position of tokens[0] */
    int out_first, n_out;  /* tokens whose logits are wanted (n_out 0: none) */
} fwd;

/* y = x * w / sqrt(mean(x^2) + eps), n values (ggml: sum in double, scale in float) */
static void rmsnorm(float *y, const float *x, const float *w, int n, float eps) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
}

static void add_bias(float *y, const float *b, int64_t n) {
    if (b)
        for (int64_t i = 0; i < n; i++) y[i] += b[i];
}

/* One weight and where its product goes: y (n_tok, w->n_rows). */
typedef struct matmul_out {
    const qs_weight *w;
    float *y;
} matmul_out;

/* Y_i = x W_i^T for up to ACT_SLOTS weights sharing the input x (n_tok rows of n values).
 * First (per token) x is quantized once for each activation type the weights need (rounded
 * to f16 / bf16 for F16 / BF16 weights, as llama.cpp: qs_kernels_act_round); then the
 * rows of all the weights, laid end to end, are split among the workers, and each worker
 * multiplies its rows with every token (gemm: a weight row is read once for the batch).
 * Ends with a barrier. */
static void matmul_rows(qs_infer_ctx *c, const float *x, int n_tok, const matmul_out *outs, int n_outs,
                        const int *act_types, const int *slot, int64_t n, int64_t r_begin, int64_t r_end);

static void matmul(qs_infer_ctx *c, int ith, int nth, const float *x, int n_tok,
                   const matmul_out *outs, int n_outs) {
    const qs_kernels *K = c->kern;
    const int64_t n = outs[0].w->n_cols;
    /* an activation slot per format: the act_type, or for F32 activations rounded to a
     * weight's precision that weight's type (distinct from every act_type but F32) */
    int act_types[ACT_SLOTS], slot[ACT_SLOTS], n_act = 0;
    for (int i = 0; i < n_outs; i++) {
        const int wt = outs[i].w->type;
        const int at = qs_kernels_act_round(wt) ? wt : K->row[wt].act_type;
        int s = 0;
        while (s < n_act && act_types[s] != at) s++;
        if (s == n_act) act_types[n_act++] = at;
        slot[i] = s;
    }
    int64_t t0, t1;
    qs_split_range(n_tok, ith, nth, 1, &t0, &t1);
    for (int s = 0; s < n_act; s++) {
        if (act_types[s] == QS_TYPE_F32) continue; /* used as is */
        const qs_act_round_fn round = qs_kernels_act_round(act_types[s]);
        if (round) {
            for (int64_t t = t0; t < t1; t++)
                round(x + t * n, (float *)(void *)(c->act[s] + (uint64_t)t * c->act_row_cap), n);
            continue;
        }
        const qs_quantize_act_fn quant = K->row[act_types[s]].quantize_act;
        for (int64_t t = t0; t < t1; t++)
            quant(x + t * n, c->act[s] + (uint64_t)t * c->act_row_cap, n);
    }
    int64_t total = 0;
    for (int i = 0; i < n_outs; i++) total += outs[i].w->n_rows;
    if (ith == 0) atomic_store_explicit(&c->mm_next, 0, memory_order_relaxed);
    qs_threadpool_barrier(c->pool);

    /* Rows are handed out in chunks from a shared counter rather than split in equal halves
     * up front: a worker that gets less of the CPU or of the memory bus takes fewer chunks
     * instead of making the others wait at the barrier. The chunks shrink as the rows run out
     * (a 1/(2 nth) share of what is left, in multiples of 16 rows, at least MM_MIN_CHUNK), so
     * the last ones are small and the workers end close together, while the first are large
     * (every kernel call prepares its activation once). Each row's result does not depend on
     * who computes it or with which neighbours (the kernels' arithmetic per row is fixed), so
     * the output is the same bit for bit. */
    for (;;) {
        int64_t r_begin, r_end;
        if (nth == 1) {
            r_begin = 0;
            r_end = total;
        } else {
            int_fast64_t cur = atomic_load_explicit(&c->mm_next, memory_order_relaxed);
            int64_t chunk;
            do {
                if (cur >= total) break;
                chunk = ((total - cur) / (2 * nth) + 15) / 16 * 16;
                if (chunk < MM_MIN_CHUNK) chunk = MM_MIN_CHUNK;
            } while (!atomic_compare_exchange_weak_explicit(&c->mm_next, &cur, cur + chunk, memory_order_relaxed,
                                                            memory_order_relaxed));
            if (cur >= total) break;
            r_begin = cur;
            r_end = cur + chunk < total ? cur + chunk : total;
        }
        matmul_rows(c, x, n_tok, outs, n_outs, act_types, slot, n, r_begin, r_end);
        if (nth == 1) break;
    }
    qs_threadpool_barrier(c->pool);
}

/* Rows [r_begin, r_end) of the concatenated outputs of a matmul (see matmul). */
static void matmul_rows(qs_infer_ctx *c, const float *x, int n_tok, const matmul_out *outs, int n_outs,
                        const int *act_types, const int *slot, int64_t n, int64_t r_begin, int64_t r_end) {
    const qs_kernels *K = c->kern;
    int64_t off = 0;
    for (int i = 0; i < n_outs; i++) {
        const qs_weight *w = outs[i].w;
        const int64_t r0 = (r_begin > off ? r_begin : off) - off;
        const int64_t r1 = (r_end < off + w->n_rows ? r_end : off + w->n_rows) - off;
        off += w->n_rows;
        if (r0 >= r1) continue;
        const qs_kernel_row *kr = &K->row[w->type];
        const bool f32_act = act_types[slot[i]] == QS_TYPE_F32;
        const void *act = f32_act ? (const void *)x : (const void *)c->act[slot[i]];
        const size_t act_stride = f32_act ? (size_t)n * sizeof(float) : (size_t)c->act_row_cap;
        const uint8_t *wr = (const uint8_t *)w->data + (uint64_t)r0 * w->row_bytes;
        if (n_tok == 1)
            kr->gemv(n, r1 - r0, wr, w->row_bytes, act, outs[i].y + r0);
        else
            kr->gemm(n, r1 - r0, n_tok, wr, w->row_bytes, act, act_stride, outs[i].y + r0,
                     (size_t)w->n_rows);
    }
}

/* Per token: biases, per-head q/k norms (qwen3), rotation, and the new key/value rows into
 * the cache at the token's position. */
static void qkv_finish(qs_infer_ctx *c, const qs_layer *L, int il, int t, int pos) {
    const qs_infer_model *m = c->m;
    const qs_infer_hparams *hp = &m->hp;
    const int hd = hp->head_dim;
    const int64_t QD = (int64_t)hp->n_head * hd, KD = (int64_t)hp->n_head_kv * hd;
    float *q = c->q + t * QD, *k = c->k + t * KD, *v = c->v + t * KD;
    if (L->wqkv.data) { /* split the fused projection */
        const float *qkv = c->qkv + t * (QD + 2 * KD);
        for (int64_t i = 0; i < QD; i++) q[i] = qkv[i] + (L->bqkv ? L->bqkv[i] : 0.0f);
        for (int64_t i = 0; i < KD; i++) k[i] = qkv[QD + i] + (L->bqkv ? L->bqkv[QD + i] : 0.0f);
        for (int64_t i = 0; i < KD; i++)
            v[i] = qkv[QD + KD + i] + (L->bqkv ? L->bqkv[QD + KD + i] : 0.0f);
    } else {
        add_bias(q, L->bq, QD);
        add_bias(k, L->bk, KD);
        add_bias(v, L->bv, KD);
    }
    const float *cs = c->rope_cs + (int64_t)t * hp->n_rot;
    for (int h = 0; h < hp->n_head; h++) {
        float *qh = q + (int64_t)h * hd;
        if (L->q_norm) rmsnorm(qh, qh, L->q_norm, hd, hp->rms_eps);
        rope_head(hp, cs, qh);
    }
    for (int h = 0; h < hp->n_head_kv; h++) {
        float *kh = k + (int64_t)h * hd;
        if (L->k_norm) rmsnorm(kh, kh, L->k_norm, hd, hp->rms_eps);
        rope_head(hp, cs, kh);
    }
    qs_kvcache_store(&c->kv, il, pos, k, v);
}

/* Causal attention: for each token t and query head h, softmax(q . k_p * scale) over the
 * positions p <= pos of the token, weighting the values v_p. Grouped-query: query head h reads
 * KV head h / (n_head / n_head_kv).
 *
 * Work items are (KV head, a few tokens): the item's queries (every head of the group, for
 * att_tok tokens) go through the key product together: the scores are one matrix-matrix
 * product of the head's key rows (strided in the cache) with the queries (converted to the
 * cache type's activation format), up to the last token's position (earlier tokens ignore
 * the keys after theirs). Then per token, the value product of its group of heads is one
 * matrix-matrix product of the head's transposed value rows with the attention weights (a
 * Q8_0 value cache is not transposed: it is read position by position). Items are dealt
 * round-robin: later tokens see more keys, so contiguous shares would leave the last worker
 * the most work. */
static void attention(qs_infer_ctx *c, const fwd *f, int ith, int nth, int il) {
    const qs_infer_hparams *hp = &c->m->hp;
    const qs_kvcache *kv = &c->kv;
    const qs_kernel_row *kk = &c->kern->row[kv->type];
    const int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
    const int64_t QD = (int64_t)hp->n_head * hd;
    const int nq_max = c->att_tok * group;
    float *scores = c->scores + (int64_t)ith * nq_max * c->n_ctx;
    float *vtmp = c->vtmp + (int64_t)ith * hd;
    uint8_t *qact = c->qact + (uint64_t)ith * (uint64_t)nq_max * c->qact_cap;
    const bool q_f32 = kk->act_type == QS_TYPE_F32;
    /* an f16 cache: queries and attention weights rounded to f16 first, as llama.cpp */
    const qs_act_round_fn round = qs_kernels_act_round(kv->type);
    const uint64_t qrow = q_f32 ? (uint64_t)hd * sizeof(float) : qs_type_row_bytes(kk->act_type, hd);
    const int n_tblk = (f->n_tok + c->att_tok - 1) / c->att_tok;
    const int64_t n_items = (int64_t)n_tblk * hp->n_head_kv;
    for (int64_t item = ith; item < n_items; item += nth) {
        const int kvh = (int)(item % hp->n_head_kv), tb = (int)(item / hp->n_head_kv);
        const int t0 = tb * c->att_tok;
        const int t1 = t0 + c->att_tok < f->n_tok ? t0 + c->att_tok : f->n_tok;
        const int nq = (t1 - t0) * group;
        /* the queries, query j = (token t0 + j / group, head kvh * group + j % group) */
        for (int j = 0; j < nq; j++) {
            const float *q = c->q + (int64_t)(t0 + j / group) * QD + (int64_t)(kvh * group + j % group) * hd;
            if (round) round(q, (float *)(void *)(qact + (uint64_t)j * qrow), hd);
            else if (q_f32) memcpy(qact + (uint64_t)j * qrow, q, (size_t)hd * sizeof(float));
            else c->kern->row[kk->act_type].quantize_act(q, qact + (uint64_t)j * qrow, hd);
        }
        /* scores[j][p] for the keys of the item's last token */
        const int n_keys_max = f->pos0 + t1;
        const uint8_t *k0 = qs_kvcache_k_row(kv, il, 0) + (uint64_t)kvh * kv->head_bytes;
        if (nq == 1) kk->gemv(hd, n_keys_max, k0, kv->row_bytes, qact, scores);
        else kk->gemm(hd, n_keys_max, nq, k0, kv->row_bytes, qact, qrow, scores, (size_t)c->n_ctx);
        for (int j = 0; j < nq; j++) {
            float *sj = scores + (int64_t)j * c->n_ctx;
            const int n_keys = f->pos0 + t0 + j / group + 1;
            c->kern->softmax(sj, n_keys, hp->attn_scale);
            if (round) round(sj, sj, n_keys);
        }
        /* out = sum_p a_p v_p, per token (its own number of keys) */
        for (int t = t0; t < t1; t++) {
            const int n_keys = f->pos0 + t + 1;
            const float *a = scores + (int64_t)(t - t0) * group * c->n_ctx;
            float *out = c->att + t * QD + (int64_t)kvh * group * hd;
            if (kv->v_trans) {
                const uint8_t *vt = qs_kvcache_vt_head(kv, il, kvh);
                if (group == 1) kk->gemv(n_keys, hd, vt, kv->vt_row_bytes, a, out);
                else kk->gemm(n_keys, hd, group, vt, kv->vt_row_bytes, a, (size_t)c->n_ctx * sizeof(float), out, (size_t)hd);
            } else {
                for (int g = 0; g < group; g++) {
                    const float *ag = a + (int64_t)g * c->n_ctx;
                    float *og = out + (int64_t)g * hd;
                    memset(og, 0, (size_t)hd * sizeof(float));
                    for (int p = 0; p < n_keys; p++) {
                        qs_kvcache_load_head(kv, qs_kvcache_v_row(kv, il, p), kvh, vtmp);
                        for (int i = 0; i < hd; i++) og[i] += ag[p] * vtmp[i];
                    }
                }
            }
        }
    }
    qs_threadpool_barrier(c->pool);
}

static void forward(void *arg, int ith, int nth) {
    fwd *f = arg;
    qs_infer_ctx *c = f->c;
    const qs_infer_model *m = c->m;
    const qs_infer_hparams *hp = &m->hp;
    const int E = hp->n_embd, F = hp->n_ff, n = f->n_tok;
    int64_t t0, t1;
    qs_split_range(n, ith, nth, 1, &t0, &t1);

    /* token embeddings, and the rotation table of each token's position (per token) */
    qs_to_float_fn embd_row = c->kern->row[m->tok_embd.type].to_float; /* vectorized */
    if (!embd_row) embd_row = qs_type_traits_get(m->tok_embd.type)->to_float;
    for (int64_t t = t0; t < t1; t++) {
        const uint8_t *row = (const uint8_t *)m->tok_embd.data +
                             (uint64_t)f->tokens[t] * m->tok_embd.row_bytes;
        embd_row(row, c->x + t * E, E);
        rope_table(m, (float)(f->pos0 + t), false, c->rope_cs + t * hp->n_rot);
    }

    for (int il = 0; il < hp->n_layer; il++) {
        const qs_layer *L = &m->layers[il];

        /* attention block: x += Wo attention(rope(Wq xn), rope(Wk xn), Wv xn) */
        for (int64_t t = t0; t < t1; t++)
            rmsnorm(c->xb + t * E, c->x + t * E, L->attn_norm, E, hp->rms_eps);
        if (L->wqkv.data) {
            matmul_out o[] = {{&L->wqkv, c->qkv}};
            matmul(c, ith, nth, c->xb, n, o, 1);
        } else {
            matmul_out o[] = {{&L->wq, c->q}, {&L->wk, c->k}, {&L->wv, c->v}};
            matmul(c, ith, nth, c->xb, n, o, 3);
        }
        for (int64_t t = t0; t < t1; t++) qkv_finish(c, L, il, (int)t, f->pos0 + (int)t);
        qs_threadpool_barrier(c->pool); /* every key/value of the batch is in the cache */
        attention(c, f, ith, nth, il);
        {
            matmul_out o[] = {{&L->wo, c->xb2}};
            matmul(c, ith, nth, c->att, n, o, 1);
        }
        for (int64_t t = t0; t < t1; t++) {
            float *x = c->x + t * E, *y = c->xb2 + t * E;
            add_bias(y, L->bo, E);
            for (int i = 0; i < E; i++) x[i] = y[i] + x[i];
        }

        /* feed-forward block: x += W_down (silu(W_gate xn) * W_up xn) */
        for (int64_t t = t0; t < t1; t++)
            rmsnorm(c->xb + t * E, c->x + t * E, L->ffn_norm, E, hp->rms_eps);
        {
            matmul_out o[] = {{&L->w_gate, c->hb}, {&L->w_up, c->hb2}};
            matmul(c, ith, nth, c->xb, n, o, 2);
        }
        for (int64_t t = t0; t < t1; t++) {
            float *g = c->hb + t * F, *u = c->hb2 + t * F;
            add_bias(g, L->b_gate, F);
            add_bias(u, L->b_up, F);
            c->kern->silu_mul(g, u, F);
        }
        {
            matmul_out o[] = {{&L->w_down, c->xb2}};
            matmul(c, ith, nth, c->hb, n, o, 1);
        }
        for (int64_t t = t0; t < t1; t++) {
            float *x = c->x + t * E, *y = c->xb2 + t * E;
            add_bias(y, L->b_down, E);
            for (int i = 0; i < E; i++) x[i] = y[i] + x[i];
        }
    }
    if (f->n_out == 0) return;

    /* logits of the wanted tokens: output (norm(x)) */
    int64_t o0, o1;
    qs_split_range(f->n_out, ith, nth, 1, &o0, &o1);
    qs_threadpool_barrier(c->pool); /* output rows may belong to other workers' tokens */
    for (int64_t j = o0; j < o1; j++)
        rmsnorm(c->xb + j * E, c->x + (f->out_first + j) * E, m->output_norm, E, hp->rms_eps);
    matmul_out o[] = {{&m->output, c->logits}};
    matmul(c, ith, nth, c->xb, f->n_out, o, 1);
    if (m->output_b)
        for (int64_t j = o0; j < o1; j++)
            add_bias(c->logits + j * hp->n_vocab, m->output_b, hp->n_vocab);
}

/* ================================================================ decode */

/* With automatic threads, a pass gets one worker per this many multiply-adds: below it the
 * barriers between steps cost more than the split saves (stories260K, 0.3 M parameters, runs
 * fastest on one thread). Results do not depend on the worker count. */
#define AUTO_MADDS_PER_WORKER (4ll << 20)

static int workers_for(const qs_infer_ctx *c, int n_tok) {
    if (!c->auto_threads) return 0; /* all */
    const int64_t w = c->n_mat_params * n_tok / AUTO_MADDS_PER_WORKER;
    return w < 1 ? 1 : w > c->n_threads ? c->n_threads : (int)w;
}

static int decode_impl(qs_infer_ctx *c, const int32_t *tokens, int n_tokens, bool all_logits,
                       const atomic_int *stop, qs_error *err) {
    const qs_infer_hparams *hp = &c->m->hp;
    if (n_tokens < 1 || !tokens) return qs_error_set(err, "decode: no tokens");
    if (all_logits && n_tokens > c->n_batch)
        return qs_error_set(err, "decode: logits of every token need at most %d tokens (the "
                                 "batch size), got %d", c->n_batch, n_tokens);
    if (c->kv.n_pos + n_tokens > c->n_ctx) {
        qs_error_set(err, "context full: %d of %d positions used, %d more needed", c->kv.n_pos,
                     c->n_ctx, n_tokens);
        return QS_CTX_FULL;
    }
    for (int i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return qs_error_set(err, "decode: token %d (id %d) is outside the vocabulary of %d",
                                i, tokens[i], hp->n_vocab);
    if (all_logits && n_tokens > c->logits_cap) {
        float *l = realloc(c->logits, (size_t)n_tokens * (size_t)hp->n_vocab * sizeof(float));
        if (!l) {
            qs_error_set(err, "decode: out of memory for %d rows of logits", n_tokens);
            return QS_ENOMEM;
        }
        c->logits = l;
        c->logits_cap = n_tokens;
    }
    c->n_logits = 0;
    for (int start = 0; start < n_tokens; start += c->n_batch) {
        if (start > 0 && stop && atomic_load(stop)) return QS_CANCELLED;
        const int nt = n_tokens - start < c->n_batch ? n_tokens - start : c->n_batch;
        const bool last = start + nt == n_tokens;
        fwd f = {
            .c = c,
            .tokens = tokens + start,
            .n_tok = nt,
            .pos0 = c->kv.n_pos,
            .out_first = all_logits ? 0 : nt - 1,
            .n_out = !last ? 0 : all_logits ? nt : 1,
        };
        qs_threadpool_run(c->pool, forward, &f, workers_for(c, nt));
        c->kv.n_pos += nt;
        if (last) c->n_logits = f.n_out;
    }
    return QS_OK;
}

int qs_infer_decode(qs_infer_ctx *c, const int32_t *tokens, int n_tokens, bool all_logits,
                    qs_error *err) {
    return decode_impl(c, tokens, n_tokens, all_logits, NULL, err);
}

typedef struct shift_arg {
    const qs_infer_hparams *hp;
    const float *cs;
} shift_arg;

static void shift_rotate(void *user, float *row, int delta) {
    (void)delta; /* the table was built for it */
    const shift_arg *a = user;
    for (int h = 0; h < a->hp->n_head_kv; h++) rope_head(a->hp, a->cs, row + (int64_t)h * a->hp->head_dim);
}

int qs_infer_kv_shift(qs_infer_ctx *c, int n_keep, int n_discard, qs_error *err) {
    const qs_infer_hparams *hp = &c->m->hp;
    float *cs = malloc((size_t)hp->n_rot * sizeof(float));
    float *scratch = malloc((size_t)c->kv.kv_dim * sizeof(float));
    if (!cs || !scratch) {
        free(cs);
        free(scratch);
        qs_error_set(err, "KV shift: out of memory");
        return QS_ENOMEM;
    }
    rope_table(c->m, (float)-n_discard, true, cs);
    shift_arg a = {hp, cs};
    int st = qs_kvcache_shift(&c->kv, n_keep, n_discard, shift_rotate, &a, scratch, err);
    free(cs);
    free(scratch);
    return st;
}

int qs_infer_kv_truncate(qs_infer_ctx *c, int n_pos, qs_error *err) {
    return qs_kvcache_truncate(&c->kv, n_pos, err);
}

/* ================================================================ generation */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int qs_infer_generate(qs_infer_ctx *c, const int32_t *prompt, int n_prompt,
                      const qs_generate_params *gp, qs_generate_result *res, qs_error *err) {
    qs_generate_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    res->pending = -1;
    res->eog_token = -1;
    qs_generate_params none = {.n_predict = -1};
    if (!gp) gp = &none;
    if (n_prompt < 0) return qs_error_set(err, "generate: negative prompt length");

    const double t_start = now_ms();
    if (n_prompt > 0) {
        int st = decode_impl(c, prompt, n_prompt, false, gp->stop, err);
        if (st == QS_CTX_FULL) res->reason = QS_STOP_CTX_FULL;
        if (st == QS_CANCELLED) res->reason = QS_STOP_FLAG;
        if (st != QS_OK) return st;
        if (gp->sampler)
            for (int i = 0; i < n_prompt; i++) qs_sampler_accept(gp->sampler, prompt[i]);
        res->n_prompt = n_prompt;
    } else if (c->n_logits == 0) {
        return qs_error_set(err, "generate: nothing to continue from (no prompt, no logits)");
    }
    const double t_gen = now_ms();
    res->prompt_ms = t_gen - t_start;

    const int n_vocab = c->m->hp.n_vocab;
    int status = QS_OK;
    for (;;) {
        if (gp->stop && atomic_load(gp->stop)) {
            res->reason = QS_STOP_FLAG;
            status = QS_CANCELLED;
            break;
        }
        if (gp->n_predict >= 0 && res->n_generated >= gp->n_predict) {
            res->reason = QS_STOP_LENGTH;
            break;
        }
        const float *logits = qs_infer_logits(c, -1);
        const int32_t tok = gp->sampler ? qs_sampler_sample(gp->sampler, logits)
                                        : qs_argmax(logits, n_vocab);
        if (gp->sampler) qs_sampler_accept(gp->sampler, tok);
        bool eog = false;
        for (int i = 0; i < gp->n_eog; i++) eog |= gp->eog[i] == tok;
        if (eog) {
            res->reason = QS_STOP_EOG;
            res->eog_token = tok;
            break;
        }
        res->n_generated++;
        const int cb_stop = gp->on_token ? gp->on_token(gp->user, tok) : 0;
        int st = decode_impl(c, &tok, 1, false, NULL, err);
        if (st == QS_CTX_FULL) {
            res->reason = QS_STOP_CTX_FULL;
            res->pending = tok;
            status = st;
            break;
        }
        if (st != QS_OK) {
            status = st;
            break;
        }
        if (cb_stop) {
            res->reason = QS_STOP_CALLBACK;
            break;
        }
    }
    res->gen_ms = now_ms() - t_gen;
    return status;
}
