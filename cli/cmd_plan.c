/* quantscope plan MODEL [--preset P] [--rule 'REGEX=TYPE']... [--layer N=TYPE]...
 *                 [--keep-ends N:M=TYPE] [--from PLAN.yaml] [-o PLAN.yaml]
 *                 [--llama-quantize-args] [--json] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_plan.h"
#include "cli_util.h"

const char cmd_plan_usage[] =
    "usage: quantscope plan MODEL.gguf [--from PLAN.yaml] [--preset P] [--default T]\n"
    "                       [--rule 'REGEX=TYPE']... [--layer N=TYPE]... [--tensor NAME=TYPE]...\n"
    "                       [--keep-ends N:M=TYPE] [-o PLAN.yaml] [--llama-quantize-args] [--json]\n\n"
    "Resolves a quantization plan against a model and prints, per tensor, the type it gets,\n"
    "why (override, rule, preset step, fallback) and its bytes, then the totals (bytes, bits per\n"
    "weight). Rules resolve like llama-quantize's --tensor-type: PCRE2 patterns searched in the\n"
    "tensor name, first match wins; overrides act as rules placed in front. Parts of the plan\n"
    "that do nothing on this model (unmatched rules, a plan made for another model) are reported\n"
    "as warnings on stderr.\n\n"
    "  --from PLAN.yaml        start from a plan file (see quantscope-plan(5))\n"
    "  --preset P              a llama.cpp mix: Q8_0 Q6_K Q5_K_M Q5_K_S Q4_K_M Q4_K_S Q3_K_L\n"
    "                          Q3_K_M Q3_K_S Q2_K Q5_0 Q5_1 Q4_0 Q4_1 IQ4_NL IQ4_XS F16 BF16\n"
    "  --default T             the type of every quantizable tensor no rule decides (no preset)\n"
    "  --rule 'REGEX=TYPE'     append a rule (repeatable; the last '=' separates the type)\n"
    "  --layer N=TYPE          every quantizable tensor of block N (repeatable)\n"
    "  --tensor NAME=TYPE      one tensor by exact name (repeatable)\n"
    "  --keep-ends N:M=TYPE    keep the first N and last M blocks at TYPE\n"
    "  --budget SIZE, --bpw X, --imatrix FILE\n"
    "                          the budget planner (not available yet in this build)\n"
    "  -o, --output PLAN.yaml  save the plan (atomically), with this model's fingerprint\n"
    "  --llama-quantize-args   print the equivalent llama-quantize command instead of the table\n"
    "  --json                  print as JSON\n\n"
    "Exit status: 0 done, 1 bad model, plan file or regex, 2 bad usage.\n";

static const char *reason_name(qs_plan_reason r) {
    switch (r) {
    case QS_REASON_KEPT: return "kept";
    case QS_REASON_TENSOR: return "tensor";
    case QS_REASON_LAYER: return "layer";
    case QS_REASON_KEEP: return "keep";
    case QS_REASON_RULE: return "rule";
    case QS_REASON_PRESET: return "preset";
    case QS_REASON_DEFAULT: return "default";
    }
    return "?";
}

/* "LEFT=TYPE" split at the last '=': *left is malloc'd. 0 or -1. */
static int split_eq(const char *arg, char **left, qs_type *type) {
    const char *eq = strrchr(arg, '=');
    if (!eq || eq == arg || qs_type_from_name(eq + 1, type) != QS_OK) return -1;
    *left = strndup(arg, (size_t)(eq - arg));
    return *left ? 0 : -1;
}

/* Command-line edits, kept in order and applied after --from / --preset. */
typedef struct edit {
    int kind; /* 'r' rule, 'l' layer, 't' tensor */
    const char *arg;
} edit;

static int apply_edit(qs_plan *p, const edit *e) {
    char *left = NULL;
    qs_type type;
    qs_error err;
    int rc = QS_OK;
    if (split_eq(e->arg, &left, &type) != 0) {
        free(left);
        return cli_usage_error("plan", "--%s takes %s=TYPE with a known type, not '%s'",
                               e->kind == 'r' ? "rule" : e->kind == 'l' ? "layer" : "tensor",
                               e->kind == 'r' ? "REGEX" : e->kind == 'l' ? "N" : "NAME", e->arg);
    }
    if (e->kind == 'r') {
        rc = qs_plan_insert_rule(p, -1, left, type, &err);
    } else if (e->kind == 'l') {
        int64_t n;
        if (cli_parse_int(left, &n) || n < 0 || n > 100000) {
            free(left);
            return cli_usage_error("plan", "--layer takes N=TYPE with a block number, not '%s'", e->arg);
        }
        rc = qs_plan_set_layer(p, (int)n, type, &err);
    } else {
        rc = qs_plan_set_tensor(p, left, type, &err);
    }
    free(left);
    if (rc != QS_OK) return cli_fail("plan", "%s", rc == QS_ENOMEM ? "out of memory" : err.msg);
    return CLI_OK;
}

