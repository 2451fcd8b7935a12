/* Synthetic models: shapes, parameter counts, determinism, and files our reader accepts. */
#include "qs_test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "qs_fp16.h"

#include "model.h"
#include "synth.h"

/* Parameter counts of the published models (tied embeddings counted once). */
static void test_param_counts(void **state) {
    (void)state;
    struct { const char *shape; int64_t params; } known[] = {
        {"tinyllama-1.1b", 1100048384}, /* 22 x 44,044,288 + 2 x 65,536,000 + 2048 */
        {"llama-3.2-1b", 1235814400},   /* 16 x 60,821,504 + 262,668,288 + 2048 */
        {"qwen2.5-0.5b", 494032768},
        {"qwen3-0.6b", 596049920},      /* 28 x 15,730,944 + 155,582,464 + 1024 */
        {"llama-3.1-8b", 8030261248},
        {"mistral-7b", 7241732096},
        {"qwen2.5-7b", 7615616512},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const qs_synth_shape *s = qs_synth_find(known[i].shape);
        assert_non_null(s);
        int64_t p = qs_synth_params(s, s->n_vocab);
        /* llama-3.x shapes carry rope_freqs.weight (head_dim / 2 factors) like llama.cpp's files */
        if (s->rope_llama3_factor > 0) p -= s->head_dim / 2;
        if (p != known[i].params)
            fail_msg("%s: %lld parameters, expected %lld", known[i].shape, (long long)p, (long long)known[i].params);
    }
    assert_null(qs_synth_find("gpt-5"));
}

static void test_tensor_lists(void **state) {
    (void)state;
    const qs_synth_shape *q3 = qs_synth_find("qwen3-0.6b");
    int n = qs_synth_tensors(q3, q3->n_vocab, NULL, 0);
    assert_int_equal(n, 1 + 1 + 28 * 11); /* embd, output_norm; per block 11 (tied: no output) */
    qs_synth_tensor *t = malloc((size_t)n * sizeof *t);
    qs_synth_tensors(q3, q3->n_vocab, t, n);
    int qn = 0;
    for (int i = 0; i < n; i++) {
        if (strstr(t[i].name, "attn_q_norm")) {
            qn++;
            assert_int_equal(t[i].ne[0], 128);
        }
        if (!strcmp(t[i].name, "blk.0.attn_q.weight")) { /* 16 heads x 128 = 2048 outputs */
            assert_int_equal(t[i].ne[0], 1024);
            assert_int_equal(t[i].ne[1], 2048);
        }
    }
    assert_int_equal(qn, 28);
    free(t);
    const qs_synth_shape *q2 = qs_synth_find("qwen2.5-0.5b");
    n = qs_synth_tensors(q2, q2->n_vocab, NULL, 0);
    assert_int_equal(n, 2 + 24 * 12); /* biases on q, k, v */
}

static void test_write_and_reopen(void **state) {
    (void)state;
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/tiny-a.gguf", qs_test_tmpdir());
    snprintf(b, sizeof b, "%s/tiny-b.gguf", qs_test_tmpdir());
    const qs_synth_shape *s = qs_synth_find("tiny");
    qs_synth_opts o = {.type = QS_TYPE_F16, .seed = 7};
    qs_error err;
    assert_int_equal(qs_synth_write(s, a, &o, &err), QS_OK);
    assert_int_equal(qs_synth_write(s, b, &o, &err), QS_OK);
    /* same seed: identical bytes */
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int ca, cb;
    long pos = 0;
    do {
        ca = fgetc(fa);
        cb = fgetc(fb);
        if (ca != cb) fail_msg("files differ at byte %ld", pos);
        pos++;
    } while (ca != EOF);
    fclose(fa);
    fclose(fb);

    qs_model *m = qs_model_open(a, &err);
    if (!m) fail_msg("%s", err.msg);
    assert_string_equal(m->hp.arch, "llama");
    assert_int_equal(m->hp.n_layer, 4);
    assert_int_equal(m->hp.n_embd, 256);
    assert_int_equal(m->hp.n_head_kv, 4);
    assert_int_equal(m->hp.n_vocab, 1024);
    assert_int_equal(m->n_params, qs_synth_params(s, 1024));
    assert_int_equal(m->hp.file_type, 1);
    int64_t i = qs_model_find(m, "blk.2.ffn_down.weight");
    assert_true(i >= 0);
    assert_int_equal(m->tensors[i].block, 2);
    assert_string_equal(m->tensors[i].role, "ffn_down");
    assert_string_equal(m->tensors[i].suffix, "weight");
    assert_int_equal(m->tensors[i].t->type, QS_TYPE_F16);
    assert_int_equal(m->tensors[qs_model_find(m, "blk.2.ffn_norm.weight")].t->type, QS_TYPE_F32);
    /* weights ~ N(0, 0.02^2) */
    const uint16_t *h = (const uint16_t *)m->tensors[i].t->data;
    double acc = 0;
    for (int k = 0; k < 4096; k++) {
        float v = qs_fp16_to_f32(h[k]);
        acc += (double)v * v;
    }
    double rms = sqrt(acc / 4096);
    assert_true(rms > 0.018 && rms < 0.022);
    qs_model_close(m);

    /* another seed changes the weights */
    o.seed = 8;
    assert_int_equal(qs_synth_write(s, b, &o, &err), QS_OK);
    fa = fopen(a, "rb");
    fb = fopen(b, "rb");
    int differ = 0;
    while ((ca = fgetc(fa)) != EOF && (cb = fgetc(fb)) != EOF) differ |= ca != cb;
    fclose(fa);
    fclose(fb);
    assert_true(differ);
    /* only F32/F16/BF16 */
    o.type = QS_TYPE_Q4_0;
    assert_int_equal(qs_synth_write(s, b, &o, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "F16"));
}

