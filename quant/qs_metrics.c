/* Error metrics: quantize rows, compare with the source, accumulate deterministic sums. */
#include "qs_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qs_quantize.h"

/* Rows per chunk hold about this many values. The chunk size depends only on n_per_row, which
 * is what makes the sums independent of the thread count (see the header). */
#define METRICS_CHUNK_VALUES (64 * 1024)
/* Pre-pass for the automatic histogram range: at most this many rows / values. */
#define PREPASS_MAX_ROWS 32
#define PREPASS_MAX_VALUES (64 * 1024)
/* Share of |e| the automatic range may clip. */
#define PREPASS_TAIL 0.001

/* ---------------------------------------------------------------- sampling */

static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int64_t qs_metrics_sample_count(int64_t nrows, double fraction, int64_t min_rows) {
    if (nrows <= 0) return 0;
    if (min_rows <= 0) min_rows = QS_METRICS_DEFAULT_MIN_ROWS;
    int64_t k = nrows;
    if (fraction > 0.0 && fraction < 1.0) {
        double want = ceil(fraction * (double)nrows);
        k = want < (double)nrows ? (int64_t)want : nrows;
    } else if (!(fraction >= 1.0)) {
        k = 0; /* nonsense fraction: only the floor */
    }
    int64_t floor_rows = min_rows < nrows ? min_rows : nrows;
    if (k < floor_rows) k = floor_rows;
    return k;
}

int64_t qs_metrics_sample_row(int64_t nrows, int64_t k, uint64_t seed, int64_t i) {
    if (k <= 0 || nrows <= 0) return 0;
    int64_t o = (int64_t)(mix64(seed) % (uint64_t)nrows);
    /* floor((i * nrows + o) / k), written to keep intermediates small: nrows = a k + b. */
    int64_t a = nrows / k, b = nrows % k;
    return i * a + (i * b + o) / k;
}

/* ---------------------------------------------------------------- per-row work */

typedef struct chunk_acc {
    double e2, x2, q2, xq, ae, we2, w;
} chunk_acc;

typedef struct worker_state {
    float *x;       /* source row as float (non-finite replaced by 0) */
    float *q;       /* quantized then dequantized row */
    uint8_t *qb;    /* the quantized row's bytes */
    uint8_t *bad;   /* 1 where the source value was not finite (valid when a row has any) */
    uint64_t *hist; /* QS_METRICS_MAX_BINS counts */
    uint64_t under, over;
    int64_t n, n_src_nonfinite, n_overflow;
    double max_abs;
} worker_state;

typedef struct mctx {
    const qs_type_traits *st, *tt;
    qs_type type;
    const uint8_t *src;
    uint64_t src_row_bytes;
    int64_t n_per_row, nrows, k;
    uint64_t seed;
    const float *importance;
    int bins;
    double range, inv_width;
    int64_t chunk;
    chunk_acc *acc; /* one per chunk */
    worker_state *ws;
} mctx;

/* Fills w->x and w->q for row r. Returns the number of non-finite source values. */
static int64_t prepare_row(const mctx *c, worker_state *w, int64_t r) {
    int64_t n = c->n_per_row, nbad = 0;
    c->st->to_float(c->src + (uint64_t)r * c->src_row_bytes, w->x, n);
    for (int64_t i = 0; i < n; i++) nbad += !isfinite(w->x[i]);
    if (nbad) {
        for (int64_t i = 0; i < n; i++) {
            w->bad[i] = !isfinite(w->x[i]);
            if (w->bad[i]) w->x[i] = 0.0f;
        }
    }
    c->tt->quantize(w->x, w->qb, n, c->importance);
    c->tt->to_float(w->qb, w->q, n);
    return nbad;
}

