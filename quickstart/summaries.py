"""One line of plain English for each recorded event, for every provider the quickstart carries.

The dashboard's timeline shows :func:`summarize` beside each event; the page's script never builds
a summary itself, so this module is the one place that says what an event means. A summary has a
*tone* (``ok``, ``error``, ``progress``, ``info``), which colours its badge, and a badge text.

The data webhooks of one Smile task (``TASK_STARTED``, the ``*_ADDED`` events, ``TASK_FINISHED``)
are folded by the timeline into one row; :func:`data_fetch_summary` says what that row shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_wink.providers.smile_id.results import describe
from flask_wink.providers.smile_wink.sandbox.data import PROVIDERS as SMILE_PROVIDERS
from flask_wink.providers.ucw.sandbox.data import INSTITUTIONS as UCW_TEST_BANKS

OK, ERROR, PROGRESS, INFO = "ok", "error", "progress", "info"

#: How each provider is named on the pages.
PROVIDER_TITLES = {"smile_wink": "Smile Wink", "ucw": "UCW", "smile_id": "Smile ID"}

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


@dataclass(frozen=True, slots=True)
class Summary:
    """What a timeline row says: the line itself, its badge's text and its tone."""

    text: str
    badge: str
    tone: str


def provider_title(provider: str) -> str:
    return PROVIDER_TITLES.get(provider, provider)


def count_of(n: int, plural: str) -> str:
    """``1 identity``, ``2 identities``, ``0 ratings``: a count with its noun in the right number."""
    noun = SINGULAR.get(plural, plural) if n == 1 else plural
    return f"{n} {noun}"


def summarize(provider: str, kind: str, name: str, payload: Any, *, status: str | None = None) -> Summary:
    """The summary of one event. ``status`` is the last known status of the account, connection
    or verification the event is about, where the event alone cannot say (an account or bank
    connection the widget reports is confirmed, or not, by the kit's own call to Smile or UCW
    afterwards)."""
    payload = payload if isinstance(payload, Mapping) else {}
    if provider == "smile_wink":
        return _smile_callback(name, payload, status) if kind == "callback" else _smile_webhook(name, payload)
    if provider == "ucw":
        return _ucw(name, payload, status)
    if provider == "smile_id":
        return _smile_id(kind, name, payload)
    what = "Webhook" if kind == "webhook" else "Browser event"
    return Summary(f"{what} {name}", "received", INFO)


