/* model.c — hyper-parameters and tensor table from GGUF metadata. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ metadata helpers */

static const char *arch_key(char *buf, size_t n, const char *arch, const char *suffix) {
    snprintf(buf, n, "%s.%s", arch, suffix);
    return buf;
}

static int64_t get_int(const gguf_file *f, const char *arch, const char *suffix, int64_t dflt) {
    char key[160];
    int64_t v;
    return gguf_get_int(f, arch_key(key, sizeof key, arch, suffix), &v) == QS_OK ? v : dflt;
}

static double get_float(const gguf_file *f, const char *arch, const char *suffix, double dflt) {
    char key[160];
    double v;
    return gguf_get_float(f, arch_key(key, sizeof key, arch, suffix), &v) == QS_OK ? v : dflt;
}

/* A value that llama.cpp reads with get_key_or_arr: a scalar for every layer, or an array of
 * one value per layer. Fills per[0 .. n_layer-1] and *max; *was_arr says which form it was.
 * Absent: dflt everywhere. QS_ERR with a message for an array of the wrong length or with a
 * non-numeric / negative element. */
static int get_per_layer(const gguf_file *f, const char *arch, const char *suffix, int64_t dflt,
                         int64_t n_layer, int64_t *per, int64_t *max, bool *was_arr,
                         qs_error *err) {
    char key[160];
    arch_key(key, sizeof key, arch, suffix);
    int64_t v = dflt;
    const gguf_kv *kv = gguf_get_arr(f, key);
    *was_arr = false;
    if (kv) {
        if ((int64_t)kv->arr_count != n_layer)
            return qs_error_set(err, "%s: %s: array of %llu values for %lld blocks", f->path, key,
                                (unsigned long long)kv->arr_count, (long long)n_layer);
        *was_arr = true;
        *max = 0;
        for (int64_t i = 0; i < n_layer; i++) {
            double d;
            if (gguf_arr_num(kv, (uint64_t)i, &d) != QS_OK || !(d >= 0) || d > 1e12)
                return qs_error_set(err, "%s: %s: element %lld is not a count", f->path, key,
                                    (long long)i);
            per[i] = (int64_t)d;
            if (per[i] > *max) *max = per[i];
        }
        return QS_OK;
    }
    if (gguf_get_int(f, key, &v) == QS_OK && v < 0)
        return qs_error_set(err, "%s: %s = %lld is negative", f->path, key, (long long)v);
    for (int64_t i = 0; i < n_layer; i++) per[i] = v;
    *max = v;
    return QS_OK;
}

static int64_t get_plain_int(const gguf_file *f, const char *key, int64_t dflt) {
    int64_t v;
    return gguf_get_int(f, key, &v) == QS_OK ? v : dflt;
}

/* ------------------------------------------------------------------ tensor names */

/* Fills block, role and suffix from the name ("blk.12.attn_q.weight" -> 12, "attn_q",
 * "weight"; "token_embd.weight" -> -1, "token_embd", "weight"). */
static void describe_name(qs_model_tensor *t) {
    const char *rest = t->name;
    t->block = -1;
    if (strncmp(t->name, "blk.", 4) == 0) {
        char *end;
        long b = strtol(t->name + 4, &end, 10);
        if (end != t->name + 4 && t->name[4] >= '0' && t->name[4] <= '9' && *end == '.' &&
            b >= 0 && b < 1000000) {
            t->block = (int)b;
            rest = end + 1;
        }
    }
    const char *dot = strrchr(rest, '.');
    size_t n = dot ? (size_t)(dot - rest) : strlen(rest);
    if (n >= sizeof t->role) n = sizeof t->role - 1;
    memcpy(t->role, rest, n);
    t->role[n] = 0;
    t->suffix = dot ? dot + 1 : t->name + strlen(t->name);
}

/* ------------------------------------------------------------------ open */

