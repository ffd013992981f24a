"""User data (identities, employments, incomes, ...): fetch, keep, export, retention and revocation."""

from __future__ import annotations

import click


def register_cli(group: click.Group) -> None:
    """Add this part's ``flask wink ...`` commands to ``group``."""
