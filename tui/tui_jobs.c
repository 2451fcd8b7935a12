/* The background job runner (see tui_jobs.h). */
#include "tui_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* UI thread: the job has ended; hand its result to its owner's callback and free it. */
static void job_done_event(void *ui, void *data) {
    tui_job *job = data;
    if (job->done) {
        const char *msg = job->status == QS_OK || job->status == QS_CANCELLED ? "" : job->err.msg;
        job->done(ui, job->arg, job->status, msg);
    }
    free(job);
}

/* Posts the job's end. If even that small allocation fails the job record is leaked (its done
 * call must not run on this thread). */
static void post_done(tui_jobs *j, tui_job *job) {
    if (tui_events_post(j->ev, job_done_event, job) != QS_OK) tui_events_wake(j->ev);
}

static void unlink_job(tui_job **head, tui_job *job) {
    for (tui_job **p = head; *p; p = &(*p)->next)
        if (*p == job) {
            *p = job->next;
            job->next = NULL;
            return;
        }
}

/* Under the lock: unlinks the job this worker may start next (the first queued foreground job,
 * else the first queued background job while fewer than n_background run), or NULL. */
static tui_job *take_locked(tui_jobs *j) {
    tui_job **p = &j->queue;
    while (*p && !(*p)->foreground) p = &(*p)->next;
    if (!*p) {
        if (j->bg_running >= j->n_background) return NULL;
        p = &j->queue; /* no foreground job queued: the head is the oldest background one */
        if (!*p) return NULL;
    }
    tui_job *job = *p;
    *p = job->next;
    job->next = NULL;
    if (!job->foreground) j->bg_running++;
    return job;
}

/* Worker, no lock held: gives the pages of free heap memory back to the system. glibc keeps what
 * a thread frees in that thread's own arena (one per worker, besides the main heap) and returns
 * only a free top of the heap; the jobs allocate and free buffers of many sizes (per-tensor
 * copies and errors, re-quantized tensors, contexts), so each arena's free holes stayed resident
 * and RSS crept up over long sessions while the live heap stayed flat (tests/long/README.md).
 * malloc_trim also releases whole free pages inside every arena. Elsewhere: nothing to do. */