static void measure_row(const mctx *c, worker_state *w, int64_t r, chunk_acc *acc) {
    int64_t nbad = prepare_row(c, w, r);
    w->n_src_nonfinite += nbad;
    const float *x = w->x, *q = w->q, *imp = c->importance;
    const double inv_width = c->inv_width, bins = c->bins, half = 0.5 * c->bins;
    double e2 = 0, x2 = 0, q2 = 0, xq = 0, ae = 0, we2 = 0, sw = 0, mx = w->max_abs;
    int64_t cnt = 0, overflow = 0;
    for (int64_t i = 0; i < c->n_per_row; i++) {
        if (nbad && w->bad[i]) continue;
        double xv = x[i], qv = q[i];
        if (!isfinite(qv)) {
            overflow++;
            continue;
        }
        double e = qv - xv, a = fabs(e);
        e2 += e * e;
        x2 += xv * xv;
        q2 += qv * qv;
        xq += xv * qv;
        ae += a;
        if (imp) {
            we2 += (double)imp[i] * e * e;
            sw += imp[i];
        }
        if (a > mx) mx = a;
        /* bin position; 0 maps exactly to bins/2, the middle edge, whatever the range */
        double t = e * inv_width + half;
        if (t < 0.0) w->under++;
        else if (t >= bins) w->over++;
        else w->hist[(int)t]++;
        cnt++;
    }
    acc->e2 += e2;
    acc->x2 += x2;
    acc->q2 += q2;
    acc->xq += xq;
    acc->ae += ae;
    acc->we2 += we2;
    acc->w += sw;
    w->max_abs = mx;
    w->n += cnt;
    w->n_overflow += overflow;
}

static int measure_task(void *ctx, int worker, int64_t begin, int64_t end, qs_error *err) {
    (void)err;
    const mctx *c = ctx;
    worker_state *w = &c->ws[worker];
    chunk_acc *acc = &c->acc[begin / c->chunk];
    for (int64_t j = begin; j < end; j++) {
        int64_t r = c->k == c->nrows ? j : qs_metrics_sample_row(c->nrows, c->k, c->seed, j);
        measure_row(c, w, r, acc);
    }
    return QS_OK;
}

/* ---------------------------------------------------------------- setup */

static void free_workers(worker_state *ws, int n) {
    if (!ws) return;
    for (int i = 0; i < n; i++) {
        free(ws[i].x);
        free(ws[i].q);
        free(ws[i].qb);
        free(ws[i].bad);
        free(ws[i].hist);
    }
    free(ws);
}

static worker_state *alloc_workers(int n, int64_t n_per_row, uint64_t qbytes) {
    worker_state *ws = calloc((size_t)n, sizeof *ws);
    if (!ws) return NULL;
    for (int i = 0; i < n; i++) {
        ws[i].x = malloc((size_t)n_per_row * sizeof(float));
        ws[i].q = malloc((size_t)n_per_row * sizeof(float));
        ws[i].qb = malloc((size_t)qbytes);
        ws[i].bad = malloc((size_t)n_per_row);
        ws[i].hist = calloc(QS_METRICS_MAX_BINS, sizeof(uint64_t));
        if (!ws[i].x || !ws[i].q || !ws[i].qb || !ws[i].bad || !ws[i].hist) {
            free_workers(ws, n);
            return NULL;
        }
    }
    return ws;
}

