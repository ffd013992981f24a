#!/bin/sh
# The benchmarks' load generator: Debian's wrk, installed when missing and we are root.
set -eu
command -v wrk >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian's wrk for the benchmarks..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq wrk >/dev/null
    exit 0
fi
echo "wrk is missing: run 'sudo apt-get install wrk' to run the benchmarks." >&2
exit 1
