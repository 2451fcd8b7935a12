#!/usr/bin/env bash
# End-to-end: the explorer's plan work, driven in tmux (send-keys, capture-pane) with assertions on
# the screen and on the files it writes: the model picker (a model planted in the current folder,
# a Hugging Face snapshot, an Ollama manifest, an unusable file, the demo), a rule typed with its
# matches counted as it is typed and a bad regex's offset shown, keep-ends, saving the plan with
# `s` (the file read back by `quantscope plan --from`), `/` search with n / N, exporting with `e`
# (the output read by `quantscope info`), opening plans with `o` (a bad one leaves the plan as it
# was).
# Usage: e2e_tui_plan.sh QUANTSCOPE SHARED_DIR
set -u
E2E_TERM= # the terminal tmux gives (its key sequences and line drawing are what the checks expect)
. "$(dirname "$0")/lib_e2e_tui.sh"
e2e_init e2e_tui_plan "$@"
e2e_require "$M"
case "$QS" in /*) ;; *) QS=$(pwd)/$QS ;; esac
TUI=$QS

# a home of our own: the caches the picker looks in are under it
H=$T/home
W=$T/work
mkdir -p "$H" "$W"
export HOME=$H XDG_CACHE_HOME=$H/.cache XDG_CONFIG_HOME=$H/.config
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color
unset NO_COLOR HF_HUB_CACHE HUGGINGFACE_HUB_CACHE HF_HOME LLAMA_CACHE OLLAMA_MODELS QUANTSCOPE_MODEL_PATH

cp "$M" "$W/planted.gguf"
echo "not a model" >"$W/broken.gguf"
# Hugging Face: snapshots/REV/FILE is a relative symlink into blobs/
hub=$XDG_CACHE_HOME/huggingface/hub/models--someorg--tinystories
mkdir -p "$hub/blobs" "$hub/snapshots/0123abcd"
cp "$M" "$hub/blobs/4f1e"
ln -s ../../blobs/4f1e "$hub/snapshots/0123abcd/stories-f32.gguf"
# Ollama: the manifest names the model layer's blob
om=$H/.ollama/models
digest=9d3f6e0c2b5a4f18e7c6d5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4
mkdir -p "$om/blobs" "$om/manifests/registry.ollama.ai/library/stories"
cp "$M" "$om/blobs/sha256-$digest"
cat >"$om/manifests/registry.ollama.ai/library/stories/260k" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
 "layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:$digest","size":1185376},
           {"mediaType":"application/vnd.ollama.image.params","digest":"sha256:$digest","size":10}]}
EOF
printf 'version: 1\ndefault: Q8_0\n' >"$W/q8.yaml"
printf 'version: 1\ndefault: Q8_0\nrules:\n  - {pattern: "ffn_(", type: Q4_K}\n' >"$W/bad.yaml"

E2E_CWD=$W # start runs quantscope in $W

# ---- the picker ------------------------------------------------------------------------------
start main 130 40
expect_screen main 'choose a model' "picker without a model"
expect_screen main '^planted\.gguf +here +llama +mostly F32 +1\.13 MiB +292\.8 K' "planted model listed with size and type"
expect_screen main '^broken\.gguf +here +not usable: offset 0: bad magic' "an unusable file says why"
expect_screen main '^someorg/tinystories/stories-f32\.gguf +hf +llama' "Hugging Face snapshot"
expect_screen main '^stories:260k +ollama +llama' "Ollama model named from its manifest"
expect_screen main '^demo \(random weights\) +demo +llama +F16' "the demo is listed"
expect_screen main 'Enter Open' "picker keys in the bottom bar"
keys main Enter
expect_screen main 'quantscope  planted\.gguf  plan \(new plan\)' "Enter opens the selected model"
expect_screen main '292\.8 K \(292,800\)' "model view of the opened model"

# ---- a rule typed: matches counted as it is typed, a bad regex's offset shown ----------------
keys main 2 R
expect_screen main 'no rules: a adds one' "rules list opens empty"
keys main a
expect_screen main 'Rule 1 \(new\)' "rule editor opens"
text main f; text main f; text main n; text main _
expect_screen main 'matches 20 of 48 tensors \(15 quantizable\)' "ffn_ matches gate, up, down and the norm of 5 blocks"
expect_screen main 'blk\.0\.ffn_norm\.weight +F32 +-> kept as stored' "matched tensors listed, the norm kept"
text main u
expect_screen main 'matches 5 of 48 tensors' "ffn_u matches the 5 ffn_up"
keys main BSpace
text main '(up'
expect_screen main 'missing closing parenthesis at offset 7' "a bad regex shows PCRE2's message"
expect_screen main '\^ offset 7' "a caret marks the offset"
# the caret sits under the pattern's 8th character (offset 7), counted in columns
if python3 - "$T/screen" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
pat = next(l for l in lines if "pattern  ffn_(up" in l).index("ffn_(up")
caret = next(l for l in lines if "^ offset 7" in l).index("^")
sys.exit(0 if caret == pat + 7 else 1)
PY
then ok; else bad "the caret is not under offset 7 of the pattern"; fi
text main '|down)'
expect_screen main 'matches 10 of 48 tensors \(10 quantizable\), decides 10, 0 change type' "the fixed rule matches 10"
keys main Down Down Down
expect_screen main 'type +< Q8_0 >' "Down steps the type down the ladder"
# ffn_up: 172 rows of 64 from 256 to 2 x 34 bytes (Q8_0); ffn_down: 64 rows of 172 from 688 to 344
# bytes (F16: a row of 172 holds no 32-value block); five blocks
delta=$(( 5 * (172 * (68 - 256) + 64 * (344 - 688)) ))
delta_fmt=$(python3 -c "print(f'{$delta:,}')")
expect_screen main "decides 10, 10 change type, weights ${delta_fmt} B" "the weights the rule saves"
expect_screen main 'blk\.0\.ffn_down\.weight +F32 +-> F16 +\(Q8_0 cannot hold a row of 172\)' "fallback shown"
keys main Enter
expect_screen main '│ +1 +ffn_\(up\|down\) +Q8_0 +10 +10 ' "the committed rule in the list, decides 10 of 10"
keys main Escape
expect_screen main 'plan \(new plan\) \[modified\]' "the plan is modified"
expect_screen main 'rules 1 ' "the layers view counts the rule"

# ---- keep the first block at Q8_0 ------------------------------------------------------------
keys main K
expect_screen main 'Keep the first / last blocks at a type' "keep form opens"
keys main Up
expect_screen main 'decides 7 tensors' "keep first 1: seven matrices of block 0"
keys main Enter
expect_screen main 'keep first 1 / last 0 blocks at Q8_0' "keep applied"

# ---- s saves; the file resolves to the same types --------------------------------------------
keys main s
expect_screen main 'save plan to: planted\.plan\.yaml' "s asks for a path for a new plan"
keys main Enter
expect_screen main 'plan saved to planted\.plan\.yaml' "saved"
expect_screen main 'quantscope  planted\.gguf  plan planted\.plan\.yaml  ' "header names the file, not modified"
if grep -q "pattern: 'ffn_(up|down)', type: Q8_0" "$W/planted.plan.yaml" && grep -q 'file: planted.gguf' "$W/planted.plan.yaml" &&
   grep -Eq 'keep: \{first: 1' "$W/planted.plan.yaml"; then ok; else bad "saved plan content:"; cat "$W/planted.plan.yaml" >&2; fi
if (cd "$W" && "$QS" plan planted.gguf --from planted.plan.yaml --json >"$T/plan.json") && python3 - "$T/plan.json" <<'PY'
import json, sys
t = {x["name"]: x for x in json.load(open(sys.argv[1]))["tensors"]}
want = {"blk.1.ffn_up.weight": ("Q8_0", "rule"), "blk.1.ffn_down.weight": ("F16", "rule"),
        "blk.0.attn_q.weight": ("Q8_0", "keep"), "blk.2.attn_q.weight": ("F32", "default")}
bad = [(n, t[n]["type"], t[n]["reason"]) for n, (ty, r) in want.items() if (t[n]["type"], t[n]["reason"]) != (ty, r)]
sys.exit(1 if bad else 0)
PY
then ok; else bad "quantscope plan --from the saved file: $(head -c 300 "$T/plan.json")"; fi

# ---- / search, n / N -------------------------------------------------------------------------
keys main /
text main attn_v
expect_screen main '^/attn_v .*match 1 of 5' "incremental search"
expect_screen main '^  blk\.0\.attn_v\.weight' "the match's block is expanded"
keys main Enter n
expect_screen main "search 'attn_v': blk\.1\.attn_v\.weight, match 2 of 5" "n goes to the next match"
keys main N N
expect_screen main "search 'attn_v': blk\.4\.attn_v\.weight, match 5 of 5" "N goes back, wrapping"
keys main /
text main zzz
expect_screen main 'no tensor matches' "a search without matches says so"
keys main Escape

# ---- e exports; the output has the planned types ---------------------------------------------
keys main e
expect_screen main 'export GGUF to: planted-F32-custom\.gguf' "e suggests a path beside the model"
keys main C-u
text main out.gguf
keys main Enter
expect_screen main 'Exported out\.gguf' "export done message" 20
keys main x
if "$QS" info "$W/out.gguf" --json >"$T/out.json" && python3 - "$T/out.json" <<'PY'
import json, sys
t = {x["name"]: x["type"] for x in json.load(open(sys.argv[1]))["tensors"]}
want = {"blk.1.ffn_up.weight": "Q8_0", "blk.3.ffn_down.weight": "F16", "blk.0.attn_q.weight": "Q8_0",
        "blk.2.attn_q.weight": "F32", "blk.0.ffn_norm.weight": "F32"}
sys.exit(0 if all(t[n] == ty for n, ty in want.items()) else 1)
PY
then ok; else bad "exported file types: $(head -c 300 "$T/out.json")"; fi
keys main e
expect_screen main 'export GGUF to:' "e again"
keys main C-u
text main out.gguf
keys main Enter
expect_screen main 'out\.gguf exists\. Replace it\? \[y/N\]' "an existing output is not replaced silently"
keys main n
expect_screen main 'not exported' "n keeps it"

# ---- o opens plans; a bad one leaves the plan as it was --------------------------------------
keys main -
expect_screen main '\[modified\]' "an edit after saving"
keys main o
expect_screen main 'unsaved changes\. Open another plan anyway\? \[y/N\]' "o asks before dropping changes"
keys main y
expect_screen main 'open plan:' "then asks for the file"
text main bad.yaml
keys main Enter
expect_screen main 'bad\.yaml:4:[0-9]+: invalid regex' "a bad plan: file:line:col"
expect_screen main 'plan is unchanged' "and the plan is kept"
keys main x
expect_screen main 'plan planted\.plan\.yaml \[modified\]' "still the edited plan"
keys main o y
text main q8.y
keys main Tab
expect_screen main 'open plan: q8\.yaml' "Tab completes the file name"
keys main Enter
expect_screen main 'plan q8\.yaml  ' "o opened q8.yaml"
expect_screen main 'default Q8_0 \(no preset\)  overrides: 0 block, 0 tensor  rules 0' "its plan is shown"
keys main q
if exited main && [ "$(cat "$T/main.rc")" = 0 ]; then ok; else bad "q quits an unmodified plan at once (rc '$(cat "$T/main.rc" 2>/dev/null)')"; fi
[ -s "$T/main.err" ] && bad "stderr not empty: $(head -c 300 "$T/main.err")"

# ---- the demo from the picker; q quits the picker --------------------------------------------
rm -f "$XDG_CACHE_HOME/quantscope/demo-tiny-v1.gguf"
start demo 120 30
expect_screen demo '^demo \(random weights\)' "demo listed"
keys demo End Enter
expect_screen demo 'parameters +3\.7 M' "the demo opens" 20
[ -s "$XDG_CACHE_HOME/quantscope/demo-tiny-v1.gguf" ] && ok || bad "the demo was written to the cache"
keys demo q
exited demo || bad "quit the demo"
[ -s "$T/demo.err" ] && bad "stderr not empty: $(head -c 300 "$T/demo.err")"
start quit 100 30
expect_screen quit 'choose a model' "picker again"
keys quit q
if exited quit && [ "$(cat "$T/quit.rc")" = 0 ]; then ok; else bad "q quits the picker"; fi
[ -s "$T/quit.err" ] && bad "stderr not empty: $(head -c 300 "$T/quit.err")"

e2e_finish
