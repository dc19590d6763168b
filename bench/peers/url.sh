#!/usr/bin/env bash
# Prints the URL a peer serves the iris model at. Usage: bench/peers/url.sh NAME PORT
case "$1" in
  litserve) echo "http://127.0.0.1:$2/predict" ;;
  mlserver) echo "http://127.0.0.1:$2/v2/models/iris/infer" ;;
  *) echo "http://127.0.0.1:$2/iris" ;;
esac
