/* tui_wrap.h — the text arithmetic of the Chat view, as pure functions (no ncurses, no globals).
 *
 * The chat transcript is UTF-8 text that arrives in pieces; the screen shows it word-wrapped to a
 * column width, in one or two columns, scrolled from the bottom; a one-line editor holds the
 * message being typed. Everything about columns — how wide a character is, where a line breaks,
 * which lines are visible, where the editor's cursor is — is decided here so that
 * tests/test_tui_wrap.c pins it without a terminal. Owned by tui/.
 *
 * Widths are terminal columns. Character widths follow Unicode's East Asian Width and general
 * category in a compact table of our own (so results do not depend on the locale): combining
 * marks and zero-width characters take 0 columns, wide and fullwidth characters (CJK, Hangul,
 * fullwidth forms, most emoji) take 2, everything else 1. Bytes that are not UTF-8 and control
 * characters take 1 column and are drawn as a substitute ('?' or a space for a tab). */
#ifndef TUI_WRAP_H
#define TUI_WRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------------
 * Characters
 * ------------------------------------------------------------------------------------------- */

/* Columns of code point cp: 0, 1 or 2 (see above; control characters count 1). */
int tui_cp_cols(uint32_t cp);

/* Decodes the character at s[0 .. n) (n >= 1). Returns its bytes (1..4; 1 for a byte that does
 * not start a valid, complete, shortest-form sequence). *cp receives the code point (U+FFFD for
 * an invalid byte), *cols its columns, *sub (may be NULL) whether it must be drawn as a
 * one-column substitute (invalid byte, C0/C1 control other than '\n', DEL, surrogate). */
int tui_utf8_char(const char *s, size_t n, uint32_t *cp, int *cols, bool *sub);

/* Columns of n bytes of text ('\n' counts 0). */
int tui_text_cols(const char *s, size_t n);

/* ---------------------------------------------------------------------------------------------
 * Word wrap
 * ------------------------------------------------------------------------------------------- */

typedef struct tui_wline {
    int start; /* byte offset of the line in the text */
    int len;   /* bytes (no '\n', no breaking space) */
    int cols;  /* columns, <= width except a lone character wider than width */
} tui_wline;

/* Breaks n bytes of text into lines of at most width (>= 1) columns: at every '\n'; else after
 * the last space that fits (that one space is dropped), or, for a word longer than the line,
 * before the first character that does not fit (never inside a character). Text that ends
 * with '\n' ends with an empty line; empty text is one empty line. Writes the first max lines
 * to out (out may be NULL when max is 0) and returns how many lines there are in all. */
int tui_wrap(const char *text, size_t n, int width, tui_wline *out, int max);

/* ---------------------------------------------------------------------------------------------
 * Columns and scrolling
 * ------------------------------------------------------------------------------------------- */

/* Splits width columns into two columns separated by gap columns: *left gets the floor half,
 * *right the rest; both 0 when width - gap < 2. */
void tui_split2(int width, int gap, int *left, int *right);

/* A transcript of n_lines lines shown in height rows, scrolled *up lines from the bottom
 * (0 = the last lines show, and new lines keep showing). Clamps *up into [0, max(0, n - h)]
 * and returns the index of the first visible line (0 when everything fits). */
int tui_scroll_top(int n_lines, int height, int *up);

/* ---------------------------------------------------------------------------------------------
 * One-line editor
 * ------------------------------------------------------------------------------------------- */

enum { TUI_EDIT_MAX = 4096 };

typedef struct tui_edit {
    char buf[TUI_EDIT_MAX]; /* NUL-terminated bytes (UTF-8 as typed) */
    int len;                /* bytes */
    int cur;                /* cursor: byte offset, on a character boundary */
} tui_edit;

void tui_edit_clear(tui_edit *e);
/* Inserts n bytes at the cursor and moves the cursor after them. Terminals deliver a UTF-8
 * character one byte at a time: bytes are inserted as they come, so the character is whole
 * once its last byte arrives. False (nothing inserted) when the buffer is full. */
bool tui_edit_insert(tui_edit *e, const char *bytes, int n);
/* Deletes the character before the cursor / under the cursor. */
void tui_edit_backspace(tui_edit *e);
void tui_edit_delete(tui_edit *e);
/* Moves the cursor one character left / right, to the start / end. */
void tui_edit_left(tui_edit *e);
void tui_edit_right(tui_edit *e);
void tui_edit_home(tui_edit *e);
void tui_edit_end(tui_edit *e);
/* The part of the line shown in width (>= 2) columns: returns the first byte to draw, chosen
 * so that the cursor's column (*cursor_col, relative to that byte) lies in [0, width - 1]: no
 * scrolling while the cursor fits, else the line scrolls so the cursor sits in the last
 * column. */
int tui_edit_view(const tui_edit *e, int width, int *cursor_col);

#endif
