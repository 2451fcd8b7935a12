/* fuzz_imatrix.c — libFuzzer harness for importance matrices (qs_imatrix_load): the GGUF format
 * and llama.cpp's legacy .dat format (chosen by the first four bytes, as for a real file).
 *
 * qs_imatrix_load reads a path, so each input is written to a memfd and loaded through
 * /proc/self/fd/N (the GGUF reader maps it like any file). Checked promises (imatrix.h): on
 * success the entries are sorted by name and each is found by qs_imatrix_find, every entry has
 * n_per_row >= 1 and n_mat >= 1, and every value is >= 0 (mean squared activations; NaN is not
 * >= 0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "imatrix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *name) {
    fprintf(stderr, "fuzz_imatrix: broken promise: %s (%s)\n", what, name ? name : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz_imatrix", MFD_CLOEXEC);
    if (fd < 0) abort();
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) abort();
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    qs_imatrix im;
    qs_error err;
    if (qs_imatrix_load(path, &im, &err) == QS_OK) {
        for (int i = 0; i < im.n; i++) {
            const qs_imatrix_entry *e = &im.entries[i];
            if (!e->name) fail("entry without a name", NULL);
            if (i > 0 && strcmp(im.entries[i - 1].name, e->name) >= 0) fail("entries not sorted or duplicated", e->name);
            if (qs_imatrix_find(&im, e->name) != e) fail("qs_imatrix_find misses an entry", e->name);
            if (e->n_per_row < 1 || e->n_mat < 1) fail("empty entry", e->name);
            for (int64_t k = 0; k < e->n_per_row * e->n_mat; k++)
                if (!(e->values[k] >= 0)) fail("negative or NaN value", e->name);
        }
        for (int i = 0; i < im.n_datasets; i++)
            if (!im.datasets[i]) fail("NULL dataset name", NULL);
        qs_imatrix_free(&im);
    }
    close(fd);
    return 0;
}
