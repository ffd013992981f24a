"""Where :func:`~flask_wink.providers.smile_wink.smile_wink` was imported from before."""

from . import NAME, smile_wink

__all__ = ["NAME", "smile_wink"]
