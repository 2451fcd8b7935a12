/* export.h — applying a plan to a model file: the resolved plan, the estimator's view of the
 * planned model, and writing the quantized GGUF.
 *
 * qs_export() streams: tensors are written in the input's order, each converted in chunks of
 * rows (at most QS_EXPORT_CHUNK_FLOATS floats of scratch per chunk), so memory stays bounded
 * whatever the model size. The output is written to "OUT.tmp.XXXXXX" in OUT's folder and renamed
 * into place only when complete (gguf writer); the input is only ever mapped read-only. */
#ifndef QS_EXPORT_H
#define QS_EXPORT_H

#include <stdatomic.h>

#include "imatrix.h"
#include "model.h"
#include "qs_estimate.h"
#include "qs_plan.h"
#include "qs_quantize.h"

/* Largest float scratch per conversion chunk (floats; 16 Mi floats = 64 MiB). */
#define QS_EXPORT_CHUNK_FLOATS (16ll * 1024 * 1024)

/* The model's fingerprint as a plan records it: file name without folders, file size, tensor
 * count, qs_plan_tensor_hash of the tensor table. out->file is malloc'd (free with free() or
 * as part of a plan). QS_OK or QS_ENOMEM. */
int qs_model_fingerprint(const qs_model *m, qs_plan_fingerprint *out);

/* A model with a plan resolved against it. Everything owned; free with qs_planned_free. */
typedef struct qs_planned {
    const qs_model *m;          /* borrowed */
    qs_plan_model view;         /* the plan module's view of m */
    qs_plan_tensor *vt;         /* [m->n_tensors], owned (names borrowed from m) */
    qs_plan_resolution res;     /* one choice per tensor, file order */
    uint64_t bytes;             /* tensor bytes under the plan */
    int64_t n_params;           /* elements in all tensors */
} qs_planned;

/* Resolves plan against m. QS_OK, QS_ERR (the plan does not validate / resolve: err says why)
 * or QS_ENOMEM. On failure *out holds nothing to free. */
int qs_planned_init(qs_planned *out, const qs_model *m, const qs_plan *plan, qs_error *err);
void qs_planned_free(qs_planned *p);
/* Bytes of tensor i under the plan. */
uint64_t qs_planned_tensor_bytes(const qs_planned *p, int64_t i);

/* The estimator's view of the planned model: *out is filled, *tensors receives a malloc'd array
 * (free it; names borrowed from the model). QS_OK or QS_ENOMEM. */
int qs_planned_est_model(const qs_planned *p, qs_est_model *out, qs_est_tensor **tensors);

/* The llama_ftype number to record as general.file_type for a plan: the preset's ftype; without
 * a preset, the ftype whose base type is the plan's default type; failing that, the ftype of the
 * most common quantized type of the resolution (by parameters). -1 when none applies. */
int qs_plan_file_type(const qs_plan *plan, const qs_planned *p);

/* ---------------------------------------------------------------- converting a tensor
 *
 * The one conversion both the export and the in-memory apply (applied.h) use, so a tensor
 * quantized for chat has exactly the bytes the exported file holds. Rows are independent:
 * the bytes of a row do not depend on which chunk or thread converted it. */

/* Rows per conversion chunk for a tensor of `rows` rows of ne0 values with at most
 * chunk_floats floats of scratch (0 = QS_EXPORT_CHUNK_FLOATS): in [1, rows] (1 when rows < 1). */
int64_t qs_convert_chunk_rows(int64_t ne0, int64_t rows, int64_t chunk_floats);

/* The importance weights (imatrix row, ne0 values) a conversion of tensor `name` uses: the
 * entry's values when im holds one for that name with ne0 values per row and a single matrix;
 * NULL otherwise (no imatrix, no entry, or an expert-stacked entry). */
const float *qs_convert_importance(const qs_imatrix *im, const char *name, int64_t ne0);

/* Converts rows [row0, row0 + n) of tensor t from its stored type to type `to`: dequantized to
 * float into fbuf (n * ne0 floats, caller's scratch), then quantized with `importance` (NULL
 * or ne0 weights) into dst (n * qs_type_row_bytes(to, ne0) bytes). qo: threads, cancel, and
 * progress in rows of this call (the dequantize step reports none). Returns QS_OK,
 * QS_CANCELLED, QS_ENOMEM or QS_ERR (message prefixed with the tensor's name). */
int qs_convert_rows(const gguf_tensor *t, const char *name, qs_type to, int64_t row0, int64_t n,
                    const float *importance, float *fbuf, void *dst, const qs_quantize_opts *qo,
                    qs_error *err);

/* Metadata key holding the plan (YAML text) in exported files. */
#define QS_EXPORT_PLAN_KEY "quantscope.plan"
/* llama.cpp's GGML_QNT_VERSION, written as general.quantization_version (u32). */
#define QS_EXPORT_QNT_VERSION 2

typedef void (*qs_export_warn_fn)(void *user, const char *message);

typedef struct qs_export_opts {
    int n_threads;             /* 0 = all cores */
    int64_t chunk_floats;      /* floats of scratch per chunk; 0 = QS_EXPORT_CHUNK_FLOATS (tests
                                  use small values to exercise many chunks) */
    /* progress(user, bytes_done, bytes_total): units are bytes of output tensor data over the
     * whole model. Called from the thread that called qs_export or from workers (never
     * concurrently); non-zero return cancels. NULL = none. */
    qs_progress_fn progress;
    void *progress_user;
    const atomic_int *cancel;  /* NULL or a flag set non-zero to stop (QS_CANCELLED) */
    /* Warnings (e.g. requantizing an already-quantized tensor) are appended here when not NULL
     * and passed to warn when not NULL. */
    qs_strlist *warnings;
    qs_export_warn_fn warn;
    void *warn_user;
    /* NULL, or an importance matrix handed to the quantizers for the tensors it has an entry
     * for (qs_convert_importance); borrowed for the call. */
    const qs_imatrix *imatrix;
} qs_export_opts;

/* Writes m quantized per plan to out_path (see the top of this file). Metadata: every key/value
 * of the input in order, with general.quantization_version = 2 (u32), general.file_type
 * (qs_plan_file_type, u32) and "quantscope.plan" (the plan as YAML, with its fingerprint of the
 * INPUT model) set, and split.* keys dropped as llama-quantize does. Tensor data: a tensor whose
 * resolved type equals its stored type is copied byte for byte; any other is dequantized to
 * float and quantized to the resolved type, row chunk by row chunk, on n_threads threads.
 * Refuses (QS_ERR) when out_path names the input file (same device and inode, symlinks
 * followed), when a source type cannot be read or a target type cannot be produced. Returns
 * QS_OK, QS_ERR, QS_ENOMEM or QS_CANCELLED; on any failure no file exists at out_path that was
 * not there before (a previous file there is untouched). opts may be NULL. */
int qs_export(const qs_model *m, const qs_plan *plan, const char *out_path,
              const qs_export_opts *opts, qs_error *err);

#endif
