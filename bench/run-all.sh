#!/bin/sh
# bench/run-all.sh - every benchmark of orderly, one after another (`make bench`).
# Medians of several runs; the machine is noisy.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
B=${BUILD:-$HERE/../build}
RUNS=${RUNS:-3}

echo "== in-process durable queue: send + receive + delete through the store"
for i in $(seq 1 "$RUNS"); do
  "$B/bench_queue" --mode async --messages 300000 --producers 32 --consumers 64 2>/dev/null
done | tee /tmp/orderly-bq.txt
awk '{for(i=1;i<=NF;i++) if ($i ~ /^msgs_per_s=/) {sub("msgs_per_s=","",$i); print $i}}' /tmp/orderly-bq.txt |
  sort -n | awk '{a[NR]=$1} END {printf "median async group commit: %d messages/s\n", a[int((NR+1)/2)]}'
"$B/bench_queue" --mode threads --messages 200000 --producers 16 --consumers 16 2>/dev/null
echo "baseline, one commit (fsync) per operation:"
"$B/bench_queue" --mode single --messages 3000 2>/dev/null

echo
echo "== HTTP queue send (wrk -c64) beside nginx return 200"
"$HERE/http.sh" "$RUNS" 10 64

echo
echo "== orders: P1 intake, P2 end-to-end throughput, P3 latency"
"$HERE/orders.sh" "$RUNS" 10 30

echo
echo "== several nodes on PostgreSQL beside one on SQLite; receive with a 1,000,000-message backlog"
python3 "$HERE/cluster.py" --duration 10

echo
echo "== intake p99 while a 200,000-event replay and a 50,000-message redrive run (one run, minutes)"
python3 "$HERE/tasks_under_load.py" --seconds 20
