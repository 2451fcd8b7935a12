/* qs_plan_rule_matches: which tensors a rule pattern matches while it is typed, and where a bad
 * pattern fails — the same matching resolution does. */
#include "qs_test_util.h"

#include <string.h>

#include "qs_plan.h"

static const char *const names[] = {
    "token_embd.weight",    "blk.0.attn_q.weight", "blk.0.ffn_down.weight", "blk.1.attn_q.weight",
    "blk.10.ffn_up.weight", "blk.1.ffn_up.weight", "output_norm.weight",    "output.weight",
};
enum { N = sizeof names / sizeof names[0] };

static qs_plan_tensor tensors[N];

static qs_plan_model model(void) {
    for (int i = 0; i < N; i++) {
        int b = -1;
        if (!strncmp(names[i], "blk.", 4)) b = names[i][5] == '0' && names[i][4] == '1' ? 10 : names[i][4] - '0';
        bool norm = strstr(names[i], "norm") != NULL;
        tensors[i] = (qs_plan_tensor){names[i], norm ? 1 : 2, {256, norm ? 1 : 64, 1, 1}, QS_TYPE_F16, b};
    }
    return (qs_plan_model){.arch = "llama", .n_layer = 11, .n_head = 4, .n_head_kv = 4, .tensors = tensors, .n_tensors = N};
}

static void test_matches(void **state) {
    (void)state;
    qs_plan_model m = model();
    bool hit[N];
    qs_error err = {{0}};
    size_t off = 99;
    /* searched, not anchored: blk\.1 also finds blk.10 */
    assert_int_equal(qs_plan_rule_matches("blk\\.1", &m, hit, &off, &err), 3);
    assert_int_equal(off, 0);
    bool want[N] = {0};
    want[3] = want[4] = want[5] = true;
    for (int i = 0; i < N; i++) assert_int_equal(hit[i], want[i]);
    /* anchors and alternations are PCRE2's */
    assert_int_equal(qs_plan_rule_matches("^output\\.", &m, hit, NULL, &err), 1);
    assert_true(hit[7]);
    assert_false(hit[6]);
    assert_int_equal(qs_plan_rule_matches("ffn_(up|down)", &m, NULL, NULL, &err), 3);
    /* norms match too: the count is of names, quantizable or not */
    assert_int_equal(qs_plan_rule_matches("norm", &m, hit, NULL, &err), 1);
    assert_int_equal(qs_plan_rule_matches("nothing here", &m, hit, NULL, &err), 0);
    for (int i = 0; i < N; i++) assert_false(hit[i]);
}

static void test_bad_patterns(void **state) {
    (void)state;
    qs_plan_model m = model();
    qs_error err = {{0}};
    size_t off = 0;
    /* the offset is where PCRE2 gave up, in bytes: after the whole of "ffn_(up" */
    assert_int_equal(qs_plan_rule_matches("ffn_(up", &m, NULL, &off, &err), QS_ERR);
    assert_int_equal(off, 7);
    assert_non_null(strstr(err.msg, "missing closing parenthesis at offset 7"));
    assert_int_equal(qs_plan_rule_matches("a[b", &m, NULL, &off, &err), QS_ERR);
    assert_int_equal(off, 3);
    assert_int_equal(qs_plan_rule_matches("x{2,1}", &m, NULL, &off, &err), QS_ERR);
    assert_int_equal(off, 5); /* numbers out of order, found at the second number's end */
    assert_int_equal(qs_plan_rule_matches("*a", &m, NULL, &off, &err), QS_ERR);
    assert_int_equal(off, 0);
    /* an empty pattern would match every tensor: refused, offset 0 */
    off = 9;
    assert_int_equal(qs_plan_rule_matches("", &m, NULL, &off, &err), QS_ERR);
    assert_int_equal(off, 0);
    assert_non_null(strstr(err.msg, "empty regex"));
    /* the message is the one a plan file gets for the same rule */
    qs_error e2;
    assert_int_equal(qs_regex_check("ffn_(up", &e2), QS_ERR);
    qs_plan_rule_matches("ffn_(up", &m, NULL, NULL, &err);
    assert_string_equal(err.msg, e2.msg);
}

/* the count agrees with resolution's own tally of what a rule matched */
static void test_agrees_with_resolution(void **state) {
    (void)state;
    qs_plan_model m = model();
    static const char *const pats[] = {"blk\\.1", "attn", "weight$", "^blk\\.(0|10)\\."};
    for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
        qs_plan p;
        qs_plan_init(&p);
        qs_error err;
        assert_int_equal(qs_plan_insert_rule(&p, -1, pats[k], QS_TYPE_Q8_0, &err), QS_OK);
        qs_plan_resolution r;
        assert_int_equal(qs_plan_resolve(&p, &m, &r, &err), QS_OK);
        bool hit[N];
        int n = qs_plan_rule_matches(pats[k], &m, hit, NULL, &err);
        /* resolution only looks at the tensors it may quantize (the norm is kept as stored) */
        int quantizable = 0;
        for (int i = 0; i < N; i++) quantizable += hit[i] && r.choice[i].reason != QS_REASON_KEPT;
        assert_int_equal(r.rule_matched[0], quantizable);
        assert_true(n >= quantizable);
        qs_plan_resolution_free(&r);
        qs_plan_free(&p);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_bad_patterns),
        cmocka_unit_test(test_agrees_with_resolution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
