"""Receiving Smile's webhooks: check, verify, store, hand on.

The same steps run whether Flask routed the request to the blueprint's view or the kit's WSGI
fast path answered it first (:class:`WebhookFastPath`, on by default with
``WINK_WEBHOOK_FAST_PATH``). A webhook needs nothing of Flask's request machinery (no session,
no cookies, no login), and skipping it lets a busy server take about 1.4 times the webhooks.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES, parse_options_header

from .errors import (
    InvalidRequest,
    InvalidSignature,
    NotAllowed,
    PayloadTooLarge,
    ServerError,
    StaleEvent,
    StorageUnavailable,
    UnsupportedType,
    WebhookVerificationError,
    WinkHTTPError,
)
from .pipeline import account_change, handle_event

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from flask import Flask, Request

    from .extension import WinkState
    from .store import StoredEvent

log = logging.getLogger("flask_wink")


@dataclass(frozen=True)
class Delivery:
    """What the receiver needs of one HTTP request, from Flask's request or a WSGI environ."""

    remote_addr: str | None
    content_length: int | None
    mimetype: str
    headers: Mapping[str, str]
    stream: Any  # has read(n); empty when the body's end cannot be known

    @classmethod
    def from_request(cls, request: Request) -> Delivery:
        return cls(
            request.remote_addr, request.content_length, request.mimetype, request.headers, _Body(request)
        )

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Delivery:
        try:
            length: int | None = max(0, int(environ["CONTENT_LENGTH"]))
        except (KeyError, ValueError):
            length = None
        stream = environ["wsgi.input"]
        if length is None and not environ.get("wsgi.input_terminated"):
            # No length and a server that does not end the stream: reading could block forever.
            length, stream = 0, None
        return cls(
            environ.get("REMOTE_ADDR"),
            length,
            parse_options_header(environ.get("CONTENT_TYPE", ""))[0].lower(),
            EnvironHeaders(environ),
            stream,
        )


class _Body:
    """A request's body stream, opened on the first read (werkzeug refuses a body over the app's
    MAX_CONTENT_LENGTH when the stream is opened; the receiver answers that itself, as JSON)."""

    def __init__(self, request: Request) -> None:
        self.request = request

    def read(self, size: int = -1) -> bytes:
        try:
            return self.request.stream.read(size)
        except RequestEntityTooLarge:
            raise PayloadTooLarge("The body is larger than the app's MAX_CONTENT_LENGTH.") from None


def receive(app: Flask, state: WinkState, delivery: Delivery) -> tuple[dict[str, Any], int]:
    """Verify, store and hand on one Smile webhook: the answer's body and status.

    Raises a :class:`~flask_wink.errors.WinkHTTPError` for a delivery it refuses. A redelivered
    event id is acknowledged without being stored or handled again.
    """
    check_source(state, delivery.remote_addr)
    limit = state.webhook_max_bytes
    if app.config.get("MAX_CONTENT_LENGTH"):
        limit = min(limit, int(app.config["MAX_CONTENT_LENGTH"]))
    raw = read_body(delivery.stream, delivery.content_length, limit)
    if delivery.mimetype != "application/json":
        raise UnsupportedType("Webhooks must be sent as application/json.")
    try:
        state.provider.verify_signature(raw, delivery.headers, state.webhook_secrets)
    except WebhookVerificationError as exc:
        log.warning("refused a webhook: %s", exc)
        raise InvalidSignature(f"Webhook signature refused: {exc}.") from None
    try:
        event = state.provider.parse_event(raw)
    except ValueError as exc:
        raise InvalidRequest(f"Not a Smile event envelope: {exc}.") from None
    check_age(state, event)
    smile_user_id = state.provider.webhook_user_id(event)
    if smile_user_id is not None and len(smile_user_id) > 200:
        smile_user_id = None  # no user of ours has such an id; the event is stored all the same
    try:
        stored = state.store.add_event(
            kind="webhook",
            name=event["type"],
            payload=event,
            provider=state.provider.name,
            event_id=event["id"],
            raw=raw.decode(),
            # Whose app user this is gets resolved when events are read: ingest makes no query.
            upstream_user_id=smile_user_id,
            claimed_by=state.claim_name,
            account=account_now(state, "webhook", event["type"], event, smile_user_id),
        )
    except Exception:
        log.exception("a webhook could not be stored")
        raise StorageUnavailable(
            "The event could not be stored (the database failed); it was not acknowledged, so "
            "Smile delivers it again."
        ) from None
    if stored is None:
        return {"status": "duplicate", "eventId": event["id"]}, 200
    handle_now(app, state, stored)
    return {"status": "stored", "id": stored.id, "eventId": event["id"]}, 200


