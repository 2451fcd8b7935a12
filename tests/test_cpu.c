/* CPU feature detection and the SIMD level choice. */
#include "qs_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qs_cpu.h"

static void test_parse(void **state) {
    (void)state;
    qs_simd_level l;
    qs_error err = {{0}};
    struct { const char *s; qs_simd_level want; } ok[] = {
        {"scalar", QS_SIMD_SCALAR}, {"SCALAR", QS_SIMD_SCALAR}, {" avx2 ", QS_SIMD_AVX2},
        {"AVX2", QS_SIMD_AVX2},     {"avx512", QS_SIMD_AVX512}, {"AVX-512", QS_SIMD_AVX512},
        {"neon", QS_SIMD_NEON},     {"auto", QS_SIMD_AUTO},     {"", QS_SIMD_AUTO},
        {"  ", QS_SIMD_AUTO},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(qs_simd_parse(ok[i].s, &l, &err), QS_OK);
        assert_int_equal(l, ok[i].want);
    }
    assert_int_equal(qs_simd_parse(NULL, &l, &err), QS_OK);
    assert_int_equal(l, QS_SIMD_AUTO);
    const char *bad[] = {"sse4", "avx", "avx2x", "avx 512", "512"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        l = QS_SIMD_AVX2;
        assert_int_equal(qs_simd_parse(bad[i], &l, &err), QS_ERR);
        assert_int_equal(l, QS_SIMD_AUTO);
    }
    assert_int_equal(qs_simd_parse(" sse4 ", &l, &err), QS_ERR);
    assert_string_equal(err.msg,
                        "unknown SIMD level \"sse4\": expected scalar, avx2, avx512, neon or auto");
    /* names round-trip through the parser */
    for (int i = 0; i < QS_SIMD_LEVEL_COUNT; i++) {
        assert_int_equal(qs_simd_parse(qs_simd_level_name((qs_simd_level)i), &l, &err), QS_OK);
        assert_int_equal((int)l, i);
        assert_true(strlen(qs_simd_level_describe((qs_simd_level)i)) > 3);
    }
    assert_string_equal(qs_simd_level_name((qs_simd_level)42), "?");
}

/* Synthetic machines: the level logic on its own. */
static qs_cpu_features fake_avx512(void) {
    qs_cpu_features f;
    memset(&f, 0, sizeof f);
    snprintf(f.arch, sizeof f.arch, "x86-64");
    f.sse42 = f.avx = f.avx2 = f.fma = f.f16c = f.bmi2 = true;
    f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = f.avx512vnni = f.avx512bf16 = true;
    f.os_ymm = f.os_zmm = true;
    return f;
}

static void test_levels(void **state) {
    (void)state;
    qs_cpu_features f = fake_avx512();
    assert_int_equal(qs_simd_best_level(&f), QS_SIMD_AVX512);
    f.os_zmm = false; /* OS does not save ZMM state */
    assert_int_equal(qs_simd_best_level(&f), QS_SIMD_AVX2);
    f = fake_avx512();
    f.avx512bf16 = false; /* Ice Lake: the avx512 files are built with BF16 enabled */
    assert_int_equal(qs_simd_best_level(&f), QS_SIMD_AVX2);
    f = fake_avx512();
    f.f16c = false;
    assert_int_equal(qs_simd_best_level(&f), QS_SIMD_SCALAR); /* AVX-512 needs the AVX2 set */
    f = fake_avx512();
    f.os_ymm = false;
    assert_int_equal(qs_simd_best_level(&f), QS_SIMD_SCALAR);
    qs_cpu_features none;
    memset(&none, 0, sizeof none);
    assert_int_equal(qs_simd_best_level(&none), QS_SIMD_SCALAR);
    assert_true(qs_simd_level_usable(&none, QS_SIMD_SCALAR));
    assert_false(qs_simd_level_usable(&none, QS_SIMD_AUTO));
    none.neon = true;
    assert_int_equal(qs_simd_best_level(&none), QS_SIMD_NEON);
}

static void test_choose(void **state) {
    (void)state;
    qs_cpu_features f = fake_avx512();
    f.avx512vnni = false; /* best: avx2 */
    qs_simd_level l;
    qs_error err = {{0}};
    assert_int_equal(qs_simd_choose(&f, NULL, &l, &err), QS_OK);
    assert_int_equal(l, QS_SIMD_AVX2);
    assert_int_equal(qs_simd_choose(&f, "auto", &l, &err), QS_OK);
    assert_int_equal(l, QS_SIMD_AVX2);
    assert_int_equal(qs_simd_choose(&f, "scalar", &l, &err), QS_OK);
    assert_int_equal(l, QS_SIMD_SCALAR);
    assert_int_equal(qs_simd_choose(&f, "avx512", &l, &err), QS_ERR);
    assert_int_equal(l, QS_SIMD_AVX2);
    assert_string_equal(err.msg, "avx512 kernels cannot run on this CPU (best: avx2); using avx2");
    assert_int_equal(qs_simd_choose(&f, "neon", &l, &err), QS_ERR);
    assert_int_equal(l, QS_SIMD_SCALAR);
    assert_int_equal(qs_simd_choose(&f, "fast", &l, &err), QS_ERR);
    assert_int_equal(l, QS_SIMD_AVX2);
    assert_string_equal(err.msg, "unknown SIMD level \"fast\": expected scalar, avx2, avx512, "
                                 "neon or auto; using avx2");

    /* The environment read. */
    const qs_cpu_features *real = qs_cpu_features_get();
    setenv("QS_SIMD", "scalar", 1);
    assert_int_equal(qs_simd_level_from_env(real, &l, &err), QS_OK);
    assert_int_equal(l, QS_SIMD_SCALAR);
    setenv("QS_SIMD", "bogus", 1);
    assert_int_equal(qs_simd_level_from_env(real, &l, &err), QS_ERR);
    assert_int_equal(l, qs_simd_best_level(real));
    assert_true(strncmp(err.msg, "QS_SIMD: unknown SIMD level \"bogus\"", 35) == 0);
    unsetenv("QS_SIMD");
    assert_int_equal(qs_simd_level_from_env(real, &l, &err), QS_OK);
    assert_int_equal(l, qs_simd_best_level(real));
}

