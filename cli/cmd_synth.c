/* quantscope synth --shape NAME -o OUT.gguf [--type T] [--vocab VOCAB.gguf] [--seed N] [--ctx N] */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "synth.h"

const char cmd_synth_usage[] =
    "usage: quantscope synth --shape NAME -o OUT.gguf [--type F16|F32|BF16] [--vocab VOCAB.gguf]\n"
    "                        [--seed N] [--ctx N]\n"
    "       quantscope synth --list\n\n"
    "Writes a model with a real model's shape and random weights (true speed and memory\n"
    "figures, not true quality) that llama.cpp loads. Writing streams: memory stays small\n"
    "whatever the size.\n\n"
    "  --shape NAME   tinyllama-1.1b, llama-3.2-1b, llama-3.1-8b, mistral-7b, qwen2.5-0.5b,\n"
    "                 qwen2.5-7b, qwen3-0.6b; tiny, tiny-llama3, tiny-qwen2, tiny-qwen3 (a few MB,\n"
    "                 for tests); see --list\n"
    "  -o FILE        output GGUF (written to a temporary file, then renamed)\n"
    "  --type T       type of the weight matrices: F16 (default), F32 or BF16\n"
    "  --vocab FILE   copy the tokenizer of a GGUF (e.g. a vocab-only file) instead of writing\n"
    "                 a small one of our own; the vocabulary size follows it\n"
    "  --seed N       weights are deterministic in the seed (default 0)\n"
    "  --ctx N        training context written into the file (default: the shape's)\n"
    "  --list         the shapes with their sizes\n\n"
    "Ctrl-C stops the writing and removes the temporary file.\n";

/* Ctrl-C asks the writer to stop: it then removes its temporary file. */
static atomic_int interrupted;
static void on_sigint(int sig) {
    (void)sig;
    atomic_store(&interrupted, 1);
}

static int progress(void *user, uint64_t done, uint64_t total) {
    int *last = user, pct = total ? (int)(100 * done / total) : 100;
    if (pct == *last) return 0;
    *last = pct;
    char a[32], b[32];
    fprintf(stderr, "\r  writing %3d%%  %s of %s ", pct, cli_fmt_bytes(done, a, sizeof a), cli_fmt_bytes(total, b, sizeof b));
    return 0;
}

int cmd_synth(int argc, char **argv) {
    static const struct option opts[] = {
        {"shape", required_argument, 0, 's'}, {"type", required_argument, 0, 't'},
        {"vocab", required_argument, 0, 'v'}, {"seed", required_argument, 0, 'r'},
        {"ctx", required_argument, 0, 'c'},   {"list", no_argument, 0, 'l'},
        {0, 0, 0, 0},
    };
    const char *shape = NULL, *out = NULL, *vocab = NULL, *type_name = "F16";
    int64_t seed = 0, n_ctx = 0;
    bool list = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 's': shape = optarg; break;
        case 'o': out = optarg; break;
        case 't': type_name = optarg; break;
        case 'v': vocab = optarg; break;
        case 'r':
            if (cli_parse_int(optarg, &seed) || seed < 0) return cli_usage_error("synth", "--seed takes a number, not '%s'", optarg);
            break;
        case 'c':
            if (cli_parse_int(optarg, &n_ctx) || n_ctx < 1 || n_ctx > UINT32_MAX)
                return cli_usage_error("synth", "--ctx takes a context length from 1 to 4294967295, not '%s'", optarg);
            break;
        case 'l': list = true; break;
        default: return cli_usage_error("synth", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) return cli_usage_error("synth", "unexpected argument '%s'", argv[optind]);
    int n;
    const qs_synth_shape *shapes = qs_synth_shapes(&n);
    if (list) {
        char a[32], b[32];
        printf("%-16s %-6s %7s %6s %6s %5s %5s %8s %8s %12s %12s\n", "shape", "arch", "layers", "embd", "ff", "heads",
               "hdim", "vocab", "ctx", "params", "F16 size");
        for (int i = 0; i < n; i++) {
            const qs_synth_shape *s = &shapes[i];
            int64_t p = qs_synth_params(s, s->n_vocab);
            printf("%-16s %-6s %7lld %6lld %6lld %2lld/%-2lld %5lld %8lld %8lld %12s %12s\n", s->name, s->arch,
                   (long long)s->n_layer, (long long)s->n_embd, (long long)s->n_ff, (long long)s->n_head,
                   (long long)s->n_head_kv, (long long)s->head_dim, (long long)s->n_vocab, (long long)s->n_ctx,
                   cli_fmt_count(p, a, sizeof a),
                   cli_fmt_bytes(qs_synth_data_bytes(s, s->n_vocab, QS_TYPE_F16), b, sizeof b));
        }
        return CLI_OK;
    }
    if (!shape) return cli_usage_error("synth", "--shape is required (see --list)");
    if (!out) return cli_usage_error("synth", "-o OUT.gguf is required");
    const qs_synth_shape *found = qs_synth_find(shape);
    if (!found) return cli_usage_error("synth", "unknown shape '%s' (see --list)", shape);
    qs_synth_shape custom = *found; /* --ctx changes only the training context written */
    if (n_ctx > 0) custom.n_ctx = n_ctx;
    const qs_synth_shape *s = &custom;
    qs_type type;
    if (qs_type_from_name(type_name, &type) != QS_OK || (type != QS_TYPE_F16 && type != QS_TYPE_F32 && type != QS_TYPE_BF16))
        return cli_usage_error("synth", "--type takes F16, F32 or BF16, not '%s'", type_name);
    int last_pct = -1;
    qs_synth_opts o = {.type = type, .seed = (uint64_t)seed, .vocab_path = vocab, .cancel = &interrupted};
    if (isatty(2)) {
        o.progress = progress;
        o.progress_user = &last_pct;
    }
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    qs_error err;
    int rc = qs_synth_write(s, out, &o, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (o.progress) fputc('\n', stderr);
    if (rc == QS_CANCELLED) return cli_fail("synth", "%s: interrupted; nothing written", out);
    if (rc != QS_OK) return cli_fail("synth", "%s", err.msg);
    return CLI_OK;
}
