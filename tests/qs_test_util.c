#include "qs_test_util.h"

#include "qs_fp16.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t qs_test_rng(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float qs_test_uniform(uint64_t *state) { return (float)(qs_test_rng(state) >> 40) * 0x1p-24f; }

static float gauss1(uint64_t *s) {
    float acc = 0.0f;
    for (int k = 0; k < 12; k++) acc += qs_test_uniform(s);
    return acc - 6.0f;
}

void qs_test_gaussian(float *x, int64_t n, uint64_t seed) {
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) x[i] = gauss1(&s);
}

void qs_test_heavy(float *x, int64_t n, uint64_t seed) {
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        float g = gauss1(&s), a = gauss1(&s), b = gauss1(&s), c = gauss1(&s);
        float chi = (a * a + b * b + c * c) / 3.0f;
        x[i] = 0.5f * g / sqrtf(chi + 1e-3f);
    }
}

void qs_test_llm_like(float *x, int64_t n, uint64_t seed) {
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        float v = 0.02f * gauss1(&s);
        if ((qs_test_rng(&s) & 63u) == 0) v *= 12.0f;
        x[i] = v;
    }
}

const char *const qs_test_data_names[QS_TEST_NDATA] = {"gaussian", "heavy", "llm-like"};

void qs_test_dataset(int which, float *x, int64_t n) {
    static const uint64_t seeds[QS_TEST_NDATA] = {0x5eed0001, 0x5eed0002, 0x5eed0003};
    if (which == 0) qs_test_gaussian(x, n, seeds[0]);
    else if (which == 1) qs_test_heavy(x, n, seeds[1]);
    else qs_test_llm_like(x, n, seeds[2]);
}

void qs_test_random_blocks(uint8_t *buf, int nblocks, int block_size, const int *half_off, int n_half,
                           uint64_t seed) {
    uint64_t s = seed;
    size_t nbytes = (size_t)nblocks * (size_t)block_size;
    for (size_t i = 0; i < nbytes; i++) buf[i] = (uint8_t)(qs_test_rng(&s) >> 56);
    for (int b = 0; b < nblocks; b++) {
        for (int k = 0; k < n_half; k++) {
            float v = 1e-3f + qs_test_uniform(&s) * 1.999f;
            if (qs_test_rng(&s) & 1u) v = -v;
            uint16_t h = qs_f32_to_fp16(v);
            memcpy(buf + (size_t)b * (size_t)block_size + (size_t)half_off[k], &h, sizeof h);
        }
    }
}

uint64_t qs_test_hash_floats(const float *y, int64_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &y[i], 4);
        for (int k = 0; k < 4; k++) {
            h ^= (u >> (8 * k)) & 0xffu;
            h *= 0x100000001b3ull;
        }
    }
    return h;
}

double qs_test_rmse(const float *a, const float *b, int64_t n) {
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        acc += d * d;
    }
    return n > 0 ? sqrt(acc / (double)n) : 0.0;
}

const char *qs_test_shared_path(const char *rel, char *buf, size_t bufsize) {
    snprintf(buf, bufsize, "%s/%s", QS_SHARED_DIR, rel);
    if (access(buf, R_OK) == 0) return buf;
    if (getenv("CI")) {
        fprintf(stderr, "missing %s under CI\n", buf);
        fail_msg("missing shared file %s", buf);
    }
    fprintf(stderr, "skipping: %s not found (not under CI)\n", buf);
    skip();
    return NULL;
}

const char *qs_test_tmpdir(void) {
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/qs_test_XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(dir)) fail_msg("mkdtemp failed");
    }
    return dir;
}

void qs_test_vm_flags(const void *p, char *out, size_t cap) {
    if (cap) out[0] = 0;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return;
    char line[512];
    bool in = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        const char *dash = strchr(line, '-'), *space = strchr(line, ' ');
        if (dash && space && dash < space && sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
            continue;
        }
        if (in && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(out, cap, "%s", line + 8);
            break;
        }
    }
    fclose(f);
}
