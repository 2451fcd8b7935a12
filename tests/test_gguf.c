/* GGUF reader and writer: facts of a real model, round trips of every value and several tensor
 * types, the exact bytes of a small file, atomic writes and writer misuse. */
#include "qs_test_util.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gguf.h"
#include "qs_types.h"

/* ------------------------------------------------------------------ helpers */

#include "qs_test_bytes.h"

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(sz > 0 ? (size_t)sz : 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return p;
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Entries of dir whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    closedir(d);
    return n;
}

static void tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", qs_test_tmpdir(), name);
}

static bool str_eq(gguf_str s, const char *c) { return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0; }

static void format_kv(const gguf_file *f, const char *key, char *buf, size_t n) {
    int64_t i = gguf_find_key(f, key);
    assert_true(i >= 0);
    gguf_kv_format(&f->kv[i], buf, n);
}

/* ------------------------------------------------------------------ stories260K */

static void test_stories_facts(void **state) {
    (void)state;
    char path[512];
    if (!qs_test_shared_path("models/stories260K.gguf", path, sizeof path)) return;
    qs_error err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    assert_non_null(f);
    assert_string_equal(err.msg, "");
    assert_int_equal(f->version, 3);
    assert_int_equal(f->file_size, 1185376);
    assert_int_equal(f->n_kv, 19);
    assert_int_equal(f->n_tensors, 48);
    assert_int_equal(f->alignment, 32);
    assert_int_equal(f->data_offset, 14176);
    assert_int_equal(f->kv[0].file_offset, 24); /* right after the 24-byte header */

    int64_t v;
    uint64_t u;
    assert_int_equal(gguf_get_int(f, "llama.block_count", &v), QS_OK);
    assert_int_equal(v, 5);
    assert_int_equal(gguf_get_uint(f, "llama.embedding_length", &u), QS_OK);
    assert_int_equal(u, 64);
    assert_int_equal(gguf_get_int(f, "llama.attention.head_count", &v), QS_OK);
    assert_int_equal(v, 8);
    assert_int_equal(gguf_get_int(f, "llama.attention.head_count_kv", &v), QS_OK);
    assert_int_equal(v, 4);
    assert_int_equal(gguf_get_int(f, "llama.feed_forward_length", &v), QS_OK);
    assert_int_equal(v, 172);
    assert_int_equal(gguf_get_int(f, "llama.context_length", &v), QS_OK);
    assert_int_equal(v, 2048);
    assert_int_equal(gguf_get_int(f, "llama.rope.dimension_count", &v), QS_OK);
    assert_int_equal(v, 8);
    assert_int_equal(gguf_get_uint(f, "tokenizer.ggml.padding_token_id", &u), QS_OK);
    assert_int_equal(u, 4294967295u);
    double eps;
    assert_int_equal(gguf_get_float(f, "llama.attention.layer_norm_rms_epsilon", &eps), QS_OK);
    assert_true(eps == (double)1e-5f);
    gguf_str s;
    assert_int_equal(gguf_get_str(f, "general.architecture", &s), QS_OK);
    assert_true(str_eq(s, "llama"));
    char cbuf[4];
    assert_int_equal(gguf_get_cstr(f, "tokenizer.ggml.model", cbuf, sizeof cbuf), QS_OK);
    assert_string_equal(cbuf, "lla"); /* truncated to bufsize - 1 */

    /* Wrong types and missing keys fail and leave out alone. */
    v = 77;
    assert_int_equal(gguf_get_int(f, "general.architecture", &v), QS_ERR);
    assert_int_equal(gguf_get_int(f, "no.such.key", &v), QS_ERR);
    assert_int_equal(gguf_get_float(f, "llama.block_count", &eps), QS_ERR);
    assert_int_equal(v, 77);
    assert_null(gguf_get_arr(f, "llama.block_count"));
    assert_int_equal(gguf_find_key(f, "llama"), -1);
    assert_int_equal(gguf_find_key(f, ""), -1);

    /* Vocabulary: 512 strings, scores, token types. */
    const gguf_kv *tok = gguf_get_arr(f, "tokenizer.ggml.tokens");
    assert_non_null(tok);
    assert_int_equal(tok->arr_type, GGUF_VT_STRING);
    assert_int_equal(tok->arr_count, 512);
    gguf_arr_iter it;
    gguf_arr_begin(tok, &it);
    uint64_t n = 0, bytes_total = 0;
    while (gguf_arr_next(&it, NULL, &s, NULL)) {
        if (n == 0) assert_true(str_eq(s, "<unk>"));
        if (n == 1) assert_true(str_eq(s, "<s>"));
        if (n == 2) assert_true(str_eq(s, "</s>"));
        if (n == 3) assert_true(str_eq(s, "<0x00>"));
        bytes_total += 8 + s.len;
        n++;
    }
    assert_int_equal(n, 512);
    assert_int_equal(bytes_total, tok->data_bytes);
    const gguf_kv *tt = gguf_get_arr(f, "tokenizer.ggml.token_type");
    assert_non_null(tt);
    assert_int_equal(tt->arr_type, GGUF_VT_INT32);
    assert_int_equal(tt->arr_count, 512);
    int64_t t0, t1;
    assert_int_equal(gguf_arr_int(tt, 0, &t0), QS_OK);
    assert_int_equal(gguf_arr_int(tt, 1, &t1), QS_OK);
    assert_int_equal(t0, 2); /* unknown */
    assert_int_equal(t1, 3); /* control */
    assert_int_equal(gguf_arr_int(tt, 512, &t0), QS_ERR);
    const gguf_kv *sc = gguf_get_arr(f, "tokenizer.ggml.scores");
    assert_non_null(sc);
    assert_int_equal(sc->arr_type, GGUF_VT_FLOAT32);
    assert_int_equal(sc->data_bytes, 512 * 4);
    double d;
    assert_int_equal(gguf_arr_num(sc, 0, &d), QS_OK);
    assert_true(d == 0.0);
    assert_int_equal(gguf_arr_int(sc, 0, &t0), QS_ERR); /* floats are not integers */
    assert_int_equal(gguf_arr_num(tok, 0, &d), QS_ERR);  /* strings are not numbers */

    /* Tensors: all F32, 292,800 parameters, in bounds, aligned, back to back. */
    int64_t total = 0;
    uint64_t expect_off = 0;
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        assert_int_equal(t->type, QS_TYPE_F32);
        assert_int_equal(t->nbytes, (uint64_t)t->n_elements * 4);
        assert_int_equal(t->offset, expect_off);
        assert_true(t->data == f->map + f->data_offset + t->offset);
        assert_int_equal((uint64_t)(t->data - f->map) % 32, 0);
        assert_true(t->data + t->nbytes <= f->map + f->file_size);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        assert_int_equal(gguf_find_tensor(f, name), i);
        expect_off += (t->nbytes + 31) / 32 * 32;
        total += t->n_elements;
    }
    assert_int_equal(total, 292800);
    assert_int_equal(f->data_offset + expect_off, f->file_size);

    int64_t e = gguf_find_tensor(f, "token_embd.weight");
    assert_true(e >= 0);
    assert_int_equal(f->tensors[e].n_dims, 2);
    assert_int_equal(f->tensors[e].ne[0], 64);
    assert_int_equal(f->tensors[e].ne[1], 512);
    assert_int_equal(f->tensors[e].ne[2], 1);
    assert_int_equal(f->tensors[e].offset, 0);
    e = gguf_find_tensor(f, "blk.0.ffn_down.weight");
    assert_true(e >= 0);
    assert_int_equal(f->tensors[e].ne[0], 172);
    assert_int_equal(f->tensors[e].ne[1], 64);
    e = gguf_find_tensor(f, "output_norm.weight");
    assert_true(e >= 0);
    assert_int_equal(f->tensors[e].n_dims, 1);
    assert_int_equal(f->tensors[e].n_elements, 64);
    assert_int_equal(gguf_find_tensor(f, "blk.5.attn_q.weight"), -1);
    assert_int_equal(gguf_find_tensor(f, "token_embd"), -1);
    gguf_close(f);
}

