"""Times as the kit keeps and shows them: aware UTC datetimes and ISO 8601 text ending in ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """``moment`` with a time zone: a naive one (SQLite hands those back) is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def iso(moment: datetime, timespec: str = "auto") -> str:
    """``moment`` in UTC as ISO 8601 ending in ``Z``; ``timespec`` as for ``datetime.isoformat``
    (``"seconds"`` drops the fraction, as Smile writes times)."""
    return aware(moment).astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """An ISO 8601 date-time (``Z`` or an offset; none is taken as UTC) as an aware datetime.

    Raises :class:`ValueError` for anything else.
    """
    return aware(datetime.fromisoformat(text))
