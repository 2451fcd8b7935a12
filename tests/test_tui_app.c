/* The explorer's state on stories260K: plan edits from the Layers view change the resolved types,
 * the planned bytes and the memory estimate by exactly the row sizes of the types. */
#include "qs_test_util.h"

#include <stdio.h>
#include <string.h>

#include "tui_app.h"

static int find_row(const tui_app *a, int block, int tensor) {
    for (int i = 0; i < a->n_rows; i++)
        if (a->rows[i].block == block && a->rows[i].tensor == tensor) return i;
    return -1;
}

/* bytes of a block's tensors at their resolved types, from the type table: as stored in a GGUF
 * (each tensor padded to the 32-byte alignment) when padded, else the sum of the row sizes */
static uint64_t block_bytes(const tui_app *a, int block, bool padded) {
    uint64_t s = 0;
    for (int i = 0; i < a->pm.n_tensors; i++) {
        const qs_plan_tensor *pt = &a->pt[i];
        if (pt->block != block) continue;
        uint64_t b = qs_type_row_bytes(a->res.choice[i].type, pt->ne[0]) * (uint64_t)(pt->ne[1] * pt->ne[2] * pt->ne[3]);
        s += padded ? (b + 31) / 32 * 32 : b;
    }
    return s;
}

static void test_edits(void **state) {
    (void)state;
    char path[1024];
    if (!qs_test_shared_path("models/stories260K.gguf", path, sizeof path)) skip();
    static tui_app A;
    tui_app *a = &A;
    qs_error err = {{0}};
    int rc = tui_app_open(a, path, NULL, &err);
    if (rc) fail_msg("%s", err.msg);
    /* without a plan: the stored types (all F32), nothing modified */
    assert_int_equal(a->plan.default_type, QS_TYPE_F32);
    assert_false(tui_app_dirty(a));
    assert_true(a->res_ok);
    assert_true(a->est_ok);
    assert_int_equal(a->planned_bytes, 1171200);
    assert_int_equal(a->n_rows, 7); /* token_embd, blk.0..4, output */
    for (int b = 0; b < 5; b++) assert_int_equal(find_row(a, b, -1), b + 1);
    char name[96];
    tui_app_row_name(a, &a->rows[0], name, sizeof name);
    assert_string_equal(name, "token_embd");
    tui_app_row_name(a, &a->rows[6], name, sizeof name);
    assert_string_equal(name, "output");
    /* + at the top of the ladder says so and changes nothing */
    assert_int_equal(tui_app_step_type(a, 1, +1), QS_ERR);
    assert_non_null(strstr(a->status, "highest"));
    assert_false(tui_app_dirty(a));

    /* start from Q8_0 everywhere, then raise blk.2 one rung (Q8_0 -> BF16) */
    a->plan.default_type = QS_TYPE_Q8_0;
    tui_app_update(a);
    uint64_t w0 = a->er.part[QS_EST_WEIGHTS_MAPPED].bytes, p0 = a->planned_bytes;
    uint64_t t0 = a->er.total[QS_EST_HOST];
    int r2 = find_row(a, 2, -1);
    assert_int_equal(tui_app_row_type(a, &a->rows[r2]), QS_TYPE_Q8_0);
    uint64_t b0 = block_bytes(a, 2, false), b0p = block_bytes(a, 2, true);
    assert_int_equal(tui_app_step_type(a, r2, +1), QS_OK);
    /* every tensor of the block is BF16 now (ffn_down's row of 172 had fallen back to F16) */
    uint64_t expect = block_bytes(a, 2, false) - b0, expect_file = block_bytes(a, 2, true) - b0p;
    assert_int_equal(expect, 536 * (128 - 68)); /* 536 rows of 64 went from Q8_0 to BF16 */
    assert_int_equal(a->planned_bytes - p0, expect);
    /* the mapped span moves by the padded sizes: the file's layout */
    assert_int_equal(a->er.part[QS_EST_WEIGHTS_MAPPED].bytes - w0, expect_file);
    assert_int_equal(a->er.total[QS_EST_HOST] - t0, expect_file);
    assert_int_equal(a->plan.n_layers, 1);
    assert_int_equal(a->plan.layers[0].block, 2);
    assert_int_equal(a->plan.layers[0].type, QS_TYPE_BF16);
    assert_true(tui_app_row_overridden(a, &a->rows[r2]));
    assert_false(tui_app_row_overridden(a, &a->rows[find_row(a, 3, -1)]));
    assert_non_null(strstr(a->status, "blk.2: Q8_0 -> BF16 (memory +"));
    assert_true(tui_app_dirty(a));
    char why[512];
    tui_app_why(a, r2, why, sizeof why);
    assert_non_null(strstr(why, "blk.2."));
    /* lower twice: BF16 -> Q8_0 -> Q6_K */
    assert_int_equal(tui_app_step_type(a, r2, -1), QS_OK);
    assert_int_equal(a->planned_bytes, p0);
    assert_int_equal(tui_app_step_type(a, r2, -1), QS_OK);
    assert_int_equal(a->plan.layers[0].type, QS_TYPE_Q6_K);
    /* rows of 64 cannot hold Q6_K's 256-blocks: the resolution falls back and says so */
    char types[160];
    tui_app_row_types(a, &a->rows[r2], types, sizeof types);
    assert_non_null(strstr(types, "fallback"));
    /* clear: back to the plan as it was before the edits */
    assert_int_equal(tui_app_clear_override(a, r2), QS_OK);
    assert_int_equal(a->plan.n_layers, 0);
    assert_int_equal(a->planned_bytes, p0);
    assert_int_equal(tui_app_clear_override(a, r2), QS_ERR);

    /* expand blk.0 and edit one tensor */
    int r0 = find_row(a, 0, -1);
    tui_app_toggle(a, r0);
    assert_int_equal(a->n_rows, 7 + 9);
    int tq = (int)qs_model_find(a->model, "blk.0.attn_q.weight");
    int tn = (int)qs_model_find(a->model, "blk.0.attn_norm.weight");
    int rq = find_row(a, 0, tq), rn = find_row(a, 0, tn);
    assert_true(rq > r0 && rn > r0);
    p0 = a->planned_bytes;
    assert_int_equal(tui_app_step_type(a, rq, +1), QS_OK);
    assert_int_equal(a->plan.n_tensors, 1);
    assert_int_equal(a->planned_bytes - p0, qs_type_row_bytes(QS_TYPE_BF16, 64) * 64 - qs_type_row_bytes(QS_TYPE_Q8_0, 64) * 64);
    /* a norm is never quantized */
    assert_int_equal(tui_app_step_type(a, rn, -1), QS_ERR);
    assert_non_null(strstr(a->status, "kept as stored"));
    tui_app_toggle(a, rq); /* a tensor row collapses its block */
    assert_int_equal(a->n_rows, 7);

    /* token_embd group: per-tensor overrides */
    assert_int_equal(tui_app_step_type(a, 0, -1), QS_OK);
    assert_int_equal(a->plan.n_tensors, 2);

    /* presets */
    tui_app_set_preset(a, QS_PRESET_Q4_K_M);
    assert_true(a->res_ok);
    assert_int_equal(a->plan.preset, QS_PRESET_Q4_K_M);

    /* memory controls */
    tui_app_set_ctx(a, 1024);
    assert_int_equal(a->es.n_ctx, 1024);
    uint64_t kv1k = a->er.part[QS_EST_KV_HOST].bytes;
    tui_app_set_ctx(a, 2048);
    assert_int_equal(a->er.part[QS_EST_KV_HOST].bytes, 2 * kv1k);
    tui_app_set_ctx(a, 1);
    assert_int_equal(a->es.n_ctx, 256);
    qs_type kv0 = a->plan.kv_type;
    tui_app_next_kv(a, +1);
    assert_int_not_equal(a->plan.kv_type, kv0);
    assert_true(qs_plan_kv_type_allowed(a->plan.kv_type));
    assert_true(a->max_ctx > 0);
    /* a GPU preset puts weights on the GPU; g takes layers off */
    assert_true(a->n_devices > 2);
    tui_app_set_device(a, 1);
    assert_true(a->es.gpu_mem > 0);
    assert_true(a->er.part[QS_EST_WEIGHTS_GPU].bytes > 0);
    tui_app_gpu_layers(a, -100);
    assert_int_equal(a->es.n_gpu_layers, 0);
    assert_int_equal(a->er.part[QS_EST_WEIGHTS_GPU].bytes, 0);
    tui_app_set_device(a, 0);
    tui_app_gpu_layers(a, 1);
    assert_true(a->status_error);
    tui_app_close(a);
}

static void test_open_errors(void **state) {
    (void)state;
    static tui_app A;
    qs_error err = {{0}};
    assert_int_equal(tui_app_open(&A, "/nonexistent/m.gguf", NULL, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "/nonexistent/m.gguf"));
    char path[1024];
    if (!qs_test_shared_path("models/stories260K.gguf", path, sizeof path)) skip();
    char plan[1200];
    snprintf(plan, sizeof plan, "%s/bad.yaml", qs_test_tmpdir());
    FILE *f = fopen(plan, "w");
    fputs("version: 1\ndefault: Q9_9\n", f);
    fclose(f);
    assert_int_equal(tui_app_open(&A, path, plan, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "bad.yaml:"));
    /* a good plan file */
    f = fopen(plan, "w");
    fputs("version: 1\ndefault: Q8_0\n", f);
    fclose(f);
    int rc = tui_app_open(&A, path, plan, &err);
    if (rc) fail_msg("%s", err.msg);
    assert_int_equal(A.plan.default_type, QS_TYPE_Q8_0);
    assert_false(tui_app_dirty(&A));
    tui_app_close(&A);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edits),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
