/* A plan applied in memory: converted tensors hold exactly the bytes qs_export writes, the
 * planned model computes what the exported file computes, a changed plan redoes only changed
 * tensors, cancel and failures leave the previous state usable, and the original stays as
 * stored. */
#include "qs_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applied.h"
#include "export.h"
#include "synth.h"

static const char *stories(char *buf, size_t n) {
    return qs_test_shared_path("models/stories260K.gguf", buf, n);
}

static const char *tiny_f16(void) {
    static char path[1024];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s/applied-tiny-f16.gguf", qs_test_tmpdir());
        qs_synth_opts so = {.type = QS_TYPE_F16, .seed = 11};
        qs_error err;
        if (qs_synth_write(qs_synth_find("tiny"), path, &so, &err) != QS_OK) fail_msg("%s", err.msg);
    }
    return path;
}

static qs_model *open_model(const char *path) {
    qs_error err;
    qs_model *m = qs_model_open(path, &err);
    if (!m) fail_msg("%s", err.msg);
    return m;
}

static qs_applied *new_applied(const qs_model *m) {
    qs_error err;
    qs_applied *a = qs_applied_new(m, &err);
    if (!a) fail_msg("%s", err.msg);
    return a;
}

static void apply_ok(qs_applied *a, const qs_plan *plan, const qs_applied_opts *o, qs_applied_stats *st) {
    qs_error err;
    if (qs_applied_apply(a, plan, o, st, &err) != QS_OK) fail_msg("apply: %s", err.msg);
}

/* An importance matrix over every block matrix of m (values 0.1 .. 2 varying by column). */
typedef struct test_im {
    qs_imatrix im;
} test_im;

static int cmp_entry(const void *x, const void *y) {
    return strcmp(((const qs_imatrix_entry *)x)->name, ((const qs_imatrix_entry *)y)->name);
}

static void make_imatrix(const qs_model *m, qs_imatrix *im) {
    memset(im, 0, sizeof *im);
    im->entries = calloc((size_t)m->n_tensors, sizeof *im->entries);
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const qs_model_tensor *mt = &m->tensors[i];
        if (mt->block < 0 || mt->t->n_dims != 2) continue;
        qs_imatrix_entry *e = &im->entries[im->n++];
        e->name = strdup(mt->name);
        e->n_per_row = mt->t->ne[0];
        e->n_mat = 1;
        e->values = malloc((size_t)e->n_per_row * sizeof *e->values);
        e->counts = calloc(1, sizeof *e->counts);
        e->counts[0] = 10;
        uint64_t s = 99 + (uint64_t)i;
        for (int64_t c = 0; c < e->n_per_row; c++) e->values[c] = 0.1f + 1.9f * qs_test_uniform(&s);
    }
    qsort(im->entries, (size_t)im->n, sizeof *im->entries, cmp_entry);
}

/* Exports m per plan and checks that every tensor the applied state converted holds the
 * exported bytes, and every other engine weight reads the map. Returns converted count. */
