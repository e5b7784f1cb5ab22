#!/bin/sh
# Runs the libFuzzer targets built in BUILD (make fuzz: build-fuzz), one
# after the other, each in one process for FUZZ_SECONDS (default 60), seeded
# with its corpus tests/fuzz/corpus/<target>/ and its dictionary.  New inputs
# go to BUILD/fuzz-work/<target>/ (not the tree), crashes to
# BUILD/fuzz-artifacts/.  Prints one line per target (runs, executions per
# second, new inputs, crashes) and exits 1 when any target crashed.
#
#   FUZZ_SECONDS=600 scripts/fuzz.sh build-fuzz          # 10 minutes each
#   FUZZ_TARGETS="router config" scripts/fuzz.sh build-fuzz
#   FUZZ_MERGE=1 scripts/fuzz.sh build-fuzz              # then add the inputs that
#                                                       # reach new code to the tree corpus
set -u
BUILD=${1:-build-fuzz}
SECS=${FUZZ_SECONDS:-60}
ONLY=${FUZZ_TARGETS:-}
SRC=$(cd "$(dirname "$0")/.." && pwd)
LIST="$BUILD/fuzz-targets.txt"
[ -r "$LIST" ] || { echo "fuzz: $LIST missing (run make fuzz)" >&2; exit 2; }
mkdir -p "$BUILD/fuzz-work" "$BUILD/fuzz-artifacts" "$BUILD/fuzz-logs"

failed=0
summary=""
while read -r name max_len dict; do
  [ -n "$name" ] || continue
  if [ -n "$ONLY" ]; then
    case " $ONLY " in *" $name "*) ;; *) continue ;; esac
  fi
  bin="$BUILD/fuzz_$name"
  seed="$SRC/tests/fuzz/corpus/$name"
  work="$BUILD/fuzz-work/$name"
  log="$BUILD/fuzz-logs/$name.log"
  mkdir -p "$work"
  set -- -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
         -artifact_prefix="$BUILD/fuzz-artifacts/$name-"
  [ -n "$max_len" ] && set -- "$@" -max_len="$max_len"
  [ -n "$dict" ] && set -- "$@" -dict="$SRC/tests/fuzz/dict/$dict"
  echo "fuzz: $name for ${SECS}s (log $log)" >&2
  "$bin" "$@" "$work" "$seed" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  new=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  crashes=0
  if [ "$rc" != 0 ]; then
    crashes=1
    failed=1
    grep -m1 -E 'ERROR: |assertion failed|runtime error' "$log" >&2
    ls "$BUILD/fuzz-artifacts/$name-"* 2>/dev/null | tail -1 >&2
  fi
  line=$(printf '%-16s %6ss %11s runs %8s exec/s  cov %5s  new %5s  rss %5s MB  crashes %s' \
         "$name" "$SECS" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${new:-?}" "${rss:-?}" "$crashes")
  echo "$line"
  summary="$summary$line
"
  if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$rc" = 0 ]; then
    "$bin" -merge=1 ${max_len:+-max_len=$max_len} "$seed" "$work" >>"$log" 2>&1 \
      || echo "fuzz: merge of $name failed (see $log)" >&2
  fi
done <"$LIST"
[ -n "$summary" ] || { echo "fuzz: no target matched '$ONLY'" >&2; exit 2; }
exit $failed
