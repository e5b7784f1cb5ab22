#!/bin/sh
# bench/http.sh - HTTP throughput of orderly beside nginx `return 200`, same run.
#
#   bench/http.sh [RUNS] [SECONDS] [CONNECTIONS]
#
# Starts nginx (Debian's, `return 200`) and orderly (embedded SQLite, fresh
# data dir) on 127.0.0.1, then runs wrk -t2 -cC -dS against, alternately:
#   nginx GET /                                   (the ceiling of this machine)
#   orderly GET /health                           (HTTP layer only)
#   orderly POST /api/queues/bench-load/messages  (durable: group commit + fsync)
# RUNS times each, and prints the median req/s, p99 and the ratio to nginx.
set -eu
RUNS=${1:-3}
SECS=${2:-10}
CONNS=${3:-64}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BIN=${ORDERLY_BIN:-$ROOT/build/orderly}
TMP=$(mktemp -d /tmp/orderly-bench-http-XXXXXX)
NGX_PORT=18089
ORD_PORT=18088

cleanup() {
  [ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
  [ -n "${ORD_PID:-}" ] && kill "$ORD_PID" 2>/dev/null && wait "$ORD_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

cat > "$TMP/nginx.conf" <<NGX
worker_processes 2;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGX_PORT;
    location / { return 200 "ok"; }
  }
}
NGX
nginx -c "$TMP/nginx.conf" -p "$TMP"

cat > "$TMP/orderly.json" <<CFG
{"queues": [{"name": "load", "attributes": {"VisibilityTimeout": 30}}]}
CFG
"$BIN" serve --env bench --listen 127.0.0.1:$ORD_PORT --db "$TMP/bench.db" --config "$TMP/orderly.json" \
  --log-level error 2>"$TMP/orderly.log" &
ORD_PID=$!
i=0
until curl -sf "http://127.0.0.1:$ORD_PORT/ready" >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -gt 200 ] && { echo "orderly did not start"; cat "$TMP/orderly.log"; exit 1; }
  sleep 0.05
done

# one wrk run -> "req/s p99_ms"
one() {
  wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" 2>&1 | awk '
    /Requests\/sec/ {rps=$2}
    /^ +99%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; p99=v}
    /Non-2xx/ {bad=$NF}
    END {printf "%s %s %s\n", rps, p99, (bad==""?0:bad)}'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for r in $(seq 1 "$RUNS"); do
  one "http://127.0.0.1:$NGX_PORT/" >> "$TMP/nginx.txt"
  one "http://127.0.0.1:$ORD_PORT/health" >> "$TMP/health.txt"
  one -s "$HERE/post_message.lua" "http://127.0.0.1:$ORD_PORT/api/queues/bench-load/messages" >> "$TMP/post.txt"
done

echo "per run (req/s p99_ms non2xx):"
paste -d'|' "$TMP/nginx.txt" "$TMP/health.txt" "$TMP/post.txt" | awk -F'|' '{printf "  nginx %-28s health %-28s post %s\n", $1, $2, $3}'
NGX=$(cut -d' ' -f1 "$TMP/nginx.txt" | median)
HEALTH=$(cut -d' ' -f1 "$TMP/health.txt" | median)
POST=$(cut -d' ' -f1 "$TMP/post.txt" | median)
POST_P99=$(cut -d' ' -f2 "$TMP/post.txt" | median)
BAD=$(cut -d' ' -f3 "$TMP/post.txt" | awk '{s+=$1} END {print s+0}')
RSS=$(awk '/VmHWM/ {print $2}' /proc/$ORD_PID/status)
DEPTH=$(curl -s "http://127.0.0.1:$ORD_PORT/api/queues/bench-load" | sed 's/.*"visible":\([0-9]*\).*/\1/')

echo "runs=$RUNS seconds=$SECS connections=$CONNS (medians)"
printf "%-44s %10s req/s\n" "nginx return 200" "$NGX"
printf "%-44s %10s req/s  ratio %.2f\n" "orderly GET /health" "$HEALTH" "$(echo "$HEALTH $NGX" | awk '{print $1/$2}')"
printf "%-44s %10s req/s  ratio %.2f  p99 %s ms  non-2xx %s\n" "orderly POST /api/queues/{q}/messages" "$POST" \
  "$(echo "$POST $NGX" | awk '{print $1/$2}')" "$POST_P99" "$BAD"
echo "orderly peak RSS ${RSS} kB; messages in queue after the runs: $DEPTH"
