/* GGUF reader and writer: a real model, round trips, and a corpus of malformed files. */
#include "qs_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gguf.h"
#include "qs_types.h"

/* ---------------------------------------------------------------- the real model */

static void test_stories260k(void **state) {
    (void)state;
    char path[512];
    if (!qs_test_shared_path("models/stories260K.gguf", path, sizeof path)) return;
    qs_error err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    assert_non_null(f);
    assert_int_equal(f->version, 3);
    assert_int_equal(f->n_tensors, 48);
    assert_int_equal(f->file_size, 1185376);
    int64_t v;
    assert_int_equal(gguf_get_int(f, "llama.block_count", &v), QS_OK);
    assert_int_equal(v, 5);
    assert_int_equal(gguf_get_int(f, "llama.embedding_length", &v), QS_OK);
    assert_int_equal(v, 64);
    assert_int_equal(gguf_get_int(f, "llama.attention.head_count", &v), QS_OK);
    assert_int_equal(v, 8);
    assert_int_equal(gguf_get_int(f, "llama.attention.head_count_kv", &v), QS_OK);
    assert_int_equal(v, 4);
    assert_int_equal(gguf_get_int(f, "llama.feed_forward_length", &v), QS_OK);
    assert_int_equal(v, 172);
    assert_int_equal(gguf_get_int(f, "llama.context_length", &v), QS_OK);
    assert_int_equal(v, 2048);
    char arch[32];
    assert_int_equal(gguf_get_cstr(f, "general.architecture", arch, sizeof arch), QS_OK);
    assert_string_equal(arch, "llama");
    const gguf_kv *tok = gguf_get_arr(f, "tokenizer.ggml.tokens");
    assert_non_null(tok);
    assert_int_equal(tok->arr_type, GGUF_VT_STRING);
    assert_int_equal(tok->arr_count, 512);
    /* walk the whole array: 512 strings, the iterator ends exactly at the end */
    gguf_arr_iter it;
    gguf_arr_begin(tok, &it);
    gguf_str s;
    int n = 0;
    while (gguf_arr_next(&it, NULL, &s, NULL)) n++;
    assert_int_equal(n, 512);
    assert_ptr_equal(it.p, it.end);
    const gguf_kv *scores = gguf_get_arr(f, "tokenizer.ggml.scores");
    assert_non_null(scores);
    double d;
    assert_int_equal(gguf_arr_num(scores, 511, &d), QS_OK);
    assert_int_equal(gguf_arr_num(scores, 512, &d), QS_ERR);

    int64_t params = 0;
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        params += t->n_elements;
        assert_int_equal(t->type, QS_TYPE_F32);
        assert_true(t->data >= f->map + f->data_offset);
        assert_true(t->data + t->nbytes <= f->map + f->file_size);
        assert_int_equal((uint64_t)(t->data - f->map) % f->alignment, 0);
        assert_int_equal(t->nbytes, (uint64_t)t->n_elements * 4);
    }
    assert_int_equal(params, 292800);
    int64_t te = gguf_find_tensor(f, "token_embd.weight");
    assert_true(te >= 0);
    assert_int_equal(f->tensors[te].n_dims, 2);
    assert_int_equal(f->tensors[te].ne[0], 64);
    assert_int_equal(f->tensors[te].ne[1], 512);
    assert_int_equal(gguf_find_tensor(f, "blk.4.ffn_down.weight") >= 0, 1);
    assert_int_equal(gguf_find_tensor(f, "blk.5.ffn_down.weight"), -1);
    assert_int_equal(gguf_find_tensor(f, "token_embd"), -1);

    char buf[128];
    gguf_kv_format(&f->kv[gguf_find_key(f, "llama.block_count")], buf, sizeof buf);
    assert_string_equal(buf, "5");
    gguf_kv_format(tok, buf, sizeof buf);
    assert_true(strncmp(buf, "[512 x string: ", 15) == 0);
    gguf_close(f);
}

