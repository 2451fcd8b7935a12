/* Budget planner on stories260K (or the model given as argv[1]): for each preset, the planner
 * solves with the preset's size as the budget; prints the preset's total squared error, the
 * planner's, their ratio and the solve time (median of 21 runs), for sampled (10 %) and exact
 * candidate tables. Then a bits-per-weight and a whole-estimate budget. Prints only; never fails.
 *
 *   build/bench/bench_budget [MODEL.gguf] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget_model.h"
#include "qs_budget.h"
#include "synth.h"
#include <math.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int preset_types(const qs_model *m, qs_preset pr, int *types) {
    qs_plan_model pm;
    qs_plan_tensor *pt;
    if (qs_model_plan_view(m, &pm, &pt) != QS_OK) return QS_ENOMEM;
    qs_plan plan;
    qs_plan_init(&plan);
    qs_plan_set_preset(&plan, pr);
    qs_plan_resolution r;
    qs_error err;
    int rc = qs_plan_resolve(&plan, &pm, &r, &err);
    if (rc == QS_OK) {
        for (int i = 0; i < r.n; i++) types[i] = r.choice[i].type;
        qs_plan_resolution_free(&r);
    }
    qs_plan_free(&plan);
    free(pt);
    return rc;
}

static double solve_median(const qs_budget_problem *p, qs_budget_solution *s) {
    double t[21];
    qs_error err;
    for (int k = 0; k < 21; k++) {
        double t0 = now_us();
        qs_budget_solution_free(s);
        if (qs_budget_solve(p, s, &err) != QS_OK) {
            printf("  solve failed: %s\n", err.msg);
            return -1;
        }
        t[k] = now_us() - t0;
    }
    qsort(t, 21, sizeof t[0], cmp_d);
    return t[10];
}

/* Solver scaling on model-sized problems without measuring: the tensor list of a synth shape,
 * candidates from the ladder that fit its rows, error modelled as n x 4^-bpw x a per-tensor
 * factor (what real tables look like, roughly). */
