#!/bin/sh
# Make sure PostgreSQL answers on 127.0.0.1:5432 with a role the tests can use (wink / wink,
# CREATEDB): installs and starts Debian's postgresql when it is missing and we are root.
# Set WINK_TEST_POSTGRES_URL to use another server instead.
set -eu
[ -n "${WINK_TEST_POSTGRES_URL:-}" ] && exit 0

ready() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; }

if ! ready; then
    if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "PostgreSQL is not running on 127.0.0.1:5432: start one (role wink/wink with CREATEDB) or set WINK_TEST_POSTGRES_URL." >&2
        exit 1
    fi
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        echo "Installing Debian's postgresql for the storage tests..."
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq postgresql >/dev/null
    fi
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$version" ]; then
        version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
        pg_createcluster "$version" main >/dev/null
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    i=0
    until ready; do
        i=$((i + 1))
        if [ "$i" -gt 60 ]; then echo "PostgreSQL did not start within 30 s." >&2; exit 1; fi
        sleep 0.5
    done
fi

sql_as_admin() {
    if [ "$(id -u)" = "0" ] && id postgres >/dev/null 2>&1; then
        su postgres -c "psql -qtAX -c \"$1\""
    else
        psql -qtAX -h 127.0.0.1 -U postgres -c "$1"
    fi
}
if ! sql_as_admin "SELECT 1 FROM pg_roles WHERE rolname = 'wink'" | grep -q 1; then
    sql_as_admin "CREATE ROLE wink LOGIN PASSWORD 'wink' CREATEDB" >/dev/null
fi
