/* engine/errview on stories260K: the per-tensor figures are qs_metrics_compute's, the table's
 * cells are the budget planner's, plan / block / preset points are qs_metrics_combine totals, the
 * frontier is the budget planner's and dominates the presets, and the cache returns what it got. */
#include "qs_test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget_model.h"
#include "errview.h"
#include "export.h"

static qs_model *M;
static qs_errv_table T;

static int setup(void **state) {
    (void)state;
    char path[1024];
    if (!qs_test_shared_path("models/stories260K.gguf", path, sizeof path)) return 0;
    qs_error err;
    M = qs_model_open(path, &err);
    if (!M) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return qs_errv_table_init(&T, M, &err) == QS_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    qs_errv_table_free(&T);
    qs_model_close(M);
    return 0;
}

static int64_t find(const char *name) {
    int64_t i = qs_model_find(M, name);
    assert_true(i >= 0);
    return i;
}

/* Fills every cell the given mode needs for the candidates and for types (NULL = none). */
static void fill(qs_errv_table *t, qs_metrics_mode mode, const int *types) {
    qs_errv_worklist l;
    assert_int_equal(qs_errv_worklist_init(&l, t), QS_OK);
    if (types) assert_int_equal(qs_errv_need_types(t, types, mode, &l), QS_OK);
    assert_int_equal(qs_errv_need_candidates(t, mode, &l), QS_OK);
    for (int k = 0; k < l.n; k++) {
        double sse, ssx;
        qs_error err;
        int rc = qs_errv_measure_cell(M, l.w[k].tensor, (qs_type)l.w[k].type, (qs_metrics_mode)l.w[k].mode, NULL,
                                      &sse, &ssx, &err);
        if (rc == QS_OK) qs_errv_table_set(t, l.w[k].tensor, l.w[k].type, (qs_metrics_mode)l.w[k].mode, sse, ssx);
        else qs_errv_table_fail(t, l.w[k].tensor, l.w[k].type);
    }
    qs_errv_worklist_free(&l);
}

static void test_tensor_metrics_are_qs_metrics(void **state) {
    (void)state;
    if (!M) skip();
    int64_t ti = find("blk.1.attn_q.weight");
    const qs_model_tensor *mt = &M->tensors[ti];
    for (int mode = 0; mode < 2; mode++) {
        /* qs_metrics_compute with the options spelled out here, as `quantscope errors [--sample
         * 0.1]` passes them */
        qs_metrics_opts o;
        qs_metrics_opts_default(&o);
        if (mode == QS_METRICS_SAMPLED) {
            o.mode = QS_METRICS_SAMPLED;
            o.sample_fraction = 0.1;
        }
        qs_metrics ref, got, forced;
        qs_error err;
        assert_int_equal(qs_metrics_compute((qs_type)mt->t->type, mt->t->data, mt->n_per_row, mt->n_rows, QS_TYPE_Q4_0,
                                            &o, &ref, &err),
                         QS_OK);
        assert_int_equal(qs_errv_tensor_metrics(M, ti, QS_TYPE_Q4_0, (qs_metrics_mode)mode, 0, NULL, &got, &err), QS_OK);
        assert_true(got.rmse == ref.rmse && got.rel_rmse == ref.rel_rmse && got.snr_db == ref.snr_db);
        assert_true(got.cosine == ref.cosine && got.max_abs == ref.max_abs);
        assert_int_equal(got.rows_used, ref.rows_used);
        assert_true(got.hist_range == ref.hist_range);
        assert_memory_equal(got.hist, ref.hist, sizeof got.hist);
        /* the range the views compute beforehand is the one chosen automatically */
        double r;
        assert_int_equal(qs_errv_auto_range(M, ti, QS_TYPE_Q4_0, NULL, &r, &err), QS_OK);
        assert_true(r == ref.hist_range);
        /* a forced (wider) range moves only the histogram */
        assert_int_equal(qs_errv_tensor_metrics(M, ti, QS_TYPE_Q4_0, (qs_metrics_mode)mode, 2 * r, NULL, &forced, &err),
                         QS_OK);
        assert_true(forced.rmse == ref.rmse && forced.cosine == ref.cosine);
        assert_true(forced.hist_range == 2 * r);
        uint64_t s = forced.hist_under + forced.hist_over;
        for (int i = 0; i < forced.hist_bins; i++) s += forced.hist[i];
        assert_int_equal(s, (uint64_t)forced.n);
    }
    /* 64 x 64 rows at 10 %: at least 16 rows measured */
    assert_int_equal(qs_errv_cell_values(M, ti, QS_METRICS_SAMPLED), 16 * 64);
    assert_int_equal(qs_errv_cell_values(M, ti, QS_METRICS_EXACT), 64 * 64);
    /* a type the rows cannot hold: an error naming the tensor */
    qs_metrics m;
    qs_error err;
    assert_int_equal(qs_errv_tensor_metrics(M, find("blk.0.ffn_down.weight"), QS_TYPE_Q4_0, QS_METRICS_EXACT, 0, NULL,
                                            &m, &err),
                     QS_ERR);
    assert_non_null(strstr(err.msg, "blk.0.ffn_down.weight"));
    assert_false(qs_errv_is_candidate(&T, find("blk.0.ffn_down.weight"), QS_TYPE_Q4_0));
    assert_true(qs_errv_is_candidate(&T, find("blk.0.ffn_down.weight"), QS_TYPE_F16));
    assert_false(qs_errv_is_candidate(&T, find("blk.0.attn_norm.weight"), QS_TYPE_F16)); /* not an item */
}

