/* tok_spm.c — SentencePiece-style tokenization of one text fragment (llama.cpp's SPM).
 *
 * The text (spaces already escaped to U+2581) starts as one symbol per UTF-8 character. Every
 * pair of neighbours whose concatenation is a vocabulary token is a candidate; the candidate
 * whose token has the highest score merges first (ties: leftmost), and the merged symbol forms
 * new candidates with its neighbours, until none is left. Each final symbol is a token, or is
 * spelled out as <0xXX> byte tokens when the vocabulary lacks it (byte fallback).
 *
 * Candidates go on a binary heap and are checked when popped: if either side has changed since
 * it was pushed, it is stale and dropped. O(n log n) in the fragment length. */
#include "tok_internal.h"

#include <string.h>

typedef struct spm_sym {
    size_t off; /* into the fragment */
    size_t n;   /* bytes; 0 once merged into its left neighbour */
    int32_t prev, next;
} spm_sym;

typedef struct spm_bigram {
    int32_t left, right;
    float score;
    uint32_t size;
} spm_bigram;

/* heap order: higher score first, then smaller left index */
static bool spm_before(const spm_bigram *a, const spm_bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_up(spm_bigram *h, size_t i) {
    spm_bigram x = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!spm_before(&x, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static void heap_down(spm_bigram *h, size_t n, size_t i) {
    spm_bigram x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && spm_before(&h[c + 1], &h[c])) c++;
        if (!spm_before(&h[c], &x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

typedef struct spm_ctx {
    const qs_tokenizer *tok;
    const char *text;
    tok_scratch *s;
    size_t n_heap;
} spm_ctx;

static int try_add(spm_ctx *c, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return QS_OK;
    spm_sym *sym = c->s->sym;
    size_t size = sym[left].n + sym[right].n; /* the two symbols are adjacent in the text */
    int32_t id = tok_strtab_find(&c->tok->str, c->text + sym[left].off, size);
    if (id < 0 || id >= c->tok->n_vocab) return QS_OK;
    if (tok_grow(&c->s->heap, &c->s->heap_cap, c->n_heap + 1, sizeof(spm_bigram))) return QS_ENOMEM;
    spm_bigram *h = c->s->heap;
    h[c->n_heap] = (spm_bigram){left, right, c->tok->score[id], (uint32_t)size};
    heap_up(h, c->n_heap++);
    return QS_OK;
}

/* Merge symbols [first, last] (linked as a chain) and append the resulting tokens. */
static int spm_run(spm_ctx *c, int32_t first, int32_t last, tok_ids *out) {
    const qs_tokenizer *tok = c->tok;
    tok_scratch *s = c->s;
    c->n_heap = 0;
    for (int32_t i = first + 1; i <= last; i++)
        if (try_add(c, i - 1, i)) return QS_ENOMEM;
    while (c->n_heap > 0) {
        spm_bigram *h = s->heap;
        spm_bigram b = h[0];
        h[0] = h[--c->n_heap];
        if (c->n_heap) heap_down(h, c->n_heap, 0);
        spm_sym *sym = s->sym;
        spm_sym *l = &sym[b.left], *r = &sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        if (try_add(c, l->prev, b.left)) return QS_ENOMEM;
        if (try_add(c, b.left, sym[b.left].next)) return QS_ENOMEM;
    }

    /* A merged symbol is always a token (it was only formed because it is one), so only single
     * characters can be missing from the vocabulary: those fall back to byte tokens. */
    spm_sym *sym = s->sym;
    for (int32_t i = first; i >= 0; i = sym[i].next) {
        int32_t id = tok_strtab_find(&tok->str, c->text + sym[i].off, sym[i].n);
        if (id >= 0 && id < tok->n_vocab) {
            if (tok_ids_push(out, id)) return QS_ENOMEM;
            continue;
        }
        for (size_t k = 0; k < sym[i].n; k++) {
            int32_t b = tok->byte_token[(unsigned char)c->text[sym[i].off + k]];
            if (b < 0) b = tok->unk; /* no byte token either (llama.cpp would throw) */
            if (b >= 0 && tok_ids_push(out, b)) return QS_ENOMEM;
        }
    }
    return QS_OK;
}

/* Can some token span the boundary between bytes a and b (that is, contain "ab")? */
static bool pair_joinable(const qs_tokenizer *tok, unsigned char a, unsigned char b) {
    unsigned k = (unsigned)a << 8 | b;
    return (tok->byte_pairs[k >> 6] >> (k & 63)) & 1;
}

int tok_spm_fragment(const qs_tokenizer *tok, const char *text, size_t len, tok_scratch *s, tok_ids *out) {
    if (len == 0) return QS_OK;
    /* one symbol per UTF-8 character (a truncated last character keeps what is there) */
    size_t n_sym = 0;
    for (size_t off = 0; off < len; n_sym++) {
        size_t l = tok_utf8_len((unsigned char)text[off]);
        off += l < len - off ? l : len - off;
    }
    if (n_sym >= INT32_MAX) return QS_ENOMEM;
    if (tok_grow(&s->sym, &s->sym_cap, n_sym, sizeof(spm_sym))) return QS_ENOMEM;
    spm_sym *sym = s->sym;
    size_t off = 0;
    for (size_t i = 0; i < n_sym; i++) {
        size_t l = tok_utf8_len((unsigned char)text[off]);
        if (l > len - off) l = len - off;
        sym[i] = (spm_sym){off, l, (int32_t)i - 1, i + 1 < n_sym ? (int32_t)i + 1 : -1};
        off += l;
    }

    /* Where no token contains the two bytes around a symbol boundary, no merge can ever cross
     * it: the pieces between such boundaries merge independently, with the same result as one
     * run over the whole fragment, but each piece's queue stays small (cache-friendly). */
    spm_ctx c = {tok, text, s, 0};
    int32_t first = 0;
    for (size_t i = 1; i <= n_sym; i++) {
        if (i < n_sym &&
            pair_joinable(tok, (unsigned char)text[sym[i].off - 1], (unsigned char)text[sym[i].off]))
            continue;
        int32_t last = (int32_t)i - 1;
        sym[first].prev = -1;
        sym[last].next = -1;
        int rc = spm_run(&c, first, last, out);
        if (rc) return rc;
        sym = s->sym;
        first = (int32_t)i;
    }
    return QS_OK;
}
