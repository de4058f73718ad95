#!/usr/bin/env bash
# Installs Debian's Chromium for the landing-page browser test when it is missing and we may install it.
set -euo pipefail
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "ensure-chromium: installing Debian's chromium for the browser test"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "ensure-chromium: $CHROMIUM is missing and cannot be installed here (needs root and apt-get);" \
  "the browser test will skip, unless CI is set. Install it with: sudo apt-get install chromium"
