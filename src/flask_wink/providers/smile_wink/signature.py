"""Sign and verify Smile webhooks.

Smile signs each delivery with ``Smile-Signature``: the hex HMAC-SHA512 of the raw request body,
keyed with the webhook's secret. Verification works on the raw bytes, never on re-serialised JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ...errors import WebhookVerificationError

SIGNATURE_HEADER = "Smile-Signature"
EVENT_FIELDS = ("id", "version", "type", "createdAt", "data")
_HEX_SHA512 = re.compile(r"[0-9a-f]{128}")


def sign(raw_body: bytes, secret: str) -> str:
    """Return the ``Smile-Signature`` value for ``raw_body`` under ``secret``."""
    return hmac.new(secret.encode(), raw_body, hashlib.sha512).hexdigest()


def verify_signature(raw_body: bytes, signature: str | None, secrets: Iterable[str]) -> None:
    """Raise :class:`WebhookVerificationError` unless ``signature`` matches one of ``secrets``."""
    if not signature:
        raise WebhookVerificationError(f"missing {SIGNATURE_HEADER} header")
    candidate = signature.strip()
    if len(candidate) != 128 or not _HEX_SHA512.fullmatch(candidate.lower()):
        raise WebhookVerificationError(f"malformed {SIGNATURE_HEADER} header")
    expected = bytes.fromhex(candidate)
    matched = False
    for secret in secrets:
        # Compare against every secret, so timing does not tell which one matched.
        matched |= hmac.compare_digest(hmac.digest(secret.encode(), raw_body, "sha512"), expected)
    if not matched:
        raise WebhookVerificationError("signature does not match")


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
