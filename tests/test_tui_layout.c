/* The explorer's widget arithmetic (tui_layout.h), key table and event queue: no terminal. */
#include "qs_test_util.h"

#include <curses.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "tui_events.h"
#include "tui_keys.h"
#include "tui_layout.h"

static void check_visible(const tui_list_pos *p, int h) {
    if (p->n == 0) {
        assert_int_equal(p->selected, 0);
        assert_int_equal(p->top, 0);
        return;
    }
    assert_true(p->selected >= 0 && p->selected < p->n);
    assert_true(p->top <= p->selected && p->selected < p->top + h);
    assert_true(p->top >= 0);
    if (p->n >= h) assert_true(p->top + h <= p->n); /* no empty rows below the last item */
}

static void test_list_moves(void **state) {
    (void)state;
    tui_list_pos p = {.n = 100};
    int h = 10;
    tui_list_clamp(&p, h);
    check_visible(&p, h);
    tui_list_move(&p, 1, h);
    assert_int_equal(p.selected, 1);
    assert_int_equal(p.top, 0);
    tui_list_move(&p, 9, h);
    assert_int_equal(p.selected, 10);
    assert_int_equal(p.top, 1); /* scrolled by one to show it */
    tui_list_page(&p, 1, h);
    assert_int_equal(p.selected, 19);
    assert_int_equal(p.top, 10);
    check_visible(&p, h);
    tui_list_end(&p, h);
    assert_int_equal(p.selected, 99);
    assert_int_equal(p.top, 90);
    tui_list_page(&p, 1, h);
    assert_int_equal(p.selected, 99);
    check_visible(&p, h);
    tui_list_page(&p, -1, h);
    assert_int_equal(p.selected, 90);
    check_visible(&p, h);
    tui_list_home(&p, h);
    assert_int_equal(p.selected, 0);
    assert_int_equal(p.top, 0);
    tui_list_move(&p, -5, h);
    assert_int_equal(p.selected, 0);
    tui_list_move(&p, 1000, h);
    assert_int_equal(p.selected, 99);
    check_visible(&p, h);
}

static void test_list_edges(void **state) {
    (void)state;
    /* empty list */
    tui_list_pos p = {.n = 0, .selected = 5, .top = 3};
    tui_list_clamp(&p, 10);
    check_visible(&p, 10);
    tui_list_move(&p, 1, 10);
    tui_list_page(&p, 1, 10);
    tui_list_end(&p, 10);
    tui_list_scroll(&p, 3, 10);
    check_visible(&p, 10);
    assert_int_equal(tui_list_item_at(&p, 0, 10), -1);
    /* fewer items than rows */
    p = (tui_list_pos){.n = 3, .selected = 2, .top = 2};
    tui_list_clamp(&p, 10);
    assert_int_equal(p.top, 0);
    assert_int_equal(tui_list_item_at(&p, 2, 10), 2);
    assert_int_equal(tui_list_item_at(&p, 3, 10), -1);
    assert_int_equal(tui_list_item_at(&p, -1, 10), -1);
    /* height 0 or 1 never divides by zero or loops */
    p = (tui_list_pos){.n = 50, .selected = 20};
    tui_list_page(&p, 1, 0);
    check_visible(&p, 1);
    tui_list_page(&p, -3, 1);
    check_visible(&p, 1);
    /* shrinking the list (a block collapsed) keeps the selection valid */
    p = (tui_list_pos){.n = 50, .selected = 45, .top = 40};
    p.n = 7;
    tui_list_clamp(&p, 10);
    assert_int_equal(p.selected, 6);
    assert_int_equal(p.top, 0);
    /* the terminal grew: top comes back so no empty rows show */
    p = (tui_list_pos){.n = 20, .selected = 19, .top = 15};
    tui_list_clamp(&p, 10);
    assert_int_equal(p.top, 10);
    /* random walk: the invariants always hold */
    uint64_t rng = 7;
    p = (tui_list_pos){.n = 37};
    for (int i = 0; i < 5000; i++) {
        int h = 1 + (int)(qs_test_rng(&rng) % 20);
        int op = (int)(qs_test_rng(&rng) % 7);
        int d = (int)(qs_test_rng(&rng) % 11) - 5;
        if (op == 0) tui_list_move(&p, d, h);
        else if (op == 1) tui_list_page(&p, d, h);
        else if (op == 2) tui_list_home(&p, h);
        else if (op == 3) tui_list_end(&p, h);
        else if (op == 4) tui_list_scroll(&p, d, h);
        else if (op == 5) { p.n = (int)(qs_test_rng(&rng) % 60); tui_list_clamp(&p, h); }
        else tui_list_clamp(&p, h);
        check_visible(&p, h);
    }
}

