"""Receiving server-to-server messages (webhooks): checks at the door, the provider's
verification, storing, handing on.

The same steps run whether Flask routed the request to the blueprint's view or the kit's WSGI
fast path answered it first (:class:`WebhookFastPath`, opt-in with ``WINK_WEBHOOK_FAST_PATH``).
A webhook needs nothing of Flask's request machinery (no session, no cookies, no login), so the
fast path skips it (``make bench`` reports what that gains on its machine).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES, parse_options_header

from .erasure import is_erased
from .errors import (
    InvalidRequest,
    InvalidSignature,
    LengthRequired,
    MalformedMessage,
    NotAllowed,
    PayloadTooLarge,
    ServerError,
    StaleEvent,
    StaleMessage,
    StorageUnavailable,
    UnknownProvider,
    UnsupportedType,
    VerificationError,
    WinkHTTPError,
)
from .jsonbody import BodyRefused, loads
from .pipeline import account_change, change_of, start_handling, status_update
from .provider import WEBHOOK

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    from flask import Flask, Request

    from .provider import Provider
    from .state import WinkState
    from .store import AccountChange

log = logging.getLogger("flask_wink")


@dataclass(frozen=True)
class Delivery:
    """What the receiver needs of one HTTP request, from Flask's request or a WSGI environ."""

    remote_addr: str | None
    content_length: int | None
    mimetype: str
    headers: Mapping[str, str]
    stream: Any  # has read(n); refuses with 411 when the body's end cannot be known

    @classmethod
    def from_request(cls, request: Request) -> Delivery:
        length = request.content_length
        stream = _Unterminated() if _end_unknown(request.environ, length) else _Body(request)
        return cls(request.remote_addr, length, request.mimetype, request.headers, stream)

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Delivery:
        try:
            length: int | None = max(0, int(environ["CONTENT_LENGTH"]))
        except (KeyError, ValueError):
            length = None
        stream = _Unterminated() if _end_unknown(environ, length) else environ["wsgi.input"]
        return cls(
            environ.get("REMOTE_ADDR"),
            length,
            parse_options_header(environ.get("CONTENT_TYPE", ""))[0].lower(),
            EnvironHeaders(environ),
            stream,
        )


def _end_unknown(environ: Mapping[str, Any], length: int | None) -> bool:
    """No length (a chunked body) and a server that does not end the stream: reading it could
    block forever, and werkzeug would read it as empty."""
    return length is None and not environ.get("wsgi.input_terminated")


