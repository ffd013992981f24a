"""One line of plain English for each recorded event, and the words the quickstart's pages use.

The dashboard's timeline shows :func:`summarize` beside each event; the page's script never builds
a summary itself. What an event means is its provider's to say (its ``describe``, asked by
:func:`flask_wink.summaries.summarize_event`), so a provider the quickstart does not know still gets
a line of its own, or a generic one. A summary has a *tone* (``ok``, ``error``, ``progress``,
``info``), which colours its badge, and a badge text.

The data webhooks of one Smile task (``TASK_STARTED``, the ``*_ADDED`` events, ``TASK_FINISHED``)
are folded by the timeline into one row; :func:`data_fetch_summary` says what that row shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask_wink.providers.smile_wink.describe import (
    DATA_ADDED,
    DATA_WEBHOOKS,
    TASK_FINISHED,
    TASK_STARTED,
    count_of,
    data_fetch_summary,
    smile_provider_name,
)
from flask_wink.providers.ucw.sandbox.data import INSTITUTIONS as UCW_TEST_BANKS
from flask_wink.summaries import ERROR, INFO, OK, PROGRESS, summarize_event
from flask_wink.summaries import EventSummary as Summary

__all__ = [
    "DATA_ADDED",
    "DATA_WEBHOOKS",
    "ERROR",
    "INFO",
    "OK",
    "PROGRESS",
    "PROVIDER_TITLES",
    "TASK_FINISHED",
    "TASK_STARTED",
    "Summary",
    "action_row",
    "count_of",
    "data_fetch_summary",
    "institution_name",
    "provider_title",
    "smile_provider_name",
    "status_word",
    "summarize",
]

#: How each provider is named on the pages.
PROVIDER_TITLES = {"smile_wink": "Smile Wink", "ucw": "UCW", "smile_id": "Smile ID"}


def provider_title(provider: str) -> str:
    return PROVIDER_TITLES.get(provider, provider)


def summarize(provider: Any, kind: str, name: str, payload: Any, *, status: str | None = None) -> Summary:
    """The summary of one event of ``provider`` (the provider object, or None when it is not
    enabled). ``status`` is the last known status of the account, connection or verification the
    event is about, where the event alone cannot say (an account or bank connection the widget
    reports is confirmed, or not, by the kit's own call to Smile or UCW afterwards)."""
    return summarize_event(provider, kind, name, payload, status=status)


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
