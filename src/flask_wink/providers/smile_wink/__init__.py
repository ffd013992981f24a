"""Smile's Wink widget and Open API: Link tokens, the widget's callbacks, signed webhooks, uploads
and archives, user data, invitations, and an offline sandbox.

Enabled when ``WINK_API_KEY`` and ``WINK_API_SECRET`` are set (see :class:`SmileWink`).
"""

from typing import Any

from .client import SmileClient
from .errors import (
    SmileAPIError,
    SmileAuthError,
    SmileConnectionError,
    SmileError,
    SmileNotFound,
    SmileRateLimited,
    SmileServerError,
    SmileTimeout,
)
from .provider import SmileWink
from .signature import SIGNATURE_HEADER, sign, verify
from .statuses import NAME, AccountStatus


def smile_wink(state: Any) -> SmileWink:
    """The :class:`SmileWink` of a :class:`~flask_wink.state.WinkState`, or a one-line error saying
    how to enable it (``state.provider_of(NAME)``)."""
    return state.provider_of(NAME)

__all__ = [
    "NAME",
    "SIGNATURE_HEADER",
    "AccountStatus",
    "SmileAPIError",
    "SmileAuthError",
    "SmileClient",
    "SmileConnectionError",
    "SmileError",
    "SmileNotFound",
    "SmileRateLimited",
    "SmileServerError",
    "SmileTimeout",
    "SmileWink",
    "sign",
    "smile_wink",
    "verify",
]
