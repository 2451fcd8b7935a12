/* Malformed GGUF corpus, generated from a small valid file built here by hand: truncations at
 * every byte of the metadata, absurd counts and lengths, bad type ids, bad shapes and offsets,
 * duplicates, bad alignment, deep nesting, and a few thousand random mutations. Every broken
 * image must be refused with a message naming the file and an offset, and nothing may crash or
 * read out of bounds (this suite runs under ASan/UBSan: images are copied into buffers of their
 * exact size). */
#include "qs_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "qs_types.h"

#define NAME "bad.gguf"

/* ------------------------------------------------------------------ building images */

#include "qs_test_bytes.h"

static bytes copy_of(const bytes *b) {
    bytes c = {0};
    b_put(&c, b->p, b->n);
    return c;
}

/* Where the fields of the base image are, for targeted corruption. */
#define NT 3
typedef struct layout {
    size_t version, n_tensors, n_kv;
    size_t kv_start[8];
    size_t arch_key_len, arch_val_len;
    size_t align_type, align_val;
    size_t tok_arr_type, tok_count, tok_elem0;
    size_t u32_count, flag_key, flag_val;
    size_t nested_count, nested_inner_type, nested_inner_count;
    size_t f32_type;
    size_t t_info[NT], t_name[NT], t_ndims[NT], t_dims[NT], t_type[NT], t_off[NT];
    size_t infos_end, data_start, t_data[NT], end;
} layout;

static const uint64_t t_bytes[NT] = {128, 36, 32}; /* F32 8x4, Q4_0 32x2, F16 16 */

/* A valid file using every structure the reader checks. */
static void build_base(bytes *b, layout *L) {
    int k = 0;
    b_put(b, "GGUF", 4);
    L->version = b->n;
    b_u32(b, 3);
    L->n_tensors = b->n;
    b_u64(b, NT);
    L->n_kv = b->n;
    b_u64(b, 7);

    L->kv_start[k++] = L->arch_key_len = b->n;
    b_str(b, "general.architecture");
    b_u32(b, GGUF_VT_STRING);
    L->arch_val_len = b->n;
    b_str(b, "llama");

    L->kv_start[k++] = b->n;
    b_str(b, "general.alignment");
    L->align_type = b->n;
    b_u32(b, GGUF_VT_UINT32);
    L->align_val = b->n;
    b_u32(b, 32);

    L->kv_start[k++] = b->n;
    b_str(b, "tokenizer.ggml.tokens");
    b_u32(b, GGUF_VT_ARRAY);
    L->tok_arr_type = b->n;
    b_u32(b, GGUF_VT_STRING);
    L->tok_count = b->n;
    b_u64(b, 3);
    L->tok_elem0 = b->n;
    b_str(b, "a");
    b_str(b, "bc");
    b_str(b, "<s>");

    L->kv_start[k++] = b->n;
    b_str(b, "x.u32s");
    b_u32(b, GGUF_VT_ARRAY);
    b_u32(b, GGUF_VT_UINT32);
    L->u32_count = b->n;
    b_u64(b, 4);
    for (uint32_t i = 0; i < 4; i++) b_u32(b, i * 1000);

    L->kv_start[k++] = L->flag_key = b->n;
    b_str(b, "x.flag");
    b_u32(b, GGUF_VT_BOOL);
    L->flag_val = b->n;
    b_u8(b, 1);

    L->kv_start[k++] = b->n;
    b_str(b, "x.nested"); /* [[1, 2], [3]] */
    b_u32(b, GGUF_VT_ARRAY);
    b_u32(b, GGUF_VT_ARRAY);
    L->nested_count = b->n;
    b_u64(b, 2);
    L->nested_inner_type = b->n;
    b_u32(b, GGUF_VT_INT32);
    L->nested_inner_count = b->n;
    b_u64(b, 2);
    b_u32(b, 1);
    b_u32(b, 2);
    b_u32(b, GGUF_VT_INT32);
    b_u64(b, 1);
    b_u32(b, 3);

    L->kv_start[k++] = b->n;
    b_str(b, "x.eps");
    L->f32_type = b->n;
    b_u32(b, GGUF_VT_FLOAT32);
    b_u32(b, 0x3727c5acu); /* 1e-5f */
    L->kv_start[k] = b->n;

    static const char *names[NT] = {"w0", "w1", "w2"};
    static const int types[NT] = {QS_TYPE_F32, QS_TYPE_Q4_0, QS_TYPE_F16};
    static const uint32_t ndims[NT] = {2, 2, 1};
    static const uint64_t dims[NT][2] = {{8, 4}, {32, 2}, {16, 1}};
    uint64_t off = 0;
    for (int i = 0; i < NT; i++) {
        L->t_info[i] = L->t_name[i] = b->n;
        b_str(b, names[i]);
        L->t_ndims[i] = b->n;
        b_u32(b, ndims[i]);
        L->t_dims[i] = b->n;
        for (uint32_t d = 0; d < ndims[i]; d++) b_u64(b, dims[i][d]);
        L->t_type[i] = b->n;
        b_u32(b, (uint32_t)types[i]);
        L->t_off[i] = b->n;
        b_u64(b, off);
        off += (t_bytes[i] + 31) / 32 * 32;
    }
    L->infos_end = b->n;
    b_pad(b, 32);
    L->data_start = b->n;
    for (int i = 0; i < NT; i++) {
        L->t_data[i] = b->n;
        for (uint64_t j = 0; j < t_bytes[i]; j++) b_u8(b, (uint8_t)(j * 7 + (uint64_t)i));
        if (i < NT - 1) b_pad(b, 32);
    }
    L->end = b->n;
}

