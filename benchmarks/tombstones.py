"""``python -m benchmarks.tombstones``: what the erasure's trigger costs each stored webhook.

A webhook naming an erased user is dropped by a trigger on ``wink_events`` (migration
``0006_erasure``), inside the insert the write path sends anyway: no query of its own. This times
one statement inserting 20,000 webhooks (each naming a user) in the database itself, on SQLite and
PostgreSQL, with the trigger and with it dropped (and with 10,000 tombstones of other users), in
transactions rolled back, interleaved; prints the fastest microseconds per row of each case and
what the trigger adds.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tests.postgres import fresh_postgres_database

from flask_wink.store import Store

ROWS = 20_000
TOMBSTONES = 10_000
ROUNDS = 5

SOURCES = {
    "sqlite": "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {n}) SELECT x FROM g",
    "postgresql": "SELECT generate_series(1, {n}) AS x",
}


def measure(url: str) -> dict[str, float]:
    store = Store(url)
    store.init()
    dialect = store.dialect
    source = SOURCES[dialect]
    rows = (
        "INSERT INTO wink_events (kind, name, event_id, provider, upstream_user_id, payload, received_at, "
        "state, attempts) SELECT 'webhook', 'T', 'e-' || x || '-{run}', 'smile_wink', 'u-' || (x % 100), "
        f"'{{{{}}}}', CURRENT_TIMESTAMP, 'pending', 0 FROM ({source.format(n=ROWS)}) AS g"
    )
    buried = (
        "INSERT INTO wink_erased_users (provider, upstream_user_id, app_user_id, erased_at, dropped) "
        "SELECT 'smile_wink', 'gone-' || x, 'app-' || x, CURRENT_TIMESTAMP, 0 "
        f"FROM ({source.format(n=TOMBSTONES)}) AS g"
    )
    drop = "DROP TRIGGER wink_events_drop_erased" + (" ON wink_events" if dialect == "postgresql" else "")
    cases = ("no trigger", "trigger, no tombstone", f"trigger, {TOMBSTONES:,} tombstones")
    found: dict[str, float] = {}
    raw = store.engine.raw_connection()
    if dialect == "sqlite":
        raw.driver_connection.isolation_level = None  # BEGIN and ROLLBACK as written: DDL rolls back too
    cursor = raw.cursor()
    try:
        for round_ in range(ROUNDS):
            for number, case in enumerate(cases):
                if dialect == "sqlite":
                    cursor.execute("BEGIN")
                if case == "no trigger":
                    cursor.execute(drop)
                elif "tombstones" in case:
                    cursor.execute(buried)
                start = time.perf_counter()
                cursor.execute(rows.format(run=f"{round_}-{number}"))
                micros = (time.perf_counter() - start) / ROWS * 1e6
                if dialect == "sqlite":
                    cursor.execute("ROLLBACK")
                else:
                    raw.rollback()
                found[case] = min(found.get(case, float("inf")), micros)
    finally:
        cursor.close()
        raw.close()
        store.dispose()
    return found


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, fresh_postgres_database() as pg_url:
        for label, url in (("SQLite", f"sqlite:///{Path(folder) / 'bench.sqlite3'}"), ("PostgreSQL", pg_url)):
            found = measure(url)
            base = found["no trigger"]
            for case, micros in found.items():
                print(f"{label:<11} insert of a webhook, {case:<28} {micros:6.2f} us per row   "
                      f"{micros - base:+6.2f} us")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