static int check_same_as_export(const char *path, const qs_plan *plan, const qs_imatrix *im, const char *tag) {
    qs_error err;
    qs_model *m = open_model(path);
    qs_applied *a = new_applied(m);
    qs_applied_opts o = {.n_threads = 3, .chunk_floats = 3000, .imatrix = im};
    qs_applied_stats st;
    apply_ok(a, plan, &o, &st);

    char out[1200];
    snprintf(out, sizeof out, "%s/applied-%s.gguf", qs_test_tmpdir(), tag);
    qs_export_opts eo = {.n_threads = 2, .imatrix = im};
    if (qs_export(m, plan, out, &eo, &err) != QS_OK) fail_msg("export: %s", err.msg);
    qs_model *e = open_model(out);
    assert_int_equal(e->n_tensors, m->n_tensors);

    const qs_infer_model *pm = qs_applied_planned(a);
    int n_conv = 0, n_map = 0;
    uint64_t held = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const gguf_tensor *s = m->tensors[i].t, *t = e->tensors[i].t;
        const qs_weight *w = qs_infer_model_weight(pm, m->tensors[i].name);
        uint64_t nb;
        const void *d = qs_applied_tensor_data(a, i, &nb);
        if (!w) continue; /* not an engine weight (norms) */
        assert_int_equal(qs_applied_tensor_type(a, i), t->type);
        assert_int_equal(w->type, t->type);
        assert_ptr_equal(w->data, d);
        if (t->type == s->type) {
            assert_ptr_equal(d, s->data);
            n_map++;
            continue;
        }
        assert_int_equal(nb, t->nbytes);
        if (memcmp(d, t->data, nb) != 0) fail_msg("%s: %s: in-memory bytes differ from the export", tag, m->tensors[i].name);
        held += nb;
        n_conv++;
    }
    assert_int_equal(st.n_redone, n_conv);
    assert_int_equal(st.n_mmap, n_map);
    assert_int_equal(st.n_reused, 0);
    assert_int_equal(qs_applied_bytes(a), held);
    assert_int_equal(st.bytes_held, held);
    assert_int_equal(st.bytes_redone, held);
    assert_true(n_conv > 0);

    /* the planned model computes exactly what the exported file computes; the original what
     * the source file computes */
    qs_infer_model *xm = qs_infer_model_load(e->gguf, &err);
    qs_infer_model *sm = qs_infer_model_load(m->gguf, &err);
    assert_non_null(xm);
    assert_non_null(sm);
    const qs_infer_model *pair[4] = {pm, xm, qs_applied_original(a), sm};
    float *lg[4];
    int nv = pm->hp.n_vocab;
    const int32_t toks[5] = {1, 7, 100, 33, 250};
    for (int k = 0; k < 4; k++) {
        qs_infer_params ip = qs_infer_default_params();
        ip.n_ctx = 16;
        ip.n_threads = 2;
        qs_infer_ctx *c = qs_infer_ctx_new(pair[k], &ip, &err);
        assert_non_null(c);
        assert_int_equal(qs_infer_decode(c, toks, 5, false, &err), QS_OK);
        lg[k] = malloc((size_t)nv * sizeof(float));
        memcpy(lg[k], qs_infer_logits(c, -1), (size_t)nv * sizeof(float));
        qs_infer_ctx_free(c);
    }
    assert_memory_equal(lg[0], lg[1], (size_t)nv * sizeof(float));
    assert_memory_equal(lg[2], lg[3], (size_t)nv * sizeof(float));
    assert_true(memcmp(lg[0], lg[2], (size_t)nv * sizeof(float)) != 0);
    for (int k = 0; k < 4; k++) free(lg[k]);
    qs_infer_model_free(xm);
    qs_infer_model_free(sm);
    qs_model_close(e);
    qs_applied_free(a);
    qs_model_close(m);
    return n_conv;
}

/* A mixed per-tensor plan: some tensors kept, several types, a layer and a rule. */
static void mixed_plan(qs_plan *p, qs_type base) {
    qs_error err;
    qs_plan_init(p);
    p->default_type = base;
    assert_int_equal(qs_plan_insert_rule(p, -1, "attn_v", QS_TYPE_Q5_1, &err), QS_OK);
    assert_int_equal(qs_plan_insert_rule(p, -1, "ffn_up", QS_TYPE_IQ4_NL, &err), QS_OK);
    assert_int_equal(qs_plan_set_layer(p, 1, QS_TYPE_Q8_0, &err), QS_OK);
    assert_int_equal(qs_plan_set_tensor(p, "blk.0.attn_q.weight", QS_TYPE_Q4_1, &err), QS_OK);
    assert_int_equal(qs_plan_set_tensor(p, "output.weight", QS_TYPE_Q6_K, &err), QS_OK);
}

