#!/usr/bin/env bash
# Fault (a): SIGKILL one of two replicas under steady load. Expected: only the requests in flight
# on the killed replica fail (502 replica_failed); the other replica serves on; the killed one
# is restarted. Recovery: until the last failed request ended; "replica back": until the API had
# 2 ready replicas again. Usage: bench/faults/kill_replica.sh
source "$(dirname "$0")/lib.sh"
start_tern
deploy_slow_pair
start_load slow 20 '{"seconds":0.01}'
sleep 6
victim=$(replica_pids slow 1)
t0=$(now); kill -KILL "$victim"
t1=$(wait_ready slow 2 "$victim")
echo "$t0 $t1" >"$WORK/window"
finish_load
rss1=$(rss_mib "$SERVER_PID"); home1=$(home_bytes)
back=$("$PY" -c "print(f'{$t1 - $t0:.1f}')")
result kill-replica "$rss0" "$rss1" "$home0" "$home1" "$(field recovery_s) (replica back $back)"
