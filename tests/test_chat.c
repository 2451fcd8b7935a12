/* Chat sessions on stories260K (a real trained model): plain completion as llama.cpp gives it,
 * turns that decode only their new text, a ChatML model that stops on <|im_end|>, replies the
 * template rewrites, the context shift keeping the system prompt, a stop flag set from another
 * thread, and the end-of-turn text matcher.
 *
 * The ChatML model is stories260K's weights and tokenizer with two tokens renamed and a ChatML
 * chat template: id 426, ".", becomes the control token "<|im_end|>" and id 3, the never-used
 * byte token <0x00>, becomes "<|im_start|>". The model then ends a reply where it would end
 * its first sentence, with a real template's end-of-turn token (which is not its EOS); a "."
 * in prompt text is spelt with the byte token <0x2E> instead. */
#include "qs_test_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

/* llama.cpp's greedy continuation of "Once upon a time" (64 tokens) on stories260K, from
 * ../shared/models/README.md (measured with llama.cpp build 9749). */
static const char STORY_REF[] =
    ", there was a little girl named Lily. She loved to play outside in the park. One day, she "
    "saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said";

/* teknium/OpenHermes-2.5-Mistral-7B's chat template (ChatML) */
static const char CHATML_JINJA[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] "
    "+ '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' "
    "}}{% endif %}";

/* ---------------------------------------------------------------- fixtures */

typedef struct rig {
    gguf_file *f;
    qs_infer_model *m;
    qs_tokenizer *tok;
    qs_infer_ctx *ctx;
} rig;

static void rig_close(rig *r) {
    qs_infer_ctx_free(r->ctx);
    qs_tok_free(r->tok);
    qs_infer_model_free(r->m);
    gguf_close(r->f);
    memset(r, 0, sizeof *r);
}

static void rig_open_path(rig *r, const char *path, int n_ctx) {
    qs_error err = {{0}};
    memset(r, 0, sizeof *r);
    r->f = gguf_open(path, &err);
    if (!r->f) fail_msg("%s", err.msg);
    r->m = qs_infer_model_load(r->f, &err);
    if (!r->m) fail_msg("%s", err.msg);
    r->tok = qs_tok_load(r->f, &err);
    if (!r->tok) fail_msg("%s", err.msg);
    qs_infer_params p = qs_infer_default_params();
    p.n_ctx = n_ctx;
    p.n_threads = 1;
    r->ctx = qs_infer_ctx_new(r->m, &p, &err);
    if (!r->ctx) fail_msg("%s", err.msg);
}

static const char *stories_path(void) {
    static char path[4096];
    return qs_test_shared_path("models/stories260K.gguf", path, sizeof path);
}

static bool rig_stories(rig *r, int n_ctx) {
    const char *p = stories_path();
    if (!p) return false;
    rig_open_path(r, p, n_ctx);
    return true;
}

/* Writes the ChatML variant of stories260K (see the top of the file) to path. */
static void write_chatml_stories(const char *path) {
    qs_error err = {{0}};
    gguf_file *src = gguf_open(stories_path(), &err);
    if (!src) fail_msg("%s", err.msg);
    const gguf_kv *toks = gguf_get_arr(src, "tokenizer.ggml.tokens");
    const gguf_kv *types = gguf_get_arr(src, "tokenizer.ggml.token_type");
    assert_non_null(toks);
    assert_non_null(types);
    const uint64_t n = toks->arr_count;
    char **names = calloc(n, sizeof *names);
    int32_t *tt = calloc(n, sizeof *tt);
    gguf_arr_iter it;
    gguf_arr_begin(toks, &it);
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *d;
        gguf_str s;
        assert_true(gguf_arr_next(&it, &d, &s, NULL));
        names[i] = strndup(s.ptr, s.len);
        int64_t v;
        assert_int_equal(gguf_arr_int(types, i, &v), QS_OK);
        tt[i] = (int32_t)v;
    }
    assert_string_equal(names[426], ".");
    assert_string_equal(names[3], "<0x00>");
    free(names[426]);
    free(names[3]);
    names[426] = strdup("<|im_end|>");
    names[3] = strdup("<|im_start|>");
    tt[426] = tt[3] = QS_TOKEN_CONTROL;

    gguf_writer *w = gguf_writer_open(path, 0, &err);
    if (!w) fail_msg("%s", err.msg);
    for (int64_t i = 0; i < src->n_kv; i++) {
        const gguf_kv *kv = &src->kv[i];
        if (kv == toks || kv == types) continue;
        assert_int_equal(gguf_writer_copy_kv(w, kv), QS_OK);
    }
    assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)names, n), QS_OK);
    assert_int_equal(gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, tt, n), QS_OK);
    assert_int_equal(gguf_writer_set_str(w, "tokenizer.chat_template", CHATML_JINJA), QS_OK);
    for (int64_t i = 0; i < src->n_tensors; i++) {
        const gguf_tensor *t = &src->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        assert_int_equal(gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne), QS_OK);
    }
    for (int64_t i = 0; i < src->n_tensors; i++)
        assert_int_equal(gguf_writer_write(w, src->tensors[i].data, src->tensors[i].nbytes), QS_OK);
    if (gguf_writer_finish(w, &err) != QS_OK) fail_msg("%s", err.msg);
    for (uint64_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(tt);
    gguf_close(src);
}

