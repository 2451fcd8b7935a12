/* tokenizer.c — vocabulary load, special tokens, encode dispatch, pieces and decoding.
 *
 * The behaviour follows llama.cpp's llama-vocab.cpp (which the test vectors in
 * shared/vocab were produced with); the code is our own. SPM merging is in tok_spm.c, BPE
 * merging and the pre-tokenizer regexes in tok_bpe.c. */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ small helpers */

int tok_grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return QS_OK;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q) return QS_ENOMEM;
    *p = q;
    *cap = nc;
    return QS_OK;
}

int tok_ids_push(tok_ids *a, int32_t id) {
    if (a->n == a->cap && tok_grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v)) return QS_ENOMEM;
    a->v[a->n++] = id;
    return QS_OK;
}

void tok_scratch_free(tok_scratch *s) {
    free(s->sym);
    free(s->heap);
    free(s->buf);
    free(s->esc);
    free(s->seg);
    free(s->seg2);
    free(s->norm);
    free(s->subj);
    if (s->md) pcre2_match_data_free(s->md);
    if (s->mctx) pcre2_match_context_free(s->mctx);
    if (s->jit) pcre2_jit_stack_free(s->jit);
    memset(s, 0, sizeof *s);
}

/* isspace() in the C locale, which is what llama.cpp's lstrip / rstrip use. */
static bool is_ascii_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* ================================================================ string table */

uint32_t tok_hash(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, folded to 32 bits */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

int32_t tok_strtab_find(const tok_strtab *t, const char *s, size_t len) {
    if (!t->slots) return -1;
    uint32_t h = tok_hash(s, len);
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const tok_slot *sl = &t->slots[i];
        if (sl->sid < 0) return -1;
        if (sl->hash == h && t->len[sl->sid] == len && !memcmp(t->blob + t->off[sl->sid], s, len))
            return sl->sid;
    }
}

static int strtab_rehash(tok_strtab *t, uint32_t nslots) {
    tok_slot *ns = malloc((size_t)nslots * sizeof *ns);
    if (!ns) return QS_ENOMEM;
    for (uint32_t i = 0; i < nslots; i++) ns[i].sid = -1;
    uint32_t mask = nslots - 1;
    if (t->slots) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            if (t->slots[i].sid < 0) continue;
            uint32_t j = t->slots[i].hash & mask;
            while (ns[j].sid >= 0) j = (j + 1) & mask;
            ns[j] = t->slots[i];
        }
    }
    free(t->slots);
    t->slots = ns;
    t->mask = mask;
    return QS_OK;
}

/* Room for n strings without rehashing (the vocabulary: merge halves are nearly all tokens). */
static int strtab_reserve(tok_strtab *t, int32_t n) {
    uint32_t ns = 1024;
    while (ns < (uint64_t)n * 2 + 2) ns *= 2;
    if (strtab_rehash(t, ns)) return QS_ENOMEM;
    size_t c1 = 0, c2 = 0;
    if (tok_grow((void **)&t->off, &c1, (size_t)n + 64, sizeof *t->off)) return QS_ENOMEM;
    if (tok_grow((void **)&t->len, &c2, (size_t)n + 64, sizeof *t->len)) return QS_ENOMEM;
    t->cap = (int32_t)(c1 < c2 ? c1 : c2);
    return QS_OK;
}

/* Append a string and make it findable; an equal string already mapped is re-pointed at the
 * new one (the later token wins, as in llama.cpp). Returns the string id, or QS_ENOMEM /
 * QS_ERR (table full). */
static int32_t strtab_add(tok_strtab *t, const char *s, size_t len) {
    if (t->n >= INT32_MAX - 1 || t->blob_len + len > UINT32_MAX) return QS_ERR;
    if (tok_grow((void **)&t->blob, &t->blob_cap, t->blob_len + len + 1, 1)) return QS_ENOMEM;
    if (t->n == t->cap) {
        size_t c1 = (size_t)t->cap, c2 = (size_t)t->cap;
        if (tok_grow((void **)&t->off, &c1, (size_t)t->n + 1, sizeof *t->off)) return QS_ENOMEM;
        if (tok_grow((void **)&t->len, &c2, (size_t)t->n + 1, sizeof *t->len)) return QS_ENOMEM;
        t->cap = (int32_t)(c1 < c2 ? c1 : c2);
    }
    if (!t->slots || (uint64_t)(t->n_used + 1) * 2 > (uint64_t)t->mask + 1) {
        uint32_t ns = t->slots ? (t->mask + 1) * 2 : 1024;
        if (strtab_rehash(t, ns)) return QS_ENOMEM;
    }
    int32_t sid = t->n++;
    t->off[sid] = (uint32_t)t->blob_len;
    t->len[sid] = (uint32_t)len;
    if (len) memcpy(t->blob + t->blob_len, s, len);
    t->blob_len += len;
    t->blob[t->blob_len] = 0;

    uint32_t h = tok_hash(s, len);
    uint32_t i = h & t->mask;
    for (;; i = (i + 1) & t->mask) {
        tok_slot *sl = &t->slots[i];
        if (sl->sid < 0) {
            sl->hash = h;
            sl->sid = sid;
            t->n_used++;
            break;
        }
        if (sl->hash == h && t->len[sl->sid] == len && !memcmp(t->blob + t->off[sl->sid], s, len)) {
            sl->sid = sid;
            break;
        }
    }
    return sid;
}

/* Id of a string, added to the table if it is not there yet. */
static int32_t strtab_intern(tok_strtab *t, const char *s, size_t len) {
    int32_t sid = tok_strtab_find(t, s, len);
    return sid >= 0 ? sid : strtab_add(t, s, len);
}

