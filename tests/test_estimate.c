/* The memory estimate against llama.cpp.
 *
 * Every "measured" figure below was printed by llama.cpp d32676d7 (CPU build, AVX2/AVX-512,
 * REPACK on) loading a GGUF of the named shape with zero weights, with
 *   llama-completion -m FILE -n 1 -p hi --temp 0 -no-cnv -fit off -v -c CTX [-fa on|off]
 *                    [-ub N] [-b N] [-ctk T -ctv T] [-np N] [--no-mmap] [--no-repack]
 * reading its "model buffer size", "KV buffer size", "output buffer size" lines (2 decimals, MiB)
 * and the "compute buffer size is X MiB" line at exit (4 decimals). The shapes:
 *   tinyllama-1.1b: llama, 22 layers, n_embd 2048, n_ff 5632, 32 heads, 4 KV heads, vocab 32000,
 *                   separate output.weight
 *   llama-3.2-1b:   llama, 16 layers, n_embd 2048, n_ff 8192, 32 heads, 8 KV heads, vocab 128256,
 *                   tied embeddings
 *   qwen2.5-0.5b:   qwen2, 24 layers, n_embd 896, n_ff 4864, 14 heads, 2 KV heads, vocab 151936,
 *                   tied embeddings, q/k/v biases
 * F16 files were written by a generator in converter order; quantized files by llama-quantize
 * (which writes output/norm/embedding first, then each block's tensors sorted by name). The mixes
 * below are the types llama-quantize chose. */
#include "qs_test_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "qs_estimate.h"
#include "qs_types.h"

#define MIB (1024.0 * 1024.0)

/* ------------------------------------------------------------------------------------------ */
/* Model shapes and mixes                                                                      */
/* ------------------------------------------------------------------------------------------ */

typedef struct shape {
    const char *arch;
    int L;
    int64_t E, F, V;
    int Hq, Hkv;
    bool tied, bias;
    int64_t ctx_train;
} shape;

static const shape TINYLLAMA = {"llama", 22, 2048, 5632, 32000, 32, 4, false, false, 2048};
static const shape LLAMA32 = {"llama", 16, 2048, 8192, 128256, 32, 8, true, false, 131072};
static const shape QWEN25 = {"qwen2", 24, 896, 4864, 151936, 14, 2, true, true, 32768};

enum { ORDER_CONVERT, ORDER_QUANTIZE };

typedef struct mix {
    int order;
    int embd, output;      /* token_embd / output.weight */
    int main;              /* attn_q, attn_k, attn_output, ffn_gate, ffn_up */
    int attn_v, ffn_down;  /* their type in ordinary layers */
    const char *hi;        /* per layer: '1' where attn_v / ffn_down get the higher types below */
    int hi_v, hi_down;
} mix;

static const mix F16_MIX = {ORDER_CONVERT, QS_TYPE_F16, QS_TYPE_F16, QS_TYPE_F16, QS_TYPE_F16, QS_TYPE_F16, NULL, 0, 0};
static const mix TINY_Q4KM = {ORDER_QUANTIZE, QS_TYPE_Q4_K, QS_TYPE_Q6_K, QS_TYPE_Q4_K, QS_TYPE_Q4_K, QS_TYPE_Q4_K,
                              "1100100100100100100111", QS_TYPE_Q6_K, QS_TYPE_Q6_K};
static const mix TINY_Q8 = {ORDER_QUANTIZE, QS_TYPE_Q8_0, QS_TYPE_Q8_0, QS_TYPE_Q8_0, QS_TYPE_Q8_0, QS_TYPE_Q8_0, NULL, 0, 0};
static const mix TINY_Q40 = {ORDER_QUANTIZE, QS_TYPE_Q4_0, QS_TYPE_Q6_K, QS_TYPE_Q4_0, QS_TYPE_Q4_0, QS_TYPE_Q4_0, NULL, 0, 0};
static const mix L32_Q4KM = {ORDER_QUANTIZE, QS_TYPE_Q6_K, 0, QS_TYPE_Q4_K, QS_TYPE_Q4_K, QS_TYPE_Q4_K,
                             "1100100100100111", QS_TYPE_Q6_K, QS_TYPE_Q6_K};
static const mix L32_Q8 = {ORDER_QUANTIZE, QS_TYPE_Q8_0, 0, QS_TYPE_Q8_0, QS_TYPE_Q8_0, QS_TYPE_Q8_0, NULL, 0, 0};
static const mix L32_Q40 = {ORDER_QUANTIZE, QS_TYPE_Q6_K, 0, QS_TYPE_Q4_0, QS_TYPE_Q4_0, QS_TYPE_Q4_0, NULL, 0, 0};
/* llama-quantize --token-embedding-type q4_0 ... Q4_0: the tied output matrix gets repacked */
static const mix L32_Q40E = {ORDER_QUANTIZE, QS_TYPE_Q4_0, 0, QS_TYPE_Q4_0, QS_TYPE_Q4_0, QS_TYPE_Q4_0, NULL, 0, 0};
static const mix QW_Q4KM = {ORDER_QUANTIZE, QS_TYPE_Q8_0, 0, QS_TYPE_Q5_0, QS_TYPE_Q5_0, QS_TYPE_Q4_K,
                            "111001001001001001001111", QS_TYPE_Q8_0, QS_TYPE_Q6_K};
static const mix QW_Q8 = {ORDER_QUANTIZE, QS_TYPE_Q8_0, 0, QS_TYPE_Q8_0, QS_TYPE_Q8_0, QS_TYPE_Q8_0, NULL, 0, 0};
static const mix QW_Q40 = {ORDER_QUANTIZE, QS_TYPE_Q8_0, 0, QS_TYPE_Q4_0, QS_TYPE_Q4_0, QS_TYPE_Q4_0, NULL, 0, 0};

#define MAX_T 512
typedef struct built {
    qs_est_tensor t[MAX_T];
    char names[MAX_T][48];
    int n;
    qs_est_model m;
} built;

