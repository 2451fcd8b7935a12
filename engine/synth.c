/* synth.c — random-weight models at real shapes. */
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gguf.h"
#include "qs_fp16.h"

/* Shapes from the models' published configurations. */
static const qs_synth_shape shapes[] = {
    /* name, arch, label, layers, embd, ff, heads, kv heads, head dim, vocab, ctx, rope base, eps,
     * tied, qkv bias, qk norm, llama3 factor, original ctx */
    {"tiny", "llama", "quantscope tiny (random weights)", 4, 256, 768, 8, 4, 32, 1024, 2048, 10000.0, 1e-5,
     false, false, false, 0, 0},
    {"tinyllama-1.1b", "llama", "TinyLlama-1.1B shape (random weights)", 22, 2048, 5632, 32, 4, 64, 32000, 2048,
     10000.0, 1e-5, false, false, false, 0, 0},
    {"llama-3.2-1b", "llama", "Llama-3.2-1B shape (random weights)", 16, 2048, 8192, 32, 8, 64, 128256, 131072,
     500000.0, 1e-5, true, false, false, 32.0, 8192},
    {"llama-3.1-8b", "llama", "Llama-3.1-8B shape (random weights)", 32, 4096, 14336, 32, 8, 128, 128256, 131072,
     500000.0, 1e-5, false, false, false, 8.0, 8192},
    {"mistral-7b", "llama", "Mistral-7B-v0.1 shape (random weights)", 32, 4096, 14336, 32, 8, 128, 32000, 32768,
     10000.0, 1e-5, false, false, false, 0, 0},
    {"qwen2.5-0.5b", "qwen2", "Qwen2.5-0.5B shape (random weights)", 24, 896, 4864, 14, 2, 64, 151936, 32768,
     1000000.0, 1e-6, true, true, false, 0, 0},
    {"qwen2.5-7b", "qwen2", "Qwen2.5-7B shape (random weights)", 28, 3584, 18944, 28, 4, 128, 152064, 32768,
     1000000.0, 1e-6, false, true, false, 0, 0},
    {"qwen3-0.6b", "qwen3", "Qwen3-0.6B shape (random weights)", 28, 1024, 3072, 16, 8, 128, 151936, 40960,
     1000000.0, 1e-6, true, false, true, 0, 0},
};

const qs_synth_shape *qs_synth_shapes(int *n) {
    *n = (int)(sizeof shapes / sizeof shapes[0]);
    return shapes;
}

const qs_synth_shape *qs_synth_find(const char *name) {
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcasecmp(shapes[i].name, name) == 0) return &shapes[i];
    return NULL;
}

/* ------------------------------------------------------------------ tensor list */

static void add(qs_synth_tensor *out, int max, int *n, bool f32, int64_t ne0, int64_t ne1, const char *fmt, int blk) {
    if (out && *n < max) {
        qs_synth_tensor *t = &out[*n];
        snprintf(t->name, sizeof t->name, fmt, blk);
        t->n_dims = ne1 ? 2 : 1;
        t->ne[0] = ne0;
        t->ne[1] = ne1 ? ne1 : 1;
        t->f32 = f32;
    }
    (*n)++;
}

