/* tui_chat.h — internal: the Chat view (tui_view_chat.c).
 *
 * A transcript of turns and notes, a one-line editor, and a background generation job that
 * applies the plan (engine/applied.h: only changed tensors re-quantized, committed between
 * replies) and runs the turn through engine/chat.h sessions — one over the planned model and,
 * in A/B mode, one over the original. Only the UI thread calls these. Owned by tui/. */
#ifndef TUI_CHAT_H
#define TUI_CHAT_H

#include <stdbool.h>

struct tui_ui;

/* Draws the view into rows [y, y + h) (creates its state on first use). */
void tui_chat_draw(struct tui_ui *ui, int y, int h);
/* A key in the Chat view (normal mode). True when the view used it; false for keys the rest of
 * the program handles (Tab, F1, F10, ^L, ...). */
bool tui_chat_key(struct tui_ui *ui, int ch);
/* Mouse wheel: scrolls the transcript by delta lines (negative = towards older lines). */
void tui_chat_scroll(struct tui_ui *ui, int delta);
/* Frees the view's state and engine objects. Only after tui_jobs_shutdown and the drain that
 * follows it (no generation job may be running). */
void tui_chat_free(struct tui_ui *ui);

#endif
