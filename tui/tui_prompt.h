/* tui_prompt.h — a one-line text editor (paths, rule patterns, searches) as pure functions.
 *
 * The text is UTF-8 bytes; the cursor is a byte offset that always sits on a character boundary,
 * and a character takes one column (as tui_text draws it). Keys are ncurses codes: Left/Right,
 * Home/End and ^A/^E move; Backspace/^H and Delete/^D delete; ^U clears the line, ^K deletes to
 * the end, ^W deletes the word before the cursor; printable bytes (and UTF-8 sequences, which
 * arrive one byte per key) are inserted. No ncurses calls here: the unit tests drive it.
 * Owned by tui/. */
#ifndef TUI_PROMPT_H
#define TUI_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

enum { TUI_LINE_MAX = 1024 }; /* bytes of text, including the NUL */

typedef struct tui_line {
    char text[TUI_LINE_MAX];
    int len; /* bytes */
    int cur; /* byte offset of the cursor, 0..len */
} tui_line;

typedef enum tui_line_result {
    TUI_LINE_IGNORED = 0, /* not an editing key (the caller may act on it) */
    TUI_LINE_MOVED,       /* the cursor moved */
    TUI_LINE_CHANGED,     /* the text changed */
} tui_line_result;

/* Sets the text (truncated at a character boundary to fit) with the cursor at its end. */
void tui_line_set(tui_line *l, const char *s);
/* Applies one key. A key that cannot act (Backspace at the start, a full line) is still
 * TUI_LINE_MOVED: it is an editing key, consumed. */
tui_line_result tui_line_key(tui_line *l, int key);

/* Which part of the text to show in `width` columns so the cursor is visible, with the cursor
 * one column past the text when it is at the end: returns the byte offset of the first shown
 * character and sets *cursor_col (0-based, < width). `first` is the previous first offset (0 at
 * the start): the view only scrolls when the cursor leaves it. */
int tui_line_view(const tui_line *l, int width, int first, int *cursor_col);

/* Columns (characters) of the bytes [from, to) of s. */
int tui_line_cols(const char *s, int from, int to);

/* Completes the path before the cursor (which must be at the end) from the file system: the
 * longest common extension of the names in its folder that start with what was typed, plus '/'
 * when exactly one folder matches. Returns the number of candidates (0: none; the text is
 * unchanged), with up to n_show of their names written to `shown` as "a  b  c" (may be NULL). */
int tui_line_complete_path(tui_line *l, char *shown, size_t n_show);

#endif