static bool rig_chatml(rig *r, int n_ctx) {
    if (!stories_path()) return false;
    static char path[4096];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s/chatml-stories.gguf", qs_test_tmpdir());
        write_chatml_stories(path);
    }
    rig_open_path(r, path, n_ctx);
    return true;
}

/* What a callback saw. */
typedef struct capture {
    char text[65536];
    size_t n;
    int pieces;
    bool all_valid;
} capture;

static int cap_text(void *u, const char *t, size_t n) {
    capture *c = u;
    if (!qs_utf8_valid(t, n)) c->all_valid = false;
    assert_true(c->n + n < sizeof c->text);
    memcpy(c->text + c->n, t, n);
    c->n += n;
    c->text[c->n] = 0;
    c->pieces++;
    return 0;
}

static qs_chat *new_chat(rig *r, qs_chat_tmpl t, const char *system, int n_predict) {
    qs_error err = {{0}};
    qs_chat_params p = {.tmpl = t, .system = system, .n_predict = n_predict};
    p.sampling = qs_sampler_default_params();
    p.sampling.temperature = 0.0f; /* greedy */
    qs_chat *s = qs_chat_new(r->ctx, r->tok, &p, &err);
    if (!s) fail_msg("%s", err.msg);
    return s;
}

/* Tokens of text as the session tokenizes a piece of prompt (no BOS, control texts parsed). */
static int count_tokens(const rig *r, const char *text) {
    qs_error err = {{0}};
    int32_t *ids = NULL;
    size_t n = 0;
    if (qs_tok_encode(r->tok, text, strlen(text), false, true, &ids, &n, &err) != QS_OK) fail_msg("%s", err.msg);
    free(ids);
    return (int)n;
}

/* One turn, with the shift done as the CLI does it. Counts what happened. */
typedef struct turn_log {
    int full_in_prompt, full_in_reply, shifts;
} turn_log;

static qs_chat_stats turn(qs_chat *s, const char *text, capture *c, turn_log *log) {
    qs_error err = {{0}};
    qs_chat_io io = {.on_text = cap_text, .user = c};
    memset(c, 0, sizeof *c);
    c->all_valid = true;
    qs_chat_stats st, one;
    int rc = qs_chat_send(s, text, &io, &st, &err);
    while (rc == QS_CTX_FULL) {
        assert_true(qs_chat_waiting(s));
        assert_non_null(strstr(err.msg, "context full"));
        if (log) {
            if (c->n > 0) log->full_in_reply++;
            else log->full_in_prompt++;
            log->shifts++;
        }
        int nx = 0, np = 0;
        rc = qs_chat_shift(s, &nx, &np, &err);
        if (rc != QS_OK) fail_msg("shift: %s", err.msg);
        assert_true(nx >= 1);
        assert_true(np >= 1);
        rc = qs_chat_resume(s, &io, &one, &err);
        st.n_prompt += one.n_prompt;
        st.n_gen += one.n_gen;
        st.reason = one.reason;
    }
    if (rc != QS_OK) fail_msg("turn '%s': %s", text, err.msg);
    assert_false(qs_chat_waiting(s));
    assert_true(c->all_valid);
    /* the streamed text is the stored reply */
    const char *role;
    const char *reply = qs_chat_message(s, qs_chat_n_messages(s) - 1, &role, NULL);
    assert_string_equal(role, "assistant");
    assert_string_equal(reply, c->text);
    return st;
}

