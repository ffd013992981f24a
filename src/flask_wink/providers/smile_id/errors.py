"""Failures talking to Smile ID's API, on the core's :class:`~flask_wink.errors.UpstreamCallError`
tree; each carries Smile ID's ``code`` (e.g. ``"2205"``)."""

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

#: Smile ID's codes for a request it did not authorise (wrong partner, key or signature), with
#: 401. 2204 with 400 means "a parameter is of the wrong data type": the kit decides by the HTTP
#: status, never by the code alone.
AUTH_CODES = frozenset({"2204", "2205"})


class SmileIDError(UpstreamCallError):
    """A call to Smile ID's API failed."""

    upstream = "Smile ID"
    host_setting = "WINK_SMILE_ID_HOST"
    credential_settings = "WINK_SMILE_ID_PARTNER_ID and WINK_SMILE_ID_API_KEY"
    host_shape = "it ends in /v1"


class SmileIDAPIError(SmileIDError, UpstreamRefused):
    """Smile ID answered ``{"code": ..., "error": ...}`` (4xx or 5xx)."""


class SmileIDAuthError(SmileIDAPIError, UpstreamAuthRefused):
    """Smile ID refused the partner id, API key or signature (HTTP 401 or 403; codes 2204, 2205)."""


class SmileIDNotFound(SmileIDAPIError, UpstreamNotFound):
    """No such link (404)."""


class SmileIDRateLimited(SmileIDAPIError, UpstreamRateLimited):
    """Smile ID asks us to slow down (429)."""


class SmileIDServerError(SmileIDAPIError, UpstreamServerFailed):
    """Smile ID failed on its side (5xx)."""


class SmileIDConnectionError(SmileIDError, UpstreamUnreachable):
    """Smile ID could not be reached."""


class SmileIDTimeout(SmileIDConnectionError, UpstreamTimedOut):
    """Smile ID did not answer in time."""
