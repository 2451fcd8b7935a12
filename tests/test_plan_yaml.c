/* Plan files: round trips, the bad-file corpus, atomic saves, loading for another model. */
#include "qs_test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qs_plan.h"

#define FIXTURES QS_TESTS_DIR "/fixtures/plans"

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return s;
}

/* A plan using every field. */
static void rich_plan(qs_plan *p) {
    qs_error err = {{0}};
    qs_plan_init(p);
    qs_plan_set_preset(p, QS_PRESET_Q4_K_M);
    assert_int_equal(qs_plan_insert_rule(p, -1, "blk\\.(0|1)\\.ffn_down", QS_TYPE_Q8_0, &err), QS_OK);
    assert_int_equal(qs_plan_insert_rule(p, -1, "it's [a-z]{2,} #1", QS_TYPE_Q6_K, &err), QS_OK);
    assert_int_equal(qs_plan_insert_rule(p, -1, "tab\there", QS_TYPE_IQ4_XS, &err), QS_OK);
    assert_int_equal(qs_plan_set_layer(p, 0, QS_TYPE_Q8_0, &err), QS_OK);
    assert_int_equal(qs_plan_set_layer(p, 21, QS_TYPE_Q6_K, &err), QS_OK);
    assert_int_equal(qs_plan_set_tensor(p, "output.weight", QS_TYPE_Q8_0, &err), QS_OK);
    assert_int_equal(qs_plan_set_tensor(p, "odd, {name}: here", QS_TYPE_BF16, &err), QS_OK);
    p->keep_first = 2;
    p->keep_last = 1;
    p->keep_type = QS_TYPE_Q5_K;
    p->kv_type = QS_TYPE_Q8_0;
    p->context = 8192;
    p->device = strdup("RTX 4090 (24 GiB)");
    p->notes = strdup("First line\n  indented \"quoted\" line\n\n\u00e9t\u00e9: 2 \u00b0C\n");
    p->model.file = strdup("tinyllama-1.1b-f16.gguf");
    p->model.size = 2200293536ull;
    p->model.n_tensors = 201;
    p->model.hash = 0x42b9a21277780c58ull;
}

static const char rich_text[] =
    "# quantscope plan (see quantscope-plan(5))\n"
    "version: 1\n"
    "model:\n"
    "  file: tinyllama-1.1b-f16.gguf\n"
    "  size: 2200293536\n"
    "  tensors: 201\n"
    "  hash: '42b9a21277780c58'\n"
    "default: Q4_K\n"
    "preset: Q4_K_M\n"
    "keep: {first: 2, last: 1, type: Q5_K}\n"
    "tensors:\n"
    "  - {name: output.weight, type: Q8_0}\n"
    "  - {name: 'odd, {name}: here', type: BF16}\n"
    "layers:\n"
    "  - {block: 0, type: Q8_0}\n"
    "  - {block: 21, type: Q6_K}\n"
    "rules:\n"
    "  - {pattern: 'blk\\.(0|1)\\.ffn_down', type: Q8_0}\n"
    "  - {pattern: 'it''s [a-z]{2,} #1', type: Q6_K}\n"
    "  - {pattern: \"tab\\there\", type: IQ4_XS}\n"
    "kv_type: Q8_0\n"
    "context: 8192\n"
    "device: RTX 4090 (24 GiB)\n"
    "notes: |\n"
    "  First line\n"
    "    indented \"quoted\" line\n"
    "\n"
    "  \u00e9t\u00e9: 2 \u00b0C\n";

static void test_format_exact(void **state) {
    (void)state;
    qs_plan p, q;
    rich_plan(&p);
    char *text;
    size_t len;
    qs_error err = {{0}};
    assert_int_equal(qs_plan_format(&p, &text, &len, &err), QS_OK);
    assert_string_equal(text, rich_text);
    assert_int_equal(len, strlen(rich_text));
    /* load(save(plan)) == plan, field by field */
    assert_int_equal(qs_plan_parse(text, len, "rich", &q, &err), QS_OK);
    assert_true(qs_plan_equal(&p, &q));
    assert_string_equal(q.notes, p.notes);
    assert_string_equal(q.rules[1].pattern, "it's [a-z]{2,} #1");
    assert_int_equal(q.keep_first, 2);
    assert_true(q.model.hash == 0x42b9a21277780c58ull);
    /* save(load(file)) == file, byte for byte */
    char *again;
    assert_int_equal(qs_plan_format(&q, &again, NULL, &err), QS_OK);
    assert_string_equal(again, text);
    free(text);
    free(again);
    qs_plan_free(&p);
    qs_plan_free(&q);
}

