"""Rate limits on what costs the app something: minting tokens (each may create an upstream user)
and recording browser events (each is a row), per app user and per client address.

Counted by the ``limits`` library (the engine Flask-Limiter is built on), used directly so that
no hook runs on any other route of the host app: its sliding-window counters (two counters per
key and window, O(1) per hit), ``memory://`` by default, which counts per process (in
:class:`WindowCounters`); a ``redis://`` URL in ``WINK_RATE_LIMIT_STORAGE_URL`` shares the counts
between processes and hosts (in the ``limits`` library's storage for it). A request over a limit
is refused with 429 ``RateLimited`` (JSON) and a ``Retry-After`` header.
``WINK_RATE_LIMIT_ENABLED = False`` turns every limit off.

Settings (the ``limits`` notation, as Flask-Limiter's, ``"20 per minute; 200 per day"``):

- ``WINK_TOKEN_RATE_LIMIT``: tokens one app user may mint;
- ``WINK_TOKEN_ADDRESS_RATE_LIMIT``: tokens one client address may mint (signed in or not);
- ``WINK_CALLBACK_RATE_LIMIT``: browser events one app user may record;
- ``WINK_CALLBACK_KB_RATE_LIMIT``: kilobytes of browser events one app user may record.
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from typing import Any

from flask import Flask, request
from limits import parse_many
from limits.errors import ConfigurationError as LimitsConfigurationError
from limits.storage import SlidingWindowCounterSupport, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from .errors import RateLimited

log = logging.getLogger("flask_wink")

DEFAULTS = {
    "WINK_RATE_LIMIT_ENABLED": True,
    "WINK_RATE_LIMIT_STORAGE_URL": "memory://",
    "WINK_TOKEN_RATE_LIMIT": "20 per minute; 200 per day",
    "WINK_TOKEN_ADDRESS_RATE_LIMIT": "60 per minute; 1000 per day",
    "WINK_CALLBACK_RATE_LIMIT": "120 per minute",
    "WINK_CALLBACK_KB_RATE_LIMIT": "1024 per minute",
}


def client_address() -> str:
    """The client's address as the app sees it (behind a proxy, configure ProxyFix)."""
    return request.remote_addr or "unknown"