static bool cpuinfo_has(const char *flags, const char *name) {
    size_t n = strlen(name);
    for (const char *p = flags; (p = strstr(p, name)) != NULL; p += n)
        if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

/* The machine we run on: flags consistent with each other, with the chosen level and (on
 * Linux x86-64) with the kernel's view in /proc/cpuinfo. */
static void test_detected(void **state) {
    (void)state;
    qs_cpu_features f;
    qs_cpu_detect(&f);
    assert_memory_equal(&f, qs_cpu_features_get(), sizeof f);
    qs_simd_level best = qs_simd_best_level(&f);
    assert_true(qs_simd_level_usable(&f, best));
    if (best == QS_SIMD_AVX512)
        assert_true(f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni &&
                    f.avx512bf16 && f.os_zmm && f.avx2);
    if (best == QS_SIMD_AVX2 || best == QS_SIMD_AVX512)
        assert_true(f.avx2 && f.fma && f.f16c && f.bmi2 && f.os_ymm && f.avx);
    if (f.avx2 || f.fma || f.f16c) assert_true(f.avx);
    if (f.avx) assert_true(f.os_ymm);
    if (f.avx512bw || f.avx512vl || f.avx512dq || f.avx512vnni || f.avx512bf16)
        assert_true(f.avx512f);
    if (f.avx512f) assert_true(f.os_zmm);
    if (f.os_zmm) assert_true(f.os_ymm);
#if defined(__x86_64__)
    assert_string_equal(f.arch, "x86-64");
    assert_int_equal(strlen(f.vendor), 12);
    assert_false(f.neon);
    if (f.avx2 && f.fma && f.f16c && f.bmi2) assert_true(best != QS_SIMD_SCALAR);
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (fp) {
        static char line[8192];
        bool found = false;
        while (fgets(line, sizeof line, fp))
            if (strncmp(line, "flags", 5) == 0) {
                found = true;
                break;
            }
        fclose(fp);
        if (found) {
            const struct { bool ours; const char *linux_name; } m[] = {
                {f.sse42, "sse4_2"},         {f.avx, "avx"},
                {f.avx2, "avx2"},            {f.fma, "fma"},
                {f.f16c, "f16c"},            {f.bmi2, "bmi2"},
                {f.avx512f, "avx512f"},      {f.avx512bw, "avx512bw"},
                {f.avx512vl, "avx512vl"},    {f.avx512dq, "avx512dq"},
                {f.avx512vnni, "avx512_vnni"}, {f.avx512bf16, "avx512_bf16"},
                {f.avxvnni, "avx_vnni"},
            };
            for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
                if (m[i].ours != cpuinfo_has(line, m[i].linux_name))
                    fail_msg("%s: cpuid says %d, /proc/cpuinfo says %d", m[i].linux_name,
                             m[i].ours, !m[i].ours);
        }
    }
#elif defined(__aarch64__)
    assert_string_equal(f.arch, "aarch64");
    assert_true(f.neon);
    assert_int_equal(best, QS_SIMD_NEON);
#endif
}

static void test_describe(void **state) {
    (void)state;
    qs_cpu_features f = fake_avx512();
    snprintf(f.brand, sizeof f.brand, "Test CPU 9000");
    char buf[512];
    assert_string_equal(qs_cpu_describe(&f, QS_SIMD_AVX512, buf, sizeof buf),
                        "x86-64, Test CPU 9000; SSE4.2 AVX AVX2 FMA F16C BMI2 AVX512F AVX512BW "
                        "AVX512VL AVX512DQ AVX512VNNI AVX512BF16; kernels: avx512 "
                        "(AVX-512 (F/BW/VL/DQ/VNNI/BF16))");
    char small[12];
    qs_cpu_describe(&f, QS_SIMD_AVX512, small, sizeof small);
    assert_string_equal(small, "x86-64, Tes");
    const char *note = NULL;
    qs_simd_level active = qs_simd_active_level(&note);
    assert_non_null(note);
    assert_true(qs_simd_level_usable(qs_cpu_features_get(), active));
    assert_int_equal(qs_simd_active_level(NULL), active); /* computed once */
    qs_cpu_describe(qs_cpu_features_get(), active, buf, sizeof buf);
    char want[64];
    snprintf(want, sizeof want, "kernels: %s (", qs_simd_level_name(active));
    assert_non_null(strstr(buf, want));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),    cmocka_unit_test(test_levels),
        cmocka_unit_test(test_choose),   cmocka_unit_test(test_detected),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
