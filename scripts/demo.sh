#!/usr/bin/env bash
# The main job: set up (if needed), then release, autograde, feedback and summarise the demo class.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m instructors.demo --workdir demo --force "$@"
