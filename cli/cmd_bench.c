/* quantscope bench MODEL [--plan P|--preset P] [-p 512] [-n 128] [-b 512] [-t N] [-r REPS] [--json]:
 * prompt processing and generation speed of the engine, measured as llama-bench measures them. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_engine.h"
#include "cli_util.h"
#include "export.h"
#include "qs_devices_probe.h"

const char cmd_bench_usage[] =
    "usage: quantscope bench MODEL.gguf [--plan PLAN.yaml | --preset P] [-p N] [-n N] [-b N]\n"
    "                        [-t N] [-r REPS] [--json]\n\n"
    "Speed of quantscope's engine on the model as stored, or quantized in memory per a plan or\n"
    "preset, measured as llama.cpp's llama-bench measures it (random token ids, one warm-up run\n"
    "first, then REPS timed runs):\n"
    "  ppN  prompt processing: N tokens decoded in batches from an empty cache, in tokens/s;\n"
    "  tgN  generation: N single-token decodes from an empty cache, in tokens/s.\n"
    "Each line gives the median over the runs, the mean +/- standard deviation, and the\n"
    "slowest and fastest run. Then the process's peak resident memory (VmHWM: the mapped\n"
    "file pages it touched plus what it allocated) and the bytes of weights quantized in\n"
    "memory.\n\n"
    "  --plan PLAN.yaml   quantize per a plan file first (quantscope-plan(5))\n"
    "  --preset P         quantize per a llama.cpp mix first (Q8_0, Q4_K_M, ...)\n"
    "  -p, --n-prompt N   prompt tokens (default 512; 0 skips the test)\n"
    "  -n, --n-gen N      generated tokens (default 128; 0 skips the test)\n"
    "  -b, --batch N      most tokens per forward pass of the prompt (default 512)\n"
    "  -t, --threads N    worker threads (default: all cores)\n"
    "  -r, --reps N       timed runs per test (default 5)\n"
    "  --json             the figures as one JSON object\n\n"
    "Exit status: 0 done, 1 failed, 2 bad usage.\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct test_stats {
    double median, mean, stddev, min, max; /* tokens per second */
    double *ts;                            /* [reps] */
} test_stats;

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void summarize(test_stats *s, int reps) {
    double *sorted = malloc((size_t)reps * sizeof *sorted);
    if (!sorted) return;
    memcpy(sorted, s->ts, (size_t)reps * sizeof *sorted);
    qsort(sorted, (size_t)reps, sizeof *sorted, cmp_double);
    s->median = reps % 2 ? sorted[reps / 2] : 0.5 * (sorted[reps / 2 - 1] + sorted[reps / 2]);
    s->min = sorted[0];
    s->max = sorted[reps - 1];
    double sum = 0, sum2 = 0;
    for (int i = 0; i < reps; i++) sum += s->ts[i];
    s->mean = sum / reps;
    for (int i = 0; i < reps; i++) sum2 += (s->ts[i] - s->mean) * (s->ts[i] - s->mean);
    s->stddev = reps > 1 ? sqrt(sum2 / (reps - 1)) : 0.0; /* llama-bench's sample deviation */
    free(sorted);
}

