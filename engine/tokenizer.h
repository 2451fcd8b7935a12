/* tokenizer.h — the text <-> token id mapping of a GGUF model, bit-compatible with llama.cpp.
 *
 * Two tokenizer families are supported, chosen by tokenizer.ggml.model:
 *   "llama"  SentencePiece-style (SPM): spaces become U+2581, a leading space is added, pieces are
 *            merged pairwise by highest vocabulary score, characters the vocabulary lacks fall back
 *            to <0xXX> byte tokens.
 *   "gpt2"   byte-level BPE: the text is cut into words by the pre-tokenizer regexes that
 *            tokenizer.ggml.pre names (llama3, qwen2, gpt-2, deepseek-*, falcon, starcoder, ...),
 *            each word's bytes are mapped to GPT-2's printable alphabet and merged by merge rank.
 * Other families (bert, t5, rwkv, ...) are rejected at load with a message.
 *
 * Special tokens (control, user-defined, unknown) are matched in the text before splitting:
 * user-defined ones always, control and unknown ones only when parse_special is true (this is
 * llama.cpp's rule, which follows HF tokenizers).
 *
 * The tokenizer copies everything it needs at load: it does not reference the gguf_file after
 * qs_tok_load() returns. A loaded tokenizer is immutable; every function taking a const
 * qs_tokenizer * may be called from several threads at once. */
#ifndef QS_TOKENIZER_H
#define QS_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "qs_common.h"

typedef struct qs_tokenizer qs_tokenizer;

typedef enum qs_vocab_type {
    QS_VOCAB_SPM = 1, /* tokenizer.ggml.model = "llama" */
    QS_VOCAB_BPE = 2, /* tokenizer.ggml.model = "gpt2" */
} qs_vocab_type;

/* Token type as stored in tokenizer.ggml.token_type (GGUF / llama.cpp numbering). */
typedef enum qs_token_type {
    QS_TOKEN_UNDEFINED = 0,
    QS_TOKEN_NORMAL = 1,
    QS_TOKEN_UNKNOWN = 2,
    QS_TOKEN_CONTROL = 3,
    QS_TOKEN_USER_DEFINED = 4,
    QS_TOKEN_UNUSED = 5,
    QS_TOKEN_BYTE = 6,
} qs_token_type;

/* Token attributes (bit set, llama.cpp's llama_token_attr values). The type read from the file
 * gives one of the first six bits; load-time fix-ups may add CONTROL (end-of-generation looking
 * tokens), UNUSED (control tokens named "...unused...") and LSTRIP / RSTRIP (Phi-3's special
 * tokens eat the whitespace after them when matched in text). */
enum {
    QS_TOKATTR_UNDEFINED = 0,
    QS_TOKATTR_UNKNOWN = 1u << 0,
    QS_TOKATTR_UNUSED = 1u << 1,
    QS_TOKATTR_NORMAL = 1u << 2,
    QS_TOKATTR_CONTROL = 1u << 3,
    QS_TOKATTR_USER_DEFINED = 1u << 4,
    QS_TOKATTR_BYTE = 1u << 5,
    QS_TOKATTR_NORMALIZED = 1u << 6,
    QS_TOKATTR_LSTRIP = 1u << 7,
    QS_TOKATTR_RSTRIP = 1u << 8,
    QS_TOKATTR_SINGLE_WORD = 1u << 9,
};

/* ---------------------------------------------------------------- load */

/* Build the tokenizer from a model's tokenizer.* metadata. Returns NULL and fills err on
 * missing or malformed metadata (no tokens array, scores or token types shorter than the
 * vocabulary, a merge without a space, an unknown pre-tokenizer name, an unsupported model
 * family). The caller owns the result: qs_tok_free(). */
qs_tokenizer *qs_tok_load(const gguf_file *f, qs_error *err);
void qs_tok_free(qs_tokenizer *tok);

/* ---------------------------------------------------------------- encode */

/* Tokenize len bytes of text (any bytes; invalid UTF-8 is handled as llama.cpp does).
 * add_special: add BOS / EOS as the model's add_bos / add_eos flags say.
 * parse_special: match control tokens written in the text ("<|eot_id|>") as single tokens.
 * On success *out_ids is a malloc'ed array of *n_out ids (NULL when *n_out is 0) that the
 * caller frees with free(). Returns QS_OK, QS_ENOMEM, or QS_ERR (err says why: a regex engine
 * failure, or BOS/EOS requested but the model has none). */
int qs_tok_encode(const qs_tokenizer *tok, const char *text, size_t len, bool add_special,
                  bool parse_special, int32_t **out_ids, size_t *n_out, qs_error *err);

/* ---------------------------------------------------------------- vocabulary */

qs_vocab_type qs_tok_type(const qs_tokenizer *tok);
const char *qs_tok_model_name(const qs_tokenizer *tok); /* "llama" or "gpt2" */
const char *qs_tok_pre_name(const qs_tokenizer *tok);   /* tokenizer.ggml.pre, or "default" */
int32_t qs_tok_n_vocab(const qs_tokenizer *tok);
int32_t qs_tok_n_merges(const qs_tokenizer *tok);       /* 0 for SPM */

