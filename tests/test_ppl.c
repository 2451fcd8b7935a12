/* Perplexity and KL divergence: the per-token figures on hand-computed numbers, the chunking
 * against a plain re-implementation, a uniform model's perplexity equal to its vocabulary,
 * the planned-vs-original divergence ordering, cancel and a background thread. */
#include "qs_test_util.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applied.h"
#include "ppl.h"
#include "tokenizer.h"

/* ---------------------------------------------------------------- per-token figures */

static void test_kld_identical_is_zero(void **state) {
    (void)state;
    float a[7] = {0.5f, -3.0f, 2.25f, 7.0f, 7.0f, -100.0f, 0.0f};
    assert_true(qs_ppl_kld(a, a, 7) == 0.0);
    /* a constant added to every logit is the same distribution */
    float b[7];
    for (int i = 0; i < 7; i++) b[i] = a[i] + 4.0f; /* exact in float for these values */
    assert_true(fabs(qs_ppl_kld(a, b, 7)) < 1e-15);
}

static void test_kld_hand_computed(void **state) {
    (void)state;
    /* p = softmax(0, ln 2) = (1/3, 2/3); q = softmax(0, 0) = (1/2, 1/2):
     * KL(p||q) = 1/3 ln((1/3)/(1/2)) + 2/3 ln((2/3)/(1/2)) = 1/3 ln(2/3) + 2/3 ln(4/3) */
    const float p[2] = {0.0f, (float)log(2.0)}, q[2] = {0.0f, 0.0f};
    const double want = log(2.0 / 3.0) / 3.0 + 2.0 * log(4.0 / 3.0) / 3.0; /* 0.0566330 */
    assert_true(fabs(qs_ppl_kld(p, q, 2) - want) < 1e-7);
    /* and the other way round: KL(q||p) = 1/2 ln(3/2) + 1/2 ln(3/4) */
    const double back = 0.5 * log(1.5) + 0.5 * log(0.75);
    assert_true(fabs(qs_ppl_kld(q, p, 2) - back) < 1e-7);
    assert_true(fabs(want - back) > 1e-3); /* not symmetric */
}

static void test_nll_and_argmax(void **state) {
    (void)state;
    const float l[3] = {1.0f, 2.0f, 3.0f};
    /* -log(e^1 / (e^1 + e^2 + e^3)) = log(1 + e + e^2) */
    const double e = exp(1.0);
    assert_true(fabs(qs_ppl_nll(l, 3, 0) - log(1 + e + e * e)) < 1e-6);
    assert_true(fabs(qs_ppl_nll(l, 3, 2) - log(1 + 1 / e + 1 / (e * e))) < 1e-6);
    const float u[4] = {0, 0, 0, 0};
    assert_true(fabs(qs_ppl_nll(u, 4, 3) - log(4.0)) < 1e-12);
    const float t[5] = {1, 5, 2, 5, -1};
    assert_int_equal(qs_ppl_argmax(t, 5), 1); /* first on ties */
    assert_int_equal(qs_ppl_argmax(l, 3), 2);
}

static void test_percentile(void **state) {
    (void)state;
    const float v[5] = {1, 2, 3, 4, 5};
    assert_true(qs_ppl_percentile(v, 5, 0.5) == 3.0);
    assert_true(fabs(qs_ppl_percentile(v, 5, 0.1) - 1.4) < 1e-12);   /* 0.4 of the way 1 -> 2 */
    assert_true(fabs(qs_ppl_percentile(v, 5, 0.999) - 4.996) < 1e-9);
    assert_true(qs_ppl_percentile(v, 5, 0.0) == 1.0);
    assert_true(qs_ppl_percentile(v, 5, 1.0) == 5.0);
    const float one[1] = {7};
    assert_true(qs_ppl_percentile(one, 1, 0.3) == 7.0);
}

/* ---------------------------------------------------------------- on stories260K */

typedef struct fixture {
    qs_model *m;
    qs_applied *a;
    int32_t *ids;
    size_t n_ids;
    int32_t bos;
} fixture;

static fixture g;

