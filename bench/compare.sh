#!/usr/bin/env bash
# Serves the iris example in Tern and in each baseline, one at a time, loads each with wrk
# (same body, 1, 16 and 64 connections, after a warm-up), and prints one table plus, as the
# ratio lines, Tern's throughput ratios at 16 connections, at 1 connection, and at 16
# connections while a CPU burner keeps one core busy (Tern and raw only, same run):
#   tern/raw c=16: X.XX  tern/best-peer c=16: Y.YY
#   tern/raw c=1: X.XX
#   tern/raw c=16 with one core busy: X.XX
#   tern/raw c=16 metrics off: X.XX  metrics on/off c=16: Z.ZZ
# (`tern` runs with its default Prometheus metrics on; `tern-nometrics` is the same server with
# `tern serve --no-metrics`, measured in the same run, so the last ratio is the metrics' cost.)
#
# Usage: bench/compare.sh [--quick] [--duration SECONDS] [--rounds N] [--peers "fastapi litserve …"]
#   --quick      one short round of Tern (metrics on and off) and the raw limit only (no
#                installs); peer ratio n/a
#   baselines:   raw (bench/raw_server.py, stdlib asyncio, the floor under any 1-worker Python
#                server); peers from bench/peers/ installed into bench/.venvs/<peer> on first use
# Needs: wrk (apt-get install wrk), the README's set-up (.venv with scikit-learn), a release
# build of tern (built here if missing). Everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
QUICK=0; DURATION=10; ROUNDS=2; PEERS="fastapi litserve mlserver bentoml ray"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; DURATION=4; ROUNDS=1; PEERS=""; shift ;;
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
PROJECT=$ROOT/examples/iris-classifier
[ -f "$PROJECT/model.pkl" ] || "$PY" "$PROJECT/train.py" >/dev/null
JSON_BODY=$PROJECT/sample.json
WORK=$(mktemp -d /tmp/tern-bench.XXXXXX)
# MLServer speaks the Open Inference Protocol: the same four numbers as a V2 tensor.
V2_BODY=$WORK/v2.json
"$PY" -c "import json; d=json.load(open('$JSON_BODY')); json.dump({'inputs':[{'name':'predict','shape':[1,4],'datatype':'FP64','data':list(d.values())}]}, open('$V2_BODY','w'))"
export BENCH_BODY_FILE=$JSON_BODY
RESULTS=$WORK/results.tsv
SERVER_PID=""; SERVER_GROUP=""; BURNER=""
cleanup() { [ -z "$BURNER" ] || kill "$BURNER" 2>/dev/null || true; stop_server; rm -rf "$WORK"; }
trap cleanup EXIT

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
  if [ -n "$SERVER_GROUP" ]; then  # a peer's own process group: workers it left behind (LitServe's)
    kill -KILL -- "-$SERVER_GROUP" 2>/dev/null || true
    SERVER_GROUP=""
  fi
}

start_server() { # name -> sets SERVER_PID and URL
  local name=$1 p; p=$(port)
  case "$name" in
    tern|tern-nometrics)
      local home=$WORK/tern-home cp flags=(); cp=$(port); rm -rf "$home"
      [ "$name" = tern ] || flags=(--no-metrics)
      "$TERN" serve --home "$home" --port "$p" --control-port "$cp" --python "$PY" "${flags[@]}" >"$WORK/tern.log" 2>&1 &
      SERVER_PID=$!
      wait_tern_ready "$home" "$SERVER_PID" "$WORK/tern.log"
      "$TERN" deploy "$PROJECT/tern.yaml" --home "$home" >/dev/null
      URL=http://127.0.0.1:$p/iris ;;
    raw)
      "$PY" bench/raw_server.py "$PROJECT" "$p" >"$WORK/raw.log" 2>&1 &
      SERVER_PID=$!; URL=http://127.0.0.1:$p/ ;;
    *)
      bench/peers/setup.sh "$name" >&2
      setsid bench/peers/run.sh "$name" "$PROJECT" "$p" >"$WORK/$name.log" 2>&1 &
      SERVER_PID=$!; SERVER_GROUP=$SERVER_PID; URL=$(bench/peers/url.sh "$name" "$p") ;;
  esac
  wait_http "$URL"
}

