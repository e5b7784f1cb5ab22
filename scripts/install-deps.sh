#!/bin/sh
# Installs every Debian package orderly needs to build, test and benchmark.
# Idempotent and quiet when nothing is missing; needs root or sudo otherwise.
set -eu
PKGS="build-essential cmake pkg-config git
libjansson-dev libsqlite3-dev libpq-dev libsodium-dev libcurl4-openssl-dev
libgoogle-perftools-dev libcriterion-dev python3 nginx-light wrk clang libclang-rt-dev prometheus jq chromium postgresql
redis-server linux-perf valgrind"
# The web console is built with node (>= 20.19) and npm: Debian's packages
# unless a node with npm is already installed (e.g. NodeSource's, whose
# nodejs package conflicts with Debian's npm).
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install:$missing" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# prometheus is installed for promtool only, postgresql for the tests' own
# clusters, redis-server for the benchmark's peer (bench/e2e.py starts its
# own): their maintainer scripts must not start a server (prometheus would
# listen on *:9090).  A policy-rc.d that answers 101
# makes invoke-rc.d and deb-systemd-invoke skip every start; ours is removed
# afterwards unless one was already there (Docker images ship one).
POLICY=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  own_policy=1
fi
trap 'if [ -n "$own_policy" ]; then $SUDO rm -f "$POLICY"; fi' EXIT
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Under systemd the units are still enabled for the next boot: disable them.
# postgresql is installed for the tests, which start their own throwaway
# clusters (tests/integration/pgcluster.py): no server of the package runs.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
fi
