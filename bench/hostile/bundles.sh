#!/usr/bin/env bash
# Uploads the hostile bundles of bench/hostile/bundles.py to a fresh `tern serve` (temporary
# TERN_HOME, free loopback ports) and reports each answer, then what was written outside the
# bundles folder and whether the server survived. TERN_BINARY picks the binary (e.g. an older
# build, to compare). Usage: bench/hostile/bundles.sh [CASE NAME...]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BENCH_NO_WRK=1 source bench/common.sh
HOME_DIR=$(mktemp -d /tmp/tern-hostile-home-XXXX)
rm -f /tmp/tern-hostile-abs /tmp/tern-hostile-x
CONTROL=$(port)
"$TERN" serve --home "$HOME_DIR" --port "$(port)" --control-port "$CONTROL" --python "$PY" >"$HOME_DIR/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$HOME_DIR"' EXIT
wait_tern_ready "$HOME_DIR" "$PID" "$HOME_DIR/serve.log"
status=0
TERN_HOSTILE_HOME="$HOME_DIR" "$PY" bench/hostile/bundles.py "http://127.0.0.1:$CONTROL" "$HOME_DIR/token" "$@" || status=$?
echo "--- written outside the bundles folder:"
ls -d "$HOME_DIR/escape" /tmp/tern-hostile-abs /tmp/tern-hostile-x 2>/dev/null || echo "(nothing)"
echo "--- bundles folder: $(ls "$HOME_DIR/bundles" | wc -l) entries; special files or setuid in it:"
find "$HOME_DIR/bundles" \( -type p -o -type l -o -perm -4000 -o -perm -0002 \) -print | head || true
if kill -0 "$PID" 2>/dev/null; then echo "--- tern serve: still running"; else echo "--- tern serve: DIED"; grep -m1 "Fatal error" "$HOME_DIR/serve.log" || true; fi
rm -f /tmp/tern-hostile-abs /tmp/tern-hostile-x
exit $status
