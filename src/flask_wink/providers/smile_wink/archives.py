"""Archives: uploaded documents, their status (STARTED, ANALYZED, ...) and revocation.

The kit keeps each archive's last known status in ``wink_archives``, from the widget's
``onUploadsCreated`` / ``onUploadsRemoved`` callbacks (only for the caller's own Smile user) and
from Smile's ``ARCHIVE_*`` webhooks. A later status never gives way to an earlier one and
``REVOKED`` is final. On ``ARCHIVE_ANALYZED`` the archive is fetched, so its payslip analysis
(gross and net amounts, employer, pay period, currency) is kept too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import IntegrityError

from ... import signals as core_signals
from ...provider import CALLBACK
from ...state import WinkState, get_state
from ...store import Store, StoredEvent, provider_metadata
from ...timeutil import aware, believable, iso, later, parse_iso, utcnow
from . import signals
from .errors import SmileError, SmileNotFound
from .statuses import NAME, replaceable_by

log = logging.getLogger("flask_wink")

#: Created by the store's migrations (see flask_wink.store.migrations).
archives = sa.Table(
    "wink_archives",
    provider_metadata(NAME),
    sa.Column("archive_id", sa.String(200), primary_key=True),
    sa.Column("provider", sa.String(50), nullable=False, server_default=NAME),
    sa.Column("upstream_user_id", sa.String(200), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("type", sa.String(50), nullable=True),
    sa.Column("file_names", sa.Text, nullable=False, server_default="[]"),  # JSON list
    sa.Column("analysis", sa.Text, nullable=True),  # JSON object (ArchivePayslipAnalysis)
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_wink_archives_upstream_user", "provider", "upstream_user_id"),
)

#: How long Smile keeps an uploaded archive's data after it was made.
ARCHIVE_RETENTION = timedelta(days=7)


class ArchiveStatus(StrEnum):
    """The status of an uploaded archive, as Smile names it."""

    STARTED = "STARTED"
    ANALYZED = "ANALYZED"
    UNSUPPORTED = "UNSUPPORTED"
    ERROR = "ERROR"
    REVOKED = "REVOKED"


_RANK = {
    ArchiveStatus.STARTED: 0,
    ArchiveStatus.ANALYZED: 1,
    ArchiveStatus.UNSUPPORTED: 1,
    ArchiveStatus.ERROR: 1,
    ArchiveStatus.REVOKED: 2,
}

WEBHOOK_STATUS = {
    "ARCHIVE_STARTED": ArchiveStatus.STARTED,
    "ARCHIVE_ANALYZED": ArchiveStatus.ANALYZED,
    "ARCHIVE_FAILED": None,  # UNSUPPORTED or ERROR: the archive itself says which
    "ARCHIVE_REVOKED": ArchiveStatus.REVOKED,
}
CALLBACK_STATUS = {"onUploadsCreated": ArchiveStatus.STARTED, "onUploadsRemoved": ArchiveStatus.REVOKED}


# -- reading ------------------------------------------------------------------------------


def get_archive(archive_id: str, *, store: Store | None = None) -> dict[str, Any] | None:
    """The last known state of one archive (``None`` if the kit never heard of it)."""
    store = store or get_state().store
    with store.begin() as conn:
        row = conn.execute(sa.select(archives).where(archives.c.archive_id == archive_id)).mappings().first()
    return _archive_dict(row) if row else None


def list_archives(*, smile_user_id: str | None = None, store: Store | None = None) -> list[dict[str, Any]]:
    """Known archives, newest first; ``smile_user_id`` filters."""
    store = store or get_state().store
    query = sa.select(archives).order_by(archives.c.created_at.desc(), archives.c.archive_id)
    if smile_user_id:
        query = query.where(archives.c.upstream_user_id == smile_user_id)
    with store.begin() as conn:
        return [_archive_dict(row) for row in conn.execute(query).mappings().all()]


# -- revoking -----------------------------------------------------------------------------


def revoke_archive(archive_id: str, *, keep_data: bool = False) -> dict[str, Any] | None:
    """Revoke an archive at Smile, mark it REVOKED here and send ``archive_revoked``.

    The kept analysis is deleted unless ``keep_data``. Raises :class:`~flask_wink.SmileError` when
    Smile refuses (an unknown archive is :class:`~flask_wink.errors.SmileNotFound`).
    """
    app = current_app._get_current_object()
    state = get_state()
    before = get_archive(archive_id, store=state.store)
    state.provider_of(NAME).client.revoke_archive(archive_id)
    owner = before["smileUserId"] if before else None
    changed = _set_status(state.store, archive_id, ArchiveStatus.REVOKED, smile_user_id=owner)
    if keep_data and before and before["analysis"]:
        # Whoever marked it REVOKED (this call or the ARCHIVE_REVOKED webhook) cleared it: put it back.
        _fill(state.store, archive_id, analysis=json.dumps(before["analysis"]), even_revoked=True)
    after = get_archive(archive_id, store=state.store)
    if changed:
        # Outside event handling nothing can be retried: a receiver's error is logged, not raised.
        core_signals.send(app, signals.archive_status_changed, event=None, archive_id=archive_id,
                          status=str(ArchiveStatus.REVOKED), smile_user_id=owner)
    core_signals.send(
        app, signals.archive_revoked, archive_id=archive_id, smile_user_id=owner, kept_data=keep_data
    )
    return after


# -- tracking -----------------------------------------------------------------------------


def track_archive(app: Flask, state: WinkState, event: StoredEvent, errors: list[str]) -> None:
    """The pipeline tracker: keep each archive's status (and analysis) from callbacks and webhooks."""
    if event.kind == CALLBACK:
        _track_callback(app, state, event, errors)
    elif event.name in WEBHOOK_STATUS:
        _track_webhook(app, state, event, errors)