static void add(built *b, const char *name, int block, int type, int n_dims, int64_t ne0, int64_t ne1) {
    assert_true(b->n < MAX_T);
    qs_est_tensor *t = &b->t[b->n];
    if (block >= 0) snprintf(b->names[b->n], sizeof b->names[0], "blk.%d.%s", block, name);
    else snprintf(b->names[b->n], sizeof b->names[0], "%s", name);
    t->name = b->names[b->n];
    t->block = block;
    t->type = type;
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = n_dims > 1 ? ne1 : 1;
    t->ne[2] = t->ne[3] = 1;
    b->n++;
}

static void add_block(built *b, const shape *s, const mix *x, int il) {
    const int64_t E = s->E, F = s->F, d = s->E / s->Hq, Ek = d * s->Hkv;
    bool hi = x->hi && x->hi[il] == '1';
    int tv = hi ? x->hi_v : x->attn_v, td = hi ? x->hi_down : x->ffn_down;
    if (x->order == ORDER_CONVERT) {
        add(b, "attn_norm.weight", il, QS_TYPE_F32, 1, E, 1);
        add(b, "attn_q.weight", il, x->main, 2, E, E);
        add(b, "attn_k.weight", il, x->main, 2, E, Ek);
        add(b, "attn_v.weight", il, tv, 2, E, Ek);
        if (s->bias) {
            add(b, "attn_q.bias", il, QS_TYPE_F32, 1, E, 1);
            add(b, "attn_k.bias", il, QS_TYPE_F32, 1, Ek, 1);
            add(b, "attn_v.bias", il, QS_TYPE_F32, 1, Ek, 1);
        }
        add(b, "attn_output.weight", il, x->main, 2, E, E);
        add(b, "ffn_norm.weight", il, QS_TYPE_F32, 1, E, 1);
        add(b, "ffn_gate.weight", il, x->main, 2, E, F);
        add(b, "ffn_up.weight", il, x->main, 2, E, F);
        add(b, "ffn_down.weight", il, td, 2, F, E);
    } else {
        if (s->bias) add(b, "attn_k.bias", il, QS_TYPE_F32, 1, Ek, 1);
        add(b, "attn_k.weight", il, x->main, 2, E, Ek);
        add(b, "attn_norm.weight", il, QS_TYPE_F32, 1, E, 1);
        add(b, "attn_output.weight", il, x->main, 2, E, E);
        if (s->bias) add(b, "attn_q.bias", il, QS_TYPE_F32, 1, E, 1);
        add(b, "attn_q.weight", il, x->main, 2, E, E);
        if (s->bias) add(b, "attn_v.bias", il, QS_TYPE_F32, 1, Ek, 1);
        add(b, "attn_v.weight", il, tv, 2, E, Ek);
        add(b, "ffn_down.weight", il, td, 2, F, E);
        add(b, "ffn_gate.weight", il, x->main, 2, E, F);
        add(b, "ffn_norm.weight", il, QS_TYPE_F32, 1, E, 1);
        add(b, "ffn_up.weight", il, x->main, 2, E, F);
    }
}

static const qs_est_model *build(built *b, const shape *s, const mix *x) {
    memset(b, 0, sizeof *b);
    if (x->order == ORDER_CONVERT) {
        add(b, "token_embd.weight", -1, x->embd, 2, s->E, s->V);
        for (int il = 0; il < s->L; il++) add_block(b, s, x, il);
        add(b, "output_norm.weight", -1, QS_TYPE_F32, 1, s->E, 1);
        if (!s->tied) add(b, "output.weight", -1, x->output, 2, s->E, s->V);
    } else {
        if (!s->tied) add(b, "output.weight", -1, x->output, 2, s->E, s->V);
        add(b, "output_norm.weight", -1, QS_TYPE_F32, 1, s->E, 1);
        add(b, "token_embd.weight", -1, x->embd, 2, s->E, s->V);
        for (int il = 0; il < s->L; il++) add_block(b, s, x, il);
    }
    qs_est_model *m = &b->m;
    m->arch = s->arch;
    m->n_layer = s->L;
    m->n_embd = s->E;
    m->n_head = s->Hq;
    m->n_head_kv = s->Hkv;
    m->n_ff = s->F;
    m->n_vocab = s->V;
    m->n_ctx_train = s->ctx_train;
    m->alignment = 32;
    m->tensors = b->t;
    m->n_tensors = b->n;
    return m;
}

static built B; /* large: keep off the stack */

static qs_est_settings cpu_settings(int64_t n_ctx) {
    qs_est_settings s;
    qs_est_settings_default(&s);
    s.n_ctx = n_ctx;
    s.cpu_features = QS_EST_CPU_AVX2 | QS_EST_CPU_AVX512; /* the machine the figures come from */
    return s;
}

static void run(const qs_est_model *m, const qs_est_settings *s, qs_est_result *r) {
    qs_error err = {{0}};
    int rc = qs_estimate(m, s, r, &err);
    if (rc != QS_OK) fail_msg("qs_estimate: %s", err.msg);
}

/* A figure llama.cpp printed with `decimals` decimals (in MiB) equals ours rounded the same way. */
static void assert_mib(const char *what, uint64_t ours, double measured, int decimals) {
    double tol = 0.5 * pow(10.0, -decimals) + 1e-9;
    double got = (double)ours / MIB;
    if (fabs(got - measured) > tol)
        fail_msg("%s: ours %.4f MiB (%llu bytes), llama.cpp %.*f MiB", what, got, (unsigned long long)ours, decimals,
                 measured);
}

/* ------------------------------------------------------------------------------------------ */
/* The example                                                                         */
/* ------------------------------------------------------------------------------------------ */

