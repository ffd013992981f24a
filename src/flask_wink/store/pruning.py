"""Pruning old events in bounded batches: each transaction touches at most ``batch`` rows, picked
by a range of ids, so no statement locks the table (SQLite) or holds many row locks (PostgreSQL)
while webhooks arrive.

A handled (or dead) webhook past its retention is *stripped*, not deleted: its payload becomes
:data:`PRUNED_PAYLOAD`, its user columns and error are emptied and its state is ``pruned``, while
``(provider, kind, event_id)`` stays, so the unique constraint ``uq_wink_events_delivery`` still
recognises a late redelivery (answered as a duplicate, never stored again) at no cost to the
insert. Stripped rows, and handled callbacks (which have no dedupe key), are deleted once past
the dedupe window too. Pending, handling and failed events are never touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..timeutil import aware
from .schema import events

#: What a stripped event's payload holds (valid JSON, so a listing that asks for it reads it).
PRUNED_PAYLOAD = '{"pruned":true}'
#: The state of a stripped event: its dedupe key alone is kept.
PRUNED = "pruned"
#: The states whose events retention applies to: handled, and dead (their attempts ran out).
DONE = ("handled", "dead")


@dataclass
class Pruned:
    """What one pass did (or, dry, would do): rows stripped, rows deleted, transactions."""

    stripped: int = 0
    deleted: int = 0
    batches: int = 0
    #: The most rows one transaction touched.
    largest_batch: int = 0
    by_what: dict[str, int] = field(default_factory=dict)

    def add(self, stripped: int = 0, deleted: int = 0) -> None:
        self.stripped += stripped
        self.deleted += deleted
        self.batches += 1
        self.largest_batch = max(self.largest_batch, stripped + deleted)


def _last_id_before(conn: Connection, before: datetime) -> int | None:
    """The largest id whose event was received before ``before``, found by bisecting the ids
    (rows are received in id order, near enough: each window checks the time again), so a pass
    reads a few dozen rows by primary key instead of scanning for the boundary."""
    lo = conn.scalar(sa.select(sa.func.min(events.c.id)))
    hi = conn.scalar(sa.select(sa.func.max(events.c.id)))
    if lo is None:
        return None
    first = conn.execute(sa.select(events.c.received_at).where(events.c.id == lo)).scalar()
    if first is None or aware(first) >= before:
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        at_or_after = sa.select(events.c.id, events.c.received_at).where(events.c.id >= mid)
        row = conn.execute(at_or_after.order_by(events.c.id).limit(1)).first()
        if row is not None and aware(row.received_at) < before:
            lo = row.id
        else:
            hi = mid - 1
    return lo


def first_id(conn: Connection, states: Collection[str], above: int) -> int | None:
    """The smallest id above ``above`` in one of ``states``: read from ix_wink_events_state
    (state, id), one index probe per state, so stretches of stripped rows are skipped."""
    found = [
        conn.scalar(sa.select(sa.func.min(events.c.id)).where(events.c.state == s, events.c.id > above))
        for s in states
    ]
    found = [f for f in found if f is not None]
    return min(found) if found else None


def prune_events(
    engine: Engine,
    *,
    strip_before: datetime,
    delete_before: datetime,
    batch: int,
    dry_run: bool = False,
    pace: float = 1.0,
    write: Callable[[Any], Any] | None = None,
) -> Pruned:
    """Strip handled and dead webhooks received before ``strip_before``, delete handled and dead
    callbacks received before it, and delete every such event (stripped ones included) received
    before ``delete_before`` (the end of the dedupe window): in transactions of at most ``batch``
    rows each, the ids of one window. ``pace``: the share of the time the pass may spend in the
    database (1: no pause; 0.02: after each batch it waits 49 times as long as the batch took), so
    a pass in a serving process leaves the database and the interpreter to the requests.
    ``write``: on SQLite, the store's group commit (``GroupCommitter.run``): each batch rides in a
    group with the webhooks' writes instead of waiting for SQLite's lock, which a writer that
    commits all the time never leaves long enough for a second one to take."""
    done = Pruned()
    c = events.c
    kept_key = c.kind != "callback"
    old = c.received_at < strip_before
    past_window = c.received_at < delete_before
    # Handled and dead events: callbacks go, webhooks are stripped (or go, past the window).
    delete_done = sa.and_(c.state.in_(DONE), sa.or_(past_window, sa.and_(old, sa.not_(kept_key))))
    strip = sa.and_(c.state.in_(DONE), old, kept_key, sa.not_(past_window))
    with engine.connect() as conn:
        last = _last_id_before(conn, strip_before)
        if last is not None:
            _windows(conn, done, DONE, last, batch, dry_run, delete=delete_done, strip=strip, pace=pace,
                     write=write)
        # Stripped events past the dedupe window: the oldest stripped ids, so a pass reads only
        # those it deletes, never the stripped ones whose keys are still kept.
        last = _last_id_before(conn, delete_before)
        if last is not None:
            _windows(conn, done, (PRUNED,), last, batch, dry_run,
                     delete=sa.and_(c.state == PRUNED, past_window), strip=None, pace=pace, write=write)
    return done


#: A stripped event's columns: its dedupe key, kind, name, times and attempts alone are kept.
STRIPPED = {
    "payload": PRUNED_PAYLOAD, "state": PRUNED, "app_user_id": None, "upstream_user_id": None,
    "error": None, "claimed_by": None, "claimed_at": None, "next_attempt_at": None,
}


def _windows(
    conn: Connection,
    done: Pruned,
    states: Collection[str],
    last: int,
    batch: int,
    dry_run: bool,
    *,
    delete: sa.ColumnElement[bool] | None,
    strip: sa.ColumnElement[bool] | None,
    start: int = 0,
    pace: float = 1.0,
    write: Callable[[Any], Any] | None = None,
) -> None:
    """Walk windows of ``batch`` ids from the first event in one of ``states`` up to ``last``:
    in each, one transaction deletes the ``delete`` rows and strips the ``strip`` ones (dry:
    counts them)."""
    c = events.c
    lo = start
    while True:
        lo = first_id(conn, states, lo - 1)
        conn.rollback()  # the probe's read ends here: each window is a transaction of its own
        if lo is None or lo > last:
            return
        window = sa.and_(c.id >= lo, c.id < lo + batch, c.id <= last)
        if dry_run:
            counts = conn.execute(
                sa.select(
                    sa.func.count().filter(delete if delete is not None else sa.false()),
                    sa.func.count().filter(strip if strip is not None else sa.false()),
                ).where(window)
            ).one()
            conn.rollback()
            done.add(deleted=int(counts[0]), stripped=int(counts[1]))
        elif write is not None:
            statements = []
            if delete is not None:
                statements.append(events.delete().where(window, delete))
            if strip is not None:
                statements.append(events.update().where(window, strip).values(STRIPPED))
            rendered = [str(s.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
                        for s in statements]
            op = _Batch(tuple(rendered))
            counts = write(op)
            deleted = counts[0] if delete is not None else 0
            stripped = counts[-1] if strip is not None else 0
            done.add(deleted=deleted, stripped=stripped)
            # The pause follows the batch's own statements, not the time it waited for its group
            # (the webhooks' groups ahead of it, the whole group's commit, this thread's turn on a
            # busy interpreter): that wait was often 5 to 20 times as long, and 19 times it kept
            # the pass asleep for seconds after each batch.
            rest(op.took, pace)
        else:
            began = time.monotonic()
            with conn.begin():
                begin_writing(conn)
                deleted = (
                    conn.execute(events.delete().where(window, delete)).rowcount if delete is not None else 0
                )
                stripped = (
                    conn.execute(events.update().where(window, strip).values(STRIPPED)).rowcount
                    if strip is not None else 0
                )
            done.add(deleted=deleted, stripped=stripped)
            pause(began, pace)
        lo += batch


class _Batch:
    """One window's statements (rendered, their values written in), as a write of the group
    commit: run on its connection, in its transaction; their row counts."""

    __slots__ = ("statements", "took")

    def __init__(self, statements: tuple[str, ...]) -> None:
        self.statements = statements
        #: Seconds its statements took in the group's transaction.
        self.took = 0.0

    def __call__(self, conn: Any) -> list[int]:
        began = time.monotonic()
        cursor = conn.cursor()
        try:
            counts = []
            for statement in self.statements:
                cursor.execute(statement)
                counts.append(cursor.rowcount)
            return counts
        finally:
            cursor.close()
            self.took += time.monotonic() - began


def begin_writing(conn: Connection) -> None:
    """On SQLite, take the write lock as the transaction begins (``BEGIN IMMEDIATE``, as the
    group commit does), so it waits its turn (the busy timeout) behind the webhooks' commits: a
    deferred transaction whose snapshot another commit outdated fails at once instead."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def pause(began: float, pace: float) -> None:
    """Wait so that the work since ``began`` is ``pace`` of the time (none at 1)."""
    rest(time.monotonic() - began, pace)


def rest(took: float, pace: float) -> None:
    """Wait so that work that took ``took`` s is ``pace`` of the time (none at 1)."""
    if pace < 1.0:
        time.sleep(took * (1.0 / pace - 1.0))


def strip_named_events(
    engine: Engine,
    *,
    provider: str,
    names: Collection[str],
    before: datetime,
    batch: int,
    start: int = 0,
    dry_run: bool = False,
    pace: float = 1.0,
    write: Callable[[Any], Any] | None = None,
) -> tuple[Pruned, int]:
    """Strip ``provider``'s handled and dead events called ``names`` received before ``before``
    (data fetched from its upstream, which expires sooner than events), from id ``start`` on, in
    windows of ``batch`` ids; returns what was done and the id the next pass may start from."""
    done = Pruned()
    c = events.c
    chosen = sa.and_(
        c.provider == provider, c.name.in_(list(names)), c.state.in_(DONE), c.received_at < before
    )
    with engine.connect() as conn:
        last = _last_id_before(conn, before)
        if last is None or last < start:
            return done, start
        _windows(conn, done, DONE, last, batch, dry_run, delete=None, strip=chosen, start=start, pace=pace,
                 write=write)
    return done, (start if dry_run else last + 1)
