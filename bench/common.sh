# Shared set-up of the benchmark scripts (sourced from the repository root, with ROOT set):
# checks for wrk (unless BENCH_NO_WRK=1: a script that sends no HTTP load), sets PY (the README's
# .venv, created if missing) and TERN (a release build of tern, built into .build-release if
# missing; TERN_BINARY overrides it).
[ "${BENCH_NO_WRK:-0}" = 1 ] || command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
PY=$ROOT/.venv/bin/python
[ -x "$PY" ] || scripts/setup-python.sh
TERN=${TERN_BINARY:-$ROOT/.build-release/release/tern}
if [ ! -x "$TERN" ]; then
  echo "building tern (release) into .build-release…" >&2
  swift build -c release --scratch-path .build-release --product tern >/dev/null
fi

# port: prints a free TCP port on 127.0.0.1.
port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL: waits (up to 60 s) until a POST of $BENCH_BODY_FILE to URL answers 200.
wait_http() {
  for _ in $(seq 1 600); do
    if curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @"$BENCH_BODY_FILE" "$1"; then return 0; fi
    sleep 0.1
  done
  echo "server at $1 did not answer" >&2; return 1
}

# wait_tern_ready HOME PID LOG: waits (up to 10 s) until `tern serve` (process PID, output in LOG)
# has written HOME/server.json; exits with its output when it stops first (a bad option, a port
# in use), so no later `tern` command starts another server on the default ports.
wait_tern_ready() {
  for _ in $(seq 1 100); do
    [ -f "$1/server.json" ] && return 0
    kill -0 "$2" 2>/dev/null || { echo "tern serve exited:" >&2; cat "$3" >&2; exit 1; }
    sleep 0.1
  done
  echo "tern serve did not start within 10 s; its output:" >&2; cat "$3" >&2; exit 1
}

