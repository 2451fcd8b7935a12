/* Tokenizers: llama.cpp's test vectors, pinned ids from llama.cpp for special tokens and
 * pre-tokenizers, round trips, streaming detokenization, merge order on small synthetic
 * vocabularies, and malformed metadata. */
#include "qs_test_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenizer.h"

/* ---------------------------------------------------------------- helpers */

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[n] = 0, *len = (size_t)n;
    return b;
}

/* Loads a tokenizer from a shared file (skips when absent, fails under CI). */
static qs_tokenizer *load_shared(const char *rel) {
    char path[1024];
    if (!qs_test_shared_path(rel, path, sizeof path)) return NULL;
    qs_error err;
    gguf_file *f = gguf_open(path, &err);
    if (!f) fail_msg("%s", err.msg);
    qs_tokenizer *t = qs_tok_load(f, &err);
    gguf_close(f);
    if (!t) fail_msg("%s: %s", rel, err.msg);
    return t;
}

static qs_tokenizer *load_path(const char *path, qs_error *err) {
    gguf_file *f = gguf_open(path, err);
    if (!f) fail_msg("%s", err->msg);
    qs_tokenizer *t = qs_tok_load(f, err);
    gguf_close(f);
    return t;
}

static void expect_ids(const qs_tokenizer *t, const char *text, size_t len, bool add, bool parse,
                       const int32_t *want, size_t n_want) {
    int32_t *ids;
    size_t n;
    qs_error err;
    assert_int_equal(qs_tok_encode(t, text, len, add, parse, &ids, &n, &err), QS_OK);
    if (n != n_want || (n && memcmp(ids, want, n * sizeof *ids))) {
        fprintf(stderr, "text '%.*s': want", (int)len, text);
        for (size_t i = 0; i < n_want; i++) fprintf(stderr, " %d", want[i]);
        fprintf(stderr, "\n  got ");
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
        free(ids);
        fail_msg("token ids differ");
    }
    free(ids);
}
#define EXPECT(t, s, add, parse, ...)                                                   \
    do {                                                                                \
        static const int32_t want_[] = {__VA_ARGS__};                                   \
        expect_ids(t, s, strlen(s), add, parse, want_, sizeof want_ / sizeof want_[0]); \
    } while (0)

/* ---------------------------------------------------------------- llama.cpp's test vectors */

/* Splits X.inp exactly as llama.cpp's test-tokenizer-0 does (on "\n__ggml_vocab_test__\n",
 * no string after a final separator) and compares every line of X.out, tokenized with
 * add_special = false and parse_special = false. Returns the number of strings checked. */
static int run_vectors(const char *vocab) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "vocab/%s", vocab);
    qs_tokenizer *t = load_shared(rel);
    snprintf(rel, sizeof rel, "vocab/%s.inp", vocab);
    qs_test_shared_path(rel, path, sizeof path);
    size_t ni, no;
    char *inp = slurp(path, &ni);
    snprintf(rel, sizeof rel, "vocab/%s.out", vocab);
    qs_test_shared_path(rel, path, sizeof path);
    char *out = slurp(path, &no);
    assert_non_null(inp);
    assert_non_null(out);

    const char *sep = "\n__ggml_vocab_test__\n";
    size_t sl = strlen(sep), pos = 0;
    char *line = out;
    int n_tests = 0, n_fail = 0;
    while (pos < ni) {
        char *next = strstr(inp + pos, sep);
        size_t end = next ? (size_t)(next - inp) : ni;
        assert_true(*line != 0); /* as many output lines as input strings */
        char *eol = strchr(line, '\n');
        if (eol) *eol = 0;
        int32_t want[1024];
        size_t nw = 0;
        for (char *q = line; *q;) {
            while (*q == ' ' || *q == '\r') q++;
            if (!*q) break;
            want[nw++] = (int32_t)strtol(q, &q, 10);
            assert_true(nw < 1024);
        }
        int32_t *ids;
        size_t n;
        qs_error err;
        assert_int_equal(qs_tok_encode(t, inp + pos, end - pos, false, false, &ids, &n, &err), QS_OK);
        if (n != nw || (n && memcmp(ids, want, n * sizeof *ids))) {
            fprintf(stderr, "%s: string %d '%.*s' differs\n", vocab, n_tests, (int)(end - pos), inp + pos);
            n_fail++;
        }
        free(ids);
        n_tests++;
        line = eol ? eol + 1 : line + strlen(line);
        if (!next) break;
        pos = end + sl;
    }
    assert_int_equal(*line, 0); /* no output lines left over */
    free(inp);
    free(out);
    qs_tok_free(t);
    assert_int_equal(n_fail, 0);
    return n_tests;
}

