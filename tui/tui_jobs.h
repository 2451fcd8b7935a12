/* tui_jobs.h — background jobs: engine calls on worker threads, with progress, cancel and
 * results delivered to the UI thread.
 *
 * Any engine call that takes (progress, cancel) runs as a job: the job's function runs on a
 * worker thread and passes tui_job_progress / tui_job_cancel_flag to the engine; when it returns,
 * its `done` callback runs on the UI thread (through tui_events, so only the UI thread touches
 * ncurses and UI state). Intermediate results go the same way with tui_job_post.
 *
 *   static int run_export(tui_job *j, void *arg, qs_error *err) {         // worker thread
 *       export_job *x = arg;
 *       qs_export_opts o = {0};
 *       o.progress = tui_job_progress;  o.progress_user = j;
 *       o.cancel = tui_job_cancel_flag(j);
 *       return qs_export(x->model, &x->plan, x->path, &o, err);
 *   }
 *   static void export_done(void *ui, void *arg, int status, const char *msg) {  // UI thread
 *       export_job *x = arg;   ... status line: QS_OK / QS_CANCELLED / msg ...   free(x);
 *   }
 *   tui_job_desc d = {.label = "export", .key = TUI_JOB_KEY_EXPORT, .run = run_export,
 *                     .done = export_done, .arg = x, .foreground = true};
 *   if (!tui_jobs_submit(&ui->jobs, &d)) free(x);    // 0: not queued (out of memory)
 *
 * Keys: a job submitted with key k > 0 supersedes every queued or running job with the same key
 * (a newer selection makes the older computation useless): queued ones are dropped, running ones
 * get their cancel flag set. Key 0 never supersedes. Superseded and cancelled jobs still get
 * their `done` call (status QS_CANCELLED, or whatever the run function returned) so they can
 * free their argument; a UI that ignores stale results compares a generation of its own.
 *
 * Order and lanes: a job is a background job (refining figures nobody waits for: error tables,
 * the selected tensor's errors) or a foreground one (desc.foreground: something the person
 * asked for and watches: a chat reply, an export). Foreground jobs start before every queued
 * background job, and background jobs never occupy more than n_background workers, so the
 * n_foreground workers tui_jobs_init adds are always left to foreground jobs: a chat reply
 * starts while long error jobs keep both background workers busy. Within a lane, jobs start in
 * submission order. Everything one job posts (tui_job_post, then done) reaches the UI thread in
 * posting order.
 *
 * Memory: when a job has run and no job is queued, its worker gives the free heap pages back to
 * the system (glibc malloc_trim: ~1 ms of the worker's CPU for a few hundred free chunks) before
 * the job is reported ended: glibc keeps what each worker frees in that worker's own arena, and
 * the jobs' buffers of many sizes otherwise stayed resident (tests/long/README.md).
 *
 * Threads: tui_jobs_init / submit / cancel / wait / list / shutdown are for the UI thread (they lock,
 * so other threads may call submit and cancel too). tui_job_progress, tui_job_cancelled,
 * tui_job_set_label and tui_job_post are for the job's own worker (progress may also be called
 * from the engine's helper threads: it is atomic). Owned by tui/. */
#ifndef TUI_JOBS_H
#define TUI_JOBS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "qs_common.h"
#include "tui_events.h"

/* Keys of the explorer's jobs (one running computation per key). */
enum {
    TUI_JOB_KEY_NONE = 0,
    TUI_JOB_KEY_TENSOR_ERRORS, /* the Errors view's selected tensor */
    TUI_JOB_KEY_ERROR_TABLE,   /* errors of every (tensor, type): block bars and trade-off */
    TUI_JOB_KEY_EXPORT,        /* writing a GGUF */
    TUI_JOB_KEY_REQUANTIZE,    /* re-quantizing for chat */
    TUI_JOB_KEY_GENERATE,      /* chat generation */
};

typedef struct tui_job tui_job;

/* Runs on a worker. Returns QS_OK, QS_CANCELLED, or another status with err filled. */
typedef int (*tui_job_run_fn)(tui_job *job, void *arg, qs_error *err);
/* Runs on the UI thread once the job has ended (also when cancelled or superseded, also when it
 * never started). msg is the error message when status is not QS_OK / QS_CANCELLED (else "").
 * It owns arg from then on. It must not block; it may submit jobs. */
typedef void (*tui_job_done_fn)(void *ui, void *arg, int status, const char *msg);

typedef struct tui_job_desc {
    const char *label;    /* shown beside the progress gauge ("errors: exact"), copied */
    int key;              /* TUI_JOB_KEY_*, 0 = none */
    tui_job_run_fn run;   /* required */
    tui_job_done_fn done; /* may be NULL (then arg is not freed by anyone: pass static data) */
    void *arg;
    bool foreground;      /* the person waits for it: ahead of background jobs (see Order) */
} tui_job_desc;

