/* Device presets, the /proc/meminfo and nvidia-smi parsers, and the probes of this machine. */
#include "qs_test_util.h"

#include <stdio.h>
#include <string.h>

#include "qs_devices.h"
#include "qs_devices_probe.h"

static void test_presets(void **state) {
    (void)state;
    const qs_device *list;
    int n = qs_device_presets(&list);
    assert_true(n > 20);
    for (int i = 0; i < n; i++) {
        assert_true(list[i].preset);
        assert_true(list[i].name[0] && list[i].label[0]);
        for (int j = 0; j < i; j++) assert_string_not_equal(list[i].name, list[j].name);
        if (list[i].kind != QS_DEV_CPU) assert_true(list[i].mem_total >= 8 * QS_GIB);
    }
    const qs_device *d = qs_device_preset_find("RTX 4090");
    assert_non_null(d);
    assert_string_equal(d->name, "rtx4090");
    assert_int_equal(d->mem_total, 24 * QS_GIB);
    assert_ptr_equal(qs_device_preset_find("4090"), d);
    assert_ptr_equal(qs_device_preset_find("NVIDIA GeForce RTX 4090"), d);
    assert_ptr_equal(qs_device_preset_find("rtx-4090"), d);
    assert_int_equal(qs_device_preset_find("3060")->mem_total, 12 * QS_GIB);
    assert_int_equal(qs_device_preset_find("rtx4060ti")->mem_total, 16 * QS_GIB);
    assert_int_equal(qs_device_preset_find("5090")->mem_total, 32 * QS_GIB);
    assert_int_equal(qs_device_preset_find("A100-80GB")->mem_total, 80 * QS_GIB);
    assert_int_equal(qs_device_preset_find("a100_40gb")->mem_total, 40 * QS_GIB);
    assert_int_equal(qs_device_preset_find("H100")->mem_total, 80 * QS_GIB);
    const qs_device *m = qs_device_preset_find("m-32gb");
    assert_non_null(m);
    assert_true(m->unified);
    assert_int_equal(m->kind, QS_DEV_APPLE);
    assert_int_equal(qs_device_preset_find("cpu")->kind, QS_DEV_CPU);
    assert_null(qs_device_preset_find("rtx9999"));
    assert_null(qs_device_preset_find(""));
    assert_null(qs_device_preset_find(NULL));
}

static const char MEMINFO[] =
    "MemTotal:       24576000 kB\n"
    "MemFree:        20000000 kB\n"
    "MemAvailable:   22000000 kB\n"
    "Buffers:          100000 kB\n"
    "Cached:          1500000 kB\n"
    "HugePages_Total:       0\n"
    "Hugepagesize:       2048 kB\n";

static void test_parse_meminfo(void **state) {
    (void)state;
    qs_device d;
    qs_error err = {{0}};
    assert_int_equal(qs_device_parse_meminfo(MEMINFO, strlen(MEMINFO), &d, &err), QS_OK);
    assert_int_equal(d.kind, QS_DEV_CPU);
    assert_int_equal(d.mem_total, 24576000ull * 1024);
    assert_int_equal(d.mem_free, 22000000ull * 1024);
    assert_string_equal(d.name, "cpu");
    /* old kernels without MemAvailable: free + cached */
    const char old[] = "MemTotal: 1000 kB\r\nMemFree: 200 kB\r\nCached: 300 kB\r\n";
    assert_int_equal(qs_device_parse_meminfo(old, strlen(old), &d, &err), QS_OK);
    assert_int_equal(d.mem_total, 1000ull * 1024);
    assert_int_equal(d.mem_free, 500ull * 1024);
    /* not NUL-terminated: only len bytes are read */
    size_t first = (size_t)(strchr(MEMINFO, '\n') - MEMINFO); /* the first line, without its newline */
    assert_int_equal(qs_device_parse_meminfo(MEMINFO, first, &d, &err), QS_OK);
    assert_int_equal(d.mem_total, 24576000ull * 1024);
    /* errors name the line */
    const char bad[] = "MemTotal: 1000 kB\nMemAvailable: lots kB\n";
    assert_int_equal(qs_device_parse_meminfo(bad, strlen(bad), &d, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "line 2"));
    const char nocolon[] = "MemTotal 1000 kB\n";
    assert_int_equal(qs_device_parse_meminfo(nocolon, strlen(nocolon), &d, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "line 1"));
    const char none[] = "MemFree: 5 kB\n";
    assert_int_equal(qs_device_parse_meminfo(none, strlen(none), &d, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "MemTotal"));
    assert_int_equal(qs_device_parse_meminfo("", 0, &d, &err), QS_ERR);
    const char huge[] = "MemTotal: 99999999999999999999999 kB\n";
    assert_int_equal(qs_device_parse_meminfo(huge, strlen(huge), &d, &err), QS_ERR);
}