static void test_list_scroll(void **state) {
    (void)state;
    tui_list_pos p = {.n = 100};
    tui_list_scroll(&p, 3, 10);
    assert_int_equal(p.top, 3);
    assert_int_equal(p.selected, 3); /* dragged into view */
    tui_list_scroll(&p, 1000, 10);
    assert_int_equal(p.top, 90);
    assert_int_equal(p.selected, 90);
    p.selected = 95;
    tui_list_scroll(&p, -1000, 10);
    assert_int_equal(p.top, 0);
    assert_int_equal(p.selected, 9);
    assert_int_equal(tui_list_item_at(&p, 4, 10), 4);
}

static int sum(const int *c, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += c[i];
    return s;
}

static void test_bar_split(void **state) {
    (void)state;
    int c[8];
    /* exact halves */
    uint64_t a[2] = {50, 50};
    assert_int_equal(tui_bar_split(a, 2, 0, 10, c), 10);
    assert_int_equal(c[0], 5);
    assert_int_equal(c[1], 5);
    /* against a capacity: 25% used of 40 cells */
    uint64_t b[3] = {10, 10, 5};
    assert_int_equal(tui_bar_split(b, 3, 100, 40, c), 10);
    assert_int_equal(c[0], 4);
    assert_int_equal(c[1], 4);
    assert_int_equal(c[2], 2);
    /* largest remainder: 1/3 each of 10 cells */
    uint64_t t[3] = {1, 1, 1};
    assert_int_equal(tui_bar_split(t, 3, 0, 10, c), 10);
    assert_int_equal(sum(c, 3), 10);
    for (int i = 0; i < 3; i++) assert_true(c[i] == 3 || c[i] == 4);
    /* a tiny part next to a huge one still shows */
    uint64_t s[3] = {1000000, 1, 0};
    assert_int_equal(tui_bar_split(s, 3, 0, 20, c), 20);
    assert_int_equal(c[1], 1);
    assert_int_equal(c[0], 19);
    assert_int_equal(c[2], 0);
    /* over capacity: the whole width, never more */
    uint64_t o[2] = {300, 100};
    assert_int_equal(tui_bar_split(o, 2, 200, 8, c), 8);
    assert_int_equal(c[0], 6);
    assert_int_equal(c[1], 2);
    /* nothing, or no room */
    uint64_t z[2] = {0, 0};
    assert_int_equal(tui_bar_split(z, 2, 100, 10, c), 0);
    assert_int_equal(c[0] + c[1], 0);
    assert_int_equal(tui_bar_split(a, 2, 0, 0, c), 0);
    /* something tiny against a huge capacity: one cell */
    uint64_t m[1] = {1};
    assert_int_equal(tui_bar_split(m, 1, 1ull << 40, 50, c), 1);
    /* huge byte counts do not overflow */
    uint64_t h[2] = {UINT64_MAX / 2, UINT64_MAX / 2};
    assert_int_equal(tui_bar_split(h, 2, 0, 7, c), 7);
    assert_int_equal(sum(c, 2), 7);
}

static void test_hints(void **state) {
    (void)state;
    tui_hint h[3] = {{"q", "Quit"}, {"Tab", "View"}, {"?", "Help"}};
    int x[3];
    /* "q Quit" = 6, gap, "Tab View" = 8, gap, "? Help" = 6 */
    assert_int_equal(tui_hints_fit(h, 3, 80, x), 3);
    assert_int_equal(x[0], 0);
    assert_int_equal(x[1], 7);
    assert_int_equal(x[2], 16);
    assert_int_equal(tui_hints_fit(h, 3, 22, x), 3);
    assert_int_equal(tui_hints_fit(h, 3, 21, x), 2);
    assert_int_equal(tui_hints_fit(h, 3, 5, x), 0);
}

