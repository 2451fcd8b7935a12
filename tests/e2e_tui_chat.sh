#!/usr/bin/env bash
# End-to-end: the explorer's Chat view, driven in tmux (send-keys, capture-pane).
# Usage: e2e_tui_chat.sh QUANTSCOPE SHARED_DIR
#   - stories260K, greedy: the reply is llama.cpp's reference continuation (models/README.md)
#   - a block's type changed in Layers: the next reply is preceded by the re-quantization note
#   - A/B mode: two columns, the original model's still the reference, each with its tokens/s
#   - a context that fills: the offer to drop old turns, F4, never a crash
#   - a random-weight synth model that never stops on its own: Esc stops it, resizing to 20x6
#     and back while it generates does not crash
set -u
. "$(dirname "$0")/lib_e2e_tui.sh"
e2e_init e2e_tui_chat "$@"
README=$SHARED/models/README.md
e2e_require "$M" "$README"
e2e_env

# the transcript as one line: screen rows (cut to columns FROM..TO) joined by spaces, as the
# view's wrap breaks lines at a space (dropped) or at a newline of the text
joined() {
    python3 - "$T/screen" "${1:-1}" "${2:-100000}" <<'PY'
import sys
rows = open(sys.argv[1], encoding="utf-8").read().split("\n")
a, b = int(sys.argv[2]), int(sys.argv[3])
print(" ".join(r[a - 1:b].rstrip() for r in rows[2:-5]))  # the view, without its status and input
PY
}
# llama.cpp's reference continuation of PROMPT from the README (⏎ = newline, joined as a space)
reference() {
    python3 - "$README" "$1" <<'PY'
import re, sys
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r"\|\s*`([^`]*)`\s*\|\s*`([^`]*)`\s*\|", line)
    if m and m.group(1) == sys.argv[2]:
        print(m.group(1) + m.group(2).replace("\u23ce", " "))
PY
}
# wait_joined NAME REGEX WHAT [SECONDS] [FROM TO]: until the joined transcript (columns FROM..TO)
# matches
wait_joined() {
    local i n=$(( ${4:-5} * 20 ))
    for ((i = 0; i < n; i++)); do
        screen "$1" >"$T/screen" 2>/dev/null
        if joined "${5:-1}" "${6:-100000}" | grep -Eq -- "$2"; then ok; return 0; fi
        sleep 0.05
    done
    bad "$3: /$2/ not in the transcript:"
    cat "$T/screen" >&2
    return 1
}
contains() { python3 -c 'import sys; sys.exit(0 if sys.argv[2] in sys.argv[1] else 1)' "$1" "$2"; }

REF1=$(reference "Once upon a time")
REF2=$(reference "Lily and Tom went to the")
if [ -z "$REF1" ] || [ -z "$REF2" ]; then bad "reference continuations not found in $README"; fi

# tensors of blk.0 that the engine multiplies with (2-D): what lowering blk.0 re-quantizes
"$QS" info "$M" --json >"$T/info.json" || bad "info --json"
BLK0=$(python3 - "$T/info.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(1 for t in d["tensors"] if t["block"] == 0 and len(t["shape"]) >= 2))
PY
)

# ---- stories260K: the reference, a plan change, A/B --------------------------------------------
start chat 120 40 -- "$M"
expect_screen chat '292\.8 K' "model view first"
keys chat c     # c opens the chat from views that give it no other use
expect_screen chat 'completion \(no chat template\) \| ctx 2048 \| KV F16 \| greedy' "chat header: template, context, KV, greedy"
expect_screen chat 'Enter Send +Esc Stop +F2 A/B' "chat keys in the bottom bar"
typed chat "Once upon a time"
expect_screen chat '^> Once upon a time' "the line editor shows the message"
keys chat Enter
expect_screen chat '^\[256 tokens, [0-9.]+ t/s; reply limit' "the reply ends at the limit with tokens/s" 30
if contains "$(joined)" "$REF1"; then ok; else bad "greedy reply is not llama.cpp's reference:"; echo "want: $REF1" >&2; joined >&2; fi
expect_screen chat 'plan applied: 0 tensors re-quantized' "the first reply applies the (unchanged) plan"

# lower blk.0 in Layers (F32 is the top of the ladder on this F32 model: - changes it)
keys chat Tab 2 j -
expect_screen chat 'blk\.0: F32 -> F16' "Layers: blk.0 lowered"
keys chat 6
expect_screen chat 're-quantizes before the next reply' "the chat says the plan changed"
typed chat "Lily and Tom went to the"
keys chat Enter
wait_count chat '^\[256 tokens, [0-9.]+ t/s; reply limit' 2 "the second reply ends" 30
note=$(grep -n "plan applied: $BLK0 tensors re-quantized" "$T/screen" | head -1 | cut -d: -f1)
reply=$(grep -n '^Lily and Tom went to the' "$T/screen" | head -1 | cut -d: -f1)
if [ -n "$note" ] && [ -n "$reply" ] && [ "$note" -lt "$reply" ]; then ok
else bad "re-quantization note ($BLK0 tensors) before the reply (note line '$note', reply line '$reply')"; cat "$T/screen" >&2; fi
expect_screen chat 'KV cache reset' "the chat says the KV cache was reset"