/* Validates types, shape and options; fills the static parts of c. */
static int setup(mctx *c, qs_type src_type, const void *src, int64_t n_per_row, int64_t nrows,
                 qs_type type, const qs_metrics_opts *o, qs_error *err) {
    memset(c, 0, sizeof *c);
    c->st = qs_type_traits_get((int)src_type);
    c->tt = qs_type_traits_get((int)type);
    if (!c->st) return qs_error_set(err, "unknown tensor type id %d", (int)src_type);
    if (!c->tt) return qs_error_set(err, "unknown tensor type id %d", (int)type);
    if (n_per_row <= 0)
        return qs_error_set(err, "row length must be positive (got %lld)", (long long)n_per_row);
    if (nrows < 0)
        return qs_error_set(err, "row count must not be negative (got %lld)", (long long)nrows);
    const qs_type_traits *blk[2] = {c->st, c->tt};
    for (int i = 0; i < 2; i++)
        if (n_per_row % blk[i]->blck_size != 0)
            return qs_error_set(err, "row of %lld values cannot hold %s blocks of %d",
                                (long long)n_per_row, blk[i]->name, blk[i]->blck_size);
    if (!qs_type_can_read((int)src_type))
        return qs_error_set(err, "cannot read values of %s tensors", c->st->name);
    if (!qs_type_can_quantize((int)type) || !qs_type_can_read((int)type))
        return qs_error_set(err, "cannot quantize to %s", c->tt->name);
    c->type = type;
    if (nrows > 0 && !src) return qs_error_set(err, "metrics: NULL source");
    if (o->mode != QS_METRICS_EXACT && o->mode != QS_METRICS_SAMPLED)
        return qs_error_set(err, "unknown metrics mode %d", (int)o->mode);
    if (o->mode == QS_METRICS_SAMPLED && !(o->sample_fraction > 0.0 && o->sample_fraction <= 1.0))
        return qs_error_set(err, "sample fraction must be in (0, 1] (got %g)", o->sample_fraction);
    if (o->min_rows < 0)
        return qs_error_set(err, "minimum sampled rows must not be negative (got %lld)",
                            (long long)o->min_rows);
    if (o->hist_bins < 0 || o->hist_bins > QS_METRICS_MAX_BINS)
        return qs_error_set(err, "histogram bins must be 1..%d (got %d)", QS_METRICS_MAX_BINS,
                            o->hist_bins);
    if (!(o->hist_range >= 0.0) || isinf(o->hist_range))
        return qs_error_set(err, "histogram range must be finite and >= 0 (got %g)",
                            o->hist_range);
    if (o->n_threads < 0)
        return qs_error_set(err, "thread count must not be negative (got %d)", o->n_threads);
    c->src = src;
    c->src_row_bytes = qs_type_row_bytes((int)src_type, n_per_row);
    c->n_per_row = n_per_row;
    c->nrows = nrows;
    c->seed = o->seed;
    c->importance = o->importance;
    c->bins = o->hist_bins ? o->hist_bins : QS_METRICS_DEFAULT_BINS;
    c->k = o->mode == QS_METRICS_EXACT ? nrows
                                       : qs_metrics_sample_count(nrows, o->sample_fraction,
                                                                 o->min_rows);
    c->chunk = METRICS_CHUNK_VALUES / n_per_row;
    if (c->chunk < 1) c->chunk = 1;
    return QS_OK;
}

/* ---------------------------------------------------------------- automatic range */

/* k-th smallest of a[0..n) (0-based), reordering a. Hoare selection, middle pivot. */
static float select_kth(float *a, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else break;
    }
    return a[k];
}

/* Smallest of {1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8} x 10^e that is >= v (v > 0, finite). */
static double round_up_nice(double v) {
    static const double steps[] = {1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10};
    double p = pow(10.0, floor(log10(v)));
    double m = v / p;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (m <= steps[i] * (1.0 + 1e-12)) return steps[i] * p;
    return 10.0 * p;
}