static void test_stories_format(void **state) {
    (void)state;
    char path[512], buf[256];
    if (!qs_test_shared_path("models/stories260K.gguf", path, sizeof path)) return;
    qs_error err;
    gguf_file *f = gguf_open(path, &err);
    assert_non_null(f);
    format_kv(f, "general.architecture", buf, sizeof buf);
    assert_string_equal(buf, "llama");
    format_kv(f, "llama.block_count", buf, sizeof buf);
    assert_string_equal(buf, "5");
    format_kv(f, "llama.attention.layer_norm_rms_epsilon", buf, sizeof buf);
    assert_string_equal(buf, "1e-05");
    format_kv(f, "tokenizer.ggml.tokens", buf, sizeof buf);
    assert_string_equal(buf, "[512 x string]");
    format_kv(f, "tokenizer.ggml.token_type", buf, sizeof buf);
    assert_string_equal(buf, "[512 x i32]");
    format_kv(f, "tokenizer.ggml.padding_token_id", buf, sizeof buf);
    assert_string_equal(buf, "4294967295");
    gguf_close(f);
}

/* Every key and tensor of stories260K through the writer: the copy must be the same file. */
static void test_stories_copy(void **state) {
    (void)state;
    char path[512], out[512];
    if (!qs_test_shared_path("models/stories260K.gguf", path, sizeof path)) return;
    tmp_path(out, sizeof out, "stories_copy.gguf");
    qs_error err;
    gguf_file *f = gguf_open(path, &err);
    assert_non_null(f);
    gguf_writer *w = gguf_writer_open(out, f->alignment, &err);
    assert_non_null(w);
    for (int64_t i = 0; i < f->n_kv; i++) assert_int_equal(gguf_writer_copy_kv(w, &f->kv[i]), QS_OK);
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        assert_int_equal(gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne), QS_OK);
    }
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        /* in uneven chunks, to exercise chunked writes */
        uint64_t half = t->nbytes / 3;
        assert_int_equal(gguf_writer_write(w, t->data, half), QS_OK);
        assert_int_equal(gguf_writer_write(w, t->data + half, t->nbytes - half), QS_OK);
    }
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);
    assert_int_equal(count_prefixed(qs_test_tmpdir(), "stories_copy.gguf.tmp"), 0);

    gguf_file *g = gguf_open(out, &err);
    assert_non_null(g);
    assert_int_equal(g->n_kv, f->n_kv);
    assert_int_equal(g->n_tensors, f->n_tensors);
    assert_int_equal(g->data_offset, f->data_offset);
    for (int64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *a = &f->kv[i], *b = &g->kv[i];
        assert_int_equal(a->key.len, b->key.len);
        assert_memory_equal(a->key.ptr, b->key.ptr, a->key.len);
        assert_int_equal(a->type, b->type);
        assert_int_equal(a->arr_type, b->arr_type);
        assert_int_equal(a->arr_count, b->arr_count);
        assert_int_equal(a->data_bytes, b->data_bytes);
        assert_memory_equal(a->data, b->data, a->data_bytes);
        assert_int_equal(a->file_offset, b->file_offset);
    }
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *a = &f->tensors[i], *b = &g->tensors[i];
        assert_int_equal(a->name.len, b->name.len);
        assert_memory_equal(a->name.ptr, b->name.ptr, a->name.len);
        assert_int_equal(a->type, b->type);
        assert_int_equal(a->n_dims, b->n_dims);
        assert_memory_equal(a->ne, b->ne, sizeof a->ne);
        assert_int_equal(a->offset, b->offset);
        assert_int_equal(a->nbytes, b->nbytes);
        assert_memory_equal(a->data, b->data, a->nbytes);
    }
    /* The writer lays a file out exactly as ggml does, so the copy is byte-identical. */
    assert_int_equal(g->file_size, f->file_size);
    assert_memory_equal(g->map, f->map, f->file_size);
    gguf_close(g);
    gguf_close(f);
}

/* ------------------------------------------------------------------ round trip */

#define N_TENSORS 6

typedef struct tspec {
    const char *name;
    int type, n_dims;
    int64_t ne[4];
} tspec;

static const tspec rt_tensors[N_TENSORS] = {
    {"a.f32", QS_TYPE_F32, 2, {7, 3, 1, 1}},
    {"b.f16", QS_TYPE_F16, 1, {5, 1, 1, 1}},
    {"c.q4_0", QS_TYPE_Q4_0, 2, {64, 2, 1, 1}},
    {"d.q4_k", QS_TYPE_Q4_K, 3, {256, 3, 2, 1}},
    {"e.iq2_xxs", QS_TYPE_IQ2_XXS, 1, {256, 1, 1, 1}}, /* a type we cannot compute */
    {"f.bf16.4d", QS_TYPE_BF16, 4, {2, 3, 4, 5}},
};

static uint64_t rt_nbytes(const tspec *t) {
    const qs_type_traits *tr = qs_type_traits_get(t->type);
    int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    return (uint64_t)(n / tr->blck_size) * (uint64_t)tr->type_size;
}

/* Expected encoding of a value: what the reader's kv->data must hold. */
typedef struct expect {
    const char *key;
    gguf_vtype type, arr_type;
    uint64_t arr_count;
    bytes data;
} expect;

static void rt_build_nested(bytes *b) {
    /* [2 x array]: [3 x i32: 1 2 3], [2 x array]: [[1 x string: "x\0y"], [0 x f64]] */
    b_u32(b, GGUF_VT_ARRAY); /* element type of the outer array */
    b_u64(b, 2);
    b_u32(b, GGUF_VT_INT32);
    b_u64(b, 3);
    for (int32_t i = 1; i <= 3; i++) b_u32(b, (uint32_t)i);
    b_u32(b, GGUF_VT_ARRAY);
    b_u64(b, 2);
    b_u32(b, GGUF_VT_STRING);
    b_u64(b, 1);
    b_strn(b, "x\0y", 3);
    b_u32(b, GGUF_VT_FLOAT64);
    b_u64(b, 0);
}

static void test_roundtrip_all_types(void **state) {
    (void)state;
    char out[512];
    tmp_path(out, sizeof out, "roundtrip.gguf");
    qs_error err;
    gguf_writer *w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);

    expect ex[40];
    int ne = 0;
