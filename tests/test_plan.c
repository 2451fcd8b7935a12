/* Plans: resolution semantics, llama.cpp presets pinned per tensor, preset expansion, the keep
 * knob, reports, fingerprints and llama-quantize arguments. */
#include "qs_test_util.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qs_plan.h"
#include "test_plan_expected.h"

/* ---------------------------------------------------------------------------------------------
 * Model shapes, built in C from their parameters (the same ones the measured files were made of).
 * ------------------------------------------------------------------------------------------- */

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

typedef enum { DENSE, MOE, FALCON } shape_kind;

typedef struct shape {
    const char *name;
    shape_kind kind;
    const char *arch;
    int n_layer, n_embd, n_ff, n_head, n_kv, vocab, n_expert;
    bool tied, bias, rope_freqs;
    int wtype; /* stored type of the matrices */
} shape;

static const shape shapes[] = {
    {"tinyllama-1.1b", DENSE, "llama", 22, 2048, 5632, 32, 4, 32000, 0, false, false, false, QS_TYPE_F16},
    {"llama-3.2-1b", DENSE, "llama", 16, 2048, 8192, 32, 8, 128256, 0, true, false, true, QS_TYPE_F16},
    {"qwen2.5-0.5b", DENSE, "qwen2", 24, 896, 4864, 14, 2, 151936, 0, true, true, false, QS_TYPE_F16},
    {"stories260K", DENSE, "llama", 5, 64, 172, 8, 4, 512, 0, false, false, false, QS_TYPE_F32},
    {"mixtral-mini", MOE, "llama", 8, 512, 1024, 8, 2, 1000, 8, false, false, false, QS_TYPE_F16},
    {"falcon-mini", FALCON, "falcon", 12, 1024, 4096, 16, 1, 1000, 0, false, false, false, QS_TYPE_F16},
    {"llama-70b-mini", DENSE, "llama", 80, 1024, 2048, 64, 8, 1000, 0, false, false, false, QS_TYPE_F16},
};

typedef struct built {
    qs_plan_model m;
    qs_plan_tensor t[1200];
    char names[1200][64];
} built;

static void add(built *b, const char *name, int type, int64_t ne0, int64_t ne1, int64_t ne2) {
    int i = b->m.n_tensors++;
    assert_true(i < 1200);
    snprintf(b->names[i], sizeof b->names[i], "%s", name);
    qs_plan_tensor *t = &b->t[i];
    t->name = b->names[i];
    t->type = type;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = ne2;
    t->ne[3] = 1;
    t->n_dims = ne2 > 1 ? 3 : ne1 > 1 ? 2 : 1;
    t->block = -1;
    if (starts(name, "blk.")) t->block = atoi(name + 4);
}

static void addb(built *b, int blk, const char *kind, int type, int64_t ne0, int64_t ne1, int64_t ne2) {
    char n[64];
    snprintf(n, sizeof n, "blk.%d.%s", blk, kind);
    add(b, n, type, ne0, ne1, ne2);
}

/* Tensors in the order convert_hf_to_gguf writes them (llama.cpp sorts anyway). */
static built *build(const shape *s) {
    built *b = calloc(1, sizeof *b);
    assert_non_null(b);
    const int E = s->n_embd, hd = s->n_embd / s->n_head, kv = s->n_kv * hd, W = s->wtype, F = QS_TYPE_F32;
    b->m.arch = s->arch;
    b->m.n_layer = s->n_layer;
    b->m.n_head = s->n_head;
    b->m.n_head_kv = s->n_kv;
    b->m.n_expert = s->n_expert;
    b->m.type_70b = qs_plan_model_is_70b(s->arch, s->n_layer, s->n_head, s->n_kv, s->n_expert);
    b->m.tensors = b->t;
    add(b, "token_embd.weight", W, E, s->vocab, 1);
    add(b, "output_norm.weight", F, E, 1, 1);
    if (s->kind == FALCON) add(b, "output_norm.bias", F, E, 1, 1);
    if (!s->tied) add(b, "output.weight", W, E, s->vocab, 1);
    if (s->rope_freqs) add(b, "rope_freqs.weight", F, hd / 2, 1, 1);
    for (int i = 0; i < s->n_layer; i++) {
        addb(b, i, "attn_norm.weight", F, E, 1, 1);
        if (s->kind == FALCON) {
            addb(b, i, "attn_norm.bias", F, E, 1, 1);
            addb(b, i, "attn_qkv.weight", W, E, E + 2 * kv, 1);
            addb(b, i, "attn_output.weight", W, E, E, 1);
            addb(b, i, "ffn_up.weight", W, E, s->n_ff, 1);
            addb(b, i, "ffn_down.weight", W, s->n_ff, E, 1);
            continue;
        }
        addb(b, i, "attn_q.weight", W, E, E, 1);
        addb(b, i, "attn_k.weight", W, E, kv, 1);
        addb(b, i, "attn_v.weight", W, E, kv, 1);
        addb(b, i, "attn_output.weight", W, E, E, 1);
        addb(b, i, "ffn_norm.weight", F, E, 1, 1);
        if (s->kind == MOE) {
            addb(b, i, "ffn_gate_inp.weight", F, E, s->n_expert, 1);
            addb(b, i, "ffn_gate_exps.weight", W, E, s->n_ff, s->n_expert);
            addb(b, i, "ffn_up_exps.weight", W, E, s->n_ff, s->n_expert);
            addb(b, i, "ffn_down_exps.weight", W, s->n_ff, E, s->n_expert);
        } else {
            addb(b, i, "ffn_gate.weight", W, E, s->n_ff, 1);
            addb(b, i, "ffn_up.weight", W, E, s->n_ff, 1);
            addb(b, i, "ffn_down.weight", W, s->n_ff, E, 1);
        }
        if (s->bias) {
            addb(b, i, "attn_q.bias", F, E, 1, 1);
            addb(b, i, "attn_k.bias", F, kv, 1, 1);
            addb(b, i, "attn_v.bias", F, kv, 1, 1);
        }
    }
    return b;
}

static const shape *find_shape(const char *name) {
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcmp(shapes[i].name, name) == 0) return &shapes[i];
    fail_msg("no shape %s", name);
    return NULL;
}

static int tensor_index(const built *b, const char *name) {
    for (int i = 0; i < b->m.n_tensors; i++)
        if (strcmp(b->t[i].name, name) == 0) return i;
    fail_msg("no tensor %s", name);
    return -1;
}

static qs_type T(const char *name) {
    qs_type t;
    if (qs_type_from_name(name, &t)) fail_msg("bad type %s", name);
    return t;
}

/* ---------------------------------------------------------------------------------------------
 * Pinned tables.
 * ------------------------------------------------------------------------------------------- */