static void test_same_bytes_as_export_stories(void **state) {
    (void)state;
    char path[1024];
    if (!stories(path, sizeof path)) return;
    qs_plan p;
    qs_plan_init(&p);
    qs_plan_set_preset(&p, QS_PRESET_Q4_K_M);
    check_same_as_export(path, &p, NULL, "stories-q4km");
    qs_plan_free(&p);
    mixed_plan(&p, QS_TYPE_Q4_0);
    check_same_as_export(path, &p, NULL, "stories-mixed");
    qs_plan_free(&p);
}

static void test_same_bytes_as_export_tiny(void **state) {
    (void)state;
    const char *path = tiny_f16();
    qs_plan p;
    qs_plan_init(&p);
    qs_plan_set_preset(&p, QS_PRESET_Q4_K_M);
    check_same_as_export(path, &p, NULL, "tiny-q4km");
    qs_plan_free(&p);
    mixed_plan(&p, QS_TYPE_Q3_K);
    check_same_as_export(path, &p, NULL, "tiny-mixed");
    qs_plan_free(&p);
}

/* With an importance matrix, export and apply still agree, and the matrix changes bytes. */
/* Tied embeddings (qwen3 layout, no output.weight): the output projection follows the
 * converted token_embd. */
static void test_same_bytes_tied_qwen3(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/applied-tiny-qwen3.gguf", qs_test_tmpdir());
    qs_synth_opts so = {.type = QS_TYPE_BF16, .seed = 5};
    qs_error err;
    if (qs_synth_write(qs_synth_find("tiny-qwen3"), path, &so, &err) != QS_OK) fail_msg("%s", err.msg);
    qs_plan p;
    qs_plan_init(&p);
    qs_plan_set_preset(&p, QS_PRESET_Q4_K_M);
    check_same_as_export(path, &p, NULL, "qwen3-q4km");
    qs_model *m = open_model(path);
    qs_applied *a = new_applied(m);
    apply_ok(a, &p, NULL, NULL);
    const qs_infer_model *pm = qs_applied_planned(a);
    assert_true(pm->hp.tied_embeddings);
    assert_ptr_equal(pm->output.data, pm->tok_embd.data);
    assert_int_equal(pm->output.type, pm->tok_embd.type);
    assert_ptr_equal(pm->tok_embd.data, qs_applied_tensor_data(a, qs_model_find(m, "token_embd.weight"), NULL));
    assert_true(pm->tok_embd.type != QS_TYPE_BF16);
    qs_applied_free(a);
    qs_model_close(m);
    qs_plan_free(&p);
}

static void test_same_bytes_with_imatrix(void **state) {
    (void)state;
    const char *path = tiny_f16();
    qs_model *m = open_model(path);
    qs_imatrix im;
    make_imatrix(m, &im);
    qs_plan p;
    qs_plan_init(&p);
    qs_plan_set_preset(&p, QS_PRESET_Q4_K_M);
    check_same_as_export(path, &p, &im, "tiny-q4km-im");

    /* the importance reached the quantizer: some tensor differs from the plain apply */
    qs_applied *a = new_applied(m), *b = new_applied(m);
    qs_applied_opts with = {.n_threads = 2, .imatrix = &im}, without = {.n_threads = 2};
    apply_ok(a, &p, &with, NULL);
    apply_ok(b, &p, &without, NULL);
    int n_diff = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        uint64_t na, nb;
        const void *da = qs_applied_tensor_data(a, i, &na), *db = qs_applied_tensor_data(b, i, &nb);
        assert_int_equal(na, nb);
        n_diff += memcmp(da, db, na) != 0;
    }
    assert_true(n_diff > 0);
    qs_applied_free(a);
    qs_applied_free(b);
    qs_plan_free(&p);
    qs_imatrix_free(&im);
    qs_model_close(m);
}

/* A second plan redoes only the tensors whose type changed; kept buffers stay at the same
 * address; tensors back to their stored type read the map again. */
