/* synth.h — random-weight models with real models' shapes, written as GGUF files that
 * llama.cpp loads. Random weights give true speed and memory figures, not true quality.
 *
 * Writing streams: each tensor is generated and written in chunks (bounded memory: a few MiB
 * whatever the model size). Values are deterministic in (seed, tensor name). */
#ifndef QS_SYNTH_H
#define QS_SYNTH_H

#include <stdatomic.h>

#include "qs_common.h"
#include "qs_types.h"

typedef struct qs_synth_shape {
    const char *name;      /* "tinyllama-1.1b" */
    const char *arch;      /* "llama", "qwen2", "qwen3" */
    const char *label;     /* general.name written into the file */
    int64_t n_layer, n_embd, n_ff, n_head, n_head_kv;
    int64_t head_dim;      /* per head (q, k and v) */
    int64_t n_vocab;       /* used when no --vocab file is given */
    int64_t n_ctx;         /* training context */
    double rope_base, rms_eps;
    bool tied;             /* no output.weight: the output reuses token_embd */
    bool qkv_bias;         /* qwen2: biases on q, k, v */
    bool qk_norm;          /* qwen3: per-head RMSNorm of q and k */
    double rope_llama3_factor; /* > 0: llama3 rope scaling (rope_freqs.weight tensor) */
    int64_t rope_orig_ctx;     /* llama3 scaling: original context */
} qs_synth_shape;

/* The table of shapes; *n receives the count. */
const qs_synth_shape *qs_synth_shapes(int *n);
/* A shape by name (case-insensitive), or NULL. */
const qs_synth_shape *qs_synth_find(const char *name);

/* One tensor of a shape: name, dims and whether it takes the model type (matrices) or stays
 * F32 (norms, biases, rope factors). */
typedef struct qs_synth_tensor {
    char name[64];
    int n_dims;
    int64_t ne[2];
    bool f32;
} qs_synth_tensor;

/* The tensor list of a shape for a vocabulary of n_vocab tokens, in file order. Returns the
 * count; fills up to max entries of out (out may be NULL to count). */
int qs_synth_tensors(const qs_synth_shape *s, int64_t n_vocab, qs_synth_tensor *out, int max);
/* Parameter count of a shape with n_vocab tokens. */
int64_t qs_synth_params(const qs_synth_shape *s, int64_t n_vocab);

typedef struct qs_synth_opts {
    qs_type type;             /* F32, F16 or BF16 for the matrices (default F16 when 0 given) */
    uint64_t seed;
    const char *vocab_path;   /* NULL: a small tokenizer of our own; else copy tokenizer.* keys */
    qs_progress_fn progress;  /* bytes written / total; NULL = none */
    void *progress_user;
    const atomic_int *cancel; /* NULL or a flag set non-zero to stop (QS_CANCELLED) */
} qs_synth_opts;

/* Writes the model to out_path atomically (temp file + rename). */
int qs_synth_write(const qs_synth_shape *s, const char *out_path, const qs_synth_opts *opts, qs_error *err);

#endif
