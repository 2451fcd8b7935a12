#!/usr/bin/env bash
# End-to-end: drives the real quantscope binary and checks outputs and exit codes.
# Usage: e2e_cli.sh QUANTSCOPE SHARED_DIR
set -u
QS=$1
SHARED=$2
M=$SHARED/models/stories260K.gguf
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# expect CODE DESCRIPTION -- COMMAND...: runs it, stdout in $T/out, stderr in $T/err
expect() {
    local code=$1 what=$2
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$rc" -eq "$code" ]; then ok; else bad "$what: exit $rc, expected $code; stderr: $(head -c 300 "$T/err")"; fi
}
has() { if grep -q -- "$2" "$T/$1"; then ok; else bad "$3: '$2' not in $1: $(head -c 300 "$T/$1")"; fi; }
json() { if python3 -c "import json,sys; d=json.load(open('$T/out')); sys.exit(0 if ($1) else 1)"; then ok; else bad "json check failed: $1"; fi; }

if [ ! -r "$M" ]; then
    if [ -n "${CI:-}" ]; then echo "FAIL: $M missing under CI" >&2; exit 1; fi
    echo "skipping: $M not found (not under CI)"
    exit 0
fi
export XDG_CACHE_HOME=$T/cache

# program-level
expect 0 "--help" -- "$QS" --help
has out "info" "--help lists commands"
expect 0 "--version" -- "$QS" --version
has out "quantscope [0-9]" "--version prints a version"
expect 2 "unknown command" -- "$QS" frobnicate
has err "unknown command 'frobnicate'" "unknown command message"
for c in info tensor errors synth; do
    expect 0 "$c --help" -- "$QS" $c --help
    has out "usage: quantscope $c" "$c usage"
done

# demo model with no arguments
expect 0 "no arguments: demo" -- "$QS"
has out "built-in demo model (random weights" "demo banner"
has out "parameters       3.7 M (3,672,320)" "demo parameters"

# info
expect 0 "info" -- "$QS" info "$M"
has out "parameters       292.8 K (292,800)" "info parameters"
has out "heads            8 (KV heads 4, head dim 8)" "info heads"
has out "blk.4.ffn_down.weight  *172 x 64 *F32" "info tensor row"
expect 0 "info --json" -- "$QS" info "$M" --json
json "d['n_params']==292800 and d['n_layer']==5 and d['n_head_kv']==4 and d['n_vocab']==512 and len(d['tensors'])==48 and d['types'][0]['bytes']==1171200"
expect 1 "info on a missing file" -- "$QS" info "$T/none.gguf"
has err "none.gguf" "missing file named"
expect 2 "info without a model" -- "$QS" info
head -c 1000 "$M" >"$T/cut.gguf"
expect 1 "info on a truncated file" -- "$QS" info "$T/cut.gguf"
has err "cut.gguf: offset" "truncated file message names file and offset"

# tensor
expect 0 "tensor" -- "$QS" tensor "$M" blk.0.attn_q.weight --raw-f32 "$T/q.f32" --json
json "d['shape']==[64,64] and d['type']=='F32' and d['bytes']==16384 and d['block']==0 and d['values']['nan']==0"
size=$(stat -c %s "$T/q.f32")
[ "$size" -eq $((4 * 64 * 64)) ] && ok || bad "--raw-f32 wrote $size bytes, expected 16384"
ls "$T"/q.f32.tmp.* >/dev/null 2>&1 && bad "temporary file left behind" || ok
# the raw values are the tensor's bytes (F32 source): compare with the file's data
python3 - "$M" "$T/q.f32" <<'PY' && ok || bad "raw-f32 values differ from the file"
import struct, sys
raw = open(sys.argv[2], 'rb').read()
d = open(sys.argv[1], 'rb').read()
sys.exit(0 if raw in d else 1)
PY
expect 1 "unknown tensor" -- "$QS" tensor "$M" attn_q
has err "did you mean" "suggestions for an unknown tensor"
has err "blk.0.attn_q.weight" "suggestion names a real tensor"

# errors
expect 0 "errors Q8_0" -- "$QS" errors "$M" --type Q8_0 --json
json "len(d['tensors'])==32 and len(d['skipped'])==5 and all(t['cosine']>0.999 for t in d['tensors']) and d['total']['rmse']>0"
expect 0 "errors Q4_K falls back to skips" -- "$QS" errors "$M" --type Q4_K
has out "skipped: row of 64 cannot hold Q4_K blocks (256)" "K-quant skip reason"
expect 1 "errors with a bad regex" -- "$QS" errors "$M" --type Q4_0 --tensor 'blk\.0\.('
has err "missing closing parenthesis at offset 9" "PCRE2 message with offset"
expect 2 "errors with a bad type" -- "$QS" errors "$M" --type Q9_9
expect 2 "errors with a bad sample" -- "$QS" errors "$M" --type Q8_0 --sample 2
expect 0 "errors sampled with histogram" -- "$QS" errors "$M" --type Q4_0 --tensor 'attn_q' --sample 0.5 --histogram
has out "sampled" "sampled column"
has out "error in weight units" "histogram legend"

# synth: a tiny model that the other commands then read; Q4_K applies to its 256-wide rows
expect 0 "synth tiny" -- "$QS" synth --shape tiny -o "$T/tiny.gguf" --seed 3
expect 0 "errors on synth" -- "$QS" errors "$T/tiny.gguf" --type Q4_K --json
json "len(d['tensors'])==30 and len(d['skipped'])==0 and 0.05<d['total']['rel_rmse']<0.09"
expect 2 "synth unknown shape" -- "$QS" synth --shape nope -o "$T/x.gguf"
expect 2 "synth without -o" -- "$QS" synth --shape tiny
expect 1 "synth into a missing folder" -- "$QS" synth --shape tiny -o "$T/no/such/dir/x.gguf"
expect 0 "synth --list" -- "$QS" synth --list
has out "llama-3.1-8b" "shape list"

echo "e2e_cli: $pass passed, $fails failed"
[ "$fails" -eq 0 ]
