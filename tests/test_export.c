/* Export: a model written per a plan reopens with the planned types, the input's metadata, and
 * tensor bytes equal to quantizing the source values with the same kernels; refusals; cancel. */
#include "qs_test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"
#include "qs_quantize.h"
#include "synth.h"

/* Exports m per plan to out and checks everything the export promises. */
static void check_export(const char *in_path, const qs_plan *plan, const char *out, int ftype_expected,
                         int64_t chunk_floats, int *n_warnings) {
    qs_error err;
    qs_model *m = qs_model_open(in_path, &err);
    if (!m) fail_msg("%s", err.msg);
    qs_strlist warnings = {0};
    qs_export_opts o = {.n_threads = 3, .chunk_floats = chunk_floats, .warnings = &warnings};
    if (qs_export(m, plan, out, &o, &err) != QS_OK) fail_msg("export: %s", err.msg);
    *n_warnings = warnings.n;
    qs_strlist_free(&warnings);

    qs_planned p;
    assert_int_equal(qs_planned_init(&p, m, plan, &err), QS_OK);
    qs_model *e = qs_model_open(out, &err);
    if (!e) fail_msg("reopen: %s", err.msg);

    /* tensors: same order, names and shapes; planned types; bytes as our kernels make them */
    assert_int_equal(e->n_tensors, m->n_tensors);
    int n_copied = 0, n_converted = 0;
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const gguf_tensor *s = m->tensors[i].t, *t = e->tensors[i].t;
        assert_string_equal(e->tensors[i].name, m->tensors[i].name);
        assert_int_equal(t->n_dims, s->n_dims);
        for (int d = 0; d < 4; d++) assert_int_equal(t->ne[d], s->ne[d]);
        if (t->type != (int)p.res.choice[i].type)
            fail_msg("%s: type %s, planned %s", e->tensors[i].name, qs_type_name(t->type),
                     qs_type_name(p.res.choice[i].type));
        assert_int_equal(t->nbytes, qs_planned_tensor_bytes(&p, i));
        if (t->type == s->type) {
            assert_memory_equal(t->data, s->data, s->nbytes);
            n_copied++;
            continue;
        }
        int64_t ne0 = s->ne[0], rows = s->n_elements / ne0;
        float *f = malloc((size_t)s->n_elements * sizeof *f);
        uint8_t *q = malloc((size_t)t->nbytes);
        qs_quantize_opts one = {.n_threads = 1};
        assert_int_equal(qs_dequantize_rows((qs_type)s->type, s->data, f, ne0, rows, &one, &err), QS_OK);
        assert_int_equal(qs_quantize_rows((qs_type)t->type, f, q, ne0, rows, NULL, &one, &err), QS_OK);
        if (memcmp(q, t->data, t->nbytes) != 0) fail_msg("%s: bytes differ from quantizing the source", e->tensors[i].name);
        free(f);
        free(q);
        n_converted++;
    }
    assert_true(n_copied > 0);
    assert_true(n_converted > 0);

    /* metadata: every input key, equal, except the three the export sets */
    const gguf_file *src = m->gguf, *dst = e->gguf;
    int64_t extra = 0;
    for (int64_t i = 0; i < src->n_kv; i++) {
        const gguf_kv *a = &src->kv[i];
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)a->key.len, a->key.ptr);
        int64_t j = gguf_find_key(dst, key);
        if (j < 0) fail_msg("key %s lost", key);
        if (!strcmp(key, "general.file_type") || !strcmp(key, "general.quantization_version") ||
            !strcmp(key, QS_EXPORT_PLAN_KEY))
            continue;
        const gguf_kv *b = &dst->kv[j];
        assert_int_equal(b->type, a->type);
        assert_int_equal(b->data_bytes, a->data_bytes);
        if (memcmp(a->data, b->data, a->data_bytes) != 0) fail_msg("key %s changed", key);
    }
    extra += gguf_find_key(src, "general.file_type") < 0;
    extra += gguf_find_key(src, "general.quantization_version") < 0;
    extra += gguf_find_key(src, QS_EXPORT_PLAN_KEY) < 0;
    assert_int_equal(dst->n_kv, src->n_kv + extra);
    uint64_t v;
    assert_int_equal(gguf_get_uint(dst, "general.quantization_version", &v), QS_OK);
    assert_int_equal(v, 2);
    assert_int_equal(dst->kv[gguf_find_key(dst, "general.quantization_version")].type, GGUF_VT_UINT32);
    assert_int_equal(gguf_get_uint(dst, "general.file_type", &v), QS_OK);
    assert_int_equal(v, ftype_expected);
    assert_int_equal(dst->kv[gguf_find_key(dst, "general.file_type")].type, GGUF_VT_UINT32);

    /* the recorded plan: the plan itself, with the input's fingerprint */
    gguf_str yaml;
    assert_int_equal(gguf_get_str(dst, QS_EXPORT_PLAN_KEY, &yaml), QS_OK);
    qs_plan rec, want;
    if (qs_plan_parse(yaml.ptr, yaml.len, "recorded", &rec, &err) != QS_OK) fail_msg("%s", err.msg);
    assert_int_equal(qs_plan_copy(&want, plan), QS_OK);
    free(want.model.file);
    assert_int_equal(qs_model_fingerprint(m, &want.model), QS_OK);
    assert_true(qs_plan_equal(&rec, &want));
    assert_int_equal(rec.model.size, src->file_size);
    qs_plan_free(&rec);
    qs_plan_free(&want);

    qs_planned_free(&p);
    qs_model_close(e);
    qs_model_close(m);
}

