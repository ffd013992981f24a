"""``flask wink ucw ...``: a user's connections, refresh, data export, deletes."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from ...addresses import public_url
from ...flow import resolve_user
from ...provider import url_segment
from ...state import WinkState, get_state
from .connections import delete_connection, delete_user, fetch_and_store, stored_data, user_connections
from .errors import UcwError
from .events import NAME

ucw_cli = click.Group("ucw", help="Universal Connect Widget: connections, refresh, data, deletes.")


def _resolve_user(state: WinkState, user: str) -> tuple[str, str | None]:
    """(UCW user id, app user id) for an app user id or a UCW user id this app made."""
    return resolve_user(state, NAME, user, "UCW")


def _owned(state: WinkState, upstream: str, key: str) -> None:
    if key not in {c["key"] for c in user_connections(state, upstream)}:
        raise click.ClickException(
            f"{key} is not a connection of that user: see `flask wink ucw connections`."
        )


@ucw_cli.command("connections")
@click.argument("user")
@with_appcontext
def connections_command(user: str) -> None:
    """Print USER's connections (app or UCW user id) as JSON lines."""
    state = get_state()
    for connection in user_connections(state, _resolve_user(state, user)[0]):
        click.echo(json.dumps(connection))


@ucw_cli.command("refresh")
@click.argument("user")
@click.argument("connection")
@with_appcontext
def refresh_command(user: str, connection: str) -> None:
    """Print the URL of this app's page that refreshes USER's CONNECTION, to send the user.

    The user opens it signed in: the page starts the widget for the connection and records what
    it reports, as a refresh started from any page does (a bare widget URL would report to no
    page). Built on WINK_PUBLIC_URL (or SERVER_NAME): there is no request here to take the
    app's address from.
    """
    state = get_state()
    upstream, _ = _resolve_user(state, user)
    _owned(state, upstream, connection)
    try:
        url = public_url("wink.link_page", provider=url_segment(NAME), connection=connection)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(url)


@ucw_cli.command("fetch")
@click.argument("user")
@click.argument("connection")
@with_appcontext
def fetch_command(user: str, connection: str) -> None:
    """Fetch USER's CONNECTION data from UCW again and keep it."""
    state = get_state()
    _owned(state, _resolve_user(state, user)[0], connection)
    try:
        document = fetch_and_store(state, connection)
    except (UcwError, LookupError) as exc:
        raise click.ClickException(f"Fetching failed: {exc}") from None
    click.echo(f"Fetched {len(document['accounts'])} account(s) and "
               f"{len(document['transactions'])} transaction(s).")


@ucw_cli.command("export")
@click.argument("user")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="file to write (default: stdout)")
@with_appcontext
def export_command(user: str, out: Path | None) -> None:
    """Write USER's kept data (every connection's last document) as JSON."""
    state = get_state()
    upstream, app_user_id = _resolve_user(state, user)
    documents = [stored_data(state, c["key"]) for c in user_connections(state, upstream)]
    body = json.dumps({"userId": upstream, "appUserId": app_user_id,
                       "connections": [d for d in documents if d]}, indent=2)
    if out is None:
        click.echo(body)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(body + "\n", encoding="utf-8")
        click.echo(f"Wrote {out}")


@ucw_cli.command("delete-connection")
@click.argument("user")
@click.argument("connection")
@with_appcontext
def delete_connection_command(user: str, connection: str) -> None:
    """Delete USER's CONNECTION at UCW and here (its data too)."""
    state = get_state()
    _owned(state, _resolve_user(state, user)[0], connection)
    try:
        if not delete_connection(state, connection):
            raise click.ClickException(f"{connection} was never confirmed: nothing to delete at UCW.")
    except UcwError as exc:
        raise click.ClickException(f"UCW refused to delete the connection: {exc}") from None
    click.echo(f"Deleted connection {connection}.")


@ucw_cli.command("delete-user")
@click.argument("user")
@with_appcontext
def delete_user_command(user: str) -> None:
    """Delete USER at UCW (each aggregator) with their connections, and their data here."""
    state = get_state()
    upstream, _ = _resolve_user(state, user)
    try:
        count = delete_user(state, upstream)
    except UcwError as exc:
        raise click.ClickException(f"UCW refused to delete the user: {exc}") from None
    click.echo(f"Deleted UCW user {upstream} and {count} connection(s).")
