#!/bin/sh
# tests/unit/run.sh - runs a unit test binary (and its arguments) with a
# directory of its own for the databases it makes (ORDERLY_TEST_TMPDIR,
# testutil.h), removed afterwards by its path: a test cleans up what it
# made, whatever the test's own processes did.
d=$(mktemp -d /tmp/orderly-unit-XXXXXX) || exit 1
ORDERLY_TEST_TMPDIR=$d "$@"
rc=$?
rm -rf "$d"
exit $rc
