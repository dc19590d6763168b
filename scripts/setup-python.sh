#!/usr/bin/env bash
# Creates .venv (the Python that runs replicas in the examples and tests) with scikit-learn.
# Idempotent: does nothing when .venv already has scikit-learn.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ -x .venv/bin/python ] && .venv/bin/python -c "import sklearn" 2>/dev/null; then
  exit 0
fi
echo "==> Creating .venv with scikit-learn (one-time, about a minute)"
"$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check "scikit-learn>=1.3"
.venv/bin/python -c "import sklearn; print('    scikit-learn', sklearn.__version__)"