static void strtab_free(tok_strtab *t) {
    free(t->blob);
    free(t->off);
    free(t->len);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* ================================================================ merge ranks */

static uint64_t pair_hash(int32_t l, int32_t r) {
    uint64_t k = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

int32_t tok_pair_rank(const tok_pairmap *m, int32_t l, int32_t r) {
    if (!m->slots || l < 0 || r < 0) return -1;
    for (uint64_t i = pair_hash(l, r) & m->mask;; i = (i + 1) & m->mask) {
        const tok_pair_slot *s = &m->slots[i];
        if (s->left == l && s->right == r) return s->rank;
        if (s->left < 0) return -1;
    }
}

static int pairmap_init(tok_pairmap *m, uint64_t n) {
    uint64_t ns = 1024;
    while (ns < n + n / 2 + 1) ns *= 2; /* load factor at most 2/3 */
    m->slots = malloc(ns * sizeof *m->slots);
    if (!m->slots) return QS_ENOMEM;
    for (uint64_t i = 0; i < ns; i++) m->slots[i].left = -1;
    m->mask = ns - 1;
    m->n = 0;
    return QS_OK;
}

/* Insert unless present: the first merge listed for a pair keeps its rank (llama.cpp uses
 * emplace). */
static void pairmap_put(tok_pairmap *m, int32_t l, int32_t r, int32_t rank) {
    for (uint64_t i = pair_hash(l, r) & m->mask;; i = (i + 1) & m->mask) {
        tok_pair_slot *s = &m->slots[i];
        if (s->left == l && s->right == r) return;
        if (s->left < 0) {
            *s = (tok_pair_slot){l, r, rank};
            m->n++;
            return;
        }
    }
}

/* ================================================================ UTF-8 */

/* Length of the well-formed UTF-8 sequence at p (n bytes available): >0 valid, 0 a valid
 * but truncated prefix (more bytes could complete it), <0 ill-formed, where -k means the
 * first k bytes are the maximal ill-formed subpart to replace by one U+FFFD. */
static int utf8_check(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    int need;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c == 0xe0) need = 2, lo = 0xa0;
    else if (c >= 0xe1 && c <= 0xec) need = 2;
    else if (c == 0xed) need = 2, hi = 0x9f;
    else if (c >= 0xee && c <= 0xef) need = 2;
    else if (c == 0xf0) need = 3, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3) need = 3;
    else if (c == 0xf4) need = 3, hi = 0x8f;
    else return -1;
    for (int k = 1; k <= need; k++) {
        if ((size_t)k >= n) return 0;
        unsigned b = p[k];
        if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) return -k;
    }
    return need + 1;
}

bool qs_utf8_valid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        int r = utf8_check(p + i, len - i);
        if (r <= 0) return false;
        i += (size_t)r;
    }
    return true;
}

/* ================================================================ metadata helpers */

static bool get_u32_id(const gguf_file *f, const char *key, int32_t *id) {
    uint64_t v;
    if (gguf_find_key(f, key) < 0 || gguf_get_uint(f, key, &v) != QS_OK) return false;
    *id = v > INT32_MAX ? INT32_MAX : (int32_t)v;
    return true;
}

static bool get_flag(const gguf_file *f, const char *key, bool *out) {
    bool b;
    if (gguf_find_key(f, key) < 0 || gguf_get_bool(f, key, &b) != QS_OK) return false;
    *out = b;
    return true;
}

/* ================================================================ load */

static uint32_t attr_from_type(int64_t t) {
    switch (t) {
    case QS_TOKEN_UNKNOWN: return QS_TOKATTR_UNKNOWN;
    case QS_TOKEN_UNUSED: return QS_TOKATTR_UNUSED;
    case QS_TOKEN_NORMAL: return QS_TOKATTR_NORMAL;
    case QS_TOKEN_CONTROL: return QS_TOKATTR_CONTROL;
    case QS_TOKEN_USER_DEFINED: return QS_TOKATTR_USER_DEFINED;
    case QS_TOKEN_BYTE: return QS_TOKATTR_BYTE;
    default: return QS_TOKATTR_UNDEFINED;
    }
}

static const char *tok_text(const qs_tokenizer *t, int32_t id, size_t *len) {
    *len = t->str.len[id];
    return t->str.blob + t->str.off[id];
}

/* Token of a vocabulary text, but only if it is a token (not an extra merge half). */
static int32_t find_token(const qs_tokenizer *t, const char *s, size_t len) {
    int32_t sid = tok_strtab_find(&t->str, s, len);
    return sid >= 0 && sid < t->n_vocab ? sid : -1;
}

static int32_t find_token_cstr(const qs_tokenizer *t, const char *s) {
    return find_token(t, s, strlen(s));
}

static void set_control(qs_tokenizer *t, int32_t id) { t->attr[id] |= QS_TOKATTR_CONTROL; }

/* Special ids that name no known text in the file: find them by their usual spellings, in
 * the order listed (llama.cpp takes whichever its hash map yields first; the order here
 * reproduces its choice on the published Llama 3 and Phi-3 vocabularies). A token found this
 * way is made a control token. */
static void detect_by_text(qs_tokenizer *t, int32_t *id, const char *const *names) {
    if (*id >= 0) return;
    for (const char *const *n = names; *n; n++) {
        int32_t x = find_token_cstr(t, *n);
        if (x >= 0) {
            *id = x;
            set_control(t, x);
            return;
        }
    }
}

