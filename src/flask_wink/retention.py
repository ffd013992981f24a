"""How long the kit keeps what it stores, and the passes that let the rest go.

- ``WINK_EVENT_RETENTION`` (off by default; e.g. ``"90 days"``): handled and dead events older
  than that are pruned. A webhook is stripped (payload emptied, user columns cleared, state
  ``pruned``) and its dedupe key ``(provider, kind, event id)`` kept until
  ``WINK_EVENT_DEDUPE_WINDOW`` (default 30 days) has passed since it arrived, so a late
  redelivery is still answered as a duplicate and not stored again; then it is deleted. A
  callback (no dedupe key) is deleted outright. Pending, handling and failed events are kept.
- ``WINK_FETCHED_DATA_RETENTION`` (off by default), or one provider's own
  ``WINK_<PROVIDER>_DATA_RETENTION``: the data each provider fetched from its upstream (its
  :attr:`~flask_wink.provider.BaseProvider.fetched_data`) is deleted or cleared once older.

Both run in bounded batches (``WINK_PRUNE_BATCH`` rows a transaction): in the serving process's
sweep (a thread of its own, every ``WINK_SWEEP_INTERVAL`` s), in ``flask wink worker``, and in
``flask wink events prune``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .provider import FetchedData, member
from .store.pruning import (
    DONE,
    PRUNED,
    Pruned,
    begin_writing,
    first_id,
    pause,
    prune_events,
    strip_named_events,
)
from .store.schema import events, provider_tables
from .timeutil import aware, iso, utcnow

if TYPE_CHECKING:
    from flask import Flask

    from .state import WinkState

log = logging.getLogger("flask_wink")

#: Why 30 days: an upstream redelivers a webhook it could not deliver for hours to a few days
#: (and Smile's signatures are believed for 3 days, WINK_SMILE_WINK_WEBHOOK_MAX_AGE); a month is a
#: wide margin, for a row that holds nothing but the key.
DEFAULT_DEDUPE_WINDOW = "30 days"
DEFAULT_BATCH = 1000
#: 2%: a pass pauses 49 times as long as each batch took, so webhooks keep (nearly) their rate
#: while a large backlog is pruned (benchmarks/README.md measures it).
DEFAULT_PACE = 0.02

_UNITS = {
    "minute": timedelta(minutes=1), "minutes": timedelta(minutes=1), "min": timedelta(minutes=1),
    "hour": timedelta(hours=1), "hours": timedelta(hours=1), "h": timedelta(hours=1),
    "day": timedelta(days=1), "days": timedelta(days=1), "d": timedelta(days=1),
    "week": timedelta(weeks=1), "weeks": timedelta(weeks=1), "w": timedelta(weeks=1),
}
_DURATION = re.compile(r"\s*(\d{1,6})\s*([a-z]+)\s*", re.IGNORECASE)
OFF = ("", "off", "none", "never")


def parse_duration(key: str, value: Any) -> timedelta | None:
    """A setting such as ``"90 days"``, ``"12 hours"`` or ``"2 weeks"`` (also ``90d``, ``12h``;
    a ``timedelta`` as it is); None for off (None, ``""``, ``"off"``). Anything else raises a
    one-line RuntimeError that says the fix."""
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in OFF):
        return None
    if isinstance(value, timedelta):
        found: timedelta | None = value
    else:
        match = _DURATION.fullmatch(value) if isinstance(value, str) else None
        unit = _UNITS.get(match.group(2).lower()) if match else None
        found = int(match.group(1)) * unit if match and unit else None
    if found is None or found <= timedelta(0):
        raise RuntimeError(
            f'{key} must be a duration like "90 days", "12 hours" or "2 weeks" (or "off"), not {value!r}.'
        )
    return found


@dataclass(frozen=True)
class RetentionPolicy:
    """The retention settings of one app, read and checked once by ``init_app``."""

    #: WINK_EVENT_RETENTION: handled and dead events older than this are pruned; None: kept.
    events: timedelta | None = None
    #: WINK_EVENT_DEDUPE_WINDOW: how long a pruned webhook's dedupe key is kept after it arrived.
    dedupe_window: timedelta = timedelta(days=30)
    #: How long each provider's fetched data is kept (None: kept), by provider name.
    fetched: Mapping[str, timedelta | None] = field(default_factory=dict)
    #: WINK_PRUNE_BATCH: the most rows one transaction prunes.
    batch: int = DEFAULT_BATCH
    #: WINK_PRUNE_PACE: the share of the time a pass in the background (the serving process's
    #: sweep, the worker) may spend pruning; it pauses between batches for the rest.
    pace: float = DEFAULT_PACE

    @property
    def enabled(self) -> bool:
        """Whether anything expires at all."""
        return self.events is not None or any(v is not None for v in self.fetched.values())

    def key_until(self, received_at: datetime) -> datetime:
        """When a pruned webhook received at ``received_at`` loses its dedupe key."""
        return aware(received_at) + max(self.events or timedelta(0), self.dedupe_window)


def data_setting(provider: Any) -> str:
    """The config key of one provider's own fetched-data retention, by its name whatever its
    settings' prefix: ``WINK_UCW_DATA_RETENTION``, ``WINK_SMILE_WINK_DATA_RETENTION``."""
    return f"WINK_{provider.name.upper()}_DATA_RETENTION"


