"""Sign and verify Smile webhooks.

Smile signs each delivery with ``Smile-Signature``: the hex HMAC-SHA512 of the raw request body,
keyed with the webhook's secret. Verification works on the raw bytes, never on re-serialised JSON,
with the core's :class:`~flask_wink.signing.HmacVerifier` (configured by :func:`scheme`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ...errors import WebhookVerificationError
from ...signing import HmacVerifier

SIGNATURE_HEADER = "Smile-Signature"
EVENT_FIELDS = ("id", "version", "type", "createdAt", "data")


def scheme(secrets: str | Iterable[str], max_age: float | None = None) -> HmacVerifier:
    """Smile's webhook scheme under ``secrets`` (any one matches); ``max_age`` bounds ``createdAt``."""
    return HmacVerifier(secrets, hash="sha512", encoding="hex", signature_header=SIGNATURE_HEADER,
                        max_age=max_age, what="event", max_age_setting="WINK_WEBHOOK_MAX_AGE")


def sign(raw_body: bytes, secret: str) -> str:
    """Return the ``Smile-Signature`` value for ``raw_body`` under ``secret``."""
    return scheme(secret).sign(raw_body)


def verify_signature(raw_body: bytes, signature: str | None, secrets: Iterable[str]) -> None:
    """Raise :class:`WebhookVerificationError` unless ``signature`` matches one of ``secrets``."""
    scheme(tuple(secrets)).check_signature(raw_body, signature)


def parse_event(raw_body: bytes) -> dict[str, Any]:
    """Decode a webhook body into an event envelope ``{id, version, type, createdAt, data}``.

    Raises :class:`ValueError` with a readable reason when the body is not such an envelope.
    """
    try:
        event = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("body is not JSON") from exc
    if not isinstance(event, dict):
        raise ValueError("body is not a JSON object")
    missing = [f for f in EVENT_FIELDS if f not in event]
    if missing:
        raise ValueError(f"event envelope lacks {', '.join(missing)}")
    if not isinstance(event["id"], str) or not event["id"] or len(event["id"]) > 200:
        raise ValueError("event id must be a non-empty string")
    if not isinstance(event["type"], str) or not event["type"] or len(event["type"]) > 100:
        raise ValueError("event type must be a non-empty string of at most 100 characters")
    if not isinstance(event["data"], dict):
        raise ValueError("event data must be an object")
    return event


def verify(raw_body: bytes, headers: Mapping[str, str], secrets: Iterable[str]) -> dict[str, Any]:
    """Verify a delivery's signature and return its event; one exception type for every failure."""
    verify_signature(raw_body, headers.get(SIGNATURE_HEADER), secrets)
    try:
        return parse_event(raw_body)
    except ValueError as exc:
        raise WebhookVerificationError(str(exc)) from exc
