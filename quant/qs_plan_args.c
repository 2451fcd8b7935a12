/* Plans as llama-quantize arguments, both ways.
 *
 * llama-quantize (tools/quantize/quantize.cpp, llama.cpp d32676d7) reads options up to the first
 * word not starting with "--", then: input, [output], ftype, [nthreads]. --tensor-type takes
 * PATTERN=TYPE, split at the first '='; the pattern is lower-cased, the type is a ggml type name
 * matched without regard to case. Patterns are searched with std::regex (ECMAScript) in tensor
 * names, first match wins, and only when the ftype's default type is a quantized one. */
#include "qs_plan_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lower-case type name as ggml writes it on the command line ("q4_k"). */
static void lower_name(int type, char *buf, size_t n) {
    snprintf(buf, n, "%s", qs_type_name(type));
    for (char *p = buf; *p; p++) *p = (char)tolower((unsigned char)*p);
}

static void escape_regex(const char *s, char *buf, size_t n) {
    size_t o = 0;
    for (; *s && o + 2 < n; s++) {
        if (strchr("\\^$.|?*+()[]{}", *s)) buf[o++] = '\\';
        buf[o++] = *s;
    }
    buf[o] = 0;
}

static int add_tt(qs_strlist *argv, const char *pattern, int type, const char *what, qs_error *err) {
    if (strchr(pattern, '='))
        return qs_error_set(err, "%s: pattern '%s' contains '=', which llama-quantize takes as the end of the pattern", what, pattern);
    for (const char *p = pattern; *p; p++)
        if (isupper((unsigned char)*p))
            return qs_error_set(err, "%s: pattern '%s' has upper-case letters, which llama-quantize lower-cases", what, pattern);
    char ty[16];
    lower_name(type, ty, sizeof ty);
    if (qs_strlist_addf(argv, "--tensor-type") || qs_strlist_addf(argv, "%s=%s", pattern, ty)) return QS_ENOMEM;
    return QS_OK;
}

int qs_plan_export_args(const qs_plan *plan, const qs_plan_model *model, qs_strlist *argv, qs_error *err) {
    if (qs_plan_validate(plan, err)) return QS_ERR;
    qs_strlist out = {0};
    int rc = QS_ERR;
    char what[48];
    const bool has_rules = plan->n_rules || plan->n_layers || plan->n_tensors || plan->keep_first || plan->keep_last;
    if (has_rules && !qs_type_traits_get(plan->default_type)->quantized) {
        qs_error_set(err, "llama-quantize ignores --tensor-type when the default type is %s; choose a quantized default",
                     qs_type_name(plan->default_type));
        goto fail;
    }
    const qs_ftype_info *ft = qs_ftype_for(plan->preset, plan->default_type);
    if (!ft) {
        qs_error_set(err, "no llama-quantize file type has default type %s", qs_type_name(plan->default_type));
        goto fail;
    }
    for (int i = 0; i < plan->n_tensors; i++) {
        size_t n = strlen(plan->tensors[i].name) * 2 + 3;
        char *pat = malloc(n);
        if (!pat) goto oom;
        pat[0] = '^';
        escape_regex(plan->tensors[i].name, pat + 1, n - 2);
        strcat(pat, "$");
        snprintf(what, sizeof what, "tensor override %d", i + 1);
        rc = add_tt(&out, pat, plan->tensors[i].type, what, err);
        free(pat);
        if (rc) goto fail;
    }
    for (int i = 0; i < plan->n_layers; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, "blk\\.%d\\.", plan->layers[i].block);
        snprintf(what, sizeof what, "layer override %d", i + 1);
        if ((rc = add_tt(&out, pat, plan->layers[i].type, what, err))) goto fail;
    }
    if (plan->keep_first || plan->keep_last) {
        if (plan->keep_last && !model) {
            rc = qs_error_set(err, "keep last %d blocks: the model's block count is needed to export it", plan->keep_last);
            goto fail;
        }
        int n_layer = model ? model->n_layer : plan->keep_first;
        size_t cap = 16 + 12 * (size_t)(n_layer + plan->keep_first);
        char *pat = malloc(cap);
        if (!pat) {
            rc = QS_ENOMEM;
            goto fail;
        }
        size_t o = (size_t)snprintf(pat, cap, "blk\\.(");
        int count = 0;
        for (int b = 0; b < (n_layer > plan->keep_first ? n_layer : plan->keep_first); b++) {
            bool in = b < plan->keep_first || (plan->keep_last > 0 && b >= n_layer - plan->keep_last);
            if (in) o += (size_t)snprintf(pat + o, cap - o, count++ ? "|%d" : "%d", b);
        }
        snprintf(pat + o, cap - o, ")\\.");
        rc = count ? add_tt(&out, pat, plan->keep_type, "keep", err) : QS_OK;
        free(pat);
        if (rc) goto fail;
    }
    for (int i = 0; i < plan->n_rules; i++) {
        snprintf(what, sizeof what, "rule %d", i + 1);
        if ((rc = add_tt(&out, plan->rules[i].pattern, plan->rules[i].type, what, err))) goto fail;
    }
    if (plan->preset == QS_PRESET_NONE && qs_strlist_addf(&out, "--pure")) goto oom;
    if (qs_strlist_addf(&out, "%s", ft->name)) goto oom;
    for (int i = 0; i < out.n; i++) {
        if (qs_strlist_addf(argv, "%s", out.v[i])) goto oom;
    }
    qs_strlist_free(&out);
    return QS_OK;
