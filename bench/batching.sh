#!/usr/bin/env bash
# Server-side batching on a vectorised model: the iris classifier (scikit-learn logistic
# regression) served by Tern twice, on one replica with one process and one thread each, and by
# the raw limit (bench/raw_server.py, see compare.sh):
#   single   examples/iris-classifier: one model.predict call per request
#   batched  examples/batching-iris: server_side_batching, one model.predict call per batch
#   raw      the single project in the stdlib asyncio server: one predict call per request
# Each is loaded with wrk (same body, 16 and 64 connections, after a warm-up; single and batched
# also with 1 connection); the script prints req/s, p50 and p99 for each and, as the last lines,
# the throughput ratios of batched to single and to the raw limit (issue #5's batching target is
# batched/raw at c=16 >= 3) and, at one connection, of batched to single (issue #17's target:
# batching costs a lone client at most 10 %, so >= 0.9):
#   batched/single c=16: X.XX  c=64: Y.YY
#   batched/raw c=16: X.XX  c=64: Y.YY
#   batched/unbatched c=1: Z.ZZ
#
# Usage: bench/batching.sh [--duration SECONDS] [--rounds N] [--batch SIZE] [--interval DURATION]
#                          [--wait adaptive|full_interval]
#   defaults: 10 s per measurement, 2 rounds (the order alternates), max_batch_size 16,
#   batch_interval 2ms, batch_wait left out (adaptive).
# Needs: wrk (apt-get install wrk), the README's set-up (.venv with scikit-learn), a release
# build of tern (built here if missing; TERN_BINARY overrides). Everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=10; ROUNDS=2; BATCH=16; INTERVAL=2ms; WAIT=""; CONNECTIONS="16 64"
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --interval) INTERVAL=$2; shift 2 ;;
    --wait) WAIT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
WORK=$(mktemp -d /tmp/tern-bench-batching.XXXXXX)
SERVER_PID=""; RAW_PID=""
cleanup() {
  for pid in $SERVER_PID $RAW_PID; do
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Two projects with the same model; one replica each, so that only batching differs.
for mode in single batched; do
  example=iris-classifier; [ $mode = batched ] && example=batching-iris
  mkdir -p "$WORK/$mode"
  cp "examples/$example/predictor.py" "$WORK/$mode/"
  "$PY" "examples/$example/train.py" "$WORK/$mode/model.pkl" >/dev/null
  batching=""
  [ $mode = batched ] && batching="
    server_side_batching:
      max_batch_size: $BATCH
      batch_interval: $INTERVAL"
  [ $mode = batched ] && [ -n "$WAIT" ] && batching="$batching
      batch_wait: $WAIT"
  cat >"$WORK/$mode/tern.yaml" <<YAML
- name: iris-$mode
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
    config:
      model: model.pkl$batching
  autoscaling:
    min_replicas: 1
    max_replicas: 1
YAML
done

PORT=$(port); CONTROL_PORT=$(port); HOME_DIR=$WORK/tern-home
"$TERN" serve --home "$HOME_DIR" --port "$PORT" --control-port "$CONTROL_PORT" --python "$PY" >"$WORK/tern.log" 2>&1 &
SERVER_PID=$!
wait_tern_ready "$HOME_DIR" "$SERVER_PID" "$WORK/tern.log"
for mode in single batched; do
  "$TERN" deploy "$WORK/$mode/tern.yaml" --home "$HOME_DIR" >/dev/null
done
export BENCH_BODY_FILE=$ROOT/examples/iris-classifier/sample.json
for mode in single batched; do
  answer=$(curl -sf -X POST -H 'Content-Type: application/json' --data-binary @"$BENCH_BODY_FILE" "http://127.0.0.1:$PORT/iris-$mode")
  [ "$answer" = setosa ] || { echo "iris-$mode answered $answer" >&2; exit 1; }
done

# The raw limit serves the single project (its own process, idle while the others are loaded).
RAW_PORT=$(port)
"$PY" bench/raw_server.py "$WORK/single" "$RAW_PORT" >"$WORK/raw.log" 2>&1 &
RAW_PID=$!
wait_http "http://127.0.0.1:$RAW_PORT/"

RESULTS=$WORK/results.tsv
for round in $(seq 1 "$ROUNDS"); do
  order="single batched raw"; [ $((round % 2)) -eq 0 ] && order="raw batched single"
  for mode in $order; do
    echo "round $round: $mode" >&2
    url=http://127.0.0.1:$PORT/iris-$mode
    [ $mode = raw ] && url=http://127.0.0.1:$RAW_PORT/
    wrk -t1 -c16 -d2s -s bench/post.lua "$url" >/dev/null 2>&1 || true   # warm-up
    connections=$CONNECTIONS; [ $mode = raw ] || connections="1 $CONNECTIONS"
    for c in $connections; do
      line=$(wrk -t1 -c"$c" -d"${DURATION}s" --timeout 10s -s bench/post.lua "$url" 2>&1 | grep '^BENCH' || echo "BENCH rps=0 p50_us=0 p99_us=0 errors=-1 requests=0")
      echo -e "$round\t$mode\t$c\t$line" >>"$RESULTS"
    done
  done
done

echo "iris (LogisticRegression), 1 replica × 1 process × 1 thread; batched: max_batch_size $BATCH, batch_interval $INTERVAL, batch_wait ${WAIT:-adaptive (default)}; wrk ${DURATION}s × $ROUNDS round(s); $(nproc) CPUs"
"$PY" - "$RESULTS" <<'PYEOF'
import collections, re, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    rnd, mode, c, bench = line.rstrip("\n").split("\t")
    m = dict(re.findall(r"(\w+)=(-?[\d.]+)", bench))
    rows[(mode, int(c))].append((float(m["rps"]), int(m["p50_us"]) / 1000, int(m["p99_us"]) / 1000, int(m["errors"])))
print(f"{'mode':<8} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
order = {"single": 0, "batched": 1, "raw": 2}
for (mode, c), values in sorted(rows.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
    mean = [statistics.mean(v[i] for v in values) for i in range(3)]
    print(f"{mode:<8} {c:>5} {mean[0]:>9.0f} {mean[1]:>8.2f} {mean[2]:>8.2f} {sum(v[3] for v in values):>7}")
def ratio(base, c):
    baseline = statistics.mean(v[0] for v in rows[(base, c)])
    batched = statistics.mean(v[0] for v in rows[("batched", c)])
    return f"{batched / baseline:.2f}" if baseline else "n/a"
loaded = sorted({c for (mode, c) in rows if mode == "raw"})
for base in ("single", "raw"):
    print(f"batched/{base} " + "  ".join(f"c={c}: {ratio(base, c)}" for c in loaded))
print(f"batched/unbatched c=1: {ratio('single', 1)}")
PYEOF