/* ---------------------------------------------------------------- plain completion */

static void test_plain_completion_matches_llamacpp(void **state) {
    (void)state;
    rig r;
    if (!rig_stories(&r, 0)) return;
    assert_int_equal(qs_chat_tmpl_of_model(r.f), QS_TMPL_NONE);
    qs_chat *s = new_chat(&r, QS_TMPL_NONE, NULL, 64);
    capture c;
    qs_chat_stats st = turn(s, "Once upon a time", &c, NULL);
    assert_string_equal(c.text, STORY_REF);
    assert_int_equal(st.reason, QS_STOP_LENGTH);
    assert_int_equal(st.n_gen, 64);
    assert_int_equal(st.n_prompt, 5); /* BOS + 4, as llama-tokenize gives */
    assert_true(c.pieces > 1);        /* streamed, not in one piece */
    qs_chat_free(s);
    rig_close(&r);
}

/* ---------------------------------------------------------------- incremental turns */

typedef struct ids_cap {
    int32_t ids[4096];
    int n;
} ids_cap;

static int cap_id(void *u, int32_t t) {
    ids_cap *c = u;
    c->ids[c->n++] = t;
    return 0;
}

static void detok_ids(const rig *r, const int32_t *ids, int n, char *out, size_t cap) {
    qs_detok d;
    qs_detok_init(&d, r->tok, 0);
    size_t o = 0, l;
    for (int i = 0; i < n; i++) {
        const char *p = qs_detok_feed(&d, ids[i], &l);
        assert_true(o + l < cap);
        memcpy(out + o, p, l);
        o += l;
    }
    const char *p = qs_detok_flush(&d, &l);
    memcpy(out + o, p, l);
    out[o + l] = 0;
    qs_detok_free(&d);
}

/* Turn 2 reads only its own line, and its reply is what a fresh context gives after decoding
 * the whole history (prompt 1, reply 1, line 2) in one pass: the cache carried the history. */
static void test_turns_decode_only_new_text(void **state) {
    (void)state;
    rig r;
    if (!rig_stories(&r, 0)) return;
    const char *l1 = "Once upon a time", *l2 = "Lily went to the", *l3 = "The end";
    qs_chat *s = new_chat(&r, QS_TMPL_NONE, NULL, 20);
    capture c1, c2, c3;
    qs_chat_stats st = turn(s, l1, &c1, NULL);
    assert_int_equal(st.n_prompt, 1 + count_tokens(&r, l1));
    assert_int_equal(qs_chat_get_totals(s).n_decoded, qs_infer_n_past(r.ctx));
    st = turn(s, l2, &c2, NULL);
    assert_int_equal(st.n_prompt, count_tokens(&r, l2));
    assert_int_equal(qs_chat_get_totals(s).n_decoded, qs_infer_n_past(r.ctx));
    st = turn(s, l3, &c3, NULL);
    assert_int_equal(st.n_prompt, count_tokens(&r, l3));
    qs_chat_totals tot = qs_chat_get_totals(s);
    assert_int_equal(tot.n_decoded, qs_infer_n_past(r.ctx)); /* every position computed once */
    assert_int_equal(tot.n_prompt, 1 + count_tokens(&r, l1) + count_tokens(&r, l2) + count_tokens(&r, l3));
    assert_int_equal(tot.n_gen, 60);
    assert_int_equal(qs_chat_n_messages(s), 6);
    qs_chat_free(s);

    /* the reference: reply 1 by plain generation, then everything up to line 2 in one decode */
    qs_error err = {{0}};
    int32_t seq[512];
    int n = 0;
    int32_t *ids;
    size_t k;
    seq[n++] = qs_tok_bos(r.tok);
    assert_int_equal(qs_tok_encode(r.tok, l1, strlen(l1), false, true, &ids, &k, &err), QS_OK);
    memcpy(seq + n, ids, k * sizeof *ids);
    n += (int)k;
    free(ids);
    ids_cap r1 = {.n = 0};
    qs_generate_params gp = {.n_predict = 20, .on_token = cap_id, .user = &r1};
    assert_int_equal(qs_infer_kv_truncate(r.ctx, 0, &err), QS_OK);
    assert_int_equal(qs_infer_generate(r.ctx, seq, n, &gp, NULL, &err), QS_OK);
    char text[4096];
    detok_ids(&r, r1.ids, r1.n, text, sizeof text);
    assert_string_equal(text, c1.text);
    memcpy(seq + n, r1.ids, (size_t)r1.n * sizeof *seq);
    n += r1.n;
    assert_int_equal(qs_tok_encode(r.tok, l2, strlen(l2), false, true, &ids, &k, &err), QS_OK);
    memcpy(seq + n, ids, k * sizeof *ids);
    n += (int)k;
    free(ids);
    ids_cap r2 = {.n = 0};
    gp.user = &r2;
    assert_int_equal(qs_infer_kv_truncate(r.ctx, 0, &err), QS_OK);
    assert_int_equal(qs_infer_generate(r.ctx, seq, n, &gp, NULL, &err), QS_OK);
    detok_ids(&r, r2.ids, r2.n, text, sizeof text);
    assert_string_equal(text, c2.text);
    rig_close(&r);
}

