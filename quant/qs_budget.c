/* qs_budget.c — multiple-choice knapsack over per-tensor candidates (see qs_budget.h). */
#include "qs_budget.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per item: its Pareto candidates (cheapest first, error strictly falling) and their hull. */
typedef struct item_front {
    int *par;    /* indices into cand[], bytes ascending, error strictly descending */
    int n_par;
    int *hull;   /* positions in par[] of the lower convex hull, first = 0, last = n_par - 1 */
    int n_hull;
} item_front;

typedef struct segment {
    int item;
    int k;        /* from hull[k] to hull[k + 1] */
    double slope; /* error saved per byte */
} segment;

static const qs_budget_cand *cand_of(const qs_budget_problem *p, int i, int c) {
    return &p->items[i].cand[c];
}

static int cmp_seg(const void *a, const void *b) {
    const segment *x = a, *y = b;
    if (x->slope != y->slope) return x->slope > y->slope ? -1 : 1;
    if (x->item != y->item) return x->item - y->item;
    return x->k - y->k;
}

/* Sorts candidate indices by (bytes, error, index). An insertion sort, because qsort has no
 * context argument and the solver keeps no globals (candidate lists are short). */
static void sort_cands(const qs_budget_problem *p, int i, int *idx, int n) {
    for (int a = 1; a < n; a++) {
        int v = idx[a], b = a - 1;
        const qs_budget_cand *cv = cand_of(p, i, v);
        while (b >= 0) {
            const qs_budget_cand *cb = cand_of(p, i, idx[b]);
            bool after = cb->bytes > cv->bytes ||
                         (cb->bytes == cv->bytes && (cb->error > cv->error ||
                                                     (cb->error == cv->error && idx[b] > v)));
            if (!after) break;
            idx[b + 1] = idx[b];
            b--;
        }
        idx[b + 1] = v;
    }
}

static void fronts_free(item_front *f, int n) {
    if (!f) return;
    for (int i = 0; i < n; i++) {
        free(f[i].par);
        free(f[i].hull);
    }
    free(f);
}

static int build_fronts(const qs_budget_problem *p, item_front **out, qs_error *err) {
    item_front *f = calloc((size_t)(p->n_items ? p->n_items : 1), sizeof *f);
    if (!f) return QS_ENOMEM;
    for (int i = 0; i < p->n_items; i++) {
        const qs_budget_item *it = &p->items[i];
        const char *nm = it->name ? it->name : "?";
        if (it->n_cand < 1 || !it->cand) {
            fronts_free(f, p->n_items);
            return qs_error_set(err, "budget: item %d (%s) has no candidates", i, nm);
        }
        for (int c = 0; c < it->n_cand; c++) {
            double e = it->cand[c].error;
            if (!(e >= 0) || !isfinite(e)) {
                fronts_free(f, p->n_items);
                return qs_error_set(err, "budget: item %d (%s) candidate %d has error %g "
                                    "(must be finite and >= 0)", i, nm, c, e);
            }
        }
        int *idx = malloc((size_t)it->n_cand * sizeof *idx);
        f[i].par = malloc((size_t)it->n_cand * sizeof(int));
        f[i].hull = malloc((size_t)it->n_cand * sizeof(int));
        if (!idx || !f[i].par || !f[i].hull) {
            free(idx);
            fronts_free(f, p->n_items);
            return QS_ENOMEM;
        }
        for (int c = 0; c < it->n_cand; c++) idx[c] = c;
        sort_cands(p, i, idx, it->n_cand);
        /* Pareto: keep a candidate only if its error is strictly below every cheaper one's */
        int np = 0;
        for (int a = 0; a < it->n_cand; a++) {
            if (np == 0 || it->cand[idx[a]].error < it->cand[f[i].par[np - 1]].error)
                f[i].par[np++] = idx[a];
        }
        free(idx);
        f[i].n_par = np;
        /* lower convex hull (monotone chain over bytes ascending) */
        int nh = 0;
        for (int a = 0; a < np; a++) {
            const qs_budget_cand *c = &it->cand[f[i].par[a]];
            while (nh >= 2) {
                const qs_budget_cand *o = &it->cand[f[i].par[f[i].hull[nh - 2]]];
                const qs_budget_cand *m = &it->cand[f[i].par[f[i].hull[nh - 1]]];
                /* drop m if it lies on or above the line o-c */
                double x1 = (double)(m->bytes - o->bytes), y1 = m->error - o->error;
                double x2 = (double)(c->bytes - o->bytes), y2 = c->error - o->error;
                if (x1 * y2 - y1 * x2 <= 0) nh--;
                else break;
            }
            f[i].hull[nh++] = a;
        }
        f[i].n_hull = nh;
    }
    *out = f;
    return QS_OK;
}

