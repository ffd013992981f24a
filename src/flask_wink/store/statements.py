"""The statements of the write path, written once per dialect and run on the driver's connection.

A group's new events are one multi-row ``INSERT``, its "handled" marks one ``UPDATE``: a group
costs a handful of statements however many requests share it.

They run on the driver's own cursor, not through SQLAlchemy's execution, which measurably costs
on this path. ``python -m benchmarks.statements`` (the fastest of 7 rounds of 200 writes, in a
transaction rolled back; 2 shared cores) measured, driver's cursor against SQLAlchemy Core's
execution of the same write:

=================================  ==================  ====================
write                              SQLite              PostgreSQL (psycopg)
=================================  ==================  ====================
a group of 32 new events           218 us / 320 us     618 us / 1328 us
"handled" marks of 32 events       50 us / 81 us       329 us / 435 us
one account upsert                 7 us / 27.5 us      35 us / 73 us
=================================  ==================  ====================

Their text is built with SQLAlchemy Core where Core can say it (:meth:`EventStatements.driver_statement`:
the "failed" marks, SQLite's "handled" marks and its look-up of new ids), compiled once, so it
costs nothing at run time. Hand-written, each for the reason said where it is: the event inserts
and the account upsert, whose ``ON CONFLICT`` clause PostgreSQL's group insert embeds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from .engine import FIX, check_driver
from .operations import EventRow, EventValues, delivery_key
from .schema import IS_CURRENT
from .values import AccountChange, utcnow

DIALECTS = ("sqlite", "postgresql")

#: The columns an event is inserted with, in order: the fields of :class:`EventValues`.
EVENT_COLUMNS = EventValues._fields
ACCOUNT_COLUMNS = (
    "provider",
    "account_id",
    "upstream_user_id",
    "institution_id",
    "status",
    "error_code",
    "connected_at",
    "updated_at",
)


class EventStatements:
    """The statements of the write path, written once for one dialect (SQLite or PostgreSQL).

    Every method takes the driver's own connection, inside a transaction the caller commits.
    """

    MAX_ROWS = 500  # rows per statement and writes per group (well under SQLite's 32,766 parameters)

    def __init__(self, engine: Engine, events: sa.Table, accounts: sa.Table) -> None:
        dialect = engine.dialect
        if dialect.name not in DIALECTS:
            raise RuntimeError(f"flask-wink supports only SQLite and PostgreSQL, not {dialect.name}: {FIX}.")
        if dialect.name == "postgresql":
            check_driver(dialect.driver)
        self.dialect = dialect.name
        # psycopg (3) sends arrays in binary (%b); psycopg2 only knows %s, and spells them out.
        array = "%b" if dialect.driver == "psycopg" else "%s"
        self.array = array
        self.events, self.accounts = events.name, accounts.name
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.mark = mark
        self._event_row = f"({', '.join([mark] * len(EVENT_COLUMNS))})"
        self._inserts: dict[int, str] = {}
        self._insert_head = f"INSERT INTO {self.events} ({', '.join(EVENT_COLUMNS)})"
        self._on_duplicate = "ON CONFLICT (provider, kind, event_id) DO NOTHING"
        # For statements built with Core: compiled once to the driver's positional placeholders.
        self._compiler = dialect if dialect.paramstyle == "qmark" else type(dialect)(paramstyle="format")
        self._events_table = events
        # Hand-written: SQLite's multi-row VALUES and PostgreSQL's unnest over binary arrays (%b,
        # which Core's compiler does not render) share this head and conflict clause.
        if self.dialect == "postgresql":
            # PostgreSQL gets a group's rows as one array per column: one statement text
            # whatever the group's size and its account changes, which the driver prepares (once
            # per pattern of columns that are NULL in every row; a text per size would be parsed
            # and planned again and again).
            event_arrays = _unnest(events, EVENT_COLUMNS, array)
            insert = (
                f"{self._insert_head} SELECT * FROM {event_arrays} {self._on_duplicate} "
                "RETURNING id, provider, kind, event_id"
            )
            self._insert_pg = insert
            table = self.accounts
            change_arrays = _unnest(accounts, ACCOUNT_COLUMNS, array, keys=3)
            pairs = f"unnest({array}::text[], {array}::text[])"
            guard = f"({table}.status, excluded.status) IN (SELECT * FROM {pairs})"
            self._insert_pg_with_accounts = (
                f"WITH ins AS ({insert}), "
                f"ch (event_provider, kind, event_id, {', '.join(ACCOUNT_COLUMNS)}) AS "
                f"(SELECT * FROM {change_arrays}), "
                f"acc AS (INSERT INTO {table} ({', '.join(ACCOUNT_COLUMNS)}) "
                f"SELECT {', '.join('ch.' + name for name in ACCOUNT_COLUMNS)} FROM ch JOIN ins "
                "ON ins.provider = ch.event_provider AND ins.kind = ch.kind AND ins.event_id = ch.event_id "
                f"{self._account_conflict(guard)} RETURNING provider, account_id) "
                "SELECT id, provider, kind, event_id FROM ins "
                "UNION ALL SELECT NULL, provider, NULL, account_id FROM acc"
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
        self._mark_failed = self.driver_statement(
            events.update()
            .where(events.c.id == sa.bindparam("row_id"))
            .values(
                state=sa.bindparam("state"),
                error=sa.bindparam("error"),
                claimed_by=None,
                next_attempt_at=sa.bindparam("retry_at"),
            )
        )
        self._new_since = self.driver_statement(
            sa.select(events.c.id, events.c.provider, events.c.kind, events.c.event_id)
            .where(events.c.id > sa.bindparam("after"), events.c.id <= sa.bindparam("last"))
            .order_by(events.c.id)
        )
        self._marks_by_size: dict[int, DriverStatement] = {}
        if self.dialect == "postgresql":
            # Hand-written: the ids go as one binary array, so one prepared statement serves every
            # group size (Core's IN list is a statement text per size: a parse and plan each time).
            # (Measured in the module's table: 329 us here against 435 us through Core.)
            self._mark_handled_pg = (
                f"UPDATE {self.events} SET state = 'handled', error = NULL, claimed_by = NULL, "
                f"next_attempt_at = NULL, handled_at = %s WHERE id = ANY({array}::integer[])"
            )
        self._upserts: dict[tuple[int, bool], str] = {}
        self._assign_owner = self.driver_statement(
            accounts.update()
            .where(
                accounts.c.provider == sa.bindparam("provider"),
                accounts.c.account_id == sa.bindparam("account_id"),
                sa.or_(
                    accounts.c.upstream_user_id.is_(None),
                    accounts.c.upstream_user_id != sa.bindparam("owner"),
                ),
            )
            .values(upstream_user_id=sa.bindparam("new_owner"), updated_at=sa.bindparam("now"))
        )
        self._account_moment = processor(accounts, "updated_at") or _same

    def driver_statement(self, statement: sa.sql.expression.Executable) -> DriverStatement:
        """``statement`` (SQLAlchemy Core) as text for the driver's own cursor, compiled once."""
        compiled = statement.compile(dialect=self._compiler)
        return DriverStatement(compiled.string, tuple(compiled.positiontup or ()), dict(compiled.params))

    def row(self, values: Mapping[str, Any], account: AccountChange | None = None) -> EventRow:
        """An event to insert, from its columns by name (see :class:`EventValues`)."""
        return EventRow(EventValues(**values), self, account)

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
        cursor.execute(self._new_since.sql, self._new_since.params(after=last - inserted, last=last))
        new = cursor.fetchall()
        # Walk both in order: a row that is not the next new one was already stored (a row
        # without an event id never conflicts, so it is always the next new one; nor is it dropped:
        # the erasure's trigger, 0006_erasure, drops only rows with an event id).
        ids: list[int | None] = []
        position = 0
        for row in rows:
            if position < len(new) and delivery_key(*new[position][1:]) == row.key:
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
        touched: set[tuple[str, str]] = set()
        for position, row in enumerate(rows):
            change = row.account
            if change is None:
                continue
            if change.owner is None and row.key is not None and change.key not in touched:
                inline[position] = change
            touched.add(change.key)
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
            moved = {(row[1], row[3]) for row in answer if row[0] is None}
        by_key = {delivery_key(provider, kind, event_id): id_ for id_, provider, kind, event_id in returned}
        # Rows without an event id never conflict; their ids come from one sequence in VALUES order.
        unkeyed = iter(sorted(id_ for id_, _, _, event_id in returned if event_id is None))
        ids = [next(unkeyed) if row.key is None else by_key.get(row.key) for row in rows]
        return ids, {position: change.key in moved for position, change in inline.items()}

    def _account_conflict(self, guard: str) -> str:
        """The ON CONFLICT clause of every account upsert: the status moves only where ``guard``
        holds; the owner, provider and first connection, once known, are kept."""
        table = self.accounts
        keep = ", ".join(
            f"{name} = coalesce({table}.{name}, excluded.{name})"
            for name in ("upstream_user_id", "institution_id", "connected_at")
        )
        return (
            "ON CONFLICT (provider, account_id) DO UPDATE SET status = excluded.status, "
            f"error_code = excluded.error_code, updated_at = excluded.updated_at, {keep} WHERE {guard}"
        )

    @classmethod
    def one_statement(cls, ops: list[Any]) -> bool:
        """Whether PostgreSQL gets ``ops`` as one statement, atomic without a transaction."""
        accounts: set[tuple[str, str]] = set()
        for op in ops:
            if type(op) is not EventRow:
                return False
            change = op.account
            if change is not None:
                if change.owner is not None or op.key is None or change.key in accounts:
                    return False
                accounts.add(change.key)
        return 0 < len(ops) <= cls.MAX_ROWS

    # marks

    def mark_handled(self, conn: Any, row_ids: list[int]) -> None:
        now = self._moment(utcnow())
        cursor = conn.cursor()
        try:
            for start in range(0, len(row_ids), self.MAX_ROWS):
                chunk = row_ids[start : start + self.MAX_ROWS]
                if self.dialect == "postgresql":
                    cursor.execute(self._mark_handled_pg, (now, chunk))
                else:
                    marks = self._marks(len(chunk))
                    ids = dict(zip(marks.names[-len(chunk) :], chunk, strict=True))  # the ids come last
                    cursor.execute(marks.sql, marks.params(now=now, **ids))
        finally:
            cursor.close()

    def _marks(self, size: int) -> DriverStatement:
        marks = self._marks_by_size.get(size)
        if marks is None:
            events = self._events_table
            marks = self._marks_by_size[size] = self.driver_statement(
                events.update()
                .where(events.c.id.in_([sa.bindparam(f"id_{i}") for i in range(size)]))
                .values(
                    state="handled",
                    error=None,
                    claimed_by=None,
                    # Set only while failed; cleared here too, so a handling taken over from a
                    # process that then marked it failed leaves no retry behind (see claim_events).
                    next_attempt_at=None,
                    handled_at=sa.bindparam("now"),
                )
            )
        return marks

    def mark_failed(self, conn: Any, errors: list[tuple[str, int, datetime | None]]) -> None:
        """``(error, row id, retry at)``: failed, retried by itself at ``retry at``; dead without."""
        statement = self._mark_failed
        moment = self._moment
        rows = [
            statement.params(
                state="failed" if retry_at is not None else "dead",
                error=error,
                row_id=row_id,
                retry_at=moment(retry_at) if retry_at is not None else None,
            )
            for error, row_id, retry_at in errors
        ]
        cursor = conn.cursor()
        try:
            cursor.executemany(statement.sql, rows)
        finally:
            cursor.close()

    # accounts

    def assign_account(self, conn: Any, provider: str, account_id: str, upstream_user_id: str) -> bool:
        """Make ``upstream_user_id`` the account's owner; True when it moved."""
        cursor = conn.cursor()
        try:
            cursor.execute(
                self._assign_owner.sql,
                self._assign_owner.params(
                    provider=provider,
                    account_id=account_id,
                    owner=upstream_user_id,
                    new_owner=upstream_user_id,
                    now=self._account_moment(utcnow()),
                ),
            )
            return cursor.rowcount > 0
        finally:
            cursor.close()

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
        # an owner, only for an account of that upstream user or of no known user). Returns its
        # cursor, for _upserted. Hand-written: its ON CONFLICT clause is the one PostgreSQL's
        # group insert embeds in text (see _account_conflict), so both keep one rule.
        shape = (len(change.replaceable), change.owner is not None)
        sql = self._upserts.get(shape)
        if sql is None:
            table, mark = self.accounts, self.mark
            guard = f"{table}.status IN ({', '.join([mark] * shape[0])})" if shape[0] else "1 = 0"
            if shape[1]:
                guard += f" AND ({table}.upstream_user_id IS NULL OR {table}.upstream_user_id = {mark})"
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


