"""Smile's Wink widget and Open API as a :class:`~flask_wink.provider.Provider`.

Its settings are declared in :attr:`SmileWink.settings`, under the names the kit has always used
for Smile (``WINK_API_KEY``, ``WINK_API_SECRET``, ``WINK_API_HOST``, ``WINK_WEBHOOK_SECRETS``...).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from ...errors import MalformedMessage
from ...flow import TriggerError
from ...provider import (
    CALLBACK,
    BaseProvider,
    FetchedData,
    Inbound,
    LinkStart,
    LinkURLs,
    PersonalData,
    StatusUpdate,
    TestEvent,
    TestMessage,
    UpstreamErasure,
    UpstreamUserGone,
    url_segment,
)
from ...settings import Setting, split_setting
from ...signing import HmacVerifier
from . import signature
from .client import SmileClient
from .describe import describe_event
from .errors import SmileNotFound
from .statuses import (
    BROWSER_REPLACES,
    CALLBACK_STATUS,
    CALLBACKS,
    NAME,
    SMILE_STATUSES,
    WEBHOOK_STATUS,
    AccountStatus,
    claimed,
    statuses_replaced_by,
)

log = logging.getLogger("flask_wink")

DEFAULT_API_HOST = "https://sandbox.smileapi.io/v1"
# Smile's own hosts; any other API host is taken to be a sandbox that serves its own SDK.
SMILE_API_HOSTS = {"open.smileapi.io", "sandbox.smileapi.io", "open-sandbox.smileapi.io"}
SMILE_SDK_URL = "https://web.smileapi.io/v{version}/smile.v{version}.js"
SDK_VERSIONS = (1, 2)


class SmileWink(BaseProvider):
    """Smile's Wink widget: mint Link tokens, name callbacks, read statuses, verify webhooks."""

    name = NAME
    title = "Smile Wink"
    browser_events = CALLBACKS
    accepts_inbound = True
    signature_header = signature.SIGNATURE_HEADER
    sdk_versions = SDK_VERSIONS
    #: ``/wink/token``, ``/wink/link``, ``/wink/callbacks`` and ``/wink/webhooks`` are the URLs
    #: Smile's own docs and clients use: they serve Smile Wink whenever it is enabled.
    owns_unprefixed_routes = True
    settings_prefix = "WINK_"
    #: Its own tables that hold a user's data: the user data fetched (``document``: employments,
    #: incomes, identities...) and the archives uploaded (file names, the payslip analysis); these
    #: columns are encrypted at rest.
    personal_data = (
        PersonalData("wink_user_data", "upstream_user_id", columns=("document",)),
        PersonalData("wink_archives", "upstream_user_id", columns=("file_names", "analysis", "error")),
    )
    #: What it fetched from Smile, which expires after WINK_SMILE_WINK_DATA_RETENTION (or
    #: WINK_FETCHED_DATA_RETENTION): the user data documents, and the files' names and analyses.
    fetched_data = (
        FetchedData("user data (identities, employments, incomes)", table="wink_user_data"),
        FetchedData("uploaded files' names and payslip analyses", table="wink_archives", at="created_at",
                    clear={"file_names": "[]", "analysis": None, "error": None}),
    )
    settings = (
        Setting("API_KEY", required=True, hint="your Smile API key"),
        Setting("API_SECRET", required=True, enables=False, hint="your Smile API secret"),
        Setting("API_HOST", default=DEFAULT_API_HOST),
        Setting("WEBHOOK_SECRETS", list, default=()),
        Setting("WEBHOOK_MAX_AGE", float, default=3 * 24 * 3600.0, empty=0.0),  # 0, None: no check
        Setting("SDK_VERSION", int, default=2, choices=SDK_VERSIONS),
        Setting("SDK_URL"),
        Setting("TEMPLATE_ID"),
        Setting("TIMEOUT", float, default=10.0),
        Setting("FETCH_ON", lambda value: frozenset(n.upper() for n in split_setting(value)),
                default=frozenset()),
    )

    def __init__(
        self,
        client: SmileClient,
        *,
        api_host: str = DEFAULT_API_HOST,
        webhook_secrets: tuple[str, ...] = (),
        webhook_max_age: float | None = 3 * 24 * 3600,
        sdk_version: int = 2,
        sdk_url: str | None = None,
        template_id: str | None = None,
        fetch_on: frozenset[str] = frozenset(),
    ) -> None:
        self.client = client
        self.api_host = api_host
        self.webhook_secrets = webhook_secrets
        self.webhook_max_age = webhook_max_age
        self.sdk_version = sdk_version
        self.sdk_url_template = sdk_url
        self.template_id = template_id
        self.fetch_on = fetch_on
        from .handlers import HANDLERS

        self.handlers = HANDLERS

    def erase_upstream(self, state: Any, upstream_user_ids: Sequence[str]) -> UpstreamErasure:
        """Revoke the users' accounts and archives at Smile (``DELETE /accounts/{id}``,
        ``DELETE /archives/{id}``); Smile has no call to delete the user itself."""
        from .erasure import erase_upstream

        return erase_upstream(self, state, upstream_user_ids)

    @classmethod
    def from_settings(
        cls, settings: dict[str, Any], *, transport: httpx.BaseTransport | None = None, **_: Any
    ) -> SmileWink:
        key, secret, timeout = settings.pop("api_key"), settings.pop("api_secret"), settings.pop("timeout")
        client = SmileClient(settings["api_host"], key, secret, timeout=httpx.Timeout(timeout, connect=5.0),
                             transport=transport)
        settings["webhook_max_age"] = settings["webhook_max_age"] or None
        if not settings["webhook_secrets"]:
            log.warning("WINK_WEBHOOK_SECRETS is not set: every webhook will be refused with 401.")
        return cls(client, **settings)

    # -- linking ---------------------------------------------------------------------------

    def start_link(
        self, app_user_id: str, upstream_user_id: str | None, options: Mapping[str, str], urls: LinkURLs
    ) -> LinkStart:
        """A first-time user gets ``POST /users``; a returning one ``POST /tokens?userId=``."""
        if upstream_user_id is None:
            # Smile takes ASCII metadata values of at most 500 characters; the mapping is ours anyway.
            fits = app_user_id.isascii() and len(app_user_id) <= 500
            data = self.client.create_user({"appUserId": app_user_id} if fits else {})
            upstream_user_id = data["user"]["id"]
            token = data["token"]
        else:
            try:
                token = self.client.refresh_token(upstream_user_id)
            except SmileNotFound:
                raise UpstreamUserGone(upstream_user_id) from None
        widget = {
            "accessToken": token["accessToken"],
            "expiresAt": token["expiresAt"],
            "mode": token.get("mode", ""),
            "userId": upstream_user_id,
        }
        details = {"tokenId": token.get("id")}
        return LinkStart(upstream_user_id=upstream_user_id, widget=widget, details=details)

    def page_settings(self, options: Mapping[str, str]) -> dict[str, Any]:
        """The SDK version and script (``?sdk=1`` picks v1) and the template id."""
        version = self.sdk_version
        sdk = options.get("sdk")
        if sdk is not None:
            if sdk not in {str(v) for v in SDK_VERSIONS}:
                raise ValueError("sdk must be 1 or 2.")
            version = int(sdk)
        return {"sdkVersion": version, "sdkUrl": self.script_url(version), "templateId": self.template_id}

    def openapi(self, base: str) -> dict[str, Any]:
        """Its part of ``/wink/openapi.json``: the link page's ``?sdk=`` and its static files."""
        from ...openapi import html_response, query_parameter

        sdk = query_parameter("sdk", "The widget SDK version.", {"enum": [str(v) for v in SDK_VERSIONS]})
        static = {"get": {
            "summary": "Smile Wink's static files (wink.js).",
            "parameters": [
                {"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {"200": {"description": "The file.", "content": {"text/javascript": {
                "schema": {"type": "string"}}}}, "404": html_response("No such file.")},
        }}
        return {"parameters": {"link": [sdk]}, "paths": {f"{base}/static/{{filename}}": static}}

    def script_url(self, version: int) -> str:
        """The widget SDK script for ``version`` (``WINK_SDK_URL`` may hold ``{version}``)."""
        if self.sdk_url_template:
            return self.sdk_url_template.format(version=version)
        return sdk_url(version, self.api_host)

    def page_origins(self) -> list[str]:
        """Origins the link page loads the widget from (its script, frames and API calls), for the
        page's Content-Security-Policy."""
        origins = []
        for url in (self.script_url(1), self.script_url(2), self.api_host):
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc:
                origins.append(f"{parts.scheme}://{parts.netloc}")
        if any((urlsplit(origin).hostname or "").endswith(".smileapi.io") for origin in origins):
            origins.append("https://*.smileapi.io")  # the widget's own frames and calls
        return list(dict.fromkeys(origins))

    # -- inbound ---------------------------------------------------------------------------

    @functools.cached_property
    def _webhook_verifier(self) -> HmacVerifier:
        """Smile's webhook scheme under ``WINK_WEBHOOK_SECRETS``, made once, not per webhook."""
        return signature.scheme(self.webhook_secrets, self.webhook_max_age)

    def verify_inbound(self, raw: bytes, headers: Mapping[str, str], now: float) -> Inbound:
        """Check ``Smile-Signature`` over the raw body, the envelope and its age."""
        verifier = self._webhook_verifier
        verifier.verify(raw, headers, now)
        try:
            event = signature.parse_event(raw)
        except ValueError as exc:
            raise MalformedMessage(f"Not a Smile event envelope: {exc}.") from None
        if self.webhook_max_age:
            verifier.check_time(event["createdAt"], now)
        user_id = _str_or_none((event.get("data") or {}).get("userId"))
        return Inbound(event_id=event["id"], name=event["type"], payload=event, upstream_user_id=user_id)

    # -- test events (flask wink trigger) ------------------------------------------------------

    @property
    def test_events(self) -> tuple[TestEvent, ...]:
        """Every webhook type of Smile's spec, made as the sandbox makes it."""
        from .sandbox.events import EVENT_TYPES, SUMMARIES

        return tuple(TestEvent(name, SUMMARIES[name]) for name in EVENT_TYPES)

    def test_messages(self, name: str, upstream_user_id: str | None) -> Iterator[TestMessage]:
        """One webhook of type ``name`` for ``upstream_user_id``, signed with the first of
        ``WINK_WEBHOOK_SECRETS`` (the one Smile signs with)."""
        from .sandbox.samples import sample_event

        if not self.webhook_secrets:
            raise TriggerError("WINK_WEBHOOK_SECRETS is not set: set it to the secret of your Smile webhook.")
        raw = json.dumps(sample_event(name, upstream_user_id), separators=(",", ":")).encode()
        signed = self._webhook_verifier.headers(raw)
        headers = {"Content-Type": "application/json", **signed}
        yield TestMessage("wink.receive_webhook", raw, headers, values={"provider": url_segment(self.name)})

    # -- statuses --------------------------------------------------------------------------

    def status_update(self, kind: str, name: str, payload: Any) -> StatusUpdate | None:
        """The account status a webhook reports, or what the kit records for a widget callback's:
        the widget's word is a claim (see :func:`.statuses.claimed`), confirmed with Smile by
        :func:`.claims.confirm_account`."""
        if not isinstance(payload, Mapping):
            return None
        if kind == CALLBACK:
            status, account = CALLBACK_STATUS.get(name), payload
            if name == "onUIEvent":
                # The widget's UI events carry the account as it stands, AWAITING_MFA included.
                ui = payload.get("account")
                ui = ui if isinstance(ui, Mapping) else {}
                account = {
                    "accountId": ui.get("id"),
                    "providerId": ui.get("providerId"),
                    "errorCode": ui.get("errorCode"),
                }
                status = _as_status(ui.get("status"))
            institution = account.get("providerId")
        else:
            status = WEBHOOK_STATUS.get(name)
            account = payload.get("data")
            account = account if isinstance(account, Mapping) else {}
            providers = account.get("providers")
            institution = providers[0] if isinstance(providers, list) and providers else None
        if status is None or not isinstance(account.get("accountId"), str) or not account["accountId"]:
            return None
        if kind == CALLBACK:
            status = claimed(status)
            if status is None:
                return None
            replaces = tuple(str(s) for s in BROWSER_REPLACES[status])
        else:
            replaces = statuses_replaced_by(status)
        return StatusUpdate(
            account_id=account["accountId"],
            status=str(status),
            replaces=replaces,
            connected=kind != CALLBACK and status is AccountStatus.CONNECTED,
            institution_id=_str_or_none(institution),
            error_code=_str_or_none(account.get("errorCode")),
            # The widget reports a connection by onAccountConnected; its UI events carry the
            # account as it stands, on every step after that too.
            announces=not (kind == CALLBACK and name == "onUIEvent"),
        )

    #: What an event means, for people (see :func:`flask_wink.summaries.summarize_event`).
    describe = staticmethod(describe_event)


    # Its parts: ``flask wink smile-wink ...`` (also under ``flask wink`` itself), the link page and the
    # widget's script, and ``python -m flask_wink.sandbox [smile-wink]``
    cli = ".cli:smile_wink_cli"
    views = ".views:parts"
    sandbox = ".sandbox.serve:serve_sandbox"


def sdk_url(version: int, api_base: str) -> str:
    """The widget script for ``version``: Smile's CDN for Smile's hosts, else the sandbox's."""
    parts = urlsplit(api_base)
    if parts.hostname in SMILE_API_HOSTS:
        return SMILE_SDK_URL.format(version=version)
    root = api_base.rstrip("/")
    if root.endswith("/v1"):
        root = root[: -len("/v1")]
    return f"{root}/v{version}/smile.v{version}.js"


def _as_status(value: Any) -> AccountStatus | None:
    """One of Smile's own statuses (never the kit's, which a browser might send too)."""
    try:
        status = AccountStatus(value)
    except ValueError:
        return None
    return status if status in SMILE_STATUSES else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
