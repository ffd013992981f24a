"""What a group commit is made of: the writes, and how a group's writes are run in order.

Consecutive writes of one batched kind (new events, "handled" marks, "failed" marks) go to the
database as one statement; any other write is a callable given the driver's connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from .values import AccountChange

if TYPE_CHECKING:
    from .statements import EventStatements


def delivery_key(provider: str, kind: str, event_id: str | None) -> tuple | None:
    """What the unique constraint compares; rows without an event id never collide (None)."""
    return None if event_id is None else (provider, kind, event_id)


class EventValues(NamedTuple):
    """The columns an event row is inserted with, by name. Their order is the order of the
    ``INSERT``'s columns (``statements.EVENT_COLUMNS`` is read from it), so a group's rows go to the
    driver as they are, without being picked apart column by column."""

    kind: str
    name: str
    event_id: str | None
    provider: str
    app_user_id: str | None
    upstream_user_id: str | None
    payload: str
    received_at: datetime
    state: str
    attempts: int
    claimed_by: str | None
    claimed_at: datetime | None


@dataclass(frozen=True, slots=True)
class EventRow:
    """One event to insert; consecutive ones in a group go to the database as one statement."""

    values: EventValues
    sql: EventStatements
    #: Recorded in the same transaction when the event is new.
    account: AccountChange | None = None

    @property
    def key(self) -> tuple | None:
        values = self.values
        return delivery_key(values.provider, values.kind, values.event_id)

    @staticmethod
    def batch(conn: Any, ops: list[EventRow]) -> list[tuple[int, bool | None] | None]:
        return ops[0].sql.insert_events(conn, ops)


@dataclass(frozen=True, slots=True)
class HandledMark:
    """An event whose handlers all ran; consecutive ones in a group are one ``UPDATE``."""

    row_id: int
    sql: EventStatements

    @staticmethod
    def batch(conn: Any, ops: list[HandledMark]) -> list[None]:
        ops[0].sql.mark_handled(conn, [op.row_id for op in ops])
        return [None] * len(ops)


@dataclass(frozen=True, slots=True)
class FailedMark:
    """An event a handler failed on, with the error: retried by itself at ``retry_at``, or dead
    (its attempts ran out) when that is None."""

    row_id: int
    error: str
    sql: EventStatements
    retry_at: datetime | None = None

    @staticmethod
    def batch(conn: Any, ops: list[FailedMark]) -> list[None]:
        ops[0].sql.mark_failed(conn, [(op.error, op.row_id, op.retry_at) for op in ops])
        return [None] * len(ops)


@dataclass(frozen=True, slots=True)
class AccountUpsert:
    """One account status change on its own; the result says whether the status moved."""

    change: AccountChange
    sql: EventStatements

    def __call__(self, conn: Any) -> bool:
        return self.sql.upsert_account(conn, self.change)


@dataclass(frozen=True, slots=True)
class AccountOwner:
    """The owner a signed message gives an account; the result says whether it moved."""

    provider: str
    account_id: str
    upstream_user_id: str
    sql: EventStatements

    def __call__(self, conn: Any) -> bool:
        return self.sql.assign_account(conn, self.provider, self.account_id, self.upstream_user_id)


@dataclass(frozen=True, slots=True)
class UserLink:
    """An app user's first upstream user; the result is the upstream user the app user is linked
    to once committed (another one when it was linked first), or None when the upstream user
    itself is taken by another app user."""

    sql: Any  # UserLinkStatements
    provider: str
    app_user_id: str
    upstream_user_id: str

    def __call__(self, conn: Any) -> str | None:
        return self.sql.link(conn, self.provider, self.app_user_id, self.upstream_user_id)


BATCHED = (EventRow, HandledMark, FailedMark)


def gathered(noted: list[Any]) -> list[Any]:
    """Writes nobody waits for, in an order that sends each kind as one statement: the marks of
    events ("handled", "failed": rows of the events table) first, then the owners of accounts
    (rows of the accounts table), each in the order they were noted. Writes to different tables
    do not depend on one another; a handler notes an account's owner, then its event's mark, so
    taken in order they alternate, and each became a statement of its own (two per event of a
    connected account instead of two per group). Anything else noted keeps them all in order."""
    marks = [op for op in noted if type(op) in (HandledMark, FailedMark)]
    owners = [op for op in noted if type(op) is AccountOwner]
    if not marks or not owners or len(marks) + len(owners) != len(noted):
        return noted
    return marks + owners


def nothing(conn: Any) -> None:
    """A write that writes nothing: waiting for it waits for what was queued before it."""
    return None


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