/* What the status line shows of a job (tui_jobs_list). */
typedef struct tui_job_info {
    uint64_t id;
    int key;
    char label[48];
    uint64_t done, total; /* last progress report (units the job's engine call chose); 0, 0 = none */
    bool running;         /* false: queued */
    bool cancelling;      /* cancel requested, not ended yet */
    bool foreground;
} tui_job_info;

struct tui_job {
    uint64_t id;
    int key;
    char label[48];              /* guarded by the runner's lock */
    tui_job_run_fn run;
    tui_job_done_fn done;
    void *arg;
    atomic_int cancel;           /* set by cancel / supersede / shutdown */
    atomic_uint_fast64_t p_done, p_total;
    int status;
    qs_error err;
    struct tui_jobs *owner;
    struct tui_job *next;        /* queue / running list link */
    bool running;
    bool foreground;
};

#define TUI_JOBS_MAX_WORKERS 8

typedef struct tui_jobs {
    tui_events *ev;              /* borrowed: where results are posted */
    pthread_mutex_t lock;
    pthread_cond_t cond;         /* workers wait on it for a job they may take */
    pthread_cond_t ended;        /* tui_jobs_wait waits on it: a job left the running list */
    tui_job *queue;              /* waiting, submission order */
    tui_job *active;             /* running */
    uint64_t next_id;
    bool stop;
    int n_workers;               /* threads started: n_background + n_foreground */
    int n_background;            /* at most this many background jobs run at once */
    int bg_running;              /* background jobs running now */
    pthread_t workers[TUI_JOBS_MAX_WORKERS];
    atomic_int_fast64_t last_wake_ns; /* progress wakes the UI at most every 50 ms */
} tui_jobs;

/* Starts n_background + n_foreground worker threads posting to ev (n_background >= 1,
 * n_foreground >= 0, at most TUI_JOBS_MAX_WORKERS in all). Background jobs run on at most
 * n_background of them at once; foreground jobs on any. QS_OK or QS_ERR. */
int tui_jobs_init(tui_jobs *j, tui_events *ev, int n_background, int n_foreground, qs_error *err);
/* Cancels every job, waits for the workers to finish and stops them. Done callbacks of the
 * ended jobs are posted to ev: run tui_events_drain afterwards so they free their arguments.
 * Safe on a zeroed (never initialised) struct. */
void tui_jobs_shutdown(tui_jobs *j);

/* Queues a job (see Keys above). Returns its id (> 0), or 0 when it could not be queued (out of
 * memory or shut down): then nothing will call done and the caller still owns arg. */
uint64_t tui_jobs_submit(tui_jobs *j, const tui_job_desc *d);
/* Cancels a job by id / every job with a key. True if such a job was queued or running. */
bool tui_jobs_cancel(tui_jobs *j, uint64_t id);
bool tui_jobs_cancel_key(tui_jobs *j, int key);
/* Waits until the job with this id is neither queued nor running (returns at once for an
 * unknown or ended id). Its done call is then posted, not yet run: cancel first, or this waits
 * for the job to finish. For quitting (an export that must not outlive the model it reads). */
void tui_jobs_wait(tui_jobs *j, uint64_t id);
/* True while a job with this key is queued or running. */
bool tui_jobs_busy(tui_jobs *j, int key);
/* The job with this id, queued or running: true and *out filled; false when it has ended. */
bool tui_jobs_info(tui_jobs *j, uint64_t id, tui_job_info *out);
/* Running jobs first (oldest first), then queued ones; at most max. Returns the count. */
int tui_jobs_list(tui_jobs *j, tui_job_info *out, int max);

/* ---- for the job's run function ---------------------------------------------------------- */

/* A qs_progress_fn: pass it with the job as `user`. Stores (done, total), wakes the UI at most
 * every 50 ms, and returns non-zero once the job is cancelled (engine calls then stop). */
int tui_job_progress(void *job, uint64_t done, uint64_t total);
/* The flag to pass as an engine call's `cancel`. */
const atomic_int *tui_job_cancel_flag(tui_job *job);
bool tui_job_cancelled(const tui_job *job);
/* Changes the label the status line shows ("errors: exact"). */
void tui_job_set_label(tui_job *job, const char *label);
/* Posts fn(ui, data) to the UI thread (before the job's done call). QS_OK or QS_ENOMEM (then
 * fn is not called; data is still the caller's). */
int tui_job_post(tui_job *job, tui_event_fn fn, void *data);

#endif