/* Strings of every awkward kind survive a round trip. */
static void test_round_trip_strings(void **state) {
    (void)state;
    static const char *const pieces[] = {
        "a", " ", "  ", "\n", "\t", "\r", "'", "\"", "\\", ":", ": ", " #", "#", "-", "- ", "?", ",", "[", "]", "{",
        "}", "&", "*", "!", "|", ">", "%", "@", "`", "~", "null", "yes", "No", "0x1f", "1e3", ".5", "-1", "+", ".inf",
        "\u00e9", "\u2028", "\xc2\x85", "\xef\xbb\xbf", "\u00a0", "\x01", "\x7f", "blk.0.", "=", "\U0001F600", "x"};
    const int np = (int)(sizeof pieces / sizeof pieces[0]);
    uint64_t s = 12345;
    qs_error err = {{0}};
    for (int iter = 0; iter < 20000; iter++) {
        char str[3][128];
        for (int k = 0; k < 3; k++) {
            str[k][0] = 0;
            int n = (int)(qs_test_rng(&s) % 7);
            for (int j = 0; j < n; j++) strcat(str[k], pieces[qs_test_rng(&s) % (uint64_t)np]);
        }
        qs_plan p, q;
        qs_plan_init(&p);
        p.default_type = QS_TYPE_Q4_0;
        p.device = strdup(str[0]);
        p.notes = strdup(str[1]);
        if (str[2][0]) {
            assert_int_equal(qs_plan_set_tensor(&p, str[2], QS_TYPE_Q8_0, &err), QS_OK);
            char pat[300], *o = pat;
            for (const char *c = str[2]; *c; c++) {
                if (strchr("\\^$.|?*+()[]{}", *c)) *o++ = '\\';
                *o++ = *c;
            }
            *o = 0;
            if (qs_plan_insert_rule(&p, -1, pat, QS_TYPE_Q5_K, &err)) fail_msg("%s", err.msg);
        }
        p.model.file = strdup(str[1][0] ? str[1] : "m");
        char *text, *again;
        size_t len;
        assert_int_equal(qs_plan_format(&p, &text, &len, &err), QS_OK);
        if (qs_plan_parse(text, len, "rt", &q, &err) != QS_OK) fail_msg("iteration %d: %s\n%s", iter, err.msg, text);
        if (!qs_plan_equal(&p, &q))
            fail_msg("iteration %d: differs\n%s\ndevice [%s] vs [%s]\nnotes [%s] vs [%s]", iter, text, p.device, q.device,
                     p.notes, q.notes);
        assert_int_equal(qs_plan_format(&q, &again, NULL, &err), QS_OK);
        assert_string_equal(again, text);
        free(text);
        free(again);
        qs_plan_free(&p);
        qs_plan_free(&q);
    }
}

/* Damaged files never crash the loader: each gives a plan or a message with a place. */
static void test_mutations(void **state) {
    (void)state;
    uint64_t s = 777;
    const size_t n = strlen(rich_text);
    char *buf = malloc(n + 1);
    static const char alphabet[] = " :-{}[],'\"#&*!|>\n\t\\0123456789abcQK_.\xff\xc3";
    int ok = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, rich_text, n + 1);
        size_t len = n;
        int edits = 1 + (int)(qs_test_rng(&s) % 4);
        for (int k = 0; k < edits; k++) {
            size_t at = (size_t)(qs_test_rng(&s) % len);
            switch (qs_test_rng(&s) % 3) {
            case 0: buf[at] = alphabet[qs_test_rng(&s) % (sizeof alphabet - 1)]; break;
            case 1: memmove(buf + at, buf + at + 1, len - at), len--; break; /* delete */
            default: len = at; break;                                          /* truncate */
            }
            if (!len) break;
        }
        qs_plan p;
        qs_error err = {{0}};
        if (qs_plan_parse(buf, len, "m", &p, &err) == QS_OK) {
            ok++;
            qs_plan_free(&p);
        } else {
            assert_true(strncmp(err.msg, "m:", 2) == 0);
        }
    }
    assert_true(ok > 0);
    free(buf);
}

static void test_not_utf8(void **state) {
    (void)state;
    qs_plan p;
    qs_plan_init(&p);
    p.device = strdup("bad \xff byte");
    char *text;
    qs_error err = {{0}};
    assert_int_equal(qs_plan_format(&p, &text, NULL, &err), QS_ERR);
    assert_string_equal(err.msg, "device: not valid UTF-8 text");
    assert_null(text);
    qs_plan_free(&p);
}

