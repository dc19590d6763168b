#!/usr/bin/env bash
# bench/autoscale.sh — watch the autoscaler follow a load step with real replicas.
#
# What it does
#   1. Starts a private `tern serve` (temporary TERN_HOME, free loopback ports, the venv's
#      Python) with `--autoscaler-tick-seconds 1`, and deploys fixture `slow` (Tests/fixtures/slow)
#      as API `bench` with short autoscaling windows (see the tern.yaml below):
#      target_replica_concurrency 2, window 4s, upscale_stabilization_period 2s,
#      downscale_stabilization_period 5s, min_replicas 1, max_replicas 12 (max_downscale_factor
#      keeps its default 0.75, so scaling down from 8 takes several stabilization periods).
#   2. Drives a load step with a small closed-loop load generator (Python standard library,
#      keep-alive connections to 127.0.0.1 only, bounded duration): 1 client for 5 s, 16
#      clients for 60 s, then 1 client again until the API settled (at most 50 s). Every request is a 0.2 s prediction.
#   3. Prints one line a second: elapsed time, clients, in-flight requests (from the gateway's
#      `GET /bench` status document), requested and ready replicas (from `tern get bench -o json`),
#      and the requests answered / failed in that second.
#   4. At the end prints: the replicas the step needs (ceil(16 / target) = 8), how long after
#      the step up the API first had them all requested and ready, how long after the step down
#      it settled back at 1, and request totals (failures, latency percentiles).
#
# Usage
#   bench/autoscale.sh                # about 100 seconds
#   TERN_BINARY=.build/release/tern bench/autoscale.sh
#   HIGH_SECONDS=30 bench/autoscale.sh
#
# Environment
#   TERN_BINARY   the tern binary (default: .build/release/tern if built, else .build/debug/tern)
#   PYTHON        Python for replicas and the load generator (default: .venv/bin/python, else python3)
#   LOW_CLIENTS, HIGH_CLIENTS, LOW_SECONDS, HIGH_SECONDS, TAIL_SECONDS, PREDICT_SECONDS
#                 the load step (defaults 1, 16, 5, 60, 50, 0.2)
#
# Needs: a built tern (`swift build` or `swift build -c release`). Everything it starts is
# stopped at exit (`tern down`), and its temporary TERN_HOME is removed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${TERN_BINARY:-}" ]]; then
  if [[ -x "$ROOT/.build/release/tern" ]]; then TERN_BINARY="$ROOT/.build/release/tern"; else TERN_BINARY="$ROOT/.build/debug/tern"; fi
fi
[[ -x "$TERN_BINARY" ]] || { echo "no tern binary at $TERN_BINARY; run swift build first" >&2; exit 1; }
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON="$(command -v python3)"; fi
fi
PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")"  # replicas run in their project folder

LOW_CLIENTS="${LOW_CLIENTS:-1}"
HIGH_CLIENTS="${HIGH_CLIENTS:-16}"
LOW_SECONDS="${LOW_SECONDS:-5}"
HIGH_SECONDS="${HIGH_SECONDS:-60}"
TAIL_SECONDS="${TAIL_SECONDS:-50}"
PREDICT_SECONDS="${PREDICT_SECONDS:-0.2}"
TARGET=2
MAX_REPLICAS=12

HOME_DIR="$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-XXXXXX")"
tern() { "$TERN_BINARY" "$@" --home "$HOME_DIR"; }
cleanup() {
  tern down --timeout 30 >/dev/null 2>&1 || true
  rm -rf "$HOME_DIR"
}
trap cleanup EXIT

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
CONTROL_PORT="$(free_port)"

"$TERN_BINARY" serve --home "$HOME_DIR" --port "$PORT" --control-port "$CONTROL_PORT" --python "$PYTHON" \
  --autoscaler-tick-seconds 1 --stop-grace-seconds 5 >"$HOME_DIR/serve.log" 2>&1 &
for _ in $(seq 100); do [[ -f "$HOME_DIR/server.json" ]] && break; sleep 0.1; done
[[ -f "$HOME_DIR/server.json" ]] || { echo "tern serve did not start:" >&2; cat "$HOME_DIR/serve.log" >&2; exit 1; }

PROJECT="$HOME_DIR/project"
mkdir -p "$PROJECT"
cp "$ROOT/Tests/fixtures/slow/predictor.py" "$PROJECT/"
cat >"$PROJECT/tern.yaml" <<EOF
- name: bench
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
  autoscaling:
    min_replicas: 1
    max_replicas: $MAX_REPLICAS
    target_replica_concurrency: $TARGET
    window: 4s
    upscale_stabilization_period: 2s
    downscale_stabilization_period: 5s
EOF
tern deploy "$PROJECT/tern.yaml" --timeout 60 >/dev/null

echo "tern: $TERN_BINARY ($("$TERN_BINARY" version)); python: $PYTHON; $(nproc) CPUs"
echo "load: $LOW_CLIENTS client(s) ${LOW_SECONDS}s → $HIGH_CLIENTS clients ${HIGH_SECONDS}s → $LOW_CLIENTS client(s) ≤${TAIL_SECONDS}s; ${PREDICT_SECONDS}s predictions; target_replica_concurrency $TARGET, max_replicas $MAX_REPLICAS"