#define EXPECT_SCALAR(k, t, ctype, val)                                    \
    do {                                                                   \
        ctype v_ = (val);                                                  \
        assert_int_equal(gguf_writer_set_scalar(w, k, t, &v_), QS_OK);     \
        ex[ne] = (expect){k, t, 0, 0, {0}};                                \
        b_put(&ex[ne].data, &v_, sizeof v_);                               \
        ne++;                                                              \
    } while (0)
    EXPECT_SCALAR("t.u8", GGUF_VT_UINT8, uint8_t, 250);
    EXPECT_SCALAR("t.i8", GGUF_VT_INT8, int8_t, -7);
    EXPECT_SCALAR("t.u16", GGUF_VT_UINT16, uint16_t, 65535);
    EXPECT_SCALAR("t.i16", GGUF_VT_INT16, int16_t, -32768);
    EXPECT_SCALAR("t.i64", GGUF_VT_INT64, int64_t, INT64_MIN);
    EXPECT_SCALAR("t.f64", GGUF_VT_FLOAT64, double, 0.1);
    EXPECT_SCALAR("t.bool0", GGUF_VT_BOOL, uint8_t, 0);

    assert_int_equal(gguf_writer_set_u32(w, "t.u32", 4000000000u), QS_OK);
    ex[ne] = (expect){"t.u32", GGUF_VT_UINT32, 0, 0, {0}};
    b_u32(&ex[ne++].data, 4000000000u);
    assert_int_equal(gguf_writer_set_i32(w, "t.i32", -123456), QS_OK);
    ex[ne] = (expect){"t.i32", GGUF_VT_INT32, 0, 0, {0}};
    b_u32(&ex[ne++].data, (uint32_t)-123456);
    assert_int_equal(gguf_writer_set_u64(w, "t.u64", UINT64_MAX), QS_OK);
    ex[ne] = (expect){"t.u64", GGUF_VT_UINT64, 0, 0, {0}};
    b_u64(&ex[ne++].data, UINT64_MAX);
    assert_int_equal(gguf_writer_set_f32(w, "t.f32", -1.5f), QS_OK);
    ex[ne] = (expect){"t.f32", GGUF_VT_FLOAT32, 0, 0, {0}};
    b_u32(&ex[ne++].data, 0xbfc00000u);
    assert_int_equal(gguf_writer_set_bool(w, "t.bool1", true), QS_OK);
    ex[ne] = (expect){"t.bool1", GGUF_VT_BOOL, 0, 0, {0}};
    b_u8(&ex[ne++].data, 1);
    assert_int_equal(gguf_writer_set_str(w, "t.str", "h\xc3\xa9llo \xe2\x9c\x93"), QS_OK);
    ex[ne] = (expect){"t.str", GGUF_VT_STRING, 0, 0, {0}};
    b_str(&ex[ne++].data, "h\xc3\xa9llo \xe2\x9c\x93");
    assert_int_equal(gguf_writer_set_strn(w, "t.str.nul", "a\0b\0", 4), QS_OK);
    ex[ne] = (expect){"t.str.nul", GGUF_VT_STRING, 0, 0, {0}};
    b_strn(&ex[ne++].data, "a\0b\0", 4);
    assert_int_equal(gguf_writer_set_str(w, "t.str.empty", ""), QS_OK);
    ex[ne] = (expect){"t.str.empty", GGUF_VT_STRING, 0, 0, {0}};
    b_strn(&ex[ne++].data, "", 0);

    /* Arrays of every fixed-size type. */
    static const gguf_vtype fixed[] = {GGUF_VT_UINT8, GGUF_VT_INT8, GGUF_VT_UINT16, GGUF_VT_INT16,
                                       GGUF_VT_UINT32, GGUF_VT_INT32, GGUF_VT_FLOAT32, GGUF_VT_BOOL,
                                       GGUF_VT_UINT64, GGUF_VT_INT64, GGUF_VT_FLOAT64};
    static const char *const fixed_keys[] = {"a.u8", "a.i8", "a.u16", "a.i16", "a.u32", "a.i32",
                                             "a.f32", "a.bool", "a.u64", "a.i64", "a.f64"};
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++) {
        uint8_t raw[5 * 8];
        int es = gguf_vtype_size(fixed[k]);
        for (int i = 0; i < 5 * es; i++) raw[i] = fixed[k] == GGUF_VT_BOOL ? (uint8_t)(i & 1) : (uint8_t)(i * 37 + k);
        assert_int_equal(gguf_writer_set_arr(w, fixed_keys[k], fixed[k], raw, 5), QS_OK);
        ex[ne] = (expect){fixed_keys[k], GGUF_VT_ARRAY, fixed[k], 5, {0}};
        b_put(&ex[ne++].data, raw, (size_t)(5 * es));
    }
    assert_int_equal(gguf_writer_set_arr(w, "a.empty", GGUF_VT_INT32, NULL, 0), QS_OK);
    ex[ne++] = (expect){"a.empty", GGUF_VT_ARRAY, GGUF_VT_INT32, 0, {0}};

    const char *strs[] = {"<s>", "", "\xe2\x96\x81the", "\n"};
    assert_int_equal(gguf_writer_set_arr_str(w, "a.str", strs, 4), QS_OK);
    ex[ne] = (expect){"a.str", GGUF_VT_ARRAY, GGUF_VT_STRING, 4, {0}};
    for (int i = 0; i < 4; i++) b_str(&ex[ne].data, strs[i]);
    ne++;

    /* Raw encodings: a string array with NULs and a nested array three deep. */
    bytes raw = {0};
    b_u32(&raw, GGUF_VT_STRING);
    b_u64(&raw, 2);
    b_strn(&raw, "\0", 1);
    b_strn(&raw, "z\0z", 3);
    assert_int_equal(gguf_writer_set_raw(w, "a.str.nul", GGUF_VT_ARRAY, raw.p, raw.n), QS_OK);
    ex[ne] = (expect){"a.str.nul", GGUF_VT_ARRAY, GGUF_VT_STRING, 2, {0}};
    b_put(&ex[ne++].data, raw.p + 12, raw.n - 12);
    raw.n = 0;
    rt_build_nested(&raw);
    assert_int_equal(gguf_writer_set_raw(w, "a.nested", GGUF_VT_ARRAY, raw.p, raw.n), QS_OK);
    ex[ne] = (expect){"a.nested", GGUF_VT_ARRAY, GGUF_VT_ARRAY, 2, {0}};
    b_put(&ex[ne++].data, raw.p + 12, raw.n - 12);
    free(raw.p);

    /* Tensors with recognisable bytes. */
    uint8_t *tdata[N_TENSORS];
    for (int i = 0; i < N_TENSORS; i++) {
        const tspec *t = &rt_tensors[i];
        assert_int_equal(gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne), QS_OK);
        uint64_t nb = rt_nbytes(t);
        tdata[i] = malloc(nb);
        uint64_t s = 1000 + (uint64_t)i;
        for (uint64_t j = 0; j < nb; j++) tdata[i][j] = (uint8_t)qs_test_rng(&s);
    }
    for (int i = 0; i < N_TENSORS; i++) {
        uint64_t nb = rt_nbytes(&rt_tensors[i]);
        for (uint64_t o = 0; o < nb;) { /* 7-byte chunks */
            uint64_t k = nb - o < 7 ? nb - o : 7;
            assert_int_equal(gguf_writer_write(w, tdata[i] + o, k), QS_OK);
            o += k;
        }
    }
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);

    gguf_file *f = gguf_open(out, &err);
    assert_non_null(f);
    assert_int_equal(f->version, 3);
    assert_int_equal(f->n_kv, ne);
    for (int i = 0; i < ne; i++) {
        const gguf_kv *kv = &f->kv[i];
        assert_true(str_eq(kv->key, ex[i].key));
        assert_int_equal(gguf_find_key(f, ex[i].key), i);
        assert_int_equal(kv->type, ex[i].type);
        if (kv->type == GGUF_VT_ARRAY) {
            assert_int_equal(kv->arr_type, ex[i].arr_type);
            assert_int_equal(kv->arr_count, ex[i].arr_count);
        } else {
            assert_int_equal(kv->arr_count, 0);
        }
        assert_int_equal(kv->data_bytes, ex[i].data.n);
        if (ex[i].data.n) assert_memory_equal(kv->data, ex[i].data.p, ex[i].data.n);
        free(ex[i].data.p);
    }
    /* Typed getters on what came back. */
    int64_t v;
    uint64_t u;
    double d;
    bool bl;
    gguf_str s;
    assert_int_equal(gguf_get_int(f, "t.i64", &v), QS_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(gguf_get_uint(f, "t.i64", &u), QS_ERR); /* negative */
    assert_int_equal(gguf_get_int(f, "t.u64", &v), QS_ERR);  /* above INT64_MAX */
    assert_int_equal(gguf_get_uint(f, "t.u64", &u), QS_OK);
    assert_true(u == UINT64_MAX);
    assert_int_equal(gguf_get_int(f, "t.i16", &v), QS_OK);
    assert_int_equal(v, -32768);
    assert_int_equal(gguf_get_uint(f, "t.u8", &u), QS_OK);
    assert_int_equal(u, 250);
    assert_int_equal(gguf_get_float(f, "t.f64", &d), QS_OK);
    assert_true(d == 0.1);
    assert_int_equal(gguf_get_float(f, "t.f32", &d), QS_OK);
    assert_true(d == -1.5);
    assert_int_equal(gguf_get_bool(f, "t.bool1", &bl), QS_OK);
    assert_true(bl);
    assert_int_equal(gguf_get_bool(f, "t.bool0", &bl), QS_OK);
    assert_false(bl);
    assert_int_equal(gguf_get_bool(f, "t.u8", &bl), QS_ERR);
    assert_int_equal(gguf_get_str(f, "t.str.nul", &s), QS_OK);
    assert_int_equal(s.len, 4);
    assert_memory_equal(s.ptr, "a\0b\0", 4);

    /* Nested walk. */
    const gguf_kv *nk = gguf_get_arr(f, "a.nested");
    assert_non_null(nk);
    gguf_arr_iter it, sub, sub2, sub3;
    const uint8_t *dp;
    gguf_arr_begin(nk, &it);
    assert_true(gguf_arr_next(&it, &dp, &s, &sub));
    assert_int_equal(sub.type, GGUF_VT_INT32);
    assert_int_equal(sub.count, 3);
    int32_t sum = 0;
    while (gguf_arr_next(&sub, &dp, NULL, NULL)) {
        int32_t x;
        memcpy(&x, dp, 4);
        sum += x;
    }
    assert_int_equal(sum, 6);
    assert_true(gguf_arr_next(&it, &dp, &s, &sub));
    assert_int_equal(sub.type, GGUF_VT_ARRAY);
    assert_int_equal(sub.count, 2);
    assert_true(gguf_arr_next(&sub, &dp, &s, &sub2));
    assert_int_equal(sub2.type, GGUF_VT_STRING);
    assert_true(gguf_arr_next(&sub2, &dp, &s, NULL));
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.ptr, "x\0y", 3);
    assert_false(gguf_arr_next(&sub2, &dp, &s, NULL));
    assert_true(gguf_arr_next(&sub, &dp, &s, &sub3));
    assert_int_equal(sub3.type, GGUF_VT_FLOAT64);
    assert_int_equal(sub3.count, 0);
    assert_false(gguf_arr_next(&sub, &dp, &s, &sub3));
    assert_false(gguf_arr_next(&it, &dp, &s, &sub));

    char buf[256];
    format_kv(f, "a.nested", buf, sizeof buf);
    assert_string_equal(buf, "[2 x array: [3 x i32: 1, 2, 3], [2 x array: [1 x string: \"x\\x00y\"], [0 x f64]]]");
    format_kv(f, "a.str", buf, sizeof buf);
    assert_string_equal(buf, "[4 x string: \"<s>\", \"\", \"\xe2\x96\x81the\", \"\\n\"]");
    format_kv(f, "a.bool", buf, sizeof buf);
    assert_string_equal(buf, "[5 x bool: false, true, false, true, false]");
    format_kv(f, "t.i64", buf, sizeof buf);
    assert_string_equal(buf, "-9223372036854775808");
    format_kv(f, "t.u64", buf, sizeof buf);
    assert_string_equal(buf, "18446744073709551615");
    format_kv(f, "t.f64", buf, sizeof buf);
    assert_string_equal(buf, "0.1");
    format_kv(f, "t.f32", buf, sizeof buf);
    assert_string_equal(buf, "-1.5");
    format_kv(f, "t.str", buf, sizeof buf);
    assert_string_equal(buf, "h\xc3\xa9llo \xe2\x9c\x93");
    format_kv(f, "t.str.nul", buf, sizeof buf);
    assert_string_equal(buf, "a\\x00b\\x00");
    format_kv(f, "a.empty", buf, sizeof buf);
    assert_string_equal(buf, "[0 x i32]");

    /* Tensors. */
    assert_int_equal(f->n_tensors, N_TENSORS);
    uint64_t off = 0;
    for (int i = 0; i < N_TENSORS; i++) {
        const gguf_tensor *t = &f->tensors[i];
        const tspec *ts = &rt_tensors[i];
        assert_true(str_eq(t->name, ts->name));
        assert_int_equal(t->type, ts->type);
        assert_int_equal(t->n_dims, ts->n_dims);
        assert_memory_equal(t->ne, ts->ne, sizeof t->ne);
        assert_int_equal(t->nbytes, rt_nbytes(ts));
        assert_int_equal(t->offset, off);
        assert_int_equal((f->data_offset + t->offset) % 32, 0);
        assert_memory_equal(t->data, tdata[i], t->nbytes);
        off += (t->nbytes + 31) / 32 * 32;
        free(tdata[i]);
    }
    /* Sizes come from the type table: Q4_K 256x3x2 = 6 blocks of 144, IQ2_XXS 1 block of 66. */
    assert_int_equal(f->tensors[3].nbytes, 6 * 144);
    assert_int_equal(f->tensors[4].nbytes, 66);
    assert_int_equal(f->tensors[2].nbytes, 4 * 18);
    /* Padding after the last tensor, as ggml writes it. */
    assert_int_equal(f->file_size, f->data_offset + off);
    gguf_close(f);
