/* quantscope info MODEL [--json]: what a model is made of. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chat_template.h"
#include "cli.h"
#include "cli_util.h"
#include "model.h"

const char cmd_info_usage[] =
    "usage: quantscope info MODEL.gguf [--json]\n\n"
    "Prints a model's architecture, hyper-parameters, vocabulary, context, parameter count,\n"
    "file size and bits per weight, totals by tensor type, and the tensor table (name, shape,\n"
    "type, bytes, block).\n\n"
    "  --json    everything as one JSON object on stdout\n";

static void shape_str(const gguf_tensor *t, char *buf, size_t n) {
    size_t o = 0;
    for (int d = 0; d < (t->n_dims ? t->n_dims : 1); d++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", d ? " x " : "", (long long)t->ne[d]);
}

static json_t *json_int_or_null(int64_t v, bool present) {
    return present ? json_integer((json_int_t)v) : json_null();
}

static json_t *layer_array(const int64_t *v, int64_t n) {
    json_t *a = json_array();
    for (int64_t i = 0; i < n; i++) json_array_append_new(a, json_integer((json_int_t)v[i]));
    return a;
}

static json_t *info_json(const qs_model *m) {
    const qs_hparams *hp = &m->hp;
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(m->gguf->path));
    json_object_set_new(o, "file_size", json_integer((json_int_t)m->gguf->file_size));
    json_object_set_new(o, "gguf_version", json_integer(m->gguf->version));
    json_object_set_new(o, "alignment", json_integer(m->gguf->alignment));
    json_object_set_new(o, "data_offset", json_integer((json_int_t)m->gguf->data_offset));
    json_object_set_new(o, "n_kv", json_integer(m->gguf->n_kv));
    json_object_set_new(o, "architecture", json_string(hp->arch));
    json_object_set_new(o, "name", json_string(hp->name));
    json_object_set_new(o, "n_layer", json_integer(hp->n_layer));
    json_object_set_new(o, "n_embd", json_integer(hp->n_embd));
    json_object_set_new(o, "n_ff", json_integer(hp->n_ff));
    json_object_set_new(o, "n_head", json_integer(hp->n_head));
    json_object_set_new(o, "n_head_kv", json_integer(hp->n_head_kv));
    json_object_set_new(o, "per_layer", json_boolean(hp->per_layer_heads));
    if (hp->per_layer_heads) {
        json_object_set_new(o, "layer_n_head", layer_array(m->layer_n_head, hp->n_layer));
        json_object_set_new(o, "layer_n_head_kv", layer_array(m->layer_n_head_kv, hp->n_layer));
        json_object_set_new(o, "layer_n_ff", layer_array(m->layer_n_ff, hp->n_layer));
    }
    json_object_set_new(o, "head_dim_k", json_integer(hp->head_dim_k));
    json_object_set_new(o, "head_dim_v", json_integer(hp->head_dim_v));
    json_object_set_new(o, "n_rot", json_integer(hp->n_rot));
    json_object_set_new(o, "n_ctx_train", json_integer(hp->n_ctx_train));
    json_object_set_new(o, "n_vocab", json_integer(hp->n_vocab));
    json_object_set_new(o, "n_expert", json_integer(hp->n_expert));
    json_object_set_new(o, "n_expert_used", json_integer(hp->n_expert_used));
    json_object_set_new(o, "rope_freq_base", cli_json_real(hp->rope_freq_base));
    json_object_set_new(o, "rope_freq_scale", cli_json_real(hp->rope_freq_scale));
    json_object_set_new(o, "rope_scaling", json_string(hp->rope_scaling));
    json_object_set_new(o, "rope_scaling_factor", cli_json_real(hp->rope_scaling_factor));
    json_object_set_new(o, "rope_orig_ctx", json_integer(hp->rope_orig_ctx));
    json_object_set_new(o, "rope_attn_factor", cli_json_real(hp->rope_attn_factor));
    json_object_set_new(o, "rope_freqs_tensor", json_boolean(hp->has_rope_freqs));
    json_object_set_new(o, "rms_eps", cli_json_real(hp->rms_eps));
    json_object_set_new(o, "norm_eps", cli_json_real(hp->norm_eps));
    json_object_set_new(o, "file_type", hp->file_type >= 0 ? json_string(qs_ftype_name(hp->file_type)) : json_null());
    json_object_set_new(o, "file_type_id", json_int_or_null(hp->file_type, hp->file_type >= 0));
    json_object_set_new(o, "file_type_guessed", json_boolean(qs_ftype_guessed(hp->file_type)));
    json_object_set_new(o, "tokenizer", json_string(hp->tok_model));
    json_object_set_new(o, "tokenizer_pre", json_string(hp->tok_pre));
    json_object_set_new(o, "bos_id", json_int_or_null(hp->bos_id, hp->bos_id >= 0));
    json_object_set_new(o, "eos_id", json_int_or_null(hp->eos_id, hp->eos_id >= 0));
    json_object_set_new(o, "n_merges", json_integer(hp->n_merges));
    json_object_set_new(o, "chat_template", json_boolean(hp->has_chat_template));
    json_object_set_new(o, "chat_template_family", json_string(qs_chat_tmpl_name(qs_chat_tmpl_of_model(m->gguf))));
    json_object_set_new(o, "tied_embeddings", json_boolean(hp->tied_embeddings));
    json_object_set_new(o, "n_tensors", json_integer(m->n_tensors));
    json_object_set_new(o, "n_params", json_integer(m->n_params));
    json_object_set_new(o, "tensor_bytes", json_integer((json_int_t)m->tensor_bytes));
    json_object_set_new(o, "bits_per_weight", cli_json_real(qs_model_bpw(m)));
    json_t *types = json_array();
    for (int t = 0; t < QS_TYPE_COUNT; t++) {
        if (!m->by_type[t].n_tensors) continue;
        json_t *r = json_object();
        json_object_set_new(r, "type", json_string(qs_type_name(t)));
        json_object_set_new(r, "n_tensors", json_integer(m->by_type[t].n_tensors));
        json_object_set_new(r, "n_params", json_integer(m->by_type[t].n_params));
        json_object_set_new(r, "bytes", json_integer((json_int_t)m->by_type[t].bytes));
        json_object_set_new(r, "share", cli_json_real(m->tensor_bytes ? (double)m->by_type[t].bytes / (double)m->tensor_bytes : 0.0));
        json_array_append_new(types, r);
    }
    json_object_set_new(o, "types", types);
    json_t *ts = json_array();
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const qs_model_tensor *t = &m->tensors[i];
        json_t *r = json_object(), *shape = json_array();
        json_object_set_new(r, "name", json_string(t->name));
        for (int d = 0; d < t->t->n_dims; d++) json_array_append_new(shape, json_integer(t->t->ne[d]));
        json_object_set_new(r, "shape", shape);
        json_object_set_new(r, "type", json_string(qs_type_name(t->t->type)));
        json_object_set_new(r, "n_elements", json_integer(t->t->n_elements));
        json_object_set_new(r, "bytes", json_integer((json_int_t)t->t->nbytes));
        json_object_set_new(r, "offset", json_integer((json_int_t)(m->gguf->data_offset + t->t->offset)));
        json_object_set_new(r, "block", t->block >= 0 ? json_integer(t->block) : json_null());
        json_object_set_new(r, "role", json_string(t->role));
        json_array_append_new(ts, r);
    }
    json_object_set_new(o, "tensors", ts);
    return o;
}

static void row(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row(const char *label, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("  %-16s ", label);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

/* "8" or "8 (per layer: 4 .. 8)" for a per-layer count. */
static const char *per_layer_str(int64_t v, const int64_t *per, int64_t n, char *buf, size_t size) {
    int64_t lo = v, hi = v;
    for (int64_t i = 0; per && i < n; i++) {
        if (per[i] < lo) lo = per[i];
        if (per[i] > hi) hi = per[i];
    }
    if (lo == hi) snprintf(buf, size, "%lld", (long long)v);
    else snprintf(buf, size, "%lld (per layer: %lld .. %lld)", (long long)v, (long long)lo, (long long)hi);
    return buf;
}

