"""A thin client for Smile ID's Smile Links API: create, update, disable, get and list links,
and ask for a job's status.

Every body is signed by :class:`~flask_wink.providers.smile_id.signature.SmileIDAuth`; Smile ID's
errors become :mod:`~flask_wink.providers.smile_id.errors` with their ``code``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ...upstream import UpstreamClient
from .errors import ERRORS, SmileIDAPIError
from .signature import SmileIDAuth, confirm

SANDBOX_HOST = "https://testapi.smileidentity.com/v1"
PRODUCTION_HOST = "https://api.smileidentity.com/v1"


class SmileIDClient(UpstreamClient):
    """One long-lived HTTP client per app, shared across threads; :meth:`close` on teardown.
    ``timeout``, ``transport`` and ``mounts`` go to the ``httpx.Client``; ``clock`` signs."""

    errors = ERRORS
    message_keys = ("error", "message")

    def __init__(self, host: str, partner_id: str, api_key: str, *,
                 clock: Callable[[], float] | None = None, **http: Any) -> None:
        super().__init__(host, auth=SmileIDAuth(partner_id, api_key, clock), **http)
        self.partner_id = partner_id
        self._api_key = api_key

    @property
    def host(self) -> str:
        """The API's base URL (``WINK_SMILE_ID_HOST``)."""
        return self.base_url

    # -- links ---------------------------------------------------------------------------

    def create_link(
        self,
        *,
        name: str,
        company_name: str,
        id_types: Sequence[Mapping[str, str]],
        callback_url: str,
        data_privacy_policy_url: str,
        is_single_use: bool = False,
        user_id: str | None = None,
        partner_params: Mapping[str, str] | None = None,
        redirect_url: str | None = None,
        logo_url: str | None = None,
        expires_at: str | None = None,
    ) -> dict[str, Any]:
        """``POST /smile_links``: ``{link, ref_id}``."""
        body: dict[str, Any] = {
            "name": name,
            "company_name": company_name,
            "id_types": [dict(t) for t in id_types],
            "callback_url": callback_url,
            "data_privacy_policy_url": data_privacy_policy_url,
            "is_single_use": is_single_use,
        }
        optional = {"user_id": user_id, "redirect_url": redirect_url, "logo_url": logo_url,
                    "expires_at": expires_at}
        body.update({k: v for k, v in optional.items() if v is not None})
        if partner_params is not None:
            body["partner_params"] = {str(k): str(v) for k, v in partner_params.items()}
        return self.call("POST", "smile_links", json=body)

    def update_link(
        self,
        ref_id: str,
        *,
        is_disabled: bool | None = None,
        id_types: Sequence[Mapping[str, str]] | None = None,
    ) -> dict[str, Any]:
        """``PUT /smile_links/{ref_id}`` (``id_types`` replaces the link's list):
        ``{disabled_at, id_types, link_url, ref_id}``."""
        body: dict[str, Any] = {}
        if is_disabled is not None:
            body["is_disabled"] = is_disabled
        if id_types is not None:
            body["id_types"] = [dict(t) for t in id_types]
        return self.call("PUT", f"smile_links/{_segment(ref_id)}", json=body)

    def disable_link(self, ref_id: str) -> dict[str, Any]:
        """Disable a link: no one can use it any more."""
        return self.update_link(ref_id, is_disabled=True)

    def get_link(self, ref_id: str) -> dict[str, Any]:
        """``POST /smile_links/{ref_id}``: the link's fields and counters."""
        return self.call("POST", f"smile_links/{_segment(ref_id)}", json={})

    def list_links(self, page: int | None = None) -> dict[str, Any]:
        """One page of links: ``{links: [...], meta: {currentPage, limit, totalCount, totalPages}}``."""
        return self.call("POST", "smile_links/:list", json={} if page is None else {"page": page})

    def iter_links(self) -> Iterator[dict[str, Any]]:
        """Every link, page after page."""
        page = 1
        while True:
            answer = self.list_links(page)
            yield from answer.get("links") or []
            total = int((answer.get("meta") or {}).get("totalPages") or 0)
            if page >= total:
                return
            page += 1

    # -- jobs ----------------------------------------------------------------------------

    def job_status(
        self, user_id: str, job_id: str, *, image_links: bool = False, history: bool = False
    ) -> dict[str, Any]:
        """``POST /job_status`` for the job Smile ID knows by ``user_id`` and the partner's
        ``job_id``, with the body Smile ID's own server library sends: ``{job_complete,
        job_success, code, result, ...}``. The answer's signature is checked (constant time):
        :class:`SmileIDAPIError` when it is not this partner's."""
        body = {"user_id": user_id, "job_id": job_id, "image_links": image_links, "history": history}
        answer = self.call("POST", "job_status", json=body)
        timestamp, signature = answer.get("timestamp"), answer.get("signature")
        if not confirm(timestamp, signature, self.partner_id, self._api_key):  # type: ignore[arg-type]
            raise SmileIDAPIError("Smile ID's job_status answer is not signed with this partner's key.",
                                  status=200, host=self.host, path="job_status")
        return answer

    def record_test_result(
        self, user_id: str, job_id: str, result_code: str, *, final: bool, smile_job_id: str | None = None
    ) -> dict[str, Any]:
        """The kit's emulator only (``POST /sandbox/jobs``; Smile ID has no such call): record a
        result of a job so that ``job_status`` answers with it; returns the result's body."""
        body: dict[str, Any] = {"user_id": user_id, "job_id": job_id, "result_code": result_code,
                                "final": final}
        if smile_job_id:
            body["smile_job_id"] = smile_job_id
        return self.call("POST", "sandbox/jobs", json=body)

def _segment(ref_id: str) -> str:
    if not ref_id or "/" in ref_id or ref_id.startswith(":"):
        raise ValueError(f"not a link ref_id: {ref_id!r}")
    return ref_id

