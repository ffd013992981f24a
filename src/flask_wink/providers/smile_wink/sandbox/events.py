"""Smile's webhook events as the sandbox sends them: every type, the envelope, an account's events.

:func:`envelope` is what :meth:`SandboxState.emit <.state.SandboxState.emit>` sends, and
:func:`account_data` the ``data`` of the ``ACCOUNT_*`` events it sends when a user links an
account; :mod:`.samples` makes any type with them, for ``flask wink trigger``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from .... import timeutil

#: Every event type of Smile's spec (``RefWebhookEventType``) but ``ALL_EVENTS``, which is a
#: subscription to all of them, never an event.
EVENT_TYPES = (
    "USER_CREATED",
    "ACCOUNT_CREATED",
    "ACCOUNT_CONNECTED",
    "ACCOUNT_DISCONNECTED",
    "ACCOUNT_FAILED",
    "TASK_STARTED",
    "TASK_FINISHED",
    "ACCOUNT_SYNC_TASK_FINISHED",
    "ARCHIVE_STARTED",
    "ARCHIVE_ANALYZED",
    "ARCHIVE_REVOKED",
    "ARCHIVE_FAILED",
    "INVITE_INVITED",
    "INVITE_LINKED",
    "IDENTITY_ADDED",
    "RATING_ADDED",
    "TRANSACTIONS_ADDED",
    "DOCUMENTS_ADDED",
    "DOCUMENTS_UPDATED",
    "EMPLOYMENTS_ADDED",
    "EMPLOYMENTS_UPDATED",
    "INCOMES_ADDED",
    "INCOMES_UPDATED",
    "CONTRIBUTIONS_ADDED",
    "CONTRIBUTIONS_UPDATED",
    "EINCOMES_ADDED",
    "EINCOMES_UPDATED",
    "LIABILITIES_ADDED",
    "LIABILITIES_UPDATED",
    "INSIGHT_ADDED",
    "LINK_ADDED",
    "VERIFICATION_STARTED",
    "VERIFICATION_COMPLETED",
    "RECORD_CREATED",
    "RECORD_COMPLETED",
    "USER_SESSION_COMPLETED",
    "USER_SESSION_RESET",
)

#: One line per type, for people (from the descriptions of the spec's event schemas).
SUMMARIES = {
    "USER_CREATED": "a user was created",
    "ACCOUNT_CREATED": "the user started linking an account (PENDING)",
    "ACCOUNT_CONNECTED": "the account is connected (CONNECTED)",
    "ACCOUNT_DISCONNECTED": "the account was disconnected (DISCONNECTED)",
    "ACCOUNT_FAILED": "the provider refused the login (ERROR)",
    "TASK_STARTED": "the data sync of a linked account started",
    "TASK_FINISHED": "the data sync finished: every datapoint is added",
    "ACCOUNT_SYNC_TASK_FINISHED": "a later sync of the account finished",
    "ARCHIVE_STARTED": "an uploaded file is being analysed",
    "ARCHIVE_ANALYZED": "an uploaded file was read",
    "ARCHIVE_REVOKED": "an uploaded file was revoked",
    "ARCHIVE_FAILED": "an uploaded file could not be read",
    "INVITE_INVITED": "an invitation was sent",
    "INVITE_LINKED": "an invited user linked an account",
    "IDENTITY_ADDED": "an identity was added",
    "RATING_ADDED": "a rating was added",
    "TRANSACTIONS_ADDED": "transactions were added",
    "DOCUMENTS_ADDED": "documents were added",
    "DOCUMENTS_UPDATED": "documents were updated",
    "EMPLOYMENTS_ADDED": "employments were added",
    "EMPLOYMENTS_UPDATED": "employments were updated",
    "INCOMES_ADDED": "incomes were added",
    "INCOMES_UPDATED": "incomes were updated",
    "CONTRIBUTIONS_ADDED": "contributions were added",
    "CONTRIBUTIONS_UPDATED": "contributions were updated",
    "EINCOMES_ADDED": "e-incomes were added",
    "EINCOMES_UPDATED": "e-incomes were updated",
    "LIABILITIES_ADDED": "liabilities were added",
    "LIABILITIES_UPDATED": "liabilities were updated",
    "INSIGHT_ADDED": "an insight was added",
    "LINK_ADDED": "link data about the user was added",
    "VERIFICATION_STARTED": "a verification started",
    "VERIFICATION_COMPLETED": "a verification completed",
    "RECORD_CREATED": "a record (social security) was created",
    "RECORD_COMPLETED": "a record (social security) was completed",
    "USER_SESSION_COMPLETED": "the user completed a Wink site session",
    "USER_SESSION_RESET": "a Wink site session was reset",
}


def envelope(event_type: str, data: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    """A webhook event as Smile sends it: ``{id, version, type, createdAt, data}``."""
    return {
        "id": uuid.uuid4().hex,
        "version": 1,
        "type": event_type,
        "createdAt": timeutil.iso(at or datetime.now(UTC).replace(microsecond=0), "seconds"),
        "data": data,
    }


def account_data(
    event_type: str, account: dict[str, Any], error_message: str | None = None
) -> dict[str, Any]:
    """The ``data`` of an ``ACCOUNT_*`` event of ``account`` (as the sandbox keeps one)."""
    data: dict[str, Any] = {"userId": account["userId"], "accountId": account["id"]}
    if event_type in ("ACCOUNT_CONNECTED", "ACCOUNT_FAILED"):
        data["loginName"] = account["loginName"]
    if event_type == "ACCOUNT_FAILED":
        data["errorCode"] = account["errorCode"]
        data["errorMessage"] = error_message
    data["providers"] = [account["providerId"]]
    return data
