/* quantscope tensor MODEL NAME [--raw-f32 FILE] [--json]: one tensor's facts and values. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "model.h"
#include "qs_fp16.h"
#include "qs_stats.h"
#include "qs_tmpfile.h"

const char cmd_tensor_usage[] =
    "usage: quantscope tensor MODEL.gguf NAME [--raw-f32 FILE] [--json]\n\n"
    "Prints one tensor's facts (shape, type, bytes, offset, block) and value statistics\n"
    "(min, max, mean, std, rms, zeros, NaN/Inf).\n\n"
    "  --raw-f32 FILE   also write its dequantized values as little-endian float32\n"
    "  --json           print as JSON\n";

/* Lists the names closest to an unknown one on stderr. */
static void suggest(const qs_model *m, const char *name) {
    int64_t idx[8];
    int n = qs_model_similar(m, name, idx, 8);
    if (n > 0) fprintf(stderr, "  did you mean:\n");
    for (int i = 0; i < n; i++) fprintf(stderr, "    %s\n", m->tensors[idx[i]].name);
    if (n == 0) fprintf(stderr, "  (no similar name; 'quantscope info %s' lists the %lld tensors)\n", m->gguf->path,
                        (long long)m->n_tensors);
}

/* Writes the tensor's values as float32 to path through a locked temporary file and rename
 * (qs_tmpfile.h: a killed run leaves no partial file, and its leftover is cleaned up later). */
static int write_raw(const qs_model_tensor *t, const char *path, qs_error *err) {
    const qs_type_traits *tr = qs_type_traits_get(t->t->type);
    char *tmp;
    int fd = qs_tmp_create(path, 0666, &tmp, err);
    if (fd < 0) return QS_ERR;
    int64_t per_row = t->n_per_row, rows = t->n_rows;
    float *row = malloc((size_t)(per_row ? per_row : 1) * sizeof *row);
    uint64_t rb = qs_type_row_bytes(t->t->type, per_row);
    int rc = row ? QS_OK : qs_error_set(err, "%s: out of memory", path);
    for (int64_t r = 0; rc == QS_OK && r < rows; r++) {
        tr->to_float(t->t->data + (uint64_t)r * rb, row, per_row);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        for (int64_t j = 0; j < per_row; j++) row[j] = qs_bits_f32(__builtin_bswap32(qs_f32_bits(row[j])));
#endif
        const char *p = (const char *)row;
        size_t left = (size_t)per_row * sizeof *row;
        while (rc == QS_OK && left > 0) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0)
                rc = qs_error_set(err, "%s: write failed: %s (temporary file removed)", tmp,
                                  w < 0 ? strerror(errno) : "no progress");
            else
                p += w, left -= (size_t)w;
        }
    }
    if (rc == QS_OK) rc = qs_tmp_commit(fd, tmp, path, err);
    else qs_tmp_abort(fd, tmp);
    free(row);
    free(tmp);
    return rc;
}

