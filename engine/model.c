/* model.c — hyper-parameters and tensor table from GGUF metadata. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t get_int(const gguf_file *f, const char *arch, const char *suffix, int64_t dflt) {
    char key[160];
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (gguf_get_int(f, key, &v) == QS_OK) return v;
    /* per-layer arrays (e.g. head_count_kv in some models): take the largest */
    const gguf_kv *kv = gguf_get_arr(f, key);
    if (kv && kv->arr_count > 0) {
        double best = 0, d;
        for (uint64_t i = 0; i < kv->arr_count; i++)
            if (gguf_arr_num(kv, i, &d) == QS_OK && d > best) best = d;
        return (int64_t)best;
    }
    return dflt;
}

static double get_float(const gguf_file *f, const char *arch, const char *suffix, double dflt) {
    char key[160];
    double v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return gguf_get_float(f, key, &v) == QS_OK ? v : dflt;
}

qs_model *qs_model_open(const char *path, qs_error *err) {
    gguf_file *f = gguf_open(path, err);
    return f ? qs_model_from_gguf(f, err) : NULL;
}

qs_model *qs_model_from_gguf(gguf_file *f, qs_error *err) {
    qs_model *m = calloc(1, sizeof *m);
    if (!m) {
        qs_error_set(err, "%s: out of memory", f->path);
        gguf_close(f);
        return NULL;
    }
    m->gguf = f;
    qs_hparams *hp = &m->hp;
    if (gguf_get_cstr(f, "general.architecture", hp->arch, sizeof hp->arch) != QS_OK) {
        qs_error_set(err, "%s: no general.architecture key: not a model file (a vocabulary-only "
                          "file?)", f->path);
        qs_model_close(m);
        return NULL;
    }
    gguf_get_cstr(f, "general.name", hp->name, sizeof hp->name);
    const char *a = hp->arch;
    hp->n_layer = get_int(f, a, "block_count", 0);
    hp->n_embd = get_int(f, a, "embedding_length", 0);
    hp->n_ff = get_int(f, a, "feed_forward_length", 0);
    hp->n_head = get_int(f, a, "attention.head_count", 0);
    hp->n_head_kv = get_int(f, a, "attention.head_count_kv", hp->n_head);
    int64_t hd = hp->n_head > 0 ? hp->n_embd / hp->n_head : 0;
    hp->head_dim_k = get_int(f, a, "attention.key_length", hd);
    hp->head_dim_v = get_int(f, a, "attention.value_length", hd);
    hp->n_rot = get_int(f, a, "rope.dimension_count", hp->head_dim_k);
    hp->n_ctx_train = get_int(f, a, "context_length", 0);
    hp->n_expert = get_int(f, a, "expert_count", 0);
    hp->n_expert_used = get_int(f, a, "expert_used_count", 0);
    hp->rope_freq_base = get_float(f, a, "rope.freq_base", 10000.0);
    double factor = get_float(f, a, "rope.scaling.factor", 0.0);
    hp->rope_freq_scale = factor > 0 ? 1.0 / factor : 1.0;
    char key[160];
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    gguf_get_cstr(f, key, hp->rope_scaling, sizeof hp->rope_scaling);
    hp->rms_eps = get_float(f, a, "attention.layer_norm_rms_epsilon", 0.0);
    int64_t ft;
    hp->file_type = gguf_get_int(f, "general.file_type", &ft) == QS_OK ? (int)ft : -1;
    gguf_get_cstr(f, "tokenizer.ggml.model", hp->tok_model, sizeof hp->tok_model);
    gguf_get_cstr(f, "tokenizer.ggml.pre", hp->tok_pre, sizeof hp->tok_pre);
    hp->has_chat_template = gguf_find_key(f, "tokenizer.chat_template") >= 0;

    m->n_tensors = f->n_tensors;
    m->tensors = calloc((size_t)(f->n_tensors ? f->n_tensors : 1), sizeof *m->tensors);
    if (!m->tensors) {
        qs_error_set(err, "%s: out of memory", f->path);
        qs_model_close(m);
        return NULL;
    }
    for (int64_t i = 0; i < f->n_tensors; i++) {
        qs_model_tensor *t = &m->tensors[i];
        t->t = &f->tensors[i];
        memcpy(t->name, t->t->name.ptr, t->t->name.len); /* < 64 bytes: checked by the reader */
        t->name[t->t->name.len] = 0;
        t->block = -1;
        t->role = t->name;
        if (strncmp(t->name, "blk.", 4) == 0) {
            char *end;
            long b = strtol(t->name + 4, &end, 10);
            if (end != t->name + 4 && *end == '.' && b >= 0 && b < 1000000) {
                t->block = (int)b;
                t->role = end + 1;
            }
        }
        m->n_params += t->t->n_elements;
        m->tensor_bytes += t->t->nbytes;
        qs_type_total *tt = &m->by_type[t->t->type];
        tt->n_tensors++;
        tt->n_params += t->t->n_elements;
        tt->bytes += t->t->nbytes;
    }
    hp->tied_embeddings = qs_model_find(m, "output.weight") < 0;
    const gguf_kv *toks = gguf_get_arr(f, "tokenizer.ggml.tokens");
    int64_t te = qs_model_find(m, "token_embd.weight");
    if (toks) hp->n_vocab = (int64_t)toks->arr_count;
    else if (te >= 0) hp->n_vocab = m->tensors[te].t->ne[1];
    return m;
}

void qs_model_close(qs_model *m) {
    if (!m) return;
    gguf_close(m->gguf);
    free(m->tensors);
    free(m);
}

int64_t qs_model_find(const qs_model *m, const char *name) { return gguf_find_tensor(m->gguf, name); }

double qs_model_bpw(const qs_model *m) {
    return m->n_params > 0 ? (double)m->tensor_bytes * 8.0 / (double)m->n_params : 0.0;
}

const char *qs_ftype_name(int ftype) {
    /* llama.cpp's enum llama_ftype (values are facts of the file format) */
    static const char *const names[] = {
        [0] = "ALL_F32", [1] = "F16",      [2] = "Q4_0",     [3] = "Q4_1",     [7] = "Q8_0",
        [8] = "Q5_0",    [9] = "Q5_1",     [10] = "Q2_K",    [11] = "Q3_K_S",  [12] = "Q3_K_M",
        [13] = "Q3_K_L", [14] = "Q4_K_S",  [15] = "Q4_K_M",  [16] = "Q5_K_S",  [17] = "Q5_K_M",
        [18] = "Q6_K",   [19] = "IQ2_XXS", [20] = "IQ2_XS",  [21] = "Q2_K_S",  [22] = "IQ3_XS",
        [23] = "IQ3_XXS", [24] = "IQ1_S",  [25] = "IQ4_NL",  [26] = "IQ3_S",   [27] = "IQ3_M",
        [28] = "IQ2_S",  [29] = "IQ2_M",   [30] = "IQ4_XS",  [31] = "IQ1_M",   [32] = "BF16",
        [36] = "TQ1_0",  [37] = "TQ2_0",   [38] = "MXFP4_MOE",
    };
    if (ftype < 0 || ftype >= (int)(sizeof names / sizeof names[0]) || !names[ftype]) return "?";
    return names[ftype];
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
