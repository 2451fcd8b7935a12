/* Model description: hyper-parameters, tensor table and totals from real and written files. */
#include "qs_test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "infer.h"
#include "model.h"
#include "synth.h"

/* ------------------------------------------------------------------ stories260K (real model) */

static void test_stories260k(void **state) {
    (void)state;
    char path[512];
    if (!qs_test_shared_path("models/stories260K.gguf", path, sizeof path)) return;
    qs_error err;
    qs_model *m = qs_model_open(path, &err);
    if (!m) fail_msg("%s", err.msg);
    const qs_hparams *hp = &m->hp;
    assert_string_equal(hp->arch, "llama");
    assert_int_equal(hp->n_layer, 5);
    assert_int_equal(hp->n_embd, 64);
    assert_int_equal(hp->n_head, 8);
    assert_int_equal(hp->n_head_kv, 4);
    assert_int_equal(hp->n_ff, 172);
    assert_int_equal(hp->n_ctx_train, 2048);
    assert_int_equal(hp->n_vocab, 512);
    assert_int_equal(hp->head_dim_k, 8); /* default n_embd / n_head */
    assert_int_equal(hp->head_dim_v, 8);
    assert_int_equal(hp->n_rot, 8);
    assert_false(hp->per_layer_heads);
    for (int l = 0; l < 5; l++) {
        assert_int_equal(m->layer_n_head_kv[l], 4);
        assert_int_equal(m->layer_n_ff[l], 172);
    }
    assert_true(fabs(hp->rms_eps - 1e-5) < 1e-9);
    assert_true(hp->rope_freq_base == 10000.0);
    assert_true(hp->rope_freq_scale == 1.0);
    assert_string_equal(hp->tok_model, "llama");
    assert_int_equal(hp->bos_id, 1);
    assert_int_equal(hp->eos_id, 2);
    assert_false(hp->tied_embeddings);
    assert_false(hp->has_rope_freqs);
    assert_false(hp->has_chat_template);
    assert_int_equal(hp->file_type, -1);

    assert_int_equal(m->n_tensors, 48);
    assert_int_equal(m->n_params, 292800);
    assert_int_equal(m->tensor_bytes, 292800 * 4);
    assert_true(fabs(qs_model_bpw(m) - 32.0) < 1e-12);
    assert_int_equal(m->by_type[QS_TYPE_F32].n_tensors, 48);
    assert_int_equal(m->by_type[QS_TYPE_F32].n_params, 292800);
    assert_int_equal(m->by_type[QS_TYPE_F16].n_tensors, 0);
    assert_int_equal(m->n_blocks_seen, 5);

    /* block indices, roles and the sums they must add up to */
    int per_block[5] = {0}, outside = 0;
    int64_t sum = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const qs_model_tensor *t = &m->tensors[i];
        sum += t->t->n_elements;
        if (t->block < 0) {
            outside++;
            assert_true(strncmp(t->name, "blk.", 4) != 0);
            continue;
        }
        assert_true(t->block < 5);
        per_block[t->block]++;
        char prefix[16];
        snprintf(prefix, sizeof prefix, "blk.%d.", t->block);
        assert_true(strncmp(t->name, prefix, strlen(prefix)) == 0);
        assert_int_equal(t->n_per_row * t->n_rows, t->t->n_elements);
    }
    assert_int_equal(sum, m->n_params);
    assert_int_equal(outside, 3); /* token_embd, output_norm, output */
    for (int b = 0; b < 5; b++) assert_int_equal(per_block[b], 9);

    int64_t i = qs_model_find(m, "blk.3.ffn_down.weight");
    assert_true(i >= 0);
    const qs_model_tensor *t = &m->tensors[i];
    assert_int_equal(t->block, 3);
    assert_string_equal(t->role, "ffn_down");
    assert_string_equal(t->suffix, "weight");
    assert_int_equal(t->n_per_row, 172);
    assert_int_equal(t->n_rows, 64);
    assert_true(qs_model_tensor_is_matrix(t));
    i = qs_model_find(m, "token_embd.weight");
    assert_int_equal(m->tensors[i].block, -1);
    assert_string_equal(m->tensors[i].role, "token_embd");
    assert_int_equal(m->tensors[i].t->ne[0], 64);
    assert_int_equal(m->tensors[i].t->ne[1], 512);
    i = qs_model_find(m, "output_norm.weight");
    assert_string_equal(m->tensors[i].role, "output_norm");
    assert_false(qs_model_tensor_is_matrix(&m->tensors[i]));
    assert_int_equal(qs_model_find(m, "blk.5.attn_q.weight"), -1);

    /* suggestions: a role finds every block's tensor, a typo finds the right name first */
    int64_t sim[8];
    int n = qs_model_similar(m, "attn_q", sim, 8);
    assert_int_equal(n, 5);
    for (int k = 0; k < n; k++) assert_non_null(strstr(m->tensors[sim[k]].name, "attn_q"));
    n = qs_model_similar(m, "blk.2.attn_q.wieght", sim, 8);
    assert_true(n >= 1);
    assert_string_equal(m->tensors[sim[0]].name, "blk.2.attn_q.weight");
    assert_int_equal(qs_model_similar(m, "zzzzzzzz", sim, 8), 0);

    /* the plan module's view agrees */
    qs_plan_model pm;
    qs_plan_tensor *pt;
    assert_int_equal(qs_model_plan_view(m, &pm, &pt), QS_OK);
    assert_int_equal(pm.n_tensors, 48);
    assert_int_equal(pm.n_layer, 5);
    assert_int_equal(pm.n_head_kv, 4);
    free(pt);
    qs_model_close(m);
}

