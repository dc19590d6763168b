#!/usr/bin/env bash
# Sets everything up and runs the main job: builds tern, creates the Python environment with
# scikit-learn, trains the iris model, starts Tern, deploys the example, prints predictions
# for a few samples and `tern get`.
#   CONFIG=debug scripts/quickstart.sh   to use a debug build (faster to build, slower to serve)
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-release}

echo "==> Building tern ($CONFIG; the first build takes several minutes)"
log=$(mktemp)
if ! swift build -c "$CONFIG" --product tern >"$log" 2>&1; then
  grep -E "error:" "$log" | sort -u || tail -n 40 "$log"
  echo "build failed (full log: $log)" >&2
  exit 1
fi
TERN="$(swift build -c "$CONFIG" --show-bin-path)/tern"

scripts/setup-python.sh
PY="$PWD/.venv/bin/python"

echo "==> Training the iris model"
"$PY" examples/iris-classifier/train.py

echo "==> Starting Tern (state in ${TERN_HOME:-$HOME/.tern})"
"$TERN" up --python "$PY"

echo "==> Deploying examples/iris-classifier"
"$TERN" deploy examples/iris-classifier/tern.yaml --timeout 180

echo "==> Predictions"
echo "  $(cat examples/iris-classifier/sample.json) -> $("$TERN" predict iris examples/iris-classifier/sample.json)"
for row in '[6.4, 3.2, 4.5, 1.5]' '[6.3, 3.3, 6.0, 2.5]' '[5.0, 3.4, 1.5, 0.2]'; do
  body=$("$PY" -c "import json,sys; v=json.loads(sys.argv[1]); print(json.dumps(dict(zip(['sepal_length','sepal_width','petal_length','petal_width'], v))))" "$row")
  echo "  $body -> $(echo "$body" | "$TERN" predict iris -)"
done
GATEWAY=$("$TERN" get iris -o json | "$PY" -c "import json,sys; print(json.load(sys.stdin)['endpoint'])")
echo "  curl: $(curl -s -X POST -H 'Content-Type: application/json' -d @examples/iris-classifier/sample.json "$GATEWAY")"

echo "==> tern get"
"$TERN" get
echo
echo "Tern keeps running in the background. Try: $TERN logs iris | $TERN get iris | $TERN down"
