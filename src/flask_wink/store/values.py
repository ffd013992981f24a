"""The values the store takes and hands back: a stored event, an account status change, the clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: The handling states of an event: pending -> handling -> handled | failed (failed ones can be retried).
EVENT_STATES = ("pending", "handling", "handled", "failed")


def utcnow() -> datetime:
    """The current moment, timezone-aware in UTC (what every date-time column holds)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``moment`` as ISO 8601 with a ``Z``; naive values (SQLite hands those back) are UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


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
    state: str = "pending"
    attempts: int = 0
    error: str | None = None
    #: Whether storing the event moved its account's status (None: not tracked when stored).
    account_changed: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        """The event as the JSON API shows it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "eventId": self.event_id,
            "appUserId": self.app_user_id,
            "smileUserId": self.smile_user_id,
            "payload": self.payload,
            "receivedAt": iso(self.received_at),
            "state": self.state,
            "attempts": self.attempts,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class AccountChange:
    """An account status to record if it moves the status forward (see ``Store.update_account``)."""

    account_id: str
    status: str
    replaceable: tuple[str, ...]
    owner: str | None = None
    smile_user_id: str | None = None
    provider_id: str | None = None
    error_code: str | None = None

    @classmethod
    def make(cls, account_id: str, status: str, *, replaces: Iterable[str], **fields: Any) -> AccountChange:
        """A change to ``status`` that replaces any status in ``replaces`` (``status`` itself excluded)."""
        status = str(status)
        return cls(account_id, status, tuple(str(s) for s in replaces if str(s) != status), **fields)

    def values(self, now: datetime) -> dict[str, Any]:
        """The account row this change writes at ``now``."""
        return {
            "account_id": self.account_id,
            "smile_user_id": self.smile_user_id,
            "provider_id": self.provider_id,
            "status": self.status,
            "error_code": self.error_code,
            "connected_at": now if self.status == "CONNECTED" else None,
            "updated_at": now,
        }
