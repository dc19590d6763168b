#!/usr/bin/env bash
# Creates .venv (the Python that runs replicas in the examples and tests) with scikit-learn,
# onnxruntime and skl2onnx (ONNX predictor) and tritonclient[http] (Open Inference Protocol tests),
# and .python-extras/starlette (the real Starlette, kept out of .venv so that replicas run as a
# Cortex project without it would: the runtime's tests put it on the path where they compare).
# Idempotent: does nothing when both are in place.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
IMPORTS="import sklearn, onnxruntime, skl2onnx, tritonclient.http"
PACKAGES=("scikit-learn>=1.3" onnxruntime skl2onnx "tritonclient[http]")
STARLETTE=.python-extras/starlette
if ! { [ -x .venv/bin/python ] && .venv/bin/python -c "$IMPORTS" 2>/dev/null; }; then
  echo "==> Setting up .venv with ${PACKAGES[*]} (one-time, a minute or two)"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}"
  .venv/bin/python -c "import sklearn; print('    scikit-learn', sklearn.__version__)"
fi
if ! PYTHONPATH=$STARLETTE .venv/bin/python -c "import starlette.responses" 2>/dev/null; then
  echo "==> Installing Starlette into $STARLETTE (for the response comparison tests)"
  rm -rf "$STARLETTE"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --target "$STARLETTE" starlette
fi
