/* bench_kernels — throughput of the compute kernels per type and SIMD level, single-threaded.
 *
 *   bench_kernels [--quick] [--type NAME]... [--level scalar|avx2|avx512]... [--mib N]
 *                 [--runs N] [--best] [--cpu-time] [--huge] [--no-ref] [--n COLUMNS]
 *
 * For every weight type with a dot product and every level this CPU can run:
 *   dequant   to_float of 1 Mi values (4 MiB of floats, stays in L3), in GB/s of OUTPUT floats
 *   gemv-mem  y = W x with n = 4096 columns and as many rows as fill --mib MiB of weights
 *             (default 256 MiB, far larger than L3): GB/s of WEIGHT bytes read
 *   gemv-L2   the same on a 384 KiB matrix reused from cache (compute ceiling)
 *   gemm      W (n = 4096, 384 KiB) times 16 activation rows, in G multiply-adds per second
 * Each figure is the median of --runs runs (default 5; --best: the best run instead, useful on
 * a machine shared with other work; --cpu-time: per second of this thread's CPU time, which
 * leaves out the time other processes took the core; --huge: the big matrix on 2 MiB pages,
 * madvise(MADV_HUGEPAGE), as the engine asks for the model's mapping); "x" columns give the ratio to the
 * scalar level (--no-ref: the scalar level is not run, ratios are to the first level).
 * --n sets the columns of the matrices (default 4096).
 * The first line gives a memory read baseline (glibc memchr over the big buffer).
 * It never fails: levels the CPU cannot run are listed as skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "qs_cpu.h"
#include "qs_formats.h"
#include "qs_kernels.h"

/* --cpu-time: time the thread's CPU time instead of the wall clock, so that figures taken on a
 * machine shared with other work count only the time this thread ran (cache and memory
 * contention still show) */
static clockid_t g_clock = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec t;
    clock_gettime(g_clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bool use_best = false;
static bool huge = false;

/* The median of n figures (or the best one with --best). */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    if (use_best) return v[n - 1];
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t rng_state = 0x1234567;
static uint64_t rng(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Byte offsets of the fp16 scales in a block (random bytes there could be NaN or subnormal,
 * which some CPUs process slowly). */
static int scale_fields(int t, int off[2]) {
    switch (t) {
    case QS_TYPE_Q4_0: case QS_TYPE_Q5_0: case QS_TYPE_Q8_0: case QS_TYPE_IQ4_NL: case QS_TYPE_IQ4_XS:
        off[0] = 0; return 1;
    case QS_TYPE_Q4_1: case QS_TYPE_Q5_1: case QS_TYPE_Q4_K: case QS_TYPE_Q5_K:
        off[0] = 0; off[1] = 2; return 2;
    case QS_TYPE_Q2_K: off[0] = 80; off[1] = 82; return 2;
    case QS_TYPE_Q3_K: off[0] = 108; return 1;
    case QS_TYPE_Q6_K: off[0] = 208; return 1;
    default: return 0;
    }
}

/* Makes `bytes` of random data a valid array of blocks of type t (sane scales / floats). */
static void make_valid(int t, uint8_t *buf, size_t bytes) {
    const qs_type_traits *tt = qs_type_traits_get(t);
    if (t == QS_TYPE_F32) {
        for (size_t i = 0; i + 4 <= bytes; i += 4) {
            float v = (float)((int)(rng() & 0xFFFF) - 32768) * (1.0f / 32768.0f);
            memcpy(buf + i, &v, 4);
        }
        return;
    }
    if (t == QS_TYPE_F16 || t == QS_TYPE_BF16) {
        for (size_t i = 0; i + 2 <= bytes; i += 2) {
            float v = (float)((int)(rng() & 0xFFFF) - 32768) * (1.0f / 32768.0f);
            uint16_t h = t == QS_TYPE_F16 ? qs_f32_to_fp16(v) : qs_f32_to_bf16(v);
            memcpy(buf + i, &h, 2);
        }
        return;
    }
    int off[2];
    const int nf = scale_fields(t, off);
    const qs_fp16 h = qs_f32_to_fp16(0.01f);
    for (size_t b = 0; (b + 1) * (size_t)tt->type_size <= bytes; b++)
        for (int f = 0; f < nf; f++) memcpy(buf + b * (size_t)tt->type_size + (size_t)off[f], &h, 2);
}

typedef struct {
    double deq, gemv_mem, gemv_l2, gemm;
} figures;

#define MAX_RUNS 64
static int RUNS = 5;

static void bench_type(const qs_kernels *k, int t, int64_t n, uint8_t *big, size_t big_bytes,
                       uint8_t *small, size_t small_bytes, bool quick, figures *f) {
    const qs_kernel_row *row = &k->row[t];
    const int at = row->act_type;
    const size_t rb = qs_type_row_bytes(t, n);
    double v[MAX_RUNS];

    /* activation */
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = (float)((int)(rng() & 0xFFFF) - 32768) * (1.0f / 32768.0f);
    const size_t ab = qs_type_row_bytes(at, n);
    uint8_t *act = malloc(ab * 16);
    for (int c = 0; c < 16; c++) k->row[at].quantize_act(x, act + (size_t)c * ab, n);

    /* dequantize 1 Mi values from the start of the big buffer (valid blocks) */
    const int64_t nd = 1 << 20;
    float *out = malloc((size_t)nd * sizeof(float));
    f->deq = 0;
    if (row->to_float && (size_t)qs_type_row_bytes(t, nd) <= big_bytes) {
        const int reps = quick ? 2 : 8;
        row->to_float(big, out, nd);
        for (int r = 0; r < RUNS; r++) {
            double t0 = now();
            for (int i = 0; i < reps; i++) row->to_float(big, out, nd);
            v[r] = (double)nd * 4.0 * reps / (now() - t0) / 1e9;
        }
        f->deq = median(v, RUNS);
    }

    /* gemv over the big matrix */
    const int64_t rows_big = (int64_t)(big_bytes / rb) & ~(int64_t)3;
    float *y = malloc((size_t)(rows_big > 4096 ? rows_big : 4096) * sizeof(float) * 16);
    const int big_runs = quick && k->level == QS_SIMD_SCALAR ? 1 : RUNS;
    for (int r = 0; r < big_runs; r++) {
        double t0 = now();
        row->gemv(n, rows_big, big, rb, act, y);
        v[r] = (double)rows_big * (double)rb / (now() - t0) / 1e9;
    }
    f->gemv_mem = median(v, big_runs);

    /* gemv in cache */
    const int64_t rows_small = (int64_t)(small_bytes / rb) & ~(int64_t)3;
    const int reps = quick ? 20 : 100;
    row->gemv(n, rows_small, small, rb, act, y);
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (int i = 0; i < reps; i++) row->gemv(n, rows_small, small, rb, act, y);
        v[r] = (double)rows_small * (double)rb * reps / (now() - t0) / 1e9;
    }
    f->gemv_l2 = median(v, RUNS);

    /* gemm: 16 activation rows against the small matrix */
    const int greps = quick ? 2 : 10;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (int i = 0; i < greps; i++) row->gemm(n, rows_small, 16, small, rb, act, ab, y, (size_t)rows_small);
        v[r] = (double)rows_small * (double)n * 16.0 * greps / (now() - t0) / 1e9;
    }
    f->gemm = median(v, RUNS);

    free(x);
    free(act);
    free(out);
    free(y);
}

