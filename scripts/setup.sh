#!/usr/bin/env bash
# Create .venv (if missing) and install the course into it. Safe to run again.
# torch is installed first, pinned, so that pip never fetches a multi-GB CUDA
# build to satisfy "torch>=2.2"; set TORCH_SPEC to choose another build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet "$TORCH_SPEC"
    .venv/bin/python -m pip install --quiet -e ".[test]"
    touch "$stamp"
    echo "setup: installed $(.venv/bin/python -c 'import torch, nbgrader; print("torch", torch.__version__, "nbgrader", nbgrader.__version__)')"
fi
