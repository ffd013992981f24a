"""Smile's account statuses and widget callbacks, and what each callback or webhook says."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

#: The provider's name: stored with its events, its URL segment ``smile-wink``.
NAME = "smile_wink"


def replaceable_by(ranks: Mapping[str, int], status: str) -> list[str]:
    """The statuses in ``ranks`` that ``status`` may replace: those ranked no later (itself
    included), so that statuses only move forward."""
    return [str(old) for old, rank in ranks.items() if rank <= ranks[status]]


class AccountStatus(StrEnum):
    """The connection status of a linked account: Smile's five, and the kit's two for what the
    widget claims (Smile never says these)."""

    PENDING = "PENDING"
    AWAITING_MFA = "AWAITING_MFA"
    ERROR = "ERROR"
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    #: The widget reported the account connected; the kit has not had Smile confirm it yet.
    UNCONFIRMED = "UNCONFIRMED"
    #: Smile does not know the account for the user whose widget reported it connected.
    NOT_CONFIRMED = "NOT_CONFIRMED"


#: The statuses Smile itself gives (its ``AccountConnectionStatus``).
SMILE_STATUSES = frozenset(
    {
        AccountStatus.PENDING,
        AccountStatus.AWAITING_MFA,
        AccountStatus.ERROR,
        AccountStatus.CONNECTED,
        AccountStatus.DISCONNECTED,
    }
)

# Later states win over earlier ones, so a late-arriving callback cannot undo a webhook. The
# claims rank with AWAITING_MFA: every status Smile gives from ERROR on replaces them.
STATUS_RANK = {
    AccountStatus.PENDING: 0,
    AccountStatus.AWAITING_MFA: 1,
    AccountStatus.UNCONFIRMED: 1,
    AccountStatus.NOT_CONFIRMED: 1,
    AccountStatus.ERROR: 2,
    AccountStatus.CONNECTED: 2,
    AccountStatus.DISCONNECTED: 3,
}

#: What a status the widget reports may replace: progress and the widget's own claim, never a
#: status Smile gave from ERROR on nor the kit's verdict on a claim (NOT_CONFIRMED). The widget's
#: CONNECTED is recorded as UNCONFIRMED, and its DISCONNECTED not at all (DISCONNECTED is final,
#: so a claim of it would stop a later ACCOUNT_CONNECTED): Smile's webhooks say those.
BROWSER_REPLACES: dict[AccountStatus, tuple[AccountStatus, ...]] = {
    AccountStatus.PENDING: (AccountStatus.PENDING,),
    AccountStatus.AWAITING_MFA: (AccountStatus.PENDING, AccountStatus.AWAITING_MFA),
    AccountStatus.UNCONFIRMED: (AccountStatus.PENDING, AccountStatus.AWAITING_MFA, AccountStatus.UNCONFIRMED),
    AccountStatus.ERROR: (AccountStatus.PENDING, AccountStatus.AWAITING_MFA, AccountStatus.UNCONFIRMED),
}

#: What the kit's verdict on a claim Smile does not bear out replaces: the claim only.
NOT_CONFIRMED_REPLACES = (AccountStatus.UNCONFIRMED,)

CALLBACKS = (
    "onAccountCreated",
    "onAccountConnected",
    "onAccountRemoved",
    "onTokenExpired",
    "onClose",
    "onAccountError",
    "onUploadsCreated",
    "onUploadsRemoved",
    "onUIEvent",
)

CALLBACK_STATUS = {
    "onAccountCreated": AccountStatus.PENDING,
    "onAccountConnected": AccountStatus.CONNECTED,
    "onAccountError": AccountStatus.ERROR,
    "onAccountRemoved": AccountStatus.DISCONNECTED,
}

WEBHOOK_STATUS = {
    "ACCOUNT_CREATED": AccountStatus.PENDING,
    "ACCOUNT_CONNECTED": AccountStatus.CONNECTED,
    "ACCOUNT_FAILED": AccountStatus.ERROR,
    "ACCOUNT_DISCONNECTED": AccountStatus.DISCONNECTED,
}


def statuses_replaced_by(new: AccountStatus) -> tuple[str, ...]:
    """The last known statuses that ``new``, a status Smile gives, may replace (never a later one)."""
    return tuple(replaceable_by(STATUS_RANK, new))


def claimed(reported: AccountStatus) -> AccountStatus | None:
    """What the kit records for a status the widget reports: CONNECTED becomes the claim
    UNCONFIRMED; DISCONNECTED is not recorded (see :data:`BROWSER_REPLACES`)."""
    if reported is AccountStatus.CONNECTED:
        return AccountStatus.UNCONFIRMED
    return reported if reported in BROWSER_REPLACES else None