#undef EXPECT_SCALAR
}

/* The exact bytes of a tiny file, built by hand from the spec. */
static void test_exact_bytes(void **state) {
    (void)state;
    char out[512];
    tmp_path(out, sizeof out, "exact.gguf");
    qs_error err;
    gguf_writer *w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);
    assert_int_equal(gguf_writer_set_str(w, "general.architecture", "llama"), QS_OK);
    assert_int_equal(gguf_writer_set_u32(w, "llama.block_count", 2), QS_OK);
    int64_t ne1[2] = {3, 2}, ne2[1] = {4};
    assert_int_equal(gguf_writer_add_tensor(w, "w", QS_TYPE_F32, 2, ne1), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "n", QS_TYPE_F16, 1, ne2), QS_OK);
    uint8_t d1[24], d2[8];
    for (int i = 0; i < 24; i++) d1[i] = (uint8_t)(i + 1);
    for (int i = 0; i < 8; i++) d2[i] = (uint8_t)(0xa0 + i);
    assert_int_equal(gguf_writer_write(w, d1, 24), QS_OK);
    assert_int_equal(gguf_writer_write(w, d2, 8), QS_OK);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);

    bytes e = {0};
    b_put(&e, "GGUF", 4);
    b_u32(&e, 3);
    b_u64(&e, 2);
    b_u64(&e, 2);
    b_str(&e, "general.architecture");
    b_u32(&e, GGUF_VT_STRING);
    b_str(&e, "llama");
    b_str(&e, "llama.block_count");
    b_u32(&e, GGUF_VT_UINT32);
    b_u32(&e, 2);
    b_str(&e, "w");
    b_u32(&e, 2);
    b_u64(&e, 3);
    b_u64(&e, 2);
    b_u32(&e, QS_TYPE_F32);
    b_u64(&e, 0);
    b_str(&e, "n");
    b_u32(&e, 1);
    b_u64(&e, 4);
    b_u32(&e, QS_TYPE_F16);
    b_u64(&e, 32);
    while (e.n % 32) b_u8(&e, 0);
    b_put(&e, d1, 24);
    for (int i = 0; i < 8; i++) b_u8(&e, 0);
    b_put(&e, d2, 8);
    while (e.n % 32) b_u8(&e, 0);

    size_t n;
    uint8_t *got = read_all(out, &n);
    assert_non_null(got);
    assert_int_equal(n, e.n);
    assert_memory_equal(got, e.p, n);
    free(got);
    free(e.p);
}

