"""A stored Smile ID callback is confirmed with Smile ID before it decides anything.

Smile ID signs a callback over ``timestamp + partner_id`` only, so its body proves nothing: anyone
who once received a signed callback (a job whose callback URL they chose) can post any result
with that signature. After a callback is stored, :func:`confirm_result` asks Smile ID itself
(``POST /job_status`` for the job and user the callback names; the answer is signed and checked)
and stores what it answered as a :data:`~.results.JOB_STATUS` event of its own, which refers to
the callback. Only such a record, when it matches the callback, moves the verification's status
(:meth:`~.provider.SmileID.status_update`); one that does not match is kept, shown with the
verification's results, and moves nothing.

It runs as a handler, after the answer to Smile ID: when Smile ID cannot be asked (down, a
timeout, our key refused, an answer not signed with our key) the callback's event is marked
failed and retried like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from ...flow import start_handling, status_with_event
from ...provider import WEBHOOK
from ...state import WinkState
from ...store import StoredEvent
from .errors import SmileIDAPIError, SmileIDError, SmileIDNotFound
from .results import FINAL_RESULT, INTERIM_RESULT, JOB_STATUS, NAME, VerificationStatus, classify, is_true

log = logging.getLogger("flask_wink")


def confirm_result(app: Flask, state: WinkState, event: StoredEvent, errors: list[str]) -> None:
    """Handler: ask Smile ID's ``job_status`` about a stored callback and record the answer."""
    if event.kind != WEBHOOK or event.name not in (FINAL_RESULT, INTERIM_RESULT):
        return
    provider = state.providers.get(NAME)
    if provider is None:
        return
    payload = event.payload if isinstance(event.payload, Mapping) else {}
    params = payload.get("PartnerParams")
    params = params if isinstance(params, Mapping) else {}
    job_id, user_id = params.get("job_id"), params.get("user_id")
    if not isinstance(job_id, str) or not job_id or not isinstance(user_id, str) or not user_id:
        _record(app, state, event, _outcome(event, job_id, None, "the callback names no job_id or user_id"))
        return
    try:
        answer = provider.client.job_status(user_id, job_id)
    except SmileIDNotFound:
        # Smile ID knows no such job for this user: there is nothing the callback could match.
        reason = f"Smile ID has no job {job_id[:100]} for this user"
        _record(app, state, event, _outcome(event, job_id, None, reason))
        return
    except SmileIDAPIError as exc:
        errors.append(f"Smile ID could not confirm the result: {exc}")
        return
    except SmileIDError as exc:
        errors.append(f"Smile ID could not be reached to confirm the result: {exc}")
        return
    _record(app, state, event, _outcome(event, job_id, answer, _mismatch(payload, answer, job_id, user_id)))


def _mismatch(claimed: Mapping[str, Any], answer: Mapping[str, Any], job_id: str, user_id: str) -> str | None:
    """Why the callback does not match what ``job_status`` says for that job and user, or None."""
    result = answer.get("result")
    complete = answer.get("job_complete") is True
    if not isinstance(result, Mapping):
        if is_true(claimed.get("IsFinalResult")):
            return "Smile ID says the job is not complete"
        return "Smile ID has no result for the job yet"
    params = result.get("PartnerParams")
    params = params if isinstance(params, Mapping) else {}
    if params.get("job_id") != job_id or params.get("user_id") != user_id:
        return "Smile ID answered for another job or user"
    claimed_job, said_job = claimed.get("SmileJobID"), result.get("SmileJobID")
    if said_job is not None and claimed_job != said_job:
        return f"Smile ID's job is {str(said_job)[:20]}, the callback says {str(claimed_job)[:20]}"
    code, said_code = str(claimed.get("ResultCode")), str(result.get("ResultCode"))
    if is_true(claimed.get("IsFinalResult")):
        if not complete:
            return "Smile ID says the job is not complete"
        if code != said_code:
            return f"Smile ID's result is {said_code[:20]}, the callback says {code[:20]}"
    elif not complete and code != said_code:
        return f"Smile ID's result is {said_code[:20]}, the callback says {code[:20]}"
    approved = classify(said_code, True) is VerificationStatus.APPROVED
    if complete and approved and answer.get("job_success") is not True:
        return "Smile ID's answer says the job did not succeed"
    return None


def _outcome(event: StoredEvent, job_id: Any, answer: Mapping[str, Any] | None, mismatch: str | None
             ) -> dict[str, Any]:
    """The record of one confirmation: what ``job_status`` said, and whether the callback matches."""
    result = answer.get("result") if answer else None
    result = result if isinstance(result, Mapping) else {}
    claimed = event.payload if isinstance(event.payload, Mapping) else {}
    return {
        "callbackEventId": event.id,
        "jobId": job_id if isinstance(job_id, str) else None,
        "matches": mismatch is None,
        "reason": mismatch,
        "claimedResultCode": claimed.get("ResultCode"),
        "jobComplete": bool(answer and answer.get("job_complete") is True),
        "jobSuccess": bool(answer and answer.get("job_success") is True),
        "code": answer.get("code") if answer else None,
        "SmileJobID": result.get("SmileJobID"),
        "ResultCode": result.get("ResultCode"),
        "ResultText": result.get("ResultText"),
        # What the verification used, as Smile ID says it (the callback's word only when it does not).
        "Country": str(result.get("Country") or claimed.get("Country") or "")[:20],
        "IDType": str(result.get("IDType") or claimed.get("IDType") or "")[:50],
    }


def _record(app: Flask, state: WinkState, event: StoredEvent, outcome: dict[str, Any]) -> None:
    """Store the outcome as a :data:`JOB_STATUS` event (its status, when it matches, in the same
    transaction) and hand it on: its signals follow from it like any event's."""
    provider = state.providers[NAME]
    if outcome["matches"]:
        log.info("Smile ID confirmed the result of event %s", event.id)
    else:
        log.warning("a Smile ID callback (event %s) does not match job_status: %s",
                    event.id, outcome["reason"])
    stored = state.store.add_event(
        provider=NAME,
        kind=WEBHOOK,
        name=JOB_STATUS,
        payload=outcome,
        # One record per callback: a handler run again finds it and records nothing more.
        event_id=f"{JOB_STATUS}:{event.id}",
        app_user_id=event.app_user_id,
        upstream_user_id=event.upstream_user_id,
        claimed_by=state.handler_name,
        account=status_with_event(state, provider, WEBHOOK, JOB_STATUS, outcome, event.upstream_user_id),
    )
    if stored is not None:
        start_handling(app, state, stored)
