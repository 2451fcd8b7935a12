/* chat.h — a conversation with a model: messages in, streamed replies out, over one
 * inference context whose KV cache holds the history.
 *
 * Each turn feeds the model only the text the new message adds (the chat template's
 * prefix property, see chat_template.h): the history is never re-read. What the cache holds
 * is tracked as exchanges (a user message and the reply to it) at known positions:
 *
 *   [BOS][system]  [user 1 ... reply 1 END]  [user 2 ... reply 2 END]  [user 3 ... reply 3
 *    head (kept)    exchange 1                exchange 2                current
 *
 * The END text of a reply (e.g. "<|im_end|>\n") is decoded with the next turn's text, at the
 * start of that turn's prompt. When a family rewrites a reply when formatting it (Llama 3 and
 * Gemma trim whitespace), the reply is re-decoded from its first token as the template
 * writes it, so the cache always holds exactly what the template gives for the history.
 *
 * Context full: a turn returns QS_CTX_FULL (nothing lost, nothing garbled) and waits. The
 * caller may then qs_chat_shift() — drop the oldest exchanges (never the head: BOS and the
 * system prompt; for families that fold the system prompt into the first user turn, never
 * the first exchange) — and qs_chat_resume() the turn where it stopped, or
 * qs_chat_abandon() it. A turn that alone does not fit cannot be shifted: shift says so.
 *
 * Text: replies are streamed as valid UTF-8 pieces (incomplete characters held back until
 * the next token completes them). Control tokens are not shown. End-of-turn texts that are
 * not a single token of the vocabulary are matched in the text, and text that could be the
 * start of one is held back until it is known not to be.
 *
 * Threads: a session is used by one thread at a time (any thread, e.g. a background
 * generation thread); callbacks run on that thread. The stop flag may be set from any
 * thread. The tokenizer may be shared; the context must not be used by anyone else while
 * the session lives (the session owns its cache contents). */
#ifndef QS_CHAT_H
#define QS_CHAT_H

#include <stdatomic.h>

#include "chat_template.h"
#include "infer.h"
#include "qs_common.h"
#include "sampler.h"
#include "tokenizer.h"

typedef struct qs_chat_params {
    qs_chat_tmpl tmpl;          /* family (QS_TMPL_UNKNOWN is refused) */
    const char *system;         /* system prompt or NULL (copied) */
    int n_predict;              /* most reply tokens per turn; < 0: until the end of the turn */
    qs_sampler_params sampling; /* temperature <= 0: greedy */
} qs_chat_params;

/* Receives len bytes of reply text (valid UTF-8, not NUL-terminated). Return non-zero to stop
 * the reply (the turn then ends normally with reason QS_STOP_CALLBACK). */
typedef int (*qs_chat_text_fn)(void *user, const char *text, size_t len);

typedef struct qs_chat_io {
    qs_chat_text_fn on_text;  /* may be NULL */
    void *user;
    const atomic_int *stop;   /* NULL, or a flag that stops the reply between tokens */
} qs_chat_io;

/* One call's figures (a send, or a resume). */
typedef struct qs_chat_stats {
    qs_stop_reason reason; /* why the reply ended (QS_STOP_NONE while it waits on CTX_FULL) */
    int n_prompt;          /* tokens decoded before the reply: the new text only (plus a
                            * re-decoded reply when the template rewrote it) */
    int n_gen;             /* reply tokens generated */
    double prompt_ms;      /* wall time decoding the prompt */
    double gen_ms;         /* wall time generating */
} qs_chat_stats;

/* The session's totals. */
typedef struct qs_chat_totals {
    int64_t n_decoded;     /* positions computed by forward passes, all turns */
    int64_t n_prompt, n_gen;
    double prompt_ms, gen_ms;
    int n_shifts;          /* context shifts done */
    int n_dropped;         /* exchanges dropped by them */
} qs_chat_totals;

typedef struct qs_chat qs_chat;

