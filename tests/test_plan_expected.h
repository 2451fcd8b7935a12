/* test_plan_expected.h — the tensor types llama-quantize picks, pinned per tensor.
 *
 * Measured with llama-quantize --dry-run (llama.cpp commit d32676d7) on zero-filled GGUF files of
 * these shapes (built by test_plan.c's shape builders from the same parameters), and on
 * stories260K.gguf itself. One entry per (shape, preset, variant); its table lists every tensor:
 *
 *   NAME=TYPE                  a tensor outside the blocks
 *   blk.*.KIND=TYPE            KIND in every block
 *   blk.*.KIND=T0 T1 ... Tn-1  KIND in block 0, 1, ... (the layer-dependent ones)
 *
 * Variants: "" plain; "rules" with the llama-quantize arguments in test_plan.c's variant table;
 * "imatrix" with --imatrix (any file: the mixes only ask whether there is one).
 * Where llama-quantize refuses a model (stories260K with block-32 presets: ffn_down rows of 172 fit
 * no fallback) the other tensors were measured with --tensor-type ffn_down=f16 and ffn_down holds
 * our answer, F16 — the type llama.cpp itself uses when even its fallback does not fit. */
#ifndef TEST_PLAN_EXPECTED_H
#define TEST_PLAN_EXPECTED_H

typedef struct pinned_table {
    const char *shape;   /* a shape in test_plan.c's shape table */
    const char *preset;  /* llama-quantize ftype */
    const char *variant; /* "", "rules", "imatrix" */
    int n_tensors;       /* tensors llama-quantize listed */
    const char *table;
} pinned_table;

