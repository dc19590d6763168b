#!/usr/bin/env bash
# Where the per-request cost goes at low concurrency: serves the iris example in Tern and in the
# raw limit (bench/raw_server.py), loads each with wrk at the given connection counts, and counts
# for each process — Tern's gateway (`tern serve`), its replica (the Python worker), and the raw
# server — per request: system calls, context switches (perf stat's `raw_syscalls:sys_enter` and
# `context-switches`, which include both voluntary and involuntary) and CPU time (µs, /proc).
#
#   server   process   conns   req/s   p50 ms   syscalls/req   switches/req   CPU µs/req
# (req/s and p50 are the wrk run's, so they repeat on each process row of one run.)
#
# Usage: bench/overhead.sh [--duration SECONDS] [--connections "1 16"] [--event-loops N]
#   --event-loops   passed to `tern serve --event-loops` (default: the server's own choice)
# Needs: wrk, perf (apt-get install wrk linux-perf), the README's set-up, a release build of tern
# (built here if missing; TERN_BINARY overrides). perf needs perf_event_paranoid ≤ 2 for the
# tracepoint (root here). Everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=6; CONNECTIONS="1 16"; LOOPS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration|--connections|--event-loops)
      [ $# -ge 2 ] || { echo "$1 needs a value (see --help)" >&2; exit 2; } ;;&
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --event-loops) LOOPS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 1; }
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
PROJECT=$ROOT/examples/iris-classifier
[ -f "$PROJECT/model.pkl" ] || "$PY" "$PROJECT/train.py" >/dev/null
export BENCH_BODY_FILE=$PROJECT/sample.json
WORK=$(mktemp -d /tmp/tern-bench-overhead.XXXXXX)
PIDS=""
cleanup() {
  for pid in $PIDS; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $PIDS; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # utime + stime of one process

# measure LABEL URL "process=pid …": one wrk run per connection count, perf stat on each pid.
measure() {
  local label=$1 url=$2 procs=$3 c
  wrk -t1 -c16 -d2s -s bench/post.lua "$url" >/dev/null 2>&1 || true  # warm-up
  for c in $CONNECTIONS; do
    local entry stats=() names=() pids=() before=() i
    for entry in $procs; do
      names+=("${entry%%=*}"); pids+=("${entry#*=}")
    done
    for i in "${!pids[@]}"; do
      before+=("$(cpu_ticks "${pids[$i]}")")
      perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "${pids[$i]}" -o "$WORK/perf.$i" \
        -- sleep "$DURATION" &
      stats+=($!)
    done
    local line
    line=$(wrk -t1 -c"$c" -d"${DURATION}s" --timeout 10s -s bench/post.lua "$url" 2>&1 | grep '^BENCH')
    wait "${stats[@]}"
    for i in "${!pids[@]}"; do
      local after; after=$(cpu_ticks "${pids[$i]}")
      echo -e "$label\t${names[$i]}\t$c\t$line\t$(( after - ${before[$i]} ))\t$(grep -E 'sys_enter|context-switches' "$WORK/perf.$i" | cut -d, -f1 | tr '\n' '\t')" \
        >>"$WORK/results.tsv"
    done
  done
}

# Tern: the gateway is `tern serve`; the replica is its Python worker (the only python child).
p=$(port); cp=$(port)
loops=(); [ -n "$LOOPS" ] && loops=(--event-loops "$LOOPS")
"$TERN" serve --home "$WORK/home" --port "$p" --control-port "$cp" --python "$PY" "${loops[@]}" >"$WORK/tern.log" 2>&1 &
TERN_PID=$!; PIDS="$TERN_PID"
wait_tern_ready "$WORK/home" "$TERN_PID" "$WORK/tern.log"
"$TERN" deploy "$PROJECT/tern.yaml" --home "$WORK/home" >/dev/null
wait_http "http://127.0.0.1:$p/iris"
REPLICA=$(pgrep -P "$TERN_PID" -f "tern_runtime" || true)  # this server's replica, not another's
[ -n "$REPLICA" ] || { echo "no replica process found" >&2; exit 1; }
measure tern "http://127.0.0.1:$p/iris" "gateway=$TERN_PID replica=$REPLICA"
kill -TERM "$TERN_PID"; wait "$TERN_PID" 2>/dev/null || true; PIDS=""

p=$(port)
"$PY" bench/raw_server.py "$PROJECT" "$p" >"$WORK/raw.log" 2>&1 &
RAW_PID=$!; PIDS="$RAW_PID"
wait_http "http://127.0.0.1:$p/"
measure raw "http://127.0.0.1:$p/" "server=$RAW_PID"

"$PY" - "$WORK/results.tsv" "$(getconf CLK_TCK)" <<'PYEOF'
import re, sys
ticks = int(sys.argv[2])
print(f"{'server':<7} {'process':<8} {'conns':>5} {'req/s':>7} {'p50 ms':>7} {'syscalls/req':>13} {'switches/req':>13} {'CPU µs/req':>11}")
for line in open(sys.argv[1]):
    label, name, c, bench, cpu, syscalls, switches, *_ = line.rstrip("\n").split("\t")
    m = dict(re.findall(r"(\w+)=(-?[\d.]+)", bench))
    n = float(m["requests"]) or 1
    print(f"{label:<7} {name:<8} {c:>5} {float(m['rps']):>7.0f} {int(m['p50_us']) / 1000:>7.2f} "
          f"{float(syscalls) / n:>13.2f} {float(switches) / n:>13.2f} {int(cpu) / ticks * 1e6 / n:>11.0f}")
PYEOF