static void test_tinyllama_q4km_example(void **state) {
    (void)state;
    const qs_est_model *m = build(&B, &TINYLLAMA, &TINY_Q4KM);
    qs_est_settings s = cpu_settings(4096);
    qs_est_result r;
    run(m, &s, &r);
    /* llama.cpp: CPU_Mapped 629.99, CPU_REPACK 455.06, KV 88.00, output 0.12, compute 70.5020 */
    assert_mib("CPU_Mapped", r.part[QS_EST_WEIGHTS_MAPPED].bytes, 629.99, 2);
    assert_mib("CPU_REPACK", r.part[QS_EST_WEIGHTS_REPACK].bytes, 455.06, 2);
    /* KV = 22 layers x 4096 cells x 256 (4 KV heads x 64) x 2 (K and V) x 2 bytes = 88 MiB */
    assert_int_equal(r.part[QS_EST_KV_HOST].bytes, 22ull * 4096 * 256 * 2 * 2);
    assert_int_equal(r.part[QS_EST_KV_HOST].bytes, 88ull * QS_MIB);
    /* output = 32000 logits x 1 sequence x 4 bytes = 0.12 MiB */
    assert_int_equal(r.part[QS_EST_OUTPUT].bytes, 32000ull * 4);
    /* compute (flash attention on): logits 32000 x 512 x 4 = 62.5 MiB at the top of the buffer,
     * below it the vector-embedding input (2048 x 512 x 4 = 4 MiB, allocated, never used) and
     * result_norm (4 MiB), and the 2 KiB token ids: 70.50195 MiB */
    assert_int_equal(r.part[QS_EST_COMPUTE_HOST].bytes, 32000ull * 512 * 4 + 2 * 2048ull * 512 * 4 + 512 * 4);
    assert_mib("compute", r.part[QS_EST_COMPUTE_HOST].bytes, 70.5020, 4);
    /* the CPU figures follow exact rules; only the runtime overhead is assumed */
    for (int i = 0; i < QS_EST_PART_COUNT; i++) {
        if (i == QS_EST_OVERHEAD_HOST) continue;
        if (r.part[i].assumed) fail_msg("part %s flagged as assumed", r.part[i].name);
    }
    assert_true(r.part[QS_EST_OVERHEAD_HOST].assumed);
    assert_non_null(r.part[QS_EST_OVERHEAD_HOST].assumption);
    assert_true(r.graph_exact);
    assert_true(r.flash_attn);
    assert_int_equal(r.part[QS_EST_WEIGHTS_GPU].bytes, 0);
    assert_int_equal(r.total[QS_EST_GPU], 0);
    /* the repacked tensors' original bytes inside the mapped span are reclaimable page cache */
    assert_true(r.host_reclaimable > 0 && r.host_reclaimable < r.part[QS_EST_WEIGHTS_MAPPED].bytes);
    assert_string_equal(r.part[QS_EST_WEIGHTS_MAPPED].label, "CPU_Mapped model buffer");
}

/* ------------------------------------------------------------------------------------------ */
/* Weights on the CPU: mapped span and repacked copies                                         */
/* ------------------------------------------------------------------------------------------ */

typedef struct wcase {
    const shape *sh;
    const mix *mx;
    bool mmap, repack;
    double mapped, repack_mib, host_copy; /* llama.cpp, MiB */
} wcase;

static const wcase WCASES[] = {
    {&TINYLLAMA, &F16_MIX, true, true, 2098.35, 0, 0},
    {&TINYLLAMA, &TINY_Q8, true, true, 1114.91, 0, 0},
    {&TINYLLAMA, &TINY_Q4KM, true, true, 629.99, 455.06, 0},
    {&TINYLLAMA, &TINY_Q4KM, true, false, 636.18, 0, 0},
    {&TINYLLAMA, &TINY_Q4KM, false, true, 0, 455.06, 181.11},
    {&TINYLLAMA, &TINY_Q40, true, true, 600.34, 519.75, 0},
    {&LLAMA32, &F16_MIX, true, true, 2357.26, 0, 0},
    {&LLAMA32, &L32_Q8, true, true, 1252.41, 0, 0},
    {&LLAMA32, &L32_Q4KM, true, true, 753.81, 445.50, 0},
    {&LLAMA32, &L32_Q40, true, true, 718.75, 522.00, 0},
    {&LLAMA32, &L32_Q40, true, false, 727.75, 0, 0},
    /* 522.00 + the tied output's copy: 128256 x 2048 Q4_0 = 128256 x 64 blocks x 18 bytes = 140.91 MiB */
    {&LLAMA32, &L32_Q40E, true, true, 654.16, 662.91, 0},
    {&QWEN25, &F16_MIX, true, true, 942.43, 0, 0},
    {&QWEN25, &QW_Q8, true, true, 500.79, 0, 0},
    {&QWEN25, &QW_Q4KM, true, true, 373.71, 28.05, 0},
    {&QWEN25, &QW_Q40, true, true, 327.83, 191.95, 0},
};

static void test_weights_cpu(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof WCASES / sizeof WCASES[0]; i++) {
        const wcase *c = &WCASES[i];
        const qs_est_model *m = build(&B, c->sh, c->mx);
        qs_est_settings s = cpu_settings(4096);
        s.mmap = c->mmap;
        s.repack = c->repack;
        qs_est_result r;
        run(m, &s, &r);
        char what[64];
        snprintf(what, sizeof what, "case %zu mapped", i);
        assert_mib(what, r.part[QS_EST_WEIGHTS_MAPPED].bytes, c->mapped, 2);
        snprintf(what, sizeof what, "case %zu repack", i);
        assert_mib(what, r.part[QS_EST_WEIGHTS_REPACK].bytes, c->repack_mib, 2);
        snprintf(what, sizeof what, "case %zu host copy", i);
        assert_mib(what, r.part[QS_EST_WEIGHTS_HOST].bytes, c->host_copy, 2);
    }
}

