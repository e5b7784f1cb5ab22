#!/bin/sh
# bench/orders.sh - the order benchmarks of issue 3, in one run:
#   P1  durable intake: wrk -t2 -c64 POST /api/orders beside nginx `return 200`
#       (functions running, as shipped), median req/s, p99, peak RSS
#   P2  sustained end-to-end accept -> COMPLETED throughput: the highest offered
#       rate (ladder of 10 s steps) whose backlog stays under half a second of
#       work, confirmed for P2_SECONDS
#   P3  latency accept -> COMPLETED at half of P2's rate: p50/p99 of
#       completedAt - createdAt (server timestamps, from the database)
#
#   bench/orders.sh [RUNS] [P1_SECONDS] [P2_SECONDS]
set -eu
RUNS=${1:-3}
P1S=${2:-10}
P2S=${3:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
B=${BUILD:-$ROOT/build}
TMP=$(mktemp -d /tmp/orderly-bench-orders-XXXXXX)
NGX_PORT=18289
ORD_PORT=18288
BODY='{"customerId":"c-42","items":[{"sku":"b-1","qty":1},{"sku":"b-2","qty":2}]}'

cleanup() {
  [ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
  [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

python3 - "$ROOT/config/orderly.json" "$TMP" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
tmp = sys.argv[2]
c["orders"]["catalog"] = tmp + "/catalog.json"
c["orders"]["maxUnitsPerOrder"] = 500000
for f in c["functions"]:
    f["maxConcurrency"] = 8
json.dump(c, open(tmp + "/orderly.json", "w"))
json.dump({"products": [{"sku": "b-%d" % i, "name": "bench %d" % i, "priceCents": 100, "stock": 1000000000}
                        for i in range(5)]}, open(tmp + "/catalog.json", "w"))
PY

cat > "$TMP/nginx.conf" <<NGX
worker_processes 2;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$NGX_PORT; location / { return 200 "ok"; } } }
NGX
nginx -c "$TMP/nginx.conf" -p "$TMP"

start() { # fresh database each time
  rm -f "$TMP"/bench.db*
  "$B/orderly" serve --env bench --listen 127.0.0.1:$ORD_PORT --db "$TMP/bench.db" --config "$TMP/orderly.json" \
    --log-level error 2>>"$TMP/orderly.log" &
  PID=$!
  i=0
  until curl -sf "http://127.0.0.1:$ORD_PORT/ready" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 200 ] && { echo "orderly did not start"; cat "$TMP/orderly.log"; exit 1; }
    sleep 0.05
  done
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
completed() { curl -s "http://127.0.0.1:$ORD_PORT/api/stats" | python3 -c \
  'import sys,json; d=json.load(sys.stdin); print(d["orders_by_status"].get("COMPLETED",0), d["total_orders"])'; }
wrk_one() { wrk -t2 -c64 -d"${P1S}s" --latency "$@" 2>&1 | awk '
    /Requests\/sec/ {rps=$2}
    /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; p99=v}
    END {printf "%s %s\n", rps, p99}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "== P1 durable intake (wrk -t2 -c64 ${P1S}s, $RUNS runs)"
for r in $(seq 1 "$RUNS"); do
  wrk_one "http://127.0.0.1:$NGX_PORT/" >> "$TMP/nginx.txt"
  start
  wrk_one -s "$HERE/post_order.lua" "http://127.0.0.1:$ORD_PORT/api/orders" >> "$TMP/p1.txt"
  awk '/VmHWM/ {print $2}' /proc/$PID/status >> "$TMP/rss.txt"
  stop
done
paste -d' ' "$TMP/nginx.txt" "$TMP/p1.txt" | awk '{printf "  run: nginx %s req/s   orders %s req/s p99 %s ms\n", $1, $3, $4}'
NGX=$(cut -d' ' -f1 "$TMP/nginx.txt" | median)
P1=$(cut -d' ' -f1 "$TMP/p1.txt" | median)
P1P99=$(cut -d' ' -f2 "$TMP/p1.txt" | median)
RSS=$(sort -n "$TMP/rss.txt" | tail -1)
printf "P1 median: nginx %s req/s, POST /api/orders %s req/s = %.2f x nginx, p99 %s ms, peak RSS %s kB\n" \
  "$NGX" "$P1" "$(echo "$P1 $NGX" | awk '{print $1/$2}')" "$P1P99" "$RSS"

echo "== P2 sustained end-to-end throughput: rate ladder (10 s steps), then ${P2S} s at the best rate"
# a rate is sustained when, at the end of its step, fewer than rate/2 orders
# (half a second of work) are not yet COMPLETED
offer() { # rate seconds -> "completed_in_window backlog"
  start
  "$B/loadgen" --url "http://127.0.0.1:$ORD_PORT/api/orders" --body-json "$BODY" --rate "$1" --duration "$2" \
    --connections 64 > "$TMP/offer.txt"
  set -- $(completed) "$1"
  echo "$1 $(( $2 - $1 ))"
  stop
}
BEST=0
for RATE in 3000 4000 5000 6000 7000 8000 9000 10000 12000; do
  set -- $(offer "$RATE" 10)
  echo "  offered $RATE/s for 10 s: completed $1, not yet completed $2 ($(cut -d' ' -f5,7,9 "$TMP/offer.txt"))"
  [ "$2" -ge $((RATE / 2)) ] && break
  BEST=$RATE
done
[ "$BEST" -eq 0 ] && BEST=1000
set -- $(offer "$BEST" "$P2S")
P2=$(( $1 / P2S ))
echo "P2: offered $BEST orders/s for ${P2S}s: $1 COMPLETED = $P2 orders/s sustained, $2 not yet completed at the end"

RATE=$(( BEST / 2 ))
echo "== P3 latency accept -> COMPLETED at $RATE orders/s (half of P2), 20s"
start
"$B/loadgen" --url "http://127.0.0.1:$ORD_PORT/api/orders" --body-json "$BODY" --rate "$RATE" --duration 20 --connections 64
sleep 3
stop
python3 - "$TMP/bench.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
lat = sorted(r[0] for r in db.execute("SELECT completed_ms - created_ms FROM orders WHERE status='COMPLETED'"))
n = len(lat)
if not n:
    print("P3: no completed orders"); sys.exit(1)
pct = lambda q: lat[min(n - 1, int(q * (n - 1)))]
print("P3: %d orders, accept -> COMPLETED p50 %d ms, p90 %d ms, p99 %d ms, max %d ms" % (n, pct(.5), pct(.9), pct(.99), lat[-1]))
PY