static int parse_keep(const char *arg, qs_plan *p) {
    int a, b, n = 0;
    char tname[32];
    qs_type t;
    if (sscanf(arg, "%d:%d=%31s%n", &a, &b, tname, &n) != 3 || arg[n] || a < 0 || b < 0 ||
        qs_type_from_name(tname, &t) != QS_OK || !qs_plan_type_allowed(t))
        return -1;
    p->keep_first = a;
    p->keep_last = b;
    p->keep_type = t;
    return 0;
}

static json_t *strlist_json(const qs_strlist *l) {
    json_t *a = json_array();
    for (int i = 0; i < l->n; i++) json_array_append_new(a, json_string(l->v[i]));
    return a;
}

int cmd_plan(int argc, char **argv) {
    static const struct option opts[] = {
        {"from", required_argument, 0, 'f'},  {"preset", required_argument, 0, 'p'},
        {"default", required_argument, 0, 'd'}, {"rule", required_argument, 0, 'r'},
        {"layer", required_argument, 0, 'l'}, {"tensor", required_argument, 0, 't'},
        {"keep-ends", required_argument, 0, 'k'}, {"output", required_argument, 0, 'o'},
        {"llama-quantize-args", no_argument, 0, 'a'}, {"json", no_argument, 0, 'j'},
        {"budget", required_argument, 0, 'B'}, {"bpw", required_argument, 0, 'W'},
        {"imatrix", required_argument, 0, 'I'}, {0, 0, 0, 0},
    };
    const char *from = NULL, *preset = NULL, *deflt = NULL, *keep = NULL, *out = NULL;
    bool args = false, json = false, budget = false;
    edit *edits = calloc((size_t)argc, sizeof *edits);
    int n_edits = 0, c;
    if (!edits) return cli_fail("plan", "out of memory");
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'f': from = optarg; break;
        case 'p': preset = optarg; break;
        case 'd': deflt = optarg; break;
        case 'r': case 'l': case 't': edits[n_edits++] = (edit){c, optarg}; break;
        case 'k': keep = optarg; break;
        case 'o': out = optarg; break;
        case 'a': args = true; break;
        case 'j': json = true; break;
        case 'B': case 'W': case 'I': budget = true; break;
        default:
            free(edits);
            return cli_usage_error("plan", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) {
        free(edits);
        return cli_usage_error("plan", "expected one MODEL.gguf");
    }
    if (budget) {
        free(edits);
        return cli_fail("plan", "--budget, --bpw and --imatrix: the budget planner is not available yet");
    }
    if (deflt && preset) {
        free(edits);
        return cli_usage_error("plan", "--default and --preset exclude each other (a preset sets the default)");
    }
    const char *model_path = argv[optind];
    cli_planned cp;
    int rc = cli_planned_open(&cp, "plan", model_path, from, preset);
    if (rc != CLI_OK) {
        free(edits);
        return rc;
    }
    if (deflt) {
        qs_type t;
        if (qs_type_from_name(deflt, &t) != QS_OK || !qs_plan_type_allowed(t)) {
            rc = cli_usage_error("plan", "--default takes a type (Q4_K, Q8_0, F16, ...), not '%s'", deflt);
            goto done;
        }
        qs_plan_set_preset(&cp.plan, QS_PRESET_NONE);
        cp.plan.default_type = t;
    }
    for (int i = 0; i < n_edits && rc == CLI_OK; i++) rc = apply_edit(&cp.plan, &edits[i]);
    if (rc != CLI_OK) goto done;
    if (keep && parse_keep(keep, &cp.plan) != 0) {
        rc = cli_usage_error("plan", "--keep-ends takes N:M=TYPE (e.g. 2:2=Q8_0), not '%s'", keep);
        goto done;
    }
    if ((rc = cli_planned_resolve(&cp, "plan")) != CLI_OK) goto done;
    cli_planned_print_warnings(&cp, "plan");

    qs_error err;
    if (out) {
        free(cp.plan.model.file);
        if (qs_model_fingerprint(cp.m, &cp.plan.model) != QS_OK) {
            rc = cli_fail("plan", "out of memory");
            goto done;
        }
        if (qs_plan_save(&cp.plan, out, &err) != QS_OK) {
            rc = cli_fail("plan", "%s", err.msg);
            goto done;
        }
    }

    qs_strlist qargs = {0};
    char *command = NULL;
    if (args) {
        if (qs_plan_export_args(&cp.plan, &cp.p.view, &qargs, &err) != QS_OK) {
            rc = cli_fail("plan", "cannot express this plan as llama-quantize arguments: %s", err.msg);
            goto done;
        }
        /* the output named after the input: model.gguf -> model-FTYPE.gguf */
        char outname[4096];
        size_t len = strlen(model_path);
        if (len > 5 && !strcmp(model_path + len - 5, ".gguf")) len -= 5;
        snprintf(outname, sizeof outname, "%.*s-%s.gguf", (int)len, model_path, qargs.v[qargs.n - 1]);
        command = qs_plan_args_command(&qargs, model_path, outname);
        if (!command) {
            qs_strlist_free(&qargs);
            rc = cli_fail("plan", "out of memory");
            goto done;
        }
    }

    const qs_model *m = cp.m;
    const qs_plan_resolution *r = &cp.p.res;
    double bpw = cp.p.n_params ? (double)cp.p.bytes * 8.0 / (double)cp.p.n_params : 0;
    if (json) {
        json_t *o = json_object(), *ts = json_array();
        json_object_set_new(o, "file", json_string(m->gguf->path));
        json_object_set_new(o, "preset", json_string(qs_preset_name(cp.plan.preset)));
        json_object_set_new(o, "default_type", json_string(qs_type_name(cp.plan.default_type)));
        for (int64_t i = 0; i < m->n_tensors; i++) {
            const qs_plan_choice *ch = &r->choice[i];
            json_t *t = json_object();
            json_object_set_new(t, "name", json_string(m->tensors[i].name));
            json_object_set_new(t, "type", json_string(qs_type_name(ch->type)));
            json_object_set_new(t, "stored_type", json_string(qs_type_name(m->tensors[i].t->type)));
            json_object_set_new(t, "wanted", json_string(qs_type_name(ch->wanted)));
            json_object_set_new(t, "reason", json_string(reason_name(ch->reason)));
            json_object_set_new(t, "index", ch->index >= 0 ? json_integer(ch->index) : json_null());
            json_object_set_new(t, "fallback", json_boolean(ch->fallback));
            json_object_set_new(t, "why", json_string(ch->why));
            json_object_set_new(t, "n_params", json_integer(m->tensors[i].t->n_elements));
            json_object_set_new(t, "bytes", json_integer((json_int_t)qs_planned_tensor_bytes(&cp.p, i)));
            json_array_append_new(ts, t);
        }
        json_object_set_new(o, "tensors", ts);
        json_object_set_new(o, "n_tensors", json_integer(m->n_tensors));
        json_object_set_new(o, "n_params", json_integer(cp.p.n_params));
        json_object_set_new(o, "bytes", json_integer((json_int_t)cp.p.bytes));
        json_object_set_new(o, "bits_per_weight", cli_json_real(bpw));
        json_object_set_new(o, "n_fallback", json_integer(r->n_fallback));
        json_object_set_new(o, "file_type", json_integer(qs_plan_file_type(&cp.plan, &cp.p)));
        json_object_set_new(o, "warnings", strlist_json(&cp.warnings));
        if (args) {
            json_object_set_new(o, "llama_quantize_args", strlist_json(&qargs));
            json_object_set_new(o, "llama_quantize_command", json_string(command));
        }
        if (out) json_object_set_new(o, "saved", json_string(out));
        cli_json_print(o);
    } else if (args) {
        printf("%s\n", command);
    } else {
        char a[64], b[64], d[64];
        printf("%s: plan %s%s%s\n", m->gguf->path,
               cp.plan.preset ? "preset " : "default ", cp.plan.preset ? qs_preset_name(cp.plan.preset) : qs_type_name(cp.plan.default_type),
               cp.plan.n_rules ? " with rules" : "");
        printf("  %-32s %-7s %12s  %s\n", "tensor", "type", "bytes", "reason");
        for (int64_t i = 0; i < m->n_tensors; i++) {
            const qs_plan_choice *ch = &r->choice[i];
            printf("  %-32s %-7s %12s  %s\n", m->tensors[i].name, qs_type_name(ch->type),
                   cli_fmt_bytes(qs_planned_tensor_bytes(&cp.p, i), a, sizeof a), ch->why);
        }
        printf("total: %lld tensors, %s parameters, %s, %.2f bits per weight (stored: %s, %.2f)\n",
               (long long)m->n_tensors, cli_fmt_int(cp.p.n_params, a, sizeof a),
               cli_fmt_bytes(cp.p.bytes, b, sizeof b), bpw,
               cli_fmt_bytes(m->tensor_bytes, d, sizeof d), qs_model_bpw(m));
        if (r->n_fallback) printf("fallbacks: %d tensors could not hold their type\n", r->n_fallback);
        if (out) printf("saved: %s\n", out);
    }
    qs_strlist_free(&qargs);
    free(command);
done:
    free(edits);
    cli_planned_close(&cp);
    return rc;
}
