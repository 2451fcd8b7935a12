/* make_seeds.c — writes the GGUF and plan seed corpora of the fuzzers with our own code.
 *
 * Usage: fuzz_make_seeds CORPUS_DIR   (writes CORPUS_DIR/gguf/, plan/, imatrix/ and tok/)
 *
 * GGUF seeds are small (a few hundred bytes to a few KiB) so that mutations stay cheap:
 *   kv_all.gguf       one key of every value type, nested arrays, general.alignment
 *   t_<TYPE>.gguf     one tensor of one block of each type we can read, valid data
 *   vocab_spm.gguf    a tiny SentencePiece vocabulary (byte fallback, control tokens)
 *   vocab_bpe.gguf    a tiny byte-level BPE vocabulary with merges
 *   model_llama.gguf  a 2-block llama model description with small tensors
 *   model_infer.gguf  a complete 1-block llama the inference engine loads (Q4_0/Q8_0 weights)
 * imatrix seeds: imatrix/im.gguf (two weights, one with 2 experts, metadata) and im.dat (legacy).
 * tokenizer seed: tok/ids.bin (a list of ids to decode; the text seeds are hand-written).
 * Plan seeds are plans built through the qs_plan API and formatted with qs_plan_format.
 * Everything is deterministic: running it twice gives the same bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gguf.h"
#include "qs_fp16.h"
#include "qs_plan.h"
#include "qs_quantize.h"
#include "qs_types.h"

static uint64_t rng_state = 0x1234567890abcdefull;
static uint64_t rng(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float frand(void) { return (float)((rng() >> 40) / 16777216.0) * 2.0f - 1.0f; }

static void die(const char *what, const char *msg) {
    fprintf(stderr, "fuzz_make_seeds: %s: %s\n", what, msg);
    exit(1);
}

static void check(gguf_writer *w, int rc, const char *what) {
    if (rc != QS_OK) die(what, gguf_writer_error(w));
}

static void finish(gguf_writer *w) {
    qs_error err;
    if (gguf_writer_finish(w, &err) != QS_OK) die("finish", err.msg);
}

static gguf_writer *wopen(const char *dir, const char *name, uint32_t align) {
    char path[1024];
    qs_error err;
    snprintf(path, sizeof path, "%s/gguf/%s", dir, name);
    gguf_writer *w = gguf_writer_open(path, align, &err);
    if (!w) die(path, err.msg);
    return w;
}

static void seed_kv_all(const char *dir) {
    gguf_writer *w = wopen(dir, "kv_all.gguf", 0);
    uint8_t u8 = 200;
    int8_t i8 = -5;
    uint16_t u16 = 60000;
    int16_t i16 = -3000;
    int64_t i64 = -(1ll << 40);
    uint64_t u64 = 1ull << 63;
    double f64 = 1e-300;
    check(w, gguf_writer_set_str(w, "general.architecture", "llama"), "arch");
    check(w, gguf_writer_set_u32(w, "general.alignment", 64), "alignment");
    check(w, gguf_writer_set_scalar(w, "t.u8", GGUF_VT_UINT8, &u8), "u8");
    check(w, gguf_writer_set_scalar(w, "t.i8", GGUF_VT_INT8, &i8), "i8");
    check(w, gguf_writer_set_scalar(w, "t.u16", GGUF_VT_UINT16, &u16), "u16");
    check(w, gguf_writer_set_scalar(w, "t.i16", GGUF_VT_INT16, &i16), "i16");
    check(w, gguf_writer_set_i32(w, "t.i32", -7), "i32");
    check(w, gguf_writer_set_f32(w, "t.f32", 1e-5f), "f32");
    check(w, gguf_writer_set_bool(w, "t.bool", true), "bool");
    check(w, gguf_writer_set_strn(w, "t.str", "a\0b\xe2\x96\x81\xff", 7), "str");
    check(w, gguf_writer_set_scalar(w, "t.u64", GGUF_VT_UINT64, &u64), "u64");
    check(w, gguf_writer_set_scalar(w, "t.i64", GGUF_VT_INT64, &i64), "i64");
    check(w, gguf_writer_set_scalar(w, "t.f64", GGUF_VT_FLOAT64, &f64), "f64");
    int32_t ai[5] = {1, -2, 3, 2147483647, -2147483647 - 1};
    check(w, gguf_writer_set_arr(w, "t.arr_i32", GGUF_VT_INT32, ai, 5), "arr i32");
    float af[3] = {0.5f, -1e30f, 3.0f};
    check(w, gguf_writer_set_arr(w, "t.arr_f32", GGUF_VT_FLOAT32, af, 3), "arr f32");
    uint8_t ab[4] = {0, 1, 1, 0};
    check(w, gguf_writer_set_arr(w, "t.arr_bool", GGUF_VT_BOOL, ab, 4), "arr bool");
    const char *as[4] = {"", "x", "\xe2\x96\x81hello", "<|eot_id|>"};
    check(w, gguf_writer_set_arr_str(w, "t.arr_str", as, 4), "arr str");
    /* an array of two arrays: [u8 x2], [string x1] */
    uint8_t nested[] = {
        GGUF_VT_ARRAY, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,                       /* 2 arrays */
        GGUF_VT_UINT8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7, 9,                  /* [7, 9] */
        GGUF_VT_STRING, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 'h', 'i',
    };
    check(w, gguf_writer_set_raw(w, "t.nested", GGUF_VT_ARRAY, nested, sizeof nested), "nested");
    finish(w);
}

