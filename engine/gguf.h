/* gguf.h — GGUF v2/v3 reader (mmap, zero-copy) and streaming writer.
 *
 * Reader: gguf_open() maps the file read-only, validates every structure before trusting it
 * (magic, version, counts against file size, string lengths, array nesting, dims and element
 * counts, type ids, offsets in bounds and aligned, duplicate names) and builds two tables: the
 * key/values and the tensors. Nothing of the tensor data is read or copied at open. Strings
 * point into the map and are NOT NUL-terminated (use len). All returned pointers stay valid
 * until gguf_close().
 *
 * What the reader enforces beyond the spec's grammar, and why:
 *   - keys non-empty, unique, without NUL bytes (ggml rejects empty and duplicate keys; a NUL
 *     would make a key unreachable from a C string);
 *   - bool values are the bytes 0 or 1; arrays nest at most GGUF_MAX_ARRAY_DEPTH deep;
 *   - general.alignment, when present, is a u32 power of two (ggml reads it as u32);
 *   - tensor names non-empty, unique, at most GGUF_MAX_TENSOR_NAME bytes, without NUL
 *     (ggml stores names in 64-byte fields and refuses longer ones);
 *   - n_dims 1..4 and every dimension >= 1 (ggml accepts 0, but a zero-sized weight is
 *     meaningless in a model file and its own overflow check divides by the dimensions);
 *   - the element count fits int64 and the byte size fits uint64; ne[0] is a multiple of the
 *     type's block size; the type id names a known ggml type (incl. ones we cannot compute);
 *   - the data section starts at the end of the tensor infos rounded up to the alignment, and
 *     tensor data is laid out exactly as ggml requires: in declaration order, tensor i at
 *     offset sum(padded sizes of tensors before i), so offsets are aligned and never overlap;
 *     every tensor's bytes lie inside the file (padding after the last one may be missing).
 * Only little-endian files exist in practice; a big-endian one is recognised and refused.
 *
 * Writer: header and tensor infos first (all tensors declared before any data), then each
 * tensor's data in declaration order, streamed; written to "PATH.tmp.XXXXXX" in the same folder
 * and renamed over PATH at gguf_writer_finish() (atomic). */
#ifndef QS_GGUF_H
#define QS_GGUF_H

#include "qs_common.h"

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_ARRAY_DEPTH 8 /* nested arrays deeper than this are rejected */
#define GGUF_MAX_TENSOR_NAME 63 /* bytes; ggml's GGML_MAX_NAME (64) including the NUL */

typedef enum gguf_vtype {
    GGUF_VT_UINT8 = 0, GGUF_VT_INT8 = 1, GGUF_VT_UINT16 = 2, GGUF_VT_INT16 = 3,
    GGUF_VT_UINT32 = 4, GGUF_VT_INT32 = 5, GGUF_VT_FLOAT32 = 6, GGUF_VT_BOOL = 7,
    GGUF_VT_STRING = 8, GGUF_VT_ARRAY = 9, GGUF_VT_UINT64 = 10, GGUF_VT_INT64 = 11,
    GGUF_VT_FLOAT64 = 12,
    GGUF_VT_COUNT = 13,
} gguf_vtype;

/* A string inside the map: not NUL-terminated. */
typedef struct gguf_str {
    const char *ptr;
    uint64_t len;
} gguf_str;

/* One metadata entry. For arrays, arr_type is the element type, arr_count the number of
 * elements, data points at the first encoded element and data_bytes covers the elements only
 * (the 12-byte element type + count header sits just before data). Strings and nested arrays
 * are variable-length: walk them with gguf_arr_iter. For scalars, data points at the encoded
 * value (little-endian), data_bytes is its size (8 + length for a string) and arr_count is 0. */
typedef struct gguf_kv {
    gguf_str key;
    gguf_vtype type;
    gguf_vtype arr_type;   /* valid when type == GGUF_VT_ARRAY */
    uint64_t arr_count;    /* valid when type == GGUF_VT_ARRAY */
    const uint8_t *data;   /* encoded value inside the map */
    uint64_t data_bytes;   /* encoded size of the value (validated at open) */
    uint64_t file_offset;  /* byte offset of the key in the file (for messages) */
} gguf_kv;