/* Copy every key and tensor of the real model; the copy must reopen identical. */
static void test_copy_stories260k(void **state) {
    (void)state;
    char path[512], out[600];
    if (!qs_test_shared_path("models/stories260K.gguf", path, sizeof path)) return;
    snprintf(out, sizeof out, "%s/copy.gguf", qs_test_tmpdir());
    qs_error err;
    gguf_file *f = gguf_open(path, &err);
    assert_non_null(f);
    gguf_writer *w = gguf_writer_open(out, f->alignment, &err);
    assert_non_null(w);
    for (int64_t i = 0; i < f->n_kv; i++) assert_int_equal(gguf_writer_copy_kv(w, &f->kv[i]), QS_OK);
    for (int64_t i = 0; i < f->n_tensors; i++) {
        char name[64];
        memcpy(name, f->tensors[i].name.ptr, f->tensors[i].name.len);
        name[f->tensors[i].name.len] = 0;
        assert_int_equal(gguf_writer_add_tensor(w, name, f->tensors[i].type, f->tensors[i].n_dims, f->tensors[i].ne), QS_OK);
    }
    for (int64_t i = 0; i < f->n_tensors; i++) /* in two chunks to exercise chunking */
        assert_int_equal(gguf_writer_write(w, f->tensors[i].data, f->tensors[i].nbytes / 2), QS_OK),
            assert_int_equal(gguf_writer_write(w, f->tensors[i].data + f->tensors[i].nbytes / 2,
                                               f->tensors[i].nbytes - f->tensors[i].nbytes / 2), QS_OK);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);

    gguf_file *g = gguf_open(out, &err);
    assert_non_null(g);
    assert_int_equal(g->n_kv, f->n_kv);
    assert_int_equal(g->n_tensors, f->n_tensors);
    for (int64_t i = 0; i < f->n_kv; i++) {
        assert_int_equal(g->kv[i].key.len, f->kv[i].key.len);
        assert_memory_equal(g->kv[i].key.ptr, f->kv[i].key.ptr, f->kv[i].key.len);
        assert_int_equal(g->kv[i].type, f->kv[i].type);
        assert_int_equal(g->kv[i].data_bytes, f->kv[i].data_bytes);
        assert_memory_equal(g->kv[i].data, f->kv[i].data, f->kv[i].data_bytes);
    }
    for (int64_t i = 0; i < f->n_tensors; i++) {
        assert_int_equal(g->tensors[i].nbytes, f->tensors[i].nbytes);
        assert_memory_equal(g->tensors[i].data, f->tensors[i].data, f->tensors[i].nbytes);
    }
    /* the file is the same size as llama.cpp's layout (consecutive padded tensors) */
    assert_int_equal(g->file_size, f->file_size);
    gguf_close(g);
    gguf_close(f);
}

/* ---------------------------------------------------------------- writer round trip */

