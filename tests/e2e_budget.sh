#!/usr/bin/env bash
# End-to-end: `quantscope plan --budget/--bpw` on a synth model, checked with `estimate`.
# Usage: e2e_budget.sh QUANTSCOPE SHARED_DIR
set -u
QS=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0 pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
run() { local code=$1; shift; "$@" >"$T/out" 2>"$T/err"; local rc=$?; [ $rc -eq "$code" ] && ok || bad "$* -> exit $rc, expected $code: $(head -c 300 "$T/err")"; }
py() { python3 -c "$1" && ok || bad "check failed: $1"; }

run 0 "$QS" synth --shape tiny -o "$T/m.gguf" --seed 5

# bits per weight: at most the target, and close to it
run 0 "$QS" plan "$T/m.gguf" --bpw 4.9 --json -o "$T/bpw.yaml"
py "import json; d=json.load(open('$T/out')); b=d['bytes']*8/d['n_params']; assert 4.7 < b <= 4.9, b"
grep -q "^  - {name: .*type: " "$T/bpw.yaml" && ok || bad "saved budget plan has no per-tensor entries"

# the saved plan reloads to the same table
run 0 "$QS" plan "$T/m.gguf" --from "$T/bpw.yaml" --json
cp "$T/out" "$T/reload.json"
run 0 "$QS" plan "$T/m.gguf" --bpw 4.9 --json
py "import json; a=json.load(open('$T/out')); b=json.load(open('$T/reload.json')); assert [t['type'] for t in a['tensors']]==[t['type'] for t in b['tensors']]"

# a whole-estimate budget: the estimate of the resulting plan fits it
run 0 "$QS" plan "$T/m.gguf" --budget 80MiB -o "$T/b80.yaml"
grep -q "budget planner:" "$T/err" && ok || bad "no budget summary on stderr"
run 0 "$QS" estimate "$T/m.gguf" --plan "$T/b80.yaml" --json
py "import json; d=json.load(open('$T/out')); tot=d['total']['host']+d['total']['gpu']; assert d['fits'] and 70*1024*1024 < tot <= 80*1024*1024, tot"

# a tighter budget never gives less error (printed summary), and errors are clear
run 1 "$QS" plan "$T/m.gguf" --budget 1MiB
grep -q "already take" "$T/err" && ok || bad "too-small budget message"
run 2 "$QS" plan "$T/m.gguf" --bpw 4 --preset Q4_0
run 2 "$QS" plan "$T/m.gguf" --bpw 4 --budget 1GiB
run 2 "$QS" plan "$T/m.gguf" --budget lots
run 2 "$QS" plan "$T/m.gguf" --imatrix "$T/none.gguf"
run 1 "$QS" plan "$T/m.gguf" --bpw 4.5 --imatrix "$T/none.gguf"

echo "e2e_budget: $pass passed, $fails failed"
[ "$fails" -eq 0 ]
