"""Erasing an app user across every provider (GDPR's right to erasure): ``flask wink users erase``.

:func:`erase_user` deletes, in one transaction, every row the kit keeps for one app user: their
events (callbacks and webhooks, payloads and all), account statuses and user mappings in the
core's tables, and the rows of each enabled provider's own tables that it declares as
:class:`~flask_wink.provider.PersonalData`. It leaves an audit line (``wink_erasures``: when, the
app's id of the user, who ran it, counts per table, what the upstreams answered; no personal
data) and a tombstone per upstream user (``wink_erased_users``), so that a later webhook or a
redelivery naming one is acknowledged and dropped, never stored again, and counted
(:func:`dropped_webhooks`). The drop happens in the insert statement itself (a trigger made by
the migration ``0006_erasure``): ingest sends no query of its own for it.

With ``upstream=True`` each enabled provider is first asked to delete what its upstream holds
(:meth:`~flask_wink.provider.BaseProvider.erase_upstream`), and its answer is recorded.

On SQLite the transaction runs with ``PRAGMA secure_delete=ON`` (deleted content is overwritten
with zeros, not left in free pages) and a WAL checkpoint follows, so the database file itself no
longer holds the erased values.
"""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .provider import PersonalData, UpstreamErasure, member
from .state import WinkState, get_state
from .store.schema import accounts, erased_users, erasures, events, users
from .store.values import iso, utcnow

log = logging.getLogger("flask_wink")

#: How long an erasure waits for this process's handlers of events already stored.
HANDLERS_WAIT = 10.0


@dataclass(frozen=True)
class Erasure:
    """What one erasure did: rows deleted per table, the tombstones it left, and (when asked)
    what each upstream answered, by provider name."""

    app_user_id: str
    erased_at: datetime
    erased_by: str
    counts: Mapping[str, int]
    tombstones: int
    upstream: Mapping[str, UpstreamErasure] | None = None
    audit_id: int | None = field(default=None, compare=False)

    @property
    def total(self) -> int:
        """Rows deleted, in every table."""
        return sum(self.counts.values())

    def as_json(self) -> dict[str, Any]:
        """The erasure as ``flask wink users erase`` prints it (and the audit keeps it)."""
        found: dict[str, Any] = {
            "appUserId": self.app_user_id,
            "erasedAt": iso(self.erased_at),
            "erasedBy": self.erased_by,
            "counts": dict(self.counts),
            "tombstones": self.tombstones,
        }
        if self.upstream is not None:
            found["upstream"] = {name: _answer_json(answer) for name, answer in self.upstream.items()}
        return found


def _answer_json(answer: UpstreamErasure) -> dict[str, Any]:
    return {"asked": answer.asked, "ok": answer.ok, "answer": answer.answer}


def erase_user(app: Any, app_user_id: str, upstream: bool = False, *, by: str | None = None) -> Erasure:
    """Delete every row the kit keeps for ``app_user_id`` in every enabled provider, in one
    transaction, and return the counts per table (see the module's docstring).

    ``upstream``: first ask each upstream to delete what it holds, and record its answer.
    ``by``: who asks for it, for the audit line (default: the operating system's user).
    """
    state = get_state(app)
    if not isinstance(app_user_id, str) or not app_user_id or len(app_user_id) > 200:
        raise ValueError("The app user id must be a non-empty string of at most 200 characters.")
    erased_by = (by or _os_user())[:200]
    store = state.store
    store.init()
    upstream_ids = _upstream_ids(store.engine, app_user_id)
    answers: dict[str, UpstreamErasure] | None = None
    if upstream:
        answers = {name: _ask_upstream(state, provider, upstream_ids.get(name, []))
                   for name, provider in state.providers.items()}
    # Handlers of this process that are still running for the user's events would write after
    # the erasure (an account status, fetched data): let them finish first.
    state.wait_for_handlers(HANDLERS_WAIT)
    erased_at = utcnow()
    with _erasing(store.engine) as conn:
        # The audit line first: its write takes SQLite's write lock, so the reads below and the
        # deletes see one state of the database.
        audit_id = conn.execute(
            erasures.insert().values(erased_at=erased_at, app_user_id=app_user_id, erased_by=erased_by,
                                     counts="{}", upstream=None).returning(erasures.c.id)
        ).scalar_one()
        for provider, ids in _upstream_ids(conn, app_user_id).items():
            upstream_ids[provider] = sorted({*upstream_ids.get(provider, ()), *ids})
        counts = _delete_rows(conn, state, app_user_id, upstream_ids)
        tombstones = _bury(conn, store.dialect, app_user_id, upstream_ids, erased_at)
        conn.execute(erasures.update().where(erasures.c.id == audit_id).values(
            counts=json.dumps(counts, sort_keys=True),
            upstream=None if answers is None else json.dumps(
                {name: _answer_json(a) for name, a in answers.items()}, sort_keys=True),
        ))
    _checkpoint(store.engine)
    erasure = Erasure(app_user_id, erased_at, erased_by, counts, tombstones, answers, audit_id)
    # No personal data in the log either: the app's id, the counts, who ran it.
    log.info("erased app user %s: %d row(s) deleted, %d tombstone(s), by %s (audit %s)",
             app_user_id, erasure.total, tombstones, erased_by, audit_id)
    return erasure


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name to be had (a container without one)
        return "unknown"


