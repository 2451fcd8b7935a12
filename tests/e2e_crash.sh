#!/usr/bin/env bash
# End-to-end: writes survive crashes. quantscope is SIGKILLed at many points while it exports a
# GGUF ('quantize') and saves a plan ('plan -o'), and after every kill:
#   - the destination is absent or the previous complete file (byte-compared), or, when the kill
#     came after the rename, the new complete file (byte-compared with an uninterrupted run);
#   - the input model is unchanged (sha256);
#   - a later run to the same destination succeeds and leaves no OUT.tmp.* behind (stale ones
#     of the killed run are removed: engine/qs_tmpfile.h).
# Kill points: (1) deterministic, with strace injecting SIGKILL at the k-th call of each
# syscall the writer makes (flock, every write — 1 MiB writes that cut through tensors —, fsync,
# rename) and at thread starts during conversion (one per tensor conversion: mid-export, writer
# buffer half full); (2) random delays over an uninterrupted run's duration. Then: two exports
# and many plan saves to the same paths at once (cleaning never deletes a live writer's file),
# names that only look like temporary files are never touched, and disk full (ulimit -f, and a
# 1 MiB tmpfs when user namespaces allow mounting one): exit 1, a message naming the temporary
# file, the partial file removed, nothing else in the folder changed.
# Usage: e2e_crash.sh QUANTSCOPE SHARED_DIR
#   CRASH_STRIDE=N  use every N-th thread-start kill point (default 4; 1 = all of them)
#   CRASH_RANDOM=N  random-delay kills (default 12)
set -u
QS=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export XDG_CACHE_HOME=$T/cache
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
sha() { sha256sum "$1" | cut -d' ' -f1; }
tmps() { ls -1 "$1".tmp.* 2>/dev/null | wc -l; }
stride=${CRASH_STRIDE:-4}
nrandom=${CRASH_RANDOM:-12}

IN=$T/in.gguf
"$QS" synth --shape tiny --type F32 -o "$IN" >/dev/null || { echo "FAIL: synth" >&2; exit 1; }
in_sha=$(sha "$IN")
W=$T/w
mkdir -p "$W"
OUT=$W/out.gguf
# references: the previous file (another preset) and the new file, each from an uninterrupted run
"$QS" quantize "$IN" --preset Q4_0 "$T/prev.gguf" >/dev/null || bad "reference export (Q4_0)"
"$QS" quantize "$IN" --preset Q8_0 "$T/new.gguf" >/dev/null || bad "reference export (Q8_0)"
"$QS" quantize "$IN" --preset Q8_0 "$T/new2.gguf" --threads 1 >/dev/null || bad "reference export, 1 thread"
if cmp -s "$T/new.gguf" "$T/new2.gguf"; then ok; else bad "exports are not deterministic: the byte comparisons below would mean nothing"; fi
new_size=$(stat -c %s "$T/new.gguf")
EXPORT=("$QS" quantize "$IN" --preset Q8_0 "$OUT" --force --threads 2)
PLAN=$W/plan.yaml
"$QS" plan "$IN" --preset Q8_0 -o "$T/plan_prev.yaml" >/dev/null || bad "reference plan (Q8_0)"
"$QS" plan "$IN" --preset Q4_K_M -o "$T/plan_new.yaml" >/dev/null || bad "reference plan (Q4_K_M)"
SAVE=("$QS" plan "$IN" --preset Q4_K_M -o "$PLAN")