static void test_cells_are_budget_cells(void **state) {
    (void)state;
    if (!M) skip();
    qs_budget_table_opts bo;
    qs_budget_table_opts_default(&bo);
    int64_t ids[] = {find("token_embd.weight"), find("blk.3.ffn_up.weight"), find("blk.0.attn_v.weight")};
    qs_type types[] = {QS_TYPE_Q2_K, QS_TYPE_Q4_0, QS_TYPE_Q8_0, QS_TYPE_IQ4_NL};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++)
            for (int mode = 0; mode < 2; mode++) {
                bo.mode = (qs_metrics_mode)mode;
                qs_budget_cand c;
                double sse, ssx;
                qs_error err;
                int rc1 = qs_budget_cell_measure(M, ids[a], types[b], &bo, 1.0, &c, &err);
                int rc2 = qs_errv_measure_cell(M, ids[a], types[b], (qs_metrics_mode)mode, NULL, &sse, &ssx, &err);
                assert_int_equal(rc1, rc2);
                if (rc1 != QS_OK) continue; /* Q2_K cannot hold rows of 64 */
                assert_true(sse == c.error);
                if (mode == QS_METRICS_EXACT) {
                    /* sum of x^2 straight from the F32 data */
                    const qs_model_tensor *mt = &M->tensors[ids[a]];
                    const float *x = (const float *)mt->t->data;
                    double s = 0;
                    for (int64_t i = 0; i < mt->t->n_elements; i++) s += (double)x[i] * x[i];
                    assert_true(fabs(ssx - s) <= 1e-12 * s);
                }
            }
}

/* qs_metrics_combine's total rel_rmse over the items at the given types (EXACT or SAMPLED). */
static double combined_rel(const int *types, qs_metrics_mode mode, int64_t only_block) {
    qs_metrics total;
    qs_metrics_total_init(&total);
    for (int i = 0; i < T.n_tensors; i++) {
        if (!T.item[i] || (only_block >= -1 && M->tensors[i].block != only_block)) continue;
        qs_metrics_opts o;
        qs_metrics_opts_default(&o);
        if (mode == QS_METRICS_SAMPLED) {
            o.mode = mode;
            o.sample_fraction = 0.1;
        }
        const qs_model_tensor *mt = &M->tensors[i];
        qs_metrics r;
        qs_error err;
        assert_int_equal(qs_metrics_compute((qs_type)mt->t->type, mt->t->data, mt->n_per_row, mt->n_rows,
                                            (qs_type)types[i], &o, &r, &err),
                         QS_OK);
        qs_metrics_combine(&total, &r);
    }
    return total.rel_rmse;
}