static void test_incremental(void **state) {
    (void)state;
    const char *path = tiny_f16();
    qs_model *m = open_model(path);
    qs_applied *a = new_applied(m);
    qs_error err;
    qs_plan p1, p2;
    qs_plan_init(&p1);
    p1.default_type = QS_TYPE_Q8_0; /* every matrix Q8_0 */
    qs_applied_stats st;
    apply_ok(a, &p1, NULL, &st);
    int64_t n = m->n_tensors;
    const void **before = calloc((size_t)n, sizeof *before);
    int n_engine = 0;
    for (int64_t i = 0; i < n; i++) {
        before[i] = qs_applied_tensor_data(a, i, NULL);
        n_engine += qs_infer_model_weight(qs_applied_planned(a), m->tensors[i].name) != NULL;
    }
    assert_int_equal(st.n_redone, n_engine); /* every engine weight is F16 -> Q8_0 */
    assert_int_equal(st.n_mmap, 0);
    const uint64_t held1 = qs_applied_bytes(a);

    /* p2: two tensors to Q4_K, one back to the stored F16, the rest unchanged */
    assert_int_equal(qs_plan_copy(&p2, &p1), QS_OK);
    assert_int_equal(qs_plan_set_tensor(&p2, "blk.1.ffn_up.weight", QS_TYPE_Q4_K, &err), QS_OK);
    assert_int_equal(qs_plan_set_tensor(&p2, "blk.2.attn_k.weight", QS_TYPE_Q4_K, &err), QS_OK);
    assert_int_equal(qs_plan_set_tensor(&p2, "blk.3.ffn_down.weight", QS_TYPE_F16, &err), QS_OK);
    apply_ok(a, &p2, NULL, &st);
    assert_int_equal(st.n_redone, 2);
    assert_int_equal(st.n_reused, n_engine - 3);
    assert_int_equal(st.n_mmap, 1);
    assert_int_equal(st.n_freed, 3);
    const int64_t up = qs_model_find(m, "blk.1.ffn_up.weight"), down = qs_model_find(m, "blk.3.ffn_down.weight");
    for (int64_t i = 0; i < n; i++) {
        const void *d = qs_applied_tensor_data(a, i, NULL);
        const char *name = m->tensors[i].name;
        if (!strcmp(name, "blk.1.ffn_up.weight") || !strcmp(name, "blk.2.attn_k.weight")) {
            assert_int_equal(qs_applied_tensor_type(a, i), QS_TYPE_Q4_K);
        } else if (i == down) {
            assert_ptr_equal(d, m->tensors[i].t->data);
            assert_int_equal(qs_applied_planned(a)->layers[3].w_down.type, QS_TYPE_F16);
        } else {
            assert_ptr_equal(d, before[i]); /* kept, not redone */
        }
    }
    const uint64_t q8_up = qs_type_row_bytes(QS_TYPE_Q8_0, 256) * 768, q4_up = qs_type_row_bytes(QS_TYPE_Q4_K, 256) * 768;
    const uint64_t q8_k = qs_type_row_bytes(QS_TYPE_Q8_0, 256) * 128, q4_k = qs_type_row_bytes(QS_TYPE_Q4_K, 256) * 128;
    const uint64_t q8_down = qs_type_row_bytes(QS_TYPE_Q8_0, 768) * 256;
    assert_int_equal(qs_applied_bytes(a), held1 - q8_up - q8_k - q8_down + q4_up + q4_k);
    (void)up;

    /* the same plan again: nothing to do */
    apply_ok(a, &p2, NULL, &st);
    assert_int_equal(st.n_redone, 0);
    assert_int_equal(st.n_freed, 0);
    assert_int_equal(st.n_reused, n_engine - 1);

    /* reset: as stored, nothing held */
    qs_applied_reset(a);
    assert_int_equal(qs_applied_bytes(a), 0);
    for (int64_t i = 0; i < n; i++) assert_ptr_equal(qs_applied_tensor_data(a, i, NULL), m->tensors[i].t->data);
    assert_int_equal(qs_applied_planned(a)->layers[0].wq.type, QS_TYPE_F16);
    free(before);
    qs_plan_free(&p1);
    qs_plan_free(&p2);
    qs_applied_free(a);
    qs_model_close(m);
}

