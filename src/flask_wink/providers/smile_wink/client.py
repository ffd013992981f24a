"""A thin client for Smile's Open API, built on one long-lived ``httpx.Client``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from ...upstream import UpstreamClient
from .errors import ERRORS
from .fileformat import sniff_format


class SmileClient(UpstreamClient):
    """Smile Open API over HTTP Basic auth; answers are unwrapped from ``{code, message, requestId, data}``.

    Thread-safe: share one instance per app and :meth:`close` it when the app stops. ``timeout``,
    ``transport`` and ``mounts`` go to the ``httpx.Client``; failures are :class:`~.errors.SmileError`.
    """

    errors = ERRORS

    def __init__(self, base_url: str, api_key: str, api_secret: str, **http: Any) -> None:
        if not api_key or not api_secret:
            raise RuntimeError(
                "Smile API credentials are missing: pass api_key=... and api_secret=... "
                "(Smile's API key and secret; in an app, WINK_API_KEY and WINK_API_SECRET)."
            )
        super().__init__(base_url, auth=httpx.BasicAuth(api_key, api_secret), **http)

    def request(self, method: str, path: str, **request: Any) -> Any:
        """Send one request (``params=``, ``json=``: see :meth:`send`) and return the envelope's
        ``data``, or raise a :class:`SmileError`."""
        return self.call(method, path, **request).get("data")

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

    # -- invites and invite templates (the invitations part: flask_wink/invites.py) ----------

    def create_invite(
        self,
        email: str,
        full_name: str,
        template_id: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        wink_template_id: str | None = None,
    ) -> dict[str, Any]:
        """``POST /invites``: create and send an invite; the ``Invite``."""
        body = {
            "email": email,
            "fullName": full_name,
            "templateId": template_id,
            "firstName": first_name,
            "lastName": last_name,
            "winkTemplateId": wink_template_id,
        }
        return self.request("POST", "/invites", json={k: v for k, v in body.items() if v is not None})

    def list_invites(self, *, cursor: str | None = None, size: int | None = None) -> dict[str, Any]:
        """``GET /invites``: one page ``{items, nextCursor}``."""
        return self.request("GET", "/invites", params={"cursor": cursor, "size": size})

    def get_invite(self, invite_id: str) -> dict[str, Any]:
        """``GET /invites/{id}``."""
        return self.request("GET", f"/invites/{_segment(invite_id)}")

    def list_invite_logs(
        self, invite_id: str, *, cursor: str | None = None, size: int | None = None
    ) -> dict[str, Any]:
        """``GET /invites/{inviteId}/logs``: one page of the invite's status changes."""
        params = {"cursor": cursor, "size": size}
        return self.request("GET", f"/invites/{_segment(invite_id)}/logs", params=params)

    def create_invite_template(self, template: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /inviteTemplates``: ``template`` is an ``InviteTemplatePostRequest``."""
        return self.request("POST", "/inviteTemplates", json=dict(template))

    def list_invite_templates(
        self, *, cursor: str | None = None, size: int | None = None
    ) -> dict[str, Any]:
        """``GET /inviteTemplates``: one page ``{items, nextCursor}``."""
        return self.request("GET", "/inviteTemplates", params={"cursor": cursor, "size": size})

    def get_invite_template(self, template_id: str) -> dict[str, Any]:
        """``GET /inviteTemplates/{id}``."""
        return self.request("GET", f"/inviteTemplates/{_segment(template_id)}")

    def update_invite_template(self, template_id: str, template: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /inviteTemplates/{id}``: replace the template with ``template`` (every field)."""
        return self.request("PUT", f"/inviteTemplates/{_segment(template_id)}", json=dict(template))

    def delete_invite_template(self, template_id: str) -> None:
        """``DELETE /inviteTemplates/{id}``."""
        self.request("DELETE", f"/inviteTemplates/{_segment(template_id)}")

    # -- end of invites and invite templates ---------------------------------------------------

    # -- user data: identities, employments, incomes, ... (the user-data part: userdata.py) ----

    #: The user-data collections of the Open API, each listed at ``/<kind>`` and read at ``/<kind>/{id}``.
    DATA_KINDS = (
        "identities", "employments", "incomes", "transactions", "documents", "ratings", "contributions"
    )

    def list_data(
        self,
        kind: str,
        *,
        user_id: str | None = None,
        source_id: str | None = None,
        cursor: str | None = None,
        size: int | None = None,
    ) -> dict[str, Any]:
        """``GET /<kind>`` (``kind`` one of :attr:`DATA_KINDS`): one page ``{items, nextCursor}``."""
        params = {"userId": user_id, "sourceId": source_id, "cursor": cursor, "size": size}
        return self.request("GET", f"/{self._data_kind(kind)}", params=params)

    def get_data(self, kind: str, item_id: str) -> dict[str, Any]:
        """``GET /<kind>/{id}``: one identity, employment, income, ... by its id."""
        return self.request("GET", f"/{self._data_kind(kind)}/{_segment(item_id)}")

    @classmethod
    def _data_kind(cls, kind: str) -> str:
        # Checked, so a kind from user input can never reshape the URL.
        if kind not in cls.DATA_KINDS:
            raise ValueError(f"kind must be one of {', '.join(cls.DATA_KINDS)}, not {kind!r}.")
        return kind

    # -- end of user data ------------------------------------------------------------------------

    # -- archives: uploaded documents (the archives part: flask_wink/archives.py) ---------------

    def upload_archive(
        self, user_id: str | None, files: list[Any], type: str | None = "PAYSLIP"
    ) -> dict[str, Any]:
        """``POST /archives``: one archive of ``files`` (paths, or ``(name, bytes)`` pairs); the ``Archive``.

        Each file is sent base64-encoded; its format (PDF, PNG, JPG, JPEG) comes from its name or,
        failing that, its first bytes. ``user_id=None`` lets Smile make a new user for the archive.
        """
        import base64
        from pathlib import Path

        raw_files = []
        for item in files:
            if isinstance(item, (str, Path)):
                name, content = Path(item).name, Path(item).read_bytes()
            else:
                name, content = item
            raw_files.append(
                {
                    "fileExtensionType": self._archive_format(name, content),
                    "fileSubtype": "PAYSLIP" if type == "PAYSLIP" else None,
                    "fileName": name,
                    "fileContent": base64.b64encode(content).decode("ascii"),
                }
            )
        if not raw_files:
            raise ValueError("upload_archive needs at least one file.")
        body = {"userId": user_id, "fileType": type, "rawFiles": raw_files}
        return self.request("POST", "/archives", json=body)

    def revoke_archive(self, archive_id: str) -> None:
        """``DELETE /archives/{id}``: revoke the archive; Smile deletes its files and data."""
        self.request("DELETE", f"/archives/{_segment(archive_id)}")

    @staticmethod
    def _archive_format(name: str, content: bytes) -> str:
        extension = name.rsplit(".", 1)[-1].upper() if "." in name else ""
        if extension in ("PDF", "PNG", "JPG", "JPEG"):
            return extension
        sniffed = sniff_format(content)
        if sniffed is not None:
            return sniffed
        raise ValueError(f"{name!r} is not a PDF, PNG or JPEG file; Smile takes only those.")

    # -- end of archives -----------------------------------------------------------------------


def _segment(value: str) -> str:
    """``value`` as one path segment: ``/``, ``?``, ``#`` and dot-segments must not reshape the URL."""
    escaped = quote(str(value), safe="")
    return escaped.replace(".", "%2E") if escaped.strip(".") == "" else escaped