/* A small file with every value type, nested arrays, awkward strings and quantized tensors. */
static void write_sample(const char *out) {
    qs_error err;
    gguf_writer *w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);
    assert_int_equal(gguf_writer_set_str(w, "general.architecture", "llama"), QS_OK);
    assert_int_equal(gguf_writer_set_u32(w, "a.u32", 4000000000u), QS_OK);
    assert_int_equal(gguf_writer_set_i32(w, "a.i32", -7), QS_OK);
    assert_int_equal(gguf_writer_set_u64(w, "a.u64", 1ull << 60), QS_OK);
    assert_int_equal(gguf_writer_set_f32(w, "a.f32", 1e-5f), QS_OK);
    assert_int_equal(gguf_writer_set_bool(w, "a.bool", true), QS_OK);
    assert_int_equal(gguf_writer_set_str(w, "a.utf8", "h\xc3\xa9llo \xf0\x9f\xa6\x99"), QS_OK);
    int32_t ints[3] = {1, -2, 3};
    assert_int_equal(gguf_writer_set_arr(w, "a.ints", GGUF_VT_INT32, ints, 3), QS_OK);
    const char *strs[] = {"", "a", "bc"};
    assert_int_equal(gguf_writer_set_arr_str(w, "a.strs", strs, 3), QS_OK);
    assert_int_equal(gguf_writer_set_str(w, "a.utf8", "replaced"), QS_OK); /* replace keeps position */
    int64_t ne1[2] = {64, 3}, ne2[2] = {256, 2}, ne3[1] = {5};
    assert_int_equal(gguf_writer_add_tensor(w, "t.q4_0", QS_TYPE_Q4_0, 2, ne1), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "t.q4_k", QS_TYPE_Q4_K, 2, ne2), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "t.f16", QS_TYPE_F16, 1, ne3), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "t.f16", QS_TYPE_F16, 1, ne3), QS_ERR); /* duplicate */
    assert_non_null(strstr(gguf_writer_error(w), "duplicate tensor name"));
    gguf_writer_abort(w);

    w = gguf_writer_open(out, 0, &err);
    assert_non_null(w);
    assert_int_equal(gguf_writer_set_str(w, "general.architecture", "llama"), QS_OK);
    assert_int_equal(gguf_writer_set_u32(w, "a.u32", 4000000000u), QS_OK);
    assert_int_equal(gguf_writer_set_i32(w, "a.i32", -7), QS_OK);
    assert_int_equal(gguf_writer_set_u64(w, "a.u64", 1ull << 60), QS_OK);
    assert_int_equal(gguf_writer_set_f32(w, "a.f32", 1e-5f), QS_OK);
    assert_int_equal(gguf_writer_set_bool(w, "a.bool", true), QS_OK);
    assert_int_equal(gguf_writer_set_str(w, "a.utf8", "h\xc3\xa9llo \xf0\x9f\xa6\x99"), QS_OK);
    assert_int_equal(gguf_writer_set_arr(w, "a.ints", GGUF_VT_INT32, ints, 3), QS_OK);
    assert_int_equal(gguf_writer_set_arr_str(w, "a.strs", strs, 3), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "t.q4_0", QS_TYPE_Q4_0, 2, ne1), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "t.q4_k", QS_TYPE_Q4_K, 2, ne2), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "t.f16", QS_TYPE_F16, 1, ne3), QS_OK);
    uint8_t data[2 * 144];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(gguf_writer_write(w, data, 3 * 2 * 18), QS_OK);
    assert_int_equal(gguf_writer_set_u32(w, "late", 1), QS_ERR); /* metadata after data */
    gguf_writer_abort(w);
}

static void test_writer_round_trip(void **state) {
    (void)state;
    char out[600];
    snprintf(out, sizeof out, "%s/sample.gguf", qs_test_tmpdir());
    write_sample(out);
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0); /* aborted writers leave nothing */

    qs_error err;
    gguf_writer *w = gguf_writer_open(out, 64, &err);
    assert_non_null(w);
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u32(w, "a.u32", 4000000000u);
    gguf_writer_set_i32(w, "a.i32", -7);
    gguf_writer_set_f32(w, "a.f32", 1e-5f);
    gguf_writer_set_bool(w, "a.bool", false);
    int32_t ints[3] = {1, -2, 3};
    gguf_writer_set_arr(w, "a.ints", GGUF_VT_INT32, ints, 3);
    const char *strs[] = {"", "a", "b\xc3\xa9"};
    gguf_writer_set_arr_str(w, "a.strs", strs, 3);
    int64_t ne1[2] = {64, 3}, ne2[2] = {256, 2};
    assert_int_equal(gguf_writer_add_tensor(w, "t.q4_0", QS_TYPE_Q4_0, 2, ne1), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "t.q4_k", QS_TYPE_Q4_K, 2, ne2), QS_OK);
    uint8_t d1[108], d2[288];
    for (size_t i = 0; i < sizeof d1; i++) d1[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof d2; i++) d2[i] = (uint8_t)(255 - i);
    assert_int_equal(gguf_writer_write(w, d1, sizeof d1), QS_OK);
    assert_int_equal(gguf_writer_write(w, d2, 100), QS_OK);
    /* finishing with a tensor incomplete fails and removes the temporary file */
    assert_int_equal(gguf_writer_finish(w, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "incomplete"));
    assert_int_not_equal(stat(out, &st), 0);

    w = gguf_writer_open(out, 64, &err);
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_i32(w, "a.i32", -7);
    gguf_writer_set_f32(w, "a.f32", 1e-5f);
    gguf_writer_set_arr(w, "a.ints", GGUF_VT_INT32, ints, 3);
    gguf_writer_set_arr_str(w, "a.strs", strs, 3);
    gguf_writer_add_tensor(w, "t.q4_0", QS_TYPE_Q4_0, 2, ne1);
    gguf_writer_add_tensor(w, "t.q4_k", QS_TYPE_Q4_K, 2, ne2);
    gguf_writer_write(w, d1, sizeof d1);
    gguf_writer_write(w, d2, sizeof d2);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);

    gguf_file *f = gguf_open(out, &err);
    assert_non_null(f);
    assert_int_equal(f->alignment, 32); /* the alignment key was not written: readers assume 32 */
    gguf_close(f);
}

