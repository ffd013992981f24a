"""Where :func:`~flask_wink.providers.ucw.ucw` was imported from before."""

from . import ucw

__all__ = ["ucw"]
