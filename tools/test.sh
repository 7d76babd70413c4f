#!/usr/bin/env bash
# Install (tools/setup.sh) and run every test: the notebooks with nbdev-test, then tests/ with pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export MPLBACKEND=Agg PYTHONUNBUFFERED=1
echo "== nbdev-test (notebooks in nbs/)"
.venv/bin/nbdev-test --n-workers 2 --timing
echo "== pytest tests/"
.venv/bin/python -m pytest tests/ -q -rs "$@"
