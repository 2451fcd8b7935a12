/* Themes: the semantic table, its YAML loader (libyaml events), colour mapping down to the
 * terminal's palette. No ncurses here. */
#include "tui_theme.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

static const char *const elem_keys[TUI_C_COUNT] = {
    [TUI_C_TEXT] = "text",
    [TUI_C_DIM] = "dim",
    [TUI_C_HEADER] = "header",
    [TUI_C_TAB] = "tab",
    [TUI_C_TAB_ACTIVE] = "tab_active",
    [TUI_C_TITLE] = "title",
    [TUI_C_SELECTION] = "selection",
    [TUI_C_FKEY] = "function_key",
    [TUI_C_FLABEL] = "function_label",
    [TUI_C_BAR_WEIGHTS_DEVICE] = "bar_weights_device",
    [TUI_C_BAR_WEIGHTS_HOST] = "bar_weights_host",
    [TUI_C_BAR_KV] = "bar_kv",
    [TUI_C_BAR_COMPUTE] = "bar_compute",
    [TUI_C_BAR_OVERHEAD] = "bar_overhead",
    [TUI_C_BAR_FREE] = "bar_free",
    [TUI_C_OK] = "ok",
    [TUI_C_WARN] = "warn",
    [TUI_C_ERROR] = "error",
    [TUI_C_HISTOGRAM] = "histogram",
    [TUI_C_CHANGED] = "changed",
    [TUI_C_BORDER] = "border",
};

const char *tui_elem_key(tui_elem e) {
    return (e >= 0 && e < TUI_C_COUNT && elem_keys[e]) ? elem_keys[e] : "?";
}

enum { BLK, RED, GRN, YEL, BLU, MAG, CYN, WHT, BBLK, BRED, BGRN, BYEL, BBLU, BMAG, BCYN, BWHT };
#define D TUI_COLOR_DEFAULT

void tui_theme_default(tui_theme *t) {
    static const tui_style s[TUI_C_COUNT] = {
        [TUI_C_TEXT] = {D, D, 0},
        [TUI_C_DIM] = {BBLK, D, 0},
        [TUI_C_HEADER] = {BLK, CYN, 0},
        [TUI_C_TAB] = {WHT, BLU, 0},
        [TUI_C_TAB_ACTIVE] = {BLK, GRN, TUI_A_BOLD},
        [TUI_C_TITLE] = {GRN, D, TUI_A_BOLD},
        [TUI_C_SELECTION] = {BLK, CYN, 0},
        [TUI_C_FKEY] = {WHT, BLK, TUI_A_BOLD},
        [TUI_C_FLABEL] = {BLK, CYN, 0},
        [TUI_C_BAR_WEIGHTS_DEVICE] = {GRN, D, 0},
        [TUI_C_BAR_WEIGHTS_HOST] = {BLU, D, TUI_A_BOLD},
        [TUI_C_BAR_KV] = {MAG, D, 0},
        [TUI_C_BAR_COMPUTE] = {YEL, D, 0},
        [TUI_C_BAR_OVERHEAD] = {CYN, D, 0},
        [TUI_C_BAR_FREE] = {BBLK, D, 0},
        [TUI_C_OK] = {GRN, D, TUI_A_BOLD},
        [TUI_C_WARN] = {YEL, D, TUI_A_BOLD},
        [TUI_C_ERROR] = {RED, D, TUI_A_BOLD},
        [TUI_C_HISTOGRAM] = {CYN, D, 0},
        [TUI_C_CHANGED] = {YEL, D, 0},
        [TUI_C_BORDER] = {CYN, D, 0},
    };
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "default-dark");
    memcpy(t->s, s, sizeof s);
}

void tui_theme_mono(tui_theme *t) {
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "monochrome");
    for (int i = 0; i < TUI_C_COUNT; i++) t->s[i] = (tui_style){D, D, 0};
    t->s[TUI_C_DIM].attr = TUI_A_DIM;
    t->s[TUI_C_HEADER].attr = TUI_A_REVERSE;
    t->s[TUI_C_TAB].attr = TUI_A_REVERSE;
    t->s[TUI_C_TAB_ACTIVE].attr = TUI_A_BOLD | TUI_A_UNDERLINE;
    t->s[TUI_C_TITLE].attr = TUI_A_BOLD;
    t->s[TUI_C_SELECTION].attr = TUI_A_REVERSE;
    t->s[TUI_C_FKEY].attr = TUI_A_BOLD;
    t->s[TUI_C_FLABEL].attr = TUI_A_REVERSE;
    t->s[TUI_C_BAR_WEIGHTS_DEVICE].attr = TUI_A_BOLD;
    t->s[TUI_C_BAR_KV].attr = TUI_A_UNDERLINE;
    t->s[TUI_C_BAR_FREE].attr = TUI_A_DIM;
    t->s[TUI_C_OK].attr = TUI_A_BOLD;
    t->s[TUI_C_WARN].attr = TUI_A_UNDERLINE;
    t->s[TUI_C_ERROR].attr = TUI_A_BOLD | TUI_A_REVERSE;
    t->s[TUI_C_CHANGED].attr = TUI_A_UNDERLINE;
}

