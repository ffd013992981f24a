"""A user's UCW connections: confirmed server-side, their data fetched and kept, refreshed, deleted.

A connection is stored here (``wink_ucw_connections``) only after UCW has answered for it; its
status is recorded in the core's accounts under :func:`~.events.connection_key`, so the
connection id itself is never listed. The data (accounts, owners, transactions) is one JSON
document per connection, replaced at each fetch.

This table is the only place a connection id is kept: a relayed ``memberConnected`` is stored
with the connection's key instead (:func:`~.events.kept_metadata`), and its ids wait here as a
claim of that user (``claim-<digest>``, ``confirmed_at`` being when it was claimed) until UCW has
answered for it; a confirmation that failed (UCW down) finds them here when it is retried.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from ... import signals as core_signals
from ...provider import CALLBACK, UpstreamErasure
from ...state import WinkState, get_state
from ...store import StoredEvent, provider_metadata
from ...timeutil import iso, utcnow
from . import signals
from .errors import UcwError, UcwNotFound, UcwRefused, UcwServerError
from .events import (
    CONNECTED,
    DELETED,
    MEMBER_CONNECTED,
    NAME,
    NOT_CONFIRMED,
    REPLACES,
    SELECTED_INSTITUTION,
    connected_ids,
    connection_key,
    reported_connection,
)

log = logging.getLogger("flask_wink")

#: Created by UCW's own migrations (ucw/migrations/, from 0003_ucw on), when UCW is enabled.
connections = sa.Table(
    "wink_ucw_connections",
    provider_metadata(NAME),
    sa.Column("account_id", sa.String(200), primary_key=True),
    sa.Column("upstream_user_id", sa.String(200), nullable=False, index=True),
    sa.Column("app_user_id", sa.String(200), nullable=True),
    sa.Column("aggregator", sa.String(100), nullable=False),
    sa.Column("connection_id", sa.Text, nullable=False),
    sa.Column("institution_id", sa.String(100), nullable=True),
    sa.Column("institution_name", sa.Text, nullable=True),
    sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("document", sa.Text, nullable=True),
)


def _state(app_or_state: Flask | WinkState | None) -> WinkState:
    return app_or_state if isinstance(app_or_state, WinkState) else get_state(app_or_state)


CLAIM_PREFIX = "claim-"
#: Rows of connections UCW confirmed (claims waiting for UCW are keyed ``claim-...``).
CONFIRMED = connections.c.account_id.startswith("ucw-")


def _claim_id(key: str, upstream_user_id: str) -> str:
    digest = hashlib.sha256(f"{key}\x00{upstream_user_id}".encode()).hexdigest()
    return f"{CLAIM_PREFIX}{digest[:32]}"


def keep_claim(ids: tuple[str, str, str | None], upstream_user_id: str) -> None:
    """Keep a relayed ``memberConnected``'s ids as the user's claim until UCW answers for it
    (needs an app context)."""
    aggregator, connection_id, institution_id = ids
    claim = _claim_id(connection_key(aggregator, connection_id), upstream_user_id)
    values = {"upstream_user_id": upstream_user_id, "aggregator": aggregator, "connection_id": connection_id,
              "institution_id": institution_id, "confirmed_at": utcnow()}
    store = get_state().store
    with store.begin() as conn:
        update = connections.update().where(connections.c.account_id == claim).values(**values)
        if conn.execute(update).rowcount:
            return
    try:
        with store.begin() as conn:
            conn.execute(connections.insert().values(account_id=claim, **values))
    except sa.exc.IntegrityError:
        pass  # the same claim, relayed twice at once: the other request keeps it


def _claimed_ids(state: WinkState, event: StoredEvent) -> tuple[str, str, str | None] | None:
    """``(aggregator, connection id, UCP institution id)`` a stored ``memberConnected`` names: from
    the user's claim (or the confirmed connection) of the key it carries; from the event itself
    when it was stored with its ids. None when nothing is left to confirm."""
    reported = reported_connection(event.payload)
    if reported is None:
        return None
    key, institution_id = reported
    if isinstance(event.payload, dict) and "connection" not in event.payload:
        return connected_ids(event.payload)
    with state.store.begin() as conn:
        row = conn.execute(sa.select(connections.c.aggregator, connections.c.connection_id).where(
            connections.c.account_id.in_([_claim_id(key, event.upstream_user_id or ""), key]))
            .order_by(connections.c.account_id)).first()
    if row is None or connection_key(row.aggregator, row.connection_id) != key:
        return None
    return row.aggregator, row.connection_id, institution_id


def _settle_claim(state: WinkState, key: str, upstream_user_id: str,
                  conn: sa.Connection | None = None) -> None:
    """UCW has answered for the user's claim: its ids are no longer kept for it."""
    delete = connections.delete().where(connections.c.account_id == _claim_id(key, upstream_user_id))
    if conn is not None:
        conn.execute(delete)
        return
    with state.store.begin() as own:
        own.execute(delete)