static const char *const k_eot_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<end_of_utterance>", NULL};
static const char *const k_eom_names[] = {"<|eom_id|>", NULL};
static const char *const k_fim_pre_names[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>",
    "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL};
static const char *const k_fim_suf_names[] = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>",
    "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL};
static const char *const k_fim_mid_names[] = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>",
    "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL};
static const char *const k_fim_pad_names[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
                                              NULL};
static const char *const k_fim_rep_names[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
                                              "<reponame>", NULL};
static const char *const k_fim_sep_names[] = {"<|file_sep|>", NULL};
/* Texts that end generation wherever they appear in a vocabulary. */
static const char *const k_eog_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~[", NULL};

static bool has_substr(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

static int load_strings(qs_tokenizer *t, const gguf_file *f, qs_error *err) {
    const gguf_kv *kv = gguf_get_arr(f, "tokenizer.ggml.tokens");
    if (!kv) return qs_error_set(err, "tokenizer.ggml.tokens: missing (the model has no vocabulary)");
    if (kv->arr_type != GGUF_VT_STRING)
        return qs_error_set(err, "tokenizer.ggml.tokens: expected an array of strings, found %s",
                            gguf_vtype_name(kv->arr_type));
    if (kv->arr_count == 0) return qs_error_set(err, "tokenizer.ggml.tokens: empty array");
    if (kv->arr_count >= (uint64_t)INT32_MAX / 2)
        return qs_error_set(err, "tokenizer.ggml.tokens: %llu tokens is too many",
                            (unsigned long long)kv->arr_count);
    t->n_vocab = (int32_t)kv->arr_count;
    if (strtab_reserve(&t->str, t->n_vocab)) return qs_error_set(err, "out of memory reading the vocabulary");

    gguf_arr_iter it;
    gguf_arr_begin(kv, &it);
    gguf_str s;
    const uint8_t *data;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        if (!gguf_arr_next(&it, &data, &s, NULL))
            return qs_error_set(err, "tokenizer.ggml.tokens: array ends at element %d of %d", i, t->n_vocab);
        int32_t sid;
        if (s.len == 0) {
            char buf[32]; /* llama.cpp renames empty tokens so they stay distinct */
            int n = snprintf(buf, sizeof buf, "[EMPTY_%d]", i);
            sid = strtab_add(&t->str, buf, (size_t)n);
        } else {
            sid = strtab_add(&t->str, s.ptr, (size_t)s.len);
        }
        if (sid == QS_ENOMEM) return qs_error_set(err, "out of memory reading the vocabulary");
        if (sid < 0) return qs_error_set(err, "tokenizer.ggml.tokens: vocabulary too large");
    }

    size_t nv = (size_t)(uint32_t)t->n_vocab;
    t->score = calloc(nv, sizeof *t->score);
    t->attr = malloc(nv * sizeof *t->attr);
    t->eog = calloc(nv, 1);
    t->special_rank = malloc(nv * sizeof *t->special_rank);
    if (!t->score || !t->attr || !t->eog || !t->special_rank) return qs_error_set(err, "out of memory");
    for (int32_t i = 0; i < t->n_vocab; i++) t->attr[i] = QS_TOKATTR_NORMAL, t->special_rank[i] = -1;

    const gguf_kv *sc = gguf_get_arr(f, "tokenizer.ggml.scores");
    if (!sc && gguf_find_key(f, "tokenizer.ggml.scores") >= 0)
        return qs_error_set(err, "tokenizer.ggml.scores: expected an array");
    if (sc) {
        if (sc->arr_count < (uint64_t)t->n_vocab)
            return qs_error_set(err, "tokenizer.ggml.scores: %llu scores for %d tokens",
                                (unsigned long long)sc->arr_count, t->n_vocab);
        for (int32_t i = 0; i < t->n_vocab; i++) {
            double v;
            if (gguf_arr_num(sc, (uint64_t)i, &v) != QS_OK)
                return qs_error_set(err, "tokenizer.ggml.scores: expected numbers, found %s",
                                    gguf_vtype_name(sc->arr_type));
            t->score[i] = (float)v;
        }
    }

    const gguf_kv *ty = gguf_get_arr(f, "tokenizer.ggml.token_type");
    if (!ty && gguf_find_key(f, "tokenizer.ggml.token_type") >= 0)
        return qs_error_set(err, "tokenizer.ggml.token_type: expected an array");
    if (ty) {
        if (ty->arr_count < (uint64_t)t->n_vocab)
            return qs_error_set(err, "tokenizer.ggml.token_type: %llu types for %d tokens",
                                (unsigned long long)ty->arr_count, t->n_vocab);
        if (ty->arr_type == GGUF_VT_FLOAT32 || ty->arr_type == GGUF_VT_FLOAT64 ||
            ty->arr_type == GGUF_VT_STRING || ty->arr_type == GGUF_VT_ARRAY || ty->arr_type == GGUF_VT_BOOL)
            return qs_error_set(err, "tokenizer.ggml.token_type: expected integers, found %s",
                                gguf_vtype_name(ty->arr_type));
        for (int32_t i = 0; i < t->n_vocab; i++) {
            double v;
            if (gguf_arr_num(ty, (uint64_t)i, &v) != QS_OK)
                return qs_error_set(err, "tokenizer.ggml.token_type: element %d unreadable", i);
            t->attr[i] = attr_from_type((int64_t)v);
        }
    }
    return QS_OK;
}

static int load_merges(qs_tokenizer *t, const gguf_file *f, qs_error *err) {
    const gguf_kv *kv = gguf_get_arr(f, "tokenizer.ggml.merges");
    if (!kv) return qs_error_set(err, "tokenizer.ggml.merges: missing (a gpt2 tokenizer needs its merges)");
    if (kv->arr_type != GGUF_VT_STRING)
        return qs_error_set(err, "tokenizer.ggml.merges: expected an array of strings, found %s",
                            gguf_vtype_name(kv->arr_type));
    if (kv->arr_count >= (uint64_t)INT32_MAX / 4)
        return qs_error_set(err, "tokenizer.ggml.merges: %llu merges is too many",
                            (unsigned long long)kv->arr_count);
    t->n_merges = (int32_t)kv->arr_count;
    if (pairmap_init(&t->merges, kv->arr_count)) return qs_error_set(err, "out of memory");

    gguf_arr_iter it;
    gguf_arr_begin(kv, &it);
    gguf_str s;
    const uint8_t *data;
    for (int32_t i = 0; i < t->n_merges; i++) {
        if (!gguf_arr_next(&it, &data, &s, NULL))
            return qs_error_set(err, "tokenizer.ggml.merges: array ends at element %d", i);
        /* "left right": the separator is the first space after the first byte (a half may
         * itself be a lone space in SPM-style BPE vocabularies) */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', (size_t)s.len - 1) : NULL;
        if (!sp)
            return qs_error_set(err, "tokenizer.ggml.merges: merge %d \"%.*s\" is not two halves "
                                     "separated by a space", i, (int)(s.len > 60 ? 60 : s.len), s.ptr);
        size_t ll = (size_t)(sp - s.ptr), rl = (size_t)s.len - ll - 1;
        int32_t l = strtab_intern(&t->str, s.ptr, ll);
        int32_t r = l >= 0 ? strtab_intern(&t->str, sp + 1, rl) : l;
        if (l == QS_ENOMEM || r == QS_ENOMEM) return qs_error_set(err, "out of memory reading merges");
        if (l < 0 || r < 0) return qs_error_set(err, "tokenizer.ggml.merges: too many strings");
        pairmap_put(&t->merges, l, r, i);
    }
    return QS_OK;
}

/* Defaults per tokenizer family, before the file's own keys (llama.cpp's choices). */
static void family_defaults(qs_tokenizer *t) {
    t->eot = t->eom = t->sep = t->pad = t->mask = -1;
    t->fim_pre = t->fim_suf = t->fim_mid = t->fim_pad = t->fim_rep = t->fim_sep = -1;
    if (t->type == QS_VOCAB_SPM) {
        t->bos = 1, t->eos = 2, t->unk = 0;
        t->add_space_prefix = true;
        t->clean_spaces = false;
        t->add_bos = true;
        t->add_eos = false;
        t->escape_ws = true;
    } else {
        t->bos = 11, t->eos = 11, t->unk = -1;
        t->add_space_prefix = false;
        t->clean_spaces = true;
        t->add_bos = false;
        t->add_eos = false;
        t->escape_ws = false;
        t->byte_encode = true;
    }
}

static void read_special_ids(qs_tokenizer *t, const gguf_file *f) {
    struct {
        const char *key;
        int32_t *id;
    } keys[] = {
        {"tokenizer.ggml.bos_token_id", &t->bos},         {"tokenizer.ggml.eos_token_id", &t->eos},
        {"tokenizer.ggml.eot_token_id", &t->eot},         {"tokenizer.ggml.eom_token_id", &t->eom},
        {"tokenizer.ggml.unknown_token_id", &t->unk},     {"tokenizer.ggml.seperator_token_id", &t->sep},
        {"tokenizer.ggml.padding_token_id", &t->pad},     {"tokenizer.ggml.mask_token_id", &t->mask},
        {"tokenizer.ggml.fim_pre_token_id", &t->fim_pre}, {"tokenizer.ggml.fim_suf_token_id", &t->fim_suf},
        {"tokenizer.ggml.fim_mid_token_id", &t->fim_mid}, {"tokenizer.ggml.fim_pad_token_id", &t->fim_pad},
        {"tokenizer.ggml.fim_rep_token_id", &t->fim_rep}, {"tokenizer.ggml.fim_sep_token_id", &t->fim_sep},
        /* deprecated spellings */
        {"tokenizer.ggml.prefix_token_id", &t->fim_pre},  {"tokenizer.ggml.suffix_token_id", &t->fim_suf},
        {"tokenizer.ggml.middle_token_id", &t->fim_mid},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int32_t *id = keys[i].id;
        if (*id >= t->n_vocab) *id = -1; /* a family default outside this vocabulary */
        int32_t v;
        /* an id outside the vocabulary (often 0xFFFFFFFF for "none") keeps the default */
        if (get_u32_id(f, keys[i].key, &v) && v < t->n_vocab) *id = v;
    }
}

static void mark_eog(qs_tokenizer *t) {
    if (t->fim_pad >= 0) t->eog[t->fim_pad] = 1;
    if (t->fim_rep >= 0) t->eog[t->fim_rep] = 1;
    if (t->fim_sep >= 0) t->eog[t->fim_sep] = 1;
    for (const char *const *n = k_eog_names; *n; n++) {
        int32_t id = find_token_cstr(t, *n);
        if (id < 0) continue;
        t->eog[id] = 1;
        set_control(t, id);
    }
    /* gpt-oss: these structural tokens are always rendered */
    static const char *const k_user[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL};
    for (const char *const *n = k_user; *n; n++) {
        int32_t id = find_token_cstr(t, *n);
        if (id >= 0) t->attr[id] = QS_TOKATTR_USER_DEFINED;
    }
    if (t->eos >= 0) t->eog[t->eos] = 1;
    if (t->eot >= 0) t->eog[t->eot] = 1;
    if (t->eom >= 0) t->eog[t->eom] = 1;

    /* o200k_harmony / solar-open: "<|end|>" ends a message, not the generation */
    int32_t ret = find_token_cstr(t, "<|return|>"), call = find_token_cstr(t, "<|call|>");
    int32_t calls = find_token_cstr(t, "<|calls|>"), flush = find_token_cstr(t, "<|flush|>");
    int32_t end = find_token_cstr(t, "<|end|>");
    bool has_call = (call >= 0 && t->eog[call]) || (calls >= 0 && t->eog[calls]);
    if (end >= 0 && t->eog[end] && has_call && ((ret >= 0 && t->eog[ret]) || (flush >= 0 && t->eog[flush]))) {
        t->eog[end] = 0;
        t->attr[end] = QS_TOKATTR_USER_DEFINED;
    }
    /* gemma4 / paddleocr: "</s>" is not an end of generation next to "<|tool_response>" */
    int32_t tr = find_token_cstr(t, "<|tool_response>"), s = find_token_cstr(t, "</s>");
    if (tr >= 0 && t->eog[tr] && s >= 0 && t->eog[s]) {
        t->eog[s] = 0;
        t->attr[s] = QS_TOKATTR_NORMAL;
    }
}

static int cmp_special(const void *a, const void *b, void *ctx) {
    const qs_tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->str.len[x] != t->str.len[y]) return t->str.len[x] > t->str.len[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int trie_add(qs_tokenizer *t, int32_t token) {
    size_t len;
    const unsigned char *s = (const unsigned char *)tok_text(t, token, &len);
    int32_t node = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t c = t->trie[node].child, prev = -1;
        while (c >= 0 && t->trie[c].byte != s[i]) prev = c, c = t->trie[c].sibling;
        if (c < 0) {
            if (t->n_trie == t->cap_trie) {
                size_t cap = (size_t)t->cap_trie;
                if (tok_grow((void **)&t->trie, &cap, (size_t)t->n_trie + 1, sizeof *t->trie))
                    return QS_ENOMEM;
                t->cap_trie = (int32_t)cap;
            }
            c = t->n_trie++;
            t->trie[c] = (tok_trie_node){.child = -1, .sibling = -1, .token = -1, .byte = s[i]};
            if (prev < 0) t->trie[node].child = c;
            else t->trie[prev].sibling = c;
        }
        node = c;
    }
    if (t->trie[node].token < 0) t->trie[node].token = token;
    return QS_OK;
}

static int build_special(qs_tokenizer *t) {
    int32_t n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (t->attr[i] & (QS_TOKATTR_CONTROL | QS_TOKATTR_USER_DEFINED | QS_TOKATTR_UNKNOWN)) n++;
    t->special = malloc(((size_t)n + 1) * sizeof *t->special);
    if (!t->special) return QS_ENOMEM;
    t->n_special = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (t->attr[i] & (QS_TOKATTR_CONTROL | QS_TOKATTR_USER_DEFINED | QS_TOKATTR_UNKNOWN))
            t->special[t->n_special++] = i;
    qsort_r(t->special, (size_t)t->n_special, sizeof *t->special, cmp_special, t);
    for (int32_t i = 0; i < t->n_special; i++) t->special_rank[t->special[i]] = i;

    t->cap_trie = 64;
    t->trie = malloc((size_t)t->cap_trie * sizeof *t->trie);
    if (!t->trie) return QS_ENOMEM;
    t->trie[0] = (tok_trie_node){.child = -1, .sibling = -1, .token = -1, .byte = 0};
    t->n_trie = 1;
    for (int32_t i = 0; i < t->n_special; i++) {
        size_t len;
        tok_text(t, t->special[i], &len);
        if (len && trie_add(t, t->special[i])) return QS_ENOMEM;
    }
    return QS_OK;
}

/* Per-model token attributes llama.cpp sets by name (the files do not carry them). */
static void model_attrs(qs_tokenizer *t, const gguf_file *f) {
    char name[128] = "", arch[64] = "";
    gguf_get_cstr(f, "general.name", name, sizeof name);
    gguf_get_cstr(f, "general.architecture", arch, sizeof arch);
    for (char *p = name; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    if (has_substr(t->pre, "jina-v2-de") || has_substr(t->pre, "jina-v2-es") ||
        has_substr(t->pre, "jina-v2-code") || has_substr(arch, "nomic-bert-moe") ||
        has_substr(arch, "jina-bert-v3")) {
        int32_t id = find_token_cstr(t, "<mask>");
        if (id >= 0) t->attr[id] |= QS_TOKATTR_LSTRIP;
    } else if (has_substr(name, "phi-3") || has_substr(name, "phi3")) {
        /* Phi-3's added tokens have rstrip=True in tokenizer.json */
        for (int32_t i = 0; i < t->n_special; i++) t->attr[t->special[i]] |= QS_TOKATTR_RSTRIP;
        int32_t id = find_token_cstr(t, "</s>");
        if (id >= 0) t->attr[id] |= QS_TOKATTR_RSTRIP;
        static const char *const k_no[] = {"<unk>", "<s>", "<|endoftext|>", NULL};
        for (const char *const *n = k_no; *n; n++) {
            id = find_token_cstr(t, *n);
            if (id >= 0) t->attr[id] &= ~(uint32_t)QS_TOKATTR_RSTRIP;
        }
    } else if (has_substr(name, "modern-bert")) {
        int32_t id = find_token_cstr(t, "[MASK]");
        if (id >= 0) t->attr[id] |= QS_TOKATTR_LSTRIP;
    }
}

/* GPT-2's printable alphabet: bytes that are visible Latin-1 characters stand for themselves,
 * the other 68 (controls, space, DEL, NBSP, soft hyphen ...) take code points 256, 257, ... in
 * byte order. */
static int gpt2_cp_of_byte(int b) {
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)) return b;
    int n = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || (c >= 0xae && c <= 0xff))) n++;
    return 256 + n;
}

