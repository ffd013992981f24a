"""One base for the providers' API clients: an ``httpx.Client`` whose failures become the
core's :class:`~flask_wink.errors.UpstreamCallError` tree, mapped here once.

A provider names its upstream's root error (a subclass of ``UpstreamCallError`` that says who
failed and which settings to check), derives the rest of its tree with :meth:`ErrorTree.derive`,
and subclasses :class:`UpstreamClient` with its calls::

    class AcmeError(UpstreamCallError, upstream="Acme", host_setting="WINK_ACME_HOST",
                    credential_settings="WINK_ACME_KEY"):
        ...

    ERRORS = ErrorTree.derive(AcmeError)

    class AcmeClient(UpstreamClient):
        errors = ERRORS

        def __init__(self, host: str, key: str, **http: Any) -> None:
            super().__init__(host, auth=BearerAuth(key), **http)

        def session(self, session_id: str) -> dict[str, Any]:
            return self.call("GET", f"/sessions/{session_id}")

Tests hand each client its own transport (``transport=httpx.MockTransport(...)``) or, for
several hosts, ``mounts={"https://acme.test": ...}``; ``Wink(transport={"acme": ...})`` does the
same for providers built from the app's settings.
"""

from __future__ import annotations

import html
from collections.abc import Generator, Mapping
from typing import Any, ClassVar, NamedTuple, Self

import httpx

from .errors import (
    UpstreamAuthRefused,
    UpstreamCallError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamServerFailed,
    UpstreamTimedOut,
    UpstreamUnreachable,
)

