#!/usr/bin/env bash
# Fault (f): file descriptors exhausted. tern serve runs under `prlimit --nofile=256:256`; while
# steady load runs on 16 keep-alive connections, 400 more client connections are opened and held
# (bench/idle_connections.py). Expected: the established connections keep being served; new
# connections wait or fail while the descriptors are gone; tern serve does not spin (its CPU is
# sampled from /proc/PID/stat over 5 s while they are held); a new connection is served again
# once they close (recovery: from closing them until a fresh connection got 200).
# Usage: bench/faults/fd_exhaustion.sh
source "$(dirname "$0")/lib.sh"
TERN_REAL=$TERN
start_tern_limited() {
  GATEWAY_PORT=$(port); CONTROL_PORT=$(port)
  prlimit --nofile=256:256 "$TERN_REAL" serve --home "$HOME_DIR" --port "$GATEWAY_PORT" --control-port "$CONTROL_PORT" \
    --python "$PY" >>"$WORK/tern.log" 2>&1 &
  SERVER_PID=$!
  wait_tern_ready "$HOME_DIR" "$SERVER_PID" "$WORK/tern.log"
}
start_tern_limited
echo "tern serve limits: $(grep 'Max open files' /proc/$SERVER_PID/limits)" >&2
deploy_slow_pair
cpu() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }  # user + system ticks of tern serve itself
start_load slow 30 '{"seconds":0.005}'
sleep 2
b0=$(cpu); sleep 5; b1=$(cpu)
echo "tern serve CPU under the load alone: $(( b1 - b0 )) ticks in 5 s ($(getconf CLK_TCK)/s)" >&2
mkfifo "$WORK/hold"
"$PY" bench/idle_connections.py 127.0.0.1 "$GATEWAY_PORT" 400 <"$WORK/hold" >"$WORK/idle.out" 2>&1 &
IDLE_PID=$!
exec 7>"$WORK/hold"
EXTRA_CLEANUP="exec 7>&-; kill $IDLE_PID 2>/dev/null"
t0=$(now)
for _ in $(seq 1 200); do grep -q OPEN "$WORK/idle.out" && break; sleep 0.1; done
echo "idle client: $(cat "$WORK/idle.out")" >&2
echo "tern serve descriptors: $(ls /proc/$SERVER_PID/fd | wc -l)" >&2
c0=$(cpu); sleep 5; c1=$(cpu)
echo "tern serve CPU while held: $(( c1 - c0 )) ticks in 5 s ($(getconf CLK_TCK)/s)" >&2
fresh=$(curl -s -o /dev/null -m 3 -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"seconds":0}' "$(url slow)" || true)
echo "a new connection while held: HTTP ${fresh:-none}" >&2
closed=$(now); exec 7>&-; wait "$IDLE_PID" || true
echo "idle client: $(tail -1 "$WORK/idle.out")" >&2
recovered=""
for _ in $(seq 1 300); do
  if curl -sf -o /dev/null -m 2 -X POST -H 'Content-Type: application/json' -d '{"seconds":0}' "$(url slow)"; then recovered=$(now); break; fi
  sleep 0.1
done
t1=${recovered:-$(now)}
echo "$t0 $t1" >"$WORK/window"
finish_load
rss1=$(rss_mib "$SERVER_PID"); home1=$(home_bytes)
rec=$("$PY" -c "print('never' if not '$recovered' else f'{$t1 - $closed:.2f}')")
result "fd-exhaustion (new conn while held: ${fresh:-none}; cpu $(( c1 - c0 )) ticks/5s held, $(( b1 - b0 )) before)" "$rss0" "$rss1" "$home0" "$home1" "$rec (after close)"