static void test_size_and_tabs(void **state) {
    (void)state;
    assert_true(tui_size_ok(40, 10));
    assert_false(tui_size_ok(39, 10));
    assert_false(tui_size_ok(40, 9));
    assert_false(tui_size_ok(20, 6));
    int w[3] = {5, 8, 4};
    assert_int_equal(tui_tab_at(w, 3, 1, 0), 0);
    assert_int_equal(tui_tab_at(w, 3, 1, 4), 0);
    assert_int_equal(tui_tab_at(w, 3, 1, 5), -1); /* the gap */
    assert_int_equal(tui_tab_at(w, 3, 1, 6), 1);
    assert_int_equal(tui_tab_at(w, 3, 1, 15), 2);
    assert_int_equal(tui_tab_at(w, 3, 1, 19), -1);
}

static void test_formats(void **state) {
    (void)state;
    char b[64];
    assert_string_equal(tui_fmt_int(292800, b, sizeof b), "292,800");
    assert_string_equal(tui_fmt_int(-1234567, b, sizeof b), "-1,234,567");
    assert_string_equal(tui_fmt_int(0, b, sizeof b), "0");
    assert_string_equal(tui_fmt_int(INT64_MIN, b, sizeof b), "-9,223,372,036,854,775,808");
    assert_string_equal(tui_fmt_count(292800, b, sizeof b), "292.8 K");
    assert_string_equal(tui_fmt_count(1100000000, b, sizeof b), "1.10 B");
    assert_string_equal(tui_fmt_bytes(512, b, sizeof b), "512 B");
    assert_string_equal(tui_fmt_bytes(1171200, b, sizeof b), "1.12 MiB");
    assert_string_equal(tui_fmt_delta(-90624, b, sizeof b), "-90,624 B");
    assert_string_equal(tui_fmt_delta(0, b, sizeof b), "+0 B");
    assert_string_equal(tui_fmt_delta(3 * 1024 * 1024 / 2, b, sizeof b), "+1.50 MiB");
    char tiny[4];
    tui_fmt_int(1234567, tiny, sizeof tiny);
    assert_string_equal(tiny, "1,2");
}

