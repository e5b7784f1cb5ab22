#!/bin/sh
# bench/e2e.sh - orderly beside the peer of ../shared/bench-peer, the targets
# of issue 12, in one command (`make bench-e2e`).  See bench/e2e.py.
#   bench/e2e.sh [--rounds N] [--orders N] [...]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
exec python3 "$HERE/e2e.py" "$@"
