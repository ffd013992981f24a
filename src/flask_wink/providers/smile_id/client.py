"""A thin client for Smile ID's Smile Links API: create, update, disable, get and list links,
and ask for a job's status.

Every body is signed by :class:`~flask_wink.providers.smile_id.signature.SmileIDAuth`; Smile ID's
errors become :mod:`~flask_wink.providers.smile_id.errors` with their ``code``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from .errors import (
    SmileIDAPIError,
    SmileIDAuthError,
    SmileIDConnectionError,
    SmileIDNotFound,
    SmileIDRateLimited,
    SmileIDServerError,
    SmileIDTimeout,
)
from .signature import SmileIDAuth, confirm

SANDBOX_HOST = "https://testapi.smileidentity.com/v1"
PRODUCTION_HOST = "https://api.smileidentity.com/v1"


class SmileIDClient:
    """One long-lived HTTP client per app, shared across threads; :meth:`close` on teardown."""

    def __init__(
        self,
        host: str,
        partner_id: str,
        api_key: str,
        *,
        timeout: httpx.Timeout | float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.host = host.rstrip("/")
        self.partner_id = partner_id
        self._api_key = api_key
        self._http = httpx.Client(
            base_url=self.host + "/",
            auth=SmileIDAuth(partner_id, api_key, clock),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

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
        return self._call("POST", "smile_links", body)

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
        return self._call("PUT", f"smile_links/{_segment(ref_id)}", body)

    def disable_link(self, ref_id: str) -> dict[str, Any]:
        """Disable a link: no one can use it any more."""
        return self.update_link(ref_id, is_disabled=True)

    def get_link(self, ref_id: str) -> dict[str, Any]:
        """``POST /smile_links/{ref_id}``: the link's fields and counters."""
        return self._call("POST", f"smile_links/{_segment(ref_id)}", {})

    def list_links(self, page: int | None = None) -> dict[str, Any]:
        """One page of links: ``{links: [...], meta: {currentPage, limit, totalCount, totalPages}}``."""
        return self._call("POST", "smile_links/:list", {} if page is None else {"page": page})

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
        answer = self._call("POST", "job_status", body)
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
        return self._call("POST", "sandbox/jobs", body)

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            raise SmileIDTimeout(f"Smile ID did not answer in time ({type(exc).__name__}).",
                                 host=self.host, path=path) from None
        except httpx.HTTPError as exc:
            raise SmileIDConnectionError(f"Smile ID could not be reached ({type(exc).__name__}).",
                                         host=self.host, path=path) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success:
            if not isinstance(data, dict):
                raise SmileIDAPIError("Smile ID answered with something other than a JSON object.",
                                      status=response.status_code, host=self.host, path=path)
            return data
        raise _error(response.status_code, data, host=self.host, path=f"{method} {path}")


def _segment(ref_id: str) -> str:
    if not ref_id or "/" in ref_id or ref_id.startswith(":"):
        raise ValueError(f"not a link ref_id: {ref_id!r}")
    return ref_id


def _error(status: int, data: Any, *, host: str, path: str) -> SmileIDAPIError:
    data = data if isinstance(data, dict) else {}
    code = str(data["code"]) if data.get("code") is not None else None
    message = str(data.get("error") or data.get("message") or f"HTTP {status}")
    kind: type[SmileIDAPIError] = SmileIDAPIError
    # By the HTTP status only: Smile ID's 2204 also says "a parameter is of the wrong data type"
    # (400), so the code alone cannot tell a refused key from a bad request.
    if status in (401, 403):
        kind = SmileIDAuthError
    elif status == 404:
        kind = SmileIDNotFound
    elif status == 429:
        kind = SmileIDRateLimited
    elif status >= 500:
        kind = SmileIDServerError
    return kind(message, code=code, status=status, host=host, path=path)