# A/B: the same prompt to the original and the planned model, two columns, tokens/s each
keys chat F2
expect_screen chat '\| A/B$' "F2 turns A/B mode on"
typed chat "Once upon a time"
keys chat Enter
expect_screen chat '^ A original \(as stored\) +[0-9.]+ t/s +.* B planned: \(new plan\) \[modified\] +[0-9.]+ t/s' "A/B column headers with tokens/s" 20
wait_joined chat '\[256 tokens, [0-9.]+ t/s; reply limit \(F5\)\] *$' "the A column finishes" 30 1 59
wait_joined chat '\[256 tokens, [0-9.]+ t/s; reply limit \(F5\)\] *$' "the B column finishes" 30 61 120
if contains "$(joined 1 59)" "$REF1"; then ok; else bad "A column (original model) is not the reference:"; joined 1 59 >&2; fi
keys chat F10
expect_screen chat 'Quit anyway\? \[y/N\]' "F10 quits from the chat (asks: the plan changed)"
keys chat y
if exited chat && [ "$(cat "$T/chat.rc")" = 0 ]; then ok; else bad "quit with status 0 (rc '$(cat "$T/chat.rc" 2>/dev/null)')"; fi
[ -s "$T/chat.err" ] && bad "stderr not empty: $(head -c 300 "$T/chat.err")"

# ---- a context that fills: the offer, F4, never a crash ----------------------------------------
printf 'version: 1\ndefault: F32\ncontext: 256\n' >"$T/ctx256.yaml"
start full 100 30 -- "$M" --plan "$T/ctx256.yaml"
keys full 6
expect_screen full '\| ctx 256 \|' "the plan's context is the chat's"
typed full "Lily and Tom went to the"
keys full Enter
expect_screen full 'F4 drops the oldest turns and continues' "a full context offers to drop old turns" 20
keys full F4    # the only turn cannot be dropped: the reply ends there
wait_joined full 'planned: context full \(256 positions\).* no older turn to drop.* the reply ends here' "a turn that alone fills the context ends, with the reason" 10
keys full Enter # no template: an empty Enter continues the text; now there is an old turn to drop
expect_screen full 'context full: F4 drops the oldest turns' "the continuation fills the context again" 20
keys full F4
expect_screen full 'planned: dropped the oldest 1 turn \([0-9]+ positions\) and continued' "F4 drops the oldest turn" 20
expect_screen full '^\[[0-9]+ tokens, [0-9.]+ t/s' "the continued reply ends" 20
keys full F10
exited full && [ "$(cat "$T/full.rc")" = 0 ] && ok || bad "quit after the full context (rc '$(cat "$T/full.rc" 2>/dev/null)')"
[ -s "$T/full.err" ] && bad "stderr not empty: $(head -c 300 "$T/full.err")"

# ---- a model that does not stop by itself: Esc, resize while generating ------------------------
# A 32768-token context (synth --ctx, and a plan asking for it), so that no reply can fill it
# between two keys however fast the engine gets: Esc must be what stops it.
"$QS" synth --shape tiny --ctx 32768 -o "$T/tiny.gguf" >/dev/null || bad "synth tiny"
printf 'version: 1\ndefault: F16\ncontext: 32768\n' >"$T/long.yaml"
start gen 120 40 -- "$T/tiny.gguf" --plan "$T/long.yaml"
keys gen 6
keys gen F5 F5
expect_screen gen 'reply limit: none' "F5 lifts the reply limit"
typed gen "hello"
keys gen Enter
expect_screen gen '^\[generating: [0-9]+ tokens, [0-9.]+ t/s\]' "tokens stream with tokens/s" 20
tm resize-window -t gen -x 20 -y 6
expect_screen gen 'enlarge the terminal' "20x6 while generating"
tm resize-window -t gen -x 120 -y 40
expect_screen gen 'Esc Stop' "back to 120x40"
keys gen Escape
expect_screen gen '^\[stopped; [0-9]+ tokens, [0-9.]+ t/s\]' "Esc stops the generation" 20
n=$(grep -Eo '^\[stopped; [0-9]+' "$T/screen" | grep -Eo '[0-9]+$')
if [ -n "$n" ] && [ "$n" -lt 32000 ]; then ok; else bad "stopped after '$n' tokens: not before the context filled"; fi
# and it answers afterwards: a second message
typed gen "again"
keys gen Enter
expect_screen gen '^\[generating' "a new message after a stop" 20
tm resize-window -t gen -x 40 -y 10
expect_screen gen 'Esc' "40x10 draws the chat"
keys gen Escape
expect_screen gen 'stopped' "stopped again" 20
keys gen F10
exited gen && [ "$(cat "$T/gen.rc")" = 0 ] && ok || bad "quit after generating (rc '$(cat "$T/gen.rc" 2>/dev/null)')"
[ -s "$T/gen.err" ] && bad "stderr not empty: $(head -c 300 "$T/gen.err")"

e2e_finish