static void test_vectors_llama_spm(void **state) {
    (void)state;
    assert_int_equal(run_vectors("ggml-vocab-llama-spm.gguf"), 46);
}
static void test_vectors_phi3(void **state) {
    (void)state;
    assert_int_equal(run_vectors("ggml-vocab-phi-3.gguf"), 46);
}
static void test_vectors_llama_bpe(void **state) {
    (void)state;
    assert_int_equal(run_vectors("ggml-vocab-llama-bpe.gguf"), 46);
}
static void test_vectors_gpt2(void **state) {
    (void)state;
    assert_int_equal(run_vectors("ggml-vocab-gpt-2.gguf"), 46);
}

/* ---------------------------------------------------------------- real vocabularies */

/* Ids below were produced by llama.cpp (llama_tokenize / llama-tokenize) on the same files. */

static void test_stories(void **state) {
    (void)state;
    qs_tokenizer *t = load_shared("models/stories260K.gguf");
    assert_int_equal(qs_tok_type(t), QS_VOCAB_SPM);
    assert_int_equal(qs_tok_n_vocab(t), 512);
    assert_int_equal(qs_tok_bos(t), 1);
    assert_int_equal(qs_tok_eos(t), 2);
    assert_int_equal(qs_tok_unk(t), 0);
    assert_int_equal(qs_tok_nl(t), 13);
    assert_int_equal(qs_tok_pad(t), -1); /* 0xFFFFFFFF in the file means none */
    assert_int_equal(qs_tok_sep(t), -1);
    assert_true(qs_tok_add_bos(t));
    assert_false(qs_tok_add_eos(t));
    assert_true(qs_tok_is_eog(t, 2));
    assert_false(qs_tok_is_eog(t, 1));
    EXPECT(t, "Once upon a time", true, false, 1, 403, 407, 261, 378);
    EXPECT(t, "Once upon a time", false, false, 403, 407, 261, 378);
    size_t l;
    const char *p = qs_tok_piece(t, 403, &l);
    assert_int_equal(l, 7);
    assert_memory_equal(p, "\xe2\x96\x81Once", 7);
    p = qs_tok_bytes(t, 403, false, &l);
    assert_int_equal(l, 5);
    assert_memory_equal(p, " Once", 5);
    assert_int_equal(qs_tok_token_type(t, 1), QS_TOKEN_CONTROL);
    assert_int_equal(qs_tok_token_type(t, 13), QS_TOKEN_BYTE);
    assert_int_equal(qs_tok_token_type(t, 403), QS_TOKEN_NORMAL);
    assert_int_equal(qs_tok_find(t, "\xe2\x96\x81Once", 7), 403);
    assert_int_equal(qs_tok_find(t, "nope-not-a-token", 16), -1);
    qs_tok_bytes(t, 1, false, &l);
    assert_int_equal(l, 0); /* control tokens are hidden unless asked for */
    p = qs_tok_bytes(t, 1, true, &l);
    assert_int_equal(l, 3);
    assert_memory_equal(p, "<s>", 3);
    qs_tok_free(t);
}

static void test_llama3_facts_and_specials(void **state) {
    (void)state;
    qs_tokenizer *t = load_shared("vocab/ggml-vocab-llama-bpe.gguf");
    assert_int_equal(qs_tok_type(t), QS_VOCAB_BPE);
    assert_string_equal(qs_tok_pre_name(t), "llama-bpe");
    assert_int_equal(qs_tok_n_vocab(t), 128256);
    assert_int_equal(qs_tok_n_merges(t), 280147);
    assert_int_equal(qs_tok_bos(t), 128000);
    assert_int_equal(qs_tok_eos(t), 128001);
    assert_int_equal(qs_tok_eot(t), 128009); /* <|eot_id|>, found by its text */
    assert_int_equal(qs_tok_nl(t), 198);
    assert_true(qs_tok_add_bos(t)); /* the llama3 family's default */
    assert_true(qs_tok_is_eog(t, 128001));
    assert_true(qs_tok_is_eog(t, 128009));
    assert_false(qs_tok_is_eog(t, 128000));
    const char *s = "<|begin_of_text|>Hello<|eot_id|>";
    EXPECT(t, s, true, true, 128000, 128000, 9906, 128009);
    EXPECT(t, s, true, false, 128000, 27, 91, 7413, 3659, 4424, 91, 29, 9906, 27, 91, 68, 354, 851, 91, 29);
    EXPECT(t, "", true, false, 128000);
    EXPECT(t, "", false, false);
    qs_tok_free(t);
}

