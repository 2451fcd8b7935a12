#!/usr/bin/env bash
# TUI soak (issue 6, "Long runs"): the explorer on stories260K in a tmux session, driven by
# thousands of random keys drawn from the real key table (tui/tui_keys.c), weighted towards what
# the views do: view switches and movement, +/- on blocks, tensors, context and GPU layers,
# presets, keep-first/last, rules typed with bad (and good) regexes, / searches, Esc, chat sends
# whose replies are short (the plan's context is 512 tokens, so they also fill it and F4 drops
# old turns), A/B and sampling toggles, plan saves / opens / exports (all inside a temporary
# directory: the program runs there, its plan file is there, nothing is written into the
# repository) — and resizes at random between 20x6 and 250x80.
#
# Never sent until the end: q, F10, ^C, ^Z (no quit prompt is ever answered). At the end: Esc
# (out of overlays and prompts), F10, and "y" to the unsaved-changes question; the program must
# then exit 0 with an empty stderr (so under ASan: no sanitizer report, no leak).
#
# Checks, besides that exit:
#   - alive throughout: the process is checked every 25 keys and after every resize;
#   - memory flat (Release; ASan's quarantine and shadow memory make RSS meaningless there, so
#     there it is printed only). Measured: RssAnon (anonymous pages: the heaps, the malloc arenas
#     of the worker threads, stacks; not file pages such as the libraries or the model mapping,
#     which come and go with the page cache) and the heap in use, which the program writes to a
#     file (QS_TUI_MEMSTATS, glibc mallinfo2). After a warm-up (the terminal at 250x80 once, so
#     ncurses' screens have their largest size from the start), flat means: the median over the
#     last 50% of the keys of RssAnon - heap in use is at most FLAT_KIB (default 1024 KiB), i.e.
#     the allocator does not keep freed pages resident for good. The median, because a job's
#     freed buffers stay until it ends (its worker then trims, tui/tui_jobs.c) and the two
#     figures are read a few ms apart: single samples reach +3 MiB. RSS itself may follow what
#     the program really holds (both chat contexts in A/B mode at a 2,048-token context: ~5 MiB
#     more), so it is printed, not checked. Pages allocated but not yet touched (the unfilled
#     part of a KV cache) count against the excess: it is a lower bound. Before the fix described
#     in tests/long/README.md (freed pages kept in the workers' malloc arenas) that median was
#     +2.7 MiB over the last half of 8,000 keys of seed 3; after it -1.3 MiB (seed 3) and +0.35
#     MiB (12,000 keys, seed 1). Without glibc (no heap figures) the peak RssAnon of the last 50%
#     may exceed that of keys 10%..50% by at most 2 x FLAT_KIB.
# The key sequence depends only on SEED (default 1): a failure is replayed with the same SEED
# (timing differs: replies stream in the background while keys arrive).
#
# Usage: bash tests/long/tui_soak.sh QUANTSCOPE [KEYS]     (KEYS default 5000)
# Environment: SEED, FLAT_KIB (negative: do not check), CHAT=0 (no chat sends), RESIZES=0 (no
#   resizes), VIEW=N (stay in view N, 1-6, with its own keys), MODEL (default
#   ../shared/models/stories260K.gguf beside the repository), KEY_DELAY (seconds between keys,
#   default 0.01), SAMPLES=FILE writes every sample (keys, VmRSS, RssAnon, heap in use in KiB),
#   KEEP=1 keeps the temporary directory (its path is printed), WRAP (a command
#   the program runs under, e.g. WRAP="heaptrack -o /tmp/soak" to see what holds memory;
#   heaptrack's own lines on stderr then fail the empty-stderr check, which is expected).
# tests/long/run_long.sh runs it on the Release binary (5,000 keys) and the ASan binary (1,500).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { sed -n '2,45p' "$0" >&2; exit 2; }
QS=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
KEYS=${2:-5000}
MODEL=${MODEL:-$here/../../../shared/models/stories260K.gguf}
[ -r "$MODEL" ] || { echo "tui_soak: $MODEL not found" >&2; exit 1; }
command -v tmux >/dev/null || { echo "tui_soak: tmux not found" >&2; exit 1; }
MODEL=$(cd "$(dirname "$MODEL")" && pwd)/$(basename "$MODEL")
exec python3 - "$QS" "$KEYS" "$MODEL" "${SEED:-1}" "${FLAT_KIB:-1024}" "${KEY_DELAY:-0.01}" "${KEEP:-0}" <<'PY'
import atexit, os, random, shutil, subprocess, sys, tempfile, time

