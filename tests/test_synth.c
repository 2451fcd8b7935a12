/* Synthetic models: shapes, parameter counts, determinism, and files our reader accepts. */
#include "qs_test_util.h"

#include <stdio.h>
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
    assert_string_equal(m->tensors[i].role, "ffn_down.weight");
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_counts), cmocka_unit_test(test_tensor_lists),
        cmocka_unit_test(test_write_and_reopen), cmocka_unit_test(test_vocab_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
