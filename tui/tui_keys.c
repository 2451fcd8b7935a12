/* The key table and what reads it. */
#include "tui_keys.h"

#include <curses.h>
#include <stdio.h>

static const char *const view_names[TUI_VIEW_COUNT] = {
    "Model", "Layers", "Memory", "Errors", "Trade-off", "Chat",
};

static const char *const overlay_names[TUI_VIEW_OVERLAY_END - TUI_VIEW_PICKER] = {
    "Model picker", "Rules list", "Rule editor", "Keep first / last blocks", "Typing a path or a search",
};

const char *tui_view_name(tui_view v) {
    if (v >= TUI_VIEW_PICKER && v < TUI_VIEW_OVERLAY_END) return overlay_names[v - TUI_VIEW_PICKER];
    return v >= 0 && v < TUI_VIEW_COUNT ? view_names[v] : "?";
}

#define G TUI_VIEW_GLOBAL
#define L TUI_VIEW_LAYERS
#define M TUI_VIEW_MEMORY
#define C TUI_VIEW_CHAT
#define E TUI_VIEW_ERRORS
#define T TUI_VIEW_TRADEOFF
#define P TUI_VIEW_PICKER
#define RL TUI_VIEW_RULES
#define RE TUI_VIEW_RULE_EDIT
#define KP TUI_VIEW_KEEP
#define PR TUI_VIEW_PROMPT

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
    {'R', L, TUI_ACT_RULES, "R", "Rules", "the plan's rules: add, edit (matches shown as you type), order"},
    {'K', L, TUI_ACT_KEEP, "K", "Keep", "keep the first N / last M blocks at a type"},
    {'/', L, TUI_ACT_SEARCH, "/", "Search", "search tensors by name (as you type; Enter keeps, Esc returns)"},
    {'n', L, TUI_ACT_SEARCH_NEXT, NULL, NULL, "next search match"},
    {'N', L, TUI_ACT_SEARCH_PREV, NULL, NULL, "previous search match"},
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
    /* the model picker (no model given) */
    {'\n', P, TUI_ACT_OPEN, "Enter", "Open", "open the selected model"},
    {'\r', P, TUI_ACT_OPEN, NULL, NULL, "open the selected model"},
    {KEY_ENTER, P, TUI_ACT_OPEN, NULL, NULL, "open the selected model"},
    {'r', P, TUI_ACT_RESCAN, "r", "Rescan", "look for models again"},
    {KEY_F(5), P, TUI_ACT_RESCAN, NULL, NULL, "look for models again"},
    {'?', P, TUI_ACT_HELP, "?", "Help", "the help"},
    {'q', P, TUI_ACT_QUIT, "q", "Quit", "quit"},
    /* the rules list */
    {'a', RL, TUI_ACT_ADD, "a", "Add", "add a rule below the selected one"},
    {KEY_IC, RL, TUI_ACT_ADD, NULL, NULL, "add a rule"},
    {'\n', RL, TUI_ACT_EDIT, "Enter", "Edit", "edit the selected rule"},
    {'\r', RL, TUI_ACT_EDIT, NULL, NULL, "edit the selected rule"},
    {KEY_ENTER, RL, TUI_ACT_EDIT, NULL, NULL, "edit the selected rule"},
    {'e', RL, TUI_ACT_EDIT, NULL, NULL, "edit the selected rule"},
    {'d', RL, TUI_ACT_DELETE, "d", "Delete", "delete the selected rule"},
    {KEY_DC, RL, TUI_ACT_DELETE, NULL, NULL, "delete the selected rule"},
    {'K', RL, TUI_ACT_MOVE_UP, "K/J", "Move", "move the selected rule up (first match wins)"},
    {'J', RL, TUI_ACT_MOVE_DOWN, NULL, NULL, "move the selected rule down"},
    {'+', RL, TUI_ACT_TYPE_UP, "+/-", "Type", "more / fewer bits for the selected rule"},
    {'-', RL, TUI_ACT_TYPE_DOWN, NULL, NULL, "fewer bits for the selected rule"},
    {TUI_KEY_ESC, RL, TUI_ACT_CANCEL, "Esc", "Close", "close the rules list"},
    {'q', RL, TUI_ACT_CANCEL, NULL, NULL, "close the rules list"},
    /* the rule editor: other keys edit the pattern */
    {'\n', RE, TUI_ACT_ACCEPT, "Enter", "Commit", "commit the rule (the plan re-resolves)"},
    {'\r', RE, TUI_ACT_ACCEPT, NULL, NULL, "commit the rule"},
    {KEY_ENTER, RE, TUI_ACT_ACCEPT, NULL, NULL, "commit the rule"},
    {KEY_UP, RE, TUI_ACT_TYPE_UP, "Up/Dn", "Type", "the rule's type: one rung up the ladder"},
    {KEY_DOWN, RE, TUI_ACT_TYPE_DOWN, NULL, NULL, "the rule's type: one rung down"},
    {KEY_PPAGE, RE, TUI_ACT_PGUP, "PgUp/Dn", "Matches", "scroll the matching tensors"},
    {KEY_NPAGE, RE, TUI_ACT_PGDN, NULL, NULL, "scroll the matching tensors"},
    {TUI_KEY_ESC, RE, TUI_ACT_CANCEL, "Esc", "Cancel", "leave the rule as it was"},
    /* keep first / last */
    {'\t', KP, TUI_ACT_NEXT_FIELD, "Tab", "Field", "next field (first, last, type)"},
    {KEY_RIGHT, KP, TUI_ACT_NEXT_FIELD, NULL, NULL, "next field"},
    {KEY_BTAB, KP, TUI_ACT_PREV_FIELD, NULL, NULL, "previous field"},
    {KEY_LEFT, KP, TUI_ACT_PREV_FIELD, NULL, NULL, "previous field"},
    {KEY_UP, KP, TUI_ACT_TYPE_UP, "Up/Dn", "Change", "one more block / one rung up the ladder"},
    {'+', KP, TUI_ACT_TYPE_UP, NULL, NULL, "one more block / one rung up"},
    {KEY_DOWN, KP, TUI_ACT_TYPE_DOWN, NULL, NULL, "one block less / one rung down"},
    {'-', KP, TUI_ACT_TYPE_DOWN, NULL, NULL, "one block less / one rung down"},
    {'x', KP, TUI_ACT_DELETE, "x", "Off", "keep no blocks (both counts 0)"},
    {'\n', KP, TUI_ACT_ACCEPT, "Enter", "Apply", "apply to the plan"},
    {'\r', KP, TUI_ACT_ACCEPT, NULL, NULL, "apply to the plan"},
    {KEY_ENTER, KP, TUI_ACT_ACCEPT, NULL, NULL, "apply to the plan"},
    {TUI_KEY_ESC, KP, TUI_ACT_CANCEL, "Esc", "Cancel", "leave the plan as it was"},
    /* typing a path or a search: other keys edit the line (Left/Right, Home/End, ^A/^E,
     * Backspace/Delete, ^U, ^K, ^W) */
    {'\n', PR, TUI_ACT_ACCEPT, "Enter", "OK", "accept"},
    {'\r', PR, TUI_ACT_ACCEPT, NULL, NULL, "accept"},
    {KEY_ENTER, PR, TUI_ACT_ACCEPT, NULL, NULL, "accept"},
    {'\t', PR, TUI_ACT_COMPLETE, "Tab", "Complete", "complete a file name"},
    {TUI_KEY_ESC, PR, TUI_ACT_CANCEL, "Esc", "Cancel", "cancel"},
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
    {'s', G, TUI_ACT_SAVE, "s", "Save", "save the plan (asks for a path when it has none)"},
    {'S', G, TUI_ACT_SAVE_AS, NULL, NULL, "save the plan under a new path"},
    {'o', G, TUI_ACT_OPEN_PLAN, "o", "Open", "open a plan file"},
    {'e', G, TUI_ACT_EXPORT, "e", "Export", "export the planned GGUF (progress; Esc cancels)"},
    {'c', G, TUI_ACT_VIEW_6, NULL, NULL, "Chat view (where the view gives c no other use)"},
    {'?', G, TUI_ACT_HELP, "?", "Help", "this help"},
    {KEY_F(1), G, TUI_ACT_HELP, NULL, NULL, "this help"},
    {TUI_KEY_ESC, G, TUI_ACT_CANCEL, NULL, NULL, "cancel the running export"},
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

tui_action tui_key_action_in(int key, tui_view view) {
    int n = (int)(sizeof table / sizeof table[0]);
    for (int i = 0; i < n; i++)
        if (table[i].key == key && table[i].view == (int)view) return table[i].action;
    return TUI_ACT_NONE;
}

int tui_key_hints(tui_view view, tui_hint *out, int max) {
    int n = (int)(sizeof table / sizeof table[0]), k = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n && k < max; i++) {
            const tui_keydef *d = &table[i];
            if (!d->hint || (pass == 0 ? d->view != (int)view : d->view != G)) continue;
            /* screens and overlays show their own keys only */
            if (pass == 1 && view >= TUI_VIEW_PICKER) continue;
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
    case KEY_IC: return "Ins";
    case TUI_KEY_CTRL_L: return "^L";
    case TUI_KEY_ESC: return "Esc";
    default: break;
    }
    if (key >= KEY_F(1) && key <= KEY_F(12)) snprintf(buf, (size_t)n, "F%d", key - KEY_F(0));
    else if (key > 32 && key < 127) snprintf(buf, (size_t)n, "%c", key);
    else snprintf(buf, (size_t)n, "#%d", key);
    return buf;
}
