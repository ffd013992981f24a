"""Group commit: how the writes a request waits for reach the database.

A request that stores an event answers only once the event is committed. One commit per request
would cost one fsync (SQLite) or one round trip (PostgreSQL) each. Instead, the thread of one
waiting request (the leader) commits every write that is waiting, in one transaction on a
connection of its own, while the next group gathers; then it hands the lead to the oldest write
of that group. Each request is woken alone, once its write is committed.

The writes on that path are written once per dialect and go straight through the driver: a
group's new events are one multi-row ``INSERT``, its "handled" marks one ``UPDATE``. A group costs
a handful of statements however many requests share it, and each statement is a wait on the
database that every thread of the process would otherwise queue behind.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .timeutil import utcnow

log = logging.getLogger("flask_wink")

DIALECTS = ("sqlite", "postgresql")

#: The columns an event is inserted with, in the order :class:`EventRow` carries them.
EVENT_COLUMNS = (
    "kind",
    "name",
    "event_id",
    "provider",
    "app_user_id",
    "smile_user_id",
    "payload",
    "received_at",
    "state",
    "attempts",
    "claimed_by",
    "claimed_at",
)
ACCOUNT_COLUMNS = (
    "account_id",
    "smile_user_id",
    "provider_id",
    "status",
    "error_code",
    "connected_at",
    "updated_at",
)


# -- what a group is made of ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountChange:
    """An account status to record if it moves the status forward (see ``Store.update_account``)."""

    provider: str
    account_id: str
    status: str
    replaceable: tuple[str, ...]
    connected: bool = False
    owner: str | None = None
    upstream_user_id: str | None = None
    institution_id: str | None = None
    error_code: str | None = None

    @classmethod
    def make(
        cls, provider: str, account_id: str, status: str, *, replaces: Iterable[str], **fields: Any
    ) -> AccountChange:
        status = str(status)
        replaceable = tuple(str(s) for s in replaces if str(s) != status)
        return cls(provider, account_id, status, replaceable, **fields)

    def values(self, now: datetime) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "smile_user_id": self.upstream_user_id,
            "provider_id": self.institution_id,
            "status": self.status,
            "error_code": self.error_code,
            "connected_at": now if self.connected else None,
            "updated_at": now,
        }


def _key(provider: str, kind: str, event_id: str | None) -> tuple | None:
    """What the unique constraint compares; rows without an event id never collide (None)."""
    return None if event_id is None else (provider, kind, event_id)


@dataclass(frozen=True, slots=True)
class EventRow:
    """One event to insert; consecutive ones in a group go to the database as one statement."""

    values: tuple
    sql: HotStatements
    #: Recorded in the same transaction when the event is new.
    account: AccountChange | None = None

    @property
    def key(self) -> tuple | None:
        kind, _, event_id, provider = self.values[:4]
        return _key(provider, kind, event_id)

    @staticmethod
    def batch(conn: Any, ops: list[EventRow]) -> list[tuple[int, bool | None] | None]:
        return ops[0].sql.insert_events(conn, ops)


@dataclass(frozen=True, slots=True)
class HandledMark:
    """An event whose handlers all ran; consecutive ones in a group are one ``UPDATE``."""

    row_id: int
    sql: HotStatements

    @staticmethod
    def batch(conn: Any, ops: list[HandledMark]) -> list[None]:
        ops[0].sql.mark_handled(conn, [op.row_id for op in ops])
        return [None] * len(ops)


@dataclass(frozen=True, slots=True)
class FailedMark:
    """An event a handler failed on, with the error."""

    row_id: int
    error: str
    sql: HotStatements

    @staticmethod
    def batch(conn: Any, ops: list[FailedMark]) -> list[None]:
        ops[0].sql.mark_failed(conn, [(op.error, op.row_id) for op in ops])
        return [None] * len(ops)


@dataclass(frozen=True, slots=True)
class AccountUpsert:
    """One account status change on its own; the result says whether the status moved."""

    change: AccountChange
    sql: HotStatements

    def __call__(self, conn: Any) -> bool:
        return self.sql.upsert_account(conn, self.change)


BATCHED = (EventRow, HandledMark, FailedMark)


def nothing(conn: Any) -> None:
    """A write that writes nothing: waiting for it waits for what was queued before it."""
    return None


# -- the statements -------------------------------------------------------------------------


class HotStatements:
    """The statements of the write path, written once for one dialect (SQLite or PostgreSQL).

    Every method takes the driver's own connection, inside a transaction the caller commits.
    """

    MAX_ROWS = 500  # rows per statement and writes per group (well under SQLite's 32,766 parameters)

    def __init__(self, engine: Engine, events: sa.Table, accounts: sa.Table) -> None:
        dialect = engine.dialect
        if dialect.name not in DIALECTS:
            raise RuntimeError(
                f"flask-wink stores its data in SQLite or PostgreSQL, not {dialect.name}: "
                "set WINK_DATABASE_URL to a sqlite:/// or postgresql+psycopg:// URL."
            )
        self.dialect = dialect.name
        self.events, self.accounts = events.name, accounts.name
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.mark = mark
        self._event_row = f"({', '.join([mark] * len(EVENT_COLUMNS))})"
        self._inserts: dict[int, str] = {}
        self._insert_head = f"INSERT INTO {self.events} ({', '.join(EVENT_COLUMNS)})"
        self._on_duplicate = "ON CONFLICT (provider, kind, event_id) DO NOTHING"
        self._mark_handled = (
            f"UPDATE {self.events} SET state = 'handled', error = NULL, claimed_by = NULL, "
            f"handled_at = {mark} WHERE id "
        )
        if self.dialect == "postgresql":
            # PostgreSQL gets a group's rows as one array per column: one statement text
            # whatever the group's size and its account changes, which the driver prepares (once
            # per pattern of columns that are NULL in every row; a text per size would be parsed
            # and planned again and again).
            event_arrays = _unnest(events, EVENT_COLUMNS)
            insert = (
                f"{self._insert_head} SELECT * FROM {event_arrays} {self._on_duplicate} "
                "RETURNING id, provider, kind, event_id"
            )
            self._insert_pg = insert
            table = self.accounts
            change_arrays = _unnest(accounts, ACCOUNT_COLUMNS, keys=3)
            guard = f"({table}.status, excluded.status) IN (SELECT * FROM unnest(%b::text[], %b::text[]))"
            self._insert_pg_with_accounts = (
                f"WITH ins AS ({insert}), "
                f"ch (provider, kind, event_id, {', '.join(ACCOUNT_COLUMNS)}) AS "
                f"(SELECT * FROM {change_arrays}), "
                f"acc AS (INSERT INTO {table} ({', '.join(ACCOUNT_COLUMNS)}) "
                f"SELECT {', '.join('ch.' + name for name in ACCOUNT_COLUMNS)} FROM ch JOIN ins "
                "ON ins.provider = ch.provider AND ins.kind = ch.kind AND ins.event_id = ch.event_id "
                f"{self._account_conflict(guard)} RETURNING account_id) "
                "SELECT id, provider, kind, event_id FROM ins "
                "UNION ALL SELECT NULL, NULL, NULL, account_id FROM acc"
            )

        def processor(table: sa.Table, name: str) -> Callable[[Any], Any] | None:
            # SQLite keeps date-times as text in SQLAlchemy's format: use SQLAlchemy's converter
            # so that rows written here read back like any other.
            return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

        self._event_processors = [
            (index, convert)
            for index, name in enumerate(EVENT_COLUMNS)
            if (convert := processor(events, name))
        ]
        self._account_processors = [processor(accounts, name) for name in ACCOUNT_COLUMNS]
        self._moment = processor(events, "handled_at") or _same
        self._mark_failed = (
            f"UPDATE {self.events} SET state = 'failed', error = {mark}, claimed_by = NULL WHERE id = {mark}"
        )
        self._upserts: dict[tuple[int, bool], str] = {}

    def row(self, values: Mapping[str, Any], account: AccountChange | None = None) -> EventRow:
        return EventRow(tuple(values[name] for name in EVENT_COLUMNS), self, account)

    # events

    def insert_events(self, conn: Any, rows: list[EventRow]) -> list[tuple[int, bool | None] | None]:
        """For each row, ``(new id, whether its account change moved the status)``, or None where
        the event is already stored (also when one event comes twice in ``rows``: only its first
        copy is inserted, and only a new event changes an account)."""
        results: list[tuple[int, bool | None] | None] = [None] * len(rows)
        seen: set[tuple] = set()
        todo: list[int] = []
        for index, row in enumerate(rows):
            key = row.key
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            todo.append(index)
        cursor = conn.cursor()
        try:
            for start in range(0, len(todo), self.MAX_ROWS):
                chunk = todo[start : start + self.MAX_ROWS]
                batch = [rows[index] for index in chunk]
                if self.dialect == "sqlite":
                    ids, decided = self._insert_sqlite(cursor, batch), {}
                else:
                    ids, decided = self._insert_postgresql(cursor, batch)
                for position, (index, new_id) in enumerate(zip(chunk, ids, strict=True)):
                    if new_id is not None:
                        results[index] = (new_id, decided.get(position))
            # Only a new event moves its account; the statement above may have done it already.
            upserts = [
                (index, self._send_upsert(conn, rows[index].account))
                for index, result in enumerate(results)
                if result is not None and rows[index].account is not None and result[1] is None
            ]
            for index, sent in upserts:
                results[index] = (results[index][0], self._upserted(sent))
        finally:
            cursor.close()
        return results

    def _insert_sql(self, count: int) -> str:
        sql = self._inserts.get(count)
        if sql is None:
            sql = f"{self._insert_head} VALUES {', '.join([self._event_row] * count)} {self._on_duplicate}"
            self._inserts[count] = sql
        return sql

    def _params(self, rows: list[EventRow]) -> list[Any]:
        flat: list[Any] = []
        for row in rows:
            flat.extend(row.values)
        width = len(EVENT_COLUMNS)
        for index, convert in self._event_processors:
            for position in range(index, len(flat), width):
                if flat[position] is not None:
                    flat[position] = convert(flat[position])
        return flat

    def _insert_sqlite(self, cursor: Any, rows: list[EventRow]) -> list[int | None]:
        # The writer holds SQLite's write lock, so the new rows get consecutive ids in VALUES
        # order: the last id and the count of inserted rows say which, with no rows sent back.
        cursor.execute(self._insert_sql(len(rows)), self._params(rows))
        inserted, last = cursor.rowcount, cursor.lastrowid
        if inserted == len(rows):
            return list(range(last - inserted + 1, last + 1))
        if inserted <= 0:
            return [None] * len(rows)
        cursor.execute(
            f"SELECT id, provider, kind, event_id FROM {self.events} WHERE id > ? AND id <= ? ORDER BY id",
            (last - inserted, last),
        )
        new = cursor.fetchall()
        # Walk both in order: a row that is not the next new one was already stored (a row
        # without an event id never conflicts, so it is always the next new one).
        ids: list[int | None] = []
        position = 0
        for row in rows:
            if position < len(new) and _key(*new[position][1:]) == row.key:
                ids.append(new[position][0])
                position += 1
            else:
                ids.append(None)
        return ids

    def _insert_postgresql(
        self, cursor: Any, rows: list[EventRow]
    ) -> tuple[list[int | None], dict[int, bool]]:
        # The account changes of the new events ride in the same statement (data-modifying
        # CTEs), except one bound to an owner or for an account an earlier row changes: those
        # are upserted one by one afterwards, in order. Returns the new ids and, by
        # position, whether each change made here moved its account.
        inline: dict[int, AccountChange] = {}
        touched: set[str] = set()
        for position, row in enumerate(rows):
            change = row.account
            if change is None:
                continue
            if change.owner is None and row.key is not None and change.account_id not in touched:
                inline[position] = change
            touched.add(change.account_id)
        columns = [list(column) for column in zip(*(row.values for row in rows), strict=True)]
        if not inline:
            cursor.execute(self._insert_pg, columns)
            returned, moved = cursor.fetchall(), set()
        else:
            now = utcnow()
            changes = [
                (*rows[position].key, *(change.values(now)[name] for name in ACCOUNT_COLUMNS))
                for position, change in inline.items()
            ]
            pairs = sorted({(old, change.status) for change in inline.values() for old in change.replaceable})
            params = columns + [list(column) for column in zip(*changes, strict=True)]
            params += [[old for old, _ in pairs], [new for _, new in pairs]]
            cursor.execute(self._insert_pg_with_accounts, params)
            answer = cursor.fetchall()
            returned = [row for row in answer if row[0] is not None]
            moved = {row[3] for row in answer if row[0] is None}
        by_key = {_key(provider, kind, event_id): id_ for id_, provider, kind, event_id in returned}
        # Rows without an event id never conflict; their ids come from one sequence in VALUES order.
        unkeyed = iter(sorted(id_ for id_, _, _, event_id in returned if event_id is None))
        ids = [next(unkeyed) if row.key is None else by_key.get(row.key) for row in rows]
        return ids, {position: change.account_id in moved for position, change in inline.items()}

    def _account_conflict(self, guard: str) -> str:
        """The ON CONFLICT clause of every account upsert: the status moves only where ``guard``
        holds; the owner, provider and first connection, once known, are kept."""
        table = self.accounts
        keep = ", ".join(
            f"{name} = coalesce({table}.{name}, excluded.{name})"
            for name in ("smile_user_id", "provider_id", "connected_at")
        )
        return (
            "ON CONFLICT (account_id) DO UPDATE SET status = excluded.status, "
            f"error_code = excluded.error_code, updated_at = excluded.updated_at, {keep} WHERE {guard}"
        )

    @classmethod
    def one_statement(cls, ops: list[Any]) -> bool:
        """Whether PostgreSQL gets ``ops`` as one statement, atomic without a transaction."""
        accounts: set[str] = set()
        for op in ops:
            if type(op) is not EventRow:
                return False
            change = op.account
            if change is not None:
                if change.owner is not None or op.key is None or change.account_id in accounts:
                    return False
                accounts.add(change.account_id)
        return 0 < len(ops) <= cls.MAX_ROWS

    # marks

    def mark_handled(self, conn: Any, row_ids: list[int]) -> None:
        now = self._moment(utcnow())
        cursor = conn.cursor()
        try:
            for start in range(0, len(row_ids), self.MAX_ROWS):
                chunk = row_ids[start : start + self.MAX_ROWS]
                if self.dialect == "postgresql":
                    cursor.execute(self._mark_handled + "= ANY(%b::integer[])", (now, chunk))
                else:
                    marks = ", ".join([self.mark] * len(chunk))
                    cursor.execute(self._mark_handled + f"IN ({marks})", (now, *chunk))
        finally:
            cursor.close()

    def mark_failed(self, conn: Any, errors: list[tuple[str, int]]) -> None:
        cursor = conn.cursor()
        try:
            cursor.executemany(self._mark_failed, errors)
        finally:
            cursor.close()

    # accounts

    def upsert_account(self, conn: Any, change: AccountChange) -> bool:
        return self._upserted(self._send_upsert(conn, change))

    def _upserted(self, cursor: Any) -> bool:
        """Whether a sent upsert changed its account; closes its cursor."""
        try:
            if self.dialect == "sqlite":
                return cursor.rowcount > 0  # inserted or updated: one row; held back: none
            return cursor.fetchone() is not None
        finally:
            cursor.close()

    def _send_upsert(self, conn: Any, change: AccountChange) -> Any:
        # One atomic INSERT ... ON CONFLICT DO UPDATE that only moves a status forward (and, with
        # an owner, only for an account of that Smile user or of no known user). Returns its
        # cursor, for _upserted.
        shape = (len(change.replaceable), change.owner is not None)
        sql = self._upserts.get(shape)
        if sql is None:
            table, mark = self.accounts, self.mark
            guard = f"{table}.status IN ({', '.join([mark] * shape[0])})" if shape[0] else "1 = 0"
            if shape[1]:
                guard += f" AND ({table}.smile_user_id IS NULL OR {table}.smile_user_id = {mark})"
            sql = (
                f"INSERT INTO {table} ({', '.join(ACCOUNT_COLUMNS)}) "
                f"VALUES ({', '.join([mark] * len(ACCOUNT_COLUMNS))}) {self._account_conflict(guard)}"
            )
            if self.dialect == "postgresql":
                sql += " RETURNING 1"  # a row when the status moved
            self._upserts[shape] = sql
        values = change.values(utcnow())
        params = [
            convert(values[name]) if convert is not None and values[name] is not None else values[name]
            for name, convert in zip(ACCOUNT_COLUMNS, self._account_processors, strict=True)
        ]
        params.extend(change.replaceable)
        if change.owner is not None:
            params.append(change.owner)
        cursor = conn.cursor()
        cursor.execute(sql, params)
        return cursor


def _same(value: Any) -> Any:
    return value


def _unnest(table: sa.Table, columns: tuple[str, ...], *, keys: int = 0) -> str:
    """PostgreSQL's ``unnest(array, ...)`` over ``columns`` of ``table``, after ``keys`` text
    columns: the rows come as one array parameter per column, sent in binary."""
    types = ["text"] * keys
    for name in columns:
        kind = table.c[name].type
        if isinstance(kind, sa.DateTime):
            types.append("timestamptz")
        elif isinstance(kind, sa.Integer):
            types.append("integer")
        else:
            types.append("text")
    return f"unnest({', '.join(f'%b::{kind}[]' for kind in types)})"


def execute(conn: Any, ops: list[Any]) -> list[Any]:
    """Run a group's writes in order; consecutive batched ops of one kind go as one call."""
    results: list[Any] = []
    i = 0
    while i < len(ops):
        kind = type(ops[i])
        if kind in BATCHED:
            j = i + 1
            while j < len(ops) and type(ops[j]) is kind:
                j += 1
            results.extend(kind.batch(conn, ops[i:j]))
            i = j
        else:
            results.append(ops[i](conn))
            i += 1
    return results


