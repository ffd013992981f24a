"""Smile ID's request signature: ``partner_id``, ``timestamp`` and ``signature`` in every body.

``signature`` is base64 of HMAC-SHA256, keyed with the API key, over the bytes of
``timestamp + partner_id + "sid_request"``. Smile ID signs its callbacks the same way. The
signature covers the timestamp and partner id only, not the rest of the body: the freshness
window on ``timestamp`` is what limits a replayed signature (see docs/smile-id.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from typing import Any

import httpx

from ...timeutil import parse_iso

SIGNED_SUFFIX = "sid_request"


def timestamp_now(now: float | None = None) -> str:
    """An ISO 8601 UTC timestamp with milliseconds, as Smile ID writes it: ``2024-02-29T16:13:40.813Z``."""
    moment = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sign(timestamp: str, partner_id: str, api_key: str) -> str:
    """The signature of ``timestamp`` for ``partner_id`` under ``api_key``."""
    message = (timestamp + partner_id + SIGNED_SUFFIX).encode()
    return base64.b64encode(hmac.new(api_key.encode(), message, hashlib.sha256).digest()).decode()


def confirm(timestamp: str, signature: str, partner_id: str, api_key: str) -> bool:
    """Whether ``signature`` is the one for ``timestamp``; compared in constant time."""
    if not isinstance(timestamp, str) or not isinstance(signature, str):
        return False
    return hmac.compare_digest(sign(timestamp, partner_id, api_key).encode(), signature.encode())


def signed_fields(partner_id: str, api_key: str, now: float | None = None) -> dict[str, str]:
    """``partner_id``, ``timestamp`` and ``signature`` for a body sent now."""
    timestamp = timestamp_now(now)
    signature = sign(timestamp, partner_id, api_key)
    return {"partner_id": partner_id, "timestamp": timestamp, "signature": signature}


def age_of(timestamp: str, now: float) -> float:
    """Seconds between ``timestamp`` and ``now`` (negative: in the future); ``ValueError`` if unreadable."""
    return now - parse_iso(timestamp).timestamp()


class SmileIDAuth(httpx.Auth):
    """Adds ``partner_id``, ``timestamp`` and ``signature`` to each request's JSON body."""

    requires_request_body = True

    def __init__(self, partner_id: str, api_key: str, clock: Callable[[], float] | None = None) -> None:
        self.partner_id = partner_id
        self._api_key = api_key
        self.clock = clock

    def __repr__(self) -> str:  # never the key
        return f"SmileIDAuth(partner_id={self.partner_id!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        body: dict[str, Any] = json.loads(request.content) if request.content else {}
        now = self.clock() if self.clock else None
        body.update(signed_fields(self.partner_id, self._api_key, now))
        content = json.dumps(body).encode()
        # One Content-Type (httpx wrote its own lower-cased one for the original body).
        replaced = ("content-length", "content-type")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in replaced}
        headers["Content-Type"] = "application/json"
        yield httpx.Request(request.method, request.url, headers=headers, content=content,
                            extensions=request.extensions)
