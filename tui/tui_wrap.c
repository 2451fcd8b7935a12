/* Character widths, word wrap, scrolling and the line editor (see tui_wrap.h). */
#include "tui_wrap.h"

#include <string.h>

/* ---- widths -------------------------------------------------------------------------------- */

typedef struct range {
    uint32_t lo, hi;
} range;

/* Nonspacing and enclosing marks, format characters and variation selectors (0 columns):
 * the common blocks, not every mark of every script. */
static const range zero_width[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x05BF, 0x05BF}, {0x05C1, 0x05C2},
    {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A}, {0x064B, 0x065F}, {0x0670, 0x0670},
    {0x06D6, 0x06DC}, {0x06DF, 0x06E4}, {0x06E7, 0x06E8}, {0x06EA, 0x06ED}, {0x0900, 0x0902},
    {0x093A, 0x093A}, {0x093C, 0x093C}, {0x0941, 0x0948}, {0x094D, 0x094D}, {0x0951, 0x0957},
    {0x0962, 0x0963}, {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E}, {0x1AB0, 0x1AFF},
    {0x1DC0, 0x1DFF}, {0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x2064}, {0x20D0, 0x20FF},
    {0x302A, 0x302D}, {0x3099, 0x309A}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF},
    {0xE0100, 0xE01EF},
};

/* East Asian Wide and Fullwidth (2 columns), emoji presentation included. */
static const range wide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
    {0x23F0, 0x23F0},   {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},
    {0x2648, 0x2653},   {0x267F, 0x267F},   {0x2693, 0x2693},   {0x26A1, 0x26A1},
    {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x26CE, 0x26CE},
    {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
    {0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},
    {0x2728, 0x2728},   {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},
    {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27B0, 0x27B0},   {0x27BF, 0x27BF},
    {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x2E80, 0x303E},
    {0x3041, 0x3098},   {0x309B, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},
    {0xA000, 0xA4CF},   {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},
    {0xFE10, 0xFE19},   {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},
    {0x16FE0, 0x16FE4}, {0x17000, 0x18AFF}, {0x1B000, 0x1B2FF}, {0x1F004, 0x1F004},
    {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F200, 0x1F202},
    {0x1F210, 0x1F23B}, {0x1F240, 0x1F248}, {0x1F250, 0x1F251}, {0x1F260, 0x1F265},
    {0x1F300, 0x1F320}, {0x1F32D, 0x1F335}, {0x1F337, 0x1F37C}, {0x1F37E, 0x1F393},
    {0x1F3A0, 0x1F3CA}, {0x1F3CF, 0x1F3D3}, {0x1F3E0, 0x1F3F0}, {0x1F3F4, 0x1F3F4},
    {0x1F3F8, 0x1F43E}, {0x1F440, 0x1F440}, {0x1F442, 0x1F4FC}, {0x1F4FF, 0x1F53D},
    {0x1F54B, 0x1F54E}, {0x1F550, 0x1F567}, {0x1F57A, 0x1F57A}, {0x1F595, 0x1F596},
    {0x1F5A4, 0x1F5A4}, {0x1F5FB, 0x1F64F}, {0x1F680, 0x1F6C5}, {0x1F6CC, 0x1F6CC},
    {0x1F6D0, 0x1F6D2}, {0x1F6D5, 0x1F6D7}, {0x1F6EB, 0x1F6EC}, {0x1F6F4, 0x1F6FC},
    {0x1F7E0, 0x1F7EB}, {0x1F90C, 0x1F93A}, {0x1F93C, 0x1F945}, {0x1F947, 0x1F9FF},
    {0x1FA70, 0x1FAFF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

static bool in_ranges(uint32_t cp, const range *r, int n) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < r[mid].lo) hi = mid - 1;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return true;
    }
    return false;
}

int tui_cp_cols(uint32_t cp) {
    if (cp < 0x300) return 1;
    if (in_ranges(cp, zero_width, (int)(sizeof zero_width / sizeof *zero_width))) return 0;
    if (in_ranges(cp, wide, (int)(sizeof wide / sizeof *wide))) return 2;
    return 1;
}

int tui_utf8_char(const char *s, size_t n, uint32_t *cp, int *cols, bool *sub) {
    const unsigned char *u = (const unsigned char *)s;
    unsigned char b = u[0];
    int len = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
    uint32_t c = len == 1 ? b : len == 2 ? (b & 0x1Fu) : len == 3 ? (b & 0x0Fu) : (b & 0x07u);
    bool bad = len == 0 || (size_t)len > n;
    for (int k = 1; !bad && k < len; k++) {
        if ((u[k] & 0xC0) != 0x80) bad = true;
        else c = (c << 6) | (u[k] & 0x3Fu);
    }
    /* shortest form only, no surrogates, nothing past U+10FFFF */
    if (!bad && ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
                 c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)))
        bad = true;
    if (bad) {
        *cp = 0xFFFD;
        *cols = 1;
        if (sub) *sub = true;
        return 1;
    }
    *cp = c;
    bool control = (c < 0x20 && c != '\n') || (c >= 0x7F && c < 0xA0);
    *cols = c == '\n' ? 0 : control ? 1 : tui_cp_cols(c);
    if (sub) *sub = control;
    return len;
}

