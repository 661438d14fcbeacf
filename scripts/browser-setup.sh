#!/usr/bin/env bash
# Install Debian's Chromium for the headless-browser test of `rewardkit view` (tests/core/evaluation), if
# missing. Playwright drives this executable; it never downloads a browser of its own. Idempotent.
# Run as root (CI) or with sudo.  Usage: scripts/browser-setup.sh
set -euo pipefail
say() { echo "[browser-setup] $*"; }
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  say "chromium already installed"
  exit 0
fi
say "installing chromium"
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null
say "installed $(chromium --version 2>/dev/null || echo chromium)"
