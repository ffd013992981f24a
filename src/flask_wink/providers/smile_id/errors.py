"""Failures talking to Smile ID's API, on the core's :class:`~flask_wink.errors.UpstreamCallError`
tree: :class:`SmileIDError` and the classes :meth:`~flask_wink.upstream.ErrorTree.derive` makes
below it. Each carries Smile ID's ``code`` (e.g. ``"2205"``)."""

from __future__ import annotations

from ...errors import UpstreamCallError
from ...upstream import ErrorTree

#: Smile ID's codes for a request it did not authorise (wrong partner, key or signature), with
#: 401. 2204 with 400 means "a parameter is of the wrong data type": the kit decides by the HTTP
#: status, never by the code alone.
AUTH_CODES = frozenset({"2204", "2205"})


class SmileIDError(UpstreamCallError, upstream="Smile ID", host_setting="WINK_SMILE_ID_HOST",
                   credential_settings="WINK_SMILE_ID_PARTNER_ID and WINK_SMILE_ID_API_KEY",
                   host_shape="it ends in /v1"):
    """A call to Smile ID's API failed."""


#: Smile ID answered ``{"code": ..., "error": ...}`` (``SmileIDAPIError``; 401/403
#: ``SmileIDAuthError``, 404 ``SmileIDNotFound``, 429 ``SmileIDRateLimited``, 5xx
#: ``SmileIDServerError``), or could not be reached (``SmileIDConnectionError``, ``SmileIDTimeout``).
ERRORS = ErrorTree.derive(SmileIDError)
(SmileIDAPIError, SmileIDAuthError, SmileIDNotFound, SmileIDRateLimited, SmileIDServerError,
 SmileIDConnectionError, SmileIDTimeout) = ERRORS