typedef struct cancel_after {
    int calls, limit;
    uint64_t last_done, total;
    bool monotonic;
} cancel_after;

static int progress_cancel(void *user, uint64_t done, uint64_t total) {
    cancel_after *c = user;
    if (done < c->last_done) c->monotonic = false;
    c->last_done = done;
    c->total = total;
    return ++c->calls >= c->limit;
}

static void logits_of(const qs_infer_model *mdl, float *out) {
    qs_error err;
    qs_infer_params ip = qs_infer_default_params();
    ip.n_ctx = 8;
    ip.n_threads = 1;
    qs_infer_ctx *c = qs_infer_ctx_new(mdl, &ip, &err);
    assert_non_null(c);
    const int32_t t[3] = {1, 5, 9};
    assert_int_equal(qs_infer_decode(c, t, 3, false, &err), QS_OK);
    memcpy(out, qs_infer_logits(c, -1), (size_t)mdl->hp.n_vocab * sizeof(float));
    qs_infer_ctx_free(c);
}

/* Cancel (flag or progress) and failures leave the applied state as it was and usable;
 * progress counts bytes monotonically up to the job's total. */
static void test_cancel_and_failure_keep_state(void **state) {
    (void)state;
    const char *path = tiny_f16();
    qs_model *m = open_model(path);
    qs_applied *a = new_applied(m);
    qs_error err;
    qs_plan p1, p2;
    qs_plan_init(&p1);
    qs_plan_set_preset(&p1, QS_PRESET_Q4_K_M);
    cancel_after full = {.limit = 1 << 30, .monotonic = true};
    qs_applied_opts o = {.n_threads = 2, .chunk_floats = 4096, .progress = progress_cancel, .progress_user = &full};
    qs_applied_stats st;
    apply_ok(a, &p1, &o, &st);
    assert_true(full.monotonic);
    assert_int_equal(full.total, st.bytes_redone);
    assert_int_equal(full.last_done, st.bytes_redone);
    assert_true(full.calls > st.n_redone); /* chunk-level progress, not only per tensor */
    int done, total;
    qs_applied_progress_tensors(a, &done, &total);
    assert_int_equal(done, st.n_redone);
    assert_int_equal(total, st.n_redone);

    const int nv = qs_applied_planned(a)->hp.n_vocab;
    float *ref = malloc((size_t)nv * sizeof(float)), *now = malloc((size_t)nv * sizeof(float));
    logits_of(qs_applied_planned(a), ref);
    const uint64_t held = qs_applied_bytes(a);
    const void *wq0 = qs_applied_planned(a)->layers[0].wq.data;

    qs_plan_init(&p2);
    qs_plan_set_preset(&p2, QS_PRESET_Q8_0);
    /* cancel from the progress callback midway */
    cancel_after mid = {.limit = 5, .monotonic = true};
    o.progress_user = &mid;
    assert_int_equal(qs_applied_apply(a, &p2, &o, NULL, &err), QS_CANCELLED);
    assert_string_equal(err.msg, "cancelled");
    /* cancel by flag before anything */
    atomic_int flag = 1;
    qs_applied_opts of = {.cancel = &flag};
    assert_int_equal(qs_applied_apply(a, &p2, &of, NULL, &err), QS_CANCELLED);
    /* a plan that does not validate */
    qs_plan bad;
    qs_plan_init(&bad);
    bad.preset = QS_PRESET_Q4_K_M;
    bad.default_type = QS_TYPE_Q8_0; /* inconsistent with the preset */
    assert_int_equal(qs_applied_apply(a, &bad, NULL, NULL, &err), QS_ERR);
    /* a type the plan allows but we cannot produce */
    qs_plan noq;
    qs_plan_init(&noq);
    noq.default_type = QS_TYPE_Q8_0;
    assert_int_equal(qs_plan_set_tensor(&noq, "blk.2.ffn_gate.weight", QS_TYPE_IQ2_XXS, &err), QS_OK);
    assert_int_equal(qs_applied_apply(a, &noq, NULL, NULL, &err), QS_ERR);
    if (!strstr(err.msg, "blk.2.ffn_gate.weight") || !strstr(err.msg, "IQ2_XXS")) fail_msg("message: %s", err.msg);
    qs_plan_free(&noq);

    /* nothing changed */
    assert_int_equal(qs_applied_bytes(a), held);
    assert_ptr_equal(qs_applied_planned(a)->layers[0].wq.data, wq0);
    assert_int_equal(qs_applied_planned(a)->layers[0].wq.type, QS_TYPE_Q4_K);
    logits_of(qs_applied_planned(a), now);
    assert_memory_equal(ref, now, (size_t)nv * sizeof(float));

    /* and the next apply works */
    apply_ok(a, &p2, NULL, &st);
    assert_int_equal(qs_applied_planned(a)->layers[0].wq.type, QS_TYPE_Q8_0);
    free(ref);
    free(now);
    qs_plan_free(&p1);
    qs_plan_free(&p2);
    qs_plan_free(&bad);
    qs_applied_free(a);
    qs_model_close(m);
}

