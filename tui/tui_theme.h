/* tui_theme.h — colour themes: a table of semantic elements filled from YAML files.
 *
 * Like htop's CRT_colors[], drawing code never names a colour: it asks for an element
 * (TUI_C_SELECTION, TUI_C_BAR_KV, ...) and the theme says what that looks like. Theme files
 * (themes/NAME.yaml, quantscope-theme(5)) look like:
 *
 *     name: default-dark
 *     colors:
 *       text:      { fg: white, bg: default }
 *       selection: { fg: black, bg: cyan, attr: [bold] }
 *       bar_kv:    { fg: "#d7af00" }
 *
 * Colours: default, black, red, green, yellow, blue, magenta, cyan, white, bright-<name>,
 * gray/grey (= bright-black), an xterm-256 index 0..255, or "#rrggbb". Attributes: bold, dim,
 * reverse, underline, italic. An element a file lists is exactly what it says (fg / bg left out
 * are the terminal's default, attr left out is none); elements a file leaves out keep the built-in
 * default-dark value.
 * Parsing and colour mapping are pure (no ncurses); tui_draw.c applies a theme to the screen.
 * Owned by tui/. */
#ifndef TUI_THEME_H
#define TUI_THEME_H

#include <stdbool.h>
#include <stddef.h>

#include "qs_common.h"

typedef enum tui_elem {
    TUI_C_TEXT = 0,        /* ordinary text */
    TUI_C_DIM,             /* secondary text, units, hints */
    TUI_C_HEADER,          /* the top line */
    TUI_C_TAB,             /* a view tab */
    TUI_C_TAB_ACTIVE,      /* the current view's tab */
    TUI_C_TITLE,           /* section titles, column headers */
    TUI_C_SELECTION,       /* the selected row */
    TUI_C_FKEY,            /* a key in the bottom bar */
    TUI_C_FLABEL,          /* its label */
    TUI_C_BAR_WEIGHTS_DEVICE, /* memory bar: weights on the GPU */
    TUI_C_BAR_WEIGHTS_HOST,   /* memory bar: weights in RAM */
    TUI_C_BAR_KV,             /* memory bar: KV cache */
    TUI_C_BAR_COMPUTE,        /* memory bar: compute buffers and outputs */
    TUI_C_BAR_OVERHEAD,       /* memory bar: runtime overhead */
    TUI_C_BAR_FREE,           /* memory bar: free capacity */
    TUI_C_OK,              /* fits, success */
    TUI_C_WARN,            /* assumption, fallback, unsaved */
    TUI_C_ERROR,           /* does not fit, failure */
    TUI_C_HISTOGRAM,       /* histogram bars */
    TUI_C_CHANGED,         /* a value the user changed (override) */
    TUI_C_BORDER,          /* frames of popups */
    TUI_C_COUNT
} tui_elem;

/* A colour: TUI_COLOR_DEFAULT, an xterm index 0..255, or TUI_COLOR_RGB | 0xRRGGBB. */
enum { TUI_COLOR_DEFAULT = -1, TUI_COLOR_RGB = 0x1000000 };

enum {
    TUI_A_BOLD = 1, TUI_A_DIM = 2, TUI_A_REVERSE = 4, TUI_A_UNDERLINE = 8, TUI_A_ITALIC = 16,
};

typedef struct tui_style {
    int fg, bg;     /* colours as above */
    unsigned attr;  /* TUI_A_* */
} tui_style;

typedef struct tui_theme {
    char name[64];
    tui_style s[TUI_C_COUNT];
} tui_theme;

/* The element's key in theme files ("bar_weights_device"), or "?". */
const char *tui_elem_key(tui_elem e);

/* The built-in default-dark theme (always available, needs no file). */
void tui_theme_default(tui_theme *t);
/* The monochrome theme used under NO_COLOR or on terminals without colour: attributes only. */
void tui_theme_mono(tui_theme *t);

/* Parses theme YAML text over the built-in default. `name` is used in messages only. On error:
 * QS_ERR, "name:line:col: message" (1-based) in err, and *t holds the built-in default. */
int tui_theme_parse(const char *text, size_t len, const char *name, tui_theme *t, qs_error *err);
/* Reads and parses a file (messages name the path). */
int tui_theme_load_file(const char *path, tui_theme *t, qs_error *err);

/* Finds a theme by name or path. A name containing '/' or ending in ".yaml" is a path;
 * otherwise NAME.yaml is looked for in $XDG_CONFIG_HOME/quantscope/themes (~/.config/... when
 * unset), then in each of the extra directories (NULL-terminated, may be NULL). NULL or "" =
 * "default-dark". If the theme cannot be found or is bad: QS_ERR with the message
 * ("…: theme 'x' not found in …" or file:line:col), and *t is the built-in default. */
int tui_theme_find(const char *name, const char *const *dirs, tui_theme *t, qs_error *err);

/* Maps a colour to what a terminal with `ncolors` colours can show (8, 16, 256 or more):
 * RGB to the nearest xterm-256 entry (cube or grey ramp) on 256-colour terminals, indexes
 * above the terminal's range to the nearest of its 8 or 16 basic colours. Default stays
 * default. With 8 colours, bright colours 8..15 map to 0..7 and *bold (if not NULL) is set so
 * the caller can brighten with A_BOLD. */
int tui_color_map(int color, int ncolors, bool *bold);

/* Parses a colour word ("bright-red", "#ff8700", "208", "default"); QS_OK or QS_ERR. */
int tui_color_parse(const char *s, int *out);

#endif
