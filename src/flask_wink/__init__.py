"""flask-wink: account linking for Flask, one core and a provider package per upstream.

The upstreams live in :mod:`flask_wink.providers` (e.g. ``flask_wink.providers.smile_wink``).
"""

from .blueprint import link_config
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
    Inbound,
    LinkStart,
    Provider,
    PublicURL,
    ReturnEvent,
    StatusUpdate,
    TestEvent,
    TestMessage,
    UpstreamUserGone,
)
from .state import WinkState, get_state
from .store import Store, StoredEvent
from .summaries import EventSummary, summarize_event

__all__ = [
    "EventSummary",
    "Inbound",
    "InvalidRequest",
    "InvalidSignature",
    "LinkStart",
    "MalformedMessage",
    "Provider",
    "PublicURL",
    "RateLimited",
    "ReturnEvent",
    "StaleMessage",
    "StatusUpdate",
    "StorageUnavailable",
    "Store",
    "StoredEvent",
    "TestEvent",
    "TestMessage",
    "UpstreamCallError",
    "UpstreamUserGone",
    "VerificationError",
    "WebhookVerificationError",
    "Wink",
    "WinkHTTPError",
    "WinkState",
    "get_state",
    "link_config",
    "start_link",
    "summarize_event",
]
