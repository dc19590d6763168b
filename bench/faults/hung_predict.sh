#!/usr/bin/env bash
# Fault (c): one predict hangs (sleeps 300 s) under steady load; networking.request_timeout 2s,
# 2 replicas. Expected: that request answers 504 after ~2 s, every other request is served (by
# the other replica while the hung one is busy). Usage: bench/faults/hung_predict.sh
source "$(dirname "$0")/lib.sh"
start_tern
deploy "$(project slow '- name: slow
  kind: RealtimeAPI
  predictor: {type: python, path: predictor.py}
  networking: {request_timeout: 2s}
  autoscaling: {min_replicas: 2, max_replicas: 2}')"
rss0=$(rss_mib "$SERVER_PID"); home0=$(home_bytes)
start_load slow 20 '{"seconds":0.01}'
sleep 6
t0=$(now)
hung=$(curl -s -o "$WORK/hung.body" -w '%{http_code} %{time_total}' -X POST -H 'Content-Type: application/json' \
  -d '{"seconds":300}' "$(url slow)")
t1=$(now)
echo "$t0 $t1" >"$WORK/window"
echo "hung request: status and seconds $hung; body $(cat "$WORK/hung.body")" >&2
finish_load
rss1=$(rss_mib "$SERVER_PID"); home1=$(home_bytes)
result "hung-predict (hung one: ${hung%% *})" "$rss0" "$rss1" "$home0" "$home1" "${hung#* }"