/* The llama-quantize options of the "rules" variant (exactly as measured). */
static const char *const rules_variant[] = {"--tensor-type", "blk\\.(3|4)\\.attn_v=q8_0", "--tensor-type",
                                            "blk\\.1\\.ffn_down=iq4_xs", "--tensor-type", "output=q5_k"};

/* The plan llama-quantize ran with, for a pinned entry: built through qs_plan_import_args, so the
 * import is pinned against llama-quantize too. */
static void plan_for(const pinned_table *pt, built *b, qs_plan *plan) {
    const char *argv[16];
    int argc = 0;
    argv[argc++] = "llama-quantize";
    if (strcmp(pt->variant, "rules") == 0)
        for (size_t i = 0; i < sizeof rules_variant / sizeof rules_variant[0]; i++) argv[argc++] = rules_variant[i];
    if (strcmp(pt->variant, "imatrix") == 0) {
        argv[argc++] = "--imatrix";
        argv[argc++] = "some.imatrix";
        b->m.has_imatrix = true;
    }
    argv[argc++] = "--dry-run";
    argv[argc++] = "model.gguf";
    argv[argc++] = pt->preset;
    qs_error err = {{0}};
    qs_strlist notes = {0};
    if (qs_plan_import_args(argc, argv, &b->m, plan, &notes, &err)) fail_msg("%s %s: import: %s", pt->shape, pt->preset, err.msg);
    qs_strlist_free(&notes);
}

/* Checks a resolution against a table; every tensor must be listed exactly once. */
static void check_table(const pinned_table *pt, const built *b, const qs_plan_resolution *r) {
    assert_int_equal(b->m.n_tensors, pt->n_tensors);
    char *tab = strdup(pt->table);
    int covered = 0;
    bool *seen = calloc((size_t)b->m.n_tensors, 1);
    for (char *line = strtok(tab, "\n"); line; line = strtok(NULL, "\n")) {
        char *eq = strchr(line, '=');
        /* a line holds either "blk.*.KIND=T0 T1 ..." or several "NAME=TYPE" separated by spaces */
        if (starts(line, "blk.*.") && strchr(eq, ' ') && !strchr(eq + 1, '=')) {
            *eq = 0;
            const char *kind = line + 6;
            char *save, *ty = strtok_r(eq + 1, " ", &save);
            for (int blk = 0; ty; blk++, ty = strtok_r(NULL, " ", &save)) {
                char name[96];
                snprintf(name, sizeof name, "blk.%d.%s", blk, kind);
                int i = tensor_index(b, name);
                if ((int)r->choice[i].type != (int)T(ty))
                    fail_msg("%s %s%s%s: %s is %s (%s), llama-quantize picks %s", pt->shape, pt->preset, *pt->variant ? " " : "",
                             pt->variant, name, qs_type_name(r->choice[i].type), r->choice[i].why, ty);
                assert_false(seen[i]);
                seen[i] = true;
                covered++;
            }
            continue;
        }
        char *save;
        for (char *item = strtok_r(line, " ", &save); item; item = strtok_r(NULL, " ", &save)) {
            char *e = strchr(item, '=');
            assert_non_null(e);
            *e = 0;
            const char *ty = e + 1;
            for (int i = 0; i < b->m.n_tensors; i++) {
                const char *n = b->t[i].name;
                bool match = starts(item, "blk.*.")
                                 ? (starts(n, "blk.") && strcmp(strchr(n + 4, '.') + 1, item + 6) == 0)
                                 : strcmp(n, item) == 0;
                if (!match) continue;
                if ((int)r->choice[i].type != (int)T(ty))
                    fail_msg("%s %s%s%s: %s is %s (%s), llama-quantize picks %s", pt->shape, pt->preset, *pt->variant ? " " : "",
                             pt->variant, n, qs_type_name(r->choice[i].type), r->choice[i].why, ty);
                assert_false(seen[i]);
                seen[i] = true;
                covered++;
            }
        }
    }
    for (int i = 0; i < b->m.n_tensors; i++)
        if (!seen[i]) fail_msg("%s %s: %s not in the table", pt->shape, pt->preset, b->t[i].name);
    assert_int_equal(covered, pt->n_tensors);
    free(seen);
    free(tab);
}

static void test_presets_pinned(void **state) {
    (void)state;
    int per_shape[16] = {0};
    for (size_t k = 0; k < sizeof pinned / sizeof pinned[0]; k++) {
        const pinned_table *pt = &pinned[k];
        built *b = build(find_shape(pt->shape));
        qs_plan plan;
        plan_for(pt, b, &plan);
        qs_plan_resolution r;
        qs_error err = {{0}};
        if (qs_plan_resolve(&plan, &b->m, &r, &err)) fail_msg("%s", err.msg);
        check_table(pt, b, &r);
        per_shape[find_shape(pt->shape) - shapes]++;
        qs_plan_resolution_free(&r);
        qs_plan_free(&plan);
        free(b);
    }
    /* every preset on each of the four required shapes */
    for (int s = 0; s < 4; s++) assert_true(per_shape[s] >= 18);
}

/* Resolving the expanded preset gives the same type for every tensor, on every pinned case. */
static void test_expand_equivalent(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof pinned / sizeof pinned[0]; k++) {
        const pinned_table *pt = &pinned[k];
        built *b = build(find_shape(pt->shape));
        qs_plan plan, ex;
        plan_for(pt, b, &plan);
        qs_error err = {{0}};
        qs_plan_resolution r1, r2;
        assert_int_equal(qs_plan_resolve(&plan, &b->m, &r1, &err), QS_OK);
        if (qs_plan_expand_preset(&plan, &b->m, &ex, &err)) fail_msg("%s", err.msg);
        assert_int_equal(ex.preset, QS_PRESET_NONE);
        assert_int_equal(ex.default_type, qs_preset_base_type(plan.preset));
        assert_true(ex.n_rules >= plan.n_rules);
        for (int i = 0; i < plan.n_rules; i++) assert_string_equal(ex.rules[i].pattern, plan.rules[i].pattern);
        assert_int_equal(qs_plan_resolve(&ex, &b->m, &r2, &err), QS_OK);
        for (int i = 0; i < b->m.n_tensors; i++) {
            if (r1.choice[i].type != r2.choice[i].type)
                fail_msg("%s %s: %s %s vs expanded %s", pt->shape, pt->preset, b->t[i].name, qs_type_name(r1.choice[i].type),
                         qs_type_name(r2.choice[i].type));
        }
        /* every rule, the plan's and the generated ones, decides something */
        qs_strlist un = {0};
        assert_int_equal(qs_plan_unmatched(&ex, &b->m, &r2, &un), 0);
        qs_strlist_free(&un);
        qs_plan_resolution_free(&r1);
        qs_plan_resolution_free(&r2);
        qs_plan_free(&plan);
        qs_plan_free(&ex);
        free(b);
    }
}

