"""Where the kit keeps what it receives: events, the app-user -> Smile-user map, account status.

SQLAlchemy Core, so the same code runs on a SQLite file (the default) and on PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

metadata = sa.MetaData()

users = sa.Table(
    "wink_users",
    metadata,
    sa.Column("app_user_id", sa.String(200), primary_key=True),
    sa.Column("smile_user_id", sa.String(200), nullable=False, unique=True),
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

events = sa.Table(
    "wink_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20), nullable=False),  # "callback" or "webhook"
    sa.Column("name", sa.String(100), nullable=False),  # callback name or webhook type
    # Smile's event id for webhooks; NULL for callbacks (NULLs never collide in a unique index).
    sa.Column("event_id", sa.String(200), nullable=True),
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("app_user_id", sa.String(200), nullable=True),
    sa.Column("smile_user_id", sa.String(200), nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("provider", "kind", "event_id", name="uq_wink_events_delivery"),
    sa.Index("ix_wink_events_user", "smile_user_id"),
)

accounts = sa.Table(
    "wink_accounts",
    metadata,
    sa.Column("account_id", sa.String(200), primary_key=True),
    sa.Column("smile_user_id", sa.String(200), nullable=True),
    sa.Column("provider_id", sa.String(100), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error_code", sa.String(100), nullable=True),
    sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredEvent:
    """One recorded callback or webhook."""

    id: int
    kind: str
    name: str
    event_id: str | None
    app_user_id: str | None
    smile_user_id: str | None
    payload: Any
    received_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "eventId": self.event_id,
            "appUserId": self.app_user_id,
            "smileUserId": self.smile_user_id,
            "payload": self.payload,
            "receivedAt": _iso(self.received_at),
        }


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:  # SQLite hands back naive datetimes
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


def create_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL and a busy timeout for concurrent writers."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


class Store:
    """The kit's tables on one database; tables are created on first use."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        self.engine = (
            create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        )
        self._ready = False
        self._lock = threading.Lock()

    def init(self) -> None:
        """Create the tables if they are missing."""
        with self._lock:
            if not self._ready:
                metadata.create_all(self.engine)
                self._ready = True

    def _begin(self):
        if not self._ready:
            self.init()
        return self.engine.begin()

    def dispose(self) -> None:
        self.engine.dispose()

    # -- users ----------------------------------------------------------------------------

    def smile_user_id(self, app_user_id: str) -> str | None:
        """The Smile userId already made for ``app_user_id``, if any."""
        with self._begin() as conn:
            return conn.scalar(
                sa.select(users.c.smile_user_id).where(users.c.app_user_id == app_user_id)
            )

    def app_user_id(self, smile_user_id: str) -> str | None:
        """The app's user id for a Smile userId, if we made that Smile user."""
        with self._begin() as conn:
            return conn.scalar(
                sa.select(users.c.app_user_id).where(users.c.smile_user_id == smile_user_id)
            )

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
    ) -> StoredEvent | None:
        """Commit one event; ``None`` when an event with the same ``event_id`` is already stored."""
        received_at = utcnow()
        values = {
            "kind": kind,
            "name": name,
            "event_id": event_id,
            "provider": provider,
            "app_user_id": app_user_id,
            "smile_user_id": smile_user_id,
            "payload": json.dumps(payload, separators=(",", ":")),
            "received_at": received_at,
        }
        try:
            with self._begin() as conn:
                new_id = conn.execute(events.insert().values(**values)).inserted_primary_key[0]
        except IntegrityError:
            if event_id is None:
                raise
            return None
        return StoredEvent(
            id=new_id,
            kind=kind,
            name=name,
            event_id=event_id,
            app_user_id=app_user_id,
            smile_user_id=smile_user_id,
            payload=payload,
            received_at=received_at,
        )

    def list_events(
        self,
        *,
        kind: str | None = None,
        app_user_id: str | None = None,
        smile_user_id: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[StoredEvent]:
        """Recorded events, newest first."""
        query = sa.select(events).order_by(events.c.id.desc()).limit(limit)
        if kind:
            query = query.where(events.c.kind == kind)
        if app_user_id and smile_user_id:
            # A webhook can arrive before we learn whose Smile user it names: match either id.
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
        return [_event_from_row(row) for row in rows]

    def count_events(self, **filters: Any) -> int:
        """How many events are stored (``kind`` and ``event_id`` filters supported)."""
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

        One conditional UPDATE (then an INSERT for a new account), so two events racing for the
        same account cannot overwrite a later status with an earlier one. With ``owner``, only an
        account of that Smile user (or of no known user) changes. True when changed.
        """
        now = utcnow()
        replaceable = [s for s in replaces if s != status]
        changes: dict[str, Any] = {
            "status": status,
            "error_code": error_code,
            "updated_at": now,
            "smile_user_id": sa.func.coalesce(accounts.c.smile_user_id, smile_user_id),
            "provider_id": sa.func.coalesce(accounts.c.provider_id, provider_id),
        }
        if status == "CONNECTED":
            changes["connected_at"] = sa.func.coalesce(accounts.c.connected_at, now)
        update = (
            accounts.update()
            .where(accounts.c.account_id == account_id)
            .where(accounts.c.status.in_(replaceable))
            .values(**changes)
        )
        if owner is not None:
            update = update.where(
                sa.or_(accounts.c.smile_user_id.is_(None), accounts.c.smile_user_id == owner)
            )
        insert = accounts.insert().values(
            account_id=account_id,
            smile_user_id=smile_user_id,
            provider_id=provider_id,
            status=status,
            error_code=error_code,
            connected_at=now if status == "CONNECTED" else None,
            updated_at=now,
        )
        # Update first; for an unknown account insert; if another event inserted it meanwhile,
        # the conditional update gets one more chance (the primary key refuses a second row).
        for _ in range(2):
            if replaceable:
                with self._begin() as conn:
                    if conn.execute(update).rowcount:
                        return True
            try:
                with self._begin() as conn:
                    conn.execute(insert)
                return True
            except IntegrityError:
                continue
        return False


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
    )


def _account_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "accountId": row["account_id"],
        "smileUserId": row["smile_user_id"],
        "providerId": row["provider_id"],
        "status": row["status"],
        "errorCode": row["error_code"],
        "connectedAt": _iso(row["connected_at"]) if row["connected_at"] else None,
        "updatedAt": _iso(row["updated_at"]),
    }