partial=0   # kills that left a partial temporary file (0 < size < final)
after=0     # kills that came after the rename (destination = the new file)
# check WHAT DEST PREV NEW FINAL_SIZE RERUN...: the state after a kill (PREV is the file DEST
# held before, or "none"), then a later run
check() {
    local what=$1 dest=$2 prev=$3 new=$4 size=$5
    shift 5
    if [ -e "$dest" ]; then
        if [ "$prev" != none ] && cmp -s "$dest" "$prev"; then
            ok
        elif cmp -s "$dest" "$new"; then
            after=$((after + 1))
            ok
        else
            bad "$what: $dest is neither the previous nor the new complete file"
        fi
    elif [ "$prev" = none ]; then
        ok
    else
        bad "$what: the previous $dest is gone"
    fi
    if [ "$(sha "$IN")" = "$in_sha" ]; then ok; else bad "$what: the input model changed"; fi
    local t
    for t in "$dest".tmp.*; do
        [ -e "$t" ] || continue
        local s
        s=$(stat -c %s "$t")
        if [ "$s" -gt 0 ] && [ "$s" -lt "$size" ]; then partial=$((partial + 1)); fi
    done
    # a later run: succeeds and cleans up the killed run's temporary file
    if "$@" >"$T/rerun.out" 2>"$T/rerun.err"; then ok; else bad "$what: the run after the kill failed: $(head -c 300 "$T/rerun.err")"; fi
    if [ "$(tmps "$dest")" = 0 ]; then ok; else bad "$what: stale temporary files left after a later run: $(ls "$dest".tmp.*)"; fi
    if cmp -s "$dest" "$new"; then ok; else bad "$what: the later run did not write the new file"; fi
}

# ---------------------------------------------------------------- deterministic kill points
if command -v strace >/dev/null && strace -qq -o /dev/null true 2>/dev/null; then
    # LeakSanitizer cannot run under ptrace: runs under strace skip the leak check
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
    # kill_at SYSCALL K DEST PREV NEW SIZE CMD...: run CMD with DEST = PREV (odd K) or no DEST
    # (even K), killed at the K-th SYSCALL
    kill_at() {
        local sc=$1 k=$2 dest=$3 prev=$4 new=$5 size=$6
        shift 6
        if ((k % 2)); then cp "$prev" "$dest"; else rm -f "$dest" && prev=none; fi
        # (a subshell, so that the shell's "Killed" notice goes nowhere)
        (strace -f -qq -o /dev/null -e trace="$sc" -e inject="$sc":signal=KILL:when="$k" "$@" >/dev/null 2>"$T/kill.err") 2>/dev/null
        local rc=$?
        if [ "$rc" = 137 ]; then ok; else bad "kill at $sc #$k of ${*:1:3}: exit $rc, expected death by SIGKILL (137): $(head -c 300 "$T/kill.err")"; fi
        check "kill at $sc #$k" "$dest" "$prev" "$new" "$size" "$@"
    }
    # count SYSCALL CMD...: how many times an uninterrupted run makes SYSCALL
    count() {
        local sc=$1
        shift
        strace -f -qq -o "$T/trace" -e trace="$sc" "$@" >/dev/null 2>&1
        grep -c "$sc(" "$T/trace"
    }
    npoints=0
    cp "$T/prev.gguf" "$OUT"
    for sc in flock write fsync rename clone3; do
        n=$(count "$sc" "${EXPORT[@]}")
        step=1
        [ "$sc" = clone3 ] && step=$stride
        [ "$sc" = write ] && [ "$n" -lt 4 ] && bad "export made only $n writes: no kill mid-file"
        for ((k = 1; k <= n; k += step)); do
            kill_at "$sc" "$k" "$OUT" "$T/prev.gguf" "$T/new.gguf" "$new_size" "${EXPORT[@]}"
            npoints=$((npoints + 1))
        done
    done
    if [ "$partial" -gt 0 ]; then ok; else bad "no kill left a partial temporary file: mid-file kills not exercised"; fi
    echo "export: $npoints kill points, $partial left a partial temporary file, $after came after the rename"

    partial=0 after=0 npoints=0
    plan_size=$(stat -c %s "$T/plan_new.yaml")
    cp "$T/plan_prev.yaml" "$PLAN"
    for sc in flock write fsync rename; do
        n=$(count "$sc" "${SAVE[@]}")
        for ((k = 1; k <= n; k++)); do
            kill_at "$sc" "$k" "$PLAN" "$T/plan_prev.yaml" "$T/plan_new.yaml" "$plan_size" "${SAVE[@]}"
            npoints=$((npoints + 1))
        done
    done
    echo "plan save: $npoints kill points, $after came after the rename"
