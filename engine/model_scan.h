/* model_scan.h — finding the GGUF models already on this machine (the explorer's model picker).
 *
 * qs_model_scan() looks in the places people's models live and describes each file from its
 * GGUF header only (general.architecture, general.file_type, general.name, tensor count and
 * parameters: the key/value and tensor-info sections; no tensor data is read):
 *
 *   here         *.gguf in the current folder (not recursive)
 *   path         each folder of $QUANTSCOPE_MODEL_PATH (colon-separated), recursively
 *   Hugging Face the hub cache: $HF_HUB_CACHE, $HUGGINGFACE_HUB_CACHE, $HF_HOME/hub,
 *                $XDG_CACHE_HOME/huggingface/hub or ~/.cache/huggingface/hub (first set);
 *                models--ORG--NAME/snapshots/REV/.../NAME.gguf, symlinks into blobs/
 *   llama.cpp    $LLAMA_CACHE, else $XDG_CACHE_HOME/llama.cpp or ~/.cache/llama.cpp: *.gguf
 *                there, and the same hub layout (newer llama.cpp downloads there)
 *   Ollama       $OLLAMA_MODELS or ~/.ollama/models: the JSON manifests under
 *                manifests/HOST/NAMESPACE/MODEL/TAG name the layer of media type
 *                application/vnd.ollama.image.model, the file blobs/sha256-HEX
 *   LM Studio    ~/.lmstudio/models and ~/.cache/lm-studio/models, recursively
 *
 * plus, when asked, the built-in demo model. A file is listed once (the first place that finds
 * it, by device and inode). Files that cannot be used (not GGUF, damaged, unreadable, a broken
 * symlink, a manifest whose blob is missing) are listed with the reason instead of failing the
 * scan; parts 2.. of split models (NAME-0000K-of-0000N.gguf) are left out (part 1 names them).
 * Recursion stops at QS_SCAN_MAX_DEPTH folders down and after QS_SCAN_MAX_ENTRIES entries.
 *
 * Environment: HOME, XDG_CACHE_HOME and the variables above are read at each call (tests point
 * them at temporary folders). Thread-safety: no shared state; one scan per list. */
#ifndef QS_MODEL_SCAN_H
#define QS_MODEL_SCAN_H

#include <stdatomic.h>

#include "qs_common.h"

#define QS_SCAN_MAX_DEPTH 6
#define QS_SCAN_MAX_ENTRIES 4096

typedef enum qs_scan_source {
    QS_SCAN_HERE = 0,  /* the current folder */
    QS_SCAN_PATH,      /* $QUANTSCOPE_MODEL_PATH */
    QS_SCAN_HF,        /* Hugging Face hub cache */
    QS_SCAN_LLAMACPP,  /* llama.cpp's cache */
    QS_SCAN_OLLAMA,    /* Ollama's store */
    QS_SCAN_LMSTUDIO,  /* LM Studio's models folder */
    QS_SCAN_DEMO,      /* the built-in demo model */
    QS_SCAN_SOURCE_COUNT
} qs_scan_source;

/* Short label of a source: "here", "path", "hf", "llama.cpp", "ollama", "lmstudio", "demo". */
const char *qs_scan_source_name(qs_scan_source s);

typedef struct qs_scan_entry {
    qs_scan_source source;
    char name[256];       /* what to show: "model.gguf", "ORG/NAME/file.gguf" (HF),
                             "llama3.2:latest" (Ollama), "demo (random weights)" */
    char path[1024];      /* the file to open (the Ollama blob; HF symlinks as found) */
    bool ok;              /* the header was read; the fields below are valid */
    char reason[320];     /* when !ok: why it cannot be used ("not a GGUF file (magic ...)") */
    uint64_t size;        /* file size in bytes (0 when it cannot be stat'ed) */
    char arch[32];        /* general.architecture ("" if absent) */
    char label[128];      /* general.name ("" if absent) */
    int file_type;        /* general.file_type (llama_ftype), -1 if absent */
    char type[32];        /* file type name ("Q4_K_M"), or "mostly Q8_0" from the tensors when
                             general.file_type is absent */
    int64_t n_tensors;
    int64_t n_params;     /* sum of the tensors' element counts */
} qs_scan_entry;

typedef struct qs_scan_list {
    qs_scan_entry *v; /* [n] malloc'd */
    int n, cap;
} qs_scan_list;

typedef struct qs_scan_opts {
    const char *here;         /* the "current folder" to scan; NULL = "." */
    bool with_demo;           /* append the demo model's entry (last) */
    const atomic_int *cancel; /* NULL or a flag set non-zero to stop early (QS_CANCELLED) */
} qs_scan_opts;

/* Scans everything above into *out (initialised here; free with qs_scan_list_free, also after a
 * failure). Order: by source as listed in qs_scan_source, then usable files before the others,
 * then by name; the demo last. Returns QS_OK, QS_ENOMEM or QS_CANCELLED. Missing folders are not errors; a folder named
 * in $QUANTSCOPE_MODEL_PATH that cannot be read is listed as an entry with the reason. */
int qs_model_scan(qs_scan_list *out, const qs_scan_opts *opts, qs_error *err);
void qs_scan_list_free(qs_scan_list *l);

/* Describes one file from its GGUF header into e (e->path is set from path; name and source are
 * left to the caller). QS_OK with e->ok set, or QS_ERR with e->ok false and e->reason filled. */
int qs_scan_describe(const char *path, qs_scan_entry *e);

/* The demo model (the "tiny" synth shape, F16, seed 1: a few MB of random weights) lives at
 * $XDG_CACHE_HOME/quantscope/demo-tiny-v1.gguf (~/.cache/quantscope/..., /tmp/quantscope-UID/...
 * without HOME). qs_demo_model_path only names it; qs_demo_model also writes it when missing
 * (folders created, atomic write). Both return buf, or NULL with err filled. */
const char *qs_demo_model_path(char *buf, size_t n, qs_error *err);
const char *qs_demo_model(char *buf, size_t n, qs_error *err);

#endif
