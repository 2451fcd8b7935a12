/* infer.h — the inference engine: a decoder-only transformer run over GGUF weights in place.
 *
 * Architectures (general.architecture):
 *   llama   Llama 2 / 3.x, TinyLlama, Mistral, SmolLM: RMSNorm, RoPE on adjacent pairs
 *           ("normal"), grouped-query attention, SwiGLU. Optional: tied embeddings (no
 *           output.weight), rope_freqs.weight (Llama 3.1+ frequency factors), linear / YaRN
 *           rope scaling from the GGUF keys, biases on any projection, a fused attn_qkv.
 *   qwen2   as llama with RoPE on the two halves of a head ("neox") and q/k/v biases.
 *   qwen3   as qwen2 without biases, plus an RMSNorm over each query and key head (q_norm,
 *           k_norm, weights of head_dim) before RoPE.
 * Anything else loads with "architecture X is not yet supported".
 *
 * Semantics follow llama.cpp (src/models/llama.cpp, qwen2.cpp, qwen3.cpp, ggml-cpu ops):
 * RMSNorm y = x / sqrt(mean(x^2) + eps) * w with the sum in double; RoPE angles
 * theta_i = pos * base^(-2i/n_rot) built by repeated multiplication in float, divided by the
 * frequency factor, scaled and YaRN-mixed as ggml does; attention scale 1/sqrt(head_dim),
 * softmax in f32; keys and values rounded to the KV cache type when stored (f16 by default,
 * as llama.cpp's default cache). Matrix products go through quant/qs_kernels.h: each
 * activation row is quantized once to the weight type's activation type, then dotted with the
 * weight rows in place. As in ggml, activations are rounded to f16 (bf16) before a product
 * with F16 (BF16) weights, and with an f16 cache the queries and the attention weights are
 * rounded to f16 before the key and value products (qs_kernels_act_round).
 *
 * Threads: a context owns a persistent pool (threadpool.h). A forward pass is one job: every
 * worker walks the layers together, taking its share of each step (output rows of a matrix
 * product, tokens of a norm, (token, head) pairs of attention) and meeting the others at a
 * barrier between steps. Results do not depend on the number of threads: every output value
 * is computed by the same code in the same order whichever worker computes it.
 *
 * Prompt processing is batched: up to n_batch tokens go through each layer together, so
 * every weight row is read once per batch (qs_kernels gemm), not once per token.
 *
 * Thread-safety: a model is read-only after loading (except qs_infer_model_set_weight, which
 * must not run while a context of the model computes). A context is used by one thread at a
 * time (any thread: e.g. a background generation thread); several contexts may share a
 * model. */
#ifndef QS_INFER_H
#define QS_INFER_H

#include <stdatomic.h>

#include "gguf.h"
#include "qs_common.h"
#include "sampler.h"

/* Status: the context has no room for the tokens (nothing was changed; shift or truncate the
 * cache, then retry). Values below QS_ENOMEM so they never collide with qs_common.h's. */
#define QS_CTX_FULL (-16)

/* ================================================================ model */

typedef enum qs_arch {
    QS_ARCH_LLAMA = 0,
    QS_ARCH_QWEN2 = 1,
    QS_ARCH_QWEN3 = 2,
} qs_arch;

typedef enum qs_rope_kind {
    QS_ROPE_NORMAL = 0, /* rotate (x[2i], x[2i+1]) */
    QS_ROPE_NEOX = 2,   /* rotate (x[i], x[i + n_rot/2]) */
} qs_rope_kind;

typedef struct qs_infer_hparams {
    qs_arch arch;
    char arch_name[32];   /* as in the file: "llama" */
    int n_vocab;          /* rows of token_embd */
    int n_embd;           /* model width */
    int n_layer;
    int n_head;           /* query heads */
    int n_head_kv;        /* key/value heads (grouped-query attention: n_head % n_head_kv == 0) */
    int head_dim;         /* values per head (attention.key_length, else n_embd / n_head) */
    int n_ff;             /* feed-forward width */
    int n_ctx_train;      /* context length the model was trained with */
    float rms_eps;
    /* rotary embeddings */
    qs_rope_kind rope_kind;
    int n_rot;            /* rotated values per head (<= head_dim; the rest pass through) */
    float rope_freq_base;
    float rope_freq_scale; /* 1 / rope.scaling.factor (1 when not scaled) */
    float yarn_ext_factor; /* 1 with YaRN scaling, else 0 */
    float yarn_attn_factor; /* magnitude factor on cos/sin, as llama.cpp derives it */
    float yarn_beta_fast, yarn_beta_slow;
    int n_ctx_orig;       /* rope.scaling.original_context_length, else n_ctx_train */
    float attn_scale;     /* 1 / sqrt(head_dim) */
    bool tied_embeddings; /* output projection is token_embd */
} qs_infer_hparams;

/* A weight matrix: n_rows rows of n_cols values of `type`, rows contiguous. The bytes are not
 * owned: they live in the GGUF map or in a caller's in-memory (re)quantized copy, so
 * everything that computes with a weight reads (data, type) from here and nothing else. */
