#!/usr/bin/env bash
# The one test command: install what the tests need, skipping what is already there
# (the course's .venv, Debian's Chromium and PostgreSQL, the hub's prefix and proxy),
# then run every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-browser.sh
bash scripts/install-postgres.sh
bash scripts/install-hub.sh
exec .venv/bin/python -m pytest "$@"
