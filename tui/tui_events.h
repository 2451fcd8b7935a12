/* tui_events.h — how worker threads talk to the UI thread.
 *
 * Heavy work runs in background threads; only the UI thread calls ncurses. A worker posts a
 * message (a callback and its data) with tui_events_post: the message is queued under a mutex and
 * one byte is written to a self-pipe whose read end the event loop poll()s beside stdin. The UI
 * thread then runs tui_events_drain, which calls each callback on the UI thread, in posting order.
 * The same pipe wakes the loop for signals (tui_events_wake is async-signal-safe).
 * Owned by tui/. */
#ifndef TUI_EVENTS_H
#define TUI_EVENTS_H

#include <pthread.h>
#include <stdbool.h>

#include "qs_common.h"

typedef void (*tui_event_fn)(void *ui, void *data);

typedef struct tui_event {
    tui_event_fn fn;
    void *data;
    struct tui_event *next;
} tui_event;

typedef struct tui_events {
    int fd[2];              /* self-pipe: [0] polled by the UI thread, [1] written by posters */
    pthread_mutex_t lock;
    tui_event *head, *tail; /* queue (guarded by lock) */
} tui_events;

/* Creates the pipe (non-blocking, close-on-exec). QS_OK or QS_ERR with errno's text. */
int tui_events_init(tui_events *q, qs_error *err);
/* Frees pending messages without running them (their data is the poster's: fn is not called). */
void tui_events_destroy(tui_events *q);
/* The descriptor to poll for POLLIN. */
int tui_events_fd(const tui_events *q);
/* From any thread: queues fn(ui, data) to run on the UI thread. QS_OK or QS_ENOMEM. */
int tui_events_post(tui_events *q, tui_event_fn fn, void *data);
/* From a signal handler or any thread: wakes the loop without a message. */
void tui_events_wake(tui_events *q);
/* UI thread: empties the pipe and runs every queued callback with `ui`. Returns how many ran. */
int tui_events_drain(tui_events *q, void *ui);

#endif