static void test_parse_nvidia_smi(void **state) {
    (void)state;
    qs_device d[4];
    int n = -1;
    qs_error err = {{0}};
    const char two[] = "NVIDIA GeForce RTX 4090, 24564\nNVIDIA GeForce RTX 3060, 12288, 11900\n";
    assert_int_equal(qs_device_parse_nvidia_smi(two, strlen(two), d, 4, &n, &err), QS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].name, "NVIDIA GeForce RTX 4090");
    assert_int_equal(d[0].mem_total, 24564ull * QS_MIB);
    assert_int_equal(d[0].mem_free, 0);
    assert_int_equal(d[0].kind, QS_DEV_NVIDIA);
    assert_false(d[0].preset);
    assert_int_equal(d[1].mem_total, 12288ull * QS_MIB);
    assert_int_equal(d[1].mem_free, 11900ull * QS_MIB);
    /* max caps what is stored */
    assert_int_equal(qs_device_parse_nvidia_smi(two, strlen(two), d, 1, &n, &err), QS_OK);
    assert_int_equal(n, 1);
    /* empty output, blank lines and CRLF */
    assert_int_equal(qs_device_parse_nvidia_smi("", 0, d, 4, &n, &err), QS_OK);
    assert_int_equal(n, 0);
    const char crlf[] = "\r\nTesla T4, 15360\r\n\r\n";
    assert_int_equal(qs_device_parse_nvidia_smi(crlf, strlen(crlf), d, 4, &n, &err), QS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].name, "Tesla T4");
    /* malformed lines name the line */
    const char na[] = "A100, 40960\nH100, [N/A]\n";
    assert_int_equal(qs_device_parse_nvidia_smi(na, strlen(na), d, 4, &n, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "line 2"));
    const char units[] = "RTX 4090, 24564 MiB\n"; /* someone forgot nounits */
    assert_int_equal(qs_device_parse_nvidia_smi(units, strlen(units), d, 4, &n, &err), QS_ERR);
    const char header[] = "name, memory.total [MiB]\n";
    assert_int_equal(qs_device_parse_nvidia_smi(header, strlen(header), d, 4, &n, &err), QS_ERR);
    const char nofield[] = "RTX 4090\n";
    assert_int_equal(qs_device_parse_nvidia_smi(nofield, strlen(nofield), d, 4, &n, &err), QS_ERR);
    const char extra[] = "RTX 4090, 1, 2, 3\n";
    assert_int_equal(qs_device_parse_nvidia_smi(extra, strlen(extra), d, 4, &n, &err), QS_ERR);
}

/* The probes of this machine: /proc/meminfo exists on Linux; nvidia-smi may not. */
static void test_probe_this_machine(void **state) {
    (void)state;
    qs_device d;
    qs_error err = {{0}};
    assert_int_equal(qs_devices_probe_host(NULL, &d, &err), QS_OK);
    assert_true(d.mem_total > 64 * QS_MIB);
    assert_true(d.mem_free > 0 && d.mem_free <= d.mem_total);
    assert_int_equal(qs_devices_probe_host("/nonexistent/meminfo", &d, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "/nonexistent/meminfo"));
    /* a file that is not meminfo: the message names the file and the line */
    char path[512];
    snprintf(path, sizeof path, "%s/meminfo", qs_test_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("MemTotal: x kB\n", f);
    fclose(f);
    assert_int_equal(qs_devices_probe_host(path, &d, &err), QS_ERR);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "line 1"));
    qs_device g[8];
    int n = -1;
    assert_int_equal(qs_devices_probe_nvidia(g, 8, &n, &err), QS_OK);
    assert_true(n >= 0 && n <= 8);
    for (int i = 0; i < n; i++) assert_true(g[i].mem_total > 0);
}

/* qs_proc_field_bytes on a smaps_rollup-like text: whole field names only, kB -> bytes, 0 for a
 * missing field or file; this process's own VmRSS is a plausible size. */
static void test_proc_fields(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/smaps_rollup", qs_test_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("00400000-7ffd [rollup]\nRss:              752428 kB\nAnonHugePagesX:  1 kB\n"
          "AnonHugePages:      4096 kB\nFilePmdMapped:    737280 kB\n", f);
    fclose(f);
    assert_int_equal(qs_proc_field_bytes(path, "Rss"), 752428ull * 1024);
    assert_int_equal(qs_proc_field_bytes(path, "AnonHugePages"), 4096ull * 1024);
    assert_int_equal(qs_proc_field_bytes(path, "FilePmdMapped"), 737280ull * 1024);
    assert_int_equal(qs_proc_field_bytes(path, "Anon"), 0);
    assert_int_equal(qs_proc_field_bytes("/nonexistent/status", "VmRSS"), 0);
    const uint64_t rss = qs_proc_self_bytes("VmRSS");
    assert_true(rss > 64 * 1024 && rss < ((uint64_t)1 << 40));
    assert_true(qs_proc_self_bytes("VmHWM") > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_parse_meminfo),
        cmocka_unit_test(test_parse_nvidia_smi),
        cmocka_unit_test(test_probe_this_machine),
        cmocka_unit_test(test_proc_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
