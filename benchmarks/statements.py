"""``python -m benchmarks.statements``: the write path's statements, hand-written on the driver's
connection against the same writes through SQLAlchemy Core's execution, on SQLite and PostgreSQL.

Each write runs many times inside one transaction that is rolled back, so the figure is the
statement's own cost (building, sending, reading back), not a commit's fsync. Prints the fastest
microseconds per write of each, and their ratio.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from tests.postgres import fresh_postgres_database

from flask_wink.store import AccountChange, Store, accounts, events, utcnow

GROUP = 32  # events per group: what 32 concurrent requests make
REPEAT = 200
ROUNDS = 7
SEEDED = GROUP * REPEAT * ROUNDS  # events stored before timing, so that each write marks new ones


def event_values(number: int) -> dict:
    now = utcnow()
    return {"kind": "webhook", "name": "T", "event_id": f"e-{number}", "provider": "smile_wink",
            "app_user_id": None, "upstream_user_id": "u-1", "payload": "{}", "received_at": now,
            "state": "handling", "attempts": 1, "claimed_by": "me", "claimed_at": now}


def timed(store: Store, write: Callable[[int], None]) -> float:
    """Microseconds per call of ``write``: the fastest of ROUNDS rounds of REPEAT calls."""
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for number in range(REPEAT):
            write(number)
        rounds.append((time.perf_counter() - start) / REPEAT * 1e6)
    return min(rounds)  # the least disturbed round: other work on the machine only adds


def measure(url: str) -> dict[str, tuple[float, float]]:
    store = Store(url)
    store.init()
    insert = (sqlite if store.dialect == "sqlite" else postgresql).insert
    statements = store.statements
    counter = iter(range(10**9))

    def change(number: int) -> AccountChange:
        return AccountChange.make("smile_wink", f"a-{number % 50}", "CONNECTED", replaces=["PENDING"],
                                  connected=True, upstream_user_id="u-1")

    # The same writes as SQLAlchemy Core statements, built once, run through a pooled connection.
    event_insert = insert(events).on_conflict_do_nothing(index_elements=["provider", "kind", "event_id"])
    event_insert = event_insert.returning(events.c.id, events.c.provider, events.c.kind, events.c.event_id)
    marks = events.update().where(events.c.id.in_(sa.bindparam("ids", expanding=True)))
    marks = marks.values(state="handled", error=None, claimed_by=None, handled_at=sa.bindparam("now"))
    upsert = insert(accounts).values({c.name: sa.bindparam(c.name) for c in accounts.c})
    upsert = upsert.on_conflict_do_update(
        index_elements=["provider", "account_id"],
        set_={"status": upsert.excluded.status, "error_code": upsert.excluded.error_code,
              "updated_at": upsert.excluded.updated_at},
        where=accounts.c.status.in_(sa.bindparam("replaceable", expanding=True)),
    )

    def driver(write: Callable[[object, list[int]], Callable[[int], None]]) -> float:
        # The store's own statements on the writer's connection, in a transaction rolled back.
        raw = store.writer._connection()
        cursor = raw.cursor()
        cursor.execute("BEGIN")
        try:
            rows = [statements.row(event_values(next(counter))) for _ in range(SEEDED)]
            ids = [result[0] for result in statements.insert_events(raw, rows)]
            return timed(store, write(raw, ids))
        finally:
            cursor.execute("ROLLBACK")
            cursor.close()

    def core(write: Callable[[object, list[int]], Callable[[int], None]]) -> float:
        with store.engine.connect() as conn:
            try:
                rows = conn.execute(event_insert, [event_values(next(counter)) for _ in range(SEEDED)]).all()
                return timed(store, write(conn, [row[0] for row in rows]))
            finally:
                conn.rollback()

    def driver_group(raw, _ids):
        return lambda _: statements.insert_events(
            raw, [statements.row(event_values(next(counter))) for _ in range(GROUP)]
        )

    def driver_marks(raw, ids):
        groups = iter(range(0, len(ids), GROUP))  # each write marks other events, as in service
        return lambda _: statements.mark_handled(raw, ids[(start := next(groups)) : start + GROUP])

    def driver_upsert(raw, _ids):
        return lambda number: statements.upsert_account(raw, change(number))

    def core_group(conn, _ids):
        return lambda _: conn.execute(event_insert, [event_values(next(counter)) for _ in range(GROUP)]).all()

    def core_marks(conn, ids):
        groups = iter(range(0, len(ids), GROUP))

        def write(_):
            start = next(groups)
            conn.execute(marks, {"ids": ids[start : start + GROUP], "now": utcnow()})

        return write

    def core_upsert(conn, _ids):
        def write(number):
            made = change(number)
            conn.execute(upsert, {**made.values(utcnow()), "replaceable": list(made.replaceable)})

        return write

    try:
        return {
            "group insert": (driver(driver_group), core(core_group)),
            "handled marks": (driver(driver_marks), core(core_marks)),
            "account upsert": (driver(driver_upsert), core(core_upsert)),
        }
    finally:
        store.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, fresh_postgres_database() as pg_url:
        for label, url in (("SQLite", f"sqlite:///{Path(folder) / 'bench.sqlite3'}"), ("PostgreSQL", pg_url)):
            for name, (driver, core) in measure(url).items():
                print(f"{label:<11} {name:<15} driver {driver:8.1f} us   Core {core:8.1f} us   "
                      f"Core / driver {core / driver:5.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
