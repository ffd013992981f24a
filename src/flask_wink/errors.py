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
from urllib.parse import urlsplit

import click
from werkzeug.datastructures import MIMEAccept
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
from werkzeug.http import parse_accept_header


class UpstreamCallError(Exception):
    """A call to an upstream's API failed; carries the upstream's ``code``, ``message`` and request id.

    Each provider package subclasses this tree (e.g. ``SmileError``, and the classes
    :meth:`flask_wink.upstream.ErrorTree.derive` makes below it) so a host app can catch one
    upstream's failures or every upstream's.
    """

    #: Who failed, in words for a message ("Smile", "UCW"...); set by each provider's subclass.
    upstream = "The upstream"
    #: The setting that says where the upstream's API is (``WINK_SMILE_ID_HOST``...), and the
    #: settings of the credentials it checks; each provider's subclass names its own, so that
    #: every message says what to fix.
    host_setting: str | None = None
    credential_settings: str | None = None
    #: What the host setting's value looks like, for a 404 that is not the API's own answer.
    host_shape = ""

    def __init_subclass__(cls, *, upstream: str | None = None, host_setting: str | None = None,
                          credential_settings: str | None = None, host_shape: str | None = None,
                          **kwargs: Any) -> None:
        """A provider's root error states its facts in its class statement:
        ``class AcmeError(UpstreamCallError, upstream="Acme", host_setting="WINK_ACME_HOST")``."""
        super().__init_subclass__(**kwargs)
        facts = {"upstream": upstream, "host_setting": host_setting,
                 "credential_settings": credential_settings, "host_shape": host_shape}
        for name, value in facts.items():
            if value is not None:
                setattr(cls, name, value)

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        status: int | None = None,
        host: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.request_id = request_id
        self.status = status
        #: The base URL that was called (the host setting's value) and the path asked for.
        self.host = host
        self.path = path

    @property
    def hint(self) -> str | None:
        """What to check, naming the setting and its value (never a credential), or None when
        the provider names no setting."""
        if not self.host_setting:
            return None
        at = f"{self.host_setting}={shown_url(self.host)}" if self.host else self.host_setting
        if isinstance(self, UpstreamAuthRefused) and self.credential_settings:
            return f"check {self.credential_settings}, sent to {at}"
        if isinstance(self, UpstreamNotFound) and self.code is None:
            # No error code of the upstream's: probably not its API that answered.
            asked = f" to {self.path}" if self.path else ""
            shape = f" ({self.host_shape})" if self.host_shape else ""
            return f"{self.upstream} answered 404{asked} at {at}: is it the API's base URL{shape}?"
        if isinstance(self, UpstreamUnreachable):
            return f"check {at} and that it is up"
        return f"at {at}"

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"code={self.code}")
        if self.status:
            parts.append(f"status={self.status}")
        if self.request_id:
            parts.append(f"requestId={self.request_id}")
        hint = self.hint
        if hint:
            parts.append(f"({hint})")
        return " ".join(parts)


def shown_url(url: str) -> str:
    """``url`` without what must not reach a message: credentials in it, its query, its fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else url.split("?")[0]


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


class ConfigurationError(click.ClickException, RuntimeError):
    """A setting the kit cannot use, in one line that says the fix. A ``RuntimeError``; also a
    Click exception, so that ``flask run`` and ``flask wink ...``, which build the app, print that
    line (``Error: ...``, exit status 1) rather than a traceback."""


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
    """Base of the errors the blueprint answers with: a JSON body for scripts, and for a browser's
    navigation (a form post, a page load) the page ``wink/error.html`` in the kit's frame, with
    :attr:`page_title` and :attr:`page_text` for the user and the message for the site's operator."""

    #: The page's heading and sentence for a person; ``{upstream}`` and ``{retry_after}`` are
    #: filled in.
    page_title = "Something went wrong"
    page_text = "This could not be done. Go back and try again."
    #: Who failed, for the page of an upstream's error (set by :func:`upstream_http_error`).
    upstream = "The service"

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        super().__init__(description=message)
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def get_body(self, environ=None, scope=None) -> str:  # noqa: ARG002 - werkzeug signature
        body = {"error": type(self).__name__, "message": self.description, **self.extra}
        return json.dumps(body)

    def get_headers(self, environ=None, scope=None) -> list[tuple[str, str]]:  # noqa: ARG002
        return [("Content-Type", "application/json")]

    def get_response(self, environ=None, scope=None):
        """The page for a browser's navigation, else the JSON answer."""
        page = error_page(self, environ)
        return page if page is not None else super().get_response(environ, scope)


def is_navigation(environ: Any) -> bool:
    """Whether a request is a browser's navigation (a page load, a form post) rather than a
    script's call: ``Sec-Fetch-Mode: navigate`` where the browser sends it, else an ``Accept``
    that prefers text/html to JSON (a browser's does; ``fetch`` and curl send ``*/*``)."""
    if environ is None:
        return False
    mode = environ.get("HTTP_SEC_FETCH_MODE")
    if mode:
        return mode == "navigate"
    accept = parse_accept_header(environ.get("HTTP_ACCEPT"), MIMEAccept)
    return accept.quality("text/html") > accept.quality("application/json")


