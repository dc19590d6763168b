#!/usr/bin/env bash
# Fault (g): a replica floods stdout/stderr (fixture `flood`: a thread writing ~FLOOD_MBPS MB/s,
# default 20, for 30 s) while another API is under steady load. Expected: TERN_HOME stays
# bounded (the API log is capped and rotated: `tern serve --max-log-bytes`, here 8 MiB) and the
# other API's latency does not change. Prints p50/p99 of the loaded API before and during the
# flood. Usage: bench/faults/log_flood.sh
source "$(dirname "$0")/lib.sh"
CAP_ARGS=()
if "$TERN" serve --help 2>/dev/null | grep -q -- --max-log-bytes; then CAP_ARGS=(--max-log-bytes $((8 << 20))); fi
start_tern "${CAP_ARGS[@]}"
deploy "$(project slow '- name: slow
  kind: RealtimeAPI
  predictor: {type: python, path: predictor.py}')"
rss0=$(rss_mib "$SERVER_PID"); home0=$(home_bytes)
# Baseline latency without the flood.
"$PY" bench/faults/load.py "$(url slow)" --rate "$RATE" --threads "$THREADS" --duration 8 --body '{"seconds":0.005}' \
  --csv "$WORK/base.csv" >/dev/null
deploy "$(project flood '- name: flood
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
    config: {mb_per_second: '"${FLOOD_MBPS:-20}"', seconds: 30}')"
t0=$(now)
start_load slow 20 '{"seconds":0.005}'
sleep 20
echo "$t0 $(now)" >"$WORK/window"
finish_load
sleep 10  # the rest of the flood
rss1=$(rss_mib "$SERVER_PID"); home1=$(home_bytes)
ls -la "$HOME_DIR/logs" >&2
"$PY" - "$WORK/base.csv" "$WORK/load.csv" <<'PYEOF' >&2
import csv, statistics, sys
for name, path in (("before flood", sys.argv[1]), ("during flood", sys.argv[2])):
    lat = sorted(float(r["latency_s"]) * 1000 for r in csv.DictReader(open(path)) if r["status"] == "200")
    print(f"{name}: n={len(lat)} p50={lat[len(lat)//2]:.1f} ms p99={lat[int(len(lat)*0.99)]:.1f} ms")
PYEOF
result "log-flood (${FLOOD_MBPS:-20} MB/s x 30 s)" "$rss0" "$rss1" "$home0" "$home1"
