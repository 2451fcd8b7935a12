/* A chat session over an inference context. See chat.h for the model of what the cache holds. */
#include "chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ small buffers */

typedef struct buf {
    char *p; /* NUL-terminated when not NULL */
    size_t n, cap;
} buf;

static int buf_put(buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (b->n + n + 1 > cap) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return QS_ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return QS_OK;
}

static void buf_clear(buf *b) {
    b->n = 0;
    if (b->p) b->p[0] = 0;
}

typedef struct ids {
    int32_t *p;
    size_t n, cap;
} ids;

static int ids_put(ids *v, const int32_t *x, size_t n) {
    if (v->n + n > v->cap) {
        size_t cap = v->cap ? v->cap : 64;
        while (v->n + n > cap) cap *= 2;
        int32_t *np = realloc(v->p, cap * sizeof *np);
        if (!np) return QS_ENOMEM;
        v->p = np;
        v->cap = cap;
    }
    if (n) memcpy(v->p + v->n, x, n * sizeof *x);
    v->n += n;
    return QS_OK;
}

static bool starts_with(const char *s, size_t n, const char *p, size_t pn) {
    return pn <= n && memcmp(s, p, pn) == 0;
}

/* ================================================================ the session */

typedef struct msg {
    char role[12];
    char *text; /* owned; NULL for a reply under way */
    bool dropped;
} msg;

/* An exchange in the cache: the user message's text (with the reply header), the reply, and
 * once the next turn has decoded it, the reply's end text. Positions [pos_start, pos_end). */
typedef struct exch {
    int pos_start, pos_end;
    int msg_user;  /* index of its user message; the reply is msg_user + 1 */
    bool pinned;   /* holds the system prompt: never dropped */
} exch;

enum { ST_IDLE, ST_WAIT_PROMPT, ST_WAIT_GEN };

struct qs_chat {
    qs_infer_ctx *ctx;
    const qs_tokenizer *tok;
    qs_chat_tmpl tmpl;
    char *eos_text;        /* the model's EOS text (zephyr writes it), or NULL */
    int n_predict;
    bool has_system;
    qs_sampler *smp;
    int32_t *eog;          /* end-of-generation ids: the model's and the family's end-of-turn */
    int n_eog;
    const char *stops[4];  /* end-of-turn texts that are not one token: matched in the text */
    int n_stops;

    msg *msgs;
    int n_msgs, cap_msgs;
    exch *ex;
    int n_ex, cap_ex;
    int head_end;          /* positions of BOS + separate system prompt; -1 before turn 1 */
    int state;

    ids close;             /* end text of the last exchange's reply, not yet decoded */
    ids delta;             /* the new message's tokens (turn 1: BOS and head first) */
    int n_head_tok;        /* turn 1: how many of delta are BOS + head */

    /* the reply under way */
    bool replying;
    buf reply;             /* text delivered to the caller */
    buf raw;               /* bytes of the generated tokens, control tokens' text included */
    buf hold;              /* text held back: could be the start of an end-of-turn text */
    size_t raw_last;       /* bytes the last generated token added to raw */
    int32_t pending;       /* WAIT_GEN: the generated token not yet in the cache */
    int reply_pos;         /* position of the reply's first token */
    int n_gen_turn;
    bool stop_text;        /* an end-of-turn text was seen */
    bool stop_cb;          /* the caller's callback asked to stop */
    qs_detok detok;
    qs_chat_io io;         /* of the call in progress */

    qs_chat_totals tot;
};

static int oom(qs_error *err) {
    qs_error_set(err, "chat: out of memory");
    return QS_ENOMEM;
}

static int push_msg(qs_chat *s, const char *role, const char *text) {
    if (s->n_msgs == s->cap_msgs) {
        int cap = s->cap_msgs ? s->cap_msgs * 2 : 16;
        msg *nm = realloc(s->msgs, (size_t)cap * sizeof *nm);
        if (!nm) return QS_ENOMEM;
        s->msgs = nm;
        s->cap_msgs = cap;
    }
    msg *m = &s->msgs[s->n_msgs];
    memset(m, 0, sizeof *m);
    snprintf(m->role, sizeof m->role, "%s", role);
    if (text) {
        m->text = strdup(text);
        if (!m->text) return QS_ENOMEM;
    }
    s->n_msgs++;
    return QS_OK;
}