static void test_load_handwritten(void **state) {
    (void)state;
    qs_plan p;
    qs_error err = {{0}};
    if (qs_plan_load(FIXTURES "/good_handwritten.yaml", &p, &err)) fail_msg("%s", err.msg);
    assert_int_equal(p.preset, QS_PRESET_Q4_K_M);
    assert_int_equal(p.default_type, QS_TYPE_Q4_K);
    assert_int_equal(p.kv_type, QS_TYPE_Q8_0);
    assert_int_equal(p.context, 8192);
    assert_string_equal(p.device, "RTX 4090");
    assert_string_equal(p.notes, "Folded text on two lines.");
    assert_int_equal(p.keep_first, 2);
    assert_int_equal(p.keep_last, 0);
    assert_int_equal(p.keep_type, QS_TYPE_Q6_K);
    assert_int_equal(p.n_rules, 2);
    assert_string_equal(p.rules[0].pattern, "blk\\.(0|1)\\.ffn_down");
    assert_int_equal(p.rules[1].type, QS_TYPE_Q8_0); /* through the alias */
    assert_int_equal(p.n_layers, 1);
    assert_int_equal(p.layers[0].block, 3);
    assert_string_equal(p.tensors[0].name, "output.weight");
    assert_string_equal(p.model.file, "tinyllama-1.1b-f16.gguf");
    assert_true(p.model.size == 2200293536ull);
    assert_true(p.model.hash == 0x42b9a21277780c58ull);
    qs_plan_free(&p);
}

/* Every tests/fixtures/plans/bad_*.yaml fails with the message its first line expects:
 *   # expect: LINE:COL: MESSAGE          (the error is "PATH:LINE:COL: MESSAGE") */
static void test_bad_corpus(void **state) {
    (void)state;
    DIR *d = opendir(FIXTURES);
    assert_non_null(d);
    int count = 0, bad = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "bad_", 4) != 0) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", FIXTURES, e->d_name);
        char *text = read_all(path, NULL);
        assert_non_null(text);
        const char *tag = "# expect: ";
        assert_true(strncmp(text, tag, strlen(tag)) == 0);
        char *nl = strchr(text, '\n');
        assert_non_null(nl);
        *nl = 0;
        char want[700];
        snprintf(want, sizeof want, "%s:%s", path, text + strlen(tag));
        qs_plan p;
        qs_error err = {{0}};
        int rc = qs_plan_load(path, &p, &err);
        if (rc != QS_ERR) {
            print_error("%s: loaded without error\n", e->d_name);
            bad++;
        } else if (strcmp(err.msg, want) != 0) {
            print_error("%s:\n got  %s\n want %s\n", e->d_name, err.msg, want);
            bad++;
        }
        assert_int_equal(p.n_rules, 0); /* nothing half-loaded */
        assert_null(p.device);
        free(text);
        count++;
    }
    closedir(d);
    assert_int_equal(bad, 0);
    assert_true(count >= 30);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void test_save_atomic(void **state) {
    (void)state;
    char dir[400], path[500];
    snprintf(dir, sizeof dir, "%s/save", qs_test_tmpdir());
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/plan.yaml", dir);
    qs_plan p, q;
    rich_plan(&p);
    qs_error err = {{0}};
    assert_int_equal(qs_plan_save(&p, path, &err), QS_OK);
    assert_int_equal(count_entries(dir), 1); /* no temporary file left */
    size_t len;
    char *text = read_all(path, &len);
    assert_string_equal(text, rich_text);
    struct stat st1, st2;
    assert_int_equal(stat(path, &st1), 0);
    /* saving again replaces the file by rename: a new inode, never a half-written old one */
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    p.context = 4096;
    assert_int_equal(qs_plan_save(&p, path, &err), QS_OK);
    assert_int_equal(stat(path, &st2), 0);
    assert_true(st1.st_ino != st2.st_ino);
    char old[64] = {0};
    assert_true(read(fd, old, sizeof old - 1) > 0);
    assert_true(strncmp(old, rich_text, strlen(old)) == 0); /* the old file stays whole for its readers */
    close(fd);
    assert_int_equal(count_entries(dir), 1);
    assert_int_equal(qs_plan_load(path, &q, &err), QS_OK);
    assert_true(qs_plan_equal(&p, &q));
    assert_int_equal(q.context, 4096);
    qs_plan_free(&q);
    /* a plan that does not validate writes nothing */
    p.kv_type = QS_TYPE_Q6_K;
    assert_int_equal(qs_plan_save(&p, path, &err), QS_ERR);
    assert_int_equal(qs_plan_load(path, &q, &err), QS_OK);
    assert_int_equal(q.kv_type, QS_TYPE_Q8_0);
    qs_plan_free(&q);
    p.kv_type = QS_TYPE_F16;
    /* a folder that does not exist: an error, nothing created */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/missing/plan.yaml", dir);
    assert_int_equal(qs_plan_save(&p, bad, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "cannot create a temporary file"));
    assert_int_equal(count_entries(dir), 1);
    assert_int_equal(qs_plan_load(bad, &q, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "No such file"));
    free(text);
    qs_plan_free(&p);
}

