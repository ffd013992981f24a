"""How UCW's own modules find the provider of the current app."""

from __future__ import annotations

from typing import Any

from .events import NAME


def ucw(state: Any) -> Any:
    """The :class:`~flask_wink.providers.ucw.UniversalConnect` of a
    :class:`~flask_wink.state.WinkState`, or a one-line error saying how to enable it."""
    provider = state.providers.get(NAME)
    if provider is None:
        raise RuntimeError(
            "The Universal Connect Widget is not enabled on this app: set WINK_UCW_URL "
            "(and list ucw in WINK_PROVIDERS if you set that)."
        )
    return provider