/* ------------------------------------------------------------------ checking */

/* Opens an exact-size copy (so ASan sees any over-read). Returns the file or NULL; on NULL the
 * message must name the file and an offset. */
static gguf_file *open_exact(const uint8_t *p, size_t n, qs_error *err, uint8_t **copy) {
    *copy = malloc(n ? n : 1);
    assert_non_null(*copy);
    if (n) memcpy(*copy, p, n);
    err->msg[0] = '\0';
    gguf_file *f = gguf_open_memory(*copy, n, NAME, err);
    if (!f) {
        if (!strstr(err->msg, NAME ": offset ")) fail_msg("message without file/offset: '%s'", err->msg);
    }
    return f;
}

static void expect_fail_n(const uint8_t *p, size_t n, const char *want, const char *label) {
    qs_error err;
    uint8_t *copy;
    gguf_file *f = open_exact(p, n, &err, &copy);
    bool opened = f != NULL;
    gguf_close(f);
    free(copy);
    if (opened) fail_msg("%s: opened, expected an error", label);
    if (want && !strstr(err.msg, want)) fail_msg("%s: message '%s' lacks '%s'", label, err.msg, want);
}

static void expect_fail(const bytes *b, const char *want, const char *label) {
    expect_fail_n(b->p, b->n, want, label);
}

static void expect_ok(const bytes *b, const char *label) {
    qs_error err;
    uint8_t *copy;
    gguf_file *f = open_exact(b->p, b->n, &err, &copy);
    if (!f) fail_msg("%s: refused: %s", label, err.msg);
    gguf_close(f);
    free(copy);
}

