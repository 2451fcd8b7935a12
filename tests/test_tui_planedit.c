/* The explorer's plan work without a screen, on stories260K: a rule previewed as it is typed
 * (matches, what it decides, the bytes it saves), committed, reordered, deleted; the keep knob;
 * saving and opening plan files (a bad file leaves the plan untouched); search; suggested paths.
 *
 * Byte figures are worked out from the GGUF block layouts, not read back from our output:
 * stories260K has n_embd 64 and n_ff 172, all tensors F32. Q8_0 stores 32 values in 34 bytes;
 * a row of 172 values holds no whole Q8_0 block, so it falls back to F16 (2 bytes a value). */
#include "qs_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tui_planedit.h"

static tui_app A;
static char dir[512], model[1024];

static int tensor(const tui_app *a, const char *name) {
    for (int i = 0; i < a->pm.n_tensors; i++)
        if (!strcmp(a->pt[i].name, name)) return i;
    fail_msg("no tensor %s", name);
    return -1;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state) {
    (void)state;
    char src[1024];
    if (!qs_test_shared_path("models/stories260K.gguf", src, sizeof src)) return 0;
    snprintf(dir, sizeof dir, "%s/planedit", qs_test_tmpdir());
    mkdir(dir, 0755);
    snprintf(model, sizeof model, "%s/planted.gguf", dir);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, model);
    if (system(cmd) != 0) fail_msg("%s failed", cmd);
    qs_error err;
    if (tui_app_open(&A, model, NULL, &err) != QS_OK) fail_msg("%s", err.msg);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tui_app_close(&A);
    return 0;
}

static void need_model(void) {
    if (!A.model) skip();
}

static void test_rule_preview(void **state) {
    (void)state;
    need_model();
    tui_app *a = &A;
    tui_rule_preview p;
    /* a bad pattern: PCRE2's message and offset, nothing else */
    assert_int_equal(tui_rule_preview_make(a, 0, false, "ffn_(up", QS_TYPE_Q8_0, &p), QS_ERR);
    assert_false(p.valid);
    assert_int_equal(p.err_offset, 7);
    assert_non_null(strstr(p.err.msg, "missing closing parenthesis"));
    tui_rule_preview_free(&p);
    /* a partial pattern already matches: ffn_u finds the five ffn_up tensors */
    assert_int_equal(tui_rule_preview_make(a, 0, false, "ffn_u", QS_TYPE_Q8_0, &p), QS_OK);
    assert_int_equal(p.n_matched, 5);
    tui_rule_preview_free(&p);
    /* the finished one: ffn_up (64 x 172) and ffn_down (172 x 64) of five blocks */
    assert_int_equal(tui_rule_preview_make(a, 0, false, "ffn_(up|down)", QS_TYPE_Q8_0, &p), QS_OK);
    assert_true(p.valid);
    assert_int_equal(p.n_matched, 10);
    assert_int_equal(p.n_quantizable, 10);
    assert_int_equal(p.n_decided, 10);
    for (int i = 0; i < a->pm.n_tensors; i++)
        assert_int_equal(p.matched[i], strstr(a->pt[i].name, "ffn_up") || strstr(a->pt[i].name, "ffn_down"));
    /* ffn_up: 172 rows of 64 go from 256 to 2 x 34 bytes; ffn_down: 64 rows of 172 from 688 to
     * 344 (F16 fallback) */
    int64_t per_block = 172 * (2 * 34 - 64 * 4) + 64 * (172 * 2 - 172 * 4);
    assert_int_equal(p.plan.n_changed, 10);
    assert_int_equal(p.plan.bytes_delta, 5 * per_block);
    int d = tensor(a, "blk.3.ffn_down.weight");
    assert_int_equal(p.plan.res.choice[d].type, QS_TYPE_F16);
    assert_true(p.plan.res.choice[d].fallback);
    tui_rule_preview_free(&p);
    /* the preview changed nothing */
    assert_int_equal(a->plan.n_rules, 0);
    assert_false(tui_app_dirty(a));
}

