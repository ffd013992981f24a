"""What happens to an event after it is stored: account status, then the signals.

The same code runs in the request that stored the event (the default), in ``flask wink worker``
(with ``WINK_HANDLE_EVENTS = "worker"``), and in ``flask wink events retry``. A receiver that
raises never loses the event: the event is marked failed with the error and can be retried.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from flask import Flask

from . import signals
from .store import AccountChange, StoredEvent

if TYPE_CHECKING:
    from .extension import WinkState

log = logging.getLogger("flask_wink")


def process_name() -> str:
    """Who claims events: host, pid and a random part, unique per process start."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def handle_event(app: Flask, state: WinkState, event: StoredEvent) -> list[str]:
    """Run the built-in status tracking and every signal receiver; record the outcome.

    Returns the errors (empty when every receiver succeeded).
    """
    errors: list[str] = []
    for tracker in TRACKERS:
        try:
            tracker(app, state, event, errors)
        except Exception as exc:  # the database or a bug: the event stays stored, marked failed
            log.exception("%s failed for event %s", tracker.__name__, event.id)
            errors.append(f"{tracker.__name__}: {exc!r}")
    for signal, kwargs in _signals_for(event):
        _send(app, signal, errors, event=event, **kwargs)
    if errors:
        state.store.mark_failed(event.id, "; ".join(errors))
    else:
        state.store.mark_handled(event.id)
    return errors


def _signals_for(event: StoredEvent) -> list[tuple[Any, dict[str, Any]]]:
    payload = event.payload
    if event.kind == "callback":
        found = [(signals.callback_received, {"name": event.name, "args": payload})]
        if event.name == "onAccountConnected":
            found.append(
                (signals.account_connected, {"account_id": payload.get("accountId"), "source": "widget"})
            )
        elif event.name == "onUploadsCreated":
            found.append((signals.uploads_created, {"uploads": payload.get("uploads")}))
        elif event.name == "onClose":
            found.append((signals.widget_closed, {"reason": payload.get("reason")}))
        return found
    data = payload.get("data") or {}
    found = [(signals.webhook_received, {"type": event.name, "data": data})]
    if event.name == "ACCOUNT_CONNECTED":
        found.append((signals.account_connected, {"account_id": data.get("accountId"), "source": "webhook"}))
    return found


def account_change(
    state: WinkState, kind: str, name: str, payload: Any, smile_user_id: str | None
) -> AccountChange | None:
    """The account status an event reports, as the store records it; None when it reports none."""
    provider = state.provider
    if kind == "callback":
        # Only accounts of the caller's own Smile user: the browser cannot be trusted further.
        owner = smile_user_id
        if owner is None:
            return None
        update = provider.callback_account_update(name, payload)
    else:
        owner = None
        update = provider.webhook_account_update(payload)
    if update is None or len(update.account_id) > ACCOUNT_ID_MAX:
        return None  # not an account id this store can keep; the event itself is still stored
    return AccountChange.make(
        provider.name,
        update.account_id,
        update.status,
        replaces=provider.statuses_replaced_by(update.status),
        connected=update.connected,
        owner=owner,
        upstream_user_id=_fits(owner or smile_user_id, ACCOUNT_ID_MAX),
        institution_id=_fits(update.provider_id, SHORT_TEXT_MAX),
        error_code=_fits(update.error_code, SHORT_TEXT_MAX),
    )


#: Column sizes of wink_accounts: an event whose fields do not fit is stored all the same (a
#: status whose account id is too long is not tracked; a too long provider or error code is cut).
ACCOUNT_ID_MAX = 200
SHORT_TEXT_MAX = 100


def _fits(value: str | None, limit: int) -> str | None:
    return value[:limit] if value is not None else None


def _track_account(app: Flask, state: WinkState, event: StoredEvent, errors: list[str]) -> None:
    change = account_change(state, event.kind, event.name, event.payload, event.upstream_user_id)
    if change is None:
        return
    changed = event.account_changed
    if changed is None:  # not recorded with the event: record it now
        changed = state.store.record_account(change)
    if changed:
        _send(
            app,
            signals.account_status_changed,
            errors,
            event=event,
            account_id=change.account_id,
            status=change.status,
            smile_user_id=change.upstream_user_id,
        )


def _send(app: Flask, signal, errors: list[str], **kwargs: Any) -> None:
    for receiver in signal.receivers_for(app):
        try:
            receiver(app, **kwargs)
        except Exception as exc:
            log.exception("a receiver of %s failed for event %s", signal.name, kwargs["event"].id)
            name = getattr(receiver, "__qualname__", repr(receiver))
            errors.append(f"{signal.name} -> {name}: {exc!r}")


#: What the kit itself keeps up to date from each event, before the signals are sent. Each is
#: ``tracker(app, state, event, errors)``; it may append to ``errors`` or send signals via ``_send``.
TRACKERS: list = [_track_account]


def register_tracker(tracker) -> None:
    """Add a built-in tracker (account status, archive status, fetched data...)."""
    if tracker not in TRACKERS:
        TRACKERS.append(tracker)


def run_worker(
    app: Flask,
    *,
    once: bool = False,
    batch: int = 50,
    poll: float = 0.5,
    lease: float = 300.0,
    stop: threading.Event | None = None,
) -> int:
    """Claim pending events and handle them until ``stop`` is set (or, with ``once``, none are left).

    Returns how many events were handled.
    """
    from .extension import get_state

    worker = process_name()
    handled = 0
    with app.app_context():
        state = get_state(app)
        while stop is None or not stop.is_set():
            claimed = state.store.claim_events(worker, limit=batch, lease=lease)
            for event in claimed:
                handle_event(app, state, event)
                handled += 1
            if not claimed:
                if once:
                    break
                time.sleep(poll)
        state.store.flush()
    return handled