/* One tensor of one block (or 8 values for plain types) of type t, data made by quantizing
 * random values when we can, else random bytes with sane fp16 scales where a block starts
 * with one. */
static void seed_type(const char *dir, int t) {
    const qs_type_traits *tr = qs_type_traits_get(t);
    if (!tr || !qs_type_can_read(t)) return;
    int64_t n = tr->blck_size > 1 ? tr->blck_size : 8;
    uint64_t bytes = qs_type_row_bytes(t, n);
    uint8_t *data = malloc(bytes);
    float x[256];
    for (int64_t i = 0; i < n; i++) x[i] = frand();
    qs_quantize_opts o = {.n_threads = 1};
    qs_error err;
    if (!qs_type_can_quantize(t) || qs_quantize_rows((qs_type)t, x, data, n, 1, NULL, &o, &err) != QS_OK) {
        for (uint64_t i = 0; i < bytes; i++) data[i] = (uint8_t)rng();
        if (tr->quantized && bytes >= 2) {
            qs_fp16 h = qs_f32_to_fp16(0.01f);
            memcpy(data, &h, 2);
        }
    }
    char name[64];
    snprintf(name, sizeof name, "t_%s.gguf", tr->name);
    gguf_writer *w = wopen(dir, name, 0);
    int64_t ne[2] = {n, 1};
    check(w, gguf_writer_add_tensor(w, "blk.0.attn_q.weight", t, 2, ne), "tensor");
    check(w, gguf_writer_write(w, data, bytes), "data");
    finish(w);
    free(data);
}

static void seed_vocab_spm(const char *dir) {
    gguf_writer *w = wopen(dir, "vocab_spm.gguf", 0);
    const char *tok[] = {"<unk>", "<s>", "</s>", "<0x0A>", "<0x41>", "<0xE2>", "\xe2\x96\x81",
                         "\xe2\x96\x81t", "he", "\xe2\x96\x81the", "l", "o", "lo", "hel", "h", "e",
                         "t", "\xe2\x96\x81H", "<|user|>", "!"};
    int n = (int)(sizeof tok / sizeof tok[0]);
    float sc[32];
    int32_t ty[32];
    for (int i = 0; i < n; i++) {
        sc[i] = -(float)i;
        ty[i] = i == 0 ? 2 : i < 3 ? 3 : i < 6 ? 6 : i == 18 ? 4 : 1;
    }
    check(w, gguf_writer_set_str(w, "tokenizer.ggml.model", "llama"), "model");
    check(w, gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, (uint64_t)n), "tokens");
    check(w, gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, sc, (uint64_t)n), "scores");
    check(w, gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, ty, (uint64_t)n), "types");
    check(w, gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1), "bos");
    check(w, gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2), "eos");
    check(w, gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0), "unk");
    check(w, gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true), "add_bos");
    finish(w);
}

static void seed_vocab_bpe(const char *dir) {
    gguf_writer *w = wopen(dir, "vocab_bpe.gguf", 0);
    const char *tok[] = {"!", "a", "b", "h", "e", "l", "o", "\xc4\xa0", "\xc4\xa0h", "he",
                         "ll", "hell", "hello", "\xc4\x8a", "<|endoftext|>", "<|im_start|>"};
    const char *merges[] = {"h e", "l l", "he ll", "hell o", "\xc4\xa0 h"};
    int n = (int)(sizeof tok / sizeof tok[0]);
    int32_t ty[16];
    for (int i = 0; i < n; i++) ty[i] = i >= 14 ? 3 : 1;
    check(w, gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"), "model");
    check(w, gguf_writer_set_str(w, "tokenizer.ggml.pre", "qwen2"), "pre");
    check(w, gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tok, (uint64_t)n), "tokens");
    check(w, gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, ty, (uint64_t)n), "types");
    check(w, gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 5), "merges");
    check(w, gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 14), "eos");
    finish(w);
}

