/* Finding GGUF models on this machine: the folders of model_scan.h, one entry per file. */
#include "model_scan.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "model.h"
#include "synth.h"

static const char *const source_names[QS_SCAN_SOURCE_COUNT] = {
    "here", "path", "hf", "llama.cpp", "ollama", "lmstudio", "demo",
};

const char *qs_scan_source_name(qs_scan_source s) {
    return s >= 0 && s < QS_SCAN_SOURCE_COUNT ? source_names[s] : "?";
}

/* Walk limits: directory entries read over the whole scan (a PATH of "/" must not hang). */
enum { MAX_DIRENTS = 200000 };

typedef struct scan {
    qs_scan_list *out;
    const atomic_int *cancel;
    struct { dev_t dev; ino_t ino; } *seen; /* [n_seen] files already listed */
    int n_seen, cap_seen;
    long dirents;
    bool oom, cancelled;
} scan;

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool stop(scan *s) {
    if (s->cancel && atomic_load(s->cancel)) s->cancelled = true;
    return s->oom || s->cancelled || s->out->n >= QS_SCAN_MAX_ENTRIES || s->dirents > MAX_DIRENTS;
}

static qs_scan_entry *add_entry(scan *s, qs_scan_source src, const char *name, const char *path) {
    qs_scan_list *l = s->out;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 32;
        qs_scan_entry *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            s->oom = true;
            return NULL;
        }
        l->v = v;
        l->cap = cap;
    }
    qs_scan_entry *e = &l->v[l->n++];
    memset(e, 0, sizeof *e);
    e->source = src;
    e->file_type = -1;
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->path, sizeof e->path, "%s", path);
    return e;
}

/* true the first time a file (by device and inode) is seen */
static bool first_sight(scan *s, const struct stat *st) {
    for (int i = 0; i < s->n_seen; i++)
        if (s->seen[i].dev == st->st_dev && s->seen[i].ino == st->st_ino) return false;
    if (s->n_seen == s->cap_seen) {
        int cap = s->cap_seen ? s->cap_seen * 2 : 64;
        void *v = realloc(s->seen, (size_t)cap * sizeof *s->seen);
        if (!v) {
            s->oom = true;
            return false;
        }
        s->seen = v;
        s->cap_seen = cap;
    }
    s->seen[s->n_seen].dev = st->st_dev;
    s->seen[s->n_seen].ino = st->st_ino;
    s->n_seen++;
    return true;
}

static bool ends_with_gguf(const char *name) {
    size_t n = strlen(name);
    return n > 5 && !strcasecmp(name + n - 5, ".gguf");
}

/* NAME-0000K-of-0000N.gguf with K > 1: a later part of a split model */
static bool later_split_part(const char *name) {
    size_t n = strlen(name);
    if (n < 20) return false;
    const char *p = name + n - 20; /* "-00002-of-00003.gguf" */
    if (p[0] != '-' || strncmp(p + 6, "-of-", 4) != 0) return false;
    int part = 0;
    for (int i = 1; i <= 5; i++) {
        if (p[i] < '0' || p[i] > '9' || p[i + 9] < '0' || p[i + 9] > '9') return false;
        part = part * 10 + (p[i] - '0');
    }
    return part > 1;
}

/* ---- describing one file ------------------------------------------------------------------- */

