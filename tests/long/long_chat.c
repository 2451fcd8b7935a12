/* long_chat.c — a long conversation on a real model: N turns (default 50) with stories260K
 * through the chat layer (engine/chat.h) in a small context (default 256 positions), so that the
 * context fills again and again, in a user message (before the reply) and in the middle of a
 * reply; each time the oldest exchanges are dropped (qs_chat_shift) and the turn resumes, as
 * `quantscope chat` does in a pipe. Halfway through, the sampling changes between turns
 * (qs_chat_set_sampling: greedy, another reply limit). Memory is sampled from /proc/self/status
 * (VmRSS, VmHWM) after every turn.
 *
 * Built beside the tests but not registered with ctest: tests/long/run_long.sh runs it under
 * ASan + LeakSanitizer (leaks, invalid accesses) and in Release with --check-flat (ASan's
 * quarantine of freed blocks would hide growth).
 *
 * Usage: long_chat [--turns N] [--ctx N] [--n-predict N] [--threads N] [--template NAME]
 *                  [--check-flat KIB] [MODEL.gguf]
 *   --template NAME   chat family (default: the model's; stories260K has none, a completion)
 *   --check-flat KIB  "memory flat": fail (exit 1) when VmHWM after the last turn exceeds VmHWM
 *                     after turn 5 by more than KIB (turns 1-5 warm up: the KV cache, scratch
 *                     buffers and the history's first allocations are touched there)
 * Every turn must end normally (a reply, possibly cut when even dropping every old exchange
 * leaves no room), at least one shift must happen, and the history must hold every message.
 * Prints one line per turn and a summary; exit 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "gguf.h"
#include "infer.h"
#include "qs_devices_probe.h"
#include "sampler.h"
#include "tokenizer.h"

#ifndef QS_SHARED_DIR
#define QS_SHARED_DIR "../shared"
#endif

#define WARMUP_TURNS 5

/* VmRSS and VmHWM in KiB (0 when unreadable). */
static void mem_kib(long *rss, long *hwm) {
    *rss = (long)(qs_proc_self_bytes("VmRSS") / 1024);
    *hwm = (long)(qs_proc_self_bytes("VmHWM") / 1024);
}

typedef struct sink {
    uint64_t bytes; /* reply text received, all turns */
    uint64_t hash;  /* FNV-1a of it */
    int bad_utf8;   /* pieces that were not valid UTF-8 (must stay 0) */
} sink;

static int on_text(void *user, const char *text, size_t len) {
    sink *k = user;
    if (!qs_utf8_valid(text, len)) k->bad_utf8++;
    for (size_t i = 0; i < len; i++) k->hash = (k->hash ^ (unsigned char)text[i]) * 0x100000001b3ull;
    k->bytes += len;
    return 0;
}

/* The user's message of turn i: short ones, and every seventh a long one (it alone takes a good
 * part of the context, so the context fills in the prompt, not only in a reply). */
static void message(int i, char *buf, size_t n) {
    static const char *const names[] = {"Lily", "Tom", "Sue", "Ben", "the dog", "a little bird"};
    static const char *const places[] = {"the park", "the sea", "the big tree", "school", "the garden"};
    const char *who = names[i % 6], *where = places[i % 5];
    if (i % 7 == 6)
        snprintf(buf, n,
                 "One day %s went to %s with a red ball and a blue hat. It was a sunny day and "
                 "everyone was happy. They played and played until the sun went down, and then "
                 "they went home to eat a big cake with mom and dad. Turn %d.",
                 who, where, i + 1);
    else
        snprintf(buf, n, "%s went to %s number %d", who, where, i + 1);
}