static void pop_msg(qs_chat *s) {
    if (s->n_msgs == 0) return;
    free(s->msgs[--s->n_msgs].text);
}

/* The template's text for messages [0, n). A reply under way counts with the text so far. */
static int format(const qs_chat *s, int n, bool add_ass, char **out, size_t *len, qs_error *err) {
    qs_chat_msg *m = malloc((size_t)(n > 0 ? n : 1) * sizeof *m);
    if (!m) return oom(err);
    for (int i = 0; i < n; i++) {
        m[i].role = s->msgs[i].role;
        m[i].content = s->msgs[i].text ? s->msgs[i].text : s->reply.p ? s->reply.p : "";
    }
    int rc = qs_chat_tmpl_format(s->tmpl, m, (size_t)n, add_ass, s->eos_text, out, len, err);
    free(m);
    return rc;
}

/* Appends the tokens of text (control-token text parsed as the tokens, as llama.cpp does for
 * chat prompts; no BOS/EOS). */
static int tokenize(const qs_chat *s, const char *text, size_t len, ids *out, qs_error *err) {
    if (len == 0) return QS_OK;
    int32_t *t = NULL;
    size_t n = 0;
    int rc = qs_tok_encode(s->tok, text, len, false, true, &t, &n, err);
    if (rc != QS_OK) return rc;
    rc = ids_put(out, t, n);
    free(t);
    return rc == QS_OK ? QS_OK : oom(err);
}

static int inconsistent(const qs_chat *s, const char *what, qs_error *err) {
    return qs_error_set(err, "chat: template %s: %s (internal error)", qs_chat_tmpl_name(s->tmpl), what);
}

/* ---------------------------------------------------------------- reply text */

/* Hands text to the caller and keeps it as the reply. Returns non-zero to stop. */
static int deliver(qs_chat *s, const char *t, size_t n) {
    if (n == 0) return 0;
    if (buf_put(&s->reply, t, n) != QS_OK) return 1;
    if (s->io.on_text && s->io.on_text(s->io.user, t, n)) {
        s->stop_cb = true;
        return 1;
    }
    return 0;
}

size_t qs_chat_stop_scan(const char *t, size_t n, const char *const *stops, int n_stops, bool *found) {
    *found = false;
    size_t cut = n, keep = 0;
    for (int k = 0; k < n_stops; k++) {
        const size_t sl = strlen(stops[k]);
        if (sl == 0) continue;
        for (size_t i = 0; i + sl <= n && i < cut; i++) /* earliest complete one */
            if (memcmp(t + i, stops[k], sl) == 0) {
                cut = i;
                *found = true;
                break;
            }
        for (size_t l = sl - 1 < n ? sl - 1 : n; l > keep; l--) /* longest tail that starts one */
            if (memcmp(t + n - l, stops[k], l) == 0) {
                keep = l;
                break;
            }
    }
    return *found ? cut : n - keep;
}

/* Text decoded from the reply's tokens: with end-of-turn texts to match, hold back what could
 * start one; cut at one that is complete. Returns non-zero to stop. */
static int emit(qs_chat *s, const char *t, size_t n) {
    if (s->n_stops == 0) return deliver(s, t, n);
    if (buf_put(&s->hold, t, n) != QS_OK) return 1;
    bool found;
    const size_t ok = qs_chat_stop_scan(s->hold.p, s->hold.n, s->stops, s->n_stops, &found);
    int r = deliver(s, s->hold.p, ok);
    if (found) {
        buf_clear(&s->hold);
        s->stop_text = true;
        return 1;
    }
    memmove(s->hold.p, s->hold.p + ok, s->hold.n - ok + 1);
    s->hold.n -= ok;
    return r;
}

static int on_token(void *user, int32_t token) {
    qs_chat *s = user;
    size_t bl = 0, tl = 0;
    const char *b = qs_tok_bytes(s->tok, token, true, &bl);
    if (buf_put(&s->raw, b, bl) != QS_OK) return 1;
    s->raw_last = bl;
    s->n_gen_turn++;
    const char *t = qs_detok_feed(&s->detok, token, &tl);
    if (!t) return 1;
    return emit(s, t, tl);
}

/* ---------------------------------------------------------------- ending a reply */

/* The reply is complete: store it, then work out the end text the next turn decodes first.
 * If the template writes the reply differently from the tokens generated (trimmed), the
 * reply's tokens are dropped from the cache and its written form is decoded instead. */