int qs_synth_tensors(const qs_synth_shape *s, int64_t n_vocab, qs_synth_tensor *out, int max) {
    int n = 0;
    int64_t q = s->n_head * s->head_dim, kv = s->n_head_kv * s->head_dim;
    add(out, max, &n, false, s->n_embd, n_vocab, "token_embd.weight", 0);
    if (s->rope_llama3_factor > 0) add(out, max, &n, true, s->head_dim / 2, 0, "rope_freqs.weight", 0);
    add(out, max, &n, true, s->n_embd, 0, "output_norm.weight", 0);
    if (!s->tied) add(out, max, &n, false, s->n_embd, n_vocab, "output.weight", 0);
    for (int b = 0; b < (int)s->n_layer; b++) {
        add(out, max, &n, true, s->n_embd, 0, "blk.%d.attn_norm.weight", b);
        add(out, max, &n, false, s->n_embd, q, "blk.%d.attn_q.weight", b);
        if (s->qkv_bias) add(out, max, &n, true, q, 0, "blk.%d.attn_q.bias", b);
        add(out, max, &n, false, s->n_embd, kv, "blk.%d.attn_k.weight", b);
        if (s->qkv_bias) add(out, max, &n, true, kv, 0, "blk.%d.attn_k.bias", b);
        add(out, max, &n, false, s->n_embd, kv, "blk.%d.attn_v.weight", b);
        if (s->qkv_bias) add(out, max, &n, true, kv, 0, "blk.%d.attn_v.bias", b);
        add(out, max, &n, false, q, s->n_embd, "blk.%d.attn_output.weight", b);
        if (s->qk_norm) {
            add(out, max, &n, true, s->head_dim, 0, "blk.%d.attn_q_norm.weight", b);
            add(out, max, &n, true, s->head_dim, 0, "blk.%d.attn_k_norm.weight", b);
        }
        add(out, max, &n, true, s->n_embd, 0, "blk.%d.ffn_norm.weight", b);
        add(out, max, &n, false, s->n_embd, s->n_ff, "blk.%d.ffn_gate.weight", b);
        add(out, max, &n, false, s->n_embd, s->n_ff, "blk.%d.ffn_up.weight", b);
        add(out, max, &n, false, s->n_ff, s->n_embd, "blk.%d.ffn_down.weight", b);
    }
    return n;
}

int64_t qs_synth_params(const qs_synth_shape *s, int64_t n_vocab) {
    int n = qs_synth_tensors(s, n_vocab, NULL, 0);
    qs_synth_tensor *t = malloc((size_t)n * sizeof *t);
    if (!t) return -1;
    qs_synth_tensors(s, n_vocab, t, n);
    int64_t p = 0;
    for (int i = 0; i < n; i++) p += t[i].ne[0] * t[i].ne[1];
    free(t);
    return p;
}

/* ------------------------------------------------------------------ our own vocabulary */

/* A SentencePiece-style vocabulary llama.cpp accepts: <unk>, <s>, </s>, the 256 byte tokens,
 * then letter strings (with and without the word-start mark) until n_vocab. */
static int write_own_vocab(gguf_writer *w, int64_t n_vocab, qs_error *err) {
    if (n_vocab < 300) return qs_error_set(err, "vocabulary of %lld tokens is too small (at least 300)", (long long)n_vocab);
    char **tok = calloc((size_t)n_vocab, sizeof *tok);
    float *score = malloc((size_t)n_vocab * sizeof *score);
    int32_t *type = malloc((size_t)n_vocab * sizeof *type);
    int rc = tok && score && type ? QS_OK : qs_error_set(err, "out of memory");
    int64_t i = 0;
    static const char *const special[] = {"<unk>", "<s>", "</s>"};
    for (; rc == QS_OK && i < 3; i++) {
        tok[i] = strdup(special[i]);
        type[i] = i == 0 ? 2 : 3; /* unknown, control */
        score[i] = 0;
    }
    for (int b = 0; rc == QS_OK && b < 256; b++, i++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        tok[i] = strdup(buf);
        type[i] = 6; /* byte */
        score[i] = 0;
    }
    for (int64_t k = 0; rc == QS_OK && i < n_vocab; k++) {
        /* k -> bijective base-26 letters; even k with the word-start mark U+2581 */
        char letters[16];
        int64_t v = k / 2 + 1;
        int len = 0;
        while (v > 0 && len < 15) {
            v--;
            letters[len++] = (char)('a' + v % 26);
            v /= 26;
        }
        char buf[24];
        int o = 0;
        if (k % 2 == 0) {
            memcpy(buf, "\xe2\x96\x81", 3);
            o = 3;
        }
        for (int j = len - 1; j >= 0; j--) buf[o++] = letters[j];
        buf[o] = 0;
        tok[i] = strdup(buf);
        type[i] = 1;
        score[i] = -(float)k;
        i++;
    }
    for (int64_t j = 0; rc == QS_OK && j < n_vocab; j++)
        if (!tok[j]) rc = qs_error_set(err, "out of memory");
    if (rc == QS_OK &&
        (gguf_writer_set_str(w, "tokenizer.ggml.model", "llama") ||
         gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, (uint64_t)n_vocab) ||
         gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, score, (uint64_t)n_vocab) ||
         gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, type, (uint64_t)n_vocab) ||
         gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0) ||
         gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1) ||
         gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2) ||
         gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true) ||
         gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", false)))
        rc = qs_error_set(err, "%s", gguf_writer_error(w));
    if (tok)
        for (int64_t j = 0; j < n_vocab; j++) free(tok[j]);
    free(tok);
    free(score);
    free(type);
    return rc;
}

