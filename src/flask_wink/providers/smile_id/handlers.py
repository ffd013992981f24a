"""What runs after a Smile ID event is stored: the provider's signals."""

from __future__ import annotations

from typing import Any

from ... import signals as core_signals
from ...provider import WEBHOOK
from . import signals
from .results import FINAL_RESULT, INTERIM_RESULT, JOB_STATUS, NAME, classify, is_true, verification_id


def send_result_signals(app: Any, state: Any, event: Any, errors: list[str]) -> None:
    """``result_received`` for every stored callback; for every ``job_status`` record,
    ``result_confirmed`` or ``result_not_confirmed``, and ``verification_status_changed`` when it
    moved a verification's status (known when the status was recorded with the event)."""
    provider = state.providers.get(event.provider)
    if provider is None or provider.name != NAME or event.kind != WEBHOOK:
        return
    payload = event.payload if isinstance(event.payload, dict) else {}
    if event.name in (FINAL_RESULT, INTERIM_RESULT):
        final = is_true(payload.get("IsFinalResult"))
        core_signals.send(
            app,
            signals.result_received,
            errors,
            event=event,
            job_id=verification_id(payload),
            smile_job_id=payload.get("SmileJobID"),
            result_code=payload.get("ResultCode"),
            status=classify(str(payload.get("ResultCode")), final).value,
            final=event.name == FINAL_RESULT,
        )
        return
    if event.name != JOB_STATUS:
        return
    if payload.get("matches") is not True:
        core_signals.send(app, signals.result_not_confirmed, errors, event=event,
                          callback_event_id=payload.get("callbackEventId"), job_id=payload.get("jobId"),
                          reason=payload.get("reason"))
        return
    # The core read the status once before the handlers ran; asked again only when called alone.
    update = (event.status_update if event.status_read
              else provider.status_update(event.kind, event.name, payload))
    if update is None:
        return
    core_signals.send(
        app,
        signals.result_confirmed,
        errors,
        event=event,
        callback_event_id=payload.get("callbackEventId"),
        job_id=update.account_id,
        smile_job_id=payload.get("SmileJobID"),
        result_code=payload.get("ResultCode"),
        status=update.status,
        final=payload.get("jobComplete") is True,
    )
    if event.account_changed:
        core_signals.send(
            app,
            signals.verification_status_changed,
            errors,
            event=event,
            job_id=update.account_id,
            status=update.status,
            upstream_user_id=event.upstream_user_id,
        )
