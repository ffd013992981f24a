"""Where the kit keeps what it receives: events, the app-user -> upstream-user map, account status.

SQLAlchemy Core, so the same code runs on a SQLite file (the default) and on PostgreSQL. Writes
that a request waits for are committed in groups (:mod:`.group_commit`): many requests share one
transaction and one fsync, and none is answered before its commit. One role per module:
:mod:`.schema` the tables, :mod:`.statements` the SQL of the write path, :mod:`.operations` the
writes a group is made of, :mod:`.group_commit` the committer (with its background thread and
fork reset), :mod:`.values` the plain values handed back, :mod:`.engine` the engine for a URL.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .. import jsonbody
from ..timeutil import aware
from . import migrations
from .encryption import (
    DIALECT_ATTRIBUTE,
    Keyring,
    WrongEncryptionKey,
    reclaim,
    reseal_table,
    reveal,
    seal_columns,
    sealed_columns,
)
from .engine import DEFAULT_LOCK_TIMEOUT, create_engine
from .group_commit import GroupCommitter
from .operations import AccountOwner, AccountUpsert, EventRow, EventValues, FailedMark, HandledMark, UserLink
from .schema import IS_CURRENT, LISTED, accounts, events, metadata, provider_metadata, provider_tables, users
from .statements import EventStatements, UserLinkStatements
from .values import EVENT_STATES, AccountChange, StoredAccount, StoredEvent, utcnow

if TYPE_CHECKING:
    from ..provider import StatusUpdate

__all__ = [
    "EVENT_STATES",
    "AccountChange",
    "EventRow",
    "EventStatements",
    "EventValues",
    "GroupCommitter",
    "Keyring",
    "Store",
    "StoredAccount",
    "StoredEvent",
    "WrongEncryptionKey",
    "accounts",
    "create_engine",
    "events",
    "metadata",
    "provider_metadata",
    "users",
    "utcnow",
]

log = logging.getLogger("flask_wink")

Method = TypeVar("Method", bound=Callable[..., Any])


def _migrated(method: Method) -> Method:
    """The store's ``method``, run once the tables are brought up to date (:meth:`Store.init`,
    once per store: it takes a lock only until then)."""

    @functools.wraps(method)
    def run(self: Store, *args: Any, **kwargs: Any) -> Any:
        if not self._ready:
            self.init()
        return method(self, *args, **kwargs)

    return run  # type: ignore[return-value]


class Store:
    """The kit's tables on one database, brought up to date by its migrations on first use.

    Every method names the provider (the upstream) it is about first; nothing here knows any
    upstream's names or statuses.
    """

    def __init__(
        self,
        url_or_engine: str | Engine,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        providers: Iterable[Any] = (),
        keyring: Keyring | None = None,
    ) -> None:
        #: The SQLAlchemy engine (its pool serves reads; group commits use a connection of their own).
        self.engine: Engine = (
            create_engine(url_or_engine, lock_timeout=lock_timeout)
            if isinstance(url_or_engine, str)
            else url_or_engine
        )
        #: Seconds a write waits for another process's lock before it fails.
        self.lock_timeout = lock_timeout
        #: ``"sqlite"`` or ``"postgresql"``.
        self.dialect: str = self.engine.dialect.name
        # SQLite or PostgreSQL through a driver it speaks (a clear error for anything else). A
        # unique constraint decides, not a check-then-insert: concurrent redeliveries of one
        # event id leave one row.
        self.statements = EventStatements(self.engine, events, accounts)
        self.writer = GroupCommitter(self.engine, wait=lock_timeout)
        self._user_links = UserLinkStatements(self.engine, users, self.statements)
        #: The enabled providers: their migrations run with the core's, and their tables are checked.
        self.providers: tuple[Any, ...] = tuple(providers)
        #: The keys personal data is sealed under (``WINK_ENCRYPTION_KEYS``); None: stored clear.
        self.keyring = keyring
        # The providers' declared columns are sealed by their column type, which finds the
        # keyring on the dialect of the engine that runs the statement.
        setattr(self.engine.dialect, DIALECT_ATTRIBUTE, keyring)
        for provider in self.providers:
            declared = {d.table: d.encrypted_columns for d in getattr(provider, "personal_data", ())
                        if d.encrypted_columns}
            if declared:
                seal_columns(provider_tables(provider.name), declared, provider.name)
        self._ready = False
        self._lock = threading.Lock()

    def init(self) -> None:
        """Create or upgrade the tables by the kit's migrations and the enabled providers' (safe
        when several processes start at once: they take turns under a database lock), then check
        every table an enabled provider declares exists."""
        with self._lock:
            if self._ready:
                return
            migrations.upgrade(self.engine, providers=self.providers)
            inspector = sa.inspect(self.engine)
            missing = [
                (provider.name, table.name)
                for provider in self.providers
                for table in provider_tables(provider.name)
                if not inspector.has_table(table.name)
            ]
            if missing:
                name, table = missing[0]
                raise RuntimeError(
                    f"The table {table} of the provider {name} is not created by any migration: add "
                    "one that creates it to the provider's migrations (see docs/providers.md)."
                )
            self._ready = True

    @contextlib.contextmanager
    @_migrated
    def begin(self) -> Iterator[Connection]:
        """A transaction on a pooled connection, committed when the block ends (for provider tables)."""
        with self.engine.begin() as conn:
            yield conn

    @_migrated
    def _write(self, op: Any, *, wait: bool = True) -> Any:
        if wait:
            return self.writer.run(op)
        self.writer.note(op)
        return None

    @_migrated
    def flush(self) -> None:
        """Wait until every write queued so far is committed."""
        self.writer.flush()

    def dispose(self) -> None:
        """Close the writer's connection and the pool (a later call opens new ones)."""
        self.writer.close()
        self.engine.dispose()

    # -- users ----------------------------------------------------------------------------

    @_migrated
    def upstream_user_id(self, provider: str, app_user_id: str) -> str | None:
        """The upstream user ``app_user_id`` is linked to now at ``provider``, if any."""
        # On the pool's driver connection: a new user's token asks this once, and Core's
        # execution of the query cost more than the read itself.
        conn = self.engine.raw_connection()
        try:
            return self._user_links.current(conn, provider, app_user_id)
        finally:
            conn.close()

    def app_user_id(self, provider: str, upstream_user_id: str) -> str | None:
        """The app user of an upstream user of ``provider`` (one linked before a relink too)."""
        query = sa.select(users.c.app_user_id).where(
            users.c.provider == provider, users.c.upstream_user_id == upstream_user_id
        )
        with self.begin() as conn:
            return conn.scalar(query)

    def link_user(self, provider: str, app_user_id: str, upstream_user_id: str) -> str:
        """Link an app user to its first upstream user; when another process linked it first, keep
        and return that one's id (a unique index decides, so two processes never both win).

        Committed with whatever else is waiting (a group commit): new users arriving together
        share one transaction, as webhooks do, instead of queueing for the database one by one.
        """
        kept = self._write(UserLink(self._user_links, provider, app_user_id, upstream_user_id))
        if kept is None:
            raise RuntimeError(
                f"the upstream user {upstream_user_id} of {provider} is already linked to another app user"
            )
        return kept

    def relink_user(self, provider: str, app_user_id: str, upstream_user_id: str) -> None:
        """Make ``upstream_user_id`` the app user's current upstream user (the upstream forgot the
        old one); the old one stays linked to the app user, for the events stored under it."""
        mine = sa.and_(users.c.provider == provider, users.c.app_user_id == app_user_id)
        with self.begin() as conn:
            conn.execute(users.update().where(mine, IS_CURRENT).values(is_current=False))
            moved = conn.execute(
                users.update()
                .where(users.c.provider == provider, users.c.upstream_user_id == upstream_user_id)
                .values(app_user_id=app_user_id, is_current=True)
            ).rowcount
            if not moved:
                _insert_current_user(conn, provider, app_user_id, upstream_user_id)

    # -- events ---------------------------------------------------------------------------

    def add_event(
        self,
        *,
        provider: str,
        kind: str,
        name: str,
        payload: Any,
        event_id: str | None = None,
        app_user_id: str | None = None,
        upstream_user_id: str | None = None,
        claimed_by: str | None = None,
        raw: str | None = None,
        account: AccountChange | None = None,
        status_update: StatusUpdate | None = None,
        status_read: bool = False,
    ) -> StoredEvent | None:
        """Commit one event; ``None`` when ``provider`` already sent an event with this ``event_id``.

        With ``claimed_by`` the event is stored as being handled by that process (so no worker
        takes it); without, it waits for a worker as ``pending``. ``raw`` is the JSON text to keep
        for ``payload`` when the caller already has it. ``account``: a status the event reports,
        recorded in the same transaction if the event is new (see ``StoredEvent.account_changed``).
        ``status_update`` / ``status_read``: the status the event reports, when the caller read it
        from the provider; carried on the returned event to its handlers.
        """
        received_at = utcnow()
        # A webhook keeps the very body the upstream signed; anything else is serialised here.
        text = raw if raw is not None else json.dumps(payload, separators=(",", ":"))
        keyring = self.keyring
        values = EventValues(
            kind=kind,
            name=name,
            event_id=event_id,
            provider=provider,
            app_user_id=app_user_id,
            upstream_user_id=upstream_user_id,
            payload=text if keyring is None else keyring.seal(text),
            received_at=received_at,
            state="handling" if claimed_by else "pending",
            attempts=1 if claimed_by else 0,
            claimed_by=claimed_by,
            claimed_at=received_at if claimed_by else None,
        )
        stored = self._write(EventRow(values, self.statements, account))
        if stored is None:
            return None
        new_id, account_changed = stored
        return StoredEvent(
            id=new_id,
            provider=provider,
            kind=kind,
            name=name,
            event_id=event_id,
            app_user_id=app_user_id,
            upstream_user_id=upstream_user_id,
            payload=payload,
            received_at=received_at,
            state=values.state,
            attempts=values.attempts,
            account_changed=account_changed,
            status_update=status_update,
            status_read=status_read,
        )

    def mark_handled(self, event_id: int, *, wait: bool = False) -> None:
        """Record that an event's handlers all ran; rides with the next group commit unless ``wait``.

        Should the process die first, the event stays ``handling`` and a worker takes it over
        after its lease: handling is at least once, never lost.
        """
        self._write(HandledMark(event_id, self.statements), wait=wait)

    def mark_failed(
        self, event_id: int, error: str, *, retry_at: datetime | None = None, wait: bool = False
    ) -> None:
        """Record that a handler raised: the event is ``failed`` and retried by itself once
        ``retry_at`` is due (see :meth:`claim_events`), or, without ``retry_at``, parked as
        ``dead``. Either way ``retry_failed`` makes it pending again."""
        self._write(FailedMark(event_id, self.seal(error[:4000]), self.statements, retry_at), wait=wait)

    def seal(self, text: str) -> str:
        """``text`` as it is stored: sealed when keys are set (see :mod:`.encryption`)."""
        return text if self.keyring is None else self.keyring.seal(text)

    @_migrated
    def rotate_keys(
        self, *, batch: int = 500, progress: Callable[[str, int, int], None] | None = None
    ) -> dict[str, tuple[int, int]]:
        """Seal every stored value of personal data under the first key of the keyring: event
        payloads and errors, and the columns each enabled provider's ``personal_data`` encrypts; clear values
        (stored before keys were set) too. ``(resealed, already current)`` rows by table, each
        table read ``batch`` rows at a time in short transactions while the app serves.
        ``progress(table, resealed, current)`` is told as each table is done."""
        if self.keyring is None:
            raise RuntimeError(
                "WINK_ENCRYPTION_KEYS is not set: set it (the new key first, then the old ones) to "
                "rotate, after `flask wink keys generate`."
            )
        tables = {events: [events.c.payload, events.c.error]}
        for provider in self.providers:
            tables.update(sealed_columns(provider_tables(provider.name)))
        counts: dict[str, tuple[int, int]] = {}
        for table, columns in tables.items():
            counts[table.name] = reseal_table(self.engine, self.keyring, table, columns, batch=batch)
            if progress is not None:
                progress(table.name, *counts[table.name])
        return counts

    def reclaim(self, tables: Iterable[str]) -> None:
        """Rewrite ``tables`` so no old copy of a resealed value stays on disk (see
        :func:`.encryption.reclaim`); writers wait while it runs."""
        reclaim(self.engine, tables)

    def reveal(self, stored: str | None) -> str | None:
        """The clear text of a value as stored (sealed or not); a value no key opens raises
        :class:`WrongEncryptionKey`."""
        return reveal(self.keyring, stored)

    @_migrated
    def claim_events(
        self,
        worker: str,
        *,
        limit: int = 50,
        lease: float = 300.0,
        pending: bool = True,
        retries: bool = True,
        now: datetime | None = None,
    ) -> list[StoredEvent]:
        """Take up to ``limit`` events for ``worker``: failed ones whose next attempt is due
        (``retries``), then pending ones and ones whose handler died ``lease`` s ago. With
        ``pending=False`` no pending ones. ``now``: the moment to judge by (default the clock).

        Each kind is picked and claimed by one ``UPDATE``: on PostgreSQL the rows are locked with
        ``FOR UPDATE SKIP LOCKED``, so workers on several hosts never take the same event; SQLite
        serialises writers, which gives the same. Claiming clears ``next_attempt_at``, so a due
        retry is taken once, by whoever claims it first.
        """
        now = now or utcnow()
        claim = {
            "state": "handling",
            "claimed_by": worker,
            "claimed_at": now,
            "attempts": events.c.attempts + 1,
            "next_attempt_at": None,
        }
        rows: list[Any] = []
        with self.engine.begin() as conn:
            # Two statements, not one with OR: each is read from its own index (SQLite scanned
            # the whole table for the OR of both, ordered by id).
            choices = [self._due_retries(now)] if retries else []
            choices.append(self._waiting(now, lease=lease, pending=pending))
            for chosen in choices:
                left = limit - len(rows)
                if left <= 0:
                    break
                chosen = chosen.limit(left)
                if self.dialect == "postgresql":
                    chosen = chosen.with_for_update(skip_locked=True)
                statement = events.update().where(events.c.id.in_(chosen.scalar_subquery())).values(claim)
                rows += conn.execute(statement.returning(*events.c)).mappings().all()
        return sorted((_event_from_row(row, self.keyring) for row in rows), key=lambda e: e.id)

    def claim_event(
        self,
        id_: int,
        worker: str,
        *,
        handed_prefix: str | None = None,
        failed_after: int | None = None,
        lease: float = 300.0,
        now: datetime | None = None,
    ) -> StoredEvent | None:
        """Take the one event ``id_`` for ``worker`` (a queued task's, see :mod:`flask_wink.tasks`)
        when it is the task's to take: handed over and waiting for a task (``handling`` under a
        name that starts with ``handed_prefix``: that attempt is already counted), the failed event
        whose retry the task is (``failed`` after ``failed_after`` attempts, its retry not taken by
        anyone else), or one whose claim lapsed ``lease`` s ago (its worker died). None otherwise:
        handled, dead, or in a live worker's hands. One ``UPDATE``, so of two tasks for one event
        only one takes it."""
        if not self._ready:
            self.init()
        now = now or utcnow()
        c = events.c
        handed = (
            sa.and_(c.state == "handling", c.claimed_by.startswith(handed_prefix, autoescape=True))
            if handed_prefix else sa.false()
        )
        takeable = [handed, sa.and_(c.state == "handling", c.claimed_at < now - timedelta(seconds=lease))]
        if failed_after is not None:
            takeable.append(
                sa.and_(c.state == "failed", c.attempts == failed_after, c.next_attempt_at.is_not(None))
            )
        statement = (
            events.update()
            .where(c.id == id_, sa.or_(*takeable))
            .values(
                state="handling",
                claimed_by=worker,
                claimed_at=now,
                attempts=sa.case((handed, c.attempts), else_=c.attempts + 1),
                next_attempt_at=None,
            )
            .returning(*events.c)
        )
        with self.engine.begin() as conn:
            row = conn.execute(statement).mappings().first()
        return _event_from_row(row, self.keyring) if row else None

    def renew_handed(
        self, prefix: str, name: str, *, limit: int = 50, lease: float = 300.0, now: datetime | None = None
    ) -> list[int]:
        """Events handed over more than ``lease`` s ago (``handling`` under a name that starts with
        ``prefix``) and never taken: handed over again, now, under ``name``; their ids, oldest
        first. No attempt is counted: no handler started."""
        if not self._ready:
            self.init()
        now = now or utcnow()
        c = events.c
        chosen = (
            sa.select(c.id)
            .where(c.state == "handling", c.claimed_at < now - timedelta(seconds=lease),
                   c.claimed_by.startswith(prefix, autoescape=True))
            .order_by(c.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            chosen = chosen.with_for_update(skip_locked=True)
        statement = (
            events.update()
            .where(c.id.in_(chosen.scalar_subquery()))
            .values(claimed_by=name, claimed_at=now)
            .returning(c.id)
        )
        with self.engine.begin() as conn:
            return sorted(conn.execute(statement).scalars())

    def claim_of(self, id_: int) -> tuple[str, datetime | None] | None:
        """``(state, claimed_at)`` of the event ``id_``; None when there is no such event."""
        query = sa.select(events.c.state, events.c.claimed_at).where(events.c.id == id_)
        with self.begin() as conn:
            row = conn.execute(query).first()
        return (row[0], row[1]) if row else None

    @staticmethod
    def _due_retries(now: datetime) -> sa.Select:
        """Failed events whose retry is due, the longest due first."""
        # Only a failed event waiting for its retry has a next_attempt_at (a claim, a "handled"
        # or "dead" mark and a retry by hand clear it), so this alone says "a due retry", read
        # from the partial index ix_wink_events_retry in its order. With "state = 'failed'"
        # beside it, the planners read every failed event through ix_wink_events_state instead.
        due = events.c.next_attempt_at
        return sa.select(events.c.id).where(due <= now).order_by(due)

    @staticmethod
    def _waiting(now: datetime, *, lease: float, pending: bool) -> sa.Select:
        """Pending events (unless not ``pending``) and ones whose claim lapsed, oldest first."""
        lapsed = sa.and_(
            events.c.state == "handling", events.c.claimed_at < now - timedelta(seconds=lease)
        )
        claimable = sa.or_(events.c.state == "pending", lapsed) if pending else lapsed
        return sa.select(events.c.id).where(claimable).order_by(events.c.id)

    def retry_failed(self, ids: Iterable[int] | None = None) -> int:
        """Make failed and dead events pending again, now; returns how many."""
        statement = events.update().where(events.c.state.in_(("failed", "dead")))
        if ids is not None:
            statement = statement.where(events.c.id.in_(list(ids)))
        values = {"state": "pending", "claimed_by": None, "next_attempt_at": None}
        with self.begin() as conn:
            return conn.execute(statement.values(**values)).rowcount

    def list_events(
        self,
        *,
        provider: str | None = None,
        kind: str | None = None,
        app_user_id: str | None = None,
        upstream_user_id: str | None = None,
        state: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[StoredEvent]:
        """Recorded events, newest first; each filter given narrows the list.

        ``app_user_id`` finds the app user's events, those stored under any upstream user ever
        linked to it included. Pruned events (emptied past ``WINK_EVENT_RETENTION``, only their
        dedupe key kept) are left out unless ``state="pruned"`` asks for them.

        With ``after_id``, the *oldest* ``limit`` events after it (still
        listed newest first), so a poller that passes the largest id it has seen never skips any.
        """
        # Webhooks are stored without looking up whose app user they name; the join says.
        owner = sa.func.coalesce(events.c.app_user_id, users.c.app_user_id)
        columns = [c for c in events.c if c.name != "app_user_id"] + [owner.label("app_user_id")]
        linked = sa.and_(
            users.c.provider == events.c.provider, users.c.upstream_user_id == events.c.upstream_user_id
        )
        joined = events.outerjoin(users, linked)
        query = sa.select(*columns).select_from(joined).limit(limit)
        query = query.order_by(events.c.id.asc() if after_id is not None else events.c.id.desc())
        if provider:
            query = query.where(events.c.provider == provider)
        if kind:
            query = query.where(events.c.kind == kind)
        if state:
            query = query.where(events.c.state == state)
        else:
            query = query.where(LISTED)
        if app_user_id:
            # Ids from two indexed lookups (events stored with the app user, and those of every
            # upstream user ever linked to it), not an OR across the join: that read every event.
            theirs = sa.select(users.c.provider, users.c.upstream_user_id).where(
                users.c.app_user_id == app_user_id
            )
            linked_ids = sa.select(events.c.id).where(
                sa.tuple_(events.c.provider, events.c.upstream_user_id).in_(theirs)
            )
            mine = sa.union(sa.select(events.c.id).where(events.c.app_user_id == app_user_id), linked_ids)
            query = query.where(events.c.id.in_(mine.scalar_subquery()))
        if upstream_user_id:
            query = query.where(events.c.upstream_user_id == upstream_user_id)
        if after_id is not None:
            query = query.where(events.c.id > after_id)
        with self.begin() as conn:
            rows = conn.execute(query).mappings().all()
        found = [_event_from_row(row, self.keyring) for row in rows]
        return found[::-1] if after_id is not None else found

    def get_event(self, id_: int) -> StoredEvent | None:
        """One stored event by its row id."""
        with self.begin() as conn:
            row = conn.execute(sa.select(events).where(events.c.id == id_)).mappings().first()
        return _event_from_row(row, self.keyring) if row else None

    def count_events(self, **filters: Any) -> int:
        """How many events are stored, with equality filters on columns (``kind``, ``state``...)."""
        query = sa.select(sa.func.count()).select_from(events)
        for column, value in filters.items():
            query = query.where(events.c[column] == value)
        with self.begin() as conn:
            return int(conn.scalar(query) or 0)

    # -- accounts -------------------------------------------------------------------------

    def account(self, provider: str, account_id: str) -> StoredAccount | None:
        """The last known state of one account of ``provider``."""
        query = sa.select(accounts).where(
            accounts.c.provider == provider, accounts.c.account_id == account_id
        )
        with self.begin() as conn:
            row = conn.execute(query).mappings().first()
        return _account_from_row(row) if row else None

    def list_accounts(
        self,
        *,
        provider: str | None = None,
        upstream_user_id: str | None = None,
        app_user_id: str | None = None,
    ) -> list[StoredAccount]:
        """Known accounts, most recently updated first; each filter given narrows the list.
        ``app_user_id``: accounts of any upstream user ever linked to that app user."""
        query = sa.select(accounts).order_by(accounts.c.updated_at.desc())
        if app_user_id:
            linked = sa.select(users.c.upstream_user_id).where(
                users.c.provider == accounts.c.provider, users.c.app_user_id == app_user_id
            )
            query = query.where(accounts.c.upstream_user_id.in_(linked.scalar_subquery()))
        if provider:
            query = query.where(accounts.c.provider == provider)
        if upstream_user_id:
            query = query.where(accounts.c.upstream_user_id == upstream_user_id)
        with self.begin() as conn:
            return [_account_from_row(row) for row in conn.execute(query).mappings().all()]

    def update_account(
        self,
        provider: str,
        account_id: str,
        status: str,
        *,
        replaces: Iterable[str],
        connected: bool,
        owner: str | None = None,
        upstream_user_id: str | None = None,
        institution_id: str | None = None,
        error_code: str | None = None,
    ) -> bool:
        """Set an account's status if it is new or its current status is in ``replaces``.

        One atomic upsert, so two events racing for the same account cannot overwrite a later
        status with an earlier one. ``connected``: whether ``status`` means connected (sets
        ``connectedAt`` the first time). With ``owner``, only an account of that upstream user (or
        of no known user) changes. True when changed.
        """
        change = AccountChange.make(
            provider,
            account_id,
            status,
            replaces=replaces,
            connected=connected,
            owner=owner,
            upstream_user_id=upstream_user_id,
            institution_id=institution_id,
            error_code=error_code,
        )
        return self.record_account(change)

    @_migrated
    def assign_account(
        self, provider: str, account_id: str, upstream_user_id: str, *, wait: bool = True
    ) -> bool | None:
        """Make ``upstream_user_id`` the owner of an account the upstream's signed message assigns
        to it, whoever a browser said it was before (the upstream decides). True when it moved.

        Through the group commit, on the writer's connection: without ``wait`` it rides with the
        next group (None), as the event's "handled" mark that follows it does, so a process that
        dies first leaves the event to be handled again, and this with it. A transaction of its
        own per event would take the database's write lock (and, on SQLite, an fsync) away from
        the groups that acknowledge webhooks.
        """
        op = AccountOwner(provider, account_id, upstream_user_id, self.statements)
        if self.dialect != "sqlite":
            # PostgreSQL lets writers of other rows go on at once: a transaction of its own on a
            # pooled connection, rather than a round trip inside the writer's groups.
            conn = self.engine.raw_connection()
            try:
                moved = op(conn.driver_connection)
                conn.commit()
            finally:
                conn.close()
            return moved
        return self._write(op, wait=wait)

    def record_account(self, change: AccountChange) -> bool:
        """:meth:`update_account` for a change already made (see :meth:`AccountChange.make`)."""
        return self._write(AccountUpsert(change, self.statements))


#: What an event whose stored payload cannot be read back shows instead.
UNREADABLE_PAYLOAD = {"unreadable": True}


def _payload(row: Mapping[str, Any], keyring: Keyring | None) -> tuple[Any, str | None]:
    """The stored payload decoded by the rules at the door, or a placeholder and why (logged):
    one such row never fails a listing, a worker or a command. A payload no key opens does: the
    keys are wrong for every row, which only changing them mends."""
    stored = reveal(keyring, row["payload"])
    try:
        return jsonbody.loads(stored), None
    except Exception as exc:  # noqa: BLE001 - any failure to read one row is that row's alone
        log.error("the payload of event %s could not be read: %s", row["id"], exc)
        return dict(UNREADABLE_PAYLOAD), f"The stored payload could not be read: {exc}."


def _event_from_row(row: Mapping[str, Any], keyring: Keyring | None = None) -> StoredEvent:
    payload, payload_error = _payload(row, keyring)
    return StoredEvent(
        id=row["id"],
        provider=row["provider"],
        kind=row["kind"],
        name=row["name"],
        event_id=row["event_id"],
        app_user_id=row["app_user_id"],
        upstream_user_id=row["upstream_user_id"],
        payload=payload,
        received_at=aware(row["received_at"]),
        state=row["state"],
        attempts=row["attempts"],
        error=reveal(keyring, row["error"]),
        payload_error=payload_error,
        next_attempt_at=aware(row["next_attempt_at"]) if row.get("next_attempt_at") else None,
    )


def _account_from_row(row: Mapping[str, Any]) -> StoredAccount:
    connected_at = row["connected_at"]
    return StoredAccount(
        provider=row["provider"],
        account_id=row["account_id"],
        upstream_user_id=row["upstream_user_id"],
        institution_id=row["institution_id"],
        status=row["status"],
        error_code=row["error_code"],
        connected_at=aware(connected_at) if connected_at is not None else None,
        updated_at=aware(row["updated_at"]),
    )


def _insert_current_user(conn, provider: str, app_user_id: str, upstream_user_id: str) -> None:
    conn.execute(
        users.insert().values(
            provider=provider,
            upstream_user_id=upstream_user_id,
            app_user_id=app_user_id,
            is_current=True,
            created_at=utcnow(),
        )
    )
