/* qs_tmpfile.h — temporary files for atomic writes, and cleaning up after writers that died.
 *
 * Every file quantscope writes (plans, exported models, raw tensor dumps) is written to
 * "PATH.tmp.XXXXXX" in PATH's folder (XXXXXX: 6 random letters and digits) and renamed over PATH
 * only when complete, so PATH is always either absent, the previous file, or the new one. A
 * writer killed before the rename (SIGKILL, power loss, OOM killer) leaves its temporary file
 * behind; this module makes a later write to the same PATH remove it, without ever touching a
 * temporary file another live writer is still writing:
 *
 *   - qs_tmp_create() takes an exclusive flock() on the temporary file it creates and the writer
 *     keeps it until the file is renamed (the lock belongs to the open file, so it survives the
 *     rename and is dropped by close). The kernel releases the lock when the process dies in any
 *     way, SIGKILL included; no pid is recorded (pids are reused and differ across containers).
 *   - qs_tmp_clean_stale() removes PATH.tmp.XXXXXX entries it can lock without waiting: their
 *     writer is gone. A live writer's lock makes them busy and they are left alone. Only names of
 *     exactly that form are considered (a user's "model.gguf.tmp.backup" is never touched), only
 *     regular files (not symlinks) owned by the calling user, and only after checking, under the
 *     lock, that the name still refers to the file that was locked.
 *   - The creator checks the same from its side: a temporary file that a cleaner removed between
 *     its creation and its lock is detected and a new name is tried.
 * Temporary files left by writers that did not lock (older quantscope builds) count as stale.
 * Locks are advisory flock() locks: on NFS, Linux emulates them with byte-range (POSIX) locks,
 * which still work across clients and processes but not between two writers of the same PATH
 * inside one process (POSIX locks of one process never conflict): there, one process must not
 * write the same PATH from two threads at once.
 *
 * Functions here are thread-safe (no shared state). */
#ifndef QS_TMPFILE_H
#define QS_TMPFILE_H

#include <sys/types.h>

#include "qs_common.h"

/* Removes the stale temporary files of PATH (see above). Returns how many were removed (0 when
 * the folder cannot be read: this is best effort and never an error). */
int qs_tmp_clean_stale(const char *path);

/* Cleans PATH's stale temporary files, then creates "PATH.tmp.XXXXXX" (O_CREAT | O_EXCL,
 * read-write, close-on-exec, `mode` filtered by the umask as open() does) and locks it. Returns
 * the file descriptor and sets *tmp_path to the malloc'd name (the caller frees it), or returns -1
 * with err set ("PATH: cannot create a temporary file in FOLDER: reason"). The lock lasts until
 * the descriptor is closed: rename the file into place before closing it (qs_tmp_commit). */
int qs_tmp_create(const char *path, mode_t mode, char **tmp_path, qs_error *err);

/* Completes an atomic write: fsync(fd), rename(tmp_path, path), close(fd), then fsync of the
 * folder (skipped where the filesystem cannot sync folders). On failure the temporary file is
 * removed, fd closed and err names the file ("TMP: write failed: No space left on device").
 * Does not free tmp_path. QS_OK or QS_ERR. */
int qs_tmp_commit(int fd, const char *tmp_path, const char *path, qs_error *err);

/* Abandons an atomic write: unlink(tmp_path) then close(fd) (either may be -1 / NULL). */
void qs_tmp_abort(int fd, const char *tmp_path);

#endif
