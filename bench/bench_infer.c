/* bench_infer — prompt processing and generation speed of the engine.
 *
 *   bench_infer [MODEL.gguf] [-t THREADS] [-p PROMPT_TOKENS] [-n GEN_TOKENS] [-r REPS]
 *               [--kv f16|f32|q8_0]
 *
 * MODEL defaults to ../shared/models/stories260K.gguf. Prints the median over REPS runs of
 * pp (prompt tokens per second, one batched decode of PROMPT_TOKENS tokens into an empty
 * cache) and tg (tokens per second of GEN_TOKENS single-token decodes from an empty cache,
 * each next token the greedy choice), as llama-bench measures them, in the form
 * llama-bench prints them so the two can be put side by side:
 *
 *   llama-bench -m MODEL -t THREADS -p PROMPT_TOKENS -n GEN_TOKENS
 *
 * THREADS 0 (the default) means all CPUs with the engine's automatic choice per pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gguf.h"
#include "infer.h"
#include "qs_types.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *path = QS_SHARED_DIR "/models/stories260K.gguf";
    int threads = 0, n_prompt = 128, n_gen = 64, reps = 5, kv_type = QS_TYPE_F16;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-t") && v) threads = atoi(argv[++i]);
        else if (!strcmp(a, "-p") && v) n_prompt = atoi(argv[++i]);
        else if (!strcmp(a, "-n") && v) n_gen = atoi(argv[++i]);
        else if (!strcmp(a, "-r") && v) reps = atoi(argv[++i]);
        else if (!strcmp(a, "--kv") && v) {
            qs_type t;
            if (qs_type_from_name(argv[++i], &t) != QS_OK) {
                fprintf(stderr, "bench_infer: unknown KV type %s\n", argv[i]);
                return 2;
            }
            kv_type = (int)t;
        } else if (a[0] != '-') path = a;
        else {
            fprintf(stderr, "usage: bench_infer [MODEL.gguf] [-t THREADS] [-p PROMPT_TOKENS] "
                            "[-n GEN_TOKENS] [-r REPS] [--kv f16|f32|q8_0]\n");
            return 2;
        }
    }
    if (n_prompt < 1 || n_gen < 0 || reps < 1) {
        fprintf(stderr, "bench_infer: need -p >= 1, -n >= 0, -r >= 1\n");
        return 2;
    }
    qs_error err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    if (!f) {
        fprintf(stderr, "bench_infer: %s\n", err.msg);
        return 1;
    }
    qs_infer_model *m = qs_infer_model_load(f, &err);
    if (!m) {
        fprintf(stderr, "bench_infer: %s\n", err.msg);
        gguf_close(f);
        return 1;
    }
    qs_infer_params p = qs_infer_default_params();
    p.n_threads = threads;
    p.n_ctx = n_prompt + n_gen + 1;
    p.n_batch = n_prompt;
    p.kv_type = kv_type;
    qs_infer_ctx *c = qs_infer_ctx_new(m, &p, &err);
    if (!c) {
        fprintf(stderr, "bench_infer: %s\n", err.msg);
        qs_infer_model_free(m);
        gguf_close(f);
        return 1;
    }
    int32_t *tokens = malloc((size_t)n_prompt * sizeof *tokens);
    double *pp = malloc((size_t)reps * sizeof *pp), *tg = malloc((size_t)reps * sizeof *tg);
    for (int i = 0; i < n_prompt; i++) tokens[i] = (int32_t)((1 + 37 * i) % m->hp.n_vocab);

    /* warm-up: page the weights in */
    qs_infer_decode(c, tokens, 1, false, &err);
    for (int r = 0; r < reps; r++) {
        /* pp: one batch of n_prompt tokens into an empty cache (llama-bench's pp test) */
        qs_infer_kv_truncate(c, 0, &err);
        const double t0 = now_ms();
        if (qs_infer_decode(c, tokens, n_prompt, false, &err) != QS_OK) {
            fprintf(stderr, "bench_infer: %s\n", err.msg);
            return 1;
        }
        pp[r] = n_prompt / ((now_ms() - t0) / 1e3);
        /* tg: n_gen single-token decodes into an empty cache, the next token chosen greedily
         * (llama-bench's tg test decodes one token at a time from an empty cache too) */
        qs_infer_kv_truncate(c, 0, &err);
        int32_t tok = tokens[0];
        const double t1 = now_ms();
        for (int i = 0; i < n_gen; i++) {
            if (qs_infer_decode(c, &tok, 1, false, &err) != QS_OK) {
                fprintf(stderr, "bench_infer: %s\n", err.msg);
                return 1;
            }
            tok = qs_argmax(qs_infer_logits(c, -1), m->hp.n_vocab);
        }
        const double ms = now_ms() - t1;
        tg[r] = ms > 0 ? n_gen / (ms / 1e3) : 0;
    }
    qsort(pp, (size_t)reps, sizeof *pp, cmp_double);
    qsort(tg, (size_t)reps, sizeof *tg, cmp_double);
    printf("model %s: %s, %d blocks, %d wide, %d threads, KV %s\n", path, m->hp.arch_name,
           m->hp.n_layer, m->hp.n_embd, qs_infer_n_threads(c), qs_type_name(kv_type));
    printf("pp%d  %10.1f tok/s  (median of %d)\n", n_prompt, pp[reps / 2], reps);
    if (n_gen > 0) printf("tg%d  %10.1f tok/s  (median of %d)\n", n_gen, tg[reps / 2], reps);
    free(tokens);
    free(pp);
    free(tg);
    qs_infer_ctx_free(c);
    qs_infer_model_free(m);
    gguf_close(f);
    return 0;
}
