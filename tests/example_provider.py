"""A provider that is neither Smile's widget, UCW nor Smile ID: a hosted page the browser is sent
to, a redirect back, browser events, and signed, timestamped callbacks. It shows that such an
upstream fits :class:`flask_wink.provider.Provider` with no change to the core (docs/providers.md
walks through it). ``AcmeVerify`` subclasses :class:`~flask_wink.provider.BaseProvider`;
``WidgetOnly`` is a plain object with the protocol's members only, and the ``start_link`` of
providers written before the core handed it ``urls``."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from typing import Any

from flask_wink.errors import MalformedMessage, StaleMessage, VerificationError
from flask_wink.provider import (
    CALLBACK,
    BaseProvider,
    Inbound,
    LinkStart,
    LinkURLs,
    ReturnEvent,
    StatusUpdate,
    UpstreamUserGone,
)

SIGNATURE_HEADER = "Acme-Signature"
TIMESTAMP_HEADER = "Acme-Timestamp"
RANKS = {"pending": 0, "submitted": 1, "approved": 2, "rejected": 2}


def sign(raw: bytes, timestamp: str, secret: str) -> str:
    """HMAC-SHA256 over ``timestamp.body``, hex."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()


class AcmeVerify(BaseProvider):
    """Acme Verify: a hosted verification page; results arrive as signed callbacks."""

    name = "acme_verify"
    title = "Acme Verify"
    browser_events = ("pageOpened", "returned")
    accepts_inbound = True

    def __init__(self, secret: str = "acme-secret", max_age: float = 300.0) -> None:
        self.secret = secret
        self.max_age = max_age
        self.users: set[str] = set()  # the upstream's users (an upstream that can forget them)
        self.handled: list[int] = []
        self.closed = False
        self.handlers = (self.remember,)
        # How often the core asked for the status an event reports, and for the blueprint.
        self.status_reads = 0
        self.parts_asked = 0

    def start_link(
        self, app_user_id: str, upstream_user_id: str | None, options: Mapping[str, str], urls: LinkURLs
    ) -> LinkStart:
        if upstream_user_id is not None and upstream_user_id not in self.users:
            raise UpstreamUserGone(upstream_user_id)
        if upstream_user_id is None:
            upstream_user_id = f"acme-{uuid.uuid4().hex[:8]}"
            self.users.add(upstream_user_id)
        return LinkStart(upstream_user_id, url=f"https://verify.acme.test/start?user={upstream_user_id}")

    def verify_inbound(self, raw: bytes, headers: Mapping[str, str], now: float) -> Inbound:
        timestamp = headers.get(TIMESTAMP_HEADER) or ""
        given = headers.get(SIGNATURE_HEADER) or ""
        if not hmac.compare_digest(sign(raw, timestamp, self.secret), given):
            raise VerificationError("signature does not match")
        try:
            age = now - float(timestamp)
        except ValueError:
            raise MalformedMessage("the timestamp is not a number") from None
        if age > self.max_age:
            raise StaleMessage(f"the callback is {int(age)} s old")
        try:
            body = json.loads(raw)
            return Inbound(body["jobId"], body["result"], body, body.get("user"))
        except (ValueError, KeyError, TypeError):
            raise MalformedMessage("not an Acme result") from None

    def return_event(self, query: Mapping[str, str]) -> ReturnEvent | None:
        return ReturnEvent("returned", {"status": query.get("status", "")})

    def status_update(self, kind: str, name: str, payload: Any) -> StatusUpdate | None:
        self.status_reads += 1
        if kind == CALLBACK or name not in RANKS or not isinstance(payload, Mapping):
            return None
        return StatusUpdate(
            account_id=str(payload.get("verification")),
            status=name,
            replaces=tuple(s for s, rank in RANKS.items() if rank <= RANKS[name]),
            connected=name == "approved",
        )

    def remember(self, app: Any, state: Any, event: Any, errors: list[str]) -> None:
        self.handled.append(event.id)

    def blueprint(self) -> Any:
        self.parts_asked += 1
        return None

    def close(self) -> None:
        self.closed = True


class WidgetOnly:
    """A provider with browser events only (no server-to-server messages), like UCW."""

    name = "widget_only"
    title = "Widget Only"
    browser_events = ("connected",)
    accepts_inbound = False

    def start_link(
        self, app_user_id: str, upstream_user_id: str | None, options: Mapping[str, str]
    ) -> LinkStart:
        return LinkStart(upstream_user_id or f"w-{app_user_id}", widget={"widgetUrl": "https://w.test/"})

    def page_settings(self, options: Mapping[str, str]) -> dict[str, Any]:
        return {"widgetOrigin": "https://w.test"}

    def verify_inbound(self, raw: bytes, headers: Mapping[str, str], now: float) -> Inbound:
        raise VerificationError("no inbound messages")

    def status_update(self, kind: str, name: str, payload: Any) -> StatusUpdate | None:
        connection = payload.get("connectionId") if isinstance(payload, Mapping) else None
        if name == "connected" and isinstance(connection, str):
            return StatusUpdate(connection, "CONNECTED", ("PENDING",), connected=True)
        return None