/* ---- colours ------------------------------------------------------------------------------- */

static const char *const basic_names[8] = {"black", "red", "green", "yellow",
                                           "blue", "magenta", "cyan", "white"};

int tui_color_parse(const char *s, int *out) {
    if (!s || !*s) return QS_ERR;
    if (!strcasecmp(s, "default") || !strcasecmp(s, "none")) { *out = D; return QS_OK; }
    if (!strcasecmp(s, "gray") || !strcasecmp(s, "grey")) { *out = BBLK; return QS_OK; }
    for (int i = 0; i < 8; i++) {
        if (!strcasecmp(s, basic_names[i])) { *out = i; return QS_OK; }
        if ((!strncasecmp(s, "bright-", 7) || !strncasecmp(s, "bright_", 7)) &&
            !strcasecmp(s + 7, basic_names[i])) { *out = 8 + i; return QS_OK; }
    }
    if (s[0] == '#') {
        if (strlen(s) != 7) return QS_ERR;
        unsigned v = 0;
        for (int i = 1; i < 7; i++) {
            char c = s[i];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) return QS_ERR;
            v = v * 16 + (unsigned)d;
        }
        *out = TUI_COLOR_RGB | (int)v;
        return QS_OK;
    }
    if (s[0] >= '0' && s[0] <= '9') {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (*end || errno || v < 0 || v > 255) return QS_ERR;
        *out = (int)v;
        return QS_OK;
    }
    return QS_ERR;
}

/* The RGB of an xterm-256 index (xterm's default palette). */
static void xterm_rgb(int i, int *r, int *g, int *b) {
    static const int basic[16][3] = {
        {0, 0, 0},       {205, 0, 0},     {0, 205, 0},     {205, 205, 0},
        {0, 0, 238},     {205, 0, 205},   {0, 205, 205},   {229, 229, 229},
        {127, 127, 127}, {255, 0, 0},     {0, 255, 0},     {255, 255, 0},
        {92, 92, 255},   {255, 0, 255},   {0, 255, 255},   {255, 255, 255},
    };
    if (i < 16) { *r = basic[i][0]; *g = basic[i][1]; *b = basic[i][2]; return; }
    if (i < 232) {
        static const int lv[6] = {0, 95, 135, 175, 215, 255};
        int c = i - 16;
        *r = lv[c / 36]; *g = lv[(c / 6) % 6]; *b = lv[c % 6];
        return;
    }
    int v = 8 + 10 * (i - 232);
    *r = *g = *b = v;
}

static int nearest(int r, int g, int b, int from, int to) {
    int best = from;
    long bd = -1;
    for (int i = from; i < to; i++) {
        int R, G, B;
        xterm_rgb(i, &R, &G, &B);
        long d = (long)(R - r) * (R - r) * 3 + (long)(G - g) * (G - g) * 4 + (long)(B - b) * (B - b) * 2;
        if (bd < 0 || d < bd) { bd = d; best = i; }
    }
    return best;
}

int tui_color_map(int color, int ncolors, bool *bold) {
    if (bold) *bold = false;
    if (color == D || ncolors < 8) return D;
    int r, g, b, idx;
    if (color & TUI_COLOR_RGB) {
        r = (color >> 16) & 255; g = (color >> 8) & 255; b = color & 255;
        if (ncolors >= 256) return nearest(r, g, b, 16, 256);
        idx = -1;
    } else {
        if (color < ncolors && color < 256) {
            return color;
        }
        xterm_rgb(color & 255, &r, &g, &b);
        idx = color;
    }
    if (idx >= 0 && idx < 16) {
        /* a bright basic colour on an 8-colour terminal: its dim twin, made bold */
        if (bold) *bold = true;
        return idx - 8;
    }
    int n = ncolors >= 16 ? 16 : 8;
    int m = nearest(r, g, b, 0, n);
    return m;
}

/* ---- YAML ---------------------------------------------------------------------------------- */

typedef struct tparser {
    yaml_parser_t p;
    yaml_event_t ev;
    bool have;
    const char *name;
    qs_error *err;
} tparser;