typedef struct qs_weight {
    const char *name;     /* tensor name, NUL-terminated (owned by the model) */
    const void *data;     /* n_rows * row_bytes bytes */
    int type;             /* qs_type */
    int64_t n_cols;       /* values per row (ggml ne[0]): the input width */
    int64_t n_rows;       /* rows (ne[1]): the output width */
    uint64_t row_bytes;
} qs_weight;

typedef struct qs_layer {
    const float *attn_norm;    /* (n_embd) */
    /* attention projections: either wq/wk/wv or the fused wqkv (then wq.data == NULL) */
    qs_weight wq;              /* (n_head * head_dim rows, n_embd cols) */
    qs_weight wk;              /* (n_head_kv * head_dim, n_embd) */
    qs_weight wv;              /* (n_head_kv * head_dim, n_embd) */
    qs_weight wqkv;            /* ((n_head + 2 * n_head_kv) * head_dim, n_embd) or data NULL */
    const float *bq, *bk, *bv; /* biases (rows of the projection) or NULL; bqkv for fused */
    const float *bqkv;
    const float *q_norm;       /* (head_dim) qwen3, else NULL */
    const float *k_norm;       /* (head_dim) qwen3, else NULL */
    qs_weight wo;              /* (n_embd, n_head * head_dim) */
    const float *bo;           /* (n_embd) or NULL */
    const float *ffn_norm;     /* (n_embd) */
    qs_weight w_gate;          /* (n_ff, n_embd) */
    qs_weight w_up;            /* (n_ff, n_embd) */
    qs_weight w_down;          /* (n_embd, n_ff) */
    const float *b_gate, *b_up, *b_down; /* or NULL */
} qs_layer;

typedef struct qs_infer_model {
    qs_infer_hparams hp;
    const gguf_file *file;     /* not owned: must outlive the model */
    qs_weight tok_embd;        /* (n_vocab, n_embd); any type with a to_float */
    const float *output_norm;  /* (n_embd) */
    qs_weight output;          /* (n_vocab, n_embd); a copy of tok_embd's view when tied */
    const float *output_b;     /* (n_vocab) or NULL */
    const float *rope_freqs;   /* (n_rot / 2) frequency divisors (Llama 3.1+) or NULL */
    qs_layer *layers;          /* n_layer */
    void *owned;               /* internal: names and converted vectors */
} qs_infer_model;

/* Binds a model to an open GGUF file: reads the hyper-parameters, finds every tensor, checks
 * shapes and that each matrix type has a dot kernel. No weight bytes are copied (vectors stored
 * as F16/BF16 are converted to small owned float arrays). Errors name the file and the
 * tensor or key: "stories.gguf: tensor blk.3.ffn_up.weight: shape [64, 100], expected
 * [64, 172]", "x.gguf: architecture 'gemma2' is not yet supported (llama, qwen2, qwen3)".
 * Caller owns the result (qs_infer_model_free); f must stay open while it is used. */
qs_infer_model *qs_infer_model_load(const gguf_file *f, qs_error *err);
void qs_infer_model_free(qs_infer_model *m);

/* Points the weight named `name` (every view of it: a tied output follows token_embd) at
 * other bytes: nbytes of `type` with the same shape, e.g. an in-memory requantized copy.
 * The caller keeps data alive while the model uses it. Returns QS_ERR for an unknown name, a
 * size that does not match the shape, or a type without a dot kernel (or without to_float
 * for token_embd). Not while a context of this model is computing. */
int qs_infer_model_set_weight(qs_infer_model *m, const char *name, int type, const void *data,
                              uint64_t nbytes, qs_error *err);

/* Memory for nbytes of weights to give qs_infer_model_set_weight (NULL when out of memory;
 * free() releases it). At least 64-byte aligned (whole cache lines for the kernels' row loads).
 * From 2 MiB up it starts on a 2 MiB boundary and its whole 2 MiB stretches are advised
 * MADV_HUGEPAGE, as gguf_advise_stream does for the mapping: the engine streams every weight
 * once per token, and one TLB entry then covers 2 MiB of it (the tail stays on small pages, so
 * no huge page is left mostly empty). */
void *qs_infer_weights_alloc(uint64_t nbytes);

/* The view of a weight by tensor name, or NULL. */
const qs_weight *qs_infer_model_weight(const qs_infer_model *m, const char *name);

/* ================================================================ context */

typedef struct qs_infer_params {
    int n_ctx;     /* positions in the KV cache; 0 = min(n_ctx_train, 4096) */
    int n_batch;   /* most tokens per forward pass (longer prompts go in chunks); 0 = 256 */
    int n_threads; /* workers of the pool; 0 = the CPUs this process may run on, and then a
                    * pass over little work (a small model, one token) uses fewer of them */
    int kv_type;   /* QS_TYPE_F16 (default), QS_TYPE_F32 or QS_TYPE_Q8_0 */
} qs_infer_params;

