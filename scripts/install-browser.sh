#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/test_browser.py); never a downloaded browser.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version