static double sum_error(const qs_budget_problem *p, const int *choice) {
    double e = 0;
    for (int i = 0; i < p->n_items; i++) e += p->items[i].cand[choice[i]].error;
    return e;
}

static uint64_t sum_bytes(const qs_budget_problem *p, const int *choice) {
    uint64_t b = p->fixed_bytes;
    for (int i = 0; i < p->n_items; i++) b += p->items[i].cand[choice[i]].bytes;
    return b;
}

/* Local improvement within the budget: best single moves (error per byte; moves that free bytes
 * and lower the error first), then best paired moves (one item gives bytes to another), until no
 * move lowers the error. choice[] holds candidate indices. */
static void improve(const qs_budget_problem *p, const item_front *f, int *choice, uint64_t budget) {
    uint64_t used = sum_bytes(p, choice);
    int64_t n_par_total = 0;
    for (int i = 0; i < p->n_items; i++) n_par_total += f[i].n_par;
    int max_iter = 4 * p->n_items + 64, pair_moves = 0;
    for (int iter = 0; iter < max_iter; iter++) {
        /* single moves */
        int bi = -1, bc = -1;
        double best = 0, best_gain = 0;
        uint64_t room = budget - used;
        for (int i = 0; i < p->n_items; i++) {
            const qs_budget_cand *cur = &p->items[i].cand[choice[i]];
            for (int a = 0; a < f[i].n_par; a++) {
                const qs_budget_cand *c = &p->items[i].cand[f[i].par[a]];
                if (c->error >= cur->error) continue;
                double gain = cur->error - c->error, score;
                if (c->bytes <= cur->bytes) score = INFINITY;
                else if (c->bytes - cur->bytes > room) continue;
                else score = gain / (double)(c->bytes - cur->bytes);
                if (score > best || (score == INFINITY && best == INFINITY && gain > best_gain)) {
                    best_gain = gain;
                    best = score;
                    bi = i;
                    bc = f[i].par[a];
                }
            }
        }
        if (bi >= 0) {
            used = used - p->items[bi].cand[choice[bi]].bytes + p->items[bi].cand[bc].bytes;
            choice[bi] = bc;
            continue;
        }
        /* paired moves: i goes down (frees bytes, error rises), j goes up */
        if (n_par_total * n_par_total > 40000000 || pair_moves >= 64) break;
        int pi = -1, pc = -1, pj = -1, pcj = -1;
        double pbest = 0;
        for (int i = 0; i < p->n_items; i++) {
            const qs_budget_cand *ci = &p->items[i].cand[choice[i]];
            for (int a = 0; a < f[i].n_par; a++) {
                const qs_budget_cand *di = &p->items[i].cand[f[i].par[a]];
                if (di->bytes >= ci->bytes) continue;
                uint64_t freed = ci->bytes - di->bytes;
                double loss = di->error - ci->error;
                for (int j = 0; j < p->n_items; j++) {
                    if (j == i) continue;
                    const qs_budget_cand *cj = &p->items[j].cand[choice[j]];
                    for (int b = 0; b < f[j].n_par; b++) {
                        const qs_budget_cand *uj = &p->items[j].cand[f[j].par[b]];
                        if (uj->bytes <= cj->bytes || uj->bytes - cj->bytes > freed + room) continue;
                        double net = (cj->error - uj->error) - loss;
                        if (net > pbest * (1 + 1e-12) && net > 1e-12 * (ci->error + cj->error)) {
                            pbest = net;
                            pi = i, pc = f[i].par[a], pj = j, pcj = f[j].par[b];
                        }
                    }
                }
            }
        }
        if (pi < 0) break;
        used = used - p->items[pi].cand[choice[pi]].bytes + p->items[pi].cand[pc].bytes;
        used = used - p->items[pj].cand[choice[pj]].bytes + p->items[pj].cand[pcj].bytes;
        choice[pi] = pc;
        choice[pj] = pcj;
        pair_moves++;
    }
}

