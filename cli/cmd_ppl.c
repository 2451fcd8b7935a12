/* quantscope ppl MODEL [--plan P|--preset P] [--ctx N] [--batch N] [-t N] [--chunks N] [--kld]
 *                [--json] FILE: perplexity over a text, and with --kld the divergence of the
 *                planned model from the original (engine/ppl.h). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_engine.h"
#include "cli_util.h"
#include "ppl.h"

const char cmd_ppl_usage[] =
    "usage: quantscope ppl MODEL.gguf [--plan PLAN.yaml | --preset P] [--ctx N] [--batch N]\n"
    "                      [-t N] [--chunks N] [--kld] [--json] FILE\n\n"
    "Perplexity of the model over a text file, computed as llama.cpp's llama-perplexity does:\n"
    "the text is tokenized with BOS, cut into chunks of --ctx tokens, each chunk run from an\n"
    "empty cache starting with BOS, and only the second half of each chunk scored. The running\n"
    "figure after each chunk goes to stderr, the result to stdout.\n\n"
    "With --plan or --preset the model is first quantized in memory as the plan says (the same\n"
    "bytes 'quantscope quantize' would write). With --kld the model as stored runs beside the\n"
    "planned one on the same chunks, and the KL divergence of the planned model's next-token\n"
    "distribution from the original's is reported: mean, percentiles, how often both agree on\n"
    "the most likely token, and both perplexities: the output-level cost of a plan.\n\n"
    "  --plan PLAN.yaml   quantize per a plan file (quantscope-plan(5))\n"
    "  --preset P         quantize per a llama.cpp mix (Q8_0, Q4_K_M, ...)\n"
    "  --ctx N            tokens per chunk (default 512); the text needs 2 x N tokens\n"
    "  --batch N          tokens per forward pass (default: the chunk)\n"
    "  -t, --threads N    worker threads (default: all cores)\n"
    "  --chunks N         evaluate at most N chunks (default: all the text holds)\n"
    "  --kld              compare with the model as stored (needs --plan or --preset)\n"
    "  --json             the result as one JSON object\n\n"
    "Ctrl-C stops after the current pass. Exit status: 0 done, 1 failed or interrupted,\n"
    "2 bad usage.\n";

static atomic_int g_stop;

static void on_signal(int sig) {
    (void)sig;
    atomic_store(&g_stop, 1);
}

/* The whole file, NUL-terminated; NULL after printing a message. */
static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_fail("ppl", "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        cli_fail("ppl", "%s: is a directory, not a text file", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        char *nb = realloc(b, (cap *= 2) + 1);
        if (!nb) free(b);
        b = nb;
    }
    const bool bad = ferror(f);
    fclose(f);
    if (!b || bad) {
        cli_fail("ppl", "%s: %s", path, b ? strerror(EIO) : "out of memory");
        free(b);
        return NULL;
    }
    b[n] = 0;
    *len = n;
    return b;
}

typedef struct run_state {
    bool kld;
    bool header;
} run_state;

static int on_chunk(void *user, const qs_ppl_result *r) {
    run_state *s = user;
    if (!s->kld) {
        fprintf(stderr, "[%d]%.4f,", r->n_chunks, r->ppl);
        if (r->n_chunks % 10 == 0) fputc('\n', stderr);
        return 0;
    }
    if (!s->header) {
        fprintf(stderr, "chunk        PPL   PPL(orig)   ln(PPL/PPL(orig))         KLD   same top\n");
        s->header = true;
    }
    fprintf(stderr, "%5d %10.4f  %10.4f  %18.5f  %10.6f  %8.3f%%\n", r->n_chunks, r->ppl, r->ppl_base, r->ln_ratio,
            r->kld_mean, 100.0 * r->top1);
    return 0;
}

