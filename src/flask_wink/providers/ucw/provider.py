"""The Universal Connect Widget (UCW) as a :class:`~flask_wink.provider.Provider`.

Its settings (``WINK_UCW_*``) are declared in :attr:`UniversalConnect.settings`: ``URL`` (the
self-hosted UCW) enables it; ``TARGET_ORIGIN`` (where the widget posts its events) defaults to the
origin of the app's public address (see :mod:`flask_wink.addresses`); ``USE_APP_USER_ID`` sends
the app's own user id as UCW's ``userId`` (default: a random one per user).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from ...errors import InvalidRequest
from ...openapi import query_parameter
from ...provider import (
    CALLBACK,
    BaseProvider,
    FetchedData,
    LinkStart,
    LinkURLs,
    PersonalData,
    PublicURL,
    StatusUpdate,
    UpstreamErasure,
)
from ...settings import URL, Invalid, Setting, split_setting
from .client import UcwClient
from .describe import describe_event
from .errors import UnknownConnection
from .events import (
    CONNECTION_ID_FIELDS,
    CONNECTION_KEY_RE,
    EVENT_TYPES,
    JOB_TYPES,
    MEMBER_CONNECTED,
    NAME,
    REPLACES,
    UNCONFIRMED,
    connected_ids,
    kept_metadata,
    masked,
    reported_connection,
)

API_VERSIONS = ("v2", "v1")
DEFAULT_JOB_TYPES = ("accountNumber", "accountOwner", "transactions")


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _api_version(value: Any) -> str:
    version = str(value).strip().lower()
    return {"2": "v2", "1": "v1"}.get(version, version)


def _job_types(value: Any) -> tuple[str, ...]:
    listed = split_setting(value)
    bad = [j for j in listed if j not in JOB_TYPES]
    if bad or not listed:
        wrong = bad[0] if bad else "none"
        raise Invalid(f"must list some of {', '.join(JOB_TYPES)}; {wrong} is not one")
    return listed


class UniversalConnect(BaseProvider):
    """A self-hosted UCW: widget URLs (v2) or tokens (v1), relayed browser events, data, deletes."""

    name = NAME
    title = "Universal Connect Widget"
    browser_events = EVENT_TYPES
    accepts_inbound = False  # UCW sends nothing server-to-server: the browser relays its events
    #: Its connections: the bank and institution, and the FDX data fetched (``document``:
    #: accounts with their numbers and balances, the holder's identity, transactions).
    personal_data = (
        # Encrypted at rest: all but the institution's id, which the pages look its name up by.
        PersonalData("wink_ucw_connections", "upstream_user_id",
                     columns=("connection_id", "institution_id", "institution_name", "document"),
                     encrypted=("connection_id", "institution_name", "document")),
    )
    #: The FDX data fetched for each connection, cleared after WINK_UCW_DATA_RETENTION (or
    #: WINK_FETCHED_DATA_RETENTION); the connection itself stays.
    fetched_data = (
        FetchedData("FDX data (accounts, balances, transactions)", table="wink_ucw_connections",
                    clear={"document": None, "fetched_at": None}),
    )
    settings = (
        Setting("URL", URL, required=True, hint="your UCW's base URL, e.g. https://ucw.example"),
        Setting("TOKEN", hint="a bearer token, when the deployment has authentication on"),
        Setting("API_VERSION", _api_version, default="v2", choices=API_VERSIONS),
        Setting("JOB_TYPES", _job_types, default=DEFAULT_JOB_TYPES),
        Setting("TARGET_ORIGIN", lambda value: origin_of(URL(value))),
        Setting("TRANSACTIONS_DAYS", int, default=30, minimum=1),
        Setting("USE_APP_USER_ID", bool, default=False),
        Setting("TIMEOUT", float, default=10.0),
    )

    def __init__(
        self,
        client: UcwClient,
        *,
        api_version: str = "v2",
        job_types: tuple[str, ...] = DEFAULT_JOB_TYPES,
        target_origin: str | None = None,
        transactions_days: int = 30,
        use_app_user_id: bool = False,
    ) -> None:
        self.client = client
        self.api_version = api_version
        self.job_types = tuple(job_types)
        self.target_origin = origin_of(target_origin) if target_origin else None
        self.transactions_days = transactions_days
        self.use_app_user_id = use_app_user_id
        #: Where the widget runs: the page accepts its messages from this origin only.
        self.widget_origin = origin_of(client.base_url)
        from .handlers import HANDLERS

        self.handlers = HANDLERS
        #: Where the widget posts its events: ``WINK_UCW_TARGET_ORIGIN`` when given, else the
        #: origin of this app's public address (built by the core).
        self.public_urls = {"targetOrigin": PublicURL(None, given=self.target_origin)}

    @classmethod
    def from_settings(
        cls, settings: dict[str, Any], *, transport: httpx.BaseTransport | None = None, **_: Any
    ) -> UniversalConnect:
        url, token, timeout = settings.pop("url"), settings.pop("token"), settings.pop("timeout")
        client = UcwClient(url, token, timeout=httpx.Timeout(timeout, connect=5.0), transport=transport)
        return cls(client, **settings)

    # -- linking ---------------------------------------------------------------------------

    def start_link(
        self, app_user_id: str, upstream_user_id: str | None, options: Mapping[str, str], urls: LinkURLs
    ) -> LinkStart:
        """A widget URL for the user: v2 asks UCW for a one-use URL; v1 builds it (with a token when
        a bearer token is set). ``options["connection"]`` (a stored connection's key) refreshes it."""
        user_id = upstream_user_id or (app_user_id if self.use_app_user_id else f"ucw-{uuid.uuid4().hex}")
        refresh = None
        key = options.get("connection")
        if key:
            from .connections import connection_of

            _check_key(key)
            refresh = connection_of(key, user_id) if upstream_user_id else None
            if refresh is None:
                raise UnknownConnection("You have no such connection to refresh.")
        params: dict[str, Any] = {
            "jobTypes": list(self.job_types),
            "userId": user_id,
            "targetOrigin": urls["targetOrigin"],
        }
        if refresh is not None:
            params.update(connectionId=refresh["connectionId"], aggregator=refresh["aggregator"],
                          institutionId=refresh["institutionId"])
        if self.api_version == "v2":
            url = self.client.widget_url(params)
        else:
            query = {**params, "jobTypes": ",".join(self.job_types)}
            if self.client.authenticated:
                query["token"] = self.client.token(user_id)
            url = f"{self.client.base_url}/widget?{urlencode(query)}"
        widget = {"widgetUrl": url, "userId": user_id, "refresh": refresh is not None}
        return LinkStart(upstream_user_id=user_id, widget=widget)

    def erase_upstream(self, state: Any, upstream_user_ids: Sequence[str]) -> UpstreamErasure:
        """``DELETE /api/user`` at each aggregator the users have connections with."""
        from .connections import erase_upstream

        return erase_upstream(state, upstream_user_ids)

    def page_settings(self, options: Mapping[str, str]) -> dict[str, Any]:
        """The widget's origin (the page accepts messages from it only) and what to refresh."""
        key = options.get("connection")
        if key is not None:
            _check_key(key)
            # Another user's key (or any key the signed-in user has not) gets the 404 the token
            # call gives: the page does not even open.
            if not self._owns(key):
                raise UnknownConnection("You have no such connection to refresh.")
        return {"widgetOrigin": self.widget_origin, "apiVersion": self.api_version, "connection": key}

    def _owns(self, key: str) -> bool:
        from ...state import get_state
        from .connections import connection_of

        state = get_state()
        app_user_id = state.wink.current_user_id()
        upstream = state.store.upstream_user_id(NAME, app_user_id) if app_user_id else None
        return upstream is not None and connection_of(key, upstream) is not None

    # -- statuses --------------------------------------------------------------------------

    def status_update(self, kind: str, name: str, payload: Any) -> StatusUpdate | None:
        """A relayed ``memberConnected`` is only a claim: the connection is UNCONFIRMED until the
        handler has UCW confirm it (see :mod:`.handlers`)."""
        if kind != CALLBACK or name != MEMBER_CONNECTED:
            return None
        reported = reported_connection(payload)
        if reported is None:
            return None
        key, institution = reported
        return StatusUpdate(
            account_id=key,
            status=UNCONFIRMED,
            replaces=REPLACES[UNCONFIRMED],
            connected=False,
            institution_id=institution,
        )

    def stored_args(self, name: str, args: dict[str, Any], upstream_user_id: str | None) -> dict[str, Any]:
        """A relayed event as it is stored: never with a connection id (which, with the user id,
        opens the user's data at UCW), but its key and the id's last four characters. A
        ``memberConnected``'s ids are kept as a claim in ``wink_ucw_connections`` until UCW has
        answered for it, so that its confirmation (and a retry of it) can ask UCW."""
        ids = connected_ids(args)
        if name == MEMBER_CONNECTED and ids is not None and upstream_user_id:
            from .connections import keep_claim

            keep_claim(ids, upstream_user_id)
        return kept_metadata(args)

    def shown_payload(self, kind: str, name: str, payload: Any) -> Any:
        """A stored event's payload as listings show it: a connection id an event stored before
        they were kept out of events is cut to its last four characters."""
        if not isinstance(payload, dict):
            return payload
        return {k: masked(v) if k in CONNECTION_ID_FIELDS and isinstance(v, str) and not v.startswith("…")
                else v for k, v in payload.items()}

    def page_origins(self) -> list[str]:
        """UCW's origin, which the link page frames (for the page's Content-Security-Policy)."""
        return [self.widget_origin] if self.widget_origin else []

    def openapi(self, base: str) -> dict[str, Any]:
        """Its part of ``/wink/openapi.json``: the refresh's ``?connection=`` and the link page's
        ``?next=``, and ``GET <base>/connections``."""
        from .views import openapi_paths

        key = query_parameter(
            "connection", "A connection to refresh: its key, as the connections list gives it.",
            {"type": "string", "pattern": CONNECTION_KEY_RE.pattern.join("^$")},
        )
        back = query_parameter("next", "Where the Back link leads: a path on this site (else /).")
        return {"parameters": {"token": [key], "link": [key, back]}, "paths": openapi_paths(base)}

    #: What an event means, for people (see :func:`flask_wink.summaries.summarize_event`).
    describe = staticmethod(describe_event)


    # Its parts: ``flask wink ucw ...``, the link page and ``GET .../connections``, and ``python -m
    # flask_wink.sandbox ucw``
    cli = ".cli:ucw_cli"
    views = ".views:parts"
    sandbox = ".sandbox.serve:serve_sandbox"


def _check_key(key: str) -> None:
    """Refuse (400) what is not a connection key before it is looked up."""
    if not CONNECTION_KEY_RE.fullmatch(key):
        raise InvalidRequest("connection must be a connection key as the connections list gives it.")