def read_policy(config: Mapping[str, Any], providers: Mapping[str, Any]) -> RetentionPolicy:
    """The retention settings in ``config``, each checked (a one-line RuntimeError otherwise)."""
    events_keep = parse_duration("WINK_EVENT_RETENTION", config.get("WINK_EVENT_RETENTION"))
    window = parse_duration("WINK_EVENT_DEDUPE_WINDOW", config.get("WINK_EVENT_DEDUPE_WINDOW"))
    if window is None:
        raise RuntimeError(
            'WINK_EVENT_DEDUPE_WINDOW cannot be off: set a duration like "30 days" (a pruned '
            "webhook's key must outlive the upstream's redeliveries)."
        )
    fetched_keep = parse_duration("WINK_FETCHED_DATA_RETENTION", config.get("WINK_FETCHED_DATA_RETENTION"))
    fetched: dict[str, timedelta | None] = {}
    for name, provider in providers.items():
        key = data_setting(provider)
        own = config.get(key)
        fetched[name] = parse_duration(key, own) if own not in (None, "") else fetched_keep
    given = config.get("WINK_PRUNE_BATCH", DEFAULT_BATCH)
    try:
        batch = int(str(given).strip())
    except ValueError:
        batch = 0
    if batch < 1 or isinstance(given, bool):
        raise RuntimeError(f"WINK_PRUNE_BATCH must be a whole number of rows of 1 or more, not {given!r}.")
    given = config.get("WINK_PRUNE_PACE", DEFAULT_PACE)
    try:
        pace = float(given)
    except (TypeError, ValueError):
        pace = 0.0
    if not 0.0 < pace <= 1.0 or isinstance(given, bool):
        raise RuntimeError(
            f"WINK_PRUNE_PACE must be a share of the time above 0 and at most 1 (0.02: 2%), not {given!r}."
        )
    return RetentionPolicy(events=events_keep, dedupe_window=window, fetched=fetched, batch=batch, pace=pace)


# -- a pass ----------------------------------------------------------------------------------


@dataclass
class PruneReport:
    """What one pass did (or, dry, would do)."""

    events: Pruned = field(default_factory=Pruned)
    #: Rows of fetched data deleted or cleared, by ``"<provider>: <what>"``.
    fetched: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def largest_batch(self) -> int:
        return self.events.largest_batch


#: Where each app's named-event passes got to (ids below were looked at), by state.
_MARKS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
#: How often those marks are forgotten, so an old event handled late is pruned too.
MARK_LIFETIME = 24 * 3600.0


def prune(
    state: WinkState, *, now: datetime | None = None, dry_run: bool = False, paced: bool = False
) -> PruneReport:
    """One pass of every retention setting of the app of ``state``; see the module's doc.
    ``paced``: pause between batches, at ``WINK_PRUNE_PACE`` (the background passes)."""
    policy: RetentionPolicy = state.settings.retention
    pace = policy.pace if paced else 1.0
    # On SQLite each batch rides in the store's group commit (see prune_events).
    write = state.store.writer.run if state.store.dialect == "sqlite" else None
    now = now or utcnow()
    report = PruneReport(dry_run=dry_run)
    engine = state.store.engine
    state.store.init()
    if policy.events is not None:
        strip_before = now - policy.events
        delete_before = now - max(policy.events, policy.dedupe_window)
        report.events = prune_events(engine, strip_before=strip_before, delete_before=delete_before,
                                     batch=policy.batch, dry_run=dry_run, pace=pace, write=write)
    marks = _MARKS.setdefault(state, {"since": time.monotonic()})
    if time.monotonic() - marks["since"] > MARK_LIFETIME:
        marks.clear()
        marks["since"] = time.monotonic()
    for name, provider in state.providers.items():
        keep = policy.fetched.get(name)
        if keep is None:
            continue
        for data in member(provider, "fetched_data"):
            label = f"{name}: {data.what}"
            before = now - keep
            if data.events:
                done, mark = strip_named_events(
                    engine, provider=name, names=tuple(data.events), before=before, batch=policy.batch,
                    start=marks.get(label, 0), dry_run=dry_run, pace=pace, write=write,
                )
                marks[label] = mark
                count = done.stripped
                report.events.largest_batch = max(report.events.largest_batch, done.largest_batch)
            else:
                count = _expire_rows(engine, _table(name, data), data, before, policy.batch, dry_run, pace)
            report.fetched[label] = count
    return report


