# Shared set-up of the fault-injection scripts (sourced by bench/faults/<scenario>.sh).
#
# Each scenario starts its own release `tern serve` (free loopback ports, its own TERN_HOME in a
# temporary folder, the README's .venv Python), deploys a project, runs bench/faults/load.py
# against it, injects one fault and prints one result line:
#   RESULT scenario | sent | failed | failed outside fault window | recovery s | tern serve RSS before/after MiB | TERN_HOME bytes before/after
# Environment: TERN_BINARY (default: the release build .build/release/tern, else as in
# bench/common.sh), FAULT_RATE (requests/s, default 100), FAULT_THREADS (default 16).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
[ -n "${TERN_BINARY:-}" ] || [ ! -x "$ROOT/.build/release/tern" ] || export TERN_BINARY=$ROOT/.build/release/tern
export BENCH_NO_WRK=1
# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
FIXTURES=$ROOT/Tests/fixtures
RATE=${FAULT_RATE:-100}
THREADS=${FAULT_THREADS:-16}
WORK=$(mktemp -d /tmp/tern-faults.XXXXXX)
HOME_DIR=$WORK/home
SERVER_PID=""
GATEWAY_PORT=""; CONTROL_PORT=""
EXTRA_CLEANUP=${EXTRA_CLEANUP:-true}

cleanup() {
  eval "$EXTRA_CLEANUP" || true
  stop_tern
  # A replica left behind (after a SIGKILLed tern serve) is found by its TERN_HOME socket path.
  for pid in $(pgrep -f "$HOME_DIR/" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
  if [ -n "${FAULT_KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# start_tern [extra serve options…]: starts tern serve on fresh ports (or the ones already chosen)
# with HOME_DIR; sets SERVER_PID; waits until it is ready.
start_tern() {
  [ -n "$GATEWAY_PORT" ] || { GATEWAY_PORT=$(port); CONTROL_PORT=$(port); }
  rm -f "$HOME_DIR/server.json"
  "$TERN" serve --home "$HOME_DIR" --port "$GATEWAY_PORT" --control-port "$CONTROL_PORT" --python "$PY" "$@" \
    >>"$WORK/tern.log" 2>&1 &
  SERVER_PID=$!
  wait_tern_ready "$HOME_DIR" "$SERVER_PID" "$WORK/tern.log"
}

# stop_tern: SIGTERM, then SIGKILL after 15 s.
stop_tern() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# project FIXTURE YAML: a project folder in WORK with FIXTURE's predictor.py and the given
# tern.yaml; prints its tern.yaml path.
project() {
  local dir=$WORK/project-$1
  mkdir -p "$dir"
  cp "$FIXTURES/$1/predictor.py" "$dir/"
  printf '%s\n' "$2" >"$dir/tern.yaml"
  echo "$dir/tern.yaml"
}

# deploy CONFIG: tern deploy (waits until live).
deploy() { "$TERN" deploy "$1" --home "$HOME_DIR" --timeout 120 >/dev/null; }

# deploy_slow_pair: deploys API `slow` (the `slow` fixture: predict sleeps for the payload's
# "seconds") with exactly 2 replicas, the set-up most scenarios share; then records tern serve's
# RSS (rss0, MiB) and TERN_HOME's size (home0, bytes) before the fault.
deploy_slow_pair() {
  deploy "$(project slow '- name: slow
  kind: RealtimeAPI
  predictor: {type: python, path: predictor.py}
  autoscaling: {min_replicas: 2, max_replicas: 2}')"
  rss0=$(rss_mib "$SERVER_PID"); home0=$(home_bytes)
}

# url API: the gateway URL of API.
url() { echo "http://127.0.0.1:$GATEWAY_PORT/$1"; }

# api_json API: `tern get API -o json`.
api_json() { "$TERN" get "$1" --home "$HOME_DIR" -o json; }

# replica_pids API [COUNT]: the pids of API's replicas, one a line (at most COUNT). Take the first
# with `replica_pids API 1`, not `| head -1`: under pipefail, head closing the pipe early made the
# printer die of a broken pipe and `set -e` end the whole script (a soak died so at 28 min).
replica_pids() {
  api_json "$1" | "$PY" -c 'import json,sys
pids = [r["pid"] for r in json.load(sys.stdin).get("replicas", []) if r.get("pid")]
pids = pids[:int(sys.argv[1])] if len(sys.argv) > 1 else pids
if pids: print(*pids, sep="\n")' ${2:+"$2"}
}

# wait_ready API COUNT [EXCLUDED_PID] [TIMEOUT]: waits until API has COUNT ready replicas, none
# with pid EXCLUDED_PID; prints the Unix time it saw that.
wait_ready() {
  local api=$1 count=$2 excluded=${3:-0} timeout=${4:-120} deadline
  deadline=$(( $(date +%s) + timeout ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if api_json "$api" 2>/dev/null | "$PY" -c '
import json, sys
d = json.load(sys.stdin); count, excluded = int(sys.argv[1]), int(sys.argv[2])
ready = [r for r in d.get("replicas", []) if r.get("state") == "ready" and r.get("pid") and r.get("pid") != excluded]
sys.exit(0 if len(ready) >= count else 1)' "$count" "$excluded"; then
      date +%s.%N; return 0
    fi
    sleep 0.2
  done
  echo "$api did not get $count ready replicas within $timeout s" >&2; return 1
}

# rss_mib PID: VmRSS of PID in MiB (one decimal).
rss_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# home_bytes: bytes under HOME_DIR.
home_bytes() { du -sb "$HOME_DIR" | cut -f1; }

# start_load API SECONDS [BODY]: starts load.py in the background (LOAD_PID), output in WORK/load.out.
start_load() {
  "$PY" "$ROOT/bench/faults/load.py" "$(url "$1")" --rate "$RATE" --threads "$THREADS" --duration "$2" \
    --body "${3:-{\}}" --timeout 30 --csv "$WORK/load.csv" --window-file "$WORK/window" >"$WORK/load.out" 2>&1 &
  LOAD_PID=$!
}

# finish_load: waits for load.py; prints its output to stderr; sets LOAD_LINE (its LOAD line).
finish_load() {
  wait "$LOAD_PID" || true
  cat "$WORK/load.out" >&2
  LOAD_LINE=$(grep '^LOAD' "$WORK/load.out" || echo "LOAD sent=0 ok=0 failed=0 outside=0 recovery_s=0")
}

# field NAME: a key=value field of LOAD_LINE.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $LOAD_LINE"; }

# result SCENARIO RSS_BEFORE RSS_AFTER HOME_BEFORE HOME_AFTER [RECOVERY]: the result line;
# RECOVERY (seconds) overrides load.py's (time to the end of the last failed request).
result() {
  local recovery=${6:-$(field recovery_s)}
  echo "RESULT $1 | $(field sent) | $(field failed) | $(field outside) | $recovery | $2/$3 | $4/$5"
}

# now: Unix time with fractions.
now() { date +%s.%N; }
