/* quantscope chat MODEL [-p PROMPT] [options]: one completion, or a line chat on stdin/stdout,
 * through quantscope's own engine (engine/chat.h). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat.h"
#include "cli.h"
#include "cli_util.h"
#include "qs_types.h"

const char cmd_chat_usage[] =
    "usage: quantscope chat MODEL.gguf [-p PROMPT] [options]\n\n"
    "Talks with the model through quantscope's own inference engine.\n\n"
    "With -p, one reply to PROMPT is written to standard output. A model without a chat\n"
    "template (a base model such as stories260K) continues the text instead: the prompt is\n"
    "echoed first and the continuation follows it, as llama-completion prints it.\n\n"
    "Without -p, a line chat: each line read from standard input is one user turn, and the\n"
    "reply follows on standard output (a pipe works: EOF ends the chat). The conversation is\n"
    "kept in the model's cache, so each turn reads only the new line. When the context is\n"
    "full, the oldest turns are dropped (the system prompt is kept) and the reply goes on;\n"
    "on a terminal you are asked first. Statistics go to standard error.\n\n"
    "  -p, --prompt TEXT      one completion of TEXT, then exit\n"
    "  -n, --n-predict N      most tokens per reply (default -1: until the end of the turn\n"
    "                         or a full context)\n"
    "  --system TEXT          system prompt (kept at the start of the context)\n"
    "  --template NAME        chat template family instead of the model's own: none, chatml,\n"
    "                         llama3, llama2, llama2-sys, llama2-sys-bos, llama2-sys-strip,\n"
    "                         mistral-v1, mistral-v3, mistral-v3-tekken, mistral-v7,\n"
    "                         mistral-v7-tekken, zephyr, gemma, phi3 (none: plain completion)\n"
    "  --temp T               temperature (default 0.8; 0: greedy, always the likeliest token)\n"
    "  --top-k K              keep the K likeliest tokens (default 40; 0: off)\n"
    "  --top-p P              keep the likeliest tokens up to probability P (default 0.95)\n"
    "  --min-p P              drop tokens below P x the likeliest's probability (default 0.05)\n"
    "  --repeat-penalty R     penalise tokens of the last 64 (default 1: off)\n"
    "  --seed S               random seed (default: from the clock; printed with the stats)\n"
    "  -c, --ctx N            context length in tokens (default: the model's, at most 4096)\n"
    "  -t, --threads N        worker threads (default: the CPUs available)\n"
    "  --kv-type T            KV cache type: f16 (default), f32, q8_0\n"
    "  --no-echo              with -p on a model without a template: print only the\n"
    "                         continuation\n\n"
    "Ctrl-C stops the reply under way. Exit status: 0 done, 1 error (the message names the\n"
    "file), 2 bad usage.\n";

typedef struct chat_opts {
    const char *model;
    const char *prompt;
    const char *system;
    const char *tmpl_name;
    int n_predict;
    qs_sampler_params sp;
    bool seed_given;
    qs_infer_params ip;
    bool echo;
} chat_opts;

/* What a chat runs on. */
typedef struct chat_model {
    gguf_file *f;
    qs_infer_model *m;
    qs_tokenizer *tok;
    qs_infer_ctx *ctx;
} chat_model;

static void chat_unload(chat_model *cm) {
    qs_infer_ctx_free(cm->ctx);
    qs_tok_free(cm->tok);
    qs_infer_model_free(cm->m);
    gguf_close(cm->f);
    memset(cm, 0, sizeof *cm);
}

/* Opens the model for chatting: the file, the forward pass over its weights, its tokenizer and
 * a context. (The one place that decides which weights a chat uses.) */
static int chat_load(const char *path, const qs_infer_params *ip, chat_model *cm, qs_error *err) {
    memset(cm, 0, sizeof *cm);
    cm->f = gguf_open(path, err);
    if (!cm->f) return QS_ERR;
    cm->m = qs_infer_model_load(cm->f, err);
    if (cm->m) cm->tok = qs_tok_load(cm->f, err);
    if (cm->tok) cm->ctx = qs_infer_ctx_new(cm->m, ip, err);
    if (!cm->ctx) {
        if (cm->m && !strstr(err->msg, path)) qs_error_prefix(err, "%s", path);
        chat_unload(cm);
        return QS_ERR;
    }
    return QS_OK;
}

