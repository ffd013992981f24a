"""Invitations: send an invite, manage invite templates.

Smile emails the invited person a message made from an invite template; its texts may use
``${companyName}`` (the template's company) and ``${fullName}`` (the invited person). The
``INVITE_INVITED`` and ``INVITE_LINKED`` webhooks are stored like any other and also sent as the
:data:`~flask_wink.signals.invite_sent` and :data:`~flask_wink.signals.invite_linked` signals.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click
from flask import Flask, current_app, has_app_context
from flask.cli import with_appcontext

from ... import signals as core_signals
from ...provider import WEBHOOK
from ...state import WinkState, get_state
from ...store import StoredEvent
from . import signals
from .client import SmileClient
from .errors import SmileAPIError, SmileError
from .statuses import NAME

#: The config key naming the invite template :func:`send_invite` uses when none is given.
TEMPLATE_CONFIG_KEY = "WINK_INVITE_TEMPLATE_ID"

#: The texts a new template gets unless told otherwise (Smile fills in the ``${...}`` variables).
DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "email": {
        "subject": "${companyName} invites you to share your work data",
        "body": (
            "Hello ${fullName}, ${companyName} works with Smile API so you can share your employment "
            "and income data in a few seconds. Open the invitation to connect your work account."
        ),
    },
    "landingPage": {
        "header": "Share your employment and income data with ${companyName}",
        "description": "Connect your work account through Smile API. It takes no more than a minute.",
        "button": "START NOW",
    },
    "successPage": {
        "header": "Thank you for sharing your data with ${companyName}",
        "description": "The process was successful! We will be in touch.",
        "button": "Connect another account",
    },
}


#: Text fields of an invite template by their snake_case name -> (template section, field).
TEMPLATE_TEXT_FIELDS: dict[str, tuple[str, str]] = {
    "sender_name": ("email", "senderName"),
    "reply_address": ("email", "replyAddress"),
    "subject": ("email", "subject"),
    "body": ("email", "body"),
    "landing_header": ("landingPage", "header"),
    "landing_description": ("landingPage", "description"),
    "landing_button": ("landingPage", "button"),
    "success_header": ("successPage", "header"),
    "success_description": ("successPage", "description"),
    "success_button": ("successPage", "button"),
}


class InviteTemplateMissing(ValueError):
    """No invite template was named and none could be chosen."""


def _client(client: SmileClient | None) -> SmileClient:
    return client if client is not None else get_state().provider_of(NAME).client


def invite_template(
    name: str,
    company_name: str,
    logo_url: str,
    reply_address: str,
    *,
    sender_name: str | None = None,
    send_email: bool = True,
    **texts: Mapping[str, str],
) -> dict[str, Any]:
    """An ``InviteTemplatePostRequest`` body; ``texts`` (``email={...}``, ``landingPage={...}``) override."""
    template: dict[str, Any] = {
        "name": name,
        "company": {"name": company_name, "logoUrl": logo_url},
        "email": {
            "sendEmail": send_email,
            "senderName": sender_name or company_name,
            "replyAddress": reply_address,
            **DEFAULT_TEXTS["email"],
        },
        "landingPage": dict(DEFAULT_TEXTS["landingPage"]),
        "successPage": dict(DEFAULT_TEXTS["successPage"]),
    }
    for section, values in texts.items():
        if section not in ("email", "landingPage", "successPage"):
            raise TypeError(f"invite_template() has no section {section!r}.")
        template[section].update(values)
    return template


def create_invite_template(
    template: Mapping[str, Any], *, client: SmileClient | None = None
) -> dict[str, Any]:
    """Create an invite template at Smile (see :func:`invite_template`); the stored template."""
    return _client(client).create_invite_template(template)


def list_invite_templates(*, client: SmileClient | None = None) -> list[dict[str, Any]]:
    """Every invite template, following Smile's pages."""
    return list(_client(client).iterate("list_invite_templates"))


def update_invite_template(
    template_id: str, changes: Mapping[str, Any], *, client: SmileClient | None = None
) -> dict[str, Any]:
    """Change some fields of a template (``{"email": {"subject": ...}}``); Smile's PUT gets them all."""
    smile = _client(client)
    current = smile.get_invite_template(template_id)
    merged = {k: v for k, v in current.items() if k != "id"}
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return smile.update_invite_template(template_id, merged)