static void test_expand_visible_rules(void **state) {
    (void)state;
    built *b = build(find_shape("tinyllama-1.1b"));
    qs_plan plan, ex;
    qs_plan_init(&plan);
    qs_plan_set_preset(&plan, QS_PRESET_Q4_K_M);
    qs_error err = {{0}};
    assert_int_equal(qs_plan_expand_preset(&plan, &b->m, &ex, &err), QS_OK);
    assert_int_equal(ex.default_type, QS_TYPE_Q4_K);
    assert_int_equal(ex.n_rules, 3);
    assert_string_equal(ex.rules[0].pattern, "^output\\.weight$");
    assert_int_equal(ex.rules[0].type, QS_TYPE_Q6_K);
    assert_string_equal(ex.rules[1].pattern, "^blk\\.(0|1|4|7|10|13|16|19|20|21)\\.attn_v\\.weight$");
    assert_int_equal(ex.rules[1].type, QS_TYPE_Q6_K);
    assert_string_equal(ex.rules[2].pattern, "^blk\\.(0|1|4|7|10|13|16|19|20|21)\\.ffn_down\\.weight$");
    qs_plan_free(&ex);
    /* qwen2.5: tied token_embd is the output (Q8_0: 896 is not a multiple of 256); attn_v's Q6_K
     * stays visible as Q6_K and falls back to Q8_0 when resolved */
    free(b);
    b = build(find_shape("qwen2.5-0.5b"));
    assert_int_equal(qs_plan_expand_preset(&plan, &b->m, &ex, &err), QS_OK);
    assert_string_equal(ex.rules[0].pattern, "^token_embd\\.weight$");
    assert_int_equal(ex.rules[0].type, QS_TYPE_Q8_0);
    assert_int_equal(ex.rules[1].type, QS_TYPE_Q6_K);
    qs_plan_resolution r;
    assert_int_equal(qs_plan_resolve(&ex, &b->m, &r, &err), QS_OK);
    int v0 = tensor_index(b, "blk.0.attn_v.weight");
    assert_int_equal(r.choice[v0].type, QS_TYPE_Q8_0);
    assert_true(r.choice[v0].fallback);
    assert_int_equal(r.choice[v0].reason, QS_REASON_RULE);
    qs_plan_resolution_free(&r);
    qs_plan_free(&ex);
    qs_plan_free(&plan);
    free(b);
}

/* llama.cpp visits tensors by block then name: file order must not matter. */
static void test_order_independent(void **state) {
    (void)state;
    built *b = build(find_shape("tinyllama-1.1b"));
    qs_plan plan;
    qs_plan_init(&plan);
    qs_plan_set_preset(&plan, QS_PRESET_Q3_K_M);
    qs_error err = {{0}};
    qs_plan_resolution r1, r2;
    assert_int_equal(qs_plan_resolve(&plan, &b->m, &r1, &err), QS_OK);
    built *c = malloc(sizeof *c);
    memcpy(c, b, sizeof *c);
    int n = c->m.n_tensors;
    for (int i = 0; i < n; i++) c->t[i].name = c->names[i];
    uint64_t s = 42;
    int *perm = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(qs_test_rng(&s) % (uint64_t)(i + 1)), x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    for (int i = 0; i < n; i++) c->t[i] = b->t[perm[i]];
    c->m.tensors = c->t;
    assert_int_equal(qs_plan_resolve(&plan, &c->m, &r2, &err), QS_OK);
    for (int i = 0; i < n; i++) assert_int_equal(r2.choice[i].type, r1.choice[perm[i]].type);
    qs_plan_resolution_free(&r1);
    qs_plan_resolution_free(&r2);
    qs_plan_free(&plan);
    free(perm);
    free(b);
    free(c);
}

/* ---------------------------------------------------------------------------------------------
 * Resolution semantics.
 * ------------------------------------------------------------------------------------------- */

static void test_first_match_wins(void **state) {
    (void)state;
    built *b = build(find_shape("tinyllama-1.1b"));
    qs_plan p;
    qs_plan_init(&p);
    p.default_type = QS_TYPE_Q4_K;
    qs_error err = {{0}};
    assert_int_equal(qs_plan_insert_rule(&p, -1, "attn", QS_TYPE_Q8_0, &err), QS_OK);
    assert_int_equal(qs_plan_insert_rule(&p, -1, "attn_v", QS_TYPE_Q6_K, &err), QS_OK);
    assert_int_equal(qs_plan_insert_rule(&p, -1, "v\\.weight", QS_TYPE_Q5_K, &err), QS_OK); /* searched */
    assert_int_equal(qs_plan_insert_rule(&p, -1, "^down", QS_TYPE_Q2_K, &err), QS_OK);      /* anchored: none */
    qs_plan_resolution r;
    assert_int_equal(qs_plan_resolve(&p, &b->m, &r, &err), QS_OK);
    int v = tensor_index(b, "blk.3.attn_v.weight"), d = tensor_index(b, "blk.3.ffn_down.weight");
    assert_int_equal(r.choice[v].type, QS_TYPE_Q8_0);
    assert_int_equal(r.choice[v].reason, QS_REASON_RULE);
    assert_int_equal(r.choice[v].index, 0);
    assert_string_equal(r.choice[v].why, "rule 1: attn -> Q8_0");
    assert_int_equal(r.choice[d].type, QS_TYPE_Q4_K);
    assert_int_equal(r.choice[d].reason, QS_REASON_DEFAULT);
    assert_string_equal(r.choice[d].why, "default Q4_K");
    /* no preset: output gets the default like everything else (llama-quantize --pure) */
    assert_int_equal(r.choice[tensor_index(b, "output.weight")].type, QS_TYPE_Q4_K);
    assert_int_equal(r.rule_decided[0], 22 * 4);
    assert_int_equal(r.rule_decided[1], 0);
    assert_int_equal(r.rule_matched[1], 22);
    assert_int_equal(r.rule_matched[2], 22);
    assert_int_equal(r.rule_matched[3], 0);
    qs_strlist un = {0};
    assert_int_equal(qs_plan_unmatched(&p, &b->m, &r, &un), 3);
    assert_string_equal(un.v[0], "rule 2 (attn_v -> Q6_K) matches 22 tensors, all decided by earlier entries");
    assert_string_equal(un.v[1], "rule 3 (v\\.weight -> Q5_K) matches 22 tensors, all decided by earlier entries");
    assert_string_equal(un.v[2], "rule 4 (^down -> Q2_K) matches no quantizable tensor");
    qs_strlist_free(&un);
    qs_plan_resolution_free(&r);
    qs_plan_free(&p);
    free(b);
}

