/* quantscope estimate MODEL [--plan PLAN.yaml|--preset P] [--ctx N] [--kv-type T] [--gpu-layers N]
 *                     [--device NAME|--vram SIZE] [--batch N] [--ubatch N] [--flash-attn on|off]
 *                     [--parallel N] [--json]
 * quantscope estimate --device list */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "cli_plan.h"
#include "cli_util.h"
#include "qs_devices_probe.h"

const char cmd_estimate_usage[] =
    "usage: quantscope estimate MODEL.gguf [--plan PLAN.yaml | --preset P] [--ctx N] [--kv-type T]\n"
    "                           [--gpu-layers N] [--device NAME | --vram SIZE] [--batch N]\n"
    "                           [--ubatch N] [--flash-attn on|off] [--parallel N] [--json]\n"
    "       quantscope estimate --device list [--json]\n\n"
    "Estimates the memory llama.cpp allocates to run the model (as stored, or quantized per a\n"
    "plan or preset): weights, KV cache, output, compute buffers and runtime overhead, by device,\n"
    "with MiB/GiB figures. Parts resting on an assumption are flagged. Says whether it fits, the\n"
    "largest context that fits and, with a GPU, the largest number of GPU layers that fits.\n"
    "Host memory is this machine's available RAM (/proc/meminfo).\n\n"
    "  --plan PLAN.yaml     types from a plan file (its kv_type and context are used too)\n"
    "  --preset P           types from a llama.cpp mix (Q4_K_M, Q8_0, ...)\n"
    "  --ctx N              context length (default: the plan's, else the model's training one)\n"
    "  --kv-type T          KV-cache type: f16 (default), f32, bf16, q8_0, q4_0, q4_1, q5_0, q5_1,\n"
    "                       iq4_nl\n"
    "  --gpu-layers N       layers on the GPU, counting the output layer (-ngl; default all with a\n"
    "                       GPU, 0 without)\n"
    "  --device NAME        a GPU preset (rtx4090, 4090, a100-80gb, ...), a detected GPU by name\n"
    "                       or gpu0, gpu1...; 'cpu' for none; 'list' lists them\n"
    "  --vram SIZE          GPU memory instead of a device: 24GiB, 6.5G, 800MiB\n"
    "  --batch N, --ubatch N  logical / physical batch (default 2048 / 512)\n"
    "  --flash-attn on|off  default: auto (on where llama.cpp turns it on)\n"
    "  --parallel N         parallel sequences (-np, default 1)\n"
    "  --json               print as JSON\n\n"
    "Exit status: 0 done (whether it fits or not), 1 bad model or plan, 2 bad usage.\n";

static int list_devices(bool json) {
    const qs_device *presets;
    int n = qs_device_presets(&presets);
    qs_device host, gpus[16];
    int n_gpu = 0;
    qs_error err;
    bool have_host = qs_devices_probe_host(NULL, &host, &err) == QS_OK;
    if (qs_devices_probe_nvidia(gpus, 16, &n_gpu, &err) != QS_OK) {
        fprintf(stderr, "quantscope estimate: warning: %s\n", err.msg);
        n_gpu = 0;
    }
    char a[64], b[64];
    if (json) {
        json_t *o = json_object(), *det = json_array(), *pre = json_array();
        if (have_host) {
            json_t *d = json_object();
            json_object_set_new(d, "name", json_string("host"));
            json_object_set_new(d, "kind", json_string("cpu"));
            json_object_set_new(d, "mem_total", json_integer((json_int_t)host.mem_total));
            json_object_set_new(d, "mem_free", json_integer((json_int_t)host.mem_free));
            json_array_append_new(det, d);
        }
        for (int i = 0; i < n_gpu; i++) {
            json_t *d = json_object();
            snprintf(a, sizeof a, "gpu%d", i);
            json_object_set_new(d, "name", json_string(a));
            json_object_set_new(d, "label", json_string(gpus[i].name));
            json_object_set_new(d, "kind", json_string("nvidia"));
            json_object_set_new(d, "mem_total", json_integer((json_int_t)gpus[i].mem_total));
            json_object_set_new(d, "mem_free", json_integer((json_int_t)gpus[i].mem_free));
            json_array_append_new(det, d);
        }
        for (int i = 0; i < n; i++) {
            json_t *d = json_object();
            json_object_set_new(d, "name", json_string(presets[i].name));
            json_object_set_new(d, "label", json_string(presets[i].label));
            json_object_set_new(d, "mem_total", json_integer((json_int_t)presets[i].mem_total));
            json_array_append_new(pre, d);
        }
        json_object_set_new(o, "detected", det);
        json_object_set_new(o, "presets", pre);
        cli_json_print(o);
        return CLI_OK;
    }
    printf("detected:\n");
    if (have_host)
        printf("  %-16s system RAM: %s total, %s available\n", "host", cli_fmt_bytes(host.mem_total, a, sizeof a),
               cli_fmt_bytes(host.mem_free, b, sizeof b));
    for (int i = 0; i < n_gpu; i++)
        printf("  gpu%-13d %s: %s total, %s free\n", i, gpus[i].name, cli_fmt_bytes(gpus[i].mem_total, a, sizeof a),
               cli_fmt_bytes(gpus[i].mem_free, b, sizeof b));
    if (!n_gpu) printf("  (no NVIDIA GPU: nvidia-smi absent or reports none)\n");
    printf("presets:\n");
    for (int i = 0; i < n; i++) printf("  %-16s %s\n", presets[i].name, presets[i].label);
    return CLI_OK;
}