static uint64_t gcd64(uint64_t a, uint64_t b) {
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Dynamic programme over bytes in quanta; fills choice[] and *exact. Returns QS_OK, QS_ENOMEM,
 * or 1 when skipped (too large). */
static int solve_dp(const qs_budget_problem *p, const item_front *f, uint64_t room, int states_max,
                    int *choice, bool *exact) {
    uint64_t g = 0;
    int64_t n_par_total = 0;
    for (int i = 0; i < p->n_items; i++) {
        if (f[i].n_par > 255) return 1;
        n_par_total += f[i].n_par;
        uint64_t b0 = p->items[i].cand[f[i].par[0]].bytes;
        for (int a = 1; a < f[i].n_par; a++) g = gcd64(g, p->items[i].cand[f[i].par[a]].bytes - b0);
    }
    if (g == 0) { /* every item has one Pareto candidate */
        for (int i = 0; i < p->n_items; i++) choice[i] = f[i].par[0];
        *exact = true;
        return QS_OK;
    }
    uint64_t q;
    if (room / g + 1 <= (uint64_t)states_max) {
        q = g;
        *exact = true;
    } else {
        q = (room + (uint64_t)states_max - 2) / (uint64_t)(states_max - 1);
        if (q < g) q = g;
        *exact = false;
    }
    uint64_t S = room / q + 1;
    if ((double)S * p->n_items > 64.0 * 1024 * 1024 || (double)S * (double)n_par_total > 4e8) return 1;
    double *prev = malloc(S * sizeof *prev), *cur = malloc(S * sizeof *cur);
    uint8_t *pick = malloc(S * (size_t)(p->n_items ? p->n_items : 1));
    if (!prev || !cur || !pick) {
        free(prev), free(cur), free(pick);
        return QS_ENOMEM;
    }
    for (uint64_t s = 0; s < S; s++) prev[s] = 0;
    for (int i = 0; i < p->n_items; i++) {
        uint64_t b0 = p->items[i].cand[f[i].par[0]].bytes;
        uint8_t *pk = pick + (size_t)i * S;
        for (uint64_t s = 0; s < S; s++) {
            cur[s] = INFINITY;
            pk[s] = 0;
        }
        for (int a = 0; a < f[i].n_par; a++) {
            const qs_budget_cand *c = &p->items[i].cand[f[i].par[a]];
            uint64_t w = (c->bytes - b0 + q - 1) / q;
            if (w >= S) continue;
            for (uint64_t s = w; s < S; s++) {
                double v = prev[s - w] + c->error;
                if (v < cur[s]) {
                    cur[s] = v;
                    pk[s] = (uint8_t)a;
                }
            }
        }
        double *t = prev;
        prev = cur;
        cur = t;
    }
    uint64_t s = S - 1;
    for (int i = p->n_items - 1; i >= 0; i--) {
        int a = pick[(size_t)i * S + s];
        const qs_budget_cand *c = &p->items[i].cand[f[i].par[a]];
        uint64_t w = (c->bytes - p->items[i].cand[f[i].par[0]].bytes + q - 1) / q;
        choice[i] = f[i].par[a];
        s -= w;
    }
    free(prev), free(cur), free(pick);
    return QS_OK;
}

int qs_budget_solve(const qs_budget_problem *p, qs_budget_solution *s, qs_error *err) {
    memset(s, 0, sizeof *s);
    if (!p || p->n_items < 0 || (p->n_items > 0 && !p->items))
        return qs_error_set(err, "budget: malformed problem");
    item_front *f = NULL;
    int rc = build_fronts(p, &f, err);
    if (rc != QS_OK) return rc;
    int n = p->n_items;
    int *choice = malloc((size_t)(n ? n : 1) * sizeof *choice);
    int *alt = malloc((size_t)(n ? n : 1) * sizeof *alt);
    int *pos = calloc((size_t)(n ? n : 1), sizeof *pos);
    segment *seg = NULL;
    if (!choice || !alt || !pos) goto nomem;

    uint64_t min_b = p->fixed_bytes, full_b = p->fixed_bytes;
    double min_e = 0;
    int n_seg = 0;
    for (int i = 0; i < n; i++) {
        min_b += p->items[i].cand[f[i].par[0]].bytes;
        const qs_budget_cand *last = &p->items[i].cand[f[i].par[f[i].n_par - 1]];
        full_b += last->bytes;
        min_e += last->error;
        n_seg += f[i].n_hull - 1;
    }
    s->min_bytes = min_b;
    s->full_bytes = full_b;
    s->min_error = min_e;
    if (p->budget < min_b) {
        free(choice), free(alt), free(pos);
        fronts_free(f, n);
        return qs_error_set(err, "budget %.2f MiB is below the smallest possible size %.2f MiB "
                            "(%llu < %llu bytes)", (double)p->budget / QS_MIB, (double)min_b / QS_MIB,
                            (unsigned long long)p->budget, (unsigned long long)min_b);
    }
    if (p->budget >= full_b) {
        for (int i = 0; i < n; i++) choice[i] = f[i].par[f[i].n_par - 1];
        s->exact = true;
        s->lambda = 0;
        goto done;
    }

    /* Lagrangian sweep over hull segments in decreasing slope */
    seg = malloc((size_t)(n_seg ? n_seg : 1) * sizeof *seg);
    if (!seg) goto nomem;
    n_seg = 0;
    for (int i = 0; i < n; i++) {
        choice[i] = f[i].par[0];
        for (int k = 0; k + 1 < f[i].n_hull; k++) {
            const qs_budget_cand *a = &p->items[i].cand[f[i].par[f[i].hull[k]]];
            const qs_budget_cand *b = &p->items[i].cand[f[i].par[f[i].hull[k + 1]]];
            seg[n_seg++] = (segment){i, k, (a->error - b->error) / (double)(b->bytes - a->bytes)};
        }
    }
    qsort(seg, (size_t)n_seg, sizeof *seg, cmp_seg);
    uint64_t room = p->budget - min_b;
    bool stopped = false;
    s->lambda = 0;
    for (int t = 0; t < n_seg; t++) {
        int i = seg[t].item, k = seg[t].k;
        if (pos[i] != k) continue;
        const qs_budget_cand *a = &p->items[i].cand[f[i].par[f[i].hull[k]]];
        const qs_budget_cand *b = &p->items[i].cand[f[i].par[f[i].hull[k + 1]]];
        uint64_t d = b->bytes - a->bytes;
        if (d <= room) {
            room -= d;
            pos[i] = k + 1;
            choice[i] = f[i].par[f[i].hull[k + 1]];
        } else if (!stopped) {
            stopped = true;
            s->lambda = seg[t].slope;
        }
    }
    improve(p, f, choice, p->budget);

    /* DP correction */
    if (p->dp_states >= 0) {
        int states = p->dp_states ? p->dp_states : QS_BUDGET_DEFAULT_DP_STATES;
        if (states < 2) states = 2;
        bool exact = false;
        int r = solve_dp(p, f, p->budget - min_b, states, alt, &exact);
        if (r == QS_ENOMEM) goto nomem;
        if (r == QS_OK) {
            if (!exact) improve(p, f, alt, p->budget);
            double ea = sum_error(p, alt), ec = sum_error(p, choice);
            if (ea < ec || (ea == ec && sum_bytes(p, alt) < sum_bytes(p, choice)))
                memcpy(choice, alt, (size_t)n * sizeof *choice);
            s->exact = exact;
        }
    }

done:
    s->n_items = n;
    s->choice = choice;
    s->bytes = sum_bytes(p, choice);
    s->error = sum_error(p, choice);
    free(alt), free(pos), free(seg);
    fronts_free(f, n);
    return QS_OK;
nomem:
    free(choice), free(alt), free(pos), free(seg);
    fronts_free(f, n);
    memset(s, 0, sizeof *s);
    return QS_ENOMEM;
}

void qs_budget_solution_free(qs_budget_solution *s) {
    if (!s) return;
    free(s->choice);
    memset(s, 0, sizeof *s);
}

uint64_t qs_budget_bpw_bytes(double bpw, int64_t n_params) {
    if (!(bpw > 0) || n_params <= 0) return 0;
    double b = floor(bpw * (double)n_params / 8.0);
    if (b >= 18446744073709551615.0) return UINT64_MAX;
    return (uint64_t)b;
}

int qs_budget_to_plan(const qs_budget_problem *p, const qs_budget_solution *s, qs_plan *plan,
                      qs_error *err) {
    if (!s->choice || s->n_items != p->n_items) return qs_error_set(err, "budget: no solution");
    int count[QS_TYPE_COUNT] = {0};
    for (int i = 0; i < p->n_items; i++) {
        int t = p->items[i].cand[s->choice[i]].type;
        if (!qs_plan_type_allowed(t))
            return qs_error_set(err, "budget: %s: type %s cannot be planned",
                                p->items[i].name ? p->items[i].name : "?", qs_type_name(t));
        if (!p->items[i].name) return qs_error_set(err, "budget: item %d has no name", i);
        count[t]++;
    }
    int def = -1;
    for (int t = 0; t < QS_TYPE_COUNT; t++)
        if (count[t] > 0 && (def < 0 || count[t] > count[def])) def = t;
    qs_plan_set_preset(plan, QS_PRESET_NONE);
    if (def >= 0) plan->default_type = (qs_type)def;
    while (plan->n_rules > 0) qs_plan_remove_rule(plan, plan->n_rules - 1);
    while (plan->n_layers > 0) qs_plan_clear_layer(plan, plan->layers[plan->n_layers - 1].block);
    while (plan->n_tensors > 0) qs_plan_clear_tensor(plan, plan->tensors[plan->n_tensors - 1].name);
    plan->keep_first = plan->keep_last = 0;
    for (int i = 0; i < p->n_items; i++) {
        int t = p->items[i].cand[s->choice[i]].type;
        if (t == def) continue;
        int rc = qs_plan_set_tensor(plan, p->items[i].name, (qs_type)t, err);
        if (rc != QS_OK) return rc;
    }
    return QS_OK;
}