else
    if [ -n "${CI:-}" ]; then bad "strace is missing or cannot trace here (ptrace not allowed?) under CI: .ci/setup installs it"; fi
    echo "skipping the deterministic kill points: strace not usable here"
fi

# ---------------------------------------------------------------- kills at random delays
t0=$(date +%s%N)
"${EXPORT[@]}" >/dev/null 2>&1 || bad "uninterrupted export"
dur_ms=$((($(date +%s%N) - t0) / 1000000))
partial=0 after=0
for ((i = 0; i < nrandom; i++)); do
    cp "$T/prev.gguf" "$OUT"
    # spread over 0 .. 1.1 x the uninterrupted duration (where they land is not asserted)
    delay=$(awk -v i="$i" -v n="$nrandom" -v d="$dur_ms" 'BEGIN { printf "%.3f", (i + 0.5) / n * 1.1 * d / 1000 }')
    prev=$T/prev.gguf
    ((i % 2)) && rm -f "$OUT" && prev=none
    "${EXPORT[@]}" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    check "random kill after ${delay}s" "$OUT" "$prev" "$T/new.gguf" "$new_size" "${EXPORT[@]}"
done
echo "random kills: $nrandom over ${dur_ms} ms, $partial left a partial temporary file, $after came after the rename"

# ---------------------------------------------------------------- concurrent writers
# Each run cleans stale temporary files when it starts: a live writer's file must survive that.
rm -f "$OUT"
"${EXPORT[@]}" >"$T/a.out" 2>"$T/a.err" &
a=$!
for i in 1 2 3; do
    if "${EXPORT[@]}" >/dev/null 2>"$T/b.err"; then ok; else bad "concurrent export $i failed: $(head -c 300 "$T/b.err")"; fi
done
if wait "$a"; then ok; else bad "export running beside others failed: $(head -c 300 "$T/a.err")"; fi
if cmp -s "$OUT" "$T/new.gguf"; then ok; else bad "concurrent exports: result is not the complete file"; fi
if [ "$(tmps "$OUT")" = 0 ]; then ok; else bad "concurrent exports left temporary files"; fi
saver() {
    local i
    for ((i = 0; i < 40; i++)); do "${SAVE[@]}" >/dev/null 2>>"$T/save.err" || echo x >>"$T/save.fail"; done
}
rm -f "$T/save.fail"
saver &
s1=$!
saver &
s2=$!
saver
wait "$s1" "$s2"
if [ ! -e "$T/save.fail" ]; then ok; else bad "$(wc -l <"$T/save.fail") of 120 concurrent plan saves failed: $(head -c 300 "$T/save.err")"; fi
if cmp -s "$PLAN" "$T/plan_new.yaml"; then ok; else bad "concurrent plan saves: result is not the complete file"; fi
if [ "$(tmps "$PLAN")" = 0 ]; then ok; else bad "concurrent plan saves left temporary files"; fi

# ---------------------------------------------------------------- look-alikes are never removed
for n in out.gguf.tmp.keep-me out.gguf.tmp.ABCDEFG out.gguf.tmp.ABC-EF out.gguf.tmp. other.gguf.tmp.ABCDEF; do
    echo "user data" >"$W/$n"
done
mkdir -p "$W/out.gguf.tmp.Dir123"
echo "link target" >"$T/target"
ln -s "$T/target" "$W/out.gguf.tmp.Link12"
echo "stale" >"$W/out.gguf.tmp.Stale1" # an unlocked leftover with the exact form: removed
"${EXPORT[@]}" >/dev/null 2>"$T/err" || bad "export beside look-alikes: $(head -c 300 "$T/err")"
for n in out.gguf.tmp.keep-me out.gguf.tmp.ABCDEFG out.gguf.tmp.ABC-EF out.gguf.tmp. other.gguf.tmp.ABCDEF; do
    if [ "$(cat "$W/$n" 2>/dev/null)" = "user data" ]; then ok; else bad "cleanup touched $n"; fi
    rm -f "$W/$n"
