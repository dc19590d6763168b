#!/usr/bin/env bash
# Runs one peer serving the iris example on 127.0.0.1:PORT with one worker process.
# Usage: bench/peers/run.sh NAME PROJECT_DIR PORT
set -euo pipefail
cd "$(dirname "$0")"
name=$1; export BENCH_PROJECT=$2; port=$3
py=../.venvs/$name/bin/python
case "$name" in
  fastapi) exec "$py" -m uvicorn fastapi_app:app --host 127.0.0.1 --port "$port" --workers 1 --log-level warning ;;
  litserve) exec "$py" litserve_app.py "$port" ;;
  bentoml) exec ../.venvs/bentoml/bin/bentoml serve bentoml_service:Iris --host 127.0.0.1 --port "$port" ;;
  ray) exec "$py" ray_app.py "$port" ;;
  mlserver)
    dir=$(mktemp -d)
    "$py" - "$BENCH_PROJECT" "$dir" <<'PY'
import joblib, json, pickle, sys
project, out = sys.argv[1], sys.argv[2]
saved = pickle.load(open(f"{project}/model.pkl", "rb"))
joblib.dump(saved["model"], f"{out}/model.joblib")
json.dump({"name": "iris", "implementation": "mlserver_sklearn.SKLearnModel",
           "parameters": {"uri": "./model.joblib"}}, open(f"{out}/model-settings.json", "w"))
json.dump({"http_port": int(sys.argv[3]) if len(sys.argv) > 3 else 8080, "grpc_port": 0, "metrics_port": 0,
           "parallel_workers": 0, "host": "127.0.0.1"}, open(f"{out}/settings.json", "w"))
PY
    "$py" -c "import json,sys; s=json.load(open('$dir/settings.json')); s['http_port']=$port; json.dump(s, open('$dir/settings.json','w'))"
    exec ../.venvs/mlserver/bin/mlserver start "$dir" ;;
esac
