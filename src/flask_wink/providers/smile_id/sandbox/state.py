"""The emulator's memory: its partner id and key, the links, their jobs, and the callbacks it sends.

Sandbox ID numbers (documented in docs/smile-id.md): the last digit picks the result.

=========== ===========================================================
last digit  result
=========== ===========================================================
``1``       rejected (final)
``2``       provisional: an interim result (0814), then approved
``3``       provisional: an interim result (0814), then rejected
``9``       the submission fails: redirect with ``status=fail``, no job
other       approved (final)
=========== ===========================================================

``partner_params.sandbox_result`` beats the ID number: ``"0"`` approve, ``"1"`` reject,
``"2"`` provisional (then approved).

Each job is kept (:class:`Job`) and answered by ``POST /v1/job_status`` as Smile ID answers it: a
result counts as reached when its callback is sent, so ``job_status`` never says more than the
callbacks already said.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ..results import JOB_TYPES, VerificationStatus, describe
from ..signature import signed_fields

log = logging.getLogger("flask_wink.smile_id.sandbox")

DEFAULT_LINK_LIFETIME = timedelta(days=90)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Link:
    """One Smile Link as the emulator keeps it."""

    ref_id: str
    fields: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    disabled_at: datetime | None = None
    total_jobs: int = 0
    successful_jobs: int = 0
    failed_jobs: int = 0
    user_ids: list[str] = field(default_factory=list)
    used: bool = False

    def as_dict(self, link_url: str) -> dict[str, Any]:
        f = self.fields
        return {
            "link_url": link_url,
            "link_id": self.ref_id,
            "ref_id": self.ref_id,
            "name": f.get("name"),
            "id_types": f.get("id_types", []),
            "is_single_use": bool(f.get("is_single_use")),
            "callback_url": f.get("callback_url"),
            "data_privacy_policy_url": f.get("data_privacy_policy_url"),
            "logo_url": f.get("logo_url"),
            "user_id": f.get("user_id"),
            "user_ids": list(self.user_ids),
            "total_jobs": self.total_jobs,
            "failed_jobs": self.failed_jobs,
            "successful_jobs": self.successful_jobs,
            "company_name": f.get("company_name"),
            "partner_id": f.get("partner_id"),
            "created_at": iso(self.created_at),
            "disabled_at": iso(self.disabled_at) if self.disabled_at else None,
            "expires_at": iso(self.expires_at),
            "updated_at": iso(self.updated_at),
            "redirect_url": f.get("redirect_url"),
            "partner_params": f.get("partner_params") or {},
        }


@dataclass
class Job:
    """One job as the emulator keeps it, for ``job_status``: the results reached so far."""

    smile_job_id: str
    user_id: str
    job_id: str
    job_type: str
    results: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    completed_at: datetime | None = None

    @property
    def complete(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True)
class Outcome:
    """What a submission leads to: the callbacks' result codes, in order (interim first)."""

    codes: tuple[str, ...]
    failed_submission: bool = False


#: Smile ID's ``ResultType`` for each verification method.
RESULT_TYPES = {
    "biometric_kyc": "SAIA",
    "enhanced_kyc": "ID Verification",
    "doc_verification": "Document Verification",
    "enhanced_document_verification": "Document Verification",
}

#: The ``Actions`` Smile ID reports for each verification method (its job type).
ACTIONS: dict[str, tuple[str, ...]] = {
    "enhanced_kyc": ("Verify_ID_Number", "Return_Personal_Info"),
    "biometric_kyc": (
        "Liveness_Check", "Register_Selfie", "Selfie_Provided", "Verify_ID_Number",
        "Human_Review_Compare", "Return_Personal_Info", "Selfie_To_ID_Authority_Compare",
        "Update_Registered_Selfie_On_File", "Human_Review_Liveness_Check",
        "Selfie_To_Registered_Selfie_Compare", "Human_Review_Update_Selfie",
    ),
    "doc_verification": (
        "Document_Check", "Human_Review_Document_Check", "Liveness_Check", "Register_Selfie",
        "Selfie_Provided", "Selfie_To_ID_Card_Compare", "Human_Review_Compare",
        "Human_Review_Liveness_Check", "Verify_Document", "Return_Personal_Info",
    ),
    "enhanced_document_verification": (
        "Document_Check", "Human_Review_Document_Check", "Liveness_Check", "Register_Selfie",
        "Selfie_Provided", "Selfie_To_ID_Card_Compare", "Selfie_To_ID_Authority_Compare",
        "Human_Review_Compare", "Human_Review_Liveness_Check", "Verify_Document", "Verify_ID_Number",
        "Return_Personal_Info",
    ),
}