class UserLinkStatements:
    """Linking an app user to its first upstream user, on the driver's connection inside a group
    commit: an ``INSERT`` that a unique index may turn down, then the link that stands. Built
    with Core (its dialect's ``ON CONFLICT DO NOTHING``), compiled once."""

    def __init__(self, engine: Engine, users: sa.Table, statements: EventStatements) -> None:
        dialect = engine.dialect
        insert = (sqlite.insert if dialect.name == "sqlite" else postgresql.insert)(users)
        self._insert = statements.driver_statement(
            insert.values(
                provider=sa.bindparam("provider"),
                upstream_user_id=sa.bindparam("upstream_user_id"),
                app_user_id=sa.bindparam("app_user_id"),
                is_current=sa.bindparam("is_current"),
                created_at=sa.bindparam("created_at"),
            ).on_conflict_do_nothing()
        )
        self._current = statements.driver_statement(
            sa.select(users.c.upstream_user_id).where(
                users.c.provider == sa.bindparam("provider"),
                users.c.app_user_id == sa.bindparam("app_user_id"),
                IS_CURRENT,
            )
        )
        self._created_at = users.c.created_at.type.dialect_impl(dialect).bind_processor(dialect) or _same

    def link(self, conn: Any, provider: str, app_user_id: str, upstream_user_id: str) -> str | None:
        cursor = conn.cursor()
        try:
            params = self._insert.params(
                provider=provider,
                upstream_user_id=upstream_user_id,
                app_user_id=app_user_id,
                is_current=True,
                created_at=self._created_at(utcnow()),
            )
            cursor.execute(self._insert.sql, params)
            if cursor.rowcount > 0:
                return upstream_user_id
            return self._fetch_current(cursor, provider, app_user_id)
        finally:
            cursor.close()

    def current(self, conn: Any, provider: str, app_user_id: str) -> str | None:
        """The upstream user ``app_user_id`` is linked to now, read on the driver's connection
        (every token request asks this; Core's execution would cost more than the read)."""
        cursor = conn.cursor()
        try:
            return self._fetch_current(cursor, provider, app_user_id)
        finally:
            cursor.close()

    def _fetch_current(self, cursor: Any, provider: str, app_user_id: str) -> str | None:
        current = self._current
        cursor.execute(current.sql, current.params(provider=provider, app_user_id=app_user_id))
        row = cursor.fetchone()
        return row[0] if row else None


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A Core statement compiled for the driver: its text, the names of its positional parameters
    in order, and the values Core fixed (constants in ``values()``)."""

    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]

    def params(self, **given: Any) -> list[Any]:
        """The positional parameters, from ``given`` and the fixed values."""
        return [given[name] if name in given else self.fixed[name] for name in self.names]


def _same(value: Any) -> Any:
    return value


def _unnest(table: sa.Table, columns: tuple[str, ...], array: str, *, keys: int = 0) -> str:
    """PostgreSQL's ``unnest(array, ...)`` over ``columns`` of ``table``, after ``keys`` text
    columns: the rows come as one array parameter per column (``array`` is its placeholder)."""
    types = ["text"] * keys
    for name in columns:
        kind = table.c[name].type
        if isinstance(kind, sa.DateTime):
            types.append("timestamptz")
        elif isinstance(kind, sa.Integer):
            types.append("integer")
        else:
            types.append("text")
    return f"unnest({', '.join(f'{array}::{kind}[]' for kind in types)})"