# -- Smile Wink -------------------------------------------------------------------------------


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
_UI_EVENTS = {
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


def _smile_callback(name: str, payload: Mapping[str, Any], status: str | None = None) -> Summary:
    p = smile_provider_name(payload.get("providerId"))
    if name == "onUIEvent":
        event = str(payload.get("eventName") or "")
        account = payload.get("account") if isinstance(payload.get("account"), Mapping) else {}
        text, said, tone = _UI_EVENTS.get(event, (f"Widget UI event {event or '(unnamed)'}", "noted", INFO))
        text = text.format(p=smile_provider_name(account.get("providerId")))
        if event == "ACCOUNT_ERROR" and account.get("errorCode"):
            text += f" ({account['errorCode']})"
        return Summary(text, said, tone)
    if name == "onAccountCreated":
        return Summary(f"Logging in to {p}", "pending", PROGRESS)
    if name == "onAccountConnected":  # a claim: what Smile said when the kit asked is the status
        if status == "CONNECTED":
            return Summary(f"{p} account connected, confirmed by Smile", "confirmed", OK)
        if status == "NOT_CONFIRMED":
            return Summary(
                f"The widget reports a {p} account connected — not confirmed by Smile, not trusted",
                "not confirmed",
                ERROR,
            )
        if status == "DISCONNECTED":
            return Summary(f"{p} account connected, since disconnected", "disconnected", INFO)
        return Summary(f"The widget reports a {p} account connected — confirming with Smile…", "confirming",
                       PROGRESS)
    if name == "onAccountError":
        code = payload.get("errorCode") or "error"
        return Summary(f"Could not link {p} ({code})", "failed", ERROR)
    if name == "onAccountRemoved":
        return Summary(f"{p} account disconnected in the widget", "disconnected", INFO)
    if name == "onTokenExpired":
        return Summary("Link token expired — a new one is minted", "renewed", INFO)
    if name == "onClose":
        reason = _CLOSE_REASONS.get(str(payload.get("reason")), "")
        return Summary(
            f"Widget closed {reason}".strip(), "closed", ERROR if payload.get("reason") == "error" else INFO
        )
    if name == "onUploadsCreated":
        return Summary(f"Uploaded {_upload_names(payload)}", "uploaded", OK)
    if name == "onUploadsRemoved":
        return Summary(f"Removed the upload {_upload_names(payload)}", "removed", INFO)
    return Summary(f"Widget callback {name}", "received", INFO)


def _smile_webhook(name: str, payload: Mapping[str, Any]) -> Summary:
    data = payload.get("data") if isinstance(payload.get("data"), Mapping) else {}
    p = smile_provider_name(_first_provider(data))
    login = f"{data['loginName']}'s " if isinstance(data.get("loginName"), str) and data["loginName"] else ""
    head = f"Webhook {name} verified"
    if name == "ACCOUNT_CONNECTED":
        return Summary(f"{head} — {login}{p} account connected", "connected", OK)
    if name == "ACCOUNT_CREATED":
        return Summary(f"{head} — {p} account created", "pending", PROGRESS)
    if name == "ACCOUNT_FAILED":
        why = data.get("errorMessage") or data.get("errorCode") or "login failed"
        return Summary(f"{head} — {login}{p} login failed: {why}", "failed", ERROR)
    if name == "ACCOUNT_DISCONNECTED":
        return Summary(f"{head} — {p} account disconnected", "disconnected", INFO)
    if name == "USER_CREATED":
        return Summary(f"{head} — Smile user created", "created", INFO)
    if name == "ARCHIVE_STARTED":
        return Summary(f"{head} — document being analysed", "analysing", PROGRESS)
    if name == "ARCHIVE_ANALYZED":
        return Summary(f"{head} — document analysed", "analysed", OK)
    if name == "ARCHIVE_FAILED":
        why = data.get("errorMessage") or data.get("errorCode") or "unreadable"
        return Summary(f"{head} — document not analysed: {why}", "failed", ERROR)
    if name == "ARCHIVE_REVOKED":
        return Summary(f"{head} — document removed", "removed", INFO)
    if name == "INVITE_INVITED":
        return Summary(f"{head} — invitation sent", "invited", INFO)
    if name == "INVITE_LINKED":
        return Summary(f"{head} — invitation accepted, account linked", "linked", OK)
    if name in DATA_WEBHOOKS:
        return data_fetch_summary([(name, payload)])
    return Summary(head, "verified", INFO)


def data_fetch_summary(events: list[tuple[str, Any]]) -> Summary:
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
        return Summary(f"Fetching data{source}… {what} so far", "fetching", PROGRESS)
    if str(finished.get("status") or "SUCCEEDED").upper() not in ("SUCCEEDED", "SUCCESS"):
        code = finished.get("errorCode") or finished.get("status")
        return Summary(f"Data fetch{source} failed ({code}); {what} added", "failed", ERROR)
    return Summary(f"Data fetched{source}: {what}", "fetched", OK)


# -- UCW ---------------------------------------------------------------------------------------

#: UCW's ``connectionStatus`` numbers the pages name (those its widget sends in the flows the
#: emulator plays: a login refused, a second factor asked, a connection made); others are shown
#: as their number.
UCW_CONNECTION_STATUSES = {2: "denied", 3: "challenged", 6: "connected"}


def _ucw(name: str, payload: Mapping[str, Any], status: str | None) -> Summary:
    if name == "connect/memberConnected":
        if status == "CONNECTED":
            return Summary("Bank connection confirmed by UCW", "confirmed", OK)
        if status == "NOT_CONFIRMED":
            return Summary(
                "Bank connection not confirmed by UCW — not trusted, nothing fetched", "not confirmed", ERROR
            )
        if status == "DELETED":
            return Summary("Bank connection confirmed by UCW, since deleted", "deleted", INFO)
        return Summary("The widget reports a bank connection — confirming with UCW…", "confirming", PROGRESS)
    if name == "connect/memberError":
        return Summary("The bank refused the login", "failed", ERROR)
    if name == "connect/memberStatusUpdate":
        code = payload.get("connectionStatus")
        said = UCW_CONNECTION_STATUSES.get(code, f"status {code}") if isinstance(code, int) else "changed"
        tone = OK if code == 6 else ERROR if code == 2 else INFO
        return Summary(f"Bank connection status: {said}", said, tone)
    if name == "connect/selectedInstitution":
        bank = payload.get("name") or "a bank"
        return Summary(f"Chose {bank}", "chosen", INFO)
    if name == "connect/institutionSearch":
        return Summary(f"Searched banks for “{payload.get('query') or ''}”", "searched", INFO)
    if name == "connect/stepChange":
        return Summary(
            f"Widget step: {payload.get('previous') or '?'} → {payload.get('current') or '?'}",
            "moved on",
            INFO,
        )
    simple = {
        "connect/loaded": ("Bank widget opened", "opened", INFO),
        "connect/enterCredentials": ("Bank login submitted", "logging in", PROGRESS),
        "connect/submitMFA": ("Second factor sent to the bank", "code sent", PROGRESS),
        "connect/backToSearch": ("Back to the bank search", "back", INFO),
        "connect/memberDeleted": ("Bank connection removed in the widget", "removed", INFO),
        "connect/updateCredentials": ("Bank login submitted again (refresh)", "logging in", PROGRESS),
        "connect/createMemberError": ("The bank connection could not be started", "failed", ERROR),
        "connect/oauthRequested": ("Sent to the bank's own login page", "bank login", PROGRESS),
        "connect/invalidData": ("The bank needs the user to act on their account", "action needed", ERROR),
        "connect/connected/primaryAction": ("Widget closed with Done", "done", INFO),
    }
    if name in simple:
        return Summary(*simple[name])
    return Summary(f"Widget message {name}", "noted", INFO)


# -- Smile ID ----------------------------------------------------------------------------------

_REDIRECTS = {"success": "reported success", "cancelled": "reported cancelled", "fail": "reported a failure"}


def _smile_id(kind: str, name: str, payload: Mapping[str, Any]) -> Summary:
    if name == "job_status":
        if payload.get("matches") is True:
            return Summary("Smile ID confirmed the result", "confirmed", OK)
        why = payload.get("reason") or "it does not match"
        return Summary(f"Smile ID did not confirm the result: {why}", "not confirmed", ERROR)
    if name == "linkStarted":
        return Summary("Identity verification started", "started", PROGRESS)
    if name == "redirected":
        said = _REDIRECTS.get(str(payload.get("status")), "came back")
        return Summary(f"Back from Smile ID: {said} (the signed result decides)", "came back", INFO)
    if name in ("final_result", "interim_result"):
        code = str(payload.get("ResultCode") or "")
        known = describe(code)
        text = payload.get("ResultText") or (known[1] if known else "unknown result")
        result = f"{code} {text}".strip()
        if name == "interim_result":
            return Summary(f"Interim result: {result}", "interim", PROGRESS)
        status = known[0].value if known else "rejected"
        words = {
            "approved": ("Identity approved", OK),
            "rejected": ("Identity rejected", ERROR),
            "provisional": ("Identity under review", PROGRESS),
            "cancelled": ("Verification cancelled", INFO),
        }
        head, tone = words.get(status, (f"Verification {status}", INFO))
        return Summary(f"{head} ({result})", status, tone)
    what = "Callback" if kind == "webhook" else "Browser event"
    return Summary(f"{what} {name}", "received", INFO)


# -- names and words the pages show ------------------------------------------------------------

#: An account's status (the store's word) as the pages say it.
STATUS_WORDS = {
    "CONNECTED": "connected",
    "NOT_CONFIRMED": "not confirmed",
    "UNCONFIRMED": "confirming",
    "DELETED": "deleted",
    "ERROR": "failed",
    "PENDING": "pending",
    "AWAITING_MFA": "waiting for a code",
    "DISCONNECTED": "disconnected",
}


def status_word(status: str) -> str:
    """``CONNECTED`` -> ``connected``, ``NOT_CONFIRMED`` -> ``not confirmed``; Smile ID's own
    statuses (``approved``) are words already."""
    return STATUS_WORDS.get(status, status.replace("_", " ").lower())


def institution_name(connection: Mapping[str, Any]) -> str:
    """A bank connection's institution by name (``MX Bank``, not ``mx_bank``): the name UCW gave,
    else the emulator's name for its id, else the id in words."""
    given = connection.get("institutionName")
    if isinstance(given, str) and given:
        return given
    institution = connection.get("institutionId")
    if not isinstance(institution, str) or not institution:
        return "Bank connection"
    for bank in UCW_TEST_BANKS:
        if bank.guid == institution:
            return bank.name
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", institution).replace("_", " ").replace("-", " ").split()
    return " ".join(w.upper() if len(w) <= 2 and w.islower() else w[:1].upper() + w[1:] for w in words)


#: What a Smile ID action's word means for the checklist.
_ACTION_PASSED = frozenset(
    {"verified", "returned", "approved", "passed", "completed", "provisionally approved"}
)
_ACTION_FAILED = frozenset({"not verified", "not returned", "failed", "rejected", "not approved"})
_ACTION_PENDING = frozenset({"under review", "pending"})


def action_row(name: str, said: str) -> dict[str, str]:
    """One line of a Smile ID result's Actions checklist: ``Verify_ID_Number: Verified`` ->
    ``{name: "Verify ID Number", said: "Verified", tone: "ok", mark: "✓"}``."""
    word = said.strip().lower()
    tone, mark = (
        (OK, "✓") if word in _ACTION_PASSED
        else (ERROR, "✕") if word in _ACTION_FAILED
        else (PROGRESS, "…") if word in _ACTION_PENDING
        else (INFO, "–")
    )
    return {"name": name.replace("_", " "), "said": said, "tone": tone, "mark": mark}
