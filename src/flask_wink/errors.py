"""The package's exceptions.

Two families: :class:`SmileError` for failures talking to Smile's Open API (raised by the
client, never tied to a Flask request), and :class:`WinkHTTPError` for errors a request to the
blueprint can cause. The latter subclass werkzeug's HTTP exceptions and render as JSON, so a host
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
    RequestEntityTooLarge,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)
from werkzeug.exceptions import LengthRequired as HTTPLengthRequired


class SmileError(Exception):
    """A call to Smile's Open API failed; carries Smile's ``code``, ``message`` and ``requestId``."""

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


class SmileAPIError(SmileError):
    """Smile answered with an error envelope (4xx or 5xx)."""


class SmileAuthError(SmileAPIError):
    """Smile refused the API key and secret (401/403)."""


class SmileNotFound(SmileAPIError):
    """The resource does not exist at Smile (404)."""


class SmileRateLimited(SmileAPIError):
    """Smile asks us to slow down (429)."""


class SmileServerError(SmileAPIError):
    """Smile failed on its side (5xx)."""


class SmileConnectionError(SmileError):
    """Smile could not be reached (DNS, refused connection, TLS)."""


class SmileTimeout(SmileConnectionError):
    """Smile did not answer within the configured timeout."""


class WebhookVerificationError(Exception):
    """A webhook failed verification: missing, malformed or wrong signature."""


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
    """A webhook's ``Smile-Signature`` is missing or wrong (401)."""


class NotSignedIn(WinkHTTPError, Unauthorized):
    """The host app's user loader found no current user (401)."""


class NotAllowed(WinkHTTPError, Forbidden):
    """The host app's permission hook refused the request (403)."""


class LengthRequired(WinkHTTPError, HTTPLengthRequired):
    """A body sent without a length to a server that cannot tell where it ends (411)."""


class PayloadTooLarge(WinkHTTPError, RequestEntityTooLarge):
    """The request body is over the configured limit (413)."""


class UpstreamError(WinkHTTPError, BadGateway):
    """Smile's API answered with an error (502)."""


class UpstreamUnavailable(WinkHTTPError, ServiceUnavailable):
    """Smile's API could not be reached (503)."""


class UpstreamTimeout(WinkHTTPError, GatewayTimeout):
    """Smile's API did not answer in time (504)."""


class StorageUnavailable(WinkHTTPError, ServiceUnavailable):
    """The database failed while storing a webhook; it is not acknowledged (503)."""


class ServerError(WinkHTTPError, InternalServerError):
    """An unexpected failure, logged with its traceback; the answer says only that (500)."""


class Misconfigured(WinkHTTPError, InternalServerError):
    """The host app left a required hook or setting out (500, with how to fix it)."""


def upstream_http_error(exc: SmileError) -> WinkHTTPError:
    """Translate a client failure into the HTTP error the blueprint answers with."""
    extra = {"code": exc.code, "requestId": exc.request_id}
    if isinstance(exc, SmileTimeout):
        return UpstreamTimeout("Smile's API did not answer in time.", **extra)
    if isinstance(exc, SmileConnectionError):
        return UpstreamUnavailable("Smile's API could not be reached.", **extra)
    return UpstreamError(f"Smile's API refused the request: {exc.message}", **extra)