def _track_callback(app: Flask, state: WinkState, event: StoredEvent, errors: list[str]) -> None:
    status = CALLBACK_STATUS.get(event.name)
    # Only archives of the caller's own Smile user: the browser cannot be trusted further.
    owner = event.upstream_user_id
    payload = event.payload if isinstance(event.payload, Mapping) else {}
    if status is None or owner is None or payload.get("userId") not in (None, owner):
        return
    uploads = payload.get("uploads")
    for upload in uploads if isinstance(uploads, list) else []:
        if not isinstance(upload, Mapping) or upload.get("userId") not in (None, owner):
            continue
        archive_id = upload.get("id")
        if not isinstance(archive_id, str) or not archive_id or len(archive_id) > 200:
            continue
        fields = _fields_from_archive(upload)
        changed = _set_status(state.store, archive_id, status, owner=owner, smile_user_id=owner, **fields)
        if changed:
            core_signals.send(app, signals.archive_status_changed, errors, event=event,
                              archive_id=archive_id, status=str(status), smile_user_id=owner)


def _track_webhook(app: Flask, state: WinkState, event: StoredEvent, errors: list[str]) -> None:
    data = event.payload.get("data") if isinstance(event.payload, Mapping) else None
    if not isinstance(data, Mapping):
        return
    archive_id = data.get("archiveId")
    if not isinstance(archive_id, str) or not archive_id:
        return
    user_id = data.get("userId") if isinstance(data.get("userId"), str) else None
    status = WEBHOOK_STATUS[event.name]
    archive: Mapping[str, Any] = {}
    if event.name in ("ARCHIVE_ANALYZED", "ARCHIVE_FAILED") and not data.get("analysis"):
        try:
            archive = state.provider_of(NAME).client.get_archive(archive_id) or {}
        except SmileNotFound:
            log.warning("archive %s of event %s is gone at Smile", archive_id, event.id)
        except SmileError as exc:
            # The status is still kept; the event is marked failed so a retry fetches the rest.
            errors.append(f"fetching archive {archive_id}: {exc}")
    if status is None:  # ARCHIVE_FAILED
        found = (archive.get("state") or {}).get("status")
        if found in (ArchiveStatus.UNSUPPORTED, ArchiveStatus.ERROR):
            status = ArchiveStatus(found)
        else:
            unsupported = data.get("errorCode") == "INVALID_FIELD_FORMAT"
            status = ArchiveStatus.UNSUPPORTED if unsupported else ArchiveStatus.ERROR
    fields = _fields_from_archive(archive)
    if event.name == "ARCHIVE_FAILED":
        fields["error"] = _text(data.get("errorMessage")) or _text(data.get("errorCode")) or "failed"
    analysis = data.get("analysis") or archive.get("analysis")
    kept = None
    if status is ArchiveStatus.ANALYZED and isinstance(analysis, Mapping):
        kept = json.dumps(analysis)
    changed = _set_status(
        state.store, archive_id, status, smile_user_id=user_id, trusted=True, analysis=kept, **fields
    )
    if kept and not changed:  # a retry after the fetch failed: the status is there, the analysis not
        _fill(state.store, archive_id, analysis=kept)
    if changed:
        core_signals.send(app, signals.archive_status_changed, errors, event=event,
                          archive_id=archive_id, status=str(status), smile_user_id=user_id)