int tui_text_cols(const char *s, size_t n) {
    int cols = 0;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        int w;
        i += (size_t)tui_utf8_char(s + i, n - i, &cp, &w, NULL);
        cols += w;
    }
    return cols;
}

/* ---- wrap ---------------------------------------------------------------------------------- */

int tui_wrap(const char *text, size_t n, int width, tui_wline *out, int max) {
    if (width < 1) width = 1;
    int count = 0;
    size_t pos = 0;
    for (;;) {
        size_t i = pos, brk = 0; /* brk: byte of the last space after the line's start */
        bool have_brk = false, newline = false;
        int cols = 0, brk_cols = 0;
        size_t end = n, next = n;
        while (i < n) {
            if (text[i] == '\n') {
                end = i;
                next = i + 1;
                newline = true;
                break;
            }
            uint32_t cp;
            int w;
            int b = tui_utf8_char(text + i, n - i, &cp, &w, NULL);
            if (cols + w > width) {
                if (cp == ' ') { /* the space that does not fit is the break */
                    end = i;
                    next = i + 1;
                } else if (have_brk) {
                    end = brk;
                    next = brk + 1;
                    cols = brk_cols;
                } else if (i == pos) { /* a lone character wider than the line */
                    end = next = i + (size_t)b;
                    cols = w;
                } else {
                    end = next = i;
                }
                break;
            }
            if (cp == ' ' && i > pos) {
                have_brk = true;
                brk = i;
                brk_cols = cols;
            }
            cols += w;
            i += (size_t)b;
        }
        if (i >= n && !newline) end = next = n;
        if (count < max) out[count] = (tui_wline){(int)pos, (int)(end - pos), cols};
        count++;
        pos = next;
        if (!newline && pos >= n) break;
    }
    return count;
}

/* ---- columns and scrolling ----------------------------------------------------------------- */

void tui_split2(int width, int gap, int *left, int *right) {
    int w = width - gap;
    if (w < 2) {
        *left = *right = 0;
        return;
    }
    *left = w / 2;
    *right = w - *left;
}

int tui_scroll_top(int n_lines, int height, int *up) {
    if (height < 0) height = 0;
    int max_up = n_lines > height ? n_lines - height : 0;
    if (*up < 0) *up = 0;
    if (*up > max_up) *up = max_up;
    return max_up - *up;
}

/* ---- line editor --------------------------------------------------------------------------- */

static bool is_cont(char c) { return ((unsigned char)c & 0xC0) == 0x80; }

void tui_edit_clear(tui_edit *e) {
    e->buf[0] = 0;
    e->len = e->cur = 0;
}

bool tui_edit_insert(tui_edit *e, const char *bytes, int n) {
    if (n <= 0 || e->len + n >= TUI_EDIT_MAX) return false;
    memmove(e->buf + e->cur + n, e->buf + e->cur, (size_t)(e->len - e->cur) + 1);
    memcpy(e->buf + e->cur, bytes, (size_t)n);
    e->len += n;
    e->cur += n;
    return true;
}

/* start of the character before byte offset at */
static int prev_char(const tui_edit *e, int at) {
    if (at <= 0) return 0;
    int p = at - 1;
    while (p > 0 && is_cont(e->buf[p]) && at - p < 4) p--;
    return p;
}

static int next_char(const tui_edit *e, int at) {
    if (at >= e->len) return e->len;
    uint32_t cp;
    int w;
    return at + tui_utf8_char(e->buf + at, (size_t)(e->len - at), &cp, &w, NULL);
}

void tui_edit_backspace(tui_edit *e) {
    if (e->cur == 0) return;
    int p = prev_char(e, e->cur);
    memmove(e->buf + p, e->buf + e->cur, (size_t)(e->len - e->cur) + 1);
    e->len -= e->cur - p;
    e->cur = p;
}

void tui_edit_delete(tui_edit *e) {
    if (e->cur >= e->len) return;
    int q = next_char(e, e->cur);
    memmove(e->buf + e->cur, e->buf + q, (size_t)(e->len - q) + 1);
    e->len -= q - e->cur;
}

void tui_edit_left(tui_edit *e) { e->cur = prev_char(e, e->cur); }
void tui_edit_right(tui_edit *e) { e->cur = next_char(e, e->cur); }
void tui_edit_home(tui_edit *e) { e->cur = 0; }
void tui_edit_end(tui_edit *e) { e->cur = e->len; }

int tui_edit_view(const tui_edit *e, int width, int *cursor_col) {
    if (width < 2) width = 2;
    int start = 0;
    int col = tui_text_cols(e->buf, (size_t)e->cur);
    /* drop characters from the left until the cursor fits in the last column */
    while (col > width - 1 && start < e->cur) {
        int q = next_char(e, start);
        col -= tui_text_cols(e->buf + start, (size_t)(q - start));
        start = q;
    }
    *cursor_col = col;
    return start;
}