/* Patch one field of a fresh copy of base and expect a refusal mentioning want. */
#define CASE_U32(off, val, want)                                 \
    do {                                                         \
        bytes c_ = copy_of(base);                                \
        patch_u32(&c_, (off), (val));                            \
        expect_fail(&c_, (want), #off " = " #val);               \
        free(c_.p);                                              \
    } while (0)
#define CASE_U64(off, val, want)                                 \
    do {                                                         \
        bytes c_ = copy_of(base);                                \
        patch_u64(&c_, (off), (val));                            \
        expect_fail(&c_, (want), #off " = " #val);               \
        free(c_.p);                                              \
    } while (0)

typedef struct fixture {
    bytes base;
    layout L;
} fixture;

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    build_base(&fx->base, &fx->L);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    free(fx->base.p);
    free(fx);
    return 0;
}

/* ------------------------------------------------------------------ tests */

static void test_base_is_valid(void **state) {
    fixture *fx = *state;
    const layout *L = &fx->L;
    qs_error err;
    uint8_t *copy;
    gguf_file *f = open_exact(fx->base.p, fx->base.n, &err, &copy);
    if (!f) fail_msg("base refused: %s", err.msg);
    assert_int_equal(f->n_kv, 7);
    assert_int_equal(f->n_tensors, NT);
    assert_int_equal(f->data_offset, L->data_start);
    for (int i = 0; i < NT; i++) {
        assert_int_equal(f->tensors[i].nbytes, t_bytes[i]);
        assert_int_equal(f->tensors[i].info_offset, L->t_info[i]);
        assert_true(f->tensors[i].data == copy + L->t_data[i]);
    }
    for (int i = 0; i < 7; i++) assert_int_equal(f->kv[i].file_offset, L->kv_start[i]);
    char buf[64];
    gguf_kv_format(&f->kv[5], buf, sizeof buf);
    assert_string_equal(buf, "[2 x array: [2 x i32: 1, 2], [1 x i32: 3]]");
    gguf_close(f);
    free(copy);
}

static void test_truncation(void **state) {
    fixture *fx = *state;
    const layout *L = &fx->L;
    const bytes *b = &fx->base;
    char label[64];
    int n = 0;
    /* Every byte of header, metadata, tensor infos and the padding before the data. */
    for (size_t len = 0; len <= L->data_start; len++) {
        snprintf(label, sizeof label, "truncated to %zu", len);
        expect_fail_n(b->p, len, NULL, label);
        n++;
    }
    /* Section boundaries, each side. */
    size_t marks[] = {4, 8, 16, 24, L->kv_start[1], L->kv_start[3], L->kv_start[7], L->t_info[1],
                      L->t_info[2], L->infos_end, L->data_start, L->t_data[1], L->t_data[2], L->end};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        for (size_t len = marks[i] - 1; len <= marks[i] && len < L->end; len++) {
            snprintf(label, sizeof label, "truncated to %zu (boundary)", len);
            expect_fail_n(b->p, len, NULL, label);
            n++;
        }
    }
    /* Inside the tensor data: every 5th byte. */
    for (size_t len = L->data_start; len < L->end; len += 5) {
        snprintf(label, sizeof label, "truncated to %zu (data)", len);
        expect_fail_n(b->p, len, "past the end of the file", label);
        n++;
    }
    print_message("  %d truncations refused\n", n);
    /* Specific messages at a few places. */
    expect_fail_n(b->p, 2, "too short for the GGUF magic", "2 bytes");
    expect_fail_n(b->p, 6, "file ends inside the version", "6 bytes");
    expect_fail_n(b->p, L->infos_end, "file ends before the data section", "infos end");
    /* Counts are bounded by the file size first; with small counts the walk itself finds it. */
    expect_fail_n(b->p, L->tok_elem0 + 10, "metadata count 7 exceeds what a", "inside a token");
    bytes c = copy_of(b);
    patch_u64(&c, L->n_tensors, 0);
    patch_u64(&c, L->n_kv, 3);
    expect_fail_n(c.p, L->tok_elem0 + 10, "key 'tokenizer.ggml.tokens': array of 3 strings "
                  "cannot fit in the 10 bytes left", "inside a token, few keys");
    expect_fail_n(c.p, L->tok_elem0 + 9 + 10 + 8 + 1, "string 2 of 3 has length 3, more than the "
                  "1 bytes left", "inside the last token");
    free(c.p);
    expect_ok(b, "complete");
}

static void test_header(void **state) {
    fixture *fx = *state;
    const bytes *base = &fx->base;
    const layout *L = &fx->L;
    CASE_U32(0, 0x4c4d4747u, "bad magic 'GGML'");
    CASE_U32(0, 0, "expected 'GGUF'");
    CASE_U32(L->version, 1, "version 1 is obsolete");
    CASE_U32(L->version, 4, "version 4 is not supported");
    CASE_U32(L->version, 0, "version 0 is not supported");
    CASE_U32(L->version, 0x03000000u, "big-endian");
    CASE_U32(L->version, 0x02000000u, "big-endian");
    CASE_U64(L->n_tensors, 1ull << 63, "tensor count 9223372036854775808 exceeds");
    CASE_U64(L->n_tensors, UINT64_MAX, "tensor count 18446744073709551615 exceeds");
    CASE_U64(L->n_kv, 1ull << 63, "metadata count 9223372036854775808 exceeds");
    CASE_U64(L->n_kv, UINT64_MAX, "metadata count");
    CASE_U64(L->n_tensors, NT + 1, "offset");           /* reads past the infos */
    CASE_U64(L->n_kv, 8, "offset");                      /* tensor info read as a key */
    /* The example message from the design brief, on a file of the real model's size. */
    bytes big = copy_of(base);
    while (big.n < 1185376) b_u8(&big, 0);
    patch_u64(&big, L->n_tensors, UINT64_MAX);
    expect_fail(&big, NAME ": offset 8: tensor count 18446744073709551615 exceeds what a "
                       "1185376-byte file can hold", "brief example");
    free(big.p);
}