/* The F16 span is the whole data section, arithmetic: per layer q, o 2048x2048x2 = 8 MiB each,
 * k, v 2048x256x2 = 1 MiB each, gate, up, down 2048x5632x2 = 22 MiB each, two norms 8 KiB;
 * token_embd and output 2048x32000x2 = 125 MiB each; output_norm 8 KiB. */
static void test_weights_f16_arithmetic(void **state) {
    (void)state;
    const qs_est_model *m = build(&B, &TINYLLAMA, &F16_MIX);
    qs_est_settings s = cpu_settings(4096);
    qs_est_result r;
    run(m, &s, &r);
    uint64_t layer = 2 * 8 * QS_MIB + 2 * QS_MIB + 3 * 22 * QS_MIB + 2 * 8192;
    assert_int_equal(r.part[QS_EST_WEIGHTS_MAPPED].bytes, 22 * layer + 2 * 125 * QS_MIB + 8192);
    assert_int_equal(r.part[QS_EST_WEIGHTS_REPACK].bytes, 0); /* F16 is never repacked */
    assert_int_equal(r.host_reclaimable, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* KV cache, output and compute buffers on the CPU                                             */
/* ------------------------------------------------------------------------------------------ */

typedef struct rcase {
    const shape *sh;
    int ctx, fa, ub, b, tk, tv, np;
    double kv, out, compute; /* llama.cpp, MiB */
} rcase;

/* llama-completion -c ctx -fa on|off -ub ub -b b -ctk tk -ctv tv -np np (F16 or Q8_0 files; the
 * weight types do not change these buffers). */
static const rcase RCASES[] = {
    {&TINYLLAMA, 512, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 11.00, 0.12, 70.5020},
    {&TINYLLAMA, 512, 1, 256, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 11.00, 0.12, 35.2510},
    {&TINYLLAMA, 512, 1, 1024, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 11.00, 0.12, 70.5020},
    {&TINYLLAMA, 512, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 11.00, 0.12, 70.5020},
    {&TINYLLAMA, 512, 0, 256, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 11.00, 0.12, 35.2510},
    {&TINYLLAMA, 512, 0, 1024, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 11.00, 0.12, 70.5020},
    {&TINYLLAMA, 512, 1, 512, 2048, QS_TYPE_Q8_0, QS_TYPE_Q8_0, 1, 5.84, 0.12, 70.5020},
    {&TINYLLAMA, 512, 0, 512, 2048, QS_TYPE_Q8_0, QS_TYPE_F16, 1, 8.42, 0.12, 70.5020},
    {&TINYLLAMA, 512, 1, 512, 2048, QS_TYPE_Q4_0, QS_TYPE_Q4_0, 1, 3.09, 0.12, 70.5020},
    {&TINYLLAMA, 512, 1, 512, 2048, QS_TYPE_F32, QS_TYPE_F32, 1, 22.00, 0.12, 70.5020},
    {&TINYLLAMA, 512, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 4, 22.00, 0.49, 70.5020},
    {&TINYLLAMA, 512, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 4, 22.00, 0.49, 70.5020},
    {&TINYLLAMA, 4096, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 88.00, 0.12, 70.5020},
    {&TINYLLAMA, 4096, 1, 256, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 88.00, 0.12, 35.2510},
    {&TINYLLAMA, 4096, 1, 1024, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 88.00, 0.12, 141.0039},
    {&TINYLLAMA, 4096, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 88.00, 0.12, 285.0098},
    {&TINYLLAMA, 4096, 0, 256, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 88.00, 0.12, 142.5049},
    {&TINYLLAMA, 4096, 0, 1024, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 88.00, 0.12, 570.0195},
    {&TINYLLAMA, 4096, 1, 512, 2048, QS_TYPE_Q8_0, QS_TYPE_Q8_0, 1, 46.75, 0.12, 74.5020},
    {&TINYLLAMA, 4096, 0, 512, 2048, QS_TYPE_Q8_0, QS_TYPE_F16, 1, 67.38, 0.12, 281.0254},
    {&TINYLLAMA, 4096, 1, 512, 2048, QS_TYPE_Q4_0, QS_TYPE_Q4_0, 1, 24.75, 0.12, 74.5020},
    {&TINYLLAMA, 4096, 1, 512, 2048, QS_TYPE_F32, QS_TYPE_F32, 1, 176.00, 0.12, 74.5020},
    {&TINYLLAMA, 4096, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 4, 88.00, 0.49, 70.5020},
    {&TINYLLAMA, 4096, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 4, 88.00, 0.49, 87.0098},
    {&TINYLLAMA, 8192, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 176.00, 0.12, 70.5020},
    {&TINYLLAMA, 8192, 1, 256, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 176.00, 0.12, 35.2510},
    {&TINYLLAMA, 8192, 1, 1024, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 176.00, 0.12, 141.0039},
    {&TINYLLAMA, 8192, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 176.00, 0.12, 549.0098},
    {&TINYLLAMA, 8192, 0, 256, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 176.00, 0.12, 274.5049},
    {&TINYLLAMA, 8192, 0, 1024, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 176.00, 0.12, 1098.0195},
    {&TINYLLAMA, 8192, 1, 512, 2048, QS_TYPE_Q8_0, QS_TYPE_Q8_0, 1, 93.50, 0.12, 74.5020},
    {&TINYLLAMA, 8192, 0, 512, 2048, QS_TYPE_Q8_0, QS_TYPE_F16, 1, 134.75, 0.12, 545.0254},
    {&TINYLLAMA, 8192, 1, 512, 2048, QS_TYPE_Q4_0, QS_TYPE_Q4_0, 1, 49.50, 0.12, 74.5020},
    {&TINYLLAMA, 8192, 1, 512, 2048, QS_TYPE_F32, QS_TYPE_F32, 1, 352.00, 0.12, 70.5020},
    {&TINYLLAMA, 8192, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 4, 176.00, 0.49, 70.5020},
    {&TINYLLAMA, 8192, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 4, 176.00, 0.49, 153.0098},
    {&TINYLLAMA, 1000, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 22.00, 0.12, 70.5020},
    {&TINYLLAMA, 3000, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 66.00, 0.12, 219.0098},
    {&TINYLLAMA, 300, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 11.00, 0.12, 41.3098},
    {&TINYLLAMA, 4096, 0, 100, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 88.00, 0.12, 55.6660},
    {&TINYLLAMA, 4096, 1, 100, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 88.00, 0.12, 13.7699},
    {&TINYLLAMA, 4096, 1, 512, 256, QS_TYPE_F16, QS_TYPE_F16, 1, 88.00, 0.12, 35.2510},
    {&TINYLLAMA, 4096, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 3, 99.00, 0.37, 70.5098},
    {&LLAMA32, 512, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 16.00, 0.49, 258.5020},
    {&LLAMA32, 512, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 16.00, 0.49, 258.5020},
    {&LLAMA32, 512, 1, 512, 2048, QS_TYPE_Q8_0, QS_TYPE_Q8_0, 1, 8.50, 0.49, 258.5020},
    {&LLAMA32, 512, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 4, 32.00, 1.96, 258.5020},
    {&LLAMA32, 4096, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 128.00, 0.49, 258.5020},
    {&LLAMA32, 4096, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 128.00, 0.49, 286.0098},
    {&LLAMA32, 4096, 1, 512, 2048, QS_TYPE_Q8_0, QS_TYPE_Q8_0, 1, 68.00, 0.49, 262.5020},
    {&LLAMA32, 4096, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 4, 128.00, 1.96, 258.5020},
    {&LLAMA32, 8192, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 256.00, 0.49, 258.5020},
    {&LLAMA32, 8192, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 256.00, 0.49, 550.0098},
    {&LLAMA32, 8192, 1, 512, 2048, QS_TYPE_Q8_0, QS_TYPE_Q8_0, 1, 136.00, 0.49, 262.5020},
    {&LLAMA32, 8192, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 4, 256.00, 1.96, 258.5020},
    {&LLAMA32, 4096, 0, 256, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 128.00, 0.49, 143.0049},
    {&LLAMA32, 4096, 1, 1024, 4096, QS_TYPE_F16, QS_TYPE_F16, 1, 128.00, 0.49, 517.0039},
    {&LLAMA32, 4096, 1, 512, 2048, QS_TYPE_Q4_0, QS_TYPE_Q4_0, 1, 36.00, 0.49, 262.5020},
    {&LLAMA32, 4096, 1, 512, 2048, QS_TYPE_F32, QS_TYPE_F32, 1, 256.00, 0.49, 258.5020},
    {&LLAMA32, 2000, 0, 300, 2048, QS_TYPE_F16, QS_TYPE_F16, 3, 72.00, 1.47, 151.4660},
    {&QWEN25, 512, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 6.00, 0.58, 300.2520},
    {&QWEN25, 512, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 6.00, 0.58, 300.2520},
    {&QWEN25, 512, 1, 512, 2048, QS_TYPE_Q8_0, QS_TYPE_Q8_0, 1, 3.19, 0.58, 300.2520},
    {&QWEN25, 512, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 4, 12.00, 2.32, 300.2520},
    {&QWEN25, 4096, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 48.00, 0.58, 300.2520},
    {&QWEN25, 4096, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 48.00, 0.58, 302.0020},
    {&QWEN25, 4096, 1, 512, 2048, QS_TYPE_Q8_0, QS_TYPE_Q8_0, 1, 25.50, 0.58, 302.0020},
    {&QWEN25, 4096, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 4, 48.00, 2.32, 300.2520},
    {&QWEN25, 8192, 1, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 96.00, 0.58, 300.2520},
    {&QWEN25, 8192, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 96.00, 0.58, 302.0020},
    {&QWEN25, 8192, 1, 512, 2048, QS_TYPE_Q8_0, QS_TYPE_Q8_0, 1, 51.00, 0.58, 302.0020},
    {&QWEN25, 8192, 0, 512, 2048, QS_TYPE_F16, QS_TYPE_F16, 4, 96.00, 2.32, 300.2520},
    {&QWEN25, 4096, 0, 256, 2048, QS_TYPE_F16, QS_TYPE_F16, 1, 48.00, 0.58, 151.0010},
    {&QWEN25, 4096, 1, 1024, 4096, QS_TYPE_F16, QS_TYPE_F16, 1, 48.00, 0.58, 600.5039},
    {&QWEN25, 4096, 1, 512, 2048, QS_TYPE_Q4_0, QS_TYPE_Q4_0, 1, 13.50, 0.58, 302.0020},
    {&QWEN25, 4096, 1, 512, 2048, QS_TYPE_F32, QS_TYPE_F32, 1, 96.00, 0.58, 300.2520},
    {&QWEN25, 2000, 0, 300, 2048, QS_TYPE_F16, QS_TYPE_F16, 3, 27.00, 1.74, 175.9289},
    {&QWEN25, 8192, 0, 512, 2048, QS_TYPE_Q8_0, QS_TYPE_F16, 2, 73.50, 1.16, 302.0020},
};

static void test_runtime_buffers_cpu(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof RCASES / sizeof RCASES[0]; i++) {
        const rcase *c = &RCASES[i];
        const qs_est_model *m = build(&B, c->sh, &F16_MIX);
        qs_est_settings s = cpu_settings(c->ctx);
        s.flash_attn = c->fa ? QS_EST_FA_ON : QS_EST_FA_OFF;
        s.n_ubatch = c->ub;
        s.n_batch = c->b;
        s.type_k = c->tk;
        s.type_v = c->tv;
        s.n_seq = c->np;
        qs_est_result r;
        run(m, &s, &r);
        char what[96];
        snprintf(what, sizeof what, "case %zu (%s L%d ctx %d fa %d ub %d np %d) KV", i, c->sh->arch, c->sh->L, c->ctx,
                 c->fa, c->ub, c->np);
        assert_mib(what, r.part[QS_EST_KV_HOST].bytes, c->kv, 2);
        snprintf(what, sizeof what, "case %zu output", i);
        assert_mib(what, r.part[QS_EST_OUTPUT].bytes, c->out, 2);
        snprintf(what, sizeof what, "case %zu (%s L%d ctx %d fa %d ub %d np %d) compute", i, c->sh->arch, c->sh->L,
                 c->ctx, c->fa, c->ub, c->np);
        assert_mib(what, r.part[QS_EST_COMPUTE_HOST].bytes, c->compute, 4);
    }
}

/* KV arithmetic the table above relies on. */
static void test_kv_arithmetic(void **state) {
    (void)state;
    const qs_est_model *m = build(&B, &TINYLLAMA, &F16_MIX);
    qs_est_settings s = cpu_settings(4096);
    qs_est_result r;
    /* q8_0: 256 values per row = 8 blocks x 34 bytes = 272 bytes per row for K and for V */
    s.type_k = s.type_v = QS_TYPE_Q8_0;
    run(m, &s, &r);
    assert_int_equal(r.part[QS_EST_KV_HOST].bytes, 22ull * 4096 * 272 * 2);
    /* q4_0 K and V: 8 blocks x 18 bytes = 144 bytes per row */
    s.type_k = s.type_v = QS_TYPE_Q4_0;
    run(m, &s, &r);
    assert_int_equal(r.part[QS_EST_KV_HOST].bytes, 22ull * 4096 * 144 * 2);
    /* a context that is not a multiple of 256 is padded: 3000 -> 3072 cells */
    s.type_k = s.type_v = QS_TYPE_F16;
    s.n_ctx = 3000;
    run(m, &s, &r);
    assert_int_equal(r.n_ctx, 3072);
    assert_int_equal(r.part[QS_EST_KV_HOST].bytes, 22ull * 3072 * 256 * 2 * 2);
    /* 3 sequences at 4096: 4096 / 3 = 1365 -> 1536 cells per stream, 4608 in all */
    s.n_ctx = 4096;
    s.n_seq = 3;
    run(m, &s, &r);
    assert_int_equal(r.n_ctx_seq, 1536);
    assert_int_equal(r.n_ctx, 4608);
    assert_int_equal(r.n_stream, 3);
    assert_int_equal(r.part[QS_EST_KV_HOST].bytes, 22ull * 4608 * 256 * 2 * 2);
    assert_int_equal(r.part[QS_EST_OUTPUT].bytes, 32000ull * 3 * 4);
    /* unified KV: one stream of the whole (padded) context */
    s.kv_unified = true;
    run(m, &s, &r);
    assert_int_equal(r.n_stream, 1);
    assert_int_equal(r.n_ctx_seq, 4096);
    assert_int_equal(r.part[QS_EST_KV_HOST].bytes, 22ull * 4096 * 256 * 2 * 2);
    /* n_ctx 0 means the training context */
    s.kv_unified = false;
    s.n_seq = 1;
    s.n_ctx = 0;
    run(m, &s, &r);
    assert_int_equal(r.n_ctx, 2048);
}

/* Without flash attention the KQ scores dominate: n_kv x n_ubatch x n_head x 4 bytes. */
static void test_compute_grows_with_context_without_fa(void **state) {
    (void)state;
    const qs_est_model *m = build(&B, &TINYLLAMA, &F16_MIX);
    qs_est_settings s = cpu_settings(4096);
    s.flash_attn = QS_EST_FA_OFF;
    qs_est_result a, b;
    run(m, &s, &a);
    s.n_ctx = 8192;
    run(m, &s, &b);
    /* 4096 more cells x 512 tokens x 32 heads x 4 bytes = 256 MiB more scores; the f32 mask grows
     * by 4096 x 512 x 4 = 8 MiB: 285.0098 -> 549.0098 MiB in llama.cpp */
    assert_int_equal(b.part[QS_EST_COMPUTE_HOST].bytes - a.part[QS_EST_COMPUTE_HOST].bytes,
                     4096ull * 512 * 32 * 4 + 4096ull * 512 * 4);
}

/* ------------------------------------------------------------------------------------------ */
/* GPU placement                                                                               */
/* ------------------------------------------------------------------------------------------ */

static uint64_t cuda_size(const qs_est_tensor *t) {
    uint64_t row = qs_type_row_bytes(t->type, t->ne[0]);
    uint64_t size = row * (uint64_t)t->ne[1];
    const qs_type_traits *tt = qs_type_traits_get(t->type);
    if (tt->quantized && t->ne[0] % 512) size += qs_type_row_bytes(t->type, 512 - t->ne[0] % 512);
    return (size + 127) / 128 * 128;
}

static void test_gpu_layer_placement(void **state) {
    (void)state;
    const qs_est_model *m = build(&B, &TINYLLAMA, &TINY_Q4KM);
    qs_est_settings s = cpu_settings(4096);
    s.gpu_mem = 12ull * QS_GIB;
    qs_est_result r;

    /* -ngl 5: the output layer and the last 4 repeating layers (18..21) */
    s.n_gpu_layers = 5;
    run(m, &s, &r);
    uint64_t want = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const qs_est_tensor *t = &m->tensors[i];
        int b = qs_est_block_of(t->name);
        if (b >= 18 || strncmp(t->name, "output", 6) == 0) want += cuda_size(t);
    }
    assert_int_equal(r.part[QS_EST_WEIGHTS_GPU].bytes, want);
    assert_int_equal(r.gpu_layers, 4);
    assert_true(r.output_on_gpu);
    /* KV follows its layer: 4 layers on the GPU, 18 on the host, 1 MiB per layer per 256 dims */
    assert_int_equal(r.part[QS_EST_KV_GPU].bytes, 4ull * 4096 * 256 * 2 * 2);
    assert_int_equal(r.part[QS_EST_KV_HOST].bytes, 18ull * 4096 * 256 * 2 * 2);
    /* with a GPU, host weights stay mapped (the pinned host buffer wins over CPU_REPACK) */
    assert_int_equal(r.part[QS_EST_WEIGHTS_REPACK].bytes, 0);
    assert_true(r.part[QS_EST_WEIGHTS_MAPPED].bytes > 0);
    assert_true(r.part[QS_EST_WEIGHTS_GPU].assumed);
    assert_true(r.part[QS_EST_COMPUTE_GPU].assumed);
    assert_true(r.part[QS_EST_OVERHEAD_GPU].assumed);
    assert_string_equal(r.part[QS_EST_COMPUTE_HOST].label, "CUDA_Host compute buffer");

    /* -ngl 1: only the output layer */
    s.n_gpu_layers = 1;
    run(m, &s, &r);
    assert_int_equal(r.gpu_layers, 0);
    assert_true(r.output_on_gpu);
    assert_int_equal(r.part[QS_EST_KV_GPU].bytes, 0);

    /* all layers (-ngl -1): token_embd is the only weight left on the host, mapped alone */
    s.n_gpu_layers = -1;
    run(m, &s, &r);
    assert_int_equal(r.gpu_layers, 22);
    for (int64_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, "token_embd.weight") == 0)
            assert_int_equal(r.part[QS_EST_WEIGHTS_MAPPED].bytes,
                             qs_type_row_bytes(m->tensors[i].type, 2048) * 32000);
    assert_int_equal(r.part[QS_EST_KV_HOST].bytes, 0);
    assert_true(r.part[QS_EST_COMPUTE_GPU].bytes > 62ull * QS_MIB); /* holds the logits */

    /* -ngl 0 with a GPU: nothing offloaded */
    s.n_gpu_layers = 0;
    run(m, &s, &r);
    assert_int_equal(r.part[QS_EST_WEIGHTS_GPU].bytes, 0);
    assert_false(r.output_on_gpu);
}