/* ------------------------------------------------------------------ values */

static uint64_t mix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Roughly normal with standard deviation std: four 16-bit uniforms summed (Irwin-Hall). */
static float gauss(uint64_t *s, float std) {
    uint64_t r = mix64(s);
    float u = (float)((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48)) * (1.0f / 65536.0f);
    return (u - 2.0f) * 1.7320508f * std;
}

/* llama3 rope scaling as llama.cpp's converter materialises it: a factor per frequency pair. */
static float llama3_rope_factor(const qs_synth_shape *s, int64_t i) {
    const double low_ff = 1.0, high_ff = 4.0, pi = 3.14159265358979323846;
    double freq = 1.0 / pow(s->rope_base, (double)(2 * i) / (double)s->head_dim);
    double wavelen = 2 * pi / freq;
    double low_wl = (double)s->rope_orig_ctx / low_ff, high_wl = (double)s->rope_orig_ctx / high_ff;
    if (wavelen < high_wl) return 1.0f;
    if (wavelen > low_wl) return (float)s->rope_llama3_factor;
    double smooth = ((double)s->rope_orig_ctx / wavelen - low_ff) / (high_ff - low_ff);
    return (float)(1.0 / ((1 - smooth) / s->rope_llama3_factor + smooth));
}

static uint64_t name_hash(const char *p) {
    uint64_t h = 1469598103934665603ull;
    while (*p) h = (h ^ (uint8_t)*p++) * 1099511628211ull;
    return h;
}

/* ------------------------------------------------------------------ writing */

int qs_synth_write(const qs_synth_shape *s, const char *out_path, const qs_synth_opts *opts, qs_error *err) {
    qs_type type = opts && opts->type ? opts->type : QS_TYPE_F16;
    if (type != QS_TYPE_F32 && type != QS_TYPE_F16 && type != QS_TYPE_BF16)
        return qs_error_set(err, "synth writes F32, F16 or BF16 (quantize afterwards), not %s", qs_type_name(type));
    uint64_t seed = opts ? opts->seed : 0;
    gguf_file *vocab = NULL;
    int64_t n_vocab = s->n_vocab;
    if (opts && opts->vocab_path) {
        vocab = gguf_open(opts->vocab_path, err);
        if (!vocab) return QS_ERR;
        const gguf_kv *toks = gguf_get_arr(vocab, "tokenizer.ggml.tokens");
        if (!toks) {
            qs_error_set(err, "%s: no tokenizer.ggml.tokens array: not a vocabulary file", opts->vocab_path);
            gguf_close(vocab);
            return QS_ERR;
        }
        n_vocab = (int64_t)toks->arr_count;
    }
    gguf_writer *w = gguf_writer_open(out_path, 32, err);
    if (!w) {
        gguf_close(vocab);
        return QS_ERR;
    }
    char key[128];
    const char *a = s->arch;
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", a, suffix), key)
    int ftype = type == QS_TYPE_F32 ? 0 : type == QS_TYPE_F16 ? 1 : 32;
    int rc = QS_OK;
    if (gguf_writer_set_str(w, "general.architecture", a) || gguf_writer_set_str(w, "general.name", s->label) ||
        gguf_writer_set_u32(w, "general.file_type", (uint32_t)ftype) ||
        gguf_writer_set_bool(w, "quantscope.synth", true) ||
        gguf_writer_set_str(w, "quantscope.synth.shape", s->name) ||
        gguf_writer_set_u64(w, "quantscope.synth.seed", seed) ||
        gguf_writer_set_u32(w, KEY("context_length"), (uint32_t)s->n_ctx) ||
        gguf_writer_set_u32(w, KEY("embedding_length"), (uint32_t)s->n_embd) ||
        gguf_writer_set_u32(w, KEY("block_count"), (uint32_t)s->n_layer) ||
        gguf_writer_set_u32(w, KEY("feed_forward_length"), (uint32_t)s->n_ff) ||
        gguf_writer_set_u32(w, KEY("attention.head_count"), (uint32_t)s->n_head) ||
        gguf_writer_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)s->n_head_kv) ||
        gguf_writer_set_u32(w, KEY("attention.key_length"), (uint32_t)s->head_dim) ||
        gguf_writer_set_u32(w, KEY("attention.value_length"), (uint32_t)s->head_dim) ||
        gguf_writer_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)s->rms_eps) ||
        gguf_writer_set_f32(w, KEY("rope.freq_base"), (float)s->rope_base) ||
        gguf_writer_set_u32(w, KEY("rope.dimension_count"), (uint32_t)s->head_dim) ||
        gguf_writer_set_u32(w, KEY("vocab_size"), (uint32_t)n_vocab))
        rc = qs_error_set(err, "%s", gguf_writer_error(w));
