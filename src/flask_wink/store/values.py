"""The values the store takes and hands back: a stored event, an account and its status change, the
clock. Plain values: how a page or a JSON answer shows them is the views' (:mod:`flask_wink.jsonshape`)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..provider import StatusUpdate

#: The handling states of an event: pending -> handling -> handled | failed. A failed event is
#: retried by itself when its ``next_attempt_at`` is due, and parked as dead once its attempts ran
#: out; failed and dead ones can be retried by hand (``flask wink events retry``). Past
#: ``WINK_EVENT_RETENTION`` a handled or dead webhook is ``pruned``: emptied, its dedupe key kept.
EVENT_STATES = ("pending", "handling", "handled", "failed", "dead", "pruned")


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
    provider: str
    kind: str
    name: str
    event_id: str | None
    app_user_id: str | None
    upstream_user_id: str | None
    payload: Any
    received_at: datetime
    state: str = "pending"
    attempts: int = 0
    error: str | None = None
    #: Whether storing the event moved its account's status (None: not tracked when stored).
    account_changed: bool | None = None
    #: Why the stored payload could not be read back (``payload`` is then a placeholder).
    payload_error: str | None = None
    #: When a failed event is next retried by itself (None in every other state).
    next_attempt_at: datetime | None = None
    #: The status the event reports (see ``flask_wink.pipeline.status_update``), once read from
    #: its provider (``status_read``): when the event was received by a process that handles it,
    #: else when its handling began. Handlers read it here instead of asking the provider again.
    status_update: StatusUpdate | None = None
    status_read: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Deprecated: the JSON views shape an event (``flask_wink.jsonshape.event_json``)."""
        from ..jsonshape import event_json

        warnings.warn(
            "StoredEvent.as_dict() is deprecated: use flask_wink.jsonshape.event_json(event)",
            DeprecationWarning,
            stacklevel=2,
        )
        return event_json(self)


@dataclass(frozen=True, slots=True)
class StoredAccount:
    """The last known status of one account of a provider."""

    provider: str
    account_id: str
    upstream_user_id: str | None
    institution_id: str | None
    status: str
    error_code: str | None
    #: When the account was first seen connected (None until then); aware, in UTC.
    connected_at: datetime | None
    #: When its status last moved; aware, in UTC.
    updated_at: datetime

    def __getitem__(self, key: str) -> Any:
        """Deprecated: the account as the JSON view shows it, by its JSON key (``"accountId"``...),
        as ``Store.account`` returned it before; read the attributes instead."""
        return self._shown(key)[key]

    def get(self, key: str, default: Any = None) -> Any:
        """Deprecated: see ``__getitem__``."""
        return self._shown(key).get(key, default)

    def _shown(self, key: str) -> dict[str, Any]:
        from ..jsonshape import account_json

        warnings.warn(
            f"account[{key!r}] is deprecated: read the StoredAccount's attributes (account.status, "
            "account.account_id...), or flask_wink.jsonshape.account_json(account) for the JSON",
            DeprecationWarning,
            stacklevel=3,
        )
        return account_json(self)


@dataclass(frozen=True, slots=True)
class AccountChange:
    """An account status to record if it moves the status forward (see ``Store.update_account``).

    ``connected``: whether ``status`` means the account is connected (the provider says; it sets
    ``connected_at`` the first time). ``owner``: only an account of that upstream user, or of no
    known user, changes.
    """

    provider: str
    account_id: str
    status: str
    replaceable: tuple[str, ...]
    connected: bool
    owner: str | None = None
    upstream_user_id: str | None = None
    institution_id: str | None = None
    error_code: str | None = None

    @classmethod
    def make(
        cls,
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
    ) -> AccountChange:
        """A change to ``status`` that replaces any status in ``replaces`` (``status`` itself excluded)."""
        status = str(status)
        replaceable = tuple(str(s) for s in replaces if str(s) != status)
        return cls(
            provider, account_id, status, replaceable, connected, owner, upstream_user_id, institution_id,
            error_code,
        )

    @property
    def key(self) -> tuple[str, str]:
        """The account's key: ``(provider, account_id)``."""
        return (self.provider, self.account_id)

    def values(self, now: datetime) -> dict[str, Any]:
        """The account row this change writes at ``now``."""
        return {
            "provider": self.provider,
            "account_id": self.account_id,
            "upstream_user_id": self.upstream_user_id,
            "institution_id": self.institution_id,
            "status": self.status,
            "error_code": self.error_code,
            "connected_at": now if self.connected else None,
            "updated_at": now,
        }
