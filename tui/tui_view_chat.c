/* The Chat view: a transcript with streaming replies, a line editor, A/B mode, and the
 * background job that re-quantizes for the plan and generates.
 *
 * Threads. The UI thread owns the transcript and the editor. One generation job at a time
 * (the view refuses to send while one is queued or running) owns the engine objects
 * (chat_engine: the applied model, tokenizer, contexts, sessions); the UI thread touches them
 * only in tui_chat_free, after the job runner has stopped. The job streams reply text into a
 * mutex-guarded inbox (one per side) and wakes the UI thread with at most one pending event;
 * every other report (a side started, ended, a note) is an event posted with tui_job_post, and
 * each event first empties the inbox, so text and reports reach the transcript in order.
 *
 * Plan changes. Each send compares the plan being edited with the plan of the previous send;
 * when they differ, the job first runs qs_applied_prepare (only tensors whose planned type
 * changed are converted, progress on the gauge and in the transcript, Esc cancels) and then
 * qs_applied_commit — safe there, because no context computes outside this job. The planned
 * model's KV cache then holds keys and values of the old weights: its session is discarded and
 * the next turn starts a fresh context (the earlier turns stay on screen but are no longer in
 * the model's memory; the transcript says so). Re-decoding the history instead would need the
 * chat layer to accept past replies without generating them; a fresh context is the simplest
 * state that is exactly right.
 *
 * A/B mode. The same message goes to the original model (A, left column) and then to the
 * planned one (B, right column), one after the other in the job: each side has its own context
 * and session and, running alone, all the threads, so their tokens/s compare like for like on
 * a small machine. */
#include <curses.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "applied.h"
#include "chat.h"
#include "qs_types.h"
#include "tokenizer.h"
#include "tui_chat.h"
#include "tui_planui.h"
#include "tui_plot.h"
#include "tui_ui.h"
#include "tui_wrap.h"

enum { SIDE_B = 0, SIDE_A = 1 }; /* B: the model as planned; A: the original (A/B mode) */
enum { M_B = 1, M_A = 2 };       /* item masks: which columns show an item */

enum { R_NONE = 0, R_QUEUED, R_RUNNING, R_DONE, R_STOPPED, R_FULL, R_ERROR };

enum { CHAT_CTX_DEFAULT = 2048 };
static const int limits[] = {256, 1024, -1}; /* reply limits F5 cycles through (-1: none) */

typedef struct tbuf {
    char *p;
    size_t n, cap;
} tbuf;

static bool tbuf_put(tbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return true;
}

typedef enum { IT_TURN, IT_NOTE } item_kind;

typedef struct chat_item {
    item_kind kind;
    int mask;          /* M_A / M_B */
    tui_elem elem;     /* notes: colour */
    tbuf text;         /* a note's text, or the user's message of a turn */
    bool progress;     /* note: a re-quantization under way (draw the job's gauge) */
    tbuf reply[2];     /* turns: per side */
    int state[2];      /* R_* */
    int n_tok[2];      /* reply tokens (the engine's count) */
    double tps[2];     /* tokens/s: live while running, the engine's figures after */
    char end[2][200];  /* why the reply ended (stopped, limit, context full, error) */
} chat_item;

/* Everything the job touches; the UI thread only after the runner stopped. */
typedef struct chat_engine {
    qs_applied *ap;
    qs_tokenizer *tok;
    qs_infer_ctx *ctx[2];
    qs_chat *s[2];
    int n_ctx, kv_type;        /* of the contexts */
    int n_predict[2];          /* of the sessions */
    qs_sampler_params sp[2];
} chat_engine;

typedef struct inbox_side {
    int item;
    tbuf text;
    int n_tok;
    double tps;
} inbox_side;

typedef struct tui_chat {
    chat_item *items;
    int n_items, cap_items;
    tui_edit edit;
    int scroll[2];             /* lines up from the bottom, per column (single mode: [0]) */
    bool ab, sampling;
    int limit;                 /* index into limits */
    uint64_t seed;
    bool busy, stopping, reset;
    uint64_t job_id;
    bool waiting[2];           /* a side's turn waits on a full context */
    qs_plan sent;              /* the plan of the last send (what the planned model runs) */
    bool have_sent;
    qs_chat_tmpl tmpl;         /* the model's family (UNKNOWN: run as chatml) */
    char status[256];
    bool status_warn;

    pthread_mutex_t lock;      /* guards in[] and posted */
    inbox_side in[2];
    bool posted;

    chat_engine eng;
} tui_chat;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- state --------------------------------------------------------------------------------- */

static tui_chat *chat_get(tui_ui *ui) {
    if (ui->chat) return ui->chat;
    tui_chat *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->in[0].item = c->in[1].item = -1;
    qs_plan_init(&c->sent);
    c->tmpl = qs_chat_tmpl_of_model(ui->app.model->gguf);
    c->seed = (uint64_t)time(NULL);
    snprintf(c->status, sizeof c->status, "type a message; Enter sends%s",
             c->tmpl == QS_TMPL_NONE ? " (no chat template: the model continues your text; an empty Enter continues)" : "");
    ui->chat = c;
    return c;
}

static void item_free(chat_item *it) {
    free(it->text.p);
    free(it->reply[0].p);
    free(it->reply[1].p);
}

static int item_add(tui_chat *c, item_kind k, int mask, tui_elem e, const char *text) {
    if (c->n_items == c->cap_items) {
        int cap = c->cap_items ? c->cap_items * 2 : 32;
        chat_item *p = realloc(c->items, (size_t)cap * sizeof *p);
        if (!p) return -1;
        c->items = p;
        c->cap_items = cap;
    }
    chat_item *it = &c->items[c->n_items];
    memset(it, 0, sizeof *it);
    it->kind = k;
    it->mask = mask;
    it->elem = e;
    if (text && !tbuf_put(&it->text, text, strlen(text))) {
        item_free(it);
        return -1;
    }
    if (!it->text.p) tbuf_put(&it->text, "", 0);
    return c->n_items++;
}