static int setup(void **state) {
    (void)state;
    char path[1024];
    if (!qs_test_shared_path("models/stories260K.gguf", path, sizeof path)) return 0;
    qs_error err;
    g.m = qs_model_open(path, &err);
    if (!g.m) return -1;
    g.a = qs_applied_new(g.m, &err);
    qs_tokenizer *tok = qs_tok_load(g.m->gguf, &err);
    if (!g.a || !tok) return -1;
    FILE *f = fopen(QS_TESTS_DIR "/fixtures/ppl_stories.txt", "rb");
    if (!f) return -1;
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (qs_tok_encode(tok, buf, n, true, false, &g.ids, &g.n_ids, &err) != QS_OK) return -1;
    g.bos = qs_tok_bos(tok);
    qs_tok_free(tok);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    free(g.ids);
    qs_applied_free(g.a);
    qs_model_close(g.m);
    return 0;
}

#define NEED_MODEL \
    do {           \
        if (!g.m) return; \
    } while (0)

static qs_ppl_params params(int n_ctx) {
    qs_ppl_params p = {.n_ctx = n_ctx, .n_threads = 2, .bos = g.bos};
    return p;
}

/* The method written out plainly: per chunk a fresh context, the whole chunk in one decode
 * with every token's logits, BOS first, the second half scored with a softmax in double. */
static double plain_ppl(const qs_infer_model *m, int n_ctx, int n_chunks) {
    qs_error err;
    qs_infer_params ip = qs_infer_default_params();
    ip.n_ctx = n_ctx;
    ip.n_batch = n_ctx;
    ip.n_threads = 1;
    const int nv = m->hp.n_vocab;
    double sum = 0;
    int64_t count = 0;
    int32_t *chunk = malloc((size_t)n_ctx * sizeof *chunk);
    for (int c = 0; c < n_chunks; c++) {
        qs_infer_ctx *ctx = qs_infer_ctx_new(m, &ip, &err);
        assert_non_null(ctx);
        memcpy(chunk, g.ids + (size_t)c * n_ctx, (size_t)n_ctx * sizeof *chunk);
        chunk[0] = g.bos;
        assert_int_equal(qs_infer_decode(ctx, chunk, n_ctx, true, &err), QS_OK);
        for (int pos = n_ctx / 2; pos < n_ctx - 1; pos++) {
            const float *l = qs_infer_logits(ctx, pos);
            double mx = l[0], z = 0;
            for (int i = 1; i < nv; i++) mx = l[i] > mx ? l[i] : mx;
            for (int i = 0; i < nv; i++) z += exp(l[i] - mx);
            sum += -((l[chunk[pos + 1]] - mx) - log(z));
            count++;
        }
        qs_infer_ctx_free(ctx);
    }
    free(chunk);
    return exp(sum / (double)count);
}

static void test_ppl_matches_plain_method(void **state) {
    (void)state;
    NEED_MODEL;
    const qs_infer_model *m = qs_applied_original(g.a);
    qs_error err;
    qs_ppl_result r;
    qs_ppl_params p = params(128);
    p.n_batch = 24; /* first half and scored half in several passes */
    assert_int_equal(qs_ppl_run(m, NULL, g.ids, (int64_t)g.n_ids, &p, &r, &err), QS_OK);
    const int chunks = (int)(g.n_ids / 128);
    assert_int_equal(r.n_chunks, chunks);
    assert_int_equal(r.n_chunks_max, chunks);
    assert_int_equal(r.n_scored, (int64_t)chunks * (128 - 1 - 64));
    assert_int_equal(r.n_tokens, (int64_t)g.n_ids);
    const double want = plain_ppl(m, 128, chunks);
    if (fabs(r.ppl / want - 1) > 1e-5) fail_msg("ppl %.6f, plain method %.6f", r.ppl, want);
    assert_true(r.ppl > 2 && r.ppl < 20); /* a trained model on plain English stories */
    assert_true(r.ppl_unc > 0 && r.ppl_unc < r.ppl / 5);
    assert_false(r.kld);

    /* --chunks and an odd context */
    p = params(101);
    p.n_chunks = 3;
    assert_int_equal(qs_ppl_run(m, NULL, g.ids, (int64_t)g.n_ids, &p, &r, &err), QS_OK);
    assert_int_equal(r.n_chunks, 3);
    assert_int_equal(r.n_scored, 3 * (101 - 1 - 50));
    const double want3 = plain_ppl(m, 101, 3);
    if (fabs(r.ppl / want3 - 1) > 1e-5) fail_msg("ppl %.6f, plain method %.6f", r.ppl, want3);
}