static void test_stories_q8_0(void **state) {
    (void)state;
    char in[4096], out[4200];
    if (!qs_test_shared_path("models/stories260K.gguf", in, sizeof in)) return;
    snprintf(out, sizeof out, "%s/stories-q8_0.gguf", qs_test_tmpdir());
    qs_plan plan;
    qs_plan_init(&plan);
    qs_plan_set_preset(&plan, QS_PRESET_Q8_0);
    int nw;
    check_export(in, &plan, out, 7 /* LLAMA_FTYPE_MOSTLY_Q8_0 */, 0, &nw);
    assert_int_equal(nw, 0); /* F32 source: nothing requantized */
    /* many small chunks give the same bytes (checked inside against whole-tensor quantization) */
    check_export(in, &plan, out, 7, 100, &nw);
    qs_plan_free(&plan);
}

static void test_tiny_q4_k_m(void **state) {
    (void)state;
    char in[4200], out[4200];
    snprintf(in, sizeof in, "%s/tiny-f16.gguf", qs_test_tmpdir());
    snprintf(out, sizeof out, "%s/tiny-q4_k_m.gguf", qs_test_tmpdir());
    qs_synth_opts so = {.type = QS_TYPE_F16, .seed = 7};
    qs_error err;
    if (qs_synth_write(qs_synth_find("tiny"), in, &so, &err) != QS_OK) fail_msg("%s", err.msg);
    qs_plan plan;
    qs_plan_init(&plan);
    qs_plan_set_preset(&plan, QS_PRESET_Q4_K_M);
    int nw;
    check_export(in, &plan, out, 15 /* LLAMA_FTYPE_MOSTLY_Q4_K_M */, 1000, &nw);
    assert_int_equal(nw, 0);
    /* the mix really is mixed: Q4_K, Q6_K and the F32 norms */
    qs_model *e = qs_model_open(out, &err);
    assert_non_null(e);
    assert_true(e->by_type[QS_TYPE_Q4_K].n_tensors > 0);
    assert_true(e->by_type[QS_TYPE_Q6_K].n_tensors > 0);
    assert_true(e->by_type[QS_TYPE_F32].n_tensors > 0);
    assert_int_equal(e->hp.file_type, 15);
    qs_model_close(e);

    /* requantizing the Q4_K_M file to Q8_0 works, with a warning naming the source types */
    char out2[4200];
    snprintf(out2, sizeof out2, "%s/tiny-requant.gguf", qs_test_tmpdir());
    qs_plan_set_preset(&plan, QS_PRESET_Q8_0);
    check_export(out, &plan, out2, 7, 0, &nw);
    assert_int_equal(nw, 2); /* from Q4_K and from Q6_K */
    qs_model *m = qs_model_open(out, &err);
    qs_strlist w = {0};
    qs_export_opts o = {.warnings = &w};
    assert_int_equal(qs_export(m, &plan, out2, &o, &err), QS_OK);
    assert_int_equal(w.n, 2);
    assert_non_null(strstr(w.v[0], "requantizing"));
    assert_non_null(strstr(w.v[0], "Q4_K"));
    assert_non_null(strstr(w.v[1], "Q6_K"));
    qs_strlist_free(&w);
    qs_model_close(m);

    /* a plan without a preset: file type from its default type */
    qs_plan_set_preset(&plan, QS_PRESET_NONE);
    plan.default_type = QS_TYPE_Q5_0;
    check_export(in, &plan, out2, 8 /* MOSTLY_Q5_0 */, 0, &nw);
    qs_plan_free(&plan);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_refuses_input(void **state) {
    (void)state;
    char dir[4200], in[4300], link[4300];
    snprintf(dir, sizeof dir, "%s/refuse", qs_test_tmpdir());
    mkdir(dir, 0755);
    snprintf(in, sizeof in, "%s/model.gguf", dir);
    snprintf(link, sizeof link, "%s/link.gguf", dir);
    qs_synth_opts so = {.type = QS_TYPE_F32, .seed = 3};
    qs_error err;
    assert_int_equal(qs_synth_write(qs_synth_find("tiny"), in, &so, &err), QS_OK);
    struct stat before;
    assert_int_equal(stat(in, &before), 0);
    unlink(link);
    assert_int_equal(symlink("model.gguf", link), 0);
    qs_model *m = qs_model_open(in, &err);
    assert_non_null(m);
    qs_plan plan;
    qs_plan_init(&plan);
    qs_plan_set_preset(&plan, QS_PRESET_Q8_0);
    assert_int_equal(qs_export(m, &plan, in, NULL, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "input model"));
    assert_int_equal(qs_export(m, &plan, link, NULL, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "input model"));
    char dotted[4400];
    snprintf(dotted, sizeof dotted, "%s/../refuse/./model.gguf", dir);
    assert_int_equal(qs_export(m, &plan, dotted, NULL, &err), QS_ERR);
    struct stat after;
    assert_int_equal(stat(in, &after), 0);
    assert_int_equal(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
    assert_int_equal(after.st_size, before.st_size);
    assert_int_equal(count_entries(dir), 2); /* model and link: no temporary file */
    qs_plan_free(&plan);
    qs_model_close(m);
}

typedef struct cancel_ctx {
    int calls, stop_at;
    uint64_t last_done, total;
    bool monotonic;
} cancel_ctx;

static int cancel_progress(void *user, uint64_t done, uint64_t total) {
    cancel_ctx *c = user;
    if (done < c->last_done) c->monotonic = false;
    c->last_done = done;
    c->total = total;
    return ++c->calls >= c->stop_at;
}

static void test_cancel_and_progress(void **state) {
    (void)state;
    char dir[4200], in[4300], out[4300];
    snprintf(dir, sizeof dir, "%s/cancel", qs_test_tmpdir());
    mkdir(dir, 0755);
    snprintf(in, sizeof in, "%s/model.gguf", dir);
    snprintf(out, sizeof out, "%s/out.gguf", dir);
    qs_synth_opts so = {.type = QS_TYPE_F16, .seed = 5};
    qs_error err;
    assert_int_equal(qs_synth_write(qs_synth_find("tiny"), in, &so, &err), QS_OK);
    qs_model *m = qs_model_open(in, &err);
    qs_plan plan;
    qs_plan_init(&plan);
    qs_plan_set_preset(&plan, QS_PRESET_Q4_K_M);

    /* a full run reports bytes over the whole model, ending at the total */
    qs_planned p;
    assert_int_equal(qs_planned_init(&p, m, &plan, &err), QS_OK);
    cancel_ctx c = {.stop_at = 1 << 30, .monotonic = true};
    qs_export_opts o = {.n_threads = 2, .chunk_floats = 4096, .progress = cancel_progress, .progress_user = &c};
    assert_int_equal(qs_export(m, &plan, out, &o, &err), QS_OK);
    assert_true(c.monotonic);
    assert_int_equal(c.total, p.bytes);
    assert_int_equal(c.last_done, p.bytes);
    assert_true(c.calls > 20);
    unlink(out);

    /* cancelled half-way by the callback: no output, no temporary file */
    cancel_ctx h = {.stop_at = c.calls / 2, .monotonic = true};
    o.progress_user = &h;
    assert_int_equal(qs_export(m, &plan, out, &o, &err), QS_CANCELLED);
    assert_int_not_equal(access(out, F_OK), 0);
    assert_int_equal(count_entries(dir), 1);

    /* cancelled by the flag before starting; an existing output stays as it was */
    FILE *f = fopen(out, "w");
    fputs("old", f);
    fclose(f);
    atomic_int flag = 1;
    qs_export_opts o2 = {.cancel = &flag};
    assert_int_equal(qs_export(m, &plan, out, &o2, &err), QS_CANCELLED);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_size, 3);
    assert_int_equal(count_entries(dir), 2);

    qs_planned_free(&p);
    qs_plan_free(&plan);
    qs_model_close(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories_q8_0),
        cmocka_unit_test(test_tiny_q4_k_m),
        cmocka_unit_test(test_refuses_input),
        cmocka_unit_test(test_cancel_and_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
