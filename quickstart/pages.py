"""The quickstart's pages beyond the dashboard: accounts, archives, fetched data, invites, outbox.

Each part registers its routes on :data:`pages`; ``/`` links to every page listed in :data:`LINKS`.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, request
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from flask_wink.errors import InvalidRequest

pages = Blueprint("pages", __name__, template_folder="templates")

#: (endpoint, label) of each page, shown on the dashboard.
LINKS: list[tuple[str, str]] = []


def link(endpoint: str, label: str) -> None:
    """List a page on the dashboard."""
    LINKS.append((endpoint, label))


def _moment(value: str | datetime | None) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


@pages.app_template_filter("when")
def when(value: str | datetime | None) -> str:
    """A moment as every page writes it: ``2026-12-06 21:51 UTC`` (ISO text or a datetime in UTC)."""
    moment = _moment(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else (str(value) if value else "")


@pages.app_template_filter("day")
def day(value: str | datetime | None) -> str:
    """A day as every page writes it: ``2026-12-06``."""
    moment = _moment(value)
    return moment.strftime("%Y-%m-%d") if moment else (str(value)[:10] if value else "")


def check_csrf() -> None:
    """Check a form's ``csrf_token``: the quickstart does not turn on CSRFProtect for the whole
    app, so its forms check their own token."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        raise InvalidRequest(f"CSRF check failed: {exc}. Reload the page and try again.") from None


# The parts register their routes on import.
from . import (  # noqa: E402, F401
    pages_archives,
    pages_dashboard,
    pages_data,
    pages_invites,
    pages_smile_id,
    pages_trigger,
    pages_ucw,
)