/* A model whose logits are all zero predicts every token with probability 1/n_vocab: its
 * perplexity is exactly n_vocab. Against itself, its divergence is 0 and top-1 always agrees. */
static void test_uniform_model(void **state) {
    (void)state;
    NEED_MODEL;
    qs_error err;
    qs_infer_model *u = qs_infer_model_load(g.m->gguf, &err);
    assert_non_null(u);
    const int nv = u->hp.n_vocab, ne = u->hp.n_embd;
    float *zeros = calloc((size_t)nv * ne, sizeof *zeros);
    assert_int_equal(qs_infer_model_set_weight(u, "output.weight", QS_TYPE_F32, zeros,
                                               (uint64_t)nv * ne * sizeof(float), &err), QS_OK);
    qs_ppl_result r;
    qs_ppl_params p = params(64);
    p.n_chunks = 4;
    assert_int_equal(qs_ppl_run(u, u, g.ids, (int64_t)g.n_ids, &p, &r, &err), QS_OK);
    assert_int_equal(nv, 512);
    assert_true(fabs(r.ppl - 512.0) < 1e-9);
    assert_true(fabs(r.ppl_base - 512.0) < 1e-9);
    assert_true(r.ppl_unc < 1e-3); /* 0 up to the cancellation in E[x^2] - E[x]^2 */
    assert_true(r.kld);
    assert_true(r.kld_mean == 0.0 && r.kld_max == 0.0);
    assert_int_equal(r.n_same_top, r.n_scored);
    assert_true(r.top1 == 1.0);
    assert_true(r.dp_rms == 0.0);

    /* the original against the uniform model: per token KL(p || uniform) = log(n) - H(p),
     * so the mean KLD equals log(512) minus the original's mean entropy: >0 and < log(512) */
    const qs_infer_model *orig = qs_applied_original(g.a);
    assert_int_equal(qs_ppl_run(u, orig, g.ids, (int64_t)g.n_ids, &p, &r, &err), QS_OK);
    assert_true(r.kld_mean > 0.5 && r.kld_mean < log(512.0));
    assert_true(r.kld_min >= 0 && r.kld_min <= r.kld_p01 && r.kld_p01 <= r.kld_median &&
                r.kld_median <= r.kld_p99 && r.kld_p99 <= r.kld_max);
    assert_true(fabs(r.ppl - 512.0) < 1e-9);
    assert_true(r.ln_ratio > 0);
    free(zeros);
    qs_infer_model_free(u);
}

/* Q8_0 in memory diverges from the F32 original less than Q4_0 does, both measurably. */
static void test_kld_orders_plans(void **state) {
    (void)state;
    NEED_MODEL;
    qs_error err;
    double kld[2], top[2], ppl[2];
    const qs_preset presets[2] = {QS_PRESET_Q8_0, QS_PRESET_Q4_0};
    for (int k = 0; k < 2; k++) {
        qs_plan plan;
        qs_plan_init(&plan);
        qs_plan_set_preset(&plan, presets[k]);
        assert_int_equal(qs_applied_apply(g.a, &plan, NULL, NULL, &err), QS_OK);
        qs_plan_free(&plan);
        qs_ppl_result r;
        qs_ppl_params p = params(128);
        assert_int_equal(qs_ppl_run(qs_applied_planned(g.a), qs_applied_original(g.a), g.ids, (int64_t)g.n_ids, &p,
                                    &r, &err), QS_OK);
        kld[k] = r.kld_mean;
        top[k] = r.top1;
        ppl[k] = r.ppl;
        /* the base's perplexity is the original model's */
        qs_ppl_result r0;
        assert_int_equal(qs_ppl_run(qs_applied_original(g.a), NULL, g.ids, (int64_t)g.n_ids, &p, &r0, &err), QS_OK);
        assert_true(r.ppl_base == r0.ppl);
    }
    qs_applied_reset(g.a);
    assert_true(kld[0] > 0 && kld[1] > 0);
    assert_true(kld[0] * 10 < kld[1]); /* 8-bit blocks: ~16x less weight noise than 4-bit */
    assert_true(top[0] > 0.95);
    assert_true(top[0] > top[1]);
    assert_true(ppl[1] > ppl[0]);
}

