/* quantscope errors MODEL --type T [--tensor REGEX] [--sample F] [--histogram] [--json] */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <getopt.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "model.h"
#include "qs_metrics.h"

const char cmd_errors_usage[] =
    "usage: quantscope errors MODEL.gguf --type T [--tensor REGEX] [--sample FRACTION]\n"
    "                         [--histogram] [--threads N] [--json]\n\n"
    "Measures the error that quantizing each weight matrix to type T adds, from its current\n"
    "values: RMSE, relative RMSE (/ RMS of the weights), max |error|, mean |error|, SNR in dB,\n"
    "cosine similarity, and totals over the model. 1-D tensors (norms, biases) are skipped:\n"
    "llama.cpp keeps them F32.\n\n"
    "  --type T           target type (Q4_K, Q8_0, IQ4_XS, F16, ...)\n"
    "  --tensor REGEX     only tensors whose name matches (PCRE2, searched, not anchored)\n"
    "  --sample FRACTION  measure a deterministic subset of rows (0 < F <= 1); default exact\n"
    "  --histogram        print each tensor's error histogram\n"
    "  --threads N        worker threads (default: all cores)\n"
    "  --json             print as JSON\n";

typedef struct progress_ctx {
    const char *name;
    int index, count;
} progress_ctx;

static int progress_cb(void *user, uint64_t done, uint64_t total) {
    const progress_ctx *p = user;
    fprintf(stderr, "\r  [%d/%d] %-32s %3d%%", p->index, p->count, p->name, total ? (int)(100 * done / total) : 100);
    return 0;
}

static json_t *metrics_json(const qs_metrics *m, bool hist) {
    json_t *o = json_object();
    json_object_set_new(o, "rmse", cli_json_real(m->rmse));
    json_object_set_new(o, "rel_rmse", cli_json_real(m->rel_rmse));
    json_object_set_new(o, "max_abs", cli_json_real(m->max_abs));
    json_object_set_new(o, "mean_abs", cli_json_real(m->mean_abs));
    json_object_set_new(o, "rms_weights", cli_json_real(m->rms_w));
    json_object_set_new(o, "snr_db", cli_json_real(m->snr_db));
    json_object_set_new(o, "cosine", cli_json_real(m->cosine));
    json_object_set_new(o, "n_values", json_integer(m->n_values));
    json_object_set_new(o, "fraction", json_real(m->fraction));
    if (hist && m->hist_bins > 0) {
        json_t *h = json_object(), *c = json_array();
        json_object_set_new(h, "range", json_real(m->hist_range));
        json_object_set_new(h, "range_rel", json_real(m->hist_range_rel));
        for (int i = 0; i < m->hist_bins; i++) json_array_append_new(c, json_integer((json_int_t)m->hist[i]));
        json_object_set_new(h, "counts", c);
        json_object_set_new(h, "under", json_integer((json_int_t)m->hist_under));
        json_object_set_new(h, "over", json_integer((json_int_t)m->hist_over));
        json_object_set_new(o, "histogram", h);
    }
    return o;
}