/* ---------------------------------------------------------------- output */

static atomic_int g_stop;

static void on_sigint(int sig) {
    (void)sig;
    atomic_store(&g_stop, 1);
}

typedef struct out_state {
    bool skip_space;  /* chat replies: leading whitespace of the reply is not shown */
    bool any;         /* something written */
    char last;        /* last byte written */
} out_state;

static int on_text(void *user, const char *t, size_t n) {
    out_state *o = user;
    if (o->skip_space) {
        while (n > 0 && (*t == ' ' || *t == '\n' || *t == '\t' || *t == '\r')) t++, n--;
        if (n == 0) return 0;
        o->skip_space = false;
    }
    fwrite(t, 1, n, stdout);
    fflush(stdout);
    o->any = true;
    o->last = t[n - 1];
    return 0;
}

static void print_stats(const qs_chat_stats *st, const chat_opts *o) {
    char seed[64] = "";
    if (o->sp.temperature > 0) snprintf(seed, sizeof seed, ", seed %llu", (unsigned long long)o->sp.seed);
    fprintf(stderr, "[prompt %d tokens, %.1f ms, %.1f t/s; reply %d tokens, %.1f ms, %.1f t/s%s]\n",
            st->n_prompt, st->prompt_ms, st->prompt_ms > 0 ? st->n_prompt * 1e3 / st->prompt_ms : 0.0,
            st->n_gen, st->gen_ms, st->gen_ms > 0 ? st->n_gen * 1e3 / st->gen_ms : 0.0, seed);
}

static void add_stats(qs_chat_stats *a, const qs_chat_stats *b) {
    a->n_prompt += b->n_prompt;
    a->n_gen += b->n_gen;
    a->prompt_ms += b->prompt_ms;
    a->gen_ms += b->gen_ms;
    a->reason = b->reason;
}

static bool ask_yes(const char *q) {
    fprintf(stderr, "%s [Y/n] ", q);
    fflush(stderr);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return false;
    return line[0] != 'n' && line[0] != 'N';
}

/* One turn with the context shift: send, and while the context is full, shift (asking on a
 * terminal) and resume. Returns QS_OK when the turn ended (even cut short), else an error
 * already printed. */
static int run_turn(qs_chat *s, const char *text, bool interactive, const chat_opts *o) {
    out_state os = {.skip_space = qs_chat_template(s) != QS_TMPL_NONE};
    qs_chat_io io = {.on_text = on_text, .user = &os, .stop = &g_stop};
    qs_chat_stats st = {0}, one;
    qs_error err = {{0}};
    atomic_store(&g_stop, 0);
    struct sigaction sa = {.sa_handler = on_sigint}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);

    int rc = qs_chat_send(s, text, &io, &one, &err);
    add_stats(&st, &one);
    while (rc == QS_CTX_FULL) {
        if (isatty(1) && os.any && os.last != '\n') putchar('\n'); /* readable next to stderr */
        fflush(stdout);
        fprintf(stderr, "quantscope chat: %s\n", err.msg);
        if (!interactive) {
            qs_chat_abandon(s);
            fprintf(stderr, "quantscope chat: the reply is cut here (use a larger --ctx)\n");
            rc = QS_OK;
            break;
        }
        if (isatty(0) && !ask_yes("drop the oldest turns and continue?")) {
            qs_chat_abandon(s);
            rc = QS_OK;
            break;
        }
        int nx = 0, np = 0;
        rc = qs_chat_shift(s, &nx, &np, &err);
        if (rc != QS_OK) {
            fprintf(stderr, "quantscope chat: %s\n", err.msg);
            qs_chat_abandon(s);
            rc = QS_OK;
            break;
        }
        fprintf(stderr, "quantscope chat: dropped the oldest %d turn%s (%d positions)\n", nx,
                nx == 1 ? "" : "s", np);
        rc = qs_chat_resume(s, &io, &one, &err);
        add_stats(&st, &one);
    }
    sigaction(SIGINT, &old, NULL);
    if (rc == QS_CANCELLED) {
        fprintf(stderr, "quantscope chat: stopped\n");
        return QS_OK;
    }
    if (rc != QS_OK) {
        fprintf(stderr, "quantscope chat: %s\n", err.msg);
        return rc;
    }
    if (!os.any || os.last != '\n') putchar('\n');
    fflush(stdout);
    print_stats(&st, o);
    return QS_OK;
}

