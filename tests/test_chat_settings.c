/* engine/chat.h hooks the Chat view uses between and during turns: qs_chat_set_sampling (a
 * new reply limit / sampling without losing the conversation) and qs_chat_reply_tokens (live
 * counts). On stories260K, whose greedy continuation llama.cpp printed in
 * ../shared/models/README.md (64 tokens of "Once upon a time"). */
#include "qs_test_util.h"

#include <string.h>

#include "chat.h"
#include "gguf.h"
#include "infer.h"
#include "tokenizer.h"

/* llama-completion -m stories260K.gguf -p "Once upon a time" -n 64 --temp 0 (README.md) */
static const char REF[] = ", there was a little girl named Lily. She loved to play outside in the park. One day, "
                          "she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said";

typedef struct sink {
    char text[4096];
    size_t n;
    const qs_chat *s;
    int last_count; /* qs_chat_reply_tokens seen in the last callback */
    int calls;
} sink;

static int on_text(void *user, const char *t, size_t n) {
    sink *k = user;
    if (k->n + n < sizeof k->text) {
        memcpy(k->text + k->n, t, n);
        k->n += n;
        k->text[k->n] = 0;
    }
    int c = qs_chat_reply_tokens(k->s);
    assert_true(c >= k->last_count); /* counts only grow within a turn */
    k->last_count = c;
    k->calls++;
    return 0;
}

static void test_limit_and_counts(void **state) {
    (void)state;
    char path[512];
    if (!qs_test_shared_path("models/stories260K.gguf", path, sizeof path)) return;
    qs_error err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    assert_non_null(f);
    qs_infer_model *m = qs_infer_model_load(f, &err);
    assert_non_null(m);
    qs_tokenizer *tok = qs_tok_load(f, &err);
    assert_non_null(tok);
    qs_infer_params ip = qs_infer_default_params();
    ip.n_ctx = 256;
    ip.n_threads = 1;
    qs_infer_ctx *ctx = qs_infer_ctx_new(m, &ip, &err);
    assert_non_null(ctx);
    qs_sampler_params greedy = qs_sampler_default_params();
    greedy.temperature = 0;
    qs_chat_params cp = {.tmpl = QS_TMPL_NONE, .n_predict = 64, .sampling = greedy};
    qs_chat *s = qs_chat_new(ctx, tok, &cp, &err);
    assert_non_null(s);

    sink k = {.s = s};
    qs_chat_io io = {.on_text = on_text, .user = &k};
    qs_chat_stats st;
    assert_int_equal(qs_chat_send(s, "Once upon a time", &io, &st, &err), QS_OK);
    assert_string_equal(k.text, REF);
    assert_int_equal(st.reason, QS_STOP_LENGTH);
    assert_int_equal(st.n_gen, 64);
    assert_int_equal(qs_chat_reply_tokens(s), 64);
    assert_true(k.last_count >= 63 && k.last_count <= 64); /* live: the count at the last piece */

    /* a shorter limit for the next turn; the conversation goes on from where it was */
    assert_int_equal(qs_chat_set_sampling(s, 5, &greedy, &err), QS_OK);
    int past = qs_infer_n_past(ctx);
    memset(&k, 0, sizeof k);
    k.s = s;
    assert_int_equal(qs_chat_send(s, "", &io, &st, &err), QS_OK);
    assert_int_equal(st.n_gen, 5);
    assert_int_equal(qs_chat_reply_tokens(s), 5);
    assert_int_equal(st.reason, QS_STOP_LENGTH);
    assert_true(qs_infer_n_past(ctx) > past); /* the cache was kept, not emptied */

    /* bad parameters: refused, the session unchanged */
    qs_sampler_params bad = greedy;
    bad.repeat_penalty = 0;
    assert_int_equal(qs_chat_set_sampling(s, 5, &bad, &err), QS_ERR);

    /* no limit: the reply runs into the full context and waits; changing settings is refused
     * while it waits, allowed once it is given up */
    assert_int_equal(qs_chat_set_sampling(s, -1, &greedy, &err), QS_OK);
    memset(&k, 0, sizeof k);
    k.s = s;
    int rc = qs_chat_send(s, "", &io, &st, &err);
    assert_int_equal(rc, QS_CTX_FULL);
    assert_true(qs_chat_waiting(s));
    assert_int_equal(qs_chat_set_sampling(s, 5, &greedy, &err), QS_ERR);
    qs_chat_abandon(s);
    assert_int_equal(qs_chat_set_sampling(s, 5, &greedy, &err), QS_OK);

    qs_chat_free(s);
    qs_infer_ctx_free(ctx);
    qs_tok_free(tok);
    qs_infer_model_free(m);
    gguf_close(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_and_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
