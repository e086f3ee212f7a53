#!/usr/bin/env bash
# Debian's headless Chromium for the console's browser tests (Playwright drives it through
# executable_path; nothing is downloaded at test time). Idempotent: apt-get only when missing.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
/usr/bin/chromium --version
