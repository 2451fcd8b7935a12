#!/usr/bin/env bash
# Runs one libFuzzer harness from its seeds (generated + checked in; fuzz/README.md).
# Usage: fuzz/run.sh HARNESS SECONDS [libFuzzer options...]
#   HARNESS: gguf imatrix plan theme tok cli      SECONDS: -max_total_time
# Environment: FUZZ_BUILD (default build-fuzz: configured and built here with clang if missing),
#   FUZZ_WORK (default FUZZ_BUILD/work: the growing corpus and crash artifacts), FUZZ_JOBS
#   (default 1; >1 runs that many workers in parallel, -fork mode), FUZZ_TIMEOUT (seconds one
#   input may take, default 60: wall-clock, generous because the machine may be busy).
# New inputs the fuzzer finds go to FUZZ_WORK/HARNESS/corpus, never into the repository; a crash
# leaves FUZZ_WORK/HARNESS/crash-* (reproduce: FUZZ_BUILD/fuzz/fuzz_HARNESS FILE) and the script
# exits non-zero. The last lines printed are libFuzzer's final stats (execs, coverage).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ $# -ge 2 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
name=$1 secs=$2
shift 2
build=${FUZZ_BUILD:-$root/build-fuzz}
work=${FUZZ_WORK:-$build/work}
bin=$build/fuzz/fuzz_$name
seedgen=$build/fuzz/fuzz_make_seeds
if [ ! -x "$bin" ] || [ ! -x "$seedgen" ] || [ "${FUZZ_REBUILD:-0}" = 1 ]; then
  CC=${CC:-clang} cmake -S "$root" -B "$build" -DQS_FUZZ=ON -DQS_TESTS=OFF -DQS_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"${FUZZ_BUILD_JOBS:-2}" --target "fuzz_$name" fuzz_make_seeds >/dev/null
fi
# The binary seeds (GGUF, imatrix) and the plan seeds are written by our own generator into the
# work folder before each run (deterministic bytes; no model-like files in the repository); the
# hand-written seeds are checked in under corpus/NAME.
mkdir -p "$work/seeds"
"$seedgen" "$work/seeds" >/dev/null
seeds=()
[ -d "$work/seeds/$name" ] && seeds+=("$work/seeds/$name")
[ -d "$here/corpus/$name" ] && seeds+=("$here/corpus/$name")
dict=()
case $name in
  gguf|imatrix) dict=(-dict="$here/gguf.dict") ; maxlen=8192 ;;
  plan) seeds+=("$root/tests/fixtures/plans") ; dict=(-dict="$here/yaml.dict") ; maxlen=4096 ;;
  theme) seeds+=("$root/themes") ; dict=(-dict="$here/yaml.dict") ; maxlen=4096 ;;
  tok) maxlen=1024 ;;
  cli) maxlen=256 ;;
  *) echo "fuzz/run.sh: unknown harness '$name' (gguf imatrix plan theme tok cli)" >&2; exit 2 ;;
esac
mkdir -p "$work/$name/corpus"
cd "$work/$name"
jobs=${FUZZ_JOBS:-1}
par=()
[ "$jobs" -gt 1 ] && par=(-fork="$jobs" -ignore_crashes=0)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$bin" -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-60}" -rss_limit_mb=2048 -max_len="$maxlen" \
  -print_final_stats=1 -artifact_prefix="$work/$name/" "${dict[@]}" "${par[@]}" "$@" \
  corpus "${seeds[@]}"