/* gguf_advise_stream: a file of two 4 MiB tensors gets MADV_HUGEPAGE on its mapping (the
 * kernel shows it as "hg" in the mapping's VmFlags), except the pages of the tensor to skip
 * ("nh"); in-memory images and files under 2 MiB are left alone. */
static void test_advise_stream(void **state) {
    (void)state;
    char out[512];
    tmp_path(out, sizeof out, "stream.gguf");
    qs_error err;
    gguf_writer *w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);
    assert_int_equal(gguf_writer_set_str(w, "general.architecture", "llama"), QS_OK);
    int64_t ne[2] = {1024, 1024};
    assert_int_equal(gguf_writer_add_tensor(w, "w", QS_TYPE_F32, 2, ne), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "embd", QS_TYPE_F32, 2, ne), QS_OK);
    float *d = calloc(1024 * 1024, sizeof *d);
    assert_non_null(d);
    assert_int_equal(gguf_writer_write(w, d, 1024 * 1024 * sizeof *d), QS_OK);
    assert_int_equal(gguf_writer_write(w, d, 1024 * 1024 * sizeof *d), QS_OK);
    free(d);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);

    gguf_file *f = gguf_open(out, &err);
    assert_non_null(f);
    char flags[512];
    qs_test_vm_flags(f->map, flags, sizeof flags);
    if (!flags[0]) {
        gguf_close(f);
        skip(); /* no /proc/self/smaps here */
    }
    assert_null(strstr(flags, " hg"));
    bool thp = access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
    const gguf_tensor *tw = &f->tensors[gguf_find_tensor(f, "w")];
    const gguf_tensor *te = &f->tensors[gguf_find_tensor(f, "embd")];
    assert_true(gguf_advise_stream(f, te) == thp);
    if (thp) {
        qs_test_vm_flags(f->map, flags, sizeof flags);
        assert_non_null(strstr(flags, " hg"));
        qs_test_vm_flags(tw->data + tw->nbytes / 2, flags, sizeof flags);
        assert_non_null(strstr(flags, " hg"));
        qs_test_vm_flags(te->data + te->nbytes / 2, flags, sizeof flags);
        assert_null(strstr(flags, " hg"));
        assert_non_null(strstr(flags, " nh"));
    }
    /* the data still reads the same */
    assert_int_equal(f->map[0], 'G');
    gguf_close(f);

    /* under 2 MiB: no advice */
    char small[512];
    tmp_path(small, sizeof small, "small.gguf");
    w = gguf_writer_open(small, 0, &err);
    assert_non_null(w);
    assert_int_equal(gguf_writer_set_str(w, "general.architecture", "llama"), QS_OK);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);
    f = gguf_open(small, &err);
    assert_non_null(f);
    assert_false(gguf_advise_stream(f, NULL));
    size_t n;
    uint8_t *img = read_all(out, &n);
    assert_non_null(img);
    gguf_file *m = gguf_open_memory(img, n, "stream.gguf", &err);
    assert_non_null(m);
    assert_false(gguf_advise_stream(m, NULL)); /* not a mapping of ours */
    assert_false(gguf_advise_stream(NULL, NULL));
    gguf_close(m);
    free(img);
    gguf_close(f);
}

static void test_writer_alignment(void **state) {
    (void)state;
    char out[512];
    qs_error err;
    int64_t ne[1] = {3};
    uint8_t d[12] = {0};

    /* Alignment given at open is written as general.alignment and honoured. */
    tmp_path(out, sizeof out, "align64.gguf");
    gguf_writer *w = gguf_writer_open(out, 64, &err);
    assert_non_null(w);
    assert_int_equal(gguf_writer_add_tensor(w, "x", QS_TYPE_F32, 1, ne), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "y", QS_TYPE_F32, 1, ne), QS_OK);
    assert_int_equal(gguf_writer_write(w, d, 12), QS_OK);
    assert_int_equal(gguf_writer_write(w, d, 12), QS_OK);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);
    gguf_file *f = gguf_open(out, &err);
    assert_non_null(f);
    assert_int_equal(f->alignment, 64);
    uint64_t u;
    assert_int_equal(gguf_get_uint(f, "general.alignment", &u), QS_OK);
    assert_int_equal(u, 64);
    assert_int_equal(f->data_offset % 64, 0);
    assert_int_equal(f->tensors[1].offset, 64);
    assert_int_equal(f->file_size, f->data_offset + 128);
    gguf_close(f);

    /* Setting general.alignment changes the layout; a bad value is refused. */
    tmp_path(out, sizeof out, "align128.gguf");
    w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);
    assert_int_equal(gguf_writer_set_u32(w, "general.alignment", 0), QS_ERR);
    assert_non_null(strstr(gguf_writer_error(w), "power of two"));
    assert_int_equal(gguf_writer_set_u64(w, "general.alignment", 128), QS_ERR);
    assert_int_equal(gguf_writer_set_u32(w, "general.alignment", 128), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "x", QS_TYPE_F32, 1, ne), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "y", QS_TYPE_F32, 1, ne), QS_OK);
    assert_int_equal(gguf_writer_write(w, d, 12), QS_OK);
    assert_int_equal(gguf_writer_write(w, d, 12), QS_OK);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);
    f = gguf_open(out, &err);
    assert_non_null(f);
    assert_int_equal(f->alignment, 128);
    assert_int_equal(f->n_kv, 1);
    assert_int_equal(f->data_offset % 128, 0);
    assert_int_equal(f->tensors[1].offset, 128);
    gguf_close(f);

    /* No tensors, no metadata: a 24-byte header padded to 32. */
    tmp_path(out, sizeof out, "empty.gguf");
    w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);
    f = gguf_open(out, &err);
    assert_non_null(f);
    assert_int_equal(f->n_kv, 0);
    assert_int_equal(f->n_tensors, 0);
    assert_int_equal(f->file_size, 32);
    gguf_close(f);

    assert_null(gguf_writer_open(out, 3, &err));
    assert_non_null(strstr(err.msg, "power of two"));
}

