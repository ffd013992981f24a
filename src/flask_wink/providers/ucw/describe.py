"""What the Universal Connect Widget's messages mean, for people: one line for each (the provider's
``describe``, see :func:`flask_wink.summaries.summarize_event`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...summaries import ERROR, INFO, OK, PROGRESS, EventSummary

#: UCW's ``connectionStatus`` numbers the pages name (those its widget sends in the flows the
#: emulator plays: a login refused, a second factor asked, a connection made); others are shown
#: as their number.
UCW_CONNECTION_STATUSES = {2: "denied", 3: "challenged", 6: "connected"}


def describe_event(kind: str, name: str, payload: Any, status: str | None = None) -> EventSummary:
    """What one of the widget's messages means. ``status``: the connection's last known status,
    which says whether UCW confirmed a connection the widget reported."""
    payload = payload if isinstance(payload, Mapping) else {}
    if name == "connect/memberConnected":
        if status == "CONNECTED":
            return EventSummary("Bank connection confirmed by UCW", "confirmed", OK)
        if status == "NOT_CONFIRMED":
            return EventSummary(
                "Bank connection not confirmed by UCW — not trusted, nothing fetched", "not confirmed", ERROR
            )
        if status == "DELETED":
            return EventSummary("Bank connection confirmed by UCW, since deleted", "deleted", INFO)
        return EventSummary(
            "The widget reports a bank connection — confirming with UCW…", "confirming", PROGRESS
        )
    if name == "connect/memberError":
        return EventSummary("The bank refused the login", "failed", ERROR)
    if name == "connect/memberStatusUpdate":
        code = payload.get("connectionStatus")
        shown = UCW_CONNECTION_STATUSES.get(code, f"status {code}") if isinstance(code, int) else "changed"
        tone = OK if code == 6 else ERROR if code == 2 else INFO
        return EventSummary(f"Bank connection status: {shown}", shown, tone)
    if name == "connect/selectedInstitution":
        bank = payload.get("name") or "a bank"
        return EventSummary(f"Chose {bank}", "chosen", INFO)
    if name == "connect/institutionSearch":
        return EventSummary(f"Searched banks for “{payload.get('query') or ''}”", "searched", INFO)
    if name == "connect/stepChange":
        return EventSummary(
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
        return EventSummary(*simple[name])
    return EventSummary(f"Widget message {name}", "noted", INFO)