#: Ten seconds for an answer, five to connect.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class ErrorTree(NamedTuple):
    """One upstream's exception classes, each also the core's class for that failure, so a host
    app catches one upstream's (``SmileNotFound``) or every upstream's (``UpstreamNotFound``)."""

    #: The upstream answered with an error (4xx or 5xx, or a 3xx: nothing is followed).
    refused: type[UpstreamRefused]
    #: 401 or 403: the credentials were refused.
    auth_refused: type[UpstreamRefused]
    #: 404.
    not_found: type[UpstreamRefused]
    #: 429.
    rate_limited: type[UpstreamRefused]
    #: 5xx.
    server_failed: type[UpstreamRefused]
    #: No answer: DNS, a refused connection, TLS.
    unreachable: type[UpstreamUnreachable]
    #: No answer within the timeout.
    timed_out: type[UpstreamUnreachable]

    @classmethod
    def derive(cls, root: type[UpstreamCallError], *, refused: str | None = None) -> ErrorTree:
        """The tree below ``root``, named after it: for ``SmileError``, ``SmileAPIError`` (or
        ``refused``), ``SmileAuthError``, ``SmileNotFound``, ``SmileRateLimited``,
        ``SmileServerError``, ``SmileConnectionError`` and ``SmileTimeout``, in ``root``'s module
        (assign each to its name there, so that it imports and pickles by that name)."""
        stem = root.__name__.removesuffix("Error")
        who = root.upstream

        def made(name: str, bases: tuple[type, ...], doc: str) -> Any:
            return type(name, bases, {"__doc__": doc, "__module__": root.__module__, "__qualname__": name})

        refusal = made(refused or f"{stem}APIError", (root, UpstreamRefused),
                       f"{who} answered with an error (4xx or 5xx).")
        unreachable = made(f"{stem}ConnectionError", (root, UpstreamUnreachable),
                           f"{who} could not be reached (DNS, refused connection, TLS).")
        checked = f": check {root.credential_settings}" if root.credential_settings else ""
        return cls(
            refused=refusal,
            auth_refused=made(f"{stem}AuthError", (refusal, UpstreamAuthRefused),
                              f"{who} refused the credentials (401/403){checked}."),
            not_found=made(f"{stem}NotFound", (refusal, UpstreamNotFound),
                           f"{who} has no such resource (404)."),
            rate_limited=made(f"{stem}RateLimited", (refusal, UpstreamRateLimited),
                              f"{who} asks us to slow down (429)."),
            server_failed=made(f"{stem}ServerError", (refusal, UpstreamServerFailed),
                               f"{who} failed on its side (5xx)."),
            unreachable=unreachable,
            timed_out=made(f"{stem}Timeout", (unreachable, UpstreamTimedOut),
                           f"{who} did not answer within the configured timeout."),
        )

    def for_status(self, status: int) -> type[UpstreamRefused]:
        """The class for an answer with HTTP ``status`` (never by the upstream's own code alone)."""
        if status in (401, 403):
            return self.auth_refused
        if status == 404:
            return self.not_found
        if status == 429:
            return self.rate_limited
        return self.server_failed if status >= 500 else self.refused


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` on every request."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def __repr__(self) -> str:  # never the token
        return "BearerAuth()"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class UpstreamClient:
    """One long-lived ``httpx.Client`` per app for one upstream's API, shared across threads;
    :meth:`close` it on the app's teardown (or use it as a context manager).

    Every failure is one of :attr:`errors`: a request no HTTP message can carry is ``refused``
    (no status), no answer in time ``timed_out``, no answer ``unreachable``, an answer that is
    not 2xx the class :meth:`ErrorTree.for_status` picks, with the upstream's message, code and
    request id read from its JSON body (:attr:`message_keys`, :attr:`code_key`,
    :attr:`request_id_key`), and a 2xx answer that is not a JSON object ``refused``.
    """

    #: The provider's exception classes (:meth:`ErrorTree.derive`).
    errors: ClassVar[ErrorTree]
    #: Where an error body says what went wrong (the first that is text), its code and its
    #: request id; None: the upstream does not say.
    message_keys: ClassVar[tuple[str, ...]] = ("message",)
    code_key: ClassVar[str | None] = "code"
    request_id_key: ClassVar[str | None] = "requestId"
    #: Whether an error answer that is not JSON may be plain text worth quoting (HTML-unescaped,
    #: cut at 300 characters); otherwise such an answer says ``HTTP <status>``.
    quotes_text: ClassVar[bool] = False

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        mounts: Mapping[str, httpx.BaseTransport | None] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        #: The API's base URL, as set (the host setting's value), for messages and links.
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            auth=auth,
            timeout=timeout,
            transport=transport,
            mounts=dict(mounts) if mounts else None,
            headers={"Accept": "application/json", "User-Agent": "flask-wink", **(headers or {})},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, **request: Any) -> dict[str, Any]:
        """Send one request (see :meth:`send`) and return its answer, a JSON object."""
        response = self.send(method, path, **request)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise self.errors.refused(
                f"{self.errors.refused.upstream} answered {method} {path} with something other than "
                "a JSON object.", status=response.status_code, host=self.base_url, path=f"{method} {path}")
        return answer

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request to ``path`` below the base URL (query ``params`` that are None are
        left out) and return the 2xx answer, or raise one of :attr:`errors`."""
        what = f"{method} {path}"
        who = self.errors.refused.upstream
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path.lstrip("/"), params=clean, json=json, headers=headers)
        except (httpx.LocalProtocolError, httpx.InvalidURL, UnicodeEncodeError):
            # A value no HTTP request can carry (a header with CR/LF or beyond ASCII): the
            # upstream could never accept it, so it is a refusal, not a failure worth retrying.
            raise self.errors.refused(
                f"{who} cannot be sent this {what}: a value is not valid in a request.") from None
        except httpx.TimeoutException:
            raise self.errors.timed_out(f"{who} did not answer {what} in time.",
                                        host=self.base_url, path=what) from None
        except httpx.HTTPError as exc:
            raise self.errors.unreachable(f"{who} could not be reached ({type(exc).__name__}).",
                                          host=self.base_url, path=what) from None
        if not response.is_success:  # a 3xx (say, an http:// host redirecting to https://) too
            raise self.refusal(response, what)
        return response

    def refusal(self, response: httpx.Response, what: str) -> UpstreamRefused:
        """The exception for an answer that is not 2xx, with what the upstream said."""
        try:
            body = response.json()
        except ValueError:
            body = None
        said = body if isinstance(body, dict) else {}
        message = next((said[k] for k in self.message_keys if isinstance(said.get(k), str) and said[k]), None)
        if message is None and self.quotes_text:
            message = html.unescape(response.text.strip())[:300] or response.reason_phrase
        code = said.get(self.code_key) if self.code_key else None
        request_id = said.get(self.request_id_key) if self.request_id_key else None
        status = response.status_code
        return self.errors.for_status(status)(
            message or f"HTTP {status}",
            code=None if code is None else str(code),
            request_id=None if request_id is None else str(request_id),
            status=status,
            host=self.base_url,
            path=what,
        )
