#!/usr/bin/env bash
# JupyterLab with nbgrader's instructor tools (formgrader, Create Assignment, the course and
# assignment lists), in the course folder, from the course's .venv. Arguments go to jupyter lab.
# Set-up gives .venv a student's JupyterLab (scripts/configure_lab.py) and writes beside it the
# layer that turns those tools back on, .venv/etc/jupyter-instructor; JUPYTER_CONFIG_PATH, the
# same switch the hub flips for its instructor, puts that layer above the environment's own.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
VENV="$VENV" bash scripts/setup.sh
instructor=$(cd "$VENV/etc/jupyter-instructor" && pwd)
export JUPYTER_CONFIG_PATH="$instructor${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"
exec "$VENV/bin/jupyter" lab "$@"