/* A session over ctx (whose cache it empties and then owns) and tok (not owned, must
 * outlive it). eos_text: see qs_chat_tmpl_format (NULL: the tokenizer's EOS text is used for
 * zephyr). Returns NULL with err on bad parameters or when memory is short. */
qs_chat *qs_chat_new(qs_infer_ctx *ctx, const qs_tokenizer *tok, const qs_chat_params *p,
                     qs_error *err);
void qs_chat_free(qs_chat *s);

/* One user turn: formats the message, decodes what it adds, streams the reply. Returns QS_OK
 * (the reply ended: st->reason says why — end of turn, length, stop flag, callback),
 * QS_CTX_FULL (no room for the message or for the rest of the reply: the turn waits, see the
 * top of this file), QS_CANCELLED (the stop flag interrupted the prompt: the message is
 * withdrawn and the cache is as before), or QS_ERR. st may be NULL. Refused (QS_ERR) while a
 * turn waits. */
int qs_chat_send(qs_chat *s, const char *text, const qs_chat_io *io, qs_chat_stats *st,
                 qs_error *err);

/* True while a turn waits after QS_CTX_FULL. */
bool qs_chat_waiting(const qs_chat *s);

/* Makes room by dropping the oldest complete exchanges: at least what the waiting turn needs
 * and about half of what follows the kept head, when there is that much to drop. The
 * dropped messages stay in the history (qs_chat_message says so). Returns QS_OK with the
 * counts (either pointer may be NULL), or QS_CTX_FULL when dropping every old exchange would
 * still not make room for the waiting turn (err says what is kept and what is needed; nothing
 * changed), or QS_ERR. */
int qs_chat_shift(qs_chat *s, int *n_exchanges, int *n_positions, qs_error *err);

/* Continues the waiting turn (after a shift): same returns as qs_chat_send. */
int qs_chat_resume(qs_chat *s, const qs_chat_io *io, qs_chat_stats *st, qs_error *err);

/* Gives the waiting turn up: a message that did not fit is withdrawn; a reply cut by the
 * full context ends where it is (reason QS_STOP_CTX_FULL). No-op when nothing waits. */
void qs_chat_abandon(qs_chat *s);

/* The history: n messages, each with its role ("system", "user", "assistant"), text
 * (NUL-terminated, valid until the next call that changes the session) and whether a shift
 * dropped it from the model's view. A reply under way is the last message. */
int qs_chat_n_messages(const qs_chat *s);
const char *qs_chat_message(const qs_chat *s, int i, const char **role, bool *dropped);

qs_chat_totals qs_chat_get_totals(const qs_chat *s);
qs_chat_tmpl qs_chat_template(const qs_chat *s);
/* Positions the kept head occupies (BOS and the system prompt; with the first exchange for
 * families that fold the system prompt into it), 0 before the first turn. */
int qs_chat_n_keep(const qs_chat *s);

/* The end-of-turn text matcher behind the reply stream (exposed for tests): of n bytes of
 * reply text not yet shown, how many can be shown now. With *found, a complete stop text
 * starts at the returned offset (the reply ends there); otherwise the bytes after the offset
 * could be the start of one and wait for more text. */
size_t qs_chat_stop_scan(const char *text, size_t n, const char *const *stops, int n_stops,
                         bool *found);

/* Between turns (not while one runs or waits): a new reply limit (as qs_chat_params.n_predict)
 * and sampling for the next turns; the cache and history are kept. The sampler starts afresh
 * (its penalty history and random state are new). QS_OK, or QS_ERR with the session
 * unchanged (bad parameters, a turn under way or waiting, out of memory). */
int qs_chat_set_sampling(qs_chat *s, int n_predict, const qs_sampler_params *sp, qs_error *err);

/* Tokens generated so far in the turn under way (or the last turn), counting across a resume.
 * For live figures: call it on the session's thread, e.g. from the text callback. */
int qs_chat_reply_tokens(const qs_chat *s);

#endif
