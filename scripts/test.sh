#!/usr/bin/env bash
# Runs all tests: the Python runtime's unit tests, then every Swift test (unit and end to end:
# the real tern binary, server, Python replicas and HTTP on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-python.sh
export TERN_TEST_PYTHON="$PWD/.venv/bin/python"

echo "==> Python runtime tests"
(cd python && "$TERN_TEST_PYTHON" -m unittest discover -s tests 2>&1 | tail -n 5)

echo "==> Building (debug)"
log=$(mktemp)
if ! swift build --build-tests >"$log" 2>&1; then
  grep -E "error:" "$log" | sort -u || tail -n 40 "$log"
  echo "build failed (full log: $log)" >&2
  exit 1
fi
echo "==> Swift tests"
swift test --skip-build 2>&1 | grep -vE "^\[[0-9]+/[0-9]+\]"
echo "==> Fuzzing the control-plane API against docs/openapi.yaml (schemathesis, bounded: scripts/schemathesis.sh)"
scripts/schemathesis.sh
echo "==> Fuzzing (libFuzzer, bounded: scripts/fuzz.sh)"
scripts/fuzz.sh
