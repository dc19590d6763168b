#!/usr/bin/env bash
# Installs one peer into bench/.venvs/<peer> (once). Usage: bench/peers/setup.sh fastapi|litserve|mlserver|bentoml|ray
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1
venv=bench/.venvs/$name
[ -f "$venv/.ready" ] && exit 0
case "$name" in
  fastapi) packages="fastapi uvicorn[standard]" ;;
  litserve) packages="litserve" ;;
  mlserver) packages="mlserver mlserver-sklearn uvloop<0.22" ;;
  bentoml) packages="bentoml" ;;
  ray) packages="ray[serve]" ;;
  *) echo "unknown peer $name" >&2; exit 2 ;;
esac
echo "installing $name into $venv (once)…" >&2
python3 -m venv "$venv"
# shellcheck disable=SC2086
"$venv/bin/pip" install --quiet --disable-pip-version-check scikit-learn $packages
touch "$venv/.ready"
