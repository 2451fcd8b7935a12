/* tui_keys.h — the key map as data: one table of (key, view, action, hint, help) rows.
 *
 * Dispatch, the bottom bar and the `?` help screen all read this table (htop's idea of actions
 * bound to keys in one place): adding a key is adding a row. Owned by tui/. */
#ifndef TUI_KEYS_H
#define TUI_KEYS_H

#include <stdbool.h>

#include "tui_layout.h"

typedef enum tui_view {
    TUI_VIEW_MODEL = 0,
    TUI_VIEW_LAYERS,
    TUI_VIEW_MEMORY,
    TUI_VIEW_ERRORS,
    TUI_VIEW_TRADEOFF,
    TUI_VIEW_CHAT,
    TUI_VIEW_COUNT,
    TUI_VIEW_GLOBAL = -1, /* a key that works in every view */
    /* Screens and overlays with keys of their own (not tabs). Their rows show in the help, and in
     * the bottom bar while they are open, without the global rows. */
    TUI_VIEW_PICKER = 16, /* the model picker (no model given) */
    TUI_VIEW_RULES,       /* the rules list (Layers view, R) */
    TUI_VIEW_RULE_EDIT,   /* typing a rule */
    TUI_VIEW_KEEP,        /* keep first / last blocks (Layers view, K) */
    TUI_VIEW_PROMPT,      /* typing a path or a search */
    TUI_VIEW_OVERLAY_END,
} tui_view;

/* Tab label of a view ("Model", "Layers", ...). */
const char *tui_view_name(tui_view v);