/* ---------------------------------------------------------------- a ChatML model */

static void test_chatml_stops_on_end_of_turn(void **state) {
    (void)state;
    rig r;
    if (!rig_chatml(&r, 0)) return;
    assert_int_equal(qs_chat_tmpl_of_model(r.f), QS_TMPL_CHATML);
    const char *sys = "You are a storyteller.";
    qs_chat *s = new_chat(&r, QS_TMPL_CHATML, sys, 1000);
    capture c;
    qs_chat_stats st = turn(s, "Once upon a time", &c, NULL);
    assert_int_equal(st.reason, QS_STOP_EOG);
    assert_true(st.n_gen > 5 && st.n_gen < 1000);
    assert_null(strstr(c.text, "<|im_end|>"));
    /* turn 1: BOS, the system turn, the user turn and the reply header */
    assert_int_equal(st.n_prompt, 1 + count_tokens(&r, "<|im_start|>system\nYou are a storyteller.<|im_end|>\n") +
                                      count_tokens(&r, "<|im_start|>user\nOnce upon a time<|im_end|>\n<|im_start|>assistant\n"));
    assert_int_equal(qs_chat_n_keep(s), 1 + count_tokens(&r, "<|im_start|>system\nYou are a storyteller.<|im_end|>\n"));

    /* turn 2 reads the reply's end and its own text only */
    st = turn(s, "Tell me another one", &c, NULL);
    assert_int_equal(st.n_prompt, count_tokens(&r, "<|im_end|>\n") +
                                      count_tokens(&r, "<|im_start|>user\nTell me another one<|im_end|>\n<|im_start|>assistant\n"));
    assert_int_equal(qs_chat_get_totals(s).n_decoded, qs_infer_n_past(r.ctx));
    assert_int_equal(qs_chat_n_messages(s), 5);
    const char *role;
    assert_string_equal(qs_chat_message(s, 0, &role, NULL), sys);
    assert_string_equal(role, "system");
    qs_chat_free(s);
    rig_close(&r);
}

/* Families that trim replies write a reply generated with whitespace at an end (SentencePiece
 * words start with a space; stories have newlines) differently from the tokens generated:
 * the session then re-decodes the reply as written. Otherwise only the reply's end text is
 * read. The expected prompt of turn 2 is derived from the template's text here. */
