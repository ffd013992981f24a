"""Where the kit keeps what it receives: events, the app-user -> upstream-user map, account status.

SQLAlchemy Core, so the same code runs on a SQLite file (the default) and on PostgreSQL. Writes
that a request waits for are committed in groups (:mod:`.group_commit`): many requests share one
transaction and one fsync, and none is answered before its commit. One role per module:
:mod:`.schema` the tables, :mod:`.statements` the SQL of the write path, :mod:`.operations` the
writes a group is made of, :mod:`.group_commit` the committer, :mod:`.flusher` its background
thread and fork reset, :mod:`.engine` the engine for a URL.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from .engine import create_engine
from .group_commit import GroupCommitter
from .operations import AccountUpsert, EventRow, FailedMark, HandledMark
from .schema import accounts, events, metadata, users
from .statements import EventStatements
from .values import EVENT_STATES, AccountChange, StoredEvent, iso, utcnow

__all__ = [
    "EVENT_STATES",
    "AccountChange",
    "EventRow",
    "EventStatements",
    "GroupCommitter",
    "Store",
    "StoredEvent",
    "accounts",
    "create_engine",
    "events",
    "metadata",
    "users",
    "utcnow",
]

log = logging.getLogger("flask_wink")


class Store:
    """The kit's tables on one database; tables are created on first use."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        self.engine = create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        self.dialect = self.engine.dialect.name
        # SQLite or PostgreSQL (a clear error for anything else). A unique constraint decides,
        # not a check-then-insert: concurrent redeliveries of one event id leave one row.
        self._hot = EventStatements(self.engine, events, accounts)
        self.writer = GroupCommitter(self.engine)
        self._ready = False
        self._lock = threading.Lock()

    def init(self) -> None:
        """Create the tables if they are missing (safe when several processes start at once)."""
        with self._lock:
            if self._ready:
                return
            try:
                metadata.create_all(self.engine)
            except (OperationalError, ProgrammingError, IntegrityError):
                # Another process created them between our check and our CREATE.
                metadata.create_all(self.engine)
            self._ready = True

    def _begin(self):
        if not self._ready:
            self.init()
        return self.engine.begin()

    def _write(self, op: Any, *, wait: bool = True) -> Any:
        if not self._ready:
            self.init()
        if wait:
            return self.writer.run(op)
        self.writer.note(op)
        return None

    def flush(self) -> None:
        """Wait until every write queued so far is committed."""
        if not self._ready:
            self.init()
        self.writer.flush()

    def dispose(self) -> None:
        self.writer.close()
        self.engine.dispose()

    # -- users ----------------------------------------------------------------------------

    def smile_user_id(self, app_user_id: str) -> str | None:
        """The Smile userId already made for ``app_user_id``, if any."""
        with self._begin() as conn:
            return conn.scalar(sa.select(users.c.smile_user_id).where(users.c.app_user_id == app_user_id))

    def app_user_id(self, smile_user_id: str) -> str | None:
        """The app's user id for a Smile userId, if we made that Smile user."""
        with self._begin() as conn:
            return conn.scalar(sa.select(users.c.app_user_id).where(users.c.smile_user_id == smile_user_id))

    def link_user(self, app_user_id: str, smile_user_id: str, provider: str) -> str:
        """Remember the mapping; when another request won the race, keep and return its userId."""
        try:
            with self._begin() as conn:
                conn.execute(
                    users.insert().values(
                        app_user_id=app_user_id,
                        smile_user_id=smile_user_id,
                        provider=provider,
                        created_at=utcnow(),
                    )
                )
            return smile_user_id
        except IntegrityError:
            existing = self.smile_user_id(app_user_id)
            if existing is None:
                raise
            return existing

    def relink_user(self, app_user_id: str, smile_user_id: str) -> None:
        """Point an app user at a new Smile user (the old one no longer exists at Smile)."""
        with self._begin() as conn:
            conn.execute(
                users.update().where(users.c.app_user_id == app_user_id).values(smile_user_id=smile_user_id)
            )

    # -- events ---------------------------------------------------------------------------

    def add_event(
        self,
        *,
        kind: str,
        name: str,
        payload: Any,
        provider: str,
        event_id: str | None = None,
        app_user_id: str | None = None,
        smile_user_id: str | None = None,
        claimed_by: str | None = None,
        raw: str | None = None,
        account: AccountChange | None = None,
    ) -> StoredEvent | None:
        """Commit one event; ``None`` when an event with the same ``event_id`` is already stored.

        With ``claimed_by`` the event is stored as being handled by that process (so no worker
        takes it); without, it waits for a worker as ``pending``. ``raw`` is the JSON text to keep
        for ``payload`` when the caller already has it. ``account``: a status the event reports,
        recorded in the same transaction if the event is new (see ``StoredEvent.account_changed``).
        """
        received_at = utcnow()
        values = {
            "kind": kind,
            "name": name,
            "event_id": event_id,
            "provider": provider,
            "app_user_id": app_user_id,
            "smile_user_id": smile_user_id,
            # A webhook keeps the very body Smile signed; anything else is serialised here.
            "payload": raw if raw is not None else json.dumps(payload, separators=(",", ":")),
            "received_at": received_at,
            "state": "handling" if claimed_by else "pending",
            "attempts": 1 if claimed_by else 0,
            "claimed_by": claimed_by,
            "claimed_at": received_at if claimed_by else None,
        }
        stored = self._write(self._hot.row(values, account))
        if stored is None:
            return None
        new_id, account_changed = stored
        return StoredEvent(
            id=new_id,
            kind=kind,
            name=name,
            event_id=event_id,
            app_user_id=app_user_id,
            smile_user_id=smile_user_id,
            payload=payload,
            received_at=received_at,
            state=values["state"],
            attempts=values["attempts"],
            account_changed=account_changed,
        )

    def mark_handled(self, event_id: int, *, wait: bool = False) -> None:
        """Record that an event's handlers all ran; rides with the next group commit unless ``wait``.

        Should the process die first, the event stays ``handling`` and a worker takes it over
        after its lease: handling is at least once, never lost.
        """
        self._write(HandledMark(event_id, self._hot), wait=wait)

    def mark_failed(self, event_id: int, error: str, *, wait: bool = False) -> None:
        """Record that a handler raised; ``retry_failed`` makes the event pending again."""
        self._write(FailedMark(event_id, error[:4000], self._hot), wait=wait)

    def claim_events(self, worker: str, *, limit: int = 50, lease: float = 300.0) -> list[StoredEvent]:
        """Take up to ``limit`` pending events (or ones whose handler died ``lease`` s ago) for ``worker``.

        On PostgreSQL the rows are locked with ``FOR UPDATE SKIP LOCKED``, so workers on several
        hosts never take the same event; SQLite serialises writers, which gives the same.
        """
        if not self._ready:
            self.init()
        now = utcnow()
        claimable = sa.or_(
            events.c.state == "pending",
            sa.and_(events.c.state == "handling", events.c.claimed_at < now - timedelta(seconds=lease)),
        )
        chosen = sa.select(events.c.id).where(claimable).order_by(events.c.id).limit(limit)
        if self.dialect == "postgresql":
            chosen = chosen.with_for_update(skip_locked=True)
        statement = (
            events.update()
            .where(events.c.id.in_(chosen.scalar_subquery()))
            .values(state="handling", claimed_by=worker, claimed_at=now, attempts=events.c.attempts + 1)
        )
        with self.engine.begin() as conn:
            if self.dialect in ("postgresql", "sqlite"):
                rows = conn.execute(statement.returning(*events.c)).mappings().all()
            else:
                conn.execute(statement)
                rows = (
                    conn.execute(
                        sa.select(events).where(events.c.claimed_by == worker, events.c.claimed_at == now)
                    )
                    .mappings()
                    .all()
                )
        return sorted((_event_from_row(row) for row in rows), key=lambda e: e.id)

    def retry_failed(self, ids: Iterable[int] | None = None) -> int:
        """Make failed events pending again; returns how many."""
        statement = events.update().where(events.c.state == "failed")
        if ids is not None:
            statement = statement.where(events.c.id.in_(list(ids)))
        with self._begin() as conn:
            return conn.execute(statement.values(state="pending", claimed_by=None)).rowcount

    def list_events(
        self,
        *,
        kind: str | None = None,
        app_user_id: str | None = None,
        smile_user_id: str | None = None,
        state: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[StoredEvent]:
        """Recorded events, newest first.

        With ``after_id``, the *oldest* ``limit`` events after it (still listed newest first), so a
        poller that passes the largest id it has seen never skips any.
        """
        # Webhooks are stored without looking up whose app user they name; the join says.
        owner = sa.func.coalesce(events.c.app_user_id, users.c.app_user_id).label("app_user_id")
        columns = [c for c in events.c if c.name != "app_user_id"] + [owner]
        joined = events.outerjoin(users, users.c.smile_user_id == events.c.smile_user_id)
        query = sa.select(*columns).select_from(joined).limit(limit)
        query = query.order_by(events.c.id.asc() if after_id is not None else events.c.id.desc())
        if kind:
            query = query.where(events.c.kind == kind)
        if state:
            query = query.where(events.c.state == state)
        if app_user_id and smile_user_id:
            query = query.where(
                sa.or_(events.c.app_user_id == app_user_id, events.c.smile_user_id == smile_user_id)
            )
        elif app_user_id:
            query = query.where(events.c.app_user_id == app_user_id)
        elif smile_user_id:
            query = query.where(events.c.smile_user_id == smile_user_id)
        if after_id is not None:
            query = query.where(events.c.id > after_id)
        with self._begin() as conn:
            rows = conn.execute(query).mappings().all()
        found = [_event_from_row(row) for row in rows]
        return found[::-1] if after_id is not None else found

    def get_event(self, id_: int) -> StoredEvent | None:
        """One stored event by its row id."""
        with self._begin() as conn:
            row = conn.execute(sa.select(events).where(events.c.id == id_)).mappings().first()
        return _event_from_row(row) if row else None

    def count_events(self, **filters: Any) -> int:
        """How many events are stored, with equality filters on columns (``kind``, ``state``...)."""
        query = sa.select(sa.func.count()).select_from(events)
        for column, value in filters.items():
            query = query.where(events.c[column] == value)
        with self._begin() as conn:
            return int(conn.scalar(query) or 0)

    # -- accounts -------------------------------------------------------------------------

    def account(self, account_id: str) -> dict[str, Any] | None:
        """The last known state of one account."""
        with self._begin() as conn:
            row = (
                conn.execute(sa.select(accounts).where(accounts.c.account_id == account_id))
                .mappings()
                .first()
            )
        return _account_dict(row) if row else None

    def list_accounts(self, *, smile_user_id: str | None = None) -> list[dict[str, Any]]:
        """Known accounts, most recently updated first."""
        query = sa.select(accounts).order_by(accounts.c.updated_at.desc())
        if smile_user_id:
            query = query.where(accounts.c.smile_user_id == smile_user_id)
        with self._begin() as conn:
            return [_account_dict(row) for row in conn.execute(query).mappings().all()]

    def update_account(
        self,
        account_id: str,
        status: str,
        *,
        replaces: Iterable[str],
        owner: str | None = None,
        smile_user_id: str | None = None,
        provider_id: str | None = None,
        error_code: str | None = None,
    ) -> bool:
        """Set an account's status if it is new or its current status is in ``replaces``.

        One atomic upsert, so two events racing for the same account cannot overwrite a later
        status with an earlier one. With ``owner``, only an account of that Smile user (or of no
        known user) changes. True when changed.
        """
        change = AccountChange.make(
            account_id,
            status,
            replaces=replaces,
            owner=owner,
            smile_user_id=smile_user_id,
            provider_id=provider_id,
            error_code=error_code,
        )
        return self.record_account(change)

    def record_account(self, change: AccountChange) -> bool:
        """:meth:`update_account` for a change already made (see :func:`AccountChange.make`)."""
        return self._write(AccountUpsert(change, self._hot))


def _event_from_row(row: Mapping[str, Any]) -> StoredEvent:
    return StoredEvent(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        event_id=row["event_id"],
        app_user_id=row["app_user_id"],
        smile_user_id=row["smile_user_id"],
        payload=json.loads(row["payload"]),
        received_at=row["received_at"],
        state=row["state"],
        attempts=row["attempts"],
        error=row["error"],
    )


def _account_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "accountId": row["account_id"],
        "smileUserId": row["smile_user_id"],
        "providerId": row["provider_id"],
        "status": row["status"],
        "errorCode": row["error_code"],
        "connectedAt": iso(row["connected_at"]) if row["connected_at"] else None,
        "updatedAt": iso(row["updated_at"]),
    }