int qs_scan_describe(const char *path, qs_scan_entry *e) {
    e->ok = false;
    e->file_type = -1;
    if (e->path != path) snprintf(e->path, sizeof e->path, "%s", path);
    struct stat st, lst;
    if (stat(path, &st) != 0) {
        int saved = errno;
        if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
            snprintf(e->reason, sizeof e->reason, "broken symlink (%s)", strerror(saved));
        else
            snprintf(e->reason, sizeof e->reason, "cannot read: %s", strerror(saved));
        return QS_ERR;
    }
    e->size = (uint64_t)st.st_size;
    if (!S_ISREG(st.st_mode)) {
        snprintf(e->reason, sizeof e->reason, "not a regular file");
        return QS_ERR;
    }
    qs_error err = {{0}};
    gguf_file *f = gguf_open(path, &err);
    if (!f) {
        /* the reader's messages start with the path, which the picker shows anyway */
        const char *m = err.msg;
        size_t pl = strlen(path);
        if (!strncmp(m, path, pl) && m[pl] == ':' && m[pl + 1] == ' ') m += pl + 2;
        snprintf(e->reason, sizeof e->reason, "%.300s", m);
        return QS_ERR;
    }
    gguf_get_cstr(f, "general.architecture", e->arch, sizeof e->arch);
    gguf_get_cstr(f, "general.name", e->label, sizeof e->label);
    int64_t ft;
    if (gguf_get_int(f, "general.file_type", &ft) == QS_OK && ft >= 0 && ft < 1 << 20) e->file_type = (int)ft;
    uint64_t by_type[QS_TYPE_COUNT] = {0};
    e->n_tensors = f->n_tensors;
    e->n_params = 0;
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        e->n_params += t->n_elements;
        if (t->n_dims >= 2 && t->type >= 0 && t->type < QS_TYPE_COUNT) by_type[t->type] += t->nbytes;
    }
    if (e->file_type >= 0 && strcmp(qs_ftype_name(e->file_type), "?") != 0) {
        snprintf(e->type, sizeof e->type, "%s", qs_ftype_name(e->file_type));
    } else {
        int best = -1;
        for (int t = 0; t < QS_TYPE_COUNT; t++)
            if (by_type[t] && (best < 0 || by_type[t] > by_type[best])) best = t;
        snprintf(e->type, sizeof e->type, "%s%s", best >= 0 ? "mostly " : "", best >= 0 ? qs_type_name(best) : "?");
    }
    gguf_close(f);
    e->ok = true;
    e->reason[0] = 0;
    return QS_OK;
}

/* Lists one candidate file: skipped silently when seen before or a later split part. */
static void candidate(scan *s, qs_scan_source src, const char *name, const char *path) {
    const char *base = strrchr(path, '/');
    if (later_split_part(base ? base + 1 : path)) return;
    struct stat st;
    if (stat(path, &st) == 0 && !first_sight(s, &st)) return;
    if (s->oom) return;
    qs_scan_entry *e = add_entry(s, src, name, path);
    if (e) qs_scan_describe(path, e);
}

/* ---- walking folders ----------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The names in a folder, sorted (hidden ones left out). NULL when it cannot be read (errno). */
static char **list_dir(scan *s, const char *dir, int *n) {
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **v = NULL;
    int cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        s->dirents++;
        if (de->d_name[0] == '.' || s->dirents > MAX_DIRENTS) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv) { s->oom = true; break; }
            v = nv;
        }
        if (!(v[*n] = strdup(de->d_name))) { s->oom = true; break; }
        (*n)++;
    }
    closedir(d);
    if (!v) v = calloc(1, sizeof *v);
    if (!v) s->oom = true;
    else qsort(v, (size_t)*n, sizeof *v, cmp_str);
    return v;
}

static void free_names(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* *.gguf under dir (recursively while depth > 0); names relative to the walk's root, after
 * prefix. */
static void walk(scan *s, qs_scan_source src, const char *dir, const char *prefix, int depth) {
    int n;
    char **names = list_dir(s, dir, &n);
    if (!names) return;
    for (int i = 0; i < n && !stop(s); i++) {
        char path[1024], name[512];
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path) continue;
        snprintf(name, sizeof name, "%s%s", prefix, names[i]);
        if (ends_with_gguf(names[i])) {
            if (!is_dir(path)) candidate(s, src, name, path);
        } else if (depth > 0 && is_dir(path)) {
            char sub[512];
            if (snprintf(sub, sizeof sub, "%s/", name) >= (int)sizeof sub) continue;
            walk(s, src, path, sub, depth - 1);
        }
    }
    free_names(names, n);
}

