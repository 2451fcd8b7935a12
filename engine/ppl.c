/* ppl.c — perplexity and KL divergence over chunks of a text (see ppl.h for the method). */
#include "ppl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qs_quantize.h" /* qs_rows_run: the scoring of a batch's tokens over workers */

/* ---------------------------------------------------------------- per-token figures */

double qs_ppl_nll(const float *logits, int n, int32_t token) {
    float max = logits[0];
    for (int i = 1; i < n; i++) max = logits[i] > max ? logits[i] : max;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += expf(logits[i] - max);
    return log(sum) - (double)(logits[token] - max); /* the float difference first, as llama.cpp */
}

int qs_ppl_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* log of sum_i exp(x_i - max) and the max, in double */
static double log_sum_exp(const float *x, int n, double *max_out) {
    double max = x[0];
    for (int i = 1; i < n; i++) max = x[i] > max ? x[i] : max;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += exp((double)x[i] - max);
    *max_out = max;
    return log(sum);
}

double qs_ppl_kld(const float *p_logits, const float *q_logits, int n) {
    double pmax, qmax;
    const double pl = log_sum_exp(p_logits, n, &pmax), ql = log_sum_exp(q_logits, n, &qmax);
    double kld = 0.0;
    for (int i = 0; i < n; i++) {
        const double lp = (double)p_logits[i] - pmax - pl, lq = (double)q_logits[i] - qmax - ql;
        kld += exp(lp) * (lp - lq);
    }
    return kld > 0.0 ? kld : 0.0; /* rounding can leave -1e-17 for equal distributions */
}

double qs_ppl_percentile(const float *sorted, int64_t n, double fraction) {
    if (fraction <= 0) return sorted[0];
    if (fraction >= 1) return sorted[n - 1];
    double p = fraction * (double)(n - 1);
    int64_t ip = (int64_t)p;
    p -= (double)ip;
    return (1 - p) * sorted[ip] + p * sorted[ip + 1 < n ? ip + 1 : n - 1];
}

/* ---------------------------------------------------------------- running sums */

typedef struct sums {
    double nll, nll2;           /* model */
    double nll_b, nll_b2, nll_nll_b; /* base */
    double kld, kld2;
    double dp, dp2, dp4;
    int64_t same_top, count;
} sums;

/* llama-perplexity's mean and uncertainty of a mean from a sum and a sum of squares */
static void mean_unc(double sum, double sum2, int64_t n, double *mean, double *unc) {
    *mean = n > 0 ? sum / (double)n : 0.0;
    double v = n > 0 ? sum2 / (double)n - *mean * *mean : 0.0;
    *unc = v > 0 && n > 1 ? sqrt(v / (double)(n - 1)) : 0.0;
}

static void fill_result(const sums *s, bool kld, qs_ppl_result *r) {
    double unc;
    r->n_scored = s->count;
    mean_unc(s->nll, s->nll2, s->count, &r->nll, &unc);
    r->ppl = exp(r->nll);
    r->ppl_unc = r->ppl * unc;
    r->kld = kld;
    if (!kld || s->count == 0) return;
    double unc_b;
    mean_unc(s->nll_b, s->nll_b2, s->count, &r->nll_base, &unc_b);
    r->ppl_base = exp(r->nll_base);
    r->ppl_base_unc = r->ppl_base * unc_b;
    const double n = (double)s->count;
    const double cov = s->count < 10 ? 0.0 : (s->nll_nll_b / n - (s->nll / n) * (s->nll_b / n)) / (n - 1);
    r->ln_ratio = r->nll - r->nll_base;
    const double v = unc * unc + unc_b * unc_b - 2.0 * cov;
    r->ln_ratio_unc = v > 0 ? sqrt(v) : 0.0;
    mean_unc(s->kld, s->kld2, s->count, &r->kld_mean, &r->kld_unc);
    r->n_same_top = s->same_top;
    r->top1 = (double)s->same_top / n;
    r->top1_unc = s->count > 1 ? sqrt(r->top1 * (1 - r->top1) / (n - 1)) : 0.0;
    double dp_unc, mse, mse_unc;
    mean_unc(s->dp, s->dp2, s->count, &r->dp_mean, &dp_unc);
    mean_unc(s->dp2, s->dp4, s->count, &mse, &mse_unc);
    r->dp_rms = sqrt(mse);
    r->dp_rms_unc = r->dp_rms > 0 ? 0.5 / r->dp_rms * mse_unc : 0.0;
}

/* ---------------------------------------------------------------- scoring a batch */

/* Figures of one scored position, computed by workers, summed in order afterwards (so the
 * sums do not depend on the worker count). */
typedef struct tok_fig {
    double nll, nll_b, kld, dp;
    bool same_top;
} tok_fig;