static int finish_reply(qs_chat *s, qs_error *err) {
    size_t tl = 0;
    const char *t = qs_detok_flush(&s->detok, &tl);
    if (!s->stop_text && t && tl) (void)emit(s, t, tl);
    if (!s->stop_text) (void)deliver(s, s->hold.p ? s->hold.p : "", s->hold.n);
    buf_clear(&s->hold);

    msg *m = &s->msgs[s->n_msgs - 1];
    m->text = strdup(s->reply.p ? s->reply.p : "");
    s->replying = false;
    s->state = ST_IDLE;
    if (!m->text) return oom(err);

    const int u = s->n_msgs - 2; /* the user message */
    char *fu = NULL, *fua = NULL, *fa = NULL;
    size_t lu = 0, lua = 0, la = 0;
    int rc = format(s, u + 1, false, &fu, &lu, err);
    if (rc == QS_OK) rc = format(s, u + 1, true, &fua, &lua, err);
    if (rc == QS_OK) rc = format(s, u + 2, false, &fa, &la, err);
    if (rc == QS_OK && (!starts_with(fua, lua, fu, lu) || !starts_with(fa, la, fu, lu)))
        rc = inconsistent(s, "a message changed the text before it", err);
    if (rc == QS_OK) {
        const char *hdr = fua + lu, *da = fa + lu; /* reply header; the reply as written */
        const size_t hl = lua - lu, dl = la - lu;
        if (!starts_with(da, dl, hdr, hl)) {
            rc = inconsistent(s, "the reply does not start with the reply header", err);
        } else {
            const char *tail = da + hl;
            const size_t tn = dl - hl;
            s->close.n = 0;
            if (starts_with(tail, tn, s->raw.p ? s->raw.p : "", s->raw.n)) {
                rc = tokenize(s, tail + s->raw.n, tn - s->raw.n, &s->close, err);
            } else {
                rc = qs_infer_kv_truncate(s->ctx, s->reply_pos, err);
                if (rc == QS_OK) {
                    s->ex[s->n_ex - 1].pos_end = s->reply_pos;
                    rc = tokenize(s, tail, tn, &s->close, err);
                }
            }
        }
    }
    free(fu);
    free(fua);
    free(fa);
    return rc;
}

/* ---------------------------------------------------------------- running a turn */

static void reset_reply(qs_chat *s) {
    buf_clear(&s->reply);
    buf_clear(&s->raw);
    buf_clear(&s->hold);
    s->raw_last = 0;
    s->pending = -1;
    s->n_gen_turn = 0;
    s->stop_text = s->stop_cb = false;
    qs_detok_free(&s->detok);
    qs_detok_init(&s->detok, s->tok, 0);
}

static int ctx_full_msg(qs_chat *s, const char *what, qs_error *err) {
    return qs_error_set(err, "context full (%d of %d positions used): %s; drop the oldest turns "
                        "to continue", qs_infer_n_past(s->ctx), qs_infer_n_ctx(s->ctx), what),
           QS_CTX_FULL;
}

static void add_stats(qs_chat *s, qs_chat_stats *st, const qs_generate_result *r, int decoded) {
    st->n_prompt += r->n_prompt;
    st->n_gen += r->n_generated;
    st->prompt_ms += r->prompt_ms;
    st->gen_ms += r->gen_ms;
    s->tot.n_prompt += r->n_prompt;
    s->tot.n_gen += r->n_generated;
    s->tot.prompt_ms += r->prompt_ms;
    s->tot.gen_ms += r->gen_ms;
    s->tot.n_decoded += decoded;
}

static qs_stop_reason reply_reason(const qs_chat *s, qs_stop_reason r) {
    if (s->stop_text) return QS_STOP_EOG;
    if (s->stop_cb) return QS_STOP_CALLBACK;
    return r;
}

static int generate_more(qs_chat *s, const int32_t *prompt, int n_prompt, qs_generate_result *r,
                         qs_error *err) {
    int left = -1;
    if (s->n_predict >= 0) left = s->n_gen_turn < s->n_predict ? s->n_predict - s->n_gen_turn : 0;
    const qs_generate_params gp = {
        .n_predict = left,
        .eog = s->eog,
        .n_eog = s->n_eog,
        .sampler = s->smp,
        .on_token = on_token,
        .user = s,
        .stop = s->io.stop,
    };
    return qs_infer_generate(s->ctx, prompt, n_prompt, &gp, r, err);
}

