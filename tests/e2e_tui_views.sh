#!/usr/bin/env bash
# End-to-end: the explorer's Errors and Trade-off views, driven in tmux (send-keys, capture-pane).
# The figures on screen are checked against `quantscope errors` for the same tensor and type.
# Usage: e2e_tui_views.sh QUANTSCOPE SHARED_DIR   ($QS_TUI_BIN overrides the explorer binary)
set -u
E2E_WAIT=10 # the exact figures of a tensor can take a while under ASan
. "$(dirname "$0")/lib_e2e_tui.sh"
e2e_init e2e_tui_views "$@"
e2e_require "$M"
e2e_env

# metrics NAME TYPE-LABEL: "rmse rel max snr cosine" of the view's row for that type (exact only)
metrics() {
    python3 - "$T/screen" "$1" <<'PY'
import re, sys
pat = re.compile(re.escape(sys.argv[2]) + r" +(\S+) +(\S+) +(\S+) +(\S+) +(\S+) +exact")
for line in open(sys.argv[1], encoding="utf-8"):
    m = pat.search(line)
    if m: print(" ".join(m.groups())); break
PY
}
# cli TENSOR TYPE: the same five figures as `quantscope errors` prints them
cli() {
    "$QS" errors "$M" --type "$2" --tensor "^${1//./\\.}\$" | awk -v t="$1" '$1 == t { print $3, $4, $5, $6, $7 }'
}

printf 'version: 1\ndefault: Q8_0\n' >"$T/q8.yaml"

# ---- Errors: histogram, metrics equal to `quantscope errors`, compare types ----------------
start main 120 40 -- "$M" --plan "$T/q8.yaml"
expect_screen main '292\.8 K' "opens"
keys main 4
expect_screen main 'token_embd\.weight +64 x 512 +stored F32' "errors view starts on the Layers selection"
keys main j j
expect_screen main 'blk\.0\.attn_q\.weight +64 x 64 +stored F32 +\(3 of 37' "j moves to blk.0.attn_q.weight"
expect_screen main 'Q8_0 \(plan\) .* exact' "planned type's figures become exact"
got=$(metrics 'Q8_0 (plan)')
want=$(cli blk.0.attn_q.weight Q8_0)
if [ -n "$want" ] && [ "$got" = "$want" ]; then ok; else bad "Q8_0 figures '$got', quantscope errors says '$want'"; fi
expect_screen main 'planned Q8_0 +compare Q5_1' "default comparison: the next lower type that fits"
expect_screen main 'Q5_1 .* exact' "compare figures exact"
got=$(metrics 'Q5_1')
want=$(cli blk.0.attn_q.weight Q5_1)
if [ -n "$want" ] && [ "$got" = "$want" ]; then ok; else bad "Q5_1 figures '$got', quantscope errors says '$want'"; fi
# the histogram: both titles, block characters, a symmetric axis around 0
if grep -q 'Q8_0: error q - x' "$T/screen" && grep -q 'Q5_1: error q - x' "$T/screen"; then ok; else bad "histogram titles"; fi
if [ "$(grep -c '[▁▂▃▄▅▆▇█]' "$T/screen")" -ge 3 ]; then ok; else bad "histogram bars drawn with block characters"; cat "$T/screen" >&2; fi
if grep -Eq -- '-(0\.[0-9]+|[0-9.]+e-[0-9]+) +0 +(0\.[0-9]+|[0-9.]+e-[0-9]+)' "$T/screen"; then ok; else bad "histogram axis -r 0 +r"; fi

# [ : compare with Q5_0 (figures from `quantscope errors` again); ] back; x off and on
keys main '['
expect_screen main 'planned Q8_0 +compare Q5_0' "[ lowers the compare type"
expect_screen main 'Q5_0 .* exact' "Q5_0 figures exact"
got=$(metrics 'Q5_0')
want=$(cli blk.0.attn_q.weight Q5_0)
if [ -n "$want" ] && [ "$got" = "$want" ]; then ok; else bad "Q5_0 figures '$got', quantscope errors says '$want'"; fi
keys main ']'
expect_screen main 'planned Q8_0 +compare Q5_1' "] raises it back"
expect_screen main 'Q5_1 .* exact' "Q5_1 again (from the cache)"
got=$(metrics 'Q5_1')
want=$(cli blk.0.attn_q.weight Q5_1)
if [ "$got" = "$want" ]; then ok; else bad "Q5_1 again '$got' vs '$want'"; fi
keys main x
expect_screen main 'no comparison \(x: compare\)' "x turns the comparison off"
keys main x
expect_screen main 'compare Q5_1' "x turns it on again"