/* ------------------------------------------------------------------ synth models */

static qs_model *write_and_open(const char *shape, qs_type type) {
    char path[600];
    snprintf(path, sizeof path, "%s/model-%s.gguf", qs_test_tmpdir(), shape);
    qs_synth_opts o = {.type = type, .seed = 11};
    qs_error err;
    if (qs_synth_write(qs_synth_find(shape), path, &o, &err) != QS_OK) fail_msg("%s", err.msg);
    qs_model *m = qs_model_open(path, &err);
    if (!m) fail_msg("%s", err.msg);
    return m;
}

static void test_synth_tiny(void **state) {
    (void)state;
    qs_model *m = write_and_open("tiny", QS_TYPE_F16);
    const qs_hparams *hp = &m->hp;
    assert_string_equal(hp->arch, "llama");
    assert_int_equal(hp->n_layer, 4);
    assert_int_equal(hp->n_embd, 256);
    assert_int_equal(hp->n_ff, 768);
    assert_int_equal(hp->n_head, 8);
    assert_int_equal(hp->n_head_kv, 4);
    assert_int_equal(hp->head_dim_k, 32);
    assert_int_equal(hp->n_vocab, 1024);
    assert_int_equal(hp->file_type, 1);
    assert_string_equal(qs_ftype_name(hp->file_type), "F16");
    assert_false(hp->tied_embeddings);
    assert_int_equal(m->n_tensors, 3 + 4 * 9);
    assert_int_equal(m->n_params, qs_synth_params(qs_synth_find("tiny"), 1024));
    assert_int_equal(m->tensor_bytes, qs_synth_data_bytes(qs_synth_find("tiny"), 1024, QS_TYPE_F16));
    assert_int_equal(m->by_type[QS_TYPE_F16].n_tensors, 2 + 4 * 7);
    assert_int_equal(m->by_type[QS_TYPE_F32].n_tensors, 1 + 4 * 2);
    /* every matrix row holds whole K-quant blocks */
    for (int64_t i = 0; i < m->n_tensors; i++)
        if (qs_model_tensor_is_matrix(&m->tensors[i])) assert_int_equal(m->tensors[i].n_per_row % 256, 0);
    qs_model_close(m);
}