/* After the reply's tokens: wait on a full context, or end the reply. */
static int after_generate(qs_chat *s, int rc, const qs_generate_result *r, qs_chat_stats *st,
                          qs_error *err) {
    const int pend = rc == QS_CTX_FULL && r->pending >= 0 ? 1 : 0;
    add_stats(s, st, r, r->n_prompt + r->n_generated - pend);
    s->ex[s->n_ex - 1].pos_end = qs_infer_n_past(s->ctx);
    if (rc == QS_CTX_FULL && pend) {
        s->pending = r->pending;
        s->state = ST_WAIT_GEN;
        st->reason = QS_STOP_NONE;
        return ctx_full_msg(s, "no room for the rest of the reply", err);
    }
    st->reason = reply_reason(s, r->reason);
    qs_error e2 = {{0}};
    const int frc = finish_reply(s, rc == QS_OK || rc == QS_CANCELLED ? err : &e2);
    s->ex[s->n_ex - 1].pos_end = qs_infer_n_past(s->ctx);
    if (rc != QS_OK && rc != QS_CANCELLED) return rc; /* err says why */
    return frc;
}

/* Decodes the waiting message (after the previous reply's end text) and generates. */
static int run_prompt(qs_chat *s, qs_chat_stats *st, qs_error *err) {
    ids prompt = {0};
    if (ids_put(&prompt, s->close.p, s->close.n) != QS_OK ||
        ids_put(&prompt, s->delta.p, s->delta.n) != QS_OK) {
        free(prompt.p);
        return oom(err);
    }
    const int n = (int)prompt.n;
    const int n0 = qs_infer_n_past(s->ctx);
    const int n_close = (int)s->close.n;
    const int u = s->n_msgs - 1;
    reset_reply(s);
    if (s->n_ex == s->cap_ex) { /* room for the exchange now: nothing may fail once the prompt is in */
        const int cap = s->cap_ex ? s->cap_ex * 2 : 16;
        exch *ne = realloc(s->ex, (size_t)cap * sizeof *ne);
        if (!ne) {
            free(prompt.p);
            return oom(err);
        }
        s->ex = ne;
        s->cap_ex = cap;
    }
    if (push_msg(s, "assistant", NULL) != QS_OK) {
        free(prompt.p);
        return oom(err);
    }
    s->replying = true;
    s->state = ST_IDLE;

    qs_generate_result r;
    int rc = generate_more(s, prompt.p, n, &r, err);
    free(prompt.p);
    const bool prompt_in = n == 0 || r.n_prompt == n;
    if (!prompt_in) {
        pop_msg(s); /* the reply that never started */
        s->replying = false;
        if (rc == QS_CTX_FULL) {
            s->state = ST_WAIT_PROMPT;
            return ctx_full_msg(s, "no room for the new message", err);
        }
        qs_error e2;
        qs_infer_kv_truncate(s->ctx, n0, &e2); /* finished chunks of a stopped prompt */
        pop_msg(s);                           /* the message is withdrawn */
        s->delta.n = 0;
        s->n_head_tok = 0;
        s->state = ST_IDLE;
        if (rc == QS_CANCELLED) qs_error_set(err, "chat: stopped while reading the message");
        return rc == QS_OK ? QS_ERR : rc;
    }

    /* the prompt is in the cache: record where everything is */
    if (n_close > 0 && s->n_ex > 0) s->ex[s->n_ex - 1].pos_end = n0 + n_close;
    const bool first = s->head_end < 0;
    if (first) s->head_end = n0 + s->n_head_tok;
    const exch e = {
        .pos_start = n0 + n_close + s->n_head_tok,
        .pos_end = n0 + n,
        .msg_user = u,
        .pinned = first && s->has_system && !qs_chat_tmpl_system_is_separate(s->tmpl),
    };
    s->ex[s->n_ex++] = e;
    s->close.n = 0;
    s->delta.n = 0;
    s->n_head_tok = 0;
    s->reply_pos = n0 + n;
    return after_generate(s, rc, &r, st, err);
}

