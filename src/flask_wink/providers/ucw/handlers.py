"""What runs after each UCW event is stored, in order (see ``UniversalConnect.handlers``)."""

from __future__ import annotations

from .connections import confirm_connection

HANDLERS = (confirm_connection,)
