#!/usr/bin/env bash
# Fault (e): SIGKILL tern serve under steady load, restart it at once (same home, same ports).
# Expected: requests fail only while it is down; after the restart the API is live again with
# new replicas and no replica of the killed server is left. Recovery: from the kill until the
# last failed request ended. Usage: bench/faults/kill_server.sh
source "$(dirname "$0")/lib.sh"
start_tern
deploy_slow_pair
old=$(replica_pids slow | tr '\n' ' ')
start_load slow 25 '{"seconds":0.01}'
sleep 6
t0=$(now); kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
start_tern
t1=$(wait_ready slow 2)
echo "$t0 $t1" >"$WORK/window"
finish_load
left=0; for pid in $old; do kill -0 "$pid" 2>/dev/null && left=$((left + 1)); done
echo "old replicas $old: $left still running; new: $(replica_pids slow | tr '\n' ' ')" >&2
rss1=$(rss_mib "$SERVER_PID"); home1=$(home_bytes)
result "kill-serve+restart (orphans: $left)" "$rss0" "$rss1" "$home0" "$home1"
