/* qs_plan_internal.h — what the plan files share and nobody else needs. */
#ifndef QS_PLAN_INTERNAL_H
#define QS_PLAN_INTERNAL_H

#include "qs_plan.h"

/* A growable NUL-terminated string (owned by whoever made it; free(s)). On allocation failure
 * oom is set and further appends do nothing. */
typedef struct qs_sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} qs_sbuf;

void qs_sbuf_put(qs_sbuf *b, const char *s, size_t n);
void qs_sbuf_str(qs_sbuf *b, const char *s);

/* Tensor categories, as llama-quantize sees names (broad kinds, not per-architecture names). */
typedef enum qs_tcat {
    QS_TCAT_TOKEN_EMBD,
    QS_TCAT_ATTN_Q,
    QS_TCAT_ATTN_V,
    QS_TCAT_ATTN_K,
    QS_TCAT_ATTN_QKV,
    QS_TCAT_ATTN_KV_B,
    QS_TCAT_ATTN_OUTPUT,
    QS_TCAT_FFN_UP,
    QS_TCAT_FFN_GATE,
    QS_TCAT_FFN_DOWN,
    QS_TCAT_OUTPUT,
    QS_TCAT_OTHER,
} qs_tcat;

qs_tcat qs_plan_category(const char *name);

/* The block index llama.cpp reads from a name ("blk.%d." as sscanf does), or -1. */
int qs_plan_name_block(const char *name);

/* State of one pass of a preset over a model: llama.cpp's counters. */
typedef struct qs_mix_state {
    int n_attention_wv, i_attention_wv; /* attn_v-like tensors: total, seen so far */
    int n_ffn_down, i_ffn_down;         /* = n_layer, and ffn_down tensors seen so far */
    int n_ffn_gate, i_ffn_gate;
    int n_ffn_up, i_ffn_up;
    int n_gqa;                          /* n_head / n_head_kv, 0 if n_head_kv is 0 */
    int n_expert;                       /* max(1, model n_expert) for layer lookups */
    bool tied;                          /* no output.weight: token_embd doubles as output */
    bool falcon;
} qs_mix_state;

void qs_mix_init(qs_mix_state *s, const qs_plan_model *m);

/* The type the preset's mix picks for a quantizable tensor (before fallback), with the reason in
 * why. Must be called for the tensors in llama.cpp's order (qs_plan_llama_order) and only for
 * tensors no rule decided: the counters advance as in llama.cpp. Returns the type, or -1 with err
 * set when llama-quantize would stop (an MoE tensor whose block cannot be read). */
int qs_mix_pick(qs_mix_state *s, qs_preset p, const qs_plan_model *m, const qs_plan_tensor *t,
                char *why, size_t why_size, qs_error *err);

/* The type a tensor with rows of ncols elements gets instead of `wanted` (== wanted when it
 * fits). When it differs, a "fallback: ..." sentence is written to why. */
qs_type qs_type_fallback(qs_type wanted, int64_t ncols, char *why, size_t why_size);

/* Indices 0..n-1 sorted as llama.cpp visits tensors: by block ("blk.%d."; -1 first), then by
 * name. Returns a malloc'd array or NULL. */
int *qs_plan_llama_order(const qs_plan_model *m);

/* llama-quantize's ftype table (QUANT_OPTIONS): every ftype name it accepts. */
typedef struct qs_ftype_info {
    const char *name;  /* as llama-quantize prints it */
    int ftype;         /* llama_ftype number */
    qs_type base;      /* default tensor type of the ftype */
    qs_preset preset;  /* our preset with that mix, QS_PRESET_NONE if we have none */
} qs_ftype_info;

/* Looks an ftype up by name (case-insensitive) or by number, as llama-quantize does. */
const qs_ftype_info *qs_ftype_find(const char *s);
/* The ftype llama-quantize uses for a preset, or (preset NONE) an ftype whose base is `base`. */
const qs_ftype_info *qs_ftype_for(qs_preset preset, qs_type base);

/* malloc'd copy, NULL-safe. */
char *qs_plan_strdup(const char *s);

#endif
