/* model.h — what a GGUF model is made of: architecture, hyper-parameters, tensor table, totals.
 *
 * A qs_model is a description over an opened gguf_file: no tensor data is read or copied (the
 * tensor entries point into the file's map). Hyper-parameters come from the "{arch}.*" keys
 * llama.cpp writes (key names as in llama.cpp's llama-arch.cpp / gguf-py constants.py); absent
 * optional keys get llama.cpp's defaults, noted per field. Everything a screen or
 * `quantscope info` shows about a model comes from here, and the memory estimator and the
 * inference engine start from the same struct.
 *
 * Ownership: qs_model_open()/qs_model_from_gguf() return a model the caller frees with
 * qs_model_close(); every pointer inside it (tensors, per-layer arrays, the gguf_file and the
 * tensor data it maps) lives until then. Nothing here is thread-unsafe once built: a model may
 * be read from many threads. */
#ifndef QS_MODEL_H
#define QS_MODEL_H

#include "gguf.h"
#include "qs_estimate.h"
#include "qs_plan.h"
#include "qs_types.h"

/* Largest block_count accepted (a larger value is a damaged file, not a model). */
#define QS_MODEL_MAX_LAYERS 4096

typedef struct qs_model_tensor {
    const gguf_tensor *t;  /* borrowed from the gguf_file: shape (ne[0] = row length), type,
                              bytes, offset, data pointer */
    char name[64];         /* NUL-terminated copy of the name (GGUF names are < 64 bytes) */
    int block;             /* block (layer) index from "blk.N.", -1 outside blocks */
    char role[48];         /* short role: the name without "blk.N." and without its last
                              component: "attn_q", "ffn_down", "token_embd", "output_norm",
                              "ffn_up_exps"; the whole rest when it has no '.' */
    const char *suffix;    /* points into name: the last component ("weight", "bias", ...),
                              "" when the name has none */
    int64_t n_per_row;     /* ne[0]: values per row */
    int64_t n_rows;        /* n_elements / ne[0] (0 for an empty tensor) */
} qs_model_tensor;

typedef struct qs_hparams {
    char arch[32];          /* general.architecture */
    char name[128];         /* general.name, or "" */
    int64_t n_layer;        /* {arch}.block_count (0 if absent) */
    int64_t n_embd;         /* {arch}.embedding_length */
    int64_t n_ff;           /* {arch}.feed_forward_length; largest layer's when per-layer; 0 if
                               absent (per layer: qs_model.layer_n_ff) */
    int64_t n_head;         /* {arch}.attention.head_count; largest when per-layer */
    int64_t n_head_kv;      /* {arch}.attention.head_count_kv, default n_head; the largest
                               over layers when the key is a per-layer array (per layer:
                               qs_model.layer_n_head_kv) */
    bool per_layer_heads;   /* head_count / head_count_kv / feed_forward_length were arrays */
    bool layers_differ;     /* ... and not all layers have the same value */
    int64_t head_dim_k;     /* attention.key_length: key size per head, default n_embd/n_head */
    int64_t head_dim_v;     /* attention.value_length, default n_embd/n_head */
    int64_t n_rot;          /* rope.dimension_count, default head_dim_k */
    int64_t n_ctx_train;    /* {arch}.context_length: training context (tokens) */
    int64_t n_vocab;        /* tokens: tokenizer.ggml.tokens count, else {arch}.vocab_size,
                               else token_embd rows; 0 when none is known */
    int64_t n_expert;       /* expert_count (0 for dense models) */
    int64_t n_expert_used;  /* expert_used_count */
    double rope_freq_base;  /* rope.freq_base, default 10000 */
    double rope_freq_scale; /* rope.scaling.factor as llama.cpp uses it: 1 / factor (or
                               rope.scale_linear's 1 / value), default 1 */
    double rope_scaling_factor; /* rope.scaling.factor as written (0 if absent) */
    char rope_scaling[16];  /* rope.scaling.type: "none", "linear", "yarn", "longrope" ("" if
                               absent). Llama 3.x files have no such key: their scaling is
                               materialised as per-frequency factors in rope_freqs.weight */
    int64_t rope_orig_ctx;  /* rope.scaling.original_context_length (0 if absent) */
    double rope_attn_factor; /* rope.scaling.attn_factor (0 if absent) */
    bool has_rope_freqs;    /* a rope_freqs.weight tensor (llama3-style factors) is present */
    double rms_eps;         /* attention.layer_norm_rms_epsilon (0 if absent) */
    double norm_eps;        /* attention.layer_norm_epsilon (0 if absent; non-RMS norms) */
    int file_type;          /* general.file_type (llama_ftype), -1 if absent */
    char tok_model[32];     /* tokenizer.ggml.model: "llama", "gpt2", ... ("" if absent) */
    char tok_pre[32];       /* tokenizer.ggml.pre ("" if absent) */
    int64_t bos_id, eos_id; /* tokenizer.ggml.bos_token_id / eos_token_id, -1 if absent */
    int64_t n_merges;       /* tokenizer.ggml.merges count (BPE), 0 if absent */
    bool has_chat_template; /* tokenizer.chat_template present */
    bool tied_embeddings;   /* no output.weight: the output reuses token_embd */
} qs_hparams;

