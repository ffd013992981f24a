#!/bin/sh
# Make sure a Chromium is there for the browser tests: Debian's package, installed when missing.
set -eu
CHROMIUM="${WINK_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
    exit 0
fi
echo "Chromium is missing at $CHROMIUM: run 'sudo apt-get install chromium', or set WINK_CHROMIUM to a Chromium binary." >&2
exit 1