static void seed_model(const char *dir) {
    gguf_writer *w = wopen(dir, "model_llama.gguf", 0);
    check(w, gguf_writer_set_str(w, "general.architecture", "llama"), "arch");
    check(w, gguf_writer_set_str(w, "general.name", "seed"), "name");
    check(w, gguf_writer_set_u32(w, "general.file_type", 1), "ftype");
    check(w, gguf_writer_set_u32(w, "llama.block_count", 2), "layers");
    check(w, gguf_writer_set_u32(w, "llama.context_length", 128), "ctx");
    check(w, gguf_writer_set_u32(w, "llama.embedding_length", 32), "embd");
    check(w, gguf_writer_set_u32(w, "llama.feed_forward_length", 64), "ff");
    int32_t heads[2] = {4, 2};
    check(w, gguf_writer_set_arr(w, "llama.attention.head_count", GGUF_VT_INT32, heads, 2), "heads");
    check(w, gguf_writer_set_u32(w, "llama.attention.head_count_kv", 2), "kv heads");
    check(w, gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f), "eps");
    check(w, gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f), "rope");
    check(w, gguf_writer_set_str(w, "tokenizer.ggml.model", "llama"), "tok");
    static const struct { const char *name; int type, nd; int64_t ne0, ne1; } ts[] = {
        {"token_embd.weight", QS_TYPE_F16, 2, 32, 8},   {"blk.0.attn_norm.weight", QS_TYPE_F32, 1, 32, 1},
        {"blk.0.attn_q.weight", QS_TYPE_Q8_0, 2, 32, 2}, {"blk.0.attn_v.weight", QS_TYPE_Q4_0, 2, 32, 2},
        {"blk.1.ffn_down.weight", QS_TYPE_F16, 2, 64, 2}, {"output_norm.weight", QS_TYPE_F32, 1, 32, 1},
        {"output.weight", QS_TYPE_BF16, 2, 32, 8},
    };
    int nt = (int)(sizeof ts / sizeof ts[0]);
    for (int i = 0; i < nt; i++) {
        int64_t ne[2] = {ts[i].ne0, ts[i].ne1};
        check(w, gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].nd, ne), ts[i].name);
    }
    for (int i = 0; i < nt; i++) {
        int64_t n = ts[i].ne0 * ts[i].ne1;
        float x[512];
        for (int64_t k = 0; k < n; k++) x[k] = frand() * 0.1f;
        uint64_t bytes = qs_type_row_bytes(ts[i].type, ts[i].ne0) * (uint64_t)ts[i].ne1;
        uint8_t buf[2048];
        qs_quantize_opts o = {.n_threads = 1};
        qs_error err;
        if (qs_quantize_rows((qs_type)ts[i].type, x, buf, ts[i].ne0, ts[i].ne1, NULL, &o, &err) != QS_OK)
            die(ts[i].name, err.msg);
        check(w, gguf_writer_write(w, buf, bytes), "data");
    }
    finish(w);
}