class _Unterminated:
    """The body of a delivery whose end cannot be known: reading it is refused with 411 (after the
    source address is checked, as for any other delivery)."""

    def read(self, size: int = -1) -> bytes:  # noqa: ARG002 - a stream's signature
        raise LengthRequired(
            "Send the webhook with a Content-Length: this server cannot tell where a chunked body ends."
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


def receive(
    app: Flask, state: WinkState, provider: Provider, delivery: Delivery
) -> tuple[dict[str, Any], int]:
    """Verify, store and hand on one inbound message of ``provider``: the answer's body and status.

    Raises a :class:`~flask_wink.errors.WinkHTTPError` for a delivery it refuses. A redelivered
    message (same event id) is acknowledged without being stored or handled again.
    """
    if not provider.accepts_inbound:
        raise UnknownProvider(f"{provider.title} sends no server-to-server messages.")
    check_source(state, delivery.remote_addr)
    limit = state.webhook_max_bytes
    if app.config.get("MAX_CONTENT_LENGTH"):
        limit = min(limit, int(app.config["MAX_CONTENT_LENGTH"]))
    raw = read_body(delivery.stream, delivery.content_length, limit)
    if delivery.mimetype != "application/json":
        raise UnsupportedType("Webhooks must be sent as application/json.")
    check_body(raw)
    try:
        inbound = provider.verify_inbound(raw, delivery.headers, state.clock())
    except StaleMessage as exc:
        raise StaleEvent(str(exc)) from None
    except MalformedMessage as exc:
        raise InvalidRequest(str(exc)) from None
    except VerificationError as exc:
        log.warning("refused a webhook for %s: %s", provider.name, exc)
        raise InvalidSignature(f"Webhook signature refused: {exc}.") from None
    upstream_user_id = inbound.upstream_user_id
    if upstream_user_id is not None and len(upstream_user_id) > 200:
        upstream_user_id = None  # no user of ours has such an id; the event is stored all the same
    # The status it reports is read from the provider once, here, and carried with the stored
    # event to the pipeline and the provider's handlers (a worker reads it when it handles it).
    handles = state.handles_events
    update = status_update(provider, WEBHOOK, inbound.name, inbound.payload) if handles else None
    with storage_errors("The event could not be stored"):
        stored = state.store.add_event(
            provider=provider.name,
            kind=WEBHOOK,
            name=inbound.name,
            payload=inbound.payload,
            event_id=inbound.event_id,
            raw=raw.decode() if inbound.keep_raw else None,
            # Whose app user this is gets resolved when events are read: ingest makes no query.
            upstream_user_id=upstream_user_id,
            claimed_by=state.handler_name,
            account=change_of(provider.name, WEBHOOK, update, upstream_user_id),
            status_update=update,
            status_read=handles,
        )
    if stored is None:
        if is_erased(state, provider.name, upstream_user_id):
            # The store dropped it in its insert (see flask_wink.erasure): acknowledged, never kept.
            log.info("%s webhook %s names an erased user: acknowledged, dropped", provider.name,
                     loggable(inbound.name))
            return {"status": "dropped", "eventId": inbound.event_id}, 200
        log.debug("%s webhook %s redelivered (id %s): acknowledged, not stored again",
                  provider.name, loggable(inbound.name), loggable(inbound.event_id))
        return {"status": "duplicate", "eventId": inbound.event_id}, 200
    # One line per recorded event: who and what, never the payload or its signature.
    log.info("recorded %s webhook %s for upstream user %s (event %s, id %s)", provider.name,
             loggable(inbound.name), loggable(upstream_user_id), stored.id, loggable(inbound.event_id))
    start_handling(app, state, stored)
    return {"status": "stored", "id": stored.id, "eventId": inbound.event_id}, 200


def loggable(value: Any, limit: int = 120) -> str:
    """``value`` for a log line: printable, one line, at most ``limit`` characters."""
    text = "-" if value is None else str(value)
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_body(raw: bytes) -> Any:
    """The one decision at the door for every JSON body (see :mod:`flask_wink.jsonbody`): the
    decoded value, or 400 with what is wrong."""
    try:
        return loads(raw)
    except BodyRefused as exc:
        raise InvalidRequest(f"The body must be JSON within the limits this server accepts: {exc}.") from None


@contextlib.contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """503 with ``Retry-After`` when the database itself failed (unreachable, locked past
    ``WINK_DB_LOCK_TIMEOUT``, read-only, full); 400 when it refused a value; anything else is a
    bug and stays one."""
    try:
        yield
    except Exception as exc:
        if not _database_failure(exc):
            raise
        names = {cls.__name__ for cls in type(exc).__mro__}
        orig = getattr(exc, "orig", None)
        if orig is not None:
            names |= {cls.__name__ for cls in type(orig).__mro__}
        if names & {"DataError", "IntegrityError"}:
            log.warning("%s: the database refused a value: %s", what, type(orig or exc).__name__)
            raise InvalidRequest(f"{what}: the database refused one of its values.") from None
        log.warning("%s: the database failed: %s", what, exc)
        raise StorageUnavailable(
            f"{what} (the database failed); it was not acknowledged, so the sender delivers it again.",
        ) from None


def _database_failure(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError | sa_exc.TimeoutError | TimeoutError):
        return True
    return type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg", "psycopg2")


def status_with_event(
    state: WinkState, provider: Provider, kind: str, name: str, payload: Any, upstream_user_id: str | None
) -> AccountChange | None:
    """The account status to record with the event itself, when this process handles it (a
    worker records it when it handles the event, so that it knows whether the status moved)."""
    if not state.handles_events:
        return None
    return account_change(provider, kind, name, payload, upstream_user_id)


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


class WebhookFastPath:
    """A WSGI layer that answers ``POST`` to the kit's webhook paths before Flask's dispatch.

    Opt-in (``WINK_WEBHOOK_FAST_PATH = True``; the quickstart turns it on). Everything else goes on
    to the app. The webhook is received exactly as the blueprint's view receives it, inside an app
    context, but without a request context: no session is opened, and the app's
    ``before_request`` / ``after_request`` functions and error handlers do not run for it.
    Middleware wrapped around ``app.wsgi_app`` after ``Wink(app)`` sees webhooks too; middleware
    wrapped before it (ProxyFix, say) does not, so wrap such middleware after ``Wink(app)``.
    ``paths`` maps each webhook path to its provider's name.
    """

    def __init__(self, app: Flask, wsgi_app: Callable, paths: Mapping[str, str]) -> None:
        self.app, self.wsgi_app, self.paths = app, wsgi_app, dict(paths)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        name = self.paths.get(environ.get("PATH_INFO", ""))
        if name is None or environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        from .state import get_state

        try:
            with self.app.app_context():
                state = get_state(self.app)
                delivery = Delivery.from_environ(environ)
                body, status = receive(self.app, state, state.provider(name), delivery)
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