/* The tokens the new user message (the last one) adds to the cache. */
static int prepare_prompt(qs_chat *s, qs_error *err) {
    const int u = s->n_msgs - 1;
    char *full = NULL, *prev = NULL;
    size_t lf = 0, lp = 0;
    s->delta.n = 0;
    s->n_head_tok = 0;
    int rc = format(s, u + 1, true, &full, &lf, err);
    if (rc != QS_OK) return rc;
    if (s->head_end < 0) {
        /* turn 1: BOS, the system prompt as its own segment when the family keeps it apart
         * (so that a shift can keep exactly it), then the rest */
        const int32_t bos = qs_tok_bos(s->tok);
        if (qs_tok_add_bos(s->tok) && bos >= 0 && ids_put(&s->delta, &bos, 1) != QS_OK) rc = oom(err);
        if (rc == QS_OK && s->has_system && qs_chat_tmpl_system_is_separate(s->tmpl)) {
            rc = format(s, 1, false, &prev, &lp, err);
            if (rc == QS_OK && !starts_with(full, lf, prev, lp)) rc = inconsistent(s, "system text", err);
            if (rc == QS_OK) rc = tokenize(s, prev, lp, &s->delta, err);
        }
        s->n_head_tok = (int)s->delta.n;
    } else {
        rc = format(s, u, false, &prev, &lp, err);
        if (rc == QS_OK && !starts_with(full, lf, prev, lp))
            rc = inconsistent(s, "a message changed the text before it", err);
    }
    if (rc == QS_OK) rc = tokenize(s, full + lp, lf - lp, &s->delta, err);
    free(full);
    free(prev);
    if (rc != QS_OK) {
        s->delta.n = 0;
        s->n_head_tok = 0;
    }
    return rc;
}

/* ================================================================ public */

int qs_chat_send(qs_chat *s, const char *text, const qs_chat_io *io, qs_chat_stats *st,
                 qs_error *err) {
    qs_chat_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    if (s->state != ST_IDLE)
        return qs_error_set(err, "chat: a turn is waiting for room in the context (shift and resume, or abandon it)");
    if (!text) return qs_error_set(err, "chat: no message");
    s->io = io ? *io : (qs_chat_io){0};
    if (push_msg(s, "user", text) != QS_OK) return oom(err);
    int rc = prepare_prompt(s, err);
    if (rc != QS_OK) {
        pop_msg(s);
        return rc;
    }
    return run_prompt(s, st, err);
}

bool qs_chat_waiting(const qs_chat *s) { return s->state != ST_IDLE; }

int qs_chat_resume(qs_chat *s, const qs_chat_io *io, qs_chat_stats *st, qs_error *err) {
    qs_chat_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    s->io = io ? *io : (qs_chat_io){0};
    if (s->state == ST_WAIT_PROMPT) return run_prompt(s, st, err);
    if (s->state != ST_WAIT_GEN) return qs_error_set(err, "chat: no turn is waiting");

    int rc = qs_infer_decode(s->ctx, &s->pending, 1, false, err);
    if (rc == QS_CTX_FULL) return ctx_full_msg(s, "no room for the rest of the reply", err);
    if (rc != QS_OK) return rc;
    s->tot.n_decoded++;
    s->pending = -1;
    s->state = ST_IDLE;
    s->ex[s->n_ex - 1].pos_end = qs_infer_n_past(s->ctx);
    if (s->stop_text || s->stop_cb || (s->n_predict >= 0 && s->n_gen_turn >= s->n_predict)) {
        st->reason = reply_reason(s, QS_STOP_LENGTH);
        return finish_reply(s, err);
    }
    qs_generate_result r;
    rc = generate_more(s, NULL, 0, &r, err);
    return after_generate(s, rc, &r, st, err);
}

void qs_chat_abandon(qs_chat *s) {
    if (s->state == ST_WAIT_PROMPT) {
        pop_msg(s);
        s->delta.n = 0;
        s->n_head_tok = 0;
        s->state = ST_IDLE;
    } else if (s->state == ST_WAIT_GEN) {
        /* the pending token's text was shown but is not in the cache: the end text decoded
         * next turn then starts with it */
        s->raw.n -= s->raw_last <= s->raw.n ? s->raw_last : s->raw.n;
        if (s->raw.p) s->raw.p[s->raw.n] = 0;
        s->pending = -1;
        qs_error e2;
        (void)finish_reply(s, &e2);
        s->ex[s->n_ex - 1].pos_end = qs_infer_n_past(s->ctx);
    }
}

