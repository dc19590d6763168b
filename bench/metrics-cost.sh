#!/usr/bin/env bash
# The cost of Tern's Prometheus metrics (docs/metrics.md) on the gateway: two `tern serve` at
# once, one with its default metrics and one with --no-metrics, each serving the iris example,
# loaded in turn (on, off, on, off, …; the idle one uses no CPU) with wrk at 16 connections, so
# both see the same machine. Prints each run and the mean req/s of each, then:
#   metrics on/off c=16: Z.ZZZ
#
# Usage: bench/metrics-cost.sh [--runs N] [--duration SECONDS] [--connections C]
#   defaults: 6 runs of each, 5 s each, 16 connections. Needs wrk, the README's .venv and a
#   release build of tern (built here if missing; TERN_BINARY overrides it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=6; DURATION=5; CONNECTIONS=16
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
PROJECT=$ROOT/examples/iris-classifier
[ -f "$PROJECT/model.pkl" ] || "$PY" "$PROJECT/train.py" >/dev/null
export BENCH_BODY_FILE=$PROJECT/sample.json
WORK=$(mktemp -d /tmp/tern-metrics-cost.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

declare -A URLS
for name in on off; do
  home=$WORK/$name; p=$(port); cp=$(port); flags=()
  [ "$name" = on ] || flags=(--no-metrics)
  "$TERN" serve --home "$home" --port "$p" --control-port "$cp" --python "$PY" "${flags[@]}" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  wait_tern_ready "$home" "$!" "$WORK/$name.log"
  "$TERN" deploy "$PROJECT/tern.yaml" --home "$home" >/dev/null
  URLS[$name]=http://127.0.0.1:$p/iris
  wait_http "${URLS[$name]}"
  wrk -t1 -c"$CONNECTIONS" -d2s -s bench/post.lua "${URLS[$name]}" >/dev/null 2>&1 || true   # warm-up
done

for run in $(seq 1 "$RUNS"); do
  order="on off"; [ $((run % 2)) -eq 0 ] && order="off on"
  for name in $order; do
    line=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s bench/post.lua "${URLS[$name]}" 2>&1 | grep '^BENCH')
    echo "run $run metrics $name: $line"
    echo "$name ${line}" >>"$WORK/results"
  done
done

"$PY" - "$WORK/results" "$CONNECTIONS" <<'PYEOF'
import re, statistics, sys
rps = {"on": [], "off": []}
for line in open(sys.argv[1]):
    name, rest = line.split(" ", 1)
    rps[name].append(float(re.search(r"rps=([\d.]+)", rest).group(1)))
on, off = statistics.mean(rps["on"]), statistics.mean(rps["off"])
print(f"metrics on:  mean {on:.0f} req/s (sd {statistics.pstdev(rps['on']):.0f}) over {len(rps['on'])} runs")
print(f"metrics off: mean {off:.0f} req/s (sd {statistics.pstdev(rps['off']):.0f}) over {len(rps['off'])} runs")
print(f"metrics on/off c={sys.argv[2]}: {on / off:.3f}")
PYEOF
