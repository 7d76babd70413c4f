#!/usr/bin/env bash
# Create ./.venv and install fashion_clf with its dev extra (idempotent: reinstalls only when pyproject.toml changes).
#   PYTHON=python3.11 bash tools/setup.sh      # choose the interpreter (Python >= 3.10)
#   TORCH_SPEC="torch torchvision" bash tools/setup.sh   # choose the PyTorch build (default: the pinned pair below)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
stamp="$VENV/.fashion_clf-installed"
want=$(cat pyproject.toml tools/setup.sh | sha1sum | cut -c1-40)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  if ! "$VENV/bin/python" -c "import torch, torchvision" 2>/dev/null; then
    # torch first, so the package's unpinned `torch` requirement is already met by the build we chose
    "$VENV/bin/python" -m pip install -q $TORCH_SPEC || "$VENV/bin/python" -m pip install -q torch torchvision
  fi
  "$VENV/bin/python" -m pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi
echo "fashion_clf installed in $VENV ($("$VENV/bin/python" -c 'import fashion_clf, torch; print("fashion_clf", fashion_clf.__version__, "torch", torch.__version__)'))"