# -- group commit ---------------------------------------------------------------------------


class _Slot:
    """One write waiting in a :class:`GroupCommitter`, and how its thread is woken."""

    __slots__ = ("op", "state", "result", "error", "future", "sleeper", "_wake")

    WAITING, DONE, LEAD = 0, 1, 2

    def __init__(self, op: Any, future: Future | None = None, *, sleeper: bool = False) -> None:
        self.op, self.future, self.sleeper = op, future, sleeper
        self.state, self.result, self.error = _Slot.WAITING, None, None
        self._wake = threading.Lock()
        self._wake.acquire()

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        """Record the outcome; a sleeping thread is woken separately (see ``wake``)."""
        self.result, self.error, self.state = result, error, _Slot.DONE
        if self.future is not None and self.future.set_running_or_notify_cancel():
            if error is None:
                self.future.set_result(result)
            else:
                self.future.set_exception(error)

    def wake(self) -> None:
        self._wake.release()

    def hand_lead(self) -> None:
        self.state = _Slot.LEAD
        self._wake.release()

    def sleep(self, timeout: float | None) -> bool:
        return self._wake.acquire(timeout=-1 if timeout is None else max(0.0, timeout))


#: Every committer of this process, so that a forked child can reset them (see _after_fork).
_COMMITTERS: weakref.WeakSet[GroupCommitter] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for committer in list(_COMMITTERS):
        committer._after_fork()


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_reset_after_fork)