def handle_now(app: Flask, state: WinkState, event: StoredEvent) -> None:
    """Handle a just-stored event in this request, unless a worker is to do it."""
    if state.claim_name is not None:
        handle_event(app, state, event)


def account_now(state: WinkState, kind: str, name: str, payload: Any, smile_user_id: str | None):
    """The account status to record with the event itself, when the request handles it (a
    worker records it when it handles the event, so that it knows whether the status moved)."""
    if state.claim_name is None:
        return None
    return account_change(state, kind, name, payload, smile_user_id)


def read_body(stream: Any, length: int | None, limit: int) -> bytes:
    """The raw body, refused with 413 past ``limit`` without reading it whole."""
    if length is not None:
        if length > limit:
            raise PayloadTooLarge(f"The body is larger than the limit of {limit} bytes.")
        # The length is known and allowed: one read (a request never holds more than it says).
        return stream.read(length) if length else b""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body is larger than the limit of {limit} bytes.")
    return b"".join(chunks)


def check_source(state: WinkState, remote_addr: str | None) -> None:
    if not state.webhook_networks:
        return
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        address = None
    if address is None or not any(address in net for net in state.webhook_networks):
        log.warning("refused a webhook from %s: not in WINK_WEBHOOK_ALLOWED_IPS", remote_addr)
        raise NotAllowed("Webhooks are not accepted from this address.")


def check_age(state: WinkState, event: dict[str, Any]) -> None:
    if not state.webhook_max_age:
        return
    try:
        created = datetime.fromisoformat(str(event["createdAt"]))  # "Z" included, since 3.11
    except ValueError:
        raise InvalidRequest("The event's createdAt is not an ISO 8601 date-time.") from None
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    age = state.clock() - created.timestamp()
    if age > state.webhook_max_age:
        raise StaleEvent(
            f"The event was created {int(age)} s ago, more than the {int(state.webhook_max_age)} s "
            "this app accepts (WINK_WEBHOOK_MAX_AGE)."
        )


class WebhookFastPath:
    """A WSGI layer that answers ``POST <WINK_URL_PREFIX>/webhooks`` before Flask's dispatch.

    Everything else goes on to the app. The webhook is received exactly as the blueprint's view
    receives it, inside an app context, but without a request context: no session is opened and
    the app's ``before_request`` / ``after_request`` functions do not run for it. Middleware
    wrapped around ``app.wsgi_app`` after ``Wink(app)`` sees webhooks too; middleware wrapped
    before it does not. ``WINK_WEBHOOK_FAST_PATH = False`` routes webhooks through Flask.
    """

    def __init__(self, app: Flask, wsgi_app: Callable, path: str) -> None:
        self.app, self.wsgi_app, self.path = app, wsgi_app, path

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != self.path or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        from .extension import get_state

        try:
            with self.app.app_context():
                body, status = receive(self.app, get_state(self.app), Delivery.from_environ(environ))
        except WinkHTTPError as exc:
            return exc(environ, start_response)
        except Exception:
            log.exception("receiving a webhook failed")
            error = ServerError("The webhook could not be received; see the app's log.")
            return error(environ, start_response)
        data = json.dumps(body).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        start_response(f"{status} {HTTP_STATUS_CODES[status]}", headers)
        return [data]