def _fields_from_archive(archive: Mapping[str, Any]) -> dict[str, Any]:
    """Type, file names and creation time from an ``Archive`` (from Smile or the widget)."""
    fields: dict[str, Any] = {}
    if isinstance(archive.get("type"), str):
        fields["type"] = archive["type"][:50]
    raw_files = archive.get("rawFiles")
    if isinstance(raw_files, list):
        names = [f["name"] for f in raw_files if isinstance(f, Mapping) and isinstance(f.get("name"), str)]
        fields["file_names"] = json.dumps(names)
    created = _parse_time(archive.get("createdAt"))
    if created is not None:
        fields["created_at"] = created
    return fields


def _set_status(
    store: Store,
    archive_id: str,
    status: ArchiveStatus,
    *,
    owner: str | None = None,
    smile_user_id: str | None = None,
    trusted: bool = False,
    error: str | None = None,
    analysis: str | None = None,
    **details: Any,
) -> bool:
    """Move an archive to ``status`` unless it already has a later one; True when it changed.

    One guarded UPDATE (or an INSERT for a new archive), so two events racing for one archive
    cannot put an earlier status over a later one. With ``owner`` only an archive of that Smile
    user (or of no known user) changes; ``trusted`` (a webhook) sets the Smile user outright.
    ``analysis`` (JSON) is set with the status; REVOKED deletes it. ``details`` (type, file_names,
    created_at) are filled in whether or not the status changed.
    """
    now = utcnow()
    replaceable = [s for s in replaceable_by(_RANK, status) if s != status]
    guard = sa.and_(archives.c.archive_id == archive_id, archives.c.status.in_(replaceable))
    if owner is not None:
        guard = sa.and_(guard, _owned_by(owner))
    changes: dict[str, Any] = {"status": str(status), "updated_at": now, "error": error}
    if analysis is not None or status is ArchiveStatus.REVOKED:
        changes["analysis"] = analysis
    if smile_user_id is not None:
        changes["upstream_user_id"] = (
            smile_user_id if trusted else sa.func.coalesce(archives.c.upstream_user_id, smile_user_id)
        )
    details = {k: v for k, v in details.items() if v is not None}
    changed = False
    for _ in range(2):
        with store.begin() as conn:
            if conn.execute(archives.update().where(guard).values(**changes)).rowcount:
                changed = True
                break
        values = {
            "archive_id": archive_id,
            "upstream_user_id": smile_user_id,
            "status": str(status),
            "error": error,
            "analysis": analysis,
            "file_names": "[]",
            "created_at": now,
            "updated_at": now,
        } | details
        try:
            with store.begin() as conn:
                conn.execute(archives.insert().values(**values))
            return True
        except IntegrityError:  # it exists (with a later status, or another's): try the update again
            continue
    if details:
        _fill_details(store, archive_id, details, owner=owner, trusted=trusted)
    return changed


def _owned_by(owner: str):
    return sa.or_(archives.c.upstream_user_id.is_(None), archives.c.upstream_user_id == owner)


