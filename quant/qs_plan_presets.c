/* Presets: llama.cpp's quantization mixes, tensor categories, which tensors are quantized at all,
 * and the fallback for shapes a type cannot hold.
 *
 * Everything here reproduces the behaviour of llama-quantize (llama.cpp src/llama-quant.cpp,
 * commit d32676d7) and is pinned per tensor by tests/test_plan.c against its --dry-run output.
 * The structure is ours: one function per tensor category, each saying why it picks a type. */
#include "qs_plan_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------------------------------------
 * Preset and ftype tables.
 * ------------------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    qs_type base;
} presets[QS_PRESET_COUNT] = {
    [QS_PRESET_NONE] = {"none", QS_TYPE_F16},
    [QS_PRESET_Q8_0] = {"Q8_0", QS_TYPE_Q8_0},
    [QS_PRESET_Q6_K] = {"Q6_K", QS_TYPE_Q6_K},
    [QS_PRESET_Q5_K_M] = {"Q5_K_M", QS_TYPE_Q5_K},
    [QS_PRESET_Q5_K_S] = {"Q5_K_S", QS_TYPE_Q5_K},
    [QS_PRESET_Q4_K_M] = {"Q4_K_M", QS_TYPE_Q4_K},
    [QS_PRESET_Q4_K_S] = {"Q4_K_S", QS_TYPE_Q4_K},
    [QS_PRESET_Q3_K_L] = {"Q3_K_L", QS_TYPE_Q3_K},
    [QS_PRESET_Q3_K_M] = {"Q3_K_M", QS_TYPE_Q3_K},
    [QS_PRESET_Q3_K_S] = {"Q3_K_S", QS_TYPE_Q3_K},
    [QS_PRESET_Q2_K] = {"Q2_K", QS_TYPE_Q2_K},
    [QS_PRESET_Q5_0] = {"Q5_0", QS_TYPE_Q5_0},
    [QS_PRESET_Q5_1] = {"Q5_1", QS_TYPE_Q5_1},
    [QS_PRESET_Q4_0] = {"Q4_0", QS_TYPE_Q4_0},
    [QS_PRESET_Q4_1] = {"Q4_1", QS_TYPE_Q4_1},
    [QS_PRESET_IQ4_NL] = {"IQ4_NL", QS_TYPE_IQ4_NL},
    [QS_PRESET_IQ4_XS] = {"IQ4_XS", QS_TYPE_IQ4_XS},
    [QS_PRESET_F16] = {"F16", QS_TYPE_F16},
    [QS_PRESET_BF16] = {"BF16", QS_TYPE_BF16},
};

const char *qs_preset_name(qs_preset p) {
    if ((int)p < 0 || p >= QS_PRESET_COUNT) return "?";
    return presets[p].name;
}

qs_type qs_preset_base_type(qs_preset p) {
    if ((int)p <= 0 || p >= QS_PRESET_COUNT) return QS_TYPE_F16;
    return presets[p].base;
}

int qs_preset_from_name(const char *name, qs_preset *out) {
    if (!name) return QS_ERR;
    for (int i = 0; i < QS_PRESET_COUNT; i++) {
        if (strcasecmp(name, presets[i].name) == 0) {
            *out = (qs_preset)i;
            return QS_OK;
        }
    }
    /* llama-quantize's aliases */
    if (strcasecmp(name, "Q3_K") == 0) return *out = QS_PRESET_Q3_K_M, QS_OK;
    if (strcasecmp(name, "Q4_K") == 0) return *out = QS_PRESET_Q4_K_M, QS_OK;
    if (strcasecmp(name, "Q5_K") == 0) return *out = QS_PRESET_Q5_K_M, QS_OK;
    return QS_ERR;
}

/* llama-quantize's QUANT_OPTIONS, in its order (the order matters for numeric look-ups: the first
 * name with a number wins, e.g. 15 is Q4_K, an alias of Q4_K_M). */