/* Tied embeddings: the output layer on the GPU gets its own copy of token_embd. */
static void test_gpu_tied_output(void **state) {
    (void)state;
    const qs_est_model *m = build(&B, &LLAMA32, &L32_Q4KM);
    qs_est_settings s = cpu_settings(4096);
    s.gpu_mem = 24ull * QS_GIB;
    s.n_gpu_layers = 1;
    qs_est_result r;
    run(m, &s, &r);
    uint64_t embd = 0, norm = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        if (strcmp(m->tensors[i].name, "token_embd.weight") == 0) embd = cuda_size(&m->tensors[i]);
        if (strcmp(m->tensors[i].name, "output_norm.weight") == 0) norm = cuda_size(&m->tensors[i]);
    }
    assert_int_equal(r.part[QS_EST_WEIGHTS_GPU].bytes, embd + norm);
}

/* Every -ngl, with and without flash attention, quantized KV and several sequences: the weights
 * and KV move between devices without being lost, and the GPU side only grows with -ngl. */
static void test_gpu_sweep(void **state) {
    (void)state;
    const qs_est_model *m = build(&B, &QWEN25, &QW_Q4KM);
    static const int kv[][2] = {{QS_TYPE_F16, QS_TYPE_F16}, {QS_TYPE_Q8_0, QS_TYPE_Q8_0}, {QS_TYPE_Q8_0, QS_TYPE_F16}};
    for (int fa = 0; fa < 2; fa++) {
        for (int k = 0; k < 3; k++) {
            for (int np = 1; np <= 3; np += 2) {
                if (!fa && k == 1) continue; /* quantized V needs flash attention */
                qs_est_settings s = cpu_settings(8192);
                s.gpu_mem = 8ull * QS_GIB;
                s.flash_attn = fa ? QS_EST_FA_ON : QS_EST_FA_OFF;
                s.type_k = kv[k][0];
                s.type_v = kv[k][1];
                s.n_seq = np;
                uint64_t prev_w = 0, prev_kv = 0, kv_all = 0;
                for (int ngl = 0; ngl <= QWEN25.L + 1; ngl++) {
                    s.n_gpu_layers = ngl;
                    qs_est_result r;
                    run(m, &s, &r);
                    uint64_t kvsum = r.part[QS_EST_KV_HOST].bytes + r.part[QS_EST_KV_GPU].bytes;
                    if (ngl == 0) kv_all = kvsum;
                    assert_int_equal(kvsum, kv_all);
                    assert_true(r.part[QS_EST_WEIGHTS_GPU].bytes >= prev_w);
                    assert_true(r.part[QS_EST_KV_GPU].bytes >= prev_kv);
                    prev_w = r.part[QS_EST_WEIGHTS_GPU].bytes;
                    prev_kv = r.part[QS_EST_KV_GPU].bytes;
                    assert_true(r.part[QS_EST_COMPUTE_HOST].bytes > 0);
                    if (ngl > 0) assert_true(r.part[QS_EST_COMPUTE_GPU].bytes > 0);
                    assert_int_equal(r.total[QS_EST_GPU], r.part[QS_EST_WEIGHTS_GPU].bytes + r.part[QS_EST_KV_GPU].bytes +
                                                              r.part[QS_EST_COMPUTE_GPU].bytes +
                                                              r.part[QS_EST_OVERHEAD_GPU].bytes);
                }
            }
        }
    }
}

