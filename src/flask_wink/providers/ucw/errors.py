"""UCW's failures, on the core's :class:`~flask_wink.errors.UpstreamCallError` tree:
:class:`UcwError` and the classes :meth:`~flask_wink.upstream.ErrorTree.derive` makes below it."""

from __future__ import annotations

from werkzeug.exceptions import NotFound

from ...errors import UpstreamCallError, WinkHTTPError
from ...upstream import ErrorTree


class UcwError(UpstreamCallError, upstream="UCW", host_setting="WINK_UCW_URL",
               credential_settings="WINK_UCW_TOKEN", host_shape="where UCW's widget and /api are served"):
    """A call to UCW failed."""


#: UCW answered with an error, ``message`` its text (``UcwRefused``; 401/403 ``UcwAuthError``,
#: 404 ``UcwNotFound``, 429 ``UcwRateLimited``, 5xx ``UcwServerError``), or could not be reached
#: (``UcwConnectionError``; ``UcwTimeout`` when it did not answer in time).
ERRORS = ErrorTree.derive(UcwError, refused="UcwRefused")
(UcwRefused, UcwAuthError, UcwNotFound, UcwRateLimited, UcwServerError,
 UcwConnectionError, UcwTimeout) = ERRORS


class UnknownConnection(WinkHTTPError, NotFound):
    """The request names a connection the current user does not have (404)."""
