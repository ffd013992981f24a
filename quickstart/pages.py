"""The quickstart's pages beyond its own routes (:mod:`quickstart.home`): the dashboard's timeline,
accounts, archives, fetched data, bank connections, identity verification, invitations, test events.

Each part is a module with a ``register(pages)`` that adds its routes to the ``pages`` blueprint and
a ``LINKS`` tuple of the pages the dashboard's menu lists; :func:`blueprint` puts them together.
"""

from __future__ import annotations

from flask import Blueprint

from . import (
    pages_archives,
    pages_dashboard,
    pages_data,
    pages_invites,
    pages_smile_id,
    pages_trigger,
    pages_ucw,
)
from .shared import Link, check_csrf, day, when

__all__ = ["PARTS", "blueprint", "check_csrf", "day", "links", "when"]

#: The parts, in the order the dashboard's menu lists their pages.
PARTS = (pages_archives, pages_dashboard, pages_data, pages_invites, pages_smile_id, pages_trigger, pages_ucw)


def blueprint() -> Blueprint:
    """A new ``pages`` blueprint with every part's routes, and the ``when`` and ``day`` filters."""
    pages = Blueprint("pages", __name__, template_folder="templates")
    pages.add_app_template_filter(when, "when")
    pages.add_app_template_filter(day, "day")
    for part in PARTS:
        part.register(pages)
    return pages


def links() -> list[Link]:
    """(endpoint, label) of each page the dashboard's menu lists, in order."""
    return [link for part in PARTS for link in part.LINKS]
