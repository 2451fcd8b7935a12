/* The Errors / Trade-off state on stories260K, driven without a terminal: its jobs fill the error
 * table and the metrics cache through the real job runner and event queue, and the figures it
 * shows are engine/errview's for the plan being edited. */
#include "qs_test_util.h"

#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_quality.h"

static tui_ui *UI;

static int setup(void **state) {
    (void)state;
    char path[1024];
    if (!qs_test_shared_path("models/stories260K.gguf", path, sizeof path)) return 0;
    UI = calloc(1, sizeof *UI);
    qs_error err;
    if (!UI || tui_app_open(&UI->app, path, NULL, &err) != QS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    if (tui_events_init(&UI->ev, &err) != QS_OK || tui_jobs_init(&UI->jobs, &UI->ev, 2, 2, &err) != QS_OK) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (!UI) return 0;
    tui_jobs_shutdown(&UI->jobs);
    tui_events_drain(&UI->ev, UI);
    tui_quality_free(UI);
    tui_events_destroy(&UI->ev);
    tui_app_close(&UI->app);
    free(UI);
    return 0;
}

/* Runs the event loop's part (drain, then the views' sync) until nothing is left to do: the table
 * complete and idle, no tensor job. A guard of 60 s against a hang (not a timing check). */
static void settle(bool errors_view) {
    tui_quality *q = NULL;
    for (int i = 0; i < 3000; i++) {
        struct pollfd pf = {tui_events_fd(&UI->ev), POLLIN, 0};
        poll(&pf, 1, 20);
        tui_events_drain(&UI->ev, UI);
        tui_quality_sync(UI, errors_view);
        q = UI->quality;
        if (q && q->table_idle && !q->table_busy && !q->tensor_busy && !q->dirty && !q->frontier_dirty) return;
    }
    fail_msg("the quality jobs did not settle");
}

static int row_of_group(int block) {
    for (int i = 0; i < UI->app.n_rows; i++)
        if (UI->app.rows[i].block == block && UI->app.rows[i].tensor < 0) return i;
    return -1;
}

static void test_plan_points_and_blocks(void **state) {
    (void)state;
    if (!UI) skip();
    tui_app *a = &UI->app;
    tui_app_set_preset(a, QS_PRESET_Q4_K_M);
    settle(false);
    tui_quality *q = UI->quality;
    assert_non_null(q);
    /* the current plan IS the Q4_K_M preset: the same point */
    assert_true(q->plan_pt.exact && q->presets[QS_PRESET_Q4_K_M].exact);
    assert_int_equal(q->plan_pt.bytes, q->presets[QS_PRESET_Q4_K_M].bytes);
    assert_true(q->plan_pt.rel_rmse == q->presets[QS_PRESET_Q4_K_M].rel_rmse);
    /* and its size is the one the header shows */
    assert_int_equal(q->plan_pt.bytes, a->planned_bytes);
    /* the block bars add up to the plan */
    double sse = 0;
    for (int g = 0; g < q->tab.n_groups; g++) sse += q->groups[g].sse;
    assert_true(fabs(sse - q->plan_pt.sse) <= 1e-12 * q->plan_pt.sse);
    /* an independent figure: qs_metrics_combine over the plan's types, exact */
    qs_metrics total;
    qs_metrics_total_init(&total);
    for (int i = 0; i < q->tab.n_tensors; i++) {
        if (!q->tab.item[i]) continue;
        qs_metrics m;
        qs_error err;
        assert_int_equal(qs_errv_tensor_metrics(a->model, i, a->res.choice[i].type, QS_METRICS_EXACT, 0, NULL, &m, &err),
                         QS_OK);
        qs_metrics_combine(&total, &m);
    }
    assert_true(fabs(q->plan_pt.rel_rmse - total.rel_rmse) <= 1e-12 * total.rel_rmse);

    /* the trade-off points: every preset, the frontier, the plan and "plan + more", by size */
    tui_qpoint pts[TUI_QPOINTS_MAX];
    int n = tui_quality_points(q, pts, TUI_QPOINTS_MAX);
    assert_true(q->frontier_ok);
    assert_true(q->more_ok);
    assert_int_equal(n, (QS_PRESET_COUNT - 1) + TUI_QUALITY_FRONTIER + 2);
    int n_plan = 0, n_more = 0;
    for (int i = 0; i < n; i++) {
        if (i) assert_true(pts[i].p.bytes >= pts[i - 1].p.bytes);
        if (pts[i].kind == TUI_QP_PLAN) {
            n_plan++;
            assert_string_equal(pts[i].label, "plan");
        }
        if (pts[i].kind == TUI_QP_MORE) {
            n_more++;
            /* within plan + step, and no worse than the plan (the plan itself fits) */
            assert_true(pts[i].p.bytes <= q->plan_pt.bytes + q->more_delta);
            assert_true(pts[i].p.sse <= q->plan_pt.sse);
        }
    }
    assert_int_equal(n_plan, 1);
    assert_int_equal(n_more, 1);
    /* stories260K is 1.1 MiB: the step is an eighth of the plan in 1-2-5 bytes, not 256 MiB */
    assert_true(q->more_delta < QS_MIB);
}

static void test_errors_view_selection_and_cache(void **state) {
    (void)state;
    if (!UI) skip();
    tui_app *a = &UI->app;
    tui_app_set_preset(a, QS_PRESET_Q8_0);
    /* the Layers selection (blk.2) becomes the Errors view's: blk.2's first tensor */
    UI->list[TUI_VIEW_LAYERS].selected = row_of_group(2);
    settle(true);
    tui_quality *q = UI->quality;
    int t = tui_quality_selected(UI);
    assert_string_equal(a->pt[t].name, "blk.2.attn_q.weight");
    assert_int_equal(q->want.tensor, t);
    assert_int_equal(q->want.type, QS_TYPE_Q8_0);
    /* default comparison: the rung below Q8_0 on the ladder (Q6_K) that fits rows of 64: Q5_1 */
    assert_int_equal(q->want.cmp, QS_TYPE_Q5_1);
    double r = tui_quality_range(q, &q->want);
    assert_true(r > 0);
    bool exact;
    const qs_metrics *m = qs_errv_cache_best(&q->cache, t, QS_TYPE_Q8_0, r, &exact);
    assert_non_null(m);
    assert_true(exact);
    /* the figures are qs_metrics_compute's (through errview) for that tensor and type */
    qs_metrics ref;
    qs_error err;
    assert_int_equal(qs_errv_tensor_metrics(a->model, t, QS_TYPE_Q8_0, QS_METRICS_EXACT, r, NULL, &ref, &err), QS_OK);
    assert_true(m->rmse == ref.rmse && m->rel_rmse == ref.rel_rmse && m->cosine == ref.cosine);
    assert_memory_equal(m->hist, ref.hist, sizeof ref.hist);
    /* the shared axis is the wider of the two automatic ranges */
    double ra, rb;
    assert_int_equal(qs_errv_auto_range(a->model, t, QS_TYPE_Q8_0, NULL, &ra, &err), QS_OK);
    assert_int_equal(qs_errv_auto_range(a->model, t, QS_TYPE_Q5_1, NULL, &rb, &err), QS_OK);
    assert_true(r == (ra > rb ? ra : rb));
    qs_metrics first = *qs_errv_cache_best(&q->cache, t, QS_TYPE_Q5_1, r, &exact);

    /* [ : one rung lower (Q5_0); measured in the background */
    tui_quality_step_compare(UI, -1);
    tui_quality_sync(UI, true);
    assert_int_equal(q->want.cmp, QS_TYPE_Q5_0);
    assert_true(q->tensor_busy);
    settle(true);
    assert_non_null(qs_errv_cache_best(&q->cache, t, QS_TYPE_Q5_0, tui_quality_range(q, &q->want), &exact));
    assert_true(exact);
    /* ] : back to Q5_1 — a cache hit: no job, the same figures */
    tui_quality_step_compare(UI, +1);
    tui_quality_sync(UI, true);
    assert_int_equal(q->want.cmp, QS_TYPE_Q5_1);
    assert_false(q->tensor_busy);
    assert_false(tui_jobs_busy(&UI->jobs, TUI_JOB_KEY_TENSOR_ERRORS));
    const qs_metrics *again = qs_errv_cache_best(&q->cache, t, QS_TYPE_Q5_1, tui_quality_range(q, &q->want), &exact);
    assert_non_null(again);
    assert_memory_equal(again, &first, sizeof first);
    /* x: no comparison */
    q->cmp_off = true;
    tui_quality_sync(UI, true);
    assert_int_equal(q->want.cmp, -1);
    q->cmp_off = false;

    /* a tensor whose rows (172) hold no 32-block: compare falls to a type that fits */
    int down = (int)qs_model_find(a->model, "blk.2.ffn_down.weight");
    int k;
    for (k = 0; k < q->n_items; k++)
        if (q->items[k] == down) break;
    UI->list[TUI_VIEW_ERRORS].selected = k;
    settle(true);
    assert_int_equal(q->want.tensor, down);
    assert_int_equal(q->want.type, QS_TYPE_F16); /* Q8_0 fell back */
    assert_true(q->want.cmp == QS_TYPE_BF16 || q->want.cmp == QS_TYPE_F32);
    assert_string_equal(q->tensor_err, "");
    /* - : no type with fewer bits than F16 holds rows of 172; + : F32 */
    assert_int_equal(tui_quality_step_type(UI, -1), QS_ERR);
    assert_int_equal(tui_quality_step_type(UI, +1), QS_OK);
    assert_int_equal(a->res.choice[down].type, QS_TYPE_F32);

    /* - on blk.2.attn_q.weight: Q8_0 -> Q5_1 (Q6_K and Q5_K cannot hold rows of 64); the plan
     * point shrinks by the tensor's bytes: 64 rows of 2 blocks, 34 -> 24 bytes each */
    UI->list[TUI_VIEW_LAYERS].selected = row_of_group(2);
    q->layers_seen = -1;
    settle(true);
    assert_int_equal(q->want.tensor, t);
    uint64_t before = q->plan_pt.bytes;
    assert_int_equal(tui_quality_step_type(UI, -1), QS_OK);
    assert_int_equal(a->res.choice[t].type, QS_TYPE_Q5_1);
    assert_int_equal(a->res.choice[t].reason, QS_REASON_TENSOR);
    settle(true);
    assert_int_equal(q->want.type, QS_TYPE_Q5_1);
    assert_int_equal(before - q->plan_pt.bytes, 64 * 2 * (34 - 24));
    assert_int_equal(q->plan_pt.bytes, a->planned_bytes);
    assert_true(q->plan_pt.exact);
}

static void test_apply_points(void **state) {
    (void)state;
    if (!UI) skip();
    tui_app *a = &UI->app;
    assert_int_equal(qs_plan_set_layer(&a->plan, 1, QS_TYPE_BF16, &(qs_error){{0}}), QS_OK);
    tui_app_update(a);
    settle(false);
    tui_quality *q = UI->quality;
    /* a preset point: exactly that preset, the layer override gone */
    assert_int_equal(tui_quality_apply_preset(UI, QS_PRESET_Q5_0), QS_OK);
    assert_int_equal(a->plan.preset, QS_PRESET_Q5_0);
    assert_int_equal(a->plan.n_layers, 0);
    settle(false);
    assert_int_equal(q->plan_pt.bytes, q->presets[QS_PRESET_Q5_0].bytes);
    assert_true(q->plan_pt.rel_rmse == q->presets[QS_PRESET_Q5_0].rel_rmse);
    /* a budget point: the planner's mix within the size, at its error */
    uint64_t budget = q->frontier[5].bytes;
    qs_errv_point want;
    qs_error err;
    assert_int_equal(qs_errv_solve(&q->tab, budget, -1, &want, NULL, NULL, &err), QS_OK);
    assert_int_equal(tui_quality_apply_budget(UI, budget), QS_OK);
    assert_int_equal(a->plan.preset, QS_PRESET_NONE);
    assert_true(a->planned_bytes <= budget);
    settle(false);
    assert_int_equal(q->plan_pt.bytes, want.bytes);
    assert_true(q->plan_pt.sse == want.sse);

    /* stop: jobs cancelled, nothing exact is started until refine */
    tui_quality_stop(UI);
    assert_true(q->stopped);
    assert_false(tui_jobs_busy(&UI->jobs, TUI_JOB_KEY_ERROR_TABLE));
    tui_quality_refine(UI);
    assert_false(q->stopped);
    settle(false);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_points_and_blocks),
        cmocka_unit_test(test_errors_view_selection_and_cache),
        cmocka_unit_test(test_apply_points),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
