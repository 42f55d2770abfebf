#!/usr/bin/env bash
# The Python trainer packs on a GPU against their references, one table (bench/gpu/run.py says how).
#   bench/gpu.sh            full size on CUDA (under 8 minutes on one GPU); tiny sizes without CUDA
#   bench/gpu.sh --tiny     the CPU smoke run (CI: test/python/gpu-bench.test.ts)
# Python: $TRAINYARD_PYTHON, else .venv-trainers/bin/python (trainyard setup python), else python3.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${TRAINYARD_PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv-trainers/bin/python ]; then PY=.venv-trainers/bin/python; else PY=python3; fi
fi
# Quiet libraries; nothing is downloaded (the models are random-initialised here).
export HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error DIFFUSERS_VERBOSITY=error TOKENIZERS_PARALLELISM=false
exec "$PY" bench/gpu/run.py "$@"