static void test_rule_edits(void **state) {
    (void)state;
    need_model();
    tui_app *a = &A;
    qs_error err;
    uint64_t before = a->planned_bytes;
    assert_int_equal(tui_app_rule_put(a, 0, false, "ffn_(up|down)", QS_TYPE_Q8_0, &err), QS_OK);
    assert_int_equal(a->plan.n_rules, 1);
    assert_true(tui_app_dirty(a));
    assert_int_equal((int64_t)a->planned_bytes - (int64_t)before, 5 * (172 * (2 * 34 - 256) + 64 * (344 - 688)));
    assert_non_null(strstr(a->status, "rule 1 added"));
    /* a bad rule is refused and the plan stays */
    assert_int_equal(tui_app_rule_put(a, 1, false, "(", QS_TYPE_Q8_0, &err), QS_ERR);
    assert_int_equal(a->plan.n_rules, 1);
    /* a rule in front takes block 0 */
    assert_int_equal(tui_app_rule_put(a, 0, false, "blk\\.0\\.", QS_TYPE_Q4_0, &err), QS_OK);
    int up0 = tensor(a, "blk.0.ffn_up.weight");
    assert_int_equal(a->res.choice[up0].type, QS_TYPE_Q4_0);
    assert_int_equal(a->res.rule_decided[1], 8); /* ffn_up / ffn_down of blocks 1..4 */
    /* previewing a change of rule 2: ffn_up alone matches 5, decides 4 (block 0's is taken) */
    tui_rule_preview p;
    assert_int_equal(tui_rule_preview_make(a, 1, true, "ffn_up", QS_TYPE_Q8_0, &p), QS_OK);
    assert_int_equal(p.n_matched, 5);
    assert_int_equal(p.n_decided, 4);
    /* the four ffn_down of blocks 1..4 go back to F32: 64 rows of 172 from 344 to 688 bytes */
    assert_int_equal(p.plan.bytes_delta, 4 * 64 * (688 - 344));
    tui_rule_preview_free(&p);
    /* moving the ffn rule first: it now decides block 0's ffn tensors too */
    assert_int_equal(tui_app_rule_move(a, 1, -1), QS_OK);
    assert_string_equal(a->plan.rules[0].pattern, "ffn_(up|down)");
    assert_int_equal(a->res.choice[up0].type, QS_TYPE_Q8_0);
    assert_int_equal(a->res.choice[up0].reason, QS_REASON_RULE);
    assert_int_equal(a->res.choice[up0].index, 0);
    assert_int_equal(tui_app_rule_move(a, 0, -1), QS_ERR);
    assert_int_equal(tui_app_rule_move(a, 1, +1), QS_ERR);
    /* replacing keeps the place */
    assert_int_equal(tui_app_rule_put(a, 1, true, "blk\\.0\\.", QS_TYPE_Q5_0, &err), QS_OK);
    assert_int_equal(a->plan.n_rules, 2);
    assert_int_equal(a->plan.rules[1].type, QS_TYPE_Q5_0);
    assert_int_equal(tui_app_rule_delete(a, 0), QS_OK);
    assert_int_equal(a->plan.n_rules, 1);
    assert_string_equal(a->plan.rules[0].pattern, "blk\\.0\\.");
    assert_int_equal(tui_app_rule_delete(a, 5), QS_ERR);
}

static void test_keep(void **state) {
    (void)state;
    need_model();
    tui_app *a = &A;
    qs_error err;
    /* blocks 0 and 4: seven matrices each (norms stay F32) */
    assert_int_equal(tui_app_set_keep(a, 1, 1, QS_TYPE_F16, &err), QS_OK);
    assert_int_equal(a->res.keep_decided, 14);
    int q4 = tensor(a, "blk.4.attn_q.weight"), q2 = tensor(a, "blk.2.attn_q.weight");
    assert_int_equal(a->res.choice[q4].type, QS_TYPE_F16);
    assert_int_equal(a->res.choice[q4].reason, QS_REASON_KEEP);
    assert_int_equal(a->res.choice[q2].type, QS_TYPE_F32);
    assert_int_equal(tui_app_set_keep(a, 6, 0, QS_TYPE_F16, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "5 blocks"));
    assert_int_equal(a->plan.keep_first, 1);
    /* a preview of the knob off */
    qs_plan c;
    qs_plan_init(&c);
    assert_int_equal(qs_plan_copy(&c, &a->plan), QS_OK);
    c.keep_first = c.keep_last = 0;
    tui_preview pv;
    assert_int_equal(tui_preview_plan(a, &c, &pv), QS_OK);
    /* blk.4's seven matrices go back to F32, blk.0's to the blk\.0\. rule's Q5_0 but for ffn_down,
     * whose row of 172 holds no 32-value block: F16 either way */
    assert_int_equal(pv.n_changed, 13);
    tui_preview_free(&pv);
    qs_plan_free(&c);
}