static void test_rewritten_reply_is_redecoded(void **state) {
    (void)state;
    /* with "Sing", Gemma's reply has spaces and newlines within its first 24 tokens: the
     * lengths that cut the reply just after one give a reply with trailing whitespace */
    const qs_chat_tmpl fams[] = {QS_TMPL_GEMMA, QS_TMPL_LLAMA3, QS_TMPL_CHATML};
    int rewritten = 0, kept = 0;
    for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
        for (int n_predict = 1; n_predict <= 24; n_predict += f == 0 ? 1 : 7) {
            rig r;
            if (!rig_chatml(&r, 0)) return;
            qs_chat *s = new_chat(&r, fams[f], NULL, n_predict);
            capture c;
            qs_chat_stats st1 = turn(s, "Sing", &c, NULL);
            const int past1 = qs_infer_n_past(r.ctx);
            const int64_t dec1 = qs_chat_get_totals(s).n_decoded;
            qs_chat_msg m[3] = {{"user", "Sing"}, {"assistant", c.text}, {"user", "More"}};
            char *fua, *fa, *fu2;
            size_t lua, la, lu2;
            qs_error err = {{0}};
            assert_int_equal(qs_chat_tmpl_format(fams[f], m, 1, true, NULL, &fua, &lua, &err), QS_OK);
            assert_int_equal(qs_chat_tmpl_format(fams[f], m, 2, false, NULL, &fa, &la, &err), QS_OK);
            assert_int_equal(qs_chat_tmpl_format(fams[f], m, 3, true, NULL, &fu2, &lu2, &err), QS_OK);
            assert_memory_equal(fa, fua, lua);
            const bool as_generated = strncmp(fa + lua, c.text, c.n) == 0;
            /* what turn 2 must read: the reply's end (or the whole reply as written), then
             * the new message */
            char *first = strndup(fa + lua + (as_generated ? c.n : 0), la - lua - (as_generated ? c.n : 0));
            const int want = count_tokens(&r, first) + count_tokens(&r, fu2 + la);
            capture c2;
            qs_chat_stats st2 = turn(s, "More", &c2, NULL);
            if (st2.n_prompt != want)
                fail_msg("%s, -n %d: turn 2 read %d tokens, expected %d ('%s' then '%s')",
                         qs_chat_tmpl_name(fams[f]), n_predict, st2.n_prompt, want, first, fu2 + la);
            if (as_generated) {
                kept++;
                assert_int_equal(dec1, past1); /* nothing computed twice */
            } else {
                rewritten++;
                /* the generated reply's tokens were computed, then dropped when the reply ended */
                assert_int_equal(dec1, past1 + st1.n_gen);
            }
            free(first);
            free(fua);
            free(fa);
            free(fu2);
            qs_chat_free(s);
            rig_close(&r);
        }
    }
    assert_true(rewritten > 0);
    assert_true(kept > 0);
}

/* ---------------------------------------------------------------- context shift */

static void check_dropped_prefix(const qs_chat *s, int first_droppable) {
    /* dropped messages are the oldest ones after the kept start */
    bool seen_kept = false;
    for (int i = first_droppable; i < qs_chat_n_messages(s); i++) {
        bool d;
        qs_chat_message(s, i, NULL, &d);
        if (!d) seen_kept = true;
        else assert_false(seen_kept);
    }
    for (int i = 0; i < first_droppable; i++) {
        bool d;
        qs_chat_message(s, i, NULL, &d);
        assert_false(d);
    }
}

/* 30 turns in a small context: every turn completes, the kept start stays, the oldest turns go
 * first. Returns what happened. */
static turn_log shift_run(rig *r, qs_chat_tmpl t, const char *system, const char *system_text, int n_predict) {
    qs_chat *s = new_chat(r, t, system, n_predict);
    const int keep = 1 + count_tokens(r, system_text);
    turn_log log = {0};
    capture c;
    for (int i = 0; i < 30; i++) {
        char line[64];
        snprintf(line, sizeof line, "Tell me about the dog number %d", i);
        turn(s, line, &c, &log);
        assert_int_equal(qs_chat_n_keep(s), keep);
        assert_true(qs_infer_n_past(r->ctx) <= qs_infer_n_ctx(r->ctx));
        check_dropped_prefix(s, 1);
    }
    const qs_chat_totals tot = qs_chat_get_totals(s);
    assert_int_equal(tot.n_shifts, log.shifts);
    assert_true(tot.n_dropped >= tot.n_shifts);
    bool d;
    qs_chat_message(s, qs_chat_n_messages(s) - 1, NULL, &d); /* the last turns are in view */
    assert_false(d);
    qs_chat_message(s, 0, NULL, &d);
    assert_false(d);
    qs_chat_free(s);
    return log;
}

static void test_context_shift_keeps_system(void **state) {
    (void)state;
    rig r;
    /* ChatML: short replies (the model ends at its first sentence): the context fills between turns */
    if (!rig_chatml(&r, 96)) return;
    turn_log log = shift_run(&r, QS_TMPL_CHATML, "You are a storyteller.",
                             "<|im_start|>system\nYou are a storyteller.<|im_end|>\n", 24);
    assert_true(log.full_in_prompt > 0);
    rig_close(&r);
    /* plain completion with a system text: replies run to -n, and fill it mid-reply too */
    if (!rig_stories(&r, 80)) return;
    log = shift_run(&r, QS_TMPL_NONE, "A story.", "A story.", 24);
    assert_true(log.full_in_reply > 0);
    rig_close(&r);
}

