"""Smile's Wink widget and Open API: Link tokens, the widget's callbacks, signed webhooks, uploads
and archives, user data, invitations, and an offline sandbox.

Enabled when ``WINK_API_KEY`` and ``WINK_API_SECRET`` are set (see :class:`SmileWink`).
"""

from .access import NAME, smile_wink
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
from .statuses import AccountStatus

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
