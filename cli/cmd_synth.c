/* quantscope synth --shape NAME -o OUT.gguf [--type T] [--vocab VOCAB.gguf] [--seed N] */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "synth.h"

const char cmd_synth_usage[] =
    "usage: quantscope synth --shape NAME -o OUT.gguf [--type F16|F32|BF16] [--vocab VOCAB.gguf]\n"
    "                        [--seed N]\n"
    "       quantscope synth --list\n\n"
    "Writes a model with a real model's shape and random weights (true speed and memory\n"
    "figures, not true quality) that llama.cpp loads. Writing streams: memory stays small\n"
    "whatever the size.\n\n"
    "  --shape NAME   tiny, tinyllama-1.1b, llama-3.2-1b, llama-3.1-8b, mistral-7b,\n"
    "                 qwen2.5-0.5b, qwen2.5-7b, qwen3-0.6b (see --list)\n"
    "  -o FILE        output GGUF (written to a temporary file, then renamed)\n"
    "  --type T       type of the weight matrices: F16 (default), F32 or BF16\n"
    "  --vocab FILE   copy the tokenizer of a GGUF (e.g. a vocab-only file) instead of writing\n"
    "                 a small one of our own; the vocabulary size follows it\n"
    "  --seed N       weights are deterministic in the seed (default 0)\n"
    "  --list         the shapes with their sizes\n";

static int progress(void *user, uint64_t done, uint64_t total) {
    (void)user;
    fprintf(stderr, "\r  writing %3d%%", total ? (int)(100 * done / total) : 100);
    return 0;
}

int cmd_synth(int argc, char **argv) {
    static const struct option opts[] = {
        {"shape", required_argument, 0, 's'}, {"type", required_argument, 0, 't'},
        {"vocab", required_argument, 0, 'v'}, {"seed", required_argument, 0, 'r'},
        {"list", no_argument, 0, 'l'},        {0, 0, 0, 0},
    };
    const char *shape = NULL, *out = NULL, *vocab = NULL, *type_name = "F16";
    int64_t seed = 0;
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
        case 'l': list = true; break;
        default: return cli_usage_error("synth", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) return cli_usage_error("synth", "unexpected argument '%s'", argv[optind]);
    int n;
    const qs_synth_shape *shapes = qs_synth_shapes(&n);
    if (list) {
        char a[32], b[32];
        printf("%-16s %-6s %7s %6s %6s %5s %8s %12s %12s\n", "shape", "arch", "layers", "embd", "ff", "heads", "vocab",
               "params", "F16 size");
        for (int i = 0; i < n; i++) {
            const qs_synth_shape *s = &shapes[i];
            int64_t p = qs_synth_params(s, s->n_vocab);
            printf("%-16s %-6s %7lld %6lld %6lld %2lld/%-2lld %8lld %12s %12s\n", s->name, s->arch, (long long)s->n_layer,
                   (long long)s->n_embd, (long long)s->n_ff, (long long)s->n_head, (long long)s->n_head_kv,
                   (long long)s->n_vocab, cli_fmt_count(p, a, sizeof a), cli_fmt_bytes((uint64_t)p * 2, b, sizeof b));
        }
        return CLI_OK;
    }
    if (!shape) return cli_usage_error("synth", "--shape is required (see --list)");
    if (!out) return cli_usage_error("synth", "-o OUT.gguf is required");
    const qs_synth_shape *s = qs_synth_find(shape);
    if (!s) return cli_usage_error("synth", "unknown shape '%s' (see --list)", shape);
    qs_type type;
    if (qs_type_from_name(type_name, &type) != QS_OK || (type != QS_TYPE_F16 && type != QS_TYPE_F32 && type != QS_TYPE_BF16))
        return cli_usage_error("synth", "--type takes F16, F32 or BF16, not '%s'", type_name);
    qs_synth_opts o = {.type = type, .seed = (uint64_t)seed, .vocab_path = vocab};
    if (isatty(2)) o.progress = progress;
    qs_error err;
    int rc = qs_synth_write(s, out, &o, &err);
    if (o.progress) fputc('\n', stderr);
    if (rc != QS_OK) return cli_fail("synth", "%s", err.msg);
    return CLI_OK;
}