int qs_chat_shift(qs_chat *s, int *n_exchanges, int *n_positions, qs_error *err) {
    if (n_exchanges) *n_exchanges = 0;
    if (n_positions) *n_positions = 0;
    const int n_past = qs_infer_n_past(s->ctx), n_ctx = qs_infer_n_ctx(s->ctx);
    int n_keep = s->head_end > 0 ? s->head_end : 0, first = 0;
    while (first < s->n_ex && s->ex[first].pinned) n_keep = s->ex[first++].pos_end;
    const int limit = s->state == ST_WAIT_GEN ? s->n_ex - 1 : s->n_ex; /* not the reply under way */
    const int half = (n_past - n_keep) / 2;

    /* room needed with exchanges [first, k) dropped */
    int k = first, freed = 0;
#define NEED(k_)                                                                                   \
    (s->state == ST_WAIT_GEN ? 1                                                                 \
     : s->state == ST_WAIT_PROMPT ? (int)((k_) == s->n_ex ? 0 : s->close.n) + (int)s->delta.n   \
                                  : 0)
    while (k < limit) {
        freed = s->ex[k].pos_end - n_keep;
        k++;
        if (n_ctx - (n_past - freed) >= NEED(k) && freed >= half) break;
    }
    if (n_ctx - (n_past - freed) < NEED(k)) {
        const int cur = s->state == ST_WAIT_GEN ? n_past - s->ex[s->n_ex - 1].pos_start : 0;
        return qs_error_set(err, "context full (%d positions): the kept start holds %d (BOS and "
                            "system prompt%s), %s%d more %s needed, and there is no older turn "
                            "to drop; use a larger context or start a new chat", n_ctx, n_keep,
                            first > 0 ? " with the first exchange" : "",
                            s->state == ST_WAIT_GEN ? "the reply under way holds " : "",
                            s->state == ST_WAIT_GEN ? cur : NEED(k),
                            s->state == ST_WAIT_GEN ? "positions and more are" : "positions are"),
               QS_CTX_FULL;
    }
#undef NEED
    if (k == first) return QS_OK;
    int rc = qs_infer_kv_shift(s->ctx, n_keep, freed, err);
    if (rc != QS_OK) return rc;
    for (int j = first; j < k; j++) {
        const int mu = s->ex[j].msg_user;
        s->msgs[mu].dropped = true;
        if (mu + 1 < s->n_msgs && !(s->replying && mu + 1 == s->n_msgs - 1)) s->msgs[mu + 1].dropped = true;
    }
    if (k == s->n_ex) s->close.n = 0; /* its end text is no longer needed */
    memmove(s->ex + first, s->ex + k, (size_t)(s->n_ex - k) * sizeof *s->ex);
    s->n_ex -= k - first;
    for (int j = first; j < s->n_ex; j++) {
        s->ex[j].pos_start -= freed;
        s->ex[j].pos_end -= freed;
    }
    if (s->state == ST_WAIT_GEN) s->reply_pos -= freed;
    s->tot.n_shifts++;
    s->tot.n_dropped += k - first;
    if (n_exchanges) *n_exchanges = k - first;
    if (n_positions) *n_positions = freed;
    return QS_OK;
}

