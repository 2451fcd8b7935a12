/* bench_tokenize — vocabulary load time and tokenization speed (ms per 100 KB, MB/s) on the
 * shared vocabularies, median of runs. Prints figures; never fails.
 * Usage: bench_tokenize [TEXT_FILE [RUNS]]   (default: ~100 KB built from the test strings) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gguf.h"
#include "tokenizer.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) *len = (size_t)n;
    return b;
}

int main(int argc, char **argv) {
    static const char *const vocabs[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf",
                                         "ggml-vocab-llama-bpe.gguf", "ggml-vocab-gpt-2.gguf"};
    int runs = argc > 2 ? atoi(argv[2]) : 7;
    if (runs <= 0) runs = 7;
    size_t len = 0;
    char *text = NULL;
    char path[1024];
    if (argc > 1) {
        text = slurp(argv[1], &len);
        if (!text) {
            fprintf(stderr, "bench_tokenize: cannot read %s\n", argv[1]);
            return 0;
        }
    } else {
        /* the llama.cpp test strings (prose, code-ish, CJK, emoji, whitespace), repeated */
        size_t n;
        snprintf(path, sizeof path, "%s/vocab/ggml-vocab-llama-bpe.gguf.inp", QS_SHARED_DIR);
        char *inp = slurp(path, &n);
        if (!inp) {
            printf("bench_tokenize: %s not found, skipping\n", path);
            return 0;
        }
        text = malloc(100000 + n);
        while (len + n <= 100000) memcpy(text + len, inp, n), len += n;
        free(inp);
    }
    printf("text: %zu bytes, median of %d runs\n", len, runs);
    printf("%-28s %9s %8s %12s %10s\n", "vocabulary", "load ms", "tokens", "ms/100KB", "MB/s");
    for (size_t v = 0; v < sizeof vocabs / sizeof vocabs[0]; v++) {
        snprintf(path, sizeof path, "%s/vocab/%s", QS_SHARED_DIR, vocabs[v]);
        qs_error err;
        gguf_file *f = gguf_open(path, &err);
        if (!f) {
            printf("%-28s skipped (%s)\n", vocabs[v], err.msg);
            continue;
        }
        double t0 = now_ms();
        qs_tokenizer *t = qs_tok_load(f, &err);
        double load = now_ms() - t0;
        gguf_close(f);
        if (!t) {
            printf("%-28s %s\n", vocabs[v], err.msg);
            continue;
        }
        double *ms = calloc((size_t)runs, sizeof *ms);
        size_t n_tok = 0;
        for (int r = 0; r < runs; r++) {
            int32_t *ids;
            double a = now_ms();
            if (qs_tok_encode(t, text, len, true, true, &ids, &n_tok, &err) != QS_OK) {
                printf("%-28s encode failed: %s\n", vocabs[v], err.msg);
                break;
            }
            ms[r] = now_ms() - a;
            free(ids);
        }
        qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
        double m = ms[runs / 2];
        printf("%-28s %9.1f %8zu %12.2f %10.1f\n", vocabs[v], load, n_tok, m * 100000.0 / (double)len,
               (double)len / 1e3 / m);
        free(ms);
        qs_tok_free(t);
    }
    free(text);
    return 0;
}
