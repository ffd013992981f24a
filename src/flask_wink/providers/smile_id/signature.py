"""Smile ID's request signature: ``partner_id``, ``timestamp`` and ``signature`` in every body.

``signature`` is base64 of HMAC-SHA256, keyed with the API key, over the bytes of
``timestamp + partner_id + "sid_request"``. Smile ID signs its callbacks the same way. The
signature covers the timestamp and partner id only, not the rest of the body: the freshness
window on ``timestamp`` is what limits a replayed signature (see docs/smile-id.md). The scheme is
the core's :class:`~flask_wink.signing.HmacVerifier`, configured by :func:`scheme`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from typing import Any

import httpx

from ...errors import VerificationError
from ...signing import HmacVerifier

SIGNED_SUFFIX = "sid_request"


def scheme(partner_id: str, api_key: str, *, max_age: float | None = None,
           max_future: float | None = None) -> HmacVerifier:
    """Smile ID's scheme for ``partner_id`` under ``api_key``, with a freshness window."""
    def signed(timestamp: str | None, _body: bytes) -> bytes:
        return f"{timestamp}{partner_id}{SIGNED_SUFFIX}".encode()

    return HmacVerifier(api_key, hash="sha256", encoding="base64", signed=signed, max_age=max_age,
                        max_future=max_future, what="callback",
                        max_age_setting="WINK_SMILE_ID_CALLBACK_MAX_AGE")


def sign(timestamp: str, partner_id: str, api_key: str) -> str:
    """The signature of ``timestamp`` for ``partner_id`` under ``api_key``."""
    return scheme(partner_id, api_key).sign(b"", timestamp)


def confirm(timestamp: str, signature: str, partner_id: str, api_key: str) -> bool:
    """Whether ``signature`` is the one for ``timestamp``; compared in constant time (the
    timestamp's age is not looked at)."""
    try:
        scheme(partner_id, api_key).check_signature(b"", signature, timestamp)
    except VerificationError:
        return False
    return True


def signed_fields(partner_id: str, api_key: str, now: float | None = None) -> dict[str, str]:
    """``partner_id``, ``timestamp`` and ``signature`` for a body sent now."""
    signer = scheme(partner_id, api_key)
    timestamp = signer.timestamp(now)
    return {"partner_id": partner_id, "timestamp": timestamp, "signature": signer.sign(b"", timestamp)}


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
