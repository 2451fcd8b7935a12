/* Time of one memory estimate (the TUI runs one per keypress) and of the fit searches, for
 * llama-like shapes of 22, 32 and 80 layers. Prints medians; never fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qs_estimate.h"
#include "qs_types.h"

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct shape {
    const char *name;
    int L;
    int64_t E, F, V;
    int Hq, Hkv;
} shape;

int main(void) {
    static const shape shapes[] = {
        {"tinyllama-1.1b", 22, 2048, 5632, 32000, 32, 4},
        {"llama-2-7b", 32, 4096, 11008, 32000, 32, 32},
        {"llama-3-70b", 80, 8192, 28672, 128256, 64, 8},
    };
    static const char *sfx[] = {"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight",
                                "attn_output.weight", "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight",
                                "ffn_down.weight"};
    printf("%-16s %12s %14s %14s\n", "shape", "estimate_us", "max_ctx_us", "max_ngl_us");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const shape *sh = &shapes[si];
        int n = 3 + 9 * sh->L;
        qs_est_tensor *t = calloc((size_t)n, sizeof *t);
        char (*names)[48] = calloc((size_t)n, 48);
        if (!t || !names) return 1;
        int k = 0;
        int64_t d = sh->E / sh->Hq;
#define ADD(nm, blk, ty, nd, e0, e1)                                              \
    do {                                                                          \
        if ((blk) >= 0) snprintf(names[k], 48, "blk.%d.%s", blk, nm);             \
        else snprintf(names[k], 48, "%s", nm);                                   \
        t[k] = (qs_est_tensor){names[k], nd, {e0, e1, 1, 1}, ty, blk};            \
        k++;                                                                      \
    } while (0)
        ADD("token_embd.weight", -1, QS_TYPE_Q4_K, 2, sh->E, sh->V);
        for (int il = 0; il < sh->L; il++) {
            ADD(sfx[0], il, QS_TYPE_F32, 1, sh->E, 1);
            ADD(sfx[1], il, QS_TYPE_Q4_K, 2, sh->E, sh->E);
            ADD(sfx[2], il, QS_TYPE_Q4_K, 2, sh->E, d * sh->Hkv);
            ADD(sfx[3], il, QS_TYPE_Q6_K, 2, sh->E, d * sh->Hkv);
            ADD(sfx[4], il, QS_TYPE_Q4_K, 2, sh->E, sh->E);
            ADD(sfx[5], il, QS_TYPE_F32, 1, sh->E, 1);
            ADD(sfx[6], il, QS_TYPE_Q4_K, 2, sh->E, sh->F);
            ADD(sfx[7], il, QS_TYPE_Q4_K, 2, sh->E, sh->F);
            ADD(sfx[8], il, QS_TYPE_Q6_K, 2, sh->F, sh->E);
        }
        ADD("output_norm.weight", -1, QS_TYPE_F32, 1, sh->E, 1);
        ADD("output.weight", -1, QS_TYPE_Q6_K, 2, sh->E, sh->V);
        qs_est_model m = {"llama", sh->L, sh->E, sh->Hq, sh->Hkv, NULL, 0, 0, sh->F, sh->V, 8192, 32, t, k};
        qs_est_settings s;
        qs_est_settings_default(&s);
        s.n_ctx = 8192;
        s.gpu_mem = 24ull * QS_GIB;
        s.n_gpu_layers = sh->L / 2;
        qs_est_result r;
        qs_error err;
        enum { RUNS = 51 };
        double a[RUNS], b[RUNS], c[RUNS];
        for (int i = 0; i < RUNS; i++) {
            double t0 = now_us();
            if (qs_estimate(&m, &s, &r, &err) != QS_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            double t1 = now_us();
            int64_t ctx;
            qs_estimate_max_ctx(&m, &s, 0, &ctx, &err);
            double t2 = now_us();
            int ngl;
            qs_estimate_max_gpu_layers(&m, &s, &ngl, &err);
            double t3 = now_us();
            a[i] = t1 - t0;
            b[i] = t2 - t1;
            c[i] = t3 - t2;
        }
        qsort(a, RUNS, sizeof a[0], cmp_d);
        qsort(b, RUNS, sizeof b[0], cmp_d);
        qsort(c, RUNS, sizeof c[0], cmp_d);
        printf("%-16s %12.1f %14.1f %14.1f\n", sh->name, a[RUNS / 2], b[RUNS / 2], c[RUNS / 2]);
        free(t);
        free(names);
    }
    return 0;
}