static void test_vocab_copy(void **state) {
    (void)state;
    char vocab[512], out[600];
    if (!qs_test_shared_path("vocab/ggml-vocab-llama-spm.gguf", vocab, sizeof vocab)) return;
    snprintf(out, sizeof out, "%s/tiny-spm.gguf", qs_test_tmpdir());
    qs_synth_opts o = {.type = QS_TYPE_BF16, .vocab_path = vocab};
    qs_error err;
    assert_int_equal(qs_synth_write(qs_synth_find("tiny"), out, &o, &err), QS_OK);
    qs_model *m = qs_model_open(out, &err);
    assert_non_null(m);
    assert_int_equal(m->hp.n_vocab, 32000);
    assert_int_equal(m->tensors[qs_model_find(m, "token_embd.weight")].t->ne[1], 32000);
    assert_int_equal(m->tensors[qs_model_find(m, "token_embd.weight")].t->type, QS_TYPE_BF16);
    assert_string_equal(m->hp.tok_model, "llama");
    qs_model_close(m);
    o.vocab_path = "/nonexistent.gguf";
    assert_int_equal(qs_synth_write(qs_synth_find("tiny"), out, &o, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "/nonexistent.gguf"));
}


/* Every shape's hyper-parameters, from the published configs (config.json of each model). */
static void test_shape_table(void **state) {
    (void)state;
    struct {
        const char *name, *arch;
        int64_t layer, embd, ff, head, head_kv, head_dim, vocab, ctx;
        double rope, eps;
        bool tied, bias, qk_norm;
        double llama3;
        int n_tensors;
    } want[] = {
        {"tiny", "llama", 4, 256, 768, 8, 4, 32, 1024, 2048, 1e4, 1e-5, false, false, false, 0, 3 + 4 * 9},
        {"tiny-llama3", "llama", 4, 256, 768, 8, 4, 32, 1024, 8192, 5e5, 1e-5, true, false, false, 32, 3 + 4 * 9},
        {"tiny-qwen2", "qwen2", 4, 256, 768, 8, 4, 32, 1024, 4096, 1e6, 1e-6, true, true, false, 0, 2 + 4 * 12},
        {"tiny-qwen3", "qwen3", 4, 256, 768, 8, 4, 64, 1024, 4096, 1e6, 1e-6, true, false, true, 0, 2 + 4 * 11},
        {"tinyllama-1.1b", "llama", 22, 2048, 5632, 32, 4, 64, 32000, 2048, 1e4, 1e-5, false, false, false, 0, 3 + 22 * 9},
        {"llama-3.2-1b", "llama", 16, 2048, 8192, 32, 8, 64, 128256, 131072, 5e5, 1e-5, true, false, false, 32, 3 + 16 * 9},
        {"llama-3.1-8b", "llama", 32, 4096, 14336, 32, 8, 128, 128256, 131072, 5e5, 1e-5, false, false, false, 8, 4 + 32 * 9},
        {"mistral-7b", "llama", 32, 4096, 14336, 32, 8, 128, 32000, 32768, 1e4, 1e-5, false, false, false, 0, 3 + 32 * 9},
        {"qwen2.5-0.5b", "qwen2", 24, 896, 4864, 14, 2, 64, 151936, 32768, 1e6, 1e-6, true, true, false, 0, 2 + 24 * 12},
        {"qwen2.5-7b", "qwen2", 28, 3584, 18944, 28, 4, 128, 152064, 32768, 1e6, 1e-6, false, true, false, 0, 3 + 28 * 12},
        {"qwen3-0.6b", "qwen3", 28, 1024, 3072, 16, 8, 128, 151936, 40960, 1e6, 1e-6, true, false, true, 0, 2 + 28 * 11},
    };
    int n;
    const qs_synth_shape *all = qs_synth_shapes(&n);
    assert_int_equal(n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < n; i++) {
        const qs_synth_shape *s = qs_synth_find(want[i].name);
        if (!s) fail_msg("shape %s missing", want[i].name);
        assert_ptr_equal(s, &all[i]);
        assert_string_equal(s->arch, want[i].arch);
        assert_int_equal(s->n_layer, want[i].layer);
        assert_int_equal(s->n_embd, want[i].embd);
        assert_int_equal(s->n_ff, want[i].ff);
        assert_int_equal(s->n_head, want[i].head);
        assert_int_equal(s->n_head_kv, want[i].head_kv);
        assert_int_equal(s->head_dim, want[i].head_dim);
        assert_int_equal(s->n_vocab, want[i].vocab);
        assert_int_equal(s->n_ctx, want[i].ctx);
        assert_true(s->rope_base == want[i].rope);
        assert_true(s->rms_eps == want[i].eps);
        assert_int_equal(s->tied, want[i].tied);
        assert_int_equal(s->qkv_bias, want[i].bias);
        assert_int_equal(s->qk_norm, want[i].qk_norm);
        assert_true(s->rope_llama3_factor == want[i].llama3);
        int nt = qs_synth_tensors(s, s->n_vocab, NULL, 0);
        if (nt != want[i].n_tensors) fail_msg("%s: %d tensors, expected %d", s->name, nt, want[i].n_tensors);
        /* data bytes: F16 matrices + F32 vectors; F32 everything is 4 bytes a parameter */
        assert_int_equal(qs_synth_data_bytes(s, s->n_vocab, QS_TYPE_F32), (uint64_t)qs_synth_params(s, s->n_vocab) * 4);
        assert_true(qs_synth_data_bytes(s, s->n_vocab, QS_TYPE_F16) < qs_synth_data_bytes(s, s->n_vocab, QS_TYPE_F32));
        assert_int_equal(qs_synth_data_bytes(s, s->n_vocab, QS_TYPE_F16), qs_synth_data_bytes(s, s->n_vocab, QS_TYPE_BF16));
    }
    assert_ptr_equal(qs_synth_find("QWEN3-0.6B"), qs_synth_find("qwen3-0.6b")); /* case-insensitive */
}