static void test_phi3_specials_rstrip(void **state) {
    (void)state;
    qs_tokenizer *t = load_shared("vocab/ggml-vocab-phi-3.gguf");
    assert_int_equal(qs_tok_eos(t), 32000);
    assert_int_equal(qs_tok_eot(t), 32007);                    /* <|end|> */
    assert_true(qs_tok_attr(t, 2) & QS_TOKATTR_CONTROL);      /* </s>: made control like llama.cpp */
    assert_true(qs_tok_attr(t, 32010) & QS_TOKATTR_RSTRIP);   /* Phi-3's added tokens eat "\n" */
    assert_false(qs_tok_attr(t, 32000) & QS_TOKATTR_RSTRIP);
    const char *s = "<|user|>\nHello <|end|>\n<|assistant|>";
    EXPECT(t, s, true, true, 1, 32010, 15043, 29871, 32007, 32001);
    EXPECT(t, s, true, false, 1, 529, 29989, 1792, 29989, 29958, 13, 10994, 529, 29989, 355, 29989, 29958, 13,
           29966, 29989, 465, 22137, 29989, 29958);
    qs_tok_free(t);
}

static void test_spm_specials(void **state) {
    (void)state;
    qs_tokenizer *t = load_shared("vocab/ggml-vocab-llama-spm.gguf");
    /* a text after a special token gets SentencePiece's leading space again */
    EXPECT(t, "<s>Hi</s> there", false, true, 1, 6324, 2, 29871, 727);
    EXPECT(t, "<s>Hi</s> there", false, false, 529, 29879, 29958, 18567, 829, 29879, 29958, 727);
    EXPECT(t, "Hello world", true, false, 1, 15043, 3186);
    /* llama_detokenize's quirks: the leading space survives after BOS */
    static const int32_t ids[] = {1, 15043, 3186};
    char *out;
    size_t n;
    qs_error err;
    assert_int_equal(qs_tok_decode(t, ids, 3, false, false, &out, &n, &err), QS_OK);
    assert_string_equal(out, " Hello world");
    free(out);
    assert_int_equal(qs_tok_decode(t, ids + 1, 2, false, false, &out, &n, &err), QS_OK);
    assert_string_equal(out, "Hello world");
    free(out);
    assert_int_equal(qs_tok_decode(t, ids, 3, true, true, &out, &n, &err), QS_OK);
    assert_string_equal(out, " Hello world");
    free(out);
    assert_int_equal(qs_tok_decode(t, ids, 3, false, true, &out, &n, &err), QS_OK);
    assert_string_equal(out, "<s> Hello world");
    free(out);
    qs_tok_free(t);
}

static void test_gpt2_decode_cleanup(void **state) {
    (void)state;
    qs_tokenizer *t = load_shared("vocab/ggml-vocab-gpt-2.gguf");
    const char *s = "Hello , world ! It 's ok";
    int32_t *ids;
    size_t n;
    qs_error err;
    assert_int_equal(qs_tok_encode(t, s, strlen(s), false, false, &ids, &n, &err), QS_OK);
    char *out;
    size_t len;
    assert_int_equal(qs_tok_decode(t, ids, n, false, false, &out, &len, &err), QS_OK);
    assert_string_equal(out, "Hello, world! It's ok"); /* clean_up_tokenization_spaces */
    free(out);
    free(ids);
    qs_tok_free(t);
}

/* ---------------------------------------------------------------- round trip + streaming */

static void roundtrip_vocab(const char *rel) {
    char path[1024];
    qs_tokenizer *t = load_shared(rel);
    char inp_rel[256];
    snprintf(inp_rel, sizeof inp_rel, "%s.inp", rel);
    qs_test_shared_path(inp_rel, path, sizeof path);
    size_t ni;
    char *inp = slurp(path, &ni);
    assert_non_null(inp);
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t pos = 0;
    unsigned flags = qs_tok_type(t) == QS_VOCAB_SPM ? QS_DETOK_STRIP_SPACE : 0;
    int checked = 0;
    while (pos < ni) {
        char *next = strstr(inp + pos, sep);
        size_t end = next ? (size_t)(next - inp) : ni, len = end - pos;
        int32_t *ids;
        size_t n;
        qs_error err;
        assert_int_equal(qs_tok_encode(t, inp + pos, len, false, false, &ids, &n, &err), QS_OK);
        qs_detok d;
        qs_detok_init(&d, t, flags);
        char *acc = malloc(len * 3 + 16);
        size_t k = 0;
        for (size_t i = 0; i <= n; i++) {
            size_t l;
            const char *p = i < n ? qs_detok_feed(&d, ids[i], &l) : qs_detok_flush(&d, &l);
            assert_non_null(p);
            assert_true(qs_utf8_valid(p, l)); /* valid at every step */
            assert_true(k + l <= len * 3 + 16);
            memcpy(acc + k, p, l);
            k += l;
        }
        /* byte-level BPE and SPM with byte fallback lose nothing on these strings */
        if (k != len || memcmp(acc, inp + pos, len))
            fail_msg("%s: round trip of '%.*s' gave '%.*s'", rel, (int)len, inp + pos, (int)k, acc);
        free(acc);
        qs_detok_free(&d);
        free(ids);
        checked++;
        if (!next) break;
        pos = end + strlen(sep);
    }
    assert_int_equal(checked, 46);
    free(inp);
    qs_tok_free(t);
}