/* prepare builds aside: the planned model is untouched until commit; discard drops it. */
static void test_prepare_commit(void **state) {
    (void)state;
    char path[1024];
    if (!stories(path, sizeof path)) return;
    qs_model *m = open_model(path);
    qs_applied *a = new_applied(m);
    qs_error err;
    qs_plan p;
    qs_plan_init(&p);
    qs_plan_set_preset(&p, QS_PRESET_Q8_0);
    const int nv = qs_applied_planned(a)->hp.n_vocab;
    float *orig = malloc((size_t)nv * sizeof(float)), *x = malloc((size_t)nv * sizeof(float));
    logits_of(qs_applied_original(a), orig);

    assert_int_equal(qs_applied_commit(a, &err), QS_ERR); /* nothing prepared */
    qs_applied_stats st;
    assert_int_equal(qs_applied_prepare(a, &p, NULL, &st, &err), QS_OK);
    assert_true(st.n_redone > 0);
    assert_int_equal(qs_applied_bytes(a), 0);
    logits_of(qs_applied_planned(a), x);
    assert_memory_equal(orig, x, (size_t)nv * sizeof(float)); /* still as stored */
    qs_applied_discard(a);
    assert_int_equal(qs_applied_commit(a, &err), QS_ERR);

    assert_int_equal(qs_applied_prepare(a, &p, NULL, &st, &err), QS_OK);
    assert_int_equal(qs_applied_commit(a, &err), QS_OK);
    assert_int_equal(qs_applied_bytes(a), st.bytes_held);
    assert_int_equal(qs_applied_last_stats(a).n_redone, st.n_redone);
    logits_of(qs_applied_planned(a), x);
    assert_true(memcmp(orig, x, (size_t)nv * sizeof(float)) != 0);
    /* the original model is still as stored */
    logits_of(qs_applied_original(a), x);
    assert_memory_equal(orig, x, (size_t)nv * sizeof(float));
    /* a prepare left uncommitted is freed with the object (ASan checks) */
    qs_plan_set_preset(&p, QS_PRESET_Q4_0);
    assert_int_equal(qs_applied_prepare(a, &p, NULL, &st, &err), QS_OK);
    assert_true(st.n_reused > 0); /* the Q8_0 output and fallbacks are kept */
    free(orig);
    free(x);
    qs_plan_free(&p);
    qs_applied_free(a);
    qs_model_close(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_as_export_stories),
        cmocka_unit_test(test_same_bytes_as_export_tiny),
        cmocka_unit_test(test_same_bytes_tied_qwen3),
        cmocka_unit_test(test_same_bytes_with_imatrix),
        cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_cancel_and_failure_keep_state),
        cmocka_unit_test(test_prepare_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