static void test_kv_values(void **state) {
    fixture *fx = *state;
    const bytes *base = &fx->base;
    const layout *L = &fx->L;
    /* String lengths. */
    CASE_U64(L->arch_key_len, UINT64_MAX, "length 18446744073709551615 exceeds");
    CASE_U64(L->arch_key_len, 1ull << 63, "exceeds the");
    CASE_U64(L->arch_key_len, base->n, "exceeds the");
    CASE_U64(L->arch_key_len, 0, "key #0: the key is empty");
    CASE_U64(L->arch_val_len, UINT64_MAX, "string value length");
    CASE_U64(L->arch_val_len, base->n - L->arch_val_len - 8 + 1, "exceeds the");
    CASE_U64(L->tok_elem0, UINT64_MAX, "string 0 of 3 has length 18446744073709551615");
    /* Array counts. */
    CASE_U64(L->tok_count, UINT64_MAX, "strings cannot fit");
    CASE_U64(L->tok_count, 1ull << 61, "strings cannot fit");
    CASE_U64(L->u32_count, 1ull << 62, "array of 4611686018427387904 u32 overflows 64-bit byte sizes");
    CASE_U64(L->u32_count, UINT64_MAX, "overflows 64-bit");
    CASE_U64(L->u32_count, (1ull << 62) - 1, "needs 18446744073709551612 bytes");
    CASE_U64(L->u32_count, 1ull << 40, "only");
    CASE_U64(L->nested_count, UINT64_MAX, "arrays cannot fit");
    CASE_U64(L->nested_inner_count, UINT64_MAX, "overflows");
    CASE_U64(L->nested_inner_count, 1000, "needs 4000 bytes");
    /* Type ids. */
    CASE_U32(L->f32_type, 13, "value type 13 is not a GGUF value type");
    CASE_U32(L->f32_type, UINT32_MAX, "value type 4294967295");
    CASE_U32(L->tok_arr_type, 13, "array element type 13");
    CASE_U32(L->tok_arr_type, 200, "array element type 200");
    CASE_U32(L->nested_inner_type, 99, "array element type 99");
    /* Bools. */
    bytes c = copy_of(base);
    c.p[L->flag_val] = 2;
    expect_fail(&c, "key 'x.flag': bool value is 0x02, expected 0 or 1", "bool 2");
    c.p[L->flag_val] = 0xff;
    expect_fail(&c, "0xff", "bool ff");
    free(c.p);
    /* Duplicate key: rename x.flag to x.u32s (same length). */
    c = copy_of(base);
    memcpy(c.p + L->flag_key + 8, "x.u32s", 6);
    expect_fail(&c, "key 'x.u32s': duplicate key (key #3", "duplicate key");
    free(c.p);
    /* NUL inside a key. */
    c = copy_of(base);
    c.p[L->flag_key + 8 + 1] = 0;
    expect_fail(&c, "NUL byte at position 1", "NUL in key");
    free(c.p);
}

static void test_alignment(void **state) {
    fixture *fx = *state;
    const bytes *base = &fx->base;
    const layout *L = &fx->L;
    CASE_U32(L->align_val, 0, "alignment 0 is not a power of two");
    CASE_U32(L->align_val, 3, "alignment 3 is not a power of two");
    CASE_U32(L->align_val, 48, "alignment 48 is not a power of two");
    CASE_U32(L->align_val, 1u << 31, "file ends before the data section");
    CASE_U32(L->align_type, GGUF_VT_INT32, "key 'general.alignment': must be a u32, found i32");
    /* Alignment 16 is legal, but then the tensors are not where 16 puts them. */
    CASE_U32(L->align_val, 16, "expected");
}

