"""How Smile Wink's own modules find the provider of the current app."""

from __future__ import annotations

from typing import Any

NAME = "smile_wink"


def smile_wink(state: Any) -> Any:
    """The :class:`~flask_wink.providers.smile_wink.SmileWink` of a
    :class:`~flask_wink.state.WinkState`, or a one-line error saying how to enable it."""
    provider = state.providers.get(NAME)
    if provider is None:
        raise RuntimeError(
            "Smile Wink is not enabled on this app: set WINK_API_KEY and WINK_API_SECRET "
            "(and list smile_wink in WINK_PROVIDERS if you set that)."
        )
    return provider
