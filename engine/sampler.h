/* sampler.h — choosing the next token from the logits.
 *
 * The chain is llama.cpp's default order, with its definitions:
 *
 *   penalties -> top-k -> top-p -> min-p -> temperature -> draw
 *
 *   penalties    for each token seen among the last repeat_last_n accepted tokens (count c):
 *                logit = logit <= 0 ? logit * repeat_penalty : logit / repeat_penalty,
 *                then logit -= c * freq_penalty + (c > 0) * presence_penalty
 *   top-k        keep the k highest logits (k <= 0: off)
 *   top-p        softmax over the kept tokens; keep the smallest prefix (highest first) whose
 *                probabilities sum to >= p, and at least min_keep (p >= 1: off)
 *   min-p        keep tokens with logit >= max logit + ln(min_p), i.e. p_i >= min_p * p_max
 *                (min_p <= 0: off)
 *   temperature  logits / t; t <= 0 means greedy: the highest logit after the penalties
 *                (first one on ties), no randomness
 *   draw         softmax, then one draw from our own PRNG (xoshiro256**, seeded with splitmix64
 *                from `seed`): the same seed, logits and history give the same tokens on any
 *                machine. (The draws differ from llama.cpp's, which uses std::mt19937.)
 *
 * A sampler is not thread-safe; use one per generation thread. */
#ifndef QS_SAMPLER_H
#define QS_SAMPLER_H

#include "qs_common.h"

typedef struct qs_sampler_params {
    float temperature;       /* <= 0: greedy. llama.cpp default 0.8 */
    int top_k;               /* <= 0: off. default 40 */
    float top_p;             /* >= 1: off. default 0.95 */
    float min_p;             /* <= 0: off. default 0.05 */
    int min_keep;            /* top-p / min-p keep at least this many (default 0, i.e. 1) */
    float repeat_penalty;    /* 1: off (default) */
    float freq_penalty;      /* 0: off (default) */
    float presence_penalty;  /* 0: off (default) */
    int repeat_last_n;       /* history length the penalties look at (default 64; 0: off) */
    uint64_t seed;           /* PRNG seed */
} qs_sampler_params;

/* llama.cpp's defaults (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, penalties off,
 * last 64), seed 0. */
qs_sampler_params qs_sampler_default_params(void);

typedef struct qs_sampler qs_sampler;

/* A sampler for a vocabulary of n_vocab tokens. Returns NULL with err on bad parameters
 * (n_vocab < 1, negative repeat_last_n, repeat_penalty <= 0) or when memory is short. The
 * caller owns it: qs_sampler_free(). */
qs_sampler *qs_sampler_new(const qs_sampler_params *params, int n_vocab, qs_error *err);
void qs_sampler_free(qs_sampler *s);

/* Forgets the history and restarts the PRNG from the seed. */
void qs_sampler_reset(qs_sampler *s);

/* Adds a token to the penalty history (prompt tokens and generated ones, as llama.cpp does).
 * Ids outside the vocabulary are ignored. */
void qs_sampler_accept(qs_sampler *s, int32_t token);

/* Picks a token from n_vocab logits (not modified). Returns the id. Does not accept it. */
int32_t qs_sampler_sample(qs_sampler *s, const float *logits);

/* Index of the highest value (first one on ties); -1 when n < 1. */
int32_t qs_argmax(const float *x, int64_t n);

/* ---------------------------------------------------------------- the steps, for tests
 * and custom chains. A candidate list holds (id, logit, p); `sorted` means by logit,
 * highest first. Each step keeps a prefix or subset in place and updates size. */

typedef struct qs_token_cand {
    int32_t id;
    float logit;
    float p;
} qs_token_cand;

typedef struct qs_candidates {
    qs_token_cand *data;
    int64_t size;
    bool sorted;
} qs_candidates;

/* Sorts by logit, highest first (ties: lower id first). */
void qs_cand_sort(qs_candidates *c);
/* p = softmax(logit) over the list (f32, max subtracted). */
void qs_cand_softmax(qs_candidates *c);
/* history: n_hist token ids (oldest first); all of them count. */
void qs_cand_penalties(qs_candidates *c, const int32_t *history, int n_hist, float repeat,
                       float freq, float presence);
void qs_cand_top_k(qs_candidates *c, int k);
void qs_cand_top_p(qs_candidates *c, float p, int min_keep);
void qs_cand_min_p(qs_candidates *c, float p, int min_keep);
void qs_cand_temperature(qs_candidates *c, float t);

#endif