static int put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The byte of a "<0xXX>" token text, or -1. */
static int byte_of_text(const char *s, size_t len) {
    if (len != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
    int h = hexval((unsigned char)s[3]), l = hexval((unsigned char)s[4]);
    return h < 0 || l < 0 ? -1 : h * 16 + l;
}

/* Append the bytes of token id's piece (special = true) to a growable buffer. */
static int piece_of(const qs_tokenizer *t, int32_t id, int16_t *const cp_to_byte, char **buf, size_t *n,
                    size_t *cap) {
    size_t len;
    const char *s = tok_text(t, id, &len);
    uint32_t a = t->attr[id];
    if (tok_grow((void **)buf, cap, *n + len * 3 + 64, 1)) return QS_ENOMEM;
    char *o = *buf + *n;
    if (a & (QS_TOKATTR_UNKNOWN | QS_TOKATTR_CONTROL | QS_TOKATTR_USER_DEFINED)) {
        memcpy(o, s, len);
        *n += len;
    } else if (a & QS_TOKATTR_NORMAL) {
        if (t->type == QS_VOCAB_SPM || t->escape_ws) {
            size_t k = 0;
            for (size_t i = 0; i < len;) {
                if (i + 3 <= len && !memcmp(s + i, "\xe2\x96\x81", 3)) o[k++] = ' ', i += 3;
                else o[k++] = s[i++];
            }
            *n += k;
        } else {
            /* GPT-2 alphabet back to bytes; a code point outside it is shown as llama.cpp does */
            size_t k = 0;
            for (size_t i = 0; i < len;) {
                const unsigned char *p = (const unsigned char *)s + i;
                size_t l = tok_utf8_len(p[0]);
                if (l > len - i) l = len - i;
                uint32_t cp = p[0];
                if (l == 2) cp = ((p[0] & 0x1fu) << 6) | (p[1] & 0x3fu);
                else if (l == 3) cp = ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
                else if (l == 4)
                    cp = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) |
                         (p[3] & 0x3fu);
                if (cp < 324 && cp_to_byte[cp] >= 0) {
                    o[k++] = (char)cp_to_byte[cp];
                } else {
                    size_t need = *n + k + 16 + 2 * l + len + 1;
                    if (tok_grow((void **)buf, cap, need + (len - i) * 3, 1)) return QS_ENOMEM;
                    o = *buf + *n;
                    k += (size_t)sprintf(o + k, "[UNK_BYTE_0x");
                    for (size_t j = 0; j < l; j++) k += (size_t)sprintf(o + k, "%02x", p[j]);
                    memcpy(o + k, s, len);
                    k += len;
                    o[k++] = ']';
                }
                i += l;
            }
            *n += k;
        }
    } else if (a & QS_TOKATTR_BYTE) {
        int b = byte_of_text(s, len);
        if (b >= 0) o[0] = (char)b, *n += 1;
    }
    return QS_OK;
}