/* A hub cache: models--ORG--NAME/snapshots/REV/... (Hugging Face's layout). */
static void walk_hub(scan *s, qs_scan_source src, const char *hub) {
    int n;
    char **repos = list_dir(s, hub, &n);
    if (!repos) return;
    for (int i = 0; i < n && !stop(s); i++) {
        if (strncmp(repos[i], "models--", 8) != 0) continue;
        char repo[256];
        snprintf(repo, sizeof repo, "%s", repos[i] + 8);
        /* ORG--NAME -> ORG/NAME (as huggingface_hub and llama.cpp turn it back) */
        for (char *p = strstr(repo, "--"); p; p = strstr(p + 1, "--")) {
            *p = '/';
            memmove(p + 1, p + 2, strlen(p + 2) + 1);
        }
        char snaps[1024];
        if (snprintf(snaps, sizeof snaps, "%s/%s/snapshots", hub, repos[i]) >= (int)sizeof snaps) continue;
        int nr;
        char **revs = list_dir(s, snaps, &nr);
        if (!revs) continue;
        for (int r = 0; r < nr && !stop(s); r++) {
            char dir[1024], prefix[512];
            if (snprintf(dir, sizeof dir, "%s/%s", snaps, revs[r]) >= (int)sizeof dir) continue;
            snprintf(prefix, sizeof prefix, "%s/", repo);
            walk(s, src, dir, prefix, QS_SCAN_MAX_DEPTH);
        }
        free_names(revs, nr);
    }
    free_names(repos, n);
}

/* ---- Ollama -------------------------------------------------------------------------------- */

#define OLLAMA_MODEL_MEDIA "application/vnd.ollama.image.model"

/* One manifest: manifests/HOST/NS/MODEL/TAG. */
static void ollama_manifest(scan *s, const char *root, const char *file, const char *host, const char *ns,
                            const char *model, const char *tag) {
    char name[256];
    if (!strcmp(host, "registry.ollama.ai") && !strcmp(ns, "library"))
        snprintf(name, sizeof name, "%s:%s", model, tag);
    else if (!strcmp(host, "registry.ollama.ai"))
        snprintf(name, sizeof name, "%s/%s:%s", ns, model, tag);
    else
        snprintf(name, sizeof name, "%s/%s/%s:%s", host, ns, model, tag);
    json_error_t je;
    json_t *j = json_load_file(file, 0, &je);
    char why[320] = "";
    char blob[1024] = "";
    if (!j) {
        snprintf(why, sizeof why, "manifest line %d column %d: %.200s", je.line, je.column, je.text);
    } else {
        json_t *layers = json_object_get(j, "layers");
        size_t i;
        json_t *l;
        const char *digest = NULL;
        if (!json_is_array(layers)) snprintf(why, sizeof why, "manifest: no \"layers\" array");
        else
            json_array_foreach(layers, i, l) {
                const char *mt = json_string_value(json_object_get(l, "mediaType"));
                if (mt && !strcmp(mt, OLLAMA_MODEL_MEDIA) && !digest)
                    digest = json_string_value(json_object_get(l, "digest"));
            }
        if (!why[0] && !digest)
            snprintf(why, sizeof why, "manifest: no layer of type %s", OLLAMA_MODEL_MEDIA);
        else if (!why[0]) {
            /* "sha256:HEX" is stored as blobs/sha256-HEX; anything else is not a digest we trust
             * to build a path from */
            bool good = !strncmp(digest, "sha256:", 7) && strlen(digest) == 7 + 64;
            for (const char *p = digest + 7; good && *p; p++)
                good = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');
            if (!good) snprintf(why, sizeof why, "manifest: bad digest '%.80s'", digest);
            else snprintf(blob, sizeof blob, "%s/blobs/sha256-%s", root, digest + 7);
        }
        json_decref(j);
    }
    if (why[0]) {
        qs_scan_entry *e = add_entry(s, QS_SCAN_OLLAMA, name, file);
        if (e) snprintf(e->reason, sizeof e->reason, "%s", why);
        return;
    }
    struct stat st;
    if (stat(blob, &st) != 0) {
        qs_scan_entry *e = add_entry(s, QS_SCAN_OLLAMA, name, blob);
        if (e) snprintf(e->reason, sizeof e->reason, "model blob missing (%s)", strerror(errno));
        return;
    }
    candidate(s, QS_SCAN_OLLAMA, name, blob);
}

