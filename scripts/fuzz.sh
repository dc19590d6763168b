#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, with AddressSanitizer) of the config loader for a bounded
# time: builds fuzz/ (a separate package; its own .build), seeds a corpus with every tern.yaml of
# examples/ and Tests/fixtures/, and runs TernConfigFuzzer. Exit 0: no finding; otherwise
# libFuzzer's report is printed and the input is saved in fuzz/findings/ (crash-…, timeout-…,
# oom-…; replay one with `fuzz/.build/debug/TernConfigFuzzer FILE`).
#
# Usage: scripts/fuzz.sh [--runs N | --seconds S] [--seed K]
#   default --runs 40000 --seed 1: a fixed number of inputs from a fixed seed, about 40–60 s here,
#   the same inputs on every run (what scripts/test.sh and CI run); --seconds S --seed 0 explores
#   for S seconds from a random seed.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=(-runs=40000); seed=1
while [ $# -gt 0 ]; do
  case $1 in
    --runs) [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "--runs needs a number" >&2; exit 2; }; limit=(-runs="$2"); shift 2 ;;
    --seconds) [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "--seconds needs a number" >&2; exit 2; }; limit=(-max_total_time="$2"); shift 2 ;;
    --seed) [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "--seed needs a number" >&2; exit 2; }; seed=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

echo "==> Building the fuzz targets (libFuzzer + AddressSanitizer)"
log=$(mktemp)
if ! (cd fuzz && swift build -c debug --product TernConfigFuzzer \
    -Xswiftc -sanitize=fuzzer,address) >"$log" 2>&1; then
  grep -E "error:" "$log" | sort -u | head -20 || tail -n 40 "$log"
  echo "fuzz build failed (full log: $log)" >&2
  exit 1
fi

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
n=0
for file in examples/*/tern.yaml Tests/fixtures/*/tern.yaml; do
  [ -f "$file" ] && cp "$file" "$corpus/seed-$((n += 1)).yaml"
done
mkdir -p fuzz/findings
echo "==> Fuzzing the config loader (${limit[*]}, -seed=$seed, $n seed files)"
set +e
fuzz/.build/debug/TernConfigFuzzer "${limit[@]}" -seed="$seed" -timeout=5 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix=fuzz/findings/ "$corpus" >"$log" 2>&1
status=$?
set -e
grep -E "^stat::(number_of_executed_units|new_units_added|slowest_unit_time_sec|peak_rss_mb)" "$log" || true
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log"
  echo "the config fuzzer found a failing input (exit $status): see fuzz/findings/" >&2
  exit 1
fi
echo "no finding"