static void test_overrides_in_front(void **state) {
    (void)state;
    built *b = build(find_shape("tinyllama-1.1b"));
    qs_plan p;
    qs_plan_init(&p);
    qs_plan_set_preset(&p, QS_PRESET_Q4_K_M);
    qs_error err = {{0}};
    assert_int_equal(qs_plan_insert_rule(&p, -1, "ffn_", QS_TYPE_Q3_K, &err), QS_OK);
    p.keep_first = 1;
    p.keep_last = 1;
    p.keep_type = QS_TYPE_Q6_K;
    assert_int_equal(qs_plan_set_layer(&p, 0, QS_TYPE_Q8_0, &err), QS_OK);
    assert_int_equal(qs_plan_set_layer(&p, 5, QS_TYPE_Q5_K, &err), QS_OK);
    assert_int_equal(qs_plan_set_tensor(&p, "blk.0.attn_q.weight", QS_TYPE_BF16, &err), QS_OK);
    assert_int_equal(qs_plan_set_tensor(&p, "blk.0.attn_norm.weight", QS_TYPE_Q8_0, &err), QS_OK);
    qs_plan_resolution r;
    assert_int_equal(qs_plan_resolve(&p, &b->m, &r, &err), QS_OK);
    const qs_plan_choice *c = &r.choice[tensor_index(b, "blk.0.attn_q.weight")];
    assert_int_equal(c->type, QS_TYPE_BF16);
    assert_int_equal(c->reason, QS_REASON_TENSOR);
    assert_string_equal(c->why, "tensor override -> BF16");
    c = &r.choice[tensor_index(b, "blk.0.ffn_up.weight")];
    assert_int_equal(c->type, QS_TYPE_Q8_0);
    assert_int_equal(c->reason, QS_REASON_LAYER);
    assert_string_equal(c->why, "layer override: block 0 -> Q8_0");
    c = &r.choice[tensor_index(b, "blk.21.ffn_up.weight")];
    assert_int_equal(c->type, QS_TYPE_Q6_K);
    assert_int_equal(c->reason, QS_REASON_KEEP);
    assert_string_equal(c->why, "keep first 1 and last 1 blocks: block 21 -> Q6_K");
    c = &r.choice[tensor_index(b, "blk.5.ffn_up.weight")];
    assert_int_equal(c->type, QS_TYPE_Q5_K);
    c = &r.choice[tensor_index(b, "blk.6.ffn_up.weight")];
    assert_int_equal(c->type, QS_TYPE_Q3_K);
    assert_int_equal(c->reason, QS_REASON_RULE);
    c = &r.choice[tensor_index(b, "blk.6.attn_v.weight")];
    assert_int_equal(c->reason, QS_REASON_PRESET);
    assert_true(starts(c->why, "preset Q4_K_M: attn_v "));
    /* 1-D tensors stay as stored whatever the plan says */
    c = &r.choice[tensor_index(b, "blk.0.attn_norm.weight")];
    assert_int_equal(c->type, QS_TYPE_F32);
    assert_int_equal(c->reason, QS_REASON_KEPT);
    assert_string_equal(c->why, "1-D tensor: kept F32");
    qs_strlist un = {0};
    assert_int_equal(qs_plan_unmatched(&p, &b->m, &r, &un), 1);
    assert_string_equal(un.v[0], "tensor override 'blk.0.attn_norm.weight' -> Q8_0: never quantized (1-D tensor)");
    qs_strlist_free(&un);
    qs_plan_resolution_free(&r);
    qs_plan_free(&p);
    free(b);
}

static void test_never_quantized(void **state) {
    (void)state;
    built *b = build(find_shape("mixtral-mini"));
    add(b, "blk.0.post_attention_norm.weight", QS_TYPE_F32, 512, 2, 1); /* 2-D norm */
    add(b, "position_embd.weight", QS_TYPE_F16, 512, 2048, 1);
    add(b, "blk.0.attn_q.bias", QS_TYPE_F32, 512, 2, 1);
    qs_plan p;
    qs_plan_init(&p);
    p.default_type = QS_TYPE_Q4_0;
    qs_error err = {{0}};
    assert_int_equal(qs_plan_insert_rule(&p, -1, ".*", QS_TYPE_Q8_0, &err), QS_OK);
    qs_plan_resolution r;
    assert_int_equal(qs_plan_resolve(&p, &b->m, &r, &err), QS_OK);
    assert_string_equal(r.choice[tensor_index(b, "blk.0.ffn_gate_inp.weight")].why, "expert router: kept F32");
    assert_string_equal(r.choice[tensor_index(b, "blk.0.post_attention_norm.weight")].why, "norm weight: kept F32");
    assert_string_equal(r.choice[tensor_index(b, "position_embd.weight")].why, "positional embedding: kept F16");
    assert_string_equal(r.choice[tensor_index(b, "blk.0.attn_q.bias")].why, "not a weight: kept F32");
    assert_int_equal(r.choice[tensor_index(b, "blk.0.ffn_down_exps.weight")].type, QS_TYPE_Q8_0);
    qs_plan_resolution_free(&r);
    qs_plan_free(&p);
    free(b);
}

static void test_fallback_reasons(void **state) {
    (void)state;
    built *b = build(find_shape("stories260K"));
    qs_plan p;
    qs_plan_init(&p);
    qs_plan_set_preset(&p, QS_PRESET_Q4_K_M);
    qs_error err = {{0}};
    qs_plan_resolution r;
    assert_int_equal(qs_plan_resolve(&p, &b->m, &r, &err), QS_OK);
    const qs_plan_choice *c = &r.choice[tensor_index(b, "blk.2.attn_q.weight")];
    assert_int_equal(c->type, QS_TYPE_Q5_0);
    assert_int_equal(c->wanted, QS_TYPE_Q4_K);
    assert_true(c->fallback);
    assert_string_equal(c->why, "preset Q4_K_M: base type Q4_K; fallback: row of 64 cannot hold Q4_K blocks (256) -> Q5_0");
    c = &r.choice[tensor_index(b, "blk.2.ffn_down.weight")];
    assert_int_equal(c->type, QS_TYPE_F16);
    assert_int_equal(c->wanted, QS_TYPE_Q6_K);
    assert_string_equal(c->why, "preset Q4_K_M: ffn_down in use_more_bits layer 2 of 5 -> Q6_K; "
                                "fallback: row of 172 cannot hold Q6_K blocks (256) nor Q8_0 blocks (32) -> F16");
    c = &r.choice[tensor_index(b, "output.weight")];
    assert_int_equal(c->type, QS_TYPE_Q8_0);
    assert_false(c->fallback);
    assert_string_equal(c->why, "preset Q4_K_M: output row of 64 not a multiple of 256 -> Q8_0");
    assert_int_equal(r.n_fallback, 5 * 7 + 1);
    qs_plan_resolution_free(&r);

    /* block-32 presets: llama-quantize refuses the model; we fall back to F16 and say so */
    qs_plan_set_preset(&p, QS_PRESET_Q8_0);
    assert_int_equal(qs_plan_resolve(&p, &b->m, &r, &err), QS_OK);
    c = &r.choice[tensor_index(b, "blk.4.ffn_down.weight")];
    assert_int_equal(c->type, QS_TYPE_F16);
    assert_non_null(strstr(c->why, "fallback: row of 172 cannot hold Q8_0 blocks (32); llama.cpp has none for Q8_0 and refuses the model -> F16"));
    qs_plan_resolution_free(&r);

    /* a rule's type falls back too, and the reason keeps the rule */
    qs_plan_set_preset(&p, QS_PRESET_NONE);
    p.default_type = QS_TYPE_Q8_0;
    assert_int_equal(qs_plan_insert_rule(&p, -1, "attn_k", QS_TYPE_IQ4_XS, &err), QS_OK);
    assert_int_equal(qs_plan_resolve(&p, &b->m, &r, &err), QS_OK);
    c = &r.choice[tensor_index(b, "blk.1.attn_k.weight")];
    assert_int_equal(c->type, QS_TYPE_IQ4_NL);
    assert_string_equal(c->why, "rule 1: attn_k -> IQ4_XS; fallback: row of 64 cannot hold IQ4_XS blocks (256) -> IQ4_NL");
    qs_plan_resolution_free(&r);
    qs_plan_free(&p);
    free(b);
}

