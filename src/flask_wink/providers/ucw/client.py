"""A thin client of a self-hosted UCW's API (v2 and v1), over one long-lived ``httpx.Client``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from ...upstream import BearerAuth, UpstreamClient
from .errors import ERRORS, UcwRefused

__all__ = ["CONNECTION_HEADER", "BearerAuth", "UcwClient"]

CONNECTION_HEADER = "UCW-Connection-Id"


class UcwClient(UpstreamClient):
    """Calls to UCW: widget URLs and tokens, data, deletes. Errors are :class:`~.errors.UcwError`;
    ``timeout``, ``transport`` and ``mounts`` go to the ``httpx.Client``."""

    errors = ERRORS
    code_key = request_id_key = None
    quotes_text = True  # UCW refuses in plain text as often as in JSON

    def __init__(self, base_url: str, token: str | None = None, **http: Any) -> None:
        # A bearer token when the deployment has authentication on.
        super().__init__(base_url, auth=BearerAuth(token) if token else None, **http)
        #: Whether requests carry a bearer token (v1 then fetches a widget token per load).
        self.authenticated = bool(token)

    # -- starting the widget ----------------------------------------------------------------

    def widget_url(self, body: Mapping[str, Any]) -> str:
        """v2: ``POST /widgetUrl`` -> a one-use widget URL good for 5 minutes."""
        found = self.call("POST", "/widgetUrl", json=dict(body))
        url = found.get("widgetUrl")
        if not isinstance(url, str):
            raise UcwRefused("UCW's /widgetUrl answer has no widgetUrl.")
        return url

    def token(self, user_id: str) -> str:
        """v1: ``GET /api/token?userId=`` -> a one-use token for the widget URL."""
        found = self.call("GET", "/api/token", params={"userId": user_id})
        token = found.get("token")
        if not isinstance(token, str):
            raise UcwRefused("UCW's /api/token answer has no token.")
        return token

    # -- data -------------------------------------------------------------------------------

    def accounts(self, aggregator: str, user_id: str, connection_id: str) -> list[dict[str, Any]]:
        """The connection's accounts (FDX); :class:`UcwNotFound` when UCW does not know it for the user."""
        found = self.call("GET", "/api/data/accounts", params={"aggregator": aggregator, "userId": user_id},
                          headers={CONNECTION_HEADER: connection_id})
        return list(found.get("accounts") or [])

    def identity(self, aggregator: str, user_id: str, connection_id: str) -> list[dict[str, Any]]:
        """The account owners (FDX customers)."""
        found = self.call("GET", "/api/data/identity", params={"aggregator": aggregator, "userId": user_id},
                          headers={CONNECTION_HEADER: connection_id})
        return list(found.get("customers") or [])

    def transactions(
        self, aggregator: str, user_id: str, connection_id: str, account_id: str, start: date, end: date
    ) -> list[dict[str, Any]]:
        """One account's transactions between ``start`` and ``end`` (FDX)."""
        params = {"aggregator": aggregator, "userId": user_id, "accountId": account_id,
                  "startDate": start.isoformat(), "endDate": end.isoformat()}
        found = self.call("GET", "/api/data/transactions", params=params,
                          headers={CONNECTION_HEADER: connection_id})
        return list(found.get("transactions") or [])

    # -- deletes ----------------------------------------------------------------------------

    def delete_connection(self, aggregator: str, connection_id: str, user_id: str) -> None:
        """``DELETE /api/connection?aggregator=&userId=`` with the connection in a header (UCW
        requires the user and deletes only that user's connection)."""
        self.send("DELETE", "/api/connection", params={"aggregator": aggregator, "userId": user_id},
                  headers={CONNECTION_HEADER: connection_id})

    def delete_user(self, aggregator: str, user_id: str) -> None:
        """``DELETE /api/user?aggregator=&userId=``: the user and its connections at that aggregator."""
        self.send("DELETE", "/api/user", params={"aggregator": aggregator, "userId": user_id})

