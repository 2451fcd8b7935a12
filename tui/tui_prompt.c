/* The one-line editor: UTF-8 aware cursor moves, kills, the visible window, path completion. */
#include "tui_prompt.h"

#include <curses.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool cont(char c) { return ((unsigned char)c & 0xC0) == 0x80; }

static int prev_char(const tui_line *l, int at) {
    if (at <= 0) return 0;
    at--;
    while (at > 0 && cont(l->text[at])) at--;
    return at;
}

static int next_char(const tui_line *l, int at) {
    if (at >= l->len) return l->len;
    at++;
    while (at < l->len && cont(l->text[at])) at++;
    return at;
}

void tui_line_set(tui_line *l, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n > TUI_LINE_MAX - 1) {
        n = TUI_LINE_MAX - 1;
        while (n > 0 && cont(s[n])) n--; /* do not split a character */
    }
    if (n) memcpy(l->text, s, n);
    l->text[n] = 0;
    l->len = l->cur = (int)n;
}

static void delete_range(tui_line *l, int from, int to) {
    if (to <= from) return;
    memmove(l->text + from, l->text + to, (size_t)(l->len - to) + 1);
    l->len -= to - from;
    if (l->cur > to) l->cur -= to - from;
    else if (l->cur > from) l->cur = from;
}

enum { CTRL_A = 1, CTRL_D = 4, CTRL_E = 5, CTRL_H = 8, CTRL_K = 11, CTRL_U = 21, CTRL_W = 23, DEL = 127 };

tui_line_result tui_line_key(tui_line *l, int key) {
    switch (key) {
    case KEY_LEFT: l->cur = prev_char(l, l->cur); return TUI_LINE_MOVED;
    case KEY_RIGHT: l->cur = next_char(l, l->cur); return TUI_LINE_MOVED;
    case KEY_HOME: case CTRL_A: l->cur = 0; return TUI_LINE_MOVED;
    case KEY_END: case CTRL_E: l->cur = l->len; return TUI_LINE_MOVED;
    case KEY_BACKSPACE: case CTRL_H: case DEL:
        if (l->cur == 0) return TUI_LINE_MOVED;
        delete_range(l, prev_char(l, l->cur), l->cur);
        return TUI_LINE_CHANGED;
    case KEY_DC: case CTRL_D:
        if (l->cur >= l->len) return TUI_LINE_MOVED;
        delete_range(l, l->cur, next_char(l, l->cur));
        return TUI_LINE_CHANGED;
    case CTRL_U:
        if (!l->len) return TUI_LINE_MOVED;
        delete_range(l, 0, l->len);
        return TUI_LINE_CHANGED;
    case CTRL_K:
        if (l->cur >= l->len) return TUI_LINE_MOVED;
        delete_range(l, l->cur, l->len);
        return TUI_LINE_CHANGED;
    case CTRL_W: {
        int at = l->cur;
        while (at > 0 && l->text[at - 1] == ' ') at--;
        while (at > 0 && l->text[at - 1] != ' ' && l->text[at - 1] != '/') at--;
        if (at == l->cur && at > 0) at--; /* a lone '/' goes too */
        if (at == l->cur) return TUI_LINE_MOVED;
        delete_range(l, at, l->cur);
        return TUI_LINE_CHANGED;
    }
    default: break;
    }
    if (key < 32 || key > 255 || key == DEL) return TUI_LINE_IGNORED;
    if (l->len + 1 >= TUI_LINE_MAX) return TUI_LINE_MOVED;
    memmove(l->text + l->cur + 1, l->text + l->cur, (size_t)(l->len - l->cur) + 1);
    l->text[l->cur] = (char)key;
    l->len++;
    l->cur++;
    /* UTF-8 arrives a byte at a time: the cursor stays after the whole character, which may
     * still be incomplete (its last bytes come next, at the cursor) */
    return TUI_LINE_CHANGED;
}

int tui_line_cols(const char *s, int from, int to) {
    int c = 0;
    for (int i = from; i < to && s[i]; i++)
        if (!cont(s[i])) c++;
    return c;
}

int tui_line_view(const tui_line *l, int width, int first, int *cursor_col) {
    if (width < 1) width = 1;
    if (first < 0 || first > l->cur) first = l->cur;
    while (first > 0 && cont(l->text[first])) first--;
    /* scroll right until the cursor fits in the window */
    while (tui_line_cols(l->text, first, l->cur) >= width) first = next_char(l, first);
    /* a window that could show more text on its left does (after deletions) */
    while (first > 0) {
        int p = prev_char(l, first);
        if (tui_line_cols(l->text, p, l->len) + (l->cur == l->len) > width) break;
        first = p;
    }
    *cursor_col = tui_line_cols(l->text, first, l->cur);
    return first;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int tui_line_complete_path(tui_line *l, char *shown, size_t n_show) {
    if (shown && n_show) shown[0] = 0;
    if (l->cur != l->len) return 0;
    const char *slash = strrchr(l->text, '/');
    char dir[TUI_LINE_MAX];
    const char *base;
    if (slash) {
        size_t dl = (size_t)(slash - l->text);
        memcpy(dir, l->text, dl ? dl : 1); /* "/x" -> "/" */
        dir[dl ? dl : 1] = 0;
        base = slash + 1;
    } else {
        snprintf(dir, sizeof dir, ".");
        base = l->text;
    }
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return 0;
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, base, bl) != 0) continue;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (de->d_name[0] == '.' && base[0] != '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(names, (size_t)cap * sizeof *names);
            if (!nv) break;
            names = nv;
        }
        if (!(names[n] = strdup(de->d_name))) break;
        n++;
    }
    closedir(d);
    if (n == 0) {
        free(names);
        return 0;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    size_t common = strlen(names[0]);
    for (int i = 1; i < n; i++) {
        size_t k = 0;
        while (k < common && names[i][k] == names[0][k]) k++;
        common = k;
    }
    /* cut at a character boundary */
    while (common > bl && cont(names[0][common])) common--;
    char add[TUI_LINE_MAX];
    snprintf(add, sizeof add, "%.*s", (int)(common - bl), names[0] + bl);
    if (n == 1) {
        char full[2 * TUI_LINE_MAX + 2];
        snprintf(full, sizeof full, "%s/%s", dir, names[0]);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) strncat(add, "/", sizeof add - strlen(add) - 1);
    }
    for (const char *p = add; *p && l->len + 1 < TUI_LINE_MAX; p++) tui_line_key(l, (unsigned char)*p);
    if (shown && n_show) {
        size_t o = 0;
        for (int i = 0; i < n && o + 1 < n_show; i++) {
            int w = snprintf(shown + o, n_show - o, "%s%s", i ? "  " : "", names[i]);
            if (w < 0) break;
            o += (size_t)w;
        }
        if (o >= n_show) o = n_show - 1;
        shown[o] = 0;
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return n;
}
