#!/usr/bin/env bash
# bench/scale.sh — Tern with many APIs and many idle client connections (issue 17's scale targets).
#
# What it measures, in one private `tern serve` (temporary TERN_HOME, free loopback ports, the
# venv's Python, release build):
#   1. baseline: tern serve's RSS with no API; `tern deploy` of one API with min_replicas 0
#      (until `scaled to zero`) and of one with min_replicas 1 (until `live`: includes the
#      replica's own start, i.e. Python start and the trivial predictor's load).
#   2. deploys --apis N APIs (default 1,000) of a trivial predictor (no imports), --chunk of them
#      per `tern deploy` (default 100, one generated project per chunk): --live of them (default 3)
#      with min_replicas 1, the others min_replicas 0 / init_replicas 0. Prints each chunk's
#      deploy time, so O(n) work per deploy shows as chunks getting slower.
#   3. with N APIs: tern serve's RSS (VmRSS of /proc/PID/status; replicas are other processes),
#      its threads, its CPU while idle over 10 s (the autoscaler's sampling and ticks);
#      `tern get` and `tern get -o json` (--get-runs runs each, default 100: median, p99, max of
#      the wall-clock, and CPU per run of the CLI and of tern serve); the two one-API deploys of
#      step 1 again (new names).
#   4. idle connections: --rounds rounds (default 2) of: wrk -t1 -c16 for --wrk-seconds (default
#      8) against one live API; then --idle-connections M (default 10,000) connections opened by
#      bench/idle_connections.py that send nothing (idle keep-alive clients before their first
#      request), the same wrk run while they are held, and a check of how many the gateway still
#      holds afterwards, then the run without them again (the machine is shared: the two runs
#      without bracket the one with). Everything between opening and checking stays well inside
#      the gateway's 60 s idle timeout (the script fails if it took longer). Prints p50/p99 of
#      the three runs.
#   The last lines (prefixed SCALE) are the figures for docs/benchmarks.md.
#
# Usage
#   bench/scale.sh                              # 1,000 APIs, 10,000 idle connections (~4 min)
#   bench/scale.sh --apis 200 --idle-connections 2000 --rounds 1
#   bench/scale.sh --idle-connections 0         # APIs only
# Options: --apis N, --idle-connections N, --live N, --chunk N, --get-runs N, --wrk-seconds N,
#   --rounds N. Environment: TERN_BINARY as in bench/common.sh (default: a release build in
#   .build-release, built if missing); replicas run the README's .venv Python.
# File descriptors: the script sets `ulimit -n` to 65536 (root with CAP_SYS_RESOURCE), else its
# soft limit to the hard one, before starting tern serve and the idle client, which inherit it;
# `tern serve` also raises its own soft limit to the hard one at start.
# Everything it starts is stopped at exit and its TERN_HOME removed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APIS=1000; IDLE=10000; LIVE=3; CHUNK=100; GET_RUNS=100; WRK_SECONDS=8; ROUNDS=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --apis) APIS=$2; shift 2 ;;
    --idle-connections) IDLE=$2; shift 2 ;;
    --live) LIVE=$2; shift 2 ;;
    --chunk) CHUNK=$2; shift 2 ;;
    --get-runs) GET_RUNS=$2; shift 2 ;;
    --wrk-seconds) WRK_SECONDS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
(( LIVE >= 1 && APIS >= LIVE )) || { echo "--live must be at least 1 and at most --apis" >&2; exit 2; }
cd "$ROOT"
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"  # wrk check, PY, TERN (release build), port, wait_tern_ready

ulimit -n 65536 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"  # both limits as root with CAP_SYS_RESOURCE, else soft = hard
(( $(ulimit -n) > IDLE + 1000 )) || { echo "ulimit -n is $(ulimit -n); --idle-connections $IDLE needs more" >&2; exit 1; }

HOME_DIR="$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-scale-XXXXXX")"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$HOME_DIR"
}
trap cleanup EXIT
tern() { "$TERN" "$@" --home "$HOME_DIR"; }
PORT="$(port)"; CONTROL_PORT="$(port)"

rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
threads() { awk '/^Threads/ { print $2 }' "/proc/$SERVER_PID/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
now_ms() { date +%s%3N; }

# time_runs RUNS CMD…: runs CMD RUNS times (output discarded); prints "median=… p99=… max=…" in
# ms of wall-clock, then the CPU (user + system) per run of CMD and of tern serve, in ms: CPU
# depends much less than wall-clock on what else runs on a shared machine.
time_runs() {
  local server_before server_after hz
  hz=$(getconf CLK_TCK)
  server_before=$(cpu_ticks)
  "$PY" - "$@" <<'PY'
import math, resource, statistics, subprocess, sys, time
runs, command = int(sys.argv[1]), sys.argv[2:]
times = []
before = resource.getrusage(resource.RUSAGE_CHILDREN)
for _ in range(runs):
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    times.append((time.perf_counter() - start) * 1000)
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000 / runs
times.sort()
p99 = times[max(0, math.ceil(0.99 * len(times)) - 1)]
print(f"median={statistics.median(times):.1f} p99={p99:.1f} max={times[-1]:.1f} cli_cpu={cpu:.1f}", end="")
PY
  server_after=$(cpu_ticks)
  awk -v t=$(( server_after - server_before )) -v hz="$hz" -v n="$1" 'BEGIN { printf " serve_cpu=%.1f\n", 1000 * t / hz / n }'
}

# write_project DIR FIRST COUNT LIVE: a project of COUNT APIs named api-FIRST… (the first LIVE of
# them min_replicas 1, the others 0), all sharing one trivial predictor.
write_project() {
  local dir=$1 first=$2 count=$3 live=$4 i
  mkdir -p "$dir"
  cat >"$dir/predictor.py" <<'EOF'
class PythonPredictor:
    def __init__(self, config):
        pass

    def predict(self, payload):
        return payload
EOF
  : >"$dir/tern.yaml"
  for ((i = first; i < first + count; i++)); do
    local min=0
    (( i - first < live )) && min=1
    printf -- '- name: api-%05d\n  kind: RealtimeAPI\n  predictor:\n    type: python\n    path: predictor.py\n  autoscaling:\n    min_replicas: %d\n    init_replicas: %d\n' \
      "$i" "$min" "$min" >>"$dir/tern.yaml"
  done
}

# deploy_one NAME MIN: deploys one API alone; prints the milliseconds `tern deploy` took.
deploy_one() {
  local dir="$HOME_DIR/one-$1" start
  mkdir -p "$dir"
  write_project "$dir" 0 1 "$2"
  sed -i "s/api-00000/$1/" "$dir/tern.yaml"
  start=$(now_ms)
  tern deploy "$dir/tern.yaml" --timeout 120 >/dev/null
  echo $(( $(now_ms) - start ))
}

"$TERN" serve --home "$HOME_DIR" --port "$PORT" --control-port "$CONTROL_PORT" --python "$PY" \
  >"$HOME_DIR/serve.log" 2>&1 &
SERVER_PID=$!
wait_tern_ready "$HOME_DIR" "$SERVER_PID" "$HOME_DIR/serve.log"

echo "tern: $TERN ($("$TERN" version)); $(nproc) CPUs; ulimit -n $(ulimit -n); $(date -u +%Y-%m-%dT%H:%MZ)"
RSS_EMPTY=$(rss_mib)
ONE0_BEFORE=$(deploy_one first-zero 0)
ONE1_BEFORE=$(deploy_one first-live 1)
echo "no APIs: RSS ${RSS_EMPTY} MiB; deploy one API: min_replicas 0 ${ONE0_BEFORE} ms, min_replicas 1 (to live) ${ONE1_BEFORE} ms"

DEPLOY_START=$(now_ms)
for ((first = 0; first < APIS; first += CHUNK)); do
  count=$(( APIS - first < CHUNK ? APIS - first : CHUNK ))
  live=$(( first == 0 ? LIVE : 0 ))
  dir="$HOME_DIR/chunk-$first"
  write_project "$dir" "$first" "$count" "$live"
  start=$(now_ms)
  tern deploy "$dir/tern.yaml" --timeout 600 >/dev/null
  echo "deployed api-$(printf %05d "$first")… ($count APIs, $live live): $(( $(now_ms) - start )) ms"
done
DEPLOY_ALL=$(( $(now_ms) - DEPLOY_START ))
sleep 2
RSS_FULL=$(rss_mib)
THREADS=$(threads)
ticks_before=$(cpu_ticks); sleep 10; ticks_after=$(cpu_ticks)
IDLE_CPU=$(awk -v t=$(( ticks_after - ticks_before )) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", 100 * t / hz / 10 }')
LISTED=$(tern get -o json | "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)))')
echo "$LISTED APIs deployed in $DEPLOY_ALL ms; RSS ${RSS_FULL} MiB, $THREADS threads, idle CPU ${IDLE_CPU} % of one core"
GET_TABLE=$(time_runs "$GET_RUNS" "$TERN" get --home "$HOME_DIR")
GET_JSON=$(time_runs "$GET_RUNS" "$TERN" get -o json --home "$HOME_DIR")
echo "tern get: $GET_TABLE ms; tern get -o json: $GET_JSON ms ($GET_RUNS runs each)"
ONE0_AFTER=$(deploy_one extra-zero 0)
ONE1_AFTER=$(deploy_one extra-live 1)
RSS_AFTER=$(rss_mib)
echo "with $LISTED APIs: deploy one more API: min_replicas 0 ${ONE0_AFTER} ms, min_replicas 1 (to live) ${ONE1_AFTER} ms; RSS ${RSS_AFTER} MiB"

# wrk_run: one wrk -t1 -c16 run against the first live API; prints "p50=… p99=… rps=… errors=…".
BODY="$HOME_DIR/body.json"; echo '{"x": [1, 2, 3]}' >"$BODY"
wrk_run() {
  BENCH_BODY_FILE="$BODY" wrk -t1 -c16 -d"${WRK_SECONDS}s" --latency -s "$ROOT/bench/post.lua" \
    "http://127.0.0.1:$PORT/api-00000" | awk '/^BENCH/ {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "p50=%.2f p99=%.2f rps=%.0f errors=%d", v["p50_us"] / 1000, v["p99_us"] / 1000, v["rps"], v["errors"] }'
}
IDLE_LINES=()
if (( IDLE > 0 )); then
  for ((round = 1; round <= ROUNDS; round++)); do
    without=$(wrk_run)
    coproc IDLER { "$PY" "$ROOT/bench/idle_connections.py" 127.0.0.1 "$PORT" "$IDLE"; }
    held_start=$(now_ms)
    read -r opened <&"${IDLER[0]}"
    rss_idle=$(rss_mib)
    with=$(wrk_run)
    echo >&"${IDLER[1]}"
    read -r held <&"${IDLER[0]}"
    wait "$IDLER_PID" || true
    held_ms=$(( $(now_ms) - held_start ))
    (( held_ms < 55000 )) || { echo "holding the idle connections took $held_ms ms, near the 60 s idle timeout" >&2; exit 1; }
    sleep 1
    again=$(wrk_run)
    line="round $round: without idle: $without | with $IDLE idle ($opened; $held; RSS ${rss_idle} MiB; held ${held_ms} ms): $with | without again: $again"
    echo "$line"; IDLE_LINES+=("$line")
    sleep 2
  done
fi

echo "SCALE apis=$LISTED deploy_all_ms=$DEPLOY_ALL rss_empty_mib=$RSS_EMPTY rss_mib=$RSS_FULL rss_after_mib=$RSS_AFTER threads=$THREADS idle_cpu_pct=$IDLE_CPU"
echo "SCALE tern_get_ms $GET_TABLE | tern_get_json_ms $GET_JSON"
echo "SCALE deploy_one_ms before: min0=$ONE0_BEFORE min1=$ONE1_BEFORE | with $LISTED APIs: min0=$ONE0_AFTER min1=$ONE1_AFTER"
for line in "${IDLE_LINES[@]}"; do echo "SCALE idle $line"; done