static void test_roundtrip(void **state) {
    (void)state;
    roundtrip_vocab("vocab/ggml-vocab-llama-spm.gguf");
    roundtrip_vocab("vocab/ggml-vocab-phi-3.gguf");
    roundtrip_vocab("vocab/ggml-vocab-llama-bpe.gguf");
    roundtrip_vocab("vocab/ggml-vocab-gpt-2.gguf");
}

static void feed_expect(qs_detok *d, int32_t id, const char *want) {
    size_t l;
    const char *p = qs_detok_feed(d, id, &l);
    assert_non_null(p);
    if (l != strlen(want) || memcmp(p, want, l))
        fail_msg("token %d gave '%.*s', want '%s'", id, (int)l, p, want);
}

static void test_stream_utf8(void **state) {
    (void)state;
    qs_tokenizer *t = load_shared("vocab/ggml-vocab-llama-spm.gguf");
    int32_t b[256];
    for (int i = 0; i < 256; i++) {
        char hx[8];
        snprintf(hx, sizeof hx, "<0x%02X>", i);
        b[i] = qs_tok_find(t, hx, 6);
        assert_true(b[i] >= 0);
    }
    qs_detok d;
    qs_detok_init(&d, t, 0);
    /* 你 = E4 BD A0: nothing until the last byte */
    feed_expect(&d, b[0xe4], "");
    feed_expect(&d, b[0xbd], "");
    feed_expect(&d, b[0xa0], "\xe4\xbd\xa0");
    /* 🦙 = F0 9F A6 99 */
    feed_expect(&d, b[0xf0], "");
    feed_expect(&d, b[0x9f], "");
    feed_expect(&d, b[0xa6], "");
    feed_expect(&d, b[0x99], "\xf0\x9f\xa6\x99");
    /* bytes that can never be UTF-8 come out as U+FFFD */
    feed_expect(&d, b[0xff], "\xef\xbf\xbd");
    feed_expect(&d, b[0x80], "\xef\xbf\xbd");
    /* an interrupted sequence: the held prefix becomes U+FFFD, then the new text */
    feed_expect(&d, b[0xe4], "");
    feed_expect(&d, 3186, "\xef\xbf\xbd world");
    /* surrogates and overlongs are ill-formed too */
    feed_expect(&d, b[0xed], "");
    feed_expect(&d, b[0xa0], "\xef\xbf\xbd\xef\xbf\xbd");
    feed_expect(&d, b[0xc0], "\xef\xbf\xbd");
    /* a held tail at the end of the stream */
    feed_expect(&d, b[0xf0], "");
    feed_expect(&d, b[0x9f], "");
    size_t l;
    const char *p = qs_detok_flush(&d, &l);
    assert_int_equal(l, 3);
    assert_memory_equal(p, "\xef\xbf\xbd", 3);
    /* control tokens: hidden by default, shown with QS_DETOK_SPECIAL */
    feed_expect(&d, 1, "");
    qs_detok_free(&d);
    qs_detok_init(&d, t, QS_DETOK_SPECIAL | QS_DETOK_STRIP_SPACE);
    feed_expect(&d, 15043, "Hello"); /* the first piece loses SPM's leading space */
    feed_expect(&d, 3186, " world");
    feed_expect(&d, 2, "</s>");
    feed_expect(&d, -5, "");
    feed_expect(&d, 999999, "");
    qs_detok_free(&d);
    qs_tok_free(t);

    /* byte-level BPE: an emoji split over several tokens */
    t = load_shared("vocab/ggml-vocab-llama-bpe.gguf");
    const char *s = "\xf0\x9f\xa6\x99"                                     /* llama */
                    "\xf0\x9f\x98\xb6\xe2\x80\x8d\xf0\x9f\x8c\xab\xef\xb8\x8f" /* face in clouds (ZWJ) */
                    " \xe6\x88\x91\xe6\x83\xb3";                            /* CJK */
    int32_t *ids;
    size_t n;
    qs_error err;
    assert_int_equal(qs_tok_encode(t, s, strlen(s), false, false, &ids, &n, &err), QS_OK);
    assert_true(n > 4);
    qs_detok_init(&d, t, 0);
    size_t k = 0;
    int held = 0;
    for (size_t i = 0; i < n; i++) {
        p = qs_detok_feed(&d, ids[i], &l);
        assert_true(qs_utf8_valid(p, l));
        assert_memory_equal(p, s + k, l);
        held += l == 0;
        k += l;
    }
    qs_detok_flush(&d, &l);
    assert_int_equal(l, 0);
    assert_int_equal(k, strlen(s));
    assert_true(held > 0); /* some tokens ended inside a character */
    qs_detok_free(&d);
    free(ids);
    qs_tok_free(t);
}