typedef struct score_job {
    const float *logits;      /* (n, n_vocab) model */
    const float *base_logits; /* (n, n_vocab) base, or NULL */
    const int32_t *next;      /* (n) the token each position predicts */
    int n_vocab;
    tok_fig *out;             /* (n) */
} score_job;

static int score_task(void *ctx, int worker, int64_t begin, int64_t end, qs_error *err) {
    (void)worker, (void)err;
    const score_job *j = ctx;
    for (int64_t i = begin; i < end; i++) {
        const float *q = j->logits + i * j->n_vocab;
        tok_fig *f = &j->out[i];
        f->nll = qs_ppl_nll(q, j->n_vocab, j->next[i]);
        if (!j->base_logits) continue;
        const float *p = j->base_logits + i * j->n_vocab;
        f->nll_b = qs_ppl_nll(p, j->n_vocab, j->next[i]);
        f->kld = qs_ppl_kld(p, q, j->n_vocab);
        f->same_top = qs_ppl_argmax(p, j->n_vocab) == qs_ppl_argmax(q, j->n_vocab);
        f->dp = exp(-f->nll) - exp(-f->nll_b);
    }
    return QS_OK;
}

/* ---------------------------------------------------------------- the run */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static bool stop_requested(const qs_ppl_params *p) {
    return p->cancel && atomic_load(p->cancel) != 0;
}

/* Decodes toks[0 .. n) in pieces of n_batch without logits. */
static int decode_plain(qs_infer_ctx *c, const int32_t *toks, int n, int n_batch, const qs_ppl_params *p,
                        qs_error *err) {
    for (int i = 0; i < n; i += n_batch) {
        if (stop_requested(p)) return QS_CANCELLED;
        int k = n - i < n_batch ? n - i : n_batch;
        int rc = qs_infer_decode(c, toks + i, k, false, err);
        if (rc != QS_OK) return rc;
    }
    return QS_OK;
}