done
if [ -d "$W/out.gguf.tmp.Dir123" ] && [ -L "$W/out.gguf.tmp.Link12" ] && [ "$(cat "$T/target")" = "link target" ]; then ok; else bad "cleanup touched a folder, a symlink or its target"; fi
if [ ! -e "$W/out.gguf.tmp.Stale1" ]; then ok; else bad "a stale temporary file was not removed"; fi
rmdir "$W/out.gguf.tmp.Dir123"
rm -f "$W/out.gguf.tmp.Link12"

# ---------------------------------------------------------------- disk full
# snapshot: every file of the folder with its hash (the disk-full runs must change nothing)
snap() { (cd "$W" && find . -printf '%p %s %m\n' | sort && find . -type f -exec sha256sum {} + | sort); }
cp "$T/prev.gguf" "$OUT"
snap >"$T/snap.before"
# the limit is set in a child shell; its output goes through a pipe (not limited) to the file
bash -c 'ulimit -f 1024; exec "$@"' sh "${EXPORT[@]}" 2>&1 | cat >"$T/full.err"
rc=${PIPESTATUS[0]}
if [ "$rc" = 1 ]; then ok; else bad "export past ulimit -f: exit $rc, expected 1"; fi
if grep -q "out.gguf.tmp.[A-Za-z0-9]\{6\}: File too large (temporary file removed)" "$T/full.err"; then ok; else bad "export past ulimit -f: message does not name the temporary file and the cause: $(cat "$T/full.err")"; fi
snap >"$T/snap.after"
if cmp -s "$T/snap.before" "$T/snap.after"; then ok; else bad "export past ulimit -f changed the folder: $(diff "$T/snap.before" "$T/snap.after" | head -5)"; fi
cp "$T/plan_prev.yaml" "$PLAN"
snap >"$T/snap.before"
bash -c 'ulimit -f 0; exec "$@"' sh "${SAVE[@]}" 2>&1 | cat >"$T/full.err"
rc=${PIPESTATUS[0]}
if [ "$rc" = 1 ]; then ok; else bad "plan save past ulimit -f: exit $rc, expected 1"; fi
if grep -q "plan.yaml.tmp.[A-Za-z0-9]\{6\}: write failed: File too large (temporary file removed)" "$T/full.err"; then ok; else bad "plan save past ulimit -f: message: $(cat "$T/full.err")"; fi
snap >"$T/snap.after"
if cmp -s "$T/snap.before" "$T/snap.after"; then ok; else bad "plan save past ulimit -f changed the folder"; fi

# a real full filesystem: a 1 MiB tmpfs in a private mount namespace, where that is allowed
cat >"$T/tmpfs.sh" <<'INNER'
mount -t tmpfs -o size=1m tmpfs "$SMALL" 2>/dev/null || exit 99
echo previous >"$SMALL/out.gguf"
"$QS" quantize "$IN" --preset Q8_0 "$SMALL/out.gguf" --force --threads 2 2>"$T/tmpfs.err"
echo $? >"$T/tmpfs.rc"
cat "$SMALL/out.gguf" >"$T/tmpfs.out"
ls -A "$SMALL" >"$T/tmpfs.ls"
INNER
mkdir -p "$T/small"
if SMALL=$T/small QS=$QS IN=$IN T=$T unshare -rm bash "$T/tmpfs.sh" 2>/dev/null; then
    if [ "$(cat "$T/tmpfs.rc")" = 1 ]; then ok; else bad "export to a full tmpfs: exit $(cat "$T/tmpfs.rc"), expected 1"; fi
    if grep -q "out.gguf.tmp.[A-Za-z0-9]\{6\}: No space left on device (temporary file removed)" "$T/tmpfs.err"; then ok; else bad "export to a full tmpfs: message: $(cat "$T/tmpfs.err")"; fi
    if [ "$(cat "$T/tmpfs.out")" = previous ] && [ "$(cat "$T/tmpfs.ls")" = out.gguf ]; then ok; else bad "export to a full tmpfs: the folder changed: $(cat "$T/tmpfs.ls")"; fi
    echo "tmpfs disk full: checked"
else
    echo "skipping the tmpfs disk-full check: cannot mount a tmpfs in a user namespace here"
fi

echo "e2e_crash: $pass checks passed, $fails failed"
[ "$fails" = 0 ]