/* A vertical text histogram: bins merged to at most 48 columns, 8 rows high. */
static void print_histogram(const qs_metrics *m, bool utf8) {
    int cols = m->hist_bins > 48 ? 48 : m->hist_bins, per = (m->hist_bins + cols - 1) / cols;
    cols = (m->hist_bins + per - 1) / per;
    uint64_t v[QS_METRICS_MAX_BINS] = {0}, mx = 0;
    for (int i = 0; i < m->hist_bins; i++) v[i / per] += m->hist[i];
    for (int i = 0; i < cols; i++) mx = v[i] > mx ? v[i] : mx;
    static const char *const blocks[] = {" ", "\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
    const int rows = 6;
    for (int r = rows - 1; r >= 0; r--) {
        printf("    |");
        for (int i = 0; i < cols; i++) {
            double h = mx ? (double)v[i] * rows / (double)mx : 0;
            double f = h - r;
            if (utf8) fputs(blocks[f >= 1 ? 8 : f <= 0 ? 0 : (int)(f * 8)], stdout);
            else putchar(f >= 0.5 ? '#' : ' ');
        }
        printf("|\n");
    }
    printf("    %-*.3g0%*.3g\n", cols / 2 + 1, -m->hist_range, cols / 2, m->hist_range);
    printf("    error in weight units (x RMS of weights: +-%.3g); outside: %llu below, %llu above\n",
           m->hist_range_rel, (unsigned long long)m->hist_under, (unsigned long long)m->hist_over);
}

int cmd_errors(int argc, char **argv) {
    static const struct option opts[] = {
        {"type", required_argument, 0, 't'},   {"tensor", required_argument, 0, 'r'},
        {"sample", required_argument, 0, 's'}, {"histogram", no_argument, 0, 'h'},
        {"threads", required_argument, 0, 'n'}, {"json", no_argument, 0, 'j'},
        {0, 0, 0, 0},
    };
    const char *type_name = NULL, *regex = NULL;
    double sample = 1.0;
    bool hist = false, json = false;
    int64_t threads = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': type_name = optarg; break;
        case 'r': regex = optarg; break;
        case 's':
            if (cli_parse_double(optarg, &sample) || !(sample > 0 && sample <= 1))
                return cli_usage_error("errors", "--sample takes a fraction in (0, 1], not '%s'", optarg);
            break;
        case 'h': hist = true; break;
        case 'n':
            if (cli_parse_int(optarg, &threads) || threads < 1 || threads > 1024)
                return cli_usage_error("errors", "--threads takes a count from 1 to 1024, not '%s'", optarg);
            break;
        case 'j': json = true; break;
        default: return cli_usage_error("errors", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) return cli_usage_error("errors", "expected one MODEL.gguf");
    if (!type_name) return cli_usage_error("errors", "--type is required");
    qs_type type;
    if (qs_type_from_name(type_name, &type) != QS_OK)
        return cli_usage_error("errors", "unknown type '%s'", type_name);
    if (!qs_type_can_quantize(type))
        return cli_fail("errors", "quantscope cannot quantize to %s yet", qs_type_name(type));

    pcre2_code *re = NULL;
    if (regex) {
        int ec;
        PCRE2_SIZE eo;
        re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &eo, NULL);
        if (!re) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return cli_fail("errors", "--tensor '%s': %s at offset %zu", regex, (char *)msg, (size_t)eo);
        }
    }
    qs_error err;
    qs_model *m = qs_model_open(argv[optind], &err);
    if (!m) {
        pcre2_code_free(re);
        return cli_fail("errors", "%s", err.msg);
    }
    pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;
    bool *sel = calloc((size_t)(m->n_tensors + 1), sizeof *sel);
    int n_sel = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const qs_model_tensor *t = &m->tensors[i];
        if (t->t->n_dims < 2) continue;
        if (re && pcre2_match(re, (PCRE2_SPTR)t->name, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL) < 0) continue;
        sel[i] = true;
        n_sel++;
    }
    bool tty = !json && isatty(2);
    bool utf8 = cli_utf8();
    qs_metrics total;
    qs_metrics_total_init(&total);
    json_t *jt = json ? json_array() : NULL, *jskip = json ? json_array() : NULL;
    int rc = CLI_OK, idx = 0, measured = 0;
    char a[64];
    if (!json)
        printf("%-32s %-6s %11s %9s %11s %8s %9s%s\n", "tensor", "from", "rmse", "rel", "max|e|", "snr dB", "cosine",
               sample < 1 ? "  sampled" : "");
    for (int64_t i = 0; i < m->n_tensors && rc == CLI_OK; i++) {
        if (!sel[i]) continue;
        const qs_model_tensor *t = &m->tensors[i];
        idx++;
        const qs_type_traits *tr = qs_type_traits_get(type);
        char why[160] = "";
        if (t->t->ne[0] % tr->blck_size)
            snprintf(why, sizeof why, "row of %lld cannot hold %s blocks (%d)", (long long)t->t->ne[0], tr->name, tr->blck_size);
        else if (!qs_type_can_read(t->t->type))
            snprintf(why, sizeof why, "stored as %s, which quantscope cannot read yet", qs_type_name(t->t->type));
        if (why[0]) {
            if (json) {
                json_t *o = json_object();
                json_object_set_new(o, "name", json_string(t->name));
                json_object_set_new(o, "reason", json_string(why));
                json_array_append_new(jskip, o);
            } else {
                printf("%-32s skipped: %s\n", t->name, why);
            }
            continue;
        }
        qs_metrics_opts o;
        qs_metrics_opts_default(&o);
        o.n_threads = (int)threads;
        if (sample < 1) {
            o.mode = QS_METRICS_SAMPLED;
            o.sample_fraction = sample;
        }
        progress_ctx pc = {t->name, idx, n_sel};
        if (tty) {
            o.progress = progress_cb;
            o.progress_user = &pc;
        }
        qs_metrics r;
        int64_t rows = t->t->n_elements / t->t->ne[0];
        if (qs_metrics_compute((qs_type)t->t->type, t->t->data, t->t->ne[0], rows, type, &o, &r, &err) != QS_OK) {
            if (tty) fputc('\n', stderr);
            rc = cli_fail("errors", "%s: %s", t->name, err.msg);
            break;
        }
        if (tty) fprintf(stderr, "\r%*s\r", 60, "");
        qs_metrics_combine(&total, &r);
        measured++;
        if (json) {
            json_t *jo = metrics_json(&r, hist);
            json_object_set_new(jo, "name", json_string(t->name));
            json_object_set_new(jo, "from", json_string(qs_type_name(t->t->type)));
            json_array_append_new(jt, jo);
        } else {
            printf("%-32s %-6s %11.4g %9.4g %11.4g %8.2f %9.6f", t->name, qs_type_name(t->t->type), r.rmse, r.rel_rmse,
                   r.max_abs, r.snr_db, r.cosine);
            if (sample < 1) printf("  %5.1f%%", 100.0 * r.fraction);
            printf("\n");
            if (hist) print_histogram(&r, utf8);
        }
    }
    if (rc == CLI_OK) {
        if (json) {
            json_t *out = json_object();
            json_object_set_new(out, "model", json_string(m->gguf->path));
            json_object_set_new(out, "type", json_string(qs_type_name(type)));
            json_object_set_new(out, "sample", json_real(sample));
            json_object_set_new(out, "tensors", jt);
            json_object_set_new(out, "skipped", jskip);
            json_object_set_new(out, "total", measured ? metrics_json(&total, false) : json_null());
            cli_json_print(out);
            jt = jskip = NULL;
        } else if (measured) {
            printf("%-32s %-6s %11.4g %9.4g %11.4g %8.2f %9.6f\n", "total", "", total.rmse, total.rel_rmse, total.max_abs,
                   total.snr_db, total.cosine);
            printf("%d tensors measured (%s values) for %s\n", measured, cli_fmt_count(total.n_values, a, sizeof a),
                   qs_type_name(type));
        } else {
            printf("no tensor measured\n");
        }
    }
    json_decref(jt);
    json_decref(jskip);
    free(sel);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    qs_model_close(m);
    return rc;
}