static void test_preset_reasons(void **state) {
    (void)state;
    built *b = build(find_shape("tinyllama-1.1b"));
    qs_plan p;
    qs_plan_init(&p);
    qs_plan_set_preset(&p, QS_PRESET_Q4_K_M);
    qs_error err = {{0}};
    qs_plan_resolution r;
    assert_int_equal(qs_plan_resolve(&p, &b->m, &r, &err), QS_OK);
    assert_string_equal(r.choice[tensor_index(b, "blk.4.attn_v.weight")].why,
                        "preset Q4_K_M: attn_v 4 of 22 is a use_more_bits layer -> Q6_K");
    assert_string_equal(r.choice[tensor_index(b, "blk.5.attn_v.weight")].why,
                        "preset Q4_K_M: attn_v 5 of 22 is not a use_more_bits layer: Q4_K");
    assert_string_equal(r.choice[tensor_index(b, "output.weight")].why, "preset Q4_K_M: output -> Q6_K");
    assert_string_equal(r.choice[tensor_index(b, "token_embd.weight")].why,
                        "preset Q4_K_M: token_embd keeps the base type Q4_K");
    qs_plan_resolution_free(&r);
    free(b);
    b = build(find_shape("llama-3.2-1b"));
    assert_int_equal(qs_plan_resolve(&p, &b->m, &r, &err), QS_OK);
    assert_string_equal(r.choice[tensor_index(b, "token_embd.weight")].why,
                        "preset Q4_K_M: token_embd (tied to output) -> Q6_K");
    qs_plan_resolution_free(&r);
    qs_plan_free(&p);
    free(b);
}

static void test_invalid_regex(void **state) {
    (void)state;
    /* the message is PCRE2's own, with the offset */
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR) "ffn_(up", PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
    assert_null(re);
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(code, msg, sizeof msg);
    char expect[400];
    snprintf(expect, sizeof expect, "invalid regex 'ffn_(up': %s at offset %zu", (char *)msg, (size_t)off);
    assert_int_equal(off, 7);
    qs_plan p;
    qs_plan_init(&p);
    qs_error err = {{0}};
    assert_int_equal(qs_plan_insert_rule(&p, -1, "ffn_(up", QS_TYPE_Q4_K, &err), QS_ERR);
    assert_string_equal(err.msg, expect);
    assert_non_null(strstr(err.msg, "missing closing parenthesis"));
    assert_int_equal(p.n_rules, 0);
    assert_int_equal(qs_regex_check("a[", &err), QS_ERR);
    assert_non_null(strstr(err.msg, "at offset 2"));
    assert_int_equal(qs_regex_check("", &err), QS_ERR);
    assert_int_equal(qs_regex_check("blk\\.(0|1)\\.", &err), QS_OK);
    /* a plan edited behind the API's back is caught at resolution */
    p.rules = calloc(1, sizeof *p.rules);
    p.rules[0].pattern = strdup("x{2,1}");
    p.rules[0].type = QS_TYPE_Q4_K;
    p.n_rules = 1;
    built *b = build(find_shape("stories260K"));
    qs_plan_resolution r;
    assert_int_equal(qs_plan_resolve(&p, &b->m, &r, &err), QS_ERR);
    assert_true(starts(err.msg, "rule 1: invalid regex 'x{2,1}': "));
    qs_plan_free(&p);
    free(b);
}

static void test_unmatched_report(void **state) {
    (void)state;
    built *b = build(find_shape("stories260K"));
    qs_plan p;
    qs_plan_init(&p);
    p.default_type = QS_TYPE_Q8_0;
    qs_error err = {{0}};
    assert_int_equal(qs_plan_insert_rule(&p, -1, "attn_qkv", QS_TYPE_Q4_K, &err), QS_OK);
    assert_int_equal(qs_plan_set_layer(&p, 9, QS_TYPE_Q6_K, &err), QS_OK);
    assert_int_equal(qs_plan_set_tensor(&p, "blk.0.ffn_gate.weight.typo", QS_TYPE_Q6_K, &err), QS_OK);
    p.keep_last = 7;
    p.keep_type = QS_TYPE_Q6_K;
    qs_plan_resolution r;
    assert_int_equal(qs_plan_resolve(&p, &b->m, &r, &err), QS_OK);
    qs_strlist un = {0};
    assert_int_equal(qs_plan_unmatched(&p, &b->m, &r, &un), 4);
    assert_string_equal(un.v[0], "tensor override 'blk.0.ffn_gate.weight.typo' -> Q6_K: the model has no such tensor");
    assert_string_equal(un.v[1], "layer override block 9 -> Q6_K: the model has 5 blocks");
    assert_string_equal(un.v[2], "keep last 7 blocks -> Q6_K: the model has 5 blocks");
    assert_string_equal(un.v[3], "rule 1 (attn_qkv -> Q4_K) matches no quantizable tensor");
    qs_strlist_free(&un);
    qs_plan_resolution_free(&r);
    qs_plan_free(&p);
    free(b);
}