def delete_invite_template(template_id: str, *, client: SmileClient | None = None) -> None:
    """Delete an invite template at Smile (invites already sent are not affected)."""
    _client(client).delete_invite_template(template_id)


def list_invites(*, client: SmileClient | None = None) -> list[dict[str, Any]]:
    """Every invite sent, with its status, following Smile's pages."""
    return list(_client(client).iterate("list_invites"))


def send_invite(
    email: str,
    full_name: str,
    template_id: str | None = None,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    wink_template_id: str | None = None,
    client: SmileClient | None = None,
) -> dict[str, Any]:
    """Have Smile send an invite to ``email``; returns the ``Invite`` (``id``, ``status``...).

    Without ``template_id``: ``WINK_INVITE_TEMPLATE_ID`` (in an app context), else the only
    template there is. Given a ``client``, it needs no app context.
    """
    smile = _client(client)
    if not template_id and has_app_context():
        template_id = current_app.config.get(TEMPLATE_CONFIG_KEY)
    template_id = template_id or _only_template(smile)
    return smile.create_invite(
        email,
        full_name,
        template_id,
        first_name=first_name,
        last_name=last_name,
        wink_template_id=wink_template_id,
    )


def _only_template(client: SmileClient) -> str:
    templates = client.list_invite_templates(size=2).get("items") or []
    if len(templates) == 1:
        return templates[0]["id"]
    reason = "there is none yet" if not templates else "there are several"
    raise InviteTemplateMissing(
        f"Which invite template? {reason}: pass a template id (see `flask wink invites templates list`) "
        f"or set {TEMPLATE_CONFIG_KEY}."
    )


# -- webhooks -> signals ------------------------------------------------------------------------


def track_invites(app: Flask, state: WinkState, event: StoredEvent, errors: list[str]) -> None:
    """Send :data:`signals.invite_sent` / :data:`signals.invite_linked` for the invite webhooks."""
    if event.kind != WEBHOOK or event.name not in ("INVITE_INVITED", "INVITE_LINKED"):
        return
    data = event.payload.get("data") or {}
    signal = signals.invite_sent if event.name == "INVITE_INVITED" else signals.invite_linked
    core_signals.send(
        app, signal, errors, event=event, invite_id=data.get("inviteId"), smile_user_id=data.get("userId")
    )


# -- flask wink invites ... -----------------------------------------------------------------------

# CLI option -> (template section, field); the sections' other fields keep their values. The same
# fields as a form's, but for the reply address, whose option is --reply-to.
_TEXT_OPTIONS = {
    ("reply_to" if name == "reply_address" else name): place for name, place in TEMPLATE_TEXT_FIELDS.items()
}


def _smile_call(fn, *args: Any, **kwargs: Any) -> Any:
    """Run a call to Smile; its refusal becomes a one-line CLI error, not a traceback."""
    try:
        return fn(*args, **kwargs)
    except SmileAPIError as exc:
        code = f" ({exc.code})" if exc.code else ""
        raise click.ClickException(f"Smile refused: {exc.message}{code}") from None
    except SmileError as exc:
        raise click.ClickException(f"Could not reach Smile: {exc.message}") from None
    except InviteTemplateMissing as exc:
        raise click.ClickException(str(exc)) from None


def _text_options(*, required: tuple[str, ...] = ()):
    """The template's text options; those in ``required`` say so in their help (the command
    checks them itself, so that its error names the option and what it is for)."""

    def add(fn):
        for option in reversed(list(_TEXT_OPTIONS)):
            section, name = _TEXT_OPTIONS[option]
            flag = "--" + option.replace("_", "-")
            if option == "reply_to":
                hint = f"{section}.{name}: the address replies to the invite go to"
            else:
                hint = f"{section}.{name} (may use ${{companyName}}, ${{fullName}})"
            if option in required:
                hint = f"required: {hint}"
            fn = click.option(flag, option, help=hint)(fn)
        return fn

    return add


