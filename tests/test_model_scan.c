/* The model picker's scan: fake trees in a temporary HOME (a Hugging Face snapshot with symlinks
 * into blobs, llama.cpp's cache, an Ollama manifest and blob, LM Studio's folder,
 * $QUANTSCOPE_MODEL_PATH, the current folder) holding small GGUFs written by our own writer,
 * plus files that cannot be used. */
#include "qs_test_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "model_scan.h"
#include "qs_types.h"

static char root[512];

static void mkdirs(const char *path) {
    char b[1024];
    snprintf(b, sizeof b, "%s", path);
    for (char *p = b + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(b, 0755);
            *p = '/';
        }
    if (mkdir(b, 0755) != 0 && errno != EEXIST) fail_msg("mkdir %s: %s", b, strerror(errno));
}

static const char *at(const char *rel) {
    static char bufs[8][1024];
    static int k;
    char *b = bufs[k++ % 8];
    if (snprintf(b, 1024, "%s/%s", root, rel) >= 1024) fail_msg("path too long");
    return b;
}

/* A GGUF of `rows` x 64 F32 values (and a 64-value norm), with the given metadata; file_type < 0
 * leaves general.file_type out. */
static void write_gguf(const char *path, const char *arch, const char *name, int file_type, int rows) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    mkdirs(dir);
    qs_error err;
    gguf_writer *w = gguf_writer_open(path, 0, &err);
    if (!w) fail_msg("%s", err.msg);
    assert_int_equal(gguf_writer_set_str(w, "general.architecture", arch), QS_OK);
    if (name) assert_int_equal(gguf_writer_set_str(w, "general.name", name), QS_OK);
    if (file_type >= 0) assert_int_equal(gguf_writer_set_u32(w, "general.file_type", (uint32_t)file_type), QS_OK);
    int64_t ne[2] = {64, rows}, ne1[1] = {64};
    assert_int_equal(gguf_writer_add_tensor(w, "blk.0.attn_q.weight", QS_TYPE_F32, 2, ne), QS_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "blk.0.attn_norm.weight", QS_TYPE_F32, 1, ne1), QS_OK);
    float *z = calloc((size_t)(64 * rows), sizeof *z);
    assert_int_equal(gguf_writer_write(w, z, (uint64_t)(64 * rows) * 4), QS_OK);
    assert_int_equal(gguf_writer_write(w, z, 64 * 4), QS_OK);
    free(z);
    if (gguf_writer_finish(w, &err) != QS_OK) fail_msg("%s", err.msg);
}

static void write_text(const char *path, const char *text) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    mkdirs(dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static uint64_t file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static const qs_scan_entry *find(const qs_scan_list *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].name, name)) return &l->v[i];
    return NULL;
}

static const char *const HEX = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char *const HEX2 = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

static void manifest(const char *rel, const char *digest) {
    char j[1024];
    snprintf(j, sizeof j,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
             "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":"
             "\"sha256:%s\",\"size\":10},\"layers\":["
             "{\"mediaType\":\"application/vnd.ollama.image.template\",\"digest\":\"sha256:%s\",\"size\":5},"
             "{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"sha256:%s\",\"size\":100}]}",
             HEX2, HEX2, digest);
    write_text(at(rel), j);
}

static void build_tree(void) {
    snprintf(root, sizeof root, "%s/scan", qs_test_tmpdir());
    mkdirs(root);
    /* the current folder */
    write_gguf(at("here/alpha.gguf"), "llama", "Alpha 1B", 7, 4); /* 7 = MOSTLY_Q8_0 */
    write_text(at("here/broken.gguf"), "not a model at all\n");
    write_text(at("here/notes.txt"), "ignored: not .gguf\n");
    write_gguf(at("here/big-00001-of-00002.gguf"), "llama", "Big", 1, 2);
    write_gguf(at("here/big-00002-of-00002.gguf"), "llama", "Big", 1, 2);
    /* $QUANTSCOPE_MODEL_PATH: a folder searched recursively, and one that does not exist */
    write_gguf(at("mp/deep/er/gamma.gguf"), "qwen2", "Gamma", -1, 8);
    /* Hugging Face: snapshots hold relative symlinks into blobs/, one of them dangling */
    write_gguf(at("home/.cache/huggingface/hub/models--org--repo/blobs/b1"), "llama", "Repo", 15, 4); /* Q4_K_M */
    mkdirs(at("home/.cache/huggingface/hub/models--org--repo/snapshots/rev1/sub"));
    assert_int_equal(symlink("../../../blobs/b1", at("home/.cache/huggingface/hub/models--org--repo/snapshots/rev1/sub/m-Q4_K_M.gguf")), 0);
    assert_int_equal(symlink("../../blobs/missing", at("home/.cache/huggingface/hub/models--org--repo/snapshots/rev1/gone.gguf")), 0);
    /* llama.cpp's cache */
    write_gguf(at("home/.cache/llama.cpp/org_x_delta.gguf"), "phi3", NULL, 1, 2);
    /* Ollama: a library model, a namespaced one, one whose blob is missing, a bad manifest */
    char blob[1024];
    snprintf(blob, sizeof blob, "home/.ollama/models/blobs/sha256-%s", HEX);
    write_gguf(at(blob), "gemma2", "Tiny Gemma", 2, 4); /* 2 = MOSTLY_Q4_0 */
    manifest("home/.ollama/models/manifests/registry.ollama.ai/library/tiny/latest", HEX);
    manifest("home/.ollama/models/manifests/registry.ollama.ai/someone/tiny/q4", HEX); /* same blob */
    manifest("home/.ollama/models/manifests/registry.ollama.ai/library/lost/7b", HEX2);
    write_text(at("home/.ollama/models/manifests/hf.co/org/bad/latest"), "{\"layers\": [\n  oops\n");
    /* LM Studio */
    write_gguf(at("home/.lmstudio/models/pub/repo/eps.gguf"), "llama", "Eps", 18, 2); /* 18 = Q6_K */
    /* a second name for LM Studio's file in the current folder: listed once, where first seen */
    assert_int_equal(symlink(at("home/.lmstudio/models/pub/repo/eps.gguf"), at("here/eps-link.gguf")), 0);
}

