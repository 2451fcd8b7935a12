/* qs_plan.h — quantization plans: which type each tensor of a model gets, and why.
 *
 * A plan is data: a default type, an optional preset (one of llama.cpp's mixes), an ordered list
 * of rules (PCRE2 pattern -> type), per-tensor and per-layer overrides, a "keep the first N and
 * last M blocks at type T" knob, plus the run settings that travel with it (KV-cache type,
 * context length, device, notes) and the fingerprint of the model it was made for.
 *
 * Resolution (qs_plan_resolve) maps a plan and a model's tensor list to one type per tensor,
 * the way llama-quantize does for the same settings:
 *
 *   1. Tensors llama.cpp never quantizes (1-D tensors, norms, biases, expert routers, ...) keep
 *      their stored type; nothing in the plan changes them.
 *   2. Per-tensor overrides (exact name), then per-layer overrides (block index), then the keep
 *      knob, then the rules in order: the first that matches decides. Rule patterns are PCRE2,
 *      searched (not anchored) in the tensor name — llama-quantize's --tensor-type.
 *   3. Otherwise the preset decides, with llama.cpp's layer-dependent logic (attn_v, ffn_down,
 *      output, token_embd, first and last blocks); without a preset the default type does.
 *   4. If the row length (ne[0]) is not a multiple of the chosen type's block, the type falls back
 *      to a compatible one as llama.cpp does (Q4_K -> Q5_0, Q6_K -> Q8_0, ...; F16 when nothing
 *      fits). Where llama.cpp has no fallback and refuses the model, we use F16 and say so.
 *
 * Two deliberate differences from llama-quantize, both where it would not do what the plan says:
 * the F16 fallback above, and rules apply under an F16/BF16/F32 default too (llama-quantize
 * ignores --tensor-type then; qs_plan_export_args refuses such plans rather than mislead).
 *
 * Nothing here reads files except qs_plan_load / qs_plan_save (qs_plan_yaml.c). The model is
 * described by the caller (qs_plan_model): quant/ does not know engine/'s model struct. */
#ifndef QS_PLAN_H
#define QS_PLAN_H

#include "qs_common.h"
#include "qs_types.h"

/* ---------------------------------------------------------------------------------------------
 * A growable list of malloc'd strings (messages, argument vectors).
 * ------------------------------------------------------------------------------------------- */

typedef struct qs_strlist {
    char **v; /* v[0..n-1], each malloc'd and NUL-terminated */
    int n;
    int cap;
} qs_strlist;

