"""User data (identities, employments, incomes, ...): fetch, keep, export, retention and revocation.

Smile keeps a linked account's data for 60 days from connection and uploaded files for 7 days;
this module fetches a user's data into one JSON document, keeps the latest one per Smile user in
``wink_user_data``, says what expires when, exports before it does, and revokes accounts.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from ... import signals as core_signals
from ...flow import resolve_user, start_link
from ...provider import WEBHOOK
from ...state import WinkState, get_state
from ...store import StoredEvent, provider_metadata
from ...timeutil import iso, later, parse_iso, utcnow
from . import signals
from .client import SmileClient
from .errors import SmileError
from .statuses import NAME, AccountStatus, statuses_replaced_by

#: The data types a document holds, as Smile's Open API names its collections.
DATA_KINDS: tuple[str, ...] = SmileClient.DATA_KINDS
#: How long Smile keeps a linked account's data after connection.
ACCOUNT_RETENTION = timedelta(days=60)
#: How long Smile keeps an uploaded file.
ARCHIVE_RETENTION = timedelta(days=7)
#: Page size when fetching (the Open API's largest).
FETCH_PAGE_SIZE = 150

#: Created by the store's migrations (see flask_wink.store.migrations).
user_data = sa.Table(
    "wink_user_data",
    provider_metadata(NAME),
    sa.Column("upstream_user_id", sa.String(200), primary_key=True),
    sa.Column("provider", sa.String(50), nullable=False, server_default=NAME),
    sa.Column("app_user_id", sa.String(200), nullable=True),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
)



def _state(app_or_state: Flask | WinkState | None) -> WinkState:
    if isinstance(app_or_state, WinkState):
        return app_or_state
    return get_state(app_or_state)


def _ready(state: WinkState) -> sa.Engine:
    """The store's engine, its tables (``wink_user_data`` included) made by its migrations."""
    state.store.init()
    return state.store.engine


def _now() -> datetime:
    return utcnow().replace(microsecond=0)


# -- fetching and keeping -------------------------------------------------------------------


def fetch_user_data(
    app_or_state: Flask | WinkState | None, smile_user_id: str, *, page_size: int = FETCH_PAGE_SIZE
) -> dict[str, Any]:
    """Every item of every data type of one Smile user, following each cursor, as one JSON document."""
    state = _state(app_or_state)
    document: dict[str, Any] = {
        "userId": smile_user_id,
        "appUserId": state.store.app_user_id(NAME, smile_user_id),
        "fetchedAt": iso(_now(), "seconds"),
    }
    client = state.provider_of(NAME).client
    for kind in DATA_KINDS:
        document[kind] = list(client.iterate("list_data", kind=kind, user_id=smile_user_id, size=page_size))
    return document


def store_user_data(app_or_state: Flask | WinkState | None, document: dict[str, Any]) -> None:
    """Keep ``document`` as the latest one of its Smile user (replacing the one before)."""
    state = _state(app_or_state)
    engine = _ready(state)
    smile_user_id = document["userId"]
    fetched = document.get("fetchedAt")
    row = {
        "upstream_user_id": smile_user_id,
        "app_user_id": document.get("appUserId"),
        "fetched_at": parse_iso(fetched) if fetched else _now(),
        "document": json.dumps(document, separators=(",", ":")),
    }
    with engine.begin() as conn:
        conn.execute(user_data.delete().where(user_data.c.upstream_user_id == smile_user_id))
        conn.execute(user_data.insert().values(**row))


def fetch_and_store(app_or_state: Flask | WinkState | None, smile_user_id: str) -> dict[str, Any]:
    """:func:`fetch_user_data` then :func:`store_user_data`; the document."""
    state = _state(app_or_state)
    document = fetch_user_data(state, smile_user_id)
    store_user_data(state, document)
    return document


def stored_user_data(app_or_state: Flask | WinkState | None, smile_user_id: str) -> dict[str, Any] | None:
    """The latest stored document of a Smile user, if any."""
    engine = _ready(_state(app_or_state))
    with engine.begin() as conn:
        mine = user_data.c.upstream_user_id == smile_user_id
        raw = conn.scalar(sa.select(user_data.c.document).where(mine))
    return json.loads(raw) if raw else None


def delete_source_data(app_or_state: Flask | WinkState | None, source_id: str) -> int:
    """Drop every stored item that came from one account (or archive); how many were dropped.

    One short transaction per user's document, so other users' documents are never held locked
    while every document is read.
    """
    engine = _ready(_state(app_or_state))
    with engine.begin() as conn:
        users = conn.scalars(sa.select(user_data.c.upstream_user_id)).all()
    return sum(_delete_source_items(engine, smile_user_id, source_id) for smile_user_id in users)