typedef enum tui_action {
    TUI_ACT_NONE = 0,
    TUI_ACT_QUIT,
    TUI_ACT_HELP,
    TUI_ACT_NEXT_VIEW,
    TUI_ACT_PREV_VIEW,
    TUI_ACT_VIEW_1, TUI_ACT_VIEW_2, TUI_ACT_VIEW_3, TUI_ACT_VIEW_4, TUI_ACT_VIEW_5, TUI_ACT_VIEW_6,
    TUI_ACT_UP,
    TUI_ACT_DOWN,
    TUI_ACT_PGUP,
    TUI_ACT_PGDN,
    TUI_ACT_HOME,
    TUI_ACT_END,
    TUI_ACT_EXPAND,        /* layers: expand / collapse a block */
    TUI_ACT_RAISE,         /* layers: more bits; memory: more context */
    TUI_ACT_LOWER,         /* layers: fewer bits; memory: less context */
    TUI_ACT_CLEAR,         /* layers: remove the override of the selected row */
    TUI_ACT_PRESETS,       /* layers: presets menu */
    TUI_ACT_WHY,           /* layers: why the selected tensor has its type */
    TUI_ACT_CTX_TYPE,      /* memory: type a context length */
    TUI_ACT_KV_TYPE,       /* memory: next KV-cache type */
    TUI_ACT_GPU_MORE,      /* memory: one more GPU layer */
    TUI_ACT_GPU_LESS,      /* memory: one less GPU layer */
    TUI_ACT_DEVICE_NEXT,   /* memory: next device preset */
    TUI_ACT_DEVICE_PREV,   /* memory: previous device preset */
    TUI_ACT_REDRAW,
    TUI_ACT_CHAT_SEND,     /* chat: send the message */
    TUI_ACT_CHAT_STOP,     /* chat: stop the reply / re-quantization under way */
    TUI_ACT_CHAT_AB,       /* chat: A/B mode on / off */
    TUI_ACT_CHAT_SAMPLING, /* chat: greedy / sampling */
    TUI_ACT_CHAT_LIMIT,    /* chat: next reply limit */
    TUI_ACT_CHAT_CONTINUE, /* chat: context full: drop the oldest turns and continue */
    TUI_ACT_CHAT_NEW,      /* chat: new conversation */
    TUI_ACT_CHAT_EDIT,     /* chat: line editing keys (help only) */
    TUI_ACT_CHAT_TYPE,     /* chat: printable keys are typed into the message (help only) */
    TUI_ACT_CMP_LOWER,     /* errors: compare type one rung down; trade-off: halve the step */
    TUI_ACT_CMP_HIGHER,    /* errors: compare type one rung up; trade-off: double the step */
    TUI_ACT_CMP_TOGGLE,    /* errors: comparison on / off */
    TUI_ACT_STOP_JOBS,     /* errors, trade-off: stop refining in the background */
    TUI_ACT_REFINE,        /* errors, trade-off: refine (exact errors) again */
    TUI_ACT_AXIS_TOGGLE,   /* trade-off: x axis MiB / bits per weight */
    TUI_ACT_APPLY,         /* trade-off: make the selected point the plan */
    TUI_ACT_SAVE,          /* save the plan (to its file, else asks for a path) */
    TUI_ACT_SAVE_AS,       /* save the plan under a new path */
    TUI_ACT_OPEN_PLAN,     /* open a plan file */
    TUI_ACT_EXPORT,        /* export the planned GGUF (background, progress, Esc cancels) */
    TUI_ACT_RULES,         /* layers: the rules list */
    TUI_ACT_KEEP,          /* layers: keep first / last blocks at a type */
    TUI_ACT_SEARCH,        /* layers: search tensors by name */
    TUI_ACT_SEARCH_NEXT,   /* layers: next match */
    TUI_ACT_SEARCH_PREV,   /* layers: previous match */
    TUI_ACT_OPEN,          /* picker: open the selected model */
    TUI_ACT_RESCAN,        /* picker: look for models again */
    TUI_ACT_ADD,           /* rules: add a rule */
    TUI_ACT_EDIT,          /* rules: edit the selected rule */
    TUI_ACT_DELETE,        /* rules: delete the selected rule */
    TUI_ACT_MOVE_UP,       /* rules: move the selected rule up */
    TUI_ACT_MOVE_DOWN,     /* rules: move the selected rule down */
    TUI_ACT_TYPE_UP,       /* rule editor / keep: more bits */
    TUI_ACT_TYPE_DOWN,     /* rule editor / keep: fewer bits */
    TUI_ACT_NEXT_FIELD,    /* keep: next field */
    TUI_ACT_PREV_FIELD,    /* keep: previous field */
    TUI_ACT_ACCEPT,        /* overlays: commit */
    TUI_ACT_CANCEL,        /* overlays: close without change */
    TUI_ACT_COMPLETE,      /* path prompt: complete the file name */
    TUI_ACT_COUNT
} tui_action;

/* Key codes: ncurses KEY_* values, plain characters, or these for keys ncurses has no name for. */
enum { TUI_KEY_TAB = '\t', TUI_KEY_ENTER = '\n', TUI_KEY_ESC = 27, TUI_KEY_CTRL_L = 12 };

typedef struct tui_keydef {
    int key;           /* ncurses key code */
    int view;          /* tui_view, or TUI_VIEW_GLOBAL */
    tui_action action;
    const char *hint;  /* bottom-bar key text, NULL = not shown in the bar (help only) */
    const char *label; /* bottom-bar label */
    const char *help;  /* one line for the help screen */
} tui_keydef;

/* The whole table (static); returns its length. */
int tui_keys(const tui_keydef **table);

/* The action bound to key in view: a row for the view wins over a global row. TUI_ACT_NONE if
 * the key means nothing there. */
tui_action tui_key_action(int key, tui_view view);

/* The action of a row of exactly this view (no global fallback): for overlays where the other
 * keys are typed text. */
tui_action tui_key_action_in(int key, tui_view view);

/* The bottom-bar hints for a view (its own rows first, then globals; screens and overlays from
 * TUI_VIEW_PICKER on: their own rows only), at most max; returns the count. Keys bound to the
 * same action are shown once. */
int tui_key_hints(tui_view view, tui_hint *out, int max);

/* Printable name of a key code ("q", "Tab", "PgDn", "Enter"). Returns a static or buf. */
const char *tui_key_name(int key, char *buf, int n);

#endif