def _table(provider: str, data: FetchedData) -> sa.Table:
    for table in provider_tables(provider):
        if table.name == data.table:
            return table
    raise RuntimeError(f"The provider {provider} names a table {data.table} it does not declare.")


def _cleared(row: Any, clear: Mapping[str, Any]) -> bool:
    """Whether ``row`` holds the values ``clear`` sets already: compared here, on the values as
    read, never in SQL (a column encrypted at rest holds a different text at every write, so
    ``file_names != '[]'`` would hold for every row)."""
    return all(getattr(row, name) == value for name, value in clear.items())


def _expired(
    conn: sa.Connection, table: sa.Table, data: FetchedData, before: datetime, batch: int,
    after: tuple[Any, ...] | None,
) -> tuple[list[tuple[Any, ...]], tuple[Any, ...] | None]:
    """The keys of up to ``batch`` rows dated before ``before`` that are still to delete or clear,
    after the key ``after`` (in key order), and the last key read (None: the table's end)."""
    keys = list(table.primary_key.columns)
    clear = dict(data.clear or {})
    query = sa.select(*keys, *[table.c[name] for name in clear]).where(table.c[data.at] < before)
    if after is not None:
        query = query.where(sa.tuple_(*keys) > sa.tuple_(*after) if len(keys) > 1 else keys[0] > after[0])
    rows = conn.execute(query.order_by(*keys).limit(batch)).all()
    due = [tuple(row[: len(keys)]) for row in rows if not (clear and _cleared(row, clear))]
    return due, (tuple(rows[-1][: len(keys)]) if len(rows) == batch else None)


def _expire_rows(
    engine: sa.Engine, table: sa.Table, data: FetchedData, before: datetime, batch: int, dry_run: bool,
    pace: float = 1.0,
) -> int:
    """Delete (or clear) ``table``'s rows dated before ``before``, ``batch`` rows a transaction,
    walking the table by its key (each row is looked at once a pass, so a pass ends)."""
    keys = list(table.primary_key.columns)
    total = 0
    after: tuple[Any, ...] | None = None
    while True:
        began = time.monotonic()
        with engine.begin() as conn:
            if not dry_run:
                begin_writing(conn)
            due, after = _expired(conn, table, data, before, batch, after)
            if due and not dry_run:
                chosen = keys[0].in_([k[0] for k in due]) if len(keys) == 1 else sa.tuple_(*keys).in_(due)
                if data.clear:
                    conn.execute(table.update().where(chosen).values(dict(data.clear)))
                else:
                    conn.execute(table.delete().where(chosen))
        total += len(due)
        if after is None:
            return total
        if not dry_run:
            pause(began, pace)


def _first_kept(engine: sa.Engine, table: sa.Table, data: FetchedData, batch: int = 1000) -> datetime | None:
    """When the oldest row not cleared yet was dated (what expires next), None: no such row."""
    clear = dict(data.clear or {})
    at = table.c[data.at]
    if not clear:
        with engine.connect() as conn:
            return conn.scalar(sa.select(sa.func.min(at)))
    keys = list(table.primary_key.columns)
    query = sa.select(at, *[table.c[name] for name in clear]).order_by(at, *keys)
    offset = 0
    with engine.connect() as conn:
        while True:
            rows = conn.execute(query.limit(batch).offset(offset)).all()
            for row in rows:
                if not _cleared(row, clear):
                    return row[0]
            if len(rows) < batch:
                return None
            offset += batch