/* ---------------------------------------------------------------- pre-tokenizers */

/* The gpt-2 vocabulary with tokenizer.ggml.pre replaced, written to a temporary file. */
static qs_tokenizer *gpt2_with_pre(const char *pre, qs_error *err) {
    char src[1024], dst[1024];
    if (!qs_test_shared_path("vocab/ggml-vocab-gpt-2.gguf", src, sizeof src)) return NULL;
    snprintf(dst, sizeof dst, "%s/pre-%s.gguf", qs_test_tmpdir(), pre);
    gguf_file *f = gguf_open(src, err);
    assert_non_null(f);
    gguf_writer *w = gguf_writer_open(dst, 0, err);
    assert_non_null(w);
    for (int64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        if (kv->key.len == 18 && !memcmp(kv->key.ptr, "tokenizer.ggml.pre", 18)) continue;
        assert_int_equal(gguf_writer_copy_kv(w, kv), QS_OK);
    }
    assert_int_equal(gguf_writer_set_str(w, "tokenizer.ggml.pre", pre), QS_OK);
    assert_int_equal(gguf_writer_finish(w, err), QS_OK);
    gguf_close(f);
    return load_path(dst, err);
}

static void test_pre_tokenizers(void **state) {
    (void)state;
    qs_error err;
    qs_tokenizer *t;
    /* ids from llama.cpp with the same files; the comments say what each pins */
    t = gpt2_with_pre("llama3", &err); /* digits in threes */
    assert_non_null(t);
    EXPECT(t, "1234567 helloWorld", false, false, 10163, 29228, 22, 23748, 10603);
    qs_tok_free(t);
    t = gpt2_with_pre("qwen2", &err); /* digits one by one */
    assert_non_null(t);
    EXPECT(t, "1234567 helloWorld", false, false, 16, 17, 18, 19, 20, 21, 22, 23748, 10603);
    qs_tok_free(t);
    t = gpt2_with_pre("deepseek-llm", &err); /* U+3000 is not in the CJK range for llama.cpp */
    assert_non_null(t);
    EXPECT(t, "a \xe3\x80\x80" "b", false, false, 64, 220, 5099, 222, 65);
    qs_tok_free(t);
    t = gpt2_with_pre("falcon", &err); /* the backtick is isolated */
    assert_non_null(t);
    EXPECT(t, "x `y", false, false, 87, 220, 63, 88);
    qs_tok_free(t);
    t = gpt2_with_pre("deepseek-v3", &err); /* '~' is not \p{S} for llama.cpp */
    assert_non_null(t);
    EXPECT(t, "=~= a~b", false, false, 28, 93, 28, 257, 93, 65);
    qs_tok_free(t);
    t = gpt2_with_pre("tiny_aya", &err); /* \p{Lu} means any letter; digit groups from the right */
    assert_non_null(t);
    EXPECT(t, "iPhone 1234567", false, false, 37032, 220, 16, 24409, 20, 3134);
    qs_tok_free(t);

    static const char *const names[] = {
        "default", "llama3", "llama-bpe", "dbrx", "smaug-bpe", "jais-2", "deepseek-llm", "deepseek-coder",
        "deepseek-v3", "youtu", "falcon", "starcoder", "refact", "command-r", "smollm", "gpt-2", "mpt",
        "olmo",
        "jais", "qwen2", "stablelm2", "qwen35", "poro-chat", "bloom", "gpt3-finnish", "chatglm-bpe", "viking",
        "tekken", "chameleon", "gpt-4o", "llama4", "granite-embed-multi-97m", "tiny_aya", "superbpe",
        "bailingmoe", "seed-coder", "afmoe", "laguna", "exaone-moe", "minicpm5", "grok-2", "exaone4",
        "codeshell", "minerva-7b", "megrez", "trillion", "jina-v1-en", NULL};
    for (const char *const *n = names; *n; n++) {
        t = gpt2_with_pre(*n, &err);
        if (!t) fail_msg("pre '%s': %s", *n, err.msg);
        int32_t *ids;
        size_t cnt;
        const char *s = "Hello, y'all! 3333 \xe6\x88\x91 \xf0\x9f\x98\x81 ~x\n\n";
        assert_int_equal(qs_tok_encode(t, s, strlen(s), false, false, &ids, &cnt, &err), QS_OK);
        char *out;
        size_t len;
        qs_detok d;
        qs_detok_init(&d, t, 0);
        char buf[256];
        size_t k = 0;
        for (size_t i = 0; i < cnt; i++) {
            const char *p = qs_detok_feed(&d, ids[i], &len);
            memcpy(buf + k, p, len);
            k += len;
        }
        qs_detok_free(&d);
        if (k != strlen(s) || memcmp(buf, s, k)) fail_msg("pre '%s' loses text", *n);
        assert_int_equal(qs_tok_decode(t, ids, cnt, false, false, &out, &len, &err), QS_OK);
        free(out);
        free(ids);
        qs_tok_free(t);
    }
    assert_null(gpt2_with_pre("no-such-pre", &err));
    assert_non_null(strstr(err.msg, "no-such-pre"));
    assert_null(gpt2_with_pre("kimi-k2", &err));
    assert_non_null(strstr(err.msg, "not supported"));
}

