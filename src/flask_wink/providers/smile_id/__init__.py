"""Smile ID's Smile Links: hosted identity verification links, created by a signed REST call; the
result arrives as a signed callback. With an offline emulator (:mod:`.sandbox`).

Enabled when ``WINK_SMILE_ID_PARTNER_ID`` and ``WINK_SMILE_ID_API_KEY`` are set (see :class:`SmileID`).
"""

from .client import PRODUCTION_HOST, SANDBOX_HOST, SmileIDClient
from .errors import (
    SmileIDAPIError,
    SmileIDAuthError,
    SmileIDConnectionError,
    SmileIDError,
    SmileIDNotFound,
    SmileIDRateLimited,
    SmileIDServerError,
    SmileIDTimeout,
)
from .provider import SmileID
from .results import EMULATOR_CODES, JOB_TYPES, NAME, RESULT_CODES, VerificationStatus, classify
from .signature import SmileIDAuth, confirm, sign
from .verifications import current_status, verifications

__all__ = [
    "JOB_TYPES",
    "NAME",
    "PRODUCTION_HOST",
    "RESULT_CODES",
    "EMULATOR_CODES",
    "SANDBOX_HOST",
    "SmileID",
    "SmileIDAPIError",
    "SmileIDAuth",
    "SmileIDAuthError",
    "SmileIDClient",
    "SmileIDConnectionError",
    "SmileIDError",
    "SmileIDNotFound",
    "SmileIDRateLimited",
    "SmileIDServerError",
    "SmileIDTimeout",
    "VerificationStatus",
    "classify",
    "confirm",
    "current_status",
    "sign",
    "verifications",
]
