#!/usr/bin/env bash
# tools/peers/run.sh PEER LISTFILE MODE CHARSET OUT
#   PEER: tesseract | rapidocr; LISTFILE: one image path per line; MODE: line | lines;
#   CHARSET: the characters kept, e.g. 0123456789 or "0123456789.,-/:"; OUT: RESULTS.json,
#   {"path": {"text": "...", "seconds": 0.012, "error": null}}.
# Runs the peer with its own interpreter inside `unshare -n` (training/evaluation/peers.py); needs tools/peers/setup.sh first.
set -euo pipefail
export ORT_DISABLE_TELEMETRY=1
if [ "$#" -ne 5 ]; then
    sed -n '2,5p' "$0" >&2
    exit 2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Any python 3 runs the host side (standard library only); the peer gets its own interpreter.
HOST_PYTHON=$(command -v python3 || echo /usr/bin/python3)
PYTHONPATH="$HERE/../..${PYTHONPATH:+:$PYTHONPATH}" exec "$HOST_PYTHON" -m training.evaluation.peers "$@"
