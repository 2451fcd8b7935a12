/* Self-pipe message queue between worker threads (and signals) and the UI thread. */
#include "tui_events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tui_events_init(tui_events *q, qs_error *err) {
    memset(q, 0, sizeof *q);
    q->fd[0] = q->fd[1] = -1;
    if (pipe(q->fd) != 0) return qs_error_set(err, "pipe: %s", strerror(errno));
    for (int i = 0; i < 2; i++) {
        fcntl(q->fd[i], F_SETFL, fcntl(q->fd[i], F_GETFL) | O_NONBLOCK);
        fcntl(q->fd[i], F_SETFD, FD_CLOEXEC);
    }
    pthread_mutex_init(&q->lock, NULL);
    return QS_OK;
}

void tui_events_destroy(tui_events *q) {
    if (q->fd[0] < 0) return;
    pthread_mutex_lock(&q->lock);
    tui_event *e = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->lock);
    while (e) {
        tui_event *n = e->next;
        free(e);
        e = n;
    }
    pthread_mutex_destroy(&q->lock);
    close(q->fd[0]);
    close(q->fd[1]);
    q->fd[0] = q->fd[1] = -1;
}

int tui_events_fd(const tui_events *q) { return q->fd[0]; }

void tui_events_wake(tui_events *q) {
    int saved = errno;
    char c = 1;
    /* a full pipe already means "wake up": the failed write is fine */
    ssize_t r = write(q->fd[1], &c, 1);
    (void)r;
    errno = saved;
}

int tui_events_post(tui_events *q, tui_event_fn fn, void *data) {
    tui_event *e = malloc(sizeof *e);
    if (!e) return QS_ENOMEM;
    e->fn = fn;
    e->data = data;
    e->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail) q->tail->next = e;
    else q->head = e;
    q->tail = e;
    pthread_mutex_unlock(&q->lock);
    tui_events_wake(q);
    return QS_OK;
}

int tui_events_drain(tui_events *q, void *ui) {
    char buf[256];
    while (read(q->fd[0], buf, sizeof buf) > 0) {
    }
    pthread_mutex_lock(&q->lock);
    tui_event *e = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->lock);
    int n = 0;
    while (e) {
        tui_event *next = e->next;
        if (e->fn) e->fn(ui, e->data);
        free(e);
        e = next;
        n++;
    }
    return n;
}