/* ---------------------------------------------------------------- malformed files */

/* Builds a small valid image by hand, recording section boundaries. */
typedef struct img {
    uint8_t b[4096];
    size_t n;
} img;

static void put(img *m, const void *p, size_t n) {
    memcpy(m->b + m->n, p, n);
    m->n += n;
}
static void put_u32(img *m, uint32_t v) { put(m, &v, 4); }
static void put_u64(img *m, uint64_t v) { put(m, &v, 8); }
static void put_str(img *m, const char *s) {
    put_u64(m, strlen(s));
    put(m, s, strlen(s));
}

enum { OFF_NT = 8, OFF_NKV = 16 };
static size_t off_kv1_type, off_arr_count, off_t1_ndims, off_t1_dim0, off_t1_type, off_t1_offset, off_t2_name;

static void build_valid(img *m) {
    memset(m, 0, sizeof *m);
    put(m, "GGUF", 4);
    put_u32(m, 3);
    put_u64(m, 2); /* tensors */
    put_u64(m, 3); /* kvs */
    put_str(m, "general.architecture");
    off_kv1_type = m->n;
    put_u32(m, GGUF_VT_STRING);
    put_str(m, "llama");
    put_str(m, "x.nested");
    put_u32(m, GGUF_VT_ARRAY);
    put_u32(m, GGUF_VT_ARRAY);
    off_arr_count = m->n;
    put_u64(m, 1);
    put_u32(m, GGUF_VT_UINT8);
    put_u64(m, 2);
    uint8_t two[2] = {1, 2};
    put(m, two, 2);
    put_str(m, "x.flag");
    put_u32(m, GGUF_VT_BOOL);
    uint8_t one = 1;
    put(m, &one, 1);
    put_str(m, "a");
    off_t1_ndims = m->n;
    put_u32(m, 2);
    off_t1_dim0 = m->n;
    put_u64(m, 32);
    put_u64(m, 2);
    off_t1_type = m->n;
    put_u32(m, QS_TYPE_Q4_0);
    off_t1_offset = m->n;
    put_u64(m, 0);
    off_t2_name = m->n;
    put_str(m, "b");
    put_u32(m, 1);
    put_u64(m, 8);
    put_u32(m, QS_TYPE_F32);
    put_u64(m, 64); /* 36 bytes of a, padded to 64 */
    while (m->n % 32) m->b[m->n++] = 0;
    for (int i = 0; i < 64 + 32; i++) m->b[m->n++] = (uint8_t)i;
}

static void expect_error(const img *m, size_t n, const char *what) {
    qs_error err = {{0}};
    gguf_file *f = gguf_open_memory(m->b, n, "bad.gguf", &err);
    if (f) fail_msg("accepted a malformed file (%s)", what);
    if (!strstr(err.msg, "bad.gguf") || !strstr(err.msg, "offset"))
        fail_msg("message for %s lacks name or offset: %s", what, err.msg);
}

