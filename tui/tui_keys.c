/* The key table and what reads it. */
#include "tui_keys.h"

#include <curses.h>
#include <stdio.h>

static const char *const view_names[TUI_VIEW_COUNT] = {
    "Model", "Layers", "Memory", "Errors", "Trade-off", "Chat",
};

const char *tui_view_name(tui_view v) {
    return v >= 0 && v < TUI_VIEW_COUNT ? view_names[v] : "?";
}

#define G TUI_VIEW_GLOBAL
#define L TUI_VIEW_LAYERS
#define M TUI_VIEW_MEMORY
#define C TUI_VIEW_CHAT
#define E TUI_VIEW_ERRORS
#define T TUI_VIEW_TRADEOFF

static const tui_keydef table[] = {
    /* layers */
    {'\n', L, TUI_ACT_EXPAND, "Enter", "Expand", "expand or collapse the selected block"},
    {'\r', L, TUI_ACT_EXPAND, NULL, NULL, "expand or collapse the selected block"},
    {KEY_ENTER, L, TUI_ACT_EXPAND, NULL, NULL, "expand or collapse the selected block"},
    {' ', L, TUI_ACT_EXPAND, NULL, NULL, "expand or collapse the selected block"},
    {'+', L, TUI_ACT_RAISE, "+/-", "Type", "more bits for the selected block or tensor (type ladder)"},
    {'=', L, TUI_ACT_RAISE, NULL, NULL, "more bits (same as +)"},
    {'-', L, TUI_ACT_LOWER, NULL, NULL, "fewer bits for the selected block or tensor"},
    {'x', L, TUI_ACT_CLEAR, "x", "Unset", "remove the override of the selected block or tensor"},
    {'p', L, TUI_ACT_PRESETS, "p", "Presets", "choose a preset (llama.cpp mix)"},
    {'r', L, TUI_ACT_WHY, "r", "Why", "why the selected tensor has its type"},
    {'w', L, TUI_ACT_WHY, NULL, NULL, "why the selected tensor has its type (same as r)"},
    /* memory */
    {'+', M, TUI_ACT_RAISE, "+/-", "Context", "double / halve the context length"},
    {'=', M, TUI_ACT_RAISE, NULL, NULL, "double the context length (same as +)"},
    {'-', M, TUI_ACT_LOWER, NULL, NULL, "halve the context length"},
    {'c', M, TUI_ACT_CTX_TYPE, "c", "Ctx", "type a context length"},
    {'v', M, TUI_ACT_KV_TYPE, "v", "KV type", "next KV-cache type"},
    {'g', M, TUI_ACT_GPU_LESS, "g/G", "GPU layers", "one GPU layer less"},
    {'G', M, TUI_ACT_GPU_MORE, NULL, NULL, "one GPU layer more"},
    {'d', M, TUI_ACT_DEVICE_NEXT, "d/D", "Device", "next device"},
    {'D', M, TUI_ACT_DEVICE_PREV, NULL, NULL, "previous device"},
    /* chat (printable keys are typed into the message, so its actions are on Enter, Esc, F-keys) */
    {'\n', C, TUI_ACT_CHAT_SEND, "Enter", "Send", "send the message (no chat template: an empty Enter continues the text)"},
    {'\r', C, TUI_ACT_CHAT_SEND, NULL, NULL, "send the message"},
    {KEY_ENTER, C, TUI_ACT_CHAT_SEND, NULL, NULL, "send the message"},
    {TUI_KEY_ESC, C, TUI_ACT_CHAT_STOP, "Esc", "Stop", "stop the reply or the re-quantization under way"},
    {KEY_F(2), C, TUI_ACT_CHAT_AB, "F2", "A/B", "A/B mode: each message to the original and the planned model, side by side"},
    {KEY_F(3), C, TUI_ACT_CHAT_SAMPLING, "F3", "Sampling", "greedy (default) / sampling at temperature 0.8"},
    {KEY_F(4), C, TUI_ACT_CHAT_CONTINUE, "F4", "Drop+go", "context full: drop the oldest turns and continue the reply"},
    {KEY_F(5), C, TUI_ACT_CHAT_LIMIT, "F5", "Limit", "reply limit: 256 tokens, 1024, none"},
    {KEY_F(8), C, TUI_ACT_CHAT_NEW, "F8", "New", "new conversation (clears the transcript and the contexts)"},
    {KEY_LEFT, C, TUI_ACT_CHAT_EDIT, NULL, NULL, "edit the message: cursor, start / end (also ^A ^E), delete, ^U clears"},
    {KEY_RIGHT, C, TUI_ACT_CHAT_EDIT, NULL, NULL, "edit the message"},
    {KEY_HOME, C, TUI_ACT_CHAT_EDIT, NULL, NULL, "edit the message"},
    {KEY_END, C, TUI_ACT_CHAT_EDIT, NULL, NULL, "edit the message"},
    {KEY_BACKSPACE, C, TUI_ACT_CHAT_EDIT, NULL, NULL, "edit the message"},
    {KEY_DC, C, TUI_ACT_CHAT_EDIT, NULL, NULL, "edit the message"},
    {KEY_UP, C, TUI_ACT_UP, NULL, NULL, "scroll the transcript (also PgUp/PgDn, the wheel)"},
    {KEY_DOWN, C, TUI_ACT_DOWN, NULL, NULL, "scroll the transcript"},
    {'q', C, TUI_ACT_CHAT_TYPE, NULL, NULL, "letters, digits, q, ? and the rest are typed into the message"},
    {'?', C, TUI_ACT_CHAT_TYPE, NULL, NULL, "typed into the message"},
    {KEY_F(1), C, TUI_ACT_HELP, "F1", "Help", "this help"},
    {KEY_F(10), C, TUI_ACT_QUIT, "F10", "Quit", "quit (asks when the plan has unsaved changes)"},
    /* errors */
    {'+', E, TUI_ACT_RAISE, "+/-", "Type", "more bits for the selected tensor (a per-tensor override)"},
    {'=', E, TUI_ACT_RAISE, NULL, NULL, "more bits (same as +)"},
    {'-', E, TUI_ACT_LOWER, NULL, NULL, "fewer bits for the selected tensor"},
    {'[', E, TUI_ACT_CMP_LOWER, "[/]", "Compare", "compare with the next type with fewer bits"},
    {']', E, TUI_ACT_CMP_HIGHER, NULL, NULL, "compare with the next type with more bits"},
    {'x', E, TUI_ACT_CMP_TOGGLE, "x", "Cmp on/off", "comparison with a second type on / off"},
    {TUI_KEY_ESC, E, TUI_ACT_STOP_JOBS, "Esc", "Stop", "stop refining errors in the background"},
    {'R', E, TUI_ACT_REFINE, "R", "Refine", "refine errors (exact, every row) again"},
    /* trade-off */
    {'\n', T, TUI_ACT_APPLY, "Enter", "Use", "make the selected point the plan"},
    {'\r', T, TUI_ACT_APPLY, NULL, NULL, "make the selected point the plan"},
    {KEY_ENTER, T, TUI_ACT_APPLY, NULL, NULL, "make the selected point the plan"},
    {'b', T, TUI_ACT_AXIS_TOGGLE, "b", "MiB/bpw", "size axis in MiB or in bits per weight"},
    {'[', T, TUI_ACT_CMP_LOWER, "[/]", "Step", "halve / double the memory step of \"what more would buy\""},
    {']', T, TUI_ACT_CMP_HIGHER, NULL, NULL, "double the memory step"},
    {TUI_KEY_ESC, T, TUI_ACT_STOP_JOBS, "Esc", "Stop", "stop refining errors in the background"},
    {'R', T, TUI_ACT_REFINE, "R", "Refine", "refine errors (exact, every row) again"},
    /* everywhere */
    {KEY_UP, G, TUI_ACT_UP, NULL, NULL, "move up"},
    {'k', G, TUI_ACT_UP, NULL, NULL, "move up"},
    {KEY_DOWN, G, TUI_ACT_DOWN, NULL, NULL, "move down"},
    {'j', G, TUI_ACT_DOWN, NULL, NULL, "move down"},
    {KEY_PPAGE, G, TUI_ACT_PGUP, NULL, NULL, "page up"},
    {KEY_NPAGE, G, TUI_ACT_PGDN, NULL, NULL, "page down"},
    {KEY_HOME, G, TUI_ACT_HOME, NULL, NULL, "first row"},
    {KEY_END, G, TUI_ACT_END, NULL, NULL, "last row"},
    {'\t', G, TUI_ACT_NEXT_VIEW, "Tab", "View", "next view"},
    {KEY_BTAB, G, TUI_ACT_PREV_VIEW, NULL, NULL, "previous view"},
    {'1', G, TUI_ACT_VIEW_1, NULL, NULL, "Model view"},
    {'2', G, TUI_ACT_VIEW_2, NULL, NULL, "Layers and plan view"},
    {'3', G, TUI_ACT_VIEW_3, NULL, NULL, "Memory view"},
    {'4', G, TUI_ACT_VIEW_4, NULL, NULL, "Errors view"},
    {'5', G, TUI_ACT_VIEW_5, NULL, NULL, "Trade-off view"},
    {'6', G, TUI_ACT_VIEW_6, NULL, NULL, "Chat view"},
    {'c', G, TUI_ACT_VIEW_6, NULL, NULL, "Chat view (where the view gives c no other use)"},
    {'?', G, TUI_ACT_HELP, "?", "Help", "this help"},
    {KEY_F(1), G, TUI_ACT_HELP, NULL, NULL, "this help"},
    {TUI_KEY_CTRL_L, G, TUI_ACT_REDRAW, NULL, NULL, "redraw the screen"},
    {'q', G, TUI_ACT_QUIT, "q", "Quit", "quit (asks when the plan has unsaved changes)"},
    {KEY_F(10), G, TUI_ACT_QUIT, NULL, NULL, "quit"},
};

