/* fuzz_gguf.c — libFuzzer harness for the GGUF reader and what reads a model's metadata.
 *
 * Input: any bytes, parsed as a GGUF image from memory (gguf_open_memory, the same parser
 * gguf_open runs over the mmap). When it opens, every key is looked up, formatted and, for
 * arrays, walked element by element (nested arrays too) with the typed getters; every tensor is
 * looked up by name and the first block of each readable tensor is dequantized. Then the
 * tokenizer metadata is loaded (qs_tok_load), the inference engine binds its weights
 * (qs_infer_model_load: hyper-parameters, tensor shapes, vectors converted) and the model
 * description is built
 * (qs_model_from_gguf, which takes the file) with its plan view. Any sanitizer report, crash,
 * leak or timeout is a finding; returning an error is the expected outcome for most inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "infer.h"
#include "model.h"
#include "qs_quantize.h"
#include "qs_types.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink; /* keeps values read from being optimised away */

static void walk_array(gguf_arr_iter *it, int depth) {
    const uint8_t *p;
    gguf_str s;
    gguf_arr_iter sub;
    uint64_t n = 0;
    while (gguf_arr_next(it, &p, &s, &sub)) {
        if (it->type == GGUF_VT_ARRAY) {
            walk_array(&sub, depth + 1);
        } else if (it->type == GGUF_VT_STRING) {
            if (s.len) sink += (uint8_t)s.ptr[0] + (uint8_t)s.ptr[s.len - 1];
        } else {
            sink += p[0] + p[gguf_vtype_size(it->type) - 1];
        }
        n++;
    }
    sink += n + (uint64_t)depth;
}

static void walk_kv(const gguf_file *f, int64_t i) {
    const gguf_kv *kv = &f->kv[i];
    char key[256], buf[512];
    /* keys are looked up through C strings: only those that fit the buffer */
    if (kv->key.len < sizeof key) {
        memcpy(key, kv->key.ptr, kv->key.len);
        key[kv->key.len] = '\0';
        if (gguf_find_key(f, key) != i) abort(); /* the index must find every key it built */
        int64_t iv;
        uint64_t uv;
        double dv;
        bool bv;
        gguf_str sv;
        sink += (uint64_t)gguf_get_int(f, key, &iv) + (uint64_t)gguf_get_uint(f, key, &uv);
        sink += (uint64_t)gguf_get_float(f, key, &dv) + (uint64_t)gguf_get_bool(f, key, &bv);
        sink += (uint64_t)gguf_get_str(f, key, &sv) + (uint64_t)gguf_get_cstr(f, key, buf, 7);
        sink += gguf_get_arr(f, key) != NULL;
    }
    gguf_kv_format(kv, buf, sizeof buf);
    gguf_kv_format(kv, buf, 9); /* cut mid-value: exercises the truncation at a UTF-8 boundary */
    sink += strlen(buf);
    if (kv->type == GGUF_VT_ARRAY) {
        gguf_arr_iter it;
        gguf_arr_begin(kv, &it);
        walk_array(&it, 0);
        uint64_t probe[3] = {0, kv->arr_count / 2, kv->arr_count ? kv->arr_count - 1 : 0};
        for (int k = 0; k < 3; k++) {
            double d;
            int64_t v;
            sink += (uint64_t)gguf_arr_num(kv, probe[k], &d) + (uint64_t)gguf_arr_int(kv, probe[k], &v);
        }
        double d;
        sink += (uint64_t)gguf_arr_num(kv, kv->arr_count, &d); /* one past the end: must refuse */
    }
}

static void walk_tensor(const gguf_file *f, int64_t i) {
    const gguf_tensor *t = &f->tensors[i];
    char name[GGUF_MAX_TENSOR_NAME + 1];
    memcpy(name, t->name.ptr, t->name.len);
    name[t->name.len] = '\0';
    if (gguf_find_tensor(f, name) != i) abort();
    if (!qs_type_can_read(t->type)) return;
    const qs_type_traits *tr = qs_type_traits_get(t->type);
    /* the first block; for plain types (block of 1) the first few values of the row */
    int64_t n = tr->blck_size > 1 ? tr->blck_size : (t->ne[0] < 64 ? t->ne[0] : 64);
    uint64_t bytes = qs_type_row_bytes(t->type, n);
    if (bytes == 0 || bytes > t->nbytes) abort(); /* the reader promised ne[0] % block == 0 */
    float out[256];
    qs_quantize_opts o = {.n_threads = 1};
    qs_error err;
    if (qs_dequantize_rows((qs_type)t->type, t->data, out, n, 1, &o, &err) == QS_OK)
        for (int64_t k = 0; k < n; k++) sink += (uint64_t)(out[k] == out[k]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qs_error err;
    gguf_file *f = gguf_open_memory(data, size, "fuzz.gguf", &err);
    if (!f) return 0;
    for (int64_t i = 0; i < f->n_kv; i++) walk_kv(f, i);
    for (int64_t i = 0; i < f->n_tensors; i++) walk_tensor(f, i);

    qs_tokenizer *tok = qs_tok_load(f, &err);
    if (tok) {
        /* a few words through the loaded vocabulary: tables built from hostile metadata */
        static const char text[] = " Hello world!\n\xe2\x96\x81 <s>\xf0\x9f\x98\x80 12 ab";
        int32_t *ids = NULL;
        size_t n = 0;
        if (qs_tok_encode(tok, text, sizeof text - 1, true, true, &ids, &n, &err) == QS_OK) {
            char *back = NULL;
            size_t blen = 0;
            if (qs_tok_decode(tok, ids, n, false, true, &back, &blen, &err) == QS_OK) free(back);
        }
        free(ids);
        qs_tok_free(tok);
    }

    qs_infer_model *im = qs_infer_model_load(f, &err);
    if (im) {
        sink += (uint64_t)im->hp.n_layer + (uint64_t)im->hp.n_vocab;
        qs_infer_model_free(im);
    }

    qs_model *m = qs_model_from_gguf(f, &err); /* takes f, closes it on failure */
    if (m) {
        qs_plan_model view;
        qs_plan_tensor *vt = NULL;
        if (qs_model_plan_view(m, &view, &vt) == QS_OK) {
            sink += qs_plan_tensor_hash(vt, view.n_tensors);
            free(vt);
        }
        sink += (uint64_t)qs_model_bpw(m);
        qs_model_close(m);
    }
    return 0;
}
