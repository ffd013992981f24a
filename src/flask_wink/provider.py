"""What the core asks of an upstream: the :class:`Provider` protocol and the values it speaks.

Plain Python, no Flask. The core runs the flow (routes, storage, handling, signals); a provider
only answers questions about its upstream:

- how a link starts for an app user (:meth:`Provider.start_link`): settings for the page's script
  (a widget token) or a URL to send the browser to;
- which browser events it accepts (:attr:`Provider.browser_events`), and what a redirect back
  from the upstream means (:meth:`Provider.return_event`);
- how an inbound server-to-server message is verified (:meth:`Provider.verify_inbound`, raising
  :class:`~flask_wink.errors.VerificationError` and nothing else);
- the status an event implies (:meth:`Provider.status_update`, pure, no I/O);
- what runs after an event is stored (:attr:`Provider.handlers`);
- its CLI group, its sandbox app, its Flask parts, and how it is closed.

Two optional attributes: ``public_urls``, this app's own URLs the provider hands its upstream
(:class:`PublicURL`, built by the core from the app's public address, never from a request's
unchecked ``Host``: see :mod:`flask_wink.addresses`); and ``owns_unprefixed_routes``, true for the
one provider the un-prefixed routes (``/wink/token``, ``/wink/webhooks``...) serve whenever it is
enabled, so enabling another provider never changes what they do.

And, optionally, test events on demand (``flask wink trigger``): ``test_events``, the
:class:`TestEvent` values it can send, and ``test_messages(name, upstream_user_id)``, which yields
the signed :class:`TestMessage` of one, in order (see :mod:`flask_wink.triggers`). A provider
without them has none.

And, optionally, what its events mean for people: ``describe(kind, name, payload, status=None)``,
one line for a stored event (a ``str``, or a :class:`~flask_wink.summaries.EventSummary` with a
badge and a tone), or None for an event it does not describe; ``status`` is the last known status
of the account the event is about. Pure, no I/O. :func:`flask_wink.summaries.summarize_event`
calls it, and gives a generic line (``Webhook <name>``) for a provider without it.

A provider is built from the app's configuration by a factory ``from_config(config, **context)``
named in the ``flask_wink.providers`` entry point group, or passed to ``Wink(providers=[...])``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

#: The kinds of stored event: what the user's browser reported, and what the upstream's server sent.
BROWSER = "callback"
INBOUND = "webhook"

#: What the core records instead when a provider's update for a browser event says ``connected``:
#: the browser's word is a claim, and only the upstream (a signed message, or a read the kit makes
#: itself) confirms a connection. Such a claim never replaces another status.
UNCONFIRMED = "UNCONFIRMED"


@dataclass(frozen=True)
class LinkStart:
    """How a link begins for one app user.

    ``widget`` is handed as JSON to the page's script (e.g. a short-lived token); ``url`` is where
    to send the browser instead (a hosted page). ``upstream_user_id`` is the upstream's id for the
    user, which the core keeps mapped to the app user. ``details``: what else the upstream said
    (e.g. the token's own id), for the host app; the core sends it nowhere.
    """

    upstream_user_id: str
    widget: Mapping[str, Any] | None = None
    url: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Inbound:
    """A verified server-to-server message, ready to be stored.

    ``event_id`` is the upstream's id for the message (redeliveries share it, so it is stored once);
    ``name`` its type; ``payload`` the decoded body; ``upstream_user_id`` whose it is, when it says.
    ``keep_raw``: whether the very body received is stored (the default); False stores ``payload``
    instead, for an upstream whose body carries something never to be kept (a signature).
    """

    event_id: str
    name: str
    payload: Any
    upstream_user_id: str | None = None
    keep_raw: bool = True


@dataclass(frozen=True)
class StatusUpdate:
    """What one event says about one account (or connection, or verification).

    ``replaces``: the last known statuses this one may replace, so a status only moves forward.
    ``connected``: whether the new status means the account is connected; only an update of a
    signed server-to-server message may say so. A browser's report is a claim: its update has a
    status of the provider's own (e.g. ``UNCONFIRMED``) that replaces no status the upstream gave,
    and the provider's handler confirms it with the upstream. The core records a browser's update
    only for accounts of the event's own upstream user, and one that says ``connected`` as
    :data:`UNCONFIRMED` instead.
    ``announces``: whether the event is a report of the connection, so that ``account_connected``
    is sent for it (for a signed message) or the provider confirms it (for a browser's claim);
    False for an event that only carries the account as it stands (a widget's UI event after the
    connection was reported by its own callback).
    """

    account_id: str
    status: str
    replaces: tuple[str, ...]
    connected: bool = False
    institution_id: str | None = None
    error_code: str | None = None
    announces: bool = True


@dataclass(frozen=True)
class PublicURL:
    """One of this app's own URLs that a provider hands its upstream (where to post results,
    where to send the browser back, the origin a widget posts its events to).

    ``endpoint`` is the Flask endpoint it points at, with ``values`` for its URL; None stands for
    the app's origin (``scheme://host[:port]``). ``given`` is the provider's own setting for it
    (``WINK_SMILE_ID_CALLBACK_URL``...): when set, it is used as it is.
    """

    endpoint: str | None
    values: Mapping[str, str] = field(default_factory=dict)
    given: str | None = None


@dataclass(frozen=True)
class ReturnEvent:
    """What a redirect back from the upstream says: recorded as an (untrusted) browser event."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TestEvent:
    """An upstream message a provider can make up and sign on demand, for ``flask wink trigger``:
    ``name`` is what the command is given (``ACCOUNT_CONNECTED``), ``summary`` one line for people."""

    name: str
    summary: str


@dataclass(frozen=True)
class TestMessage:
    """One signed message of a test event, as the upstream would post it to this app.

    ``endpoint`` (with ``values``) is the Flask endpoint of this app that receives it, whose
    public URL is where it goes unless the command is given another; ``note`` is a line to show
    with it (what it stands for, what the app can do with it); ``shown``: the body as it is
    printed, when part of it must not be (a signature inside it).
    """

    endpoint: str
    body: bytes
    headers: Mapping[str, str]
    values: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None
    shown: bytes | None = None


#: Runs after an event is stored: ``handler(app, state, event, errors)`` with the Flask app, the
#: :class:`~flask_wink.state.WinkState` and the :class:`~flask_wink.store.StoredEvent`. It may
#: append a message to ``errors`` (the event is then marked failed and can be retried) or raise.
Handler = Callable[[Any, Any, Any, list], None]


class UpstreamUserGone(Exception):
    """The upstream no longer knows the user the core had mapped; the core makes a new one."""


@runtime_checkable
class Provider(Protocol):
    """One upstream, as the core sees it."""

    #: Stored with every event and mapping ("smile_wink"); its URL segment uses "-" for "_".
    name: str
    #: For people: "Smile Wink".
    title: str
    #: Names of the browser events the link page may report.
    browser_events: Collection[str]
    #: Whether the upstream sends signed server-to-server messages (``POST .../webhooks``).
    accepts_inbound: bool

    def start_link(
        self, app_user_id: str, upstream_user_id: str | None, options: Mapping[str, str]
    ) -> LinkStart:
        """Start a link; ``upstream_user_id`` is None the first time. May raise
        :class:`UpstreamUserGone` (the core then calls again with None) or the provider's
        :class:`~flask_wink.errors.UpstreamCallError`."""
        ...

    def page_settings(self, options: Mapping[str, str]) -> dict[str, Any]:
        """What the link page's script needs besides the core's URLs; ``ValueError`` for bad options."""
        ...

    def verify_inbound(self, raw: bytes, headers: Mapping[str, str], now: float) -> Inbound:
        """Verify one inbound message (signature, freshness, envelope) or raise
        :class:`~flask_wink.errors.VerificationError`."""
        ...

    def return_event(self, query: Mapping[str, str]) -> ReturnEvent | None:
        """What a redirect back to ``.../return`` says, or None when the provider has none."""
        ...

    def status_update(self, kind: str, name: str, payload: Any) -> StatusUpdate | None:
        """The status an event implies, if any; pure."""
        ...

    #: What runs after each event of this provider is stored, in order.
    handlers: Sequence[Handler]

    def cli_group(self) -> Any:
        """A ``click.Group`` of the provider's commands (under ``flask wink``), or None."""
        ...

    def sandbox_app(self, **options: Any) -> Any:
        """A WSGI app emulating the upstream offline, or None."""
        ...

    def flask_parts(self) -> Any:
        """A Flask blueprint with the provider's templates, static files and extra views, or None."""
        ...

    def close(self) -> None:
        """Release what the provider holds (HTTP clients)."""
        ...


def url_segment(name: str) -> str:
    """A provider's name as it appears in URLs: ``smile_wink`` -> ``smile-wink``."""
    return name.replace("_", "-")