int main(int argc, char **argv) {
    bool quick = false;
    int types[QS_TYPE_COUNT], ntypes = 0;
    qs_simd_level lv_req[4];
    int nlv_req = 0;
    size_t mib = 256;
    int64_t ncols = 4096;
    bool no_ref = false;
    for (int i = 1; i < argc; i++) {
        qs_type t;
        qs_simd_level l;
        if (!strcmp(argv[i], "--quick")) quick = true;
        else if (!strcmp(argv[i], "--type") && i + 1 < argc && qs_type_from_name(argv[i + 1], &t) == QS_OK) { types[ntypes++] = t; i++; }
        else if (!strcmp(argv[i], "--level") && i + 1 < argc && qs_simd_parse(argv[i + 1], &l, NULL) == QS_OK && nlv_req < 4) { lv_req[nlv_req++] = l; i++; }
        else if (!strcmp(argv[i], "--mib") && i + 1 < argc) mib = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) RUNS = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--best")) use_best = true;
        else if (!strcmp(argv[i], "--huge")) huge = true;
        else if (!strcmp(argv[i], "--cpu-time")) g_clock = CLOCK_THREAD_CPUTIME_ID;
        else if (!strcmp(argv[i], "--no-ref")) no_ref = true;
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) ncols = atol(argv[++i]);
        else { fprintf(stderr, "usage: %s [--quick] [--type NAME]... [--level L]... [--mib N] [--runs N] [--best] [--cpu-time] [--huge] [--no-ref] [--n COLUMNS]\n", argv[0]); return 0; }
    }
    if (mib < 16) mib = 16;
    if (RUNS < 5) RUNS = 5;
    if (RUNS > MAX_RUNS) RUNS = MAX_RUNS;
    if (quick && mib == 256) mib = 64;
    if (ntypes == 0) {
        const int all[] = {QS_TYPE_F32, QS_TYPE_F16, QS_TYPE_BF16, QS_TYPE_Q4_0, QS_TYPE_Q4_1, QS_TYPE_Q5_0,
                           QS_TYPE_Q5_1, QS_TYPE_Q8_0, QS_TYPE_IQ4_NL, QS_TYPE_IQ4_XS, QS_TYPE_Q2_K,
                           QS_TYPE_Q3_K, QS_TYPE_Q4_K, QS_TYPE_Q5_K, QS_TYPE_Q6_K};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) types[ntypes++] = all[i];
    }

    char desc[512];
    qs_cpu_describe(qs_cpu_features_get(), qs_simd_active_level(NULL), desc, sizeof desc);
    printf("cpu: %s\n", desc);

    const qs_simd_level all_lv[] = {QS_SIMD_SCALAR, QS_SIMD_AVX2, QS_SIMD_AVX512};
    const qs_kernels *lv[3];
    int nlv = 0;
    for (int i = 0; i < 3; i++) {
        const qs_kernels *k = qs_kernels_for(all_lv[i]);
        bool wanted = nlv_req == 0 || (all_lv[i] == QS_SIMD_SCALAR && !no_ref);
        for (int j = 0; j < nlv_req; j++) wanted |= lv_req[j] == all_lv[i];
        if (!wanted) continue;
        if (!k || !qs_simd_level_usable(qs_cpu_features_get(), all_lv[i])) {
            printf("level %s: skipped (not runnable on this CPU/build)\n", qs_simd_level_name(all_lv[i]));
            continue;
        }
        lv[nlv++] = k;
    }

    const size_t big_bytes = mib << 20, small_bytes = 384u << 10;
    uint8_t *big = malloc(big_bytes), *small = malloc(small_bytes);
    if (huge && big) { /* 2 MiB pages, as the engine asks for the model mapping (gguf_advise_stream) */
        free(big);
        big = aligned_alloc(2u << 20, big_bytes);
        if (big) madvise(big, big_bytes, MADV_HUGEPAGE);
    }
    uint8_t *zero = calloc(1, big_bytes);
    if (!big || !small || !zero) { printf("out of memory for %zu MiB\n", mib); return 0; }
    for (size_t i = 0; i < big_bytes; i += 8) { uint64_t r = rng(); memcpy(big + i, &r, 8); }
    for (size_t i = 0; i < small_bytes; i += 8) { uint64_t r = rng(); memcpy(small + i, &r, 8); }

    {
        double v[MAX_RUNS];
        for (int r = 0; r < RUNS; r++) {
            double t0 = now();
            const void *p = memchr(zero, 1, big_bytes);
            v[r] = (double)big_bytes / (now() - t0) / 1e9;
            if (p) printf("?");
        }
        printf("memory read baseline (memchr over %zu MiB): %.1f GB/s\n", mib, median(v, RUNS));
    }
    free(zero);

    if (ncols < 256 || ncols % 256) ncols = 4096;
    printf("single thread; n = %lld columns; gemv-mem over %zu MiB of weights; %s of %d runs%s\n",
           (long long)ncols, mib, use_best ? "best" : "median", RUNS,
           g_clock == CLOCK_MONOTONIC ? "" : "; per second of CPU time");
    printf("%-7s %-7s %10s %6s %12s %6s %11s %6s %10s %6s\n", "type", "level", "dequant", "x",
           "gemv-mem", "x", "gemv-L2", "x", "gemm", "x");
    printf("%-7s %-7s %10s %6s %12s %6s %11s %6s %10s %6s\n", "", "", "GB/s out", "", "GB/s wts", "",
           "GB/s wts", "", "GMAC/s", "");
    for (int ti = 0; ti < ntypes; ti++) {
        const int t = types[ti];
        if (!qs_kernels_can_dot(t, ncols)) continue;
        make_valid(t, big, big_bytes);
        make_valid(t, small, small_bytes);
        figures ref = {0, 0, 0, 0};
        for (int l = 0; l < nlv; l++) {
            figures f;
            bench_type(lv[l], t, ncols, big, big_bytes, small, small_bytes, quick, &f);
            if (l == 0) ref = f;
#define RATIO(a, b) ((b) > 0 ? (a) / (b) : 0.0)
            printf("%-7s %-7s %10.2f %6.1f %12.2f %6.1f %11.2f %6.1f %10.2f %6.1f\n", qs_type_name(t),
                   lv[l]->name, f.deq, RATIO(f.deq, ref.deq), f.gemv_mem, RATIO(f.gemv_mem, ref.gemv_mem),
                   f.gemv_l2, RATIO(f.gemv_l2, ref.gemv_l2), f.gemm, RATIO(f.gemm, ref.gemm));
            fflush(stdout);
        }
    }
    free(big);
    free(small);
    return 0;
}
