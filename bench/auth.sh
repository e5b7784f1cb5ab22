#!/bin/sh
# bench/auth.sh - what accounts cost at intake (issue 9): P1 (wrk -t2 -c64
# POST /api/orders, functions running) with a Bearer JWT, against the same
# run with accounts off (auth.enabled false), rounds interleaved, each on a
# fresh database, the server pinned to CPU 0 and wrk to CPU 1 when there are
# two; medians and every round.  Rate limits and admission control are off
# in both (they are what a deployment tunes, not the cost of
# authentication).  On a shared machine the server CPU per request is the
# steadier figure: req/s follows what else runs on core 0.
#
#   bench/auth.sh [RUNS] [SECONDS]
set -eu
RUNS=${1:-5}
SECS=${2:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
B=${BUILD:-$ROOT/build}
TMP=$(mktemp -d /tmp/orderly-bench-auth-XXXXXX)
PORT=18298
PW=bench-admin-password
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
PIN_S=""; PIN_C=""
if [ "$(nproc)" -ge 2 ]; then PIN_S="taskset -c 0"; PIN_C="taskset -c 1"; fi

python3 - "$TMP" <<'PY'
import json, sys
tmp = sys.argv[1]
json.dump({"orders": {"catalog": tmp + "/catalog.json", "maxUnitsPerOrder": 500000},
           "auth": {"rateLimit": {"perSecond": 0}}, "store": {"admissionBacklogMs": 0}},
          open(tmp + "/orderly.json", "w"))
json.dump({"products": [{"sku": "b-%d" % i, "name": "bench %d" % i, "priceCents": 100, "stock": 1000000000}
                        for i in range(5)]}, open(tmp + "/catalog.json", "w"))
PY

start() { # $1 = true|false (accounts)
  rm -f "$TMP"/bench.db* "$TMP"/bench.jwt-key "$TMP"/bench.admin-password
  ORDERLY_ADMIN_PASSWORD=$PW ORDERLY_AUTH_ENABLED=$1 $PIN_S "$B/orderly" serve --env bench \
    --listen 127.0.0.1:$PORT --db "$TMP/bench.db" --config "$TMP/orderly.json" --log-level error 2>>"$TMP/log" &
  PID=$!
  i=0
  until curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 200 ] && { echo "orderly did not start"; cat "$TMP/log"; exit 1; }
    sleep 0.05
  done
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
token() {
  curl -s -XPOST "http://127.0.0.1:$PORT/api/login" -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PW\"}" | python3 -c 'import sys,json; print(json.load(sys.stdin)["accessToken"])'
}
p1() { # [token]
  auth=""
  [ -n "$1" ] && auth="wrk.headers[\"Authorization\"] = \"Bearer $1\""
  cat > "$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
$auth
wrk.body = '{"customerId":"c-42","items":[{"sku":"b-1","qty":1},{"sku":"b-2","qty":2}]}'
LUA
  t0=$(cpu)
  $PIN_C wrk -t2 -c64 -d"${SECS}s" -s "$TMP/post.lua" "http://127.0.0.1:$PORT/api/orders" 2>&1 |
    tee -a "$TMP/wrk.txt" | awk '/Non-2xx/ {bad=1} /requests in/ {n=$1} /Requests\/sec/ {rps=$2}
      END {if (bad) print "ERROR"; else printf "%s %s\n", rps, n}' > "$TMP/one.txt"
  t1=$(cpu)
  read -r rps n < "$TMP/one.txt"
  [ "$rps" = ERROR ] && { echo ERROR; return; }
  echo "$rps $(python3 -c "print('%.1f' % (($t1 - $t0) / $(getconf CLK_TCK) * 1e6 / $n))")"
}
cpu() { awk '{print $14 + $15}' /proc/$PID/stat; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for r in $(seq 1 "$RUNS"); do
  start false; set -- $(p1 ""); off=$1; offcpu=${2:-0}; stop
  start true; tok=$(token); [ -n "$tok" ] || { echo "cannot sign in"; cat "$TMP/log"; exit 1; }
  set -- $(p1 "$tok"); on=$1; oncpu=${2:-0}; stop
  [ "$off" = ERROR ] || [ "$on" = ERROR ] && { echo "a request failed (non-2xx)"; cat "$TMP/wrk.txt"; tail -5 "$TMP/log"; exit 1; }
  echo "round $r: accounts off $off req/s ($offcpu us CPU/request), Bearer JWT $on req/s ($oncpu us CPU/request)"
  echo "$off" >> "$TMP/off.txt"; echo "$on" >> "$TMP/on.txt"
  echo "$offcpu" >> "$TMP/offcpu.txt"; echo "$oncpu" >> "$TMP/oncpu.txt"
done
OFF=$(median < "$TMP/off.txt"); ON=$(median < "$TMP/on.txt")
OFFC=$(median < "$TMP/offcpu.txt"); ONC=$(median < "$TMP/oncpu.txt")
python3 -c "
off, on, offc, onc = $OFF, $ON, $OFFC, $ONC
print('P1 medians of $RUNS rounds: accounts off %.0f req/s, Bearer JWT %.0f req/s: %.1f %% %s' %
      (off, on, abs(on - off) / off * 100, 'slower' if on < off else 'faster'))
print('server CPU per request: accounts off %.1f us, Bearer JWT %.1f us (%+.1f %%)' % (offc, onc, (onc - offc) / offc * 100))
print('within 10 %%: req/s %s, CPU per request %s' % ('yes' if on >= 0.9 * off else 'NO', 'yes' if onc <= 1.1 * offc else 'NO'))"