static void test_tensor_infos(void **state) {
    fixture *fx = *state;
    const bytes *base = &fx->base;
    const layout *L = &fx->L;
    /* Type ids: 4 and 31 are holes in ggml's table, 200 and -1 out of range. */
    CASE_U32(L->t_type[0], 4, "tensor 'w0': type id 4 is not a known ggml type");
    CASE_U32(L->t_type[0], 31, "type id 31");
    CASE_U32(L->t_type[0], 200, "type id 200");
    CASE_U32(L->t_type[0], UINT32_MAX, "type id 4294967295");
    CASE_U32(L->t_type[0], QS_TYPE_COUNT, "not a known ggml type");
    /* Dimensions. */
    CASE_U32(L->t_ndims[0], 0, "has 0 dimensions, expected 1 to 4");
    CASE_U32(L->t_ndims[0], 5, "has 5 dimensions");
    CASE_U32(L->t_ndims[0], UINT32_MAX, "has 4294967295 dimensions");
    CASE_U64(L->t_dims[0], 0, "dimension 0 is 0, expected >= 1");
    CASE_U64(L->t_dims[0] + 8, 0, "dimension 1 is 0");
    CASE_U64(L->t_dims[0], UINT64_MAX, "dimension 0 is -1");
    CASE_U64(L->t_dims[0], 1ull << 62, "element count overflows int64");
    CASE_U64(L->t_dims[0] + 8, 1ull << 62, "element count overflows int64");
    CASE_U64(L->t_dims[0], (1ull << 61) - 1, "offset"); /* fits int64, far past the file */
    /* A row that is not a whole number of blocks. */
    CASE_U64(L->t_dims[1], 33, "row length 33 is not a multiple of Q4_0's block size 32");
    CASE_U64(L->t_dims[1], 16, "not a multiple");
    /* Byte size overflowing 64 bits: F32 2^60 x 4 = 2^62 elements of 4 bytes. */
    CASE_U64(L->t_dims[0], 1ull << 60, "byte size of 4611686018427387904 F32 elements overflows 64 bits");
    CASE_U64(L->t_dims[2], 1ull << 62, "runs past the end of the file");
    /* Offsets: misaligned, overlapping, out of order, far away, past the end. */
    CASE_U64(L->t_off[1], 129, "tensor 'w1': data offset 129 is not a multiple of the alignment 32");
    CASE_U64(L->t_off[1], 0, "data offset 0, expected 128");
    CASE_U64(L->t_off[1], 256, "expected 128");
    CASE_U64(L->t_off[2], 1ull << 40, "expected 192");
    CASE_U64(L->t_off[2], UINT64_MAX - 31, "offset");
    CASE_U64(L->t_off[0], 32, "expected 0");
    CASE_U64(L->t_dims[2], 1ull << 20, "tensor 'w2': data [192, +2097152) runs past the end of the file");
    /* Names. */
    bytes c = copy_of(base);
    memcpy(c.p + L->t_name[1] + 8, "w0", 2);
    expect_fail(&c, "tensor 'w0': duplicate tensor name (tensor #0", "duplicate tensor");
    memcpy(c.p + L->t_name[1] + 8, "w\0", 2);
    expect_fail(&c, "NUL byte", "NUL in tensor name");
    free(c.p);
    CASE_U64(L->t_name[0], 0, "tensor #0: the name is empty");
    CASE_U64(L->t_name[0], UINT64_MAX, "the name length");
}

