#!/usr/bin/env bash
# Long runs (issue 6, "Long runs"), all of them with one command:
#   1. long_generate: a 10,000-token generation on stories260K (the KV cache shifted whenever the
#      512-token context fills)
#        a. under ASan + UBSan + LeakSanitizer (build-asan): no leak, no invalid access, 2 threads;
#        b. in Release (build): memory flat, VmHWM may not grow by more than 1 MiB after token 1,000.
#   2. long_chat: a 50-turn chat on stories260K through engine/chat.h in a 256-token context (the
#      context fills in messages and in replies; the oldest exchanges are dropped, turns resume)
#        a. under ASan + UBSan + LeakSanitizer, plain completion (the model's) and ChatML
#           templates: no leak, no invalid access;
#        b. in Release: memory flat, VmHWM after turn 50 no more than 1 MiB above VmHWM after
#           turn 5 (turns 1-5 warm up).
#   3. tui_soak.sh: the explorer in tmux, random keys from the key table and random resizes
#      between 20x6 and 250x80 (see its header)
#        a. Release binary, 5,000 keys: alive throughout, exit 0, empty stderr, memory flat
#           (median over the last half of the keys of RssAnon - heap in use at most 1 MiB);
#        b. ASan binary, 1,500 keys: alive throughout, exit 0, no sanitizer report, no leak.
# Each prints its memory figures as it goes and a summary. Took 11 minutes on a 2-core machine
# busy with two fuzzers (most of it the ASan runs and the paced keys of the TUI soak); figures in
# tests/long/README.md.
# Usage: bash tests/long/run_long.sh [TOKENS [TURNS [KEYS]]]   (defaults 10000 50 5000)
# Environment: BUILD (default build), BUILD_ASAN (default build-asan): configured and built
#   here with BUILD_JOBS (default nproc) jobs; SEED for the TUI soak (default 1);
#   ONLY=generate|chat|tui runs one of the three.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tokens=${1:-10000}
turns=${2:-50}
keys=${3:-5000}
only=${ONLY:-}
build=${BUILD:-$root/build}
asan=${BUILD_ASAN:-$root/build-asan}
jobs=${BUILD_JOBS:-$(nproc)}
cmake -S "$root" -B "$build" -DQS_WERROR=ON >/dev/null
cmake --build "$build" -j"$jobs" --target long_generate long_chat quantscope >/dev/null
cmake -S "$root" -B "$asan" -DQS_WERROR=ON -DQS_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQS_BENCH=OFF >/dev/null
cmake --build "$asan" -j"$jobs" --target long_generate long_chat quantscope >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ -z "$only" ] || [ "$only" = generate ]; then
  echo "== long_generate: ASan + UBSan + LeakSanitizer"
  "$asan/tests/long_generate" --tokens "$tokens" --threads 2
  echo "== long_generate: Release, memory flat"
  "$build/tests/long_generate" --tokens "$tokens" --check-flat 1024
fi
if [ -z "$only" ] || [ "$only" = chat ]; then
  echo "== long_chat: ASan + UBSan + LeakSanitizer (completion, then ChatML)"
  "$asan/tests/long_chat" --turns "$turns" --threads 2
  "$asan/tests/long_chat" --turns "$turns" --template chatml
  echo "== long_chat: Release, memory flat"
  "$build/tests/long_chat" --turns "$turns" --check-flat 1024
fi
if [ -z "$only" ] || [ "$only" = tui ]; then
  echo "== tui_soak: Release, memory flat"
  bash "$root/tests/long/tui_soak.sh" "$build/quantscope" "$keys"
  echo "== tui_soak: ASan + UBSan + LeakSanitizer"
  FLAT_KIB=-1 bash "$root/tests/long/tui_soak.sh" "$asan/quantscope" $((keys * 3 / 10))
fi
echo "long runs: ok"