/* A device by name: detected GPUs first (gpuN or their reported name), then the presets. */
static int find_device(const char *name, qs_device *out) {
    qs_device gpus[16];
    int n = 0;
    qs_error err;
    if (qs_devices_probe_nvidia(gpus, 16, &n, &err) != QS_OK) n = 0;
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "gpu%d", i);
        if (!strcasecmp(name, key) || !strcasecmp(name, gpus[i].name)) {
            *out = gpus[i];
            return 0;
        }
    }
    const qs_device *d = qs_device_preset_find(name);
    if (!d) return -1;
    *out = *d;
    return 0;
}

static int parse_count(const char *cmd, const char *opt, const char *v, int64_t lo, int64_t hi, int64_t *out) {
    if (cli_parse_int(v, out) || *out < lo || *out > hi)
        return cli_usage_error(cmd, "%s takes a number from %lld to %lld, not '%s'", opt, (long long)lo,
                               (long long)hi, v);
    return CLI_OK;
}

int cmd_estimate(int argc, char **argv) {
    static const struct option opts[] = {
        {"plan", required_argument, 0, 'P'},     {"preset", required_argument, 0, 'p'},
        {"ctx", required_argument, 0, 'c'},      {"kv-type", required_argument, 0, 'k'},
        {"gpu-layers", required_argument, 0, 'g'}, {"device", required_argument, 0, 'd'},
        {"vram", required_argument, 0, 'v'},     {"batch", required_argument, 0, 'b'},
        {"ubatch", required_argument, 0, 'u'},   {"flash-attn", required_argument, 0, 'f'},
        {"parallel", required_argument, 0, 'n'}, {"json", no_argument, 0, 'j'},
        {0, 0, 0, 0},
    };
    const char *plan_path = NULL, *preset = NULL, *kv = NULL, *device = NULL;
    int64_t ctx = -1, ngl = -2, batch = -1, ubatch = -1, par = -1;
    uint64_t vram = 0;
    bool json = false, have_vram = false;
    int fa = QS_EST_FA_AUTO, c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'P': plan_path = optarg; break;
        case 'p': preset = optarg; break;
        case 'c': if ((rc = parse_count("estimate", "--ctx", optarg, 1, 1 << 24, &ctx))) return rc; break;
        case 'k': kv = optarg; break;
        case 'g': if ((rc = parse_count("estimate", "--gpu-layers", optarg, -1, QS_EST_MAX_LAYERS + 1, &ngl))) return rc; break;
        case 'd': device = optarg; break;
        case 'v':
            if (cli_parse_size(optarg, &vram)) return cli_usage_error("estimate", "--vram takes a size (24GiB, 6.5G, 800MiB), not '%s'", optarg);
            have_vram = true;
            break;
        case 'b': if ((rc = parse_count("estimate", "--batch", optarg, 1, 1 << 20, &batch))) return rc; break;
        case 'u': if ((rc = parse_count("estimate", "--ubatch", optarg, 1, 1 << 20, &ubatch))) return rc; break;
        case 'f':
            if (!strcmp(optarg, "on")) fa = QS_EST_FA_ON;
            else if (!strcmp(optarg, "off")) fa = QS_EST_FA_OFF;
            else if (!strcmp(optarg, "auto")) fa = QS_EST_FA_AUTO;
            else return cli_usage_error("estimate", "--flash-attn takes on, off or auto, not '%s'", optarg);
            break;
        case 'n': if ((rc = parse_count("estimate", "--parallel", optarg, 1, 256, &par))) return rc; break;
        case 'j': json = true; break;
        default: return cli_usage_error("estimate", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (device && !strcmp(device, "list")) return list_devices(json);
    if (argc - optind != 1) return cli_usage_error("estimate", "expected one MODEL.gguf");
    if (plan_path && preset) return cli_usage_error("estimate", "--plan and --preset exclude each other");
    if (device && have_vram) return cli_usage_error("estimate", "--device and --vram exclude each other");

    qs_est_settings s;
    qs_est_settings_default(&s);
    qs_device dev = {0};
    if (device) {
        if (find_device(device, &dev) != 0)
            return cli_usage_error("estimate", "unknown device '%s' (see --device list)", device);
        if (dev.kind != QS_DEV_CPU) s.gpu_mem = dev.mem_total;
    }
    if (have_vram) {
        s.gpu_mem = vram;
        snprintf(dev.label, sizeof dev.label, "GPU with %s", cli_fmt_bytes(vram, (char[64]){0}, 64));
    }
    if (ngl > 0 && !s.gpu_mem)
        return cli_usage_error("estimate", "--gpu-layers needs a GPU: give --device NAME or --vram SIZE");
    s.n_gpu_layers = s.gpu_mem ? (int)(ngl == -2 ? -1 : ngl) : 0;
    if (batch > 0) s.n_batch = batch;
    if (ubatch > 0) s.n_ubatch = ubatch;
    if (par > 0) s.n_seq = (int)par;
    s.flash_attn = fa;
    qs_device host;
    qs_error err;
    if (qs_devices_probe_host(NULL, &host, &err) == QS_OK) s.host_mem = host.mem_free ? host.mem_free : host.mem_total;

    cli_planned cp;
    if ((rc = cli_planned_open(&cp, "estimate", argv[optind], plan_path, preset)) != CLI_OK) return rc;
    bool planned = plan_path || preset;
    if ((rc = cli_planned_resolve(&cp, "estimate")) != CLI_OK) goto done;
    if (planned) cli_planned_print_warnings(&cp, "estimate");
    qs_type kvt = planned ? cp.plan.kv_type : QS_TYPE_F16;
    if (kv && (qs_type_from_name(kv, &kvt) != QS_OK || !qs_plan_kv_type_allowed(kvt))) {
        rc = cli_usage_error("estimate", "--kv-type takes f16, f32, bf16, q8_0, q4_0, q4_1, q5_0, q5_1 or iq4_nl, not '%s'", kv);
        goto done;
    }
    s.type_k = s.type_v = kvt;
    s.n_ctx = ctx > 0 ? ctx : planned && cp.plan.context > 0 ? cp.plan.context : 0;

    qs_est_model em;
    qs_est_tensor *et = NULL;
    if (qs_planned_est_model(&cp.p, &em, &et) != QS_OK) {
        rc = cli_fail("estimate", "out of memory");
        goto done;
    }
    if (!planned) /* the model as stored */
        for (int64_t i = 0; i < cp.m->n_tensors; i++) et[i].type = cp.m->tensors[i].t->type;
    qs_est_result r;
    int64_t max_ctx = 0;
    int max_ngl = -1;
    if (qs_estimate(&em, &s, &r, &err) != QS_OK || qs_estimate_max_ctx(&em, &s, 0, &max_ctx, &err) != QS_OK ||
        (s.gpu_mem && qs_estimate_max_gpu_layers(&em, &s, &max_ngl, &err) != QS_OK)) {
        free(et);
        rc = cli_fail("estimate", "%s", err.msg);
        goto done;
    }
    free(et);

    static const char *const devname[QS_EST_DEVICE_COUNT] = {"host", "gpu"};
    char a[64], b[64];
    if (json) {
        json_t *o = json_object(), *parts = json_array(), *set = json_object();
        json_object_set_new(o, "file", json_string(cp.m->gguf->path));
        json_object_set_new(o, "plan", json_string(plan_path ? plan_path : preset ? qs_preset_name(cp.plan.preset) : "as stored"));
        json_object_set_new(set, "n_ctx", json_integer(r.n_ctx));
        json_object_set_new(set, "n_batch", json_integer(r.n_batch));
        json_object_set_new(set, "n_ubatch", json_integer(r.n_ubatch));
        json_object_set_new(set, "n_seq", json_integer(s.n_seq));
        json_object_set_new(set, "kv_type", json_string(qs_type_name(kvt)));
        json_object_set_new(set, "flash_attn", json_boolean(r.flash_attn));
        json_object_set_new(set, "gpu_layers", json_integer(r.gpu_layers));
        json_object_set_new(set, "output_on_gpu", json_boolean(r.output_on_gpu));
        json_object_set_new(set, "gpu_mem", json_integer((json_int_t)s.gpu_mem));
        json_object_set_new(set, "host_mem", json_integer((json_int_t)s.host_mem));
        json_object_set_new(o, "settings", set);
        for (int i = 0; i < QS_EST_PART_COUNT; i++) {
            const qs_est_part *pt = &r.part[i];
            json_t *p = json_object();
            json_object_set_new(p, "name", json_string(pt->name));
            json_object_set_new(p, "label", json_string(pt->label));
            json_object_set_new(p, "device", json_string(devname[pt->device]));
            json_object_set_new(p, "bytes", json_integer((json_int_t)pt->bytes));
            json_object_set_new(p, "mib", json_real((double)pt->bytes / QS_MIB));
            json_object_set_new(p, "assumed", json_boolean(pt->assumed));
            json_object_set_new(p, "assumption", pt->assumption ? json_string(pt->assumption) : json_null());
            json_array_append_new(parts, p);
        }
        json_object_set_new(o, "parts", parts);
        json_t *tot = json_object();
        for (int d = 0; d < QS_EST_DEVICE_COUNT; d++) json_object_set_new(tot, devname[d], json_integer((json_int_t)r.total[d]));
        json_object_set_new(o, "total", tot);
        json_object_set_new(o, "fits_host", json_boolean(r.fits_host));
        json_object_set_new(o, "fits_gpu", json_boolean(r.fits_gpu));
        json_object_set_new(o, "fits", json_boolean(r.fits));
        json_object_set_new(o, "host_mem_known", json_boolean(r.host_mem_known));
        json_object_set_new(o, "max_ctx", json_integer(max_ctx));
        json_object_set_new(o, "max_gpu_layers", s.gpu_mem ? json_integer(max_ngl) : json_null());
        json_object_set_new(o, "graph_exact", json_boolean(r.graph_exact));
        cli_json_print(o);
        goto done;
    }
    printf("%s: %s, context %lld (batch %lld, ubatch %lld, %d seq), KV %s, flash attention %s\n",
           cp.m->gguf->path, plan_path ? plan_path : preset ? qs_preset_name(cp.plan.preset) : "types as stored",
           (long long)r.n_ctx, (long long)r.n_batch, (long long)r.n_ubatch, s.n_seq, qs_type_name(kvt),
           r.flash_attn ? "on" : "off");
    if (s.gpu_mem)
        printf("GPU: %s, %d of %lld layers offloaded%s\n", dev.label[0] ? dev.label : dev.name, r.gpu_layers,
               (long long)cp.m->hp.n_layer, r.output_on_gpu ? " + output" : "");
    bool any_assumed = false;
    for (int d = 0; d < QS_EST_DEVICE_COUNT; d++) {
        if (d == QS_EST_GPU && !s.gpu_mem) continue;
        printf("%s:\n", d == QS_EST_HOST ? "host (system RAM)" : "GPU");
        for (int i = 0; i < QS_EST_PART_COUNT; i++) {
            const qs_est_part *pt = &r.part[i];
            if ((int)pt->device != d || (!pt->bytes && !pt->assumed)) continue;
            any_assumed |= pt->assumed;
            printf("  %-28s %12s%s\n", pt->label, cli_fmt_bytes(pt->bytes, a, sizeof a), pt->assumed ? "  (assumed)" : "");
        }
        printf("  %-28s %12s\n", "total", cli_fmt_bytes(r.total[d], a, sizeof a));
    }
    if (any_assumed) {
        printf("assumptions:\n");
        for (int i = 0; i < QS_EST_PART_COUNT; i++)
            if (r.part[i].assumed && (r.part[i].device == QS_EST_HOST || s.gpu_mem))
                printf("  %s: %s\n", r.part[i].label, r.part[i].assumption);
    }
    if (!r.graph_exact) printf("note: the compute graph of '%s' is approximated with llama's\n", cp.m->hp.arch);
    if (r.host_mem_known)
        printf("host: %s (%s available)\n", r.fits_host ? "fits" : "does NOT fit", cli_fmt_bytes(s.host_mem, a, sizeof a));
    else
        printf("host: fit not judged (system RAM unknown)\n");
    if (s.gpu_mem) printf("GPU: %s (%s)\n", r.fits_gpu ? "fits" : "does NOT fit", cli_fmt_bytes(s.gpu_mem, b, sizeof b));
    printf("fits: %s\n", r.fits ? "yes" : "no");
    printf("largest context that fits: %lld\n", (long long)max_ctx);
    if (s.gpu_mem) printf("largest GPU layers that fit: %d (-ngl, counting the output layer)\n", max_ngl);
done:
    cli_planned_close(&cp);
    return rc;
}
