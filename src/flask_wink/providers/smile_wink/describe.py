"""What Smile Wink's events mean, for people: one line for each widget callback and webhook (the
provider's ``describe``, see :func:`flask_wink.summaries.summarize_event`), and one for the data
webhooks of one task taken together (:func:`data_fetch_summary`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...provider import CALLBACK
from ...summaries import ERROR, INFO, OK, PROGRESS, EventSummary
from .sandbox.data import PROVIDERS as SMILE_PROVIDERS

#: Smile's data webhooks: one task's are folded into one timeline row.
TASK_STARTED, TASK_FINISHED = "TASK_STARTED", "TASK_FINISHED"
#: ``*_ADDED`` webhook -> the kind of data it adds (as the fetched document names it).
DATA_ADDED = {
    "IDENTITY_ADDED": "identities",
    "EMPLOYMENTS_ADDED": "employments",
    "INCOMES_ADDED": "incomes",
    "TRANSACTIONS_ADDED": "transactions",
    "DOCUMENTS_ADDED": "documents",
    "RATING_ADDED": "ratings",
    "CONTRIBUTIONS_ADDED": "contributions",
}
DATA_WEBHOOKS = frozenset({TASK_STARTED, TASK_FINISHED, *DATA_ADDED})

#: Plural -> singular, for "1 identity" and "2 identities" (:func:`count_of`).
SINGULAR = {
    "identities": "identity",
    "employments": "employment",
    "incomes": "income",
    "transactions": "transaction",
    "documents": "document",
    "ratings": "rating",
    "contributions": "contribution",
    "uploads": "upload",
    "archives": "archive",
    "accounts": "account",
    "links": "link",
}


def count_of(n: int, plural: str) -> str:
    """``1 identity``, ``2 identities``, ``0 ratings``: a count with its noun in the right number."""
    noun = SINGULAR.get(plural, plural) if n == 1 else plural
    return f"{n} {noun}"



def describe_event(kind: str, name: str, payload: Any, status: str | None = None) -> EventSummary:
    """What one of Smile Wink's events means. ``status``: the account's last known status, which
    says whether Smile confirmed a connection the widget reported."""
    payload = payload if isinstance(payload, Mapping) else {}
    return _callback(name, payload, status) if kind == CALLBACK else _webhook(name, payload)


def smile_provider_name(provider_id: Any) -> str:
    """Smile's name for a provider id (``upwork`` -> ``Upwork``), else the id as given."""
    if not isinstance(provider_id, str) or not provider_id:
        return "the provider"
    for known in SMILE_PROVIDERS:
        if known["id"] == provider_id:
            return known["name"]
    return provider_id[:1].upper() + provider_id[1:]


def _first_provider(data: Mapping[str, Any]) -> Any:
    providers = data.get("providers")
    return providers[0] if isinstance(providers, list) and providers else data.get("providerId")


def _upload_names(payload: Mapping[str, Any]) -> str:
    uploads = payload.get("uploads")
    names = (
        [str(u.get("name") or u.get("fileName") or "a document") for u in uploads if isinstance(u, Mapping)]
        if isinstance(uploads, list)
        else []
    )
    return ", ".join(names) or "a document"


_CLOSE_REASONS = {"exit": "after finishing", "close": "by the user", "error": "after an error"}

#: onUIEvent ``eventName`` -> (what it says, its badge, tone); ``{p}`` is the account's provider.
UI_EVENTS = {
    "OPEN": ("Widget opened", "opened", INFO),
    "CLOSE": ("Widget closed", "closed", INFO),
    "CONSENT_AGREED": ("Agreed to share data", "agreed", INFO),
    "PROVIDER_SELECTED": ("Chose a provider", "chosen", INFO),
    "LOGIN_SUBMITTED": ("Login submitted", "logging in", PROGRESS),
    "MFA_REQUIRED": ("Logged in to {p} — verification code requested", "code asked", PROGRESS),
    "MFA_SUBMITTED": ("Verification code sent to {p}", "code sent", PROGRESS),
    "ACCOUNT_CONNECTED": ("{p} account connected in the widget", "connected", OK),
    "ACCOUNT_ERROR": ("{p} login failed in the widget", "failed", ERROR),
    "ACCOUNT_REMOVED": ("{p} account removed in the widget", "removed", INFO),
    "UPLOAD_SELECTED": ("Document chosen for upload", "chosen", INFO),
    "UPLOADS_CREATED": ("Document uploaded in the widget", "uploaded", OK),
    "UPLOADS_REMOVED": ("Upload removed in the widget", "removed", INFO),
}


