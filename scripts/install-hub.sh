#!/usr/bin/env bash
# What the JupyterHub deployment (deploy/jupyterhub/) and its test need, in .hub/:
#   .hub/venv  the course's environment for the hub and every user's server, built from
#              a Python that every account can run (a Python under /root is not one);
#   .hub/node_modules  JupyterHub's proxy, configurable-http-proxy, from the npm registry
#              (with Debian's Node.js if the machine has none).
set -euo pipefail
cd "$(dirname "$0")/.."
runs_for_everyone() {  # can an unprivileged account run this Python?
    local py; py=$(command -v "$1" 2>/dev/null) || return 1
    [ "$(id -u)" -ne 0 ] && return 0
    runuser -u nobody -- "$py" -c pass 2>/dev/null
}
if [ -z "${HUB_PYTHON:-}" ]; then
    for candidate in python3 /usr/bin/python3; do
        if runs_for_everyone "$candidate"; then HUB_PYTHON=$(command -v "$candidate"); break; fi
    done
fi
if [ -z "${HUB_PYTHON:-}" ]; then
    echo "install-hub: no Python that every account can run; set HUB_PYTHON" >&2
    exit 1
fi
VENV=.hub/venv EXTRAS=hub PYTHON="$HUB_PYTHON" bash scripts/setup.sh
if ! command -v npm >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -x .hub/node_modules/.bin/configurable-http-proxy ]; then
    npm install --silent --no-fund --no-audit --prefix .hub configurable-http-proxy@4 >/dev/null
fi
echo "install-hub: jupyterhub $(.hub/venv/bin/jupyterhub --version), configurable-http-proxy $(.hub/node_modules/.bin/configurable-http-proxy --version), in .hub/"
