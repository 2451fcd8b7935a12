# lib_e2e_tui.sh — the tmux harness of the explorer's end-to-end tests (tests/e2e_tui*.sh), sourced
# by them. Not a test itself: tests/CMakeLists.txt registers tests/e2e_*.sh only.
#
#   e2e_init NAME QUANTSCOPE SHARED_DIR   sets QS, SHARED, TUI ($QS_TUI_BIN or QUANTSCOPE), M
#                                         (stories260K), T (a temporary folder, removed at exit),
#                                         the pass / fail counters and a tmux server of its own
#   e2e_require FILE...                   skips the script (exit 0) when a FILE, tmux or python3
#                                         is missing, fails it under CI
#   e2e_env                               UTF-8 locale, xterm-256color, colours on, config and
#                                         cache folders under $T
#   e2e_finish                            prints the counts; its status is the script's
#
#   ok / bad WHAT                         count a check (bad prints WHAT to stderr)
#   start NAME COLS ROWS [ENV... --] ARGS runs "$TUI ARGS" (in $E2E_CWD when set) in a detached
#                                         session of that size, with TERM=$E2E_TERM (default
#                                         xterm-256color; empty: tmux's own); its exit code lands
#                                         in $T/NAME.rc, its stderr in $T/NAME.err
#   screen NAME                           the pane's text
#   wait_for NAME REGEX [SECONDS]         until the screen matches (ERE); leaves it in $T/screen
#   wait_gone NAME REGEX [SECONDS]        until the screen no longer matches; same
#   wait_count NAME REGEX N WHAT [SECONDS] until N screen lines match (counts a check)
#   expect_screen NAME REGEX WHAT [SECONDS] wait_for, counted as a check
#   keys NAME KEY...                      tmux send-keys (key names: Enter, Escape, C-u ...)
#   typed NAME TEXT / text NAME TEXT      sends TEXT literally
#   exited NAME                           waits (5 s) for the program's exit code
#   quit_ok NAME WHAT                     counts "exited with 0" and "stderr empty"
# SECONDS defaults to $E2E_WAIT (5). Scripts set `set -u` before sourcing.

e2e_init() {
    E2E_NAME=$1
    QS=$2
    SHARED=$3
    TUI=${QS_TUI_BIN:-$QS}
    M=$SHARED/models/stories260K.gguf
    T=$(mktemp -d)
    SOCK=qs_${E2E_NAME}_$$
    fails=0
    pass=0
    : "${E2E_WAIT:=5}"
    : "${E2E_CWD:=}"
    : "${E2E_TERM=xterm-256color}"
    trap 'tm kill-server >/dev/null 2>&1; rm -rf "$T"' EXIT
}

tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

e2e_require() {
    local f missing=
    for f in "$@"; do [ -r "$f" ] || missing="$missing $f"; done
    command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
    command -v python3 >/dev/null 2>&1 || missing="$missing python3"
    [ -z "$missing" ] && return 0
    if [ -n "${CI:-}" ]; then echo "FAIL:$missing missing under CI" >&2; exit 1; fi
    echo "skipping:$missing not found (not under CI)"
    exit 0
}

e2e_env() {
    export XDG_CONFIG_HOME=$T/config XDG_CACHE_HOME=$T/cache
    export LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color
    unset NO_COLOR
}

e2e_finish() {
    echo "$E2E_NAME: $pass passed, $fails failed"
    [ "$fails" -eq 0 ]
}

start() {
    local name=$1 cols=$2 rows=$3 a have_env=0
    shift 3
    for a in "$@"; do [ "$a" = "--" ] && have_env=1; done
    local envs=()
    if [ "$have_env" = 1 ]; then
        while [ "$1" != "--" ]; do envs+=("$1"); shift; done
        shift
    fi
    {
        [ -n "$E2E_CWD" ] && printf 'cd %q && ' "$E2E_CWD"
        printf '%q ' env ${E2E_TERM:+"TERM=$E2E_TERM"} "${envs[@]}" "$TUI" "$@"
        echo "2>$T/$name.err; echo \$? >$T/$name.rc; sleep 60"
    } >"$T/$name.cmd"
    tm new-session -d -s "$name" -x "$cols" -y "$rows" "sh $T/$name.cmd"
}

screen() { tm capture-pane -p -t "$1"; }

wait_for() {
    local i n=$(( ${3:-$E2E_WAIT} * 20 ))
    for ((i = 0; i < n; i++)); do
        screen "$1" >"$T/screen" 2>/dev/null
        if grep -Eq -- "$2" "$T/screen"; then return 0; fi
        sleep 0.05
    done
    return 1
}

wait_gone() {
    local i n=$(( ${3:-$E2E_WAIT} * 20 ))
    for ((i = 0; i < n; i++)); do
        screen "$1" >"$T/screen" 2>/dev/null
        if ! grep -Eq -- "$2" "$T/screen"; then return 0; fi
        sleep 0.05
    done
    return 1
}

wait_count() {
    local i n=$(( ${5:-$E2E_WAIT} * 20 ))
    for ((i = 0; i < n; i++)); do
        screen "$1" >"$T/screen" 2>/dev/null
        if [ "$(grep -Ec -- "$2" "$T/screen")" -ge "$3" ]; then ok; return 0; fi
        sleep 0.05
    done
    bad "$4: fewer than $3 lines /$2/:"
    cat "$T/screen" >&2
    return 1
}

expect_screen() {
    if wait_for "$1" "$2" "${4:-$E2E_WAIT}"; then ok; else bad "$3: /$2/ not on screen:"; cat "$T/screen" >&2; fi
}

keys() { local s=$1; shift; tm send-keys -t "$s" "$@"; }
typed() { tm send-keys -t "$1" -l "$2"; }
text() { typed "$@"; }

exited() {
    local i
    for ((i = 0; i < 100; i++)); do [ -s "$T/$1.rc" ] && return 0; sleep 0.05; done
    return 1
}

quit_ok() {
    if exited "$1" && [ "$(cat "$T/$1.rc")" = 0 ]; then ok; else bad "$2 (rc '$(cat "$T/$1.rc" 2>/dev/null)')"; fi
    [ -s "$T/$1.err" ] && bad "stderr not empty: $(head -c 300 "$T/$1.err")"
    return 0
}