static void test_synth_qwen3_layout(void **state) {
    (void)state;
    qs_model *m = write_and_open("tiny-qwen3", QS_TYPE_BF16);
    const qs_hparams *hp = &m->hp;
    assert_string_equal(hp->arch, "qwen3");
    assert_int_equal(hp->head_dim_k, 64); /* not n_embd / n_head = 32: read from key_length */
    assert_int_equal(hp->head_dim_v, 64);
    assert_true(hp->tied_embeddings);
    assert_true(fabs(hp->rms_eps - 1e-6) < 1e-12);
    assert_true(hp->rope_freq_base == 1e6);
    assert_string_equal(qs_ftype_name(hp->file_type), "BF16");
    int qn = 0, kn = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const qs_model_tensor *t = &m->tensors[i];
        if (!strcmp(t->role, "attn_q_norm")) {
            qn++;
            assert_int_equal(t->t->ne[0], 64);
            assert_int_equal(t->t->type, QS_TYPE_F32);
        }
        if (!strcmp(t->role, "attn_k_norm")) kn++;
    }
    assert_int_equal(qn, 4);
    assert_int_equal(kn, 4);
    int64_t q = qs_model_find(m, "blk.1.attn_q.weight");
    assert_int_equal(m->tensors[q].t->ne[0], 256);
    assert_int_equal(m->tensors[q].t->ne[1], 8 * 64);
    assert_int_equal(m->tensors[q].t->type, QS_TYPE_BF16);
    assert_int_equal(qs_model_find(m, "output.weight"), -1);
    qs_model_close(m);

    m = write_and_open("tiny-qwen2", QS_TYPE_F32);
    assert_string_equal(m->hp.arch, "qwen2");
    assert_string_equal(qs_ftype_name(m->hp.file_type), "ALL_F32");
    int64_t b = qs_model_find(m, "blk.0.attn_k.bias");
    assert_true(b >= 0);
    assert_string_equal(m->tensors[b].role, "attn_k");
    assert_string_equal(m->tensors[b].suffix, "bias");
    assert_int_equal(m->tensors[b].t->ne[0], 4 * 32);
    assert_true(fabs(qs_model_bpw(m) - 32.0) < 1e-12);
    qs_model_close(m);

    m = write_and_open("tiny-llama3", QS_TYPE_F16);
    assert_true(m->hp.has_rope_freqs);
    assert_true(m->hp.tied_embeddings);
    assert_true(m->hp.rope_freq_base == 500000.0);
    int64_t r = qs_model_find(m, "rope_freqs.weight");
    assert_int_equal(m->tensors[r].t->ne[0], 16);
    assert_int_equal(m->tensors[r].block, -1);
    qs_model_close(m);
}

/* ------------------------------------------------------------------ hand-made files */

typedef struct kvspec {
    const char *key;
    enum { U32, F32, STR, ARR_I32 } kind;
    double num;
    const char *str;
    const int32_t *arr;
    int n;
} kvspec;

/* A file with the given keys and one token_embd tensor (F32, 16 x 10). */
static const char *make_file(const char *name, const kvspec *kv, int n_kv) {
    static char path[600];
    snprintf(path, sizeof path, "%s/%s.gguf", qs_test_tmpdir(), name);
    qs_error err;
    gguf_writer *w = gguf_writer_open(path, 32, &err);
    if (!w) fail_msg("%s", err.msg);
    for (int i = 0; i < n_kv; i++) {
        int rc = QS_ERR;
        switch (kv[i].kind) {
        case U32: rc = gguf_writer_set_u32(w, kv[i].key, (uint32_t)kv[i].num); break;
        case F32: rc = gguf_writer_set_f32(w, kv[i].key, (float)kv[i].num); break;
        case STR: rc = gguf_writer_set_str(w, kv[i].key, kv[i].str); break;
        case ARR_I32: rc = gguf_writer_set_arr(w, kv[i].key, GGUF_VT_INT32, kv[i].arr, (uint64_t)kv[i].n); break;
        }
        if (rc != QS_OK) fail_msg("%s", gguf_writer_error(w));
    }
    int64_t ne[2] = {16, 10};
    if (gguf_writer_add_tensor(w, "token_embd.weight", QS_TYPE_F32, 2, ne) != QS_OK) fail_msg("%s", gguf_writer_error(w));
    float data[160] = {0};
    if (gguf_writer_write(w, data, sizeof data) != QS_OK) fail_msg("%s", gguf_writer_error(w));
    if (gguf_writer_finish(w, &err) != QS_OK) fail_msg("%s", err.msg);
    return path;
}