static const qs_ftype_info ftypes[] = {
    {"Q1_0", 40, QS_TYPE_Q1_0, QS_PRESET_NONE},
    {"Q2_0", 41, QS_TYPE_Q2_0, QS_PRESET_NONE},
    {"Q4_0", 2, QS_TYPE_Q4_0, QS_PRESET_Q4_0},
    {"Q4_1", 3, QS_TYPE_Q4_1, QS_PRESET_Q4_1},
    {"MXFP4_MOE", 38, QS_TYPE_MXFP4, QS_PRESET_NONE},
    {"Q5_0", 8, QS_TYPE_Q5_0, QS_PRESET_Q5_0},
    {"Q5_1", 9, QS_TYPE_Q5_1, QS_PRESET_Q5_1},
    {"IQ2_XXS", 19, QS_TYPE_IQ2_XXS, QS_PRESET_NONE},
    {"IQ2_XS", 20, QS_TYPE_IQ2_XS, QS_PRESET_NONE},
    {"IQ2_S", 28, QS_TYPE_IQ2_XS, QS_PRESET_NONE},
    {"IQ2_M", 29, QS_TYPE_IQ2_S, QS_PRESET_NONE},
    {"IQ1_S", 24, QS_TYPE_IQ1_S, QS_PRESET_NONE},
    {"IQ1_M", 31, QS_TYPE_IQ1_M, QS_PRESET_NONE},
    {"TQ1_0", 36, QS_TYPE_TQ1_0, QS_PRESET_NONE},
    {"TQ2_0", 37, QS_TYPE_TQ2_0, QS_PRESET_NONE},
    {"Q2_K", 10, QS_TYPE_Q2_K, QS_PRESET_Q2_K},
    {"Q2_K_S", 21, QS_TYPE_Q2_K, QS_PRESET_NONE},
    {"IQ3_XXS", 23, QS_TYPE_IQ3_XXS, QS_PRESET_NONE},
    {"IQ3_S", 26, QS_TYPE_IQ3_S, QS_PRESET_NONE},
    {"IQ3_M", 27, QS_TYPE_IQ3_S, QS_PRESET_NONE},
    {"Q3_K", 12, QS_TYPE_Q3_K, QS_PRESET_Q3_K_M},
    {"IQ3_XS", 22, QS_TYPE_IQ3_S, QS_PRESET_NONE},
    {"Q3_K_S", 11, QS_TYPE_Q3_K, QS_PRESET_Q3_K_S},
    {"Q3_K_M", 12, QS_TYPE_Q3_K, QS_PRESET_Q3_K_M},
    {"Q3_K_L", 13, QS_TYPE_Q3_K, QS_PRESET_Q3_K_L},
    {"IQ4_NL", 25, QS_TYPE_IQ4_NL, QS_PRESET_IQ4_NL},
    {"IQ4_XS", 30, QS_TYPE_IQ4_XS, QS_PRESET_IQ4_XS},
    {"Q4_K", 15, QS_TYPE_Q4_K, QS_PRESET_Q4_K_M},
    {"Q4_K_S", 14, QS_TYPE_Q4_K, QS_PRESET_Q4_K_S},
    {"Q4_K_M", 15, QS_TYPE_Q4_K, QS_PRESET_Q4_K_M},
    {"Q5_K", 17, QS_TYPE_Q5_K, QS_PRESET_Q5_K_M},
    {"Q5_K_S", 16, QS_TYPE_Q5_K, QS_PRESET_Q5_K_S},
    {"Q5_K_M", 17, QS_TYPE_Q5_K, QS_PRESET_Q5_K_M},
    {"Q6_K", 18, QS_TYPE_Q6_K, QS_PRESET_Q6_K},
    {"Q8_0", 7, QS_TYPE_Q8_0, QS_PRESET_Q8_0},
    {"F16", 1, QS_TYPE_F16, QS_PRESET_F16},
    {"BF16", 32, QS_TYPE_BF16, QS_PRESET_BF16},
    {"F32", 0, QS_TYPE_F32, QS_PRESET_NONE},
};
#define N_FTYPES ((int)(sizeof ftypes / sizeof ftypes[0]))

