"""The quickstart's pages beyond the dashboard: accounts, archives, fetched data, invites, outbox.

Each part registers its routes on :data:`pages`; ``/`` links to every page listed in :data:`LINKS`.
"""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("pages", __name__, template_folder="templates")

#: (endpoint, label) of each page, shown on the dashboard.
LINKS: list[tuple[str, str]] = []


def link(endpoint: str, label: str) -> None:
    """List a page on the dashboard."""
    LINKS.append((endpoint, label))


# The parts register their routes on import.
from . import pages_archives, pages_data, pages_invites, pages_smile_id  # noqa: E402, F401