static void test_points(void **state) {
    (void)state;
    if (!M) skip();
    qs_errv_table t;
    qs_error err;
    assert_int_equal(qs_errv_table_init(&t, M, &err), QS_OK);
    assert_int_equal(t.n_items, 37); /* token_embd, output and 5 blocks x 7 matrices */
    const int *q8 = qs_errv_preset_types(&t, QS_PRESET_Q8_0), *q4 = qs_errv_preset_types(&t, QS_PRESET_Q4_0);
    assert_non_null(q8);
    assert_non_null(q4);
    assert_null(qs_errv_preset_types(&t, QS_PRESET_NONE));

    /* before any measurement: sizes known, errors missing */
    qs_errv_point p;
    qs_errv_eval(&t, q4, &p);
    assert_int_equal(p.missing, t.n_items);
    assert_true(isnan(p.rel_rmse));
    qs_plan plan;
    qs_plan_init(&plan);
    qs_plan_set_preset(&plan, QS_PRESET_Q4_0);
    qs_planned pl;
    assert_int_equal(qs_planned_init(&pl, M, &plan, &err), QS_OK);
    assert_int_equal(p.bytes, pl.bytes);
    assert_true(fabs(p.bpw - (double)pl.bytes * 8 / (double)pl.n_params) < 1e-12);
    qs_planned_free(&pl);
    qs_plan_free(&plan);

    /* the work list asks for exactly the items once */
    qs_errv_worklist l;
    assert_int_equal(qs_errv_worklist_init(&l, &t), QS_OK);
    assert_int_equal(qs_errv_need_types(&t, q4, QS_METRICS_SAMPLED, &l), QS_OK);
    assert_int_equal(l.n, t.n_items);
    assert_int_equal(qs_errv_need_types(&t, q4, QS_METRICS_SAMPLED, &l), QS_OK);
    assert_int_equal(l.n, t.n_items);
    qs_errv_worklist_free(&l);

    fill(&t, QS_METRICS_SAMPLED, q4);
    fill(&t, QS_METRICS_SAMPLED, q8);
    qs_errv_point s4, s8, e4, e8;
    qs_errv_eval(&t, q4, &s4);
    qs_errv_eval(&t, q8, &s8);
    assert_int_equal(s4.missing, 0);
    assert_false(s4.exact);
    /* sampled: the same as qs_metrics_combine over the same sampled measurements */
    assert_true(fabs(s4.rel_rmse - combined_rel(q4, QS_METRICS_SAMPLED, -2)) <= 1e-12 * s4.rel_rmse);
    fill(&t, QS_METRICS_EXACT, q4);
    fill(&t, QS_METRICS_EXACT, q8);
    qs_errv_eval(&t, q4, &e4);
    qs_errv_eval(&t, q8, &e8);
    assert_true(e4.exact && e8.exact);
    double ref4 = combined_rel(q4, QS_METRICS_EXACT, -2);
    assert_true(fabs(e4.rel_rmse - ref4) <= 1e-12 * ref4);
    /* Q8_0 keeps 8 bits per weight, Q4_0 4: about 16x less error; at least 8x here */
    assert_true(e8.rel_rmse * 8 < e4.rel_rmse);
    assert_true(e8.bytes > e4.bytes);
    /* sampled within 5 % of exact: the whole-model figure averages 36 tensors' sampled rows
     * (at least 16 rows, a quarter of the smallest tensors), each an unbiased estimate */
    assert_true(fabs(s4.rel_rmse - e4.rel_rmse) <= 0.05 * e4.rel_rmse);
    assert_true(fabs(s8.rel_rmse - e8.rel_rmse) <= 0.05 * e8.rel_rmse);
    print_message("Q4_0 rel RMSE sampled %.6g exact %.6g; Q8_0 sampled %.6g exact %.6g\n", s4.rel_rmse, e4.rel_rmse,
                  s8.rel_rmse, e8.rel_rmse);

    /* per block: each group is the combine over its own items, and the groups add up */
    qs_errv_point g[16];
    assert_true(t.n_groups <= 16);
    qs_errv_groups(&t, q4, g);
    double sse = 0, ssx = 0;
    uint64_t bytes = 0;
    for (int k = 0; k < t.n_groups; k++) {
        sse += g[k].sse;
        ssx += g[k].ssx;
        bytes += g[k].bytes;
    }
    assert_true(fabs(sse - e4.sse) <= 1e-12 * e4.sse && fabs(ssx - e4.ssx) <= 1e-12 * e4.ssx);
    assert_int_equal(bytes, e4.bytes);
    double ref_b2 = combined_rel(q4, QS_METRICS_EXACT, 2);
    assert_true(fabs(g[3].rel_rmse - ref_b2) <= 1e-12 * ref_b2);
    char name[32];
    assert_string_equal(qs_errv_group_name(&t, 3, name, sizeof name), "blk.2");
    assert_string_equal(qs_errv_group_name(&t, 0, name, sizeof name), "token_embd");
    assert_string_equal(qs_errv_group_name(&t, t.n_layer + 1, name, sizeof name), "output");
    qs_errv_table_free(&t);
}