/* Pre-pass over a few seeded rows with worker 0's buffers; sets *range. */
static int auto_range(const mctx *c, worker_state *w, double *range, qs_error *err) {
    *range = 1.0;
    if (c->nrows == 0) return QS_OK;
    int64_t k = PREPASS_MAX_VALUES / c->n_per_row;
    if (k > PREPASS_MAX_ROWS) k = PREPASS_MAX_ROWS;
    if (k < 1) k = 1;
    if (k > c->nrows) k = c->nrows;
    float *abs_e = malloc((size_t)(k * c->n_per_row) * sizeof(float));
    if (!abs_e) {
        qs_error_set(err, "out of memory for the histogram pre-pass");
        return QS_ENOMEM;
    }
    double e2 = 0, x2 = 0, mx = 0;
    int64_t cnt = 0;
    uint64_t seed = mix64(c->seed ^ 0x5ca1ab1e0ddba11ull);
    for (int64_t i = 0; i < k; i++) {
        int64_t r = qs_metrics_sample_row(c->nrows, k, seed, i);
        int64_t nbad = prepare_row(c, w, r);
        for (int64_t j = 0; j < c->n_per_row; j++) {
            if (nbad && w->bad[j]) continue;
            if (!isfinite(w->q[j])) continue;
            double e = (double)w->q[j] - (double)w->x[j], a = fabs(e);
            e2 += e * e;
            x2 += (double)w->x[j] * w->x[j];
            if (a > mx) mx = a;
            abs_e[cnt++] = (float)a;
        }
    }
    double r = 0.0;
    if (cnt > 0 && mx > 0.0) {
        double rmse = sqrt(e2 / (double)cnt);
        int64_t idx = (int64_t)ceil((1.0 - PREPASS_TAIL) * (double)cnt) - 1;
        if (idx < 0) idx = 0;
        double tail = select_kth(abs_e, cnt, idx);
        r = fmax(4.0 * rmse, tail);
        if (r > mx) r = mx;
    } else if (cnt > 0 && x2 > 0.0) {
        r = sqrt(x2 / (double)cnt) * 1e-3; /* no error seen: any small range will do */
    }
    free(abs_e);
    if (!(r > 0.0) || !isfinite(r)) r = 1.0;
    *range = round_up_nice(r);
    return QS_OK;
}

/* ---------------------------------------------------------------- results */

static void finalize(qs_metrics *m) {
    double wgt = m->weight;
    m->rmse = wgt > 0 ? sqrt(m->sum_e2 / wgt) : 0.0;
    m->mean_abs = wgt > 0 ? m->sum_abs_e / wgt : 0.0;
    m->rms_w = wgt > 0 ? sqrt(m->sum_x2 / wgt) : 0.0;
    m->rmse_weighted = m->sum_w > 0 ? sqrt(m->sum_we2 / m->sum_w) : m->rmse;
    m->rel_rmse = m->rms_w > 0 ? m->rmse / m->rms_w : (m->rmse > 0 ? INFINITY : 0.0);
    if (m->sum_e2 == 0.0) m->snr_db = INFINITY;
    else if (m->sum_x2 == 0.0) m->snr_db = -INFINITY;
    else m->snr_db = 10.0 * log10(m->sum_x2 / m->sum_e2);
    if (m->sum_e2 == 0.0) m->cosine = 1.0;
    else if (m->sum_x2 == 0.0 || m->sum_q2 == 0.0) m->cosine = 0.0;
    else m->cosine = fmax(-1.0, fmin(1.0, m->sum_xq / sqrt(m->sum_x2 * m->sum_q2)));
    m->fraction = m->n_values > 0 ? (double)m->n_sampled / (double)m->n_values : 0.0;
    m->hist_range_rel = m->rms_w > 0 ? m->hist_range / m->rms_w : 0.0;
}

static void combine_accs(chunk_acc *a, int64_t n) {
    /* Pairwise in chunk order: a fixed tree, so the same chunks give the same bits. */
    for (int64_t stride = 1; stride < n; stride *= 2) {
        for (int64_t i = 0; i + stride < n; i += 2 * stride) {
            a[i].e2 += a[i + stride].e2;
            a[i].x2 += a[i + stride].x2;
            a[i].q2 += a[i + stride].q2;
            a[i].xq += a[i + stride].xq;
            a[i].ae += a[i + stride].ae;
            a[i].we2 += a[i + stride].we2;
            a[i].w += a[i + stride].w;
        }
    }
}

void qs_metrics_opts_default(qs_metrics_opts *opts) {
    memset(opts, 0, sizeof *opts);
    opts->mode = QS_METRICS_EXACT;
    opts->sample_fraction = 1.0;
    opts->min_rows = QS_METRICS_DEFAULT_MIN_ROWS;
    opts->hist_bins = QS_METRICS_DEFAULT_BINS;
}

