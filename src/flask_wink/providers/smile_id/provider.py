"""Smile ID's Smile Links as a :class:`~flask_wink.provider.Provider`.

Its settings (``WINK_SMILE_ID_*``) are declared in :attr:`SmileID.settings`: ``PARTNER_ID`` and
``API_KEY`` enable it; ``CALLBACK_URL`` and ``REDIRECT_URL`` default to this app's own routes at
its public address (see :mod:`flask_wink.addresses`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from flask import has_app_context

from ...errors import MalformedMessage, VerificationError
from ...provider import (
    CALLBACK,
    WEBHOOK,
    BaseProvider,
    FetchedData,
    Inbound,
    LinkStart,
    LinkURLs,
    PersonalData,
    PublicURL,
    ReturnEvent,
    StatusUpdate,
    TestEvent,
    TestMessage,
    UpstreamErasure,
)
from ...settings import URL, Invalid, Setting
from ...signing import HmacVerifier
from ...state import WinkState, get_state
from .client import SANDBOX_HOST, SmileIDClient
from .describe import describe_event
from .errors import SmileIDError
from .replay import accept_once
from .results import (
    FINAL_RESULT,
    INTERIM_RESULT,
    JOB_STATUS,
    LINK_STARTED,
    NAME,
    REDIRECTED,
    REPLACES,
    VerificationStatus,
    classify,
    is_true,
    parse_id_types,
)
from .signature import scheme, signed_fields
from .verifications import open_verification

#: Where Smile ID serves the hosted pages of the links it creates.
HOSTED_LINKS_ORIGIN = "https://links.usesmileid.com"

def result_key(smile_job_id: str, code: str, final: bool, job_id: Any) -> str:
    """The id a result is stored under: one per (Smile ID job, result code, finality, the kit's
    own job id). A redelivery repeats all four; an interim and a final result differ in
    finality. The kit's ``job_id`` (from ``PartnerParams``) is part of it because Smile ID's job
    ids are only unique within one Smile ID environment: a sandbox that numbers its jobs afresh,
    or a switch of environment, must not make a new result look like a stored one."""
    ref = job_id if isinstance(job_id, str) else ""
    if len(ref) > 100 or ":" in ref:
        ref = "h" + hashlib.sha256(ref.encode()).hexdigest()[:32]
    key = f"{smile_job_id[:60]}:{code[:20]}:{'final' if final else 'interim'}:{ref}"
    return key[:200]


DEFAULT_ID_TYPES = "NG:BVN:enhanced_kyc,KE:NATIONAL_ID:biometric_kyc,NG:PASSPORT:doc_verification"
#: What the redirect's ``status`` may say, as the kit records it (the docs write both spellings).
REDIRECT_STATUSES = {"success": "success", "successful": "success", "cancelled": "cancelled",
                     "canceled": "cancelled", "fail": "fail", "failed": "fail"}
#: How far in the future a callback's timestamp may be (clocks differ a little).
CLOCK_SKEW = 300.0
#: ``flask wink trigger``'s Smile ID results: the result codes sent, in order (the last is final).
TEST_RESULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "result.approved": ("a final result: approved (1012, Valid ID)", ("1012",)),
    "result.rejected": ("a final result: rejected (1013, Unable to Validate ID)", ("1013",)),
    "result.provisional": ("an interim result under review (0814), then the final one: approved",
                           ("0814", "1012")),
    "result.provisional-rejected": ("an interim result under review (0814), then the final one: "
                                    "rejected", ("0814", "1013")),
}


def check_host(host: Any) -> str:
    """``host`` when it looks like Smile ID's API base URL (http(s), ending in ``/v1``), else
    :class:`~flask_wink.settings.Invalid` saying the fix: found at start, not as a 404 when a user
    first clicks."""
    host = str(host)
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid(f"must be an http(s) URL, not {host!r}: set e.g. WINK_SMILE_ID_HOST={SANDBOX_HOST}")
    if not parts.path.rstrip("/").endswith("/v1"):
        raise Invalid(
            f"must end in /v1 (Smile ID's API base URL), not {host!r}: "
            f"set WINK_SMILE_ID_HOST={host.rstrip('/')}/v1"
        )
    return host


class SmileID(BaseProvider):
    """Smile ID's hosted verification links: create a single-use link per verification, send the
    browser there, record the redirect back, and take the result from the signed callback."""

    name = NAME
    title = "Smile ID"
    #: Its results are stored events: once handled, their payloads are emptied after
    #: WINK_SMILE_ID_DATA_RETENTION (or WINK_FETCHED_DATA_RETENTION); their dedupe keys stay.
    fetched_data = (FetchedData("verification results", events=(FINAL_RESULT, INTERIM_RESULT, JOB_STATUS)),)
    #: Nothing on the hosted page reports to the kit from the browser; the redirect comes back
    #: through ``/return`` and the kit records ``linkStarted`` itself.
    browser_events: tuple[str, ...] = ()
    accepts_inbound = True
    #: Its verifications and results are the core's events. Its one table of its own keeps, for
    #: the freshness window, a digest of each accepted signature with the result it came with
    #: (its key names Smile's job: tied to the user by the result event's id).
    # Its key stays clear (the replay check looks it up): not encrypted at rest.
    personal_data = (PersonalData("wink_smile_id_signatures", "result_key", tied_by="event_id",
                                  columns=("result_key",), encrypted=()),)
    settings = (
        Setting("PARTNER_ID", required=True, hint="your Smile ID partner id"),
        Setting("API_KEY", required=True, hint="your Smile ID API key"),
        Setting("PRIVACY_URL", required=True, enables=False,
                hint="your data privacy policy's URL, which Smile ID shows on every link"),
        Setting("HOST", check_host, default=SANDBOX_HOST),
        Setting("COMPANY_NAME", default="flask-wink"),
        Setting("LOGO_URL"),
        Setting("ID_TYPES", parse_id_types, default=parse_id_types(DEFAULT_ID_TYPES)),
        Setting("LINK_TTL", float, default=24 * 3600.0),
        Setting("CALLBACK_MAX_AGE", float, default=3600.0),
        Setting("CALLBACK_URL", URL),
        Setting("REDIRECT_URL", URL),
        Setting("DONE_URL", default="/"),
        Setting("TIMEOUT", float, default=10.0),
    )

    def __init__(
        self,
        client: SmileIDClient,
        *,
        api_key: str,
        privacy_url: str,
        company_name: str = "flask-wink",
        logo_url: str | None = None,
        id_types: tuple[dict[str, str], ...] = (),
        link_ttl: float = 24 * 3600,
        callback_max_age: float = 3600.0,
        callback_url: str | None = None,
        redirect_url: str | None = None,
        done_url: str = "/",
    ) -> None:
        self.client = client
        self.partner_id = client.partner_id
        self._api_key = api_key
        self.privacy_url = privacy_url
        self.company_name = company_name
        self.logo_url = logo_url
        self.id_types = id_types or parse_id_types(DEFAULT_ID_TYPES)
        self.link_ttl = link_ttl
        self.callback_max_age = callback_max_age
        self.callback_url = callback_url
        self.redirect_url = redirect_url
        self.done_url = done_url
        from .confirmation import confirm_result
        from .handlers import send_result_signals

        self.handlers = (send_result_signals, confirm_result)

    def __repr__(self) -> str:
        return f"SmileID(partner_id={self.partner_id!r}, host={self.client.host!r})"

    @property
    def public_urls(self) -> dict[str, PublicURL]:
        """Where Smile ID posts the signed result and where it sends the browser back: the
        settings when given, else this app's routes at its public address (built by the core)."""
        own = {"provider": "smile-id"}
        return {
            "callback_url": PublicURL("wink.receive_webhook", own, given=self.callback_url),
            "redirect_url": PublicURL("wink.return_page", own, given=self.redirect_url),
        }

    @classmethod
    def from_settings(
        cls, settings: dict[str, Any], *, transport: httpx.BaseTransport | None = None, **_: Any
    ) -> SmileID:
        partner, host, timeout = settings.pop("partner_id"), settings.pop("host"), settings.pop("timeout")
        client = SmileIDClient(host, partner, settings["api_key"], transport=transport,
                               timeout=httpx.Timeout(timeout, connect=5.0))
        return cls(client, **settings)

    # -- linking ---------------------------------------------------------------------------

    def start_link(
        self, app_user_id: str, upstream_user_id: str | None, options: Mapping[str, str], urls: LinkURLs
    ) -> LinkStart:
        """A single-use link for one verification: ``partner_params`` carry the user and a new
        job id, so the signed result finds its way back."""
        # Smile ID takes the partner's own user ids; the kit keeps its mapping to the app user.
        user_id = upstream_user_id or f"wink-{uuid.uuid4().hex}"
        job_id = f"job-{uuid.uuid4().hex}"
        expires_at = (datetime.now(UTC) + timedelta(seconds=self.link_ttl)).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
        created = self.client.create_link(
            name=f"Verification {job_id}",
            company_name=self.company_name,
            id_types=self.id_types,
            callback_url=urls["callback_url"],
            data_privacy_policy_url=self.privacy_url,
            logo_url=self.logo_url,
            is_single_use=True,
            user_id=user_id,
            partner_params={"user_id": user_id, "job_id": job_id},
            redirect_url=urls["redirect_url"],
            expires_at=expires_at,
        )
        details = {"jobId": job_id, "refId": created.get("ref_id"), "expiresAt": expires_at}
        return LinkStart(upstream_user_id=user_id, url=created["link"], details=details)

    def openapi(self, base: str) -> dict[str, Any]:
        """Its part of ``/wink/openapi.json``: what the return page reads, and its own routes."""
        from ...openapi import TEXT, query_parameter
        from .views import openapi_paths

        read = [query_parameter("status", "What Smile ID's redirect says (recorded, never trusted).", TEXT),
                query_parameter("user_id", "The user the redirect names (recorded, never trusted).", TEXT)]
        return {"parameters": {"return": read}, "paths": openapi_paths(base, self)}

    def erase_upstream(self, state: Any, upstream_user_ids: Sequence[str]) -> UpstreamErasure:
        """Smile ID's API has no call to delete a user or their results: said so, nothing sent."""
        return UpstreamErasure(
            asked=False, ok=True,
            answer="Smile ID has no API call to delete a user or their verification results: "
                   "ask Smile ID itself to delete them (the job ids are in your records).",
        )

    def return_event(self, query: Mapping[str, str]) -> ReturnEvent | None:
        """``?status=success|successful|cancelled|fail&user_id=``: recorded, never trusted."""
        reported = str(query.get("status") or "")
        status = REDIRECT_STATUSES.get(reported.lower(), "unknown")
        return ReturnEvent(REDIRECTED, {"status": status, "reported": reported[:50],
                                        "userId": str(query.get("user_id") or "")[:200]})

    def match_return(self, state: WinkState, app_user_id: str, reported: ReturnEvent) -> ReturnEvent | None:
        """The return as the signed-in user's: recorded only when its ``user_id`` is the Smile ID
        user id the kit made for them and one of their links is still open (the latest one, which
        it is recorded with as ``jobId``). Anything else, such as another site's link here or a
        reload of the page, is shown and not recorded."""
        user_id = reported.args.get("userId")
        if not user_id or user_id != state.store.upstream_user_id(NAME, app_user_id):
            return None
        job_id = open_verification(state, app_user_id)
        if job_id is None:
            return None
        return ReturnEvent(reported.name, {**reported.args, "jobId": job_id})

    # -- inbound ---------------------------------------------------------------------------

    @functools.cached_property
    def _callback_verifier(self) -> HmacVerifier:
        """Smile ID's callback signature under the API key, made once, not per callback."""
        return scheme(self.partner_id, self._api_key, max_age=self.callback_max_age, max_future=CLOCK_SKEW)

    def verify_inbound(self, raw: bytes, headers: Mapping[str, str], now: float) -> Inbound:
        """Check the callback's ``signature`` over its ``timestamp`` (constant time), then its age."""
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise VerificationError("the body is not JSON, so it carries no signature") from None
        if not isinstance(body, dict):
            raise VerificationError("the body is not a JSON object, so it carries no signature")
        partner = body.get("partner_id")
        if partner is not None and str(partner) != self.partner_id:
            raise VerificationError("the callback names another partner")
        signature = body.get("signature")
        self._callback_verifier.check(raw, signature, body.get("timestamp"), now)
        params = body.get("PartnerParams")
        job = body.get("SmileJobID")
        code = body.get("ResultCode")
        if not isinstance(params, dict) or not isinstance(job, str) or not job or not isinstance(code, str):
            raise MalformedMessage("Not a Smile ID result (SmileJobID, ResultCode or PartnerParams missing).")
        final = is_true(body.get("IsFinalResult"))
        event_id = result_key(job, code, final, params.get("job_id"))
        # Never kept nor shown: with it, anyone could send another result for the same timestamp.
        payload = {key: value for key, value in body.items() if key != "signature"}
        self._refuse_replay(signature, event_id, now)
        user = params.get("user_id")
        return Inbound(
            event_id=event_id,
            name=FINAL_RESULT if final else INTERIM_RESULT,
            payload=payload,
            upstream_user_id=user if isinstance(user, str) and user else None,
            keep_raw=False,
        )

    def _refuse_replay(self, signature: str, event_id: str, now: float) -> None:
        """Refuse a signature accepted before with another result (see :mod:`.replay`); the
        check needs the app's store, so it runs where the kit receives callbacks."""
        if not has_app_context():
            return
        keep_for = self.callback_max_age + CLOCK_SKEW
        if not accept_once(get_state().store, signature, event_id, now, keep_for):
            raise VerificationError("the signature was already accepted with another result")

    # -- test events (flask wink trigger) ------------------------------------------------------

    #: Smile ID's results, as its emulator words them.
    test_events = tuple(TestEvent(name, summary) for name, (summary, _codes) in TEST_RESULTS.items())

    def test_messages(self, name: str, upstream_user_id: str | None) -> Iterator[TestMessage]:
        """The callbacks of one verification, in order, signed with ``WINK_SMILE_ID_API_KEY``.

        The kit asks Smile ID's ``job_status`` before a callback moves anything: before each one
        is made, its result is recorded in the emulator at ``WINK_SMILE_ID_HOST``
        (``POST /sandbox/jobs``). Smile ID itself knows no such job: the app stores the callback
        and marks it not confirmed, and the status does not move."""
        from .sandbox.state import ADDED_ID_NUMBER, ADDED_ID_TYPE, result_body

        user_id = upstream_user_id or f"wink-{uuid.uuid4().hex}"
        job_id = f"job-{uuid.uuid4().hex}"
        codes = TEST_RESULTS[name][1]
        emulated = not (urlsplit(self.client.host).hostname or "").endswith("smileidentity.com")
        smile_job_id = str(uuid.uuid4().int % 10**10).zfill(10)
        for index, code in enumerate(codes):
            final = index == len(codes) - 1
            body = None
            if emulated:
                try:
                    body = self.client.record_test_result(user_id, job_id, code, final=final,
                                                          smile_job_id=smile_job_id)
                except SmileIDError:
                    body = None  # not the kit's emulator, or not reachable: Smile ID will not know it
            if body is None:
                note = (f"{self.client.host} was not told of this result: the app stores it and marks "
                        "it not confirmed (job_status does not know the job), so no status moves.")
                params = {"user_id": user_id, "job_id": job_id}
                body = result_body(params, ADDED_ID_TYPE, ADDED_ID_NUMBER, smile_job_id, code, final=final)
            else:
                note = (f"The result was recorded in the emulator at {self.client.host}, so the "
                        "app's job_status check confirms it.")
            signed = {**body, **signed_fields(self.partner_id, self._api_key)}
            # Printed without its signature: with it, the result could be sent again by anyone
            # who reads the output (the signature covers the timestamp, not the result).
            shown = {**signed, "signature": signed["signature"][:8] + "…"}
            yield TestMessage("wink.receive_webhook", json.dumps(signed).encode(),
                              {"Content-Type": "application/json"}, values={"provider": "smile-id"},
                              note=note, shown=json.dumps(shown, ensure_ascii=False).encode())

    # -- statuses --------------------------------------------------------------------------

    def status_update(self, kind: str, name: str, payload: Any) -> StatusUpdate | None:
        """``pending`` when the kit starts a link; past that, only what Smile ID's ``job_status``
        answered for a stored callback (a :data:`JOB_STATUS` record that matches it). A callback
        itself moves nothing: its signature covers the timestamp, not the result."""
        if not isinstance(payload, Mapping):
            return None
        if kind == CALLBACK:
            job_id = payload.get("jobId")
            if name != LINK_STARTED or not isinstance(job_id, str) or not job_id:
                return None  # the redirect back never decides the status
            return StatusUpdate(job_id, VerificationStatus.PENDING.value, replaces=())
        if kind != WEBHOOK or name != JOB_STATUS or payload.get("matches") is not True:
            return None
        job_id = payload.get("jobId")
        if not isinstance(job_id, str) or not job_id:
            return None
        code = str(payload.get("ResultCode"))
        status = classify(code, payload.get("jobComplete") is True)
        return StatusUpdate(
            account_id=job_id,
            status=status.value,
            replaces=tuple(s.value for s in REPLACES[status]),
            connected=status is VerificationStatus.APPROVED,
            institution_id=f"{payload.get('Country', '')} {payload.get('IDType', '')}".strip() or None,
            error_code=code,
        )

    def page_origins(self) -> list[str]:
        """Where the start form sends the browser (the hosted link page), for the page's
        Content-Security-Policy: the API host's origin, and Smile ID's links origin with its hosts."""
        origins = []
        parts = urlsplit(self.client.host)
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
            if (parts.hostname or "").endswith("smileidentity.com"):
                origins.append(HOSTED_LINKS_ORIGIN)
        return origins

    #: What an event means, for people (see :func:`flask_wink.summaries.summarize_event`).
    describe = staticmethod(describe_event)

    # Its parts: ``flask wink smile-id links ...``, ``POST /start``, ``GET /status``
    # and the return page, and ``python -m flask_wink.sandbox smile-id``
    cli = ".cli:smile_id_cli"
    views = ".views:parts"
    sandbox = ".sandbox.serve:serve_sandbox"
