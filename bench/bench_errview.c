/* The Errors / Trade-off views' costs on stories260K (or the model given as argv[1]):
 *   worker side — the largest tensor's metrics sampled and exact (what the Errors view waits for
 *   before its first and its final figures), the current plan's cells (Q4_K_M) sampled, and the
 *   whole candidate table sampled and exact (what the trade-off frontier needs);
 *   UI side — the figures recomputed after each batch of results: every preset's point, the
 *   block bars, one budget solve without the DP and the 16-point frontier (medians).
 * Prints only; never fails.
 *
 *   build/bench/bench_errview [MODEL.gguf] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errview.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Measures every cell of the list; returns milliseconds and the values measured. */
static double fill(const qs_model *m, qs_errv_table *t, qs_errv_worklist *l, int64_t *values) {
    double t0 = now_ms();
    *values = 0;
    for (int k = 0; k < l->n; k++) {
        double sse, ssx;
        qs_error err;
        const qs_errv_work *w = &l->w[k];
        if (qs_errv_measure_cell(m, w->tensor, (qs_type)w->type, (qs_metrics_mode)w->mode, NULL, &sse, &ssx, &err) == QS_OK)
            qs_errv_table_set(t, w->tensor, w->type, (qs_metrics_mode)w->mode, sse, ssx);
        else
            qs_errv_table_fail(t, w->tensor, w->type);
        *values += qs_errv_cell_values(m, w->tensor, (qs_metrics_mode)w->mode);
    }
    return now_ms() - t0;
}

int main(int argc, char **argv) {
    char def[1024];
    snprintf(def, sizeof def, "%s/models/stories260K.gguf", QS_SHARED_DIR);
    const char *path = argc > 1 ? argv[1] : def;
    setvbuf(stdout, NULL, _IOLBF, 0); /* each figure as soon as it is measured (big models are slow) */
    qs_error err;
    qs_model *m = qs_model_open(path, &err);
    if (!m) {
        printf("bench_errview: %s\n", err.msg);
        return 0;
    }
    qs_errv_table t;
    double t0 = now_ms();
    if (qs_errv_table_init(&t, m, &err) != QS_OK) {
        printf("bench_errview: %s\n", err.msg);
        qs_model_close(m);
        return 0;
    }
    printf("%s: %d tensors, %d quantized; table with every preset resolved in %.1f ms\n", path, t.n_tensors,
           t.n_items, now_ms() - t0);

    /* the largest item: the Errors view's worst wait */
    int big = -1;
    for (int i = 0; i < t.n_tensors; i++)
        if (t.item[i] && (big < 0 || m->tensors[i].t->n_elements > m->tensors[big].t->n_elements)) big = i;
    if (big >= 0) {
        const int *q4 = qs_errv_preset_types(&t, QS_PRESET_Q4_K_M);
        qs_type ty = q4 ? (qs_type)q4[big] : QS_TYPE_Q8_0;
        double r = 0;
        double ta = now_ms();
        qs_errv_auto_range(m, big, ty, NULL, &r, &err);
        double tr = now_ms() - ta;
        for (int mode = QS_METRICS_SAMPLED; mode >= QS_METRICS_EXACT; mode--) {
            qs_metrics mm;
            double t1 = now_ms();
            int rc = qs_errv_tensor_metrics(m, big, ty, (qs_metrics_mode)mode, r, NULL, &mm, &err);
            printf("  %s at %s, %s: %.1f ms (+ %.1f ms for the histogram range)%s\n", m->tensors[big].name,
                   qs_type_name(ty), mode == QS_METRICS_EXACT ? "exact  " : "sampled", now_ms() - t1, tr,
                   rc == QS_OK ? "" : "  [failed]");
        }
    }
    const int *plan = qs_errv_preset_types(&t, QS_PRESET_Q4_K_M);
    for (int mode = QS_METRICS_SAMPLED; mode >= QS_METRICS_EXACT; mode--) {
        qs_errv_worklist l;
        int64_t v;
        if (plan) {
            qs_errv_worklist_init(&l, &t);
            qs_errv_need_types(&t, plan, (qs_metrics_mode)mode, &l);
            double ms = fill(m, &t, &l, &v);
            printf("  plan Q4_K_M, %s: %d cells, %.3g M values, %.0f ms\n", mode == QS_METRICS_EXACT ? "exact  " : "sampled",
                   l.n, (double)v / 1e6, ms);
            qs_errv_worklist_free(&l);
        }
        qs_errv_worklist_init(&l, &t);
        qs_errv_need_candidates(&t, (qs_metrics_mode)mode, &l);
        double ms = fill(m, &t, &l, &v);
        printf("  the rest of the candidate table, %s: %d cells, %.3g M values, %.0f ms (%.0f M values/s)\n",
               mode == QS_METRICS_EXACT ? "exact  " : "sampled", l.n, (double)v / 1e6, ms, ms > 0 ? (double)v / 1e3 / ms : 0);
        qs_errv_worklist_free(&l);
    }

    /* UI-thread recomputation after a batch */
    int *types = malloc((size_t)t.n_tensors * sizeof *types);
    qs_errv_point *g = malloc((size_t)t.n_groups * sizeof *g), f[16], p;
    double ts[4][21];
    for (int k = 0; k < 21; k++) {
        double a = now_ms();
        for (int pr = 1; pr < QS_PRESET_COUNT; pr++) {
            const int *ty = qs_errv_preset_types(&t, (qs_preset)pr);
            if (ty) qs_errv_eval(&t, ty, &p);
        }
        double b = now_ms();
        if (plan) qs_errv_groups(&t, plan, g);
        double c = now_ms();
        qs_errv_solve(&t, plan ? p.bytes : m->tensor_bytes / 4, -1, &p, types, NULL, &err);
        double d = now_ms();
        qs_errv_frontier(&t, 16, f, &err);
        double e = now_ms();
        ts[0][k] = b - a;
        ts[1][k] = c - b;
        ts[2][k] = d - c;
        ts[3][k] = e - d;
    }
    for (int i = 0; i < 4; i++) qsort(ts[i], 21, sizeof ts[i][0], cmp_d);
    printf("  UI thread, medians of 21: all preset points %.3f ms, block bars %.3f ms, one solve (no DP) %.3f ms, "
           "16-point frontier %.2f ms\n", ts[0][10], ts[1][10], ts[2][10], ts[3][10]);
    free(types);
    free(g);
    qs_errv_table_free(&t);
    qs_model_close(m);
    return 0;
}
