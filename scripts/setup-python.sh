#!/usr/bin/env bash
# Creates .venv (the Python that runs replicas in the examples and tests) with scikit-learn,
# onnxruntime and skl2onnx (ONNX predictor) and tritonclient[http] (Open Inference Protocol tests).
# Idempotent: does nothing when .venv already has them all.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
IMPORTS="import sklearn, onnxruntime, skl2onnx, tritonclient.http"
PACKAGES=("scikit-learn>=1.3" onnxruntime skl2onnx "tritonclient[http]")
if [ -x .venv/bin/python ] && .venv/bin/python -c "$IMPORTS" 2>/dev/null; then
  exit 0
fi
echo "==> Setting up .venv with ${PACKAGES[*]} (one-time, a minute or two)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}"
.venv/bin/python -c "import sklearn; print('    scikit-learn', sklearn.__version__)"