static void test_valid_image(void **state) {
    (void)state;
    img m;
    build_valid(&m);
    qs_error err;
    gguf_file *f = gguf_open_memory(m.b, m.n, "ok.gguf", &err);
    if (!f) fail_msg("%s", err.msg);
    assert_int_equal(f->n_tensors, 2);
    assert_int_equal(f->tensors[1].nbytes, 32);
    const gguf_kv *kv = gguf_get_arr(f, "x.nested");
    gguf_arr_iter it, sub;
    gguf_arr_begin(kv, &it);
    assert_true(gguf_arr_next(&it, NULL, NULL, &sub));
    const uint8_t *d;
    assert_int_equal(sub.count, 2);
    assert_true(gguf_arr_next(&sub, &d, NULL, NULL));
    assert_int_equal(*d, 1);
    bool b;
    assert_int_equal(gguf_get_bool(f, "x.flag", &b), QS_OK);
    assert_true(b);
    gguf_close(f);
}

static void test_truncation_everywhere(void **state) {
    (void)state;
    img m;
    build_valid(&m);
    /* every prefix shorter than the end of the last tensor's data must be refused */
    size_t data_end = m.n - 32 + 32; /* b ends at data start + 96 */
    for (size_t n = 0; n < data_end; n++) {
        qs_error err = {{0}};
        gguf_file *f = gguf_open_memory(m.b, n, "cut.gguf", &err);
        if (f) fail_msg("accepted a file cut at %zu of %zu", n, m.n);
        assert_non_null(strstr(err.msg, "cut.gguf"));
    }
}

static void set_u64(img *m, size_t off, uint64_t v) { memcpy(m->b + off, &v, 8); }
static void set_u32(img *m, size_t off, uint32_t v) { memcpy(m->b + off, &v, 4); }

static void test_corrupt_fields(void **state) {
    (void)state;
    img m;
    struct {
        const char *what;
        size_t off;
        int width;
        uint64_t v;
    } cases[] = {
        {"bad magic", 0, 4, 0x46554748},
        {"version 1", 4, 4, 1},
        {"version 4", 4, 4, 4},
        {"big-endian version", 4, 4, 0x03000000},
        {"tensor count 2^63", OFF_NT, 8, 1ull << 63},
        {"tensor count 2^64-1", OFF_NT, 8, UINT64_MAX},
        {"kv count 2^64-1", OFF_NKV, 8, UINT64_MAX},
        {"huge key length", 24, 8, UINT64_MAX - 3},
        {"bad value type", 0, 4, 13},
        {"array count overflow", 0, 8, 1ull << 62},
        {"n_dims 0 with", 0, 4, 5},
        {"dim product overflow", 0, 8, 1ull << 62},
        {"row not a multiple of the block", 0, 8, 31},
        {"tensor type 4", 0, 4, 4},
        {"tensor type 31", 0, 4, 31},
        {"tensor type 200", 0, 4, 200},
        {"misaligned offset", 0, 8, 8},
        {"offset out of bounds", 0, 8, 1ull << 40},
    };
    cases[8].off = off_kv1_type;
    cases[9].off = off_arr_count;
    cases[10].off = off_t1_ndims;
    cases[11].off = off_t1_dim0;
    cases[12].off = off_t1_dim0;
    cases[13].off = cases[14].off = cases[15].off = off_t1_type;
    cases[16].off = cases[17].off = off_t1_offset;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        build_valid(&m);
        if (cases[i].width == 4) set_u32(&m, cases[i].off, (uint32_t)cases[i].v);
        else set_u64(&m, cases[i].off, cases[i].v);
        expect_error(&m, m.n, cases[i].what);
    }
    /* n_dims 5 */
    build_valid(&m);
    set_u32(&m, off_t1_ndims, 5);
    expect_error(&m, m.n, "n_dims 5");
    /* duplicate tensor name: rename b to a */
    build_valid(&m);
    m.b[off_t2_name + 8] = 'a';
    expect_error(&m, m.n, "duplicate tensor");
    /* duplicate key */
    {
        img d;
        memset(&d, 0, sizeof d);
        put(&d, "GGUF", 4);
        put_u32(&d, 3);
        put_u64(&d, 0);
        put_u64(&d, 2);
        put_str(&d, "k");
        put_u32(&d, GGUF_VT_UINT8);
        uint8_t z = 0;
        put(&d, &z, 1);
        put_str(&d, "k");
        put_u32(&d, GGUF_VT_UINT8);
        put(&d, &z, 1);
        expect_error(&d, d.n, "duplicate key");
    }
    /* overlapping tensors: b's offset set to 0, same as a */
    build_valid(&m);
    {
        size_t b_off = off_t2_name + 8 + 1 + 4 + 8 + 4;
        set_u64(&m, b_off, 0);
        expect_error(&m, m.n, "overlap");
    }
    /* bool not 0/1 */
    build_valid(&m);
    m.b[off_t1_ndims - 8 - 1 - 1] = 7; /* the x.flag byte sits just before tensor a's name */
    expect_error(&m, m.n, "bool 7");
    /* nesting depth 9 */
    {
        img d;
        memset(&d, 0, sizeof d);
        put(&d, "GGUF", 4);
        put_u32(&d, 3);
        put_u64(&d, 0);
        put_u64(&d, 1);
        put_str(&d, "deep");
        put_u32(&d, GGUF_VT_ARRAY);
        for (int k = 0; k < 9; k++) {
            put_u32(&d, GGUF_VT_ARRAY);
            put_u64(&d, 1);
        }
        put_u32(&d, GGUF_VT_UINT8);
        put_u64(&d, 0);
        expect_error(&d, d.n, "nesting 9");
    }
    /* bad alignment values */
    for (uint32_t a = 0; a < 4; a += 3) {
        img d;
        memset(&d, 0, sizeof d);
        put(&d, "GGUF", 4);
        put_u32(&d, 3);
        put_u64(&d, 0);
        put_u64(&d, 1);
        put_str(&d, "general.alignment");
        put_u32(&d, GGUF_VT_UINT32);
        put_u32(&d, a);
        expect_error(&d, d.n, "bad alignment");
    }
}

