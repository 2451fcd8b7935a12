/* bench_quantize — quantize throughput per type (MB/s of float32 input), median of runs:
 * the scalar build of the quantizer on 1 thread, then the level this process runs with
 * (qs_simd_active_level: best usable, or QS_SIMD) on 1 thread and on all threads, and the
 * SIMD-over-scalar ratio. Single-thread columns are CPU time, the all-threads column wall
 * time. Prints figures; never fails.
 * Usage: bench_quantize [ROWS [COLS [RUNS]]]   (default 256 x 4096, 5 runs) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "qs_cpu.h"
#include "qs_quant_simd.h"
#include "qs_quantize.h"
#include "qs_types.h"

/* Single-thread figures use the process's CPU time (steadier than the wall clock on a shared
 * machine, and equal to it on an idle one); the all-threads figure needs the wall clock. */
static double now_s(clockid_t clk) {
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int runs) {
    qsort(v, (size_t)runs, sizeof *v, cmp_double);
    return v[runs / 2];
}

/* Through qs_quantize_rows (the threaded path exports use), active level. */
static double median_mbps(qs_type t, const float *src, void *dst, int64_t rows, int64_t cols,
                          int runs, int threads) {
    double *v = calloc((size_t)runs, sizeof *v);
    qs_quantize_opts o = {.n_threads = threads};
    qs_error err;
    const clockid_t clk = threads == 1 ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s(clk);
        if (qs_quantize_rows(t, src, dst, cols, rows, NULL, &o, &err) != QS_OK) {
            fprintf(stderr, "%s: %s\n", qs_type_name(t), err.msg);
            free(v);
            return 0.0;
        }
        v[r] = (double)rows * (double)cols * 4.0 / 1e6 / (now_s(clk) - t0);
    }
    double m = median(v, runs);
    free(v);
    return m;
}

/* One level's quantizer called row by row on this thread. */
static double median_mbps_level(qs_quant_level_fn f, qs_type t, const float *src, void *dst,
                                int64_t rows, int64_t cols, int runs) {
    double *v = calloc((size_t)runs, sizeof *v);
    const size_t rb = (size_t)qs_type_row_bytes(t, cols);
    for (int r = 0; r < runs; r++) {
        double t0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
        for (int64_t i = 0; i < rows; i++) f(src + i * cols, (uint8_t *)dst + (size_t)i * rb, cols, NULL);
        v[r] = (double)rows * (double)cols * 4.0 / 1e6 / (now_s(CLOCK_PROCESS_CPUTIME_ID) - t0);
    }
    double m = median(v, runs);
    free(v);
    return m;
}

int main(int argc, char **argv) {
    int64_t rows = argc > 1 ? atoll(argv[1]) : 256;
    int64_t cols = argc > 2 ? atoll(argv[2]) : 4096;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (rows <= 0 || cols <= 0 || cols % 256 || runs <= 0) {
        fprintf(stderr, "usage: bench_quantize [ROWS [COLS (multiple of 256) [RUNS]]]\n");
        return 2;
    }
    float *src = malloc((size_t)(rows * cols) * sizeof *src);
    void *dst = malloc((size_t)(rows * cols) * 4);
    uint64_t s = 42;
    for (int64_t i = 0; i < rows * cols; i++) { /* deterministic, roughly Gaussian */
        float acc = 0;
        for (int k = 0; k < 4; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            acc += (float)(s >> 40) * 0x1p-24f;
        }
        src[i] = (acc - 2.0f) * 0.02f;
    }
    int nt = qs_threads_resolve(0);
    const char *note = NULL;
    qs_simd_level lv = qs_simd_active_level(&note);
    printf("quantize throughput, %lld x %lld float32 input, median of %d runs, level %s%s%s\n",
           (long long)rows, (long long)cols, runs, qs_simd_level_name(lv), note && *note ? " - " : "",
           note ? note : "");
    printf("%-8s %12s %12s %12s %8s %8s\n", "type", "scalar MB/s", "1 thr MB/s", "all MB/s", "threads",
           "x scalar");
    const qs_type *ladder;
    int n = qs_type_ladder(&ladder);
    for (int i = 0; i < n; i++) {
        if (!qs_type_can_quantize(ladder[i])) continue;
        qs_quant_level_fn scalar = qs_quant_fn_for_level(ladder[i], QS_SIMD_SCALAR);
        double ms = scalar ? median_mbps_level(scalar, ladder[i], src, dst, rows, cols, runs) : 0.0;
        double m1 = median_mbps(ladder[i], src, dst, rows, cols, runs, 1);
        double mn = median_mbps(ladder[i], src, dst, rows, cols, runs, nt);
        printf("%-8s %12.1f %12.1f %12.1f %8d %8.2f\n", qs_type_name(ladder[i]), ms, m1, mn, nt,
               ms > 0.0 ? m1 / ms : 0.0);
    }
    free(src);
    free(dst);
    return 0;
}
