"""What Smile ID's events mean, for people: one line for each (the provider's ``describe``, see
:func:`flask_wink.summaries.summarize_event`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...summaries import ERROR, INFO, OK, PROGRESS, EventSummary
from .results import describe

_REDIRECTS = {"success": "reported success", "cancelled": "reported cancelled", "fail": "reported a failure"}


def describe_event(kind: str, name: str, payload: Any, status: str | None = None) -> EventSummary:
    """What one of Smile ID's events means: a result (signed), the confirmation the kit asked
    for, the browser's start and return."""
    payload = payload if isinstance(payload, Mapping) else {}
    if name == "job_status":
        if payload.get("matches") is True:
            return EventSummary("Smile ID confirmed the result", "confirmed", OK)
        why = payload.get("reason") or "it does not match"
        return EventSummary(f"Smile ID did not confirm the result: {why}", "not confirmed", ERROR)
    if name == "linkStarted":
        return EventSummary("Identity verification started", "started", PROGRESS)
    if name == "redirected":
        reported = _REDIRECTS.get(str(payload.get("status")), "came back")
        return EventSummary(f"Back from Smile ID: {reported} (the signed result decides)", "came back", INFO)
    if name in ("final_result", "interim_result"):
        code = str(payload.get("ResultCode") or "")
        known = describe(code)
        text = payload.get("ResultText") or (known[1] if known else "unknown result")
        result = f"{code} {text}".strip()
        if name == "interim_result":
            return EventSummary(f"Interim result: {result}", "interim", PROGRESS)
        outcome = known[0].value if known else "rejected"
        words = {
            "approved": ("Identity approved", OK),
            "rejected": ("Identity rejected", ERROR),
            "provisional": ("Identity under review", PROGRESS),
            "cancelled": ("Verification cancelled", INFO),
        }
        head, tone = words.get(outcome, (f"Verification {outcome}", INFO))
        return EventSummary(f"{head} ({result})", outcome, tone)
    what = "Callback" if kind == "webhook" else "Browser event"
    return EventSummary(f"{what} {name}", "received", INFO)
