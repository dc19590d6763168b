#!/usr/bin/env bash
# Fault (b): SIGSTOP one of two replicas for 10 s under steady load, then SIGCONT. Expected: the
# requests sent to the stopped replica wait (or fail once its health checks give up and it is
# restarted); the other replica serves the rest. Usage: bench/faults/stop_replica.sh
source "$(dirname "$0")/lib.sh"
start_tern
deploy_slow_pair
start_load slow 30 '{"seconds":0.01}'
sleep 6
victim=$(replica_pids slow 1)
EXTRA_CLEANUP="kill -CONT $victim 2>/dev/null"
t0=$(now); kill -STOP "$victim"; sleep 10; kill -CONT "$victim" 2>/dev/null || true
t1=$(wait_ready slow 2)
echo "$t0 $t1" >"$WORK/window"
finish_load
rss1=$(rss_mib "$SERVER_PID"); home1=$(home_bytes)
after=$(replica_pids slow | tr '\n' ' ')
echo "stopped pid $victim; replicas now: $after" >&2
result stop-replica-10s "$rss0" "$rss1" "$home0" "$home1"
