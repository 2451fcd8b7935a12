#!/usr/bin/env bash
# bench_vs_llamacpp.sh — prompt processing and decode speed of quantscope's engine side by side
# with llama.cpp's llama-bench, on the same files and threads.
#
#   bench/bench_vs_llamacpp.sh [-b BUILD_DIR] [-d MODEL_DIR] [-t THREADS] [-p N] [-n N]
#                              [-r REPS] [-k ROUNDS] [--make] [MODEL.gguf ...]
#
# Models: the files given, else the eight synth models in MODEL_DIR (default /work/tmp/perf):
# tl-{f16,Q4_0,Q4_K_M,Q8_0}.gguf (TinyLlama-1.1B shape) and l32-*.gguf (Llama-3.2-1B shape).
# --make writes missing ones with `quantscope synth` and `quantscope quantize --preset`.
#
# Each round runs bench_infer (ours) and then llama-bench (theirs) on a model, each with
# -r REPS (their medians / means); ROUNDS rounds (default 3) are interleaved so both see the
# same machine load, and the table shows the median over rounds, tokens per second:
#
#   pp: one batch of -p tokens into an empty cache (llama-bench's ppN test)
#   tg: -n single-token decodes from an empty cache (llama-bench's tgN test)
#
# llama-bench comes from $LLAMA_BENCH, else /work/ref/llama.cpp/build/bin/llama-bench; when
# it is missing only our figures are printed. This script measures; it never fails on speed.
set -u

BUILD=build
DIR=/work/tmp/perf
THREADS=2
NP=512
NG=128
REPS=3
ROUNDS=3
MAKE=0
MODELS=()
while [ $# -gt 0 ]; do
    case "$1" in
    -b) BUILD=$2; shift 2 ;;
    -d) DIR=$2; shift 2 ;;
    -t) THREADS=$2; shift 2 ;;
    -p) NP=$2; shift 2 ;;
    -n) NG=$2; shift 2 ;;
    -r) REPS=$2; shift 2 ;;
    -k) ROUNDS=$2; shift 2 ;;
    --make) MAKE=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "bench_vs_llamacpp: unknown option $1" >&2; exit 2 ;;
    *) MODELS+=("$1"); shift ;;
    esac
done

OURS=$BUILD/bench/bench_infer
QS=$BUILD/quantscope
[ -x "$OURS" ] || { echo "bench_vs_llamacpp: $OURS not built" >&2; exit 2; }
LB=${LLAMA_BENCH:-/work/ref/llama.cpp/build/bin/llama-bench}
[ -x "$LB" ] || { echo "note: llama-bench not found ($LB): our figures only"; LB=; }

if [ ${#MODELS[@]} -eq 0 ]; then
    for shape in tl l32; do
        for ty in f16 Q4_0 Q4_K_M Q8_0; do MODELS+=("$DIR/$shape-$ty.gguf"); done
    done
    if [ $MAKE = 1 ]; then
        mkdir -p "$DIR"
        for shape in tl l32; do
            full=tinyllama-1.1b; [ $shape = l32 ] && full=llama-3.2-1b
            [ -f "$DIR/$shape-f16.gguf" ] || "$QS" synth --shape $full -o "$DIR/$shape-f16.gguf" || exit 1
            for ty in Q4_0 Q4_K_M Q8_0; do
                [ -f "$DIR/$shape-$ty.gguf" ] ||
                    "$QS" quantize "$DIR/$shape-f16.gguf" --preset $ty "$DIR/$shape-$ty.gguf" || exit 1
            done
        done
    fi
fi

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) printf "%.1f\n", v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a=="-" || b=="-" || b==0) print "-"; else printf "%.2f\n", a/b }'; }

echo "uptime: $(uptime)"
echo "ours:   $OURS -t $THREADS -p $NP -n $NG -r $REPS"
[ -n "$LB" ] && echo "theirs: $LB -t $THREADS -p $NP -n $NG -r $REPS"
echo "median of $ROUNDS interleaved rounds, tokens/s; GB/s = file bytes x tg tokens/s (what one decode reads)"
printf '%-22s %9s %9s %6s %9s %9s %6s %8s %8s\n' model "pp ours" "pp llama" ratio "tg ours" "tg llama" ratio "GB/s us" "GB/s ll"
for m in "${MODELS[@]}"; do
    [ -f "$m" ] || { printf '%-22s missing (use --make)\n' "$(basename "$m")"; continue; }
    pp_o=(); tg_o=(); pp_l=(); tg_l=()
    for ((k = 0; k < ROUNDS; k++)); do
        out=$("$OURS" "$m" -t "$THREADS" -p "$NP" -n "$NG" -r "$REPS" 2>/dev/null)
        pp_o+=("$(echo "$out" | awk '$1 ~ /^pp/ {print $2}')")
        tg_o+=("$(echo "$out" | awk '$1 ~ /^tg/ {print $2}')")
        if [ -n "$LB" ]; then
            csv=$("$LB" -m "$m" -t "$THREADS" -p "$NP" -n "$NG" -r "$REPS" -o csv 2>/dev/null)
            read -r a b < <(echo "$csv" | awk -F, '
                NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
                { gsub(/"/, ""); if ($col["n_prompt"] > 0) pp = $col["avg_ts"]; else tg = $col["avg_ts"] }
                END { print (pp == "" ? "-" : pp), (tg == "" ? "-" : tg) }')
            pp_l+=("$a"); tg_l+=("$b")
        fi
    done
    po=$(printf '%s\n' "${pp_o[@]}" | grep -v '^$' | median)
    to=$(printf '%s\n' "${tg_o[@]}" | grep -v '^$' | median)
    pl=-; tl=-
    if [ -n "$LB" ]; then
        pl=$(printf '%s\n' "${pp_l[@]}" | grep -v '^-$' | median)
        tl=$(printf '%s\n' "${tg_l[@]}" | grep -v '^-$' | median)
    fi
    sz=$(stat -c %s "$m")
    gbs() { awk -v t="$1" -v s="$sz" 'BEGIN { if (t == "-") print "-"; else printf "%.1f\n", t * s / 1e9 }'; }
    printf '%-22s %9s %9s %6s %9s %9s %6s %8s %8s\n' "$(basename "$m" .gguf)" "$po" "$pl" "$(ratio "$po" "$pl")" \
        "$to" "$tl" "$(ratio "$to" "$tl")" "$(gbs "$to")" "$(gbs "$tl")"
done
echo "uptime: $(uptime)"
