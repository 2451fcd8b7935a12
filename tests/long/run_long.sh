#!/usr/bin/env bash
# Long runs (issue 6, "Long runs"): a 10,000-token generation on stories260K
#   1. under ASan + UBSan + LeakSanitizer (build-asan): no leak, no invalid access, 2 threads;
#   2. in Release (build): memory flat, VmHWM may not grow by more than 1 MiB after token 1,000.
# Each prints VmRSS / VmHWM every 1,000 tokens and a summary. Takes about 2 minutes (ASan).
# Usage: bash tests/long/run_long.sh [TOKENS]
# Environment: BUILD (default build), BUILD_ASAN (default build-asan): configured and built here.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tokens=${1:-10000}
build=${BUILD:-$root/build}
asan=${BUILD_ASAN:-$root/build-asan}
cmake -S "$root" -B "$build" -DQS_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target long_generate >/dev/null
cmake -S "$root" -B "$asan" -DQS_WERROR=ON -DQS_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQS_BENCH=OFF >/dev/null
cmake --build "$asan" -j"$(nproc)" --target long_generate >/dev/null

echo "== ASan + UBSan + LeakSanitizer"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$asan/tests/long_generate" --tokens "$tokens" --threads 2
echo "== Release, memory flat"
"$build/tests/long_generate" --tokens "$tokens" --check-flat 1024
echo "long runs: ok"