# -- what expires when -----------------------------------------------------------------------


def schedule(state: WinkState, *, now: datetime | None = None, counts: bool = True) -> list[dict[str, Any]]:
    """What expires when, one item per kind of data: ``{what, setting, keep, due, next}``:
    ``keep`` in words (None: kept until deleted by hand), ``due`` how many rows the next pass
    prunes (a dry pass reads them; None without ``counts``, for pages), ``next`` when the oldest
    one still kept expires (ISO 8601, or None)."""
    policy: RetentionPolicy = state.settings.retention
    now = now or utcnow()
    state.store.init()
    engine = state.store.engine
    items: list[dict[str, Any]] = []
    with engine.connect() as conn:
        oldest = _oldest(conn, DONE)
        oldest_pruned = _oldest(conn, (PRUNED,))
    dry = prune(state, now=now, dry_run=True) if policy.enabled and counts else None
    keep = policy.events
    items.append({
        "what": "handled and dead events (payloads, user ids, errors)",
        "setting": "WINK_EVENT_RETENTION",
        "keep": words(keep),
        "due": (dry.events.stripped + dry.events.deleted if keep else 0) if dry else None,
        "next": iso(aware(oldest) + keep) if keep and oldest is not None else None,
    })
    items.append({
        "what": "dedupe keys of pruned webhooks (provider, kind, event id)",
        "setting": "WINK_EVENT_DEDUPE_WINDOW",
        "keep": words(max(keep, policy.dedupe_window)) if keep else None,
        "due": None,
        "next": iso(policy.key_until(oldest_pruned)) if keep and oldest_pruned is not None else None,
    })
    for name, provider in state.providers.items():
        span = policy.fetched.get(name)
        for data in member(provider, "fetched_data"):
            label = f"{name}: {data.what}"
            item = {
                "what": f"{provider.title}: {data.what}",
                "setting": f"{data_setting(provider)} or WINK_FETCHED_DATA_RETENTION",
                "keep": words(span),
                "due": dry.fetched.get(label, 0) if dry else None,
                "next": None,
            }
            if span is not None and data.table:
                first = _first_kept(engine, _table(name, data), data)
                item["next"] = iso(aware(first) + span) if first is not None else None
            items.append(item)
    return items


def _oldest(conn: sa.Connection, states: tuple[str, ...]) -> datetime | None:
    """When the first event (by id) in one of ``states`` was received: read through the index on
    (state, id), never by scanning the table."""
    first = first_id(conn, states, 0)
    if first is None:
        return None
    return conn.scalar(sa.select(events.c.received_at).where(events.c.id == first))


def words(span: timedelta | None) -> str | None:
    """``"90 days"``, ``"12 hours"``; None for None."""
    if span is None:
        return None
    seconds = int(span.total_seconds())
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


# -- in the background ----------------------------------------------------------------------

_RUNS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_RUNS_LOCK = threading.Lock()


def prune_if_due(app: Flask, state: WinkState, *, interval: float | None = None) -> threading.Thread | None:
    """Start a pass in a thread of its own when retention is configured, none is running, and
    none started in the last ``interval`` s (default ``WINK_SWEEP_INTERVAL``): the serving
    process's sweep and ``flask wink worker`` call it. The thread, or None."""
    policy: RetentionPolicy = state.settings.retention
    interval = state.sweep_interval if interval is None else interval
    if not policy.enabled or not interval:
        return None
    with _RUNS_LOCK:
        run = _RUNS.setdefault(state, {"last": None, "thread": None})
        started = run["thread"]
        if started is not None and started.is_alive():
            return None
        now = time.monotonic()
        if run["last"] is not None and now - run["last"] < interval:
            return None
        run["last"] = now
        thread = threading.Thread(target=_prune_logged, args=(app, state), name="wink-prune", daemon=True)
        run["thread"] = thread
    thread.start()
    return thread


def _prune_logged(app: Flask, state: WinkState) -> None:
    try:
        with app.app_context():
            report = prune(state, paced=True)
    except Exception:  # the database is down: the next sweep tries again
        log.exception("pruning events and fetched data past their retention failed")
        return
    done = report.events.stripped + report.events.deleted + sum(report.fetched.values())
    if done:
        log.info("pruned %d event(s) (%d emptied, %d deleted) and %d row(s) of fetched data",
                 report.events.stripped + report.events.deleted, report.events.stripped,
                 report.events.deleted, sum(report.fetched.values()))