static void test_writer_misuse(void **state) {
    (void)state;
    char out[512];
    tmp_path(out, sizeof out, "misuse.gguf");
    qs_error err;
    gguf_writer *w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);
    assert_int_equal(gguf_writer_set_u32(w, "k", 1), QS_OK);
    assert_int_equal(gguf_writer_set_i32(w, "k", 2), QS_ERR);
    assert_non_null(strstr(gguf_writer_error(w), "already set"));
    assert_non_null(strstr(gguf_writer_error(w), "misuse.gguf"));
    assert_int_equal(gguf_writer_set_u32(w, "", 1), QS_ERR);
    uint8_t two = 2;
    assert_int_equal(gguf_writer_set_scalar(w, "b", GGUF_VT_BOOL, &two), QS_ERR);
    assert_int_equal(gguf_writer_set_scalar(w, "s", GGUF_VT_STRING, "x"), QS_ERR);
    assert_int_equal(gguf_writer_set_arr(w, "a", GGUF_VT_STRING, "x", 1), QS_ERR);
    assert_int_equal(gguf_writer_set_arr(w, "a", GGUF_VT_BOOL, &two, 1), QS_ERR);

    /* Raw values are validated like the reader does. */
    bytes r = {0};
    b_u32(&r, GGUF_VT_UINT8);
    b_u64(&r, 5); /* 5 elements claimed, 2 given */
    b_u8(&r, 1);
    b_u8(&r, 2);
    assert_int_equal(gguf_writer_set_raw(w, "raw", GGUF_VT_ARRAY, r.p, r.n), QS_ERR);
    assert_non_null(strstr(gguf_writer_error(w), "raw"));
    r.n = 0;
    b_str(&r, "abc");
    b_u8(&r, 0); /* one byte too many */
    assert_int_equal(gguf_writer_set_raw(w, "raw", GGUF_VT_STRING, r.p, r.n), QS_ERR);
    r.n = 0;
    b_u32(&r, 13); /* element type out of range */
    b_u64(&r, 0);
    assert_int_equal(gguf_writer_set_raw(w, "raw", GGUF_VT_ARRAY, r.p, r.n), QS_ERR);
    free(r.p);

    int64_t ne[4] = {64, 2, 1, 1}, bad[2] = {33, 2}, zero[2] = {0, 2}, neg[2] = {-1, 2};
    int64_t huge[4] = {INT64_MAX / 2, 4, 1, 1};
    assert_int_equal(gguf_writer_add_tensor(w, "t", QS_TYPE_Q4_0, 2, ne), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "t", QS_TYPE_Q4_0, 2, ne), QS_ERR);
    assert_non_null(strstr(gguf_writer_error(w), "already declared"));
    assert_int_equal(gguf_writer_add_tensor(w, "u", QS_TYPE_Q4_0, 2, bad), QS_ERR);
    assert_non_null(strstr(gguf_writer_error(w), "block size"));
    assert_int_equal(gguf_writer_add_tensor(w, "u", QS_TYPE_F32, 2, zero), QS_ERR);
    assert_int_equal(gguf_writer_add_tensor(w, "u", QS_TYPE_F32, 2, neg), QS_ERR);
    assert_int_equal(gguf_writer_add_tensor(w, "u", QS_TYPE_F32, 4, huge), QS_ERR);
    assert_int_equal(gguf_writer_add_tensor(w, "u", QS_TYPE_F32, 0, ne), QS_ERR);
    assert_int_equal(gguf_writer_add_tensor(w, "u", QS_TYPE_F32, 5, ne), QS_ERR);
    assert_int_equal(gguf_writer_add_tensor(w, "u", 4, 1, ne), QS_ERR);
    assert_int_equal(gguf_writer_add_tensor(w, "u", 200, 1, ne), QS_ERR);
    assert_int_equal(gguf_writer_add_tensor(w, "", QS_TYPE_F32, 1, ne), QS_ERR);
    char longname[80];
    memset(longname, 'x', 64);
    longname[64] = '\0';
    assert_int_equal(gguf_writer_add_tensor(w, longname, QS_TYPE_F32, 1, ne), QS_ERR);
    longname[63] = '\0';
    assert_int_equal(gguf_writer_add_tensor(w, longname, QS_TYPE_F32, 1, ne), QS_OK);

    uint8_t data[256] = {0};
    assert_int_equal(gguf_writer_write(w, data, 100), QS_ERR); /* t holds 72 bytes */
    assert_non_null(strstr(gguf_writer_error(w), "exceeds its declared size"));
    assert_int_equal(gguf_writer_write(w, data, 70), QS_OK);
    assert_int_equal(gguf_writer_write(w, data, 3), QS_ERR);
    assert_int_equal(gguf_writer_write(w, data, 2), QS_OK);
    /* Frozen after the first write. */
    assert_int_equal(gguf_writer_set_u32(w, "late", 1), QS_ERR);
    assert_non_null(strstr(gguf_writer_error(w), "after tensor data started"));
    assert_int_equal(gguf_writer_add_tensor(w, "late", QS_TYPE_F32, 1, ne), QS_ERR);
    assert_int_equal(gguf_writer_write(w, data, 200), QS_OK); /* 64 x 1 x ... f32 = 256 bytes */
    /* Incomplete: finish fails, nothing saved, temp file gone. */
    assert_int_equal(gguf_writer_finish(w, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "incomplete"));
    assert_non_null(strstr(err.msg, longname));
    assert_false(exists(out));
    assert_int_equal(count_prefixed(qs_test_tmpdir(), "misuse.gguf.tmp"), 0);

    /* Too much data. */
    w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);
    assert_int_equal(gguf_writer_add_tensor(w, "t", QS_TYPE_F32, 1, ne), QS_OK);
    assert_int_equal(gguf_writer_write(w, data, 256), QS_OK);
    assert_int_equal(gguf_writer_write(w, data, 1), QS_ERR);
    assert_non_null(strstr(gguf_writer_error(w), "after all 1 tensors"));
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);
    assert_true(exists(out));

    /* copy_kv replaces a key already set, keeping its place. */
    tmp_path(out, sizeof out, "replace.gguf");
    w = gguf_writer_open(out, 0, &err);
    assert_int_equal(gguf_writer_set_u32(w, "a", 1), QS_OK);
    assert_int_equal(gguf_writer_set_u32(w, "b", 2), QS_OK);
    gguf_kv kv = {.key = {"a", 1}, .type = GGUF_VT_STRING};
    bytes sv = {0};
    b_str(&sv, "new");
    kv.data = sv.p;
    kv.data_bytes = sv.n;
    assert_int_equal(gguf_writer_copy_kv(w, &kv), QS_OK);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);
    free(sv.p);
    gguf_file *f = gguf_open(out, &err);
    assert_non_null(f);
    assert_int_equal(f->n_kv, 2);
    assert_int_equal(gguf_find_key(f, "a"), 0);
    char buf[16];
    assert_int_equal(gguf_get_cstr(f, "a", buf, sizeof buf), QS_OK);
    assert_string_equal(buf, "new");
    gguf_close(f);

    /* Paths that cannot work. */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/no/such/dir/x.gguf", qs_test_tmpdir());
    assert_null(gguf_writer_open(dir, 0, &err));
    assert_non_null(strstr(err.msg, "x.gguf"));
    assert_null(gguf_writer_open(qs_test_tmpdir(), 0, &err));
    assert_non_null(strstr(err.msg, "directory"));
}