qs_model *qs_model_open(const char *path, qs_error *err) {
    gguf_file *f = gguf_open(path, err);
    return f ? qs_model_from_gguf(f, err) : NULL;
}

static qs_model *fail(qs_model *m, qs_error *err, const char *fmt, const char *path) {
    if (fmt) qs_error_set(err, fmt, path);
    qs_model_close(m);
    return NULL;
}

/* True when per[0 .. n) holds more than one value. */
static bool differ(const int64_t *per, int64_t n) {
    for (int64_t i = 1; i < n; i++)
        if (per[i] != per[0]) return true;
    return false;
}

/* Every hyper-parameter of f into *hp, and the per-layer head / feed-forward counts into
 * arrays it allocates (*lh, *lkv, *lff: n_layer values each, NULL when n_layer is 0; the
 * caller frees them, also on failure). */
static int read_hparams(const gguf_file *f, qs_hparams *hp, int64_t **lh, int64_t **lkv,
                        int64_t **lff, qs_error *err) {
    const char *path = f->path ? f->path : "model";
    memset(hp, 0, sizeof *hp);
    *lh = *lkv = *lff = NULL;
    if (gguf_get_cstr(f, "general.architecture", hp->arch, sizeof hp->arch) != QS_OK)
        return qs_error_set(err, "%s: no general.architecture key: not a model file (a "
                                 "vocabulary-only file?)", path);
    gguf_get_cstr(f, "general.name", hp->name, sizeof hp->name);
    const char *a = hp->arch;
    char key[160];

    hp->n_layer = get_int(f, a, "block_count", 0);
    if (hp->n_layer < 0 || hp->n_layer > QS_MODEL_MAX_LAYERS)
        return qs_error_set(err, "%s: %s = %lld is out of range (0 .. %d)", path,
                            arch_key(key, sizeof key, a, "block_count"), (long long)hp->n_layer,
                            QS_MODEL_MAX_LAYERS);
    hp->n_embd = get_int(f, a, "embedding_length", 0);
    size_t nl = (size_t)(hp->n_layer ? hp->n_layer : 1);
    *lh = calloc(nl, sizeof **lh);
    *lkv = calloc(nl, sizeof **lkv);
    *lff = calloc(nl, sizeof **lff);
    if (!*lh || !*lkv || !*lff) return qs_error_set(err, "%s: out of memory", path);
    bool arr_h, arr_kv, arr_ff;
    if (get_per_layer(f, a, "attention.head_count", 0, hp->n_layer, *lh, &hp->n_head, &arr_h,
                      err) != QS_OK)
        return QS_ERR;
    /* An absent head_count_kv means "as many as query heads", layer by layer. */
    char kvkey[160];
    if (gguf_find_key(f, arch_key(kvkey, sizeof kvkey, a, "attention.head_count_kv")) >= 0) {
        if (get_per_layer(f, a, "attention.head_count_kv", hp->n_head, hp->n_layer, *lkv,
                          &hp->n_head_kv, &arr_kv, err) != QS_OK)
            return QS_ERR;
    } else {
        arr_kv = false;
        hp->n_head_kv = hp->n_head;
        memcpy(*lkv, *lh, nl * sizeof **lh);
    }
    if (get_per_layer(f, a, "feed_forward_length", 0, hp->n_layer, *lff, &hp->n_ff, &arr_ff,
                      err) != QS_OK)
        return QS_ERR;
    hp->per_layer_heads = arr_h || arr_kv || arr_ff;
    hp->layers_differ = differ(*lh, hp->n_layer) || differ(*lkv, hp->n_layer) ||
                        differ(*lff, hp->n_layer);
    if (hp->n_layer == 0) { /* keep the "NULL when n_layer is 0" promise of the header */
        free(*lh);
        free(*lkv);
        free(*lff);
        *lh = *lkv = *lff = NULL;
    }

    int64_t hd = hp->n_head > 0 ? hp->n_embd / hp->n_head : 0;
    hp->head_dim_k = get_int(f, a, "attention.key_length", hd);
    hp->head_dim_v = get_int(f, a, "attention.value_length", hd);
    hp->n_rot = get_int(f, a, "rope.dimension_count", hp->head_dim_k);
    hp->n_ctx_train = get_int(f, a, "context_length", 0);
    hp->n_expert = get_int(f, a, "expert_count", 0);
    hp->n_expert_used = get_int(f, a, "expert_used_count", 0);

    hp->rope_freq_base = get_float(f, a, "rope.freq_base", 10000.0);
    /* llama.cpp: rope.scaling.factor, else the older rope.scale_linear; freq scale = 1/x. */
    double factor = get_float(f, a, "rope.scaling.factor", 0.0);
    if (!(factor > 0)) factor = get_float(f, a, "rope.scale_linear", 0.0);
    hp->rope_scaling_factor = factor > 0 ? factor : 0.0;
    hp->rope_freq_scale = factor > 0 ? 1.0 / factor : 1.0;
    gguf_get_cstr(f, arch_key(key, sizeof key, a, "rope.scaling.type"), hp->rope_scaling,
                  sizeof hp->rope_scaling);
    hp->rope_orig_ctx = get_int(f, a, "rope.scaling.original_context_length", 0);
    hp->rope_attn_factor = get_float(f, a, "rope.scaling.attn_factor", 0.0);
    hp->rms_eps = get_float(f, a, "attention.layer_norm_rms_epsilon", 0.0);
    hp->norm_eps = get_float(f, a, "attention.layer_norm_epsilon", 0.0);

    hp->file_type = (int)get_plain_int(f, "general.file_type", -1);
    gguf_get_cstr(f, "tokenizer.ggml.model", hp->tok_model, sizeof hp->tok_model);
    gguf_get_cstr(f, "tokenizer.ggml.pre", hp->tok_pre, sizeof hp->tok_pre);
    hp->bos_id = get_plain_int(f, "tokenizer.ggml.bos_token_id", -1);
    hp->eos_id = get_plain_int(f, "tokenizer.ggml.eos_token_id", -1);
    const gguf_kv *merges = gguf_get_arr(f, "tokenizer.ggml.merges");
    hp->n_merges = merges ? (int64_t)merges->arr_count : 0;
    hp->has_chat_template = gguf_find_key(f, "tokenizer.chat_template") >= 0;

    hp->tied_embeddings = gguf_find_tensor(f, "output.weight") < 0;
    hp->has_rope_freqs = gguf_find_tensor(f, "rope_freqs.weight") >= 0;
    const gguf_kv *toks = gguf_get_arr(f, "tokenizer.ggml.tokens");
    int64_t te = gguf_find_tensor(f, "token_embd.weight");
    if (toks) hp->n_vocab = (int64_t)toks->arr_count;
    else if ((hp->n_vocab = get_int(f, a, "vocab_size", 0)) > 0) {}
    else if (te >= 0) hp->n_vocab = f->tensors[te].ne[1];
    return QS_OK;
}

