/* sampler.c — penalties, truncation, temperature and a seeded draw (see sampler.h). */
#include "sampler.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

qs_sampler_params qs_sampler_default_params(void) {
    qs_sampler_params p = {
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .min_keep = 0,
        .repeat_penalty = 1.0f,
        .freq_penalty = 0.0f,
        .presence_penalty = 0.0f,
        .repeat_last_n = 64,
        .seed = 0,
    };
    return p;
}

int32_t qs_argmax(const float *x, int64_t n) {
    if (n < 1) return -1;
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

/* ================================================================ candidate steps */

/* total order: higher logit first, then lower id */
static inline bool cand_before(const qs_token_cand *a, const qs_token_cand *b) {
    if (a->logit != b->logit) return a->logit > b->logit;
    return a->id < b->id;
}

static int cand_cmp(const void *pa, const void *pb) {
    const qs_token_cand *a = pa, *b = pb;
    if (cand_before(a, b)) return -1;
    if (cand_before(b, a)) return 1;
    return 0;
}

static inline void cand_swap(qs_token_cand *a, qs_token_cand *b) {
    qs_token_cand t = *a;
    *a = *b;
    *b = t;
}

/* Moves the k first (in cand order) elements of d[0..n) to the front, in any order
 * (quickselect, median of three). */
static void cand_select(qs_token_cand *d, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cand_before(&d[mid], &d[lo])) cand_swap(&d[mid], &d[lo]);
        if (cand_before(&d[hi], &d[lo])) cand_swap(&d[hi], &d[lo]);
        if (cand_before(&d[hi], &d[mid])) cand_swap(&d[hi], &d[mid]);
        qs_token_cand pivot = d[mid];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (cand_before(&d[i], &pivot)) i++;
            while (cand_before(&pivot, &d[j])) j--;
            if (i <= j) {
                cand_swap(&d[i], &d[j]);
                i++;
                j--;
            }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

/* Sorts the first k of the list (the k best), leaving the rest in any order. */
static void cand_partial_sort(qs_candidates *c, int64_t k) {
    if (k > c->size) k = c->size;
    if (k < c->size) cand_select(c->data, c->size, k);
    qsort(c->data, (size_t)k, sizeof *c->data, cand_cmp);
}

void qs_cand_sort(qs_candidates *c) {
    if (c->sorted) return;
    qsort(c->data, (size_t)c->size, sizeof *c->data, cand_cmp);
    c->sorted = true;
}

void qs_cand_softmax(qs_candidates *c) {
    if (c->size < 1) return;
    float max_l = c->data[0].logit;
    for (int64_t i = 1; i < c->size; i++) max_l = fmaxf(max_l, c->data[i].logit);
    float sum = 0.0f;
    for (int64_t i = 0; i < c->size; i++) {
        c->data[i].p = expf(c->data[i].logit - max_l);
        sum += c->data[i].p;
    }
    for (int64_t i = 0; i < c->size; i++) c->data[i].p /= sum;
}

/* counts[id] for the candidates' ids; the caller built counts over the history */
static void penalties_counts(qs_candidates *c, const int *counts, int64_t n_counts,
                             float repeat, float freq, float presence) {
    for (int64_t i = 0; i < c->size; i++) {
        int32_t id = c->data[i].id;
        if (id < 0 || id >= n_counts || counts[id] == 0) continue;
        const int n = counts[id];
        float l = c->data[i].logit;
        l = l <= 0 ? l * repeat : l / repeat;
        l -= (float)n * freq + (float)(n > 0) * presence;
        c->data[i].logit = l;
    }
    c->sorted = false;
}

void qs_cand_penalties(qs_candidates *c, const int32_t *history, int n_hist, float repeat,
                       float freq, float presence) {
    if (n_hist <= 0 || (repeat == 1.0f && freq == 0.0f && presence == 0.0f)) return;
    int32_t max_id = -1;
    for (int64_t i = 0; i < c->size; i++)
        if (c->data[i].id > max_id) max_id = c->data[i].id;
    if (max_id < 0) return;
    int *counts = calloc((size_t)max_id + 1, sizeof *counts);
    if (!counts) return;
    for (int i = 0; i < n_hist; i++)
        if (history[i] >= 0 && history[i] <= max_id) counts[history[i]]++;
    penalties_counts(c, counts, (int64_t)max_id + 1, repeat, freq, presence);
    free(counts);
}

void qs_cand_top_k(qs_candidates *c, int k) {
    if (k <= 0) return;
    if (k > c->size) k = (int)c->size;
    if (!c->sorted) cand_partial_sort(c, k);
    c->size = k;
    c->sorted = true;
}

void qs_cand_top_p(qs_candidates *c, float p, int min_keep) {
    if (p >= 1.0f || c->size < 1) return;
    qs_cand_softmax(c);
    /* Sort only the head first: the nucleus is usually small. */
    int64_t sorted_n = c->sorted ? c->size : (c->size > 1024 ? 256 : c->size);
    if (!c->sorted) cand_partial_sort(c, sorted_n);
    float cum = 0.0f;
    int64_t last = c->size;
    for (int64_t i = 0; i < c->size; i++) {
        if (i == sorted_n) { /* ran past the sorted head: sort the rest too */
            qsort(c->data + i, (size_t)(c->size - i), sizeof *c->data, cand_cmp);
            sorted_n = c->size;
        }
        cum += c->data[i].p;
        if (cum >= p && i + 1 >= min_keep) {
            last = i + 1;
            break;
        }
    }
    c->size = last;
    c->sorted = true;
}

void qs_cand_min_p(qs_candidates *c, float p, int min_keep) {
    if (p <= 0.0f || c->size < 1) return;
    if (!c->sorted) {
        float max_l = -FLT_MAX;
        for (int64_t i = 0; i < c->size; i++) max_l = fmaxf(max_l, c->data[i].logit);
        const float min_l = max_l + logf(p);
        int64_t n = 0;
        for (int64_t i = 0; i < c->size; i++)
            if (c->data[i].logit >= min_l) n++;
        if (n > 0 && n >= min_keep) { /* stable in-place filter */
            int64_t j = 0;
            for (int64_t i = 0; i < c->size; i++)
                if (c->data[i].logit >= min_l) c->data[j++] = c->data[i];
            c->size = j;
            return;
        }
        qs_cand_sort(c);
    }
    const float min_l = c->data[0].logit + logf(p);
    int64_t i = 1;
    for (; i < c->size; i++)
        if (c->data[i].logit < min_l && i >= min_keep) break;
    c->size = i;
}

void qs_cand_temperature(qs_candidates *c, float t) {
    if (c->size < 1) return;
    if (t <= 0.0f) { /* keep only the best (first on ties) */
        int64_t best = 0;
        for (int64_t i = 1; i < c->size; i++)
            if (c->data[i].logit > c->data[best].logit) best = i;
        c->data[0] = c->data[best];
        c->size = 1;
        c->sorted = true;
        return;
    }
    for (int64_t i = 0; i < c->size; i++) c->data[i].logit /= t;
}

/* ================================================================ the sampler */

struct qs_sampler {
    qs_sampler_params prm;
    int n_vocab;
    qs_token_cand *cand; /* n_vocab */
    int *counts;         /* n_vocab: occurrences in the history window */
    int32_t *hist;       /* ring of repeat_last_n */
    int hist_n, hist_head;
    uint64_t rng[4];
};

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4]) {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* uniform in [0, 1) with 53 random bits */
static double rng_uniform(uint64_t s[4]) { return (double)(xoshiro_next(s) >> 11) * 0x1p-53; }

void qs_sampler_reset(qs_sampler *s) {
    uint64_t x = s->prm.seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
    if (s->counts) memset(s->counts, 0, (size_t)s->n_vocab * sizeof *s->counts);
    s->hist_n = 0;
    s->hist_head = 0;
}

qs_sampler *qs_sampler_new(const qs_sampler_params *params, int n_vocab, qs_error *err) {
    qs_sampler_params p = params ? *params : qs_sampler_default_params();
    if (n_vocab < 1) {
        qs_error_set(err, "sampler: vocabulary of %d tokens", n_vocab);
        return NULL;
    }
    if (p.repeat_last_n < 0) {
        qs_error_set(err, "sampler: repeat_last_n must be >= 0 (got %d)", p.repeat_last_n);
        return NULL;
    }
    if (!(p.repeat_penalty > 0.0f)) {
        qs_error_set(err, "sampler: repeat_penalty must be > 0 (got %g)", p.repeat_penalty);
        return NULL;
    }
    qs_sampler *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    s->prm = p;
    s->n_vocab = n_vocab;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->counts = calloc((size_t)n_vocab, sizeof *s->counts);
    s->hist = malloc((size_t)(p.repeat_last_n > 0 ? p.repeat_last_n : 1) * sizeof *s->hist);
    if (!s->cand || !s->counts || !s->hist) goto oom;
    qs_sampler_reset(s);
    return s;
oom:
    qs_sampler_free(s);
    qs_error_set(err, "sampler: out of memory");
    return NULL;
}

void qs_sampler_free(qs_sampler *s) {
    if (!s) return;
    free(s->cand);
    free(s->counts);
    free(s->hist);
    free(s);
}

void qs_sampler_accept(qs_sampler *s, int32_t token) {
    if (token < 0 || token >= s->n_vocab || s->prm.repeat_last_n == 0) return;
    const int cap = s->prm.repeat_last_n;
    if (s->hist_n == cap) { /* drop the oldest */
        s->counts[s->hist[s->hist_head]]--;
        s->hist[s->hist_head] = token;
        s->hist_head = (s->hist_head + 1) % cap;
    } else {
        s->hist[(s->hist_head + s->hist_n) % cap] = token;
        s->hist_n++;
    }
    s->counts[token]++;
}

int32_t qs_sampler_sample(qs_sampler *s, const float *logits) {
    const qs_sampler_params *p = &s->prm;
    qs_candidates c = {s->cand, s->n_vocab, false};
    for (int i = 0; i < s->n_vocab; i++) c.data[i] = (qs_token_cand){i, logits[i], 0.0f};

    if (s->hist_n > 0 &&
        (p->repeat_penalty != 1.0f || p->freq_penalty != 0.0f || p->presence_penalty != 0.0f))
        penalties_counts(&c, s->counts, s->n_vocab, p->repeat_penalty, p->freq_penalty,
                         p->presence_penalty);

    if (p->temperature <= 0.0f) { /* greedy */
        int32_t best = 0;
        for (int64_t i = 1; i < c.size; i++)
            if (c.data[i].logit > c.data[best].logit) best = (int32_t)i;
        return c.data[best].id;
    }

    qs_cand_top_k(&c, p->top_k);
    qs_cand_top_p(&c, p->top_p, p->min_keep);
    qs_cand_min_p(&c, p->min_p, p->min_keep);
    qs_cand_temperature(&c, p->temperature);
    qs_cand_softmax(&c);

    const double u = rng_uniform(s->rng);
    double cum = 0.0;
    for (int64_t i = 0; i < c.size; i++) {
        cum += c.data[i].p;
        if (u < cum) return c.data[i].id;
    }
    return c.data[c.size - 1].id;
}