def _upstream_ids(bind: Any, app_user_id: str) -> dict[str, list[str]]:
    """Every upstream user ever linked to the app user, by provider (current or not), those only
    their events name (a callback stores both ids), and those an earlier erasure of theirs left a
    tombstone for."""
    linked = sa.select(users.c.provider, users.c.upstream_user_id).where(users.c.app_user_id == app_user_id)
    named = (
        sa.select(events.c.provider, events.c.upstream_user_id)
        .where(events.c.app_user_id == app_user_id, events.c.upstream_user_id.is_not(None))
        .distinct()
    )
    # An erasure run again: the upstream users erased before, for what a late handler wrote.
    buried = sa.select(erased_users.c.provider, erased_users.c.upstream_user_id).where(
        erased_users.c.app_user_id == app_user_id)
    found: dict[str, set[str]] = {}

    def read(conn: Any) -> None:
        for query in (linked, named, buried):
            for provider, upstream_user_id in conn.execute(query):
                found.setdefault(provider, set()).add(upstream_user_id)

    if isinstance(bind, sa.Engine):
        with bind.connect() as conn:
            read(conn)
    else:
        read(bind)
    return {provider: sorted(ids) for provider, ids in found.items()}


def _ask_upstream(state: WinkState, provider: Any, ids: list[str]) -> UpstreamErasure:
    title = getattr(provider, "title", provider.name)
    if not ids:
        return UpstreamErasure(asked=False, ok=True,
                               answer=f"No user of this app user at {title}: nothing to ask.")
    try:
        return member(provider, "erase_upstream")(state, ids)
    except Exception as exc:  # the local erasure goes on; the answer says the upstream was not asked
        # The class and status only: an upstream's message may quote the user's ids.
        status = getattr(exc, "status", None)
        log.warning("asking %s to erase a user failed: %s", provider.name, type(exc).__name__)
        said = f" (HTTP {status})" if status else ""
        return UpstreamErasure(asked=True, ok=False,
                               answer=f"{title} could not be asked: {type(exc).__name__}{said}; "
                                      "erase again to retry.")


class _erasing:
    """A transaction on a connection of its own; on SQLite with ``secure_delete`` on for it.

    On PostgreSQL it first locks ``wink_events`` against writers (``SHARE ROW EXCLUSIVE``: reads
    go on): a webhook stored while the erasure runs would not see its uncommitted tombstones
    and would stay behind. Such a webhook waits the moment the erasure takes, then its insert
    sees the tombstones and is dropped. (On SQLite the erasure's first write takes the one write
    lock, which does the same.)
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def __enter__(self) -> Any:
        self.conn = self.engine.connect()
        self.secure = None
        if self.engine.dialect.name == "sqlite":
            self.secure = self.conn.exec_driver_sql("PRAGMA secure_delete").scalar()
            self.conn.exec_driver_sql("PRAGMA secure_delete=ON")
            self.conn.commit()
        self.transaction = self.conn.begin()
        if self.engine.dialect.name == "postgresql":
            self.conn.exec_driver_sql("LOCK TABLE wink_events IN SHARE ROW EXCLUSIVE MODE")
        return self.conn

    def __exit__(self, kind: Any, *_: Any) -> None:
        try:
            if kind is None:
                self.transaction.commit()
            else:
                self.transaction.rollback()
            if self.secure is not None:
                self.conn.exec_driver_sql(f"PRAGMA secure_delete={int(self.secure)}")
                self.conn.commit()
        finally:
            self.conn.close()


def _checkpoint(engine: sa.Engine) -> None:
    """SQLite in WAL mode keeps the pages written last in the ``-wal`` file, old versions of
    pages included, until a checkpoint: copy them into the database file and empty it."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
        conn.commit()
    if busy and busy[0]:
        log.warning("the erasure's WAL checkpoint waited on a reader: the -wal file keeps older pages "
                    "until the next checkpoint")