#: What each action says when it passed (Smile ID words each kind of action its own way).
PASSED_WORDS = {"Verify_ID_Number": "Verified", "Return_Personal_Info": "Returned",
                "Register_Selfie": "Approved", "Selfie_Provided": "Passed",
                "Update_Registered_Selfie_On_File": "Not Applicable",
                "Selfie_To_Registered_Selfie_Compare": "Not Applicable",
                "Human_Review_Update_Selfie": "Not Applicable", "Human_Review_Compare": "Not Applicable",
                "Human_Review_Liveness_Check": "Not Applicable",
                "Human_Review_Document_Check": "Not Applicable", "Selfie_To_ID_Card_Compare": "Completed",
                "Selfie_To_ID_Authority_Compare": "Completed", "Document_Check": "Passed",
                "Verify_Document": "Passed", "Liveness_Check": "Passed"}


#: What each kind of result changes in the actions: the ID or document checks failed; or, under
#: review, the human reviews are pending while the machine's checks passed.
FAILED_WORDS = {"Verify_ID_Number": "Not Verified", "Return_Personal_Info": "Not Returned",
                "Selfie_To_ID_Authority_Compare": "Failed", "Selfie_To_ID_Card_Compare": "Failed",
                "Document_Check": "Failed", "Verify_Document": "Failed"}
REVIEW_WORDS = {"Verify_ID_Number": "Under Review", "Human_Review_Compare": "Pending",
                "Human_Review_Liveness_Check": "Pending", "Human_Review_Document_Check": "Pending"}


def actions_for(method: str, verified: bool, final: bool) -> dict[str, str]:
    """The ``Actions`` of one result: each action of the job type, as Smile ID words it."""
    names = ACTIONS.get(method, ACTIONS["enhanced_kyc"])
    actions = {name: PASSED_WORDS.get(name, "Passed") for name in names}
    if not verified:
        changed = FAILED_WORDS if final else REVIEW_WORDS
        actions.update({name: word for name, word in changed.items() if name in actions})
    return actions


def decide(id_number: str, partner_params: dict[str, str], method: str) -> Outcome:
    """The sandbox's result table (see the module's docstring)."""
    approve = "1020" if method == "biometric_kyc" else "1012"
    reject = "1022" if method == "biometric_kyc" else "1013"
    chosen = partner_params.get("sandbox_result")
    digit = {"0": "0", "1": "1", "2": "2"}.get(chosen or "", id_number.strip()[-1:] if id_number else "")
    if digit == "1":
        return Outcome((reject,))
    if digit == "2":
        return Outcome(("0814", approve))
    if digit == "3":
        return Outcome(("0814", reject))
    if digit == "9":
        return Outcome((), failed_submission=True)
    return Outcome((approve,))


def result_body(
    partner_params: dict[str, str],
    id_type: dict[str, str],
    id_number: str,
    smile_job_id: str,
    code: str,
    *,
    final: bool,
) -> dict[str, Any]:
    """One result as Smile ID posts it (without the signature), for the job ``partner_params``
    name (``user_id``, ``job_id``) verified with ``id_type`` and ``id_number``."""
    method = id_type.get("verification_method", "")
    params = {**partner_params, "job_type": str(JOB_TYPES.get(method, ""))}
    status, text = describe(code) or (VerificationStatus.REJECTED, "Unknown")
    verified = status is VerificationStatus.APPROVED
    return {
        "JSONVersion": "1.0.0",
        "SmileJobID": smile_job_id,
        "PartnerParams": params,
        "ResultType": RESULT_TYPES.get(method, "ID Verification"),
        "ResultText": text,
        "ResultCode": code,
        "IsFinalResult": "true" if final else "false",
        "IsMachineResult": "true" if final else "false",
        "Actions": actions_for(method, verified, final),
        "ConfidenceValue": "99" if verified else "0",
        "Country": id_type.get("country", ""),
        "IDType": id_type.get("id_type", ""),
        "IDNumber": id_number,
        "Source": "Smile Links",
    }