# per-block bars: the plan's figure equals sqrt(sum sse / sum ssx) from `quantscope errors --json`
# (Q8_0 everywhere; ffn_down's rows of 172 fall back to F16)
expect_screen main 'rel RMSE per block \(exact\): plan [0-9.e+-]+' "block bars with the plan's figure"
shown=$(grep -Eo 'rel RMSE per block \(exact\): plan [0-9.e+-]+' "$T/screen" | awk '{print $NF}')
"$QS" errors "$M" --type Q8_0 --json >"$T/q8.json" && "$QS" errors "$M" --type F16 --tensor ffn_down --json >"$T/f16.json"
expect=$(python3 - "$T/q8.json" "$T/f16.json" <<'PY'
import json, sys
sse = ssx = 0.0
for f in sys.argv[1:]:
    for t in json.load(open(f))["tensors"]:
        sse += t["rmse"] ** 2 * t["n_values"]
        ssx += t["rms_weights"] ** 2 * t["n_values"]
print(repr((sse / ssx) ** 0.5))
PY
)
if python3 -c "import sys; s, e = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if abs(s - e) <= 0.006 * e else 1)" "$shown" "$expect"
then ok; else bad "plan rel RMSE on screen $shown, from quantscope errors $expect"; fi
if grep -Eq '^ +E +0 +1 +2 +3 +4 +O' "$T/screen" || grep -Eq ' E +0 +1 +2 +3 +4 +O' "$T/screen"; then ok; else bad "block labels E 0..4 O"; fi

# ---- Trade-off: presets labelled, the plan marked, what more memory buys ---------------------
keys main Tab
expect_screen main 'MiB vs rel RMSE of the quantized weights' "trade-off view"
expect_screen main 'more would buy: rel RMSE' "what more memory buys" 20
# every table row, paging from the top (PgUp / PgDn: tmux sends what the terminal's keys send)
rows() {
    : >"$T/rows"
    keys main PPage PPage PPage PPage
    sleep 0.3
    local i
    for ((i = 0; i < 8; i++)); do screen main >>"$T/rows"; keys main NPage; sleep 0.3; done
    keys main PPage PPage PPage PPage
}
rows
for p in Q8_0 Q6_K Q5_K_M Q4_K_M Q4_0 Q3_K_M Q2_K IQ4_NL F16 BF16; do
    if grep -Eq "● $p +[0-9.]+ [KM]iB +[0-9.]+ +[0-9.e-]+ +exact" "$T/rows"; then ok; else bad "preset $p listed"; fi
done
if grep -Eq '◆ plan +356\.2 KiB' "$T/rows"; then ok; else bad "the current plan in the table (its size is the header's)"; fi
expect_screen main '◆plan|plan◆' "the current plan marked on the plot"
expect_screen main '^plan: 356\.2 KiB .*rel RMSE [0-9.e-]+ \(exact\)' "plan summary line"
tshown=$(grep -Eo '^plan: 356\.2 KiB .*rel RMSE [0-9.e+-]+' "$T/screen" | awk '{print $NF}')
if [ "$tshown" = "$shown" ]; then ok; else bad "trade-off plan figure $tshown differs from the errors view's $shown"; fi
keys main b
expect_screen main 'bits per weight vs rel RMSE' "b switches the axis to bits per weight"
keys main b