typedef struct qs_type_total {
    int64_t n_tensors;
    int64_t n_params;
    uint64_t bytes;
} qs_type_total;

typedef struct qs_model {
    gguf_file *gguf;           /* owned */
    qs_hparams hp;
    int64_t *layer_n_head_kv;  /* [hp.n_layer] KV heads per layer (owned; NULL when n_layer 0) */
    int64_t *layer_n_head;     /* [hp.n_layer] query heads per layer (owned; NULL likewise) */
    int64_t *layer_n_ff;       /* [hp.n_layer] feed-forward width per layer (owned; NULL ...) */
    int64_t n_tensors;
    qs_model_tensor *tensors;  /* [n_tensors], file order (owned); index = gguf tensor index */
    int64_t n_params;          /* sum of element counts */
    uint64_t tensor_bytes;     /* sum of tensor data bytes */
    int n_blocks_seen;         /* 1 + the largest "blk.N." index among tensors (0 if none) */
    qs_type_total by_type[QS_TYPE_COUNT]; /* indexed by ggml type id */
} qs_model;

/* Opens PATH and describes it. NULL + err ("PATH: ...") on failure: the GGUF reader's errors,
 * a file with no general.architecture (e.g. a vocabulary-only file) or a block_count / head
 * array out of range. Free with qs_model_close. */
qs_model *qs_model_open(const char *path, qs_error *err);
/* Describes an already opened file, taking ownership of it (closed on failure too). */
qs_model *qs_model_from_gguf(gguf_file *f, qs_error *err);
/* Frees m and closes its file (NULL is a no-op). */
void qs_model_close(qs_model *m);

/* Reads f's hyper-parameters (every field of qs_hparams, as qs_model_from_gguf fills them:
 * the one reader of the GGUF keys, also used by the inference engine). Does not take
 * ownership of f. QS_OK, or QS_ERR with qs_model_from_gguf's messages (no architecture,
 * block_count out of range, a per-layer array of the wrong length) or out of memory. */
int qs_hparams_read(const gguf_file *f, qs_hparams *hp, qs_error *err);

/* Index of a tensor by exact name, or -1. */
int64_t qs_model_find(const qs_model *m, const char *name);

/* Bits per weight over all tensors: tensor_bytes * 8 / n_params (0 for no parameters). */
double qs_model_bpw(const qs_model *m);

/* True when llama.cpp would quantize this tensor's type at all: 2 or more dimensions
 * (1-D tensors — norms, biases, rope factors — stay F32 in every llama.cpp mix). */
bool qs_model_tensor_is_matrix(const qs_model_tensor *t);

/* llama.cpp's file type name for general.file_type without the "MOSTLY_" prefix ("Q4_K_M",
 * "F16", "ALL_F32"), or "?" for an unknown value. The GUESSED flag (1024) is ignored; test
 * qs_ftype_guessed() to say so. */
const char *qs_ftype_name(int ftype);
bool qs_ftype_guessed(int ftype);

/* Up to max tensor indices whose names are closest to `name` (for "did you mean"): names
 * containing it first, then by edit distance (only reasonably close ones). Returns the count
 * written to out. */
int qs_model_similar(const qs_model *m, const char *name, int64_t *out, int max);

/* The model as the plan module sees it. Fills *out; *tensors receives a malloc'd array the
 * caller frees (names borrowed from m, valid while m is open). QS_OK or QS_ENOMEM. */
int qs_model_plan_view(const qs_model *m, qs_plan_model *out, qs_plan_tensor **tensors);

/* The model as the memory estimator (quant/qs_estimate.h) sees it, with types[i] as tensor i's
 * type (types NULL: the stored types). qs_model_est_fill fills a caller's array of
 * m->n_tensors entries and points out->tensors at it; qs_model_est_view allocates the array
 * (*tensors, the caller frees it; QS_OK or QS_ENOMEM). Names are borrowed from m. The one place
 * that maps hyper-parameters to the estimator: the explorer, `quantscope estimate`, export and
 * the budget planner all use it. */
void qs_model_est_fill(const qs_model *m, const int *types, qs_est_tensor *tensors, qs_est_model *out);
int qs_model_est_view(const qs_model *m, const int *types, qs_est_model *out, qs_est_tensor **tensors);

#endif
