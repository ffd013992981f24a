"""Any of Smile's webhook events, made up as the sandbox would send it, for ``flask wink trigger``.

Each is built with the sandbox's own builders (:mod:`.events`) about a connected account of the
sandbox user George, with the user data the sandbox makes for such an account (:mod:`.userdata`).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from .... import timeutil
from .archives import FAILURES
from .data import SANDBOX_USERS
from .events import EVENT_TYPES, account_data, envelope
from .userdata import KINDS, make_user_data


def sample_account(user_id: str, provider_id: str = "upwork", username: str = "George") -> dict[str, Any]:
    """A connected account of a sandbox user, as the sandbox keeps one after a link."""
    stamp = timeutil.iso(datetime.now(UTC).replace(microsecond=0), "seconds")
    return {
        "id": "a-" + uuid.uuid4().hex,
        "createdAt": stamp,
        "providerId": provider_id,
        "userId": user_id,
        "loginName": username,
        "sandboxUser": username,
        "connectionStatus": "CONNECTED",
        "errorCode": None,
        "errorMessage": None,
        "updatedAt": stamp,
    }


def sample_event(event_type: str, user_id: str | None = None) -> dict[str, Any]:
    """An event of ``event_type`` for ``user_id`` (a new sandbox-style user id when None), about a
    connected account of the sandbox user George, with the data the sandbox would make for it."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"{event_type} is not one of Smile's webhook event types.")
    user_id = user_id or "tenant-" + uuid.uuid4().hex
    account = sample_account(user_id)
    made = make_user_data(account)
    base = {"userId": user_id, "providers": [account["providerId"]]}
    on_account = {**base, "accountId": account["id"]}
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = timeutil.iso(now, "seconds")
    task = {**base, "sourceId": account["id"], "sourceType": "ACCOUNT", "taskType": "LINK_ACCOUNT"}
    datapoints = [kind.upper() for kind in KINDS if made[kind]]
    counts = {kind.upper(): len(made[kind]) for kind in KINDS if made[kind]}

    def updated(kind: str, ranged: bool) -> dict[str, Any]:
        items = made.get(kind) or []
        fields: dict[str, Any] = {**on_account, "count": len(items) or 1, "updatedAt": stamp}
        if ranged:
            fields.update(updatedFrom=timeutil.iso(now - timedelta(days=30), "seconds"), updatedTo=stamp)
        else:
            fields["updatedIds"] = [item["id"] for item in items] or [_ident(kind, account["id"])]
        return fields

    archive_id = "ar-" + uuid.uuid4().hex
    record_id = "rec-" + _digest(account["id"])
    session = {"userId": user_id, "channel": "WinkSite", "channelId": "site-" + _digest(user_id),
               "status": "COMPLETED"}
    login = next(u for u in SANDBOX_USERS if u["username"] == account["sandboxUser"])
    builders: dict[str, Any] = {
        "USER_CREATED": lambda: {"userId": user_id},
        "ACCOUNT_CREATED": lambda: account_data("ACCOUNT_CREATED", account),
        "ACCOUNT_CONNECTED": lambda: account_data("ACCOUNT_CONNECTED", account),
        "ACCOUNT_DISCONNECTED": lambda: account_data("ACCOUNT_DISCONNECTED", account),
        "ACCOUNT_FAILED": lambda: account_data(
            "ACCOUNT_FAILED", {**account, "errorCode": "INVALID_CREDENTIALS"},
            "The username or password is incorrect."),
        "TASK_STARTED": lambda: dict(task),
        "TASK_FINISHED": lambda: {**task, "status": "SUCCEEDED", "errorCode": None,
                                  "datapoints": datapoints, "data": counts},
        "ACCOUNT_SYNC_TASK_FINISHED": lambda: {**base, "sourceId": account["id"], "sourceType": "ACCOUNT",
                                               "status": "SUCCEEDED", "monitorStatus": "ACTIVE",
                                               "datapoints": datapoints},
        "ARCHIVE_STARTED": lambda: {"userId": user_id, "archiveId": archive_id},
        "ARCHIVE_ANALYZED": lambda: {"userId": user_id, "archiveId": archive_id},
        "ARCHIVE_REVOKED": lambda: {"userId": user_id, "archiveId": archive_id},
        "ARCHIVE_FAILED": lambda: {"userId": user_id, "archiveId": archive_id,
                                   "errorCode": FAILURES["ERROR"][0], "errorMessage": FAILURES["ERROR"][1]},
        "INVITE_INVITED": lambda: {"userId": user_id, "inviteId": "inv-" + _digest(user_id)},
        "INVITE_LINKED": lambda: {"userId": user_id, "inviteId": "inv-" + _digest(user_id)},
        "IDENTITY_ADDED": lambda: {**on_account, "identityId": made["identities"][0]["id"]},
        "RATING_ADDED": lambda: {**on_account, "ratingId": made["ratings"][0]["id"]},
        "INSIGHT_ADDED": lambda: {**on_account, "id": _ident("insights", account["id"])},
        "LINK_ADDED": lambda: {**on_account, "id": _ident("links", account["id"])},
        "DOCUMENTS_UPDATED": lambda: updated("documents", ranged=False),
        "EMPLOYMENTS_UPDATED": lambda: updated("employments", ranged=False),
        "LIABILITIES_UPDATED": lambda: updated("liabilities", ranged=False),
        "INCOMES_UPDATED": lambda: updated("incomes", ranged=True),
        "EINCOMES_UPDATED": lambda: updated("eincomes", ranged=True),
        "CONTRIBUTIONS_UPDATED": lambda: updated("contributions", ranged=True),
        "VERIFICATION_STARTED": lambda: {"verificationId": "ver-" + _digest(account["id"])},
        "VERIFICATION_COMPLETED": lambda: {
            "verificationId": "ver-" + _digest(account["id"]),
            "resultCode": "SUCCESS",
            "resultMessage": "Verification completed successfully",
            "result": {
                "finalMatches": True,
                "names": {"firstNameMatches": True, "lastNameMatches": True, "middleNameMatches": None,
                          "fullNameMatches": True},
                "additionalData": {"dobMatches": True, "genderMatches": True, "addressMatches": None,
                                   "phoneMatches": {"value": login["phone"].lstrip("+"), "matches": True}},
            },
        },
        "RECORD_CREATED": lambda: {"recordId": record_id, "recordType": "SOCIAL_SECURITY"},
        "RECORD_COMPLETED": lambda: {"recordId": record_id, "recordType": "SOCIAL_SECURITY",
                                     "status": "COMPLETED", "resultCode": "SUCCESS",
                                     "resultMessage": "The social security record was retrieved."},
        "USER_SESSION_COMPLETED": lambda: {
            "session": session,
            "payload": {
                "metadata": session,
                "forms": [],
                "accounts": [{"id": account["id"], "providerId": account["providerId"], "payload": {}}],
                "archives": [],
            },
        },
        "USER_SESSION_RESET": lambda: {"session": {**session, "status": "IN_PROGRESS"}},
    }
    builder = builders.get(event_type)
    if builder is not None:
        return envelope(event_type, builder(), now)
    # The *_ADDED events of a count: how many items of the kind the account's sync made.
    kind = event_type.removesuffix("_ADDED").lower()
    return envelope(event_type, {**on_account, "count": len(made.get(kind) or []) or 1}, now)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _ident(kind: str, account_id: str) -> str:
    return f"{kind[0]}-" + hashlib.sha256(f"{account_id}:{kind}".encode()).hexdigest()[:32]