/* Raw vocabulary string of a token (as stored in the file: "▁Hello", "Ġworld", "<0x0A>",
 * "<|eot_id|>"); not NUL-terminated, *len bytes. NULL (and *len 0) for an id out of range.
 * Valid as long as the tokenizer. */
const char *qs_tok_piece(const qs_tokenizer *tok, int32_t id, size_t *len);
/* The bytes a token stands for in text (llama_token_to_piece): "▁" back to space, GPT-2
 * alphabet back to bytes, <0xXX> to its byte. Control / unknown tokens give their raw text when
 * special is true and nothing when false; unused / undefined tokens give nothing. The bytes of
 * one token may be an incomplete UTF-8 sequence (use qs_detok to stream). */
const char *qs_tok_bytes(const qs_tokenizer *tok, int32_t id, bool special, size_t *len);
/* Id of a token whose raw vocabulary string is exactly s[0..len), or -1. */
int32_t qs_tok_find(const qs_tokenizer *tok, const char *s, size_t len);

float qs_tok_score(const qs_tokenizer *tok, int32_t id);      /* 0 when out of range */
uint32_t qs_tok_attr(const qs_tokenizer *tok, int32_t id);    /* QS_TOKATTR_* bits */
/* The dominant type of a token from its attributes (CONTROL before USER_DEFINED before ...). */
qs_token_type qs_tok_token_type(const qs_tokenizer *tok, int32_t id);
const char *qs_token_type_name(qs_token_type t);             /* "normal", "control", ... */

/* Special ids, -1 when the model has none. */
int32_t qs_tok_bos(const qs_tokenizer *tok);
int32_t qs_tok_eos(const qs_tokenizer *tok);
int32_t qs_tok_eot(const qs_tokenizer *tok); /* end of turn: <|eot_id|>, <|im_end|>, <|end|> ... */
int32_t qs_tok_eom(const qs_tokenizer *tok);
int32_t qs_tok_unk(const qs_tokenizer *tok);
int32_t qs_tok_pad(const qs_tokenizer *tok);
int32_t qs_tok_sep(const qs_tokenizer *tok);
int32_t qs_tok_nl(const qs_tokenizer *tok);  /* the token of "\n" */
/* True for every token that ends generation (EOS, EOT, EOM and the known end-looking texts). */
bool qs_tok_is_eog(const qs_tokenizer *tok, int32_t id);
/* True for control and unknown tokens (those hidden unless special rendering is asked for). */
bool qs_tok_is_control(const qs_tokenizer *tok, int32_t id);

/* The model's flags after llama.cpp's per-family defaults and the file's overrides
 * (tokenizer.ggml.add_bos_token, add_eos_token, add_sep_token, add_space_prefix). */
bool qs_tok_add_bos(const qs_tokenizer *tok);
bool qs_tok_add_eos(const qs_tokenizer *tok);
bool qs_tok_add_sep(const qs_tokenizer *tok);
bool qs_tok_add_space_prefix(const qs_tokenizer *tok);

/* ---------------------------------------------------------------- decode */

/* Whole-sequence detokenization (llama_detokenize): concatenated bytes of the tokens; the
 * leading space that SPM adds is removed from the first token; remove_special drops a leading
 * BOS / trailing EOS the model adds; unparse_special renders control tokens as text; the
 * family's clean-up of spaces before punctuation is applied where the model asks for it.
 * *out is malloc'ed and NUL-terminated (caller frees); *out_len excludes the NUL. */
int qs_tok_decode(const qs_tokenizer *tok, const int32_t *ids, size_t n, bool remove_special,
                  bool unparse_special, char **out, size_t *out_len, qs_error *err);

/* Streaming detokenizer: feed ids one at a time, get bytes that are always complete, valid
 * UTF-8. A token that ends inside a multi-byte character (a byte-fallback token, a BPE piece
 * of half an emoji) has its tail held back until the next token completes it; bytes that can
 * never form a valid character are replaced by U+FFFD. */
enum {
    QS_DETOK_SPECIAL = 1u << 0,     /* render control tokens' text (default: hide them) */
    QS_DETOK_STRIP_SPACE = 1u << 1, /* drop the leading space of the first piece (SPM prompts) */
};
typedef struct qs_detok {
    const qs_tokenizer *tok;
    unsigned flags;
    bool started;          /* some token was fed */
    unsigned char hold[4]; /* incomplete UTF-8 tail carried over */
    size_t n_hold;
    char *buf;             /* output buffer, owned */
    size_t cap;
} qs_detok;

void qs_detok_init(qs_detok *d, const qs_tokenizer *tok, unsigned flags);
/* Feed one token. Returns the valid UTF-8 bytes now complete (*len bytes, possibly 0), valid
 * until the next call on d; NULL only on allocation failure. Ids out of range give nothing. */
const char *qs_detok_feed(qs_detok *d, int32_t id, size_t *len);
/* End of stream: any held incomplete sequence comes out as U+FFFD. Resets the state so d can
 * be reused for a new stream. */
const char *qs_detok_flush(qs_detok *d, size_t *len);
void qs_detok_free(qs_detok *d);

/* True if s[0..len) is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
bool qs_utf8_valid(const char *s, size_t len);

#endif