static void test_random_flips(void **state) {
    (void)state;
    img base, m;
    build_valid(&base);
    uint64_t s = 12345;
    int opened = 0;
    for (int iter = 0; iter < 20000; iter++) {
        m = base;
        int flips = 1 + (int)(qs_test_rng(&s) % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)(qs_test_rng(&s) % base.n);
            m.b[at] = (uint8_t)qs_test_rng(&s);
        }
        size_t n = (qs_test_rng(&s) & 7) == 0 ? (size_t)(qs_test_rng(&s) % base.n) : base.n;
        qs_error err = {{0}};
        gguf_file *f = gguf_open_memory(m.b, n, "flip.gguf", &err);
        if (f) { /* whatever opened must be walkable without reading outside the buffer */
            opened++;
            for (int64_t i = 0; i < f->n_kv; i++) {
                char buf[256];
                gguf_kv_format(&f->kv[i], buf, sizeof buf);
            }
            for (int64_t i = 0; i < f->n_tensors; i++)
                assert_true(f->tensors[i].data + f->tensors[i].nbytes <= m.b + n);
            gguf_close(f);
        } else {
            assert_non_null(strstr(err.msg, "flip.gguf"));
        }
    }
    assert_true(opened > 0); /* flips in tensor data leave valid files */
}

static void test_open_errors(void **state) {
    (void)state;
    qs_error err;
    assert_null(gguf_open("/nonexistent/x.gguf", &err));
    assert_non_null(strstr(err.msg, "/nonexistent/x.gguf"));
    assert_null(gguf_open("/tmp", &err));
    assert_non_null(strstr(err.msg, "not a regular file"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k),      cmocka_unit_test(test_copy_stories260k),
        cmocka_unit_test(test_writer_round_trip), cmocka_unit_test(test_valid_image),
        cmocka_unit_test(test_truncation_everywhere), cmocka_unit_test(test_corrupt_fields),
        cmocka_unit_test(test_random_flips),     cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