static void test_budget_frontier(void **state) {
    (void)state;
    if (!M) skip();
    qs_errv_table t;
    qs_error err;
    assert_int_equal(qs_errv_table_init(&t, M, &err), QS_OK);
    qs_errv_point pt;
    assert_int_equal(qs_errv_solve(&t, 1 << 20, -1, &pt, NULL, NULL, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "not measured yet"));
    fill(&t, QS_METRICS_SAMPLED, NULL);

    /* the budget planner's own table (sampled, its defaults) at the same budgets */
    qs_budget_table bt;
    assert_int_equal(qs_budget_table_build(M, NULL, &bt, &err), QS_OK);
    uint64_t lo, hi;
    assert_int_equal(qs_errv_size_range(&t, &lo, &hi, &err), QS_OK);
    uint64_t budgets[] = {lo, lo + (hi - lo) / 3, (lo + hi) / 2, hi};
    for (int k = 0; k < 4; k++) {
        qs_budget_problem p;
        qs_budget_table_problem(&bt, budgets[k], &p);
        qs_budget_solution s;
        assert_int_equal(qs_budget_solve(&p, &s, &err), QS_OK);
        if (k == 0) assert_int_equal(s.min_bytes, lo);
        if (k == 3) assert_int_equal(s.full_bytes, hi);
        int types[64];
        qs_plan plan;
        qs_plan_init(&plan);
        assert_int_equal(qs_errv_solve(&t, budgets[k], 0, &pt, types, &plan, &err), QS_OK);
        assert_int_equal(pt.bytes, s.bytes);
        assert_true(fabs(pt.sse - s.error) <= 1e-12 * (s.error > 0 ? s.error : 1));
        /* the plan it writes resolves to those types */
        qs_planned pl;
        assert_int_equal(qs_planned_init(&pl, M, &plan, &err), QS_OK);
        for (int i = 0; i < t.n_tensors; i++) assert_int_equal(pl.res.choice[i].type, types[i]);
        qs_planned_free(&pl);
        qs_plan_free(&plan);
        qs_budget_solution_free(&s);
    }
    qs_budget_table_free(&bt);

    /* the frontier: sizes up, errors down, from the smallest size to no error at all (F32) */
    qs_errv_point f[8];
    assert_int_equal(qs_errv_frontier(&t, 8, f, &err), QS_OK);
    assert_int_equal(f[0].bytes, lo);
    for (int k = 1; k < 8; k++) {
        assert_true(f[k].bytes >= f[k - 1].bytes);
        assert_true(f[k].sse <= f[k - 1].sse * (1 + 1e-12));
    }
    assert_true(f[7].sse == 0);
    /* no preset does better than the planner at the preset's own size */
    for (int p = 1; p < QS_PRESET_COUNT; p++) {
        const int *ty = qs_errv_preset_types(&t, (qs_preset)p);
        if (!ty) continue;
        qs_errv_point pp;
        qs_errv_eval(&t, ty, &pp);
        if (pp.missing || pp.failed) { /* a type off the ladder: measure it */
            fill(&t, QS_METRICS_SAMPLED, ty);
            qs_errv_eval(&t, ty, &pp);
        }
        assert_int_equal(pp.missing + pp.failed, 0);
        assert_int_equal(qs_errv_solve(&t, pp.bytes, 0, &pt, NULL, NULL, &err), QS_OK);
        assert_true(pt.bytes <= pp.bytes);
        assert_true(pt.sse <= pp.sse * (1 + 1e-9));
    }
    assert_int_equal(qs_errv_solve(&t, lo - 1, -1, &pt, NULL, NULL, &err), QS_ERR);
    qs_errv_table_free(&t);
}