static void test_per_layer_and_scaling_keys(void **state) {
    (void)state;
    static const int32_t kv_heads[3] = {8, 2, 4}, ff[3] = {64, 64, 96};
    kvspec kv[] = {
        {"general.architecture", STR, 0, "llama", NULL, 0},
        {"general.file_type", U32, 1024 + 15, NULL, NULL, 0}, /* Q4_K_M, guessed */
        {"llama.block_count", U32, 3, NULL, NULL, 0},
        {"llama.embedding_length", U32, 16, NULL, NULL, 0},
        {"llama.attention.head_count", U32, 8, NULL, NULL, 0},
        {"llama.attention.head_count_kv", ARR_I32, 0, NULL, kv_heads, 3},
        {"llama.feed_forward_length", ARR_I32, 0, NULL, ff, 3},
        {"llama.rope.scaling.type", STR, 0, "yarn", NULL, 0},
        {"llama.rope.scaling.factor", F32, 4, NULL, NULL, 0},
        {"llama.rope.scaling.original_context_length", U32, 32768, NULL, NULL, 0},
        {"llama.attention.layer_norm_epsilon", F32, 0.125, NULL, NULL, 0},
        {"llama.vocab_size", U32, 777, NULL, NULL, 0},
    };
    qs_error err;
    char path[1024];
    snprintf(path, sizeof path, "%s", make_file("per-layer", kv, (int)(sizeof kv / sizeof kv[0])));
    qs_model *m = qs_model_open(path, &err);
    if (!m) fail_msg("%s", err.msg);
    assert_true(m->hp.per_layer_heads);
    assert_int_equal(m->hp.n_head_kv, 8); /* the largest */
    assert_int_equal(m->layer_n_head_kv[0], 8);
    assert_int_equal(m->layer_n_head_kv[1], 2);
    assert_int_equal(m->layer_n_head_kv[2], 4);
    assert_int_equal(m->hp.n_ff, 96);
    assert_int_equal(m->layer_n_ff[2], 96);
    assert_int_equal(m->layer_n_head[1], 8);
    assert_int_equal(m->hp.head_dim_k, 2);
    assert_string_equal(m->hp.rope_scaling, "yarn");
    assert_true(m->hp.rope_scaling_factor == 4.0);
    assert_true(m->hp.rope_freq_scale == 0.25);
    assert_int_equal(m->hp.rope_orig_ctx, 32768);
    assert_true(m->hp.norm_eps == 0.125);
    assert_true(m->hp.rms_eps == 0.0);
    assert_int_equal(m->hp.n_vocab, 777); /* no tokens array: the vocab_size key */
    assert_string_equal(qs_ftype_name(m->hp.file_type), "Q4_K_M");
    assert_true(qs_ftype_guessed(m->hp.file_type));
    assert_true(m->hp.tied_embeddings);
    assert_int_equal(m->hp.bos_id, -1);
    assert_true(m->hp.layers_differ);
    /* the reader the engine uses gives the same fields without taking the file */
    gguf_file *f = gguf_open(path, &err);
    if (!f) fail_msg("%s", err.msg);
    qs_hparams hp;
    assert_int_equal(qs_hparams_read(f, &hp, &err), QS_OK);
    assert_memory_equal(&hp, &m->hp, sizeof hp);
    /* ... and the engine, which runs uniform layers only, says why it cannot run this one */
    assert_null(qs_infer_model_load(f, &err));
    assert_non_null(strstr(err.msg, "different head counts or feed-forward widths per layer"));
    gguf_close(f);
    qs_model_close(m);

    /* no head_count_kv: as many as query heads; no vocab keys: token_embd rows */
    kvspec plain[] = {
        {"general.architecture", STR, 0, "llama", NULL, 0},
        {"llama.block_count", U32, 2, NULL, NULL, 0},
        {"llama.attention.head_count", U32, 4, NULL, NULL, 0},
        {"llama.rope.scale_linear", F32, 2, NULL, NULL, 0},
    };
    m = qs_model_open(make_file("plain", plain, 4), &err);
    if (!m) fail_msg("%s", err.msg);
    assert_int_equal(m->hp.n_head_kv, 4);
    assert_int_equal(m->layer_n_head_kv[1], 4);
    assert_int_equal(m->hp.n_vocab, 10);
    assert_true(m->hp.rope_freq_scale == 0.5);
    assert_string_equal(m->hp.rope_scaling, "");
    assert_false(m->hp.layers_differ);
    qs_model_close(m);
}