/* Fit searches agree with single estimates at their boundaries. */
static void test_fit_searches(void **state) {
    (void)state;
    const qs_est_model *m = build(&B, &TINYLLAMA, &TINY_Q4KM);
    qs_error err = {{0}};
    qs_est_settings s = cpu_settings(4096);
    s.gpu_mem = 1ull * QS_GIB + 700 * QS_MIB; /* 1.7 GiB card, 1 GiB margin: ~700 MiB usable */
    int ngl = -1;
    assert_int_equal(qs_estimate_max_gpu_layers(m, &s, &ngl, &err), QS_OK);
    assert_true(ngl > 0 && ngl < 23);
    qs_est_result r;
    s.n_gpu_layers = ngl;
    run(m, &s, &r);
    assert_true(r.fits_gpu);
    s.n_gpu_layers = ngl + 1;
    run(m, &s, &r);
    assert_false(r.fits_gpu);

    /* CPU only with 1.5 GiB of RAM: the largest context that fits */
    qs_est_settings c = cpu_settings(0);
    c.host_mem = 1ull * QS_GIB + 1536 * QS_MIB; /* 2.5 GiB, 1 GiB kept free */
    c.flash_attn = QS_EST_FA_OFF;
    int64_t best = -1;
    assert_int_equal(qs_estimate_max_ctx(m, &c, 65536, &best, &err), QS_OK);
    assert_true(best >= 256 && best % 256 == 0 && best < 65536);
    c.n_ctx = best;
    run(m, &c, &r);
    assert_true(r.fits);
    c.n_ctx = best + 256;
    run(m, &c, &r);
    assert_false(r.fits);
    /* nothing fits in 100 MiB */
    c.host_mem = 100 * QS_MIB;
    assert_int_equal(qs_estimate_max_ctx(m, &c, 0, &best, &err), QS_OK);
    assert_int_equal(best, 0);
    /* no GPU: no GPU layers */
    c.gpu_mem = 0;
    assert_int_equal(qs_estimate_max_gpu_layers(m, &c, &ngl, &err), QS_OK);
    assert_int_equal(ngl, 0);
}