/* PATH keeps its old content until finish; abort leaves no trace. */
static void test_writer_atomic(void **state) {
    (void)state;
    char out[512];
    tmp_path(out, sizeof out, "atomic.gguf");
    FILE *fp = fopen(out, "wb");
    assert_non_null(fp);
    fputs("old content", fp);
    fclose(fp);
    chmod(out, 0640);

    qs_error err;
    gguf_writer *w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);
    int64_t ne[1] = {1000};
    float *x = calloc(1000, sizeof *x);
    assert_int_equal(gguf_writer_set_str(w, "general.name", "new"), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "x", QS_TYPE_F32, 1, ne), QS_OK);
    assert_int_equal(gguf_writer_write(w, x, 2000), QS_OK);
    assert_int_equal(count_prefixed(qs_test_tmpdir(), "atomic.gguf.tmp."), 1);
    size_t n;
    uint8_t *old = read_all(out, &n);
    assert_int_equal(n, 11);
    assert_memory_equal(old, "old content", 11);
    free(old);
    gguf_writer_abort(w);
    assert_int_equal(count_prefixed(qs_test_tmpdir(), "atomic.gguf.tmp."), 0);
    old = read_all(out, &n);
    assert_int_equal(n, 11);
    free(old);

    w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);
    assert_int_equal(gguf_writer_add_tensor(w, "x", QS_TYPE_F32, 1, ne), QS_OK);
    assert_int_equal(gguf_writer_write(w, x, 4000), QS_OK);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);
    assert_int_equal(count_prefixed(qs_test_tmpdir(), "atomic.gguf.tmp."), 0);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640); /* the replaced file's mode is kept */
    gguf_file *f = gguf_open(out, &err);
    assert_non_null(f);
    assert_int_equal(f->n_tensors, 1);
    gguf_close(f);
    free(x);

    /* Abort right after open, and on a NULL writer. */
    w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);
    gguf_writer_abort(w);
    gguf_writer_abort(NULL);
    assert_int_equal(count_prefixed(qs_test_tmpdir(), "atomic.gguf.tmp."), 0);
}

/* A write error (EFBIG under a file size limit) is reported with the path and offset and the
 * temporary file is removed. Runs in a child: the limit is per process. */
static void test_writer_efbig(void **state) {
    (void)state;
    char out[512];
    tmp_path(out, sizeof out, "efbig.gguf");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {100000, 100000};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(10);
        qs_error err;
        gguf_writer *w = gguf_writer_open(out, 0, &err);
        if (!w) _exit(11);
        int64_t ne[1] = {1 << 20};
        if (gguf_writer_add_tensor(w, "big", QS_TYPE_F32, 1, ne) != QS_OK) _exit(12);
        float *buf = calloc(1 << 18, sizeof *buf);
        int rc = QS_OK;
        for (int i = 0; i < 4 && rc == QS_OK; i++) rc = gguf_writer_write(w, buf, (1u << 18) * 4);
        if (rc == QS_OK) _exit(13);
        const char *m = gguf_writer_error(w);
        if (!strstr(m, "efbig.gguf") || !strstr(m, "offset") || !strstr(m, strerror(EFBIG))) _exit(14);
        if (gguf_writer_write(w, buf, 4) != QS_ERR) _exit(15); /* stays failed */
        if (gguf_writer_finish(w, &err) != QS_ERR) _exit(16);
        if (!strstr(err.msg, strerror(EFBIG))) _exit(17);
        free(buf);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(exists(out));
    assert_int_equal(count_prefixed(qs_test_tmpdir(), "efbig.gguf.tmp"), 0);
}

/* ------------------------------------------------------------------ formatting */

static gguf_file *open_bytes(const bytes *b, qs_error *err) {
    return gguf_open_memory(b->p, b->n, "mem.gguf", err);
}

