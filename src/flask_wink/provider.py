"""What the core asks of an upstream: the :class:`Provider` protocol and the values it speaks.

Plain Python, no Flask. The core runs the flow (routes, storage, handling, signals); a provider
only answers questions about its upstream:

- how a link starts for an app user (:meth:`Provider.start_link`): settings for the page's script
  (a widget token) or a URL to send the browser to;
- which callbacks (browser events) it accepts (:attr:`Provider.browser_events`), and what a
  redirect back from the upstream means (:meth:`BaseProvider.return_event`);
- how an inbound server-to-server message is verified (:meth:`Provider.verify_inbound`, raising
  :class:`~flask_wink.errors.VerificationError` and nothing else);
- the status an event implies (:meth:`Provider.status_update`, pure, no I/O);
- what runs after an event is stored (:attr:`BaseProvider.handlers`);
- its settings, CLI group, offline sandbox (:attr:`BaseProvider.serve_sandbox`), Flask
  blueprint, and how it is closed.

:class:`Provider` lists what every provider answers; :class:`BaseProvider` defaults everything
else (each optional member is documented there), so a provider class states only the facts of
its upstream. A plain object that has the members of :class:`Provider` is a provider too: the
core reads its optional members through :func:`member`, with :class:`BaseProvider`'s defaults.

Among them: ``public_urls``, this app's own URLs the provider hands its upstream
(:class:`PublicURL`, built by the core from the app's public address, never from a request's
unchecked ``Host``: see :mod:`flask_wink.addresses`), handed to ``start_link`` as
:class:`LinkURLs`; ``owns_unprefixed_routes``, true for the one provider the un-prefixed routes
(``/wink/token``, ``/wink/webhooks``...) serve whenever it is enabled, so enabling another
provider never changes what they do; and test events on demand (``flask wink trigger``):
``test_events``, the :class:`TestEvent` values it can send, and ``test_messages(name,
upstream_user_id)``, which yields the signed :class:`TestMessage` of one, in order (see
:mod:`flask_wink.triggers`).

And what its events mean for people: ``describe(kind, name, payload, status=None)``, one line
for a stored event (a ``str``, or a :class:`~flask_wink.summaries.EventSummary` with a badge and a
tone), or None for an event it does not describe; ``status`` is the last known status of the
account the event is about. Pure, no I/O. :func:`flask_wink.summaries.summarize_event` calls it,
and gives a generic line (``Webhook <name>``) for a provider without it.

A provider is built from the app's configuration by the class named in the
``flask_wink.providers`` entry point group (its ``from_config(config, **context)``; with
:class:`BaseProvider`, from its declared :class:`~flask_wink.settings.Setting` values), or passed
to ``Wink(providers=[...])``.
"""

from __future__ import annotations

import importlib
import inspect
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, runtime_checkable

from . import settings as _settings
from .errors import VerificationError
from .settings import Setting

#: The kinds of stored event: a callback is what the user's browser reported (the widget's
#: callbacks, a redirect back); a webhook what the upstream's server sent, signed.
CALLBACK = "callback"
WEBHOOK = "webhook"
#: The names these had before (``BROWSER`` is ``CALLBACK``, ``INBOUND`` is ``WEBHOOK``).
BROWSER = CALLBACK
INBOUND = WEBHOOK

#: The entry point group where provider packages name their provider class.
PROVIDER_ENTRY_POINTS = "flask_wink.providers"

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


#: What a :class:`PersonalData` table's user column holds: the upstream's id for the user, the
#: app's own id for them, or the event id of one of their stored events (``wink_events.event_id``).
TIED_BY = ("upstream_user_id", "app_user_id", "event_id")


