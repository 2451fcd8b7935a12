/* quantscope quantize MODEL (--plan PLAN.yaml | --preset P) OUT.gguf [--threads N] [--force] */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_plan.h"
#include "cli_util.h"

const char cmd_quantize_usage[] =
    "usage: quantscope quantize MODEL.gguf (--plan PLAN.yaml | --preset P) OUT.gguf\n"
    "                           [--threads N] [--force]\n\n"
    "Writes a GGUF quantized per a plan file or a llama.cpp mix, for llama.cpp and Ollama. Every\n"
    "metadata key is kept; general.file_type and general.quantization_version are set as\n"
    "llama-quantize sets them, and the plan is recorded under the key quantscope.plan. Tensors\n"
    "whose type does not change are copied byte for byte; the others are converted from their\n"
    "stored values (requantizing an already-quantized model works, with a warning: the errors\n"
    "add up). Memory stays bounded (64 MiB chunks) whatever the model size.\n\n"
    "The file is written to OUT.gguf.tmp.XXXXXX beside OUT.gguf and renamed into place only when\n"
    "complete: an interrupted run never leaves a partial OUT.gguf. The temporary file is locked\n"
    "while it is written; the next write to OUT.gguf removes the leftover of a killed run (never\n"
    "the file of a run still going). A full disk or a file-size limit fails cleanly: the message\n"
    "names the temporary file, which is removed. The input is opened read-only and is never\n"
    "overwritten.\n\n"
    "  --plan PLAN.yaml   the plan (see quantscope-plan(5) and 'quantscope plan -o')\n"
    "  --preset P         a llama.cpp mix: Q8_0 Q6_K Q5_K_M Q5_K_S Q4_K_M Q4_K_S Q3_K_L Q3_K_M\n"
    "                     Q3_K_S Q2_K Q5_0 Q5_1 Q4_0 Q4_1 IQ4_NL IQ4_XS F16 BF16\n"
    "  --threads N        worker threads (default: all cores)\n"
    "  --force            replace OUT.gguf if it exists (never the input model)\n\n"
    "Progress is shown on stderr when it is a terminal; Ctrl-C stops cleanly.\n"
    "Exit status: 0 written, 1 failed or interrupted (OUT.gguf untouched), 2 bad usage.\n";

static atomic_int g_cancel;

static void on_signal(int sig) {
    (void)sig;
    atomic_store(&g_cancel, 1);
}

typedef struct progress_state {
    int last; /* last permille printed */
} progress_state;

static int progress_cb(void *user, uint64_t done, uint64_t total) {
    progress_state *p = user;
    int pm = total ? (int)(1000 * done / total) : 1000;
    if (pm == p->last) return 0;
    p->last = pm;
    char a[64], b[64];
    fprintf(stderr, "\r  quantizing %5.1f%%  %s of %s   ", pm / 10.0, cli_fmt_bytes(done, a, sizeof a),
            cli_fmt_bytes(total, b, sizeof b));
    return 0;
}

static void warn_cb(void *user, const char *msg) {
    (void)user;
    fprintf(stderr, "quantscope quantize: warning: %s\n", msg);
}

int cmd_quantize(int argc, char **argv) {
    static const struct option opts[] = {
        {"plan", required_argument, 0, 'P'}, {"preset", required_argument, 0, 'p'},
        {"threads", required_argument, 0, 't'}, {"force", no_argument, 0, 'f'},
        {0, 0, 0, 0},
    };
    const char *plan_path = NULL, *preset = NULL;
    int64_t threads = 0;
    bool force = false;
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'P': plan_path = optarg; break;
        case 'p': preset = optarg; break;
        case 't':
            if (cli_parse_int(optarg, &threads) || threads < 1 || threads > 1024)
                return cli_usage_error("quantize", "--threads takes a count from 1 to 1024, not '%s'", optarg);
            break;
        case 'f': force = true; break;
        default: return cli_usage_error("quantize", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2) return cli_usage_error("quantize", "expected MODEL.gguf and OUT.gguf");
    if (!plan_path == !preset) return cli_usage_error("quantize", "give exactly one of --plan PLAN.yaml and --preset P");
    const char *in = argv[optind], *out = argv[optind + 1];

    struct stat si, so;
    if (stat(out, &so) == 0) {
        if (stat(in, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return cli_fail("quantize", "%s: is the input model; refusing to overwrite it", out);
        if (!force) return cli_fail("quantize", "%s exists; use --force to replace it", out);
        if (!S_ISREG(so.st_mode)) return cli_fail("quantize", "%s exists and is not a regular file", out);
    }

    cli_planned cp;
    if ((rc = cli_planned_open(&cp, "quantize", in, plan_path, preset)) != CLI_OK) return rc;
    if ((rc = cli_planned_resolve(&cp, "quantize")) != CLI_OK) goto done;
    cli_planned_print_warnings(&cp, "quantize");

    progress_state ps = {.last = -1};
    bool tty = isatty(STDERR_FILENO);
    atomic_store(&g_cancel, 0);
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    qs_export_opts eo = {.n_threads = (int)threads, .progress = tty ? progress_cb : NULL, .progress_user = &ps,
                         .cancel = &g_cancel, .warn = warn_cb};
    qs_error err;
    int erc = qs_export(cp.m, &cp.plan, out, &eo, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (tty) fputc('\n', stderr);
    if (erc == QS_CANCELLED) {
        rc = cli_fail("quantize", "interrupted; %s was not written", out);
        goto done;
    }
    if (erc != QS_OK) {
        rc = cli_fail("quantize", "%s", erc == QS_ENOMEM ? "out of memory" : err.msg);
        goto done;
    }
    char a[64], b[64];
    int ft = qs_plan_file_type(&cp.plan, &cp.p);
    printf("wrote %s: %lld tensors, %s of tensor data (%.2f bits per weight), file type %s\n", out,
           (long long)cp.m->n_tensors, cli_fmt_bytes(cp.p.bytes, a, sizeof a),
           cp.p.n_params ? (double)cp.p.bytes * 8.0 / (double)cp.p.n_params : 0.0, ft >= 0 ? qs_ftype_name(ft) : "unchanged");
    if (cp.p.res.n_fallback) printf("%d tensors fell back to another type (see 'quantscope plan')\n", cp.p.res.n_fallback);
    (void)b;
done:
    cli_planned_close(&cp);
    return rc;
}