qs_chat *qs_chat_new(qs_infer_ctx *ctx, const qs_tokenizer *tok, const qs_chat_params *p,
                     qs_error *err) {
    if (!ctx || !tok || !p) {
        qs_error_set(err, "chat: no context, tokenizer or parameters");
        return NULL;
    }
    if (p->tmpl < 0 || p->tmpl >= QS_TMPL_COUNT) {
        qs_error_set(err, "chat: unknown template family (known: %s)", qs_chat_tmpl_all_names());
        return NULL;
    }
    const qs_infer_model *m = qs_infer_ctx_model(ctx);
    if (qs_tok_n_vocab(tok) > m->hp.n_vocab) {
        qs_error_set(err, "chat: the tokenizer has %d tokens, the model only %d",
                     (int)qs_tok_n_vocab(tok), m->hp.n_vocab);
        return NULL;
    }
    qs_chat *s = calloc(1, sizeof *s);
    if (!s) {
        oom(err);
        return NULL;
    }
    s->ctx = ctx;
    s->tok = tok;
    s->tmpl = p->tmpl;
    s->n_predict = p->n_predict;
    s->head_end = -1;
    s->pending = -1;
    qs_detok_init(&s->detok, tok, 0);
    int rc = QS_OK;
    const int32_t eos = qs_tok_eos(tok);
    size_t el = 0;
    const char *et = eos >= 0 ? qs_tok_piece(tok, eos, &el) : NULL;
    if (et && el > 0) {
        s->eos_text = malloc(el + 1);
        if (s->eos_text) {
            memcpy(s->eos_text, et, el);
            s->eos_text[el] = 0;
        } else {
            rc = QS_ENOMEM;
        }
    }
    s->smp = rc == QS_OK ? qs_sampler_new(&p->sampling, m->hp.n_vocab, err) : NULL;
    if (!s->smp) {
        if (rc == QS_OK) rc = QS_ERR;
        else oom(err);
    }

    /* end of generation: the model's own tokens, and the family's end-of-turn texts (as a
     * token when the vocabulary has it, else matched in the text) */
    const char *eot[4];
    const int n_eot = qs_chat_tmpl_end_of_turn(s->tmpl, s->eos_text, eot);
    const int32_t nv = qs_tok_n_vocab(tok);
    if (rc == QS_OK) s->eog = malloc(((size_t)nv + 4) * sizeof *s->eog);
    if (rc == QS_OK && !s->eog) rc = oom(err);
    for (int32_t i = 0; rc == QS_OK && i < nv; i++)
        if (qs_tok_is_eog(tok, i)) s->eog[s->n_eog++] = i;
    for (int k = 0; rc == QS_OK && k < n_eot; k++) {
        const int32_t id = qs_tok_find(tok, eot[k], strlen(eot[k]));
        if (id >= 0) {
            if (!qs_tok_is_eog(tok, id)) s->eog[s->n_eog++] = id;
        } else {
            s->stops[s->n_stops++] = eot[k];
        }
    }
    if (rc == QS_OK && p->system && *p->system) {
        s->has_system = true;
        if (push_msg(s, "system", p->system) != QS_OK) rc = oom(err);
    }
    if (rc == QS_OK) rc = qs_infer_kv_truncate(ctx, 0, err);
    if (rc != QS_OK) {
        qs_chat_free(s);
        return NULL;
    }
    return s;
}

void qs_chat_free(qs_chat *s) {
    if (!s) return;
    for (int i = 0; i < s->n_msgs; i++) free(s->msgs[i].text);
    free(s->msgs);
    free(s->ex);
    free(s->close.p);
    free(s->delta.p);
    free(s->reply.p);
    free(s->raw.p);
    free(s->hold.p);
    qs_detok_free(&s->detok);
    qs_sampler_free(s->smp);
    free(s->eog);
    free(s->eos_text);
    free(s);
}

int qs_chat_n_messages(const qs_chat *s) { return s->n_msgs; }

const char *qs_chat_message(const qs_chat *s, int i, const char **role, bool *dropped) {
    if (i < 0 || i >= s->n_msgs) return NULL;
    if (role) *role = s->msgs[i].role;
    if (dropped) *dropped = s->msgs[i].dropped;
    if (s->msgs[i].text) return s->msgs[i].text;
    return s->reply.p ? s->reply.p : "";
}

qs_chat_totals qs_chat_get_totals(const qs_chat *s) { return s->tot; }
qs_chat_tmpl qs_chat_template(const qs_chat *s) { return s->tmpl; }

int qs_chat_n_keep(const qs_chat *s) {
    int n_keep = s->head_end > 0 ? s->head_end : 0;
    for (int j = 0; j < s->n_ex && s->ex[j].pinned; j++) n_keep = s->ex[j].pos_end;
    return n_keep;
}

/* ---------------------------------------------------------------- settings between turns */

int qs_chat_set_sampling(qs_chat *s, int n_predict, const qs_sampler_params *sp, qs_error *err) {
    if (s->state != ST_IDLE || s->replying) return qs_error_set(err, "chat: a turn is under way or waiting");
    qs_sampler *smp = qs_sampler_new(sp, qs_infer_ctx_model(s->ctx)->hp.n_vocab, err);
    if (!smp) return QS_ERR;
    qs_sampler_free(s->smp);
    s->smp = smp;
    s->n_predict = n_predict;
    return QS_OK;
}

int qs_chat_reply_tokens(const qs_chat *s) { return s->n_gen_turn; }