@dataclass(frozen=True)
class PersonalData:
    """One table of a provider's own that holds personal data, and how its rows tie to a user.

    ``table``: the table's name; ``user_column``: its column that names whose a row is;
    ``tied_by``: what that column holds (one of :data:`TIED_BY`: the upstream user id, the app
    user id, or the event id of one of the user's events of this provider); ``columns``: the
    columns that hold personal data, which are encrypted at rest when ``WINK_ENCRYPTION_KEYS`` is
    set; ``encrypted``: only these of them instead (a column a query compares with a value must
    stay clear: an encrypted value differs at every write). :func:`flask_wink.erase_user` deletes
    a user's rows of every table an enabled provider declares; the core's own tables (events,
    accounts, users) need no declaration.
    """

    table: str
    user_column: str = "upstream_user_id"
    tied_by: str = "upstream_user_id"
    columns: tuple[str, ...] = ()
    encrypted: tuple[str, ...] | None = None

    @property
    def encrypted_columns(self) -> tuple[str, ...]:
        """The columns encrypted at rest: ``encrypted``, or every one of ``columns``."""
        return self.columns if self.encrypted is None else self.encrypted

    def __post_init__(self) -> None:
        if self.tied_by not in TIED_BY:
            raise ValueError(f"tied_by must be one of {', '.join(TIED_BY)}, not {self.tied_by!r}.")


@dataclass(frozen=True)
class UpstreamErasure:
    """What an upstream answered when asked to delete what it holds of a user.

    ``asked``: whether there was a call to ask (False: the upstream has none, or no user of
    this app user); ``ok``: whether every call succeeded (False: ask again later);
    ``answer``: one line for people and for the audit, with no personal data in it (counts and
    statuses, never ids, names or values).
    """

    asked: bool
    ok: bool
    answer: str


@dataclass(frozen=True)
class FetchedData:
    """Where a provider keeps data it fetched from (or was sent by) its upstream, which expires
    after ``WINK_FETCHED_DATA_RETENTION`` (or its own ``WINK_<PROVIDER>_DATA_RETENTION``).

    Either a table of its own, ``table``, whose rows are dated by the column ``at``: an expired
    row is deleted, or, with ``clear``, those columns are set to the values given (the row stays,
    for what it still links); or ``events``: the names of its stored events that hold such data,
    whose payloads are emptied once handled (their dedupe keys stay). ``what`` names it for people.
    """

    what: str
    table: str | None = None
    at: str = "fetched_at"
    clear: Mapping[str, Any] | None = None
    events: Collection[str] = ()


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


