"""Per-app state: the enabled providers, the store, the host's hooks; found with :func:`get_state`.

Imports no provider: providers are built by :mod:`flask_wink.extension` and handed in.
"""

from __future__ import annotations

import collections
import ipaddress
import random
import threading
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from flask import Flask, current_app

from .errors import ConfigurationError, UnknownProvider
from .provider import Provider, member, not_enabled, url_segment
from .retention import RetentionPolicy
from .store import Store

if TYPE_CHECKING:
    from .extension import Wink
    from .ratelimits import RateLimits
    from .store import StoredEvent

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed event is tried again by itself (``WINK_RETRY_*``): after ``first_delay`` s,
    then each wait ``factor`` times the one before, at most ``max_delay`` s, less a random part of
    up to half of it (jitter: events that failed together, an upstream being down, do not all come
    back at the same moment); after ``attempts`` attempts in all, the event is parked as dead."""

    first_delay: float = 30.0
    factor: float = 2.0
    max_delay: float = 3600.0
    attempts: int = 10

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float | None:
        """Seconds to wait after attempt number ``attempt`` (1: the first) failed; None when it
        was the last one."""
        if attempt >= self.attempts:
            return None
        try:
            ceiling = min(self.max_delay, self.first_delay * self.factor ** max(0, attempt - 1))
        except OverflowError:  # a factor and attempt so large the float runs out: the cap holds
            ceiling = self.max_delay
        return ceiling * (1.0 - 0.5 * rand())


#: How the name an event is claimed under in celery mode begins, until a task takes it (a
#: process's own name begins with its host name, which holds no ``@``).
HANDED_PREFIX = "celery@"

#: Where the events a process stores are handled (``WINK_HANDLE_EVENTS``).
HandleEvents = Literal["background", "request", "worker", "celery"]


@dataclass(frozen=True)
class WinkSettings:
    """The core's ``WINK_*`` settings of one app, read and checked once by ``init_app``."""

    #: Where the blueprint is mounted (``WINK_URL_PREFIX``, without its trailing ``/``).
    url_prefix: str
    #: The provider that the un-prefixed routes (``/wink/token``, ``/wink/webhooks``...) serve.
    default_provider: str | None
    webhook_max_bytes: int
    callback_max_bytes: int
    webhook_networks: tuple[Network, ...] = ()
    #: ``"background"``: on the handler pool after the answer; ``"request"``: in the request;
    #: ``"worker"``: a ``flask wink worker`` does; ``"celery"``: a task on the host's Celery app.
    handle_events: HandleEvents = "background"
    #: The handler pool's size: at most this many threads drain its queue at once.
    handler_threads: int = 1
    #: Seconds after which an event claimed by a process that died is taken over (WINK_CLAIM_LEASE).
    claim_lease: float = 300.0
    #: When failed events are retried by themselves (WINK_RETRY_*), and when they are dead.
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Seconds between this process's sweeps for such events and for due retries
    #: (WINK_SWEEP_INTERVAL; 0: never).
    sweep_interval: float = 60.0
    #: How long events and fetched data are kept (WINK_EVENT_RETENTION and the rest).
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)


def _setting(name: str, doc: str) -> property:
    """A ``WinkState`` attribute read from (and, for tests, replaced in) its settings."""

    def get(state: WinkState) -> Any:
        return getattr(state.settings, name)

    def set_(state: WinkState, value: Any) -> None:
        state.settings = replace(state.settings, **{name: value})

    return property(get, set_, doc=doc)


