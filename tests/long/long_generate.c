/* long_generate.c — a long generation on a real model: N tokens (default 10,000) sampled from
 * stories260K through qs_infer_generate, the KV cache shifted whenever the context fills (the
 * chat layer's move: keep BOS, drop the older half), every token streamed through the
 * detokenizer. Memory is sampled from /proc/self/status (VmRSS, VmHWM) every 1,000 tokens.
 *
 * Built beside the tests but not registered with ctest (it takes minutes under ASan): run it
 * through tests/long/run_long.sh, which builds it with ASan + LeakSanitizer (leaks, invalid
 * accesses) and in Release (memory flatness; ASan's quarantine of freed blocks would hide it).
 *
 * Usage: long_generate [--tokens N] [--ctx N] [--threads N] [--check-flat KIB] [MODEL.gguf]
 *   --check-flat KIB  fail (exit 1) when VmHWM grows by more than KIB between token 1,000 and
 *                     the end
 * Prints one line per 1,000 tokens and a summary; exit 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "infer.h"
#include "qs_devices_probe.h"
#include "sampler.h"
#include "tokenizer.h"

#ifndef QS_SHARED_DIR
#define QS_SHARED_DIR "../shared"
#endif

/* VmRSS and VmHWM in KiB (0 when unreadable). */
static void mem_kib(long *rss, long *hwm) {
    *rss = (long)(qs_proc_self_bytes("VmRSS") / 1024);
    *hwm = (long)(qs_proc_self_bytes("VmHWM") / 1024);
}

typedef struct run {
    int target;         /* tokens to generate */
    int done;           /* generated so far */
    qs_detok detok;
    uint64_t text_bytes;
    uint64_t text_hash; /* FNV-1a of the streamed text (identical runs print the same) */
    long rss_1k, hwm_1k;
} run;

static int on_token(void *user, int32_t token) {
    run *r = user;
    size_t n;
    const char *s = qs_detok_feed(&r->detok, token, &n);
    if (!s) return 1;
    for (size_t i = 0; i < n; i++) r->text_hash = (r->text_hash ^ (unsigned char)s[i]) * 0x100000001b3ull;
    r->text_bytes += n;
    r->done++;
    if (r->done % 1000 == 0) {
        long rss, hwm;
        mem_kib(&rss, &hwm);
        if (r->done == 1000) {
            r->rss_1k = rss;
            r->hwm_1k = hwm;
        }
        printf("  %6d tokens  VmRSS %6ld KiB  VmHWM %6ld KiB\n", r->done, rss, hwm);
        fflush(stdout);
    }
    return r->done >= r->target;
}