def _delete_rows(
    conn: Any, state: WinkState, app_user_id: str, upstream_ids: Mapping[str, list[str]]
) -> dict[str, int]:
    counts: dict[str, int] = {}

    def count(table: str, deleted: int) -> None:
        counts[table] = counts.get(table, 0) + max(deleted, 0)

    # The providers' own tables first: a table tied by event id reads the events before they go.
    for name, provider in state.providers.items():
        for declared in member(provider, "personal_data"):
            table = sa.table(declared.table, sa.column(declared.user_column))
            column = table.c[declared.user_column]
            condition = _tie(declared, name, column, app_user_id, upstream_ids)
            count(declared.table, conn.execute(table.delete().where(condition)).rowcount)
    user_events = sa.or_(
        events.c.app_user_id == app_user_id,
        *(sa.and_(events.c.provider == p, events.c.upstream_user_id.in_(ids))
          for p, ids in upstream_ids.items() if ids),
    )
    count(events.name, conn.execute(events.delete().where(user_events)).rowcount)
    for provider, ids in upstream_ids.items():
        if ids:
            deleted = conn.execute(accounts.delete().where(
                accounts.c.provider == provider, accounts.c.upstream_user_id.in_(ids))).rowcount
            count(accounts.name, deleted)
    count(accounts.name, 0)
    count(users.name, conn.execute(users.delete().where(users.c.app_user_id == app_user_id)).rowcount)
    return counts


def _tie(declared: PersonalData, provider: str, column: Any, app_user_id: str,
         upstream_ids: Mapping[str, list[str]]) -> Any:
    """Which rows of a declared table are the user's."""
    ids = upstream_ids.get(provider) or []
    if declared.tied_by == "app_user_id":
        return column == app_user_id
    if declared.tied_by == "upstream_user_id":
        return column.in_(ids) if ids else sa.false()
    theirs = sa.or_(events.c.app_user_id == app_user_id, events.c.upstream_user_id.in_(ids)) if ids else (
        events.c.app_user_id == app_user_id)
    event_ids = sa.select(events.c.event_id).where(
        events.c.provider == provider, events.c.event_id.is_not(None), theirs)
    return column.in_(event_ids.scalar_subquery())


def _bury(conn: Any, dialect: str, app_user_id: str, upstream_ids: Mapping[str, list[str]],
          erased_at: datetime) -> int:
    """A tombstone per erased upstream user (an erasure again keeps the first one)."""
    rows = [{"provider": p, "upstream_user_id": u, "app_user_id": app_user_id, "erased_at": erased_at,
             "dropped": 0}
            for p, ids in sorted(upstream_ids.items()) for u in ids]
    if not rows:
        return 0
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(erased_users)
    conn.execute(insert.on_conflict_do_nothing(), rows)
    return len(rows)


def is_erased(state: WinkState, provider: str, upstream_user_id: str | None) -> bool:
    """Whether ``upstream_user_id`` of ``provider`` was erased (one index probe; the receiver
    asks only for a webhook the store did not take)."""
    if upstream_user_id is None:
        return False
    query = sa.select(erased_users.c.provider).where(
        erased_users.c.provider == provider, erased_users.c.upstream_user_id == upstream_user_id)
    with state.store.begin() as conn:
        return conn.execute(query).first() is not None


def dropped_webhooks(state: WinkState) -> int:
    """How many webhooks naming an erased user were acknowledged and dropped, not stored."""
    with state.store.begin() as conn:
        return int(conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(erased_users.c.dropped), 0))) or 0)


def list_erasures(state: WinkState, limit: int = 20) -> list[dict[str, Any]]:
    """The newest audit lines, newest first, as JSON-ready dicts."""
    query = sa.select(erasures).order_by(erasures.c.id.desc()).limit(limit)
    with state.store.begin() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {
            "id": row["id"],
            "erasedAt": iso(row["erased_at"]),
            "appUserId": row["app_user_id"],
            "erasedBy": row["erased_by"],
            "counts": json.loads(row["counts"]),
            "upstream": json.loads(row["upstream"]) if row["upstream"] else None,
        }
        for row in rows
    ]