/* Shapes of the tensors of the 8B model as llama.cpp expects them (ne[0] = row length). */
static void test_llama8b_tensor_shapes(void **state) {
    (void)state;
    const qs_synth_shape *s = qs_synth_find("llama-3.1-8b");
    int n = qs_synth_tensors(s, s->n_vocab, NULL, 0);
    qs_synth_tensor *t = calloc((size_t)n, sizeof *t);
    assert_int_equal(qs_synth_tensors(s, s->n_vocab, t, n), n);
    struct { const char *name; int n_dims; int64_t ne0, ne1; bool f32; } want[] = {
        {"token_embd.weight", 2, 4096, 128256, false}, {"rope_freqs.weight", 1, 64, 1, true},
        {"output_norm.weight", 1, 4096, 1, true},      {"output.weight", 2, 4096, 128256, false},
        {"blk.0.attn_norm.weight", 1, 4096, 1, true},  {"blk.0.attn_q.weight", 2, 4096, 4096, false},
        {"blk.0.attn_k.weight", 2, 4096, 1024, false}, {"blk.0.attn_v.weight", 2, 4096, 1024, false},
        {"blk.31.attn_output.weight", 2, 4096, 4096, false}, {"blk.31.ffn_norm.weight", 1, 4096, 1, true},
        {"blk.31.ffn_gate.weight", 2, 4096, 14336, false}, {"blk.31.ffn_up.weight", 2, 4096, 14336, false},
        {"blk.31.ffn_down.weight", 2, 14336, 4096, false},
    };
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        int found = -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(t[i].name, want[w].name)) found = i;
        if (found < 0) fail_msg("no %s", want[w].name);
        assert_int_equal(t[found].n_dims, want[w].n_dims);
        assert_int_equal(t[found].ne[0], want[w].ne0);
        assert_int_equal(t[found].ne[1], want[w].ne1);
        assert_int_equal(t[found].f32, want[w].f32);
    }
    /* a short buffer gets the first entries and the full count */
    qs_synth_tensor few[2];
    assert_int_equal(qs_synth_tensors(s, s->n_vocab, few, 2), n);
    assert_string_equal(few[0].name, "token_embd.weight");
    free(t);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

