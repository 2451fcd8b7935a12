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
expect 2 "info with an unknown option" -- "$QS" info "$M" --frob
expect 2 "info with two models" -- "$QS" info "$M" "$M"
expect 0 "info text details" -- "$QS" info "$M"
has out "norm             RMS, epsilon 1e-05" "info norm line"
has out "vocabulary       512 (llama, BOS 1, EOS 2)" "info vocabulary line"
has out "F32         48 tensors          292,800 params     1.12 MiB  100.0%" "info type totals"
expect 0 "info --json details" -- "$QS" info "$M" --json
json "d['n_ff']==172 and d['n_ctx_train']==2048 and d['head_dim_k']==8 and d['bos_id']==1 and d['tied_embeddings']==False and d['file_type'] is None and d['tensor_bytes']==1171200 and d['bits_per_weight']==32.0"
json "sorted(set(t['block'] for t in d['tensors'] if t['block'] is not None))==[0,1,2,3,4] and sum(1 for t in d['tensors'] if t['block'] is None)==3 and sum(t['n_elements'] for t in d['tensors'])==292800"
json "[t for t in d['tensors'] if t['name']=='blk.2.ffn_down.weight'][0]['role']=='ffn_down' and [t for t in d['tensors'] if t['name']=='blk.2.ffn_down.weight'][0]['shape']==[172,64]"

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
expect 1 "misspelt tensor" -- "$QS" tensor "$M" blk.3.ffn_dwon.weight
has err "stories260K.gguf: no tensor named 'blk.3.ffn_dwon.weight'" "unknown tensor message names file and name"
has err "blk.3.ffn_down.weight" "nearest name suggested"
expect 2 "tensor without a name" -- "$QS" tensor "$M"
expect 2 "tensor --raw-f32 without a file" -- "$QS" tensor "$M" output.weight --raw-f32
expect 1 "tensor on a missing model" -- "$QS" tensor "$T/none.gguf" output.weight
expect 0 "tensor text" -- "$QS" tensor "$M" blk.1.ffn_down.weight
has out "shape      172 x 64  (11,008 elements)" "tensor shape line"
has out "percentile p1 " "tensor percentiles"
expect 0 "tensor --json statistics" -- "$QS" tensor "$M" output_norm.weight --json
json "d['shape']==[64] and d['block'] is None and d['n_elements']==64 and d['values']['percentiles_exact'] and d['values']['min']<=d['values']['percentiles']['p50']<=d['values']['max']"

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
has out "▇\|█" "UTF-8 block bars under a UTF-8 locale"
expect 0 "errors histogram in the C locale" -- env LC_ALL=C "$QS" errors "$M" --type Q4_0 --tensor 'blk\.0\.attn_q' --histogram
has out "#" "ASCII bars when the locale is not UTF-8"
if grep -q "█" "$T/out"; then bad "UTF-8 bars printed in the C locale"; else ok; fi
expect 0 "errors notes 1-D tensors" -- "$QS" errors "$M" --type Q8_0
has out "11 1-D tensors (norms, biases) not measured: llama.cpp keeps them F32" "1-D note"
has out "^total " "total row"
expect 0 "errors --json details" -- "$QS" errors "$M" --type Q8_0 --tensor 'ffn_(gate|up)' --json
json "d['type']=='Q8_0' and d['skipped_1d']==0 and len(d['tensors'])==10 and all(t['from']=='F32' and t['fraction']==1 and t['snr_db']>30 for t in d['tensors']) and d['total']['n_values']==10*64*172"
cp "$T/out" "$T/errors-threads-default.json"
expect 0 "errors with one thread" -- "$QS" errors "$M" --type Q8_0 --tensor 'ffn_(gate|up)' --json --threads 1
if cmp -s "$T/out" "$T/errors-threads-default.json"; then ok; else bad "errors --threads 1 differs from the default thread count"; fi
expect 2 "errors without --type" -- "$QS" errors "$M"
expect 2 "errors with bad threads" -- "$QS" errors "$M" --type Q8_0 --threads 0
expect 1 "errors to a type we cannot produce" -- "$QS" errors "$M" --type IQ2_XXS
has err "cannot quantize to IQ2_XXS" "unquantizable type message"
expect 1 "errors on a missing model" -- "$QS" errors "$T/none.gguf" --type Q8_0
has err "none.gguf" "missing model named"
expect 0 "errors with a regex matching nothing" -- "$QS" errors "$M" --type Q8_0 --tensor 'nothing-here'
has out "no tensor measured" "empty selection said so"

