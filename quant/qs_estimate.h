/* qs_estimate.h — memory estimate: the bytes llama.cpp allocates to run a model under a plan.
 *
 * A pure function from (model shape, a type per tensor, runtime settings) to bytes by named part
 * and by device. The parts are the buffers llama.cpp itself reports when it loads a model
 * ("CPU_Mapped model buffer size", "CPU_REPACK model buffer size", "KV buffer size",
 * "output buffer size", "compute buffer size"), plus runtime overhead that llama.cpp does not
 * report. Each part says whether its figure follows an exact rule or rests on an assumption.
 *
 * How each figure is obtained (learned from llama.cpp d32676d7, see man/quantscope-estimate.7):
 *   - weights: llama.cpp's placement rules. token_embd always stays on the host; the output layer
 *     counts as one offloadable layer and goes first; then the last n-1 repeating layers. On the
 *     host with mmap, "CPU_Mapped" is the file span from the first to the last tensor that stays
 *     mapped; MUL_MAT weights the CPU can repack (Q4_0, Q4_K, IQ4_NL, MXFP4 with AVX2; Q2_K with
 *     AVX-512; rows a multiple of 8) are copied into "CPU_REPACK".
 *   - KV cache: n_ctx padded to 256 (per sequence when not unified), per layer
 *     row_bytes(type_k, n_embd_k_gqa) + row_bytes(type_v, n_embd_v_gqa) per cell.
 *   - output: n_vocab x n_seq floats.
 *   - compute: a replay of ggml-alloc over the graph llama.cpp builds for the worst-case
 *     micro-batch (llama, mistral, qwen2 graphs: byte-exact against llama.cpp on the CPU; other
 *     architectures are approximated with the same graph and flagged).
 *
 * Cost: about 80 us for a 22-layer model (two graph replays); two allocations per call (the
 * model facts and the graph arena), freed before returning. Thread-safe: no globals. */
#ifndef QS_ESTIMATE_H
#define QS_ESTIMATE_H

#include "qs_common.h"

#define QS_EST_MAX_LAYERS 1024

/* One tensor of the model, with the type the plan gives it. */
typedef struct qs_est_tensor {
    const char *name;  /* GGUF name ("blk.3.attn_q.weight"); not owned, NUL-terminated */
    int n_dims;        /* 1..4 */
    int64_t ne[4];     /* elements per dimension, ne[0] = row length; unused = 1 */
    int type;          /* planned ggml type id (qs_type) */
    int block;         /* layer index parsed from "blk.N.", or -1 */
} qs_est_tensor;

/* Model shape: hyper-parameters from the GGUF plus the tensor list in file order (the order the
 * exported file will have; offsets are computed from it with the alignment below). */
typedef struct qs_est_model {
    const char *arch;            /* general.architecture: "llama", "qwen2", ...; not owned */
    int n_layer;                 /* repeating blocks, 1..QS_EST_MAX_LAYERS */
    int64_t n_embd;
    int n_head;
    int n_head_kv;               /* used when n_head_kv_layer is NULL; 0 = n_head */
    const int *n_head_kv_layer;  /* n_layer entries (0 = layer without KV) or NULL */
    int64_t head_dim_k;          /* 0 = n_embd / n_head */
    int64_t head_dim_v;          /* 0 = head_dim_k */
    int64_t n_ff;                /* used when a layer has no ffn_up tensor to read it from */
    int64_t n_vocab;             /* 0 = token_embd.weight ne[1] */
    int64_t n_ctx_train;         /* 0 = unknown */
    uint32_t alignment;          /* GGUF general.alignment; 0 = 32 */
    const qs_est_tensor *tensors;
    int64_t n_tensors;
} qs_est_model;

typedef enum qs_est_fa {
    QS_EST_FA_AUTO = -1, /* llama.cpp's default: on where the backend supports it (CPU, CUDA) */
    QS_EST_FA_OFF = 0,
    QS_EST_FA_ON = 1,
} qs_est_fa;

/* CPU features that decide which weights the CPU backend repacks (runtime dispatch in ggml). */
enum {
    QS_EST_CPU_AVX2 = 1u << 0,
    QS_EST_CPU_AVX512 = 1u << 1,
    QS_EST_CPU_NEON_DOTPROD = 1u << 2,
    QS_EST_CPU_NEON_I8MM = 1u << 3,
};

/* Runtime settings, named as llama.cpp's options. Start from qs_est_settings_default(). */
typedef struct qs_est_settings {
    int64_t n_ctx;        /* -c; 0 = n_ctx_train */
    int64_t n_batch;      /* -b, logical batch (default 2048) */
    int64_t n_ubatch;     /* -ub, physical batch (default 512) */
    int n_seq;            /* -np, parallel sequences (default 1) */
    bool kv_unified;      /* -kvu: one KV stream shared by all sequences (default false) */
    int type_k, type_v;   /* -ctk / -ctv: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL */
    int flash_attn;       /* -fa: qs_est_fa (default auto) */
    int n_gpu_layers;     /* -ngl: layers on the GPU counting the output layer; -1 = all */
    uint64_t gpu_mem;     /* bytes of GPU memory; 0 = no GPU (CPU-only build of llama.cpp) */
    uint64_t host_mem;    /* bytes of host memory available; 0 = unknown (fit not judged) */
    uint64_t margin;      /* bytes to keep free on each device (default 1 GiB, as llama.cpp's
                             --fit-target) */
    bool mmap;            /* --mmap (default true) */
    bool repack;          /* --repack (default true) */
    bool offload_kqv;     /* KV cache on the layer's device (default true; -nkvo turns off) */
    bool op_offload;      /* large-batch ops of host layers run on the GPU (default true) */
    unsigned cpu_features;/* QS_EST_CPU_* bits (default AVX2) */
} qs_est_settings;

