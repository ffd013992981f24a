"""One line of plain English for a stored event: what a dashboard shows beside it, and what
``flask wink events --oneline`` prints.

A provider says what its own events mean with its optional ``describe(kind, name, payload,
status=None)`` (see :class:`~flask_wink.provider.Provider`); :func:`summarize_event` asks it, and
falls back to a generic line made of the event's kind and name (``Webhook ACCOUNT_CONNECTED``,
``Browser event onClose``) for a provider without the method, or for an event it says nothing
about. Plain Python, no Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .provider import WEBHOOK

if TYPE_CHECKING:
    from .provider import Provider

#: A summary's tone, which colours its badge: it went well, it failed, it is under way, or news.
OK, ERROR, PROGRESS, INFO = "ok", "error", "progress", "info"


@dataclass(frozen=True, slots=True)
class EventSummary:
    """What one event means, for people: ``text``, one line; ``badge``, a word or two for its
    badge; ``tone``, one of :data:`OK`, :data:`ERROR`, :data:`PROGRESS`, :data:`INFO`."""

    text: str
    badge: str = "received"
    tone: str = INFO


def generic_summary(kind: str, name: str) -> EventSummary:
    """The line for an event its provider does not describe: ``Webhook <name>`` or ``Browser event
    <name>``."""
    what = "Webhook" if kind == WEBHOOK else "Browser event"
    return EventSummary(f"{what} {name}", "received", INFO)


def summarize_event(
    provider: Provider | None, kind: str, name: str, payload: Any, *, status: str | None = None
) -> EventSummary:
    """What a stored event means: its provider's own ``describe`` when it has one and says
    something (a line, or an :class:`EventSummary`), else :func:`generic_summary`.

    ``status`` is the last known status of the account (or connection, or verification) the event
    is about, for an event that alone cannot say how things stand (a connection the browser
    reported, which the upstream confirms, or not, afterwards).
    """
    describe = getattr(provider, "describe", None)
    described = describe(kind, name, payload, status=status) if describe is not None else None
    if isinstance(described, EventSummary):
        return described
    if isinstance(described, str) and described:
        return EventSummary(described)
    return generic_summary(kind, name)