# a file holding a type we cannot read (IQ2_XXS): tensor refuses it clearly, errors skips it
python3 - "$T/iq2.gguf" <<'PY'
import struct, sys
def s(x): b = x.encode(); return struct.pack('<Q', len(b)) + b
kv = s('general.architecture') + struct.pack('<I', 8) + s('llama')
kv += s('llama.block_count') + struct.pack('<II', 4, 1)
tensors = [('token_embd.weight', 0, 256 * 2 * 4), ('blk.0.attn_q.weight', 16, 2 * 66)]
info, off = b'', 0
for name, ty, nb in tensors:
    info += s(name) + struct.pack('<IQQIQ', 2, 256, 2, ty, off)
    off += (nb + 31) // 32 * 32
head = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), 2) + kv + info
head += b'\0' * ((-len(head)) % 32)
open(sys.argv[1], 'wb').write(head + b'\0' * off)
PY
expect 0 "info on an IQ2_XXS file" -- "$QS" info "$T/iq2.gguf"
has out "IQ2_XXS" "info names the type"
expect 1 "tensor of an unreadable type" -- "$QS" tensor "$T/iq2.gguf" blk.0.attn_q.weight
has err "IQ2_XXS, whose values quantscope cannot read yet" "unreadable type message"
expect 0 "errors skips an unreadable tensor" -- "$QS" errors "$T/iq2.gguf" --type Q4_K --json
json "len(d['tensors'])==1 and d['skipped'][0]['name']=='blk.0.attn_q.weight' and 'IQ2_XXS' in d['skipped'][0]['reason']"