int qs_metrics_auto_range(qs_type src_type, const void *src, int64_t n_per_row, int64_t nrows,
                          qs_type type, const qs_metrics_opts *opts, double *range,
                          qs_error *err) {
    qs_metrics_opts o;
    if (opts) o = *opts;
    else qs_metrics_opts_default(&o);
    o.mode = QS_METRICS_EXACT;
    o.hist_range = 0.0;
    mctx c;
    int rc = setup(&c, src_type, src, n_per_row, nrows, type, &o, err);
    if (rc != QS_OK) return rc;
    worker_state *ws = alloc_workers(1, n_per_row, qs_type_row_bytes((int)type, n_per_row));
    if (!ws) {
        qs_error_set(err, "out of memory for row buffers");
        return QS_ENOMEM;
    }
    rc = auto_range(&c, &ws[0], range, err);
    free_workers(ws, 1);
    return rc;
}

int qs_metrics_compute(qs_type src_type, const void *src, int64_t n_per_row, int64_t nrows,
                       qs_type type, const qs_metrics_opts *opts, qs_metrics *out,
                       qs_error *err) {
    qs_metrics_opts o;
    if (opts) o = *opts;
    else qs_metrics_opts_default(&o);
    mctx c;
    int rc = setup(&c, src_type, src, n_per_row, nrows, type, &o, err);
    if (rc != QS_OK) return rc;
    if (o.cancel && atomic_load(o.cancel)) return QS_CANCELLED;

    int threads = qs_threads_resolve(o.n_threads);
    int n_workers = qs_rows_workers(threads, c.k, c.chunk);
    int64_t n_chunks = c.k > 0 ? (c.k + c.chunk - 1) / c.chunk : 0;
    c.ws = alloc_workers(n_workers, n_per_row, qs_type_row_bytes((int)type, n_per_row));
    c.acc = calloc((size_t)(n_chunks > 0 ? n_chunks : 1), sizeof *c.acc);
    if (!c.ws || !c.acc) {
        free_workers(c.ws, n_workers);
        free(c.acc);
        qs_error_set(err, "out of memory for row buffers");
        return QS_ENOMEM;
    }

    if (o.hist_range > 0.0) {
        c.range = o.hist_range;
    } else {
        rc = auto_range(&c, &c.ws[0], &c.range, err);
    }
    c.inv_width = (double)c.bins / (2.0 * c.range);

    if (rc == QS_OK) {
        qs_rows_job job = {
            .n_items = c.k,
            .chunk = c.chunk,
            .n_workers = n_workers,
            .task = measure_task,
            .ctx = &c,
            .progress = o.progress,
            .progress_user = o.progress_user,
            .cancel = o.cancel,
        };
        rc = qs_rows_run(&job, err);
    }
    if (rc != QS_OK) {
        free_workers(c.ws, n_workers);
        free(c.acc);
        return rc;
    }

    qs_metrics *m = out;
    memset(m, 0, sizeof *m);
    m->src_type = src_type;
    m->type = type;
    m->n_per_row = n_per_row;
    m->nrows = nrows;
    m->rows_used = c.k;
    m->n_values = nrows * n_per_row;
    m->n_sampled = c.k * n_per_row;
    m->n_tensors = 1;
    m->hist_bins = c.bins;
    m->hist_range = c.range;
    for (int i = 0; i < n_workers; i++) {
        worker_state *w = &c.ws[i];
        m->n += w->n;
        m->n_src_nonfinite += w->n_src_nonfinite;
        m->n_overflow += w->n_overflow;
        if (w->max_abs > m->max_abs) m->max_abs = w->max_abs;
        m->hist_under += w->under;
        m->hist_over += w->over;
        for (int b = 0; b < c.bins; b++) m->hist[b] += w->hist[b];
    }
    combine_accs(c.acc, n_chunks);
    if (n_chunks > 0) {
        m->sum_e2 = c.acc[0].e2;
        m->sum_x2 = c.acc[0].x2;
        m->sum_q2 = c.acc[0].q2;
        m->sum_xq = c.acc[0].xq;
        m->sum_abs_e = c.acc[0].ae;
        m->sum_we2 = c.acc[0].we2;
        m->sum_w = c.acc[0].w;
    }
    if (!c.importance) { /* uniform weights: weighted figures equal the plain ones */
        m->sum_we2 = m->sum_e2;
        m->sum_w = (double)m->n;
    }
    m->weight = (double)m->n;
    m->sum_scale = m->n_sampled > 0 ? (double)m->n_values / (double)m->n_sampled : 1.0;
    finalize(m);
    free_workers(c.ws, n_workers);
    free(c.acc);
    return QS_OK;
}