@dataclass(eq=False)
class WinkState:
    """What one app needs at request time; lives in ``app.extensions["wink"]``.

    ``settings`` holds the app's parsed ``WINK_*`` values; the rest are the app's live resources.
    Each app has its own store and handler pool; the providers the extension built from the
    app's config are the app's own too, and :meth:`close` closes only those (a provider object
    passed in with ``Wink(providers=[...])`` belongs to the host, which may share it between apps).
    """

    #: The :class:`~flask_wink.extension.Wink` extension (the host's hooks).
    wink: Wink
    settings: WinkSettings
    store: Store
    #: The enabled providers by name, in the order they were configured.
    providers: dict[str, Provider]
    #: The names of the providers the extension built from config (closed with the app).
    owned_providers: frozenset[str] = frozenset()
    #: The name this process claims events under (host, pid and a random part).
    process_name: str = ""
    #: Seconds since the epoch; replaceable so tests need no sleeping.
    clock: Callable[[], float] = time.time
    #: Runs handlers after the answer (``handle_events == "background"``); None otherwise.
    handler_pool: Executor | None = None
    #: Handlers submitted to the pool and not yet done (see :meth:`wait_for_handlers`).
    running: set[futures.Future[Any]] = field(default_factory=set)
    #: Events stored by this process and waiting for the pool, oldest first; how many of the
    #: pool's threads are taking them (see :func:`flask_wink.pipeline.start_handling`).
    handler_queue: collections.deque[StoredEvent] = field(default_factory=collections.deque)
    handler_lock: threading.Lock = field(default_factory=threading.Lock)
    draining: int = 0
    #: In ``"celery"`` mode, what hands a stored event to the host's Celery workers (a
    #: :class:`flask_wink.tasks.CeleryHandOff`); None in every other mode.
    hand_off: Any = None
    #: The kit's rate limits; None: none.
    rate_limits: RateLimits | None = None
    #: When this process last swept (monotonic seconds; None: not yet since it started).
    last_sweep: float | None = None
    sweep_lock: threading.Lock = field(default_factory=threading.Lock)
    #: The upstream user of each ``(provider, app user)`` this process has seen (a cache).
    known_users: dict[tuple[str, str], str] = field(default_factory=dict)
    user_locks: tuple[threading.Lock, ...] = field(
        default_factory=lambda: tuple(threading.Lock() for _ in range(64))
    )

    default_provider = _setting("default_provider", "The provider the un-prefixed routes serve.")
    webhook_max_bytes = _setting("webhook_max_bytes", "WINK_WEBHOOK_MAX_BYTES.")
    callback_max_bytes = _setting("callback_max_bytes", "WINK_CALLBACK_MAX_BYTES.")
    webhook_networks = _setting("webhook_networks", "WINK_WEBHOOK_ALLOWED_IPS, parsed.")
    handler_threads = _setting("handler_threads", "WINK_HANDLER_THREADS.")
    claim_lease = _setting("claim_lease", "WINK_CLAIM_LEASE, in seconds.")
    retry = _setting("retry", "WINK_RETRY_*, as a RetryPolicy.")
    sweep_interval = _setting("sweep_interval", "WINK_SWEEP_INTERVAL, in seconds.")

    @property
    def handles_events(self) -> bool:
        """Whether this process handles the events it stores (in the request or on its pool);
        False in worker mode, where a ``flask wink worker`` does, and in celery mode, where a
        task on the host's Celery workers does."""
        return self.settings.handle_events in ("background", "request")

    @property
    def handler_name(self) -> str | None:
        """The name a just-stored event is claimed under: this process's when it handles its
        events itself; in celery mode the hand-off's (``celery@`` and this process's name), which
        any task for the event claims it from; None (the event waits for a worker) in worker mode."""
        if self.hand_off is not None:
            return f"{HANDED_PREFIX}{self.process_name}"[:100]
        return self.process_name if self.handles_events else None

    def provider(self, name: str) -> Provider:
        """The enabled provider called ``name`` (or whose URL segment is ``name``); 404 otherwise."""
        found = self.providers.get(name) or self.providers.get(name.replace("-", "_"))
        if found is None or (name != found.name and name != url_segment(found.name)):
            raise UnknownProvider(f"No provider {name!r} is enabled on this app.")
        return found

    def provider_of(self, name: str) -> Any:
        """The enabled provider called ``name``, for a provider's own modules and commands; a
        one-line :class:`~flask_wink.errors.ConfigurationError` saying how to enable it otherwise
        (from the settings it declares)."""
        found = self.providers.get(name.replace("-", "_"))
        if found is None:
            raise ConfigurationError(not_enabled(name.replace("-", "_")))
        return found

    def wait_for_handlers(self, timeout: float = 10.0) -> bool:
        """Wait until the handlers of every event stored so far by this process have run (tests,
        and a graceful stop); True when none is left running."""
        while True:
            try:
                running = list(self.running)
                break
            except RuntimeError:  # a handler finished while the set was read: read it again
                continue
        _done, left = futures.wait(running, timeout=timeout)
        self.store.flush()
        return not left

    def close(self) -> None:
        """Stop the handler pool, close the providers the extension built, and the store. A
        provider passed in with ``Wink(providers=[...])`` stays open: the host closes it."""
        if self.handler_pool is not None:
            self.handler_pool.shutdown(wait=True)
        for name in self.owned_providers:
            member(self.providers[name], "close")()
        self.store.dispose()


def get_state(app: Flask | None = None) -> WinkState:
    """The :class:`WinkState` of ``app`` (default: the current app)."""
    app = app or current_app
    try:
        return app.extensions["wink"]
    except KeyError:
        raise RuntimeError(
            "flask-wink is not set up on this app: call Wink(app) or wink.init_app(app)."
        ) from None
