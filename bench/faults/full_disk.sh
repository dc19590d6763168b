#!/usr/bin/env bash
# Fault (d): TERN_HOME on a full file system. TERN_HOME is a 30 MiB tmpfs (needs root: mount);
# under steady load it is filled with dd, then a second API is deployed. Expected: the deploy
# fails with a clear error, the serving API keeps answering; after the fill file is removed the
# same deploy succeeds (recovery: from freeing the space until that deploy returned).
# Usage: bench/faults/full_disk.sh   (as root)
source "$(dirname "$0")/lib.sh"
mkdir -p "$HOME_DIR"
mount -t tmpfs -o size=30m tmpfs "$HOME_DIR"
EXTRA_CLEANUP='stop_tern; umount "$HOME_DIR"'
start_tern
deploy_slow_pair
second=$(project echo '- name: echo
  kind: RealtimeAPI
  predictor: {type: python, path: predictor.py}')
start_load slow 30 '{"seconds":0.005}'
sleep 4
t0=$(now)
dd if=/dev/zero of="$HOME_DIR/fill" bs=1M 2>/dev/null || true
echo "TERN_HOME: $(df -h "$HOME_DIR" | tail -1)" >&2
set +e
out=$("$TERN" deploy "$second" --home "$HOME_DIR" --timeout 60 2>&1); status=$?
set -e
echo "deploy on a full disk: exit $status: $out" >&2
sleep 4
freed=$(now); rm -f "$HOME_DIR/fill"
set +e
out2=$("$TERN" deploy "$second" --home "$HOME_DIR" --timeout 60 2>&1); status2=$?
set -e
t1=$(now)
echo "deploy after freeing: exit $status2: $out2" >&2
echo "$t0 $t1" >"$WORK/window"
finish_load
echo "echo API: $(curl -s -X POST -H 'Content-Type: application/json' -d '{"a":1}' "$(url echo)")" >&2
rss1=$(rss_mib "$SERVER_PID"); home1=$(home_bytes)
rec=$("$PY" -c "print(f'{$t1 - $freed:.1f}')")
result "full-disk (deploy when full: exit $status; after freeing: exit $status2)" "$rss0" "$rss1" "$home0" "$home1" "$rec (deploy after freeing)"
