/* ppl.h — perplexity over a text, and the KL divergence of a planned model against the original,
 * computed the way llama.cpp's llama-perplexity computes them.
 *
 * The method (llama-perplexity's default mode, and its --kl-divergence mode):
 *   - the text is tokenized once with BOS added as the model asks (the caller does it);
 *   - it is cut into n_chunk = n_tokens / n_ctx chunks of n_ctx tokens (the tail is dropped;
 *     --chunks takes fewer), and each chunk is run from an empty KV cache with its first token
 *     replaced by BOS when the model adds one;
 *   - only the second half is scored, so every scored token has at least n_ctx/2 tokens of
 *     context: the logits at positions first = n_ctx/2 .. n_ctx-2 predict tokens first+1 ..
 *     n_ctx-1, i.e. n_ctx - 1 - n_ctx/2 tokens per chunk;
 *   - a token's negative log-likelihood is max + log(sum_j exp(logit_j - max)) - logit[token]
 *     (the exponentials summed in double); PPL = exp(mean NLL), and its uncertainty
 *     PPL * sqrt(var(NLL) / (count - 1)) as llama-perplexity's "Final estimate".
 * With a base model (the original) as well, for every scored position:
 *   KLD = sum_i p_i (log p_i - log q_i) with p = softmax(base logits), q = softmax(model
 *   logits), in double over the whole vocabulary; top-1 agreement (the argmax of both, first
 *   index on ties); dp = q(token) - p(token). llama-perplexity reads the base's log-probs back
 *   from a file where it stored them in 16 bits and drops terms with log p <= -16; we run both
 *   models side by side on the same chunks and keep every term exactly, so our KLD agrees with
 *   its figures to about 1e-4 but not to the last printed digit.
 *
 * Threads: qs_ppl_run may run on any thread (a TUI background job); it owns the inference
 * contexts it makes, reads the models only, and calls progress on the calling thread. The
 * models must not be changed (qs_applied_commit) while it runs. */
#ifndef QS_PPL_H
#define QS_PPL_H

#include <stdatomic.h>

#include "infer.h"

typedef struct qs_ppl_result {
    int n_ctx;            /* tokens per chunk */
    int n_chunks;         /* chunks evaluated */
    int n_chunks_max;     /* chunks the text holds: n_tokens / n_ctx */
    int64_t n_tokens;     /* tokens in the text */
    int64_t n_scored;     /* tokens scored so far: n_chunks * (n_ctx - 1 - n_ctx / 2) */
    double nll;           /* mean negative log-likelihood (nats) */
    double ppl, ppl_unc;  /* exp(nll), and its uncertainty (0 when it cannot be computed) */

    /* with a base model (kld true) */
    bool kld;
    double nll_base;
    double ppl_base, ppl_base_unc;
    double ln_ratio, ln_ratio_unc; /* ln(PPL / PPL_base), with the correlation accounted */
    double kld_mean, kld_unc;      /* mean KL(base || model), nats per token */
    /* KLD distribution over scored tokens (valid after the run, not in progress reports):
     * llama-perplexity's percentiles (linear interpolation between sorted values) */
    double kld_max, kld_p999, kld_p99, kld_p95, kld_p90, kld_median, kld_p10, kld_p05, kld_p01,
        kld_p001, kld_min;
    int64_t n_same_top;   /* scored tokens whose top-1 token agrees */
    double top1, top1_unc; /* n_same_top / n_scored, and its binomial uncertainty */
    double dp_mean;       /* mean of q(token) - p(token) */
    double dp_rms, dp_rms_unc; /* RMS of that difference */
    double ms;            /* wall time so far */
} qs_ppl_result;

/* Called after each chunk with the running figures (percentiles not yet filled). Return
 * non-zero to stop (qs_ppl_run then returns QS_CANCELLED). */
typedef int (*qs_ppl_progress_fn)(void *user, const qs_ppl_result *running);

typedef struct qs_ppl_params {
    int n_ctx;        /* tokens per chunk, >= 4; 0 = 512 (llama-perplexity's default) */
    int n_batch;      /* most tokens per forward pass; 0 = n_ctx (clamped to n_ctx) */
    int n_threads;    /* workers; 0 = the CPUs this process may run on */
    int n_chunks;     /* most chunks; <= 0 = as many as the text holds */
    int kv_type;      /* KV cache type (infer.h); 0 = F16 as llama.cpp */
    int32_t bos;      /* the token each chunk starts with, or -1 to keep the text's token */
    qs_ppl_progress_fn progress;
    void *progress_user;
    const atomic_int *cancel; /* NULL, or a flag another thread sets non-zero to stop */
} qs_ppl_params;

/* Runs model (and base, when not NULL: the KL divergence base || model) over tokens[0 ..
 * n_tokens) as described at the top. *res is filled (also the running part when cancelled).
 * Returns QS_OK; QS_CANCELLED (flag or progress; the figures of the finished chunks are in
 * *res); QS_ENOMEM; QS_ERR: "the text has 200 tokens; a context of 128 needs at least 256"
 * (llama-perplexity's rule: 2 * n_ctx), bad parameters, models with different vocabularies,
 * a token outside the vocabulary, or a context the engine cannot make. */
int qs_ppl_run(const qs_infer_model *model, const qs_infer_model *base, const int32_t *tokens,
               int64_t n_tokens, const qs_ppl_params *p, qs_ppl_result *res, qs_error *err);

/* ---------------------------------------------------------------- the per-token figures */

/* Negative log-likelihood of token under logits (n values): max + log(sum exp(l - max)) -
 * logits[token], exponentials in float summed in double (llama-perplexity's log_softmax). */
double qs_ppl_nll(const float *logits, int n, int32_t token);

/* KL(softmax(p_logits) || softmax(q_logits)) in nats, in double; >= 0 (0 for equal logits). */
double qs_ppl_kld(const float *p_logits, const float *q_logits, int n);

/* Index of the largest value (the first one on ties). */
int qs_ppl_argmax(const float *x, int n);

/* llama-perplexity's percentile of n sorted values: linear interpolation at fraction * (n - 1)
 * (fraction <= 0: the first, >= 1: the last). n >= 1. */
double qs_ppl_percentile(const float *sorted, int64_t n, double fraction);

#endif