static int build_pieces(qs_tokenizer *t) {
    int16_t cp_to_byte[324];
    for (int i = 0; i < 324; i++) cp_to_byte[i] = -1;
    for (int b = 0; b < 256; b++) cp_to_byte[gpt2_cp_of_byte(b)] = (int16_t)b;
    t->piece_off = malloc(((size_t)t->n_vocab + 1) * sizeof *t->piece_off);
    if (!t->piece_off) return QS_ENOMEM;
    size_t n = 0, cap = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        t->piece_off[i] = (uint32_t)n;
        if (piece_of(t, i, cp_to_byte, &t->piece, &n, &cap)) return QS_ENOMEM;
        if (n > UINT32_MAX) return QS_ERR;
    }
    t->piece_off[t->n_vocab] = (uint32_t)n;
    if (!t->piece) t->piece = malloc(1);
    return t->piece ? QS_OK : QS_ENOMEM;
}

qs_tokenizer *qs_tok_load(const gguf_file *f, qs_error *err) {
    qs_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        qs_error_set(err, "out of memory");
        return NULL;
    }
    char model[64] = "";
    if (gguf_find_key(f, "tokenizer.ggml.model") < 0) {
        qs_error_set(err, "tokenizer.ggml.model: missing (the model has no tokenizer)");
        goto fail;
    }
    if (gguf_get_cstr(f, "tokenizer.ggml.model", model, sizeof model) != QS_OK) {
        qs_error_set(err, "tokenizer.ggml.model: expected a string");
        goto fail;
    }
    if (!strcmp(model, "llama")) {
        t->type = QS_VOCAB_SPM;
    } else if (!strcmp(model, "gpt2")) {
        t->type = QS_VOCAB_BPE;
    } else if (!strcmp(model, "no_vocab") || !strcmp(model, "none")) {
        qs_error_set(err, "tokenizer.ggml.model is '%s': the model has no vocabulary", model);
        goto fail;
    } else {
        qs_error_set(err, "tokenizer.ggml.model '%s' is not supported (supported: 'llama' "
                          "SentencePiece-style, 'gpt2' byte-level BPE)", model);
        goto fail;
    }
    snprintf(t->model, sizeof t->model, "%s", model);
    if (gguf_find_key(f, "tokenizer.ggml.pre") >= 0 &&
        gguf_get_cstr(f, "tokenizer.ggml.pre", t->pre, sizeof t->pre) != QS_OK) {
        qs_error_set(err, "tokenizer.ggml.pre: expected a string");
        goto fail;
    }
    family_defaults(t);
    if (t->type == QS_VOCAB_BPE) {
        if (!t->pre[0]) snprintf(t->pre, sizeof t->pre, "default");
        if (tok_bpe_setup(t, err) != QS_OK) goto fail;
    } else {
        snprintf(t->pre, sizeof t->pre, "default"); /* SPM has no pre-tokenizer */
    }
    get_flag(f, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix);

    if (load_strings(t, f, err) != QS_OK) goto fail;
    if (t->type == QS_VOCAB_BPE && load_merges(t, f, err) != QS_OK) goto fail;

    /* raw-byte tokens: SPM's <0xXX> (or the byte itself), BPE's GPT-2 alphabet letters */
    for (int b = 0; b < 256; b++) {
        char hx[8];
        snprintf(hx, sizeof hx, "<0x%02X>", b);
        char one = (char)b;
        t->byte_token[b] = find_token(t, hx, 6);
        if (t->byte_token[b] < 0) t->byte_token[b] = find_token(t, &one, 1);
        char enc[4];
        int l = put_utf8(enc, (uint32_t)gpt2_cp_of_byte(b));
        memcpy(t->byte_enc[b], enc, (size_t)l);
        t->byte_enc_len[b] = (uint8_t)l;
        t->byte_sid[b] = tok_strtab_find(&t->str, enc, (size_t)l);
    }

    for (int32_t i = 0; i < t->n_vocab; i++) {
        size_t len;
        const unsigned char *p = (const unsigned char *)tok_text(t, i, &len);
        for (size_t k = 1; k < len; k++) {
            unsigned key = (unsigned)p[k - 1] << 8 | p[k];
            t->byte_pairs[key >> 6] |= 1ull << (key & 63);
        }
    }

    read_special_ids(t, f);
    get_flag(f, "tokenizer.ggml.add_bos_token", &t->add_bos);
    get_flag(f, "tokenizer.ggml.add_eos_token", &t->add_eos);
    get_flag(f, "tokenizer.ggml.add_sep_token", &t->add_sep);
    if (t->force_bos) t->add_bos = true;

    detect_by_text(t, &t->eot, k_eot_names);
    detect_by_text(t, &t->eom, k_eom_names);
    detect_by_text(t, &t->fim_pre, k_fim_pre_names);
    detect_by_text(t, &t->fim_suf, k_fim_suf_names);
    detect_by_text(t, &t->fim_mid, k_fim_mid_names);
    detect_by_text(t, &t->fim_pad, k_fim_pad_names);
    detect_by_text(t, &t->fim_rep, k_fim_rep_names);
    detect_by_text(t, &t->fim_sep, k_fim_sep_names);

    /* control tokens named "unused" are placeholders */
    for (int32_t i = 0; i < t->n_vocab; i++) {
        if (!(t->attr[i] & QS_TOKATTR_CONTROL)) continue;
        size_t len;
        const char *s = tok_text(t, i, &len);
        if (memmem(s, len, "unused", 6)) t->attr[i] |= QS_TOKATTR_UNUSED;
    }
    mark_eog(t);

    if (build_special(t) != QS_OK || build_pieces(t) != QS_OK) {
        qs_error_set(err, "out of memory building the tokenizer");
        goto fail;
    }
    model_attrs(t, f);

    /* the newline token */
    t->nl = t->pad;
    if (t->type == QS_VOCAB_SPM) {
        if (t->byte_token['\n'] >= 0) t->nl = t->byte_token['\n'];
    } else {
        int32_t *ids = NULL;
        size_t n = 0;
        qs_error e2;
        if (qs_tok_encode(t, "\n", 1, false, false, &ids, &n, &e2) == QS_OK && n > 0) t->nl = ids[0];
        free(ids);
    }
    return t;

