"""Times as the kit keeps and shows them: aware UTC datetimes and ISO 8601 text ending in ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: The earliest moment a date sent to the kit may name; earlier ones are not believed.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
#: How far in the future a date sent to the kit may lie (clocks differ a little, not by years).
FUTURE_SLACK = timedelta(days=1)


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


def believable(moment: datetime | None, now: datetime | None = None) -> datetime | None:
    """``moment`` when it lies between :data:`EARLIEST` and a day from ``now``, else None: a date
    from a browser or an upstream outside that range is not kept (the caller uses its own)."""
    if moment is None:
        return None
    moment = aware(moment)
    if moment < EARLIEST or moment > (now or utcnow()) + FUTURE_SLACK:
        return None
    return moment


def later(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, or the last representable moment instead of an OverflowError, so a
    stored date never fails a page or a command."""
    try:
        return aware(moment) + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)
