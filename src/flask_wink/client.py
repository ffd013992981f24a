"""A thin client for Smile's Open API, built on one long-lived ``httpx.Client``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from .errors import (
    SmileAPIError,
    SmileAuthError,
    SmileConnectionError,
    SmileError,
    SmileNotFound,
    SmileRateLimited,
    SmileServerError,
    SmileTimeout,
)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class SmileClient:
    """Smile Open API over HTTP Basic auth; answers are unwrapped from ``{code, message, requestId, data}``.

    Thread-safe: share one instance per app and :meth:`close` it when the app stops.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key or not api_secret:
            raise RuntimeError(
                "Smile API credentials are missing: set API_KEY and API_SECRET in .env "
                "(or pass api_key=... and api_secret=...)."
            )
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            auth=httpx.BasicAuth(api_key, api_secret),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "flask-wink"},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> SmileClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one request and return the envelope's ``data``, or raise a :class:`SmileError`."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path.lstrip("/"), params=clean, json=json)
        except httpx.TimeoutException as exc:
            raise SmileTimeout(f"{method} {path} timed out") from exc
        except httpx.HTTPError as exc:
            raise SmileConnectionError(f"{method} {path} failed: {type(exc).__name__}") from exc
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict):
            if response.is_success:
                raise SmileAPIError(
                    f"{method} {path} answered a body that is not Smile's JSON envelope",
                    status=response.status_code,
                )
            envelope = {}
        if not response.is_success:  # a 3xx (say, an http:// host redirecting to https://) too
            raise _error_for(response.status_code, envelope, f"{method} {path}")
        return envelope.get("data")

    # -- users and tokens --------------------------------------------------------------------

    def create_user(self, external_metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
        """``POST /users``: a new Smile user and its first Link token, as ``{user, token}``."""
        body = {"externalMetadata": dict(external_metadata or {})}
        return self.request("POST", "/users", json=body)

    def refresh_token(self, user_id: str) -> dict[str, Any]:
        """``POST /tokens?userId=``: a fresh Link token ``{accessToken, expiresAt, mode}``."""
        return self.request("POST", "/tokens", params={"userId": user_id})

    def get_user(self, user_id: str) -> dict[str, Any]:
        """``GET /users/{id}``."""
        return self.request("GET", f"/users/{_segment(user_id)}")

    def list_users(self, *, cursor: str | None = None, size: int | None = None) -> dict[str, Any]:
        """``GET /users``: one page ``{items, nextCursor}``."""
        return self.request("GET", "/users", params={"cursor": cursor, "size": size})

    # -- accounts and archives ---------------------------------------------------------------

    def list_accounts(
        self, *, user_id: str | None = None, cursor: str | None = None, size: int | None = None
    ) -> dict[str, Any]:
        """``GET /accounts``: one page ``{items, nextCursor}``."""
        params = {"userId": user_id, "cursor": cursor, "size": size}
        return self.request("GET", "/accounts", params=params)

    def get_account(self, account_id: str) -> dict[str, Any]:
        """``GET /accounts/{id}``."""
        return self.request("GET", f"/accounts/{_segment(account_id)}")

    def revoke_account(self, account_id: str) -> None:
        """``DELETE /accounts/{id}``: revoke the account and its data at Smile."""
        self.request("DELETE", f"/accounts/{_segment(account_id)}")

    def list_archives(
        self, *, user_id: str | None = None, cursor: str | None = None, size: int | None = None
    ) -> dict[str, Any]:
        """``GET /archives``: one page ``{items, nextCursor}``."""
        params = {"userId": user_id, "cursor": cursor, "size": size}
        return self.request("GET", "/archives", params=params)

    def get_archive(self, archive_id: str) -> dict[str, Any]:
        """``GET /archives/{id}``."""
        return self.request("GET", f"/archives/{_segment(archive_id)}")

    # -- providers ---------------------------------------------------------------------------

    def list_providers(
        self, *, cursor: str | None = None, size: int | None = None
    ) -> dict[str, Any]:
        """``GET /providers``: one page ``{items, nextCursor}``."""
        return self.request("GET", "/providers", params={"cursor": cursor, "size": size})

    def get_provider(self, provider_id: str) -> dict[str, Any]:
        """``GET /providers/{id}``."""
        return self.request("GET", f"/providers/{_segment(provider_id)}")

    # -- webhooks ----------------------------------------------------------------------------

    def create_webhook(
        self,
        url: str,
        secret: str,
        event_types: list[str],
        *,
        name: str = "flask-wink",
        active: bool = True,
    ) -> dict[str, Any]:
        """``POST /webhooks``: register ``url`` for ``event_types``, signed with ``secret``."""
        body = {
            "name": name,
            "url": url,
            "eventTypes": list(event_types),
            "active": active,
            "secret": secret,
        }
        return self.request("POST", "/webhooks", json=body)

    def list_webhooks(
        self, *, cursor: str | None = None, size: int | None = None
    ) -> dict[str, Any]:
        """``GET /webhooks``: one page ``{items, nextCursor}``."""
        return self.request("GET", "/webhooks", params={"cursor": cursor, "size": size})

    def get_webhook(self, webhook_id: str) -> dict[str, Any]:
        """``GET /webhooks/{id}``."""
        return self.request("GET", f"/webhooks/{_segment(webhook_id)}")

    def delete_webhook(self, webhook_id: str) -> None:
        """``DELETE /webhooks/{id}``."""
        self.request("DELETE", f"/webhooks/{_segment(webhook_id)}")

    # -- pagination --------------------------------------------------------------------------

    def iterate(self, list_method: str, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield every item of a list call (``"list_accounts"``, ...), following ``nextCursor``."""
        method = getattr(self, list_method)
        cursor = None
        seen: set[str] = set()
        while True:
            page = method(cursor=cursor, **filters) or {}
            yield from page.get("items") or []
            cursor = page.get("nextCursor")
            if not cursor or cursor in seen:  # a server that repeats a cursor would loop forever
                return
            seen.add(cursor)


def _segment(value: str) -> str:
    """``value`` as one path segment: ``/``, ``?``, ``#`` and dot-segments must not reshape the URL."""
    escaped = quote(str(value), safe="")
    return escaped.replace(".", "%2E") if escaped.strip(".") == "" else escaped


def _error_for(status: int, envelope: Mapping[str, Any], what: str) -> SmileError:
    code = envelope.get("code")
    message = envelope.get("message") or f"{what} answered HTTP {status}"
    kwargs = {"code": code, "request_id": envelope.get("requestId"), "status": status}
    if status in (401, 403):
        return SmileAuthError(message, **kwargs)
    if status == 404:
        return SmileNotFound(message, **kwargs)
    if status == 429:
        return SmileRateLimited(message, **kwargs)
    if status >= 500:
        return SmileServerError(message, **kwargs)
    return SmileAPIError(message, **kwargs)