/* Images built whole: nesting depth, long names, the padding-after-last-tensor rule. */
static void test_built_cases(void **state) {
    (void)state;
    for (int depth = 1; depth <= 12; depth++) {
        bytes b = {0};
        b_put(&b, "GGUF", 4);
        b_u32(&b, 3);
        b_u64(&b, 0);
        b_u64(&b, 1);
        b_str(&b, "deep");
        b_u32(&b, GGUF_VT_ARRAY);
        for (int i = 1; i < depth; i++) { /* depth-1 arrays, each holding one array */
            b_u32(&b, GGUF_VT_ARRAY);
            b_u64(&b, 1);
        }
        b_u32(&b, GGUF_VT_UINT8);
        b_u64(&b, 2);
        b_u8(&b, 7);
        b_u8(&b, 9);
        char label[32];
        snprintf(label, sizeof label, "depth %d", depth);
        if (depth <= GGUF_MAX_ARRAY_DEPTH) {
            expect_ok(&b, label);
            if (depth == 3) {
                qs_error err;
                gguf_file *f = gguf_open_memory(b.p, b.n, NAME, &err);
                char buf[64];
                gguf_kv_format(&f->kv[0], buf, sizeof buf);
                assert_string_equal(buf, "[1 x array: [1 x array: [2 x u8: 7, 9]]]");
                gguf_close(f);
            }
        } else {
            expect_fail(&b, "nested deeper than 8 levels", label);
        }
        free(b.p);
    }

    /* Bool arrays: every element is 0 or 1. */
    {
        bytes b = {0};
        b_put(&b, "GGUF", 4);
        b_u32(&b, 3);
        b_u64(&b, 0);
        b_u64(&b, 1);
        b_str(&b, "flags");
        b_u32(&b, GGUF_VT_ARRAY);
        b_u32(&b, GGUF_VT_BOOL);
        b_u64(&b, 4);
        size_t at = b.n;
        b_put(&b, "\1\0\1\1", 4);
        expect_ok(&b, "bool array");
        b.p[at + 2] = 7;
        expect_fail(&b, "offset 55: key 'flags': bool element 2 is 0x07, expected 0 or 1", "bool element");
        free(b.p);
    }

    /* Tensor names of 63 and 64 bytes. */
    for (int len = 63; len <= 64; len++) {
        bytes b = {0};
        char name[65];
        memset(name, 'n', (size_t)len);
        name[len] = '\0';
        b_put(&b, "GGUF", 4);
        b_u32(&b, 2); /* version 2 is accepted too */
        b_u64(&b, 1);
        b_u64(&b, 0);
        b_str(&b, name);
        b_u32(&b, 1);
        b_u64(&b, 4);
        b_u32(&b, QS_TYPE_F32);
        b_u64(&b, 0);
        b_pad(&b, 32);
        for (int i = 0; i < 16; i++) b_u8(&b, 0);
        if (len == 63) expect_ok(&b, "63-byte name");
        else expect_fail(&b, "is 64 bytes long, at most 63 allowed", "64-byte name");
        free(b.p);
    }

    /* The last tensor's padding may be missing; its bytes may not. */
    bytes b = {0};
    b_put(&b, "GGUF", 4);
    b_u32(&b, 3);
    b_u64(&b, 1);
    b_u64(&b, 0);
    b_str(&b, "q");
    b_u32(&b, 1);
    b_u64(&b, 32);
    b_u32(&b, QS_TYPE_Q4_0);
    b_u64(&b, 0);
    b_pad(&b, 32);
    for (int i = 0; i < 18; i++) b_u8(&b, (uint8_t)i);
    expect_ok(&b, "no trailing padding");
    expect_fail_n(b.p, b.n - 1, "runs past the end", "one byte short");
    for (int i = 0; i < 14; i++) b_u8(&b, 0);
    expect_ok(&b, "with trailing padding");
    free(b.p);

    /* Zero tensors: the data section may be absent entirely. */
    b = (bytes){0};
    b_put(&b, "GGUF", 4);
    b_u32(&b, 3);
    b_u64(&b, 0);
    b_u64(&b, 0);
    expect_ok(&b, "header only");
    free(b.p);
}

/* The same refusals through gguf_open on files: the message names the path. */
static void test_on_disk(void **state) {
    fixture *fx = *state;
    const layout *L = &fx->L;
    char path[512];
    snprintf(path, sizeof path, "%s/malformed.gguf", qs_test_tmpdir());
    struct {
        size_t off;
        uint64_t val;
        int width;
        size_t trunc;
        const char *want;
    } cases[] = {
        {L->n_tensors, UINT64_MAX, 8, 0, "offset 8: tensor count"},
        {L->t_type[1], 200, 4, 0, "type id 200"},
        {L->t_off[1], 129, 8, 0, "not a multiple of the alignment"},
        {0, 0, 0, L->t_data[2] + 3, "past the end of the file"},
        {0, 0, 0, 23, "file ends inside the metadata count"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bytes c = copy_of(&fx->base);
        if (cases[i].width == 4) patch_u32(&c, cases[i].off, (uint32_t)cases[i].val);
        if (cases[i].width == 8) patch_u64(&c, cases[i].off, cases[i].val);
        if (cases[i].trunc) c.n = cases[i].trunc;
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(c.p, 1, c.n, fp), c.n);
        fclose(fp);
        qs_error err;
        assert_null(gguf_open(path, &err));
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, ": offset "));
        if (!strstr(err.msg, cases[i].want)) fail_msg("'%s' lacks '%s'", err.msg, cases[i].want);
        free(c.p);
    }
}

/* ------------------------------------------------------------------ random mutations */