static void info_text(const qs_model *m) {
    const qs_hparams *hp = &m->hp;
    char a[64], b[64], c[96];
    printf("%s  (%s, GGUF v%u)\n", m->gguf->path, cli_fmt_bytes(m->gguf->file_size, a, sizeof a), m->gguf->version);
    if (hp->name[0]) row("name", "%s", hp->name);
    row("architecture", "%s", hp->arch);
    row("parameters", "%s (%s)", cli_fmt_count(m->n_params, a, sizeof a), cli_fmt_int(m->n_params, b, sizeof b));
    row("blocks", "%lld", (long long)hp->n_layer);
    row("embedding", "%lld", (long long)hp->n_embd);
    row("feed-forward", "%s", per_layer_str(hp->n_ff, m->layer_n_ff, hp->n_layer, c, sizeof c));
    per_layer_str(hp->n_head_kv, m->layer_n_head_kv, hp->n_layer, c, sizeof c);
    if (hp->head_dim_k == hp->head_dim_v)
        row("heads", "%lld (KV heads %s, head dim %lld)", (long long)hp->n_head, c, (long long)hp->head_dim_k);
    else
        row("heads", "%lld (KV heads %s, head dim k %lld / v %lld)", (long long)hp->n_head, c,
            (long long)hp->head_dim_k, (long long)hp->head_dim_v);
    if (hp->n_expert) row("experts", "%lld (%lld used)", (long long)hp->n_expert, (long long)hp->n_expert_used);
    char scaling[128] = "";
    if (hp->rope_scaling[0] && strcmp(hp->rope_scaling, "none") != 0)
        snprintf(scaling, sizeof scaling, ", scaling %s x%g", hp->rope_scaling, hp->rope_scaling_factor);
    if (hp->rope_orig_ctx)
        snprintf(scaling + strlen(scaling), sizeof scaling - strlen(scaling), " (original context %lld)",
                 (long long)hp->rope_orig_ctx);
    if (hp->has_rope_freqs) snprintf(scaling + strlen(scaling), sizeof scaling - strlen(scaling), ", factors in rope_freqs.weight");
    row("rope", "dims %lld, base %g%s", (long long)hp->n_rot, hp->rope_freq_base, scaling);
    if (hp->rms_eps > 0) row("norm", "RMS, epsilon %g", hp->rms_eps);
    else if (hp->norm_eps > 0) row("norm", "layer norm, epsilon %g", hp->norm_eps);
    row("context", "%lld tokens (trained)", (long long)hp->n_ctx_train);
    char ids[64] = "";
    if (hp->bos_id >= 0 || hp->eos_id >= 0)
        snprintf(ids, sizeof ids, ", BOS %lld, EOS %lld", (long long)hp->bos_id, (long long)hp->eos_id);
    row("vocabulary", "%lld (%s%s%s%s)", (long long)hp->n_vocab, hp->tok_model[0] ? hp->tok_model : "no tokenizer",
        hp->tok_pre[0] ? ", pre " : "", hp->tok_pre, ids);
    if (hp->has_chat_template) {
        const qs_chat_tmpl t = qs_chat_tmpl_of_model(m->gguf);
        row("chat template", "%s", t == QS_TMPL_UNKNOWN ? "present, family not recognised (chat uses chatml)"
                                                         : qs_chat_tmpl_name(t));
    } else {
        row("chat template", "none (plain completion)");
    }
    row("embeddings", "%s", hp->tied_embeddings ? "tied (no output.weight: the output reuses token_embd)" : "separate output");
    if (hp->file_type >= 0)
        row("file type", "%s%s", qs_ftype_name(hp->file_type), qs_ftype_guessed(hp->file_type) ? " (guessed)" : "");
    else
        row("file type", "(not recorded)");
    row("size", "%s in %lld tensors, %.2f bits per weight", cli_fmt_bytes(m->tensor_bytes, a, sizeof a),
        (long long)m->n_tensors, qs_model_bpw(m));

    printf("\ntypes:\n");
    for (int t = 0; t < QS_TYPE_COUNT; t++) {
        const qs_type_total *tt = &m->by_type[t];
        if (!tt->n_tensors) continue;
        printf("  %-8s %5lld tensors %16s params %12s  %5.1f%%\n", qs_type_name(t), (long long)tt->n_tensors,
               cli_fmt_int(tt->n_params, a, sizeof a), cli_fmt_bytes(tt->bytes, b, sizeof b),
               m->tensor_bytes ? 100.0 * (double)tt->bytes / (double)m->tensor_bytes : 0.0);
    }

    /* column widths from the content, so long names and shapes stay aligned */
    int wn = 6, ws = 5;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        int l = (int)strlen(m->tensors[i].name);
        if (l > wn) wn = l;
        shape_str(m->tensors[i].t, c, sizeof c);
        l = (int)strlen(c);
        if (l > ws) ws = l;
    }
    printf("\n  %-*s  %-*s  %-8s %12s %5s\n", wn, "tensor", ws, "shape", "type", "bytes", "block");
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const qs_model_tensor *t = &m->tensors[i];
        shape_str(t->t, c, sizeof c);
        char blk[16] = "-";
        if (t->block >= 0) snprintf(blk, sizeof blk, "%d", t->block);
        printf("  %-*s  %-*s  %-8s %12s %5s\n", wn, t->name, ws, c, qs_type_name(t->t->type),
               cli_fmt_bytes(t->t->nbytes, a, sizeof a), blk);
    }
}

int cmd_info(int argc, char **argv) {
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    bool json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') json = true;
        else return cli_usage_error("info", "unknown option '%s'", argv[optind - 1]);
    }
    if (argc - optind != 1) return cli_usage_error("info", "expected one MODEL.gguf");
    qs_error err;
    qs_model *m = qs_model_open(argv[optind], &err);
    if (!m) return cli_fail("info", "%s", err.msg);
    if (json) cli_json_print(info_json(m));
    else info_text(m);
    qs_model_close(m);
    return CLI_OK;
}