def _fill_details(
    store: Store, archive_id: str, details: Mapping[str, Any], *, owner: str | None, trusted: bool
) -> None:
    """Type, file names and creation time: Smile's word always counts, the widget's only once."""
    statement = archives.update().where(archives.c.archive_id == archive_id)
    if not trusted:
        # The file names may be encrypted at rest, and an encrypted value differs at every write:
        # whether there are none yet is read, and the update guarded by the very text read.
        stored_text = sa.type_coerce(archives.c.file_names, sa.Text)
        with store.begin() as conn:
            stored = conn.scalar(sa.select(stored_text).where(archives.c.archive_id == archive_id))
        if stored is None or store.reveal(stored) != "[]":
            return
        statement = statement.where(stored_text == stored)
        if owner is not None:
            statement = statement.where(_owned_by(owner))
    with store.begin() as conn:
        conn.execute(statement.values(**details))


def _fill(store: Store, archive_id: str, *, analysis: str | None, even_revoked: bool = False) -> None:
    """Set the kept analysis (never on a REVOKED archive unless ``even_revoked``)."""
    statement = archives.update().where(archives.c.archive_id == archive_id)
    if not even_revoked:
        statement = statement.where(archives.c.status != str(ArchiveStatus.REVOKED))
    with store.begin() as conn:
        conn.execute(statement.values(analysis=analysis))


def _archive_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    created = aware(row["created_at"])
    return {
        "archiveId": row["archive_id"],
        "smileUserId": row["upstream_user_id"],
        "status": row["status"],
        "type": row["type"],
        "fileNames": json.loads(row["file_names"] or "[]"),
        "analysis": json.loads(row["analysis"]) if row["analysis"] else None,
        "error": row["error"],
        "createdAt": iso(created, "seconds"),
        "updatedAt": iso(row["updated_at"], "seconds"),
        "expiresAt": iso(later(created, ARCHIVE_RETENTION), "seconds"),
    }


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        # A date outside a believable range (a browser's "9999-12-31") is not kept: now is used.
        return believable(parse_iso(value))
    except (ValueError, OverflowError):
        return None


def _text(value: Any) -> str | None:
    return value[:2000] if isinstance(value, str) and value else None


# -- flask wink archives ------------------------------------------------------------------


def register_cli(group: click.Group) -> None:
    """Add ``flask wink archives`` to ``group`` (``revoke archive`` is wired by the provider's CLI)."""
    group.add_command(archives_command)


@click.group("archives", invoke_without_command=True)
@click.option("--user", help="an app user id or a Smile userId")
@click.option("--json", "as_json", is_flag=True, help="print JSON lines")
@click.pass_context
@with_appcontext
def archives_command(ctx: click.Context, user: str | None, as_json: bool) -> None:
    """List uploaded archives with their status, amounts and expiry (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    store = get_state().store
    smile_user_id = (store.upstream_user_id(NAME, user) or user) if user else None
    found = list_archives(smile_user_id=smile_user_id, store=store)
    if as_json:
        for archive in found:
            click.echo(json.dumps(archive))
        return
    if not found:
        click.echo("No archives.")
        return
    for a in found:
        amounts = ""
        if a["analysis"]:
            x = a["analysis"]
            amounts = f"  gross {x.get('currency', '')} {x.get('grossAmount')} net {x.get('netAmount')}"
        files = ", ".join(a["fileNames"]) or "-"
        click.echo(
            f"{a['archiveId']}  {a['status']:<11}  {a['smileUserId'] or '-'}  {files}  "
            f"created {a['createdAt']}  expires {a['expiresAt']}{amounts}"
        )


@click.command("archive")
@click.argument("archive_id")
@click.option("--keep-data", is_flag=True, help="keep the analysis stored here")
@with_appcontext
def revoke_archive_command(archive_id: str, keep_data: bool) -> None:
    """Revoke an uploaded archive at Smile and mark it REVOKED."""
    try:
        revoke_archive(archive_id, keep_data=keep_data)
    except SmileError as exc:
        raise click.ClickException(f"Smile refused to revoke {archive_id}: {exc}") from None
    click.echo(f"Revoked archive {archive_id}" + (" (analysis kept)." if keep_data else "."))