typedef struct prog {
    uint64_t last, total, calls;
    uint64_t stop_after; /* 0 = never */
    bool backwards;
} prog;

static int on_progress(void *user, uint64_t done, uint64_t total) {
    prog *p = user;
    if (done < p->last) p->backwards = true;
    p->last = done;
    p->total = total;
    p->calls++;
    return p->stop_after && done >= p->stop_after;
}

static void test_f32_and_cancel(void **state) {
    (void)state;
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/cancel", qs_test_tmpdir());
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/tiny32.gguf", dir);
    const qs_synth_shape *s = qs_synth_find("tiny");
    qs_synth_opts o = {.type = QS_TYPE_F32, .seed = 1};
    qs_error err;
    assert_int_equal(qs_synth_write(s, path, &o, &err), QS_OK);
    qs_model *m = qs_model_open(path, &err);
    assert_non_null(m);
    assert_int_equal(m->by_type[QS_TYPE_F32].n_tensors, m->n_tensors); /* F32 really is F32 */
    assert_int_equal(m->tensor_bytes, qs_synth_data_bytes(s, 1024, QS_TYPE_F32));
    qs_model_close(m);
    assert_int_equal(unlink(path), 0);

    /* a progress callback that says stop: QS_CANCELLED, no file, no temporary left */
    prog p = {.stop_after = 1 << 20};
    o.progress = on_progress;
    o.progress_user = &p;
    assert_int_equal(qs_synth_write(s, path, &o, &err), QS_CANCELLED);
    assert_int_equal(count_entries(dir), 0);
    /* a cancel flag already set: the same */
    atomic_int flag = 1;
    qs_synth_opts oc = {.type = QS_TYPE_F16, .cancel = &flag};
    assert_int_equal(qs_synth_write(s, path, &oc, &err), QS_CANCELLED);
    assert_int_equal(count_entries(dir), 0);
    /* NULL opts: F16, seed 0 */
    assert_int_equal(qs_synth_write(s, path, NULL, &err), QS_OK);
    m = qs_model_open(path, &err);
    assert_non_null(m);
    assert_int_equal(m->hp.file_type, 1);
    qs_model_close(m);
}

static long peak_rss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A real-size model (1.2 GB at F16) streams through a few MiB of memory and reopens with the
 * published parameter count. */
static void test_qwen3_streams(void **state) {
    (void)state;
    char path[600];
    snprintf(path, sizeof path, "%s/qwen3-0.6b.gguf", qs_test_tmpdir());
    const qs_synth_shape *s = qs_synth_find("qwen3-0.6b");
    long before = peak_rss_kib();
    prog p = {0};
    qs_synth_opts o = {.type = QS_TYPE_F16, .seed = 5, .progress = on_progress, .progress_user = &p};
    qs_error err;
    if (qs_synth_write(s, path, &o, &err) != QS_OK) fail_msg("%s", err.msg);
    long grew = peak_rss_kib() - before;
    fprintf(stderr, "qwen3-0.6b F16: peak RSS grew by %ld KiB\n", grew);
    /* buffers are 8 MiB and the own tokenizer's 152K strings a few MiB more */
    if (grew > 48 * 1024) fail_msg("peak RSS grew by %ld KiB writing a 1.2 GB model", grew);
    uint64_t bytes = qs_synth_data_bytes(s, s->n_vocab, QS_TYPE_F16);
    assert_int_equal(p.total, bytes);
    assert_int_equal(p.last, bytes);
    assert_false(p.backwards);
    assert_true(p.calls > 100);

    qs_model *m = qs_model_open(path, &err);
    if (!m) fail_msg("%s", err.msg);
    assert_int_equal(m->n_params, 596049920);
    assert_int_equal(m->n_tensors, 2 + 28 * 11);
    assert_int_equal(m->tensor_bytes, bytes);
    assert_int_equal(m->hp.n_vocab, 151936);
    assert_int_equal(m->hp.head_dim_k, 128);
    assert_true(m->hp.tied_embeddings);
    int64_t i = qs_model_find(m, "blk.27.attn_k_norm.weight");
    assert_true(i >= 0);
    assert_int_equal(m->tensors[i].t->ne[0], 128);
    qs_model_close(m);
    assert_int_equal(unlink(path), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_counts), cmocka_unit_test(test_tensor_lists),
        cmocka_unit_test(test_write_and_reopen), cmocka_unit_test(test_vocab_copy),
        cmocka_unit_test(test_shape_table), cmocka_unit_test(test_llama8b_tensor_shapes),
        cmocka_unit_test(test_f32_and_cancel), cmocka_unit_test(test_qwen3_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