static void test_files(void **state) {
    (void)state;
    need_model();
    tui_app *a = &A;
    qs_error err;
    char path[1024], bad[1024], other[1024];
    snprintf(path, sizeof path, "%s/mine.plan.yaml", dir);
    assert_true(tui_app_dirty(a));
    assert_int_equal(tui_app_save_plan(a, path, &err), QS_OK);
    assert_false(tui_app_dirty(a));
    assert_string_equal(a->plan_path, path);
    /* the file holds this plan and this model's fingerprint */
    qs_plan back;
    assert_int_equal(qs_plan_load(path, &back, &err), QS_OK);
    assert_true(qs_plan_equal(&back, &a->plan));
    assert_string_equal(back.model.file, "planted.gguf");
    assert_int_equal(back.model.n_tensors, 48);
    assert_int_equal(back.n_rules, 1);
    assert_int_equal(back.keep_first, 1);
    qs_plan_free(&back);
    /* an edit, then a bad file: the message names file:line:col; the edit is still there */
    assert_int_equal(tui_app_rule_put(a, -1, false, "output", QS_TYPE_Q8_0, &err), QS_OK);
    qs_plan keep;
    qs_plan_init(&keep);
    assert_int_equal(qs_plan_copy(&keep, &a->plan), QS_OK);
    snprintf(bad, sizeof bad, "%s/bad.yaml", dir);
    write_file(bad, "version: 1\ndefault: Q8_0\nrules:\n  - {pattern: 'ffn_(', type: Q4_K}\n");
    assert_int_equal(tui_app_open_plan(a, bad, &err), QS_ERR);
    char where[1100];
    snprintf(where, sizeof where, "%s:4:", bad);
    assert_non_null(strstr(err.msg, where));
    assert_true(qs_plan_equal(&keep, &a->plan));
    assert_string_equal(a->plan_path, path);
    assert_true(tui_app_dirty(a));
    assert_int_equal(tui_app_open_plan(a, "/nonexistent/x.yaml", &err), QS_ERR);
    assert_true(qs_plan_equal(&keep, &a->plan));
    qs_plan_free(&keep);
    /* a plan made for another model opens, and says so */
    snprintf(other, sizeof other, "%s/other.yaml", dir);
    write_file(other, "version: 1\nmodel:\n  file: other.gguf\n  size: 10\n  tensors: 3\n  hash: '0000000000000001'\n"
                      "default: Q8_0\ndevice: rtx3090\n");
    assert_int_equal(tui_app_open_plan(a, other, &err), QS_OK);
    assert_false(tui_app_dirty(a));
    if (!a->status_error || !strstr(a->status, "warning")) fail_msg("status: %s", a->status);
    assert_int_equal(a->plan.default_type, QS_TYPE_Q8_0);
    assert_int_equal(a->plan.n_rules, 0);
    /* its device is used for the estimate */
    assert_string_equal(a->devices[a->device].name, "rtx3090");
    assert_true(a->es.gpu_mem > 0);
    /* and the saved plan opens back */
    assert_int_equal(tui_app_open_plan(a, path, &err), QS_OK);
    assert_false(tui_app_dirty(a));
    /* ... with its one idle part named: the keep knob took block 0 from the rule */
    if (!strstr(a->status, "1 warning: rule 1")) fail_msg("status: %s", a->status);
    assert_int_equal(a->plan.n_rules, 1);
    assert_int_equal(a->device, 0);
}

static void test_search(void **state) {
    (void)state;
    need_model();
    tui_app *a = &A;
    int k0 = tensor(a, "blk.0.attn_k.weight"), k4 = tensor(a, "blk.4.attn_k.weight");
    /* case-insensitive substring; wraps both ways */
    assert_int_equal(tui_app_find_tensor(a, "ATTN_K", -1, +1), k0);
    assert_int_equal(tui_app_find_tensor(a, "attn_k", -1, -1), k4);
    assert_int_equal(tui_app_find_tensor(a, "attn_k", k4, +1), k0);
    assert_int_equal(tui_app_find_tensor(a, "attn_k", k0, -1), k4);
    assert_int_equal(tui_app_find_tensor(a, "nothing", -1, +1), -1);
    assert_int_equal(tui_app_find_tensor(a, "", -1, +1), -1);
    int rank;
    assert_int_equal(tui_app_count_matches(a, "attn_k", k4, &rank), 5);
    assert_int_equal(rank, 5);
    /* revealing a tensor expands its block */
    int row = tui_app_reveal_tensor(a, k4);
    assert_true(row >= 0);
    assert_int_equal(tui_app_row_tensor(a, row), k4);
    assert_int_equal(a->rows[row].block, 4);
    assert_true(a->rows[row - 2].tensor < 0 && a->rows[row - 2].expanded); /* blk.4, attn_q, attn_k */
    int out = tensor(a, "output.weight");
    row = tui_app_reveal_tensor(a, out);
    assert_int_equal(tui_app_row_tensor(a, row), out);
}

static void test_suggestions(void **state) {
    (void)state;
    need_model();
    tui_app *a = &A;
    char b[1200], want[1200];
    /* the plan file's name, less .plan.yaml and the model's name */
    tui_app_export_path_suggest(a, b, sizeof b);
    snprintf(want, sizeof want, "%s/planted-mine.gguf", dir);
    assert_string_equal(b, want);
    tui_app_plan_path_suggest(a, b, sizeof b);
    assert_string_equal(b, a->plan_path);
    /* without a plan file: the preset, "-custom" when rules add to it */
    a->plan_path[0] = 0;
    tui_app_plan_path_suggest(a, b, sizeof b);
    assert_string_equal(b, "planted.plan.yaml");
    qs_plan_set_preset(&a->plan, QS_PRESET_Q4_K_M);
    tui_app_export_path_suggest(a, b, sizeof b);
    snprintf(want, sizeof want, "%s/planted-Q4_K_M-custom.gguf", dir);
    assert_string_equal(b, want);
    qs_plan_remove_rule(&a->plan, 0);
    a->plan.keep_first = a->plan.keep_last = 0;
    tui_app_export_path_suggest(a, b, sizeof b);
    snprintf(want, sizeof want, "%s/planted-Q4_K_M.gguf", dir);
    assert_string_equal(b, want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_preview),
        cmocka_unit_test(test_rule_edits),
        cmocka_unit_test(test_keep),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_suggestions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
