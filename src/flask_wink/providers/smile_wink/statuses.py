"""Smile's account statuses and widget callbacks, and what each callback or webhook says."""

from __future__ import annotations

from enum import StrEnum

from ...statusrank import replaceable_by


class AccountStatus(StrEnum):
    """The connection status of a linked account, as Smile names it."""

    PENDING = "PENDING"
    AWAITING_MFA = "AWAITING_MFA"
    ERROR = "ERROR"
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"


# Later states win over earlier ones, so a late-arriving callback cannot undo a webhook.
STATUS_RANK = {
    AccountStatus.PENDING: 0,
    AccountStatus.AWAITING_MFA: 1,
    AccountStatus.ERROR: 2,
    AccountStatus.CONNECTED: 2,
    AccountStatus.DISCONNECTED: 3,
}

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
    """The last known statuses that ``new`` may replace (never a later one)."""
    return tuple(replaceable_by(STATUS_RANK, new))
