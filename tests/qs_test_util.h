/* qs_test_util.h — helpers shared by the unit tests.
 *
 * Data generators are bit-reproducible on any IEEE machine (only +, *, / and sqrt, which are
 * correctly rounded), so reference figures measured elsewhere on the same data stay valid. */
#ifndef QS_TEST_UTIL_H
#define QS_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* splitmix64 step. */
uint64_t qs_test_rng(uint64_t *state);
/* Uniform in [0, 1) with 24 random bits. */
float qs_test_uniform(uint64_t *state);

/* n values ~ N(0, 1) (Irwin-Hall: sum of 12 uniforms - 6). */
void qs_test_gaussian(float *x, int64_t n, uint64_t seed);
/* n values ~ Student-t with 3 degrees of freedom scaled by 0.5: heavy tails. */
void qs_test_heavy(float *x, int64_t n, uint64_t seed);
/* n values like LLM weights: N(0, 0.02^2) with 1 in 64 values multiplied by 12 (outliers). */
void qs_test_llm_like(float *x, int64_t n, uint64_t seed);

/* The three standard data sets of the format tests (0 Gaussian, 1 heavy-tailed, 2 LLM-like)
 * with their fixed seeds; reference figures measured with ggml use exactly these. */
enum { QS_TEST_NDATA = 3 };
extern const char *const qs_test_data_names[QS_TEST_NDATA];
void qs_test_dataset(int which, float *x, int64_t n);

/* Random quantized blocks for dequantization checks: every byte random (splitmix64 from seed),
 * then each fp16 field at the byte offsets half_off[0..n_half-1] of every block set to a sane
 * finite value in +-[1e-3, 2]. */
void qs_test_random_blocks(uint8_t *buf, int nblocks, int block_size, const int *half_off, int n_half,
                           uint64_t seed);
/* 64-bit FNV-1a over the bit patterns of n floats (little-endian bytes). */
uint64_t qs_test_hash_floats(const float *y, int64_t n);

/* Root-mean-square difference of two arrays. */
double qs_test_rmse(const float *a, const float *b, int64_t n);

/* Path of a file under ../shared (e.g. "models/stories260K.gguf") in buf; returns buf if the
 * file exists. If it is missing: under CI (env CI set) the test fails; otherwise the test is
 * skipped with a printed reason. */
const char *qs_test_shared_path(const char *rel, char *buf, size_t bufsize);

/* The VmFlags of the mapping holding address p, from /proc/self/smaps (e.g. " rd mr mw me hg"
 * with "hg" for MADV_HUGEPAGE), into out; "" when not found or unreadable. */
void qs_test_vm_flags(const void *p, char *out, size_t cap);

/* A fresh temporary directory for the test (removed by the OS tmp cleaner, not by us). */
const char *qs_test_tmpdir(void);

#endif
