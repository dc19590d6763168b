#!/usr/bin/env bash
# Runs every fault-injection scenario of bench/faults/ one after another and prints their
# RESULT lines as one table (docs/reliability.md, "Faults under load"). full_disk.sh needs root
# (it mounts a tmpfs). Usage: bench/faults/run_all.sh [scenario…]  (default: all, in this order)
# Environment: as bench/faults/lib.sh (TERN_BINARY, FAULT_RATE, FAULT_THREADS).
set -uo pipefail
cd "$(dirname "$0")"
SCENARIOS=${*:-kill_replica hung_predict log_flood stop_replica kill_server fd_exhaustion full_disk}
OUT=$(mktemp /tmp/tern-faults-results.XXXXXX)
for s in $SCENARIOS; do
  echo "== $s" >&2
  ./"$s".sh 2> >(sed "s/^/[$s] /" >&2) | tee -a "$OUT" || echo "RESULT $s | script failed" | tee -a "$OUT"
done
echo
echo "scenario | sent | failed | failed outside fault window | recovery s | tern serve RSS before/after MiB | TERN_HOME bytes before/after"
grep '^RESULT' "$OUT" | sed 's/^RESULT //'
rm -f "$OUT"
