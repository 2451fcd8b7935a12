/* qs_tmpfile.c — locked temporary files for atomic writes; removal of those whose writer died.
 * The protocol is described in qs_tmpfile.h. */
#include "qs_tmpfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SUFFIX_LEN 6
static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* Folder and base name of path (both malloc'd). QS_OK or QS_ENOMEM. */
static int split_path(const char *path, char **dir, char **base) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *dir = strdup(".");
        *base = strdup(path);
    } else {
        *dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
        *base = strdup(slash + 1);
    }
    if (*dir && *base) return QS_OK;
    free(*dir);
    free(*base);
    return QS_ENOMEM;
}

/* True when name is base + ".tmp." + 6 characters of the alphabet. */
static bool is_tmp_name(const char *name, const char *base, size_t blen) {
    if (strncmp(name, base, blen) != 0 || strncmp(name + blen, ".tmp.", 5) != 0) return false;
    const char *s = name + blen + 5;
    if (strlen(s) != SUFFIX_LEN) return false;
    for (int i = 0; i < SUFFIX_LEN; i++)
        if (!s[i] || !strchr(alphabet, s[i])) return false;
    return true;
}

/* Removes one candidate if nobody holds its lock. Returns 1 if removed. */
static int clean_one(int dfd, const char *name) {
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    int removed = 0;
    struct stat st, now;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        flock(fd, LOCK_EX | LOCK_NB) == 0) {
        /* the writer is gone; make sure the name is still that file before removing it */
        if (fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == st.st_dev &&
            now.st_ino == st.st_ino && unlinkat(dfd, name, 0) == 0)
            removed = 1;
    }
    close(fd); /* drops our lock */
    return removed;
}

int qs_tmp_clean_stale(const char *path) {
    char *dir, *base;
    if (!path || split_path(path, &dir, &base) != QS_OK) return 0;
    int removed = 0;
    size_t blen = strlen(base);
    DIR *d = blen ? opendir(dir) : NULL;
    if (d) {
        int dfd = dirfd(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (is_tmp_name(e->d_name, base, blen)) removed += clean_one(dfd, e->d_name);
        closedir(d);
    }
    free(dir);
    free(base);
    return removed;
}

static void random_suffix(char *out) {
    static atomic_uint_fast64_t counter;
    uint8_t r[SUFFIX_LEN];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        /* no entropy yet (early boot): time, pid and a counter; O_EXCL still guarantees a
         * fresh name, this only keeps retries few */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 16) ^
                     (atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ull);
        for (int i = 0; i < SUFFIX_LEN; i++, x >>= 8) r[i] = (uint8_t)(x ^ (x >> 37));
    }
    for (int i = 0; i < SUFFIX_LEN; i++) out[i] = alphabet[r[i] % (sizeof alphabet - 1)];
    out[SUFFIX_LEN] = '\0';
}

int qs_tmp_create(const char *path, mode_t mode, char **tmp_path, qs_error *err) {
    *tmp_path = NULL;
    if (!path || !*path) {
        qs_error_set(err, "empty output path");
        return -1;
    }
    qs_tmp_clean_stale(path);
    size_t n = strlen(path) + 5 + SUFFIX_LEN + 1;
    char *tmp = malloc(n);
    if (!tmp) {
        qs_error_set(err, "%s: out of memory", path);
        return -1;
    }
    int e = EEXIST;
    for (int attempt = 0; attempt < 100; attempt++) {
        char suffix[SUFFIX_LEN + 1];
        random_suffix(suffix);
        snprintf(tmp, n, "%s.tmp.%s", path, suffix);
        int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0) {
            e = errno;
            if (e == EEXIST || e == EINTR) continue;
            break;
        }
        /* A cleaner may have found the file between open and flock, taken it for stale and
         * removed it (or be about to): then the lock fails or the name is gone. Try again. */
        struct stat st, now;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && stat(tmp, &now) == 0 &&
            st.st_dev == now.st_dev && st.st_ino == now.st_ino) {
            *tmp_path = tmp;
            return fd;
        }
        close(fd);
        e = EEXIST;
    }
    char *dir, *base;
    if (split_path(path, &dir, &base) == QS_OK) {
        qs_error_set(err, "%s: cannot create a temporary file in %s: %s", path, dir, strerror(e));
        free(dir);
        free(base);
    } else {
        qs_error_set(err, "%s: cannot create a temporary file: %s", path, strerror(e));
    }
    free(tmp);
    return -1;
}

int qs_tmp_commit(int fd, const char *tmp_path, const char *path, qs_error *err) {
    if (fsync(fd) != 0) {
        qs_error_set(err, "%s: write failed: %s (temporary file removed)", tmp_path, strerror(errno));
        qs_tmp_abort(fd, tmp_path);
        return QS_ERR;
    }
    if (rename(tmp_path, path) != 0) {
        qs_error_set(err, "%s: cannot rename %s into place: %s (temporary file removed)", path, tmp_path,
                     strerror(errno));
        qs_tmp_abort(fd, tmp_path);
        return QS_ERR;
    }
    close(fd); /* the data was synced above: nothing is left for close to lose */
    char *dir, *base;
    if (split_path(path, &dir, &base) == QS_OK) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        /* some filesystems cannot sync a folder (EINVAL): the rename itself stands */
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
        free(base);
    }
    return QS_OK;
}

void qs_tmp_abort(int fd, const char *tmp_path) {
    if (tmp_path) unlink(tmp_path); /* before close: our lock keeps cleaners off until then */
    if (fd >= 0) close(fd);
}