int qs_hparams_read(const gguf_file *f, qs_hparams *hp, qs_error *err) {
    int64_t *lh, *lkv, *lff;
    int rc = read_hparams(f, hp, &lh, &lkv, &lff, err);
    free(lh);
    free(lkv);
    free(lff);
    return rc;
}

qs_model *qs_model_from_gguf(gguf_file *f, qs_error *err) {
    qs_model *m = calloc(1, sizeof *m);
    if (!m) {
        qs_error_set(err, "%s: out of memory", f->path);
        gguf_close(f);
        return NULL;
    }
    m->gguf = f;
    if (read_hparams(f, &m->hp, &m->layer_n_head, &m->layer_n_head_kv, &m->layer_n_ff, err) !=
        QS_OK)
        return fail(m, err, NULL, NULL);

    m->n_tensors = f->n_tensors;
    m->tensors = calloc((size_t)(f->n_tensors ? f->n_tensors : 1), sizeof *m->tensors);
    if (!m->tensors) return fail(m, err, "%s: out of memory", f->path);
    for (int64_t i = 0; i < f->n_tensors; i++) {
        qs_model_tensor *t = &m->tensors[i];
        t->t = &f->tensors[i];
        memcpy(t->name, t->t->name.ptr, t->t->name.len); /* <= 63 bytes: checked by the reader */
        t->name[t->t->name.len] = 0;
        describe_name(t);
        t->n_per_row = t->t->ne[0];
        t->n_rows = t->n_per_row > 0 ? t->t->n_elements / t->n_per_row : 0;
        if (t->block >= m->n_blocks_seen) m->n_blocks_seen = t->block + 1;
        m->n_params += t->t->n_elements;
        m->tensor_bytes += t->t->nbytes;
        qs_type_total *tt = &m->by_type[t->t->type];
        tt->n_tensors++;
        tt->n_params += t->t->n_elements;
        tt->bytes += t->t->nbytes;
    }
    return m;
}

