"""What the widget's callbacks mean once stored: Smile Wink's own signals for them."""

from __future__ import annotations

from typing import Any

from ... import signals as core_signals
from ...provider import CALLBACK
from ...state import WinkState
from ...store import StoredEvent
from . import signals


def send_widget_signals(app: Any, state: WinkState, event: StoredEvent, errors: list[str]) -> None:
    """``uploads_created`` for onUploadsCreated and ``widget_closed`` for onClose."""
    if event.kind != CALLBACK or not isinstance(event.payload, dict):
        return
    if event.name == "onUploadsCreated":
        uploads = event.payload.get("uploads")
        core_signals.send(app, signals.uploads_created, errors, event=event, uploads=uploads)
    elif event.name == "onClose":
        core_signals.send(app, signals.widget_closed, errors, event=event, reason=event.payload.get("reason"))