fail:
    qs_tok_free(t);
    return NULL;
}

void qs_tok_free(qs_tokenizer *t) {
    if (!t) return;
    strtab_free(&t->str);
    free(t->score);
    free(t->attr);
    free(t->eog);
    free(t->piece);
    free(t->piece_off);
    free(t->special);
    free(t->special_rank);
    free(t->trie);
    free(t->merges.slots);
    tok_bpe_free(t);
    free(t);
}

/* ================================================================ special-token partition */

typedef struct occ {
    int32_t rank; /* priority: position in tok->special */
    size_t pos;
} occ;

static int cmp_occ(const void *a, const void *b) {
    const occ *x = a, *y = b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

typedef struct accepted {
    size_t pos, len;
    int32_t token;
} accepted;

static int cmp_acc(const void *a, const void *b) {
    const accepted *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static bool special_active(const qs_tokenizer *t, int32_t id, bool parse_special) {
    /* user-defined tokens are always split out; control / unknown only on request */
    return parse_special || !(t->attr[id] & (QS_TOKATTR_CONTROL | QS_TOKATTR_UNKNOWN));
}

/* Cut text into raw fragments and special tokens. llama.cpp takes special tokens longest
 * first; for each, every occurrence (left to right, not overlapping what is already cut) in
 * the remaining raw text becomes a token; lstrip / rstrip tokens also swallow the ASCII
 * whitespace next to them. We find all occurrences with one trie pass and then apply that
 * same priority order, which gives the identical partition in time linear in the text. */
static int partition(const qs_tokenizer *t, const char *text, size_t len, bool parse_special,
                     tok_fragment **out, size_t *n_out) {
    occ *oc = NULL;
    size_t n_oc = 0, cap_oc = 0;
    const unsigned char *s = (const unsigned char *)text;
    if (t->n_trie > 1 && t->trie[0].child >= 0) {
        for (size_t p = 0; p < len; p++) {
            int32_t node = t->trie[0].child;
            size_t q = p;
            while (node >= 0 && q < len) {
                while (node >= 0 && t->trie[node].byte != s[q]) node = t->trie[node].sibling;
                if (node < 0) break;
                int32_t tk = t->trie[node].token;
                if (tk >= 0 && special_active(t, tk, parse_special)) {
                    if (tok_grow((void **)&oc, &cap_oc, n_oc + 1, sizeof *oc)) goto nomem;
                    oc[n_oc++] = (occ){t->special_rank[tk], p};
                }
                node = t->trie[node].child;
                q++;
            }
        }
    }

    tok_fragment *fr = NULL;
    size_t n_fr = 0;
    if (n_oc == 0) {
        if (len) {
            fr = malloc(sizeof *fr);
            if (!fr) goto nomem;
            fr[0] = (tok_fragment){-1, 0, len};
            n_fr = 1;
        }
        free(oc);
        *out = fr;
        *n_out = n_fr;
        return QS_OK;
    }

    qsort(oc, n_oc, sizeof *oc, cmp_occ);
    uint8_t *claimed = calloc(len, 1);
    accepted *acc = malloc(n_oc * sizeof *acc);
    if (!claimed || !acc) {
        free(claimed);
        free(acc);
        goto nomem;
    }
    size_t n_acc = 0;
    for (size_t i = 0; i < n_oc; i++) {
        int32_t tk = t->special[oc[i].rank];
        size_t p = oc[i].pos, L = t->str.len[tk];
        bool free_run = true;
        for (size_t k = 0; k < L && free_run; k++) free_run = !claimed[p + k];
        if (!free_run) continue;
        memset(claimed + p, 1, L);
        acc[n_acc++] = (accepted){p, L, tk};
        if (t->attr[tk] & QS_TOKATTR_LSTRIP)
            for (size_t q = p; q > 0 && !claimed[q - 1] && is_ascii_space(s[q - 1]); q--) claimed[q - 1] = 2;
        if (t->attr[tk] & QS_TOKATTR_RSTRIP)
            for (size_t q = p + L; q < len && !claimed[q] && is_ascii_space(s[q]); q++) claimed[q] = 2;
    }
    qsort(acc, n_acc, sizeof *acc, cmp_acc);

    fr = malloc((2 * n_acc + 1) * sizeof *fr);
    if (!fr) {
        free(claimed);
        free(acc);
        goto nomem;
    }
    size_t pos = 0, a = 0;
    while (pos < len) {
        if (a < n_acc && acc[a].pos == pos) {
            fr[n_fr++] = (tok_fragment){acc[a].token, pos, acc[a].len};
            pos += acc[a].len;
            a++;
        } else if (claimed[pos]) {
            pos++; /* stripped whitespace */
        } else {
            size_t e = pos;
            while (e < len && !claimed[e]) e++;
            fr[n_fr++] = (tok_fragment){-1, pos, e - pos};
            pos = e;
        }
    }
    free(claimed);
    free(acc);
    free(oc);
    *out = fr;
    *n_out = n_fr;
    return QS_OK;
nomem:
    free(oc);
    return QS_ENOMEM;
}

/* ================================================================ encode */

int qs_tok_encode(const qs_tokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
                  int32_t **out_ids, size_t *n_out, qs_error *err) {
    *out_ids = NULL;
    *n_out = 0;
    if (!text) len = 0;
    tok_fragment *fr = NULL;
    size_t n_fr = 0;
    if (partition(t, text, len, parse_special, &fr, &n_fr) != QS_OK) {
        qs_error_set(err, "out of memory");
        return QS_ENOMEM;
    }
    tok_ids ids = {0};
    tok_scratch sc = {0};
    int rc = QS_OK;

    if (add_special && t->add_bos) {
        if (t->bos < 0) {
            rc = qs_error_set(err, "the model asks for a BOS token but defines none");
            goto done;
        }
        if ((rc = tok_ids_push(&ids, t->bos))) goto nomem;
    }
    bool prev_special = true; /* SPM: a text right at the start or after a token gets a space */
    for (size_t i = 0; i < n_fr; i++) {
        const tok_fragment *g = &fr[i];
        if (g->token >= 0) {
            if ((rc = tok_ids_push(&ids, g->token))) goto nomem;
            prev_special = true;
            continue;
        }
        const char *s = text + g->off;
        if (t->type == QS_VOCAB_SPM || t->escape_ws) {
            /* spaces -> U+2581, with a leading one where SentencePiece would add it */
            bool prefix = t->type == QS_VOCAB_SPM && t->add_space_prefix && prev_special;
            size_t need = (g->len + (prefix ? 1 : 0)) * 3 + 1;
            if ((rc = tok_grow((void **)&sc.esc, &sc.esc_cap, need, 1))) goto nomem;
            size_t k = 0;
            if (prefix) memcpy(sc.esc, "\xe2\x96\x81", 3), k = 3;
            for (size_t j = 0; j < g->len; j++) {
                if (s[j] == ' ') memcpy(sc.esc + k, "\xe2\x96\x81", 3), k += 3;
                else sc.esc[k++] = s[j];
            }
            if (t->type == QS_VOCAB_SPM) rc = tok_spm_fragment(t, sc.esc, k, &sc, &ids);
            else rc = tok_bpe_fragment(t, sc.esc, k, &sc, &ids, err);
        } else {
            rc = tok_bpe_fragment(t, s, g->len, &sc, &ids, err);
        }
        if (rc == QS_ENOMEM) goto nomem;
        if (rc != QS_OK) goto done;
        prev_special = false;
    }
    if (add_special && t->add_eos) {
        if (t->eos < 0) {
            rc = qs_error_set(err, "the model asks for an EOS token but defines none");
            goto done;
        }
        if ((rc = tok_ids_push(&ids, t->eos))) goto nomem;
    }
    goto done;
nomem:
    rc = QS_ENOMEM;
    qs_error_set(err, "out of memory");
done:
    free(fr);
    tok_scratch_free(&sc);
    if (rc != QS_OK) {
        free(ids.v);
        return rc;
    }
    *out_ids = ids.v;
    *n_out = ids.n;
    return QS_OK;
}

/* ================================================================ vocabulary queries */

qs_vocab_type qs_tok_type(const qs_tokenizer *t) { return t->type; }
const char *qs_tok_model_name(const qs_tokenizer *t) { return t->model; }
const char *qs_tok_pre_name(const qs_tokenizer *t) { return t->pre; }
int32_t qs_tok_n_vocab(const qs_tokenizer *t) { return t->n_vocab; }
int32_t qs_tok_n_merges(const qs_tokenizer *t) { return t->n_merges; }

const char *qs_tok_piece(const qs_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) {
        *len = 0;
        return NULL;
    }
    return tok_text(t, id, len);
}

const char *qs_tok_bytes(const qs_tokenizer *t, int32_t id, bool special, size_t *len) {
    *len = 0;
    if (id < 0 || id >= t->n_vocab) return "";
    if (!special && (t->attr[id] & (QS_TOKATTR_UNKNOWN | QS_TOKATTR_CONTROL))) return "";
    *len = t->piece_off[id + 1] - t->piece_off[id];
    return t->piece + t->piece_off[id];
}

int32_t qs_tok_find(const qs_tokenizer *t, const char *s, size_t len) { return find_token(t, s, len); }

float qs_tok_score(const qs_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? t->score[id] : 0.0f;
}

uint32_t qs_tok_attr(const qs_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? t->attr[id] : 0;
}

qs_token_type qs_tok_token_type(const qs_tokenizer *t, int32_t id) {
    uint32_t a = qs_tok_attr(t, id);
    if (a & QS_TOKATTR_UNUSED) return QS_TOKEN_UNUSED;
    if (a & QS_TOKATTR_CONTROL) return QS_TOKEN_CONTROL;
    if (a & QS_TOKATTR_USER_DEFINED) return QS_TOKEN_USER_DEFINED;
    if (a & QS_TOKATTR_UNKNOWN) return QS_TOKEN_UNKNOWN;
    if (a & QS_TOKATTR_BYTE) return QS_TOKEN_BYTE;
    if (a & QS_TOKATTR_NORMAL) return QS_TOKEN_NORMAL;
    return QS_TOKEN_UNDEFINED;
}

const char *qs_token_type_name(qs_token_type ty) {
    switch (ty) {
    case QS_TOKEN_NORMAL: return "normal";
    case QS_TOKEN_UNKNOWN: return "unknown";
    case QS_TOKEN_CONTROL: return "control";
    case QS_TOKEN_USER_DEFINED: return "user-defined";
    case QS_TOKEN_UNUSED: return "unused";
    case QS_TOKEN_BYTE: return "byte";
    default: return "undefined";
    }
}

int32_t qs_tok_bos(const qs_tokenizer *t) { return t->bos; }
int32_t qs_tok_eos(const qs_tokenizer *t) { return t->eos; }
int32_t qs_tok_eot(const qs_tokenizer *t) { return t->eot; }
int32_t qs_tok_eom(const qs_tokenizer *t) { return t->eom; }
int32_t qs_tok_unk(const qs_tokenizer *t) { return t->unk; }
int32_t qs_tok_pad(const qs_tokenizer *t) { return t->pad; }
int32_t qs_tok_sep(const qs_tokenizer *t) { return t->sep; }
int32_t qs_tok_nl(const qs_tokenizer *t) { return t->nl; }
bool qs_tok_is_eog(const qs_tokenizer *t, int32_t id) { return id >= 0 && id < t->n_vocab && t->eog[id]; }
bool qs_tok_is_control(const qs_tokenizer *t, int32_t id) {
    return (qs_tok_attr(t, id) & (QS_TOKATTR_CONTROL | QS_TOKATTR_UNKNOWN)) != 0;
}
bool qs_tok_add_bos(const qs_tokenizer *t) { return t->add_bos; }
bool qs_tok_add_eos(const qs_tokenizer *t) { return t->add_eos; }
bool qs_tok_add_sep(const qs_tokenizer *t) { return t->add_sep; }
bool qs_tok_add_space_prefix(const qs_tokenizer *t) { return t->add_space_prefix; }

/* ================================================================ decode */

/* HF's clean_up_tokenization_spaces as llama.cpp implements it, in place; returns the new
 * length. The three passes are kept separate because each reads what the previous wrote. */
static size_t clean_spaces(char *x, size_t n) {
    if (n == 0) return 0;
    /* " ?" " !" " ." " ," lose the space */
    size_t m = 1;
    for (size_t i = 1; i < n; i++) {
        char c = x[i];
        if (x[i - 1] == ' ' && (c == '?' || c == '!' || c == '.' || c == ',')) m--;
        x[m++] = c;
    }
    n = m;
    /* " ' " becomes "'" */
    m = 1;
    for (size_t i = 1; i < n; i++) {
        char c = x[i];
        if (c == '\'' && i + 1 < n && x[i - 1] == ' ' && x[i + 1] == ' ') {
            m--;
            x[++i] = '\0';
        }
        x[m++] = c;
    }
    n = m;
    /* " 's" " 'm" " 're" " 've" lose the space */
    m = 1;
    for (size_t i = 1; i < n; i++) {
        char c = x[i];
        if (x[i - 1] == ' ' && c == '\'' && i + 1 < n) {
            char c1 = x[i + 1];
            if (c1 == 's' || c1 == 'm') m--;
            else if (c1 != 't' && c1 != 'd' && i + 2 < n) {
                char c2 = x[i + 2];
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e')) m--;
            }
        }
        x[m++] = c;
    }
    return m;
}

int qs_tok_decode(const qs_tokenizer *t, const int32_t *ids, size_t n, bool remove_special,
                  bool unparse_special, char **out, size_t *out_len, qs_error *err) {
    *out = NULL;
    *out_len = 0;
    bool strip = t->add_space_prefix;
    if (remove_special && t->add_bos && n > 0 && ids[0] == t->bos) {
        strip = false;
        ids++, n--;
    }
    if (remove_special && t->add_eos && n > 0 && ids[n - 1] == t->eos) n--;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        qs_tok_bytes(t, ids[i], unparse_special, &l);
        total += l;
    }
    char *buf = malloc(total + 1);
    if (!buf) return qs_error_set(err, "out of memory"), QS_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        const char *p = qs_tok_bytes(t, ids[i], unparse_special, &l);
        if (strip && l > 0 && p[0] == ' ') p++, l--;
        strip = false;
        memcpy(buf + k, p, l);
        k += l;
    }
    if (t->clean_spaces) k = clean_spaces(buf, k);
    buf[k] = 0;
    *out = buf;
    *out_len = k;
    return QS_OK;
}

