"""The package's exceptions.

Two families: :class:`UpstreamCallError` for failures talking to an upstream's API (raised by a
provider's client, never tied to a Flask request; each provider subclasses it), and
:class:`WinkHTTPError` for errors a request to the blueprint can cause. The latter subclass
werkzeug's HTTP exceptions and render as JSON, so a host
app can re-render any of them with ``@app.errorhandler``.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.exceptions import (
    BadGateway,
    BadRequest,
    Forbidden,
    GatewayTimeout,
    HTTPException,
    InternalServerError,
    NotFound,
    RequestEntityTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
)
from werkzeug.exceptions import LengthRequired as HTTPLengthRequired


class UpstreamCallError(Exception):
    """A call to an upstream's API failed; carries the upstream's ``code``, ``message`` and request id.

    Each provider package subclasses this tree (e.g. ``SmileError``) so a host app can catch one
    upstream's failures or every upstream's.
    """

    #: Who failed, in words for a message ("Smile", "UCW"...); set by each provider's subclass.
    upstream = "The upstream"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id
        self.status = status

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"code={self.code}")
        if self.status:
            parts.append(f"status={self.status}")
        if self.request_id:
            parts.append(f"requestId={self.request_id}")
        return " ".join(parts)


class UpstreamRefused(UpstreamCallError):
    """The upstream answered with an error (4xx or 5xx)."""


class UpstreamAuthRefused(UpstreamRefused):
    """The upstream refused our credentials (401/403)."""


class UpstreamNotFound(UpstreamRefused):
    """The resource does not exist at the upstream (404)."""


class UpstreamRateLimited(UpstreamRefused):
    """The upstream asks us to slow down (429)."""


class UpstreamServerFailed(UpstreamRefused):
    """The upstream failed on its side (5xx)."""


class UpstreamUnreachable(UpstreamCallError):
    """The upstream could not be reached (DNS, refused connection, TLS)."""


class UpstreamTimedOut(UpstreamUnreachable):
    """The upstream did not answer within the configured timeout."""


class VerificationError(Exception):
    """An inbound server-to-server message failed verification: missing, malformed or wrong
    signature, stale, or not the upstream's envelope. The one exception ``Provider.verify_inbound``
    raises."""


class MalformedMessage(VerificationError):
    """A correctly signed message that is not the upstream's envelope (answered 400, not 401)."""


class StaleMessage(VerificationError):
    """A correctly signed message older than the app accepts (answered 400)."""


#: The name this exception had when Smile's webhooks were the only inbound messages.
WebhookVerificationError = VerificationError


class WinkHTTPError(HTTPException):
    """Base of the errors the blueprint answers with; rendered as a JSON body."""

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        super().__init__(description=message)
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def get_body(self, environ=None, scope=None) -> str:  # noqa: ARG002 - werkzeug signature
        body = {"error": type(self).__name__, "message": self.description, **self.extra}
        return json.dumps(body)

    def get_headers(self, environ=None, scope=None) -> list[tuple[str, str]]:  # noqa: ARG002
        return [("Content-Type", "application/json")]


class InvalidRequest(WinkHTTPError, BadRequest):
    """The request body is not what the endpoint accepts (400)."""


class StaleEvent(InvalidRequest):
    """A webhook's ``createdAt`` is older than ``WINK_WEBHOOK_MAX_AGE`` (400)."""


class UnsupportedType(WinkHTTPError, UnsupportedMediaType):
    """The body is not sent as ``application/json`` (415)."""


class InvalidSignature(WinkHTTPError, Unauthorized):
    """An inbound message's signature is missing or wrong (401)."""


class NotSignedIn(WinkHTTPError, Unauthorized):
    """The host app's user loader found no current user (401)."""


class UnknownProvider(WinkHTTPError, NotFound):
    """The URL names a provider that this app has not enabled (404)."""


class NotAllowed(WinkHTTPError, Forbidden):
    """The host app's permission hook refused the request (403)."""


class LengthRequired(WinkHTTPError, HTTPLengthRequired):
    """A body sent without a length to a server that cannot tell where it ends (411)."""


class PayloadTooLarge(WinkHTTPError, RequestEntityTooLarge):
    """The request body is over the configured limit (413)."""


class UpstreamError(WinkHTTPError, BadGateway):
    """The upstream's API answered with an error (502)."""


class UpstreamUnavailable(WinkHTTPError, ServiceUnavailable):
    """The upstream's API could not be reached (503)."""


class UpstreamTimeout(WinkHTTPError, GatewayTimeout):
    """The upstream's API did not answer in time (504)."""


class _RetryLater(WinkHTTPError):
    """An error whose answer says, in ``Retry-After``, how many seconds to wait."""

    default_retry_after = 5

    def __init__(self, message: str | None = None, *, retry_after: int | None = None, **extra: Any) -> None:
        super().__init__(message, **extra)
        #: Seconds a sender is asked to wait before trying again.
        self.retry_after = retry_after or self.default_retry_after

    def get_headers(self, environ=None, scope=None) -> list[tuple[str, str]]:  # noqa: ARG002
        return [("Content-Type", "application/json"), ("Retry-After", str(self.retry_after))]


class StorageUnavailable(_RetryLater, ServiceUnavailable):
    """The database failed (unreachable, locked past the wait, read-only, full) while storing;
    nothing is acknowledged (503 with ``Retry-After``)."""


class RateLimited(_RetryLater, TooManyRequests):
    """Over a rate limit of the kit (``WINK_*_RATE_LIMIT``): 429 with ``Retry-After``."""


class ServerError(WinkHTTPError, InternalServerError):
    """An unexpected failure, logged with its traceback; the answer says only that (500)."""


class Misconfigured(WinkHTTPError, InternalServerError):
    """The host app left a required hook or setting out (500, with how to fix it)."""


def upstream_http_error(exc: UpstreamCallError) -> WinkHTTPError:
    """Translate a client failure into the HTTP error the blueprint answers with."""
    extra = {"code": exc.code, "requestId": exc.request_id}
    if isinstance(exc, UpstreamTimedOut):
        return UpstreamTimeout(f"{exc.upstream}'s API did not answer in time.", **extra)
    if isinstance(exc, UpstreamUnreachable):
        return UpstreamUnavailable(f"{exc.upstream}'s API could not be reached.", **extra)
    return UpstreamError(f"{exc.upstream}'s API refused the request: {exc.message}", **extra)
