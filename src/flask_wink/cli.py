"""``flask wink ...``: commands for the app that mounts the kit."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from .extension import get_state


@click.group("wink", help="flask-wink: account linking with Smile's Wink widget.")
def wink_cli() -> None:
    pass


@wink_cli.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create the kit's tables (they are also created on first use)."""
    state = get_state()
    state.store.init()
    click.echo(f"Tables ready in {state.store.engine.url.render_as_string(hide_password=True)}")


@wink_cli.command("events")
@click.option("--kind", type=click.Choice(["callback", "webhook"]))
@click.option("--limit", type=int, default=20, show_default=True)
@with_appcontext
def list_events(kind: str | None, limit: int) -> None:
    """Print the newest recorded events as JSON lines."""
    for event in get_state().store.list_events(kind=kind, limit=limit):
        click.echo(json.dumps(event.as_dict()))