static void seed_imatrix(const char *dir) {
    char path[1024];
    qs_error err;
    snprintf(path, sizeof path, "%s/imatrix/im.gguf", dir);
    gguf_writer *w = gguf_writer_open(path, 0, &err);
    if (!w) die(path, err.msg);
    const char *ds[1] = {"wiki.train.raw"};
    check(w, gguf_writer_set_str(w, "general.type", "imatrix"), "type");
    check(w, gguf_writer_set_arr_str(w, "imatrix.datasets", ds, 1), "datasets");
    check(w, gguf_writer_set_u32(w, "imatrix.chunk_count", 10), "chunks");
    check(w, gguf_writer_set_u32(w, "imatrix.chunk_size", 512), "chunk size");
    int64_t s1[2] = {8, 1}, c1[2] = {1, 1}, s2[2] = {4, 2}, c2[2] = {1, 2};
    check(w, gguf_writer_add_tensor(w, "blk.0.attn_q.weight.in_sum2", QS_TYPE_F32, 2, s1), "t1");
    check(w, gguf_writer_add_tensor(w, "blk.0.attn_q.weight.counts", QS_TYPE_F32, 2, c1), "t2");
    check(w, gguf_writer_add_tensor(w, "blk.0.ffn_up_exps.weight.in_sum2", QS_TYPE_F32, 2, s2), "t3");
    check(w, gguf_writer_add_tensor(w, "blk.0.ffn_up_exps.weight.counts", QS_TYPE_F32, 2, c2), "t4");
    float v1[8] = {1, 2, 3, 4, 5, 6, 7, 8}, n1[1] = {4}, v2[8] = {1, 1, 2, 2, 0, 0, 3, 3}, n2[2] = {2, 0};
    check(w, gguf_writer_write(w, v1, sizeof v1), "d1");
    check(w, gguf_writer_write(w, n1, sizeof n1), "d2");
    check(w, gguf_writer_write(w, v2, sizeof v2), "d3");
    check(w, gguf_writer_write(w, n2, sizeof n2), "d4");
    finish(w);

    /* legacy: i32 n_entries, { i32 len, name, i32 ncall, i32 nval, f32 x nval }, i32 chunks,
     * i32 len, dataset name */
    snprintf(path, sizeof path, "%s/imatrix/im.dat", dir);
    FILE *f = fopen(path, "wb");
    if (!f) die(path, strerror(errno));
    const char *name = "blk.0.attn_k.weight", *dsn = "data.txt";
    int32_t n_entries = 1, len = (int32_t)strlen(name), ncall = 3, nval = 4, chunks = 7,
            dlen = (int32_t)strlen(dsn);
    float vals[4] = {3, 6, 0, 1.5f};
    fwrite(&n_entries, 4, 1, f);
    fwrite(&len, 4, 1, f);
    fwrite(name, 1, (size_t)len, f);
    fwrite(&ncall, 4, 1, f);
    fwrite(&nval, 4, 1, f);
    fwrite(vals, 4, 4, f);
    fwrite(&chunks, 4, 1, f);
    fwrite(&dlen, 4, 1, f);
    fwrite(dsn, 1, (size_t)dlen, f);
    if (fclose(f) != 0) die(path, strerror(errno));
}

/* Every tensor the engine needs: width 32, 4 heads of 8 (2 KV heads), FFN 32, 8 tokens. */
static void seed_infer_model(const char *dir) {
    gguf_writer *w = wopen(dir, "model_infer.gguf", 0);
    check(w, gguf_writer_set_str(w, "general.architecture", "llama"), "arch");
    check(w, gguf_writer_set_u32(w, "llama.block_count", 1), "layers");
    check(w, gguf_writer_set_u32(w, "llama.context_length", 64), "ctx");
    check(w, gguf_writer_set_u32(w, "llama.embedding_length", 32), "embd");
    check(w, gguf_writer_set_u32(w, "llama.feed_forward_length", 32), "ff");
    check(w, gguf_writer_set_u32(w, "llama.attention.head_count", 4), "heads");
    check(w, gguf_writer_set_u32(w, "llama.attention.head_count_kv", 2), "kv heads");
    check(w, gguf_writer_set_u32(w, "llama.rope.dimension_count", 8), "rot");
    check(w, gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f), "eps");
    static const struct { const char *name; int type, nd; int64_t ne0, ne1; } ts[] = {
        {"token_embd.weight", QS_TYPE_Q8_0, 2, 32, 8},      {"blk.0.attn_norm.weight", QS_TYPE_F32, 1, 32, 1},
        {"blk.0.attn_q.weight", QS_TYPE_Q4_0, 2, 32, 32},   {"blk.0.attn_k.weight", QS_TYPE_Q4_0, 2, 32, 16},
        {"blk.0.attn_v.weight", QS_TYPE_Q4_0, 2, 32, 16},   {"blk.0.attn_output.weight", QS_TYPE_Q4_0, 2, 32, 32},
        {"blk.0.ffn_norm.weight", QS_TYPE_F16, 1, 32, 1},   {"blk.0.ffn_gate.weight", QS_TYPE_Q4_0, 2, 32, 32},
        {"blk.0.ffn_up.weight", QS_TYPE_Q4_0, 2, 32, 32},   {"blk.0.ffn_down.weight", QS_TYPE_Q4_0, 2, 32, 32},
        {"output_norm.weight", QS_TYPE_F32, 1, 32, 1},      {"output.weight", QS_TYPE_Q8_0, 2, 32, 8},
    };
    int nt = (int)(sizeof ts / sizeof ts[0]);
    for (int i = 0; i < nt; i++) {
        int64_t ne[2] = {ts[i].ne0, ts[i].ne1};
        check(w, gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].nd, ne), ts[i].name);
    }
    for (int i = 0; i < nt; i++) {
        int64_t n = ts[i].ne0 * ts[i].ne1;
        float x[1024];
        for (int64_t k = 0; k < n; k++) x[k] = ts[i].nd == 1 ? 1.0f : frand() * 0.1f;
        uint64_t bytes = qs_type_row_bytes(ts[i].type, ts[i].ne0) * (uint64_t)ts[i].ne1;
        uint8_t buf[4096];
        qs_quantize_opts o = {.n_threads = 1};
        qs_error err;
        if (qs_quantize_rows((qs_type)ts[i].type, x, buf, ts[i].ne0, ts[i].ne1, NULL, &o, &err) != QS_OK)
            die(ts[i].name, err.msg);
        check(w, gguf_writer_write(w, buf, bytes), "data");
    }
    finish(w);
}

