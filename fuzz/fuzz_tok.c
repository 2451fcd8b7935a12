/* fuzz_tok.c — libFuzzer harness for the tokenizers (SPM and byte-level BPE).
 *
 * The vocabularies are loaded once at start-up from the shared folder (third-party files, never
 * committed): QS_FUZZ_VOCAB_DIR, default QS_SHARED_DIR/vocab, and the SPM vocabulary of
 * QS_SHARED_DIR/models/stories260K.gguf when present.
 *
 * Input: byte 0 chooses the vocabulary (its value modulo the count) and the flags (bits 4..7:
 * add_special, parse_special, remove_special, unparse_special); the rest is either text (byte 0
 * even: encode, then decode whole and streaming) or, when byte 0 is odd, a list of int32 ids
 * (any values, out of range ones included) to decode. Checked promises (tokenizer.h): every id
 * produced is in range; the streaming detokenizer only ever gives valid UTF-8; and for valid
 * UTF-8 text without '<' (no special-token text) encoded without specials, streaming decoding
 * gives the text back byte for byte (both families are lossless there: byte fallback / byte
 * alphabet), as tests/test_tokenizer.c checks on fixed strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenizer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef QS_SHARED_DIR
#define QS_SHARED_DIR "../shared"
#endif

enum { MAX_VOCABS = 8 };
static qs_tokenizer *toks[MAX_VOCABS];
static char tok_names[MAX_VOCABS][64];
static int n_toks;

static void load(const char *path, const char *label) {
    qs_error err;
    gguf_file *f = gguf_open(path, &err);
    if (!f) {
        fprintf(stderr, "fuzz_tok: %s\n", err.msg);
        return;
    }
    qs_tokenizer *t = qs_tok_load(f, &err);
    gguf_close(f);
    if (!t) {
        fprintf(stderr, "fuzz_tok: %s: %s\n", path, err.msg);
        return;
    }
    snprintf(tok_names[n_toks], sizeof tok_names[0], "%s", label);
    toks[n_toks++] = t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = getenv("QS_FUZZ_VOCAB_DIR");
    char d[1024], p[1200];
    if (!dir || !*dir) {
        snprintf(d, sizeof d, "%s/vocab", QS_SHARED_DIR);
        dir = d;
    }
    static const char *const files[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf",
                                        "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-bpe.gguf"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        load(p, files[i]);
    }
    snprintf(p, sizeof p, "%s/models/stories260K.gguf", QS_SHARED_DIR);
    load(p, "stories260K");
    bool spm = false, bpe = false;
    for (int i = 0; i < n_toks; i++) {
        spm |= qs_tok_type(toks[i]) == QS_VOCAB_SPM;
        bpe |= qs_tok_type(toks[i]) == QS_VOCAB_BPE;
    }
    if (!spm || !bpe) {
        fprintf(stderr, "fuzz_tok: need an SPM and a BPE vocabulary in %s (set QS_FUZZ_VOCAB_DIR)\n", dir);
        exit(1);
    }
    return 0;
}

static void fail(const char *what, int v, const char *detail, size_t dlen) {
    fprintf(stderr, "fuzz_tok: broken promise (%s): %s: '%.*s'\n", tok_names[v], what, (int)dlen, detail);
    abort();
}

/* Streams ids through the detokenizer; the concatenation goes to *out (malloc'd). */
static size_t stream(const qs_tokenizer *t, int v, const int32_t *ids, size_t n, unsigned flags, char **out) {
    qs_detok d;
    qs_detok_init(&d, t, flags);
    size_t cap = 64, k = 0;
    char *acc = malloc(cap);
    for (size_t i = 0; i <= n; i++) {
        size_t l;
        const char *p = i < n ? qs_detok_feed(&d, ids[i], &l) : qs_detok_flush(&d, &l);
        if (!p) abort(); /* allocation failure only */
        if (!qs_utf8_valid(p, l)) fail("streaming output is not valid UTF-8", v, p, l);
        if (k + l + 1 > cap) {
            while (k + l + 1 > cap) cap *= 2;
            acc = realloc(acc, cap);
        }
        memcpy(acc + k, p, l);
        k += l;
    }
    qs_detok_free(&d);
    *out = acc;
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int v = (data[0] & 0x0f) % n_toks;
    const qs_tokenizer *t = toks[v];
    bool add_special = data[0] & 0x10, parse_special = data[0] & 0x20;
    bool remove_special = data[0] & 0x40, unparse_special = data[0] & 0x80;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int32_t n_vocab = qs_tok_n_vocab(t);
    qs_error err;
    char *out = NULL;
    size_t out_len = 0;

    if (data[0] & 1) { /* ids in, text out */
        size_t n = len / 4;
        int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
        memcpy(ids, text, n * 4);
        if (qs_tok_decode(t, ids, n, remove_special, unparse_special, &out, &out_len, &err) == QS_OK) {
            if (out[out_len] != '\0') fail("decode output not NUL-terminated", v, out, out_len);
            free(out);
        }
        size_t k = stream(t, v, ids, n, unparse_special ? QS_DETOK_SPECIAL : 0, &out);
        (void)k;
        free(out);
        free(ids);
        return 0;
    }

    int32_t *ids = NULL;
    size_t n = 0;
    if (qs_tok_encode(t, text, len, add_special, parse_special, &ids, &n, &err) != QS_OK) return 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= n_vocab) fail("encode gave an id out of range", v, text, len);
    if (qs_tok_decode(t, ids, n, remove_special, unparse_special, &out, &out_len, &err) == QS_OK) free(out);

    unsigned flags = qs_tok_type(t) == QS_VOCAB_SPM ? QS_DETOK_STRIP_SPACE : 0;
    size_t k = stream(t, v, ids, n, flags | (unparse_special ? QS_DETOK_SPECIAL : 0), &out);
    if (!add_special && !parse_special && !unparse_special && qs_utf8_valid(text, len) &&
        !memchr(text, '<', len) && (k != len || memcmp(out, text, len) != 0)) {
        fprintf(stderr, "fuzz_tok: got '%.*s'\n", (int)k, out);
        fail("streaming decode does not give the text back", v, text, len);
    }
    free(out);
    free(ids);
    return 0;
}