int qs_ppl_run(const qs_infer_model *model, const qs_infer_model *base, const int32_t *tokens,
               int64_t n_tokens, const qs_ppl_params *pp, qs_ppl_result *res, qs_error *err) {
    const double t0 = now_ms();
    qs_ppl_params p = pp ? *pp : (qs_ppl_params){.bos = -1};
    memset(res, 0, sizeof *res);
    if (p.n_ctx == 0) p.n_ctx = 512;
    if (p.n_ctx < 4) return qs_error_set(err, "perplexity: a context of %d tokens is too small (at least 4)", p.n_ctx);
    if (p.n_batch <= 0 || p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;
    if (p.kv_type == 0) p.kv_type = QS_TYPE_F16;
    const int n_vocab = model->hp.n_vocab;
    if (base && base->hp.n_vocab != n_vocab)
        return qs_error_set(err, "perplexity: the models' vocabularies differ (%d and %d tokens)", n_vocab,
                            base->hp.n_vocab);
    res->n_ctx = p.n_ctx;
    res->n_tokens = n_tokens;
    res->kld = base != NULL;
    if (n_tokens < 2 * (int64_t)p.n_ctx)
        return qs_error_set(err, "the text has %lld tokens; a context of %d needs at least %lld", (long long)n_tokens,
                            p.n_ctx, 2 * (long long)p.n_ctx);
    for (int64_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return qs_error_set(err, "perplexity: token %lld (id %d) is outside the vocabulary of %d", (long long)i,
                                tokens[i], n_vocab);
    if (p.bos >= n_vocab) return qs_error_set(err, "perplexity: BOS id %d is outside the vocabulary", p.bos);
    const int64_t max_chunks = n_tokens / p.n_ctx;
    res->n_chunks_max = max_chunks > INT32_MAX ? INT32_MAX : (int)max_chunks;
    const int n_chunks = p.n_chunks > 0 && p.n_chunks < res->n_chunks_max ? p.n_chunks : res->n_chunks_max;
    const int first = p.n_ctx / 2, n_score = p.n_ctx - 1 - first;

    qs_infer_params ip = qs_infer_default_params();
    ip.n_ctx = p.n_ctx;
    ip.n_batch = p.n_batch;
    ip.n_threads = p.n_threads;
    ip.kv_type = p.kv_type;
    int rc = QS_OK;
    qs_infer_ctx *cm = qs_infer_ctx_new(model, &ip, err), *cb = NULL;
    if (!cm) return QS_ERR;
    if (base && !(cb = qs_infer_ctx_new(base, &ip, err))) {
        qs_infer_ctx_free(cm);
        return QS_ERR;
    }
    int32_t *chunk = malloc((size_t)p.n_ctx * sizeof *chunk);
    float *base_logits = base ? malloc((size_t)p.n_batch * (size_t)n_vocab * sizeof(float)) : NULL;
    tok_fig *figs = malloc((size_t)p.n_batch * sizeof *figs);
    float *kld_all = base ? malloc((size_t)n_chunks * (size_t)n_score * sizeof(float)) : NULL;
    if (!chunk || !figs || (base && (!base_logits || !kld_all))) {
        rc = QS_ENOMEM;
        qs_error_set(err, "perplexity: out of memory");
        goto done;
    }

    sums s = {0};
    const int n_workers = qs_threads_resolve(p.n_threads);
    for (int ic = 0; ic < n_chunks && rc == QS_OK; ic++) {
        memcpy(chunk, tokens + (int64_t)ic * p.n_ctx, (size_t)p.n_ctx * sizeof *chunk);
        if (p.bos >= 0) chunk[0] = p.bos;
        qs_infer_ctx *ctxs[2] = {cm, cb};
        for (int k = 0; k < 2 && rc == QS_OK; k++) {
            if (!ctxs[k]) continue;
            rc = qs_infer_kv_truncate(ctxs[k], 0, err);
            if (rc == QS_OK) rc = decode_plain(ctxs[k], chunk, first, p.n_batch, &p, err);
        }
        /* positions first .. n_ctx-2 with logits, each predicting the next token */
        for (int pos = first; pos < p.n_ctx - 1 && rc == QS_OK; pos += p.n_batch) {
            if (stop_requested(&p)) {
                rc = QS_CANCELLED;
                break;
            }
            const int n = p.n_ctx - 1 - pos < p.n_batch ? p.n_ctx - 1 - pos : p.n_batch;
            if (cb) {
                rc = qs_infer_decode(cb, chunk + pos, n, true, err);
                if (rc != QS_OK) break;
                for (int i = 0; i < n; i++)
                    memcpy(base_logits + (size_t)i * n_vocab, qs_infer_logits(cb, i), (size_t)n_vocab * sizeof(float));
            }
            rc = qs_infer_decode(cm, chunk + pos, n, true, err);
            if (rc != QS_OK) break;
            score_job sj = {.logits = qs_infer_logits(cm, 0), .base_logits = cb ? base_logits : NULL,
                            .next = chunk + pos + 1, .n_vocab = n_vocab, .out = figs};
            qs_rows_job job = {.n_items = n, .chunk = 1, .n_workers = qs_rows_workers(n_workers, n, 1),
                               .task = score_task, .ctx = &sj};
            rc = qs_rows_run(&job, err);
            for (int i = 0; i < n && rc == QS_OK; i++) {
                const tok_fig *f = &figs[i];
                s.nll += f->nll;
                s.nll2 += f->nll * f->nll;
                if (cb) {
                    s.nll_b += f->nll_b;
                    s.nll_b2 += f->nll_b * f->nll_b;
                    s.nll_nll_b += f->nll * f->nll_b;
                    s.kld += f->kld;
                    s.kld2 += f->kld * f->kld;
                    s.dp += f->dp;
                    s.dp2 += f->dp * f->dp;
                    s.dp4 += f->dp * f->dp * f->dp * f->dp;
                    s.same_top += f->same_top;
                    kld_all[s.count] = (float)f->kld;
                }
                s.count++;
            }
        }
        if (rc != QS_OK) break;
        res->n_chunks = ic + 1;
        fill_result(&s, base != NULL, res);
        res->ms = now_ms() - t0;
        if (p.progress && p.progress(p.progress_user, res)) rc = QS_CANCELLED;
    }
    fill_result(&s, base != NULL, res);
    if (rc == QS_OK && base && s.count > 0) {
        qsort(kld_all, (size_t)s.count, sizeof *kld_all, cmp_float);
        const int64_t n = s.count;
        res->kld_min = kld_all[0];
        res->kld_max = kld_all[n - 1];
        res->kld_median = n % 2 == 0 ? 0.5 * ((double)kld_all[n / 2] + kld_all[n / 2 - 1]) : kld_all[n / 2];
        res->kld_p999 = qs_ppl_percentile(kld_all, n, 0.999);
        res->kld_p99 = qs_ppl_percentile(kld_all, n, 0.99);
        res->kld_p95 = qs_ppl_percentile(kld_all, n, 0.95);
        res->kld_p90 = qs_ppl_percentile(kld_all, n, 0.90);
        res->kld_p10 = qs_ppl_percentile(kld_all, n, 0.10);
        res->kld_p05 = qs_ppl_percentile(kld_all, n, 0.05);
        res->kld_p01 = qs_ppl_percentile(kld_all, n, 0.01);
        res->kld_p001 = qs_ppl_percentile(kld_all, n, 0.001);
    }
    if (rc == QS_CANCELLED) qs_error_set(err, "cancelled");
done:
    res->ms = now_ms() - t0;
    free(chunk);
    free(base_logits);
    free(figs);
    free(kld_all);
    qs_infer_ctx_free(cm);
    qs_infer_ctx_free(cb);
    return rc;
}