static void scaling(const char *shape_name) {
    const qs_synth_shape *sh = qs_synth_find(shape_name);
    if (!sh) return;
    int n = qs_synth_tensors(sh, sh->n_vocab, NULL, 0);
    qs_synth_tensor *st = malloc((size_t)n * sizeof *st);
    qs_budget_item *it = malloc((size_t)n * sizeof *it);
    qs_budget_cand *cd = malloc((size_t)n * 16 * sizeof *cd);
    if (!st || !it || !cd) return;
    qs_synth_tensors(sh, sh->n_vocab, st, n);
    const qs_type *lad;
    int nl = qs_type_ladder(&lad);
    int ni = 0;
    uint64_t st_state = 1, q4 = 0;
    for (int i = 0; i < n; i++) {
        if (st[i].f32) continue;
        int64_t rows = st[i].ne[1], ne0 = st[i].ne[0];
        double f = 0.5 + (double)((st_state = st_state * 6364136223846793005ull + 1442695040888963407ull) >> 40) /
                             (double)(1ull << 24);
        it[ni] = (qs_budget_item){st[i].name, &cd[ni * 16], 0};
        for (int k = 0; k < nl && it[ni].n_cand < 16; k++) {
            uint64_t rb = qs_type_row_bytes(lad[k], ne0);
            if (!rb) continue;
            double bpw = qs_type_bpw(lad[k]);
            cd[ni * 16 + it[ni].n_cand++] = (qs_budget_cand){lad[k], rb * (uint64_t)rows,
                                                             (double)(ne0 * rows) * f * pow(4.0, -bpw)};
            if (lad[k] == QS_TYPE_Q4_K) q4 += rb * (uint64_t)rows;
        }
        ni++;
    }
    qs_budget_problem p = {.items = it, .n_items = ni, .budget = q4};
    qs_budget_solution s = {0}, h = {0};
    double us = solve_median(&p, &s);
    p.dp_states = -1;
    double uh = solve_median(&p, &h);
    printf("scaling %-14s %4d tensors, budget %7.1f MiB: with DP %8.1f us, error %.6g%s; "
           "hull+greedy only %7.1f us, error %.6g (x%.6f)\n", shape_name, ni, (double)q4 / QS_MIB, us,
           s.error, s.exact ? " (optimal)" : " (DP in quanta)", uh, h.error, h.error / s.error);
    qs_budget_solution_free(&s);
    qs_budget_solution_free(&h);
    free(st), free(it), free(cd);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : QS_SHARED_DIR "/models/stories260K.gguf";
    qs_error err;
    qs_model *m = qs_model_open(path, &err);
    if (!m) {
        printf("bench_budget: %s (skipped)\n", err.msg);
        return 0;
    }
    static const qs_preset presets[] = {QS_PRESET_Q8_0, QS_PRESET_Q6_K, QS_PRESET_Q5_K_M, QS_PRESET_Q4_K_M,
                                        QS_PRESET_Q3_K_M, QS_PRESET_Q2_K, QS_PRESET_Q5_0, QS_PRESET_Q4_0,
                                        QS_PRESET_Q4_1, QS_PRESET_IQ4_NL};
    int *types = malloc((size_t)m->n_tensors * sizeof *types);
    printf("model %s: %lld tensors, %lld params\n", path, (long long)m->n_tensors, (long long)m->n_params);
    for (int mode = 0; mode < 2; mode++) {
        qs_budget_table_opts o;
        qs_budget_table_opts_default(&o);
        o.mode = mode ? QS_METRICS_EXACT : QS_METRICS_SAMPLED;
        qs_budget_table tab;
        double t0 = now_us();
        if (qs_budget_table_build(m, &o, &tab, &err) != QS_OK) {
            printf("table: %s\n", err.msg);
            break;
        }
        double tb = now_us() - t0;
        int nc = 0;
        for (int i = 0; i < tab.n_items; i++) nc += tab.items[i].n_cand;
        printf("\n%s table: %d tensors, %d candidates, built in %.1f ms\n", mode ? "exact" : "sampled 10%",
               tab.n_items, nc, tb / 1e3);
        printf("%-8s %12s %14s %12s %14s %8s %10s %s\n", "preset", "bytes", "preset_err", "plan_bytes",
               "plan_err", "ratio", "solve_us", "");
        for (size_t k = 0; k < sizeof presets / sizeof presets[0]; k++) {
            uint64_t pb;
            double pe;
            if (preset_types(m, presets[k], types) != QS_OK ||
                qs_budget_table_eval(&tab, types, &pb, &pe, &err) != QS_OK) {
                printf("%-8s (not comparable: %s)\n", qs_preset_name(presets[k]), err.msg);
                continue;
            }
            qs_budget_problem p;
            qs_budget_table_problem(&tab, pb, &p);
            qs_budget_solution s = {0};
            double us = solve_median(&p, &s);
            if (us < 0) continue;
            printf("%-8s %12llu %14.6g %12llu %14.6g %8.4f %10.1f %s\n", qs_preset_name(presets[k]),
                   (unsigned long long)pb, pe, (unsigned long long)s.bytes, s.error,
                   pe > 0 ? s.error / pe : 1.0, us, s.exact ? "optimal" : "");
            qs_budget_solution_free(&s);
        }
        /* bits per weight */
        for (double bpw = 4.0; bpw <= 8.01; bpw += 2.0) {
            qs_budget_problem p;
            qs_budget_table_problem(&tab, qs_budget_bpw_bytes(bpw, tab.n_params), &p);
            qs_budget_solution s = {0};
            if (qs_budget_solve(&p, &s, &err) != QS_OK) {
                printf("bpw %.1f: %s\n", bpw, err.msg);
                continue;
            }
            printf("bpw %.1f: %llu bytes (%.3f bpw), error %.6g%s\n", bpw, (unsigned long long)s.bytes,
                   8.0 * (double)s.bytes / (double)tab.n_params, s.error, s.exact ? " (optimal)" : "");
            qs_budget_solution_free(&s);
        }
        /* whole estimate at 512 tokens: the Q8_0 preset's estimate as the budget */
        qs_est_settings es;
        qs_est_settings_default(&es);
        es.n_ctx = 512;
        uint64_t total, wb, nw, st;
        if (preset_types(m, QS_PRESET_Q8_0, types) == QS_OK &&
            qs_budget_estimate_total(m, types, &es, &total, &err) == QS_OK &&
            qs_budget_weight_budget(m, &es, total, &wb, &nw, &err) == QS_OK) {
            qs_budget_problem p;
            qs_budget_table_problem(&tab, wb, &p);
            qs_budget_solution s = {0};
            if (qs_budget_solve(&p, &s, &err) == QS_OK) {
                qs_budget_solution_types(&tab, &s, m, types);
                if (qs_budget_estimate_total(m, types, &es, &st, &err) == QS_OK)
                    printf("estimate budget %llu B at ctx 512 (non-weights %llu B): solution estimate %llu B, "
                           "error %.6g\n", (unsigned long long)total, (unsigned long long)nw,
                           (unsigned long long)st, s.error);
                qs_budget_solution_free(&s);
            }
        } else {
            printf("estimate budget: %s\n", err.msg);
        }
        qs_budget_table_free(&tab);
    }
    free(types);
    qs_model_close(m);
    printf("\n");
    scaling("tinyllama-1.1b");
    scaling("llama-3.1-8b");
    return 0;
}
