#!/usr/bin/env bash
# Hostile HTTP input (issue 18, part 3): starts a release `tern serve` (free loopback ports, its
# own TERN_HOME), deploys the `echo` fixture and runs bench/hostile_http.py against the gateway
# and the control plane: oversized and too many headers, invalid methods and garbage, `..`,
# `%2e%2e`, `%00` and NUL in paths, HTTP/2 prior knowledge, a chunked body without end, slow
# heads, slowloris (HOSTILE_SLOWLORIS connections, default 300) and HOSTILE_IDLE idle connections
# (default 10000), each while normal predictions run on other connections. Prints one TRIAL line
# per input (answer, how the connection ended, the other clients' results and latency).
# Extra arguments go to `tern serve` (e.g. --idle-timeout-seconds 5). TERN_BINARY picks the binary.
# Usage: bench/hostile_http.sh [tern serve options…]
source "$(dirname "$0")/faults/lib.sh"
ulimit -n "$(ulimit -Hn)"
start_tern "$@"
deploy "$(project echo '- name: echo
  kind: RealtimeAPI
  predictor: {type: python, path: predictor.py}')"
"$PY" "$ROOT/bench/hostile_http.py" "$GATEWAY_PORT" "$CONTROL_PORT" "$HOME_DIR/token" \
  --idle "${HOSTILE_IDLE:-10000}" --slowloris "${HOSTILE_SLOWLORIS:-300}" --pid "$SERVER_PID"
kill -0 "$SERVER_PID" && echo "tern serve still running (pid $SERVER_PID), rss $(rss_mib "$SERVER_PID") MiB"