/* keep first N / last M behaves like a rule in front of the plan's rules, whatever the preset */
static void test_keep_knob(void **state) {
    (void)state;
    built *b = build(find_shape("tinyllama-1.1b"));
    qs_plan p, q;
    qs_plan_init(&p);
    qs_plan_set_preset(&p, QS_PRESET_Q3_K_M);
    p.keep_first = 2;
    p.keep_last = 3;
    p.keep_type = QS_TYPE_Q6_K;
    qs_error err = {{0}};
    assert_int_equal(qs_plan_insert_rule(&p, -1, "ffn_up", QS_TYPE_Q4_K, &err), QS_OK);
    qs_plan_init(&q);
    qs_plan_set_preset(&q, QS_PRESET_Q3_K_M);
    assert_int_equal(qs_plan_insert_rule(&q, -1, "^blk\\.(0|1|19|20|21)\\.", QS_TYPE_Q6_K, &err), QS_OK);
    assert_int_equal(qs_plan_insert_rule(&q, -1, "ffn_up", QS_TYPE_Q4_K, &err), QS_OK);
    qs_plan_resolution r1, r2;
    assert_int_equal(qs_plan_resolve(&p, &b->m, &r1, &err), QS_OK);
    assert_int_equal(qs_plan_resolve(&q, &b->m, &r2, &err), QS_OK);
    for (int i = 0; i < b->m.n_tensors; i++) {
        assert_int_equal(r1.choice[i].type, r2.choice[i].type);
        int blk = b->t[i].block;
        bool kept = blk >= 0 && (blk < 2 || blk >= 19) && b->t[i].ne[1] > 1;
        assert_int_equal(r1.choice[i].reason == QS_REASON_KEEP, kept);
        if (kept) assert_int_equal(r1.choice[i].type, QS_TYPE_Q6_K);
    }
    assert_int_equal(r1.keep_decided, 5 * 7);
    /* Q3_K_M's "first two attn_v" count only the tensors the mix decides: blocks 2 and 3 */
    assert_int_equal(r1.choice[tensor_index(b, "blk.2.attn_v.weight")].type, QS_TYPE_Q5_K);
    assert_int_equal(r1.choice[tensor_index(b, "blk.3.attn_v.weight")].type, QS_TYPE_Q5_K);
    assert_int_equal(r1.choice[tensor_index(b, "blk.4.attn_v.weight")].type, QS_TYPE_Q4_K);
    qs_plan_resolution_free(&r1);
    qs_plan_resolution_free(&r2);
    qs_plan_free(&p);
    qs_plan_free(&q);
    free(b);
}

/* ---------------------------------------------------------------------------------------------
 * Plan edits, fingerprints.
 * ------------------------------------------------------------------------------------------- */

static void test_edits(void **state) {
    (void)state;
    qs_plan p, c;
    qs_plan_init(&p);
    qs_error err = {{0}};
    assert_int_equal(qs_plan_insert_rule(&p, -1, "b", QS_TYPE_Q4_K, &err), QS_OK);
    assert_int_equal(qs_plan_insert_rule(&p, 0, "a", QS_TYPE_Q5_K, &err), QS_OK);
    assert_int_equal(qs_plan_insert_rule(&p, 1, "ab", QS_TYPE_Q6_K, &err), QS_OK);
    assert_string_equal(p.rules[0].pattern, "a");
    assert_string_equal(p.rules[1].pattern, "ab");
    assert_string_equal(p.rules[2].pattern, "b");
    assert_int_equal(qs_plan_insert_rule(&p, -1, "c", QS_TYPE_Q8_K, &err), QS_ERR);
    assert_string_equal(err.msg, "rule: type Q8_K cannot be chosen for a tensor");
    assert_int_equal(qs_plan_remove_rule(&p, 1), QS_OK);
    assert_int_equal(qs_plan_remove_rule(&p, 5), QS_ERR);
    assert_int_equal(p.n_rules, 2);
    assert_int_equal(qs_plan_set_layer(&p, 3, QS_TYPE_Q8_0, &err), QS_OK);
    assert_int_equal(qs_plan_set_layer(&p, 3, QS_TYPE_Q6_K, &err), QS_OK);
    assert_int_equal(p.n_layers, 1);
    assert_int_equal(p.layers[0].type, QS_TYPE_Q6_K);
    assert_int_equal(qs_plan_set_tensor(&p, "output.weight", QS_TYPE_Q8_0, &err), QS_OK);
    assert_int_equal(qs_plan_copy(&c, &p), QS_OK);
    assert_true(qs_plan_equal(&c, &p));
    assert_int_equal(qs_plan_clear_tensor(&c, "output.weight"), QS_OK);
    assert_false(qs_plan_equal(&c, &p));
    assert_int_equal(qs_plan_clear_tensor(&c, "output.weight"), QS_ERR);
    assert_int_equal(qs_plan_clear_layer(&c, 3), QS_OK);
    assert_int_equal(c.n_layers, 0);
    qs_plan_set_preset(&p, QS_PRESET_Q5_K_S);
    assert_int_equal(p.default_type, QS_TYPE_Q5_K);
    p.default_type = QS_TYPE_Q4_K;
    assert_int_equal(qs_plan_validate(&p, &err), QS_ERR);
    assert_string_equal(err.msg, "default Q4_K does not match preset Q5_K_S (its default is Q5_K)");
    p.default_type = QS_TYPE_Q5_K;
    p.kv_type = QS_TYPE_Q6_K;
    assert_int_equal(qs_plan_validate(&p, &err), QS_ERR);
    qs_plan_free(&p);
    qs_plan_free(&c);
    qs_preset pr;
    assert_int_equal(qs_preset_from_name("q4_k", &pr), QS_OK);
    assert_int_equal(pr, QS_PRESET_Q4_K_M);
    assert_int_equal(qs_preset_from_name("iq4_xs", &pr), QS_OK);
    assert_int_equal(pr, QS_PRESET_IQ4_XS);
    assert_int_equal(qs_preset_from_name("Q4_K_L", &pr), QS_ERR);
    assert_string_equal(qs_preset_name(QS_PRESET_Q3_K_L), "Q3_K_L");
}

static void test_fingerprint(void **state) {
    (void)state;
    built *b = build(find_shape("tinyllama-1.1b"));
    uint64_t h = qs_plan_tensor_hash(b->t, b->m.n_tensors);
    /* pinned: the hash is part of saved plans and must never change */
    assert_true(h == 0x42b9a21277780c58ull);
    b->t[5].ne[1]++;
    assert_true(qs_plan_tensor_hash(b->t, b->m.n_tensors) != h);
    b->t[5].ne[1]--;
    b->t[5].type = QS_TYPE_BF16;
    assert_true(qs_plan_tensor_hash(b->t, b->m.n_tensors) != h);
    free(b);

    assert_true(qs_plan_model_is_70b("llama", 80, 64, 8, 0));
    assert_false(qs_plan_model_is_70b("llama", 80, 64, 64, 0));
    assert_true(qs_plan_model_is_70b("qwen2", 80, 64, 64, 0));
    assert_false(qs_plan_model_is_70b("llama", 22, 32, 4, 0));
}