int main(int argc, char **argv) {
    int n_turns = 50, n_ctx = 256, n_predict = 48, n_threads = 1;
    long check_flat = -1;
    const char *tmpl_name = NULL;
    char model_buf[1024];
    snprintf(model_buf, sizeof model_buf, "%s/models/stories260K.gguf", QS_SHARED_DIR);
    const char *model = model_buf;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--turns") && i + 1 < argc) n_turns = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ctx") && i + 1 < argc) n_ctx = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--n-predict") && i + 1 < argc) n_predict = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) n_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--template") && i + 1 < argc) tmpl_name = argv[++i];
        else if (!strcmp(argv[i], "--check-flat") && i + 1 < argc) check_flat = atol(argv[++i]);
        else if (argv[i][0] != '-') model = argv[i];
        else {
            fprintf(stderr, "usage: long_chat [--turns N] [--ctx N] [--n-predict N] [--threads N] "
                            "[--template NAME] [--check-flat KIB] [MODEL.gguf]\n");
            return 2;
        }
    }
    if (n_turns <= WARMUP_TURNS || n_ctx < 64 || n_predict < 1) {
        fprintf(stderr, "long_chat: --turns must be > %d, --ctx >= 64, --n-predict >= 1\n", WARMUP_TURNS);
        return 2;
    }
    qs_error err = {{0}};
    gguf_file *f = gguf_open(model, &err);
    if (!f) {
        fprintf(stderr, "long_chat: %s\n", err.msg);
        return 1;
    }
    qs_tokenizer *tok = qs_tok_load(f, &err);
    qs_infer_model *m = tok ? qs_infer_model_load(f, &err) : NULL;
    qs_infer_params ip = qs_infer_default_params();
    ip.n_ctx = n_ctx;
    ip.n_threads = n_threads;
    qs_infer_ctx *c = m ? qs_infer_ctx_new(m, &ip, &err) : NULL;
    if (!c) {
        fprintf(stderr, "long_chat: %s: %s\n", model, err.msg);
        return 1;
    }
    qs_chat_tmpl t = tmpl_name ? qs_chat_tmpl_from_name(tmpl_name) : qs_chat_tmpl_of_model(f);
    if (t == QS_TMPL_UNKNOWN) {
        fprintf(stderr, "long_chat: unknown template '%s' (known: %s)\n", tmpl_name ? tmpl_name : "(model's)",
                qs_chat_tmpl_all_names());
        return 2;
    }
    static const char system[] = "A story.";
    qs_chat_params cp = {.tmpl = t, .system = system, .n_predict = n_predict};
    cp.sampling = qs_sampler_default_params();
    cp.sampling.seed = 42;
    qs_chat *s = qs_chat_new(c, tok, &cp, &err);
    if (!s) {
        fprintf(stderr, "long_chat: %s\n", err.msg);
        return 1;
    }
    printf("long_chat: %s, %d turns, template %s, context %d, replies <= %d tokens, %d thread(s)\n", model,
           n_turns, qs_chat_tmpl_name(t), n_ctx, n_predict, n_threads);

    sink k = {.hash = 0xcbf29ce484222325ull};
    const qs_chat_io io = {.on_text = on_text, .user = &k};
    int rc = 0, cut = 0, full_before_reply = 0, full_in_reply = 0;
    long rss0 = 0, hwm0 = 0, rss = 0, hwm = 0;
    for (int i = 0; i < n_turns && rc == 0; i++) {
        if (i == n_turns / 2) {
            /* halfway: greedy, and a longer reply limit (the sampler starts afresh) */
            qs_sampler_params sp = qs_sampler_default_params();
            sp.temperature = 0.0f;
            if (qs_chat_set_sampling(s, n_predict + n_predict / 2, &sp, &err) != QS_OK) {
                fprintf(stderr, "long_chat: turn %d: set sampling: %s\n", i + 1, err.msg);
                rc = 1;
                break;
            }
        }
        char msg[512];
        message(i, msg, sizeof msg);
        qs_chat_stats st = {0};
        int shifts_here = 0, st_rc = qs_chat_send(s, msg, &io, &st, &err);
        while (st_rc == QS_CTX_FULL) {
            if (qs_chat_reply_tokens(s) == 0) full_before_reply++;
            else full_in_reply++;
            int nx = 0, np = 0;
            if (qs_chat_shift(s, &nx, &np, &err) != QS_OK) {
                /* even dropping every old exchange leaves no room: the reply is cut here */
                qs_chat_abandon(s);
                cut++;
                st_rc = QS_OK;
                break;
            }
            shifts_here++;
            st_rc = qs_chat_resume(s, &io, &st, &err);
        }
        if (st_rc != QS_OK) {
            fprintf(stderr, "long_chat: turn %d: status %d: %s\n", i + 1, st_rc, err.msg);
            rc = 1;
            break;
        }
        if (qs_infer_n_past(c) > qs_infer_n_ctx(c)) {
            fprintf(stderr, "long_chat: turn %d: %d positions in a %d context\n", i + 1, qs_infer_n_past(c),
                    qs_infer_n_ctx(c));
            rc = 1;
        }
        mem_kib(&rss, &hwm);
        if (i + 1 == WARMUP_TURNS) {
            rss0 = rss;
            hwm0 = hwm;
        }
        printf("  turn %2d  reply %3d tokens  %d shift(s)  n_past %3d  VmRSS %6ld KiB  VmHWM %6ld KiB\n", i + 1,
               qs_chat_reply_tokens(s), shifts_here, qs_infer_n_past(c), rss, hwm);
        fflush(stdout);
    }
    const qs_chat_totals tot = qs_chat_get_totals(s);
    const int n_msg = qs_chat_n_messages(s);
    int n_dropped = 0;
    for (int i = 0; i < n_msg; i++) {
        bool d;
        qs_chat_message(s, i, NULL, &d);
        n_dropped += d;
    }
    printf("long_chat: %d turns, %lld tokens generated, %d shifts (%d exchanges dropped; context full %d "
           "time(s) before a reply, %d in one; %d reply(ies) cut), %d messages (%d out of view), %llu bytes of "
           "reply text (hash %016llx)\n",
           n_turns, (long long)tot.n_gen, tot.n_shifts, tot.n_dropped, full_before_reply, full_in_reply, cut,
           n_msg, n_dropped, (unsigned long long)k.bytes, (unsigned long long)k.hash);
    printf("long_chat: VmHWM %ld KiB after turn %d, %ld KiB after turn %d (%+ld KiB); VmRSS %ld -> %ld KiB\n", hwm0,
           WARMUP_TURNS, hwm, n_turns, hwm - hwm0, rss0, rss);
    if (rc == 0 && n_msg != 1 + 2 * n_turns) {
        fprintf(stderr, "long_chat: %d messages in the history, expected %d (system + %d turns)\n", n_msg,
                1 + 2 * n_turns, n_turns);
        rc = 1;
    }
    if (rc == 0 && (tot.n_shifts == 0 || n_dropped == 0)) {
        fprintf(stderr, "long_chat: the context never filled: no shift exercised (use a smaller --ctx)\n");
        rc = 1;
    }
    if (k.bad_utf8) {
        fprintf(stderr, "long_chat: %d reply pieces were not valid UTF-8\n", k.bad_utf8);
        rc = 1;
    }
    if (check_flat >= 0 && hwm - hwm0 > check_flat) {
        fprintf(stderr, "long_chat: memory grew by %ld KiB after turn %d (limit %ld KiB)\n", hwm - hwm0,
                WARMUP_TURNS, check_flat);
        rc = 1;
    }
    qs_chat_free(s);
    qs_infer_ctx_free(c);
    qs_infer_model_free(m);
    qs_tok_free(tok);
    gguf_close(f);
    return rc;
}
