#!/usr/bin/env bash
# End-to-end: Esc cancels the explorer's long jobs while they RUN, driven in tmux.
#   - a model big enough that its jobs last seconds (synth qwen2.5-0.5b, ~940 MiB F16, written to
#     the test's temporary folder): stories260K's jobs end before a key can reach them
#   - export: the gauge is on screen, Esc, the cancelled message, no output and no temporary file
#     left in the destination folder
#   - error metrics (Errors view): the job's gauge is on screen, Esc, "refining stopped", the
#     gauge gone; R resumes the refinement (a job runs again)
#   - an export while the refinement runs: Esc cancels the export first, the next Esc stops the
#     refinement; Esc in the Chat view cancels an export too
#   - the program still works: it draws the Model view and quits with status 0
# Usage: e2e_tui_cancel.sh QUANTSCOPE SHARED_DIR   ($QS_TUI_BIN overrides the explorer binary)
set -u
E2E_WAIT=20 # opening and starting the jobs of a 940 MiB model under ASan
. "$(dirname "$0")/lib_e2e_tui.sh"
e2e_init e2e_tui_cancel "$@"
e2e_require
e2e_env

BIG=$T/qwen05.gguf
if ! "$QS" synth --shape qwen2.5-0.5b -o "$BIG" >"$T/synth.out" 2>&1; then
    bad "synth qwen2.5-0.5b: $(head -c 300 "$T/synth.out")"
    e2e_finish
    exit 1
fi
mkdir -p "$T/exp"
# every matrix to Q4_K: the slowest common conversion, so the export is still writing when Esc
# arrives (its gauge is seen first; nothing here depends on how long it takes otherwise)
printf 'version: 1\ndefault: Q4_K\n' >"$T/q4k.yaml"

start big 120 40 -- "$BIG" --plan "$T/q4k.yaml"
expect_screen big 'architecture +qwen2' "the big model opens"

# ---- export: running, Esc, cancelled, nothing left --------------------------------------------
keys big e
expect_screen big 'export GGUF to:' "e asks for the path"
keys big C-u
typed big "$T/exp/out.gguf"
keys big Enter
expect_screen big '^exporting out\.gguf .*[0-9.]+%  Esc cancels' "the export's gauge while it runs"
# the temporary file exists while it writes (made once the job has started: wait for it)
writing() {
    local i
    for ((i = 0; i < E2E_WAIT * 20; i++)); do ls "$T/exp" | grep -q '^out\.gguf\.tmp\.' && break; sleep 0.05; done
    if ls "$T/exp" | grep -q '^out\.gguf\.tmp\.'; then ok; else bad "no temporary file while exporting ($1): $(ls "$T/exp")"; fi
}
writing "Model view"
keys big Escape
expect_screen big 'export cancelled: nothing written to .*out\.gguf' "Esc cancels the running export"
if wait_gone big '^exporting out\.gguf'; then ok; else bad "the export gauge stays after the cancel"; cat "$T/screen" >&2; fi
left=$(ls -A "$T/exp")
if [ -z "$left" ]; then ok; else bad "files left in the destination folder after the cancel: $left"; fi
if [ "$(grep -c 'export' "$T/screen")" -eq 1 ]; then ok; else bad "one export message, not more:"; cat "$T/screen" >&2; fi

# ---- error metrics: running, Esc, stopped ------------------------------------------------------
keys big 4
expect_screen big ' (errors|tensor): (sampled|exact|range) .*(\.\.\.|[0-9]+%)' "the Errors view's job gauge while it runs"
keys big Escape
expect_screen big 'refining stopped \(R resumes\)' "Esc stops the running error jobs"
if wait_gone big ' (errors|tensor): (sampled|exact|range) '; then ok; else bad "an error job's gauge stays after Esc"; cat "$T/screen" >&2; fi
keys big R
expect_screen big 'refining errors in the background' "R resumes"
expect_screen big ' (errors|tensor): (sampled|exact|range) ' "a job runs again after R"

# ---- both at once: Esc cancels the export first, the refinement goes on, Esc again stops it ----
# export_running WHAT: e, the path, Enter; until the export's gauge shows
export_running() {
    keys big e
    wait_for big 'export GGUF to:' || bad "e asks for the path ($1)"
    keys big C-u
    typed big "$T/exp/out.gguf"
    keys big Enter
    expect_screen big '^exporting out\.gguf .*[0-9.]+%  Esc cancels' "the export's gauge while it runs ($1)"
    writing "$1"
}
export_running "Errors view, refining"
keys big Escape
expect_screen big 'export cancelled: nothing written to .*out\.gguf' "Esc in the Errors view cancels the export first"
expect_screen big ' (errors|tensor): (sampled|exact|range) ' "the refinement still runs after the export's cancel"
keys big Escape
expect_screen big 'refining stopped \(R resumes\)' "the next Esc stops it"
if wait_gone big ' (errors|tensor): (sampled|exact|range) '; then ok; else bad "the gauge stays after the second Esc"; cat "$T/screen" >&2; fi
[ -z "$(ls -A "$T/exp")" ] && ok || bad "files left after the second cancel: $(ls -A "$T/exp")"

# ---- Esc in the Chat view (no reply under way) cancels the export too ---------------------------
export_running "then the Chat view"
keys big 6
expect_screen big 'Enter Send' "the Chat view while exporting"
keys big Escape
expect_screen big 'export cancelled: nothing written to .*out\.gguf' "Esc in the Chat view cancels the export"
[ -z "$(ls -A "$T/exp")" ] && ok || bad "files left after the third cancel: $(ls -A "$T/exp")"

# ---- the program still works ---------------------------------------------------------------------
keys big Tab # (in the Chat view digits are text)
expect_screen big 'architecture +qwen2' "the Model view after the cancels"
keys big q
if exited big && [ "$(cat "$T/big.rc")" = 0 ]; then ok; else bad "q quits with status 0 (rc '$(cat "$T/big.rc" 2>/dev/null)')"; fi
[ -s "$T/big.err" ] && bad "stderr not empty: $(head -c 300 "$T/big.err")"
[ -z "$(ls -A "$T/exp")" ] && ok || bad "files in the destination folder after quitting: $(ls -A "$T/exp")"

e2e_finish
