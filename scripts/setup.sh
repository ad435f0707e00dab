#!/usr/bin/env bash
# Create .venv (if missing) and install the course into it. Safe to run again.
# torch is installed first, pinned, so that pip never fetches a multi-GB CUDA
# build to satisfy "torch>=2.2"; set TORCH_SPEC to choose another build.
# VENV and EXTRAS choose another environment; EDITABLE=0 copies the course's packages
# into it instead of linking to this folder (scripts/install-hub.sh makes the hub's so).
# LAB_CONFIG=student (the default) gives the environment a student's JupyterLab, with no
# instructor tools and nothing that needs nbgrader's exchange (scripts/configure_lab.py;
# scripts/instructor-lab.sh brings the tools back); none leaves nbgrader's own defaults,
# for the hub, which configures each role itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
VENV=${VENV:-.venv}
EXTRAS=${EXTRAS:-test}
EDITABLE=${EDITABLE:-1}
LAB_CONFIG=${LAB_CONFIG:-student}
case "$LAB_CONFIG" in student|none) ;; *) echo "setup: LAB_CONFIG is student or none, not '$LAB_CONFIG'" >&2; exit 1;; esac
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
installed=(pyproject.toml scripts/setup.sh)
# A copy goes stale when the code changes; a link does not.
[ "$EDITABLE" = 1 ] || installed+=($(find autograder instructors -name '*.py' | sort))
stamp=$VENV/.installed-$(cat "${installed[@]}" | sha1sum | cut -c1-12)-$EXTRAS
if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "$TORCH_SPEC"
    if [ "$EDITABLE" = 1 ]; then
        "$VENV/bin/python" -m pip install --quiet -e ".[$EXTRAS]"
    else
        # setuptools builds in ./build and keeps what it finds there: a module deleted
        # from the course would live on in the copy.
        rm -rf build
        "$VENV/bin/python" -m pip install --quiet ".[$EXTRAS]"
        "$VENV/bin/python" -m pip install --quiet --no-deps --force-reinstall .
        rm -rf build
    fi
    rm -f "$VENV"/.installed-*
    touch "$stamp"
    echo "setup: installed $("$VENV/bin/python" -c 'import torch, nbgrader; print("torch", torch.__version__, "nbgrader", nbgrader.__version__)') in $VENV"
fi
[ "$LAB_CONFIG" = none ] || "$VENV/bin/python" scripts/configure_lab.py "$VENV"
