"""UCW's failures, on the core's :class:`~flask_wink.errors.UpstreamCallError` tree."""

from __future__ import annotations

from werkzeug.exceptions import NotFound

from ...errors import (
    UpstreamAuthRefused,
    UpstreamCallError,
    UpstreamNotFound,
    UpstreamRefused,
    UpstreamServerFailed,
    UpstreamTimedOut,
    UpstreamUnreachable,
    WinkHTTPError,
)


class UcwError(UpstreamCallError):
    """A call to UCW failed."""

    upstream = "UCW"
    host_setting = "WINK_UCW_URL"
    credential_settings = "WINK_UCW_TOKEN"
    host_shape = "where UCW's widget and /api are served"


class UcwRefused(UcwError, UpstreamRefused):
    """UCW answered with an error (4xx or 5xx); ``message`` is its text."""


class UcwAuthError(UcwRefused, UpstreamAuthRefused):
    """UCW refused the bearer token (401/403): check WINK_UCW_TOKEN."""


class UcwNotFound(UcwRefused, UpstreamNotFound):
    """UCW does not know the user or connection (404)."""


class UcwServerError(UcwRefused, UpstreamServerFailed):
    """UCW failed on its side (5xx)."""


class UcwConnectionError(UcwError, UpstreamUnreachable):
    """UCW could not be reached."""


class UcwTimeout(UcwConnectionError, UpstreamTimedOut):
    """UCW did not answer in time."""


class UnknownConnection(WinkHTTPError, NotFound):
    """The request names a connection the current user does not have (404)."""