const qs_ftype_info *qs_ftype_find(const char *s) {
    if (!s || !*s) return NULL;
    for (int i = 0; i < N_FTYPES; i++)
        if (strcasecmp(s, ftypes[i].name) == 0) return &ftypes[i];
    /* a number, as std::stoi reads it: optional space and sign, digits, anything after ignored */
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s) return NULL;
    for (int i = 0; i < N_FTYPES; i++)
        if (ftypes[i].ftype == v) return &ftypes[i];
    return NULL;
}

const qs_ftype_info *qs_ftype_for(qs_preset preset, qs_type base) {
    for (int i = 0; i < N_FTYPES; i++) {
        if (preset == QS_PRESET_NONE && ftypes[i].base == base) return &ftypes[i];
        /* the preset's own name, not an alias (Q4_K_M, not Q4_K) */
        if (preset != QS_PRESET_NONE && strcmp(ftypes[i].name, qs_preset_name(preset)) == 0) return &ftypes[i];
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Names.
 * ------------------------------------------------------------------------------------------- */

qs_tcat qs_plan_category(const char *n) {
    if (strcmp(n, "output.weight") == 0) return QS_TCAT_OUTPUT;
    if (strcmp(n, "token_embd.weight") == 0 || strcmp(n, "per_layer_token_embd.weight") == 0)
        return QS_TCAT_TOKEN_EMBD;
    if (strstr(n, "attn_qkv.weight")) return QS_TCAT_ATTN_QKV;
    if (strstr(n, "attn_kv_b.weight")) return QS_TCAT_ATTN_KV_B;
    if (strstr(n, "attn_v.weight")) return QS_TCAT_ATTN_V;
    if (strstr(n, "attn_k.weight")) return QS_TCAT_ATTN_K;
    if (strstr(n, "attn_q.weight")) return QS_TCAT_ATTN_Q;
    if (strstr(n, "attn_output.weight")) return QS_TCAT_ATTN_OUTPUT;
    if (strstr(n, "ffn_up")) return QS_TCAT_FFN_UP;
    if (strstr(n, "ffn_gate")) return QS_TCAT_FFN_GATE;
    if (strstr(n, "ffn_down")) return QS_TCAT_FFN_DOWN;
    return QS_TCAT_OTHER;
}

/* attn_v and the tensors llama.cpp treats like it (fused QKV, MLA's kv_b). */
static bool cat_is_attn_v(qs_tcat c) {
    return c == QS_TCAT_ATTN_V || c == QS_TCAT_ATTN_QKV || c == QS_TCAT_ATTN_KV_B;
}

/* sscanf(name, "blk.%d.", &b) == 1 */
static bool parse_block(const char *name, int *out) {
    if (strncmp(name, "blk.", 4) != 0) return false;
    const char *p = name + 4;
    while (isspace((unsigned char)*p)) p++;
    const char *d = p + (*p == '-' || *p == '+');
    if (!isdigit((unsigned char)*d)) return false;
    long v = strtol(p, NULL, 10);
    if (v > 1000000000L) v = 1000000000L;
    if (v < -1000000000L) v = -1000000000L;
    *out = (int)v;
    return true;
}

int qs_plan_name_block(const char *name) {
    int b;
    return parse_block(name, &b) ? b : -1;
}

bool qs_plan_model_is_70b(const char *arch, int n_layer, int n_head, int n_head_kv, int n_expert) {
    if (!arch) return false;
    if (strcmp(arch, "llama") == 0) return n_expert != 8 && n_layer == 80 && n_head != n_head_kv;
    if (strcmp(arch, "qwen2") == 0 || strcmp(arch, "deci") == 0 || strcmp(arch, "olmo") == 0)
        return n_layer == 80;
    if (strcmp(arch, "jais2") == 0) return n_layer == 68;
    return false;
}

/* ---------------------------------------------------------------------------------------------
 * Which tensors are quantized at all.
 * ------------------------------------------------------------------------------------------- */

/* Substrings that exclude a tensor, with the reason shown to people. */
static const struct {
    const char *part;
    const char *why;
} never_quantized[] = {
    {"_norm.weight", "norm weight"},
    {"ffn_gate_inp.weight", "expert router"},
    {"ffn_gate_tid2eid.weight", "expert routing table"},
    {"altup", "small altup tensor"},
    {"laurel", "small laurel tensor"},
    {"per_layer_model_proj", "per-layer projection"},
    {"ssm_conv1d", "small conv1d weight"},
    {"shortconv.conv.weight", "small conv weight"},
    {"indexer.k_proj.weight", "indexer projection"},
    {"indexer.q_proj.weight", "indexer projection"},
    {"time_mix_first.weight", "small RWKV weight"},
    {"time_mix_w0.weight", "small RWKV weight"},
    {"time_mix_w1.weight", "small RWKV weight"},
    {"time_mix_w2.weight", "small RWKV weight"},
    {"time_mix_v0.weight", "small RWKV weight"},
    {"time_mix_v1.weight", "small RWKV weight"},
    {"time_mix_v2.weight", "small RWKV weight"},
    {"time_mix_a0.weight", "small RWKV weight"},
    {"time_mix_a1.weight", "small RWKV weight"},
    {"time_mix_a2.weight", "small RWKV weight"},
    {"time_mix_g1.weight", "small RWKV weight"},
    {"time_mix_g2.weight", "small RWKV weight"},
    {"time_mix_decay_w1.weight", "small RWKV weight"},
    {"time_mix_decay_w2.weight", "small RWKV weight"},
    {"time_mix_lerp_fused.weight", "small RWKV weight"},
    {"attn_rel_b.weight", "relative position bias"},
    {".position_embd", "positional embedding"},
    {"sam.pos_embd", "positional embedding"},
    {"sam.neck.", "multimodal tensor"},
    {"sam.net_", "multimodal tensor"},
    {".rel_pos", "relative position tensor"},
    {".patch_embd", "patch embedding"},
    {".patch_merger", "patch merger"},
    {"a.rvq.codebook", "audio codebook"},
    {"mm.a.code_embd", "audio codebook"},
};

bool qs_plan_tensor_quantizable(const char *arch, const qs_plan_tensor *t, const char **why) {
    (void)arch; /* the excluded names are the same for every architecture */
    const char *dummy;
    if (!why) why = &dummy;
    /* ggml_n_dims: the last dimension above 1 counts, not the stored n_dims */
    int nd = 1;
    for (int i = 3; i >= 1; i--)
        if (t->ne[i] > 1) {
            nd = i + 1;
            break;
        }
    if (nd < 2) return *why = "1-D tensor", false;
    const char *n = t->name;
    size_t len = strlen(n);
    /* llama.cpp tests name.rfind("weight") == size - 6: true when the name ends with "weight",
     * and (unsigned wrap-around) for any 5-character name */
    bool weight = len == 5 || (len >= 6 && strcmp(n + len - 6, "weight") == 0);
    if (!weight) return *why = "not a weight", false;
    for (size_t i = 0; i < sizeof never_quantized / sizeof never_quantized[0]; i++)
        if (strstr(n, never_quantized[i].part)) return *why = never_quantized[i].why, false;
    if (strcmp(n, "position_embd.weight") == 0) return *why = "positional embedding", false;
    if (strcmp(n, "token_types.weight") == 0) return *why = "token types", false;
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * llama.cpp's visiting order and counters.
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    int block;
    const char *name;
    int idx;
} order_key;

static int order_cmp(const void *a, const void *b) {
    const order_key *x = a, *y = b;
    if (x->block != y->block) return x->block < y->block ? -1 : 1;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int *qs_plan_llama_order(const qs_plan_model *m) {
    int n = m->n_tensors;
    order_key *k = malloc(sizeof *k * (size_t)(n > 0 ? n : 1));
    int *idx = malloc(sizeof *idx * (size_t)(n > 0 ? n : 1));
    if (!k || !idx) {
        free(k);
        free(idx);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        k[i].block = qs_plan_name_block(m->tensors[i].name);
        k[i].name = m->tensors[i].name;
        k[i].idx = i;
    }
    qsort(k, (size_t)n, sizeof *k, order_cmp);
    for (int i = 0; i < n; i++) idx[i] = k[i].idx;
    free(k);
    return idx;
}

void qs_mix_init(qs_mix_state *s, const qs_plan_model *m) {
    memset(s, 0, sizeof *s);
    s->tied = true; /* until output.weight is seen */
    for (int i = 0; i < m->n_tensors; i++) {
        qs_tcat c = qs_plan_category(m->tensors[i].name);
        if (cat_is_attn_v(c)) s->n_attention_wv++;
        if (c == QS_TCAT_OUTPUT) s->tied = false;
    }
    s->n_ffn_down = s->n_ffn_gate = s->n_ffn_up = m->n_layer;
    s->n_gqa = m->n_head_kv > 0 ? m->n_head / m->n_head_kv : 0;
    s->n_expert = m->n_expert > 1 ? m->n_expert : 1;
    s->falcon = m->arch && strcmp(m->arch, "falcon") == 0;
}

/* llama.cpp's "use more bits" layers: the first and last eighth, and every third in between. */
static bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* The layer of a per-layer FFN tensor: the running count for dense models, the name for MoE
 * (whose expert tensors do not come in layer order everywhere). */
static int ffn_layer(const qs_mix_state *s, int counter, int n_layer, const char *name, int *layer,
                     qs_error *err) {
    *layer = counter;
    if (s->n_expert > 1) {
        if (!parse_block(name, layer))
            return qs_error_set(err, "%s: cannot determine the layer of an expert-model tensor (llama-quantize stops here)", name);
        if (*layer < 0 || *layer >= n_layer)
            return qs_error_set(err, "%s: layer %d is outside [0, %d) (llama-quantize stops here)", name, *layer, n_layer);
    }
    return QS_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The mixes.
 * ------------------------------------------------------------------------------------------- */

#define WHY(...) snprintf(why, why_size, __VA_ARGS__)

int qs_mix_pick(qs_mix_state *s, qs_preset p, const qs_plan_model *m, const qs_plan_tensor *t,
                char *why, size_t why_size, qs_error *err) {
    const char *pn = qs_preset_name(p);
    const qs_type base = qs_preset_base_type(p);
    qs_type ty = base;
    const qs_tcat cat = qs_plan_category(t->name);
    const bool falcon = s->falcon;
    const int gqa = s->n_gqa;
    const int n_expert = m->n_expert;

    if (!qs_type_traits_get(base)->quantized) {
        /* F16 / BF16: no mix, every quantizable tensor gets the base type */
        WHY("preset %s: %s", pn, qs_type_name(base));
        return base;
    }
    WHY("preset %s: base type %s", pn, qs_type_name(base));

    if (cat == QS_TCAT_OUTPUT || (s->tied && cat == QS_TCAT_TOKEN_EMBD)) {
        const char *what = cat == QS_TCAT_OUTPUT ? "output" : "token_embd (tied to output)";
        const int64_t nx = t->ne[0];
        const int bs = qs_type_traits_get(ty)->blck_size;
        if (falcon) {
            ty = QS_TYPE_Q8_0;
            WHY("preset %s: %s on falcon -> Q8_0", pn, what);
        } else if (nx % bs != 0) {
            ty = QS_TYPE_Q8_0;
            WHY("preset %s: %s row of %lld not a multiple of %d -> Q8_0", pn, what, (long long)nx, bs);
        } else if (ty != QS_TYPE_Q8_0) {
            ty = QS_TYPE_Q6_K;
            WHY("preset %s: %s -> Q6_K", pn, what);
        } else {
            WHY("preset %s: %s stays Q8_0", pn, what);
        }
        return ty;
    }
    if (cat == QS_TCAT_TOKEN_EMBD) {
        /* only the IQ1/IQ2/IQ3 and ternary mixes change an untied token_embd */
        WHY("preset %s: token_embd keeps the base type %s", pn, qs_type_name(ty));
        return ty;
    }

    if (cat_is_attn_v(cat)) {
        const int i = s->i_attention_wv, n = s->n_attention_wv;
        switch (p) {
        case QS_PRESET_Q2_K:
            ty = gqa >= 4 ? QS_TYPE_Q4_K : QS_TYPE_Q3_K;
            WHY("preset %s: attn_v with n_head/n_head_kv = %d %s 4 -> %s", pn, gqa, gqa >= 4 ? ">=" : "<", qs_type_name(ty));
            break;
        case QS_PRESET_Q3_K_M:
            ty = i < 2 ? QS_TYPE_Q5_K : QS_TYPE_Q4_K;
            WHY("preset %s: attn_v %d of %d (%s) -> %s", pn, i, n, i < 2 ? "one of the first two" : "after the first two", qs_type_name(ty));
            break;
        case QS_PRESET_Q3_K_L:
            ty = QS_TYPE_Q5_K;
            WHY("preset %s: attn_v -> Q5_K", pn);
            break;
        case QS_PRESET_IQ4_NL:
        case QS_PRESET_IQ4_XS:
            if (gqa >= 4) {
                ty = QS_TYPE_Q5_K;
                WHY("preset %s: attn_v with n_head/n_head_kv = %d >= 4 -> Q5_K", pn, gqa);
            }
            break;
        case QS_PRESET_Q4_K_M:
        case QS_PRESET_Q5_K_M:
            if (use_more_bits(i, n)) {
                ty = QS_TYPE_Q6_K;
                WHY("preset %s: attn_v %d of %d is a use_more_bits layer -> Q6_K", pn, i, n);
            } else {
                WHY("preset %s: attn_v %d of %d is not a use_more_bits layer: %s", pn, i, n, qs_type_name(ty));
            }
            break;
        case QS_PRESET_Q4_K_S:
            if (i < 4) {
                ty = QS_TYPE_Q5_K;
                WHY("preset %s: attn_v %d of %d is among the first four -> Q5_K", pn, i, n);
            }
            break;
        default:
            break;
        }
        if (m->type_70b && (ty == QS_TYPE_Q3_K || ty == QS_TYPE_Q4_K)) {
            /* 70B models share attn_v among 8 heads: it is small, more bits are cheap */
            WHY("preset %s: attn_v of a 70B model -> Q5_K", pn);
            ty = QS_TYPE_Q5_K;
        }
        if (n_expert == 8) {
            ty = QS_TYPE_Q8_0;
            WHY("preset %s: attn_v of an 8-expert model -> Q8_0", pn);
        }
        s->i_attention_wv++;
        return ty;
    }

    if (cat == QS_TCAT_ATTN_K) {
        if (n_expert == 8) {
            ty = QS_TYPE_Q8_0;
            WHY("preset %s: attn_k of an 8-expert model -> Q8_0", pn);
        }
        return ty;
    }

    if (cat == QS_TCAT_FFN_DOWN) {
        int i, n = s->n_ffn_down;
        if (ffn_layer(s, s->i_ffn_down, n, t->name, &i, err)) return -1;
        const bool umb = use_more_bits(i, n);
        switch (p) {
        case QS_PRESET_Q2_K:
            ty = QS_TYPE_Q3_K;
            WHY("preset %s: ffn_down -> Q3_K", pn);
            break;
        case QS_PRESET_Q3_K_M:
            if (i < n / 16) {
                ty = QS_TYPE_Q5_K;
                WHY("preset %s: ffn_down in layer %d of %d (first sixteenth) -> Q5_K", pn, i, n);
            } else if (!falcon || umb) {
                ty = QS_TYPE_Q4_K;
                WHY("preset %s: ffn_down in layer %d of %d -> Q4_K", pn, i, n);
            } else {
                WHY("preset %s: ffn_down in layer %d of %d (falcon, not use_more_bits): Q3_K", pn, i, n);
            }
            break;
        case QS_PRESET_Q3_K_L:
            ty = falcon ? QS_TYPE_Q4_K : QS_TYPE_Q5_K;
            WHY("preset %s: ffn_down%s -> %s", pn, falcon ? " on falcon" : "", qs_type_name(ty));
            break;
        case QS_PRESET_Q4_K_M:
            if (falcon) {
                ty = i < n / 16 ? QS_TYPE_Q6_K : umb ? QS_TYPE_Q5_K : QS_TYPE_Q4_K;
                WHY("preset %s: falcon ffn_down in layer %d of %d -> %s", pn, i, n, qs_type_name(ty));
            } else if (umb) {
                ty = QS_TYPE_Q6_K;
                WHY("preset %s: ffn_down in use_more_bits layer %d of %d -> Q6_K", pn, i, n);
            } else {
                WHY("preset %s: ffn_down in layer %d of %d, not use_more_bits: Q4_K", pn, i, n);
            }
            break;
        case QS_PRESET_IQ4_NL:
        case QS_PRESET_IQ4_XS:
            if (i < n / 8 && !m->has_imatrix) {
                ty = QS_TYPE_Q5_K;
                WHY("preset %s: ffn_down in layer %d of %d (first eighth, no imatrix) -> Q5_K", pn, i, n);
            }
            break;
        case QS_PRESET_Q5_K_M:
            if (umb) {
                ty = QS_TYPE_Q6_K;
                WHY("preset %s: ffn_down in use_more_bits layer %d of %d -> Q6_K", pn, i, n);
            } else {
                WHY("preset %s: ffn_down in layer %d of %d, not use_more_bits: Q5_K", pn, i, n);
            }
            break;
        case QS_PRESET_Q4_K_S:
            if (!falcon && i < n / 8) {
                ty = QS_TYPE_Q5_K;
                WHY("preset %s: ffn_down in layer %d of %d (first eighth) -> Q5_K", pn, i, n);
            }
            break;
        case QS_PRESET_Q4_0:
        case QS_PRESET_Q5_0:
            /* with an imatrix only, so that the plain mix stays what it always was */
            if (m->has_imatrix && i < n / 8) {
                ty = p == QS_PRESET_Q4_0 ? QS_TYPE_Q4_1 : QS_TYPE_Q5_1;
                WHY("preset %s: ffn_down in layer %d of %d (first eighth, imatrix) -> %s", pn, i, n, qs_type_name(ty));
            }
            break;
        default:
            break;
        }
        s->i_ffn_down++;
        return ty;
    }

    if (cat == QS_TCAT_ATTN_OUTPUT) {
        if (!falcon) {
            if (n_expert == 8) {
                if (p == QS_PRESET_Q2_K || p == QS_PRESET_Q3_K_S || p == QS_PRESET_Q3_K_M ||
                    p == QS_PRESET_IQ4_NL || p == QS_PRESET_Q4_K_S || p == QS_PRESET_Q4_K_M ||
                    p == QS_PRESET_IQ4_XS) {
                    ty = QS_TYPE_Q5_K;
                    WHY("preset %s: attn_output of an 8-expert model -> Q5_K", pn);
                }
            } else if (p == QS_PRESET_Q2_K) {
                ty = QS_TYPE_Q3_K;
            } else if (p == QS_PRESET_Q3_K_M) {
                ty = QS_TYPE_Q4_K;
            } else if (p == QS_PRESET_Q3_K_L) {
                ty = QS_TYPE_Q5_K;
            }
            if (n_expert != 8 && ty != base) WHY("preset %s: attn_output -> %s", pn, qs_type_name(ty));
        } else if (p == QS_PRESET_Q3_K_L) {
            ty = QS_TYPE_Q4_K;
            WHY("preset %s: falcon attn_output -> Q4_K", pn);
        }
        return ty;
    }

    if (cat == QS_TCAT_FFN_GATE || cat == QS_TCAT_FFN_UP) {
        /* only IQ3_XS changes these; the layer look-up (and its failure on MoE) still happens */
        int *counter = cat == QS_TCAT_FFN_GATE ? &s->i_ffn_gate : &s->i_ffn_up;
        int n = cat == QS_TCAT_FFN_GATE ? s->n_ffn_gate : s->n_ffn_up, i;
        if (ffn_layer(s, *counter, n, t->name, &i, err)) return -1;
        (*counter)++;
        return ty;
    }
    return ty;
}

/* ---------------------------------------------------------------------------------------------
 * Fallback for rows a type cannot hold.
 * ------------------------------------------------------------------------------------------- */

qs_type qs_type_fallback(qs_type wanted, int64_t ncols, char *why, size_t why_size) {
    const qs_type_traits *tw = qs_type_traits_get(wanted);
    if (!tw || ncols % tw->blck_size == 0) return wanted;
    qs_type r;
    bool defined = true;
    switch (wanted) {
    case QS_TYPE_IQ1_S:
    case QS_TYPE_IQ1_M:
    case QS_TYPE_IQ2_XXS:
    case QS_TYPE_IQ2_XS:
    case QS_TYPE_IQ2_S:
    case QS_TYPE_IQ3_XXS:
    case QS_TYPE_IQ3_S:
    case QS_TYPE_IQ4_XS: r = QS_TYPE_IQ4_NL; break;
    case QS_TYPE_Q2_0:
    case QS_TYPE_Q2_K:
    case QS_TYPE_Q3_K:
    case QS_TYPE_TQ1_0:
    case QS_TYPE_TQ2_0: r = QS_TYPE_Q4_0; break;
    case QS_TYPE_Q4_K: r = QS_TYPE_Q5_0; break;
    case QS_TYPE_Q5_K: r = QS_TYPE_Q5_1; break;
    case QS_TYPE_Q6_K: r = QS_TYPE_Q8_0; break;
    default: r = QS_TYPE_F16, defined = false; break;
    }
    const long long nc = (long long)ncols;
    if (!defined) {
        /* llama-quantize stops with "no tensor type fallback is defined"; F16 is what it uses
         * when even the fallback does not fit, so we do the same and say so */
        snprintf(why, why_size, "fallback: row of %lld cannot hold %s blocks (%d); llama.cpp has none for %s and refuses the model -> F16",
                 nc, tw->name, tw->blck_size, tw->name);
        return r;
    }
    const qs_type_traits *tr = qs_type_traits_get(r);
    if (ncols % tr->blck_size != 0) {
        snprintf(why, why_size, "fallback: row of %lld cannot hold %s blocks (%d) nor %s blocks (%d) -> F16",
                 nc, tw->name, tw->blck_size, tr->name, tr->blck_size);
        return QS_TYPE_F16;
    }
    snprintf(why, why_size, "fallback: row of %lld cannot hold %s blocks (%d) -> %s", nc, tw->name,
             tw->blck_size, tr->name);
    return r;
}
