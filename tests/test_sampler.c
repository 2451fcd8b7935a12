/* Sampler: greedy, seeded draws, truncation steps on hand-made distributions, penalties as
 * llama.cpp defines them. */
#include "qs_test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"

/* Candidates (id i, logit l[i]) for n tokens, unsorted. */
static qs_candidates make_cands(qs_token_cand *buf, const float *l, int n) {
    for (int i = 0; i < n; i++) buf[i] = (qs_token_cand){i, l[i], 0.0f};
    return (qs_candidates){buf, n, false};
}

/* Sorted list of the ids kept, in buf order sorted ascending, as a bitmask (ids < 32). */
static unsigned kept_mask(const qs_candidates *c) {
    unsigned m = 0;
    for (int64_t i = 0; i < c->size; i++) m |= 1u << c->data[i].id;
    return m;
}

static void test_greedy_is_argmax(void **state) {
    (void)state;
    qs_error err = {{0}};
    qs_sampler_params p = qs_sampler_default_params();
    p.temperature = 0.0f;
    qs_sampler *s = qs_sampler_new(&p, 1000, &err);
    assert_non_null(s);
    float logits[1000];
    for (int rep = 0; rep < 50; rep++) {
        qs_test_gaussian(logits, 1000, 100 + rep);
        int best = 0;
        for (int i = 1; i < 1000; i++)
            if (logits[i] > logits[best]) best = i;
        assert_int_equal(qs_sampler_sample(s, logits), best);
        assert_int_equal(qs_argmax(logits, 1000), best);
    }
    /* ties: the first */
    for (int i = 0; i < 1000; i++) logits[i] = 0.0f;
    logits[7] = logits[300] = 2.0f;
    assert_int_equal(qs_sampler_sample(s, logits), 7);
    assert_int_equal(qs_argmax(logits, 1000), 7);
    assert_int_equal(qs_argmax(logits, 0), -1);
    qs_sampler_free(s);
}