void qs_model_close(qs_model *m) {
    if (!m) return;
    gguf_close(m->gguf);
    free(m->tensors);
    free(m->layer_n_head);
    free(m->layer_n_head_kv);
    free(m->layer_n_ff);
    free(m);
}

int64_t qs_model_find(const qs_model *m, const char *name) {
    return gguf_find_tensor(m->gguf, name);
}

double qs_model_bpw(const qs_model *m) {
    return m->n_params > 0 ? (double)m->tensor_bytes * 8.0 / (double)m->n_params : 0.0;
}

bool qs_model_tensor_is_matrix(const qs_model_tensor *t) { return t->t->n_dims >= 2; }

/* ------------------------------------------------------------------ file type */

#define QS_FTYPE_GUESSED 1024

const char *qs_ftype_name(int ftype) {
    /* llama.cpp's enum llama_ftype (values are facts of the file format; gaps were removed) */
    static const char *const names[] = {
        [0] = "ALL_F32", [1] = "F16",      [2] = "Q4_0",     [3] = "Q4_1",     [7] = "Q8_0",
        [8] = "Q5_0",    [9] = "Q5_1",     [10] = "Q2_K",    [11] = "Q3_K_S",  [12] = "Q3_K_M",
        [13] = "Q3_K_L", [14] = "Q4_K_S",  [15] = "Q4_K_M",  [16] = "Q5_K_S",  [17] = "Q5_K_M",
        [18] = "Q6_K",   [19] = "IQ2_XXS", [20] = "IQ2_XS",  [21] = "Q2_K_S",  [22] = "IQ3_XS",
        [23] = "IQ3_XXS", [24] = "IQ1_S",  [25] = "IQ4_NL",  [26] = "IQ3_S",   [27] = "IQ3_M",
        [28] = "IQ2_S",  [29] = "IQ2_M",   [30] = "IQ4_XS",  [31] = "IQ1_M",   [32] = "BF16",
        [36] = "TQ1_0",  [37] = "TQ2_0",   [38] = "MXFP4_MOE", [39] = "NVFP4", [40] = "Q1_0",
        [41] = "Q2_0",
    };
    if (ftype >= 0) ftype &= ~QS_FTYPE_GUESSED;
    if (ftype < 0 || ftype >= (int)(sizeof names / sizeof names[0]) || !names[ftype]) return "?";
    return names[ftype];
}

bool qs_ftype_guessed(int ftype) { return ftype >= 0 && (ftype & QS_FTYPE_GUESSED); }

/* ------------------------------------------------------------------ suggestions */