typedef struct gguf_tensor {
    gguf_str name;
    int n_dims;                    /* 1..4 */
    int64_t ne[GGUF_MAX_DIMS];     /* elements per dimension, ne[0] = row length; unused = 1 */
    int type;                      /* ggml type id (qs_type), validated */
    uint64_t offset;               /* offset from the start of the data section */
    uint64_t nbytes;               /* bytes of data (from type and ne) */
    int64_t n_elements;            /* product of ne */
    const uint8_t *data;           /* pointer into the map */
    uint64_t info_offset;          /* byte offset of the tensor info in the file */
} gguf_tensor;

typedef struct gguf_file {
    char *path;              /* owned copy of the path opened */
    uint32_t version;        /* 2 or 3 */
    uint64_t file_size;      /* bytes */
    uint32_t alignment;      /* general.alignment or 32 */
    uint64_t data_offset;    /* start of the data section in the file */
    int64_t n_kv;
    gguf_kv *kv;             /* n_kv entries, file order */
    int64_t n_tensors;
    gguf_tensor *tensors;    /* n_tensors entries, file order */
    const uint8_t *map;      /* the whole file, read-only */
} gguf_file;

/* Open and validate. Returns NULL and fills err ("PATH: offset N: what was wrong") on failure.
 * The caller owns the result: gguf_close() releases it. */
gguf_file *gguf_open(const char *path, qs_error *err);
/* Parse an in-memory image (used by fuzzers and tests; the buffer must outlive the result). */
gguf_file *gguf_open_memory(const void *buf, uint64_t size, const char *name, qs_error *err);
void gguf_close(gguf_file *f);
/* Advises the kernel that the mapped file will be streamed whole, again and again (the
 * inference engine reads every weight once per token): MADV_HUGEPAGE on the mapping, so pages
 * read from disk after the call come as 2 MiB folios mapped by one TLB entry each. Pages the
 * page cache already holds keep their size. skip (may be NULL) is a tensor read a few rows at
 * a time (token embeddings used only for lookup): it keeps small pages (MADV_NOHUGEPAGE), so
 * looking up a row does not read and map 2 MiB around it. Advisory: returns true when the
 * advice was taken, false for in-memory images, files under 2 MiB and kernels without
 * transparent huge pages.
 * Measured (2026-11-23, llama-3.2-1B-shape Q4_0 synth, 2 threads, file evicted first):
 * decode 39-42 tok/s with 4 KiB pages, 43-44 with the advice (bench/bench_infer). */
bool gguf_advise_stream(const gguf_file *f, const gguf_tensor *skip);

/* Lookups: index or -1. Both use hash tables built at open (O(1)). */
int64_t gguf_find_key(const gguf_file *f, const char *key);
int64_t gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters: QS_OK when the key exists and holds a value convertible without loss (any
 * integer type for get_int/get_uint within range; float32/float64 for get_float); QS_ERR
 * otherwise (out unchanged). */
int gguf_get_int(const gguf_file *f, const char *key, int64_t *out);
int gguf_get_uint(const gguf_file *f, const char *key, uint64_t *out);
int gguf_get_float(const gguf_file *f, const char *key, double *out);
int gguf_get_bool(const gguf_file *f, const char *key, bool *out);
/* String value: a view into the map (not NUL-terminated). */
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
/* Copy of a string value into buf (NUL-terminated, truncated to bufsize-1). */
int gguf_get_cstr(const gguf_file *f, const char *key, char *buf, size_t bufsize);
/* Array entry: kv of an array key, or NULL when absent / not an array. */
const gguf_kv *gguf_get_arr(const gguf_file *f, const char *key);

/* Array walking. A cursor over the elements of an array kv (or of a nested array element). */
typedef struct gguf_arr_iter {
    gguf_vtype type;       /* element type */
    uint64_t count;        /* elements in total */
    uint64_t index;        /* next element */
    const uint8_t *p, *end;
} gguf_arr_iter;
void gguf_arr_begin(const gguf_kv *kv, gguf_arr_iter *it);
/* Next element: for scalars, *data points at its encoding; for strings, *s is filled; for a
 * nested array, *sub is set to iterate it. Returns false at the end. Never reads past the map
 * (the structure was validated at open). */
