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
#include "qs_stats.h"

const char cmd_tensor_usage[] =
    "usage: quantscope tensor MODEL.gguf NAME [--raw-f32 FILE] [--json]\n\n"
    "Prints one tensor's facts (shape, type, bytes, offset, block) and value statistics\n"
    "(min, max, mean, std, rms, zeros, NaN/Inf).\n\n"
    "  --raw-f32 FILE   also write its dequantized values as little-endian float32\n"
    "  --json           print as JSON\n";

/* Suggests names that contain `name` or share its longest prefix. */
static void suggest(const qs_model *m, const char *name) {
    int shown = 0;
    for (int64_t i = 0; i < m->n_tensors && shown < 8; i++)
        if (strstr(m->tensors[i].name, name)) fprintf(stderr, "%s  %s\n", shown++ ? "" : "  did you mean:\n", m->tensors[i].name);
    if (shown) return;
    size_t best = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        size_t k = 0;
        while (name[k] && m->tensors[i].name[k] == name[k]) k++;
        if (k > best) best = k;
    }
    for (int64_t i = 0; i < m->n_tensors && shown < 8 && best > 0; i++)
        if (strncmp(m->tensors[i].name, name, best) == 0)
            fprintf(stderr, "%s  %s\n", shown++ ? "" : "  did you mean:\n", m->tensors[i].name);
}

/* Writes the tensor's values as float32 to path through a temporary file and rename. */
static int write_raw(const qs_model_tensor *t, const char *path, qs_error *err) {
    const qs_type_traits *tr = qs_type_traits_get(t->t->type);
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) return qs_error_set(err, "out of memory");
    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        qs_error_set(err, "%s: cannot create a temporary file: %s", path, strerror(errno));
        free(tmp);
        return QS_ERR;
    }
    FILE *f = fdopen(fd, "wb");
    int64_t per_row = t->t->ne[0], rows = t->t->n_elements / (per_row ? per_row : 1);
    float *row = malloc((size_t)(per_row ? per_row : 1) * sizeof *row);
    uint64_t rb = qs_type_row_bytes(t->t->type, per_row);
    int rc = f && row ? QS_OK : qs_error_set(err, "%s: %s", path, strerror(errno));
    for (int64_t r = 0; rc == QS_OK && r < rows; r++) {
        tr->to_float(t->t->data + (uint64_t)r * rb, row, per_row);
        if (fwrite(row, sizeof *row, (size_t)per_row, f) != (size_t)per_row)
            rc = qs_error_set(err, "%s: write failed: %s", path, strerror(errno));
    }
    if (f && fclose(f) != 0 && rc == QS_OK) rc = qs_error_set(err, "%s: write failed: %s", path, strerror(errno));
    if (!f) close(fd);
    if (rc == QS_OK && rename(tmp, path) != 0) rc = qs_error_set(err, "%s: %s", path, strerror(errno));
    if (rc != QS_OK) unlink(tmp);
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
    int64_t per_row = t->t->ne[0];
    if (qs_value_stats_compute(t->t->type, t->t->data, per_row, t->t->n_elements / per_row, &s, &err) != QS_OK) {
        qs_model_close(m);
        return cli_fail("tensor", "%s", err.msg);
    }
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
        json_object_set_new(o, "values", st);
        if (raw) json_object_set_new(o, "raw_f32", json_string(raw));
        cli_json_print(o);
    } else {
        char a[64], b[64];
        printf("%s\n", t->name);
        printf("  %-10s", "shape");
        for (int d = 0; d < t->t->n_dims; d++) printf("%s%lld", d ? " x " : "", (long long)t->t->ne[d]);
        printf("  (%s elements)\n", cli_fmt_int(t->t->n_elements, a, sizeof a));
        printf("  %-10s %s (%.4g bits per weight)\n", "type", qs_type_name(t->t->type), qs_type_bpw(t->t->type));
        printf("  %-10s %s (%s)\n", "bytes", cli_fmt_bytes(t->t->nbytes, a, sizeof a), cli_fmt_int((int64_t)t->t->nbytes, b, sizeof b));
        printf("  %-10s %llu\n", "offset", (unsigned long long)offset);
        if (t->block >= 0) printf("  %-10s %d\n", "block", t->block);
        else printf("  %-10s - (outside blocks)\n", "block");
        printf("  %-10s min %.6g  max %.6g  mean %.6g  std %.6g  rms %.6g\n", "values", s.min, s.max, s.mean, s.std, s.rms);
        printf("  %-10s %lld zeros, %lld NaN, %lld Inf\n", "", (long long)s.n_zero, (long long)s.n_nan, (long long)s.n_inf);
        if (raw) printf("  %-10s %s (%lld float32 values)\n", "written", raw, (long long)t->t->n_elements);
    }
    qs_model_close(m);
    return CLI_OK;
}