static void test_cache(void **state) {
    (void)state;
    if (!M) skip();
    qs_errv_cache c;
    assert_int_equal(qs_errv_cache_init(&c, 3), QS_OK);
    int64_t ti = find("blk.2.attn_k.weight");
    qs_metrics a, b;
    qs_error err;
    double r;
    assert_int_equal(qs_errv_auto_range(M, ti, QS_TYPE_Q5_0, NULL, &r, &err), QS_OK);
    assert_int_equal(qs_errv_tensor_metrics(M, ti, QS_TYPE_Q5_0, QS_METRICS_SAMPLED, r, NULL, &a, &err), QS_OK);
    assert_int_equal(qs_errv_tensor_metrics(M, ti, QS_TYPE_Q5_0, QS_METRICS_EXACT, r, NULL, &b, &err), QS_OK);
    bool exact = true;
    assert_null(qs_errv_cache_best(&c, (int)ti, QS_TYPE_Q5_0, r, &exact));
    qs_errv_cache_put(&c, (int)ti, QS_TYPE_Q5_0, QS_METRICS_SAMPLED, r, &a);
    const qs_metrics *h = qs_errv_cache_best(&c, (int)ti, QS_TYPE_Q5_0, r, &exact);
    assert_non_null(h);
    assert_false(exact);
    assert_memory_equal(h, &a, sizeof a);
    qs_errv_cache_put(&c, (int)ti, QS_TYPE_Q5_0, QS_METRICS_EXACT, r, &b);
    h = qs_errv_cache_best(&c, (int)ti, QS_TYPE_Q5_0, r, &exact);
    assert_true(exact);
    assert_true(h->rmse == b.rmse);
    assert_null(qs_errv_cache_get(&c, (int)ti, QS_TYPE_Q5_0, QS_METRICS_EXACT, 2 * r)); /* other range */
    /* a third entry fits, a fourth evicts the least recently used (the sampled one) */
    qs_errv_cache_get(&c, (int)ti, QS_TYPE_Q5_0, QS_METRICS_EXACT, r);
    qs_errv_cache_put(&c, 1, QS_TYPE_Q8_0, QS_METRICS_EXACT, 1.0, &a);
    qs_errv_cache_put(&c, 2, QS_TYPE_Q8_0, QS_METRICS_EXACT, 1.0, &a);
    assert_null(qs_errv_cache_get(&c, (int)ti, QS_TYPE_Q5_0, QS_METRICS_SAMPLED, r));
    assert_non_null(qs_errv_cache_get(&c, (int)ti, QS_TYPE_Q5_0, QS_METRICS_EXACT, r));
    assert_non_null(qs_errv_cache_get(&c, 2, QS_TYPE_Q8_0, QS_METRICS_EXACT, 1.0));
    /* ranges */
    assert_true(qs_errv_cache_range(&c, (int)ti, QS_TYPE_Q5_0) == 0);
    qs_errv_cache_put_range(&c, (int)ti, QS_TYPE_Q5_0, r);
    assert_true(qs_errv_cache_range(&c, (int)ti, QS_TYPE_Q5_0) == r);
    for (int k = 0; k < 40; k++) qs_errv_cache_put_range(&c, 100 + k, QS_TYPE_Q4_0, k + 1.0);
    assert_true(qs_errv_cache_range(&c, 139, QS_TYPE_Q4_0) == 40.0);
    assert_true(qs_errv_cache_range(&c, (int)ti, QS_TYPE_Q5_0) == 0); /* overwritten (12 slots) */
    qs_errv_cache_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_metrics_are_qs_metrics),
        cmocka_unit_test(test_cells_are_budget_cells),
        cmocka_unit_test(test_points),
        cmocka_unit_test(test_budget_frontier),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