def _flag(value: Any) -> bool:
    """A setting that may come from the environment as text ("false", "0", "off")."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


class WindowCounters(Storage, SlidingWindowCounterSupport):
    """``memory://``: the sliding-window counters of this process, counted as the ``limits``
    library's memory storage counts them (the same keys, windows and weighting), each hit under
    one lock, and expired counters dropped as later hits pass them (a heap by expiry), not by a
    timer thread: the library's storage starts a thread 10 ms after any hit that finds none
    running, which scans every counter; with tokens minted more than 10 ms apart, that is a
    thread started and a scan for each, and the scan grows with the counters of the last days.
    """

    STORAGE_SCHEME = None  # made by RateLimits for memory://, never registered with the library

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._lock = threading.Lock()
        self._counts: dict[str, list[Any]] = {}  # key: [count, expires at (time.time())]
        self._expiries: list[tuple[float, str]] = []

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def _live(self, key: str, now: float) -> list[Any] | None:
        entry = self._counts.get(key)
        if entry is not None and entry[1] <= now:
            del self._counts[key]
            return None
        return entry

    def _drop_expired(self, now: float) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            _, key = heapq.heappop(expiries)
            entry = self._counts.get(key)
            if entry is not None and entry[1] <= now:  # else gone, or made again with its own
                del self._counts[key]

    def _count(self, key: str, now: float) -> int:
        entry = self._live(key, now)
        return 0 if entry is None else entry[0]

    def _add(self, key: str, expiry: float, amount: int, now: float) -> int:
        entry = self._live(key, now)
        if entry is None:
            entry = self._counts[key] = [0, now + expiry]
            heapq.heappush(self._expiries, (entry[1], key))
        entry[0] += amount
        return entry[0]

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            return self._add(key, expiry, amount, now)

    def get(self, key: str) -> int:
        now = time.time()
        with self._lock:
            return self._count(key, now)

    def get_expiry(self, key: str) -> float:
        now = time.time()
        with self._lock:
            entry = self._live(key, now)
        return now if entry is None else entry[1]

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = len(self._counts)
            self._counts.clear()
            self._expiries.clear()
        return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)

    def _window(self, key: str, expiry: int, now: float) -> tuple[str, int, float, int, float]:
        previous_key, current_key = f"{key}/{int((now - expiry) / expiry)}", f"{key}/{int(now / expiry)}"
        previous = self._count(previous_key, now)
        # As the library weighs it: the share of the previous window still inside the sliding one.
        previous_ttl = 0.0 if previous == 0 else (1 - (((now - expiry) / expiry) % 1)) * expiry
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return current_key, previous, previous_ttl, self._count(current_key, now), current_ttl

    def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self._lock:
            self._drop_expired(now)
            current_key, previous, previous_ttl, current, _ = self._window(key, expiry, now)
            if math.floor(previous * previous_ttl / expiry + current) + amount > limit:
                return False
            # A new window's counter lives two windows: it is the previous one in the next.
            self._add(current_key, 2 * expiry, amount, now)
            return True

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        now = time.time()
        with self._lock:
            _, previous, previous_ttl, current, current_ttl = self._window(key, expiry, now)
        return previous, previous_ttl, current, current_ttl

    def clear_sliding_window(self, key: str, expiry: int) -> None:
        now = time.time()
        with self._lock:
            for window in (int((now - expiry) / expiry), int(now / expiry)):
                self._counts.pop(f"{key}/{window}", None)


class RateLimits:
    """The kit's limits on one app."""

    def __init__(self, app: Flask) -> None:
        config = app.config
        for key, value in DEFAULTS.items():
            config.setdefault(key, value)
        self.enabled = _flag(config["WINK_RATE_LIMIT_ENABLED"])
        self.limits: dict[str, list[Any]] = {}
        for key in DEFAULTS:
            if key.endswith("_RATE_LIMIT"):
                try:
                    self.limits[key] = parse_many(str(config[key])) if config[key] else []
                except ValueError:
                    raise RuntimeError(
                        f"{key} must be limits like '20 per minute; 200 per day', not {config[key]!r}."
                    ) from None
        #: The counters: nothing is registered on the app, so the host's own routes (and the
        #: kit's webhooks) pay nothing for the limits.
        self.strategy: SlidingWindowCounterRateLimiter | None = None
        if self.enabled:
            url = str(config["WINK_RATE_LIMIT_STORAGE_URL"])
            try:
                storage = (
                    WindowCounters(url)
                    if url.strip().lower() == "memory://"
                    else storage_from_string(url, key_prefix="flask-wink")
                )
            except (LimitsConfigurationError, ValueError, ImportError) as exc:
                raise RuntimeError(
                    f"WINK_RATE_LIMIT_STORAGE_URL cannot be used ({exc}): set memory:// or a redis:// URL "
                    '(pip install "flask-wink[redis]").'
                ) from None
            self.strategy = SlidingWindowCounterRateLimiter(storage)

    def hit(self, setting: str, key: str, *, cost: int = 1, what: str = "requests") -> None:
        """Count ``cost`` against each limit of ``setting`` for ``key``; 429 when one is spent."""
        strategy = self.strategy
        if strategy is None:
            return
        for limit in self.limits.get(setting, ()):
            try:
                allowed = strategy.hit(limit, setting, key, cost=cost)
                if allowed:
                    continue
                reset, _remaining = strategy.get_window_stats(limit, setting, key)
            except Exception as exc:  # the shared storage is down: serve rather than refuse everyone
                log.warning("rate limit %s not counted: its storage failed (%s)", setting, exc)
                return
            retry_after = max(1, math.ceil(reset - time.time()))
            raise RateLimited(
                f"Too many {what}: the limit is {limit} ({setting}). Try again in {retry_after} s.",
                retry_after=retry_after,
            )

    def token(self, app_user_id: str | None) -> None:
        """Before minting a token: per client address, then per app user."""
        self.hit("WINK_TOKEN_ADDRESS_RATE_LIMIT", client_address(), what="link tokens from this address")
        if app_user_id:
            self.hit("WINK_TOKEN_RATE_LIMIT", app_user_id, what="link tokens for this user")

    def callback(self, app_user_id: str, size: int) -> None:
        """Before recording a browser event of ``size`` bytes for ``app_user_id``."""
        self.hit("WINK_CALLBACK_RATE_LIMIT", app_user_id, what="browser events for this user")
        kilobytes = max(1, math.ceil(size / 1024))
        self.hit("WINK_CALLBACK_KB_RATE_LIMIT", app_user_id, cost=kilobytes,
                 what="kilobytes of browser events for this user")