#undef KEY
    if (rc == QS_OK && vocab) {
        for (int64_t i = 0; rc == QS_OK && i < vocab->n_kv; i++)
            if (vocab->kv[i].key.len > 10 && memcmp(vocab->kv[i].key.ptr, "tokenizer.", 10) == 0 &&
                gguf_writer_copy_kv(w, &vocab->kv[i]) != QS_OK)
                rc = qs_error_set(err, "%s", gguf_writer_error(w));
    } else if (rc == QS_OK) {
        rc = write_own_vocab(w, n_vocab, err);
    }
    gguf_close(vocab);

    int nt = qs_synth_tensors(s, n_vocab, NULL, 0);
    qs_synth_tensor *ts = malloc((size_t)nt * sizeof *ts);
    enum { CHUNK = 1 << 20 };
    float *buf = malloc(CHUNK * sizeof *buf);
    uint8_t *enc = malloc(CHUNK * 4);
    if (rc == QS_OK && (!ts || !buf || !enc)) rc = qs_error_set(err, "out of memory");
    uint64_t total = 0, done = 0;
    if (rc == QS_OK) {
        qs_synth_tensors(s, n_vocab, ts, nt);
        for (int i = 0; rc == QS_OK && i < nt; i++) {
            int ty = ts[i].f32 ? QS_TYPE_F32 : (int)type;
            if (gguf_writer_add_tensor(w, ts[i].name, ty, ts[i].n_dims, ts[i].ne) != QS_OK)
                rc = qs_error_set(err, "%s", gguf_writer_error(w));
            total += qs_type_row_bytes(ty, ts[i].ne[0] * ts[i].ne[1]);
        }
    }
    for (int i = 0; rc == QS_OK && i < nt; i++) {
        const qs_synth_tensor *t = &ts[i];
        int64_t n = t->ne[0] * t->ne[1];
        uint64_t st = seed ^ name_hash(t->name);
        bool is_norm = strstr(t->name, "norm") != NULL, is_rope = strncmp(t->name, "rope_freqs", 10) == 0;
        qs_type ty = t->f32 ? QS_TYPE_F32 : type;
        for (int64_t off = 0; rc == QS_OK && off < n; off += CHUNK) {
            int64_t k = n - off < CHUNK ? n - off : CHUNK;
            for (int64_t j = 0; j < k; j++)
                buf[j] = is_rope ? llama3_rope_factor(s, off + j) : is_norm ? 1.0f : gauss(&st, 0.02f);
            const void *out = buf;
            uint64_t nb = (uint64_t)k * 4;
            if (ty == QS_TYPE_F16 || ty == QS_TYPE_BF16) {
                uint16_t *h = (uint16_t *)enc;
                for (int64_t j = 0; j < k; j++) h[j] = ty == QS_TYPE_F16 ? qs_f32_to_fp16(buf[j]) : qs_f32_to_bf16(buf[j]);
                out = enc;
                nb = (uint64_t)k * 2;
            }
            if (gguf_writer_write(w, out, nb) != QS_OK) rc = qs_error_set(err, "%s", gguf_writer_error(w));
            done += nb;
            if (rc == QS_OK && opts && opts->cancel && atomic_load(opts->cancel)) rc = QS_CANCELLED;
            if (rc == QS_OK && opts && opts->progress && opts->progress(opts->progress_user, done, total)) rc = QS_CANCELLED;
        }
    }
    free(ts);
    free(buf);
    free(enc);
    if (rc != QS_OK) {
        if (rc == QS_CANCELLED) qs_error_set(err, "%s: cancelled", out_path);
        gguf_writer_abort(w);
        return rc;
    }
    return gguf_writer_finish(w, err);
}