/* Architectures whose graph is not replayed are flagged, never silently guessed. */
static void test_unmodelled_arch_flagged(void **state) {
    (void)state;
    qs_est_model m = *build(&B, &TINYLLAMA, &F16_MIX);
    m.arch = "gemma2";
    qs_est_settings s = cpu_settings(4096);
    qs_est_result r;
    run(&m, &s, &r);
    assert_false(r.graph_exact);
    assert_true(r.part[QS_EST_COMPUTE_HOST].assumed);
    assert_non_null(r.part[QS_EST_COMPUTE_HOST].assumption);
    assert_false(r.part[QS_EST_KV_HOST].assumed); /* KV arithmetic is the same for any full-attention layer */
}

static void test_bad_input(void **state) {
    (void)state;
    qs_error err = {{0}};
    qs_est_result r;
    qs_est_model m = *build(&B, &TINYLLAMA, &F16_MIX);
    qs_est_settings s = cpu_settings(4096);
    /* a quantized V cache needs flash attention, as in llama.cpp */
    s.flash_attn = QS_EST_FA_OFF;
    s.type_v = QS_TYPE_Q8_0;
    assert_int_equal(qs_estimate(&m, &s, &r, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "flash attention"));
    /* KV types llama.cpp does not offer */
    s = cpu_settings(4096);
    s.type_k = QS_TYPE_Q4_K;
    assert_int_equal(qs_estimate(&m, &s, &r, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "Q4_K"));
    /* no layers */
    s = cpu_settings(4096);
    m.n_layer = 0;
    assert_int_equal(qs_estimate(&m, &s, &r, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "n_layer"));
    /* a tensor whose row does not fit the type's block */
    m = *build(&B, &TINYLLAMA, &F16_MIX);
    B.t[3].type = QS_TYPE_Q4_K;
    B.t[3].ne[0] = 2000;
    assert_int_equal(qs_estimate(&m, &s, &r, &err), QS_ERR);
    assert_non_null(strstr(err.msg, B.t[3].name));
    /* a block index past the last layer */
    m = *build(&B, &TINYLLAMA, &F16_MIX);
    B.t[5].block = 40;
    assert_int_equal(qs_estimate(&m, &s, &r, &err), QS_ERR);
    /* no context and no training context */
    m = *build(&B, &TINYLLAMA, &F16_MIX);
    m.n_ctx_train = 0;
    s.n_ctx = 0;
    assert_int_equal(qs_estimate(&m, &s, &r, &err), QS_ERR);
    /* K width not a multiple of the KV block: 1 KV head of 48 */
    m = *build(&B, &TINYLLAMA, &F16_MIX);
    m.head_dim_k = 48;
    m.n_head_kv = 1;
    s = cpu_settings(4096);
    s.type_k = QS_TYPE_Q8_0;
    assert_int_equal(qs_estimate(&m, &s, &r, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "block"));
    assert_int_equal(qs_estimate(NULL, &s, &r, &err), QS_ERR);
}