/* ---------------------------------------------------------------- streaming */

void qs_detok_init(qs_detok *d, const qs_tokenizer *t, unsigned flags) {
    memset(d, 0, sizeof *d);
    d->tok = t;
    d->flags = flags;
}

void qs_detok_free(qs_detok *d) {
    free(d->buf);
    memset(d, 0, sizeof *d);
}

/* Move the complete characters of hold + piece into d->buf; keep a truncated tail for the
 * next call (or, when final, replace it by U+FFFD). */
static const char *detok_emit(qs_detok *d, const char *p, size_t l, bool final, size_t *len) {
    size_t n = d->n_hold + l;
    size_t out_max = n * 3 + 4; /* every byte may become a 3-byte U+FFFD */
    *len = 0;
    if (tok_grow((void **)&d->buf, &d->cap, out_max + n + 1, 1)) return NULL;
    char *in = d->buf + out_max; /* input copy after the output area */
    memcpy(in, d->hold, d->n_hold);
    if (l) memcpy(in + d->n_hold, p, l);
    d->n_hold = 0;
    const unsigned char *u = (const unsigned char *)in;
    size_t o = 0, i = 0;
    while (i < n) {
        int r = utf8_check(u + i, n - i);
        if (r > 0) {
            memmove(d->buf + o, in + i, (size_t)r);
            o += (size_t)r, i += (size_t)r;
        } else if (r == 0 && !final) {
            d->n_hold = n - i; /* a truncated sequence: at most 3 bytes */
            memcpy(d->hold, u + i, d->n_hold);
            break;
        } else {
            memcpy(d->buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i += r < 0 ? (size_t)-r : n - i;
        }
    }
    *len = o;
    return d->buf;
}

const char *qs_detok_feed(qs_detok *d, int32_t id, size_t *len) {
    size_t l;
    const char *p = qs_tok_bytes(d->tok, id, (d->flags & QS_DETOK_SPECIAL) != 0, &l);
    if (!d->started && (d->flags & QS_DETOK_STRIP_SPACE) && l > 0 && p[0] == ' ') p++, l--;
    d->started = true;
    return detok_emit(d, p, l, false, len);
}

const char *qs_detok_flush(qs_detok *d, size_t *len) {
    const char *r = detok_emit(d, "", 0, true, len);
    d->started = false;
    d->n_hold = 0;
    return r;
}
