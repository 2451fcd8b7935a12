#include "qs_test_util.h"

#include <math.h>
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
