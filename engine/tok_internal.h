/* tok_internal.h — shared by tokenizer.c (load, special tokens, decode), tok_spm.c and
 * tok_bpe.c. Not part of the public API. */
#ifndef QS_TOK_INTERNAL_H
#define QS_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer.h"

/* ---------------------------------------------------------------- growable id vector */

typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
} tok_ids;

int tok_ids_push(tok_ids *a, int32_t id); /* QS_OK or QS_ENOMEM */

/* ---------------------------------------------------------------- string table + hash map
 *
 * Every string the tokenizer looks up lives in one table: first the n_vocab token texts (so a
 * string id below n_vocab IS the token id), then the merge halves that are not tokens. A hash
 * map finds a string's id from its bytes. When two tokens share a text the later id wins, as
 * in llama.cpp's token_to_id map. */

typedef struct tok_slot {
    uint32_t hash;
    int32_t sid; /* -1: empty */
} tok_slot;

typedef struct tok_strtab {
    char *blob;
    size_t blob_len, blob_cap;
    uint32_t *off, *len;
    int32_t n, cap;
    tok_slot *slots;
    uint32_t mask; /* slots - 1, power of two */
    int32_t n_used;
} tok_strtab;

uint32_t tok_hash(const char *s, size_t len);
int32_t tok_strtab_find(const tok_strtab *t, const char *s, size_t len);

/* ---------------------------------------------------------------- merge ranks (BPE) */

typedef struct tok_pair_slot {
    int32_t left, right; /* string ids; left -1: empty */
    int32_t rank;
} tok_pair_slot;

typedef struct tok_pairmap {
    tok_pair_slot *slots;
    uint64_t mask;
    int64_t n;
} tok_pairmap;

/* Rank of merging strings l and r (by string id), or -1. */
int32_t tok_pair_rank(const tok_pairmap *m, int32_t l, int32_t r);

/* ---------------------------------------------------------------- pre-tokenizer */

#define TOK_MAX_REGEX 8

typedef enum tok_split_kind {
    TOK_SPLIT_REGEX = 0,  /* PCRE2: matches and the gaps between them become words */
    TOK_SPLIT_DIGITS3 = 1 /* llama.cpp's digit grouping (AFMoE, tiny_aya): see tok_bpe.c */
} tok_split_kind;

typedef struct tok_split {
    tok_split_kind kind;
    pcre2_code *re;
} tok_split;

/* ---------------------------------------------------------------- special-token matcher */

/* A byte trie over the texts of the special tokens (control, user-defined, unknown). */
typedef struct tok_trie_node {
    int32_t child;   /* first child node, -1 none */
    int32_t sibling; /* next sibling, -1 none */
    int32_t token;   /* token ending here, -1 none */
    uint8_t byte;
} tok_trie_node;

/* ---------------------------------------------------------------- the tokenizer */

struct qs_tokenizer {
    qs_vocab_type type;
    char model[32];
    char pre[64];
    int32_t n_vocab;

    tok_strtab str;  /* token texts, then extra merge halves */
    float *score;    /* n_vocab */
    uint32_t *attr;  /* n_vocab, QS_TOKATTR_* */
    uint8_t *eog;    /* n_vocab, 1 for end-of-generation tokens */

    /* qs_tok_bytes(special = true) of every token, precomputed like llama.cpp's piece cache */
    char *piece;
    uint32_t *piece_off; /* n_vocab + 1 */

    int32_t bos, eos, eot, eom, unk, sep, pad, mask, nl;
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;

    bool add_bos, add_eos, add_sep, add_space_prefix;
    bool clean_spaces;   /* tidy " ," " 's" ... when detokenizing (HF clean_up_tokenization_spaces) */
    bool escape_ws;      /* spaces are U+2581 inside tokens */
    bool ignore_merges;  /* BPE: a whole word that is a token is taken as is */
    bool byte_encode;    /* BPE: words go through GPT-2's byte-to-unicode alphabet */
    bool nl_runs;        /* BPE (Gemma 4): a word of newlines that is a token is not merged */
    bool force_bos;      /* BPE (Gemma 4): add BOS whatever the file says */

    /* special tokens, longest text first (the order llama.cpp matches them in) */
    int32_t *special;
    int32_t n_special;
    int32_t *special_rank; /* n_vocab: position in special[], or -1 */
    tok_trie_node *trie;
    int32_t n_trie, cap_trie;

    /* SPM */
    uint64_t byte_pairs[1024]; /* bit (a << 8 | b): some token's text contains bytes "ab" */
    int32_t byte_token[256]; /* token for a raw byte: <0xXX>, else the 1-byte text, else -1 */

    /* BPE */
    tok_pairmap merges;
    int32_t n_merges;
    tok_split split[TOK_MAX_REGEX];
    int n_split;
    char byte_enc[256][2]; /* GPT-2 alphabet: UTF-8 of the code point standing for each byte */
    uint8_t byte_enc_len[256];
    int32_t byte_sid[256]; /* string id of byte_enc[b], or -1 */
};

/* A piece of input after special-token matching: raw text or one token. */
typedef struct tok_fragment {
    int32_t token; /* -1 for text */
    size_t off, len;
} tok_fragment;

/* Scratch buffers reused across the words of one encode call (not shared between threads). */
typedef struct tok_scratch {
    void *sym;   size_t sym_cap;   /* symbols */
    void *heap;  size_t heap_cap;  /* bigram priority queue */
    char *buf;   size_t buf_cap;   /* byte-encoded word */
    char *esc;   size_t esc_cap;   /* text with spaces escaped to U+2581 */
    size_t *seg; size_t seg_cap;   /* word boundaries: pairs (start, end) */
    size_t *seg2; size_t seg2_cap;
    char *norm;  size_t norm_cap;  /* UTF-8 re-encoding of invalid input */
    char *subj;  size_t subj_cap;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
} tok_scratch;

int tok_grow(void **p, size_t *cap, size_t need, size_t elem); /* QS_OK / QS_ENOMEM */
void tok_scratch_free(tok_scratch *s);

/* tok_spm.c: tokenize one text fragment (already prefixed / escaped by the caller). */
int tok_spm_fragment(const qs_tokenizer *tok, const char *text, size_t len, tok_scratch *s,
                     tok_ids *out);

/* tok_bpe.c */
/* Configure the pre-tokenizer named tok->pre (regexes and flags). Fills err if unknown. */
int tok_bpe_setup(qs_tokenizer *tok, qs_error *err);
/* Tokenize one raw text fragment. */
int tok_bpe_fragment(const qs_tokenizer *tok, const char *text, size_t len, tok_scratch *s,
                     tok_ids *out, qs_error *err);
void tok_bpe_free(qs_tokenizer *tok);
/* utf8 helpers */
/* Length of a UTF-8 sequence from its first byte, llama.cpp's rule (1 for continuation bytes). */
static inline size_t tok_utf8_len(unsigned char c) {
    static const uint8_t lut[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lut[c >> 4];
}

#endif
