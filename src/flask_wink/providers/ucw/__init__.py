"""The Universal Connect Widget (UCW), self-hosted: widget URLs (v2) or tokens (v1), the widget's
postMessage events relayed by the link page, server-side confirmation of a connection, its data
(accounts, owners, transactions), refresh and deletes, and an offline emulator.

Enabled when ``WINK_UCW_URL`` is set (see :class:`UniversalConnect`).
"""

from typing import Any

from .client import CONNECTION_HEADER, UcwClient
from .connections import (
    account_summaries,
    connections,
    delete_connection,
    delete_user,
    fetch_and_store,
    institution_names,
    stored_data,
    transaction_rows,
    user_connections,
)
from .errors import UcwAuthError, UcwConnectionError, UcwError, UcwNotFound, UcwRefused, UcwTimeout
from .events import CONNECTED, DELETED, EVENT_TYPES, NAME, NOT_CONFIRMED, UNCONFIRMED, connection_key
from .provider import UniversalConnect


def ucw(state: Any) -> UniversalConnect:
    """The :class:`UniversalConnect` of a :class:`~flask_wink.state.WinkState`, or a one-line
    error saying how to enable it (``state.provider_of(NAME)``)."""
    return state.provider_of(NAME)

__all__ = [
    "CONNECTED",
    "CONNECTION_HEADER",
    "DELETED",
    "EVENT_TYPES",
    "NAME",
    "NOT_CONFIRMED",
    "UNCONFIRMED",
    "UcwAuthError",
    "UcwClient",
    "UcwConnectionError",
    "UcwError",
    "UcwNotFound",
    "UcwRefused",
    "UcwTimeout",
    "UniversalConnect",
    "account_summaries",
    "connection_key",
    "connections",
    "delete_connection",
    "delete_user",
    "fetch_and_store",
    "institution_names",
    "stored_data",
    "transaction_rows",
    "ucw",
    "user_connections",
]
