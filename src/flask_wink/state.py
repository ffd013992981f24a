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
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from .errors import UnknownProvider
from .provider import Provider, url_segment
from .store import Store

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


@dataclass
class WinkState:
    """What one app needs at request time; lives in ``app.extensions["wink"]``."""

    #: The :class:`~flask_wink.extension.Wink` extension (the host's hooks).
    wink: Any
    store: Store
    #: The enabled providers by name, in the order they were configured.
    providers: dict[str, Provider]
    #: The provider that the un-prefixed routes (``/wink/token``, ``/wink/webhooks``...) serve.
    default_provider: str | None
    webhook_max_bytes: int
    callback_max_bytes: int
    webhook_networks: tuple[Network, ...] = ()
    #: The process name events are claimed under when this process handles them itself
    #: (None: a ``flask wink worker`` does, see ``WINK_HANDLE_EVENTS``).
    handler_name: str | None = None
    #: Seconds since the epoch; replaceable so tests need no sleeping.
    clock: Callable[[], float] = time.time
    #: Runs handlers after the answer (``WINK_HANDLE_EVENTS = "background"``); None: in the request.
    handler_pool: Any = None
    #: Handlers submitted to the pool and not yet done (see :meth:`wait_for_handlers`).
    running: set = field(default_factory=set)
    #: Events stored by this process and waiting for the pool, oldest first; how many of the
    #: pool's threads are taking them (see :func:`flask_wink.pipeline.hand_on`).
    handler_queue: collections.deque = field(default_factory=collections.deque)
    handler_lock: threading.Lock = field(default_factory=threading.Lock)
    draining: int = 0
    #: The pool's size: at most this many threads drain the queue at once.
    handler_threads: int = 1
    #: The kit's rate limits (:class:`~flask_wink.ratelimits.RateLimits`); None: none.
    rate_limits: Any = None
    #: Seconds after which an event claimed by a process that died is taken over (WINK_CLAIM_LEASE).
    claim_lease: float = 300.0
    #: When failed events are retried by themselves (WINK_RETRY_*), and when they are dead.
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Seconds between this process's sweeps for such events and for due retries
    #: (WINK_SWEEP_INTERVAL; 0: never).
    sweep_interval: float = 60.0
    #: When this process last swept (monotonic seconds; None: not yet since it started).
    last_sweep: float | None = None
    sweep_lock: threading.Lock = field(default_factory=threading.Lock)
    known_users: dict[tuple[str, str], str] = field(default_factory=dict)
    user_locks: tuple[threading.Lock, ...] = field(
        default_factory=lambda: tuple(threading.Lock() for _ in range(64))
    )

    def provider(self, name: str) -> Provider:
        """The enabled provider called ``name`` (or whose URL segment is ``name``); 404 otherwise."""
        found = self.providers.get(name) or self.providers.get(name.replace("-", "_"))
        if found is None or (name != found.name and name != url_segment(found.name)):
            raise UnknownProvider(f"No provider {name!r} is enabled on this app.")
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
        """Stop the handler pool, close every provider and the store."""
        if self.handler_pool is not None:
            self.handler_pool.shutdown(wait=True)
        for provider in self.providers.values():
            provider.close()
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
