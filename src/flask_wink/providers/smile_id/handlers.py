"""What runs after a Smile ID event is stored: the provider's signals."""

from __future__ import annotations

from typing import Any

from ... import signals as core_signals
from ...provider import INBOUND
from . import signals
from .results import FINAL_RESULT, INTERIM_RESULT, NAME


def send_result_signals(app: Any, state: Any, event: Any, errors: list[str]) -> None:
    """``result_received`` for every stored result; ``verification_status_changed`` when an event
    moved a verification's status (known when the status was recorded with the event)."""
    provider = state.providers.get(event.provider)
    if provider is None or provider.name != NAME:
        return
    update = provider.status_update(event.kind, event.name, event.payload)
    if event.kind == INBOUND and event.name in (FINAL_RESULT, INTERIM_RESULT) and update is not None:
        core_signals.send(
            app,
            signals.result_received,
            errors,
            event=event,
            job_id=update.account_id,
            smile_job_id=event.payload.get("SmileJobID"),
            result_code=event.payload.get("ResultCode"),
            status=update.status,
            final=event.name == FINAL_RESULT,
        )
    if update is not None and event.account_changed:
        core_signals.send(
            app,
            signals.verification_status_changed,
            errors,
            event=event,
            job_id=update.account_id,
            status=update.status,
            upstream_user_id=event.upstream_user_id,
        )
