#!/usr/bin/env bash
# End-to-end: drives the explorer in tmux (send-keys, capture-pane) and asserts on the screen.
# Usage: e2e_tui.sh QUANTSCOPE SHARED_DIR
# The explorer binary is $QS_TUI_BIN when set (tests/tui_driver until `quantscope MODEL` opens
# it), else QUANTSCOPE; both take MODEL [--plan PLAN] [--theme THEME]. QUANTSCOPE also provides
# `info --json`, from which the expected byte counts are computed.
set -u
. "$(dirname "$0")/lib_e2e_tui.sh"
e2e_init e2e_tui "$@"
e2e_require "$M"
e2e_env

# the exact bytes of the memory view's CPU_Mapped line
mapped() { grep -E 'CPU_Mapped model buffer' "$T/screen" | awk '{for (i = 1; i <= NF; i++) if ($i == "host") { gsub(",", "", $(i+1)); print $(i+1); exit }}'; }

printf 'version: 1\ndefault: Q8_0\n' >"$T/q8.yaml"

# ---- the main walk: model, layers, memory, a plan edit, help, placeholders, resize, quit -----
start main 120 40 -- "$M" --plan "$T/q8.yaml"
expect_screen main '292\.8 K \(292,800\)' "model view parameters"
expect_screen main 'heads +8 \(KV heads 4, head dim 8\)' "model view heads"
expect_screen main 'chat template +none \(plain completion\)' "model view: no chat template (the family when there is one)"
expect_screen main 'q Quit' "bottom bar from the key table"

keys main 2
expect_screen main 'default Q8_0' "layers view plan summary"
for b in 0 1 2 3 4; do
    if grep -Eq "^\+ blk\.$b " "$T/screen"; then ok; else bad "layers view lists blk.$b"; fi
done
if grep -Eq '^\+ token_embd ' "$T/screen" && grep -Eq '^\+ output ' "$T/screen"; then ok; else bad "token_embd / output rows"; fi

keys main 3
expect_screen main 'CPU_Mapped model buffer +host +[0-9,]+' "memory view parts"
before=$(mapped)

# expected change: blk.0 goes from Q8_0 (F16 where a row of ne0 cannot hold 32-blocks) to BF16;
# in the file each tensor is padded to 32 bytes, and the mapped span moves by exactly that
"$QS" info "$M" --json >"$T/info.json" || bad "info --json"
expect=$(python3 - "$T/info.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def nbytes(t, ne):
    rows = 1
    for n in ne[1:]: rows *= n
    if t == "Q8_0": return ne[0] // 32 * 34 * rows
    return ne[0] * 2 * rows            # F16, BF16
pad = lambda b: (b + 31) // 32 * 32
diff = 0
for t in d["tensors"]:
    if t["block"] != 0 or len(t["shape"]) < 2: continue
    ne = t["shape"]
    old = "Q8_0" if ne[0] % 32 == 0 else "F16"
    diff += pad(nbytes("BF16", ne)) - pad(nbytes(old, ne))
print(diff)
PY
)
keys main 2 j +
expect_screen main 'blk\.0: Q8_0 -> BF16' "+ raises blk.0 one rung"
if grep -Eq '^\+ blk\.0 +BF16 x7 +F32 x2 ' "$T/screen"; then ok; else bad "blk.0 row shows BF16"; cat "$T/screen" >&2; fi
expect_screen main 'plan q8\.yaml \[modified\]' "header marks the plan modified"
keys main 3
expect_screen main 'CPU_Mapped model buffer' "memory view again"
after=$(mapped)
if [ -n "$before" ] && [ -n "$after" ] && [ "$((after - before))" -eq "$expect" ] && [ "$expect" -gt 0 ]; then ok
else bad "memory changed by $((after - before)) bytes ($before -> $after), expected $expect"; fi

# Enter expands a block into its tensors; r explains the selected tensor's type
keys main 2 Enter
expect_screen main '^  blk\.0\.attn_q\.weight +BF16' "Enter expands blk.0"
keys main j r
expect_screen main 'layer override: block 0 -> BF16' "r shows the resolution reason"
keys main Escape
# memory controls: context halves, the KV type changes, a GPU preset adds a GPU bar
keys main 3 -
expect_screen main 'context +1,024 tokens' "- halves the context"
keys main v
expect_screen main 'KV cache BF16' "v cycles the KV type"
keys main d
expect_screen main '^GPU +\[' "a GPU device shows its bar"
expect_screen main 'largest context that fits: [0-9,]+ tokens' "largest context"