# the plan made the Q8_0 preset (Layers, p, Enter): its point is the preset's
keys main 2 p Down Enter
expect_screen main 'preset Q8_0' "Q8_0 preset applied"
keys main 5
expect_screen main '^plan: .*\(exact\)' "plan point exact again"
rows
planrow=$(grep -E '^◆ plan +[0-9]' "$T/rows" | head -1 | awk '{print $3, $4, $5, $6}')
presetrow=$(grep -E '^● Q8_0 +[0-9]' "$T/rows" | head -1 | awk '{print $3, $4, $5, $6}')
if [ -n "$planrow" ] && [ "$planrow" = "$presetrow" ]; then ok; else bad "plan point '$planrow' is not the Q8_0 preset's '$presetrow'"; fi
# Enter on the smallest point (the first row: the budget planner's) makes it the plan
first=$(grep -E '^· budget ' "$T/rows" | head -1 | awk '{print $3, $4, $6}')
keys main Enter
expect_screen main "plan: the budget planner's mix within" "Enter applies a budget point"
expect_screen main '^plan: .*\(exact\)' "its point measured"
rows
planrow=$(grep -E '^◆ plan +[0-9]' "$T/rows" | head -1 | awk '{print $3, $4, $6}')
if [ -n "$first" ] && [ "$first" = "$planrow" ]; then ok; else bad "applied budget point '$first', plan '$planrow'"; fi

# ---- resize below the minimum and back, in both views --------------------------------------
tm resize-window -t main -x 20 -y 6
expect_screen main 'enlarge the terminal' "20x6: enlarge message"
tm resize-window -t main -x 120 -y 40
expect_screen main 'MiB vs rel RMSE' "trade-off back after the resize"
keys main 4
tm resize-window -t main -x 40 -y 10
expect_screen main 'planned [A-Z]' "errors view at 40x10"
tm resize-window -t main -x 20 -y 6
expect_screen main 'enlarge the terminal' "20x6 again"
tm resize-window -t main -x 100 -y 30
expect_screen main 'rel RMSE per block' "errors view back at 100x30"
# + in the Errors view: the selected tensor one type up, the figures follow
keys main +
expect_screen main 'blk\.0\.attn_q\.weight: [A-Z0-9_]+ -> [A-Z0-9_]+' "+ raises the selected tensor's type"
newtype=$(grep -Eo 'blk\.0\.attn_q\.weight: [A-Z0-9_]+ -> [A-Z0-9_]+' "$T/screen" | awk '{print $NF}')
expect_screen main "$newtype \\(plan\\) .* exact" "the new type's figures"
got=$(metrics "$newtype (plan)")
want=$(cli blk.0.attn_q.weight "$newtype")
if [ -n "$want" ] && [ "$got" = "$want" ]; then ok; else bad "$newtype figures '$got', quantscope errors says '$want'"; fi
# page through the help until each line shows (how far depends on every view's keys)
keys main '?'
for want in 'compare with the next type with fewer bits' 'make the selected point the plan'; do
    for ((i = 0; i < 8; i++)); do wait_for main "$want" 1 && break; keys main NPage; done
    expect_screen main "$want" "help lists the errors and trade-off keys from the table"
done
keys main Escape
keys main q y
if exited main && [ "$(cat "$T/main.rc")" = 0 ]; then ok; else bad "q y quits with status 0"; fi
[ -s "$T/main.err" ] && bad "stderr not empty: $(head -c 300 "$T/main.err")"

# ---- ASCII and no colour ----------------------------------------------------------------------
start plain 100 30 LANG=C LC_ALL=C NO_COLOR=1 -- "$M" --plan "$T/q8.yaml"
expect_screen plain '292,800' "C locale opens"
keys plain 4
expect_screen plain 'Q8_0 \(plan\) .* exact' "errors view in ASCII"
if grep -Eq '#{2,}' "$T/screen" && ! grep -q '█' "$T/screen"; then ok; else bad "ASCII histogram"; cat "$T/screen" >&2; fi
keys plain 5
expect_screen plain '@ plan ' "ASCII plan marker"
expect_screen plain 'o Q4_0 +256\.5 KiB' "ASCII preset marker"
keys plain q
if exited plain && [ "$(cat "$T/plain.rc")" = 0 ]; then ok; else bad "q quits (ASCII)"; fi
[ -s "$T/plain.err" ] && bad "stderr not empty: $(head -c 300 "$T/plain.err")"

e2e_finish
