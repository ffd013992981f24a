"""flask-wink: account linking for Flask, one core and a provider package per upstream.

The upstreams live in :mod:`flask_wink.providers` (e.g. ``flask_wink.providers.smile_wink``).
"""

from .blueprint import link_config
from .erasure import Erasure, erase_user
from .errors import (
    InvalidRequest,
    InvalidSignature,
    MalformedMessage,
    RateLimited,
    StaleMessage,
    StorageUnavailable,
    UpstreamCallError,
    VerificationError,
    WebhookVerificationError,
    WinkHTTPError,
)
from .extension import Wink
from .linking import start_link
from .provider import (
    BaseProvider,
    Inbound,
    LinkStart,
    LinkURLs,
    PersonalData,
    Provider,
    PublicURL,
    ReturnEvent,
    StatusUpdate,
    TestEvent,
    TestMessage,
    UpstreamErasure,
    UpstreamUserGone,
)
from .settings import Setting
from .state import WinkState, get_state
from .store import Store, StoredAccount, StoredEvent
from .summaries import EventSummary, summarize_event

__all__ = [
    "BaseProvider",
    "Erasure",
    "EventSummary",
    "Inbound",
    "InvalidRequest",
    "InvalidSignature",
    "LinkStart",
    "LinkURLs",
    "MalformedMessage",
    "PersonalData",
    "Provider",
    "PublicURL",
    "RateLimited",
    "ReturnEvent",
    "Setting",
    "StaleMessage",
    "StatusUpdate",
    "StorageUnavailable",
    "Store",
    "StoredAccount",
    "StoredEvent",
    "TestEvent",
    "TestMessage",
    "UpstreamCallError",
    "UpstreamErasure",
    "UpstreamUserGone",
    "VerificationError",
    "WebhookVerificationError",
    "Wink",
    "WinkHTTPError",
    "WinkState",
    "erase_user",
    "get_state",
    "link_config",
    "start_link",
    "summarize_event",
]