static void note(tui_chat *c, int mask, tui_elem e, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void note(tui_chat *c, int mask, tui_elem e, const char *fmt, ...) {
    char b[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    item_add(c, IT_NOTE, mask, e, b);
}

static void engine_free_side(chat_engine *e, int s) {
    qs_chat_free(e->s[s]);
    e->s[s] = NULL;
    qs_infer_ctx_free(e->ctx[s]);
    e->ctx[s] = NULL;
}

void tui_chat_free(tui_ui *ui) {
    tui_chat *c = ui->chat;
    if (!c) return;
    for (int s = 0; s < 2; s++) {
        engine_free_side(&c->eng, s);
        free(c->in[s].text.p);
    }
    qs_tok_free(c->eng.tok);
    qs_applied_free(c->eng.ap);
    for (int i = 0; i < c->n_items; i++) item_free(&c->items[i]);
    free(c->items);
    qs_plan_free(&c->sent);
    pthread_mutex_destroy(&c->lock);
    free(c);
    ui->chat = NULL;
}

/* ---- worker -> UI -------------------------------------------------------------------------- */

/* UI thread: moves streamed text from the inbox into the transcript. */
static void inbox_flush(tui_chat *c) {
    pthread_mutex_lock(&c->lock);
    for (int s = 0; s < 2; s++) {
        inbox_side *in = &c->in[s];
        if (in->item >= 0 && in->item < c->n_items) {
            chat_item *it = &c->items[in->item];
            if (in->text.n) tbuf_put(&it->reply[s], in->text.p, in->text.n);
            if (it->state[s] == R_RUNNING) {
                it->n_tok[s] = in->n_tok;
                it->tps[s] = in->tps;
            }
        }
        in->text.n = 0;
        in->item = -1; /* the next piece names its turn again */
    }
    c->posted = false;
    pthread_mutex_unlock(&c->lock);
}

static void on_inbox(void *ui, void *data) {
    (void)ui;
    inbox_flush(data);
}

typedef enum { EV_SIDE_START, EV_SIDE_END, EV_NOTE, EV_NOTE_SET } ev_kind;

typedef struct chat_ev {
    tui_chat *c;
    ev_kind kind;
    int item, side;
    int state, n_tok;
    double tps;
    int mask;
    tui_elem elem;
    bool applied_failed;
    char text[768];
} chat_ev;

static void on_event(void *uip, void *data) {
    (void)uip;
    chat_ev *ev = data;
    tui_chat *c = ev->c;
    inbox_flush(c);
    chat_item *it = ev->item >= 0 && ev->item < c->n_items ? &c->items[ev->item] : NULL;
    switch (ev->kind) {
    case EV_SIDE_START:
        if (it) {
            it->state[ev->side] = R_RUNNING;
            it->end[ev->side][0] = 0;
        }
        break;
    case EV_SIDE_END:
        if (it) {
            it->state[ev->side] = ev->state;
            it->n_tok[ev->side] = ev->n_tok;
            if (ev->tps > 0) it->tps[ev->side] = ev->tps; /* else the live figure stays */
            snprintf(it->end[ev->side], sizeof it->end[ev->side], "%.199s", ev->text);
        }
        c->waiting[ev->side] = ev->state == R_FULL;
        break;
    case EV_NOTE: item_add(c, IT_NOTE, ev->mask, ev->elem, ev->text); break;
    case EV_NOTE_SET:
        if (it) {
            it->text.n = 0;
            tbuf_put(&it->text, ev->text, strlen(ev->text));
            it->elem = ev->elem;
            it->progress = false;
        }
        if (ev->applied_failed) c->have_sent = false;
        break;
    }
    free(ev);
}

static void post_ev(tui_job *job, tui_chat *c, const chat_ev *tmpl) {
    chat_ev *ev = malloc(sizeof *ev);
    if (!ev) return;
    *ev = *tmpl;
    ev->c = c;
    if (tui_job_post(job, on_event, ev) != QS_OK) free(ev);
}

/* ---- the generation job -------------------------------------------------------------------- */

typedef struct gen_job {
    tui_chat *c;
    const qs_model *model;
    int item;              /* the turn */
    int note;              /* the re-quantization note, or -1 */
    char *text;            /* the message; NULL: shift and resume the waiting sides */
    int mask;              /* sides to run */
    bool apply;            /* apply plan first */
    bool reset;            /* new conversation: drop both sessions first */
    qs_plan plan;
    int n_ctx, kv_type, n_predict;
    qs_chat_tmpl tmpl;
    qs_sampler_params sp;
} gen_job;

typedef struct stream {
    tui_chat *c;
    tui_job *job;
    int side, item;
    qs_chat *s;
    double t_first;
    int n_first;
} stream;

/* Worker: a piece of reply text. Live tokens/s counts the engine's reply tokens since the
 * first piece of this call (the prompt's time is not in it); the final figure replaces it. */
static int on_text(void *user, const char *t, size_t n) {
    stream *st = user;
    tui_chat *c = st->c;
    int n_tok = qs_chat_reply_tokens(st->s);
    double now = now_ms();
    if (st->t_first == 0) {
        st->t_first = now;
        st->n_first = n_tok;
    }
    double tps = now > st->t_first ? (n_tok - st->n_first) * 1e3 / (now - st->t_first) : 0;
    bool post = false;
    pthread_mutex_lock(&c->lock);
    inbox_side *in = &c->in[st->side];
    in->item = st->item;
    tbuf_put(&in->text, t, n);
    in->n_tok = n_tok;
    in->tps = tps;
    if (!c->posted) post = c->posted = true;
    pthread_mutex_unlock(&c->lock);
    if (post && tui_job_post(st->job, on_inbox, c) != QS_OK) {
        pthread_mutex_lock(&c->lock);
        c->posted = false; /* the next piece or event carries the text */
        pthread_mutex_unlock(&c->lock);
    }
    return 0;
}

static const char *side_name(int s) { return s == SIDE_A ? "original" : "planned"; }

/* Worker: the end of one side's call (send or resume) as an event. */
static void side_end(tui_job *job, gen_job *g, int side, int rc, const qs_chat_stats *st, const qs_error *err) {
    chat_ev ev = {.kind = EV_SIDE_END, .item = g->item, .side = side};
    ev.n_tok = qs_chat_reply_tokens(g->c->eng.s[side]);
    ev.tps = st && st->gen_ms > 0 ? st->n_gen * 1e3 / st->gen_ms : 0;
    if (rc == QS_OK) {
        switch (st->reason) {
        case QS_STOP_FLAG: ev.state = R_STOPPED; snprintf(ev.text, sizeof ev.text, "stopped"); break;
        case QS_STOP_LENGTH:
            ev.state = R_DONE;
            snprintf(ev.text, sizeof ev.text, "reply limit (F5)");
            break;
        case QS_STOP_CTX_FULL: ev.state = R_DONE; snprintf(ev.text, sizeof ev.text, "cut: context full"); break;
        default: ev.state = R_DONE; break;
        }
    } else if (rc == QS_CTX_FULL) {
        ev.state = R_FULL;
        snprintf(ev.text, sizeof ev.text, "%s", err->msg);
    } else if (rc == QS_CANCELLED) {
        ev.state = R_STOPPED;
        snprintf(ev.text, sizeof ev.text, "stopped before the reply began (the message is not in the model's context)");
    } else {
        ev.state = R_ERROR;
        snprintf(ev.text, sizeof ev.text, "%s", err->msg);
    }
    post_ev(job, g->c, &ev);
}

/* Worker: a context and session for a side with the job's settings. */
static int ensure_side(gen_job *g, int side, qs_error *err) {
    chat_engine *e = &g->c->eng;
    if (!e->ctx[side]) {
        qs_infer_params ip = qs_infer_default_params();
        ip.n_ctx = g->n_ctx;
        ip.kv_type = g->kv_type;
        const qs_infer_model *m = side == SIDE_A ? qs_applied_original(e->ap) : qs_applied_planned(e->ap);
        e->ctx[side] = qs_infer_ctx_new(m, &ip, err);
        if (!e->ctx[side]) return QS_ERR;
    }
    if (!e->s[side]) {
        qs_chat_params cp = {.tmpl = g->tmpl, .n_predict = g->n_predict, .sampling = g->sp};
        e->s[side] = qs_chat_new(e->ctx[side], e->tok, &cp, err);
        if (!e->s[side]) return QS_ERR;
    } else if (e->n_predict[side] != g->n_predict || memcmp(&e->sp[side], &g->sp, sizeof g->sp) != 0) {
        if (qs_chat_waiting(e->s[side])) qs_chat_abandon(e->s[side]);
        if (qs_chat_set_sampling(e->s[side], g->n_predict, &g->sp, err) != QS_OK) return QS_ERR;
    }
    e->n_predict[side] = g->n_predict;
    e->sp[side] = g->sp;
    return QS_OK;
}

static int run_gen(tui_job *job, void *arg, qs_error *err) {
    gen_job *g = arg;
    tui_chat *c = g->c;
    chat_engine *e = &c->eng;
    chat_ev ev;
    if (!e->tok && !(e->tok = qs_tok_load(g->model->gguf, err))) return QS_ERR;
    if (!e->ap && !(e->ap = qs_applied_new(g->model, err))) return QS_ERR;
    if (g->reset)
        for (int s = 0; s < 2; s++) engine_free_side(e, s);

    if (g->apply) {
        tui_job_set_label(job, "re-quantizing");
        qs_applied_opts o = {0};
        o.progress = tui_job_progress;
        o.progress_user = job;
        o.cancel = tui_job_cancel_flag(job);
        qs_applied_stats st;
        double t0 = now_ms();
        int rc = qs_applied_prepare(e->ap, &g->plan, &o, &st, err);
        /* commit while no context computes: every context of this view is used only here */
        if (rc == QS_OK) rc = qs_applied_commit(e->ap, err);
        memset(&ev, 0, sizeof ev);
        ev.kind = EV_NOTE_SET;
        ev.item = g->note;
        if (rc != QS_OK) {
            ev.applied_failed = true;
            ev.elem = rc == QS_CANCELLED ? TUI_C_WARN : TUI_C_ERROR;
            if (rc == QS_CANCELLED)
                snprintf(ev.text, sizeof ev.text, "re-quantization stopped: the model is as it was; the next message tries again");
            else
                snprintf(ev.text, sizeof ev.text, "the plan cannot be applied: %s", err->msg);
            post_ev(job, c, &ev);
            for (int s = 0; s < 2; s++)
                if (g->mask & (s == SIDE_A ? M_A : M_B)) {
                    chat_ev se = {.kind = EV_SIDE_END, .item = g->item, .side = s, .state = R_STOPPED};
                    snprintf(se.text, sizeof se.text, "not sent");
                    post_ev(job, c, &se);
                }
            return rc == QS_CANCELLED ? QS_CANCELLED : QS_OK; /* the note says why */
        }
        bool changed = st.n_redone > 0 || st.n_freed > 0;
        bool had = e->s[SIDE_B] && qs_chat_n_messages(e->s[SIDE_B]) > 0;
        if (changed && e->s[SIDE_B]) {
            qs_chat_free(e->s[SIDE_B]);
            e->s[SIDE_B] = NULL;
        }
        char bytes[32];
        tui_fmt_bytes(st.bytes_redone, bytes, sizeof bytes);
        ev.elem = TUI_C_OK;
        snprintf(ev.text, sizeof ev.text,
                 "plan applied: %d tensor%s re-quantized (%s) in %.0f ms, %d kept, %d as stored%s%s", st.n_redone,
                 st.n_redone == 1 ? "" : "s", bytes, now_ms() - t0, st.n_reused, st.n_mmap,
                 changed && had ? ". KV cache reset: the planned model starts a fresh context (earlier turns stay "
                                  "on screen, not in its memory)"
                                : "",
                 changed && had ? "" : ".");
        post_ev(job, c, &ev);
        tui_job_set_label(job, "generating");
    }

    if (g->n_ctx != e->n_ctx || g->kv_type != e->kv_type) {
        bool had = false;
        for (int s = 0; s < 2; s++) {
            had |= e->s[s] && qs_chat_n_messages(e->s[s]) > 0;
            engine_free_side(e, s);
        }
        if (had && g->text) {
            memset(&ev, 0, sizeof ev);
            ev.kind = EV_NOTE;
            ev.mask = M_A | M_B;
            ev.elem = TUI_C_WARN;
            snprintf(ev.text, sizeof ev.text, "context %d tokens, KV cache %s: new contexts (earlier turns are not in the models' memory)",
                     g->n_ctx, qs_type_name(g->kv_type));
            post_ev(job, c, &ev);
        }
        e->n_ctx = g->n_ctx;
        e->kv_type = g->kv_type;
    }

    static const int order[2] = {SIDE_A, SIDE_B}; /* left column first */
    for (int k = 0; k < 2; k++) {
        int s = order[k];
        if (!(g->mask & (s == SIDE_A ? M_A : M_B))) continue;
        if (tui_job_cancelled(job)) {
            chat_ev se = {.kind = EV_SIDE_END, .item = g->item, .side = s, .state = R_STOPPED};
            snprintf(se.text, sizeof se.text, "stopped");
            post_ev(job, c, &se);
            continue;
        }
        qs_chat_stats st = {0};
        int rc = ensure_side(g, s, err);
        if (rc != QS_OK) {
            side_end(job, g, s, rc, &st, err);
            continue;
        }
        if (!g->text && !qs_chat_waiting(e->s[s])) continue;
        tui_job_set_label(job, s == SIDE_A ? "generating (original)" : "generating");
        chat_ev se = {.kind = EV_SIDE_START, .item = g->item, .side = s};
        post_ev(job, c, &se);
        stream sm = {.c = c, .job = job, .side = s, .item = g->item, .s = e->s[s]};
        qs_chat_io io = {.on_text = on_text, .user = &sm, .stop = tui_job_cancel_flag(job)};
        if (g->text) {
            if (qs_chat_waiting(e->s[s])) qs_chat_abandon(e->s[s]);
            rc = qs_chat_send(e->s[s], g->text, &io, &st, err);
        } else {
            int nx = 0, np = 0;
            rc = qs_chat_shift(e->s[s], &nx, &np, err);
            memset(&ev, 0, sizeof ev);
            ev.kind = EV_NOTE;
            ev.mask = s == SIDE_A ? M_A : M_B;
            if (rc == QS_OK) {
                ev.elem = TUI_C_OK;
                snprintf(ev.text, sizeof ev.text, "%s: dropped the oldest %d turn%s (%d positions) and continued", side_name(s),
                         nx, nx == 1 ? "" : "s", np);
                post_ev(job, c, &ev);
                rc = qs_chat_resume(e->s[s], &io, &st, err);
            } else {
                ev.elem = TUI_C_ERROR;
                snprintf(ev.text, sizeof ev.text, "%s: %s; the reply ends here", side_name(s), err->msg);
                post_ev(job, c, &ev);
                qs_chat_abandon(e->s[s]);
                st.reason = QS_STOP_CTX_FULL;
                rc = QS_OK;
            }
        }
        side_end(job, g, s, rc, &st, err);
    }
    return QS_OK;
}

/* UI thread: the job ended (also when cancelled, superseded or never started). */
static void gen_done(void *uip, void *arg, int status, const char *msg) {
    tui_ui *ui = uip;
    gen_job *g = arg;
    tui_chat *c = ui->chat;
    if (c) {
        inbox_flush(c);
        c->busy = false;
        c->stopping = false;
        if (g->item >= 0 && g->item < c->n_items) {
            chat_item *it = &c->items[g->item];
            for (int s = 0; s < 2; s++)
                if (it->state[s] == R_QUEUED || it->state[s] == R_RUNNING) {
                    it->state[s] = R_STOPPED;
                    snprintf(it->end[s], sizeof it->end[s], "stopped");
                }
        }
        if (g->note >= 0 && g->note < c->n_items && c->items[g->note].progress) {
            chat_item *it = &c->items[g->note];
            it->progress = false;
            it->text.n = 0;
            tbuf_put(&it->text, "re-quantization stopped: the model is as it was", 47);
            it->elem = TUI_C_WARN;
            c->have_sent = false;
        }
        if (status != QS_OK && status != QS_CANCELLED) {
            note(c, M_A | M_B, TUI_C_ERROR, "chat: %s", msg);
            c->have_sent = false;
        }
    }
    free(g->text);
    qs_plan_free(&g->plan);
    free(g);
}

/* ---- actions (UI thread) ------------------------------------------------------------------- */

static void set_status(tui_chat *c, bool warn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_status(tui_chat *c, bool warn, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->status, sizeof c->status, fmt, ap);
    va_end(ap);
    c->status_warn = warn;
}

/* The engine settings a send runs with (see the man page): context = the plan's, else 2048,
 * never above the training context; KV type = the plan's when the engine has it, else F16. */
static void run_settings(const tui_ui *ui, int *n_ctx, int *kv, bool *kv_fallback) {
    const qs_plan *p = &ui->app.plan;
    int64_t train = ui->app.model->hp.n_ctx_train;
    int64_t n = p->context > 0 ? p->context : CHAT_CTX_DEFAULT;
    if (train > 0 && n > train) n = train;
    if (n < 16) n = 16;
    *n_ctx = (int)n;
    bool ok = p->kv_type == QS_TYPE_F16 || p->kv_type == QS_TYPE_F32 || p->kv_type == QS_TYPE_Q8_0;
    *kv = ok ? (int)p->kv_type : QS_TYPE_F16;
    *kv_fallback = !ok;
}

static qs_sampler_params run_sampling(const tui_chat *c) {
    qs_sampler_params sp = qs_sampler_default_params();
    if (!c->sampling) sp.temperature = 0; /* greedy */
    sp.seed = c->seed;
    return sp;
}

static bool submit(tui_ui *ui, tui_chat *c, gen_job *g) {
    g->c = c;
    g->model = ui->app.model;
    g->tmpl = c->tmpl == QS_TMPL_UNKNOWN ? QS_TMPL_CHATML : c->tmpl;
    bool kvf;
    run_settings(ui, &g->n_ctx, &g->kv_type, &kvf);
    g->n_predict = limits[c->limit];
    g->sp = run_sampling(c);
    tui_job_desc d = {.label = g->apply ? "re-quantizing" : "generating", .key = TUI_JOB_KEY_GENERATE,
                      .run = run_gen, .done = gen_done, .arg = g,
                      .foreground = true}; /* a reply never waits behind error refinement */
    c->job_id = tui_jobs_submit(&ui->jobs, &d);
    if (!c->job_id) {
        free(g->text);
        qs_plan_free(&g->plan);
        free(g);
        set_status(c, true, "cannot start the generation (out of memory)");
        return false;
    }
    c->busy = true;
    c->scroll[0] = c->scroll[1] = 0;
    return true;
}

static void chat_send(tui_ui *ui, tui_chat *c) {
    if (c->busy) {
        set_status(c, true, "a reply is under way: Esc stops it");
        return;
    }
    if (c->edit.len == 0 && c->tmpl != QS_TMPL_NONE) {
        set_status(c, false, "type a message first");
        return;
    }
    gen_job *g = calloc(1, sizeof *g);
    if (!g) return;
    qs_plan_init(&g->plan);
    g->note = -1;
    g->mask = c->ab ? M_A | M_B : M_B;
    g->reset = c->reset;
    g->text = strdup(c->edit.buf);
    bool apply = !c->have_sent || !qs_plan_equal(&ui->app.plan, &c->sent);
    if (!g->text || (apply && qs_plan_copy(&g->plan, &ui->app.plan) != QS_OK)) {
        free(g->text);
        free(g);
        set_status(c, true, "out of memory");
        return;
    }
    g->apply = apply;
    if (apply) {
        qs_plan_free(&c->sent);
        if (qs_plan_copy(&c->sent, &ui->app.plan) == QS_OK) c->have_sent = true;
        else c->have_sent = false;
        g->note = item_add(c, IT_NOTE, M_B, TUI_C_DIM, "re-quantizing the changed tensors for the plan...");
        if (g->note >= 0) c->items[g->note].progress = true;
        c->waiting[SIDE_B] = false;
    }
    g->item = item_add(c, IT_TURN, g->mask, TUI_C_TEXT, c->edit.buf);
    if (g->item < 0) {
        free(g->text);
        qs_plan_free(&g->plan);
        free(g);
        return;
    }
    for (int s = 0; s < 2; s++)
        if (g->mask & (s == SIDE_A ? M_A : M_B)) {
            c->items[g->item].state[s] = R_QUEUED;
            c->waiting[s] = false;
        }
    if (submit(ui, c, g)) {
        c->reset = false;
        tui_edit_clear(&c->edit);
        set_status(c, false, "%s", "");
    }
}

static void chat_continue(tui_ui *ui, tui_chat *c) {
    if (c->busy) return;
    int mask = (c->waiting[SIDE_A] ? M_A : 0) | (c->waiting[SIDE_B] ? M_B : 0);
    if (!mask) {
        set_status(c, false, "nothing waits on a full context");
        return;
    }
    /* the waiting turn is the last turn item */
    int item = -1;
    for (int i = c->n_items - 1; i >= 0 && item < 0; i--)
        if (c->items[i].kind == IT_TURN) item = i;
    gen_job *g = calloc(1, sizeof *g);
    if (!g || item < 0) {
        free(g);
        return;
    }
    qs_plan_init(&g->plan);
    g->note = -1;
    g->item = item;
    g->mask = mask;
    for (int s = 0; s < 2; s++)
        if (mask & (s == SIDE_A ? M_A : M_B)) c->items[item].state[s] = R_QUEUED;
    submit(ui, c, g);
}

static void chat_stop(tui_ui *ui, tui_chat *c) {
    if (!c->busy && tui_export_running(ui)) { /* Esc cancels an export in every view */
        tui_export_cancel(ui);
        return;
    }
    if (!c->busy) {
        set_status(c, false, "nothing to stop");
        return;
    }
    tui_jobs_cancel(&ui->jobs, c->job_id);
    c->stopping = true;
}

static void chat_new(tui_chat *c) {
    if (c->busy) {
        set_status(c, true, "a reply is under way: Esc stops it first");
        return;
    }
    for (int i = 0; i < c->n_items; i++) item_free(&c->items[i]);
    c->n_items = 0;
    c->reset = true; /* the next job drops both sessions */
    c->waiting[0] = c->waiting[1] = false;
    c->scroll[0] = c->scroll[1] = 0;
    set_status(c, false, "new conversation: the next message starts fresh contexts");
}

/* ---- keys ---------------------------------------------------------------------------------- */

void tui_chat_scroll(tui_ui *ui, int delta) {
    tui_chat *c = chat_get(ui);
    if (!c) return;
    for (int s = 0; s < 2; s++) c->scroll[s] -= delta; /* clamped when drawn */
}

bool tui_chat_key(tui_ui *ui, int ch) {
    tui_chat *c = chat_get(ui);
    if (!c) return false;
    tui_edit *e = &c->edit;
    switch (ch) {
    case KEY_LEFT: tui_edit_left(e); return true;
    case KEY_RIGHT: tui_edit_right(e); return true;
    case KEY_HOME: case 1 /* ^A */: tui_edit_home(e); return true;
    case KEY_END: case 5 /* ^E */: tui_edit_end(e); return true;
    case KEY_BACKSPACE: case 127: case 8: tui_edit_backspace(e); return true;
    case KEY_DC: tui_edit_delete(e); return true;
    case 21 /* ^U */: tui_edit_clear(e); return true;
    default: break;
    }
    int page = ui->body_h > 2 ? ui->body_h - 1 : 1;
    switch (tui_key_action(ch, TUI_VIEW_CHAT)) {
    case TUI_ACT_CHAT_SEND: chat_send(ui, c); return true;
    case TUI_ACT_CHAT_STOP: chat_stop(ui, c); return true;
    case TUI_ACT_CHAT_AB:
        c->ab = !c->ab;
        set_status(c, false, c->ab ? "A/B mode: each message goes to the original model (left) and the planned one (right)"
                                   : "A/B mode off: messages go to the planned model");
        return true;
    case TUI_ACT_CHAT_SAMPLING:
        c->sampling = !c->sampling;
        c->seed = (uint64_t)time(NULL);
        set_status(c, false, c->sampling ? "sampling: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05 (from the next reply)"
                                         : "greedy: always the likeliest token (from the next reply)");
        return true;
    case TUI_ACT_CHAT_LIMIT:
        c->limit = (c->limit + 1) % (int)(sizeof limits / sizeof *limits);
        if (limits[c->limit] < 0) set_status(c, false, "reply limit: none (until the end of the turn or a full context)");
        else set_status(c, false, "reply limit: %d tokens", limits[c->limit]);
        return true;
    case TUI_ACT_CHAT_CONTINUE: chat_continue(ui, c); return true;
    case TUI_ACT_CHAT_NEW: chat_new(c); return true;
    case TUI_ACT_UP: tui_chat_scroll(ui, -1); return true;
    case TUI_ACT_DOWN: tui_chat_scroll(ui, +1); return true;
    case TUI_ACT_PGUP: tui_chat_scroll(ui, -page); return true;
    case TUI_ACT_PGDN: tui_chat_scroll(ui, +page); return true;
    default: break;
    }
    if (ch >= 32 && ch <= 255 && ch != 127) { /* text; UTF-8 arrives a byte at a time */
        char b = (char)ch;
        if (!tui_edit_insert(e, &b, 1)) set_status(c, true, "the message is at its longest");
        return true;
    }
    return false;
}

/* ---- drawing ------------------------------------------------------------------------------- */

typedef struct span {
    int end; /* byte offset where the span ends */
    tui_elem e;
} span;

typedef struct para {
    const char *text;
    size_t n;
    span sp[3];
    int n_sp;
    bool gauge;   /* a progress gauge line instead of text */
} para;

typedef struct dline {
    int para;
    int start, len;
} dline;

typedef struct layout {
    para *p;
    int n_p, cap_p;
    dline *l;
    int n_l, cap_l;
    char **owned; /* joined texts */
    int n_owned, cap_owned;
} layout;

static void layout_free(layout *L) {
    for (int i = 0; i < L->n_owned; i++) free(L->owned[i]);
    free(L->owned);
    free(L->p);
    free(L->l);
    memset(L, 0, sizeof *L);
}

static para *add_para(layout *L, const char *text, size_t n) {
    if (L->n_p == L->cap_p) {
        int cap = L->cap_p ? L->cap_p * 2 : 64;
        para *p = realloc(L->p, (size_t)cap * sizeof *p);
        if (!p) return NULL;
        L->p = p;
        L->cap_p = cap;
    }
    para *p = &L->p[L->n_p++];
    memset(p, 0, sizeof *p);
    p->text = text;
    p->n = n;
    return p;
}

static void add_span(para *p, int end, tui_elem e) {
    if (p && p->n_sp < 3) p->sp[p->n_sp++] = (span){end, e};
}

static const char *own(layout *L, char *s) {
    if (!s) return "";
    if (L->n_owned == L->cap_owned) {
        int cap = L->cap_owned ? L->cap_owned * 2 : 16;
        char **o = realloc(L->owned, (size_t)cap * sizeof *o);
        if (!o) {
            free(s);
            return "";
        }
        L->owned = o;
        L->cap_owned = cap;
    }
    L->owned[L->n_owned++] = s;
    return s;
}

static char *joinf(const char *a, size_t na, const char *b, size_t nb) {
    char *s = malloc(na + nb + 1);
    if (!s) return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb);
    s[na + nb] = 0;
    return s;
}

static void text_para(layout *L, tui_elem e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void text_para(layout *L, tui_elem e, const char *fmt, ...) {
    char b[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    char *s = strdup(b);
    const char *t = own(L, s);
    para *p = add_para(L, t, strlen(t));
    add_span(p, (int)strlen(t), e);
}

/* The paragraphs of one column (side s). */
static void build(const tui_chat *c, int side, layout *L) {
    const int m = side == SIDE_A ? M_A : M_B;
    const bool completion = c->tmpl == QS_TMPL_NONE;
    for (int i = 0; i < c->n_items; i++) {
        const chat_item *it = &c->items[i];
        if (!(it->mask & m)) continue;
        if (it->kind == IT_NOTE) {
            para *p = add_para(L, it->text.p, it->text.n);
            add_span(p, (int)it->text.n, it->elem);
            if (it->progress) {
                p = add_para(L, "", 0);
                if (p) p->gauge = true;
            }
            add_para(L, "", 0);
            continue;
        }
        const tbuf *r = &it->reply[side];
        const char *rt = r->p ? r->p : "";
        size_t rn = r->n;
        if (completion) {
            /* the model continues the text: prompt and continuation read as one */
            const char *t = own(L, joinf(it->text.p, it->text.n, rt, rn));
            para *p = add_para(L, t, it->text.n + rn);
            add_span(p, (int)it->text.n, TUI_C_CHANGED);
            add_span(p, (int)(it->text.n + rn), TUI_C_TEXT);
        } else {
            static const char you[] = "you: ", model[] = "model: ";
            const char *t = own(L, joinf(you, 5, it->text.p, it->text.n));
            para *p = add_para(L, t, 5 + it->text.n);
            add_span(p, 5, TUI_C_TITLE);
            add_span(p, (int)(5 + it->text.n), TUI_C_CHANGED);
            while (rn && (*rt == ' ' || *rt == '\n' || *rt == '\t' || *rt == '\r')) rt++, rn--;
            t = own(L, joinf(model, 7, rt, rn));
            p = add_para(L, t, 7 + rn);
            add_span(p, 7, TUI_C_TITLE);
            add_span(p, (int)(7 + rn), TUI_C_TEXT);
        }
        int st = it->state[side];
        char fig[64] = "";
        if (it->n_tok[side] > 0 || st == R_DONE)
            snprintf(fig, sizeof fig, "%d token%s, %.1f t/s", it->n_tok[side], it->n_tok[side] == 1 ? "" : "s", it->tps[side]);
        switch (st) {
        case R_QUEUED: text_para(L, TUI_C_DIM, "[waiting]"); break;
        case R_RUNNING: text_para(L, TUI_C_DIM, "[generating%s%s]", fig[0] ? ": " : "", fig); break;
        case R_DONE: text_para(L, TUI_C_DIM, "[%s%s%s]", fig, it->end[side][0] ? "; " : "", it->end[side]); break;
        case R_STOPPED: text_para(L, TUI_C_WARN, "[%s%s%s]", it->end[side], fig[0] ? "; " : "", fig); break;
        case R_FULL:
            text_para(L, TUI_C_WARN, "[%s%s%s] F4 drops the oldest turns and continues", it->end[side], fig[0] ? "; " : "", fig);
            break;
        case R_ERROR: text_para(L, TUI_C_ERROR, "[error: %s]", it->end[side]); break;
        default: break;
        }
        add_para(L, "", 0);
    }
}

static void wrap_all(layout *L, int width) {
    for (int i = 0; i < L->n_p; i++) {
        const para *p = &L->p[i];
        int n = p->gauge ? 1 : tui_wrap(p->text, p->n, width, NULL, 0);
        if (L->n_l + n > L->cap_l) {
            int cap = L->cap_l ? L->cap_l : 256;
            while (cap < L->n_l + n) cap *= 2;
            dline *d = realloc(L->l, (size_t)cap * sizeof *d);
            if (!d) return;
            L->l = d;
            L->cap_l = cap;
        }
        if (p->gauge) {
            L->l[L->n_l++] = (dline){i, 0, 0};
            continue;
        }
        tui_wline stackw[64];
        tui_wline *w = n <= 64 ? stackw : malloc((size_t)n * sizeof *w);
        if (!w) return;
        tui_wrap(p->text, p->n, width, w, n);
        for (int k = 0; k < n; k++) L->l[L->n_l++] = (dline){i, w[k].start, w[k].len};
        if (w != stackw) free(w);
    }
}

static tui_elem span_at(const para *p, int off) {
    for (int k = 0; k < p->n_sp; k++)
        if (off < p->sp[k].end) return p->sp[k].e;
    return p->n_sp ? p->sp[p->n_sp - 1].e : TUI_C_TEXT;
}

/* Draws bytes [start, start + len) of text at (y, x), substituting what the terminal cannot
 * show, in the spans' colours, padded to w columns. */
static void draw_run(const tui_screen *s, int y, int x, int w, const para *p, int start, int len) {
    move(y, x);
    int col = 0, i = start, end = start + len;
    while (i < end && col < w) {
        uint32_t cp;
        int cw;
        bool sub;
        int b = tui_utf8_char(p->text + i, (size_t)(end - i), &cp, &cw, &sub);
        if (col + cw > w) break;
        attrset((attr_t)tui_attr(s, span_at(p, i)));
        if (sub) addch(cp == '\t' ? ' ' : '?');
        else if (cp >= 0x80 && !s->utf8)
            for (int k = 0; k < cw; k++) addch('?');
        else if (cw > 0 || s->utf8) addnstr(p->text + i, b);
        col += cw;
        i += b;
    }
    attrset((attr_t)tui_attr(s, TUI_C_TEXT));
    for (; col < w; col++) addch(' ');
    attrset(A_NORMAL);
}

static void draw_gauge(tui_ui *ui, int y, int x, int w) {
    tui_job_info info[8];
    int n = tui_jobs_list(&ui->jobs, info, 8);
    uint64_t done = 0, total = 0;
    for (int i = 0; i < n; i++)
        if (info[i].id == ui->chat->job_id) {
            done = info[i].done;
            total = info[i].total;
        }
    int pct = tui_gauge_percent(done, total);
    char tail[16];
    snprintf(tail, sizeof tail, pct < 0 ? " ..." : " %d%%", pct);
    int bw = w - 2 - (int)strlen(tail);
    tui_text(&ui->scr, y, x, w, TUI_C_TEXT, "", true);
    if (bw < 4) return;
    tui_text(&ui->scr, y, x, 1, TUI_C_DIM, "[", false);
    uint64_t part[1] = {(uint64_t)tui_gauge_fill(done, total, bw)};
    tui_elem el[1] = {TUI_C_BAR_WEIGHTS_DEVICE};
    tui_meter(&ui->scr, y, x + 1, bw, part, el, 1, (uint64_t)bw);
    tui_text(&ui->scr, y, x + 1 + bw, 1, TUI_C_DIM, "]", false);
    tui_text(&ui->scr, y, x + 2 + bw, w - 2 - bw, TUI_C_DIM, tail, false);
}

/* One column of transcript in rows [y, y + h), columns [x, x + w). */
static void draw_column(tui_ui *ui, tui_chat *c, int side, int y, int x, int w, int h) {
    layout L = {0};
    build(c, side, &L);
    wrap_all(&L, w);
    int *up = &c->scroll[side == SIDE_A ? 1 : 0];
    int top = tui_scroll_top(L.n_l, h, up);
    for (int r = 0; r < h; r++) {
        int i = top + r;
        if (i >= L.n_l) {
            tui_text(&ui->scr, y + r, x, w, TUI_C_TEXT, "", true);
            continue;
        }
        const dline *d = &L.l[i];
        const para *p = &L.p[d->para];
        if (p->gauge) draw_gauge(ui, y + r, x, w);
        else draw_run(&ui->scr, y + r, x, w, p, d->start, d->len);
    }
    if (*up > 0 && h > 0) /* say that newer lines are below */
        tui_textf(&ui->scr, y + h - 1, x + (w > 24 ? w - 24 : 0), w > 24 ? 24 : w, TUI_C_WARN, true, " [%d more lines below] ", *up);
    layout_free(&L);
}

static const char *plan_name(const tui_ui *ui, char *buf, size_t n) {
    const char *pp = ui->app.plan_path;
    const char *b = pp[0] ? strrchr(pp, '/') : NULL;
    b = b ? b + 1 : pp[0] ? pp : "(new plan)";
    snprintf(buf, n, "%.250s%s", b, tui_app_dirty(&ui->app) ? " [modified]" : "");
    return buf;
}

static void last_tps(const tui_chat *c, int side, char *buf, size_t n) {
    buf[0] = 0;
    for (int i = c->n_items - 1; i >= 0; i--) {
        const chat_item *it = &c->items[i];
        if (it->kind == IT_TURN && it->state[side] != R_NONE && it->state[side] != R_QUEUED) {
            if (it->n_tok[side] > 0) snprintf(buf, n, "  %.1f t/s", it->tps[side]);
            return;
        }
    }
}

void tui_chat_draw(tui_ui *ui, int y, int h) {
    tui_chat *c = chat_get(ui);
    const tui_screen *s = &ui->scr;
    int w = ui->cols;
    ui->body_y = y;
    ui->body_h = 0;
    if (!c) {
        tui_text(s, y, 0, w, TUI_C_ERROR, "out of memory", true);
        return;
    }
    if (h < 4) return;
    /* header: what the replies run under */
    char pn[300];
    plan_name(ui, pn, sizeof pn);
    int n_ctx, kv;
    bool kvf;
    run_settings(ui, &n_ctx, &kv, &kvf);
    bool pending = !c->have_sent || !qs_plan_equal(&ui->app.plan, &c->sent);
    char lim[32];
    if (limits[c->limit] < 0) snprintf(lim, sizeof lim, "no limit");
    else snprintf(lim, sizeof lim, "limit %d", limits[c->limit]);
    const char *tm = c->tmpl == QS_TMPL_NONE ? "completion (no chat template)"
                     : c->tmpl == QS_TMPL_UNKNOWN ? "template not recognised: chatml"
                                                 : qs_chat_tmpl_name(c->tmpl);
    tui_textf(s, y, 0, w, TUI_C_TITLE, true, "plan %s%s | %s | ctx %d | KV %s%s | %s | %s%s", pn,
              pending && c->have_sent ? " (re-quantizes before the next reply)" : "", tm, n_ctx, qs_type_name(kv),
              kvf ? " (plan's KV type not in the engine)" : "", c->sampling ? "sampling t=0.8" : "greedy", lim,
              c->ab ? " | A/B" : "");
    int ty = y + 1, th = h - 3;
    ui->body_y = ty;
    ui->body_h = th;
    if (c->ab) {
        int lw, rw;
        tui_split2(w, 1, &lw, &rw);
        char ta[32], tb[32];
        last_tps(c, SIDE_A, ta, sizeof ta);
        last_tps(c, SIDE_B, tb, sizeof tb);
        tui_textf(s, ty, 0, lw, TUI_C_HEADER, true, " A original (as stored)%s", ta);
        tui_text(s, ty, lw, 1, TUI_C_BORDER, " ", false);
        tui_textf(s, ty, lw + 1, rw, TUI_C_HEADER, true, " B planned: %s%s", pn, tb);
        if (th > 1) {
            draw_column(ui, c, SIDE_A, ty + 1, 0, lw, th - 1);
            draw_column(ui, c, SIDE_B, ty + 1, lw + 1, rw, th - 1);
            for (int r = 1; r < th; r++) tui_text(s, ty + r, lw, 1, TUI_C_BORDER, s->utf8 ? "\u2502" : "|", false);
        }
    } else {
        draw_column(ui, c, SIDE_B, ty, 0, w, th);
    }
    /* status: what runs, what waits, what the last key did */
    int sy = y + h - 2;
    if (c->busy) {
        char tb[32];
        last_tps(c, SIDE_B, tb, sizeof tb);
        tui_textf(s, sy, 0, w, TUI_C_WARN, true, "%s -- Esc stops", c->stopping ? "stopping..." : "working...");
    } else if (c->waiting[SIDE_A] || c->waiting[SIDE_B]) {
        tui_text(s, sy, 0, w, TUI_C_WARN,
                 "context full: F4 drops the oldest turns and continues the reply; a new message gives it up", true);
    } else {
        tui_text(s, sy, 0, w, c->status_warn ? TUI_C_WARN : TUI_C_DIM, c->status, true);
    }
    /* the input line with its cursor */
    int iy = y + h - 1;
    tui_text(s, iy, 0, 2, TUI_C_TITLE, "> ", false);
    int cur;
    int start = tui_edit_view(&c->edit, w - 2, &cur);
    para p = {.text = c->edit.buf, .n = (size_t)c->edit.len, .n_sp = 1};
    p.sp[0] = (span){c->edit.len + 1, TUI_C_TEXT};
    draw_run(s, iy, 2, w - 2, &p, start, c->edit.len - start);
    if (2 + cur < w) mvchgat(iy, 2 + cur, 1, A_REVERSE, 0, NULL);
}