static void test_format_edges(void **state) {
    (void)state;
    bytes b = {0};
    b_put(&b, "GGUF", 4);
    b_u32(&b, 3);
    b_u64(&b, 0);
    b_u64(&b, 9);
    b_str(&b, "rope");
    b_u32(&b, GGUF_VT_FLOAT32);
    b_u32(&b, 0x48f42400u); /* 500000.0f */
    b_str(&b, "big");
    b_u32(&b, GGUF_VT_FLOAT64);
    double big = 1e20;
    b_put(&b, &big, 8);
    b_str(&b, "negzero");
    b_u32(&b, GGUF_VT_FLOAT32);
    b_u32(&b, 0x80000000u);
    b_str(&b, "long");
    b_u32(&b, GGUF_VT_STRING);
    b_str(&b, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"); /* €€€€€ */
    b_str(&b, "ctl");
    b_u32(&b, GGUF_VT_STRING);
    b_strn(&b, "a\tb\x01\xff\"\\", 7);
    b_str(&b, "many");
    b_u32(&b, GGUF_VT_ARRAY);
    b_u32(&b, GGUF_VT_UINT16);
    b_u64(&b, 17);
    for (int i = 0; i < 17; i++) b_put(&b, "\1\0", 2);
    b_str(&b, "sixteen");
    b_u32(&b, GGUF_VT_ARRAY);
    b_u32(&b, GGUF_VT_INT8);
    b_u64(&b, 16);
    for (int i = 0; i < 16; i++) b_u8(&b, (uint8_t)-i);
    b_str(&b, "f");
    b_u32(&b, GGUF_VT_FLOAT32);
    b_u32(&b, 0x7fc00000u); /* NaN */
    b_str(&b, "g");
    b_u32(&b, GGUF_VT_FLOAT64);
    double third = 1.0 / 3.0;
    b_put(&b, &third, 8);
    qs_error err;
    gguf_file *f = open_bytes(&b, &err);
    assert_non_null(f);
    char buf[128];
    format_kv(f, "long", buf, sizeof buf);
    assert_string_equal(buf, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac");
    format_kv(f, "long", buf, 10); /* 9 bytes of text: two 3-byte € and the 3-byte … */
    assert_string_equal(buf, "\xe2\x82\xac\xe2\x82\xac\xe2\x80\xa6");
    format_kv(f, "long", buf, 9); /* 8 bytes: a second € would leave no room for … */
    assert_string_equal(buf, "\xe2\x82\xac\xe2\x80\xa6");
    format_kv(f, "long", buf, 4);
    assert_string_equal(buf, "\xe2\x80\xa6");
    format_kv(f, "long", buf, 3);
    assert_string_equal(buf, "");
    format_kv(f, "long", buf, 1);
    assert_string_equal(buf, "");
    format_kv(f, "ctl", buf, sizeof buf);
    assert_string_equal(buf, "a\\tb\\x01\\xff\"\\\\");
    format_kv(f, "many", buf, sizeof buf);
    assert_string_equal(buf, "[17 x u16]");
    format_kv(f, "sixteen", buf, sizeof buf);
    assert_string_equal(buf, "[16 x i8: 0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15]");
    format_kv(f, "sixteen", buf, 24);
    assert_string_equal(buf, "[16 x i8: 0, -1, -2\xe2\x80\xa6");
    format_kv(f, "f", buf, sizeof buf);
    assert_string_equal(buf, "nan");
    format_kv(f, "g", buf, sizeof buf);
    assert_string_equal(buf, "0.3333333333333333");
    format_kv(f, "rope", buf, sizeof buf);
    assert_string_equal(buf, "500000");
    format_kv(f, "big", buf, sizeof buf);
    assert_string_equal(buf, "1e+20");
    format_kv(f, "negzero", buf, sizeof buf);
    assert_string_equal(buf, "-0");
    gguf_close(f);
    free(b.p);
}

/* ------------------------------------------------------------------ open errors, big vocab */

static void test_open_errors(void **state) {
    (void)state;
    qs_error err;
    char path[512];
    tmp_path(path, sizeof path, "does-not-exist.gguf");
    assert_null(gguf_open(path, &err));
    assert_non_null(strstr(err.msg, "does-not-exist.gguf"));
    assert_null(gguf_open(qs_test_tmpdir(), &err));
    assert_non_null(strstr(err.msg, "not a regular file"));
    tmp_path(path, sizeof path, "zero.gguf");
    FILE *fp = fopen(path, "wb");
    fclose(fp);
    assert_null(gguf_open(path, &err));
    assert_non_null(strstr(err.msg, "zero.gguf: offset 0:"));
    assert_null(gguf_open_memory(NULL, 0, NULL, &err));
    assert_non_null(strstr(err.msg, "offset 0"));
    assert_null(gguf_open(path, NULL)); /* err may be NULL */
}

/* A 150k-token vocabulary opens in one pass and walks back intact. */
static void test_big_vocab(void **state) {
    (void)state;
    enum { N = 150000 };
    char out[512];
    tmp_path(out, sizeof out, "vocab.gguf");
    qs_error err;
    char **strs = malloc(N * sizeof *strs);
    for (int i = 0; i < N; i++) {
        strs[i] = malloc(24);
        snprintf(strs[i], 24, "tok%d", i);
    }
    float *scores = malloc(N * sizeof *scores);
    for (int i = 0; i < N; i++) scores[i] = (float)-i;
    gguf_writer *w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);
    assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)strs, N), QS_OK);
    assert_int_equal(gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, N), QS_OK);
    assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)strs, N), QS_OK);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    gguf_file *f = gguf_open(out, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_non_null(f);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    print_message("  open of a %d-token vocabulary file: %.2f ms\n", N, ms);
    const gguf_kv *tok = gguf_get_arr(f, "tokenizer.ggml.tokens");
    assert_non_null(tok);
    assert_int_equal(tok->arr_count, N);
    gguf_arr_iter it;
    gguf_str s;
    gguf_arr_begin(tok, &it);
    for (int i = 0; gguf_arr_next(&it, NULL, &s, NULL); i++) {
        assert_int_equal(s.len, strlen(strs[i]));
        assert_memory_equal(s.ptr, strs[i], s.len);
    }
    assert_int_equal(it.index, N);
    double d;
    assert_int_equal(gguf_arr_num(gguf_get_arr(f, "tokenizer.ggml.scores"), N - 1, &d), QS_OK);
    assert_true(d == -(double)(N - 1));
    gguf_close(f);
    for (int i = 0; i < N; i++) free(strs[i]);
    free(strs);
    free(scores);
}

/* A real 128k-token BPE vocabulary (metadata only, no tensors) opens and copies intact. */
static void test_vocab_llama_bpe(void **state) {
    (void)state;
    char path[512], out[512];
    if (!qs_test_shared_path("vocab/ggml-vocab-llama-bpe.gguf", path, sizeof path)) return;
    qs_error err;
    gguf_file *f = gguf_open(path, &err);
    assert_non_null(f);
    assert_int_equal(f->n_tensors, 0);
    assert_int_equal(f->n_kv, 20);
    const gguf_kv *tok = gguf_get_arr(f, "tokenizer.ggml.tokens");
    const gguf_kv *mer = gguf_get_arr(f, "tokenizer.ggml.merges");
    assert_non_null(tok);
    assert_non_null(mer);
    assert_int_equal(tok->arr_count, 128256);
    assert_int_equal(mer->arr_count, 280147);
    gguf_arr_iter it;
    gguf_str s = {0};
    gguf_arr_begin(tok, &it);
    for (uint64_t i = 0; i <= 128000; i++) assert_true(gguf_arr_next(&it, NULL, &s, NULL));
    assert_true(str_eq(s, "<|begin_of_text|>"));
    gguf_arr_begin(mer, &it);
    assert_true(gguf_arr_next(&it, NULL, &s, NULL));
    assert_true(str_eq(s, "\xc4\xa0 \xc4\xa0")); /* "Ġ Ġ" */
    /* The file ends right after its metadata; the data section is empty. */
    assert_int_equal(f->data_offset, f->file_size);

    tmp_path(out, sizeof out, "vocab_copy.gguf");
    gguf_writer *w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);
    for (int64_t i = 0; i < f->n_kv; i++) assert_int_equal(gguf_writer_copy_kv(w, &f->kv[i]), QS_OK);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);
    gguf_file *g = gguf_open(out, &err);
    assert_non_null(g);
    /* Same bytes, then the zero padding ggml's writer adds after the metadata. */
    assert_int_equal(g->file_size, (f->file_size + 31) / 32 * 32);
    assert_memory_equal(g->map, f->map, f->file_size);
    for (uint64_t i = f->file_size; i < g->file_size; i++) assert_int_equal(g->map[i], 0);
    gguf_close(g);
    gguf_close(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories_facts),
        cmocka_unit_test(test_stories_format),
        cmocka_unit_test(test_stories_copy),
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_writer_alignment),
        cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_writer_atomic),
        cmocka_unit_test(test_writer_efbig),
        cmocka_unit_test(test_format_edges),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_advise_stream),
        cmocka_unit_test(test_big_vocab),
        cmocka_unit_test(test_vocab_llama_bpe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
