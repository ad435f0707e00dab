#!/usr/bin/env bash
# Install the JupyterHub deployment (deploy/jupyterhub/) into one folder that every account
# can read, HUB_PREFIX (default .hub/, which the tests use; /opt/dropout101 on a server):
#   venv/          the course's packages, JupyterHub and torch, for the hub and every user's
#                  server. The packages are copied, not linked: this repository, with the
#                  solutions and hidden tests in source/, stays unreadable to students.
#                  Built from a Python every account can run (one under /root is not).
#   jupyter/       the Jupyter configuration of each role (deploy/jupyterhub/*/); JupyterLab's
#                  defaults for everyone go into the venv (lab-overrides.json).
#   jupyterhub_config.py, and node_modules/ with JupyterHub's proxy,
#                  configurable-http-proxy, from the npm registry (and Debian's Node.js
#                  if the machine has none).
# Safe to run again; run it again after changing the course's code or deploy/.
# `install-hub.sh --check` only says whether every account can reach HUB_PREFIX.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${HUB_PREFIX:-.hub}
reachable_by_everyone() {  # every folder from / down to the prefix lets others pass
    local path dir=""
    path=$(realpath -m "$1")
    IFS=/ read -ra parts <<< "${path#/}"
    for part in "" "${parts[@]}"; do
        dir="${dir%/}/$part"
        [ -d "$dir" ] || break
        local mode; mode=$(stat -c %A "$dir")
        case "${mode:9:1}" in x|t) ;; *)
            echo "install-hub: the students' and instructor's accounts cannot reach $path:" \
                 "$dir has mode $mode (owner $(stat -c %U "$dir")), so their servers could not" \
                 "start from the hub's venv there. Install into a folder every account can reach" \
                 "(HUB_PREFIX=/opt/dropout101), or let others pass: chmod o+x $dir" >&2
            return 1;;
        esac
    done
}
reachable_by_everyone "$PREFIX" || exit 1
[ "${1:-}" = "--check" ] && exit 0
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
mkdir -p "$PREFIX"
# LAB_CONFIG=none: each role's configuration comes from jupyter/, not the venv (a laptop's student one
# would take the Assignment List from the hub's students and the formgrader from its instructor).
VENV=$PREFIX/venv EXTRAS=hub EDITABLE=0 LAB_CONFIG=none PYTHON="$HUB_PYTHON" bash scripts/setup.sh
rm -rf "$PREFIX/jupyter"
mkdir -p "$PREFIX/jupyter"
cp -r deploy/jupyterhub/common deploy/jupyterhub/instructor deploy/jupyterhub/student "$PREFIX/jupyter/"
cp deploy/jupyterhub/jupyterhub_config.py "$PREFIX/"
# JupyterLab's defaults for everyone: no asking each student about news from jupyter.org.
mkdir -p "$PREFIX/venv/share/jupyter/lab/settings"
cp deploy/jupyterhub/lab-overrides.json "$PREFIX/venv/share/jupyter/lab/settings/overrides.json"
if ! command -v npm >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -x "$PREFIX/node_modules/.bin/configurable-http-proxy" ]; then
    npm install --silent --no-fund --no-audit --prefix "$PREFIX" configurable-http-proxy@4 >/dev/null
fi
chmod -R a+rX "$PREFIX"
echo "install-hub: jupyterhub $("$PREFIX/venv/bin/jupyterhub" --version)," \
     "configurable-http-proxy $("$PREFIX/node_modules/.bin/configurable-http-proxy" --version), in $PREFIX/"
