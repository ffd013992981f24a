"""Failures talking to Smile's Open API, on the core's :class:`~flask_wink.errors.UpstreamCallError` tree."""

from __future__ import annotations

from ...errors import (
    UpstreamAuthRefused,
    UpstreamCallError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamServerFailed,
    UpstreamTimedOut,
    UpstreamUnreachable,
)


class SmileError(UpstreamCallError):
    """A call to Smile's Open API failed; carries Smile's ``code``, ``message`` and ``requestId``."""

    upstream = "Smile"
    host_setting = "WINK_API_HOST"
    credential_settings = "WINK_API_KEY and WINK_API_SECRET"
    host_shape = "it ends in /v1"


class SmileAPIError(SmileError, UpstreamRefused):
    """Smile answered with an error envelope (4xx or 5xx)."""


class SmileAuthError(SmileAPIError, UpstreamAuthRefused):
    """Smile refused the API key and secret (401/403)."""


class SmileNotFound(SmileAPIError, UpstreamNotFound):
    """The resource does not exist at Smile (404)."""


class SmileRateLimited(SmileAPIError, UpstreamRateLimited):
    """Smile asks us to slow down (429)."""


class SmileServerError(SmileAPIError, UpstreamServerFailed):
    """Smile failed on its side (5xx)."""


class SmileConnectionError(SmileError, UpstreamUnreachable):
    """Smile could not be reached (DNS, refused connection, TLS)."""


class SmileTimeout(SmileConnectionError, UpstreamTimedOut):
    """Smile did not answer within the configured timeout."""