static void test_seed_reproducible(void **state) {
    (void)state;
    qs_error err = {{0}};
    qs_sampler_params p = qs_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 1234;
    enum { V = 64, N = 300 };
    qs_sampler *a = qs_sampler_new(&p, V, &err), *b = qs_sampler_new(&p, V, &err);
    p.seed = 1235;
    qs_sampler *c = qs_sampler_new(&p, V, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    float logits[V];
    int32_t seq_a[N];
    int differ = 0;
    for (int i = 0; i < N; i++) {
        qs_test_gaussian(logits, V, 7 + i);
        int32_t ta = qs_sampler_sample(a, logits), tb = qs_sampler_sample(b, logits),
                tc = qs_sampler_sample(c, logits);
        assert_int_equal(ta, tb);
        differ += ta != tc;
        seq_a[i] = ta;
    }
    assert_true(differ > N / 4); /* another seed gives another sequence */
    /* reset replays the same sequence */
    qs_sampler_reset(a);
    for (int i = 0; i < N; i++) {
        qs_test_gaussian(logits, V, 7 + i);
        assert_int_equal(qs_sampler_sample(a, logits), seq_a[i]);
    }
    qs_sampler_free(a);
    qs_sampler_free(b);
    qs_sampler_free(c);
}

/* With no truncation at temperature 1 the draws follow softmax(logits). */
static void test_draw_follows_softmax(void **state) {
    (void)state;
    qs_error err = {{0}};
    qs_sampler_params p = qs_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 99;
    const float probs[4] = {0.5f, 0.25f, 0.15f, 0.10f};
    float logits[4];
    for (int i = 0; i < 4; i++) logits[i] = logf(probs[i]);
    qs_sampler *s = qs_sampler_new(&p, 4, &err);
    int counts[4] = {0};
    const int N = 40000;
    for (int i = 0; i < N; i++) counts[qs_sampler_sample(s, logits)]++;
    for (int i = 0; i < 4; i++) {
        double f = (double)counts[i] / N, sd = sqrt(probs[i] * (1 - probs[i]) / N);
        assert_true(fabs(f - probs[i]) < 5 * sd);
    }
    /* temperature 0.5 squares and renormalises: p ~ probs^2 */
    qs_sampler_free(s);
    p.temperature = 0.5f;
    s = qs_sampler_new(&p, 4, &err);
    memset(counts, 0, sizeof counts);
    double z = 0;
    for (int i = 0; i < 4; i++) z += probs[i] * probs[i];
    for (int i = 0; i < N; i++) counts[qs_sampler_sample(s, logits)]++;
    for (int i = 0; i < 4; i++) {
        double q = probs[i] * probs[i] / z, f = (double)counts[i] / N, sd = sqrt(q * (1 - q) / N);
        assert_true(fabs(f - q) < 5 * sd);
    }
    qs_sampler_free(s);
}

static void test_top_k(void **state) {
    (void)state;
    qs_token_cand buf[8];
    const float l[6] = {1.0f, 5.0f, 3.0f, 5.0f, 2.0f, -1.0f};
    qs_candidates c = make_cands(buf, l, 6);
    qs_cand_top_k(&c, 2);
    assert_int_equal(c.size, 2);
    assert_true(c.sorted);
    assert_int_equal(c.data[0].id, 1); /* ties: lower id first */
    assert_int_equal(c.data[1].id, 3);
    c = make_cands(buf, l, 6);
    qs_cand_top_k(&c, 3);
    assert_int_equal(kept_mask(&c), (1u << 1) | (1u << 3) | (1u << 2));
    assert_int_equal(c.data[2].id, 2);
    c = make_cands(buf, l, 6);
    qs_cand_top_k(&c, 0); /* off */
    assert_int_equal(c.size, 6);
    qs_cand_top_k(&c, 100); /* more than there are: all, sorted */
    assert_int_equal(c.size, 6);
    assert_int_equal(c.data[5].id, 5);
}

/* probabilities 0.05, 0.5, 0.1, 0.2, 0.15 on ids 0..4 */
static qs_candidates nucleus_cands(qs_token_cand *buf) {
    const float pr[5] = {0.05f, 0.5f, 0.1f, 0.2f, 0.15f};
    float l[5];
    for (int i = 0; i < 5; i++) l[i] = logf(pr[i]) + 3.0f; /* shifted: softmax is invariant */
    return make_cands(buf, l, 5);
}

static void test_top_p(void **state) {
    (void)state;
    qs_token_cand buf[5];
    qs_candidates c = nucleus_cands(buf);
    qs_cand_top_p(&c, 0.8f, 0); /* 0.5 + 0.2 + 0.15 = 0.85 >= 0.8 */
    assert_int_equal(c.size, 3);
    assert_int_equal(kept_mask(&c), (1u << 1) | (1u << 3) | (1u << 4));
    assert_int_equal(c.data[0].id, 1);
    assert_float_equal(c.data[0].p, 0.5f, 1e-6);
    c = nucleus_cands(buf);
    qs_cand_top_p(&c, 0.69f, 0); /* 0.5 + 0.2 */
    assert_int_equal(kept_mask(&c), (1u << 1) | (1u << 3));
    c = nucleus_cands(buf);
    qs_cand_top_p(&c, 0.3f, 0); /* the top token alone */
    assert_int_equal(c.size, 1);
    assert_int_equal(c.data[0].id, 1);
    c = nucleus_cands(buf);
    qs_cand_top_p(&c, 0.3f, 3); /* min_keep */
    assert_int_equal(c.size, 3);
    c = nucleus_cands(buf);
    qs_cand_top_p(&c, 1.0f, 0); /* off */
    assert_int_equal(c.size, 5);
}

static void test_min_p(void **state) {
    (void)state;
    qs_token_cand buf[5];
    qs_candidates c = nucleus_cands(buf);
    qs_cand_min_p(&c, 0.25f, 0); /* p >= 0.125: 0.5, 0.2, 0.15 */
    assert_int_equal(c.size, 3);
    assert_int_equal(kept_mask(&c), (1u << 1) | (1u << 3) | (1u << 4));
    assert_int_equal(c.data[0].id, 1); /* the unsorted path keeps the original order */
    assert_int_equal(c.data[1].id, 3);
    assert_int_equal(c.data[2].id, 4);
    c = nucleus_cands(buf);
    qs_cand_min_p(&c, 0.5f, 0); /* p >= 0.25: the top one */
    assert_int_equal(c.size, 1);
    assert_int_equal(c.data[0].id, 1);
    c = nucleus_cands(buf);
    qs_cand_min_p(&c, 0.5f, 2); /* min_keep: falls back to the sorted path */
    assert_int_equal(c.size, 2);
    assert_int_equal(c.data[0].id, 1);
    assert_int_equal(c.data[1].id, 3);
    c = nucleus_cands(buf);
    qs_cand_min_p(&c, 0.0f, 0); /* off */
    assert_int_equal(c.size, 5);
}

static void test_temperature(void **state) {
    (void)state;
    qs_token_cand buf[4];
    const float l[4] = {1.0f, -2.0f, 4.0f, 4.0f};
    qs_candidates c = make_cands(buf, l, 4);
    qs_cand_temperature(&c, 0.5f);
    assert_float_equal(c.data[0].logit, 2.0f, 0);
    assert_float_equal(c.data[1].logit, -4.0f, 0);
    c = make_cands(buf, l, 4);
    qs_cand_temperature(&c, 0.0f); /* greedy: the first best */
    assert_int_equal(c.size, 1);
    assert_int_equal(c.data[0].id, 2);
    c = make_cands(buf, l, 4);
    qs_cand_softmax(&c);
    float sum = 0;
    for (int i = 0; i < 4; i++) sum += c.data[i].p;
    assert_float_equal(sum, 1.0f, 1e-6);
    assert_float_equal(c.data[2].p, c.data[3].p, 0);
    assert_float_equal(c.data[0].p / c.data[2].p, expf(-3.0f), 1e-6);
}

static void test_penalties(void **state) {
    (void)state;
    qs_token_cand buf[4];
    const float l[4] = {2.0f, -1.0f, 0.5f, 3.0f};
    const int32_t hist[3] = {0, 1, 1};
    qs_candidates c = make_cands(buf, l, 4);
    /* llama.cpp: positive logits divided, others multiplied by the repeat penalty, then
     * minus count * freq + presence */
    qs_cand_penalties(&c, hist, 3, 2.0f, 0.1f, 0.2f);
    assert_float_equal(c.data[0].logit, 2.0f / 2.0f - (1 * 0.1f + 0.2f), 1e-6);
    assert_float_equal(c.data[1].logit, -1.0f * 2.0f - (2 * 0.1f + 0.2f), 1e-6);
    assert_float_equal(c.data[2].logit, 0.5f, 0);
    assert_float_equal(c.data[3].logit, 3.0f, 0);

    /* inside the sampler the history is the last repeat_last_n accepted tokens */
    qs_error err = {{0}};
    qs_sampler_params p = qs_sampler_default_params();
    p.temperature = 0.0f;
    p.repeat_penalty = 4.0f;
    p.repeat_last_n = 2;
    qs_sampler *s = qs_sampler_new(&p, 4, &err);
    assert_non_null(s);
    assert_int_equal(qs_sampler_sample(s, l), 3);
    qs_sampler_accept(s, 3); /* 3.0 / 4 = 0.75 < 2.0: token 0 wins */
    assert_int_equal(qs_sampler_sample(s, l), 0);
    qs_sampler_accept(s, 0); /* both penalised: 0.5, 0.75, 0.5 -> token 3 */
    assert_int_equal(qs_sampler_sample(s, l), 3);
    qs_sampler_accept(s, 2); /* window is now [0, 2]: 3 is free again */
    assert_int_equal(qs_sampler_sample(s, l), 3);
    qs_sampler_accept(s, 1);
    qs_sampler_accept(s, 1); /* window [1, 1] */
    assert_int_equal(qs_sampler_sample(s, l), 3);
    qs_sampler_accept(s, 99); /* outside the vocabulary: ignored */
    qs_sampler_free(s);

    /* bad parameters */
    p.repeat_penalty = 0.0f;
    assert_null(qs_sampler_new(&p, 4, &err));
    assert_non_null(strstr(err.msg, "repeat_penalty"));
    p = qs_sampler_default_params();
    assert_null(qs_sampler_new(&p, 0, &err));
}

/* The top-p fast path (partial sort of the head of a large vocabulary) keeps the same set
 * as sorting everything. */
static void test_top_p_large_vocab(void **state) {
    (void)state;
    enum { V = 5000 };
    float *l = malloc(V * sizeof *l);
    qs_token_cand *a = malloc(V * sizeof *a), *b = malloc(V * sizeof *b);
    const float ps[3] = {0.5f, 0.95f, 0.999f};
    for (int rep = 0; rep < 6; rep++) {
        qs_test_gaussian(l, V, 500 + rep);
        for (int i = 0; i < V; i++) l[i] *= rep < 3 ? 4.0f : 0.5f; /* peaked, then flat */
        for (int k = 0; k < 3; k++) {
            qs_candidates ca = make_cands(a, l, V), cb = make_cands(b, l, V);
            qs_cand_top_p(&ca, ps[k], 1);
            qs_cand_sort(&cb); /* the reference: everything sorted first */
            qs_cand_top_p(&cb, ps[k], 1);
            assert_true(ca.size >= 1);
            /* the softmax sums run in another order: where the tail holds probabilities near
             * float rounding of the running sum (p = 0.999 over ~1000 tokens of 2e-6) the cut
             * may move by a few tokens; the order of what both keep is the same */
            assert_true(llabs(ca.size - cb.size) <= 1 + cb.size / 100);
            const int64_t common = ca.size < cb.size ? ca.size : cb.size;
            for (int64_t i = 0; i < common; i++) assert_int_equal(ca.data[i].id, cb.data[i].id);
            float cum = 0; /* the kept set is the smallest reaching p */
            for (int64_t i = 0; i < ca.size; i++) cum += ca.data[i].p;
            assert_true(cum >= ps[k] - 1e-4f);
            assert_true(cum - ca.data[ca.size - 1].p < ps[k] + 1e-4f);
        }
    }
    free(l);
    free(a);
    free(b);
}

/* top-k 1 makes any temperature greedy; the full default chain returns a kept token. */
static void test_chain(void **state) {
    (void)state;
    qs_error err = {{0}};
    qs_sampler_params p = qs_sampler_default_params();
    p.top_k = 1;
    p.temperature = 5.0f;
    enum { V = 300 };
    float l[V];
    qs_sampler *s = qs_sampler_new(&p, V, &err);
    for (int rep = 0; rep < 20; rep++) {
        qs_test_gaussian(l, V, 900 + rep);
        assert_int_equal(qs_sampler_sample(s, l), qs_argmax(l, V));
    }
    qs_sampler_free(s);
    p = qs_sampler_default_params(); /* top-k 40, top-p 0.95, min-p 0.05, t 0.8 */
    s = qs_sampler_new(&p, V, &err);
    for (int rep = 0; rep < 200; rep++) {
        qs_test_gaussian(l, V, 1900 + rep);
        for (int i = 0; i < V; i++) l[i] *= 3.0f;
        int32_t t = qs_sampler_sample(s, l);
        /* kept by min-p: p_t >= 0.05 p_max, i.e. l_t >= l_max + ln 0.05 */
        assert_true(l[t] >= l[qs_argmax(l, V)] + logf(0.05f) - 1e-5f);
        int rank = 0;
        for (int i = 0; i < V; i++) rank += l[i] > l[t];
        assert_true(rank < 40);
    }
    qs_sampler_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_is_argmax),
        cmocka_unit_test(test_seed_reproducible),
        cmocka_unit_test(test_draw_follows_softmax),
        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_top_p_large_vocab),
        cmocka_unit_test(test_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