def error_page(exc: HTTPException, environ: Any) -> Any:
    """The kit's error page (``wink/error.html``) answering ``exc`` to a browser's navigation, or
    None for a script's call (which gets JSON) or outside a request. The page says what happened
    in words for a person, gives a way back, and shows the message, which names the setting to
    fix for a configuration problem and never a secret, as a note for the site's operator."""
    from flask import current_app, has_request_context, render_template, request
    from jinja2 import TemplateNotFound

    if not has_request_context() or not is_navigation(environ):
        return None
    retry_after = getattr(exc, "retry_after", None)
    words = {"upstream": getattr(exc, "upstream", "The service"), "retry_after": retry_after}
    title = getattr(exc, "page_title", None) or exc.name
    text = getattr(exc, "page_text", None) or WinkHTTPError.page_text
    try:
        page = render_template(
            "wink/error.html",
            error=exc,
            title=title.format(**words),
            text=text.format(**words),
            detail=exc.description,
            for_operator=(exc.code or 500) >= 500,
            back=_way_back(request),
        )
    except TemplateNotFound:  # an app without the kit's templates: the JSON answer
        return None
    headers = [(k, v) for k, v in exc.get_headers(environ) if k.lower() != "content-type"]
    response = current_app.response_class(page, status=exc.code, headers=headers, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _way_back(request: Any) -> str:
    """The page the browser came from when it is this app's, else the app's root."""
    came_from = request.referrer
    if came_from and urlsplit(came_from).netloc == request.host and came_from != request.url:
        return came_from
    return request.script_root + "/"


class InvalidRequest(WinkHTTPError, BadRequest):
    """The request body is not what the endpoint accepts (400)."""

    page_title = "This could not be done"
    page_text = ("The page sent something this site could not use, perhaps because it was open for a "
                 "long time. Go back, reload the page and try again.")


class StaleEvent(InvalidRequest):
    """A webhook's ``createdAt`` is older than ``WINK_WEBHOOK_MAX_AGE`` (400)."""


class UnsupportedType(WinkHTTPError, UnsupportedMediaType):
    """The body is not sent as ``application/json`` (415)."""


class InvalidSignature(WinkHTTPError, Unauthorized):
    """An inbound message's signature is missing or wrong (401)."""


class NotSignedIn(WinkHTTPError, Unauthorized):
    """The host app's user loader found no current user (401)."""

    page_title = "Sign in first"
    page_text = "You need to be signed in to do this. Sign in, then try again."


class UnknownProvider(WinkHTTPError, NotFound):
    """The URL names a provider that this app has not enabled (404)."""

    page_title = "Not found"
    page_text = "There is nothing at this address."


class NotAllowed(WinkHTTPError, Forbidden):
    """The host app's permission hook refused the request (403)."""

    page_title = "Not allowed"
    page_text = "You are not allowed to do this."


class LengthRequired(WinkHTTPError, HTTPLengthRequired):
    """A body sent without a length to a server that cannot tell where it ends (411)."""


class PayloadTooLarge(WinkHTTPError, RequestEntityTooLarge):
    """The request body is over the configured limit (413)."""


class UpstreamError(WinkHTTPError, BadGateway):
    """The upstream's API answered with an error (502)."""

    page_title = "{upstream} could not do this"
    page_text = ("{upstream} turned the request down, so nothing was started. Try again later; if it "
                 "keeps happening, let the site's operator know.")


class UpstreamUnavailable(WinkHTTPError, ServiceUnavailable):
    """The upstream's API could not be reached (503)."""

    page_title = "{upstream} cannot be reached"
    page_text = ("This site could not reach {upstream} just now, so nothing was started. Try again in "
                 "a few minutes.")


class UpstreamTimeout(WinkHTTPError, GatewayTimeout):
    """The upstream's API did not answer in time (504)."""

    page_title = "{upstream} did not answer"
    page_text = ("{upstream} did not answer in time, so nothing was started. Try again in a few "
                 "minutes.")


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

    page_title = "Please try again"
    page_text = "This site could not save that just now. Try again in {retry_after} s."


class RateLimited(_RetryLater, TooManyRequests):
    """Over a rate limit of the kit (``WINK_*_RATE_LIMIT``): 429 with ``Retry-After``."""

    page_title = "Too many tries"
    page_text = "There were too many tries from here in a short while. Try again in {retry_after} s."


class ServerError(WinkHTTPError, InternalServerError):
    """An unexpected failure, logged with its traceback; the answer says only that (500)."""

    page_title = "Something went wrong on our side"
    page_text = "This site could not do this because of a problem on its side. Try again later."


class Misconfigured(WinkHTTPError, InternalServerError):
    """The host app left a required hook or setting out (500, with how to fix it)."""

    page_title = "This site is not set up for this yet"
    page_text = "This site could not do this because of how it is set up. Let the site's operator know."


def upstream_http_error(exc: UpstreamCallError) -> WinkHTTPError:
    """Translate a client failure into the HTTP error the blueprint answers with; its message
    names the setting to check (the provider's host or credential settings)."""
    extra = {"code": exc.code, "requestId": exc.request_id}
    hint = exc.hint
    who = exc.upstream
    kind: type[WinkHTTPError]
    if isinstance(exc, UpstreamTimedOut):
        kind, said = UpstreamTimeout, f"{who}'s API did not answer in time{_then(': ', hint)}"
    elif isinstance(exc, UpstreamUnreachable):
        kind, said = UpstreamUnavailable, f"{who}'s API could not be reached{_then(': ', hint)}"
    else:
        refused = exc.message.rstrip(".")
        kind, said = UpstreamError, f"{who}'s API refused the request: {refused}{_then('; ', hint)}"
    error = kind(said if said.endswith((".", "?", "!")) else said + ".", **extra)
    error.upstream = exc.upstream
    return error


def _then(joint: str, hint: str | None) -> str:
    return f"{joint}{hint}" if hint else ""
