/* applied.h — a model with a quantization plan applied in memory, for chat, ppl and bench.
 *
 * A qs_applied holds two inference models over the same GGUF map:
 *   - the ORIGINAL model: every weight as stored in the file, used in place from the map;
 *   - the PLANNED model: every weight the engine multiplies with (qs_infer_model_weight) in
 *     the type the plan resolves for it. A weight whose planned type equals its stored type is
 *     used straight from the map (no copy); any other is converted from its stored values into
 *     a buffer this object owns, with exactly the bytes `quantscope quantize` writes for it
 *     (the same qs_convert_rows as export.h: dequantize to float, quantize to the planned type,
 *     in chunks of rows so scratch stays bounded, on n_threads threads).
 * The same prompt can thus run on both (qs_applied_original / qs_applied_planned), e.g. for
 * `quantscope ppl --kld`. Memory: the converted weights once (qs_applied_bytes), plus the map
 * of the source file, plus two small model descriptions. The source pages of a converted
 * tensor are released from this process after conversion (clean file pages: the original
 * model reads them back from the file when it uses them).
 *
 * Changing the plan: a second apply redoes only the tensors whose planned type changed. A
 * converted buffer whose type is unchanged is kept; the buffer of a tensor whose planned type
 * went back to its stored type is freed and the weight points into the map again.
 *
 * Applying has two halves so that heavy work never blocks a running chat:
 *   qs_applied_prepare() resolves the plan and builds the new buffers ASIDE. It does not touch
 *       either inference model, so contexts of both models may keep computing on other threads
 *       meanwhile. Cancel (flag or progress callback) or any failure frees what it built and
 *       leaves the applied state exactly as it was, fully usable.
 *   qs_applied_commit() points the planned model's weights at the prepared buffers and frees
 *       the buffers no longer used. It does no conversion (microseconds per tensor), but NO
 *       CONTEXT OF THE PLANNED MODEL MAY COMPUTE WHILE IT RUNS (a forward pass would read a
 *       weight half swapped or freed): pause generation, commit, resume. The KV cache of a
 *       context stays valid memory-wise, but holds keys/values computed with the old weights.
 * qs_applied_apply() does both, for callers that own every context (the CLI).
 *
 * Thread-safety: calls on one qs_applied are not reentrant (one caller at a time, any thread).
 * Besides the prepare/commit rule above, the models returned by the accessors are valid until
 * qs_applied_free and may be shared by several contexts (infer.h rules). The qs_model given to
 * qs_applied_new must outlive the qs_applied. */
#ifndef QS_APPLIED_H
#define QS_APPLIED_H

#include <stdatomic.h>

#include "imatrix.h"
#include "infer.h"
#include "model.h"
#include "qs_plan.h"

typedef struct qs_applied qs_applied;

typedef struct qs_applied_opts {
    int n_threads;            /* conversion workers; 0 = the CPUs this process may run on */
    int64_t chunk_floats;     /* float scratch per chunk; 0 = QS_EXPORT_CHUNK_FLOATS (64 MiB) */
    const qs_imatrix *imatrix; /* NULL, or importance weights as export.h's qs_export uses them
                                * (borrowed for the call) */
    /* progress(user, bytes_done, bytes_total): bytes of converted weights produced over the
     * whole job (every tensor this prepare converts). Called from the preparing thread or a
     * conversion worker, never concurrently; a non-zero return cancels. NULL = none. */
    qs_progress_fn progress;
    void *progress_user;
    const atomic_int *cancel; /* NULL, or a flag another thread sets non-zero to cancel */
} qs_applied_opts;

/* What the last prepare decided (and what a commit made current). */
typedef struct qs_applied_stats {
    int n_redone;          /* tensors converted by this prepare */
    int n_reused;          /* converted buffers kept from the applied state (type unchanged) */
    int n_mmap;            /* engine weights used from the map (planned type == stored type) */
    int n_freed;           /* converted buffers the commit releases (type changed, or back to
                            * the stored type) */
    int n_ignored;         /* tensors whose planned type differs but the engine never reads
                            * them as a weight matrix (not converted; they matter to export) */
    uint64_t bytes_redone; /* bytes converted by this prepare */
    uint64_t bytes_held;   /* bytes of converted weights held after the commit */
} qs_applied_stats;

/* Loads the planned and the original inference models over m->gguf (see qs_infer_model_load
 * for the errors: unsupported architecture, missing tensor, ...). Nothing is converted yet:
 * both models are as stored until a plan is applied. m is borrowed and must outlive the
 * result. Returns NULL with err set on failure. */
qs_applied *qs_applied_new(const qs_model *m, qs_error *err);
void qs_applied_free(qs_applied *a);

/* Resolves plan against the model and builds, aside, the buffers of every engine weight whose
 * planned type differs from both its stored type and its currently applied type (see the top
 * of the file). A previous prepare not committed is discarded first. o may be NULL (all cores,
 * no progress, no cancel). Returns QS_OK; QS_CANCELLED ("cancelled"); QS_ENOMEM (the message
 * gives the bytes); QS_ERR when the plan does not resolve, a stored type cannot be read, a
 * planned type cannot be produced or has no matrix kernel for the row length ("blk.0.ffn_down.
 * weight: type Q4_K has no matrix kernel for rows of 172 values"). On any failure the applied
 * state is unchanged and nothing stays prepared. stats (may be NULL) receives the decision. */
int qs_applied_prepare(qs_applied *a, const qs_plan *plan, const qs_applied_opts *o,
                       qs_applied_stats *stats, qs_error *err);

/* Makes the prepared state current (see the top of the file for when it may run). QS_OK, or
 * QS_ERR when nothing is prepared (the applied state is then unchanged). */
int qs_applied_commit(qs_applied *a, qs_error *err);

/* Drops a prepared state that will not be committed (no-op when none). */
void qs_applied_discard(qs_applied *a);

/* prepare + commit. Same returns as qs_applied_prepare. */
int qs_applied_apply(qs_applied *a, const qs_plan *plan, const qs_applied_opts *o,
                     qs_applied_stats *stats, qs_error *err);

/* Back to the model as stored: every converted buffer freed (no context of the planned model
 * may compute meanwhile, as for a commit). */
void qs_applied_reset(qs_applied *a);

/* The model quantized as the last committed plan says (as stored before any commit). */
const qs_infer_model *qs_applied_planned(const qs_applied *a);
/* The model as stored in the file. */
const qs_infer_model *qs_applied_original(const qs_applied *a);
/* The qs_model given to qs_applied_new. */
const qs_model *qs_applied_model(const qs_applied *a);

/* Bytes of converted weights currently held (committed state; a prepared, uncommitted state's
 * new buffers are not counted). */
uint64_t qs_applied_bytes(const qs_applied *a);
/* Stats of the last commit (all zero before the first). */
qs_applied_stats qs_applied_last_stats(const qs_applied *a);

/* The planned type of tensor i (qs_model index) in the committed state: the stored type for
 * tensors never converted. -1 for an index out of range. */
int qs_applied_tensor_type(const qs_applied *a, int64_t i);
/* The bytes the planned model reads for tensor i: a converted buffer, or the map. NULL for
 * an index out of range. *nbytes (may be NULL) receives their size. */
const void *qs_applied_tensor_data(const qs_applied *a, int64_t i, uint64_t *nbytes);

/* Tensors finished and to do in the prepare running now (for a progress line like
 * "quantizing 37/48 tensors"); safe to call from the progress callback or any other thread. */
void qs_applied_progress_tensors(const qs_applied *a, int *done, int *total);

#endif
