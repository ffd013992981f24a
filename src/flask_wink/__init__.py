"""flask-wink: Smile's Wink account-linking flow as one Flask blueprint."""

from .blueprint import link_config
from .client import SmileClient
from .errors import (
    InvalidRequest,
    InvalidSignature,
    SmileAPIError,
    SmileAuthError,
    SmileConnectionError,
    SmileError,
    SmileNotFound,
    SmileRateLimited,
    SmileServerError,
    SmileTimeout,
    WebhookVerificationError,
    WinkHTTPError,
)
from .extension import Wink, WinkState, get_state
from .providers.smile_wink import AccountStatus, LinkToken
from .store import Store, StoredEvent
from .webhooks import sign, verify

__all__ = [
    "AccountStatus",
    "InvalidRequest",
    "InvalidSignature",
    "LinkToken",
    "SmileAPIError",
    "SmileAuthError",
    "SmileClient",
    "SmileConnectionError",
    "SmileError",
    "SmileNotFound",
    "SmileRateLimited",
    "SmileServerError",
    "SmileTimeout",
    "Store",
    "StoredEvent",
    "WebhookVerificationError",
    "Wink",
    "WinkHTTPError",
    "WinkState",
    "get_state",
    "link_config",
    "sign",
    "verify",
]