#: The ID type of results recorded without a submission (:meth:`SandboxState.add_job`).
ADDED_ID_TYPE = {"country": "NG", "id_type": "BVN", "verification_method": "enhanced_kyc"}
#: Their ID number: the sandbox's approving one.
ADDED_ID_NUMBER = "00000000000"


class SandboxState:
    """Links, jobs and callback delivery of one emulator; thread-safe."""

    def __init__(
        self,
        *,
        partner_id: str | None = None,
        api_key: str | None = None,
        timestamp_tolerance: float | None = None,
        page_size: int = 10,
        review_delay: float = 1.0,
        retry_delays: Sequence[float] = (1.0, 5.0, 30.0),
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.partner_id = partner_id or str(secrets.randbelow(900) + 100)
        self.api_key = api_key or secrets.token_hex(24)
        self.timestamp_tolerance = timestamp_tolerance
        self.page_size = page_size
        self.review_delay = review_delay
        self.retry_delays = tuple(retry_delays)
        self.clock = clock
        self.links: dict[str, Link] = {}
        self.jobs: dict[tuple[str, str], Job] = {}  # by (user_id, the partner's job_id)
        self.deliveries: list[dict[str, Any]] = []  # every callback attempt, for tests and the page
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http = httpx.Client(timeout=10.0, transport=transport)
        # Smile ID's job ids are 10-digit strings. Each start of the emulator numbers its jobs from
        # a random point, so ids are not reused across restarts while an app's database lives on.
        self._job_counter = secrets.randbelow(9 * 10**9) + 10**8
        #: The SmileJobID given last (tests).
        self.last_job_id: str | None = None

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- links ---------------------------------------------------------------------------

    def create_link(self, fields: dict[str, Any], expires_at: datetime | None) -> Link:
        now = self.now()
        ref_id = "sl_" + uuid.uuid4().hex[:20]
        link = Link(ref_id, fields, now, expires_at or now + DEFAULT_LINK_LIFETIME, now)
        with self.lock:
            self.links[ref_id] = link
        return link

    def page(self, number: int) -> tuple[list[Link], int, int]:
        """Links newest first: the page's links, the total count and the page count."""
        with self.lock:
            every = sorted(self.links.values(), key=lambda item: item.created_at, reverse=True)
        pages = max(1, -(-len(every) // self.page_size))
        start = (number - 1) * self.page_size
        return every[start : start + self.page_size], len(every), pages

    # -- jobs ----------------------------------------------------------------------------

    def submit(self, link: Link, id_type: dict[str, str], id_number: str) -> tuple[str, Outcome]:
        """Record a submission on ``link`` and start sending its callbacks; the redirect status."""
        params = dict(link.fields.get("partner_params") or {})
        method = id_type.get("verification_method", "")
        outcome = decide(id_number, params, method)
        with self.lock:
            link.used = True
            link.updated_at = self.now()
            if outcome.failed_submission:
                return "fail", outcome
            link.total_jobs += 1
            user_id = self.user_id_of(link)
            if user_id and user_id not in link.user_ids:
                link.user_ids.append(user_id)
            smile_job_id = self._next_job_id()
        callbacks = [
            self.result_body(link, id_type, id_number, smile_job_id, code, final=last)
            for code, last in zip(outcome.codes, [False] * (len(outcome.codes) - 1) + [True], strict=True)
        ]
        params = callbacks[0]["PartnerParams"]
        job = Job(smile_job_id, params["user_id"], params["job_id"], params["job_type"])
        with self.lock:
            self.jobs[(job.user_id, job.job_id)] = job
        self._send_later(link, job, callbacks)
        return "success", outcome

    def cancel(self, link: Link) -> None:
        """The user cancelled: the link is used; no job is made and no callback is sent (Smile
        ID sends none: the redirect's ``status=cancelled`` is all the partner hears)."""
        with self.lock:
            link.used = True
            link.updated_at = self.now()

    def add_job(
        self,
        user_id: str,
        job_id: str,
        code: str = "1012",
        *,
        final: bool = True,
        smile_job_id: str | None = None,
        method: str = "enhanced_kyc",
    ) -> dict[str, Any]:
        """Record a result of a job as if a user had submitted it, without sending a callback
        (tests and demos): ``job_status`` answers with it. Adds to the job when it exists;
        returns the result's body."""
        with self.lock:
            job = self.jobs.get((user_id, job_id))
            smile_job_id = smile_job_id or (job.smile_job_id if job else self._next_job_id())
        link = Link("sl_added", {"partner_params": {"user_id": user_id, "job_id": job_id}},
                    self.now(), self.now(), self.now())
        id_type = {**ADDED_ID_TYPE, "verification_method": method}
        body = self.result_body(link, id_type, ADDED_ID_NUMBER, smile_job_id, code, final=final)
        with self.lock:
            job = self.jobs.setdefault((user_id, job_id), Job(smile_job_id, user_id, job_id,
                                                              body["PartnerParams"]["job_type"]))
            job.results.append(body)
            if final:
                job.completed_at = self.now()
        return body

    def job(self, user_id: str, job_id: str) -> Job | None:
        """The job Smile ID knows by this user and the partner's job id, or None."""
        with self.lock:
            return self.jobs.get((user_id, job_id))

    def _next_job_id(self) -> str:
        """The next SmileJobID (call with the lock held)."""
        self._job_counter = self._job_counter % (10**10 - 1) + 1
        self.last_job_id = f"{self._job_counter:010d}"
        return self.last_job_id

    @staticmethod
    def user_id_of(link: Link) -> str:
        params = link.fields.get("partner_params") or {}
        return str(link.fields.get("user_id") or params.get("user_id") or "")

    def result_body(
        self,
        link: Link,
        id_type: dict[str, str],
        id_number: str,
        smile_job_id: str,
        code: str,
        *,
        final: bool,
    ) -> dict[str, Any]:
        params = {str(k): str(v) for k, v in (link.fields.get("partner_params") or {}).items()}
        params.setdefault("user_id", self.user_id_of(link))
        params.setdefault("job_id", f"{link.ref_id}-{smile_job_id}")
        return result_body(params, id_type, id_number, smile_job_id, code, final=final)

    def _count(self, link: Link, body: dict[str, Any]) -> None:
        if body["IsFinalResult"] != "true":
            return
        status = (describe(body["ResultCode"]) or (VerificationStatus.REJECTED, ""))[0]
        with self.lock:
            if status is VerificationStatus.APPROVED:
                link.successful_jobs += 1
            elif status is VerificationStatus.REJECTED:
                link.failed_jobs += 1

    # -- callbacks -----------------------------------------------------------------------

    def _send_later(self, link: Link, job: Job, bodies: list[dict[str, Any]]) -> None:
        """Send the results in order on a thread of their own: an interim result, the review
        delay, then the final one; each retried on a non-2xx answer (bounded). A result is
        reached (``job_status`` tells it) before its callback leaves."""
        url = link.fields.get("callback_url")

        def run() -> None:
            for index, body in enumerate(bodies):
                if index and self.stopping.wait(self.review_delay):
                    return
                self._count(link, body)
                with self.lock:
                    job.results.append(body)
                    if body["IsFinalResult"] == "true":
                        job.completed_at = self.now()
                if url:
                    self.deliver(url, body)

        thread = threading.Thread(target=run, name="smile-id-sandbox-callbacks", daemon=True)
        with self.lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def deliver(self, url: str, body: dict[str, Any]) -> bool:
        """POST one signed result to ``url``; retry after each delay on a non-2xx answer."""
        for attempt, delay in enumerate((0.0, *self.retry_delays), start=1):
            if delay and self.stopping.wait(delay):
                return False
            signed = {**body, **signed_fields(self.partner_id, self.api_key, self.clock())}
            try:
                status = self._http.post(url, json=signed).status_code
            except httpx.HTTPError as exc:
                status = None
                log.info("callback to %s failed: %s", url, type(exc).__name__)
            with self.lock:
                self.deliveries.append({"url": url, "attempt": attempt, "status": status,
                                        "SmileJobID": body["SmileJobID"], "ResultCode": body["ResultCode"]})
            if status is not None and 200 <= status < 300:
                return True
        return False

    def wait_for_callbacks(self, timeout: float = 10.0) -> bool:
        """Wait until every callback sent so far was delivered or given up (tests)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def close(self) -> None:
        """Stop sending callbacks and close the HTTP client."""
        self.stopping.set()
        with self.lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(2.0)
        self._http.close()