def _row(key: str, upstream_user_id: str | None = None) -> dict[str, Any] | None:
    query = sa.select(connections).where(connections.c.account_id == key)
    if upstream_user_id is not None:
        query = query.where(connections.c.upstream_user_id == upstream_user_id)
    with get_state().store.begin() as conn:
        row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def connection_of(key: str, upstream_user_id: str) -> dict[str, Any] | None:
    """What a refresh of one of the user's confirmed connections needs, or None (needs an app context)."""
    row = _row(key, upstream_user_id)
    if row is None:
        return None
    return {"connectionId": row["connection_id"], "aggregator": row["aggregator"],
            "institutionId": row["institution_id"]}


def user_connections(app_or_state: Flask | WinkState | None, upstream_user_id: str) -> list[dict[str, Any]]:
    """The user's connections as a page may show them: key, institution, status, dates (never the
    connection id). Claims UCW has not confirmed are listed with their status."""
    state = _state(app_or_state)
    with state.store.begin() as conn:
        rows = {r["account_id"]: r for r in conn.execute(
            sa.select(connections).where(connections.c.upstream_user_id == upstream_user_id)
        ).mappings()}
    found = []
    for account in state.store.list_accounts(provider=NAME, upstream_user_id=upstream_user_id):
        row = rows.get(account.account_id)
        found.append({
            "key": account.account_id,
            "status": account.status,
            "institutionId": account.institution_id or (row and row["institution_id"]),
            "institutionName": row["institution_name"] if row else None,
            "aggregator": row["aggregator"] if row else None,
            "connectedAt": iso(account.connected_at) if account.connected_at else None,
            "updatedAt": iso(account.updated_at),
            "fetchedAt": iso(row["fetched_at"], "seconds") if row and row["fetched_at"] else None,
        })
    return found


def institution_names(
    app_or_state: Flask | WinkState | None, upstream_user_ids: Iterable[str]
) -> dict[str, str]:
    """The institution name UCW gave for each connection of these users, by key: one query for
    them all (a page listing many users' banks)."""
    wanted = sorted(set(upstream_user_ids))
    if not wanted:
        return {}
    state = _state(app_or_state)
    with state.store.begin() as conn:
        rows = conn.execute(
            sa.select(connections.c.account_id, connections.c.institution_name)
            .where(connections.c.upstream_user_id.in_(wanted))
        ).all()
    return {key: name for key, name in rows if name}


def stored_data(app_or_state: Flask | WinkState | None, key: str, upstream_user_id: str | None = None
                ) -> dict[str, Any] | None:
    """The last document fetched for a connection (of ``upstream_user_id``, when given)."""
    state = _state(app_or_state)
    query = sa.select(connections.c.document).where(connections.c.account_id == key)
    if upstream_user_id is not None:
        query = query.where(connections.c.upstream_user_id == upstream_user_id)
    with state.store.begin() as conn:
        raw = conn.scalar(query)
    return json.loads(raw) if raw else None


# -- confirming what the browser reported -----------------------------------------------------


def confirm_connection(app: Flask, state: WinkState, event: StoredEvent, errors: list[str]) -> None:
    """Handler: a relayed ``memberConnected`` is trusted only once UCW answers for that connection
    and the event's own user; then the connection is stored CONNECTED and its data fetched."""
    if event.kind != CALLBACK or event.name != MEMBER_CONNECTED or not event.upstream_user_id:
        return
    ids = _claimed_ids(state, event)
    if ids is None:
        return
    aggregator, connection_id, institution_id = ids
    user = event.upstream_user_id
    key = connection_key(aggregator, connection_id)
    provider = state.provider_of(NAME)
    try:
        accounts = provider.client.accounts(aggregator, user, connection_id)
    except UcwServerError as exc:
        errors.append(f"UCW could not confirm the connection: {exc}")  # retried later
        return
    except UcwRefused as exc:
        log.warning("UCW did not confirm a connection reported by the browser of %s: %s",
                    event.app_user_id, exc)
        _settle_claim(state, key, user)
        changed = state.store.update_account(
            NAME, key, NOT_CONFIRMED, replaces=REPLACES[NOT_CONFIRMED], connected=False, owner=user,
            upstream_user_id=user, institution_id=institution_id, error_code=str(exc.status or "refused"),
        )
        if changed:
            core_signals.send(app, core_signals.account_status_changed, errors, event=event, provider=NAME,
                              account_id=key, status=NOT_CONFIRMED, upstream_user_id=user)
        core_signals.send(app, signals.connection_not_confirmed, errors, event=event, account_id=key,
                          upstream_user_id=user)
        return
    except UcwError as exc:
        errors.append(f"UCW could not be reached to confirm the connection: {exc}")
        return
    institution_id, institution_name = _institution(state, event, institution_id, key)
    now = utcnow()
    values = {"upstream_user_id": user, "app_user_id": event.app_user_id, "aggregator": aggregator,
              "connection_id": connection_id, "institution_id": institution_id,
              "institution_name": institution_name, "confirmed_at": now}
    with state.store.begin() as conn:
        updated = conn.execute(
            connections.update().where(connections.c.account_id == key,
                                       connections.c.upstream_user_id == user).values(**values)
        ).rowcount
        if not updated:
            conn.execute(connections.insert().values(account_id=key, **values))
        _settle_claim(state, key, user, conn)
    changed = state.store.update_account(
        NAME, key, CONNECTED, replaces=REPLACES[CONNECTED], connected=True,
        upstream_user_id=user, institution_id=institution_id,
    )
    # UCW answered for this user: the connection is theirs, whoever's browser named it first.
    state.store.assign_account(NAME, key, user)
    if changed:
        core_signals.send(app, core_signals.account_status_changed, errors, event=event, provider=NAME,
                          account_id=key, status=CONNECTED, upstream_user_id=user)
    core_signals.send(app, core_signals.account_connected, errors, event=event, provider=NAME,
                      account_id=key, source="upstream")
    core_signals.send(app, signals.connection_confirmed, errors, event=event, account_id=key,
                      upstream_user_id=user, institution_id=institution_id)
    try:
        fetch_and_store(state, key, accounts=accounts, app=app)
    except UcwError as exc:
        errors.append(f"fetching the connection's data failed: {exc}")


