"""``flask wink ...``: commands for the app that mounts the kit."""

from __future__ import annotations

import json
import secrets
import signal
import threading
from importlib.resources import files
from pathlib import Path

import click
from flask import current_app
from flask.cli import ScriptInfo, with_appcontext

from .jsonshape import event_json
from .pipeline import run_worker, take_over_lapsed
from .provider import CALLBACK, WEBHOOK, member, url_segment
from .state import WinkState, get_state
from .store import EVENT_STATES, WrongEncryptionKey
from .store.encryption import generate_key
from .store.values import StoredEvent, iso
from .summaries import summarize_event


class ProviderCommands(click.Group):
    """``flask wink``: the core's commands, then a group per enabled provider (``flask wink
    smile-wink ...``); the default provider's commands also answer without its name."""

    def _provider_groups(self, ctx: click.Context) -> tuple[dict[str, click.Command], click.Group | None]:
        info = ctx.find_object(ScriptInfo)
        if info is None:
            return {}, None
        try:
            state = get_state(info.load_app())
        except Exception:  # no app, or no kit on it: only the core's commands
            return {}, None
        groups: dict[str, click.Command] = {}
        default = None
        for name, provider in state.providers.items():
            group = member(provider, "cli_group")()
            if group is not None:
                groups[url_segment(name)] = group
                if name == state.default_provider:
                    default = group
        return groups, default

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except WrongEncryptionKey as exc:
            # A stored value no key opens: the one line that says the fix, not a traceback.
            raise click.ClickException(str(exc.description)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        groups, default = self._provider_groups(ctx)
        names = set(super().list_commands(ctx)) | set(groups)
        if isinstance(default, click.Group):
            names |= set(default.list_commands(ctx))
        return sorted(names)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        found = super().get_command(ctx, name)
        if found is not None:
            return found
        groups, default = self._provider_groups(ctx)
        if name in groups:
            return groups[name]
        if isinstance(default, click.Group):
            return default.get_command(ctx, name)
        return None


@click.group("wink", cls=ProviderCommands, help="flask-wink: account linking for Flask.")
def wink_cli() -> None:
    pass


#: The starter app's files (in the package's ``starter/``) and the name each is written under.
STARTER_FILES = {
    "myapp.py": "myapp.py",
    "test_myapp.py": "test_myapp.py",
    "README.md": "README.md",
    "dotenv": ".env",
    "gitignore": ".gitignore",
    "templates/base.html": "templates/base.html",
    "templates/login.html": "templates/login.html",
    "templates/home.html": "templates/home.html",
    "templates/links.html": "templates/links.html",
}


@wink_cli.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Write a small app that uses the kit into DIRECTORY: a stand-in sign-in, a button for each
    provider, a page of the user's links, a .env for the offline emulators and a passing test."""
    if directory.exists() and any(directory.iterdir()):
        raise click.ClickException(f"{directory} is not empty: name a new or empty directory.")
    starter = files("flask_wink") / "starter"
    for source, target in STARTER_FILES.items():
        text = (starter / source).read_text("utf-8")
        if target == ".env":
            text = text.replace("{secret_key}", secrets.token_hex(32))
            text = text.replace("{encryption_key}", generate_key())
        path = directory / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    click.echo(f"Wrote a flask-wink app to {directory}: see {directory / 'README.md'} to start it.")


@wink_cli.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create the kit's tables (they are also created on first use)."""
    state = get_state()
    state.store.init()
    click.echo(f"Tables ready in {state.store.engine.url.render_as_string(hide_password=True)}")


@wink_cli.group("events", invoke_without_command=True)
@click.option("--provider", help="only this provider's events")
@click.option("--kind", type=click.Choice([CALLBACK, WEBHOOK]))
@click.option("--state", "state_", type=click.Choice(EVENT_STATES), help="only events in this state")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--oneline", is_flag=True, help="one line per event, saying what it means, instead of JSON")
@click.pass_context
@with_appcontext
def events(
    ctx: click.Context, provider: str | None, kind: str | None, state_: str | None, limit: int, oneline: bool
) -> None:
    """Print the newest recorded events as JSON lines, with their handling state."""
    if ctx.invoked_subcommand is not None:
        return
    state = get_state()
    name = state.provider(provider).name if provider else None
    for event in state.store.list_events(provider=name, kind=kind, state=state_, limit=limit):
        click.echo(_one_line(state, event) if oneline else json.dumps(event_json(event)))


def _one_line(state: WinkState, event: StoredEvent) -> str:
    """``42  2026-01-05T10:00:00Z  smile_wink  handled  <what it means>``: the summary its provider
    gives (see :func:`flask_wink.summaries.summarize_event`), with its account's status now."""
    found = state.providers.get(event.provider)
    payload = event.payload if event.payload_error is None else {}
    status = None
    update = found.status_update(event.kind, event.name, payload) if found is not None else None
    if update is not None:
        account = state.store.account(event.provider, update.account_id)
        status = account.status if account else None
    summary = summarize_event(found, event.kind, event.name, payload, status=status)
    return f"{event.id}  {iso(event.received_at)}  {event.provider}  {event.state}  {summary.text}"


@events.command("retry")
@click.option("--id", "ids", type=int, multiple=True,
              help="only these failed or dead event ids (repeatable)")
@click.option("--lease", type=float, default=None,
              help="seconds after which an event claimed by a dead process is taken over "
                   "(default WINK_CLAIM_LEASE)")
@with_appcontext
def retry(ids: tuple[int, ...], lease: float | None) -> None:
    """Run the handlers of failed and dead events again, now, in this process, and take over
    events whose claim lapsed (their process died while handling them) or whose retry is due."""
    state = get_state()
    app = current_app._get_current_object()
    unknown = [id_ for id_ in dict.fromkeys(ids) if state.store.get_event(id_) is None]
    if unknown:
        raise click.ClickException(
            f"No event has the id {', '.join(map(str, unknown))}: `flask wink events` lists the ids."
        )
    count = state.store.retry_failed(ids or None)
    handled = run_worker(app, once=True) if count else 0
    taken = 0 if ids else take_over_lapsed(app, state, lease=lease)
    failed = state.store.count_events(state="failed")
    dead = state.store.count_events(state="dead")
    click.echo(
        f"Retried {count} failed event(s); handled {handled}; took over {taken} stranded "
        f"event(s); {failed} still failed." + (f" {dead} dead (their attempts ran out)." if dead else "")
    )


@wink_cli.command("worker")
@click.option("--batch", type=int, default=50, show_default=True, help="events claimed at a time")
@click.option("--poll", type=float, default=0.5, show_default=True, help="seconds between empty polls")
@click.option("--lease", type=float, default=None,
              help="seconds after which an event claimed by a dead process is taken over "
                   "(default WINK_CLAIM_LEASE)")
@click.option("--once", is_flag=True, help="stop when no event is pending")
@with_appcontext
def worker(batch: int, poll: float, lease: float | None, once: bool) -> None:
    """Handle stored events (for WINK_HANDLE_EVENTS = "worker"); run as many as you like."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    app = current_app._get_current_object()
    click.echo("flask-wink worker started; Ctrl+C stops it.")
    handled = run_worker(app, once=once, batch=batch, poll=poll, lease=lease, stop=stop)
    click.echo(f"Handled {handled} event(s).")


@wink_cli.group("users")
def users_group() -> None:
    """The app's users as the kit keeps them: erase one (GDPR's right to erasure)."""


@users_group.command("erase")
@click.argument("app_user_id")
@click.option("--upstream", is_flag=True,
              help="first ask each upstream to delete what it holds of the user, and record its answer")
@click.option("--by", "by", metavar="NAME",
              help="who asks for it, for the audit line (default: your OS user)")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@with_appcontext
def erase_command(app_user_id: str, upstream: bool, by: str | None, as_json: bool) -> None:
    """Delete every row the kit keeps for APP_USER_ID, in every enabled provider, in one
    transaction; leave an audit line and a tombstone per upstream user (a later webhook naming
    one is acknowledged and dropped)."""
    from .erasure import erase_user

    app = current_app._get_current_object()
    try:
        erasure = erase_user(app, app_user_id, upstream, by=by)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="APP_USER_ID") from None
    if as_json:
        click.echo(json.dumps(erasure.as_json()))
        return
    click.echo(f"Erased app user {app_user_id}: {erasure.total} row(s) deleted "
               f"(audit line {erasure.audit_id}).")
    width = max(len(table) for table in erasure.counts)
    for table, count in erasure.counts.items():
        click.echo(f"  {table.ljust(width)}  {count}")
    click.echo(f"Tombstones: {erasure.tombstones} upstream user(s); a webhook naming one is "
               "acknowledged and dropped.")
    for name, answer in (erasure.upstream or {}).items():
        click.echo(f"{url_segment(name)}: {answer.answer}")
    if any(not answer.ok for answer in (erasure.upstream or {}).values()):
        raise click.ClickException(
            "An upstream could not be asked: erase again with --upstream to ask again."
        )


@users_group.command("erasures")
@click.option("--limit", type=int, default=20, show_default=True)
@with_appcontext
def erasures_command(limit: int) -> None:
    """Print the newest erasures' audit lines as JSON lines (no personal data in them)."""
    from .erasure import list_erasures

    for line in list_erasures(get_state(), limit=limit):
        click.echo(json.dumps(line))


