"""``flask wink smile-id links create|list|show|disable``: manage Smile Links from the shell."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import with_appcontext

from ...state import get_state
from .errors import SmileIDError
from .results import NAME, parse_id_types

smile_id_cli = click.Group("smile-id", help="Smile ID: Smile Links (hosted verification links).")


@smile_id_cli.group("links")
def links() -> None:
    """Create, list, show and disable Smile Links."""


def _provider() -> Any:
    return get_state().provider_of(NAME)  # a one-line error saying how to enable it


def _call(fn, *args, **kwargs) -> Any:
    try:
        return fn(*args, **kwargs)
    except SmileIDError as exc:
        raise click.ClickException(f"Smile ID refused: {exc}") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@links.command("create")
@click.option("--name", required=True, help="the link's name")
@click.option("--single-use/--multi-use", default=False, show_default=True)
@click.option("--user-id", help="the Smile ID user id to track (single-use links)")
@click.option("--id-type", "id_types", multiple=True,
              help="COUNTRY:ID_TYPE:method (repeatable; default: WINK_SMILE_ID_ID_TYPES)")
@click.option("--callback-url", help="where results are posted (default: WINK_SMILE_ID_CALLBACK_URL)")
@click.option("--redirect-url", help="where the browser goes next (default: WINK_SMILE_ID_REDIRECT_URL)")
@click.option("--expires-at", help="ISO 8601 date-time (default: Smile ID's, 90 days)")
@click.option("--param", "params", multiple=True, help="partner_params entry KEY=VALUE (repeatable)")
@with_appcontext
def create(name, single_use, user_id, id_types, callback_url, redirect_url, expires_at, params) -> None:
    """Create a Smile Link and print its URL and ref_id."""
    provider = _provider()
    callback_url = callback_url or provider.callback_url
    if not callback_url:
        raise click.UsageError("Give --callback-url (or set WINK_SMILE_ID_CALLBACK_URL).")
    partner_params = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--param must be KEY=VALUE, not {item!r}.")
        partner_params[key] = value
    types = _call(parse_id_types, ",".join(id_types)) if id_types else provider.id_types
    created = _call(
        provider.client.create_link,
        name=name,
        company_name=provider.company_name,
        id_types=types,
        callback_url=callback_url,
        data_privacy_policy_url=provider.privacy_url,
        logo_url=provider.logo_url,
        is_single_use=single_use,
        user_id=user_id,
        partner_params=partner_params or None,
        redirect_url=redirect_url or provider.redirect_url,
        expires_at=expires_at,
    )
    click.echo(f"{created['ref_id']}  {created['link']}")


@links.command("list")
@click.option("--page", type=click.IntRange(min=1), help="one page only (default: every page)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@with_appcontext
def list_(page, as_json) -> None:
    """List links with their counters: jobs, successful, failed."""
    provider = _provider()
    if page is not None:
        answer = _call(provider.client.list_links, page)
        found, meta = answer.get("links") or [], answer.get("meta") or {}
    else:
        found, meta = _call(lambda: list(provider.client.iter_links())), None
    if as_json:
        click.echo(json.dumps({"links": found, **({"meta": meta} if meta else {})}, indent=2))
        return
    for link in found:
        use = "single" if link.get("is_single_use") else "multi"
        state = "disabled" if link.get("disabled_at") else "active"
        click.echo(
            f"{link.get('ref_id')}  {use:6}  {state:8}  jobs={link.get('total_jobs')} "
            f"ok={link.get('successful_jobs')} failed={link.get('failed_jobs')}  {link.get('name')}"
        )
    if meta:
        pages, total = meta.get("totalPages"), meta.get("totalCount")
        click.echo(f"page {meta.get('currentPage')} of {pages} ({total} links)")
    elif not found:
        click.echo("No links.")


@links.command("show")
@click.argument("ref_id")
@with_appcontext
def show(ref_id) -> None:
    """Print one link's fields and counters as JSON."""
    click.echo(json.dumps(_call(_provider().client.get_link, ref_id), indent=2))


@links.command("disable")
@click.argument("ref_id")
@with_appcontext
def disable(ref_id) -> None:
    """Disable a link: its page refuses everyone from now on."""
    answer = _call(_provider().client.disable_link, ref_id)
    click.echo(f"Disabled {answer.get('ref_id')} at {answer.get('disabled_at')}")
