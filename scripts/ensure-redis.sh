#!/bin/sh
# Make sure Redis answers on 127.0.0.1:6379 for the shared rate-limit tests: installs and starts
# Debian's redis-server when it is missing and we are root. Set WINK_TEST_REDIS_URL to use
# another server instead.
set -eu
[ -n "${WINK_TEST_REDIS_URL:-}" ] && exit 0

ready() { command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

ready && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "Redis is not running on 127.0.0.1:6379: start one or set WINK_TEST_REDIS_URL." >&2
    exit 1
fi
if ! command -v redis-server >/dev/null 2>&1; then
    echo "Installing Debian's redis-server for the rate-limit tests..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq redis-server >/dev/null
fi
redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no >/dev/null
i=0
until ready; do
    i=$((i + 1))
    if [ "$i" -gt 60 ]; then echo "Redis did not start within 30 s." >&2; exit 1; fi
    sleep 0.5
done
