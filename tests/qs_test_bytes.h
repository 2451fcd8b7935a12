/* qs_test_bytes.h — a growing byte buffer for hand-made little-endian encodings in tests (GGUF
 * images built independently of our writer). Header-only, for tests; needs cmocka included
 * first (allocation failures fail the test). The buffer owns p; free(b.p) when done. */
#ifndef QS_TEST_BYTES_H
#define QS_TEST_BYTES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static inline void b_put(bytes *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}
static inline void b_u8(bytes *b, uint8_t v) { b_put(b, &v, 1); }
static inline void b_u32(bytes *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    b_put(b, x, 4);
}
static inline void b_u64(bytes *b, uint64_t v) {
    b_u32(b, (uint32_t)v);
    b_u32(b, (uint32_t)(v >> 32));
}
/* a GGUF string: u64 length, then the bytes */
static inline void b_strn(bytes *b, const char *s, uint64_t n) {
    b_u64(b, n);
    b_put(b, s, (size_t)n);
}
static inline void b_str(bytes *b, const char *s) { b_strn(b, s, strlen(s)); }
/* zero bytes up to a multiple of a */
static inline void b_pad(bytes *b, size_t a) {
    while (b->n % a) b_u8(b, 0);
}
/* overwrite a little-endian value already written at off */
static inline void patch_u32(bytes *b, size_t off, uint32_t v) {
    assert_true(off + 4 <= b->n);
    for (int i = 0; i < 4; i++) b->p[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}
static inline void patch_u64(bytes *b, size_t off, uint64_t v) {
    assert_true(off + 8 <= b->n);
    for (int i = 0; i < 8; i++) b->p[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

#endif