static void walk_ollama(scan *s, const char *root) {
    char man[1024];
    if (snprintf(man, sizeof man, "%s/manifests", root) >= (int)sizeof man) return;
    int nh;
    char **hosts = list_dir(s, man, &nh);
    if (!hosts) return;
    for (int h = 0; h < nh && !stop(s); h++) {
        char dh[1024];
        if (snprintf(dh, sizeof dh, "%s/%s", man, hosts[h]) >= (int)sizeof dh) continue;
        int nn;
        char **nss = list_dir(s, dh, &nn);
        for (int a = 0; nss && a < nn && !stop(s); a++) {
            char dn[1024];
            if (snprintf(dn, sizeof dn, "%s/%s", dh, nss[a]) >= (int)sizeof dn) continue;
            int nm;
            char **models = list_dir(s, dn, &nm);
            for (int m = 0; models && m < nm && !stop(s); m++) {
                char dm[1024];
                if (snprintf(dm, sizeof dm, "%s/%s", dn, models[m]) >= (int)sizeof dm) continue;
                int nt;
                char **tags = list_dir(s, dm, &nt);
                for (int t = 0; tags && t < nt && !stop(s); t++) {
                    char f[1024];
                    if (snprintf(f, sizeof f, "%s/%s", dm, tags[t]) >= (int)sizeof f || is_dir(f)) continue;
                    ollama_manifest(s, root, f, hosts[h], nss[a], models[m], tags[t]);
                }
                if (tags) free_names(tags, nt);
            }
            if (models) free_names(models, nm);
        }
        if (nss) free_names(nss, nn);
    }
    free_names(hosts, nh);
}

/* ---- the scan ------------------------------------------------------------------------------ */

static int cmp_entry(const void *a, const void *b) {
    const qs_scan_entry *x = a, *y = b;
    if (x->source != y->source) return x->source < y->source ? -1 : 1;
    if (x->ok != y->ok) return x->ok ? -1 : 1; /* usable files first */
    return strcmp(x->name, y->name);
}

static void home_path(char *buf, size_t n, const char *rel) {
    const char *home = env("HOME");
    if (home) snprintf(buf, n, "%s/%s", home, rel);
    else buf[0] = 0;
}

static void add_demo(scan *s) {
    char path[1024];
    qs_error err;
    if (!qs_demo_model_path(path, sizeof path, &err)) return;
    qs_scan_entry *e = add_entry(s, QS_SCAN_DEMO, "demo (random weights)", path);
    if (!e) return;
    if (access(path, R_OK) == 0 && qs_scan_describe(path, e) == QS_OK) return;
    /* not written yet: what it will be */
    const qs_synth_shape *sh = qs_synth_find("tiny");
    e->ok = sh != NULL;
    e->reason[0] = 0;
    if (!sh) {
        snprintf(e->reason, sizeof e->reason, "no tiny synth shape");
        return;
    }
    snprintf(e->arch, sizeof e->arch, "%s", sh->arch);
    snprintf(e->label, sizeof e->label, "%s", sh->label);
    e->file_type = 1; /* MOSTLY_F16 */
    snprintf(e->type, sizeof e->type, "%s", qs_ftype_name(1));
    e->n_params = qs_synth_params(sh, sh->n_vocab);
    e->n_tensors = qs_synth_tensors(sh, sh->n_vocab, NULL, 0);
    e->size = qs_synth_data_bytes(sh, sh->n_vocab, QS_TYPE_F16);
}