qs, n_keys, model, seed, flat_kib, delay, keep = sys.argv[1:8]
n_keys, seed, flat_kib, delay = int(n_keys), int(seed), int(flat_kib), float(delay)
rng = random.Random(seed)
T = tempfile.mkdtemp(prefix="qs_tui_soak.")
sock = "qs_tui_soak_%d" % os.getpid()

def tm(*args, check=True):
    return subprocess.run(["tmux", "-L", sock, "-f", "/dev/null"] + list(args), check=check,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout

cleaned = []
trace = []  # the steps sent (keys sent before each), the last ones printed on a failure

def cleanup():
    if cleaned:
        return
    cleaned.append(1)
    tm("kill-server", check=False)
    if keep == "1":
        print("tui_soak: kept", T)
    else:
        shutil.rmtree(T, ignore_errors=True)

atexit.register(lambda: cleanup())

def fail(msg):
    print("tui_soak: FAIL:", msg, file=sys.stderr)
    print("tui_soak: the last steps (keys sent before each: keys):\n  " + "\n  ".join(trace[-15:]),
          file=sys.stderr)
    try:
        print(tm("capture-pane", "-p", "-t", "soak", check=False), file=sys.stderr)
        err = open(os.path.join(T, "err"), errors="replace").read()
        if err:
            print("tui_soak: stderr of the program:\n" + err[-4000:], file=sys.stderr)
    except OSError:
        pass
    cleanup()
    sys.exit(1)

with open(os.path.join(T, "plan.yaml"), "w") as f:
    f.write("version: 1\ndefault: F32\ncontext: 512\n")
memstats = os.path.join(T, "memstats")
env = ["env", "TERM=xterm-256color", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "QS_TUI_MEMSTATS=" + memstats,
       "XDG_CONFIG_HOME=" + T + "/config", "XDG_CACHE_HOME=" + T + "/cache", "HOME=" + T]
cmd = "cd %s && %s %s %s %s --plan plan.yaml 2>err; echo $? >rc; sleep 3600" % (
    T, " ".join(env), os.environ.get("WRAP", ""), qs, model)
with open(os.path.join(T, "cmd"), "w") as f:
    f.write(cmd + "\n")
tm("new-session", "-d", "-s", "soak", "-x", "120", "-y", "40", "sh " + T + "/cmd")
pane = int(tm("display-message", "-p", "-t", "soak", "#{pane_pid}").strip())

def ppid(p):
    st = open("/proc/%s/stat" % p).read()
    return int(st[st.rindex(")") + 2:].split()[1])

def child_pid():
    """The program: a descendant of the pane's shell (a WRAP command may sit between them)."""
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if os.path.basename(os.readlink("/proc/%s/exe" % p)) != os.path.basename(qs):
                continue
            q = int(p)
            while q > 1:
                q = ppid(q)
                if q == pane:
                    return int(p)
        except OSError:
            continue
    return None

pid = None
for _ in range(600):
    pid = child_pid()
    if pid and "quantscope" in tm("capture-pane", "-p", "-t", "soak", check=False):
        break
    time.sleep(0.05)
if not pid:
    fail("the program did not start")

def status():
    rss = anon = hwm = thr = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"): rss = int(line.split()[1])
            if line.startswith("VmHWM:"): hwm = int(line.split()[1])
            if line.startswith("RssAnon:"): anon = int(line.split()[1])
            if line.startswith("Threads:"): thr = int(line.split()[1])
            if line.startswith("State:") and line.split()[1] in ("Z", "X"):
                raise OSError("zombie")
    return rss, anon, hwm, thr

def in_use_kib():
    """The heap the program holds (QS_TUI_MEMSTATS, written by the program), None if absent."""
    try:
        f = open(memstats).read().split()
        v = int(f[1]) // 1024
        return v if v > 0 else None  # 0: not glibc's allocator (ASan's), no figure
    except (OSError, IndexError, ValueError):
        return None

def alive(where):
    if os.path.exists(os.path.join(T, "rc")):
        fail("the program exited (status %s) %s" % (open(os.path.join(T, "rc")).read().strip(), where))
    try:
        return status()
    except OSError:
        fail("the program is gone %s" % where)

# ---- the key vocabulary -------------------------------------------------------------------
# tmux key names of every key in tui/tui_keys.c but q, F10 (quit) and the ones below
NAV = ["Up", "Down", "k", "j", "PPage", "NPage", "Home", "End"]
VIEWS = ["Tab", "BTab", "1", "2", "3", "4", "5", "6", "c"]
LAYERS = ["Enter", "Space", "+", "=", "-", "x", "p", "r", "w", "R", "K", "/", "n", "N"]
MEMORY = ["+", "=", "-", "c", "v", "g", "G", "d", "D"]
ERRORS = ["+", "-", "[", "]", "x", "R", "Escape"]
TRADE = ["Enter", "b", "[", "]", "Escape", "R"]
RULES = ["a", "IC", "Enter", "e", "d", "DC", "K", "J", "+", "-"]
KEEP = ["Tab", "Right", "BTab", "Left", "Up", "+", "Down", "-", "x", "Enter"]
CHATK = ["F2", "F3", "F4", "F5", "F8", "Left", "Right", "Home", "End", "BSpace", "DC", "C-a", "C-e", "C-u"]
MISC = ["?", "F1", "C-l", "Escape", "Enter", "C-k", "C-w"]
FILES = ["s", "S", "o", "e"]
WORDS = ["Once upon a time", "Lily and Tom went to the", "hello", "the dog", "a big red ball",
         "Tom", "and then", "", "zz", "\u00e9t\u00e9 \u2603", "blk.0", "ffn"]
BAD_RE = ["blk\\.[0-9", "(((", "*attn", "a{99999999}", "[z-a]", "\\", "ffn_(up|down", "+",
          "", "blk.(0|", "?", "attn_[", ")", "x**", "[[:alpha:", "blk\\.\\d+\\.ffn"]
GOOD_RE = ["attn_v", "blk\\.[0-2]\\.ffn_down", "output", "token_embd", "ffn_(up|gate)", "attn_k|attn_v"]
SEARCH = ["attn", "blk.1", "zzz", "ffn_d", "(", "", "output", "weight"]
CTX = ["4096", "abc", "0", "99999999999", "2k", "-5", "512", "1.5k"]
PATHS = ["soak.yaml", "plan.yaml", "missing/dir/x.yaml", "soak.gguf", "", "out.gguf", "../soak2.yaml"]

# typed text lands wherever the focus is, also in a view where q quits: no q in any of it
assert not any("q" in w for w in WORDS + BAD_RE + GOOD_RE + SEARCH + CTX + PATHS)

def text(s):
    return [("-l", "--", s)] if s else []

# experiment knobs (see the header): CHAT=0 sends no chat messages, RESIZES=0 no resizes, VIEW=N
# stays in view N (1-6) with that view's keys and movement only
chat_on = os.environ.get("CHAT", "1") != "0"
resize_p = 0.06 if os.environ.get("RESIZES", "1") != "0" else 0.0
one_view = os.environ.get("VIEW", "")
VIEW_KEYS = {"1": NAV, "2": NAV + LAYERS, "3": NAV + MEMORY, "4": NAV + ERRORS, "5": NAV + TRADE,
             "6": NAV + CHATK}
if one_view and one_view not in VIEW_KEYS:
    sys.exit("tui_soak: VIEW must be 1-6")

def macro():
    """One weighted step: a list of keys ("Name" or ("-l", literal)) and a pause after it."""
    if one_view:  # the view's own keys (a "/" or "R" overlay is left with Escape); chat sends too
        if one_view == "6" and chat_on and rng.random() < 0.1:
            return ["6"] + text(rng.choice(WORDS)) + ["Enter"], rng.choice([0.05, 0.2, 0.5])
        return [one_view, rng.choice(VIEW_KEYS[one_view]), rng.choice(VIEW_KEYS[one_view] + ["Escape"])], 0
    r = rng.random()
    if not chat_on and 0.73 <= r < 0.80:
        return [rng.choice(NAV + VIEWS)], 0
    if r < 0.30:
        return [rng.choice(NAV)], 0
    if r < 0.40:
        return [rng.choice(VIEWS)], 0
    if r < 0.50:
        return [rng.choice(LAYERS + MEMORY + ERRORS + TRADE)], 0
    if r < 0.56:
        return ["2"] + [rng.choice(NAV) for _ in range(rng.randint(0, 4))] + \
               [rng.choice(["+", "-", "=", "x", "Enter"]) for _ in range(rng.randint(1, 4))], 0
    if r < 0.60:  # a rule with a bad regex: committed (refused or matching nothing) or cancelled
        return ["2", "R", rng.choice(["a", "IC"])] + text(rng.choice(BAD_RE)) + \
               [rng.choice(["Up", "Down", "PPage", "NPage"])] + [rng.choice(["Enter", "Escape"]),
                                                                 "Escape", "Escape"], 0
    if r < 0.62:  # a good rule, then moved / retyped / deleted
        return ["2", "R", "a"] + text(rng.choice(GOOD_RE)) + ["Up", "Enter"] + \
               [rng.choice(RULES) for _ in range(rng.randint(0, 3))] + ["Escape"], 0
    if r < 0.66:  # search
        return ["2", "/"] + text(rng.choice(SEARCH)) + [rng.choice(["Enter", "Escape"]),
                                                         rng.choice(["n", "N"])], 0
    if r < 0.68:  # presets
        return ["2", "p"] + ["Down"] * rng.randint(0, 12) + [rng.choice(["Enter", "Escape"])], 0
    if r < 0.70:  # keep first / last
        return ["2", "K"] + [rng.choice(KEEP) for _ in range(rng.randint(1, 6))] + \
               [rng.choice(["Enter", "Escape"])], 0
    if r < 0.73:  # context length typed
        return ["3", "c"] + text(rng.choice(CTX)) + [rng.choice(["Enter", "Escape"])], 0
    if r < 0.80:  # chat: a message, a short wait (the reply streams), sometimes Esc or F4
        keys = ["6"] + text(rng.choice(WORDS)) + ["Enter"]
        if rng.random() < 0.3:
            keys.append(rng.choice(["Escape", "F4"]))
        return keys, rng.choice([0.05, 0.2, 0.5])
    if r < 0.84:
        return ["6", rng.choice(CHATK)], 0
    if r < 0.85:  # files, all relative to the temporary directory
        keys = [rng.choice(FILES)] + text(rng.choice(PATHS)) + ["Enter"]
        keys.append(rng.choice(["y", "n", "Escape"]))  # a replace / open-anyway question
        return keys, 0.1
    if r < 0.88:
        return text(rng.choice(WORDS)), 0  # typed wherever the focus is
    return [rng.choice(MISC + NAV + VIEWS)], 0

def send(k):
    if isinstance(k, tuple):
        tm("send-keys", "-t", "soak", *k)
    else:
        tm("send-keys", "-t", "soak", k)

# ---- the run --------------------------------------------------------------------------------
t0 = time.time()
# warm-up: the largest terminal first, so that ncurses' screens are at their largest size from
# the start (they keep the largest size they had: that is not growth)
for w, h in ((250, 80), (20, 6), (120, 40)):
    tm("resize-window", "-t", "soak", "-x", str(w), "-y", str(h))
    time.sleep(0.3)
rss0, anon0, hwm0, thr0 = alive("at start")
use0 = in_use_kib()
samples = [(0, rss0, anon0, use0)]
max_thr = thr0
sent = resizes = chats = 0
next_check = 25
next_print = 1000
size = (120, 40)
print("tui_soak: %s, %d keys, seed %d, pid %d, VmRSS at start %d KiB, RssAnon %d KiB, heap in use %s KiB" %
      (qs, n_keys, seed, pid, rss0, anon0, "n/a" if use0 is None else use0), flush=True)
while sent < n_keys:
    if rng.random() < resize_p:
        size = (rng.randint(20, 250), rng.randint(6, 80))
        tm("resize-window", "-t", "soak", "-x", str(size[0]), "-y", str(size[1]))
        resizes += 1
        trace.append("%d: resize %dx%d" % (sent, size[0], size[1]))
        time.sleep(0.02)
        alive("after a resize to %dx%d" % size)
    keys, pause = macro()
    trace.append("%d: %s" % (sent, " ".join(k if isinstance(k, str) else repr(k[-1]) for k in keys)))
    if "6" in keys[:1] and "Enter" in keys:
        chats += 1
    # one tmux call per run of named keys, one per literal text
    run = []
    for k in keys + [None]:
        if isinstance(k, str):
            run.append(k)
            continue
        if run:
            tm("send-keys", "-t", "soak", *run)
            sent += len(run)
            run = []
        if k is not None:
            send(k)
            sent += len(k[-1])  # a text counts its characters
    time.sleep(delay)
    if pause:
        time.sleep(pause)
    if sent >= next_check:
        next_check = sent + 25
        rss, anon, hwm, thr = alive("after %d keys" % sent)
        use = in_use_kib()
        samples.append((sent, rss, anon, use))
        max_thr = max(max_thr, thr)
    if sent >= next_print:
        next_print += 1000
        print("  %5d keys  %3d resizes  VmRSS %6d KiB  RssAnon %6d KiB  heap in use %6s KiB  VmHWM %6d KiB  "
              "%2d threads  %.0f s" % (sent, resizes, rss, anon, "n/a" if use is None else use, hwm, thr,
                                       time.time() - t0), flush=True)
rss1, anon1, hwm1, thr1 = alive("at the end of the keys")
use1 = in_use_kib()
samples.append((sent, rss1, anon1, use1))

# ---- quit: Esc out of overlays, view 1, q, "y" ------------------------------------------------
tm("resize-window", "-t", "soak", "-x", "120", "-y", "40")
rc = None
for attempt in range(40):
    if os.path.exists(os.path.join(T, "rc")):
        break
    screen = tm("capture-pane", "-p", "-t", "soak", check=False)
    if "[y/N]" in screen and "uit" in screen:
        send("y")
    elif "[y/N]" in screen:
        send("n")
    else:
        for k in ["Escape", "Escape", "Escape", "F10"]:
            send(k)
            time.sleep(0.05)
    time.sleep(0.5)
for _ in range(600):
    if os.path.exists(os.path.join(T, "rc")) and open(os.path.join(T, "rc")).read().strip():
        rc = open(os.path.join(T, "rc")).read().strip()
        break
    time.sleep(0.05)
secs = time.time() - t0
if rc is None:
    fail("the program did not quit")
if rc != "0":
    fail("exit status %s" % rc)
err = open(os.path.join(T, "err"), errors="replace").read()
if err.strip():
    fail("stderr not empty")

def peaks(f):
    lo = [f(x) for x in samples if n_keys * 0.10 <= x[0] <= n_keys * 0.50]
    hi = [f(x) for x in samples if x[0] > n_keys * 0.50]
    return max(lo), max(hi)
p1, p2 = peaks(lambda x: x[1])   # VmRSS
a1, a2 = peaks(lambda x: x[2])   # RssAnon
have_use = all(x[3] is not None for x in samples)
print("tui_soak: %d keys (%d chat sends, %d resizes) in %.0f s, exit 0; VmRSS %d KiB at start, "
      "%d KiB at the end; RssAnon %d KiB at start, %d KiB at the end; VmHWM %d KiB at start, %d KiB "
      "at the end; peak VmRSS %d KiB over keys 10-50%%, %d KiB over the last 50%% (%+d KiB); peak "
      "RssAnon %d KiB over keys 10-50%%, %d KiB over the last 50%% (%+d KiB); threads %d at start, "
      "%d at most, %d at the end" %
      (sent, chats, resizes, secs, rss0, rss1, anon0, anon1, hwm0, hwm1, p1, p2, p2 - p1, a1, a2, a2 - a1,
       thr0, max_thr, thr1), flush=True)
if os.environ.get("SAMPLES"):
    with open(os.environ["SAMPLES"], "w") as f:
        f.write("keys vmrss_kib rssanon_kib heap_in_use_kib\n")
        for x in samples:
            f.write("%d %d %d %s\n" % (x[0], x[1], x[2], x[3] if x[3] is not None else "-"))
if have_use:
    # what the allocator keeps resident beyond the heap in use (pages allocated but not yet
    # touched, such as the unfilled part of a KV cache, count against it: a lower bound)
    def excess(lo, hi):
        e = sorted(x[2] - x[3] for x in samples if n_keys * lo < x[0] <= n_keys * hi)
        return e[len(e) // 2], e[min(len(e) - 1, len(e) * 9 // 10)], e[-1]
    m1, q1, x1 = excess(0.10, 0.50)
    m2, q2, x2 = excess(0.50, 2.0)
    print("tui_soak: heap in use %d KiB at start, %d KiB at the end; RssAnon - heap in use: %+d KiB at "
          "start, %+d KiB at the end; over keys 10-50%%: median %+d, p90 %+d, max %+d KiB; over the last "
          "50%%: median %+d, p90 %+d, max %+d KiB (limit on that median %d KiB)" %
          (use0, use1, anon0 - use0, anon1 - use1, m1, q1, x1, m2, q2, x2, flat_kib), flush=True)
    if flat_kib >= 0 and m2 > flat_kib:
        fail("memory not flat: over the last half of the keys RssAnon exceeded the heap in use by %d KiB "
             "(median; limit %d KiB)" % (m2, flat_kib))
elif flat_kib >= 0 and a2 > a1 + 2 * flat_kib:  # no heap figures (not glibc): RssAnon itself
    fail("memory not flat: peak RssAnon grew by %d KiB in the second half (limit %d KiB)" % (a2 - a1, 2 * flat_kib))
cleanup()
print("tui_soak: ok")
PY