bool gguf_arr_next(gguf_arr_iter *it, const uint8_t **data, gguf_str *s, gguf_arr_iter *sub);
/* Numeric element i of a numeric array (integers, floats, bool) as double (QS_ERR if not
 * numeric or i out of range). O(1). */
int gguf_arr_num(const gguf_kv *kv, uint64_t i, double *out);
/* Integer element i of an integer (or bool) array as int64; QS_ERR for float arrays, a u64
 * above INT64_MAX or i out of range. O(1). */
int gguf_arr_int(const gguf_kv *kv, uint64_t i, int64_t *out);

/* Size in bytes of one element of a fixed-size value type (0 for string/array). */
int gguf_vtype_size(gguf_vtype t);
const char *gguf_vtype_name(gguf_vtype t);

/* Render a metadata value as short text for display: "3", "llama", "1e-05" (shortest text
 * that reads back to the same float), "true", "[3 x i32: 1, 2, 3]" (elements listed when there
 * are at most 16, nested arrays recursively), "[32000 x string]". Strings inside arrays are
 * quoted; control characters and invalid UTF-8 are escaped (\n, \x01). Text that does not fit
 * ends in "…" (cut at a UTF-8 boundary). Writes at most bufsize bytes incl. NUL. */
void gguf_kv_format(const gguf_kv *kv, char *buf, size_t bufsize);

/* ---------------------------------------------------------------- writer */

typedef struct gguf_writer gguf_writer;

/* Start a file that will become `path`. version is 3. alignment 0 means 32; otherwise a power
 * of two, written as general.alignment (setting general.alignment later changes it too). The
 * temporary file gets the mode of an existing `path`, else 0644. */
gguf_writer *gguf_writer_open(const char *path, uint32_t alignment, qs_error *err);
/* Metadata, in the order to be written. Keys must be unique (QS_ERR on a duplicate). */
int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
int gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
int gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
int gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
/* Array of fixed-size elements (type not string/array): count elements at data (LE encoded). */
int gguf_writer_set_arr(gguf_writer *w, const char *key, gguf_vtype type, const void *data, uint64_t count);
int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t count);
/* Any fixed-size scalar type (u8 … f64, bool): value points at one host (little-endian) value. */
int gguf_writer_set_scalar(gguf_writer *w, const char *key, gguf_vtype type, const void *value);
/* String of explicit length (may hold NUL bytes). */
int gguf_writer_set_strn(gguf_writer *w, const char *key, const char *v, uint64_t len);
/* Any value from its GGUF encoding (for arrays: element type u32, count u64, elements — nested
 * arrays included). Validated exactly as the reader validates a value; nbytes must match. */
int gguf_writer_set_raw(gguf_writer *w, const char *key, gguf_vtype type, const void *enc, uint64_t nbytes);
/* Copy a key/value verbatim from an opened file (any type, nested arrays included). If a key of
 * that name was already set, the new value replaces it. */
int gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv);
/* Declare a tensor (all tensors before any data). ne[0] is the row length. Checked like the
 * reader checks (name, n_dims, dims >= 1, type id, ne[0] a multiple of the block size). */
int gguf_writer_add_tensor(gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne);
/* Write the next tensor's bytes (declaration order). May be called several times per tensor
 * with consecutive chunks; a chunk may not run past the current tensor's declared size. The
 * first call writes the header and tensor infos. Each tensor is followed by zero padding to the
 * alignment (the last one too), exactly as ggml lays a file out. */
int gguf_writer_write(gguf_writer *w, const void *data, uint64_t nbytes);
/* Complete: checks every tensor was written in full, flushes, fsyncs, renames into place and
 * fsyncs the folder. Frees w in every case; on failure the temporary file is removed, PATH is
 * untouched and err says why. */
int gguf_writer_finish(gguf_writer *w, qs_error *err);
/* Abandon: removes the temporary file and frees w. Safe after any failed call. */
void gguf_writer_abort(gguf_writer *w);
/* Last error of the writer (after a set/add/write call returned non-OK). A misuse (duplicate
 * key, bad tensor, oversize chunk) leaves the writer usable; an I/O error makes every later
 * call fail and removes the temporary file at once. */
const char *gguf_writer_error(const gguf_writer *w);

#endif