/* splitmix64: reproducible random token ids */
static uint64_t next_rand(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* One timed pp run: n_prompt random tokens from an empty cache. Seconds, or < 0 on error. */
static double run_pp(qs_infer_ctx *c, int32_t *toks, int n_prompt, int n_vocab, uint64_t *rng, qs_error *err) {
    for (int i = 0; i < n_prompt; i++) toks[i] = (int32_t)(next_rand(rng) % (uint64_t)n_vocab);
    if (qs_infer_kv_truncate(c, 0, err) != QS_OK) return -1;
    const double t0 = now_s();
    if (qs_infer_decode(c, toks, n_prompt, false, err) != QS_OK) return -1;
    return now_s() - t0;
}

/* One timed tg run: n_gen single-token decodes from an empty cache. */
static double run_tg(qs_infer_ctx *c, int n_gen, int n_vocab, uint64_t *rng, qs_error *err) {
    if (qs_infer_kv_truncate(c, 0, err) != QS_OK) return -1;
    const double t0 = now_s();
    for (int i = 0; i < n_gen; i++) {
        int32_t t = (int32_t)(next_rand(rng) % (uint64_t)n_vocab);
        if (qs_infer_decode(c, &t, 1, false, err) != QS_OK) return -1;
    }
    return now_s() - t0;
}

static json_t *json_test(const char *name, int n, const test_stats *s, int reps) {
    json_t *o = json_object(), *a = json_array();
    json_object_set_new(o, "test", json_string(name));
    json_object_set_new(o, "n_tokens", json_integer(n));
    json_object_set_new(o, "median_ts", cli_json_real(s->median));
    json_object_set_new(o, "mean_ts", cli_json_real(s->mean));
    json_object_set_new(o, "stddev_ts", cli_json_real(s->stddev));
    json_object_set_new(o, "min_ts", cli_json_real(s->min));
    json_object_set_new(o, "max_ts", cli_json_real(s->max));
    for (int i = 0; i < reps; i++) json_array_append_new(a, cli_json_real(s->ts[i]));
    json_object_set_new(o, "samples_ts", a);
    return o;
}

int cmd_bench(int argc, char **argv) {
    static const struct option opts[] = {
        {"plan", required_argument, 0, 'P'},     {"preset", required_argument, 0, 'S'},
        {"n-prompt", required_argument, 0, 'p'}, {"n-gen", required_argument, 0, 'n'},
        {"batch", required_argument, 0, 'b'},    {"threads", required_argument, 0, 't'},
        {"reps", required_argument, 0, 'r'},     {"json", no_argument, 0, 'j'},
        {0, 0, 0, 0},
    };
    const char *plan_path = NULL, *preset = NULL;
    int64_t n_prompt = 512, n_gen = 128, n_batch = 512, threads = 0, reps = 5;
    bool json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "p:n:b:t:r:", opts, NULL)) != -1) {
        switch (c) {
        case 'P': plan_path = optarg; break;
        case 'S': preset = optarg; break;
        case 'p':
            if (cli_parse_int(optarg, &n_prompt) || n_prompt < 0 || n_prompt > 1 << 20)
                return cli_usage_error("bench", "-p takes a token count from 0 to 1048576, not '%s'", optarg);
            break;
        case 'n':
            if (cli_parse_int(optarg, &n_gen) || n_gen < 0 || n_gen > 1 << 20)
                return cli_usage_error("bench", "-n takes a token count from 0 to 1048576, not '%s'", optarg);
            break;
        case 'b':
            if (cli_parse_int(optarg, &n_batch) || n_batch < 1 || n_batch > 1 << 16)
                return cli_usage_error("bench", "-b takes a token count from 1 to 65536, not '%s'", optarg);
            break;
        case 't':
            if (cli_parse_int(optarg, &threads) || threads < 1 || threads > 1024)
                return cli_usage_error("bench", "-t takes a count from 1 to 1024, not '%s'", optarg);
            break;
        case 'r':
            if (cli_parse_int(optarg, &reps) || reps < 1 || reps > 1000)
                return cli_usage_error("bench", "-r takes a count from 1 to 1000, not '%s'", optarg);
            break;
        case 'j': json = true; break;
        default: return cli_usage_error("bench", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) return cli_usage_error("bench", "expected one MODEL.gguf");
    if (n_prompt == 0 && n_gen == 0) return cli_usage_error("bench", "nothing to measure: -p and -n are both 0");
    const char *model = argv[optind];

    cli_engine e;
    int rc = cli_engine_open(&e, "bench", model, plan_path, preset, (int)threads);
    if (rc != CLI_OK) return rc;
    const qs_infer_model *m = cli_engine_model(&e);
    qs_error err;
    qs_infer_params ip = qs_infer_default_params();
    ip.n_ctx = (int)(n_prompt + n_gen);
    ip.n_batch = (int)(n_prompt > 0 && n_prompt < n_batch ? n_prompt : n_batch);
    ip.n_threads = (int)threads;
    qs_infer_ctx *ctx = qs_infer_ctx_new(m, &ip, &err);
    int32_t *toks = malloc((size_t)(n_prompt > 0 ? n_prompt : 1) * sizeof *toks);
    test_stats pp = {0}, tg = {0};
    pp.ts = calloc((size_t)reps, sizeof *pp.ts);
    tg.ts = calloc((size_t)reps, sizeof *tg.ts);
    if (!ctx) {
        rc = cli_fail("bench", "%s: %s", model, err.msg);
        goto done;
    }
    if (!toks || !pp.ts || !tg.ts) {
        rc = cli_fail("bench", "out of memory");
        goto done;
    }
    uint64_t rng = 42;
    const int nv = m->hp.n_vocab;
    /* warm-up, as llama-bench: one prompt pass and one generated token */
    if ((n_prompt > 0 && run_pp(ctx, toks, (int)n_prompt, nv, &rng, &err) < 0) ||
        (n_gen > 0 && run_tg(ctx, 1, nv, &rng, &err) < 0)) {
        rc = cli_fail("bench", "%s: %s", model, err.msg);
        goto done;
    }
    bool ok = true;
    for (int r = 0; r < reps && ok; r++) {
        if (n_prompt > 0) {
            double s = run_pp(ctx, toks, (int)n_prompt, nv, &rng, &err);
            ok = s >= 0;
            pp.ts[r] = ok ? (double)n_prompt / s : 0;
        }
        if (n_gen > 0 && ok) {
            double s = run_tg(ctx, (int)n_gen, nv, &rng, &err);
            ok = s >= 0;
            tg.ts[r] = ok ? (double)n_gen / s : 0;
        }
    }
    if (!ok) {
        rc = cli_fail("bench", "%s: %s", model, err.msg);
        goto done;
    }
    summarize(&pp, (int)reps);
    summarize(&tg, (int)reps);

    const uint64_t hwm = qs_proc_self_bytes("VmHWM"), qbytes = cli_engine_quantized_bytes(&e);
    const uint64_t huge = qs_proc_self_huge_bytes();
    const uint64_t wbytes = e.has_plan ? e.cp.p.bytes : e.cp.m->tensor_bytes;
    const int nthreads = qs_infer_n_threads(ctx);
    char pname[32], gname[32];
    snprintf(pname, sizeof pname, "pp%lld", (long long)n_prompt);
    snprintf(gname, sizeof gname, "tg%lld", (long long)n_gen);
    if (json) {
        json_t *o = json_object(), *tests = json_array();
        json_object_set_new(o, "model", json_string(model));
        json_object_set_new(o, "plan", json_string(e.plan_desc));
        json_object_set_new(o, "weight_bytes", json_integer((json_int_t)wbytes));
        json_object_set_new(o, "quantized_bytes", json_integer((json_int_t)qbytes));
        json_object_set_new(o, "params", json_integer((json_int_t)e.cp.m->n_params));
        json_object_set_new(o, "threads", json_integer(nthreads));
        json_object_set_new(o, "batch", json_integer(ip.n_batch));
        json_object_set_new(o, "reps", json_integer((json_int_t)reps));
        if (n_prompt > 0) json_array_append_new(tests, json_test(pname, (int)n_prompt, &pp, (int)reps));
        if (n_gen > 0) json_array_append_new(tests, json_test(gname, (int)n_gen, &tg, (int)reps));
        json_object_set_new(o, "tests", tests);
        json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)hwm));
        json_object_set_new(o, "huge_page_bytes", json_integer((json_int_t)huge));
        json_object_set_new(o, "quantize_seconds", cli_json_real(e.apply_ms / 1e3));
        cli_json_print(o);
    } else {
        char a[32], b[32], p[32];
        printf("%s: %s, %s of weights, %s parameters, %d thread%s, batch %d\n", model, e.plan_desc,
               cli_fmt_bytes(wbytes, a, sizeof a), cli_fmt_count(e.cp.m->n_params, p, sizeof p), nthreads,
               nthreads == 1 ? "" : "s", ip.n_batch);
        printf("%-8s %12s %22s %12s %12s %5s\n", "test", "t/s median", "mean +/- stddev", "min", "max", "runs");
        const test_stats *ts[2] = {&pp, &tg};
        const char *names[2] = {pname, gname};
        const int64_t ns[2] = {n_prompt, n_gen};
        for (int k = 0; k < 2; k++) {
            if (!ns[k]) continue;
            char ms[48];
            snprintf(ms, sizeof ms, "%.2f +/- %.2f", ts[k]->mean, ts[k]->stddev);
            printf("%-8s %12.2f %22s %12.2f %12.2f %5lld\n", names[k], ts[k]->median, ms, ts[k]->min, ts[k]->max,
                   (long long)reps);
        }
        printf("peak RSS %s; %s of weights quantized in memory", cli_fmt_bytes(hwm, a, sizeof a),
               cli_fmt_bytes(qbytes, b, sizeof b));
        if (e.has_plan) printf(" (%d tensors, %.2f s)", e.stats.n_redone, e.apply_ms / 1e3);
        printf("; %s resident on 2 MiB pages\n", cli_fmt_bytes(huge, a, sizeof a));
    }
done:
    free(toks);
    free(pp.ts);
    free(tg.ts);
    qs_infer_ctx_free(ctx);
    cli_engine_close(&e);
    return rc;
}