/* ---------------------------------------------------------------- synthetic vocabularies */

typedef struct vocab_spec {
    const char *model, *pre;
    const char *const *tokens;
    int n_tokens; /* < 0: do not write the tokens array */
    const float *scores;
    int n_scores;
    const int32_t *types;
    int n_types;
    const char *const *merges;
    int n_merges; /* < 0: no merges array */
    bool tokens_as_ints, types_as_floats, no_model;
} vocab_spec;

static const char *write_vocab(const vocab_spec *v, const char *name) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s.gguf", qs_test_tmpdir(), name);
    qs_error err;
    gguf_writer *w = gguf_writer_open(path, 0, &err);
    assert_non_null(w);
    assert_int_equal(gguf_writer_set_str(w, "general.architecture", "llama"), QS_OK);
    if (!v->no_model) assert_int_equal(gguf_writer_set_str(w, "tokenizer.ggml.model", v->model), QS_OK);
    if (v->pre) assert_int_equal(gguf_writer_set_str(w, "tokenizer.ggml.pre", v->pre), QS_OK);
    if (v->tokens_as_ints) {
        int32_t x[3] = {1, 2, 3};
        assert_int_equal(gguf_writer_set_arr(w, "tokenizer.ggml.tokens", GGUF_VT_INT32, x, 3), QS_OK);
    } else if (v->n_tokens >= 0) {
        assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens,
                                                 (uint64_t)v->n_tokens),
                         QS_OK);
    }
    if (v->scores)
        assert_int_equal(gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, v->scores,
                                             (uint64_t)v->n_scores),
                         QS_OK);
    if (v->types_as_floats) {
        float x[1] = {1.0f};
        assert_int_equal(gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_FLOAT32, x, 1), QS_OK);
    } else if (v->types) {
        assert_int_equal(gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, v->types,
                                             (uint64_t)v->n_types),
                         QS_OK);
    }
    if (v->n_merges >= 0 && v->merges)
        assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)v->merges,
                                                 (uint64_t)v->n_merges),
                         QS_OK);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);
    return path;
}

#define US "\xe2\x96\x81" /* U+2581, SentencePiece's space */

static void test_spm_merge_order(void **state) {
    (void)state;
    static const char *const tok[] = {"<unk>", "<s>", "</s>", US,       "a",  "b",
                                      "c",     "ab",  "bc",   US "a", "aa", "<0x78>"};
    static const float sc[] = {0, 0, 0, -4, -5, -5, -5, -1, -0.5f, -3, -2, 0};
    static const int32_t ty[] = {2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6};
    vocab_spec v = {.model = "llama", .tokens = tok, .n_tokens = 12, .scores = sc, .n_scores = 12,
                    .types = ty, .n_types = 12, .n_merges = -1};
    qs_error err;
    qs_tokenizer *t = load_path(write_vocab(&v, "spm-small"), &err);
    if (!t) fail_msg("%s", err.msg);
    /* "▁abc": "bc" (-0.5) beats "ab" (-1), then "▁a" (-3) forms */
    EXPECT(t, "abc", false, false, 9, 8);
    /* "▁aaa": the two "aa" candidates tie; the leftmost merges */
    EXPECT(t, "aaa", false, false, 3, 10, 4);
    /* byte fallback: 'x' has <0x78>; 'y' has no byte token and becomes <unk> */
    EXPECT(t, "x", false, false, 3, 11);
    EXPECT(t, "y", false, false, 3, 0);
    EXPECT(t, "a", true, false, 1, 9);
    /* control text is only a token when asked for */
    EXPECT(t, "<s>", false, true, 1);
    qs_tok_free(t);
}