class _Flusher:
    """The thread of a :class:`GroupCommitter` that commits noted writes when no group comes."""

    def __init__(self, loop: Callable[[_Flusher], None]) -> None:
        self.noted = threading.Event()
        self.stopped = False
        self.thread = threading.Thread(target=loop, args=(self,), name="wink-flusher", daemon=True)
        self.thread.start()

    def serves(self) -> bool:
        return not self.stopped and self.thread.is_alive()


class GroupCommitter:
    """Commits writes in groups on a connection of its own (see the module's text).

    An op is one of the batched kinds above, or any ``op(connection)`` given the driver's
    connection inside the group's transaction. If a group fails, each op is retried in a
    transaction of its own, so one bad write cannot sink the others.
    """

    #: Writes nobody waits for (see :meth:`note`) ride along once this many are queued, or once
    #: the oldest is this many seconds old: most groups carry no statement for them.
    NOTES_BATCH = 256
    NOTES_MAX_AGE = 0.5
    #: The thread that writes them when no group comes: how long it lets them gather, and how
    #: often it looks anyway while nothing is noted.
    FLUSHER_DELAY = 0.05
    FLUSHER_IDLE = 1.0

    def __init__(self, engine: Engine, max_group: int = HotStatements.MAX_ROWS) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.max_group = max_group
        self._lock = threading.Lock()
        self._pending: list[_Slot] = []
        self._notes: collections.deque = collections.deque()
        self._notes_since = 0.0
        self._notes_wanted = False
        self._close_when_done = False
        self._leading = False
        self._flusher: _Flusher | None = None
        self._conn: Any = None  # the pool's wrapper of the driver connection, detached
        self._raw: Any = None  # the driver connection itself
        #: Transactions committed so far by this process (each one a group, or one retried op).
        self.commits = 0
        _COMMITTERS.add(self)

    def _after_fork(self) -> None:
        # A forked child has this one thread: a lock another thread held, a group it was
        # leading, the writes its requests waited for and the noted ones stay with the parent,
        # which commits them. The child opens its own connections, the writer's on its first
        # write and the pool's anew, and starts its own flusher; the parent's connections stay
        # open for the parent (as SQLAlchemy advises), untouched here.
        self.engine.dispose(close=False)
        self._conn = self._raw = None
        self._flusher = None
        self._lock = threading.Lock()
        self._leading = False
        self._close_when_done = False
        self._notes_wanted = False
        self._pending = []
        self._notes = collections.deque()

    # -- the API

    def run(self, op: Any, timeout: float = 60.0) -> Any:
        """Commit ``op`` with whatever else is waiting; its result once committed."""
        slot = _Slot(op, sleeper=True)
        deadline = time.monotonic() + timeout
        if self._queue(slot):
            self._lead(slot)
        while slot.state != _Slot.DONE:
            if slot.state == _Slot.LEAD:
                self._lead(slot)
                continue
            if slot.sleep(deadline - time.monotonic()):
                continue  # committed, or told to lead
            with self._lock:
                if slot.state == _Slot.LEAD:
                    continue  # the lead came just now: take it
                if slot.state == _Slot.WAITING and slot in self._pending:
                    self._pending.remove(slot)
            if slot.state != _Slot.DONE:
                # Not answered: the write may still commit, and a redelivery is then a duplicate.
                raise TimeoutError("the database did not commit in time")
        if slot.error is not None:
            raise slot.error
        return slot.result

    def submit(self, op: Any) -> Future:
        """Queue ``op`` without waiting; the future resolves once its transaction committed."""
        future: Future = Future()
        if self._queue(_Slot(op, future)):
            self._lead(None)
        self._ensure_flusher()
        return future

    def _queue(self, slot: _Slot) -> bool:
        """Queue a write; True when no commit is under way, so the caller is to lead."""
        with self._lock:
            self._pending.append(slot)
            lead = not self._leading
            self._leading = True
        return lead

    def note(self, op: Any) -> None:
        """Queue a write nobody waits for; it rides along with a later group (within a second)."""
        if not self._notes:
            self._notes_since = time.monotonic()
        self._notes.append(op)
        noted = self._ensure_flusher()
        if not noted.is_set():
            noted.set()

    def flush(self) -> None:
        """Wait until every write queued so far, noted ones included, is committed."""
        with self._lock:
            self._notes_wanted = True
        self.run(nothing)

    def close(self) -> None:
        """Close this process's connection (the next write opens another).

        Safe at any moment, from a garbage collector's finalizer too: while a group is being
        committed, its leader closes the connection once the group is done. The thread that
        commits noted writes ends too, once it has committed those still waiting.
        """
        self._stop_flusher()
        if not self._lock.acquire(blocking=False):
            # Called (by a finalizer) while this very thread, or another, holds the lock.
            self._close_when_done = True
            return
        try:
            if self._leading:
                self._close_when_done = True
                return
            self._leading = True  # nobody starts a group while the connection closes
        finally:
            self._lock.release()
        try:
            self._drop_connection()
        finally:
            with self._lock:
                self._leading = False
            self._wake_heir()

    # -- leading

    def _lead(self, own: _Slot | None, *, notes: bool = False) -> None:
        # Holds the lead (self._leading) on entry. Commits groups until ``own`` is committed,
        # then hands the lead to the oldest waiting write, or lays it down. Should anything
        # escape, the lead is laid down too, so that writing goes on.
        try:
            self._lead_groups(own, notes=notes)
        except BaseException:
            with self._lock:
                self._leading = False
            self._wake_heir()
            raise

    def _lead_groups(self, own: _Slot | None, *, notes: bool) -> None:
        while True:
            with self._lock:
                group = self._pending[: self.max_group]
                del self._pending[: self.max_group]
                if (
                    notes
                    or self._notes_wanted
                    or len(self._notes) >= self.NOTES_BATCH
                    or (self._notes and time.monotonic() - self._notes_since > self.NOTES_MAX_AGE)
                ):
                    self._notes_wanted = False
                    group[:0] = [_Slot(self._notes.popleft()) for _ in range(len(self._notes))]
                if not group:
                    self._leading = False
                    return
            self._commit(group, own)
            self._after_group()
            if own is not None and own.state != _Slot.DONE:
                continue
            with self._lock:
                # The heir is a request thread asleep on its write; submitted writes have none.
                heir = next((slot for slot in self._pending if slot.sleeper), None)
                if heir is not None:
                    heir.hand_lead()
                    return
                if not self._pending:
                    self._leading = False
                    return
            own = None  # only submitted writes are left: commit them too

    def _ensure_flusher(self) -> threading.Event:
        # Writes nobody waits for must not sit forever when traffic stops.
        flusher = self._flusher
        if flusher is None or not flusher.serves():
            with self._lock:
                flusher = self._flusher
                if flusher is None or not flusher.serves():
                    flusher = self._flusher = _Flusher(self._flush_loop)
        return flusher.noted

    def _stop_flusher(self) -> None:
        # Only a flag: close() may run in a finalizer, where taking any lock could deadlock.
        # The thread commits what is still noted, closes the connection again and ends; a later
        # write starts another.
        flusher = self._flusher
        if flusher is not None:
            flusher.stopped = True

    def _flush_loop(self, flusher: _Flusher) -> None:
        # Asleep until a write is noted (or, as a safety net, once a second); then, after a
        # moment for others to gather, it commits them unless a group is being committed.
        noted = flusher.noted
        while True:
            noted.wait(self.FLUSHER_IDLE)
            noted.clear()
            led = False
            while True:
                time.sleep(self.FLUSHER_DELAY)
                with self._lock:
                    waiting = bool(self._notes or self._pending)
                    lead = waiting and not self._leading
                    if lead:
                        self._leading = True
                if lead:
                    self._lead(None, notes=True)
                    led = True
                if lead or not waiting:
                    break
            if flusher.stopped and not self._notes:
                if led and self._flusher is flusher:  # no write came since close(): close again
                    self.close()
                return

    # -- committing

    def _commit(self, group: list[_Slot], own: _Slot | None) -> None:
        try:
            try:
                results = self._transaction([slot.op for slot in group])
            except Exception:
                for slot in group:
                    try:
                        result = self._transaction([slot.op])[0]
                    except Exception as exc:
                        slot.settle(error=exc)
                    else:
                        slot.settle(result)
            else:
                for slot, result in zip(group, results, strict=True):
                    slot.settle(result)
        finally:
            for slot in group:
                if slot.state != _Slot.DONE:  # something escaped: no write is left waiting
                    slot.settle(error=RuntimeError("the write could not be committed"))
                if slot.sleeper and slot is not own:
                    slot.wake()

    def _after_group(self) -> None:
        if self._close_when_done:
            self._close_when_done = False
            self._drop_connection()

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a connection already broken
                log.debug("closing the event writer's connection failed", exc_info=True)

    def _wake_heir(self) -> None:
        # Writes queued while no one could lead: the first of them leads.
        with self._lock:
            if self._leading:
                return
            heir = next((slot for slot in self._pending if slot.sleeper), None)
            if heir is not None:
                self._leading = True
                heir.hand_lead()

    def _transaction(self, ops: list[Any]) -> list[Any]:
        raw = self._connection()
        # The driver is in autocommit mode: BEGIN and COMMIT are statements of our own, prepared
        # once (the driver's own commit prepares COMMIT every time). On PostgreSQL a group that
        # is one statement needs neither: it is its own transaction, one round trip.
        if self.dialect == "sqlite":
            begin: str | None = "BEGIN IMMEDIATE"
        else:
            begin = None if HotStatements.one_statement(ops) else "BEGIN"
        try:
            if begin is None:
                results = execute(raw, ops)
            else:
                cursor = raw.cursor()
                cursor.execute(begin)
                results = execute(raw, ops)
                cursor.execute("COMMIT")
                cursor.close()
            self.commits += 1
            return results
        except Exception:
            self._rollback(raw)
            raise

    def _connection(self) -> Any:
        """The driver's connection this process writes groups on."""
        if self._conn is not None:
            return self._raw
        # The connection leaves the pool for good, so the pool never sees its autocommit mode.
        conn = self.engine.raw_connection()
        raw = conn.driver_connection
        conn.detach()
        if self.dialect == "sqlite":
            raw.isolation_level = None
        else:
            raw.autocommit = True  # transactions are begun and committed by _transaction
        self._conn, self._raw = conn, raw
        return raw

    def _rollback(self, raw: Any) -> None:
        try:
            if self.dialect == "sqlite":
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
            elif raw.info.transaction_status != 0:  # not idle: inside our BEGIN, or failed in it
                cursor = raw.cursor()
                cursor.execute("ROLLBACK")
                cursor.close()
        except Exception:
            # The connection itself is broken (the server went away): open a new one next time.
            log.warning("dropping the event writer's database connection after an error")
            self._drop_connection()