def _delete_source_items(engine: sa.Engine, smile_user_id: str, source_id: str) -> int:
    """Drop one user's items from ``source_id``, in one transaction; how many were dropped."""
    row = user_data.c.upstream_user_id == smile_user_id
    with engine.begin() as conn:
        # Locked (where the database can) so a document stored meanwhile is not overwritten.
        raw = conn.scalar(sa.select(user_data.c.document).where(row).with_for_update())
        if raw is None:  # its document was dropped since the users were listed
            return 0
        document = json.loads(raw)
        removed = 0
        for kind in DATA_KINDS:
            items = document.get(kind) or []
            kept = [i for i in items if (i.get("metadata") or {}).get("sourceId") != source_id]
            removed += len(items) - len(kept)
            document[kind] = kept
        if removed:
            conn.execute(
                user_data.update().where(row).values(document=json.dumps(document, separators=(",", ":")))
            )
    return removed


def fetch_on_webhook(app: Flask, state: WinkState, event: StoredEvent, errors: list[str]) -> None:
    """Handler: fetch and store a user's data when a webhook named in ``WINK_FETCH_ON`` arrives."""
    fetch_on = state.provider_of(NAME).fetch_on
    if event.kind != WEBHOOK or not event.upstream_user_id or event.name not in fetch_on:
        return
    fetch_and_store(state, event.upstream_user_id)


# -- retention --------------------------------------------------------------------------------


def retention_schedule(
    app_or_state: Flask | WinkState | None = None,
    *,
    smile_user_id: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """What will be deleted and when, soonest first: what Smile deletes (connected accounts' data
    60 days after connection, uploaded files after 7) and, when ``WINK_SMILE_WINK_DATA_RETENTION``
    or ``WINK_FETCHED_DATA_RETENTION`` is set, the user data documents this app keeps (``kind``
    ``"stored"``, deleted here that long after they were fetched)."""
    state = _state(app_or_state)
    engine = _ready(state)
    # Precise, not rounded to the second: what connected a moment ago has less than 60 days left.
    now = now or utcnow()
    found: list[dict[str, Any]] = []
    for account in state.store.list_accounts(provider=NAME, upstream_user_id=smile_user_id):
        if account.status != AccountStatus.CONNECTED or account.connected_at is None:
            continue
        found.append(
            _expiry("account", account.account_id, account.upstream_user_id, account.connected_at,
                    ACCOUNT_RETENTION)
        )
    found.extend(_archive_expiries(engine, smile_user_id))
    keep = state.settings.retention.fetched.get(NAME)
    if keep is not None:
        query = sa.select(user_data.c.upstream_user_id, user_data.c.fetched_at)
        if smile_user_id:
            query = query.where(user_data.c.upstream_user_id == smile_user_id)
        with engine.begin() as conn:
            stored = conn.execute(query).all()
        found.extend(_expiry("stored", user, user, fetched, keep) for user, fetched in stored)
    owners = {}
    for item in found:
        if item["smileUserId"] and item["smileUserId"] not in owners:
            owners[item["smileUserId"]] = state.store.app_user_id(NAME, item["smileUserId"])
        item["appUserId"] = owners.get(item["smileUserId"])
        expires = parse_iso(item["expiresAt"])
        item["secondsLeft"] = int((expires - now).total_seconds())
    return sorted(found, key=lambda i: i["expiresAt"])


def _expiry(
    kind: str, id_: str, smile_user_id: str | None, started: datetime, keep: timedelta
) -> dict[str, Any]:
    return {
        "kind": kind,
        "id": id_,
        "smileUserId": smile_user_id,
        "startedAt": iso(started, "seconds"),
        "expiresAt": iso(later(started, keep), "seconds"),
    }


def _archive_expiries(engine: sa.Engine, smile_user_id: str | None) -> list[dict[str, Any]]:
    """Uploaded files from ``wink_archives`` that are not revoked."""
    from .archives import ArchiveStatus, archives

    query = sa.select(archives).where(archives.c.status != str(ArchiveStatus.REVOKED))
    if smile_user_id:
        query = query.where(archives.c.upstream_user_id == smile_user_id)
    with engine.begin() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        _expiry("archive", row["archive_id"], row["upstream_user_id"], row["created_at"], ARCHIVE_RETENTION)
        for row in rows
    ]