def resolve_user(state: WinkState, provider: str, user: str, upstream: str) -> tuple[str, str | None]:
    """(upstream user id, app user id) of ``provider`` for an app user id or an upstream user id
    this app made; otherwise a one-line error naming both kinds (``upstream``: "Smile", "UCW")."""
    upstream_user_id = state.store.upstream_user_id(provider, user)
    if upstream_user_id:
        return upstream_user_id, user
    app_user_id = state.store.app_user_id(provider, user)
    if app_user_id is not None:
        return user, app_user_id
    raise click.ClickException(
        f"Unknown user {user!r}: give an app user id or a {upstream} user id this app made."
    )


class TriggerCommand(click.Command):
    """``flask wink trigger``: its help ends with what each enabled provider can send, or why
    it has nothing (an upstream whose events reach the app only through the user's browser)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        from .triggers import none_reason, test_events

        info = ctx.find_object(ScriptInfo)
        try:
            providers = get_state(info.load_app()).providers.values() if info else ()
        except Exception:  # no app, or no kit on it: the help without the list
            return
        lines = []
        for provider in providers:
            events = test_events(provider)
            summary = f"{len(events)} events (--list names them)." if events else none_reason(provider)
            lines.append(f"{url_segment(provider.name)}: {summary}")
        if lines:
            formatter.write_paragraph()
            formatter.write_text("This app's providers:")
            with formatter.indentation():
                for line in lines:
                    formatter.write_text(line)


@wink_cli.command("trigger", cls=TriggerCommand)
@click.argument("event", required=False)
@click.option("--to", "to", metavar="URL",
              help="where to post it (default: this app's own URL for it, built on WINK_PUBLIC_URL "
                   "or SERVER_NAME)")
@click.option("--user", metavar="USER",
              help="the user the message names: an app user id (mapped through this app's store) "
                   "or the upstream's own user id (default: a new one)")
@click.option("--provider", metavar="NAME", help="the provider whose event it is, when several have it")
@click.option("--list", "list_", is_flag=True, help="list the events each enabled provider can send")
@with_appcontext
def trigger(event: str | None, to: str | None, user: str | None, provider: str | None, list_: bool) -> None:
    """Send EVENT, a correctly signed upstream message made up on the spot, to an app (this one
    unless --to says another), and print what was sent and the app's answer: a way to run your
    handlers without clicking through a widget. It is signed with this app's own secrets for that
    provider. Exits 1 when the app refuses it or cannot be reached. An upstream that sends no
    server-to-server messages (its widget reports through the user's browser only) has nothing to
    trigger: the list below says which.
    """
    from . import triggers

    state = get_state()
    if list_:
        for found in state.providers.values():
            events = triggers.test_events(found)
            if not events:
                click.echo(f"{url_segment(found.name)}: none. {triggers.none_reason(found)}")
                continue
            click.echo(f"{url_segment(found.name)}:")
            width = max(len(e.name) for e in events)
            for item in events:
                click.echo(f"  {item.name.ljust(width)}  {item.summary}")
        return
    if not event:
        raise click.UsageError("Name the event to send (flask wink trigger --list lists them).")
    try:
        chosen, test_event = triggers.find_event(state, event, _provider_name(state, provider))
        upstream_user_id = triggers.upstream_user(state, chosen, user)
        refused = None
        for sent in triggers.send(chosen, test_event, upstream_user_id=upstream_user_id, to=to):
            shown = triggers.describe(sent)
            click.echo(f"Sent {test_event.name} ({chosen.title}) to {shown['url']}")
            if shown["note"]:
                click.echo(f"  {shown['note']}")
            for key, value in shown["headers"].items():
                click.echo(f"  {key}: {value}")
            click.echo(f"  {shown['body']}")
            if sent.status is None:
                click.echo(f"No answer: {shown['answer']}")
            else:
                click.echo(f"The app answered HTTP {sent.status}: {shown['answer'].strip()}")
            refused = None if sent.accepted else sent
    except triggers.TriggerError as exc:
        raise click.ClickException(str(exc)) from None
    if refused is not None:
        raise click.ClickException("The app could not be reached." if refused.status is None
                                   else "The app refused the event.")


def _provider_name(state: WinkState, given: str | None) -> str | None:
    """An enabled provider's name from what ``--provider`` says (``smile-id`` or ``smile_id``)."""
    if not given:
        return None
    name = given.replace("-", "_")
    if name not in state.providers:
        enabled = ", ".join(name.replace("_", "-") for name in state.providers)
        raise click.BadParameter(f"{given!r} is not an enabled provider ({enabled}).",
                                 param_hint="--provider")
    return name


@wink_cli.group("keys")
def keys() -> None:
    """The keys personal data is encrypted under at rest (WINK_ENCRYPTION_KEYS)."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new key for WINK_ENCRYPTION_KEYS (put it first in the list to encrypt under it)."""
    click.echo(generate_key())


@keys.command("rotate")
@click.option("--batch", type=click.IntRange(1, 10_000), default=500, show_default=True,
              help="rows per transaction")
@click.option("--vacuum", is_flag=True,
              help="then rewrite the tables so no old copy of a value stays on disk (writes wait meanwhile)")
@with_appcontext
def keys_rotate(batch: int, vacuum: bool) -> None:
    """Re-encrypt everything stored under the first key of WINK_ENCRYPTION_KEYS (values stored in
    clear before keys were set too), a batch of rows at a time, while the app serves; then the
    other keys may be dropped from the list."""
    store = get_state().store

    def done(table: str, resealed: int, current: int) -> None:
        click.echo(f"{table}: {resealed} re-encrypted, {current} already under the first key")

    try:
        counts = store.rotate_keys(batch=batch, progress=done)
    except (RuntimeError, WrongEncryptionKey) as exc:
        raise click.ClickException(_message(exc)) from None
    total = sum(resealed for resealed, _ in counts.values())
    click.echo(f"{total} rows re-encrypted under the first key of WINK_ENCRYPTION_KEYS.")
    if vacuum:
        store.reclaim(counts)
        click.echo("Old copies of the rewritten values are gone from the database's free space.")
    elif total:
        click.echo("Old copies of the rewritten values may stay in the database's free space until it "
                   "is vacuumed: run this again with --vacuum at a quiet moment.")


def _message(exc: Exception) -> str:
    return getattr(exc, "description", None) or str(exc)