/* Appends a printf-formatted string. QS_OK or QS_ENOMEM. */
int qs_strlist_addf(qs_strlist *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees every string and the array; leaves an empty list. */
void qs_strlist_free(qs_strlist *l);

/* ---------------------------------------------------------------------------------------------
 * The model, as resolution needs to see it (filled by the caller from a GGUF or a synth shape).
 * ------------------------------------------------------------------------------------------- */

typedef struct qs_plan_tensor {
    const char *name; /* "blk.0.attn_v.weight" (borrowed) */
    int n_dims;       /* as stored in the file */
    int64_t ne[4];    /* elements per dimension; ne[0] is the row length; unused dims are 1 */
    int type;         /* stored ggml type id */
    int block;        /* block (layer) index, -1 for tensors outside blocks */
} qs_plan_tensor;

typedef struct qs_plan_model {
    const char *arch; /* general.architecture: "llama", "qwen2", "falcon", ... */
    int n_layer;      /* {arch}.block_count */
    int n_head;       /* attention heads (layer 0) */
    int n_head_kv;    /* KV heads (layer 0); 0 if unknown */
    int n_expert;     /* experts per MoE layer; 0 or 1 for dense models */
    bool type_70b;    /* llama.cpp classifies the model as 70B (see qs_plan_model_is_70b) */
    bool has_imatrix; /* an importance matrix will be used: changes Q4_0, Q5_0, IQ4_NL, IQ4_XS */
    const qs_plan_tensor *tensors; /* [n_tensors], in file order (borrowed) */
    int n_tensors;
    /* Tied embeddings (no output.weight) are detected from the tensor list, as llama.cpp does. */
} qs_plan_model;

/* llama.cpp's 70B classification, the only model size its mixes look at: llama with 80 blocks and
 * grouped-query attention (and not 8 experts), qwen2 / deci / olmo with 80 blocks, jais2 with 68. */
bool qs_plan_model_is_70b(const char *arch, int n_layer, int n_head, int n_head_kv, int n_expert);

/* 64-bit FNV-1a over the tensor table in the given (file) order: for each tensor its name, n_dims,
 * ne[0..n_dims-1] and stored type. Stable across runs and machines; part of a plan's fingerprint. */
uint64_t qs_plan_tensor_hash(const qs_plan_tensor *t, int n);

/* True if llama-quantize would consider this tensor for quantization at all (2-D or more, name
 * ending in "weight", not a norm, router, positional embedding, ...). If not and why is not NULL,
 * *why is set to a short static explanation. */
bool qs_plan_tensor_quantizable(const char *arch, const qs_plan_tensor *t, const char **why);

/* ---------------------------------------------------------------------------------------------
 * Presets: llama.cpp's mixes (llama-quantize's ftype argument).
 * ------------------------------------------------------------------------------------------- */

typedef enum qs_preset {
    QS_PRESET_NONE = 0,
    QS_PRESET_Q8_0,
    QS_PRESET_Q6_K,
    QS_PRESET_Q5_K_M,
    QS_PRESET_Q5_K_S,
    QS_PRESET_Q4_K_M,
    QS_PRESET_Q4_K_S,
    QS_PRESET_Q3_K_L,
    QS_PRESET_Q3_K_M,
    QS_PRESET_Q3_K_S,
    QS_PRESET_Q2_K,
    QS_PRESET_Q5_0,
    QS_PRESET_Q5_1,
    QS_PRESET_Q4_0,
    QS_PRESET_Q4_1,
    QS_PRESET_IQ4_NL,
    QS_PRESET_IQ4_XS,
    QS_PRESET_F16,
    QS_PRESET_BF16,
    QS_PRESET_COUNT,
} qs_preset;

/* "Q4_K_M", ...; "none" for QS_PRESET_NONE; "?" for an invalid value. Never NULL. */
const char *qs_preset_name(qs_preset p);
/* Case-insensitive; also accepts llama-quantize's aliases Q3_K, Q4_K, Q5_K (the _M mixes).
 * QS_OK or QS_ERR. */
int qs_preset_from_name(const char *name, qs_preset *out);
/* The preset's base type (llama.cpp's default type for the ftype): Q4_K for Q4_K_M. */
qs_type qs_preset_base_type(qs_preset p);

/* ---------------------------------------------------------------------------------------------
 * The plan.
 * ------------------------------------------------------------------------------------------- */

typedef struct qs_plan_rule {
    char *pattern; /* PCRE2 pattern, searched in the tensor name (owned) */
    qs_type type;
} qs_plan_rule;

typedef struct qs_plan_layer_override {
    int block; /* block index */
    qs_type type;
} qs_plan_layer_override;

typedef struct qs_plan_tensor_override {
    char *name; /* exact tensor name (owned) */
    qs_type type;
} qs_plan_tensor_override;

/* What the plan was made for. file == NULL means the plan records no model. */
typedef struct qs_plan_fingerprint {
    char *file;         /* file name without directories (owned) */
    uint64_t size;      /* file size in bytes */
    int64_t n_tensors;  /* tensor count */
    uint64_t hash;      /* qs_plan_tensor_hash of the tensor table */
} qs_plan_fingerprint;

typedef struct qs_plan {
    qs_type default_type; /* with a preset: always the preset's base type */
    qs_preset preset;     /* QS_PRESET_NONE: every quantizable tensor not ruled gets default_type */

    qs_plan_rule *rules; /* searched in order, after the overrides and the keep knob */
    int n_rules;
    qs_plan_layer_override *layers; /* at most one per block */
    int n_layers;
    qs_plan_tensor_override *tensors; /* at most one per name */
    int n_tensors;

    int keep_first;      /* keep blocks [0, keep_first) ... */
    int keep_last;       /* ... and [n_layer - keep_last, n_layer) ... */
    qs_type keep_type;   /* ... at this type (ignored when both counts are 0) */

    qs_type kv_type;     /* KV-cache type: F32, F16, BF16, Q8_0, Q4_0, Q4_1, IQ4_NL, Q5_0, Q5_1 */
    int64_t context;     /* context length in tokens; 0 = the model's default */
    char *device;        /* device name (owned), NULL if unset */
    char *notes;         /* free text (owned), NULL if unset */

    qs_plan_fingerprint model;
} qs_plan;

/* An empty plan: default F16, no preset, KV cache F16, nothing else. */
void qs_plan_init(qs_plan *p);
/* Frees everything the plan owns and re-initialises it. */
void qs_plan_free(qs_plan *p);
/* Deep copy into dst (which must not hold a plan: init'ed or freed). QS_OK or QS_ENOMEM. */
int qs_plan_copy(qs_plan *dst, const qs_plan *src);
/* Field-by-field equality (strings compared by content). */
bool qs_plan_equal(const qs_plan *a, const qs_plan *b);

/* True for types a plan may choose for a tensor (every float and block-quantized type llama.cpp
 * can write; not Q8_1 / Q8_K / integer types). */
bool qs_plan_type_allowed(int type);
/* True for the KV-cache types llama.cpp accepts. */
bool qs_plan_kv_type_allowed(int type);

/* Compiles a pattern with PCRE2 to check it. On failure the message is PCRE2's text with the
 * offset: "invalid regex 'ffn_(up': missing closing parenthesis at offset 7". */
int qs_regex_check(const char *pattern, qs_error *err);

/* Which of the model's tensors a rule pattern matches, exactly as resolution matches rules
 * (PCRE2, UTF, searched in the name, not anchored): matched (may be NULL) receives [n_tensors]
 * flags in the model's order. Returns the number of matching tensors (>= 0, quantizable or not),
 * or QS_ERR when the pattern does not compile (or is empty): err as qs_regex_check, and
 * *err_offset (may be NULL) receives PCRE2's offset, in bytes into the pattern, where the error
 * was found (0 for an empty pattern). For live validation while a rule is typed. */
int qs_plan_rule_matches(const char *pattern, const qs_plan_model *model, bool *matched, size_t *err_offset,
                         qs_error *err);

/* Edits. Each validates its input (regex, type) and returns QS_OK, QS_ERR or QS_ENOMEM.
 * at == -1 (or n_rules) appends. */
int qs_plan_insert_rule(qs_plan *p, int at, const char *pattern, qs_type type, qs_error *err);
int qs_plan_remove_rule(qs_plan *p, int at);
/* Sets (or replaces) the override for a block / an exact tensor name. */
int qs_plan_set_layer(qs_plan *p, int block, qs_type type, qs_error *err);
int qs_plan_set_tensor(qs_plan *p, const char *name, qs_type type, qs_error *err);
/* Removes the override; QS_OK if there was one, QS_ERR if not. */
int qs_plan_clear_layer(qs_plan *p, int block);
int qs_plan_clear_tensor(qs_plan *p, const char *name);
/* Sets the preset and, for a real preset, default_type to its base type. */
void qs_plan_set_preset(qs_plan *p, qs_preset preset);
/* Checks every field (types allowed, regexes compile, counts sane, default consistent with the
 * preset, no duplicate overrides). The message names the rule / override. */
int qs_plan_validate(const qs_plan *p, qs_error *err);

/* ---------------------------------------------------------------------------------------------
 * Resolution.
 * ------------------------------------------------------------------------------------------- */

typedef enum qs_plan_reason {
    QS_REASON_KEPT = 0,   /* llama.cpp never quantizes this tensor: stored type kept */
    QS_REASON_TENSOR,     /* per-tensor override (index into plan->tensors) */
    QS_REASON_LAYER,      /* per-layer override (index into plan->layers) */
    QS_REASON_KEEP,       /* the keep-first/last knob */
    QS_REASON_RULE,       /* a rule (index into plan->rules) */
    QS_REASON_PRESET,     /* the preset's mix */
    QS_REASON_DEFAULT,    /* the default type (no preset) */
} qs_plan_reason;

typedef struct qs_plan_choice {
    qs_type type;          /* the resolved type */
    qs_type wanted;        /* the type chosen before any fallback (== type if none) */
    qs_plan_reason reason; /* what chose `wanted` */
    int index;             /* rule / override index for RULE, LAYER, TENSOR; -1 otherwise */
    bool fallback;         /* the row length could not hold `wanted`; `type` is the fallback */
    char why[256];         /* one line for people: "rule 2: blk\.0\. -> Q8_0",
                              "preset Q4_K_M: attn_v 0 of 22 is a use_more_bits layer -> Q6_K",
                              "...; fallback: row of 172 cannot hold Q4_K blocks (256) -> Q5_0" */
} qs_plan_choice;

typedef struct qs_plan_resolution {
    int n;                  /* = model->n_tensors */
    qs_plan_choice *choice; /* [n], in the model's tensor order */
    int n_fallback;         /* tensors that fell back */
    /* For each rule / layer override / tensor override: how many quantizable tensors it decided
     * (first match), and for rules how many it matched at all (decided or shadowed). */
    int *rule_decided, *rule_matched; /* [plan->n_rules] */
    int *layer_decided;               /* [plan->n_layers] */
    int *tensor_decided;              /* [plan->n_tensors] */
    int keep_decided;
} qs_plan_resolution;

/* Resolves every tensor of the model. The plan must validate (QS_ERR with the message if not).
 * `out` is overwritten; free it with qs_plan_resolution_free. */
int qs_plan_resolve(const qs_plan *plan, const qs_plan_model *model, qs_plan_resolution *out,
                    qs_error *err);
void qs_plan_resolution_free(qs_plan_resolution *r);

/* Messages for the parts of the plan that do nothing on this model: rules that match no tensor
 * (or only tensors earlier entries already decided), overrides naming tensors or blocks the model
 * does not have (or tensors llama.cpp never quantizes), a keep knob larger than the model.
 * Appends to *out; returns the number of messages appended (or QS_ENOMEM). */
int qs_plan_unmatched(const qs_plan *plan, const qs_plan_model *model,
                      const qs_plan_resolution *r, qs_strlist *out);

/* What does not apply when loading a plan for this model: fingerprint differences (fp may be NULL
 * to skip them; a plan without a fingerprint gives no difference) followed by qs_plan_unmatched.
 * Appends to *warnings; returns the number of warnings, QS_ERR (the plan does not resolve) or
 * QS_ENOMEM. */
int qs_plan_check_model(const qs_plan *plan, const qs_plan_fingerprint *fp,
                        const qs_plan_model *model, qs_strlist *warnings, qs_error *err);

/* Expands the preset into visible rules for this model: *out is a copy of the plan with no preset,
 * default_type the preset's base type, and, after the plan's own rules, one rule per
 * (tensor kind, type) where the preset picked something other than the base type, e.g.
 * "^blk\.(0|1|2|5)\.attn_v\.weight$" -> Q6_K. Resolving *out gives the same type for every tensor
 * as resolving the plan. A plan without a preset is copied unchanged. */
int qs_plan_expand_preset(const qs_plan *plan, const qs_plan_model *model, qs_plan *out,
                          qs_error *err);

/* ---------------------------------------------------------------------------------------------
 * llama-quantize arguments. qs_plan_args.c.
 * ------------------------------------------------------------------------------------------- */

/* The plan as llama-quantize options followed by the ftype as the last element, e.g.
 *   --tensor-type "^output\.weight$=q8_0" --tensor-type "blk\.0\.=q8_0" Q4_K_M
 * (argv strings, unquoted). The caller puts the input and output paths before the last element.
 * Overrides and the keep knob become --tensor-type entries in front of the rules; a plan without
 * a preset adds --pure. model may be NULL unless the plan keeps the last blocks (n_layer needed).
 * Fails, saying why, for plans llama-quantize cannot express: patterns containing '=' or upper-case
 * letters (llama-quantize lower-cases patterns), rules under an F16/BF16/F32 default (it ignores
 * --tensor-type then), a default type no ftype produces. */
int qs_plan_export_args(const qs_plan *plan, const qs_plan_model *model, qs_strlist *argv,
                        qs_error *err);

/* One shell command line: "llama-quantize OPTIONS 'in' 'out' FTYPE", every word that needs it
 * single-quoted. Returns malloc'd text or NULL (out of memory). */
char *qs_plan_args_command(const qs_strlist *argv, const char *input, const char *output);

/* Parses llama-quantize arguments (with or without the program name, input and output paths)
 * into *out (initialised here): the ftype becomes the preset (or the default with --pure),
 * --tensor-type entries become rules (patterns lower-cased, as llama-quantize does),
 * --output-tensor-type / --token-embedding-type become rules in front. model (may be NULL) is
 * used for the one case that depends on it: on tied-embedding models llama-quantize also gives
 * token_embd the --output-tensor-type. Options that do not change tensor types (--dry-run,
 * --imatrix FILE, nthreads, ...) are accepted and listed in *notes (may be NULL). */
int qs_plan_import_args(int argc, const char *const *argv, const qs_plan_model *model,
                        qs_plan *out, qs_strlist *notes, qs_error *err);

/* ---------------------------------------------------------------------------------------------
 * Plan files (YAML, see quantscope-plan(5)). qs_plan_yaml.c.
 * ------------------------------------------------------------------------------------------- */

#define QS_PLAN_FORMAT_VERSION 1

/* Parses YAML text. Errors are "name:line:col: message" (1-based; name is used only for
 * messages). *out is initialised here and holds nothing on failure. */
int qs_plan_parse(const char *text, size_t len, const char *name, qs_plan *out, qs_error *err);
/* Reads and parses a file. */
int qs_plan_load(const char *path, qs_plan *out, qs_error *err);
/* The plan as YAML text: malloc'd, NUL-terminated, *len bytes (len may be NULL). The plan must
 * validate. Text written here parses back to an equal plan and re-serialises byte for byte. */
int qs_plan_format(const qs_plan *plan, char **text, size_t *len, qs_error *err);
/* Writes the plan atomically: a temporary file in the same folder, fsync, then rename. */
int qs_plan_save(const qs_plan *plan, const char *path, qs_error *err);

#endif