/* Uses everything an opened file offers, so ASan sees any pointer the reader got wrong. */
static unsigned exercise_iter(gguf_arr_iter *it, int depth) {
    const uint8_t *d;
    gguf_str s;
    gguf_arr_iter sub;
    unsigned acc = 0;
    while (gguf_arr_next(it, &d, &s, &sub)) {
        if (it->type == GGUF_VT_STRING) {
            if (s.len) acc += (uint8_t)s.ptr[0] + (uint8_t)s.ptr[s.len - 1];
        } else if (it->type == GGUF_VT_ARRAY) {
            assert_true(depth < GGUF_MAX_ARRAY_DEPTH);
            acc += exercise_iter(&sub, depth + 1);
        } else {
            acc += d[gguf_vtype_size(it->type) - 1];
        }
    }
    assert_int_equal(it->index, it->count); /* validated arrays walk to the end */
    return acc;
}

static unsigned exercise(const gguf_file *f) {
    unsigned acc = 0;
    char small[12], big[300];
    for (int64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        gguf_kv_format(kv, small, sizeof small);
        gguf_kv_format(kv, big, sizeof big);
        acc += (unsigned)strlen(small) + (unsigned)strlen(big);
        char key[256];
        if (kv->key.len < sizeof key) {
            memcpy(key, kv->key.ptr, kv->key.len);
            key[kv->key.len] = '\0';
            assert_int_equal(gguf_find_key(f, key), i);
        }
        if (kv->type == GGUF_VT_ARRAY) {
            gguf_arr_iter it;
            gguf_arr_begin(kv, &it);
            acc += exercise_iter(&it, 1);
            double d;
            if (kv->arr_count && gguf_arr_num(kv, kv->arr_count - 1, &d) == QS_OK) acc += d != 0;
        }
    }
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        assert_true(t->data >= f->map + f->data_offset);
        assert_true(t->data + t->nbytes <= f->map + f->file_size);
        acc += t->data[0] + t->data[t->nbytes - 1];
        char name[GGUF_MAX_TENSOR_NAME + 1];
        memcpy(name, t->name.ptr, t->name.len);
        name[t->name.len] = '\0';
        assert_int_equal(gguf_find_tensor(f, name), i);
    }
    return acc;
}

static void test_random_mutations(void **state) {
    fixture *fx = *state;
    const layout *L = &fx->L;
    static const uint64_t interesting[] = {0, 1, 2, 3, 4, 31, 32, 33, 64, 255, 0x7fffffff,
                                           0xffffffffull, 1ull << 32, 1ull << 62, 1ull << 63,
                                           UINT64_MAX, UINT64_MAX - 1, 12, 13};
    uint64_t seed = 0x5eed;
    int opened = 0, refused = 0;
    for (int iter = 0; iter < 4000; iter++) {
        bytes c = copy_of(&fx->base);
        int edits = 1 + (int)(qs_test_rng(&seed) % 4);
        for (int e = 0; e < edits; e++) {
            uint64_t r = qs_test_rng(&seed);
            /* Mostly the metadata region, where the structure lives. */
            size_t span = (r & 15) == 0 ? c.n : L->data_start;
            size_t pos = (size_t)(qs_test_rng(&seed) % span);
            switch ((r >> 4) % 4) {
            case 0: c.p[pos] ^= (uint8_t)(1u << ((r >> 8) % 8)); break;
            case 1: c.p[pos] = (uint8_t)(r >> 16); break;
            case 2:
                if (pos + 8 <= c.n)
                    patch_u64(&c, pos, interesting[(r >> 16) % (sizeof interesting / sizeof interesting[0])]);
                break;
            default:
                if (pos + 4 <= c.n)
                    patch_u32(&c, pos, (uint32_t)interesting[(r >> 16) % (sizeof interesting / sizeof interesting[0])]);
            }
        }
        if ((qs_test_rng(&seed) & 7) == 0) c.n = (size_t)(qs_test_rng(&seed) % (c.n + 1));
        qs_error err;
        uint8_t *copy;
        gguf_file *f = open_exact(c.p, c.n, &err, &copy);
        if (f) {
            exercise(f);
            gguf_close(f);
            opened++;
        } else {
            refused++;
        }
        free(copy);
        free(c.p);
    }
    print_message("  4000 mutations: %d opened, %d refused\n", opened, refused);
    assert_true(refused > 1000); /* the mutations do hit the structure */
    assert_true(opened > 100);   /* and harmless ones (values, data) still open */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_base_is_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alignment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tensor_infos, setup, teardown),
        cmocka_unit_test(test_built_cases),
        cmocka_unit_test_setup_teardown(test_on_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_mutations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