int main(int argc, char **argv) {
    int n_tokens = 10000, n_ctx = 512, n_threads = 1;
    long check_flat = -1;
    char model_buf[1024];
    snprintf(model_buf, sizeof model_buf, "%s/models/stories260K.gguf", QS_SHARED_DIR);
    const char *model = model_buf;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokens") && i + 1 < argc) n_tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ctx") && i + 1 < argc) n_ctx = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) n_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--check-flat") && i + 1 < argc) check_flat = atol(argv[++i]);
        else if (argv[i][0] != '-') model = argv[i];
        else {
            fprintf(stderr, "usage: long_generate [--tokens N] [--ctx N] [--threads N] [--check-flat KIB] [MODEL.gguf]\n");
            return 2;
        }
    }
    if (n_tokens < 1000 || n_ctx < 64) {
        fprintf(stderr, "long_generate: --tokens must be >= 1000 and --ctx >= 64\n");
        return 2;
    }
    qs_error err;
    gguf_file *f = gguf_open(model, &err);
    if (!f) {
        fprintf(stderr, "long_generate: %s\n", err.msg);
        return 1;
    }
    qs_tokenizer *tok = qs_tok_load(f, &err);
    qs_infer_model *m = tok ? qs_infer_model_load(f, &err) : NULL;
    qs_infer_params ip = qs_infer_default_params();
    ip.n_ctx = n_ctx;
    ip.n_threads = n_threads;
    qs_infer_ctx *c = m ? qs_infer_ctx_new(m, &ip, &err) : NULL;
    qs_sampler_params sp = qs_sampler_default_params();
    sp.seed = 42;
    qs_sampler *smp = c ? qs_sampler_new(&sp, m->hp.n_vocab, &err) : NULL;
    if (!smp) {
        fprintf(stderr, "long_generate: %s: %s\n", model, err.msg);
        return 1;
    }

    static const char text[] = "Once upon a time";
    int32_t *prompt = NULL;
    size_t n_prompt = 0;
    if (qs_tok_encode(tok, text, sizeof text - 1, true, false, &prompt, &n_prompt, &err) != QS_OK) {
        fprintf(stderr, "long_generate: %s\n", err.msg);
        return 1;
    }
    run r = {.target = n_tokens, .text_hash = 0xcbf29ce484222325ull};
    qs_detok_init(&r.detok, tok, QS_DETOK_STRIP_SPACE);
    /* no end-of-generation ids: a story that ends just goes on with the next one */
    qs_generate_params gp = {.n_predict = -1, .sampler = smp, .on_token = on_token, .user = &r};
    int shifts = 0, rc = 0;
    double gen_ms = 0;
    const int32_t *next = prompt;
    int n_next = (int)n_prompt;
    int32_t pending;
    printf("long_generate: %s, %d tokens, context %d, %d thread(s)\n", model, n_tokens, n_ctx, n_threads);
    while (r.done < n_tokens) {
        qs_generate_result res;
        int st = qs_infer_generate(c, next, n_next, &gp, &res, &err);
        gen_ms += res.gen_ms + res.prompt_ms;
        if (st == QS_CTX_FULL) {
            /* keep BOS, forget the older half, go on with the token that did not fit */
            int n_past = qs_infer_n_past(c);
            if (qs_infer_kv_shift(c, 1, (n_past - 1) / 2, &err) != QS_OK) {
                fprintf(stderr, "long_generate: shift: %s\n", err.msg);
                rc = 1;
                break;
            }
            shifts++;
            pending = res.pending;
            next = pending >= 0 ? &pending : NULL;
            n_next = pending >= 0 ? 1 : 0;
            continue;
        }
        if (st != QS_OK || res.reason != QS_STOP_CALLBACK) {
            fprintf(stderr, "long_generate: generation stopped: status %d, reason %d: %s\n", st, res.reason,
                    err.msg);
            rc = 1;
            break;
        }
    }
    size_t n;
    qs_detok_flush(&r.detok, &n);
    long rss, hwm;
    mem_kib(&rss, &hwm);
    printf("long_generate: %d tokens, %d context shifts, %llu bytes of text (hash %016llx), %.0f tokens/s\n",
           r.done, shifts, (unsigned long long)r.text_bytes, (unsigned long long)r.text_hash,
           gen_ms > 0 ? r.done / (gen_ms / 1000.0) : 0.0);
    printf("long_generate: VmHWM %ld KiB at 1,000 tokens, %ld KiB at %d (%+ld KiB); VmRSS %ld -> %ld KiB\n",
           r.hwm_1k, hwm, r.done, hwm - r.hwm_1k, r.rss_1k, rss);
    if (check_flat >= 0 && hwm - r.hwm_1k > check_flat) {
        fprintf(stderr, "long_generate: memory grew by %ld KiB after token 1,000 (limit %ld KiB)\n",
                hwm - r.hwm_1k, check_flat);
        rc = 1;
    }
    if (rc == 0 && shifts == 0) {
        fprintf(stderr, "long_generate: the context never filled: no shift exercised (use a smaller --ctx)\n");
        rc = 1;
    }
    qs_detok_free(&r.detok);
    free(prompt);
    qs_sampler_free(smp);
    qs_infer_ctx_free(c);
    qs_infer_model_free(m);
    qs_tok_free(tok);
    gguf_close(f);
    return rc;
}