def parse_window(text: str) -> timedelta:
    """``"7d"`` or ``"12h"`` as a timedelta; :class:`ValueError` for anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*([dh])\s*", text or "", re.IGNORECASE)
    if not match:
        raise ValueError(f"{text!r} is not a window like 7d or 12h.")
    number, unit = int(match.group(1)), match.group(2).lower()
    return timedelta(days=number) if unit == "d" else timedelta(hours=number)


# -- revocation -------------------------------------------------------------------------------


def revoke_account(account_id: str, *, keep_data: bool = False, app: Flask | None = None) -> dict[str, Any]:
    """Revoke an account at Smile, mark it DISCONNECTED here, drop its stored data unless ``keep_data``.

    Sends :data:`~flask_wink.signals.account_status_changed` (``event=None``) when the status moved,
    then :data:`~flask_wink.signals.account_revoked`. Needs an app context, or ``app``.
    """
    app = app or current_app._get_current_object()
    state = get_state(app)
    state.provider_of(NAME).client.revoke_account(account_id)
    known = state.store.account(NAME, account_id)
    status = AccountStatus.DISCONNECTED
    owner = known.upstream_user_id if known else None
    changed = state.store.update_account(
        NAME,
        account_id,
        str(status),
        replaces=statuses_replaced_by(status),
        connected=False,
        upstream_user_id=owner,
        institution_id=known.institution_id if known else None,
    )
    dropped = 0 if keep_data else delete_source_data(state, account_id)
    # The account is revoked either way: a receiver's bug is logged, it must not hide that.
    if changed:
        core_signals.send(app, core_signals.account_status_changed, event=None, provider=NAME,
                          account_id=account_id, status=str(status), upstream_user_id=owner)
    core_signals.send(
        app, signals.account_revoked, account_id=account_id, smile_user_id=owner,
        kept_data=keep_data,
    )
    return {"accountId": account_id, "status": str(status), "itemsDeleted": dropped, "keptData": keep_data}


# -- the commands -----------------------------------------------------------------------------


@click.group("revoke", help="Revoke access to a user's data at Smile.")
def revoke_group() -> None:
    """``flask wink revoke ...``; other parts of the kit add their subcommands here."""


@revoke_group.command("account")
@click.argument("account_id")
@click.option("--keep-data", is_flag=True, help="keep the data already stored here")
@with_appcontext
def revoke_account_command(account_id: str, keep_data: bool) -> None:
    """Revoke ACCOUNT_ID at Smile and here; its stored data is deleted unless --keep-data."""
    try:
        outcome = revoke_account(account_id, keep_data=keep_data)
    except SmileError as exc:
        raise click.ClickException(f"Smile refused to revoke {account_id}: {exc}") from None
    kept = "kept the stored data" if keep_data else f"deleted {outcome['itemsDeleted']} stored item(s)"
    click.echo(f"Revoked account {account_id}: DISCONNECTED; {kept}.")


def _resolve_user(state: WinkState, user: str) -> tuple[str, str | None]:
    """(Smile user id, app user id) for an app user id or a Smile user id."""
    return resolve_user(state, NAME, user, "Smile")


def _export_document(state: WinkState, smile_user_id: str) -> dict[str, Any]:
    """A fresh document (kept as the latest), or the stored one when Smile cannot be reached."""
    try:
        return fetch_and_store(state, smile_user_id)
    except SmileError as exc:
        stored = stored_user_data(state, smile_user_id)
        if stored is None:
            raise click.ClickException(
                f"Fetching {smile_user_id} failed and nothing is stored: {exc}"
            ) from None
        click.echo(
            f"Fetching {smile_user_id} failed ({exc}); exporting the copy of {stored['fetchedAt']}.", err=True
        )
        return stored


def _write_json(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def register_cli(group: click.Group) -> None:
    """Add this part's ``flask wink ...`` commands to ``group``."""
    group.add_command(revoke_group)

    @group.command("retention")
    @click.option("--user", help="only this app user id or Smile user id")
    @click.option("--json", "as_json", is_flag=True, help="print JSON lines")
    @with_appcontext
    def retention(user: str | None, as_json: bool) -> None:
        """Print what is deleted when: at Smile, account data 60 days after connection and uploads
        after 7; here, the stored user data after WINK_SMILE_WINK_DATA_RETENTION (when set)."""
        state = get_state()
        smile_user_id = _resolve_user(state, user)[0] if user else None
        schedule = retention_schedule(state, smile_user_id=smile_user_id)
        if not schedule:
            click.echo("Nothing is due to expire.")
        for item in schedule:
            if as_json:
                click.echo(json.dumps(item))
                continue
            left = item["secondsLeft"]
            when = f"in {left // 86400} d {left % 86400 // 3600} h" if left > 0 else "already expired"
            what = {"account": "account data", "archive": "uploaded file"}.get(
                item["kind"], "user data kept here"
            )
            who = item["appUserId"] or "?"
            click.echo(
                f"{item['expiresAt']}  {what} {item['id']} of {who} (Smile {item['smileUserId']}): {when}"
            )

    @group.command("export")
    @click.argument("user", required=False)
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                  help="file to write (default: stdout)")
    @click.option("--expiring-within", "window",
                  help="every user with data expiring within this window, e.g. 7d or 12h")
    @click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
                  show_default=True, help="where --expiring-within writes <smile user id>.json")
    @with_appcontext
    def export(user: str | None, out: Path | None, window: str | None, out_dir: Path) -> None:
        """Write USER's data (app or Smile user id) as JSON, or every user's with --expiring-within."""
        state = get_state()
        if bool(user) == bool(window):
            raise click.UsageError("Give either USER or --expiring-within (e.g. 7d), not both.")
        if user:
            document = _export_document(state, _resolve_user(state, user)[0])
            if out is None:
                click.echo(json.dumps(document, indent=2))
            else:
                _write_json(document, out)
                click.echo(f"Wrote {out}")
            return
        try:
            span = parse_window(window or "")
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--expiring-within") from None
        horizon = _now() + span
        due = sorted({
            item["smileUserId"]
            for item in retention_schedule(state)
            if item["smileUserId"]
            and parse_iso(item["expiresAt"]) <= horizon
        })
        for smile_user_id in due:
            path = out_dir / f"{smile_user_id}.json"
            _write_json(_export_document(state, smile_user_id), path)
            click.echo(f"Wrote {path}")
        click.echo(f"Exported {len(due)} user(s) with data expiring within {window}.")

    @group.command("token")
    @click.argument("user")
    @with_appcontext
    def token(user: str) -> None:
        """Print a fresh Link token for app user USER as JSON (for support staff)."""
        try:
            minted = start_link(get_state(), get_state().provider_of(NAME), user)
        except SmileError as exc:
            raise click.ClickException(f"Minting a Link token failed: {exc}") from None
        click.echo(json.dumps(dict(minted.widget or {})))

    @group.group("webhooks")
    def webhooks() -> None:
        """Register, list and delete the webhooks Smile sends to."""

    @webhooks.command("register")
    @click.argument("url")
    @click.option("--events", required=True,
                  help="comma-separated event types, e.g. ACCOUNT_CONNECTED,TASK_FINISHED")
    @click.option("--secret", prompt=True, hide_input=True,
                  help="the signing secret (prompted when left out)")
    @click.option("--name", default="flask-wink", show_default=True)
    @with_appcontext
    def register(url: str, events: str, secret: str, name: str) -> None:
        """Ask Smile to send EVENTS to URL, signed with the secret."""
        types = [e.strip().upper() for e in events.split(",") if e.strip()]
        if not types:
            raise click.BadParameter("name at least one event type", param_hint="--events")
        try:
            hook = get_state().provider_of(NAME).client.create_webhook(url, secret, types, name=name)
        except SmileError as exc:
            raise click.ClickException(f"Smile refused the webhook: {exc}") from None
        click.echo(json.dumps(_public_hook(hook)))

    @webhooks.command("list")
    @with_appcontext
    def list_() -> None:
        """Print every registered webhook as JSON lines (secrets left out)."""
        try:
            for hook in get_state().provider_of(NAME).client.iterate("list_webhooks"):
                click.echo(json.dumps(_public_hook(hook)))
        except SmileError as exc:
            raise click.ClickException(f"Listing webhooks failed: {exc}") from None

    @webhooks.command("delete")
    @click.argument("webhook_id")
    @with_appcontext
    def delete(webhook_id: str) -> None:
        """Delete webhook WEBHOOK_ID at Smile."""
        try:
            get_state().provider_of(NAME).client.delete_webhook(webhook_id)
        except SmileError as exc:
            raise click.ClickException(f"Deleting webhook {webhook_id} failed: {exc}") from None
        click.echo(f"Deleted webhook {webhook_id}.")


def _public_hook(hook: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (hook or {}).items() if k != "secret"}