int qs_model_scan(qs_scan_list *out, const qs_scan_opts *opts, qs_error *err) {
    memset(out, 0, sizeof *out);
    qs_scan_opts o = opts ? *opts : (qs_scan_opts){0};
    scan s = {.out = out, .cancel = o.cancel};
    char dir[1024];

    walk(&s, QS_SCAN_HERE, o.here ? o.here : ".", "", 0);

    const char *mp = env("QUANTSCOPE_MODEL_PATH");
    if (mp) {
        char *copy = strdup(mp);
        if (!copy) s.oom = true;
        for (char *save = NULL, *d = copy ? strtok_r(copy, ":", &save) : NULL; d && !stop(&s);
             d = strtok_r(NULL, ":", &save)) {
            if (!is_dir(d)) {
                qs_scan_entry *e = add_entry(&s, QS_SCAN_PATH, d, d);
                if (e) snprintf(e->reason, sizeof e->reason, "folder from $QUANTSCOPE_MODEL_PATH: %s",
                                access(d, F_OK) == 0 ? "not a folder" : strerror(errno));
                continue;
            }
            walk(&s, QS_SCAN_PATH, d, "", QS_SCAN_MAX_DEPTH);
        }
        free(copy);
    }

    /* Hugging Face hub cache: the first variable set wins, as huggingface_hub decides */
    if (env("HF_HUB_CACHE")) snprintf(dir, sizeof dir, "%s", env("HF_HUB_CACHE"));
    else if (env("HUGGINGFACE_HUB_CACHE")) snprintf(dir, sizeof dir, "%s", env("HUGGINGFACE_HUB_CACHE"));
    else if (env("HF_HOME")) snprintf(dir, sizeof dir, "%s/hub", env("HF_HOME"));
    else if (env("XDG_CACHE_HOME")) snprintf(dir, sizeof dir, "%s/huggingface/hub", env("XDG_CACHE_HOME"));
    else home_path(dir, sizeof dir, ".cache/huggingface/hub");
    if (dir[0] && !stop(&s)) walk_hub(&s, QS_SCAN_HF, dir);

    /* llama.cpp: files it downloaded with -hf / --model-url (flat), and the hub layout */
    if (env("LLAMA_CACHE")) snprintf(dir, sizeof dir, "%s", env("LLAMA_CACHE"));
    else if (env("XDG_CACHE_HOME")) snprintf(dir, sizeof dir, "%s/llama.cpp", env("XDG_CACHE_HOME"));
    else home_path(dir, sizeof dir, ".cache/llama.cpp");
    if (dir[0] && !stop(&s)) {
        walk(&s, QS_SCAN_LLAMACPP, dir, "", 0);
        walk_hub(&s, QS_SCAN_LLAMACPP, dir);
    }

    if (env("OLLAMA_MODELS")) snprintf(dir, sizeof dir, "%s", env("OLLAMA_MODELS"));
    else home_path(dir, sizeof dir, ".ollama/models");
    if (dir[0] && !stop(&s)) walk_ollama(&s, dir);

    static const char *const lms[] = {".lmstudio/models", ".cache/lm-studio/models"};
    for (size_t i = 0; i < sizeof lms / sizeof lms[0] && !stop(&s); i++) {
        home_path(dir, sizeof dir, lms[i]);
        if (dir[0]) walk(&s, QS_SCAN_LMSTUDIO, dir, "", QS_SCAN_MAX_DEPTH);
    }

    if (out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_entry);
    if (o.with_demo && !s.oom && !s.cancelled) add_demo(&s);
    free(s.seen);
    if (s.oom) {
        qs_error_set(err, "out of memory");
        return QS_ENOMEM;
    }
    if (s.cancelled) {
        qs_error_set(err, "scan cancelled");
        return QS_CANCELLED;
    }
    return QS_OK;
}

void qs_scan_list_free(qs_scan_list *l) {
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- the demo model ------------------------------------------------------------------------ */

const char *qs_demo_model_path(char *buf, size_t n, qs_error *err) {
    const char *xdg = env("XDG_CACHE_HOME"), *home = env("HOME");
    int w;
    if (xdg) w = snprintf(buf, n, "%s/quantscope/demo-tiny-v1.gguf", xdg);
    else if (home) w = snprintf(buf, n, "%s/.cache/quantscope/demo-tiny-v1.gguf", home);
    else w = snprintf(buf, n, "/tmp/quantscope-%d/demo-tiny-v1.gguf", (int)getuid());
    if (w < 0 || (size_t)w >= n) {
        qs_error_set(err, "the demo model's path is too long");
        return NULL;
    }
    return buf;
}

const char *qs_demo_model(char *buf, size_t n, qs_error *err) {
    if (!qs_demo_model_path(buf, n, err)) return NULL;
    if (access(buf, R_OK) == 0) return buf;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", buf);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    for (char *p = dir + 1; *p; p++) /* mkdir -p */
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0755);
            *p = '/';
        }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        qs_error_set(err, "cannot create %s: %s", dir, strerror(errno));
        return NULL;
    }
    qs_synth_opts o = {.type = QS_TYPE_F16, .seed = 1};
    if (qs_synth_write(qs_synth_find("tiny"), buf, &o, err) != QS_OK) {
        qs_error_prefix(err, "cannot write the demo model");
        return NULL;
    }
    return buf;
}
