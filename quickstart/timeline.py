"""The dashboard's timeline: an app user's events across every provider, newest first, each with its
summary (:mod:`quickstart.summaries`), and the current status of each of their accounts, bank
connections and identity verifications.

The data webhooks of one Smile task are folded into one row. What a row shows of a payload is what
the kit's listing shows (a provider's ``shown_payload``: UCW's connection ids are masked).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_wink.providers.smile_id.results import describe
from flask_wink.providers.ucw.events import reported_connection
from flask_wink.store.values import iso

from .summaries import (
    DATA_WEBHOOKS,
    ERROR,
    INFO,
    OK,
    PROGRESS,
    TASK_FINISHED,
    TASK_STARTED,
    Summary,
    data_fetch_summary,
    institution_name,
    provider_title,
    smile_provider_name,
    status_word,
    summarize,
)

#: How many events the timeline reads (its newest); older ones are in ``/wink/events``.
TIMELINE_EVENTS = 300


#: An event whose handler failed: retried by the kit itself ("failed"), or no more ("dead").
FAILED = ("failed", "dead")


@dataclass
class Row:
    """One line of the timeline: one event, or the data webhooks of one task folded together."""

    key: str
    provider: str
    kind: str
    name: str
    received_at: datetime
    summary: Summary
    #: The onUIEvent's own name, shown beside the callback's.
    detail: str | None = None
    payloads: list[Any] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    app_user_id: str | None = None
    handler_error: str | None = None
    #: The handler's attempts ran out: the event waits for ``flask wink events retry``.
    handler_dead: bool = False
    newest_id: int = 0

    @property
    def provider_title(self) -> str:
        return provider_title(self.provider)

    @property
    def iso(self) -> str:
        """When the row's newest event was received, ISO 8601 in UTC."""
        return iso(self.received_at)

    @property
    def folded(self) -> bool:
        return len(self.payloads) > 1 or self.name == "data-fetch"

    @property
    def pretty_payload(self) -> str:
        shown = (
            self.payloads[0]
            if len(self.payloads) == 1 and not self.folded
            else [{"name": n, "payload": p} for n, p in zip(self.names, self.payloads, strict=True)]
        )
        return json.dumps(shown, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _shown(providers: Mapping[str, Any], event: Any) -> Any:
    shown_payload = getattr(providers.get(event.provider), "shown_payload", None)
    if shown_payload is None or event.payload_error is not None:
        return event.payload
    return shown_payload(event.kind, event.name, event.payload)


def _ucw_connection(payload: Any) -> str | None:
    """The account key of the connection a UCW ``memberConnected`` names (the key it was stored
    with, or that of the ids an older event carries)."""
    reported = reported_connection(payload)
    return reported[0] if reported is not None else None


def _task_source(payload: Any) -> str:
    data = payload.get("data") if isinstance(payload, Mapping) else None
    data = data if isinstance(data, Mapping) else {}
    return str(data.get("sourceId") or data.get("accountId") or "")


def build_rows(
    events: Iterable[Any], providers: Mapping[str, Any], accounts: Iterable[Mapping[str, Any]] = ()
) -> list[Row]:
    """The timeline's rows for ``events`` (the store's, any order), newest first."""
    status_of = {(a["provider"], a["accountId"]): a["status"] for a in accounts}
    rows: list[Row] = []
    open_tasks: dict[tuple, Row] = {}
    for event in sorted(events, key=lambda e: e.id):  # oldest first, so a task folds in order
        shown = _shown(providers, event)
        if event.provider == "smile_wink" and event.kind == "webhook" and event.name in DATA_WEBHOOKS:
            task = (event.upstream_user_id, _task_source(event.payload))
            row = open_tasks.get(task)
            if row is None or event.name == TASK_STARTED and TASK_STARTED in row.names:
                row = Row(
                    key=f"task-{event.id}",
                    provider=event.provider,
                    kind=event.kind,
                    name="data-fetch",
                    received_at=event.received_at,
                    summary=Summary("", "", INFO),
                    app_user_id=event.app_user_id,
                )
                open_tasks[task] = row
                rows.append(row)
            row.names.append(event.name)
            row.payloads.append(shown)
            row.received_at, row.newest_id = event.received_at, event.id
            row.summary = data_fetch_summary(list(zip(row.names, row.payloads, strict=True)))
            if event.state in FAILED:
                row.handler_error = event.error or "a handler failed"
                row.handler_dead = event.state == "dead"
            if event.name == TASK_FINISHED:
                del open_tasks[task]
            continue
        status = None
        if event.provider == "ucw" and event.name == "connect/memberConnected":
            status = status_of.get(("ucw", _ucw_connection(event.payload) or ""))
        elif event.provider == "smile_wink" and event.name == "onAccountConnected":
            claimed = event.payload.get("accountId") if isinstance(event.payload, Mapping) else None
            status = status_of.get(("smile_wink", claimed)) if isinstance(claimed, str) else None
        payload = event.payload if event.payload_error is None else {}
        provider = providers.get(event.provider)
        detail = None
        if event.provider == "smile_wink" and event.name == "onUIEvent" and isinstance(payload, Mapping):
            detail = str(payload.get("eventName") or "") or None
        rows.append(
            Row(
                key=f"event-{event.id}",
                provider=event.provider,
                kind=event.kind,
                name=event.name,
                received_at=event.received_at,
                detail=detail,
                summary=summarize(provider, event.kind, event.name, payload, status=status),
                payloads=[shown],
                names=[event.name],
                app_user_id=event.app_user_id,
                handler_error=(event.error or "a handler failed") if event.state in FAILED else None,
                handler_dead=event.state == "dead",
                newest_id=event.id,
            )
        )
    return sorted(rows, key=lambda r: r.newest_id, reverse=True)


# -- what each account, connection and verification stands at -------------------------------

#: provider -> (heading, status -> tone).
STATUS_GROUPS: dict[str, tuple[str, dict[str, str]]] = {
    "smile_wink": (
        "Accounts",
        {
            "CONNECTED": OK,
            "ERROR": ERROR,
            "PENDING": PROGRESS,
            "AWAITING_MFA": PROGRESS,
            "DISCONNECTED": INFO,
            # The widget said connected: Smile has not confirmed it yet, or did not.
            "UNCONFIRMED": PROGRESS,
            "NOT_CONFIRMED": ERROR,
        },
    ),
    "ucw": (
        "Bank connections",
        {"CONNECTED": OK, "NOT_CONFIRMED": ERROR, "UNCONFIRMED": PROGRESS, "DELETED": INFO},
    ),
    "smile_id": (
        "Identity verifications",
        {
            "approved": OK,
            "rejected": ERROR,
            "pending": PROGRESS,
            "provisional": PROGRESS,
            "cancelled": INFO,
            "expired": INFO,
        },
    ),
}


def status_groups(
    accounts: Iterable[Mapping[str, Any]],
    enabled: Iterable[str],
    bank_names: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The accounts grouped by provider (each enabled provider has its group, maybe empty), each
    with its label (``Upwork``, ``MX Bank``), its status in words and that status's tone.
    ``bank_names`` gives a UCW connection's institution name by its key, where UCW gave one."""
    groups = []
    listed = list(accounts)
    for provider in (p for p in STATUS_GROUPS if p in set(enabled)):
        heading, tones = STATUS_GROUPS[provider]
        items = []
        for account in (a for a in listed if a["provider"] == provider):
            label = account.get("institutionId") or ""
            detail = account.get("errorCode") or ""
            if provider == "smile_wink":
                label = smile_provider_name(label) if label else "Smile account"
            elif provider == "ucw":
                given = (bank_names or {}).get(account["accountId"])
                label = institution_name({"institutionName": given, "institutionId": label})
            elif provider == "smile_id":
                label = "Verification"
                # The result's meaning ("Exact ID match"), not its code.
                known = describe(str(detail)) if detail else None
                detail = known[1] if known else detail
            items.append(
                {
                    **account,
                    "label": label or provider_title(provider),
                    "word": status_word(account["status"]),
                    "detail": detail,
                    "tone": tones.get(account["status"], INFO),
                }
            )
        groups.append(
            {"provider": provider, "title": provider_title(provider), "heading": heading, "accounts": items}
        )
    return groups


def version_tag(
    newest_event_id: int, accounts: Iterable[Mapping[str, Any]], filters: Mapping[str, Any]
) -> str:
    """The ETag of a timeline: it changes when an event is added or an account's status moves."""
    seen = [
        newest_event_id,
        sorted(filters.items()),
        [(a["provider"], a["accountId"], a["status"], a["updatedAt"]) for a in accounts],
    ]
    return hashlib.sha256(json.dumps(seen, default=str).encode()).hexdigest()[:32]