static const pinned_table pinned[] = {
    {"tinyllama-1.1b", "Q8_0", "", 201,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.weight=Q8_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q8_0\n"
     "blk.*.attn_q.weight=Q8_0 blk.*.attn_v.weight=Q8_0 blk.*.ffn_down.weight=Q8_0\n"
     "blk.*.ffn_gate.weight=Q8_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q8_0\n"},
    {"tinyllama-1.1b", "Q6_K", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q6_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q6_K\n"
     "blk.*.attn_q.weight=Q6_K blk.*.attn_v.weight=Q6_K blk.*.ffn_down.weight=Q6_K\n"
     "blk.*.ffn_gate.weight=Q6_K blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q6_K\n"},
    {"tinyllama-1.1b", "Q5_K_M", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q5_K\n"
     "blk.*.attn_k.weight=Q5_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_K\n"
     "blk.*.attn_q.weight=Q5_K blk.*.ffn_gate.weight=Q5_K blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q5_K\n"
     "blk.*.attn_v.weight=Q6_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q6_K Q6_K\n"
     "blk.*.ffn_down.weight=Q6_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q6_K Q6_K\n"},
    {"tinyllama-1.1b", "Q5_K_S", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q5_K\n"
     "blk.*.attn_k.weight=Q5_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_K\n"
     "blk.*.attn_q.weight=Q5_K blk.*.attn_v.weight=Q5_K blk.*.ffn_down.weight=Q5_K\n"
     "blk.*.ffn_gate.weight=Q5_K blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_K\n"},
    {"tinyllama-1.1b", "Q4_K_M", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q4_K\n"
     "blk.*.attn_k.weight=Q4_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_K\n"
     "blk.*.attn_q.weight=Q4_K blk.*.ffn_gate.weight=Q4_K blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q4_K\n"
     "blk.*.attn_v.weight=Q6_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q6_K Q6_K\n"
     "blk.*.ffn_down.weight=Q6_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q6_K Q6_K\n"},
    {"tinyllama-1.1b", "Q4_K_S", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q4_K\n"
     "blk.*.attn_k.weight=Q4_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_K\n"
     "blk.*.attn_q.weight=Q4_K blk.*.ffn_gate.weight=Q4_K blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q4_K\n"
     "blk.*.attn_v.weight=Q5_K Q5_K Q5_K Q5_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K\n"
     "blk.*.ffn_down.weight=Q5_K Q5_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K\n"},
    {"tinyllama-1.1b", "Q3_K_L", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q3_K\n"
     "blk.*.attn_k.weight=Q3_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_K\n"
     "blk.*.attn_q.weight=Q3_K blk.*.attn_v.weight=Q5_K blk.*.ffn_down.weight=Q5_K\n"
     "blk.*.ffn_gate.weight=Q3_K blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q3_K\n"},
    {"tinyllama-1.1b", "Q3_K_M", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q3_K\n"
     "blk.*.attn_k.weight=Q3_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_K\n"
     "blk.*.attn_q.weight=Q3_K blk.*.ffn_gate.weight=Q3_K blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q3_K\n"
     "blk.*.attn_v.weight=Q5_K Q5_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K\n"
     "blk.*.ffn_down.weight=Q5_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K\n"},
    {"tinyllama-1.1b", "Q3_K_S", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q3_K\n"
     "blk.*.attn_k.weight=Q3_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q3_K\n"
     "blk.*.attn_q.weight=Q3_K blk.*.attn_v.weight=Q3_K blk.*.ffn_down.weight=Q3_K\n"
     "blk.*.ffn_gate.weight=Q3_K blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q3_K\n"},
    {"tinyllama-1.1b", "Q2_K", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q2_K\n"
     "blk.*.attn_k.weight=Q2_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q3_K\n"
     "blk.*.attn_q.weight=Q2_K blk.*.attn_v.weight=Q4_K blk.*.ffn_down.weight=Q3_K\n"
     "blk.*.ffn_gate.weight=Q2_K blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q2_K\n"},
    {"tinyllama-1.1b", "Q5_0", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q5_0\n"
     "blk.*.attn_k.weight=Q5_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_0\n"
     "blk.*.attn_q.weight=Q5_0 blk.*.attn_v.weight=Q5_0 blk.*.ffn_down.weight=Q5_0\n"
     "blk.*.ffn_gate.weight=Q5_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_0\n"},
    {"tinyllama-1.1b", "Q5_1", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q5_1\n"
     "blk.*.attn_k.weight=Q5_1 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_1\n"
     "blk.*.attn_q.weight=Q5_1 blk.*.attn_v.weight=Q5_1 blk.*.ffn_down.weight=Q5_1\n"
     "blk.*.ffn_gate.weight=Q5_1 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_1\n"},
    {"tinyllama-1.1b", "Q4_0", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q4_0\n"
     "blk.*.attn_k.weight=Q4_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_0\n"
     "blk.*.attn_q.weight=Q4_0 blk.*.attn_v.weight=Q4_0 blk.*.ffn_down.weight=Q4_0\n"
     "blk.*.ffn_gate.weight=Q4_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_0\n"},
    {"tinyllama-1.1b", "Q4_1", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q4_1\n"
     "blk.*.attn_k.weight=Q4_1 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_1\n"
     "blk.*.attn_q.weight=Q4_1 blk.*.attn_v.weight=Q4_1 blk.*.ffn_down.weight=Q4_1\n"
     "blk.*.ffn_gate.weight=Q4_1 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_1\n"},
    {"tinyllama-1.1b", "IQ4_NL", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=IQ4_NL\n"
     "blk.*.attn_k.weight=IQ4_NL blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=IQ4_NL\n"
     "blk.*.attn_q.weight=IQ4_NL blk.*.attn_v.weight=Q5_K blk.*.ffn_gate.weight=IQ4_NL\n"
     "blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=IQ4_NL\n"
     "blk.*.ffn_down.weight=Q5_K Q5_K IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL\n"},
    {"tinyllama-1.1b", "IQ4_XS", "", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=IQ4_XS\n"
     "blk.*.attn_k.weight=IQ4_XS blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=IQ4_XS\n"
     "blk.*.attn_q.weight=IQ4_XS blk.*.attn_v.weight=Q5_K blk.*.ffn_gate.weight=IQ4_XS\n"
     "blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=IQ4_XS\n"
     "blk.*.ffn_down.weight=Q5_K Q5_K IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS\n"},
    {"tinyllama-1.1b", "F16", "", 201,
     "output.weight=F16 output_norm.weight=F32 token_embd.weight=F16\n"
     "blk.*.attn_k.weight=F16 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=F16\n"
     "blk.*.attn_q.weight=F16 blk.*.attn_v.weight=F16 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=F16 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=F16\n"},
    {"tinyllama-1.1b", "BF16", "", 201,
     "output.weight=BF16 output_norm.weight=F32 token_embd.weight=BF16\n"
     "blk.*.attn_k.weight=BF16 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=BF16\n"
     "blk.*.attn_q.weight=BF16 blk.*.attn_v.weight=BF16 blk.*.ffn_down.weight=BF16\n"
     "blk.*.ffn_gate.weight=BF16 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=BF16\n"},
    {"llama-3.2-1b", "Q8_0", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.weight=Q8_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q8_0\n"
     "blk.*.attn_q.weight=Q8_0 blk.*.attn_v.weight=Q8_0 blk.*.ffn_down.weight=Q8_0\n"
     "blk.*.ffn_gate.weight=Q8_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q8_0\n"},
    {"llama-3.2-1b", "Q6_K", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q6_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q6_K\n"
     "blk.*.attn_q.weight=Q6_K blk.*.attn_v.weight=Q6_K blk.*.ffn_down.weight=Q6_K\n"
     "blk.*.ffn_gate.weight=Q6_K blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q6_K\n"},
    {"llama-3.2-1b", "Q5_K_M", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q5_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_K\n"
     "blk.*.attn_q.weight=Q5_K blk.*.ffn_gate.weight=Q5_K blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q5_K\n"
     "blk.*.attn_v.weight=Q6_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q6_K Q6_K\n"
     "blk.*.ffn_down.weight=Q6_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q6_K Q6_K\n"},
    {"llama-3.2-1b", "Q5_K_S", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q5_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_K\n"
     "blk.*.attn_q.weight=Q5_K blk.*.attn_v.weight=Q5_K blk.*.ffn_down.weight=Q5_K\n"
     "blk.*.ffn_gate.weight=Q5_K blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_K\n"},
    {"llama-3.2-1b", "Q4_K_M", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q4_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_K\n"
     "blk.*.attn_q.weight=Q4_K blk.*.ffn_gate.weight=Q4_K blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q4_K\n"
     "blk.*.attn_v.weight=Q6_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q6_K Q6_K\n"
     "blk.*.ffn_down.weight=Q6_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q6_K Q6_K\n"},
    {"llama-3.2-1b", "Q4_K_S", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q4_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_K\n"
     "blk.*.attn_q.weight=Q4_K blk.*.ffn_gate.weight=Q4_K blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q4_K\n"
     "blk.*.attn_v.weight=Q5_K Q5_K Q5_K Q5_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K\n"
     "blk.*.ffn_down.weight=Q5_K Q5_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K\n"},
    {"llama-3.2-1b", "Q3_K_L", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q3_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_K\n"
     "blk.*.attn_q.weight=Q3_K blk.*.attn_v.weight=Q5_K blk.*.ffn_down.weight=Q5_K\n"
     "blk.*.ffn_gate.weight=Q3_K blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q3_K\n"},
    {"llama-3.2-1b", "Q3_K_M", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q3_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_K\n"
     "blk.*.attn_q.weight=Q3_K blk.*.ffn_gate.weight=Q3_K blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q3_K\n"
     "blk.*.attn_v.weight=Q5_K Q5_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K\n"
     "blk.*.ffn_down.weight=Q5_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K\n"},
    {"llama-3.2-1b", "Q3_K_S", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q3_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q3_K\n"
     "blk.*.attn_q.weight=Q3_K blk.*.attn_v.weight=Q3_K blk.*.ffn_down.weight=Q3_K\n"
     "blk.*.ffn_gate.weight=Q3_K blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q3_K\n"},
    {"llama-3.2-1b", "Q2_K", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q2_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q3_K\n"
     "blk.*.attn_q.weight=Q2_K blk.*.attn_v.weight=Q4_K blk.*.ffn_down.weight=Q3_K\n"
     "blk.*.ffn_gate.weight=Q2_K blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q2_K\n"},
    {"llama-3.2-1b", "Q5_0", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q5_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_0\n"
     "blk.*.attn_q.weight=Q5_0 blk.*.attn_v.weight=Q5_0 blk.*.ffn_down.weight=Q5_0\n"
     "blk.*.ffn_gate.weight=Q5_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_0\n"},
    {"llama-3.2-1b", "Q5_1", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q5_1 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_1\n"
     "blk.*.attn_q.weight=Q5_1 blk.*.attn_v.weight=Q5_1 blk.*.ffn_down.weight=Q5_1\n"
     "blk.*.ffn_gate.weight=Q5_1 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_1\n"},
    {"llama-3.2-1b", "Q4_0", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q4_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_0\n"
     "blk.*.attn_q.weight=Q4_0 blk.*.attn_v.weight=Q4_0 blk.*.ffn_down.weight=Q4_0\n"
     "blk.*.ffn_gate.weight=Q4_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_0\n"},
    {"llama-3.2-1b", "Q4_1", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=Q4_1 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_1\n"
     "blk.*.attn_q.weight=Q4_1 blk.*.attn_v.weight=Q4_1 blk.*.ffn_down.weight=Q4_1\n"
     "blk.*.ffn_gate.weight=Q4_1 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_1\n"},
    {"llama-3.2-1b", "IQ4_NL", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=IQ4_NL blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=IQ4_NL\n"
     "blk.*.attn_q.weight=IQ4_NL blk.*.attn_v.weight=Q5_K blk.*.ffn_gate.weight=IQ4_NL\n"
     "blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=IQ4_NL\n"
     "blk.*.ffn_down.weight=Q5_K Q5_K IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL\n"},
    {"llama-3.2-1b", "IQ4_XS", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=Q6_K\n"
     "blk.*.attn_k.weight=IQ4_XS blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=IQ4_XS\n"
     "blk.*.attn_q.weight=IQ4_XS blk.*.attn_v.weight=Q5_K blk.*.ffn_gate.weight=IQ4_XS\n"
     "blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=IQ4_XS\n"
     "blk.*.ffn_down.weight=Q5_K Q5_K IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS\n"},
    {"llama-3.2-1b", "F16", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=F16\n"
     "blk.*.attn_k.weight=F16 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=F16\n"
     "blk.*.attn_q.weight=F16 blk.*.attn_v.weight=F16 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=F16 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=F16\n"},
    {"llama-3.2-1b", "BF16", "", 147,
     "output_norm.weight=F32 rope_freqs.weight=F32 token_embd.weight=BF16\n"
     "blk.*.attn_k.weight=BF16 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=BF16\n"
     "blk.*.attn_q.weight=BF16 blk.*.attn_v.weight=BF16 blk.*.ffn_down.weight=BF16\n"
     "blk.*.ffn_gate.weight=BF16 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=BF16\n"},
    {"qwen2.5-0.5b", "Q8_0", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q8_0 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q8_0 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q8_0\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=Q8_0 blk.*.ffn_down.weight=Q8_0\n"
     "blk.*.ffn_gate.weight=Q8_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q8_0\n"},
    {"qwen2.5-0.5b", "Q6_K", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q8_0 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q8_0 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q8_0\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=Q8_0 blk.*.ffn_down.weight=Q6_K\n"
     "blk.*.ffn_gate.weight=Q8_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q8_0\n"},
    {"qwen2.5-0.5b", "Q5_K_M", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q5_1 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q5_1 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q5_1\n"
     "blk.*.attn_v.bias=F32 blk.*.ffn_gate.weight=Q5_1 blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q5_1\n"
     "blk.*.attn_v.weight=Q8_0 Q8_0 Q8_0 Q5_1 Q5_1 Q8_0 Q5_1 Q5_1 Q8_0 Q5_1 Q5_1 Q8_0 Q5_1 Q5_1 Q8_0 Q5_1 Q5_1 Q8_0 Q5_1 Q5_1 Q8_0 Q8_0 Q8_0 Q8_0\n"
     "blk.*.ffn_down.weight=Q6_K Q6_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q5_K Q5_K Q6_K Q6_K Q6_K Q6_K\n"},
    {"qwen2.5-0.5b", "Q5_K_S", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q5_1 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q5_1 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q5_1\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=Q5_1 blk.*.ffn_down.weight=Q5_K\n"
     "blk.*.ffn_gate.weight=Q5_1 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_1\n"},
    {"qwen2.5-0.5b", "Q4_K_M", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q5_0 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q5_0 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q5_0\n"
     "blk.*.attn_v.bias=F32 blk.*.ffn_gate.weight=Q5_0 blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q5_0\n"
     "blk.*.attn_v.weight=Q8_0 Q8_0 Q8_0 Q5_0 Q5_0 Q8_0 Q5_0 Q5_0 Q8_0 Q5_0 Q5_0 Q8_0 Q5_0 Q5_0 Q8_0 Q5_0 Q5_0 Q8_0 Q5_0 Q5_0 Q8_0 Q8_0 Q8_0 Q8_0\n"
     "blk.*.ffn_down.weight=Q6_K Q6_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q6_K Q6_K Q6_K\n"},
    {"qwen2.5-0.5b", "Q4_K_S", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q5_0 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q5_0 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q5_0\n"
     "blk.*.attn_v.bias=F32 blk.*.ffn_gate.weight=Q5_0 blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q5_0\n"
     "blk.*.attn_v.weight=Q5_1 Q5_1 Q5_1 Q5_1 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0\n"
     "blk.*.ffn_down.weight=Q5_K Q5_K Q5_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K\n"},
    {"qwen2.5-0.5b", "Q3_K_L", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q4_0 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q5_1 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q4_0\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=Q5_1 blk.*.ffn_down.weight=Q5_K\n"
     "blk.*.ffn_gate.weight=Q4_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_0\n"},
    {"qwen2.5-0.5b", "Q3_K_M", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q4_0 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q5_0 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q4_0\n"
     "blk.*.attn_v.bias=F32 blk.*.ffn_gate.weight=Q4_0 blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q4_0\n"
     "blk.*.attn_v.weight=Q5_1 Q5_1 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0 Q5_0\n"
     "blk.*.ffn_down.weight=Q5_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K\n"},
    {"qwen2.5-0.5b", "Q3_K_S", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q4_0 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q4_0 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q4_0\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=Q4_0 blk.*.ffn_down.weight=Q3_K\n"
     "blk.*.ffn_gate.weight=Q4_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_0\n"},
    {"qwen2.5-0.5b", "Q2_K", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q4_0 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q4_0 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q4_0\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=Q5_0 blk.*.ffn_down.weight=Q3_K\n"
     "blk.*.ffn_gate.weight=Q4_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_0\n"},
    {"qwen2.5-0.5b", "Q5_0", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q5_0 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q5_0 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q5_0\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=Q5_0 blk.*.ffn_down.weight=Q5_0\n"
     "blk.*.ffn_gate.weight=Q5_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_0\n"},
    {"qwen2.5-0.5b", "Q5_1", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q5_1 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q5_1 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q5_1\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=Q5_1 blk.*.ffn_down.weight=Q5_1\n"
     "blk.*.ffn_gate.weight=Q5_1 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_1\n"},
    {"qwen2.5-0.5b", "Q4_0", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q4_0 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q4_0 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q4_0\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=Q4_0 blk.*.ffn_down.weight=Q4_0\n"
     "blk.*.ffn_gate.weight=Q4_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_0\n"},
    {"qwen2.5-0.5b", "Q4_1", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q4_1 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q4_1 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q4_1\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=Q4_1 blk.*.ffn_down.weight=Q4_1\n"
     "blk.*.ffn_gate.weight=Q4_1 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_1\n"},
    {"qwen2.5-0.5b", "IQ4_NL", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=IQ4_NL blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=IQ4_NL blk.*.attn_q.bias=F32 blk.*.attn_q.weight=IQ4_NL\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=Q5_1 blk.*.ffn_gate.weight=IQ4_NL\n"
     "blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=IQ4_NL\n"
     "blk.*.ffn_down.weight=Q5_K Q5_K Q5_K IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL IQ4_NL\n"},
    {"qwen2.5-0.5b", "IQ4_XS", "", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=IQ4_NL blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=IQ4_NL blk.*.attn_q.bias=F32 blk.*.attn_q.weight=IQ4_NL\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=Q5_1 blk.*.ffn_gate.weight=IQ4_NL\n"
     "blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=IQ4_NL\n"
     "blk.*.ffn_down.weight=Q5_K Q5_K Q5_K IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS IQ4_XS\n"},
    {"qwen2.5-0.5b", "F16", "", 290,
     "output_norm.weight=F32 token_embd.weight=F16\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=F16 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=F16 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=F16\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=F16 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=F16 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=F16\n"},
    {"qwen2.5-0.5b", "BF16", "", 290,
     "output_norm.weight=F32 token_embd.weight=BF16\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=BF16 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=BF16 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=BF16\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=BF16 blk.*.ffn_down.weight=BF16\n"
     "blk.*.ffn_gate.weight=BF16 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=BF16\n"},
    /* llama-quantize refuses this (no fallback for rows of 172); measured with --tensor-type ffn_down=f16, ffn_down is our fallback */
    {"stories260K", "Q8_0", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.weight=Q8_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q8_0\n"
     "blk.*.attn_q.weight=Q8_0 blk.*.attn_v.weight=Q8_0 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=Q8_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q8_0\n"},
    {"stories260K", "Q6_K", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.weight=Q8_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q8_0\n"
     "blk.*.attn_q.weight=Q8_0 blk.*.attn_v.weight=Q8_0 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=Q8_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q8_0\n"},
    {"stories260K", "Q5_K_M", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q5_1\n"
     "blk.*.attn_k.weight=Q5_1 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_1\n"
     "blk.*.attn_q.weight=Q5_1 blk.*.ffn_down.weight=F16 blk.*.ffn_gate.weight=Q5_1\n"
     "blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_1\n"
     "blk.*.attn_v.weight=Q5_1 Q5_1 Q8_0 Q5_1 Q8_0\n"},
    {"stories260K", "Q5_K_S", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q5_1\n"
     "blk.*.attn_k.weight=Q5_1 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_1\n"
     "blk.*.attn_q.weight=Q5_1 blk.*.attn_v.weight=Q5_1 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=Q5_1 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_1\n"},
    {"stories260K", "Q4_K_M", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q5_0\n"
     "blk.*.attn_k.weight=Q5_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_0\n"
     "blk.*.attn_q.weight=Q5_0 blk.*.ffn_down.weight=F16 blk.*.ffn_gate.weight=Q5_0\n"
     "blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_0\n"
     "blk.*.attn_v.weight=Q5_0 Q5_0 Q8_0 Q5_0 Q8_0\n"},
    {"stories260K", "Q4_K_S", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q5_0\n"
     "blk.*.attn_k.weight=Q5_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_0\n"
     "blk.*.attn_q.weight=Q5_0 blk.*.ffn_down.weight=F16 blk.*.ffn_gate.weight=Q5_0\n"
     "blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_0\n"
     "blk.*.attn_v.weight=Q5_1 Q5_1 Q5_1 Q5_1 Q5_0\n"},
    {"stories260K", "Q3_K_L", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q4_0\n"
     "blk.*.attn_k.weight=Q4_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_1\n"
     "blk.*.attn_q.weight=Q4_0 blk.*.attn_v.weight=Q5_1 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=Q4_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_0\n"},
    {"stories260K", "Q3_K_M", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q4_0\n"
     "blk.*.attn_k.weight=Q4_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_0\n"
     "blk.*.attn_q.weight=Q4_0 blk.*.ffn_down.weight=F16 blk.*.ffn_gate.weight=Q4_0\n"
     "blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_0\n"
     "blk.*.attn_v.weight=Q5_1 Q5_1 Q5_0 Q5_0 Q5_0\n"},
    {"stories260K", "Q3_K_S", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q4_0\n"
     "blk.*.attn_k.weight=Q4_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_0\n"
     "blk.*.attn_q.weight=Q4_0 blk.*.attn_v.weight=Q4_0 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=Q4_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_0\n"},
    {"stories260K", "Q2_K", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q4_0\n"
     "blk.*.attn_k.weight=Q4_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_0\n"
     "blk.*.attn_q.weight=Q4_0 blk.*.attn_v.weight=Q4_0 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=Q4_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_0\n"},
    /* llama-quantize refuses this (no fallback for rows of 172); measured with --tensor-type ffn_down=f16, ffn_down is our fallback */
    {"stories260K", "Q5_0", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q5_0\n"
     "blk.*.attn_k.weight=Q5_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_0\n"
     "blk.*.attn_q.weight=Q5_0 blk.*.attn_v.weight=Q5_0 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=Q5_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_0\n"},
    /* llama-quantize refuses this (no fallback for rows of 172); measured with --tensor-type ffn_down=f16, ffn_down is our fallback */
    {"stories260K", "Q5_1", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q5_1\n"
     "blk.*.attn_k.weight=Q5_1 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_1\n"
     "blk.*.attn_q.weight=Q5_1 blk.*.attn_v.weight=Q5_1 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=Q5_1 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q5_1\n"},
    /* llama-quantize refuses this (no fallback for rows of 172); measured with --tensor-type ffn_down=f16, ffn_down is our fallback */
    {"stories260K", "Q4_0", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q4_0\n"
     "blk.*.attn_k.weight=Q4_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_0\n"
     "blk.*.attn_q.weight=Q4_0 blk.*.attn_v.weight=Q4_0 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=Q4_0 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_0\n"},
    /* llama-quantize refuses this (no fallback for rows of 172); measured with --tensor-type ffn_down=f16, ffn_down is our fallback */
    {"stories260K", "Q4_1", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=Q4_1\n"
     "blk.*.attn_k.weight=Q4_1 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_1\n"
     "blk.*.attn_q.weight=Q4_1 blk.*.attn_v.weight=Q4_1 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=Q4_1 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_1\n"},
    /* llama-quantize refuses this (no fallback for rows of 172); measured with --tensor-type ffn_down=f16, ffn_down is our fallback */
    {"stories260K", "IQ4_NL", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=IQ4_NL\n"
     "blk.*.attn_k.weight=IQ4_NL blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=IQ4_NL\n"
     "blk.*.attn_q.weight=IQ4_NL blk.*.attn_v.weight=IQ4_NL blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=IQ4_NL blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=IQ4_NL\n"},
    {"stories260K", "IQ4_XS", "", 48,
     "output.weight=Q8_0 output_norm.weight=F32 token_embd.weight=IQ4_NL\n"
     "blk.*.attn_k.weight=IQ4_NL blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=IQ4_NL\n"
     "blk.*.attn_q.weight=IQ4_NL blk.*.attn_v.weight=IQ4_NL blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=IQ4_NL blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=IQ4_NL\n"},
    {"stories260K", "F16", "", 48,
     "output.weight=F16 output_norm.weight=F32 token_embd.weight=F16\n"
     "blk.*.attn_k.weight=F16 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=F16\n"
     "blk.*.attn_q.weight=F16 blk.*.attn_v.weight=F16 blk.*.ffn_down.weight=F16\n"
     "blk.*.ffn_gate.weight=F16 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=F16\n"},
    {"stories260K", "BF16", "", 48,
     "output.weight=BF16 output_norm.weight=F32 token_embd.weight=BF16\n"
     "blk.*.attn_k.weight=BF16 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=BF16\n"
     "blk.*.attn_q.weight=BF16 blk.*.attn_v.weight=BF16 blk.*.ffn_down.weight=BF16\n"
     "blk.*.ffn_gate.weight=BF16 blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=BF16\n"},
    /* with --tensor-type blk\\.(3|4)\\.attn_v=q8_0 --tensor-type blk\\.1\\.ffn_down=iq4_xs --tensor-type output=q5_k */
    {"tinyllama-1.1b", "Q4_K_M", "rules", 201,
     "output.weight=Q5_K output_norm.weight=F32 token_embd.weight=Q4_K\n"
     "blk.*.attn_k.weight=Q4_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_K\n"
     "blk.*.attn_q.weight=Q4_K blk.*.ffn_gate.weight=Q4_K blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q4_K\n"
     "blk.*.attn_v.weight=Q6_K Q6_K Q4_K Q8_0 Q8_0 Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K\n"
     "blk.*.ffn_down.weight=Q6_K IQ4_XS Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q6_K\n"},
    /* same rules: the attn_v counter skips ruled tensors */
    {"tinyllama-1.1b", "Q3_K_M", "rules", 201,
     "output.weight=Q5_K output_norm.weight=F32 token_embd.weight=Q3_K\n"
     "blk.*.attn_k.weight=Q3_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_K\n"
     "blk.*.attn_q.weight=Q3_K blk.*.ffn_gate.weight=Q3_K blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up.weight=Q3_K\n"
     "blk.*.attn_v.weight=Q5_K Q5_K Q4_K Q8_0 Q8_0 Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K\n"
     "blk.*.ffn_down.weight=Q5_K IQ4_XS Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K\n"},
    /* with --imatrix */
    {"tinyllama-1.1b", "IQ4_XS", "imatrix", 201,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=IQ4_XS\n"
     "blk.*.attn_k.weight=IQ4_XS blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=IQ4_XS\n"
     "blk.*.attn_q.weight=IQ4_XS blk.*.attn_v.weight=Q5_K blk.*.ffn_down.weight=IQ4_XS\n"
     "blk.*.ffn_gate.weight=IQ4_XS blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=IQ4_XS\n"},
    /* with --imatrix */
    {"qwen2.5-0.5b", "Q4_0", "imatrix", 290,
     "output_norm.weight=F32 token_embd.weight=Q8_0\n"
     "blk.*.attn_k.bias=F32 blk.*.attn_k.weight=Q4_0 blk.*.attn_norm.weight=F32\n"
     "blk.*.attn_output.weight=Q4_0 blk.*.attn_q.bias=F32 blk.*.attn_q.weight=Q4_0\n"
     "blk.*.attn_v.bias=F32 blk.*.attn_v.weight=Q4_0 blk.*.ffn_gate.weight=Q4_0\n"
     "blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_0\n"
     "blk.*.ffn_down.weight=Q4_1 Q4_1 Q4_1 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0 Q4_0\n"},
    {"mixtral-mini", "Q4_K_M", "", 83,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q4_K\n"
     "blk.*.attn_k.weight=Q8_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_K\n"
     "blk.*.attn_q.weight=Q4_K blk.*.attn_v.weight=Q8_0 blk.*.ffn_gate_exps.weight=Q4_K\n"
     "blk.*.ffn_gate_inp.weight=F32 blk.*.ffn_norm.weight=F32 blk.*.ffn_up_exps.weight=Q4_K\n"
     "blk.*.ffn_down_exps.weight=Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q6_K\n"},
    {"mixtral-mini", "Q3_K_M", "", 83,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q3_K\n"
     "blk.*.attn_k.weight=Q8_0 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q5_K\n"
     "blk.*.attn_q.weight=Q3_K blk.*.attn_v.weight=Q8_0 blk.*.ffn_down_exps.weight=Q4_K\n"
     "blk.*.ffn_gate_exps.weight=Q3_K blk.*.ffn_gate_inp.weight=F32 blk.*.ffn_norm.weight=F32\n"
     "blk.*.ffn_up_exps.weight=Q3_K\n"},
    {"falcon-mini", "Q4_K_M", "", 76,
     "output.weight=Q8_0 output_norm.bias=F32 output_norm.weight=F32 token_embd.weight=Q4_K\n"
     "blk.*.attn_norm.bias=F32 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_K\n"
     "blk.*.ffn_up.weight=Q4_K\n"
     "blk.*.attn_qkv.weight=Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q4_K Q4_K Q6_K Q6_K Q6_K\n"
     "blk.*.ffn_down.weight=Q5_K Q4_K Q4_K Q5_K Q4_K Q4_K Q5_K Q4_K Q4_K Q5_K Q5_K Q5_K\n"},
    {"falcon-mini", "Q3_K_L", "", 76,
     "output.weight=Q8_0 output_norm.bias=F32 output_norm.weight=F32 token_embd.weight=Q3_K\n"
     "blk.*.attn_norm.bias=F32 blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_K\n"
     "blk.*.attn_qkv.weight=Q5_K blk.*.ffn_down.weight=Q4_K blk.*.ffn_up.weight=Q3_K\n"},
    {"llama-70b-mini", "Q3_K_S", "", 723,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q3_K\n"
     "blk.*.attn_k.weight=Q3_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q3_K\n"
     "blk.*.attn_q.weight=Q3_K blk.*.attn_v.weight=Q5_K blk.*.ffn_down.weight=Q3_K\n"
     "blk.*.ffn_gate.weight=Q3_K blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q3_K\n"},
    {"llama-70b-mini", "Q4_K_S", "", 723,
     "output.weight=Q6_K output_norm.weight=F32 token_embd.weight=Q4_K\n"
     "blk.*.attn_k.weight=Q4_K blk.*.attn_norm.weight=F32 blk.*.attn_output.weight=Q4_K\n"
     "blk.*.attn_q.weight=Q4_K blk.*.attn_v.weight=Q5_K blk.*.ffn_gate.weight=Q4_K\n"
     "blk.*.ffn_norm.weight=F32 blk.*.ffn_up.weight=Q4_K\n"
     "blk.*.ffn_down.weight=Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q5_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K Q4_K\n"},

};

#endif