static void test_bpe_merge_order(void **state) {
    (void)state;
    /* GPT-2 alphabet: 'Ġ' (U+0120) is the space byte */
    static const char *const tok[] = {"a", "b", "c", "x", "y", "z", "\xc4\xa0", "bc", "ab", "abc", "xyz",
                                      "\xc4\xa0" "a", "<|end|>"};
    static const int32_t ty[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3};
    static const char *const mg[] = {"b c", "a b", "ab c", "\xc4\xa0 a"};
    vocab_spec v = {.model = "gpt2", .pre = "gpt-2", .tokens = tok, .n_tokens = 13, .types = ty,
                    .n_types = 13, .merges = mg, .n_merges = 4};
    qs_error err;
    qs_tokenizer *t = load_path(write_vocab(&v, "bpe-small"), &err);
    if (!t) fail_msg("%s", err.msg);
    /* "b c" has the lower rank, so "abc" becomes a + bc ("a bc" is no merge) */
    EXPECT(t, "abc", false, false, 0, 7);
    EXPECT(t, "ab", false, false, 8);
    EXPECT(t, " a", false, false, 11);
    /* no merges make "xyz": letters stay apart */
    EXPECT(t, "xyz", false, false, 3, 4, 5);
    EXPECT(t, "<|end|>", false, true, 12);
    /* a byte with no token is dropped, as in llama.cpp */
    EXPECT(t, "q", false, false);
    assert_int_equal(qs_tok_eot(t), 12);
    qs_tok_free(t);

    /* llama3 takes a word that is a token whole (ignore_merges) */
    v.pre = "llama3";
    t = load_path(write_vocab(&v, "bpe-small-llama3"), &err);
    if (!t) fail_msg("%s", err.msg);
    EXPECT(t, "xyz", false, false, 10);
    EXPECT(t, "abc", false, false, 9);
    assert_true(qs_tok_add_bos(t));
    qs_tok_free(t);
}

static void expect_load_error(const vocab_spec *v, const char *name, const char *needle) {
    qs_error err = {{0}};
    qs_tokenizer *t = load_path(write_vocab(v, name), &err);
    if (t) {
        qs_tok_free(t);
        fail_msg("%s: loaded, expected an error about '%s'", name, needle);
    }
    if (!strstr(err.msg, needle)) fail_msg("%s: message '%s' does not mention '%s'", name, err.msg, needle);
}

static void test_malformed(void **state) {
    (void)state;
    static const char *const tok[] = {"<unk>", "<s>", "</s>", "a", "b", "ab"};
    static const float sc[] = {0, 0, 0, -1, -1, -0.5f};
    static const int32_t ty[] = {2, 3, 3, 1, 1, 1};
    static const char *const good_merges[] = {"a b"};
    static const char *const bad_merges[] = {"a b", "ab"};
    vocab_spec base = {.model = "llama", .tokens = tok, .n_tokens = 6, .scores = sc, .n_scores = 6,
                       .types = ty, .n_types = 6, .n_merges = -1};
    vocab_spec v;

    v = base, v.no_model = true;
    expect_load_error(&v, "no-model", "tokenizer.ggml.model");
    v = base, v.model = "bert";
    expect_load_error(&v, "bert", "not supported");
    v = base, v.model = "no_vocab";
    expect_load_error(&v, "no-vocab", "no vocabulary");
    v = base, v.n_tokens = -1;
    expect_load_error(&v, "no-tokens", "tokenizer.ggml.tokens: missing");
    v = base, v.n_tokens = 0, v.n_scores = 0, v.n_types = 0;
    expect_load_error(&v, "empty-tokens", "empty");
    v = base, v.tokens_as_ints = true;
    expect_load_error(&v, "int-tokens", "array of strings");
    v = base, v.n_scores = 5;
    expect_load_error(&v, "short-scores", "tokenizer.ggml.scores: 5 scores for 6 tokens");
    v = base, v.n_types = 2;
    expect_load_error(&v, "short-types", "tokenizer.ggml.token_type");
    v = base, v.types = NULL, v.types_as_floats = true;
    expect_load_error(&v, "float-types", "tokenizer.ggml.token_type");
    v = base, v.model = "gpt2", v.pre = "gpt-2";
    expect_load_error(&v, "no-merges", "tokenizer.ggml.merges: missing");
    v = base, v.model = "gpt2", v.pre = "gpt-2", v.merges = bad_merges, v.n_merges = 2;
    expect_load_error(&v, "bad-merge", "merge 1 \"ab\"");
    v = base, v.model = "gpt2", v.pre = "whatever-this-is", v.merges = good_merges, v.n_merges = 1;
    expect_load_error(&v, "bad-pre", "whatever-this-is");

    /* the good variants load; scores longer than the vocabulary are fine (llama.cpp agrees) */
    qs_error err;
    v = base;
    qs_tokenizer *t = load_path(write_vocab(&v, "good-spm"), &err);
    assert_non_null(t);
    qs_tok_free(t);
    static const float more[] = {0, 0, 0, -1, -1, -0.5f, 7, 8};
    v = base, v.scores = more, v.n_scores = 8;
    t = load_path(write_vocab(&v, "long-scores"), &err);
    assert_non_null(t);
    qs_tok_free(t);
    v = base, v.model = "gpt2", v.pre = NULL, v.merges = good_merges, v.n_merges = 1;
    t = load_path(write_vocab(&v, "good-bpe-default"), &err); /* no pre: llama.cpp's default */
    assert_non_null(t);
    assert_string_equal(qs_tok_pre_name(t), "default");
    EXPECT(t, "ab", false, false, 5);
    qs_tok_free(t);
    v = base, v.scores = NULL, v.types = NULL;
    t = load_path(write_vocab(&v, "bare-spm"), &err); /* no scores, no types: all normal */
    assert_non_null(t);
    assert_int_equal(qs_tok_token_type(t, 1), QS_TOKEN_NORMAL);
    EXPECT(t, "zz", false, false, 0, 0, 0, 0, 0); /* no byte tokens: <unk> per byte of "▁zz" */
    qs_tok_free(t);
}