/* A plan for another model: what does not apply is listed. */
static void test_check_model(void **state) {
    (void)state;
    built *b = build(find_shape("tinyllama-1.1b")), *s = build(find_shape("stories260K"));
    qs_plan p;
    qs_plan_init(&p);
    qs_plan_set_preset(&p, QS_PRESET_Q4_K_M);
    qs_error err = {{0}};
    p.model.file = strdup("tinyllama-1.1b-f16.gguf");
    p.model.size = 2200293536;
    p.model.n_tensors = b->m.n_tensors;
    p.model.hash = qs_plan_tensor_hash(b->t, b->m.n_tensors);
    assert_int_equal(qs_plan_set_layer(&p, 21, QS_TYPE_Q8_0, &err), QS_OK);
    qs_strlist w = {0};
    assert_int_equal(qs_plan_check_model(&p, &p.model, &b->m, &w, &err), 0);
    qs_plan_fingerprint fp = {"stories260K.gguf", 1185376, s->m.n_tensors, qs_plan_tensor_hash(s->t, s->m.n_tensors)};
    assert_int_equal(qs_plan_check_model(&p, &fp, &s->m, &w, &err), 5);
    assert_string_equal(w.v[0], "plan made for file 'tinyllama-1.1b-f16.gguf', this is 'stories260K.gguf'");
    assert_string_equal(w.v[1], "plan made for a file of 2200293536 bytes, this one has 1185376");
    assert_string_equal(w.v[2], "plan made for 201 tensors, this model has 48");
    assert_true(starts(w.v[3], "plan made for tensor table 42b9a21277780c58, this model's is "));
    assert_string_equal(w.v[4], "layer override block 21 -> Q8_0: the model has 5 blocks");
    qs_strlist_free(&w);
    qs_plan_free(&p);
    free(b);
    free(s);
}

/* ---------------------------------------------------------------------------------------------
 * llama-quantize arguments.
 * ------------------------------------------------------------------------------------------- */

static void test_args_export(void **state) {
    (void)state;
    built *b = build(find_shape("tinyllama-1.1b"));
    qs_plan p;
    qs_plan_init(&p);
    qs_plan_set_preset(&p, QS_PRESET_Q4_K_M);
    qs_error err = {{0}};
    assert_int_equal(qs_plan_insert_rule(&p, -1, "ffn_(up|gate)", QS_TYPE_Q5_K, &err), QS_OK);
    assert_int_equal(qs_plan_set_layer(&p, 3, QS_TYPE_Q8_0, &err), QS_OK);
    assert_int_equal(qs_plan_set_tensor(&p, "output.weight", QS_TYPE_Q8_0, &err), QS_OK);
    p.keep_first = 1;
    p.keep_last = 2;
    p.keep_type = QS_TYPE_Q6_K;
    qs_strlist a = {0};
    assert_int_equal(qs_plan_export_args(&p, &b->m, &a, &err), QS_OK);
    const char *want[] = {"--tensor-type", "^output\\.weight$=q8_0", "--tensor-type", "blk\\.3\\.=q8_0",
                          "--tensor-type", "blk\\.(0|20|21)\\.=q6_k", "--tensor-type", "ffn_(up|gate)=q5_k", "Q4_K_M"};
    assert_int_equal(a.n, 9);
    for (int i = 0; i < 9; i++) assert_string_equal(a.v[i], want[i]);
    char *cmd = qs_plan_args_command(&a, "in dir/model-f16.gguf", "out.gguf");
    assert_string_equal(cmd, "llama-quantize --tensor-type '^output\\.weight$=q8_0' --tensor-type 'blk\\.3\\.=q8_0' "
                             "--tensor-type 'blk\\.(0|20|21)\\.=q6_k' --tensor-type 'ffn_(up|gate)=q5_k' "
                             "'in dir/model-f16.gguf' out.gguf Q4_K_M");
    free(cmd);

    /* import gives back a plan that resolves identically (overrides come back as rules) */
    qs_plan q;
    qs_strlist notes = {0};
    assert_int_equal(qs_plan_import_args(a.n, (const char *const *)a.v, &b->m, &q, &notes, &err), QS_OK);
    assert_int_equal(q.preset, QS_PRESET_Q4_K_M);
    assert_int_equal(q.n_rules, 4);
    qs_plan_resolution r1, r2;
    assert_int_equal(qs_plan_resolve(&p, &b->m, &r1, &err), QS_OK);
    assert_int_equal(qs_plan_resolve(&q, &b->m, &r2, &err), QS_OK);
    for (int i = 0; i < b->m.n_tensors; i++) assert_int_equal(r1.choice[i].type, r2.choice[i].type);
    /* and exports to the same arguments */
    qs_strlist a2 = {0};
    assert_int_equal(qs_plan_export_args(&q, &b->m, &a2, &err), QS_OK);
    assert_int_equal(a2.n, a.n);
    for (int i = 0; i < a.n; i++) assert_string_equal(a2.v[i], a.v[i]);
    qs_strlist_free(&a2);
    qs_plan_resolution_free(&r1);
    qs_plan_resolution_free(&r2);
    qs_plan_free(&q);
    qs_strlist_free(&a);
    qs_strlist_free(&notes);

    /* without a preset: --pure and an ftype with that default */
    qs_plan_set_preset(&p, QS_PRESET_NONE);
    p.default_type = QS_TYPE_Q6_K;
    p.keep_first = p.keep_last = 0;
    assert_int_equal(qs_plan_export_args(&p, NULL, &a, &err), QS_OK);
    assert_string_equal(a.v[a.n - 2], "--pure");
    assert_string_equal(a.v[a.n - 1], "Q6_K");
    assert_int_equal(qs_plan_import_args(a.n, (const char *const *)a.v, NULL, &q, NULL, &err), QS_OK);
    assert_int_equal(q.preset, QS_PRESET_NONE);
    assert_int_equal(q.default_type, QS_TYPE_Q6_K);
    qs_plan_free(&q);
    qs_strlist_free(&a);

    /* what llama-quantize cannot express */
    p.default_type = QS_TYPE_F16;
    assert_int_equal(qs_plan_export_args(&p, NULL, &a, &err), QS_ERR);
    assert_string_equal(err.msg, "llama-quantize ignores --tensor-type when the default type is F16; choose a quantized default");
    p.default_type = QS_TYPE_Q4_K;
    assert_int_equal(qs_plan_insert_rule(&p, -1, "Attn", QS_TYPE_Q5_K, &err), QS_OK);
    assert_int_equal(qs_plan_export_args(&p, NULL, &a, &err), QS_ERR);
    assert_string_equal(err.msg, "rule 2: pattern 'Attn' has upper-case letters, which llama-quantize lower-cases");
    qs_plan_remove_rule(&p, 1);
    assert_int_equal(qs_plan_insert_rule(&p, -1, "a(?=b)", QS_TYPE_Q5_K, &err), QS_OK);
    assert_int_equal(qs_plan_export_args(&p, NULL, &a, &err), QS_ERR);
    assert_string_equal(err.msg, "rule 2: pattern 'a(?=b)' contains '=', which llama-quantize takes as the end of the pattern");
    qs_plan_remove_rule(&p, 1);
    p.keep_last = 1;
    assert_int_equal(qs_plan_export_args(&p, NULL, &a, &err), QS_ERR);
    assert_int_equal(a.n, 0);
    qs_plan_free(&p);
    free(b);
}

