#!/bin/bash
# bench/ab.sh - two builds compared the only way this noisy virtual machine
# allows: interleaved pairs of bench/intake.sh runs, the order of the two
# alternating from pair to pair, and the ratio B / A of each pair (the CPU
# time per order of one binary moves by a third within minutes, so runs
# minutes apart do not compare; a pair's two runs are seconds apart).
#
#   bench/ab.sh [-n PAIRS] [-s SECONDS] [-c CONNS] [-i IDLE] A_BIN B_BIN
#
# Prints each pair (accepted/s and CPU µs per order of A and of B, and
# B / A), then the median ratio.  A lever is worth keeping when the median
# and most pairs agree; a median within a few per cent of 1.0 is nothing.
# For A, build the commit before in a second tree, e.g.
#   git worktree add /tmp/ab-a HEAD~1 && cmake -S /tmp/ab-a -B /tmp/ab-a/build \
#     -DCMAKE_BUILD_TYPE=RelWithDebInfo && make -C /tmp/ab-a/build orderly
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PAIRS=6 SECS=5 CONNS=64 IDLE=0
while getopts "n:s:c:i:" o; do
  case $o in
    n) PAIRS=$OPTARG ;; s) SECS=$OPTARG ;; c) CONNS=$OPTARG ;; i) IDLE=$OPTARG ;;
    *) sed -n '2,15p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# = 2 ] || { sed -n '2,15p' "$0"; exit 2; }
A=$1 B=$2
for f in "$A" "$B"; do [ -x "$f" ] || { echo "ab.sh: $f is not an executable" >&2; exit 1; }; done

# "ACCEPTED CPU" of one intake run
one() {
  "$HERE/intake.sh" -b "$1" -s "$SECS" -c "$CONNS" -i "$IDLE" |
    sed -nE '1s/^intake c[0-9]+: ([0-9]+) accepted.*/\1/p; 2s/^server CPU per accepted order: ([0-9]+) us.*/\1/p' |
    tr '\n' ' '
}

RATIOS=""
for i in $(seq "$PAIRS"); do
  if [ $((i % 2)) = 1 ]; then ra=$(one "$A"); rb=$(one "$B"); else rb=$(one "$B"); ra=$(one "$A"); fi
  set -- $ra $rb
  [ $# = 4 ] || { echo "ab.sh: pair $i: an intake run printed no figures" >&2; exit 1; }
  r=$(awk -v a="$1" -v b="$3" 'BEGIN { printf "%.3f", b / a }')
  RATIOS="$RATIOS $r"
  printf 'pair %d (%s first): A %s/s %s us | B %s/s %s us | B/A %s\n' "$i" \
    "$([ $((i % 2)) = 1 ] && echo A || echo B)" "$1" "$2" "$3" "$4" "$r"
done
echo "$RATIOS" | tr ' ' '\n' | sed '/^$/d' | sort -n |
  awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
         printf "median B/A over %d pairs: %.3f\n", NR, m }'
