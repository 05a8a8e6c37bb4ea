#!/usr/bin/env bash
# The GPU check, for the day a GPU machine is lent (an NVIDIA GPU with a CUDA 12 driver, Python 3.11+).
#
#   bench/gpu_check.sh [--wheels DIR] [--seconds N]   on the GPU machine: install, check, benchmark
#   bench/gpu_check.sh --dry-run                       here, without a GPU: the same steps on the CPU
#
# 1. A virtual environment of its own with the serving requirements, onnxruntime swapped for
#    onnxruntime-gpu[cuda,cudnn] (CUDA 12 and cuDNN 9 as pip packages): from PyPI, or, on a machine that
#    reaches no registry, from the wheels in --wheels DIR (pip download them elsewhere).
# 2. bench/gpu_check.py: the service with DEVICE=cuda must give the CPU's answers on 1,000 MNIST
#    images within 1e-4; then /v2 binary batches of 1, 64 and 1024 rows, with and without adaptive
#    batching, for both classifiers.
# Bounded: each step has a timeout and the whole check stops after 8 minutes. Loopback only.
# --dry-run skips the install and runs step 2 with DEVICE=cpu in the project's .venv, short.
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DISABLE_TELEMETRY=1 PYTHONUNBUFFERED=1

dry_run=0 wheels="" seconds=10
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry_run=1 ;;
        --wheels) wheels="$2"; shift ;;
        --seconds) seconds="$2"; shift ;;
        *) echo "usage: $0 [--dry-run] [--wheels DIR] [--seconds N]" >&2; exit 2 ;;
    esac
    shift
done

if [ "$dry_run" = 1 ]; then
    python=.venv/bin/python
    [ -x "$python" ] || { echo "--dry-run uses the project's .venv: run make test first" >&2; exit 2; }
    exec timeout 480 "$python" -m bench.gpu_check --device cpu --seconds 1 --clients 4
fi

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
venv=${GPU_VENV:-/tmp/digit-serve-gpu}
python3 -m venv "$venv"
sed 's/^onnxruntime==\(.*\)/onnxruntime-gpu[cuda,cudnn]==\1/' requirements/serve.txt > "$venv/requirements.txt"
echo "requests" >> "$venv/requirements.txt"
if [ -n "$wheels" ]; then
    timeout 300 "$venv/bin/pip" install -q --no-index --find-links "$wheels" -r "$venv/requirements.txt"
else
    timeout 300 "$venv/bin/pip" install -q -r "$venv/requirements.txt"
fi
"$venv/bin/python" -c "import onnxruntime as ort; print('onnxruntime', ort.__version__, ort.get_available_providers())"
timeout 480 "$venv/bin/python" -m bench.gpu_check --device cuda --seconds "$seconds" --clients 16
