/* Crash-safe writes (quant/qs_tmpfile.h): locked temporary files, removal of the ones whose
 * writer died (SIGKILL), never of a live writer's, never of look-alike names; the GGUF writer and
 * the plan saver on top of it, also when the disk is full (RLIMIT_FSIZE). Processes are forked so
 * that "another writer" is really another process and a killed one is really SIGKILLed. The
 * end-to-end version (quantscope killed at many points of an export) is tests/e2e_crash.sh. */
#include "qs_test_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gguf.h"
#include "qs_plan.h"
#include "qs_tmpfile.h"
#include "qs_types.h"

/* A fresh folder per test. */
static const char *fresh_dir(const char *name, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s", qs_test_tmpdir(), name);
    mkdir(buf, 0755);
    return buf;
}

/* Entries of dir whose name starts with prefix. */
static int count_prefix(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    closedir(d);
    return n;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path) {
    static char buf[4096];
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* Runs fn(arg) in a child process; returns its exit status (or 128 + signal). */
static int in_child(int (*fn)(const void *), const void *arg) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(fn(arg));
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int child_clean(const void *path) { return qs_tmp_clean_stale(path); }

/* A writer that dies by SIGKILL with its temporary file half written. */
static int child_killed_writer(const void *path) {
    char *tmp;
    qs_error err;
    int fd = qs_tmp_create(path, 0666, &tmp, &err);
    if (fd < 0) return 3;
    if (write(fd, "half a file", 11) != 11) return 4;
    raise(SIGKILL);
    return 5;
}

static void test_create_lock_and_name(void **state) {
    (void)state;
    char dir[512], path[600];
    fresh_dir("create", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    mode_t old = umask(022);
    char *tmp;
    qs_error err;
    int fd = qs_tmp_create(path, 0666, &tmp, &err);
    umask(old);
    assert_true(fd >= 0);
    /* PATH.tmp. + 6 letters or digits */
    assert_int_equal(strncmp(tmp, path, strlen(path)), 0);
    const char *suffix = tmp + strlen(path);
    assert_int_equal(strncmp(suffix, ".tmp.", 5), 0);
    assert_int_equal(strlen(suffix + 5), 6);
    for (int i = 5; i < 11; i++)
        assert_true((suffix[i] >= 'a' && suffix[i] <= 'z') || (suffix[i] >= 'A' && suffix[i] <= 'Z') ||
                    (suffix[i] >= '0' && suffix[i] <= '9'));
    struct stat st;
    assert_int_equal(stat(tmp, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    /* locked: another open file description cannot take the lock */
    int other = open(tmp, O_RDONLY);
    assert_true(other >= 0);
    assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1);
    assert_int_equal(errno, EWOULDBLOCK);
    close(other);
    /* a cleaner, in this process or another, leaves it alone */
    assert_int_equal(qs_tmp_clean_stale(path), 0);
    assert_int_equal(in_child(child_clean, path), 0);
    assert_int_equal(access(tmp, F_OK), 0);
    /* commit: renamed into place, nothing left behind */
    assert_int_equal(write(fd, "new", 3), 3);
    assert_int_equal(qs_tmp_commit(fd, tmp, path, &err), QS_OK);
    assert_string_equal(read_file(path), "new");
    assert_int_equal(count_prefix(dir, "model.gguf.tmp."), 0);
    free(tmp);

    /* abort: the temporary file goes, the destination stays */
    fd = qs_tmp_create(path, 0666, &tmp, &err);
    assert_true(fd >= 0);
    qs_tmp_abort(fd, tmp);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_string_equal(read_file(path), "new");
    free(tmp);

    /* a folder that does not exist: a message naming the path and the folder */
    snprintf(path, sizeof path, "%s/missing/model.gguf", dir);
    assert_int_equal(qs_tmp_create(path, 0666, &tmp, &err), -1);
    assert_null(tmp);
    assert_non_null(strstr(err.msg, "missing/model.gguf: cannot create a temporary file in "));
    assert_non_null(strstr(err.msg, "No such file or directory"));
}

static void test_killed_writer_is_cleaned(void **state) {
    (void)state;
    char dir[512], path[600];
    fresh_dir("killed", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/out.gguf", dir);
    write_file(path, "previous");
    /* each writer removes the leftover of the one killed before it: one is left, not three */
    for (int i = 0; i < 3; i++) assert_int_equal(in_child(child_killed_writer, path), 128 + SIGKILL);
    assert_int_equal(count_prefix(dir, "out.gguf.tmp."), 1);
    assert_string_equal(read_file(path), "previous");
    assert_int_equal(qs_tmp_clean_stale(path), 1);
    assert_int_equal(count_prefix(dir, "out.gguf.tmp."), 0);
    assert_string_equal(read_file(path), "previous");
    /* creating a new one cleans too */
    assert_int_equal(in_child(child_killed_writer, path), 128 + SIGKILL);
    char *tmp;
    qs_error err;
    int fd = qs_tmp_create(path, 0666, &tmp, &err);
    assert_true(fd >= 0);
    assert_int_equal(count_prefix(dir, "out.gguf.tmp."), 1); /* only ours */
    qs_tmp_abort(fd, tmp);
    free(tmp);
}

static void test_look_alikes_untouched(void **state) {
    (void)state;
    char dir[512], path[600], p[700];
    fresh_dir("lookalike", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/out.gguf", dir);
    static const char *const keep[] = {"out.gguf.tmp.keep-me", "out.gguf.tmp.ABCDEFG", "out.gguf.tmp.ABC-EF",
                                       "out.gguf.tmp.", "out.gguf.tmp.ABCDE", "other.gguf.tmp.ABCDEF",
                                       "out.ggu.tmp.ABCDEF", "xout.gguf.tmp.ABCDEF"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, keep[i]);
        write_file(p, "user data");
    }
    snprintf(p, sizeof p, "%s/out.gguf.tmp.Dir123", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    char target[700];
    snprintf(target, sizeof target, "%s/target", dir);
    write_file(target, "link target");
    snprintf(p, sizeof p, "%s/out.gguf.tmp.Link12", dir);
    assert_int_equal(symlink(target, p), 0);
    snprintf(p, sizeof p, "%s/out.gguf.tmp.Stale1", dir); /* exact form, unlocked: stale */
    write_file(p, "leftover");

    assert_int_equal(qs_tmp_clean_stale(path), 1);
    assert_int_equal(access(p, F_OK), -1);
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, keep[i]);
        assert_string_equal(read_file(p), "user data");
    }
    struct stat st;
    snprintf(p, sizeof p, "%s/out.gguf.tmp.Dir123", dir);
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(p, sizeof p, "%s/out.gguf.tmp.Link12", dir);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_string_equal(read_file(target), "link target");
    /* a relative path cleans in the current folder; an empty name cleans nothing */
    assert_int_equal(qs_tmp_clean_stale(""), 0);
    assert_int_equal(qs_tmp_clean_stale(NULL), 0);
}

/* A GGUF writer in another process opens (cleaning stale files) and aborts while ours is live. */
static int child_other_writer(const void *path) {
    qs_error err;
    gguf_writer *w = gguf_writer_open(path, 0, &err);
    if (!w) return 3;
    gguf_writer_abort(w);
    return 0;
}

static void test_gguf_writer_beside_another(void **state) {
    (void)state;
    char dir[512], path[600];
    fresh_dir("gguf_live", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    write_file(path, "previous");
    assert_int_equal(in_child(child_killed_writer, path), 128 + SIGKILL); /* a stale one */
    qs_error err;
    gguf_writer *w = gguf_writer_open(path, 0, &err);
    assert_non_null(w);
    assert_int_equal(count_prefix(dir, "m.gguf.tmp."), 1); /* the stale one is gone, ours is there */
    int64_t ne[2] = {64, 4};
    float data[256];
    for (int i = 0; i < 256; i++) data[i] = (float)i;
    assert_int_equal(gguf_writer_add_tensor(w, "t", QS_TYPE_F32, 2, ne), QS_OK);
    assert_int_equal(gguf_writer_write(w, data, 512), QS_OK); /* half the tensor */
    assert_int_equal(in_child(child_other_writer, path), 0);
    assert_int_equal(count_prefix(dir, "m.gguf.tmp."), 1);
    assert_string_equal(read_file(path), "previous");
    assert_int_equal(gguf_writer_write(w, data + 128, 512), QS_OK);
    assert_int_equal(gguf_writer_finish(w, &err), QS_OK);
    assert_int_equal(count_prefix(dir, "m.gguf.tmp."), 0);
    gguf_file *f = gguf_open(path, &err);
    assert_non_null(f);
    assert_int_equal(f->n_tensors, 1);
    assert_memory_equal(f->tensors[0].data, data, sizeof data);
    gguf_close(f);
}

static void test_plan_save_cleans(void **state) {
    (void)state;
    char dir[512], path[600];
    fresh_dir("plan", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    assert_int_equal(in_child(child_killed_writer, path), 128 + SIGKILL);
    assert_int_equal(count_prefix(dir, "p.yaml.tmp."), 1);
    qs_plan p;
    qs_plan_init(&p);
    qs_plan_set_preset(&p, QS_PRESET_Q4_K_M);
    qs_error err;
    assert_int_equal(qs_plan_save(&p, path, &err), QS_OK);
    assert_int_equal(count_prefix(dir, "p.yaml.tmp."), 0);
    qs_plan q;
    assert_int_equal(qs_plan_load(path, &q, &err), QS_OK);
    assert_true(qs_plan_equal(&p, &q));
    qs_plan_free(&q);
    qs_plan_free(&p);
}

/* Disk full, as a file-size limit: the writer fails with a message naming the temporary file,
 * removes it and leaves the destination as it was. Run in a child (the limit is per process). */
static int child_gguf_full(const void *path) {
    struct rlimit rl = {64 * 1024, 64 * 1024};
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 10;
    qs_error err;
    gguf_writer *w = gguf_writer_open(path, 0, &err);
    if (!w) return 11;
    int64_t ne[2] = {1024, 1024}; /* 4 MiB of F32 */
    if (gguf_writer_add_tensor(w, "big", QS_TYPE_F32, 2, ne) != QS_OK) return 12;
    static float row[1024];
    int rc = QS_OK;
    for (int r = 0; r < 1024 && rc == QS_OK; r++) rc = gguf_writer_write(w, row, sizeof row);
    if (rc == QS_OK) return 13; /* the limit did not bite */
    const char *m = gguf_writer_error(w);
    if (!strstr(m, ".tmp.") || !strstr(m, "File too large") || !strstr(m, "(temporary file removed)")) {
        fprintf(stderr, "message: %s\n", m);
        return 14;
    }
    if (gguf_writer_finish(w, &err) != QS_ERR || !strstr(err.msg, "File too large")) return 15;
    return 0;
}

static int child_plan_full(const void *path) {
    struct rlimit rl = {0, 0};
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 10;
    qs_plan p;
    qs_plan_init(&p);
    qs_error err;
    int rc = qs_plan_save(&p, path, &err);
    qs_plan_free(&p);
    if (rc != QS_ERR) return 11;
    if (!strstr(err.msg, "p.yaml.tmp.") || !strstr(err.msg, "write failed: File too large (temporary file removed)")) {
        fprintf(stderr, "message: %s\n", err.msg);
        return 12;
    }
    return 0;
}

static void test_disk_full(void **state) {
    (void)state;
    char dir[512], path[600];
    fresh_dir("full", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    write_file(path, "previous");
    assert_int_equal(in_child(child_gguf_full, path), 0);
    assert_string_equal(read_file(path), "previous");
    assert_int_equal(count_prefix(dir, "m.gguf.tmp."), 0);
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    write_file(path, "previous plan");
    assert_int_equal(in_child(child_plan_full, path), 0);
    assert_string_equal(read_file(path), "previous plan");
    assert_int_equal(count_prefix(dir, "p.yaml.tmp."), 0);
    assert_int_equal(count_prefix(dir, ""), 4); /* ., .., m.gguf, p.yaml: nothing else */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_lock_and_name),
        cmocka_unit_test(test_killed_writer_is_cleaned),
        cmocka_unit_test(test_look_alikes_untouched),
        cmocka_unit_test(test_gguf_writer_beside_another),
        cmocka_unit_test(test_plan_save_cleans),
        cmocka_unit_test(test_disk_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
