#!/bin/sh
# Installs Debian's chromium and chromedriver for the site's browser test (tests/test_site.py).
# Idempotent; on a machine without apt-get or root it says so and carries on, and the browser
# test is then reported as skipped with the reason.
set -eu
if command -v chromedriver >/dev/null 2>&1 && { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-browser: no apt-get here; install chromium and chromedriver yourself to run the browser test" >&2
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "install-test-browser: not root and no passwordless sudo; run: sudo apt-get install chromium chromium-driver" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