# a typed context length; a preset from the menu
keys main c 4 0 9 6 Enter
expect_screen main 'context +4,096 tokens' "c types a context length"
keys main c x Escape
expect_screen main 'context +4,096 tokens' "Esc cancels the typed context"
keys main 2 p
expect_screen main 'Presets \(Enter applies\)' "presets menu opens"
keys main Down Down Down Down Down Enter
expect_screen main 'preset Q4_K_M +overrides: 1 block' "a preset applies and keeps the overrides"

# help and the placeholders
keys main '?'
expect_screen main 'Help: keys' "help opens"
expect_screen main 'double / halve the context length' "help lists view keys from the table"
keys main Escape 4
expect_screen main 'rel RMSE per block' "errors view (tests/e2e_tui_views.sh covers it)"
keys main Tab
expect_screen main 'vs rel RMSE of the quantized weights' "Tab goes to the next view"
keys main BTab BTab
expect_screen main 'largest context' "Shift-Tab goes back"

# resize below the minimum and back
tm resize-window -t main -x 20 -y 6
expect_screen main 'enlarge the terminal' "small terminal message"
expect_screen main 'to 40x10 \(now 20x6\)' "small terminal sizes"
tm resize-window -t main -x 100 -y 30
expect_screen main 'largest context' "back to normal after a resize"
tm resize-window -t main -x 40 -y 10
expect_screen main '^host RAM .*fits' "40x10 draws the views"

# q asks because the plan changed; n stays, y quits with status 0
tm resize-window -t main -x 120 -y 40
keys main q
expect_screen main 'unsaved changes .*Quit anyway\? \[y/N\]' "quit asks about unsaved changes"
keys main n
expect_screen main 'largest context' "n keeps running"
keys main q y
if exited main && [ "$(cat "$T/main.rc")" = 0 ]; then ok; else bad "q y quits with status 0 (rc '$(cat "$T/main.rc" 2>/dev/null)')"; fi
[ -s "$T/main.err" ] && bad "stderr not empty: $(head -c 300 "$T/main.err")"

# ---- an unchanged plan quits at once; ASCII bars outside UTF-8; NO_COLOR --------------------
start plain 100 30 LANG=C LC_ALL=C NO_COLOR=1 -- "$M"
expect_screen plain '292,800' "C locale and NO_COLOR draw"
keys plain 3
expect_screen plain 'host RAM +\[[#=%+*o]*\.+\]' "ASCII meter outside UTF-8"
keys plain q
if exited plain && [ "$(cat "$T/plain.rc")" = 0 ]; then ok; else bad "q quits at once without changes"; fi
[ -s "$T/plain.err" ] && bad "stderr not empty: $(head -c 300 "$T/plain.err")"

# ---- a bad theme: a message with file:line:col, the default theme used ----------------------
printf 'name: broken\ncolors:\n  ok: { fg: blu }\n' >"$T/broken.yaml"
start theme 100 30 TERM=xterm -- "$M" --theme "$T/broken.yaml"   # 8 colours
expect_screen theme 'broken\.yaml:3:13: bad colour' "bad theme named with line:col"
keys theme x 1
expect_screen theme '292,800' "any key closes the message"
keys theme q
exited theme || bad "quit after the theme message"
[ -s "$T/theme.err" ] && bad "stderr not empty: $(head -c 300 "$T/theme.err")"
start theme2 100 30 -- "$M" --theme light
expect_screen theme2 '292,800' "a shipped theme by name"
# the mouse (SGR reports, as xterm sends them): click the "3 Memory" tab, then a row
tm send-keys -t theme2 -l $'\e[<0;22;2M' $'\e[<0;22;2m'
expect_screen theme2 'largest context' "a click on a tab switches the view"
keys theme2 2
expect_screen theme2 '^\+ blk\.4 ' "layers view for the mouse"
tm send-keys -t theme2 -l $'\e[<0;5;8M' $'\e[<0;5;8m'
keys theme2 -
expect_screen theme2 'blk\.2: F32 -> F16' "a click selects a row"
tm send-keys -t theme2 -l $'\e[<65;5;8M'
keys theme2 q y
exited theme2 || bad "quit (light theme)"
[ -s "$T/theme2.err" ] && bad "stderr not empty: $(head -c 300 "$T/theme2.err")"

# ---- errors: a missing model is reported without drawing ------------------------------------
"$TUI" "$T/none.gguf" </dev/null >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -ne 0 ] && grep -q "none.gguf" "$T/err"; then ok; else bad "missing model: rc $rc, $(head -c 200 "$T/err")"; fi

e2e_finish