/* Families that fold the system prompt into the first user turn keep that whole exchange. */
static void test_context_shift_pins_first_exchange(void **state) {
    (void)state;
    rig r;
    if (!rig_chatml(&r, 128)) return;
    qs_chat *s = new_chat(&r, QS_TMPL_LLAMA2_SYS, "Be kind.", 16);
    turn_log log = {0};
    capture c;
    turn(s, "Hello", &c, &log);
    const int keep = qs_chat_n_keep(s);
    assert_int_equal(keep, qs_infer_n_past(r.ctx)); /* the whole first exchange */
    for (int i = 0; i < 20; i++) {
        turn(s, "Tell me about the cat and the dog", &c, &log);
        assert_true(qs_chat_n_keep(s) >= keep);
        check_dropped_prefix(s, 3); /* system, first question, first reply */
    }
    assert_true(log.shifts > 0);
    qs_chat_free(s);
    rig_close(&r);
}

static void test_message_too_long_for_context(void **state) {
    (void)state;
    rig r;
    if (!rig_stories(&r, 32)) return;
    qs_chat *s = new_chat(&r, QS_TMPL_NONE, NULL, 8);
    capture c = {.all_valid = true};
    qs_chat_io io = {.on_text = cap_text, .user = &c};
    qs_error err = {{0}};
    char long_text[2048] = "";
    for (int i = 0; i < 20; i++) strcat(long_text, "The little dog ran to the park. ");
    qs_chat_stats st;
    assert_int_equal(qs_chat_send(s, long_text, &io, &st, &err), QS_CTX_FULL);
    assert_true(qs_chat_waiting(s));
    assert_int_equal(qs_infer_n_past(r.ctx), 0);
    /* a second message is refused while one waits */
    assert_int_equal(qs_chat_send(s, "Hi", &io, &st, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "waiting"));
    assert_int_equal(qs_chat_shift(s, NULL, NULL, &err), QS_CTX_FULL);
    assert_non_null(strstr(err.msg, "larger context"));
    qs_chat_abandon(s);
    assert_false(qs_chat_waiting(s));
    assert_int_equal(qs_chat_n_messages(s), 0);
    /* the session still works */
    turn(s, "Once upon a time", &c, NULL);
    assert_int_equal(qs_chat_n_messages(s), 2);
    /* a reply that alone fills the context: cut, abandoned, then the next turn drops it */
    qs_chat_free(s);
    s = new_chat(&r, QS_TMPL_NONE, NULL, -1);
    memset(&c, 0, sizeof c);
    c.all_valid = true;
    assert_int_equal(qs_chat_send(s, "Once upon a time", &io, &st, &err), QS_CTX_FULL);
    assert_int_equal(qs_infer_n_past(r.ctx), 32);
    assert_true(c.n > 0);
    assert_int_equal(qs_chat_shift(s, NULL, NULL, &err), QS_CTX_FULL); /* nothing older */
    qs_chat_abandon(s);
    const char *role;
    assert_string_equal(qs_chat_message(s, 1, &role, NULL), c.text);
    /* the next message: no room, the cut exchange is dropped, the reply fills the context again */
    memset(&c, 0, sizeof c);
    c.all_valid = true;
    assert_int_equal(qs_chat_send(s, "Lily", &io, &st, &err), QS_CTX_FULL);
    assert_int_equal(c.n, 0);
    int nx, np;
    assert_int_equal(qs_chat_shift(s, &nx, &np, &err), QS_OK);
    assert_int_equal(nx, 1);
    assert_int_equal(np, 31);
    bool d;
    qs_chat_message(s, 0, NULL, &d);
    assert_true(d);
    qs_chat_message(s, 1, NULL, &d);
    assert_true(d);
    assert_int_equal(qs_chat_resume(s, &io, &st, &err), QS_CTX_FULL);
    assert_true(c.n > 0);
    assert_int_equal(qs_infer_n_past(r.ctx), 32);
    qs_chat_abandon(s);
    assert_int_equal(qs_chat_n_messages(s), 4);
    qs_chat_free(s);
    rig_close(&r);
}

/* ---------------------------------------------------------------- threads and stop */

typedef struct bg {
    qs_chat *s;
    atomic_int stop;
    atomic_int started;
    int rc;
    qs_chat_stats st;
    capture c;
} bg;