static void test_args_import(void **state) {
    (void)state;
    qs_plan q;
    qs_strlist notes = {0};
    qs_error err = {{0}};
    const char *full[] = {"/usr/bin/llama-quantize", "--tensor-type", "ATTN_V=Q8_0", "--imatrix", "m.imatrix",
                          "in.gguf", "out.gguf", "q5_k", "8"};
    assert_int_equal(qs_plan_import_args(9, full, NULL, &q, &notes, &err), QS_OK);
    assert_int_equal(q.preset, QS_PRESET_Q5_K_M);
    assert_int_equal(q.n_rules, 1);
    assert_string_equal(q.rules[0].pattern, "attn_v"); /* lower-cased as llama-quantize does */
    assert_int_equal(q.rules[0].type, QS_TYPE_Q8_0);
    assert_int_equal(notes.n, 2);
    assert_string_equal(notes.v[1], "'8': thread count; ignored");
    qs_plan_free(&q);
    qs_strlist_free(&notes);
    /* numeric ftype, input and ftype only */
    const char *num[] = {"in.gguf", "15"};
    assert_int_equal(qs_plan_import_args(2, num, NULL, &q, NULL, &err), QS_OK);
    assert_int_equal(q.preset, QS_PRESET_Q4_K_M);
    qs_plan_free(&q);
    /* --tensor-type under F16 is ignored by llama-quantize: dropped, with a note */
    const char *f16[] = {"--tensor-type", "attn=q8_0", "in.gguf", "F16"};
    assert_int_equal(qs_plan_import_args(4, f16, NULL, &q, &notes, &err), QS_OK);
    assert_int_equal(q.n_rules, 0);
    assert_string_equal(notes.v[0], "1 --tensor-type entry ignored: llama-quantize ignores them when the file type is F16");
    qs_plan_free(&q);
    qs_strlist_free(&notes);
    /* --output-tensor-type reaches a tied token_embd */
    built *b = build(find_shape("llama-3.2-1b"));
    const char *ot[] = {"--output-tensor-type", "q5_1", "in.gguf", "Q4_K_M"};
    assert_int_equal(qs_plan_import_args(4, ot, &b->m, &q, NULL, &err), QS_OK);
    assert_int_equal(q.n_rules, 2);
    assert_string_equal(q.rules[1].pattern, "^(per_layer_)?token_embd\\.weight$");
    qs_plan_resolution r;
    assert_int_equal(qs_plan_resolve(&q, &b->m, &r, &err), QS_OK);
    assert_int_equal(r.choice[tensor_index(b, "token_embd.weight")].type, QS_TYPE_Q5_1);
    qs_plan_resolution_free(&r);
    qs_plan_free(&q);
    free(b);

    struct {
        int argc;
        const char *argv[6];
        const char *msg;
    } bad[] = {
        {3, {"--tensor-type", "attn_v", "Q4_K_M"}, "--tensor-type 'attn_v': expected PATTERN=TYPE"},
        {3, {"--tensor-type", "=q8_0", "Q4_K_M"}, "--tensor-type '=q8_0': missing tensor name pattern"},
        {3, {"--tensor-type", "attn=", "Q4_K_M"}, "--tensor-type 'attn=': missing quantization type"},
        {3, {"--tensor-type", "attn=q9_k", "Q4_K_M"}, "--tensor-type: invalid type 'q9_k'"},
        {3, {"--tensor-type", "attn(=q8_0", "Q4_K_M"}, NULL},
        {2, {"--frobnicate", "Q4_K_M"}, "unknown llama-quantize option '--frobnicate'"},
        {2, {"in.gguf", "Q4_K_X"}, "missing file type (Q4_K_M, Q8_0, ...)"}, /* Q4_K_X read as the output */
        {3, {"in.gguf", "out.gguf", "Q4_K_X"}, "invalid file type 'Q4_K_X'"},
        {2, {"--leave-output-tensor", "Q4_K_M"}, "--leave-output-tensor: a plan cannot keep output.weight as stored; use a tensor override"},
        {1, {"IQ2_XXS"}, "file type IQ2_XXS: its mix is not a quantscope preset; with --pure every tensor would be IQ2_XXS"},
        {1, {"--pure"}, "missing file type (Q4_K_M, Q8_0, ...)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = qs_plan_import_args(bad[i].argc, bad[i].argv, NULL, &q, NULL, &err);
        assert_int_equal(rc, QS_ERR);
        if (bad[i].msg) assert_string_equal(err.msg, bad[i].msg);
        assert_int_equal(q.n_rules, 0);
    }
    assert_int_equal(qs_plan_import_args(3, (const char *[]){"--tensor-type", "attn(=q8_0", "Q4_K_M"}, NULL, &q, NULL, &err), QS_ERR);
    assert_true(starts(err.msg, "--tensor-type attn(: invalid regex 'attn(': "));
    const char *pure[] = {"--pure", "in.gguf", "IQ2_XXS"};
    assert_int_equal(qs_plan_import_args(3, pure, NULL, &q, NULL, &err), QS_OK);
    assert_int_equal(q.default_type, QS_TYPE_IQ2_XXS);
    qs_plan_free(&q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets_pinned),   cmocka_unit_test(test_expand_equivalent),
        cmocka_unit_test(test_expand_visible_rules), cmocka_unit_test(test_order_independent),
        cmocka_unit_test(test_first_match_wins), cmocka_unit_test(test_overrides_in_front),
        cmocka_unit_test(test_never_quantized),  cmocka_unit_test(test_fallback_reasons),
        cmocka_unit_test(test_preset_reasons),   cmocka_unit_test(test_invalid_regex),
        cmocka_unit_test(test_unmatched_report), cmocka_unit_test(test_keep_knob),
        cmocka_unit_test(test_edits),            cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_check_model),      cmocka_unit_test(test_args_export),
        cmocka_unit_test(test_args_import),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