/* llama.cpp's defaults: n_ctx 0 (train), n_batch 2048, n_ubatch 512, n_seq 1, F16 KV, flash
 * attention auto, all layers on the GPU, mmap and repack on, 1 GiB margin, AVX2. */
void qs_est_settings_default(qs_est_settings *s);

typedef enum qs_est_device {
    QS_EST_HOST = 0, /* system RAM */
    QS_EST_GPU = 1,  /* the (single) GPU */
    QS_EST_DEVICE_COUNT = 2,
} qs_est_device;

typedef enum qs_est_part_id {
    QS_EST_WEIGHTS_MAPPED = 0, /* host: mmapped span of the file (CPU_Mapped) */
    QS_EST_WEIGHTS_REPACK,     /* host: repacked copies (CPU_REPACK) */
    QS_EST_WEIGHTS_HOST,       /* host: loaded copies without mmap (CPU / CUDA_Host) */
    QS_EST_WEIGHTS_GPU,        /* GPU: offloaded layers (CUDA0 model buffer) */
    QS_EST_KV_HOST,            /* host: KV cache of host layers */
    QS_EST_KV_GPU,             /* GPU: KV cache of offloaded layers */
    QS_EST_OUTPUT,             /* host: logits of the outputs (output buffer) */
    QS_EST_COMPUTE_HOST,       /* host: graph activations (CPU / CUDA_Host compute buffer) */
    QS_EST_COMPUTE_GPU,        /* GPU: graph activations (CUDA0 compute buffer) */
    QS_EST_OVERHEAD_HOST,      /* host: runtime overhead llama.cpp does not report */
    QS_EST_OVERHEAD_GPU,       /* GPU: CUDA context, cuBLAS workspace, memory pool */
    QS_EST_PART_COUNT
} qs_est_part_id;

typedef struct qs_est_part {
    const char *name;        /* stable short name for JSON: "weights_mapped", "kv_gpu", ... */
    const char *label;       /* llama.cpp's name for the buffer: "CPU_Mapped model buffer" */
    qs_est_device device;
    uint64_t bytes;          /* 0 when the part does not exist in this configuration */
    bool assumed;            /* the figure rests on an assumption, not an exact rule */
    const char *assumption;  /* what was assumed (static text), NULL when exact */
} qs_est_part;

typedef struct qs_est_result {
    qs_est_part part[QS_EST_PART_COUNT];
    uint64_t total[QS_EST_DEVICE_COUNT];     /* sum of parts per device */
    /* Bytes of the CPU_Mapped span that belong to tensors llama.cpp repacked: read once while
     * repacking, then clean page cache the kernel can reclaim. Counted in total[HOST]; the fit
     * test leaves them out. */
    uint64_t host_reclaimable;
    bool fits_host;          /* total[HOST] - reclaimable <= host_mem - margin (true if unknown) */
    bool fits_gpu;           /* total[GPU] <= gpu_mem - margin (true without a GPU) */
    bool fits;               /* both */
    bool host_mem_known;
    /* the runtime values llama.cpp derives from the settings */
    int64_t n_ctx;           /* padded to 256 and to a multiple of n_seq streams */
    int64_t n_ctx_seq;       /* cells per KV stream */
    int64_t n_batch, n_ubatch;
    int n_stream;            /* KV streams: 1 when unified, else n_seq */
    bool flash_attn;         /* resolved */
    int gpu_layers;          /* repeating layers on the GPU */
    bool output_on_gpu;      /* the output layer is on the GPU */
    bool graph_exact;        /* the compute graph of this architecture is replayed exactly */
} qs_est_result;

/* Computes the estimate. Returns QS_OK, QS_ERR (bad model or settings; err says what and where)
 * or QS_ENOMEM. r is fully written on QS_OK. */
int qs_estimate(const qs_est_model *m, const qs_est_settings *s, qs_est_result *r, qs_error *err);

/* The largest context (a multiple of 256, at most cap; cap 0 = n_ctx_train, or 1 Mi tokens if
 * unknown) for which the estimate fits with s's other settings. *n_ctx_out = 0 if even 256 does
 * not fit. */
int qs_estimate_max_ctx(const qs_est_model *m, const qs_est_settings *s, int64_t cap,
                        int64_t *n_ctx_out, qs_error *err);

/* The largest -ngl (0..n_layer+1) whose GPU part fits with s's other settings. *ngl_out = 0 if
 * nothing fits on the GPU or there is no GPU. Host fit is not required (see fits_host). */
int qs_estimate_max_gpu_layers(const qs_est_model *m, const qs_est_settings *s, int *ngl_out,
                               qs_error *err);

/* Short stable name of a part ("weights_mapped", ...), or "?" */
const char *qs_est_part_name(qs_est_part_id id);

/* Parses "blk.N." at the start of a tensor name; returns N or -1. */
int qs_est_block_of(const char *name);

#endif