static void test_block_parse(void **state) {
    (void)state;
    assert_int_equal(qs_est_block_of("blk.0.attn_q.weight"), 0);
    assert_int_equal(qs_est_block_of("blk.123.ffn_up.weight"), 123);
    assert_int_equal(qs_est_block_of("blk..x"), -1);
    assert_int_equal(qs_est_block_of("blk.12"), -1);
    assert_int_equal(qs_est_block_of("output.weight"), -1);
    assert_int_equal(qs_est_block_of(NULL), -1);
    assert_string_equal(qs_est_part_name(QS_EST_KV_GPU), "kv_gpu");
    assert_string_equal(qs_est_part_name((qs_est_part_id)99), "?");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tinyllama_q4km_example),
        cmocka_unit_test(test_weights_cpu),
        cmocka_unit_test(test_weights_f16_arithmetic),
        cmocka_unit_test(test_runtime_buffers_cpu),
        cmocka_unit_test(test_kv_arithmetic),
        cmocka_unit_test(test_compute_grows_with_context_without_fa),
        cmocka_unit_test(test_gpu_layer_placement),
        cmocka_unit_test(test_gpu_tied_output),
        cmocka_unit_test(test_gpu_sweep),
        cmocka_unit_test(test_fit_searches),
        cmocka_unit_test(test_unmodelled_arch_flagged),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_block_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
