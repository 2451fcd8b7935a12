#!/usr/bin/env bash
# bench_first_screen.sh — time from starting `quantscope MODEL` until its first full frame is on
# screen, for an 8B-shape model (the explorer promises that frame within half a second: it maps
# the file and reads no weights before it).
#
# Usage: bench/bench_first_screen.sh QUANTSCOPE [WORKDIR] [RUNS]
#   WORKDIR  where the model is made once (default ${TMPDIR:-/tmp}/quantscope-bench; never the
#            repository): `quantscope synth --shape llama-3.1-8b` (15 GiB F16), or mistral-7b
#            (13.5 GiB) when the disk has not room for the 8B with 4 GiB to spare
#   RUNS     runs per cache state (default 7)
#
# Each run starts the explorer on a fresh 120x40 pseudo-terminal and reads its output until the
# bottom bar's "Quit" arrives (ncurses writes the first frame top to bottom, the bar last), then
# sends q. Printed: the median and range of the runs, with the model's page cache warm (an
# untimed run before) and cold (evicted before each run, see evict below), and the harness's own overhead
# (the same on a shell script that prints "q Quit" at once).
# Medians only: the figures depend on the machine and its load; no threshold is asserted.
set -u
QS=${1:?usage: bench_first_screen.sh QUANTSCOPE [WORKDIR] [RUNS]}
DIR=${2:-${TMPDIR:-/tmp}/quantscope-bench}
RUNS=${3:-7}
case "$QS" in /*) ;; *) QS=$(pwd)/$QS ;; esac
command -v python3 >/dev/null || { echo "needs python3" >&2; exit 2; }
mkdir -p "$DIR"

# ---- the model (made once) ------------------------------------------------------------------------
pick_model() {
    local shape f
    for shape in llama-3.1-8b mistral-7b; do
        f=$DIR/$shape.gguf
        if [ -s "$f" ]; then echo "$shape"; return 0; fi
    done
    local free_kb
    free_kb=$(df -Pk "$DIR" | awk 'NR == 2 { print $4 }')
    # 15 GiB (8B F16) or 13.5 GiB (7B) plus 4 GiB to spare
    if [ "$free_kb" -ge $(( (15 + 4) * 1024 * 1024 )) ]; then echo llama-3.1-8b
    elif [ "$free_kb" -ge $(( (14 + 4) * 1024 * 1024 )) ]; then echo mistral-7b
    else return 1; fi
}
SHAPE=$(pick_model) || { echo "not enough free disk in $DIR for an 8B or 7B model (df: $(df -h "$DIR" | tail -1))" >&2; exit 2; }
MODEL=$DIR/$SHAPE.gguf
if [ ! -s "$MODEL" ]; then
    echo "making $MODEL (quantscope synth --shape $SHAPE; once)..."
    "$QS" synth --shape "$SHAPE" -o "$MODEL" >/dev/null || exit 1
fi

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export LANG=C.UTF-8 LC_ALL=C.UTF-8 XDG_CONFIG_HOME=$T/config XDG_CACHE_HOME=$T/cache TERM=xterm-256color

# time_one CMD...: seconds from starting CMD on a 120x40 pseudo-terminal until its output holds
# the bottom bar's "Quit" (ncurses writes a frame top to bottom: the bar is its last row), then q
time_one() {
    python3 - "$@" <<'PY'
import fcntl, os, select, signal, struct, subprocess, sys, termios, time
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
t0 = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
os.close(slave)
buf = b""
while b"Quit" not in buf:
    r, _, _ = select.select([master], [], [], 60 - (time.monotonic() - t0))
    if not r:
        print("timeout", file=sys.stderr); p.kill(); sys.exit(1)
    try:
        chunk = os.read(master, 65536)
    except OSError:
        chunk = b""
    if not chunk:
        print("the program ended before its first frame", file=sys.stderr); sys.exit(1)
    buf += chunk
t = time.monotonic() - t0
os.write(master, b"q")
try:
    while p.poll() is None:
        r, _, _ = select.select([master], [], [], 5)
        if not r: break
        os.read(master, 65536)
except OSError:
    pass
try: p.wait(5)
except subprocess.TimeoutExpired: p.kill(); p.wait()
print(f"{t:.4f}")
PY
}

# cold: the model's pages dropped from the page cache (posix_fadvise DONTNEED: clean pages of
# that one file, no privileges needed, nothing else on the machine disturbed); with
# QS_BENCH_DROP_CACHES=1 the whole cache (echo 3 > drop_caches, when permitted)
evict() {
    if [ "${QS_BENCH_DROP_CACHES:-0}" = 1 ] && sync && (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
        EVICT="drop_caches"
    else
        python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$MODEL"
        EVICT="posix_fadvise DONTNEED on the model"
    fi
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "median %.3f s  (min %.3f, max %.3f, %d runs)", m, v[1], v[NR], NR }'; }

# a stand-in that prints its frame at once and quits on a key: what starting a process and
# reading the terminal cost
printf '#!/bin/sh\nprintf "q Quit"\nhead -c 1 >/dev/null\n' >"$T/fake.sh"
chmod +x "$T/fake.sh"

size=$(du -h "$MODEL" | cut -f1)
echo "first full frame of: quantscope $MODEL ($SHAPE, $size), 120x40 pseudo-terminal"
cold=() warm=() base=()
time_one "$QS" "$MODEL" >/dev/null # warm: what the first screen reads (never all 15 GiB)
for ((i = 0; i < RUNS; i++)); do warm+=("$(time_one "$QS" "$MODEL")"); done
for ((i = 0; i < RUNS; i++)); do evict; cold+=("$(time_one "$QS" "$MODEL")"); done
for ((i = 0; i < RUNS; i++)); do base+=("$(time_one "$T/fake.sh")"); done
echo "warm page cache:   $(printf '%s\n' "${warm[@]}" | median)"
echo "cold page cache:   $(printf '%s\n' "${cold[@]}" | median)  [evicted by $EVICT]"
echo "harness overhead:  $(printf '%s\n' "${base[@]}" | median)  (a script printing "q Quit" at once)"