double qs_metrics_hist_edge(const qs_metrics *m, int i) {
    if (m->hist_bins <= 0) return 0.0;
    return -m->hist_range + (double)i * (2.0 * m->hist_range / (double)m->hist_bins);
}

double qs_metrics_hist_edge_rel(const qs_metrics *m, int i) {
    return m->rms_w > 0 ? qs_metrics_hist_edge(m, i) / m->rms_w : 0.0;
}

/* ---------------------------------------------------------------- totals */

void qs_metrics_total_init(qs_metrics *total) {
    memset(total, 0, sizeof *total);
    total->src_type = QS_TYPE_COUNT;
    total->type = QS_TYPE_COUNT;
    total->sum_scale = 1.0;
    finalize(total);
}

void qs_metrics_combine(qs_metrics *t, const qs_metrics *p) {
    if (p->n_tensors <= 0) return;
    bool first = t->n_tensors == 0;
    double s = p->sum_scale > 0 ? p->sum_scale : 1.0;
    t->sum_e2 += p->sum_e2 * s;
    t->sum_x2 += p->sum_x2 * s;
    t->sum_q2 += p->sum_q2 * s;
    t->sum_xq += p->sum_xq * s;
    t->sum_abs_e += p->sum_abs_e * s;
    t->sum_we2 += p->sum_we2 * s;
    t->sum_w += p->sum_w * s;
    t->weight += p->weight * s;
    t->sum_scale = 1.0;

    t->nrows += p->nrows;
    t->rows_used += p->rows_used;
    t->n_values += p->n_values;
    t->n_sampled += p->n_sampled;
    t->n += p->n;
    t->n_src_nonfinite += p->n_src_nonfinite;
    t->n_overflow += p->n_overflow;
    t->n_tensors += p->n_tensors;
    if (p->max_abs > t->max_abs) t->max_abs = p->max_abs;

    if (first) {
        t->src_type = p->src_type;
        t->type = p->type;
        t->n_per_row = p->n_per_row;
        t->hist_bins = p->hist_bins;
        t->hist_range = p->hist_range;
        t->hist_under = p->hist_under;
        t->hist_over = p->hist_over;
        memcpy(t->hist, p->hist, sizeof t->hist);
    } else {
        if (t->src_type != p->src_type) t->src_type = QS_TYPE_COUNT;
        if (t->type != p->type) t->type = QS_TYPE_COUNT;
        if (t->n_per_row != p->n_per_row) t->n_per_row = 0;
        if (t->hist_bins > 0 && p->hist_bins == t->hist_bins && p->hist_range == t->hist_range) {
            t->hist_under += p->hist_under;
            t->hist_over += p->hist_over;
            for (int b = 0; b < t->hist_bins; b++) t->hist[b] += p->hist[b];
        } else {
            t->hist_bins = 0;
            t->hist_range = 0.0;
            t->hist_under = t->hist_over = 0;
            memset(t->hist, 0, sizeof t->hist);
        }
    }
    finalize(t);
}