def _institution(state: WinkState, event: StoredEvent, institution_id: str | None, key: str
                 ) -> tuple[str | None, str | None]:
    """The institution of a new connection: v2 names its id; v1 does not, so the institution the
    user picked before is used; a refresh keeps what was stored."""
    stored = _row_for(state, key)
    name = stored["institution_name"] if stored else None
    institution_id = institution_id or (stored["institution_id"] if stored else None)
    picks = state.store.list_events(provider=NAME, kind=CALLBACK, upstream_user_id=event.upstream_user_id,
                                    after_id=max(0, event.id - 200), limit=200)
    for earlier in picks:  # newest first
        if earlier.id >= event.id or earlier.name != SELECTED_INSTITUTION:
            continue
        payload = earlier.payload if isinstance(earlier.payload, dict) else {}
        guid = payload.get("guid")
        if isinstance(guid, str) and (institution_id is None or guid == institution_id):
            institution_id = institution_id or guid
            label = payload.get("name")
            name = label[:200] if isinstance(label, str) else name
            break
    return (institution_id[:100] if institution_id else None), name


def _row_for(state: WinkState, key: str) -> dict[str, Any] | None:
    with state.store.begin() as conn:
        row = conn.execute(sa.select(connections).where(connections.c.account_id == key)).mappings().first()
    return dict(row) if row else None


# -- data --------------------------------------------------------------------------------------


def fetch_and_store(
    app_or_state: Flask | WinkState | None,
    key: str,
    *,
    accounts: list[dict[str, Any]] | None = None,
    app: Flask | None = None,
) -> dict[str, Any]:
    """Fetch a confirmed connection's accounts, owners and transactions (the last
    ``WINK_UCW_TRANSACTIONS_DAYS`` days) from UCW and keep them as its document."""
    state = _state(app_or_state)
    row = _row_for(state, key)
    if row is None:
        raise LookupError(f"No confirmed connection {key!r}.")
    provider = state.provider_of(NAME)
    client, user = provider.client, row["upstream_user_id"]
    aggregator, connection_id = row["aggregator"], row["connection_id"]
    if accounts is None:
        accounts = client.accounts(aggregator, user, connection_id)
    try:
        customers = client.identity(aggregator, user, connection_id)
    except UcwNotFound:
        customers = []  # the job types asked for no owner data
    end = date.today()
    start = end - timedelta(days=provider.transactions_days)
    transactions: list[dict[str, Any]] = []
    for account in accounts:
        account_id = _account_id(account)
        if account_id:
            transactions.extend(client.transactions(aggregator, user, connection_id, account_id, start, end))
    fetched = utcnow()
    document = {
        "connection": key,
        "institutionId": row["institution_id"],
        "institutionName": row["institution_name"],
        "fetchedAt": iso(fetched, "seconds"),
        "window": {"startDate": start.isoformat(), "endDate": end.isoformat()},
        "accounts": accounts,
        "customers": customers,
        "transactions": transactions,
    }
    with state.store.begin() as conn:
        conn.execute(connections.update().where(connections.c.account_id == key).values(
            fetched_at=fetched, document=json.dumps(document, separators=(",", ":"))))
    core_signals.send(app or _app(), signals.data_fetched, account_id=key, upstream_user_id=user,
                          document=document)
    return document