class LinkURLs(Mapping[str, str]):
    """This app's own public URLs, as ``start_link`` is handed them.

    ``origin`` (``scheme://host[:port]``), ``return_url`` (``GET .../<provider>/return``) and
    ``webhook_url`` (``POST .../<provider>/webhooks``), and by name each of the provider's
    ``public_urls`` (``urls["callback_url"]``: its own setting when given). Each is built by the
    core when first read, from the app's public address and never from a request's ``Host`` (see
    :mod:`flask_wink.addresses`), so a link that reads none needs no public address.
    """

    def __init__(self, provider: str, declared: Mapping[str, PublicURL], build: Callable[[PublicURL], str]):
        self._segment = url_segment(provider)
        self._declared = declared
        self._build = build
        self._built: dict[Any, str] = {}

    def _get(self, key: Any, url: PublicURL) -> str:
        if key not in self._built:
            self._built[key] = url.given or self._build(url)
        return self._built[key]

    @property
    def origin(self) -> str:
        return self._get(("origin",), PublicURL(None))

    @property
    def return_url(self) -> str:
        return self._get(("return",), PublicURL("wink.return_page", {"provider": self._segment}))

    @property
    def webhook_url(self) -> str:
        return self._get(("webhook",), PublicURL("wink.receive_webhook", {"provider": self._segment}))

    def __getitem__(self, name: str) -> str:
        return self._get(name, self._declared[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._declared)

    def __len__(self) -> int:
        return len(self._declared)


@runtime_checkable
class Provider(Protocol):
    """One upstream, as the core sees it: what every provider answers. The optional members,
    and their defaults, are :class:`BaseProvider`'s."""

    #: Stored with every event and mapping ("smile_wink"); its URL segment uses "-" for "_".
    name: str
    #: For people: "Smile Wink".
    title: str
    #: Names of the callbacks (browser events) the link page may report.
    browser_events: Collection[str]
    #: Whether the upstream sends signed server-to-server messages (``POST .../webhooks``).
    accepts_inbound: bool

    def start_link(
        self, app_user_id: str, upstream_user_id: str | None, options: Mapping[str, str], urls: LinkURLs
    ) -> LinkStart:
        """Start a link; ``upstream_user_id`` is None the first time; ``urls``: this app's own
        URLs to hand the upstream. May raise :class:`UpstreamUserGone` (the core then calls again
        with None) or the provider's :class:`~flask_wink.errors.UpstreamCallError`. (A provider
        whose ``start_link`` takes no ``urls`` is called without them.)"""
        ...

    def verify_inbound(self, raw: bytes, headers: Mapping[str, str], now: float) -> Inbound:
        """Verify one inbound message (signature, freshness, envelope) or raise
        :class:`~flask_wink.errors.VerificationError`."""
        ...

    def status_update(self, kind: str, name: str, payload: Any) -> StatusUpdate | None:
        """The status an event of ``kind`` (:data:`CALLBACK` or :data:`WEBHOOK`) implies, if any; pure."""
        ...


class BaseProvider:
    """A provider's optional members, defaulted: subclass it and state your upstream's facts.

    Required: ``name``, ``title`` and :meth:`start_link`; a provider with browser events lists
    them in ``browser_events``, one with signed server-to-server messages sets
    ``accepts_inbound`` and defines :meth:`verify_inbound`; :meth:`status_update` says what an
    event means for an account. Everything else here may be left as it is.

    Settings: declare them in ``settings`` (:class:`~flask_wink.settings.Setting` values, read
    from ``WINK_<NAME>_<SETTING>``, or ``settings_prefix`` + the setting's name); the core reads,
    converts and checks them, and :meth:`from_settings` gets them by their lower-case names.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    #: The callbacks (browser events) the link page may report; none by default.
    browser_events: Collection[str] = ()
    #: Whether the upstream sends signed server-to-server messages (``POST .../webhooks``).
    accepts_inbound: bool = False
    #: What runs after each event of this provider is stored, in order:
    #: ``handler(app, state, event, errors)``.
    handlers: Sequence[Handler] = ()
    #: Its settings, read by convention (see :mod:`flask_wink.settings`).
    settings: ClassVar[Sequence[Setting]] = ()
    #: Where its settings are read: None for ``WINK_<NAME>_`` (``WINK_SMILE_ID_``).
    settings_prefix: ClassVar[str | None] = None
    #: This app's own URLs it hands its upstream, by name (see :class:`PublicURL`); ``start_link``
    #: gets them built in its ``urls``.
    public_urls: Mapping[str, PublicURL] = MappingProxyType({})
    #: True for the one provider the un-prefixed routes serve whenever it is enabled.
    owns_unprefixed_routes: bool = False
    #: The header carrying its inbound messages' signature (listed in the OpenAPI document).
    signature_header: str | None = None
    #: The messages ``flask wink trigger`` can make up for it (see :meth:`test_messages`).
    test_events: Sequence[TestEvent] = ()
    #: Where it keeps data fetched from its upstream, which expires (see :class:`FetchedData`).
    fetched_data: Sequence[FetchedData] = ()
    #: ``serve_sandbox(argv, prog) -> int``, a static method: ``python -m flask_wink.sandbox
    #: <name> ...`` serves its offline emulator with it; None: it has none. Set by ``sandbox``.
    serve_sandbox: ClassVar[Callable[[list[str], str], int] | None] = None
    #: Its parts, each named ``"module:attribute"`` relative to its class's package and imported
    #: only when first asked for: ``cli``, a ``click.Group`` of its commands (``flask wink <name>
    #: ...``); ``views``, a Flask blueprint of its templates, static files and views; ``sandbox``,
    #: the ``serve_sandbox`` function of its offline emulator. E.g. ``cli = ".cli:acme_cli"``.
    cli: ClassVar[str | None] = None
    views: ClassVar[str | None] = None
    sandbox: ClassVar[str | None] = None
    #: Its own tables that hold personal data (:class:`PersonalData`): what
    #: :func:`flask_wink.erase_user` deletes for a user besides the core's tables.
    personal_data: Sequence[PersonalData] = ()
    # No ``migrations`` here: without one, its migrations are the ``migrations/`` folder beside
    # the module of its class (see flask_wink.store.migrations.location).

    # -- built from the app's settings ------------------------------------------------------

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "sandbox" in cls.__dict__ and "serve_sandbox" not in cls.__dict__ and cls.sandbox:
            spec, owner = cls.sandbox, cls

            def serve_sandbox(argv: list[str], prog: str) -> int:
                return _part(owner, spec)(argv, prog)

            cls.serve_sandbox = staticmethod(serve_sandbox)
        if "setup_hint" not in cls.__dict__ and "settings" in cls.__dict__:
            cls.setup_hint = _settings.setup_hint(cls)

    #: How to enable it, for the message when no provider is configured (made from ``settings``).
    setup_hint: ClassVar[str] = ""

    @classmethod
    def configured(cls, config: Mapping[str, Any]) -> bool:
        """Whether ``config`` enables it: every setting that ``enables`` it is set."""
        return _settings.enabled_by(cls, config)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **context: Any) -> Any:
        """Read its ``settings`` from ``config`` (a one-line ConfigurationError says what is wrong)
        and build it with :meth:`from_settings`. ``context``: ``transport`` (for its HTTP client,
        in tests) and ``instance_path``."""
        return cls.from_settings(_settings.read_settings(cls, config), **context)

    @classmethod
    def from_settings(cls, settings: dict[str, Any], **context: Any) -> Any:
        """Build it from its settings read (by lower-case name); override it to make a client."""
        return cls(**settings)

    # -- linking -------------------------------------------------------------------------

    def start_link(
        self, app_user_id: str, upstream_user_id: str | None, options: Mapping[str, str], urls: LinkURLs
    ) -> LinkStart:
        raise NotImplementedError(f"{type(self).__name__} must define start_link.")

    def page_settings(self, options: Mapping[str, str]) -> dict[str, Any]:
        """What the link page's script needs besides the core's URLs; ``ValueError`` for bad options."""
        return {}

    def return_event(self, query: Mapping[str, str]) -> ReturnEvent | None:
        """What a redirect back to ``.../return`` says; None: the upstream never sends the browser back."""
        return None

    def match_return(self, state: Any, app_user_id: str, reported: ReturnEvent) -> ReturnEvent | None:
        """The return to record for the signed-in user (None: record nothing, the page is still
        shown). Any site can link to ``/return``: tie it to a link the user started."""
        return reported

    # -- inbound -------------------------------------------------------------------------

    def verify_inbound(self, raw: bytes, headers: Mapping[str, str], now: float) -> Inbound:
        """Check one inbound message, or raise :class:`~flask_wink.errors.VerificationError`
        (also :class:`~flask_wink.errors.MalformedMessage`, :class:`~flask_wink.errors.StaleMessage`)."""
        raise VerificationError(f"{self.title} sends no server-to-server messages.")

    def status_update(self, kind: str, name: str, payload: Any) -> StatusUpdate | None:
        """What an event says about one account, if anything; pure, no I/O."""
        return None

    def stored_args(self, name: str, args: dict[str, Any], upstream_user_id: str | None) -> dict[str, Any]:
        """A callback's args as they are stored (keep a credential out of the events table)."""
        return args

    def shown_payload(self, kind: str, name: str, payload: Any) -> Any:
        """A stored payload as listings (``GET /wink/events``) show it."""
        return payload

    def describe(self, kind: str, name: str, payload: Any, status: str | None = None) -> Any:
        """What an event means for people: a line (``str``), a
        :class:`~flask_wink.summaries.EventSummary`, or None for the core's generic line."""
        return None

    def test_messages(self, name: str, upstream_user_id: str | None) -> Iterator[TestMessage]:
        """The signed messages of the test event ``name``, in order (see :attr:`test_events`)."""
        return iter(())

    def erase_upstream(self, state: Any, upstream_user_ids: Sequence[str]) -> UpstreamErasure:
        """Ask the upstream to delete what it holds of these users of its (``flask wink users
        erase --upstream``), before the kit deletes its own rows (so their ids can still be read
        here). The default: the upstream has no such call."""
        return UpstreamErasure(asked=False, ok=True,
                               answer=f"{self.title} has no call to delete a user's data.")

    # -- parts ---------------------------------------------------------------------------

    def page_origins(self) -> list[str]:
        """Origins its pages load from, frame or send the browser to (Content-Security-Policy)."""
        return []

    def openapi(self, base: str) -> dict[str, Any]:
        """Its part of ``/wink/openapi.json``: ``{"parameters": {...}, "paths": {...}}``."""
        return {}

    def cli_group(self) -> Any:
        """A ``click.Group`` of its commands (under ``flask wink``), or None: its ``cli`` part."""
        return _part(type(self), getattr(self, "cli", None))

    def blueprint(self) -> Any:
        """A Flask blueprint with its templates, static files and views (mounted at
        ``<WINK_URL_PREFIX>/<provider>``, asked for once per app), or None: its ``views`` part."""
        return _part(type(self), getattr(self, "views", None))

    def flask_parts(self) -> Any:
        """The name :meth:`blueprint` had before."""
        return self.blueprint()

    def close(self) -> None:
        """Release what it holds: its ``client``'s ``close()``, when it has one."""
        close = getattr(getattr(self, "client", None), "close", None)
        if close is not None:
            close()


def _part(cls: type, spec: str | None) -> Any:
    """The part ``spec`` (``"module:attribute"``, the module relative to ``cls``'s package) of a
    provider class, imported now; None for no part."""
    if not spec:
        return None
    module, _, attribute = spec.partition(":")
    package = cls.__module__.rpartition(".")[0] or cls.__module__
    return getattr(importlib.import_module(module, package=package), attribute)


_MISSING = object()


def member(provider: Any, name: str) -> Any:
    """``provider``'s optional member ``name`` (bound), else :class:`BaseProvider`'s default for
    it: how the core reads what a provider need not have."""
    found = getattr(provider, name, _MISSING)
    if found is not _MISSING:
        return found
    default = BaseProvider.__dict__[name]
    getter = getattr(type(default), "__get__", None)
    return getter(default, provider, type(provider)) if getter is not None else default


def blueprint_of(provider: Any) -> Any:
    """The Flask blueprint of ``provider``'s views (its ``blueprint()``, or ``flask_parts()`` as
    providers written before it call it), or None."""
    make = getattr(provider, "blueprint", None) or getattr(provider, "flask_parts", None)
    return make() if make is not None else None


_TAKES_URLS: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def call_start_link(
    provider: Any, app_user_id: str, upstream_user_id: str | None, options: Mapping[str, str], urls: LinkURLs
) -> LinkStart:
    """``provider.start_link(...)`` with ``urls``, or without them for a provider whose
    ``start_link`` takes three arguments (as before they were handed)."""
    start = provider.start_link
    key = getattr(start, "__func__", start)
    takes = _TAKES_URLS.get(key)
    if takes is None:
        try:
            inspect.signature(start).bind(app_user_id, upstream_user_id, options, urls)
            takes = True
        except TypeError:
            takes = False
        except ValueError:  # no signature to read: as the protocol says
            takes = True
        try:
            _TAKES_URLS[key] = takes
        except TypeError:  # not weakly referable: asked again next time
            pass
    if takes:
        return start(app_user_id, upstream_user_id, options, urls)
    return start(app_user_id, upstream_user_id, options)


def installed(name: str) -> Any:
    """The provider class installed under ``name`` (its entry point), or None."""
    for ep in entry_points(group=PROVIDER_ENTRY_POINTS, name=name):
        try:
            return ep.load()
        except Exception:  # an installed provider that cannot load: as good as not installed
            return None
    return None


def not_enabled(name: str) -> str:
    """The one line for a provider that is not enabled: how to enable it (from its settings)."""
    found = installed(name)
    title = getattr(found, "title", None) or name
    hint = _settings.what_enables(found) if found is not None else ""
    listing = f"list {name} in WINK_PROVIDERS"
    how = f"{hint} (and {listing} if you set that)" if hint else listing
    return f"{title} is not enabled on this app: {how}."


def url_segment(name: str) -> str:
    """A provider's name as it appears in URLs: ``smile_wink`` -> ``smile-wink``."""
    return name.replace("_", "-")