static void release_free_pages(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

static void *worker_main(void *arg) {
    tui_jobs *j = arg;
    pthread_mutex_lock(&j->lock);
    for (;;) {
        tui_job *job = NULL;
        while (!j->stop && !(job = take_locked(j))) pthread_cond_wait(&j->cond, &j->lock);
        if (!job) break; /* stop (a job is only taken while not stopping) */
        job->next = j->active;
        j->active = job;
        job->running = true;
        pthread_mutex_unlock(&j->lock);

        qs_error err = {{0}};
        bool ran = !atomic_load(&job->cancel);
        int status = ran ? job->run(job, job->arg, &err) : QS_CANCELLED;
        if (status != QS_OK && status != QS_CANCELLED && !err.msg[0])
            snprintf(err.msg, sizeof err.msg, "%s failed (status %d)", job->label, status);

        pthread_mutex_lock(&j->lock);
        /* the job freed its buffers; when nothing waits to run, return their pages before the
         * job is reported ended (so they are gone once tui_jobs_wait returns). A burst of
         * superseding jobs trims once, after its last. */
        if (ran && !j->queue) {
            pthread_mutex_unlock(&j->lock);
            release_free_pages();
            pthread_mutex_lock(&j->lock);
        }
        unlink_job(&j->active, job);
        if (!job->foreground) {
            j->bg_running--;
            pthread_cond_broadcast(&j->cond); /* a queued background job may start now */
        }
        job->status = status;
        job->err = err;
        /* posted under the lock: once tui_jobs_wait sees the job gone, its done call is queued */
        post_done(j, job);
        pthread_cond_broadcast(&j->ended);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

int tui_jobs_init(tui_jobs *j, tui_events *ev, int n_background, int n_foreground, qs_error *err) {
    memset(j, 0, sizeof *j);
    if (n_background < 1) n_background = 1;
    if (n_background > TUI_JOBS_MAX_WORKERS) n_background = TUI_JOBS_MAX_WORKERS;
    if (n_foreground < 0) n_foreground = 0;
    if (n_foreground > TUI_JOBS_MAX_WORKERS - n_background) n_foreground = TUI_JOBS_MAX_WORKERS - n_background;
    int n_workers = n_background + n_foreground;
    j->ev = ev;
    j->next_id = 1;
    j->n_background = n_background;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
    pthread_cond_init(&j->ended, NULL);
    for (int i = 0; i < n_workers; i++) {
        if (pthread_create(&j->workers[i], NULL, worker_main, j) != 0) {
            tui_jobs_shutdown(j);
            return qs_error_set(err, "cannot start a background thread");
        }
        j->n_workers++;
    }
    return QS_OK;
}

void tui_jobs_shutdown(tui_jobs *j) {
    if (!j->ev) return;
    pthread_mutex_lock(&j->lock);
    j->stop = true;
    for (tui_job *a = j->active; a; a = a->next) atomic_store(&a->cancel, 1);
    tui_job *q = j->queue;
    j->queue = NULL;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    while (q) { /* never started */
        tui_job *next = q->next;
        q->status = QS_CANCELLED;
        post_done(j, q);
        q = next;
    }
    for (int i = 0; i < j->n_workers; i++) pthread_join(j->workers[i], NULL);
    pthread_cond_destroy(&j->ended);
    pthread_cond_destroy(&j->cond);
    pthread_mutex_destroy(&j->lock);
    j->ev = NULL;
    j->n_workers = 0;
}

/* Under the lock: cancels running jobs with the key, unlinks queued ones onto *dropped. */
static bool cancel_locked(tui_jobs *j, int key, uint64_t id, tui_job **dropped) {
    bool any = false;
    for (tui_job *a = j->active; a; a = a->next)
        if ((id && a->id == id) || (!id && a->key == key)) {
            atomic_store(&a->cancel, 1);
            any = true;
        }
    tui_job **p = &j->queue;
    while (*p) {
        tui_job *q = *p;
        if ((id && q->id == id) || (!id && q->key == key)) {
            *p = q->next;
            q->next = *dropped;
            *dropped = q;
            any = true;
        } else {
            p = &q->next;
        }
    }
    return any;
}

static void post_dropped(tui_jobs *j, tui_job *d) {
    /* reverse to keep submission order for the done calls */
    tui_job *r = NULL;
    while (d) {
        tui_job *n = d->next;
        d->next = r;
        r = d;
        d = n;
    }
    while (r) {
        tui_job *n = r->next;
        r->next = NULL;
        r->status = QS_CANCELLED;
        post_done(j, r);
        r = n;
    }
}

uint64_t tui_jobs_submit(tui_jobs *j, const tui_job_desc *d) {
    if (!j->ev || !d || !d->run) return 0;
    tui_job *job = calloc(1, sizeof *job);
    if (!job) return 0;
    snprintf(job->label, sizeof job->label, "%s", d->label ? d->label : "working");
    job->key = d->key;
    job->foreground = d->foreground;
    job->run = d->run;
    job->done = d->done;
    job->arg = d->arg;
    job->owner = j;
    atomic_init(&job->cancel, 0);
    atomic_init(&job->p_done, 0);
    atomic_init(&job->p_total, 0);
    tui_job *dropped = NULL;
    pthread_mutex_lock(&j->lock);
    if (j->stop) {
        pthread_mutex_unlock(&j->lock);
        free(job);
        return 0;
    }
    if (d->key > 0) cancel_locked(j, d->key, 0, &dropped);
    job->id = j->next_id++;
    tui_job **p = &j->queue;
    while (*p) p = &(*p)->next;
    *p = job;
    uint64_t id = job->id;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    post_dropped(j, dropped);
    return id;
}

static bool cancel_common(tui_jobs *j, int key, uint64_t id) {
    if (!j->ev) return false;
    tui_job *dropped = NULL;
    pthread_mutex_lock(&j->lock);
    bool any = cancel_locked(j, key, id, &dropped);
    pthread_mutex_unlock(&j->lock);
    post_dropped(j, dropped);
    return any;
}

bool tui_jobs_cancel(tui_jobs *j, uint64_t id) { return id && cancel_common(j, 0, id); }

bool tui_jobs_cancel_key(tui_jobs *j, int key) { return key > 0 && cancel_common(j, key, 0); }

static tui_job *find_locked(tui_jobs *j, uint64_t id) {
    for (tui_job *a = j->active; a; a = a->next)
        if (a->id == id) return a;
    for (tui_job *q = j->queue; q; q = q->next)
        if (q->id == id) return q;
    return NULL;
}

void tui_jobs_wait(tui_jobs *j, uint64_t id) {
    if (!j->ev || !id) return;
    pthread_mutex_lock(&j->lock);
    while (find_locked(j, id)) pthread_cond_wait(&j->ended, &j->lock);
    pthread_mutex_unlock(&j->lock);
}

bool tui_jobs_busy(tui_jobs *j, int key) {
    if (!j->ev) return false;
    bool busy = false;
    pthread_mutex_lock(&j->lock);
    for (tui_job *a = j->active; a && !busy; a = a->next) busy = a->key == key;
    for (tui_job *q = j->queue; q && !busy; q = q->next) busy = q->key == key;
    pthread_mutex_unlock(&j->lock);
    return busy;
}

static void info_of(const tui_job *x, tui_job_info *o) {
    o->id = x->id;
    o->key = x->key;
    memcpy(o->label, x->label, sizeof o->label);
    o->done = atomic_load(&x->p_done);
    o->total = atomic_load(&x->p_total);
    o->running = x->running;
    o->cancelling = atomic_load(&x->cancel) != 0;
    o->foreground = x->foreground;
}

bool tui_jobs_info(tui_jobs *j, uint64_t id, tui_job_info *out) {
    if (!j->ev || !id) return false;
    pthread_mutex_lock(&j->lock);
    tui_job *x = find_locked(j, id);
    if (x) info_of(x, out);
    pthread_mutex_unlock(&j->lock);
    return x != NULL;
}

int tui_jobs_list(tui_jobs *j, tui_job_info *out, int max) {
    if (!j->ev) return 0;
    int n = 0;
    pthread_mutex_lock(&j->lock);
    /* the active list is newest first: count, then fill from the back */
    int na = 0;
    for (tui_job *a = j->active; a; a = a->next) na++;
    int k = na < max ? na : max;
    int i = na;
    for (tui_job *a = j->active; a; a = a->next) {
        i--;
        if (i < k) info_of(a, &out[i]);
    }
    n = k;
    for (tui_job *q = j->queue; q && n < max; q = q->next) info_of(q, &out[n++]);
    pthread_mutex_unlock(&j->lock);
    return n;
}

/* ---- worker side --------------------------------------------------------------------------- */

int tui_job_progress(void *user, uint64_t done, uint64_t total) {
    tui_job *job = user;
    atomic_store(&job->p_total, total);
    atomic_store(&job->p_done, done);
    tui_jobs *j = job->owner;
    int64_t now = now_ns(), last = atomic_load(&j->last_wake_ns);
    if (now - last >= 50000000 && atomic_compare_exchange_strong(&j->last_wake_ns, &last, now))
        tui_events_wake(j->ev);
    return atomic_load(&job->cancel) != 0;
}

const atomic_int *tui_job_cancel_flag(tui_job *job) { return &job->cancel; }

bool tui_job_cancelled(const tui_job *job) { return atomic_load(&((tui_job *)job)->cancel) != 0; }

void tui_job_set_label(tui_job *job, const char *label) {
    tui_jobs *j = job->owner;
    pthread_mutex_lock(&j->lock);
    snprintf(job->label, sizeof job->label, "%s", label ? label : "");
    pthread_mutex_unlock(&j->lock);
    tui_events_wake(j->ev);
}

int tui_job_post(tui_job *job, tui_event_fn fn, void *data) { return tui_events_post(job->owner->ev, fn, data); }