static int stop_after_one(void *user, const qs_ppl_result *r) {
    int *calls = user;
    (*calls)++;
    return r->n_chunks >= 1;
}

static void test_cancel_and_errors(void **state) {
    (void)state;
    NEED_MODEL;
    const qs_infer_model *m = qs_applied_original(g.a);
    qs_error err;
    qs_ppl_result r;
    int calls = 0;
    qs_ppl_params p = params(128);
    p.progress = stop_after_one;
    p.progress_user = &calls;
    assert_int_equal(qs_ppl_run(m, NULL, g.ids, (int64_t)g.n_ids, &p, &r, &err), QS_CANCELLED);
    assert_int_equal(calls, 1);
    assert_int_equal(r.n_chunks, 1);
    assert_int_equal(r.n_scored, 63);
    assert_true(r.ppl > 1);

    atomic_int flag = 1;
    p = params(128);
    p.cancel = &flag;
    assert_int_equal(qs_ppl_run(m, NULL, g.ids, (int64_t)g.n_ids, &p, &r, &err), QS_CANCELLED);
    assert_int_equal(r.n_chunks, 0);

    p = params(128);
    assert_int_equal(qs_ppl_run(m, NULL, g.ids, 255, &p, &r, &err), QS_ERR);
    assert_string_equal(err.msg, "the text has 255 tokens; a context of 128 needs at least 256");
    p.n_ctx = 3;
    assert_int_equal(qs_ppl_run(m, NULL, g.ids, (int64_t)g.n_ids, &p, &r, &err), QS_ERR);
    int32_t bad[16];
    for (int i = 0; i < 16; i++) bad[i] = i == 9 ? 512 : 5;
    p.n_ctx = 8;
    assert_int_equal(qs_ppl_run(m, NULL, bad, 16, &p, &r, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "token 9 (id 512)"));
}

typedef struct bg {
    const qs_infer_model *m;
    qs_ppl_result r;
    int rc;
} bg;

static void *bg_run(void *arg) {
    bg *b = arg;
    qs_error err;
    qs_ppl_params p = params(64);
    p.n_chunks = 5;
    b->rc = qs_ppl_run(b->m, NULL, g.ids, (int64_t)g.n_ids, &p, &b->r, &err);
    return NULL;
}

/* Usable from a background thread: the same figures as on the calling thread. */
static void test_background_thread(void **state) {
    (void)state;
    NEED_MODEL;
    bg b = {.m = qs_applied_original(g.a)};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bg_run, &b), 0);
    pthread_join(th, NULL);
    assert_int_equal(b.rc, QS_OK);
    qs_error err;
    qs_ppl_result r;
    qs_ppl_params p = params(64);
    p.n_chunks = 5;
    p.n_threads = 1; /* results do not depend on the worker count */
    assert_int_equal(qs_ppl_run(b.m, NULL, g.ids, (int64_t)g.n_ids, &p, &r, &err), QS_OK);
    assert_true(r.ppl == b.r.ppl);
    assert_int_equal(r.n_scored, b.r.n_scored);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kld_identical_is_zero),
        cmocka_unit_test(test_kld_hand_computed),
        cmocka_unit_test(test_nll_and_argmax),
        cmocka_unit_test(test_percentile),
        cmocka_unit_test(test_ppl_matches_plain_method),
        cmocka_unit_test(test_uniform_model),
        cmocka_unit_test(test_kld_orders_plans),
        cmocka_unit_test(test_cancel_and_errors),
        cmocka_unit_test(test_background_thread),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