qs_infer_params qs_infer_default_params(void);

typedef struct qs_infer_ctx qs_infer_ctx;

/* A context: KV cache, scratch buffers for n_batch tokens, the thread pool. Returns NULL with
 * err on bad parameters or when memory is short (the message gives the bytes). Caller owns
 * it (qs_infer_ctx_free); the model must outlive it. */
qs_infer_ctx *qs_infer_ctx_new(const qs_infer_model *m, const qs_infer_params *p,
                               qs_error *err);
void qs_infer_ctx_free(qs_infer_ctx *c);

const qs_infer_model *qs_infer_ctx_model(const qs_infer_ctx *c);
int qs_infer_n_ctx(const qs_infer_ctx *c);     /* positions in the cache */
int qs_infer_n_past(const qs_infer_ctx *c);    /* positions filled */
int qs_infer_n_threads(const qs_infer_ctx *c); /* workers in the pool */
uint64_t qs_infer_kv_bytes(const qs_infer_ctx *c);

/* Runs n_tokens tokens through the model at positions n_past .. n_past + n_tokens - 1 and
 * appends their keys/values to the cache (in chunks of n_batch). Afterwards the logits of the
 * last token are available (qs_infer_logits(c, -1)); with all_logits (needs
 * n_tokens <= n_batch) those of every token (qs_infer_logits(c, i)).
 * Returns QS_OK; QS_CTX_FULL when n_past + n_tokens > n_ctx (message "context full: ...";
 * the cache is unchanged); QS_ERR for a token id outside the vocabulary or n_tokens < 1. */
int qs_infer_decode(qs_infer_ctx *c, const int32_t *tokens, int n_tokens, bool all_logits,
                    qs_error *err);

/* Logits (n_vocab floats) of token i of the last decode (i = -1: the last token), or NULL when
 * not computed. Valid until the next decode. */
const float *qs_infer_logits(const qs_infer_ctx *c, int i);

/* Context shift: forgets positions [n_keep, n_keep + n_discard) and moves the later ones down,
 * re-rotating their cached keys (see kvcache.h for why re-rotation). The chat layer keeps the
 * system prompt in n_keep and drops the oldest turns. */
int qs_infer_kv_shift(qs_infer_ctx *c, int n_keep, int n_discard, qs_error *err);
/* Forgets positions from n_pos on. */
int qs_infer_kv_truncate(qs_infer_ctx *c, int n_pos, qs_error *err);

/* ================================================================ generation */

/* Called for each generated token, in order, on the generating thread. Return non-zero to
 * stop (the token is already in the cache). */
typedef int (*qs_token_fn)(void *user, int32_t token);

typedef enum qs_stop_reason {
    QS_STOP_NONE = 0,
    QS_STOP_LENGTH,    /* n_predict tokens generated */
    QS_STOP_EOG,       /* an end-of-generation token was sampled (not reported, not cached) */
    QS_STOP_CALLBACK,  /* on_token returned non-zero */
    QS_STOP_FLAG,      /* *stop became non-zero */
    QS_STOP_CTX_FULL,  /* no room for the next token */
} qs_stop_reason;

typedef struct qs_generate_params {
    int n_predict;          /* most tokens to generate; < 0: until EOG, stop or full context */
    const int32_t *eog;     /* end-of-generation token ids (EOS, end of turn), n_eog of them */
    int n_eog;
    qs_sampler *sampler;    /* NULL: greedy */
    qs_token_fn on_token;   /* may be NULL */
    void *user;
    const atomic_int *stop; /* NULL, or a flag another thread sets to stop between tokens */
} qs_generate_params;

typedef struct qs_generate_result {
    qs_stop_reason reason;
    int n_prompt;           /* prompt tokens decoded */
    int n_generated;        /* tokens reported to on_token */
    int32_t pending;        /* with QS_STOP_CTX_FULL: the reported token not yet in the cache
                             * (pass it as the prompt after a shift); else -1 */
    int32_t eog_token;      /* with QS_STOP_EOG: the token; else -1 */
    double prompt_ms;       /* wall time of the prompt's forward passes */
    double gen_ms;          /* wall time from the first sample to the end */
} qs_generate_result;

/* Decodes the prompt after what the cache holds (n_prompt may be 0 when the last decode's
 * logits are still current), then samples, reports and decodes tokens until a stop. Prompt
 * tokens are accepted into the sampler's penalty history. Every reported token is in the cache
 * on return except `pending`. Returns QS_OK (reason says why it ended), QS_CANCELLED (stop
 * flag; checked between tokens and between n_batch chunks of a long prompt, whose finished
 * chunks stay in the cache: qs_infer_n_past says how far it got), QS_CTX_FULL (the prompt
 * does not fit, or no room for the next token: reason QS_STOP_CTX_FULL; shift and call again)
 * or QS_ERR. res may be NULL. */
int qs_infer_generate(qs_infer_ctx *c, const int32_t *prompt, int n_prompt,
                      const qs_generate_params *gp, qs_generate_result *res, qs_error *err);

#endif