measure() { # name round [label connections…]: label (default the name) names the rows
  local name=$1 round=$2 label=${3:-$1}
  local conns=${*:4}; [ -n "$conns" ] || conns="1 16 64"
  if [ "$name" = mlserver ]; then export BENCH_BODY_FILE=$V2_BODY; else export BENCH_BODY_FILE=$JSON_BODY; fi
  start_server "$name"
  wrk -t1 -c16 -d2s -s bench/post.lua "$URL" >/dev/null 2>&1 || true   # warm-up
  for c in $conns; do
    local before after line
    before=$("$PY" bench/cpu_seconds.py "$SERVER_PID")
    line=$(wrk -t1 -c"$c" -d"${DURATION}s" --timeout 10s -s bench/post.lua "$URL" 2>&1 | grep '^BENCH' || echo "BENCH rps=0 p50_us=0 p99_us=0 errors=-1 requests=0")
    after=$("$PY" bench/cpu_seconds.py "$SERVER_PID")
    echo -e "$round\t$label\t$c\t$line\t$before\t$after" >>"$RESULTS"
  done
  stop_server
}

SERVERS="tern tern-nometrics raw $PEERS"
for round in $(seq 1 "$ROUNDS"); do
  order=$SERVERS
  [ $((round % 2)) -eq 0 ] && order=$(echo "$SERVERS" | tr ' ' '\n' | tac | tr '\n' ' ')
  for name in $order; do
    echo "round $round: $name" >&2
    measure "$name" "$round"
  done
done

# Contention: a CPU burner pinned to the last core while Tern and raw serve 16 connections.
BURN_CORE=$(( $(nproc) - 1 ))
for round in $(seq 1 "$ROUNDS"); do
  for name in tern raw; do
    echo "round $round: $name, core $BURN_CORE busy" >&2
    taskset -c "$BURN_CORE" "$PY" -c 'while True: pass' &
    BURNER=$!
    measure "$name" "$round" "$name+busy" 16
    kill "$BURNER"; wait "$BURNER" 2>/dev/null || true; BURNER=""
  done
done

"$PY" - "$RESULTS" "$QUICK" <<'PYEOF'
import collections, re, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    rnd, name, c, bench, before, after = line.rstrip("\n").split("\t")
    m = dict(re.findall(r"(\w+)=(-?[\d.]+)", bench))
    rps, req = float(m["rps"]), float(m["requests"])
    cpu = (float(after) - float(before)) * 1000 / req * 1000 if req else 0.0  # CPU ms per 1000 requests
    rows[(name, int(c))].append((rps, int(m["p50_us"]) / 1000, int(m["p99_us"]) / 1000, int(m["errors"]), cpu))
print(f"{'server':<10} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU s/1k req':>13}")
for (name, c), values in sorted(rows.items(), key=lambda kv: (not kv[0][0].startswith("tern"), kv[0][0] != "raw", kv[0][0], kv[0][1])):
    mean = [statistics.mean(v[i] for v in values) for i in range(5)]
    print(f"{name:<10} {c:>5} {mean[0]:>9.0f} {mean[1]:>8.2f} {mean[2]:>8.2f} {int(sum(v[3] for v in values)):>7} {mean[4] / 1000:>13.3f}")
def rps(name, c=16):
    v = rows.get((name, c))
    return statistics.mean(x[0] for x in v) if v else None
tern, raw = rps("tern"), rps("raw")
peers = [rps(n) for (n, c) in rows if c == 16 and n not in ("tern", "tern-nometrics", "raw") and not n.endswith("+busy")]
peers = [p for p in peers if p]
best = max(peers) if peers else None
def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "n/a"
print(f"tern/raw c=16: {ratio(tern, raw)}  tern/best-peer c=16: {ratio(tern, best)}")
print(f"tern/raw c=1: {ratio(rps('tern', 1), rps('raw', 1))}")
print(f"tern/raw c=16 with one core busy: {ratio(rps('tern+busy'), rps('raw+busy'))}")
print(f"tern/raw c=16 metrics off: {ratio(rps('tern-nometrics'), raw)}  metrics on/off c=16: {ratio(tern, rps('tern-nometrics'))}")
PYEOF
