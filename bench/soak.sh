#!/usr/bin/env bash
# Soak: steady-rate load on a 2-replica echo API for --minutes (default 30) while, every
# --update-every s (default 300), a rolling update (redeploy with a changed env var) runs and,
# every --kill-every s (default 420), one replica is SIGKILLed. Every --sample-every s (default
# 10) it samples tern serve's RSS and fd count and the replicas' (summed) into samples.csv. At
# the end bench/soak_report.py prints the least-squares memory and fd slopes per hour and the
# failed requests outside the fault windows (the target is 0).
#
# Usage: bench/soak.sh [--minutes 30] [--rate 20] [--update-every 300] [--kill-every 420]
#                      [--sample-every 10] [--out DIR]
# Output files (samples.csv, load.csv, windows.txt, tern.log, report.txt) stay in --out
# (default /tmp/tern-soak-<time>). Environment: as bench/faults/lib.sh (TERN_BINARY, own ports and
# TERN_HOME in a temporary folder).
MINUTES=30; SOAK_RATE=20; UPDATE_EVERY=300; KILL_EVERY=420; SAMPLE_EVERY=10; OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) MINUTES=$2; shift 2 ;;
    --rate) SOAK_RATE=$2; shift 2 ;;
    --update-every) UPDATE_EVERY=$2; shift 2 ;;
    --kill-every) KILL_EVERY=$2; shift 2 ;;
    --sample-every) SAMPLE_EVERY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$MINUTES" "$SOAK_RATE" "$UPDATE_EVERY" "$KILL_EVERY" "$SAMPLE_EVERY"; do
  [[ $v =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "option values must be positive numbers, got '$v'" >&2; exit 2; }
done
OUT=${OUT:-/tmp/tern-soak-$(date -u +%Y%m%dT%H%M%S)}
mkdir -p "$OUT"
source "$(dirname "$0")/faults/lib.sh"
# On an early end the load generator is stopped and waited for: it still writes load.csv.
EXTRA_CLEANUP='[ -z "${LOAD_PID:-}" ] || { kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null; }; cp "$WORK/tern.log" "$OUT/" 2>/dev/null'

start_tern
revision=0
config() {
  project echo "- name: soak
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
    env: {SOAK_REVISION: \"$revision\"}
  autoscaling: {min_replicas: 2, max_replicas: 2}"
}
deploy "$(config)"
wait_ready soak 2 >/dev/null

duration=$(( MINUTES * 60 ))
"$PY" "$ROOT/bench/faults/load.py" "$(url soak)" --rate "$SOAK_RATE" --threads 8 --duration "$duration" \
  --body '{"soak": true}' --timeout 30 --csv "$OUT/load.csv" >"$OUT/load.out" 2>&1 &
LOAD_PID=$!

# sample: one samples.csv row.
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
sample() {
  local rr=0 rf=0 n=0 pid
  for pid in $(replica_pids soak 2>/dev/null); do
    [ -d "/proc/$pid" ] || continue
    rr=$(( rr + $(rss_kib "$pid") )); rf=$(( rf + $(fds "$pid") )); n=$(( n + 1 ))
  done
  echo "$(now),$(rss_kib "$SERVER_PID"),$(fds "$SERVER_PID"),$rr,$rf,$n" >>"$OUT/samples.csv"
}
echo "t,serve_rss_kib,serve_fds,replica_rss_kib,replica_fds,replicas" >"$OUT/samples.csv"
: >"$OUT/windows.txt"

start=$(date +%s)
next_sample=$start; next_update=$(( start + UPDATE_EVERY )); next_kill=$(( start + KILL_EVERY ))
end=$(( start + duration ))
echo "soak: $MINUTES min at $SOAK_RATE req/s, output in $OUT" >&2
while [ "$(date +%s)" -lt "$end" ]; do
  t=$(date +%s)
  if [ "$t" -ge "$next_sample" ]; then sample; next_sample=$(( next_sample + SAMPLE_EVERY )); fi
  if [ "$t" -ge "$next_update" ] && [ "$t" -lt $(( end - 30 )) ]; then
    revision=$(( revision + 1 )); a=$(now)
    deploy "$(config)" || echo "rolling update $revision failed" >&2
    wait_ready soak 2 >/dev/null || true
    echo "update $a $(now)" >>"$OUT/windows.txt"; next_update=$(( next_update + UPDATE_EVERY ))
    echo "$(date -u +%T) rolling update $revision done" >&2
  fi
  if [ "$(date +%s)" -ge "$next_kill" ] && [ "$(date +%s)" -lt $(( end - 30 )) ]; then
    victim=$(replica_pids soak 1); a=$(now)
    kill -KILL "$victim" 2>/dev/null || true
    wait_ready soak 2 "$victim" >/dev/null || true
    echo "kill $a $(now)" >>"$OUT/windows.txt"; next_kill=$(( next_kill + KILL_EVERY ))
    echo "$(date -u +%T) replica $victim killed and replaced" >&2
  fi
  sleep 1
done
sample
wait "$LOAD_PID" || true; LOAD_PID=""
"$PY" "$ROOT/bench/soak_report.py" --samples "$OUT/samples.csv" --load "$OUT/load.csv" \
  --windows "$OUT/windows.txt" | tee "$OUT/report.txt"