def _callback(name: str, payload: Mapping[str, Any], status: str | None = None) -> EventSummary:
    p = smile_provider_name(payload.get("providerId"))
    if name == "onUIEvent":
        event = str(payload.get("eventName") or "")
        account = payload.get("account") if isinstance(payload.get("account"), Mapping) else {}
        text, badge, tone = UI_EVENTS.get(event, (f"Widget UI event {event or '(unnamed)'}", "noted", INFO))
        text = text.format(p=smile_provider_name(account.get("providerId")))
        if event == "ACCOUNT_ERROR" and account.get("errorCode"):
            text += f" ({account['errorCode']})"
        return EventSummary(text, badge, tone)
    if name == "onAccountCreated":
        return EventSummary(f"Logging in to {p}", "pending", PROGRESS)
    if name == "onAccountConnected":  # a claim: what Smile said when the kit asked is the status
        if status == "CONNECTED":
            return EventSummary(f"{p} account connected, confirmed by Smile", "confirmed", OK)
        if status == "NOT_CONFIRMED":
            return EventSummary(
                f"The widget reports a {p} account connected — not confirmed by Smile, not trusted",
                "not confirmed",
                ERROR,
            )
        if status == "DISCONNECTED":
            return EventSummary(f"{p} account connected, since disconnected", "disconnected", INFO)
        return EventSummary(
            f"The widget reports a {p} account connected — confirming with Smile…", "confirming", PROGRESS
        )
    if name == "onAccountError":
        code = payload.get("errorCode") or "error"
        return EventSummary(f"Could not link {p} ({code})", "failed", ERROR)
    if name == "onAccountRemoved":
        return EventSummary(f"{p} account disconnected in the widget", "disconnected", INFO)
    if name == "onTokenExpired":
        return EventSummary("Link token expired — a new one is minted", "renewed", INFO)
    if name == "onClose":
        reason = _CLOSE_REASONS.get(str(payload.get("reason")), "")
        return EventSummary(
            f"Widget closed {reason}".strip(), "closed", ERROR if payload.get("reason") == "error" else INFO
        )
    if name == "onUploadsCreated":
        return EventSummary(f"Uploaded {_upload_names(payload)}", "uploaded", OK)
    if name == "onUploadsRemoved":
        return EventSummary(f"Removed the upload {_upload_names(payload)}", "removed", INFO)
    return EventSummary(f"Widget callback {name}", "received", INFO)


def _webhook(name: str, payload: Mapping[str, Any]) -> EventSummary:
    data = payload.get("data") if isinstance(payload.get("data"), Mapping) else {}
    p = smile_provider_name(_first_provider(data))
    login = f"{data['loginName']}'s " if isinstance(data.get("loginName"), str) and data["loginName"] else ""
    head = f"Webhook {name} verified"
    if name == "ACCOUNT_CONNECTED":
        return EventSummary(f"{head} — {login}{p} account connected", "connected", OK)
    if name == "ACCOUNT_CREATED":
        return EventSummary(f"{head} — {p} account created", "pending", PROGRESS)
    if name == "ACCOUNT_FAILED":
        why = data.get("errorMessage") or data.get("errorCode") or "login failed"
        return EventSummary(f"{head} — {login}{p} login failed: {why}", "failed", ERROR)
    if name == "ACCOUNT_DISCONNECTED":
        return EventSummary(f"{head} — {p} account disconnected", "disconnected", INFO)
    if name == "USER_CREATED":
        return EventSummary(f"{head} — Smile user created", "created", INFO)
    if name == "ARCHIVE_STARTED":
        return EventSummary(f"{head} — document being analysed", "analysing", PROGRESS)
    if name == "ARCHIVE_ANALYZED":
        return EventSummary(f"{head} — document analysed", "analysed", OK)
    if name == "ARCHIVE_FAILED":
        why = data.get("errorMessage") or data.get("errorCode") or "unreadable"
        return EventSummary(f"{head} — document not analysed: {why}", "failed", ERROR)
    if name == "ARCHIVE_REVOKED":
        return EventSummary(f"{head} — document removed", "removed", INFO)
    if name == "INVITE_INVITED":
        return EventSummary(f"{head} — invitation sent", "invited", INFO)
    if name == "INVITE_LINKED":
        return EventSummary(f"{head} — invitation accepted, account linked", "linked", OK)
    if name in DATA_WEBHOOKS:
        return data_fetch_summary([(name, payload)])
    return EventSummary(head, "verified", INFO)


def data_fetch_summary(events: list[tuple[str, Any]]) -> EventSummary:
    """One row for the data webhooks of one task (oldest first): what was added, and whether the
    task finished ("Data fetched: 12 contributions, 2 documents") or is still under way."""
    counts: dict[str, int] = {}
    finished: Mapping[str, Any] | None = None
    provider: Any = None
    for name, payload in events:
        data = payload.get("data") if isinstance(payload, Mapping) else None
        data = data if isinstance(data, Mapping) else {}
        provider = provider or _first_provider(data)
        if name in DATA_ADDED:
            kind = DATA_ADDED[name]
            count = data.get("count")
            counts[kind] = counts.get(kind, 0) + (count if isinstance(count, int) and count >= 0 else 1)
        elif name == TASK_FINISHED:
            finished = data
    if finished is not None and isinstance(finished.get("data"), Mapping):
        # The task's own totals (``{"IDENTITIES": 1, ...}``) win over what the webhooks added up.
        totals = {str(k).lower(): v for k, v in finished["data"].items() if isinstance(v, int)}
        counts = totals or counts
    what = ", ".join(count_of(n, kind) for kind, n in counts.items()) or "nothing new"
    source = f" from {smile_provider_name(provider)}" if provider else ""
    if finished is None:
        return EventSummary(f"Fetching data{source}… {what} so far", "fetching", PROGRESS)
    if str(finished.get("status") or "SUCCEEDED").upper() not in ("SUCCEEDED", "SUCCESS"):
        code = finished.get("errorCode") or finished.get("status")
        return EventSummary(f"Data fetch{source} failed ({code}); {what} added", "failed", ERROR)
    return EventSummary(f"Data fetched{source}: {what}", "fetched", OK)
