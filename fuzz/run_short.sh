#!/usr/bin/env bash
# The short fuzz run of CI: every harness for FUZZ_SECONDS (default 60) from its seeds (run.sh), one after the other. Exits non-zero when any harness finds a crash, a sanitizer report,
# a leak or a timeout (its log and the input that triggered it are printed). For each harness one
# summary line: executions, coverage (cov: edges, ft: features) and corpus size.
# Usage: fuzz/run_short.sh [HARNESS...]   (default: all)
# Environment: as fuzz/run.sh (FUZZ_BUILD, FUZZ_WORK, FUZZ_TIMEOUT).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-$here/../build-fuzz}
export FUZZ_BUILD=$build
export FUZZ_WORK=${FUZZ_WORK:-$build/work-short}
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(gguf imatrix plan theme tok cli)
# build them all at once (the per-harness build in run.sh is then a no-op)
CC=${CC:-clang} cmake -S "$here/.." -B "$build" -DQS_FUZZ=ON -DQS_TESTS=OFF -DQS_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$build" -j"$(nproc)" >/dev/null || exit 1
failed=()
for h in "${harnesses[@]}"; do
  log=$FUZZ_WORK/$h.log
  mkdir -p "$FUZZ_WORK"
  rm -rf "${FUZZ_WORK:?}/$h"
  if "$here/run.sh" "$h" "$secs" >"$log" 2>&1; then
    printf '%-7s ok    %s | %s\n' "$h" "$(grep -a 'DONE\|#[0-9]* *\(pulse\|NEW\|REDUCE\)' "$log" | tail -1 | sed 's/ *lim:.*//')" \
      "$(grep -a '^stat::number_of_executed_units' "$log" | sed 's/stat::number_of_executed_units: */execs /')"
  else
    failed+=("$h")
    echo "== $h FAILED: last lines of $log" >&2
    grep -av 'Uses:\|^"' "$log" | tail -60 >&2
    ls "$FUZZ_WORK/$h"/crash-* "$FUZZ_WORK/$h"/leak-* "$FUZZ_WORK/$h"/timeout-* "$FUZZ_WORK/$h"/oom-* 2>/dev/null >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#harnesses[@]} harnesses, ${secs} s each, no finding"
