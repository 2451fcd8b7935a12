/* model.h — what a GGUF model is made of: architecture, hyper-parameters, tensor table, totals.
 *
 * A qs_model is a description over an opened gguf_file: no tensor data is read or copied.
 * Hyper-parameters come from the "{arch}.*" keys llama.cpp writes; absent optional keys get
 * llama.cpp's defaults (noted per field). Everything a screen or `quantscope info` shows about
 * a model comes from here. */
#ifndef QS_MODEL_H
#define QS_MODEL_H

#include "gguf.h"
#include "qs_plan.h"
#include "qs_types.h"

typedef struct qs_model_tensor {
    const gguf_tensor *t;  /* borrowed from the gguf_file: shape, type, bytes, data pointer */
    char name[64];         /* NUL-terminated copy of the name */
    int block;             /* block (layer) index from "blk.N.", -1 outside blocks */
    const char *role;      /* points into name: "attn_q.weight", "token_embd.weight", ... */
} qs_model_tensor;

typedef struct qs_hparams {
    char arch[32];          /* general.architecture */
    char name[128];         /* general.name, or "" */
    int64_t n_layer;        /* blocks */
    int64_t n_embd;         /* embedding width */
    int64_t n_ff;           /* feed-forward width (first layer if per-layer); 0 if absent */
    int64_t n_head;         /* attention heads */
    int64_t n_head_kv;      /* KV heads (default n_head); max over layers if per-layer */
    int64_t head_dim_k;     /* key length per head (default n_embd / n_head) */
    int64_t head_dim_v;     /* value length per head (default n_embd / n_head) */
    int64_t n_rot;          /* rotary dimensions (default head_dim_k) */
    int64_t n_ctx_train;    /* training context length */
    int64_t n_vocab;        /* vocabulary size (tokens array, else token_embd rows) */
    int64_t n_expert;       /* experts (0 for dense) */
    int64_t n_expert_used;
    double rope_freq_base;  /* default 10000 */
    double rope_freq_scale; /* 1 / rope.scaling.factor, default 1 */
    char rope_scaling[16];  /* "none", "linear", "yarn", "llama3"... ("" if absent) */
    double rms_eps;         /* attention.layer_norm_rms_epsilon (0 if absent) */
    int file_type;          /* general.file_type (llama_ftype), -1 if absent */
    char tok_model[32];     /* tokenizer.ggml.model: "llama", "gpt2", ... */
    char tok_pre[32];       /* tokenizer.ggml.pre */
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
    int64_t n_tensors;
    qs_model_tensor *tensors;  /* [n_tensors], file order (owned) */
    int64_t n_params;          /* sum of element counts */
    uint64_t tensor_bytes;     /* sum of tensor data bytes */
    qs_type_total by_type[QS_TYPE_COUNT];
} qs_model;

/* Opens PATH and describes it. NULL + err ("PATH: ...") on failure. Free with qs_model_close. */
qs_model *qs_model_open(const char *path, qs_error *err);
/* Describes an already opened file, taking ownership of it (closed on failure too). */
qs_model *qs_model_from_gguf(gguf_file *f, qs_error *err);
void qs_model_close(qs_model *m);

/* Index of a tensor by name, or -1. */
int64_t qs_model_find(const qs_model *m, const char *name);

/* Bits per weight over all tensors: tensor_bytes * 8 / n_params. */
double qs_model_bpw(const qs_model *m);

/* llama.cpp's file type name for general.file_type ("Q4_K_M", "F16", "ALL_F32"), or "?". */
const char *qs_ftype_name(int ftype);

/* The model as the plan module sees it. Fills *out; *tensors receives a malloc'd array the
 * caller frees (names borrowed from m, valid while m is open). QS_OK or QS_ENOMEM. */
int qs_model_plan_view(const qs_model *m, qs_plan_model *out, qs_plan_tensor **tensors);

#endif