static void test_bad_models(void **state) {
    (void)state;
    qs_error err;
    /* no architecture: a vocabulary-only file is not a model */
    kvspec none[] = {{"general.name", STR, 0, "x", NULL, 0}};
    const char *p = make_file("no-arch", none, 1);
    assert_null(qs_model_open(p, &err));
    assert_non_null(strstr(err.msg, p));
    assert_non_null(strstr(err.msg, "general.architecture"));

    static const int32_t two[2] = {4, 4};
    kvspec badarr[] = {
        {"general.architecture", STR, 0, "llama", NULL, 0},
        {"llama.block_count", U32, 3, NULL, NULL, 0},
        {"llama.attention.head_count_kv", ARR_I32, 0, NULL, two, 2},
    };
    p = make_file("bad-array", badarr, 3);
    assert_null(qs_model_open(p, &err));
    assert_non_null(strstr(err.msg, "llama.attention.head_count_kv"));
    assert_non_null(strstr(err.msg, "2 values for 3 blocks"));

    kvspec huge[] = {
        {"general.architecture", STR, 0, "llama", NULL, 0},
        {"llama.block_count", U32, 4000000000.0, NULL, NULL, 0},
    };
    p = make_file("huge-blocks", huge, 2);
    assert_null(qs_model_open(p, &err));
    assert_non_null(strstr(err.msg, "llama.block_count"));

    assert_null(qs_model_open("/nonexistent/model.gguf", &err));
    assert_non_null(strstr(err.msg, "/nonexistent/model.gguf"));
    qs_model_close(NULL);
}

static void test_ftype_names(void **state) {
    (void)state;
    assert_string_equal(qs_ftype_name(0), "ALL_F32");
    assert_string_equal(qs_ftype_name(7), "Q8_0");
    assert_string_equal(qs_ftype_name(15), "Q4_K_M");
    assert_string_equal(qs_ftype_name(18), "Q6_K");
    assert_string_equal(qs_ftype_name(30), "IQ4_XS");
    assert_string_equal(qs_ftype_name(32), "BF16");
    assert_string_equal(qs_ftype_name(38), "MXFP4_MOE");
    assert_string_equal(qs_ftype_name(4), "?"); /* removed from llama.cpp */
    assert_string_equal(qs_ftype_name(-1), "?");
    assert_string_equal(qs_ftype_name(999), "?");
    assert_false(qs_ftype_guessed(15));
    assert_false(qs_ftype_guessed(-1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k),        cmocka_unit_test(test_synth_tiny),
        cmocka_unit_test(test_synth_qwen3_layout), cmocka_unit_test(test_per_layer_and_scaling_keys),
        cmocka_unit_test(test_bad_models),         cmocka_unit_test(test_ftype_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
