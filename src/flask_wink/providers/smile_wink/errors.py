"""Failures talking to Smile's Open API, on the core's :class:`~flask_wink.errors.UpstreamCallError`
tree: :class:`SmileError` and the classes :meth:`~flask_wink.upstream.ErrorTree.derive` makes below it."""

from __future__ import annotations

from ...errors import UpstreamCallError
from ...upstream import ErrorTree


class SmileError(UpstreamCallError, upstream="Smile", host_setting="WINK_API_HOST",
                 credential_settings="WINK_API_KEY and WINK_API_SECRET", host_shape="it ends in /v1"):
    """A call to Smile's Open API failed; carries Smile's ``code``, ``message`` and ``requestId``."""


#: Smile answered with an error envelope (``SmileAPIError``; 401/403 ``SmileAuthError``, 404
#: ``SmileNotFound``, 429 ``SmileRateLimited``, 5xx ``SmileServerError``), or could not be reached
#: (``SmileConnectionError``; ``SmileTimeout`` when it did not answer in time).
ERRORS = ErrorTree.derive(SmileError)
(SmileAPIError, SmileAuthError, SmileNotFound, SmileRateLimited, SmileServerError,
 SmileConnectionError, SmileTimeout) = ERRORS
