/* fuzz_plan.c — libFuzzer harness for plan files: YAML parsing and everything done with a plan.
 *
 * Input: any bytes, parsed as plan YAML (qs_plan_parse, not NUL-terminated). A plan that parses
 * is validated; a valid plan must then keep the promises qs_plan.h makes, checked here (a broken
 * promise aborts, which the fuzzer reports):
 *   - qs_plan_format's text parses back to an equal plan and formats to the same bytes;
 *   - resolving against a small built-in llama-like model (3 blocks, rows of 256, 64 and 172 so
 *     K-quants fit some tensors and fall back on others) succeeds, every resolved type is one a
 *     plan may choose (or the stored type, for tensors that keep it);
 *   - the expanded preset resolves to the same type for every tensor.
 * The messages about unmatched parts, the fingerprint check and the llama-quantize arguments are
 * produced too (their content is not checked, only that they are produced safely). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qs_plan.h"
#include "qs_types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T(name, nd, e0, e1, type, blk) {name, nd, {e0, e1, 1, 1}, type, blk}
static const qs_plan_tensor model_tensors[] = {
    T("token_embd.weight", 2, 256, 1000, QS_TYPE_F16, -1),
    T("blk.0.attn_norm.weight", 1, 256, 1, QS_TYPE_F32, 0),
    T("blk.0.attn_q.weight", 2, 256, 256, QS_TYPE_F16, 0),
    T("blk.0.attn_k.weight", 2, 256, 64, QS_TYPE_F16, 0),
    T("blk.0.attn_v.weight", 2, 256, 64, QS_TYPE_F16, 0),
    T("blk.0.attn_output.weight", 2, 256, 256, QS_TYPE_F16, 0),
    T("blk.0.ffn_gate.weight", 2, 256, 172, QS_TYPE_F16, 0),
    T("blk.0.ffn_down.weight", 2, 172, 256, QS_TYPE_F16, 0),
    T("blk.1.attn_q.weight", 2, 256, 256, QS_TYPE_BF16, 1),
    T("blk.1.attn_v.weight", 2, 64, 256, QS_TYPE_Q8_0, 1),
    T("blk.1.ffn_up.weight", 2, 256, 172, QS_TYPE_F16, 1),
    T("blk.1.ffn_down.weight", 2, 172, 256, QS_TYPE_F16, 1),
    T("blk.1.ffn_gate_inp.weight", 2, 256, 8, QS_TYPE_F32, 1),
    T("blk.2.attn_v.weight", 2, 256, 64, QS_TYPE_F16, 2),
    T("blk.2.ffn_down.weight", 2, 172, 256, QS_TYPE_F32, 2),
    T("blk.2.attn_k.bias", 1, 64, 1, QS_TYPE_F32, 2),
    T("output_norm.weight", 1, 256, 1, QS_TYPE_F32, -1),
    T("output.weight", 2, 256, 1000, QS_TYPE_F16, -1),
};
#undef T
#define N_TENSORS ((int)(sizeof model_tensors / sizeof model_tensors[0]))

static const qs_plan_model model = {
    .arch = "llama", .n_layer = 3, .n_head = 4, .n_head_kv = 1, .n_expert = 0,
    .tensors = model_tensors, .n_tensors = N_TENSORS,
};

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_plan: broken promise: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void roundtrip(const qs_plan *p) {
    char *text = NULL, *text2 = NULL;
    size_t len = 0, len2 = 0;
    qs_error err;
    if (qs_plan_format(p, &text, &len, &err) != QS_OK) fail("a valid plan does not format", err.msg);
    qs_plan q;
    if (qs_plan_parse(text, len, "formatted.yaml", &q, &err) != QS_OK) {
        fprintf(stderr, "%s\n", text);
        fail("formatted text does not parse", err.msg);
    }
    if (!qs_plan_equal(p, &q)) {
        fprintf(stderr, "%s\n", text);
        fail("formatted text parses to a different plan", NULL);
    }
    if (qs_plan_format(&q, &text2, &len2, &err) != QS_OK) fail("re-parsed plan does not format", err.msg);
    if (len != len2 || memcmp(text, text2, len) != 0) {
        fprintf(stderr, "---\n%s---\n%s---\n", text, text2);
        fail("formatting is not stable", NULL);
    }
    free(text);
    free(text2);
    qs_plan_free(&q);
}

static void resolve(const qs_plan *p) {
    qs_plan_resolution r;
    qs_error err;
    /* a pattern may fail to match within PCRE2's limits: resolution then fails with a message */
    if (qs_plan_resolve(p, &model, &r, &err) != QS_OK) return;
    for (int i = 0; i < r.n; i++) {
        const qs_plan_choice *c = &r.choice[i];
        if (c->reason == QS_REASON_KEPT) {
            if (c->type != (qs_type)model_tensors[i].type) fail("a kept tensor changed type", model_tensors[i].name);
        } else if (!qs_plan_type_allowed(c->type)) {
            fail("resolved to a type a plan may not choose", model_tensors[i].name);
        }
        if (qs_type_row_bytes(c->type, model_tensors[i].ne[0]) == 0)
            fail("resolved type cannot hold the row", model_tensors[i].name);
    }
    qs_strlist msgs = {0};
    qs_plan_unmatched(p, &model, &r, &msgs);
    qs_plan_fingerprint fp = {.file = "m.gguf", .size = 1, .n_tensors = N_TENSORS,
                              .hash = qs_plan_tensor_hash(model_tensors, N_TENSORS)};
    qs_plan_check_model(p, &fp, &model, &msgs, &err);
    qs_strlist_free(&msgs);

    qs_plan x;
    if (qs_plan_expand_preset(p, &model, &x, &err) == QS_OK) {
        qs_plan_resolution rx;
        if (qs_plan_resolve(&x, &model, &rx, &err) == QS_OK) {
            for (int i = 0; i < r.n; i++)
                if (rx.choice[i].type != r.choice[i].type) {
                    fprintf(stderr, "%s: %s vs %s (%s | %s)\n", model_tensors[i].name,
                            qs_type_name(r.choice[i].type), qs_type_name(rx.choice[i].type),
                            r.choice[i].why, rx.choice[i].why);
                    fail("the expanded preset resolves differently", model_tensors[i].name);
                }
            qs_plan_resolution_free(&rx);
        }
        qs_plan_free(&x);
    }
    qs_plan_resolution_free(&r);

    qs_strlist argv = {0};
    if (qs_plan_export_args(p, &model, &argv, &err) == QS_OK) {
        char *cmd = qs_plan_args_command(&argv, "in.gguf", "out.gguf");
        free(cmd);
        qs_plan back;
        qs_strlist notes = {0};
        if (qs_plan_import_args(argv.n, (const char *const *)argv.v, &model, &back, &notes, &err) == QS_OK)
            qs_plan_free(&back);
        qs_strlist_free(&notes);
    }
    qs_strlist_free(&argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qs_plan p;
    qs_error err;
    if (qs_plan_parse((const char *)data, size, "fuzz.yaml", &p, &err) != QS_OK) return 0;
    if (qs_plan_validate(&p, &err) == QS_OK) {
        roundtrip(&p);
        resolve(&p);
    }
    qs_plan_free(&p);
    return 0;
}