static void set_env(void) {
    static const char *const unset[] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME",
                                        "LLAMA_CACHE", "OLLAMA_MODELS"};
    for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++) unsetenv(unset[i]);
    setenv("HOME", at("home"), 1);
    char mp[2048];
    snprintf(mp, sizeof mp, "%s:%s", at("mp"), at("nowhere"));
    setenv("QUANTSCOPE_MODEL_PATH", mp, 1);
}

static void test_scan_tree(void **state) {
    (void)state;
    build_tree();
    set_env();
    qs_scan_list l;
    qs_error err = {{0}};
    qs_scan_opts o = {.here = at("here"), .with_demo = true};
    int rc = qs_model_scan(&l, &o, &err);
    if (rc) fail_msg("%s", err.msg);

    /* the current folder: usable files first, then the others, by name; split part 2 left out */
    const qs_scan_entry *e = find(&l, "alpha.gguf");
    assert_non_null(e);
    assert_true(e->ok);
    assert_int_equal(e->source, QS_SCAN_HERE);
    assert_string_equal(e->arch, "llama");
    assert_string_equal(e->label, "Alpha 1B");
    assert_int_equal(e->file_type, 7);
    assert_string_equal(e->type, "Q8_0");
    assert_int_equal(e->n_tensors, 2);
    assert_int_equal(e->n_params, 64 * 4 + 64);
    assert_int_equal(e->size, file_size(at("here/alpha.gguf")));
    assert_string_equal(e->path, at("here/alpha.gguf"));
    assert_non_null(find(&l, "big-00001-of-00002.gguf"));
    assert_null(find(&l, "big-00002-of-00002.gguf"));
    assert_null(find(&l, "notes.txt"));
    e = find(&l, "broken.gguf");
    assert_non_null(e);
    assert_false(e->ok);
    assert_non_null(strstr(e->reason, "bad magic"));
    assert_non_null(strstr(e->reason, "offset 0"));
    /* LM Studio's file is listed once: through the link in the current folder, seen first */
    assert_non_null(find(&l, "eps-link.gguf"));
    assert_null(find(&l, "pub/repo/eps.gguf"));
    assert_string_equal(find(&l, "eps-link.gguf")->type, "Q6_K");

    /* $QUANTSCOPE_MODEL_PATH: recursive, names relative to the folder; a missing folder says so */
    e = find(&l, "deep/er/gamma.gguf");
    assert_non_null(e);
    assert_true(e->ok);
    assert_int_equal(e->source, QS_SCAN_PATH);
    assert_string_equal(e->arch, "qwen2");
    assert_int_equal(e->file_type, -1);
    assert_string_equal(e->type, "mostly F32"); /* from the tensors: no general.file_type */
    e = find(&l, at("nowhere"));
    assert_non_null(e);
    assert_false(e->ok);
    assert_non_null(strstr(e->reason, "QUANTSCOPE_MODEL_PATH"));

    /* Hugging Face: ORG/NAME/path in the snapshot; the symlink opened; a dangling one explained */
    e = find(&l, "org/repo/sub/m-Q4_K_M.gguf");
    assert_non_null(e);
    assert_true(e->ok);
    assert_int_equal(e->source, QS_SCAN_HF);
    assert_string_equal(e->type, "Q4_K_M");
    assert_int_equal(e->size, file_size(at("home/.cache/huggingface/hub/models--org--repo/blobs/b1")));
    e = find(&l, "org/repo/gone.gguf");
    assert_non_null(e);
    assert_false(e->ok);
    assert_non_null(strstr(e->reason, "broken symlink"));

    /* llama.cpp */
    e = find(&l, "org_x_delta.gguf");
    assert_non_null(e);
    assert_int_equal(e->source, QS_SCAN_LLAMACPP);
    assert_string_equal(e->arch, "phi3");
    assert_string_equal(e->label, "");

    /* Ollama: "model:tag" from the manifest path; the model layer's blob; listed once even when
     * two tags share a blob; a missing blob and a bad manifest are explained */
    e = find(&l, "tiny:latest");
    assert_non_null(e);
    assert_true(e->ok);
    assert_int_equal(e->source, QS_SCAN_OLLAMA);
    assert_string_equal(e->arch, "gemma2");
    assert_string_equal(e->type, "Q4_0");
    char blob[1024];
    snprintf(blob, sizeof blob, "home/.ollama/models/blobs/sha256-%s", HEX);
    assert_string_equal(e->path, at(blob));
    assert_null(find(&l, "someone/tiny:q4")); /* the same blob as tiny:latest */
    e = find(&l, "lost:7b");
    assert_non_null(e);
    assert_false(e->ok);
    assert_non_null(strstr(e->reason, "blob missing"));
    e = find(&l, "hf.co/org/bad:latest");
    assert_non_null(e);
    assert_false(e->ok);
    assert_non_null(strstr(e->reason, "manifest line 2 column 6"));

    /* order: by source, usable first within a source; the demo last */
    for (int i = 1; i < l.n; i++) {
        const qs_scan_entry *p = &l.v[i - 1], *q = &l.v[i];
        assert_true(p->source <= q->source);
        if (p->source == q->source) assert_true(p->ok >= q->ok);
    }
    e = &l.v[l.n - 1];
    assert_int_equal(e->source, QS_SCAN_DEMO);
    assert_string_equal(e->name, "demo (random weights)");
    assert_true(e->ok);
    assert_string_equal(e->arch, "llama");
    /* the demo lives in the cache folder of this HOME; it is not written by a scan */
    char demo[1024];
    assert_non_null(qs_demo_model_path(demo, sizeof demo, &err));
    assert_string_equal(demo, at("home/.cache/quantscope/demo-tiny-v1.gguf"));
    assert_string_equal(e->path, demo);
    assert_int_not_equal(access(demo, F_OK), 0);
    qs_scan_list_free(&l);

    /* the variables that move the caches: HF_HUB_CACHE names the hub folder itself */
    setenv("HF_HUB_CACHE", at("home/.cache/huggingface/hub"), 1);
    setenv("HOME", at("nobody"), 1);
    unsetenv("QUANTSCOPE_MODEL_PATH");
    setenv("OLLAMA_MODELS", at("home/.ollama/models"), 1);
    o.with_demo = false;
    assert_int_equal(qs_model_scan(&l, &o, &err), QS_OK);
    assert_non_null(find(&l, "org/repo/sub/m-Q4_K_M.gguf"));
    assert_non_null(find(&l, "tiny:latest"));
    assert_null(find(&l, "org_x_delta.gguf")); /* llama.cpp's cache follows HOME */
    assert_int_not_equal(l.v[l.n - 1].source, QS_SCAN_DEMO);
    qs_scan_list_free(&l);
    unsetenv("HF_HUB_CACHE");
    unsetenv("OLLAMA_MODELS");
}