/* ---------------------------------------------------------------- options */

static int parse_opts(int argc, char **argv, chat_opts *o) {
    enum { O_TEMP = 256, O_TOPK, O_TOPP, O_MINP, O_REPEAT, O_SEED, O_SYSTEM, O_TEMPLATE, O_KV, O_NOECHO };
    static const struct option opts[] = {
        {"prompt", required_argument, NULL, 'p'},
        {"n-predict", required_argument, NULL, 'n'},
        {"ctx", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {"temp", required_argument, NULL, O_TEMP},
        {"top-k", required_argument, NULL, O_TOPK},
        {"top-p", required_argument, NULL, O_TOPP},
        {"min-p", required_argument, NULL, O_MINP},
        {"repeat-penalty", required_argument, NULL, O_REPEAT},
        {"seed", required_argument, NULL, O_SEED},
        {"system", required_argument, NULL, O_SYSTEM},
        {"template", required_argument, NULL, O_TEMPLATE},
        {"kv-type", required_argument, NULL, O_KV},
        {"no-echo", no_argument, NULL, O_NOECHO},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "chat";
    o->n_predict = -1;
    o->sp = qs_sampler_default_params();
    o->ip = qs_infer_default_params();
    o->echo = true;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":p:n:c:t:", opts, NULL)) != -1) {
        int64_t iv;
        double dv;
        switch (c) {
        case 'p': o->prompt = optarg; break;
        case 'n':
            if (cli_parse_int(optarg, &iv) || iv < -1 || iv > 1 << 30)
                return cli_usage_error(cmd, "-n wants a token count (or -1), not '%s'", optarg);
            o->n_predict = (int)iv;
            break;
        case 'c':
            if (cli_parse_int(optarg, &iv) || iv < 1 || iv > 1 << 24)
                return cli_usage_error(cmd, "--ctx wants a positive token count, not '%s'", optarg);
            o->ip.n_ctx = (int)iv;
            break;
        case 't':
            if (cli_parse_int(optarg, &iv) || iv < 1 || iv > 1024)
                return cli_usage_error(cmd, "-t wants a thread count from 1 to 1024, not '%s'", optarg);
            o->ip.n_threads = (int)iv;
            break;
        case O_TEMP:
            if (cli_parse_double(optarg, &dv) || dv < 0)
                return cli_usage_error(cmd, "--temp wants a number >= 0, not '%s'", optarg);
            o->sp.temperature = (float)dv;
            break;
        case O_TOPK:
            if (cli_parse_int(optarg, &iv) || iv < 0 || iv > 1 << 30)
                return cli_usage_error(cmd, "--top-k wants a count >= 0, not '%s'", optarg);
            o->sp.top_k = (int)iv;
            break;
        case O_TOPP:
            if (cli_parse_double(optarg, &dv) || dv < 0 || dv > 1)
                return cli_usage_error(cmd, "--top-p wants a probability in [0, 1], not '%s'", optarg);
            o->sp.top_p = (float)dv;
            break;
        case O_MINP:
            if (cli_parse_double(optarg, &dv) || dv < 0 || dv > 1)
                return cli_usage_error(cmd, "--min-p wants a probability in [0, 1], not '%s'", optarg);
            o->sp.min_p = (float)dv;
            break;
        case O_REPEAT:
            if (cli_parse_double(optarg, &dv) || dv <= 0)
                return cli_usage_error(cmd, "--repeat-penalty wants a number > 0, not '%s'", optarg);
            o->sp.repeat_penalty = (float)dv;
            break;
        case O_SEED:
            if (cli_parse_int(optarg, &iv) || iv < 0)
                return cli_usage_error(cmd, "--seed wants a number >= 0, not '%s'", optarg);
            o->sp.seed = (uint64_t)iv;
            o->seed_given = true;
            break;
        case O_SYSTEM: o->system = optarg; break;
        case O_TEMPLATE:
            if (qs_chat_tmpl_from_name(optarg) == QS_TMPL_UNKNOWN)
                return cli_usage_error(cmd, "unknown --template '%s' (known: %s)", optarg, qs_chat_tmpl_all_names());
            o->tmpl_name = optarg;
            break;
        case O_KV:
            if (!strcmp(optarg, "f16")) o->ip.kv_type = QS_TYPE_F16;
            else if (!strcmp(optarg, "f32")) o->ip.kv_type = QS_TYPE_F32;
            else if (!strcmp(optarg, "q8_0")) o->ip.kv_type = QS_TYPE_Q8_0;
            else return cli_usage_error(cmd, "--kv-type wants f16, f32 or q8_0, not '%s'", optarg);
            break;
        case O_NOECHO: o->echo = false; break;
        case ':': return cli_usage_error(cmd, "missing value for %s", argv[optind - 1]);
        default: return cli_usage_error(cmd, "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_usage_error(cmd, "missing MODEL.gguf");
    if (optind + 1 < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
    o->model = argv[optind];
    if (!o->seed_given) o->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    return CLI_OK;
}

/* ---------------------------------------------------------------- the command */

int cmd_chat(int argc, char **argv) {
    chat_opts o = {0};
    int rc = parse_opts(argc, argv, &o);
    if (rc != CLI_OK) return rc;

    qs_error err = {{0}};
    chat_model cm;
    if (chat_load(o.model, &o.ip, &cm, &err) != QS_OK) return cli_fail("chat", "%s", err.msg);

    qs_chat_tmpl t = o.tmpl_name ? qs_chat_tmpl_from_name(o.tmpl_name) : qs_chat_tmpl_of_model(cm.f);
    if (t == QS_TMPL_UNKNOWN) {
        fprintf(stderr, "quantscope chat: %s: chat template not recognised; using chatml "
                        "(choose another with --template)\n", o.model);
        t = QS_TMPL_CHATML;
    }
    const qs_chat_params cp = {
        .tmpl = t,
        .system = o.system,
        .n_predict = o.n_predict,
        .sampling = o.sp,
    };
    qs_chat *s = qs_chat_new(cm.ctx, cm.tok, &cp, &err);
    if (!s) {
        chat_unload(&cm);
        return cli_fail("chat", "%s: %s", o.model, err.msg);
    }

    rc = CLI_OK;
    if (o.prompt) {
        if (t == QS_TMPL_NONE && o.echo) {
            fputs(o.prompt, stdout);
            fflush(stdout);
        }
        if (run_turn(s, o.prompt, false, &o) != QS_OK) rc = CLI_FAIL;
    } else {
        const bool tty = isatty(0);
        const int nt = qs_infer_n_threads(cm.ctx);
        fprintf(stderr, "quantscope chat: %s, template %s, context %d, %d thread%s%s\n", o.model,
                qs_chat_tmpl_name(t), qs_infer_n_ctx(cm.ctx), nt, nt == 1 ? "" : "s",
                tty ? "; one line per turn, Ctrl-D ends" : "");
        char *line = NULL;
        size_t cap = 0;
        for (;;) {
            if (tty) {
                fputs("> ", stdout);
                fflush(stdout);
            }
            errno = 0;
            ssize_t n = getline(&line, &cap, stdin);
            if (n < 0) break;
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
            if (n == 0 && t != QS_TMPL_NONE) continue; /* base models: an empty line continues */
            if (run_turn(s, line, true, &o) != QS_OK) {
                rc = CLI_FAIL;
                break;
            }
        }
        free(line);
        if (ferror(stdin)) {
            fprintf(stderr, "quantscope chat: cannot read standard input: %s\n", strerror(errno));
            rc = CLI_FAIL;
        }
    }
    qs_chat_free(s);
    chat_unload(&cm);
    if (fflush(stdout) != 0) rc = CLI_FAIL;
    return rc;
}