int cmd_tensor(int argc, char **argv) {
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {"raw-f32", required_argument, 0, 'r'}, {0, 0, 0, 0}};
    bool json = false;
    const char *raw = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') json = true;
        else if (c == 'r') raw = optarg;
        else return cli_usage_error("tensor", "unknown option or missing value '%s'", argv[optind - 1]);
    }
    if (argc - optind != 2) return cli_usage_error("tensor", "expected MODEL.gguf and a tensor NAME");
    qs_error err;
    qs_model *m = qs_model_open(argv[optind], &err);
    if (!m) return cli_fail("tensor", "%s", err.msg);
    const char *name = argv[optind + 1];
    int64_t i = qs_model_find(m, name);
    if (i < 0) {
        cli_fail("tensor", "%s: no tensor named '%s'", m->gguf->path, name);
        suggest(m, name);
        qs_model_close(m);
        return CLI_FAIL;
    }
    const qs_model_tensor *t = &m->tensors[i];
    if (!qs_type_can_read(t->t->type)) {
        cli_fail("tensor", "%s: tensor '%s' is %s, whose values quantscope cannot read yet", m->gguf->path, name,
                 qs_type_name(t->t->type));
        qs_model_close(m);
        return CLI_FAIL;
    }
    qs_value_stats s;
    static const double ps[] = {1, 5, 25, 50, 75, 95, 99};
    enum { NP = sizeof ps / sizeof ps[0] };
    double pv[NP] = {0};
    int64_t p_used = 0;
    if (t->n_rows > 0 &&
        (qs_value_stats_compute(t->t->type, t->t->data, t->n_per_row, t->n_rows, &s, &err) != QS_OK ||
         qs_value_percentiles(t->t->type, t->t->data, t->n_per_row, t->n_rows, ps, NP, 0, pv, &p_used, &err) != QS_OK)) {
        qs_model_close(m);
        return cli_fail("tensor", "%s: tensor '%s': %s", m->gguf->path, name, err.msg);
    }
    if (t->n_rows == 0) memset(&s, 0, sizeof s);
    bool p_exact = p_used == s.n - s.n_nan - s.n_inf;
    if (raw && write_raw(t, raw, &err) != QS_OK) {
        qs_model_close(m);
        return cli_fail("tensor", "%s", err.msg);
    }
    uint64_t offset = m->gguf->data_offset + t->t->offset;
    if (json) {
        json_t *o = json_object(), *shape = json_array();
        json_object_set_new(o, "name", json_string(t->name));
        for (int d = 0; d < t->t->n_dims; d++) json_array_append_new(shape, json_integer(t->t->ne[d]));
        json_object_set_new(o, "shape", shape);
        json_object_set_new(o, "type", json_string(qs_type_name(t->t->type)));
        json_object_set_new(o, "bytes", json_integer((json_int_t)t->t->nbytes));
        json_object_set_new(o, "offset", json_integer((json_int_t)offset));
        json_object_set_new(o, "block", t->block >= 0 ? json_integer(t->block) : json_null());
        json_object_set_new(o, "n_elements", json_integer(t->t->n_elements));
        json_object_set_new(o, "bits_per_weight", json_real(qs_type_bpw(t->t->type)));
        json_t *st = json_object();
        json_object_set_new(st, "min", cli_json_real(s.min));
        json_object_set_new(st, "max", cli_json_real(s.max));
        json_object_set_new(st, "mean", cli_json_real(s.mean));
        json_object_set_new(st, "std", cli_json_real(s.std));
        json_object_set_new(st, "rms", cli_json_real(s.rms));
        json_object_set_new(st, "mean_abs", cli_json_real(s.mean_abs));
        json_object_set_new(st, "zeros", json_integer(s.n_zero));
        json_object_set_new(st, "nan", json_integer(s.n_nan));
        json_object_set_new(st, "inf", json_integer(s.n_inf));
        json_t *pj = json_object();
        for (int k = 0; k < NP; k++) {
            char key[24];
            snprintf(key, sizeof key, "p%g", ps[k]);
            json_object_set_new(pj, key, cli_json_real(pv[k]));
        }
        json_object_set_new(st, "percentiles", pj);
        json_object_set_new(st, "percentiles_from", json_integer(p_used));
        json_object_set_new(st, "percentiles_exact", json_boolean(p_exact));
        json_object_set_new(o, "values", st);
        if (raw) json_object_set_new(o, "raw_f32", json_string(raw));
        cli_json_print(o);
    } else {
        char a[64], b[64];
        printf("%s\n", t->name);
        printf("  %-10s ", "shape");
        for (int d = 0; d < t->t->n_dims; d++) printf("%s%lld", d ? " x " : "", (long long)t->t->ne[d]);
        printf("  (%s elements)\n", cli_fmt_int(t->t->n_elements, a, sizeof a));
        printf("  %-10s %s (%.4g bits per weight)\n", "type", qs_type_name(t->t->type), qs_type_bpw(t->t->type));
        printf("  %-10s %s (%s)\n", "bytes", cli_fmt_bytes(t->t->nbytes, a, sizeof a), cli_fmt_int((int64_t)t->t->nbytes, b, sizeof b));
        printf("  %-10s %llu\n", "offset", (unsigned long long)offset);
        if (t->block >= 0) printf("  %-10s %d\n", "block", t->block);
        else printf("  %-10s - (outside blocks)\n", "block");
        printf("  %-10s min %.6g  max %.6g  mean %.6g  std %.6g  rms %.6g\n", "values", s.min, s.max, s.mean, s.std, s.rms);
        printf("  %-10s mean |x| %.6g\n", "", s.mean_abs);
        printf("  %-10s %lld zeros, %lld NaN, %lld Inf\n", "", (long long)s.n_zero, (long long)s.n_nan, (long long)s.n_inf);
        printf("  %-10s ", "percentile");
        for (int k = 0; k < NP; k++) printf("%sp%g %.4g", k ? "  " : "", ps[k], pv[k]);
        if (p_exact) printf("\n");
        else printf("\n  %-10s (percentiles from %s of the values, whole rows evenly spread)\n", "",
                    cli_fmt_int(p_used, a, sizeof a));
        if (raw) printf("  %-10s %s (%lld float32 values)\n", "written", raw, (long long)t->t->n_elements);
    }
    qs_model_close(m);
    return CLI_OK;
}