int tui_keys(const tui_keydef **t) {
    *t = table;
    return (int)(sizeof table / sizeof table[0]);
}

tui_action tui_key_action(int key, tui_view view) {
    int n = (int)(sizeof table / sizeof table[0]);
    for (int i = 0; i < n; i++)
        if (table[i].key == key && table[i].view == (int)view) return table[i].action;
    for (int i = 0; i < n; i++)
        if (table[i].key == key && table[i].view == G) return table[i].action;
    return TUI_ACT_NONE;
}

int tui_key_hints(tui_view view, tui_hint *out, int max) {
    int n = (int)(sizeof table / sizeof table[0]), k = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n && k < max; i++) {
            const tui_keydef *d = &table[i];
            if (!d->hint || (pass == 0 ? d->view != (int)view : d->view != G)) continue;
            /* a global row shadowed by a view row for the same key is not shown */
            if (pass == 1 && tui_key_action(d->key, view) != d->action) continue;
            out[k++] = (tui_hint){d->hint, d->label};
        }
    }
    return k;
}

const char *tui_key_name(int key, char *buf, int n) {
    switch (key) {
    case '\t': return "Tab";
    case '\n': case '\r': case KEY_ENTER: return "Enter";
    case ' ': return "Space";
    case KEY_UP: return "Up";
    case KEY_DOWN: return "Down";
    case KEY_PPAGE: return "PgUp";
    case KEY_NPAGE: return "PgDn";
    case KEY_HOME: return "Home";
    case KEY_END: return "End";
    case KEY_LEFT: return "Left";
    case KEY_RIGHT: return "Right";
    case KEY_BACKSPACE: return "Bksp";
    case KEY_DC: return "Del";
    case KEY_BTAB: return "S-Tab";
    case TUI_KEY_CTRL_L: return "^L";
    case TUI_KEY_ESC: return "Esc";
    default: break;
    }
    if (key >= KEY_F(1) && key <= KEY_F(12)) snprintf(buf, (size_t)n, "F%d", key - KEY_F(0));
    else if (key > 32 && key < 127) snprintf(buf, (size_t)n, "%c", key);
    else snprintf(buf, (size_t)n, "#%d", key);
    return buf;
}