static void test_cancel_and_describe(void **state) {
    (void)state;
    set_env();
    atomic_int cancel = 1;
    qs_scan_list l;
    qs_error err;
    qs_scan_opts o = {.here = at("here"), .with_demo = true, .cancel = &cancel};
    assert_int_equal(qs_model_scan(&l, &o, &err), QS_CANCELLED);
    qs_scan_list_free(&l);
    /* one file: a folder is not a model; an unreadable path says why */
    qs_scan_entry e;
    memset(&e, 0, sizeof e);
    assert_int_equal(qs_scan_describe(at("here"), &e), QS_ERR);
    assert_string_equal(e.reason, "not a regular file");
    assert_int_equal(qs_scan_describe(at("here/none.gguf"), &e), QS_ERR);
    assert_non_null(strstr(e.reason, "No such file"));
    assert_int_equal(qs_scan_describe(at("here/alpha.gguf"), &e), QS_OK);
    assert_true(e.ok);
    assert_string_equal(e.label, "Alpha 1B");
}

static void test_demo_written(void **state) {
    (void)state;
    set_env();
    char demo[1024];
    qs_error err;
    const char *p = qs_demo_model(demo, sizeof demo, &err);
    if (!p) fail_msg("%s", err.msg);
    qs_scan_entry e;
    memset(&e, 0, sizeof e);
    assert_int_equal(qs_scan_describe(p, &e), QS_OK);
    assert_string_equal(e.arch, "llama");
    assert_string_equal(e.type, "F16");
    /* the scan lists the written file with the figures read from it */
    qs_scan_list l;
    qs_scan_opts o = {.here = at("here"), .with_demo = true};
    assert_int_equal(qs_model_scan(&l, &o, &err), QS_OK);
    const qs_scan_entry *d = &l.v[l.n - 1];
    assert_int_equal(d->source, QS_SCAN_DEMO);
    assert_int_equal(d->size, file_size(p));
    assert_int_equal(d->n_params, e.n_params);
    qs_scan_list_free(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_tree),
        cmocka_unit_test(test_cancel_and_describe),
        cmocka_unit_test(test_demo_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