static json_t *json_result(const cli_engine *e, const char *model, const char *file, const qs_ppl_params *pp,
                           const qs_ppl_result *r) {
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "file", json_string(file));
    json_object_set_new(o, "plan", json_string(e->plan_desc));
    json_object_set_new(o, "quantized_bytes", json_integer((json_int_t)cli_engine_quantized_bytes(e)));
    json_object_set_new(o, "ctx", json_integer(r->n_ctx));
    json_object_set_new(o, "batch", json_integer(pp->n_batch > 0 && pp->n_batch < r->n_ctx ? pp->n_batch : r->n_ctx));
    json_object_set_new(o, "chunks", json_integer(r->n_chunks));
    json_object_set_new(o, "tokens", json_integer((json_int_t)r->n_tokens));
    json_object_set_new(o, "scored", json_integer((json_int_t)r->n_scored));
    json_object_set_new(o, "ppl", cli_json_real(r->ppl));
    json_object_set_new(o, "ppl_unc", cli_json_real(r->ppl_unc));
    json_object_set_new(o, "seconds", cli_json_real(r->ms / 1e3));
    if (r->kld) {
        json_t *k = json_object();
        json_object_set_new(k, "ppl_original", cli_json_real(r->ppl_base));
        json_object_set_new(k, "ppl_original_unc", cli_json_real(r->ppl_base_unc));
        json_object_set_new(k, "ln_ppl_ratio", cli_json_real(r->ln_ratio));
        json_object_set_new(k, "ln_ppl_ratio_unc", cli_json_real(r->ln_ratio_unc));
        json_object_set_new(k, "mean", cli_json_real(r->kld_mean));
        json_object_set_new(k, "mean_unc", cli_json_real(r->kld_unc));
        json_object_set_new(k, "max", cli_json_real(r->kld_max));
        json_object_set_new(k, "p99_9", cli_json_real(r->kld_p999));
        json_object_set_new(k, "p99", cli_json_real(r->kld_p99));
        json_object_set_new(k, "p95", cli_json_real(r->kld_p95));
        json_object_set_new(k, "p90", cli_json_real(r->kld_p90));
        json_object_set_new(k, "median", cli_json_real(r->kld_median));
        json_object_set_new(k, "p10", cli_json_real(r->kld_p10));
        json_object_set_new(k, "p5", cli_json_real(r->kld_p05));
        json_object_set_new(k, "p1", cli_json_real(r->kld_p01));
        json_object_set_new(k, "p0_1", cli_json_real(r->kld_p001));
        json_object_set_new(k, "min", cli_json_real(r->kld_min));
        json_object_set_new(k, "same_top", cli_json_real(r->top1));
        json_object_set_new(k, "same_top_unc", cli_json_real(r->top1_unc));
        json_object_set_new(k, "dp_mean", cli_json_real(r->dp_mean));
        json_object_set_new(k, "dp_rms", cli_json_real(r->dp_rms));
        json_object_set_new(o, "kld", k);
    }
    return o;
}

static void print_result(const cli_engine *e, const char *model, const char *file, const qs_ppl_result *r) {
    char q[32], a[32];
    printf("%s: %s", model, e->plan_desc);
    if (e->has_plan) printf(" (%s quantized in memory)", cli_fmt_bytes(cli_engine_quantized_bytes(e), q, sizeof q));
    printf("\n%s: %d chunks of %d tokens, %s tokens scored (%.2f s)\n", file, r->n_chunks, r->n_ctx,
           cli_fmt_int(r->n_scored, a, sizeof a), r->ms / 1e3);
    if (!r->kld) {
        printf("PPL = %.4f +/- %.5f\n", r->ppl, r->ppl_unc);
        return;
    }
    printf("PPL (planned)        %10.4f +/- %.5f\n", r->ppl, r->ppl_unc);
    printf("PPL (original)       %10.4f +/- %.5f\n", r->ppl_base, r->ppl_base_unc);
    printf("ln(PPL / original)   %10.6f +/- %.6f\n", r->ln_ratio, r->ln_ratio_unc);
    printf("KL divergence        mean %.6f +/- %.6f\n", r->kld_mean, r->kld_unc);
    printf("  max %.6f  99.9%% %.6f  99%% %.6f  95%% %.6f  90%% %.6f\n", r->kld_max, r->kld_p999, r->kld_p99,
           r->kld_p95, r->kld_p90);
    printf("  median %.6f  10%% %.6f  5%% %.6f  1%% %.6f  0.1%% %.6f  min %.6f\n", r->kld_median, r->kld_p10,
           r->kld_p05, r->kld_p01, r->kld_p001, r->kld_min);
    printf("same top token       %.3f +/- %.3f %%  (%lld of %lld)\n", 100.0 * r->top1, 100.0 * r->top1_unc,
           (long long)r->n_same_top, (long long)r->n_scored);
    printf("RMS dp               %.3f +/- %.3f %%  (mean dp %.3f %%)\n", 100.0 * r->dp_rms, 100.0 * r->dp_rms_unc,
           100.0 * r->dp_mean);
}

