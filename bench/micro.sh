#!/usr/bin/env bash
# Runs Tern's internal micro-benchmarks (bench/micro, package-benchmark) and prints one table
# per benchmark: wall-clock time and allocations per operation (docs/benchmarks.md).
#
# Usage: bench/micro.sh [--quick] [--filter REGEX]
#   --quick     a short run (0.3 s and at most 200 iterations per benchmark), e.g. as a smoke test
#   --filter    only the benchmarks whose name contains a match of REGEX (e.g. "Frame")
# The first run builds the main package's gateway modules and package-benchmark in release mode
# into .build-micro (a few minutes); later runs rebuild only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ARGS=(--no-progress)
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) export TERN_MICRO_QUICK=1; shift ;;   # read by bench/micro/Benchmarks/TernMicro
    --filter) ARGS+=(--filter ".*$2.*"); shift 2 ;;   # package-benchmark matches the whole name
    *) echo "unknown option $1 (use --quick or --filter REGEX)" >&2; exit 2 ;;
  esac
done
exec swift package --package-path bench/micro --scratch-path "$PWD/.build-micro" benchmark "${ARGS[@]}"
