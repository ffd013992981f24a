"""How the JSON answers show what the store hands back: camelCase keys, times as ISO 8601 text
ending in ``Z``. The store returns plain values (:class:`~flask_wink.store.StoredEvent`,
:class:`~flask_wink.store.StoredAccount`); the routes, the CLI and the pages shape them here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .timeutil import iso

if TYPE_CHECKING:
    from .store import StoredAccount, StoredEvent


def event_json(event: StoredEvent) -> dict[str, Any]:
    """The event as the JSON API shows it (``payloadError`` only for an unreadable payload)."""
    shown = {
        "id": event.id,
        "provider": event.provider,
        "kind": event.kind,
        "name": event.name,
        "eventId": event.event_id,
        "appUserId": event.app_user_id,
        "upstreamUserId": event.upstream_user_id,
        "payload": event.payload,
        "receivedAt": iso(event.received_at),
        "state": event.state,
        "attempts": event.attempts,
        "error": event.error,
        "nextAttemptAt": iso(event.next_attempt_at) if event.next_attempt_at else None,
    }
    if event.payload_error is not None:
        shown["payloadError"] = event.payload_error
    return shown


def account_json(account: StoredAccount) -> dict[str, Any]:
    """The account as the JSON API (``GET /wink/accounts``) and the pages show it."""
    return {
        "provider": account.provider,
        "accountId": account.account_id,
        "upstreamUserId": account.upstream_user_id,
        "institutionId": account.institution_id,
        "status": account.status,
        "errorCode": account.error_code,
        "connectedAt": iso(account.connected_at) if account.connected_at else None,
        "updatedAt": iso(account.updated_at),
    }
