"""An app user's verifications, newest first, with their status and results: what pages show.

Each result (a stored callback) says whether Smile ID's ``job_status`` confirmed it:
``confirmed`` is true, false (it does not match: ``mismatch`` says why; it moved nothing) or
null (not asked yet, or Smile ID could not be reached: it is retried). A pending verification
whose link has expired is recorded as ``expired`` when it is read.
A redirect back is recorded only for a verification whose link is still open
(:func:`open_verification`).
"""

from __future__ import annotations

from typing import Any

from ...provider import CALLBACK
from ...state import WinkState
from ...timeutil import iso, parse_iso, utcnow
from .results import (
    FINAL_RESULT,
    INTERIM_RESULT,
    JOB_STATUS,
    LINK_STARTED,
    NAME,
    REDIRECTED,
    REPLACES,
    VerificationStatus,
    describe,
    verification_id,
)


def verifications(state: WinkState, app_user_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """The app user's verifications, newest first: ``{jobId, status, startedAt, expiresAt,
    redirect, results: [{resultCode, resultText, final, smileJobId, receivedAt, confirmed,
    mismatch}]}``."""
    events = state.store.list_events(provider=NAME, app_user_id=app_user_id, limit=limit)
    by_job: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    confirmations = {e.payload.get("callbackEventId"): e.payload for e in events
                     if e.name == JOB_STATUS and isinstance(e.payload, dict)}
    for event in reversed(events):  # oldest first
        payload = event.payload if isinstance(event.payload, dict) else {}
        if event.name == LINK_STARTED and payload.get("jobId"):
            job = payload["jobId"]
            order.append(job)
            by_job[job] = {"jobId": job, "refId": payload.get("refId"), "startedAt": iso(event.received_at),
                           "expiresAt": payload.get("expiresAt"), "redirect": None, "results": []}
        elif event.name == REDIRECTED:
            job = _returned_job(payload, order)
            if job in by_job:
                by_job[job]["redirect"] = payload.get("status")
        elif event.name in (FINAL_RESULT, INTERIM_RESULT):
            job = verification_id(payload)
            if job is None:
                continue
            if job not in by_job:
                order.append(job)
                by_job[job] = {"jobId": job, "refId": None, "startedAt": iso(event.received_at),
                               "expiresAt": None, "redirect": None, "results": []}
            code = str(payload.get("ResultCode"))
            confirmation = confirmations.get(event.id)
            by_job[job]["results"].append({
                "resultCode": code,
                "resultText": payload.get("ResultText") or (describe(code) or ("", ""))[1],
                "final": event.name == FINAL_RESULT,
                "smileJobId": payload.get("SmileJobID"),
                "receivedAt": iso(event.received_at),
                "confirmed": None if confirmation is None else confirmation.get("matches") is True,
                "mismatch": None if confirmation is None else confirmation.get("reason"),
            })
    found = []
    for job in reversed(order):
        item = by_job[job]
        account = state.store.account(NAME, job)
        status = account.status if account else VerificationStatus.PENDING.value
        if status == VerificationStatus.PENDING and _expired(item.get("expiresAt")):
            state.store.update_account(NAME, job, VerificationStatus.EXPIRED.value,
                                       replaces=[s.value for s in REPLACES[VerificationStatus.EXPIRED]],
                                       connected=False)
            account = state.store.account(NAME, job)
            status = account.status if account else status
        item["status"] = status
        found.append(item)
    return found


def open_verification(state: WinkState, app_user_id: str, limit: int = 200) -> str | None:
    """The job id of the app user's latest verification whose link is still open: started by the
    kit for them, not expired, and not yet returned from (its link is single-use); or None."""
    events = state.store.list_events(provider=NAME, kind=CALLBACK, app_user_id=app_user_id, limit=limit)
    started: list[tuple[str, Any]] = []
    returned = set()
    for event in reversed(events):  # oldest first
        payload = event.payload if isinstance(event.payload, dict) else {}
        if event.name == LINK_STARTED and payload.get("jobId"):
            started.append((payload["jobId"], payload.get("expiresAt")))
        elif event.name == REDIRECTED:
            returned.add(_returned_job(payload, [job for job, _ in started]))
    for job, expires_at in reversed(started):
        if job not in returned and not _expired(expires_at):
            return job
    return None


def _returned_job(payload: dict[str, Any], started: list[str]) -> str | None:
    """The verification a recorded redirect belongs to: the ``jobId`` it was recorded with; a
    redirect recorded before the kit kept one belongs to the latest verification started before it."""
    job = payload.get("jobId")
    if isinstance(job, str) and job:
        return job
    return started[-1] if started else None


def current_status(state: WinkState, app_user_id: str) -> str | None:
    """The status of the app user's latest verification, or None when there is none."""
    found = verifications(state, app_user_id, limit=50)
    return found[0]["status"] if found else None


def _expired(expires_at: Any) -> bool:
    if not isinstance(expires_at, str):
        return False
    try:
        return parse_iso(expires_at) <= utcnow()
    except ValueError:
        return False
