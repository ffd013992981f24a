"""A thin client of a self-hosted UCW's API (v2 and v1), over one long-lived ``httpx.Client``."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import date
from typing import Any

import httpx

from .errors import (
    UcwAuthError,
    UcwConnectionError,
    UcwNotFound,
    UcwRefused,
    UcwServerError,
    UcwTimeout,
)

CONNECTION_HEADER = "UCW-Connection-Id"


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` on every request (when the deployment has authentication on)."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = self._header
        yield request


class UcwClient:
    """Calls to UCW: widget URLs and tokens, data, deletes. Errors are :class:`~.errors.UcwError`."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: httpx.Timeout | float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: Whether requests carry a bearer token (v1 then fetches a widget token per load).
        self.authenticated = bool(token)
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=BearerAuth(token) if token else None,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.LocalProtocolError, httpx.InvalidURL, UnicodeEncodeError):
            # A value no HTTP request can carry (a header with CR/LF or beyond ASCII): UCW could
            # never accept it, so it is a refusal, not a failure worth retrying.
            raise UcwRefused(
                f"UCW cannot be sent this {method} {path}: a value is not valid in a request."
            ) from None
        except httpx.TimeoutException:
            raise UcwTimeout(f"UCW did not answer {method} {path} in time.", host=self.base_url) from None
        except httpx.HTTPError as exc:
            raise UcwConnectionError(f"UCW could not be reached ({type(exc).__name__}).",
                                     host=self.base_url) from None
        if response.status_code >= 400:
            raise _refusal(response, host=self.base_url, path=f"{method} {path}")
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise UcwRefused("UCW answered with something that is not JSON.", status=response.status_code,
                             host=self.base_url, path=f"{method} {path}") from None

    # -- starting the widget ----------------------------------------------------------------

    def widget_url(self, body: Mapping[str, Any]) -> str:
        """v2: ``POST /widgetUrl`` -> a one-use widget URL good for 5 minutes."""
        found = self._json("POST", "/widgetUrl", json=dict(body))
        url = found.get("widgetUrl") if isinstance(found, dict) else None
        if not isinstance(url, str):
            raise UcwRefused("UCW's /widgetUrl answer has no widgetUrl.")
        return url

    def token(self, user_id: str) -> str:
        """v1: ``GET /api/token?userId=`` -> a one-use token for the widget URL."""
        found = self._json("GET", "/api/token", params={"userId": user_id})
        token = found.get("token") if isinstance(found, dict) else None
        if not isinstance(token, str):
            raise UcwRefused("UCW's /api/token answer has no token.")
        return token

    # -- data -------------------------------------------------------------------------------

    def accounts(self, aggregator: str, user_id: str, connection_id: str) -> list[dict[str, Any]]:
        """The connection's accounts (FDX); :class:`UcwNotFound` when UCW does not know it for the user."""
        found = self._json("GET", "/api/data/accounts", params={"aggregator": aggregator, "userId": user_id},
                           headers={CONNECTION_HEADER: connection_id})
        return list(found.get("accounts") or [])

    def identity(self, aggregator: str, user_id: str, connection_id: str) -> list[dict[str, Any]]:
        """The account owners (FDX customers)."""
        found = self._json("GET", "/api/data/identity", params={"aggregator": aggregator, "userId": user_id},
                           headers={CONNECTION_HEADER: connection_id})
        return list(found.get("customers") or [])

    def transactions(
        self, aggregator: str, user_id: str, connection_id: str, account_id: str, start: date, end: date
    ) -> list[dict[str, Any]]:
        """One account's transactions between ``start`` and ``end`` (FDX)."""
        params = {"aggregator": aggregator, "userId": user_id, "accountId": account_id,
                  "startDate": start.isoformat(), "endDate": end.isoformat()}
        found = self._json("GET", "/api/data/transactions", params=params,
                           headers={CONNECTION_HEADER: connection_id})
        return list(found.get("transactions") or [])

    # -- deletes ----------------------------------------------------------------------------

    def delete_connection(self, aggregator: str, connection_id: str, user_id: str) -> None:
        """``DELETE /api/connection?aggregator=&userId=`` with the connection in a header (UCW
        requires the user and deletes only that user's connection)."""
        self._call("DELETE", "/api/connection", params={"aggregator": aggregator, "userId": user_id},
                   headers={CONNECTION_HEADER: connection_id})

    def delete_user(self, aggregator: str, user_id: str) -> None:
        """``DELETE /api/user?aggregator=&userId=``: the user and its connections at that aggregator."""
        self._call("DELETE", "/api/user", params={"aggregator": aggregator, "userId": user_id})


def _refusal(response: httpx.Response, *, host: str, path: str) -> UcwRefused:
    """UCW's error as an exception: its JSON ``message``, or its (HTML-escaped) text."""
    try:
        body = response.json()
        message = body.get("message") if isinstance(body, dict) else None
    except ValueError:
        message = None
    if not message:
        message = html.unescape(response.text.strip())[:300] or response.reason_phrase
    status = response.status_code
    kind: type[UcwRefused] = UcwRefused
    if status in (401, 403):
        kind = UcwAuthError
    elif status == 404:
        kind = UcwNotFound
    elif status >= 500:
        kind = UcwServerError
    return kind(message, status=status, host=host, path=path)