static int perr(tparser *tp, const yaml_mark_t *m, const char *fmt, const char *arg) {
    char msg[256];
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    return qs_error_set(tp->err, "%s:%zu:%zu: %s", tp->name, m->line + 1, m->column + 1, msg);
}

static int next(tparser *tp) {
    if (tp->have) yaml_event_delete(&tp->ev);
    tp->have = false;
    if (!yaml_parser_parse(&tp->p, &tp->ev)) {
        const yaml_mark_t *m = &tp->p.problem_mark;
        return qs_error_set(tp->err, "%s:%zu:%zu: %s", tp->name, m->line + 1, m->column + 1,
                            tp->p.problem ? tp->p.problem : "YAML syntax error");
    }
    tp->have = true;
    return QS_OK;
}

static const char *scalar(tparser *tp) { return (const char *)tp->ev.data.scalar.value; }

/* Skips the value the current event starts (scalar, or a whole collection). */
static int skip(tparser *tp) {
    int depth = 0;
    do {
        yaml_event_type_t t = tp->ev.type;
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT) depth++;
        if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) depth--;
        if (depth == 0) return QS_OK;
        if (next(tp)) return QS_ERR;
    } while (1);
}

static int parse_attr_word(tparser *tp, unsigned *attr) {
    static const struct { const char *w; unsigned a; } words[] = {
        {"bold", TUI_A_BOLD}, {"dim", TUI_A_DIM}, {"reverse", TUI_A_REVERSE},
        {"underline", TUI_A_UNDERLINE}, {"italic", TUI_A_ITALIC}, {"none", 0},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcasecmp(scalar(tp), words[i].w)) { *attr |= words[i].a; return QS_OK; }
    return perr(tp, &tp->ev.start_mark,
                "unknown attribute '%s' (expected bold, dim, reverse, underline, italic, none)",
                scalar(tp));
}

static int parse_style(tparser *tp, tui_style *st) {
    if (tp->ev.type != YAML_MAPPING_START_EVENT)
        return perr(tp, &tp->ev.start_mark, "expected a mapping { fg: ..., bg: ..., attr: ... }%s", "");
    /* a listed element is exactly what the file says: unnamed fields are default / none */
    *st = (tui_style){D, D, 0};
    for (;;) {
        if (next(tp)) return QS_ERR;
        if (tp->ev.type == YAML_MAPPING_END_EVENT) return QS_OK;
        if (tp->ev.type != YAML_SCALAR_EVENT)
            return perr(tp, &tp->ev.start_mark, "expected fg, bg or attr%s", "");
        char key[32];
        snprintf(key, sizeof key, "%s", scalar(tp));
        yaml_mark_t km = tp->ev.start_mark;
        if (next(tp)) return QS_ERR;
        if (!strcmp(key, "fg") || !strcmp(key, "bg")) {
            if (tp->ev.type != YAML_SCALAR_EVENT)
                return perr(tp, &tp->ev.start_mark, "%s: expected a colour", key);
            int c;
            if (tui_color_parse(scalar(tp), &c))
                return perr(tp, &tp->ev.start_mark,
                            "bad colour '%s' (expected a name like bright-red, 0..255 or #rrggbb)",
                            scalar(tp));
            if (key[0] == 'f') st->fg = c; else st->bg = c;
        } else if (!strcmp(key, "attr")) {
            st->attr = 0;
            if (tp->ev.type == YAML_SCALAR_EVENT) {
                if (parse_attr_word(tp, &st->attr)) return QS_ERR;
            } else if (tp->ev.type == YAML_SEQUENCE_START_EVENT) {
                for (;;) {
                    if (next(tp)) return QS_ERR;
                    if (tp->ev.type == YAML_SEQUENCE_END_EVENT) break;
                    if (tp->ev.type != YAML_SCALAR_EVENT)
                        return perr(tp, &tp->ev.start_mark, "attr: expected a word%s", "");
                    if (parse_attr_word(tp, &st->attr)) return QS_ERR;
                }
            } else {
                return perr(tp, &tp->ev.start_mark, "attr: expected a word or a list%s", "");
            }
        } else {
            return perr(tp, &km, "unknown key '%s' (expected fg, bg, attr)", key);
        }
    }
}