"$PYTHON" - "$PORT" "$TERN_BINARY" "$HOME_DIR" "$LOW_CLIENTS" "$HIGH_CLIENTS" "$LOW_SECONDS" "$HIGH_SECONDS" \
  "$TAIL_SECONDS" "$PREDICT_SECONDS" "$TARGET" "$MAX_REPLICAS" <<'PY'
import http.client, json, math, subprocess, sys, threading, time

port = int(sys.argv[1]); tern, home = sys.argv[2], sys.argv[3]
low, high = int(sys.argv[4]), int(sys.argv[5])
low_s, high_s, tail_s = float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
predict_s, target, max_replicas = float(sys.argv[9]), float(sys.argv[10]), int(sys.argv[11])
needed = min(max_replicas, math.ceil(high / target))
settled_count = max(1, math.ceil(low / target))

lock = threading.Lock()
ok = failed = 0
latencies = []
failures = {}
clients = 0
stop_all = threading.Event()

def client(my_stop):
    global ok, failed
    body = json.dumps({"seconds": predict_s})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not my_stop.is_set() and not stop_all.is_set():
        start = time.monotonic()
        try:
            conn.request("POST", "/bench", body, {"Content-Type": "application/json"})
            response = conn.getresponse(); response.read()
            status = response.status
        except Exception as e:  # a broken connection counts as a failure; reconnect
            status = type(e).__name__
            conn.close(); conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        with lock:
            if status == 200:
                ok += 1; latencies.append(time.monotonic() - start)
            else:
                failed += 1; failures[status] = failures.get(status, 0) + 1
    conn.close()

pool = []  # (thread, stop event)
def set_clients(n):
    global clients
    while len(pool) < n:
        event = threading.Event(); thread = threading.Thread(target=client, args=(event,), daemon=True)
        thread.start(); pool.append((thread, event))
    while len(pool) > n:
        thread, event = pool.pop(); event.set()
    clients = n

def in_flight():
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/bench"); doc = json.loads(conn.getresponse().read()); conn.close()
        return doc["in_flight"]
    except Exception:
        return -1

def replicas():
    try:
        out = subprocess.run([tern, "get", "bench", "-o", "json", "--home", home], capture_output=True, text=True, timeout=10).stdout
        doc = json.loads(out); return doc["requested_replicas"], doc["ready_replicas"]
    except Exception:
        return -1, -1

start = time.monotonic()
step_up = start + low_s
step_down = step_up + high_s
deadline = step_down + tail_s
reached_at = settled_at = None
peak_requested = 0
print(f"{'t(s)':>5} {'clients':>7} {'in-flight':>9} {'requested':>9} {'ready':>5} {'ok/s':>5} {'fail/s':>6}")
set_clients(low)
last_ok = last_failed = 0
next_tick = start + 1
while True:
    time.sleep(max(0, next_tick - time.monotonic()))
    now = time.monotonic(); t = now - start; next_tick += 1
    if now >= step_up and now < step_down and clients != high: set_clients(high)
    if now >= step_down and clients != low: set_clients(low)
    flight = in_flight(); requested, ready = replicas()
    with lock: o, f = ok, failed
    show = lambda n: str(n) if n >= 0 else "?"  # ? = could not be read this second
    print(f"{t:5.0f} {clients:7d} {show(flight):>9} {show(requested):>9} {show(ready):>5} {o - last_ok:5d} {f - last_failed:6d}", flush=True)
    last_ok, last_failed = o, f
    peak_requested = max(peak_requested, requested)
    if step_up <= now < step_down and reached_at is None and requested >= needed and ready >= needed:
        reached_at = now - step_up
    if now >= step_down and settled_at is None and requested == settled_count and ready == settled_count:
        settled_at = now - step_down
    if now >= deadline or (settled_at is not None and now >= step_down + settled_at + 3):
        break
stop_all.set(); set_clients(0)
for thread, _ in pool: thread.join(timeout=5)

latencies.sort()
pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")
print()
print("summary")
print(f"  replicas needed at {high} clients: ceil({high} / {target:g}) = {math.ceil(high / target)}"
      + (f", capped at max_replicas {max_replicas}" if needed < math.ceil(high / target) else ""))
print(f"  reached {needed} requested and ready: " + (f"{reached_at:.1f} s after the step up" if reached_at is not None else "never"))
print(f"  peak requested replicas: {peak_requested}")
print(f"  settled back at {settled_count}: " + (f"{settled_at:.1f} s after the step down" if settled_at is not None else f"not within {tail_s:g} s"))
print(f"  requests: {ok} ok, {failed} failed {failures if failures else ''}")
print(f"  latency of ok requests: p50 {pct(0.50):.0f} ms, p90 {pct(0.90):.0f} ms, p99 {pct(0.99):.0f} ms, max {pct(1.0):.0f} ms")
PY
