#!/bin/bash
# bench/intake.sh - one intake run as bench/e2e.py's intake phase does it
# (orderly alone on core 0, accounts off, one HTTP thread; wrk -t1 on core 1
# POSTing the order mix of e2e_order.lua; the functions run), and where the
# core went: CPU per accepted order by thread, and core 0's own split (user,
# system, iowait, softirq) from /proc/stat.  For A/B comparisons of builds
# and allocators in interleaved pairs; bench/e2e.py is the benchmark.
#
#   bench/intake.sh [-b BIN] [-c CONNS] [-s SECONDS] [-i IDLE] [-p PRELOAD_LIB] [-k]
#
# -i holds IDLE more connections open meanwhile, each idle after one GET
# /health (from 127.0.0.2.., 200 an address: the per-address limit), the
# cost of connections that wait, as a console's or a slow client's do.
# -p runs the server with LD_PRELOAD=PRELOAD_LIB (an allocator to compare);
# -k keeps the data directory.  Everything started is stopped by PID, the
# temporary directory removed.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$HERE/../build/orderly CONNS=64 SECS=8 PRE="" KEEP="" IDLE=0
while getopts "b:c:s:i:p:k" o; do
  case $o in
    b) BIN=$OPTARG ;; c) CONNS=$OPTARG ;; s) SECS=$OPTARG ;; i) IDLE=$OPTARG ;; p) PRE=$OPTARG ;; k) KEEP=1 ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
  esac
done
CLIENT=${ORDERLY_BENCH_PEER:-$HERE/../../shared/bench-peer}/run-e2e.py
for t in taskset wrk python3; do command -v $t >/dev/null || { echo "intake.sh: $t is missing" >&2; exit 1; }; done
D=$(mktemp -d /tmp/orderly-intake.XXXXXX)
PID="" HOLD=""
cleanup() {
  [ -n "$HOLD" ] && kill "$HOLD" 2>/dev/null
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID"
    for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PID" 2>/dev/null && kill -9 "$PID"
  fi
  if [ -z "$KEEP" ]; then rm -rf "$D"; else echo "kept $D"; fi
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env ${PRE:+LD_PRELOAD=$PRE} ORDERLY_AUTH_ENABLED=false ORDERLY_HTTP_THREADS=1 \
  taskset -c 0 "$BIN" serve --env bench --listen 127.0.0.1:$PORT --db "$D/bench.db" --log-level warn >"$D/log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/ready >/dev/null && break; sleep 0.1; done
taskset -c 1 python3 "$CLIENT" http://127.0.0.1:$PORT --seed-only --skus 1000 >/dev/null

if [ "$IDLE" -gt 0 ]; then
  # one GET each (so the server has parsed a request on it), then nothing
  taskset -c 1 python3 - "$PORT" "$IDLE" "$D/held" <<'EOF' &
import socket, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.%d" % (2 + i // 200), 0))
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    held.append(s)
for s in held:
    s.recv(4096)
open(ready, "w").write("%d\n" % len(held))
time.sleep(3600)
EOF
  HOLD=$!
  for _ in $(seq 200); do [ -s "$D/held" ] && break; sleep 0.05; done
  [ -s "$D/held" ] || { echo "intake.sh: the idle connections were not opened" >&2; exit 1; }
fi
threads() { for t in /proc/$PID/task/*; do echo "$(tr ' ' _ <"$t/comm") $(awk '{print $14 + $15}' "$t/stat")"; done; }
threads >"$D/th0"
C0=$(grep '^cpu0 ' /proc/stat)
taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" -s "$HERE/e2e_order.lua" http://127.0.0.1:$PORT/api/orders >"$D/wrk.txt" 2>&1
C1=$(grep '^cpu0 ' /proc/stat)
threads >"$D/th1"
HWM=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
python3 - "$D" "$SECS" "$CONNS" "$C0" "$C1" "$HWM" <<'EOF'
import os, re, sys
d, secs, conns, c0, c1, hwm = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
w = open(os.path.join(d, "wrk.txt")).read()
m = re.search(r"WRK_RESULT (.*)", w)
r = dict(kv.split("=") for kv in m.group(1).split()) if m else {}
ok, dur = int(r.get("ok", 0)), float(r.get("duration_s", secs))
tck = os.sysconf("SC_CLK_TCK")
def load(p):
    return {l.split()[0]: int(l.split()[1]) for l in open(p)}
a, b = load(os.path.join(d, "th0")), load(os.path.join(d, "th1"))
per = {k: (b[k] - a.get(k, 0)) * 1e6 / tck / max(ok, 1) for k in b if b[k] - a.get(k, 0) > 0}
x = [int(v) for v in c0.split()[1:]]
y = [int(v) for v in c1.split()[1:]]
dl = [j - i for i, j in zip(x, y)]
t = sum(dl) or 1
print("intake c%s: %.0f accepted/s (%d in %.1f s, pushed back %s, other %s), p50 %s ms, p99 %s ms" % (
    conns, ok / dur, ok, dur, r.get("pushed_back"), r.get("other"), r.get("p50_ms"), r.get("p99_ms")))
print("server CPU per accepted order: %.0f us (%s)" % (sum(per.values()), ", ".join(
    "%s %.0f" % (k, v) for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v >= 0.5)))
print("core 0: user %.0f %%, system %.0f %%, iowait %.0f %%, softirq %.0f %%, idle %.0f %%; peak RSS %.0f MiB" % (
    100 * dl[0] / t, 100 * dl[2] / t, 100 * dl[4] / t, 100 * dl[6] / t, 100 * dl[3] / t, hwm / 1024))
EOF