static void save_plan(const char *dir, const char *name, const qs_plan *p) {
    char path[1024];
    qs_error err;
    snprintf(path, sizeof path, "%s/plan/%s", dir, name);
    if (qs_plan_save(p, path, &err) != QS_OK) die(path, err.msg);
}

static void seed_plans(const char *dir) {
    qs_error err;
    qs_plan p;
    qs_plan_init(&p);
    save_plan(dir, "empty.yaml", &p);

    qs_plan_set_preset(&p, QS_PRESET_Q4_K_M);
    save_plan(dir, "preset.yaml", &p);

    qs_plan_set_preset(&p, QS_PRESET_NONE);
    p.default_type = QS_TYPE_Q5_K;
    if (qs_plan_insert_rule(&p, -1, "blk\\.(0|1)\\.attn_v", QS_TYPE_Q8_0, &err) ||
        qs_plan_insert_rule(&p, -1, "ffn_(down|up)\\.weight$", QS_TYPE_Q6_K, &err) ||
        qs_plan_insert_rule(&p, -1, "^output\\.weight$", QS_TYPE_BF16, &err) ||
        qs_plan_set_layer(&p, 1, QS_TYPE_Q4_0, &err) ||
        qs_plan_set_tensor(&p, "token_embd.weight", QS_TYPE_Q8_0, &err))
        die("plan", err.msg);
    p.keep_first = 1;
    p.keep_last = 1;
    p.keep_type = QS_TYPE_Q6_K;
    p.kv_type = QS_TYPE_Q8_0;
    p.context = 8192;
    p.device = strdup("RTX 4090");
    p.notes = strdup("line one\n  indented: 'quoted' \"double\" # not a comment\n\xe2\x96\x81 utf-8");
    p.model.file = strdup("seed.gguf");
    p.model.size = 12345;
    p.model.n_tensors = 7;
    p.model.hash = 0xfedcba9876543210ull;
    save_plan(dir, "full.yaml", &p);
    qs_plan_free(&p);
}

/* tok/ids.bin: byte 0 odd (decode a list of ids, vocabulary 0), then int32 ids: two in range,
 * INT32_MAX, INT32_MIN and 269. */
static void seed_tok_ids(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tok/ids.bin", dir);
    FILE *f = fopen(path, "wb");
    if (!f) die(path, strerror(errno));
    const uint8_t mode = 1;
    const int32_t ids[5] = {1, 2, INT32_MAX, INT32_MIN, 269};
    fwrite(&mode, 1, 1, f);
    for (int i = 0; i < 5; i++) {
        const uint32_t v = (uint32_t)ids[i];
        const uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
        fwrite(le, 1, 4, f);
    }
    if (fclose(f) != 0) die(path, strerror(errno));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
        return 2;
    }
    char sub[1024];
    snprintf(sub, sizeof sub, "%s/gguf", argv[1]);
    if (mkdir(sub, 0755) != 0 && errno != EEXIST) die(sub, strerror(errno));
    snprintf(sub, sizeof sub, "%s/plan", argv[1]);
    if (mkdir(sub, 0755) != 0 && errno != EEXIST) die(sub, strerror(errno));
    snprintf(sub, sizeof sub, "%s/imatrix", argv[1]);
    if (mkdir(sub, 0755) != 0 && errno != EEXIST) die(sub, strerror(errno));
    snprintf(sub, sizeof sub, "%s/tok", argv[1]);
    if (mkdir(sub, 0755) != 0 && errno != EEXIST) die(sub, strerror(errno));
    seed_kv_all(argv[1]);
    for (int t = 0; t < QS_TYPE_COUNT; t++) seed_type(argv[1], t);
    seed_vocab_spm(argv[1]);
    seed_vocab_bpe(argv[1]);
    seed_model(argv[1]);
    seed_infer_model(argv[1]);
    seed_plans(argv[1]);
    seed_imatrix(argv[1]);
    seed_tok_ids(argv[1]);
    return 0;
}