static int parse_doc(tparser *tp, tui_theme *t) {
    if (next(tp)) return QS_ERR; /* stream start */
    if (next(tp)) return QS_ERR;
    if (tp->ev.type == YAML_STREAM_END_EVENT)
        return perr(tp, &tp->ev.start_mark, "empty theme file%s", "");
    if (next(tp)) return QS_ERR; /* after document start */
    if (tp->ev.type != YAML_MAPPING_START_EVENT)
        return perr(tp, &tp->ev.start_mark, "expected a mapping with 'name' and 'colors'%s", "");
    for (;;) {
        if (next(tp)) return QS_ERR;
        if (tp->ev.type == YAML_MAPPING_END_EVENT) break;
        if (tp->ev.type != YAML_SCALAR_EVENT)
            return perr(tp, &tp->ev.start_mark, "expected a key%s", "");
        char key[32];
        snprintf(key, sizeof key, "%s", scalar(tp));
        yaml_mark_t km = tp->ev.start_mark;
        if (next(tp)) return QS_ERR;
        if (!strcmp(key, "name")) {
            if (tp->ev.type != YAML_SCALAR_EVENT)
                return perr(tp, &tp->ev.start_mark, "name: expected text%s", "");
            snprintf(t->name, sizeof t->name, "%s", scalar(tp));
        } else if (!strcmp(key, "description")) {
            if (skip(tp)) return QS_ERR;
        } else if (!strcmp(key, "colors") || !strcmp(key, "colours")) {
            if (tp->ev.type != YAML_MAPPING_START_EVENT)
                return perr(tp, &tp->ev.start_mark, "colors: expected a mapping of elements%s", "");
            for (;;) {
                if (next(tp)) return QS_ERR;
                if (tp->ev.type == YAML_MAPPING_END_EVENT) break;
                if (tp->ev.type != YAML_SCALAR_EVENT)
                    return perr(tp, &tp->ev.start_mark, "expected an element name%s", "");
                int e = -1;
                for (int i = 0; i < TUI_C_COUNT; i++)
                    if (!strcmp(scalar(tp), elem_keys[i])) e = i;
                if (e < 0)
                    return perr(tp, &tp->ev.start_mark, "unknown element '%s' (see quantscope-theme(5))",
                                scalar(tp));
                if (next(tp)) return QS_ERR;
                if (parse_style(tp, &t->s[e])) return QS_ERR;
            }
        } else {
            return perr(tp, &km, "unknown key '%s' (expected name, description, colors)", key);
        }
    }
    return QS_OK;
}

int tui_theme_parse(const char *text, size_t len, const char *name, tui_theme *t, qs_error *err) {
    tui_theme_default(t);
    tparser tp = {.name = name ? name : "theme", .err = err};
    if (!yaml_parser_initialize(&tp.p)) return qs_error_set(err, "%s: out of memory", tp.name);
    yaml_parser_set_input_string(&tp.p, (const unsigned char *)text, len);
    int rc = parse_doc(&tp, t);
    if (tp.have) yaml_event_delete(&tp.ev);
    yaml_parser_delete(&tp.p);
    if (rc) tui_theme_default(t);
    return rc;
}

int tui_theme_load_file(const char *path, tui_theme *t, qs_error *err) {
    tui_theme_default(t);
    FILE *f = fopen(path, "rb");
    if (!f) return qs_error_set(err, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (1u << 20)) { free(buf); fclose(f); return qs_error_set(err, "%s: theme file larger than 1 MiB", path); }
            char *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(f); return qs_error_set(err, "%s: out of memory", path); }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return qs_error_set(err, "%s: read error", path); }
    int rc = tui_theme_parse(buf ? buf : "", len, path, t, err);
    free(buf);
    return rc;
}

static bool readable(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f) return false;
    fclose(f);
    return true;
}

int tui_theme_find(const char *name, const char *const *dirs, tui_theme *t, qs_error *err) {
    tui_theme_default(t);
    if (!name || !*name) name = "default-dark";
    size_t nl = strlen(name);
    if (strchr(name, '/') || (nl > 5 && !strcmp(name + nl - 5, ".yaml")))
        return tui_theme_load_file(name, t, err);
    char path[1024];
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg) snprintf(path, sizeof path, "%s/quantscope/themes/%s.yaml", xdg, name);
    else if (home && *home) snprintf(path, sizeof path, "%s/.config/quantscope/themes/%s.yaml", home, name);
    else path[0] = 0;
    if (path[0] && readable(path)) return tui_theme_load_file(path, t, err);
    for (int i = 0; dirs && dirs[i]; i++) {
        snprintf(path, sizeof path, "%s/%s.yaml", dirs[i], name);
        if (readable(path)) return tui_theme_load_file(path, t, err);
    }
    if (!strcmp(name, "default-dark")) return QS_OK; /* built in */
    if (!strcmp(name, "monochrome")) { tui_theme_mono(t); return QS_OK; }
    return qs_error_set(err, "theme '%s' not found (looked in $XDG_CONFIG_HOME/quantscope/themes "
                        "and the installed themes)", name);
}