def _text_changes(options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    changes: dict[str, dict[str, Any]] = {}
    for option, (section, name) in _TEXT_OPTIONS.items():
        if options.get(option) is not None:
            changes.setdefault(section, {})[name] = options[option]
    return changes


def _echo_invite(invite: Mapping[str, Any]) -> None:
    click.echo(f"{invite['id']}\t{invite['status']}\t{invite['email']}\t{invite['fullName']}")


def _echo_template(template: Mapping[str, Any]) -> None:
    click.echo(f"{template['id']}\t{template['name']}\t{template['company']['name']}")


def register_cli(group: click.Group) -> None:
    """Add this part's ``flask wink invites ...`` commands to ``group``."""

    @group.group("invites")
    def invites() -> None:
        """Invite people to link their work accounts; manage invite templates."""

    @invites.command("send")
    @click.argument("email")
    @click.option("--name", "full_name", required=True, help="the person's full name")
    @click.option("--template", "template_id", help=f"invite template id (default: {TEMPLATE_CONFIG_KEY})")
    @click.option("--first-name")
    @click.option("--last-name")
    @click.option("--wink-template", "wink_template_id", help="Wink widget template id")
    @with_appcontext
    def send(email: str, full_name: str, template_id: str | None, first_name: str | None,
             last_name: str | None, wink_template_id: str | None) -> None:
        """Have Smile send an invitation to EMAIL."""
        invite = _smile_call(
            send_invite, email, full_name, template_id,
            first_name=first_name, last_name=last_name, wink_template_id=wink_template_id,
        )
        click.echo(f"Invited {invite['email']}: invite {invite['id']}, status {invite['status']}.")
        if invite.get("inviteLandingPageUrl"):
            click.echo(f"Landing page: {invite['inviteLandingPageUrl']}")

    @invites.command("list")
    @click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
    @with_appcontext
    def list_(as_json: bool) -> None:
        """List the invites sent: id, status, email, name."""
        found = _smile_call(list_invites)
        if not found and not as_json:
            click.echo("No invites.")
        for invite in found:
            click.echo(json.dumps(invite)) if as_json else _echo_invite(invite)

    @invites.group("templates")
    def templates() -> None:
        """Invite templates: the message, landing page and success page Smile shows."""

    @templates.command("list")
    @click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
    @with_appcontext
    def templates_list(as_json: bool) -> None:
        """List the invite templates: id, name, company."""
        found = _smile_call(list_invite_templates)
        if not found and not as_json:
            click.echo("No invite templates.")
        for template in found:
            click.echo(json.dumps(template)) if as_json else _echo_template(template)

    @templates.command("create")
    @click.option("--name", required=True, help="template name (1-64 characters)")
    @click.option("--company", required=True, help="company name, ${companyName} in the texts")
    @click.option("--logo-url", required=True, help="company logo URL")
    @click.option("--no-email", is_flag=True, help="do not email the invite (landing page only)")
    @_text_options(required=("reply_to",))
    @with_appcontext
    def templates_create(name: str, company: str, logo_url: str, no_email: bool, **texts: str | None) -> None:
        """Create an invite template; unset texts get sensible defaults."""
        changes = _text_changes(texts)
        email = changes.pop("email", {})
        reply_to = email.pop("replyAddress", None)
        if not reply_to:
            raise click.UsageError("--reply-to is required: the address replies to the invite go to.")
        template = invite_template(
            name, company, logo_url, reply_to,
            sender_name=email.pop("senderName", None), send_email=not no_email, email=email, **changes,
        )
        _echo_template(_smile_call(create_invite_template, template))

    @templates.command("update")
    @click.argument("template_id")
    @click.option("--name", help="template name (1-64 characters)")
    @click.option("--company", help="company name")
    @click.option("--logo-url", help="company logo URL")
    @click.option("--send-email/--no-email", default=None, help="email the invite or not")
    @_text_options()
    @with_appcontext
    def templates_update(template_id: str, name: str | None, company: str | None, logo_url: str | None,
                         send_email: bool | None, **texts: str | None) -> None:
        """Change the given fields of invite template TEMPLATE_ID."""
        changes: dict[str, Any] = _text_changes(texts)
        if name is not None:
            changes["name"] = name
        company_changes = {k: v for k, v in (("name", company), ("logoUrl", logo_url)) if v is not None}
        if company_changes:
            changes["company"] = company_changes
        if send_email is not None:
            changes.setdefault("email", {})["sendEmail"] = send_email
        if not changes:
            raise click.UsageError("Nothing to change: give at least one option (see --help).")
        _echo_template(_smile_call(update_invite_template, template_id, changes))

    @templates.command("delete")
    @click.argument("template_id")
    @with_appcontext
    def templates_delete(template_id: str) -> None:
        """Delete invite template TEMPLATE_ID."""
        _smile_call(delete_invite_template, template_id)
        click.echo(f"Deleted invite template {template_id}.")
