#!/usr/bin/env bash
# Install (tools/setup.sh) and run the whole pipeline offline on the synthetic dataset: bash tools/demo.sh [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export MPLBACKEND=Agg PYTHONUNBUFFERED=1
exec .venv/bin/fashion-demo "$@"