/* The example in quantscope-plan(5) is a plan in the canonical layout. */
static void test_man_example(void **state) {
    (void)state;
    char *man = read_all(QS_TESTS_DIR "/../man/quantscope-plan.5", NULL);
    assert_non_null(man);
    const char *start = ".SH SYNOPSIS\n.nf\n";
    char *a = strstr(man, start);
    assert_non_null(a);
    a += strlen(start);
    char *b = strstr(a, "\n.fi\n");
    assert_non_null(b);
    size_t n = (size_t)(b - a) + 1; /* with the last line's newline */
    assert_true(n < 100000);
    char *text = calloc(1, n + 1), *o = text;
    for (char *p = a; p <= b; p++) {
        *o++ = *p;
        if (p[0] == '\\' && p[1] == 'e') p++; /* roff's \e is a backslash */
    }
    qs_plan p;
    qs_error err = {{0}};
    if (qs_plan_parse(text, strlen(text), "man", &p, &err)) fail_msg("%s", err.msg);
    assert_int_equal(p.preset, QS_PRESET_Q4_K_M);
    assert_string_equal(p.rules[0].pattern, "blk\\.(1|2)\\.ffn_down");
    char *again;
    assert_int_equal(qs_plan_format(&p, &again, NULL, &err), QS_OK);
    assert_string_equal(again, text);
    free(again);
    free(text);
    free(man);
    qs_plan_free(&p);
}

/* A plan for another model loads, with a warning for everything that does not apply. */
static void test_other_model(void **state) {
    (void)state;
    qs_plan p;
    qs_error err = {{0}};
    assert_int_equal(qs_plan_load(FIXTURES "/good_handwritten.yaml", &p, &err), QS_OK);
    /* a tiny two-block model without output.weight or ffn_down */
    qs_plan_tensor t[] = {
        {"token_embd.weight", 2, {64, 100, 1, 1}, QS_TYPE_F32, -1},
        {"blk.0.attn_v.weight", 2, {64, 64, 1, 1}, QS_TYPE_F32, 0},
        {"blk.1.attn_v.weight", 2, {64, 64, 1, 1}, QS_TYPE_F32, 1},
    };
    qs_plan_model m = {"llama", 2, 4, 4, 0, false, false, t, 3};
    qs_plan_fingerprint fp = {"small.gguf", 1000, 3, qs_plan_tensor_hash(t, 3)};
    qs_strlist w = {0};
    int n = qs_plan_check_model(&p, &fp, &m, &w, &err);
    for (int i = 0; i < w.n; i++) printf("    warning: %s\n", w.v[i]);
    assert_int_equal(n, 8);
    assert_string_equal(w.v[0], "plan made for file 'tinyllama-1.1b-f16.gguf', this is 'small.gguf'");
    assert_string_equal(w.v[4], "tensor override 'output.weight' -> Q8_0: the model has no such tensor");
    assert_string_equal(w.v[5], "layer override block 3 -> Q5_K: the model has 2 blocks");
    assert_string_equal(w.v[6], "rule 1 (blk\\.(0|1)\\.ffn_down -> Q8_0) matches no quantizable tensor");
    assert_string_equal(w.v[7], "rule 2 (attn_v -> Q8_0) matches 2 tensors, all decided by earlier entries");
    qs_strlist_free(&w);
    qs_plan_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_exact),     cmocka_unit_test(test_round_trip_strings),
        cmocka_unit_test(test_mutations),        cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_load_handwritten),
        cmocka_unit_test(test_bad_corpus),       cmocka_unit_test(test_save_atomic),
        cmocka_unit_test(test_other_model),      cmocka_unit_test(test_man_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
