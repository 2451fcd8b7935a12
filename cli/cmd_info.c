/* quantscope info MODEL [--json]: what a model is made of. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

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

static json_t *info_json(const qs_model *m) {
    const qs_hparams *hp = &m->hp;
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(m->gguf->path));
    json_object_set_new(o, "file_size", json_integer((json_int_t)m->gguf->file_size));
    json_object_set_new(o, "gguf_version", json_integer(m->gguf->version));
    json_object_set_new(o, "architecture", json_string(hp->arch));
    json_object_set_new(o, "name", json_string(hp->name));
    json_object_set_new(o, "n_layer", json_integer(hp->n_layer));
    json_object_set_new(o, "n_embd", json_integer(hp->n_embd));
    json_object_set_new(o, "n_ff", json_integer(hp->n_ff));
    json_object_set_new(o, "n_head", json_integer(hp->n_head));
    json_object_set_new(o, "n_head_kv", json_integer(hp->n_head_kv));
    json_object_set_new(o, "head_dim_k", json_integer(hp->head_dim_k));
    json_object_set_new(o, "head_dim_v", json_integer(hp->head_dim_v));
    json_object_set_new(o, "n_rot", json_integer(hp->n_rot));
    json_object_set_new(o, "n_ctx_train", json_integer(hp->n_ctx_train));
    json_object_set_new(o, "n_vocab", json_integer(hp->n_vocab));
    json_object_set_new(o, "n_expert", json_integer(hp->n_expert));
    json_object_set_new(o, "rope_freq_base", json_real(hp->rope_freq_base));
    json_object_set_new(o, "rope_freq_scale", json_real(hp->rope_freq_scale));
    json_object_set_new(o, "rope_scaling", json_string(hp->rope_scaling));
    json_object_set_new(o, "rms_eps", json_real(hp->rms_eps));
    json_object_set_new(o, "file_type", hp->file_type >= 0 ? json_string(qs_ftype_name(hp->file_type)) : json_null());
    json_object_set_new(o, "tokenizer", json_string(hp->tok_model));
    json_object_set_new(o, "tokenizer_pre", json_string(hp->tok_pre));
    json_object_set_new(o, "chat_template", json_boolean(hp->has_chat_template));
    json_object_set_new(o, "tied_embeddings", json_boolean(hp->tied_embeddings));
    json_object_set_new(o, "n_params", json_integer(m->n_params));
    json_object_set_new(o, "tensor_bytes", json_integer((json_int_t)m->tensor_bytes));
    json_object_set_new(o, "bits_per_weight", json_real(qs_model_bpw(m)));
    json_t *types = json_array();
    for (int t = 0; t < QS_TYPE_COUNT; t++) {
        if (!m->by_type[t].n_tensors) continue;
        json_t *r = json_object();
        json_object_set_new(r, "type", json_string(qs_type_name(t)));
        json_object_set_new(r, "n_tensors", json_integer(m->by_type[t].n_tensors));
        json_object_set_new(r, "n_params", json_integer(m->by_type[t].n_params));
        json_object_set_new(r, "bytes", json_integer((json_int_t)m->by_type[t].bytes));
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
        json_object_set_new(r, "bytes", json_integer((json_int_t)t->t->nbytes));
        json_object_set_new(r, "offset", json_integer((json_int_t)(m->gguf->data_offset + t->t->offset)));
        json_object_set_new(r, "block", t->block >= 0 ? json_integer(t->block) : json_null());
        json_array_append_new(ts, r);
    }
    json_object_set_new(o, "tensors", ts);
    return o;
}

static void info_text(const qs_model *m) {
    const qs_hparams *hp = &m->hp;
    char a[64], b[64], c[64];
    printf("%s  (%s, GGUF v%u)\n", m->gguf->path, cli_fmt_bytes(m->gguf->file_size, a, sizeof a), m->gguf->version);
    if (hp->name[0]) printf("  %-16s %s\n", "name", hp->name);
    printf("  %-16s %s\n", "architecture", hp->arch);
    printf("  %-16s %s (%s)\n", "parameters", cli_fmt_count(m->n_params, a, sizeof a), cli_fmt_int(m->n_params, b, sizeof b));
    printf("  %-16s %lld\n", "blocks", (long long)hp->n_layer);
    printf("  %-16s %lld\n", "embedding", (long long)hp->n_embd);
    printf("  %-16s %lld\n", "feed-forward", (long long)hp->n_ff);
    printf("  %-16s %lld (KV heads %lld, head dim %lld)\n", "heads", (long long)hp->n_head,
           (long long)hp->n_head_kv, (long long)hp->head_dim_k);
    if (hp->n_expert) printf("  %-16s %lld (%lld used)\n", "experts", (long long)hp->n_expert, (long long)hp->n_expert_used);
    printf("  %-16s dims %lld, base %g%s%s\n", "rope", (long long)hp->n_rot, hp->rope_freq_base,
           hp->rope_scaling[0] ? ", scaling " : "", hp->rope_scaling);
    printf("  %-16s %lld tokens (trained)\n", "context", (long long)hp->n_ctx_train);
    printf("  %-16s %lld (%s%s%s)\n", "vocabulary", (long long)hp->n_vocab, hp->tok_model[0] ? hp->tok_model : "no tokenizer",
           hp->tok_pre[0] ? ", pre " : "", hp->tok_pre);
    printf("  %-16s %s\n", "chat template", hp->has_chat_template ? "yes" : "none (plain completion)");
    printf("  %-16s %s\n", "embeddings", hp->tied_embeddings ? "tied (output reuses token_embd)" : "separate output");
    printf("  %-16s %s\n", "file type", hp->file_type >= 0 ? qs_ftype_name(hp->file_type) : "(not recorded)");
    printf("  %-16s %s in tensors, %.2f bits per weight\n", "size", cli_fmt_bytes(m->tensor_bytes, a, sizeof a), qs_model_bpw(m));
    printf("\ntypes:\n");
    for (int t = 0; t < QS_TYPE_COUNT; t++) {
        const qs_type_total *tt = &m->by_type[t];
        if (!tt->n_tensors) continue;
        printf("  %-8s %5lld tensors %16s params %12s  %5.1f%%\n", qs_type_name(t), (long long)tt->n_tensors,
               cli_fmt_int(tt->n_params, a, sizeof a), cli_fmt_bytes(tt->bytes, b, sizeof b),
               m->tensor_bytes ? 100.0 * (double)tt->bytes / (double)m->tensor_bytes : 0.0);
    }
    printf("\n  %-32s %-18s %-8s %12s %5s\n", "tensor", "shape", "type", "bytes", "block");
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const qs_model_tensor *t = &m->tensors[i];
        shape_str(t->t, c, sizeof c);
        char blk[16] = "-";
        if (t->block >= 0) snprintf(blk, sizeof blk, "%d", t->block);
        printf("  %-32s %-18s %-8s %12s %5s\n", t->name, c, qs_type_name(t->t->type),
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
