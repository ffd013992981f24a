"""Rate limits on what costs the app something: minting tokens (each may create an upstream user)
and recording browser events (each is a row), per app user and per client address.

Counted by the ``limits`` library (the engine Flask-Limiter is built on), used directly so that
no hook runs on any other route of the host app: its sliding-window counters (two counters per
key and window, O(1) per hit) in its storage, ``memory://`` by default, which counts per process;
a ``redis://`` URL in ``WINK_RATE_LIMIT_STORAGE_URL`` shares the counts between processes and
hosts. A request over a limit is refused with 429 ``RateLimited`` (JSON) and a
``Retry-After`` header. ``WINK_RATE_LIMIT_ENABLED = False`` turns every limit off (benchmarks).

Settings (the ``limits`` notation, as Flask-Limiter's, ``"20 per minute; 200 per day"``):

- ``WINK_TOKEN_RATE_LIMIT``: tokens one app user may mint;
- ``WINK_TOKEN_ADDRESS_RATE_LIMIT``: tokens one client address may mint (signed in or not);
- ``WINK_CALLBACK_RATE_LIMIT``: browser events one app user may record;
- ``WINK_CALLBACK_KB_RATE_LIMIT``: kilobytes of browser events one app user may record.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from flask import Flask, request
from limits import parse_many
from limits.errors import ConfigurationError as LimitsConfigurationError
from limits.storage import storage_from_string
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
                storage = storage_from_string(url, key_prefix="flask-wink")
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