/* Levenshtein distance, capped: returns cap + 1 as soon as the distance must exceed cap. */
static int edit_distance(const char *a, const char *b, int cap) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return cap + 1;
    if (la - lb > cap || lb - la > cap) return cap + 1;
    int prev[64], cur[64];
    for (int j = 0; j <= lb; j++) prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        int row_min = cur[0];
        for (int j = 1; j <= lb; j++) {
            int c = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < c) c = prev[j] + 1;
            if (cur[j - 1] + 1 < c) c = cur[j - 1] + 1;
            cur[j] = c;
            if (c < row_min) row_min = c;
        }
        if (row_min > cap) return cap + 1;
        memcpy(prev, cur, (size_t)(lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

int qs_model_similar(const qs_model *m, const char *name, int64_t *out, int max) {
    int n = 0;
    if (max <= 0 || !*name) return 0;
    /* names that contain the query (a role such as "attn_q" or "blk.3.") */
    for (int64_t i = 0; i < m->n_tensors && n < max; i++)
        if (strstr(m->tensors[i].name, name)) out[n++] = i;
    if (n > 0) return n;
    /* then the nearest by edit distance: up to a third of the query's length */
    int cap = (int)strlen(name) / 3 + 1;
    for (int d = 1; d <= cap && n < max; d++)
        for (int64_t i = 0; i < m->n_tensors && n < max; i++)
            if (edit_distance(name, m->tensors[i].name, d) == d) out[n++] = i;
    return n;
}

/* ------------------------------------------------------------------ plan view */

void qs_model_est_fill(const qs_model *m, const int *types, qs_est_tensor *tensors, qs_est_model *out) {
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const qs_model_tensor *mt = &m->tensors[i];
        tensors[i].name = mt->name;
        tensors[i].n_dims = mt->t->n_dims;
        for (int d = 0; d < 4; d++) tensors[i].ne[d] = mt->t->ne[d];
        tensors[i].type = types ? types[i] : mt->t->type;
        tensors[i].block = mt->block;
    }
    memset(out, 0, sizeof *out);
    out->arch = m->hp.arch;
    out->n_layer = (int)m->hp.n_layer;
    out->n_embd = m->hp.n_embd;
    out->n_head = (int)m->hp.n_head;
    out->n_head_kv = (int)m->hp.n_head_kv;
    out->head_dim_k = m->hp.head_dim_k;
    out->head_dim_v = m->hp.head_dim_v;
    out->n_ff = m->hp.n_ff;
    out->n_vocab = m->hp.n_vocab;
    out->n_ctx_train = m->hp.n_ctx_train;
    out->alignment = m->gguf->alignment;
    out->tensors = tensors;
    out->n_tensors = m->n_tensors;
}

int qs_model_est_view(const qs_model *m, const int *types, qs_est_model *out, qs_est_tensor **tensors) {
    qs_est_tensor *t = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *t);
    if (!t) return QS_ENOMEM;
    qs_model_est_fill(m, types, t, out);
    *tensors = t;
    return QS_OK;
}

int qs_model_plan_view(const qs_model *m, qs_plan_model *out, qs_plan_tensor **tensors) {
    qs_plan_tensor *t = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *t);
    if (!t) return QS_ENOMEM;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const qs_model_tensor *mt = &m->tensors[i];
        t[i].name = mt->name;
        t[i].n_dims = mt->t->n_dims;
        for (int d = 0; d < 4; d++) t[i].ne[d] = mt->t->ne[d];
        t[i].type = mt->t->type;
        t[i].block = mt->block;
    }
    memset(out, 0, sizeof *out);
    out->arch = m->hp.arch;
    out->n_layer = (int)m->hp.n_layer;
    out->n_head = (int)m->hp.n_head;
    out->n_head_kv = (int)m->hp.n_head_kv;
    out->n_expert = (int)m->hp.n_expert;
    out->type_70b = qs_plan_model_is_70b(m->hp.arch, (int)m->hp.n_layer, (int)m->hp.n_head,
                                         (int)m->hp.n_head_kv, (int)m->hp.n_expert);
    out->tensors = t;
    out->n_tensors = (int)m->n_tensors;
    *tensors = t;
    return QS_OK;
}