oom:
    rc = QS_ENOMEM;
    qs_error_set(err, "out of memory");
fail:
    qs_strlist_free(&out);
    return rc ? rc : QS_ERR;
}

/* A shell word: bare when it has only safe characters, else single-quoted. */
static void put_word(char **buf, size_t *len, size_t *cap, const char *w, bool *oom) {
    size_t need = strlen(w) * 4 + 4;
    if (*len + need + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + need + 1) c *= 2;
        char *p = realloc(*buf, c);
        if (!p) {
            *oom = true;
            return;
        }
        *buf = p;
        *cap = c;
    }
    char *o = *buf + *len;
    if (*len) *o++ = ' ';
    bool safe = *w != 0;
    for (const char *p = w; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_-./=+:,%@", *p)) safe = false;
    if (safe) {
        o += sprintf(o, "%s", w);
    } else {
        *o++ = '\'';
        for (const char *p = w; *p; p++) {
            if (*p == '\'') {
                memcpy(o, "'\\''", 4);
                o += 4;
            } else {
                *o++ = *p;
            }
        }
        *o++ = '\'';
        *o = 0;
    }
    *len = (size_t)(o - *buf);
}

char *qs_plan_args_command(const qs_strlist *argv, const char *input, const char *output) {
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bool oom = false;
    put_word(&buf, &len, &cap, "llama-quantize", &oom);
    for (int i = 0; i + 1 < argv->n; i++) put_word(&buf, &len, &cap, argv->v[i], &oom);
    if (input) put_word(&buf, &len, &cap, input, &oom);
    if (output) put_word(&buf, &len, &cap, output, &oom);
    if (argv->n) put_word(&buf, &len, &cap, argv->v[argv->n - 1], &oom);
    if (oom) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---------------------------------------------------------------------------------------------
 * Import.
 * ------------------------------------------------------------------------------------------- */

static int parse_type_arg(const char *opt, const char *s, qs_type *out, qs_error *err) {
    if (qs_type_from_name(s, out) || !qs_plan_type_allowed(*out))
        return qs_error_set(err, "%s: invalid type '%s'", opt, s);
    return QS_OK;
}

typedef struct {
    char *pattern;
    qs_type type;
} tt_entry;

int qs_plan_import_args(int argc, const char *const *argv, const qs_plan_model *model, qs_plan *out,
                        qs_strlist *notes, qs_error *err) {
    qs_plan_init(out);
    qs_strlist dummy = {0};
    if (!notes) notes = &dummy;
    tt_entry *tt = calloc((size_t)argc + 1, sizeof *tt);
    int ntt = 0, rc = QS_ERR;
    bool pure = false, have_out = false, have_emb = false;
    qs_type out_type = QS_TYPE_F16, emb_type = QS_TYPE_F16;
    if (!tt) goto oom;

    int i = 0;
    if (argc > 0) {
        const char *base = strrchr(argv[0], '/');
        base = base ? base + 1 : argv[0];
        if (strcmp(base, "llama-quantize") == 0 || strcmp(base, "quantize") == 0) i = 1;
    }
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *o = argv[i];
        const bool has_val = i + 1 < argc;
        if (strcmp(o, "--tensor-type") == 0) {
            if (!has_val) {
                qs_error_set(err, "--tensor-type: missing PATTERN=TYPE");
                goto fail;
            }
            const char *a = argv[++i], *eq = strchr(a, '=');
            if (!eq) {
                qs_error_set(err, "--tensor-type '%s': expected PATTERN=TYPE", a);
                goto fail;
            }
            if (eq == a) {
                qs_error_set(err, "--tensor-type '%s': missing tensor name pattern", a);
                goto fail;
            }
            if (!eq[1]) {
                qs_error_set(err, "--tensor-type '%s': missing quantization type", a);
                goto fail;
            }
            if (parse_type_arg("--tensor-type", eq + 1, &tt[ntt].type, err)) goto fail;
            tt[ntt].pattern = malloc((size_t)(eq - a) + 1);
            if (!tt[ntt].pattern) goto oom;
            for (size_t k = 0; k < (size_t)(eq - a); k++) tt[ntt].pattern[k] = (char)tolower((unsigned char)a[k]);
            tt[ntt].pattern[eq - a] = 0;
            ntt++;
        } else if (strcmp(o, "--output-tensor-type") == 0 || strcmp(o, "--token-embedding-type") == 0) {
            if (!has_val) {
                qs_error_set(err, "%s: missing type", o);
                goto fail;
            }
            bool is_out = o[2] == 'o';
            if (parse_type_arg(o, argv[++i], is_out ? &out_type : &emb_type, err)) goto fail;
            *(is_out ? &have_out : &have_emb) = true;
        } else if (strcmp(o, "--pure") == 0) {
            pure = true;
        } else if (strcmp(o, "--dry-run") == 0 || strcmp(o, "--allow-requantize") == 0 || strcmp(o, "--keep-split") == 0) {
            if (qs_strlist_addf(notes, "%s: does not change tensor types; ignored", o)) goto oom;
        } else if (strcmp(o, "--imatrix") == 0 || strcmp(o, "--include-weights") == 0 ||
                   strcmp(o, "--exclude-weights") == 0 || strcmp(o, "--override-kv") == 0) {
            if (!has_val) {
                qs_error_set(err, "%s: missing value", o);
                goto fail;
            }
            i++;
            if (qs_strlist_addf(notes, "%s %s: not part of a plan; ignored%s", o, argv[i],
                                strcmp(o, "--imatrix") == 0 ? " (tell the resolver has_imatrix: it changes Q4_0, Q5_0, IQ4_NL, IQ4_XS)" : ""))
                goto oom;
        } else if (strcmp(o, "--leave-output-tensor") == 0) {
            qs_error_set(err, "--leave-output-tensor: a plan cannot keep output.weight as stored; use a tensor override");
            goto fail;
        } else if (strcmp(o, "--tensor-type-file") == 0) {
            qs_error_set(err, "--tensor-type-file: pass the file's entries as --tensor-type arguments");
            goto fail;
        } else if (strcmp(o, "--prune-layers") == 0) {
            qs_error_set(err, "--prune-layers: removes blocks from the model, which a plan cannot express");
            goto fail;
        } else {
            qs_error_set(err, "unknown llama-quantize option '%s'", o);
            goto fail;
        }
    }
    /* positionals: [input] [output] ftype [nthreads] */
    const char *const *pos = argv + i;
    const int npos = argc - i;
    const char *fts = NULL;
    int ft_at = 0;
    if (npos == 1) {
        fts = pos[0];
    } else if (npos >= 2) {
        ft_at = qs_ftype_find(pos[1]) ? 1 : 2;
        fts = ft_at < npos ? pos[ft_at] : NULL;
    }
    if (!fts) {
        qs_error_set(err, "missing file type (Q4_K_M, Q8_0, ...)");
        goto fail;
    }
    for (int k = ft_at + 1; k < npos; k++)
        if (qs_strlist_addf(notes, "'%s': %s; ignored", pos[k], k == ft_at + 1 ? "thread count" : "extra argument")) goto oom;
    const qs_ftype_info *ft = qs_ftype_find(fts);
    if (!ft) {
        qs_error_set(err, "invalid file type '%s'", fts);
        goto fail;
    }
    if (pure) {
        out->preset = QS_PRESET_NONE;
        out->default_type = ft->base;
    } else if (ft->preset == QS_PRESET_NONE) {
        qs_error_set(err, "file type %s: its mix is not a quantscope preset; with --pure every tensor would be %s",
                     ft->name, qs_type_name(ft->base));
        goto fail;
    } else {
        qs_plan_set_preset(out, ft->preset);
    }
    const bool quantized = qs_type_traits_get(ft->base)->quantized;

    /* llama-quantize settles token_embd and output before any --tensor-type */
    if (have_emb && (rc = qs_plan_insert_rule(out, -1, "^(per_layer_)?token_embd\\.weight$", emb_type, err))) goto fail;
    if (have_out && (rc = qs_plan_insert_rule(out, -1, "^output\\.weight$", out_type, err))) goto fail;
    if (!quantized && ntt) {
        if (qs_strlist_addf(notes, "%d --tensor-type entr%s ignored: llama-quantize ignores them when the file type is %s",
                            ntt, ntt == 1 ? "y" : "ies", ft->name))
            goto oom;
    }
    for (int k = 0; quantized && k < ntt; k++) {
        if ((rc = qs_plan_insert_rule(out, -1, tt[k].pattern, tt[k].type, err))) {
            qs_error_prefix(err, "--tensor-type %s", tt[k].pattern);
            goto fail;
        }
    }
    /* on tied-embedding models the mix gives token_embd the output type, so --output-tensor-type
     * reaches it too, after the --tensor-type entries */
    if (have_out && !have_emb && !pure && quantized) {
        bool tied = false;
        if (model) {
            tied = true;
            for (int k = 0; k < model->n_tensors; k++)
                if (strcmp(model->tensors[k].name, "output.weight") == 0) tied = false;
        } else if (qs_strlist_addf(notes, "--output-tensor-type: on models without output.weight llama-quantize also gives "
                                          "token_embd.weight this type; import with the model to include that")) {
            goto oom;
        }
        if (tied && (rc = qs_plan_insert_rule(out, -1, "^(per_layer_)?token_embd\\.weight$", out_type, err))) goto fail;
    }
    rc = QS_OK;
    goto done;
oom:
    rc = QS_ENOMEM;
    qs_error_set(err, "out of memory");
fail:
    if (rc == QS_OK) rc = QS_ERR;
    qs_plan_free(out);
done:
    if (tt)
        for (int k = 0; k < ntt; k++) free(tt[k].pattern);
    free(tt);
    qs_strlist_free(&dummy);
    return rc;
}
