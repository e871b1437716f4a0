#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the report's browser tests
# (tests/test_report_browser.py) and bench/report_size.py. Idempotent: does nothing when a
# chromium binary is already on PATH. Needs root (or sudo) and apt.
set -euo pipefail

# google-chrome: what GitHub's ubuntu-latest runners have (Ubuntu's chromium is a snap).
for bin in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$bin" >/dev/null 2>&1; then
    echo "chromium already installed: $(command -v "$bin") ($("$bin" --version 2>/dev/null || echo '?'))"
    exit 0
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-chromium.sh: need root or sudo to apt-get install chromium" >&2; exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium.sh: apt-get not found; install Chromium with your package manager" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Update the package lists unless they are there and fresh enough to know chromium.
if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  $SUDO apt-get update -q
fi
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
chromium --version