def _app() -> Flask:
    from flask import current_app

    return current_app._get_current_object()


def _account_id(account: dict[str, Any]) -> str | None:
    """The ``accountId`` of an FDX account entry (``{"depositAccount": {...}}`` or flat)."""
    for value in account.values():
        if isinstance(value, dict) and isinstance(value.get("accountId"), str):
            return value["accountId"]
    found = account.get("accountId")
    return found if isinstance(found, str) else None


def account_summaries(document: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each account of a document with its type, number and balances, for a page."""
    found = []
    for account in (document or {}).get("accounts") or []:
        for category, value in account.items():
            if isinstance(value, dict):
                found.append({"category": category, **value})
    return found


def transaction_rows(document: dict[str, Any] | None, limit: int = 20) -> list[dict[str, Any]]:
    """The document's latest transactions, newest first."""
    rows = []
    for item in (document or {}).get("transactions") or []:
        for value in item.values():
            if isinstance(value, dict):
                rows.append(value)
    rows.sort(key=lambda t: str(t.get("postedTimestamp") or ""), reverse=True)
    return rows[:limit]


# -- deletes -----------------------------------------------------------------------------------


def delete_connection(app_or_state: Flask | WinkState | None, key: str, *, app: Flask | None = None) -> bool:
    """Delete a connection at UCW and here (its data too); the account is marked DELETED.
    False when no confirmed connection has that key."""
    state = _state(app_or_state)
    row = _row_for(state, key)
    if row is None:
        return False
    try:
        client = state.provider_of(NAME).client
        client.delete_connection(row["aggregator"], row["connection_id"], row["upstream_user_id"])
    except UcwNotFound:
        pass  # UCW has forgotten it already: forget it here too
    _forget(state, [row], app)
    return True


def delete_user(app_or_state: Flask | WinkState | None, upstream_user_id: str, *, app: Flask | None = None
                ) -> int:
    """Delete a user at UCW (at each aggregator it has connections with) and their connections
    here; how many connections were deleted."""
    state = _state(app_or_state)
    with state.store.begin() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(connections).where(
            connections.c.upstream_user_id == upstream_user_id, CONFIRMED)).mappings()]
        # Claims UCW never answered for: their ids go with the user.
        conn.execute(connections.delete().where(connections.c.upstream_user_id == upstream_user_id,
                                                connections.c.account_id.startswith(CLAIM_PREFIX)))
    for aggregator in sorted({r["aggregator"] for r in rows}):
        try:
            state.provider_of(NAME).client.delete_user(aggregator, upstream_user_id)
        except UcwNotFound:
            pass
    _forget(state, rows, app)
    return len(rows)


def _forget(state: WinkState, rows: list[dict[str, Any]], app: Flask | None) -> None:
    for row in rows:
        key = row["account_id"]
        with state.store.begin() as conn:
            conn.execute(connections.delete().where(connections.c.account_id == key))
        changed = state.store.update_account(NAME, key, DELETED, replaces=REPLACES[DELETED], connected=False,
                                             upstream_user_id=row["upstream_user_id"])
        target = app or _app()
        if changed:
            core_signals.send(target, core_signals.account_status_changed, event=None, provider=NAME,
                              account_id=key, status=DELETED, upstream_user_id=row["upstream_user_id"])
        core_signals.send(target, signals.connection_deleted, account_id=key,
                          upstream_user_id=row["upstream_user_id"])


def erase_upstream(state: WinkState, upstream_user_ids: Sequence[str]) -> UpstreamErasure:
    """``DELETE /api/user?aggregator=&userId=`` for each aggregator each user has connections (or
    claims) with: UCW deletes the user there with their connections. The rows here are left to
    the erasure's own transaction; the answer in counts only."""
    with state.store.begin() as conn:
        pairs = sorted({(row.upstream_user_id, row.aggregator) for row in conn.execute(
            sa.select(connections.c.upstream_user_id, connections.c.aggregator).where(
                connections.c.upstream_user_id.in_(list(upstream_user_ids))))})
    if not pairs:
        return UpstreamErasure(asked=False, ok=True,
                               answer="UCW: no connection of the user is known here, so no "
                                      "aggregator to ask.")
    client = state.provider_of(NAME).client
    deleted = gone = failed = 0
    for upstream_user_id, aggregator in pairs:
        try:
            client.delete_user(aggregator, upstream_user_id)
            deleted += 1
        except UcwNotFound:
            gone += 1
        except UcwError:
            failed += 1
    answer = (f"UCW deleted the user at {deleted} aggregator(s) (DELETE /api/user), with their connections"
              + (f"; {gone} had forgotten them already" if gone else "")
              + (f"; {failed} refused" if failed else "") + ".")
    return UpstreamErasure(asked=True, ok=not failed, answer=answer)