int cmd_ppl(int argc, char **argv) {
    static const struct option opts[] = {
        {"plan", required_argument, 0, 'P'}, {"preset", required_argument, 0, 'p'},
        {"ctx", required_argument, 0, 'c'},  {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {"chunks", required_argument, 0, 'n'},
        {"kld", no_argument, 0, 'k'},        {"json", no_argument, 0, 'j'},
        {0, 0, 0, 0},
    };
    const char *plan_path = NULL, *preset = NULL;
    int64_t n_ctx = 512, n_batch = 0, threads = 0, chunks = 0;
    bool kld = false, json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
        switch (c) {
        case 'P': plan_path = optarg; break;
        case 'p': preset = optarg; break;
        case 'c':
            if (cli_parse_int(optarg, &n_ctx) || n_ctx < 4 || n_ctx > 1 << 20)
                return cli_usage_error("ppl", "--ctx takes a token count from 4 to 1048576, not '%s'", optarg);
            break;
        case 'b':
            if (cli_parse_int(optarg, &n_batch) || n_batch < 1 || n_batch > 1 << 20)
                return cli_usage_error("ppl", "--batch takes a token count from 1 to 1048576, not '%s'", optarg);
            break;
        case 't':
            if (cli_parse_int(optarg, &threads) || threads < 1 || threads > 1024)
                return cli_usage_error("ppl", "--threads takes a count from 1 to 1024, not '%s'", optarg);
            break;
        case 'n':
            if (cli_parse_int(optarg, &chunks) || chunks < 1 || chunks > INT32_MAX)
                return cli_usage_error("ppl", "--chunks takes a positive count, not '%s'", optarg);
            break;
        case 'k': kld = true; break;
        case 'j': json = true; break;
        default: return cli_usage_error("ppl", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2) return cli_usage_error("ppl", "expected MODEL.gguf and a text FILE");
    if (kld && !plan_path && !preset)
        return cli_usage_error("ppl", "--kld compares a plan with the original: give --plan or --preset");
    const char *model = argv[optind], *file = argv[optind + 1];

    size_t len;
    char *text = read_text(file, &len);
    if (!text) return CLI_FAIL;
    cli_engine e;
    int rc = cli_engine_open(&e, "ppl", model, plan_path, preset, (int)threads);
    if (rc != CLI_OK) {
        free(text);
        return rc;
    }
    const qs_tokenizer *tok = cli_engine_tokenizer(&e, "ppl");
    int32_t *ids = NULL;
    size_t n_ids = 0;
    qs_error err;
    if (!tok) {
        rc = CLI_FAIL;
        goto done;
    }
    if (qs_tok_encode(tok, text, len, true, false, &ids, &n_ids, &err) != QS_OK) {
        rc = cli_fail("ppl", "%s: %s", file, err.msg);
        goto done;
    }
    const qs_infer_model *pm = cli_engine_model(&e);
    if (n_ctx > pm->hp.n_ctx_train)
        fprintf(stderr, "quantscope ppl: warning: the model was trained on %d tokens of context (--ctx %lld)\n",
                pm->hp.n_ctx_train, (long long)n_ctx);

    run_state st = {.kld = kld};
    qs_ppl_params pp = {.n_ctx = (int)n_ctx, .n_batch = (int)n_batch, .n_threads = (int)threads,
                        .n_chunks = (int)chunks, .bos = qs_tok_add_bos(tok) ? qs_tok_bos(tok) : -1,
                        .progress = on_chunk, .progress_user = &st, .cancel = &g_stop};
    atomic_store(&g_stop, 0);
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    qs_ppl_result r;
    int prc = qs_ppl_run(pm, kld ? cli_engine_original(&e) : NULL, ids, (int64_t)n_ids, &pp, &r, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (!kld && r.n_chunks > 0 && r.n_chunks % 10 != 0) fputc('\n', stderr);
    if (prc == QS_CANCELLED) {
        rc = cli_fail("ppl", "interrupted after %d of %d chunks (PPL so far %.4f)", r.n_chunks,
                      pp.n_chunks > 0 && pp.n_chunks < r.n_chunks_max ? pp.n_chunks : r.n_chunks_max, r.ppl);
        goto done;
    }
    if (prc != QS_OK) {
        rc = cli_fail("ppl", "%s: %s", file, err.msg);
        goto done;
    }
    if (json) cli_json_print(json_result(&e, model, file, &pp, &r));
    else print_result(&e, model, file, &r);
done:
    free(ids);
    free(text);
    cli_engine_close(&e);
    return rc;
}