static void test_key_table(void **state) {
    (void)state;
    const tui_keydef *t;
    int n = tui_keys(&t);
    assert_true(n > 20);
    /* every row has help; hints come with labels */
    for (int i = 0; i < n; i++) {
        assert_non_null(t[i].help);
        assert_true((t[i].hint == NULL) == (t[i].label == NULL));
        /* no key is bound twice in the same view */
        for (int j = 0; j < i; j++) assert_false(t[i].key == t[j].key && t[i].view == t[j].view);
    }
    assert_int_equal(tui_key_action('q', TUI_VIEW_MODEL), TUI_ACT_QUIT);
    assert_int_equal(tui_key_action('q', TUI_VIEW_LAYERS), TUI_ACT_QUIT);
    assert_int_equal(tui_key_action('+', TUI_VIEW_LAYERS), TUI_ACT_RAISE);
    assert_int_equal(tui_key_action('+', TUI_VIEW_MODEL), TUI_ACT_NONE);
    assert_int_equal(tui_key_action('\t', TUI_VIEW_MEMORY), TUI_ACT_NEXT_VIEW);
    assert_int_equal(tui_key_action('3', TUI_VIEW_CHAT), TUI_ACT_VIEW_3);
    assert_int_equal(tui_key_action(KEY_NPAGE, TUI_VIEW_LAYERS), TUI_ACT_PGDN);
    assert_int_equal(tui_key_action('j', TUI_VIEW_MEMORY), TUI_ACT_DOWN);
    assert_int_equal(tui_key_action('k', TUI_VIEW_MEMORY), TUI_ACT_UP);
    /* the bottom bar is generated from the table: view keys first, then globals */
    tui_hint h[32];
    int k = tui_key_hints(TUI_VIEW_LAYERS, h, 32);
    assert_true(k >= 5);
    assert_string_equal(h[0].key, "Enter");
    assert_string_equal(h[k - 1].key, "q");
    bool has_presets = false;
    for (int i = 0; i < k; i++) has_presets |= !strcmp(h[i].label, "Presets");
    assert_true(has_presets);
    k = tui_key_hints(TUI_VIEW_MODEL, h, 32);
    assert_int_equal(k, 6); /* Tab, s, o, e, ?, q */
    assert_string_equal(h[1].label, "Save");
    assert_string_equal(h[3].label, "Export");
    /* an overlay shows its own keys only */
    k = tui_key_hints(TUI_VIEW_RULE_EDIT, h, 32);
    assert_true(k >= 2);
    for (int i = 0; i < k; i++) assert_string_not_equal(h[i].label, "Quit");
    assert_int_equal(tui_key_action_in('q', TUI_VIEW_RULE_EDIT), TUI_ACT_NONE);
    assert_int_equal(tui_key_action('q', TUI_VIEW_RULES), TUI_ACT_CANCEL);
    assert_int_equal(tui_key_action('/', TUI_VIEW_LAYERS), TUI_ACT_SEARCH);
    char b[16];
    assert_string_equal(tui_key_name(KEY_NPAGE, b, sizeof b), "PgDn");
    assert_string_equal(tui_key_name('x', b, sizeof b), "x");
    assert_string_equal(tui_key_name(KEY_F(10), b, sizeof b), "F10");
    for (int v = 0; v < TUI_VIEW_COUNT; v++) assert_string_not_equal(tui_view_name((tui_view)v), "?");
    for (int v = TUI_VIEW_PICKER; v < TUI_VIEW_OVERLAY_END; v++)
        assert_string_not_equal(tui_view_name((tui_view)v), "?");
}

typedef struct posted {
    int order[256];
    int n;
} posted;

static void on_event(void *ui, void *data) {
    posted *p = ui;
    if (p->n < 256) p->order[p->n++] = (int)(intptr_t)data;
}

typedef struct worker_arg {
    tui_events *q;
    int base;
} worker_arg;

static void *worker(void *arg) {
    worker_arg *w = arg;
    for (int i = 0; i < 50; i++) tui_events_post(w->q, on_event, (void *)(intptr_t)(w->base + i));
    return NULL;
}

static void test_events(void **state) {
    (void)state;
    tui_events q;
    qs_error err;
    assert_int_equal(tui_events_init(&q, &err), QS_OK);
    posted p = {.n = 0};
    assert_int_equal(tui_events_drain(&q, &p), 0);
    pthread_t th[3];
    worker_arg wa[3];
    for (int i = 0; i < 3; i++) {
        wa[i] = (worker_arg){&q, i * 1000};
        pthread_create(&th[i], NULL, worker, &wa[i]);
    }
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    /* the pipe is readable: poll() in the loop would wake */
    char c;
    assert_true(read(tui_events_fd(&q), &c, 1) == 1);
    assert_int_equal(tui_events_drain(&q, &p), 150);
    assert_int_equal(p.n, 150);
    /* each worker's messages arrive in its posting order */
    for (int w = 0; w < 3; w++) {
        int last = -1;
        for (int i = 0; i < p.n; i++)
            if (p.order[i] / 1000 == w) {
                assert_true(p.order[i] > last);
                last = p.order[i];
            }
        assert_int_equal(last, w * 1000 + 49);
    }
    /* a wake without a message runs nothing; pending messages are freed on destroy */
    tui_events_wake(&q);
    assert_int_equal(tui_events_drain(&q, &p), 0);
    tui_events_post(&q, on_event, NULL);
    tui_events_destroy(&q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_moves), cmocka_unit_test(test_list_edges),
        cmocka_unit_test(test_list_scroll), cmocka_unit_test(test_bar_split),
        cmocka_unit_test(test_hints),      cmocka_unit_test(test_size_and_tabs),
        cmocka_unit_test(test_formats),    cmocka_unit_test(test_key_table),
        cmocka_unit_test(test_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
