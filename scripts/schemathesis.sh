#!/usr/bin/env bash
# Fuzzes a live `tern serve`'s control-plane API with schemathesis (PyPI), driven by the
# document the server itself serves at /v1/openapi.json (docs/openapi.yaml, embedded at build
# time). Checks: no 5xx (not_a_server_error), every answer's status code, content type and
# body as the document says (status_code_conformance, content_type_conformance,
# response_schema_conformance).
#
# The server gets a fresh TERN_HOME, free ports, a RealtimeAPI `iris` (the document's example
# name) with API-key auth and one key, and a BatchAPI `digits` with one finished job that has a
# dead letter; half of the generated names and ids are these (a schemathesis dictionary).
# Two passes: every operation but the destructive ones, then the DELETEs (which may delete
# `iris`). `POST /v1/token/rotate` is left out: it would make the run's own token stale.
#
# Schemathesis lives in its own venv, .python-extras/schemathesis (not .venv: replicas run
# with .venv, and a test dependency must not be importable by predictors).
#
# Usage: scripts/schemathesis.sh [MAX_EXAMPLES]
#   MAX_EXAMPLES per operation and phase, default 100: about 2,400 test cases in under a
#   minute on the 2-core CI machine. Needs .build/debug/tern (swift build) and .venv
#   (scripts/setup-python.sh). TERN_BINARY overrides the binary.
# Exit status: schemathesis's (0: no failure).
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_EXAMPLES=${1:-100}
TERN=${TERN_BINARY:-$PWD/.build/debug/tern}
VENV=.python-extras/schemathesis
PYTHON=${PYTHON:-python3}
[ -x "$TERN" ] || { echo "no tern binary at $TERN; run swift build first" >&2; exit 1; }
[ -x .venv/bin/python ] || { echo "no .venv; run scripts/setup-python.sh first" >&2; exit 1; }

if ! "$VENV/bin/st" --version >/dev/null 2>&1; then
  echo "==> Installing schemathesis into $VENV (one-time)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis>=4.32,<5"
fi
echo "==> $("$VENV/bin/st" --version)"

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
control_port=$(free_port)
home="$work/home"
"$TERN" serve --home "$home" --port "$port" --control-port "$control_port" --python "$PWD/.venv/bin/python" \
  --cpus 8 --stop-grace-seconds 3 >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  [ -s "$home/token" ] && curl -fsS "http://127.0.0.1:$control_port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done

project="$work/project"
mkdir -p "$project"
cp Tests/fixtures/echo/predictor.py "$project/"
cat >"$project/tern.yaml" <<'YAML'
- name: iris
  kind: RealtimeAPI
  predictor:
    type: python
    path: predictor.py
  networking:
    auth: api_key
YAML
batch="$work/batch"
mkdir -p "$batch"
cp Tests/fixtures/batch-recorder/predictor.py "$batch/"
cat >"$batch/tern.yaml" <<'YAML'
- name: digits
  kind: BatchAPI
  predictor:
    type: python
    path: predictor.py
YAML
"$TERN" deploy "$project" --home "$home" >/dev/null
"$TERN" deploy "$batch" --home "$home" >/dev/null
json_field() { "$PYTHON" -c "import json, sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
key_id=$("$TERN" keys create iris --home "$home" -o json 2>/dev/null | json_field id)
# A job that ends with a dead letter (the item "boom" raises, no retries).
echo "{\"workers\": 1, \"retries\": 0, \"config\": {\"record_path\": \"$work/batches.jsonl\"}, \"item_list\": {\"items\": [1, \"boom\"], \"batch_size\": 1}}" >"$work/job.json"
job_id=$("$TERN" submit digits "$work/job.json" --home "$home" -o json 2>/dev/null | json_field job_id)
for _ in $(seq 1 300); do
  "$TERN" get digits "$job_id" --home "$home" -o json | grep -q '"status" : "completed with failures"' && break
  sleep 0.1
done

# Half of the generated API names and ids are the deployed ones, so the operations reach real
# APIs, jobs and keys as well as unknown ones.
token=$(cat "$home/token")
base="http://127.0.0.1:$control_port"
cat >"$work/schemathesis.toml" <<TOML
[dictionaries.apis]
values = ["iris", "digits"]
[dictionaries.ids]
values = ["$job_id", "$key_id"]
[parameters]
"path.name" = { dictionary = "apis", probability = 0.5 }
"path.id" = { dictionary = "ids", probability = 0.5 }
TOML
run() {
  SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH=scripts "$VENV/bin/st" --config-file "$work/schemathesis.toml" \
    run "$base/v1/openapi.json" --url "$base" -H "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" --seed 1 --request-timeout 10 --workers 1 \
    --exclude-operation-id rotateToken --suppress-health-check all "$@"
}
status=0
echo "==> schemathesis: every operation but DELETE and token rotation ($MAX_EXAMPLES examples each)"
run --exclude-method DELETE || status=$?
echo "==> schemathesis: DELETE operations"
run --include-method DELETE || status=$?
exit "$status"