static int bg_text(void *u, const char *t, size_t n) {
    bg *b = u;
    cap_text(&b->c, t, n);
    atomic_store(&b->started, 1);
    while (!atomic_load(&b->stop)) sched_yield(); /* the main thread decides when to stop */
    return 0;
}

static void *bg_run(void *u) {
    bg *b = u;
    qs_error err = {{0}};
    qs_chat_io io = {.on_text = bg_text, .user = b, .stop = &b->stop};
    b->rc = qs_chat_send(b->s, "Once upon a time", &io, &b->st, &err);
    return NULL;
}

static void test_stop_flag_from_another_thread(void **state) {
    (void)state;
    rig r;
    if (!rig_stories(&r, 0)) return;
    bg b = {0};
    b.c.all_valid = true;
    b.s = new_chat(&r, QS_TMPL_NONE, NULL, 50);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bg_run, &b), 0);
    while (!atomic_load(&b.started)) sched_yield();
    atomic_store(&b.stop, 1);
    pthread_join(th, NULL);
    assert_int_equal(b.rc, QS_OK);
    assert_int_equal(b.st.reason, QS_STOP_FLAG);
    assert_int_equal(b.st.n_gen, 1); /* stopped before the second token */
    assert_string_equal(b.c.text, ",");
    /* the session carries on, on this thread */
    capture c;
    turn(b.s, "Lily", &c, NULL);
    qs_chat_free(b.s);
    rig_close(&r);
}

/* ---------------------------------------------------------------- end-of-turn texts */

static void test_stop_scan(void **state) {
    (void)state;
    const char *stops[2] = {"<|end|>", "</s>"};
    bool found;
    assert_int_equal(qs_chat_stop_scan("hello", 5, stops, 2, &found), 5);
    assert_false(found);
    assert_int_equal(qs_chat_stop_scan("hello <|en", 10, stops, 2, &found), 6);
    assert_false(found);
    assert_int_equal(qs_chat_stop_scan("hello <|end|> more", 18, stops, 2, &found), 6);
    assert_true(found);
    assert_int_equal(qs_chat_stop_scan("a</s>b<|end|>", 13, stops, 2, &found), 1);
    assert_true(found);
    assert_int_equal(qs_chat_stop_scan("x<", 2, stops, 2, &found), 1);
    assert_false(found);
    assert_int_equal(qs_chat_stop_scan("<|end", 5, stops, 2, &found), 0);
    assert_false(found);
    assert_int_equal(qs_chat_stop_scan("", 0, stops, 2, &found), 0);
    assert_int_equal(qs_chat_stop_scan("a<b", 3, stops, 2, &found), 3); /* "<b" starts neither */
    assert_false(found);
}

static void test_bad_parameters(void **state) {
    (void)state;
    rig r;
    if (!rig_stories(&r, 0)) return;
    qs_error err = {{0}};
    qs_chat_params p = {.tmpl = QS_TMPL_UNKNOWN, .sampling = qs_sampler_default_params()};
    assert_null(qs_chat_new(r.ctx, r.tok, &p, &err));
    assert_non_null(strstr(err.msg, "chatml"));
    p.tmpl = QS_TMPL_NONE;
    p.sampling.repeat_penalty = 0;
    assert_null(qs_chat_new(r.ctx, r.tok, &p, &err));
    qs_chat *s = new_chat(&r, QS_TMPL_NONE, NULL, 4);
    assert_int_equal(qs_chat_resume(s, NULL, NULL, &err), QS_ERR);
    assert_int_equal(qs_chat_send(s, NULL, NULL, NULL, &err), QS_ERR);
    qs_chat_abandon(s); /* nothing waits: no-op */
    assert_int_equal(qs_chat_n_messages(s), 0);
    qs_chat_free(s);
    rig_close(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_completion_matches_llamacpp),
        cmocka_unit_test(test_turns_decode_only_new_text),
        cmocka_unit_test(test_chatml_stops_on_end_of_turn),
        cmocka_unit_test(test_rewritten_reply_is_redecoded),
        cmocka_unit_test(test_context_shift_keeps_system),
        cmocka_unit_test(test_context_shift_pins_first_exchange),
        cmocka_unit_test(test_message_too_long_for_context),
        cmocka_unit_test(test_stop_flag_from_another_thread),
        cmocka_unit_test(test_stop_scan),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