/* ---------------------------------------------------------------- threads, odd input */

typedef struct enc_job {
    const qs_tokenizer *t;
    const char *text;
    size_t len;
    int32_t *ids;
    size_t n;
    int rc;
} enc_job;

static void *enc_thread(void *p) {
    enc_job *j = p;
    qs_error err;
    for (int r = 0; r < 5 && j->rc == QS_OK; r++) {
        free(j->ids);
        j->rc = qs_tok_encode(j->t, j->text, j->len, true, true, &j->ids, &j->n, &err);
    }
    return NULL;
}

static void test_threads_and_odd_input(void **state) {
    (void)state;
    qs_tokenizer *t = load_shared("vocab/ggml-vocab-llama-bpe.gguf");
    /* a text with a bit of everything, including invalid UTF-8 */
    char text[8192];
    size_t len = 0;
    static const char *const parts[] = {"Hello, world! ", "  \t\n",      "\xe6\x88\x91\xe6\x83\xb3",
                                        "<|eot_id|>",     "\xff\xfe",    "\xed\xa0\x80",
                                        "\xc0\x80",       "1234567", "'ll ",
                                        "\xf0\x9f"};
    for (int i = 0; len + 32 < sizeof text; i++) {
        const char *p = parts[(i * 7) % 10];
        memcpy(text + len, p, strlen(p));
        len += strlen(p);
    }
    enc_job jobs[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        jobs[i] = (enc_job){t, text, len, NULL, 0, QS_OK};
        pthread_create(&th[i], NULL, enc_thread, &jobs[i]);
    }
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(jobs[i].rc, QS_OK);
        assert_int_equal(jobs[i].n, jobs[0].n);
        assert_memory_equal(jobs[i].ids, jobs[0].ids, jobs[0].n * sizeof(int32_t));
    }
    assert_true(jobs[0].n > 100);
    for (int i = 0; i < 3; i++) free(jobs[i].ids);

    /* NUL bytes are text like any other */
    int32_t *ids;
    size_t n;
    qs_error err;
    assert_int_equal(qs_tok_encode(t, "a\0b", 3, false, false, &ids, &n, &err), QS_OK);
    assert_int_equal(n, 3);
    free(ids);
    assert_int_equal(qs_tok_encode(t, NULL, 0, false, false, &ids, &n, &err), QS_OK);
    assert_int_equal(n, 0);
    assert_null(ids);
    qs_tok_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_llama_spm),
        cmocka_unit_test(test_vectors_phi3),
        cmocka_unit_test(test_vectors_llama_bpe),
        cmocka_unit_test(test_vectors_gpt2),
        cmocka_unit_test(test_stories),
        cmocka_unit_test(test_llama3_facts_and_specials),
        cmocka_unit_test(test_phi3_specials_rstrip),
        cmocka_unit_test(test_spm_specials),
        cmocka_unit_test(test_gpt2_decode_cleanup),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_stream_utf8),
        cmocka_unit_test(test_pre_tokenizers),
        cmocka_unit_test(test_spm_merge_order),
        cmocka_unit_test(test_bpe_merge_order),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_threads_and_odd_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