# synth: a tiny model that the other commands then read; Q4_K applies to its 256-wide rows
expect 0 "synth tiny" -- "$QS" synth --shape tiny -o "$T/tiny.gguf" --seed 3
expect 0 "errors on synth" -- "$QS" errors "$T/tiny.gguf" --type Q4_K --json
json "len(d['tensors'])==30 and len(d['skipped'])==0 and 0.05<d['total']['rel_rmse']<0.09"
expect 0 "info on synth --json" -- "$QS" info "$T/tiny.gguf" --json
json "d['architecture']=='llama' and d['file_type']=='F16' and d['n_params']==3672320 and d['n_vocab']==1024 and d['n_layer']==4 and d['tokenizer']=='llama' and len(d['tensors'])==39"
expect 0 "tensor on synth with --raw-f32" -- "$QS" tensor "$T/tiny.gguf" blk.1.ffn_up.weight --raw-f32 "$T/up.f32" --json
json "d['type']=='F16' and d['shape']==[256,768] and 0.018<d['values']['std']<0.022 and d['values']['percentiles_exact']"
size=$(stat -c %s "$T/up.f32")
[ "$size" -eq $((4 * 256 * 768)) ] && ok || bad "--raw-f32 of an F16 tensor wrote $size bytes, expected $((4 * 256 * 768))"
python3 - "$T/out" "$T/up.f32" <<'PY' && ok || bad "raw-f32 values do not match the reported statistics"
import json, struct, sys
d = json.load(open(sys.argv[1]))['values']
raw = open(sys.argv[2], 'rb').read()
v = struct.unpack('<%df' % (len(raw) // 4), raw)
mean = sum(v) / len(v)
close = lambda a, b: abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-30)  # JSON reals carry 10 digits
sys.exit(0 if close(mean, d['mean']) and close(min(v), d['min']) and close(max(v), d['max']) else 1)
PY
expect 0 "synth same seed" -- "$QS" synth --shape tiny -o "$T/tiny-again.gguf" --seed 3
cmp -s "$T/tiny.gguf" "$T/tiny-again.gguf" && ok || bad "same seed gave different files"
expect 0 "synth other seed" -- "$QS" synth --shape tiny -o "$T/tiny-other.gguf" --seed 4
cmp -s "$T/tiny.gguf" "$T/tiny-other.gguf" && bad "another seed gave the same file" || ok
expect 0 "synth BF16 qwen3 layout" -- "$QS" synth --shape tiny-qwen3 --type bf16 -o "$T/q3.gguf"
expect 0 "info on the qwen3 layout" -- "$QS" info "$T/q3.gguf" --json
json "d['architecture']=='qwen3' and d['file_type']=='BF16' and d['head_dim_k']==64 and d['tied_embeddings'] and sum(1 for t in d['tensors'] if t['role']=='attn_q_norm')==4"
expect 0 "synth --ctx" -- "$QS" synth --shape tiny --ctx 32768 --seed 3 -o "$T/tiny-ctx.gguf"
expect 0 "info on synth --ctx" -- "$QS" info "$T/tiny-ctx.gguf" --json
json "d['n_ctx_train']==32768 and d['n_params']==3672320"
expect 2 "synth --ctx 0" -- "$QS" synth --shape tiny --ctx 0 -o "$T/x.gguf"
has err "--ctx takes a context length" "bad --ctx named"
expect 0 "synth F32" -- "$QS" synth --shape tiny-qwen2 --type F32 -o "$T/q2.gguf"
expect 0 "info on F32 synth" -- "$QS" info "$T/q2.gguf" --json
json "d['file_type']=='ALL_F32' and d['bits_per_weight']==32.0 and any(t['name']=='blk.3.attn_v.bias' for t in d['tensors'])"
V=$SHARED/vocab/ggml-vocab-llama-bpe.gguf
if [ -r "$V" ]; then
    expect 0 "synth with a copied vocabulary" -- "$QS" synth --shape tiny-llama3 --vocab "$V" -o "$T/l3.gguf"
    expect 0 "info on the copied vocabulary" -- "$QS" info "$T/l3.gguf" --json
    json "d['n_vocab']==128256 and d['tokenizer']=='gpt2' and d['n_merges']>0 and [t for t in d['tensors'] if t['name']=='token_embd.weight'][0]['shape']==[256,128256] and d['rope_freqs_tensor']"
fi
expect 1 "synth with a missing vocabulary" -- "$QS" synth --shape tiny --vocab "$T/none.gguf" -o "$T/x.gguf"
has err "none.gguf" "missing vocabulary named"
expect 1 "synth with a model as vocabulary without tokens" -- "$QS" synth --shape tiny --vocab "$T/iq2.gguf" -o "$T/x.gguf"
has err "no tokenizer.ggml.tokens" "vocabulary without tokens"
expect 2 "synth bad type" -- "$QS" synth --shape tiny --type Q4_K -o "$T/x.gguf"
expect 2 "synth bad seed" -- "$QS" synth --shape tiny --seed x -o "$T/x.gguf"
expect 2 "synth stray argument" -- "$QS" synth --shape tiny -o "$T/x.gguf" extra
[ -e "$T/x.gguf" ] && bad "a failed synth left $T/x.gguf" || ok
expect 2 "synth unknown shape" -- "$QS" synth --shape nope -o "$T/x.gguf"
expect 2 "synth without -o" -- "$QS" synth --shape tiny
expect 1 "synth into a missing folder" -- "$QS" synth --shape tiny -o "$T/no/such/dir/x.gguf"
expect 0 "synth --list" -- "$QS" synth --list
has out "llama-3.1-8b" "shape list"

echo "e2e_cli: $pass passed, $fails failed"
[ "$fails" -eq 0 ]
