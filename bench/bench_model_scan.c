/* bench_model_scan — how long the model picker's scan takes: describing one file from its header
 * (the llama-bpe vocabulary: 128k tokens and 280k merges, the header of a Llama 3 model), and a
 * whole scan of a folder (QUANTSCOPE_MODEL_PATH) holding N copies of it and stories260K. Median
 * of runs. Prints figures; never fails.
 * Usage: bench_model_scan [COPIES [RUNS]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model_scan.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

int main(int argc, char **argv) {
    int copies = argc > 1 ? atoi(argv[1]) : 20, runs = argc > 2 ? atoi(argv[2]) : 9;
    if (copies < 1) copies = 1;
    if (runs < 1) runs = 1;
    const char *vocab = QS_SHARED_DIR "/vocab/ggml-vocab-llama-bpe.gguf";
    const char *stories = QS_SHARED_DIR "/models/stories260K.gguf";
    if (access(vocab, R_OK) != 0 || access(stories, R_OK) != 0) {
        printf("bench_model_scan: %s or %s missing, nothing measured\n", vocab, stories);
        return 0;
    }
    double t[64];
    if (runs > 64) runs = 64;
    qs_scan_entry e;
    for (int r = 0; r < runs; r++) {
        memset(&e, 0, sizeof e);
        double t0 = now_ms();
        qs_scan_describe(vocab, &e);
        t[r] = now_ms() - t0;
    }
    printf("describe llama-bpe vocabulary header (128k tokens): %.2f ms (median of %d)%s%s\n", median(t, runs), runs,
           e.ok ? "" : "; not usable: ", e.ok ? "" : e.reason);

    /* a folder of symlinks to distinct copies would be deduplicated by inode: hard copies */
    char dir[] = "/tmp/bench_model_scan_XXXXXX";
    if (!mkdtemp(dir)) {
        printf("bench_model_scan: no temporary folder\n");
        return 0;
    }
    char cmd[8192];
    for (int i = 0; i < copies; i++) {
        snprintf(cmd, sizeof cmd, "cp '%s' '%s/v%03d.gguf' && cp '%s' '%s/s%03d.gguf'", vocab, dir, i, stories, dir, i);
        if (system(cmd) != 0) {
            printf("bench_model_scan: copy failed\n");
            return 0;
        }
    }
    setenv("QUANTSCOPE_MODEL_PATH", dir, 1);
    int n = 0;
    for (int r = 0; r < runs; r++) {
        qs_scan_list l;
        qs_error err;
        qs_scan_opts o = {.here = dir, .with_demo = false};
        double t0 = now_ms();
        qs_model_scan(&l, &o, &err);
        t[r] = now_ms() - t0;
        n = l.n;
        qs_scan_list_free(&l);
    }
    printf("scan of %d files (%d vocabulary headers, %d small models): %.2f ms (median of %d)\n", n, copies, copies,
           median(t, runs), runs);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("bench_model_scan: could not remove %s\n", dir);
    return 0;
}
