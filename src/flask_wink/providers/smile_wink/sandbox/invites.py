"""Invitations and invite templates: Smile's ``/invites`` and ``/inviteTemplates``, an outbox, a landing page.

Sending an invite makes the invited person's Smile user, renders the invite template into a
message kept in the sandbox's outbox (``/outbox``, ``/outbox.json``: nothing is mailed), and emits
``INVITE_INVITED``. The message links to ``/invite/<token>``, a landing page that opens the widget
for that user; when one of the user's accounts connects, the invite becomes ``LINKED`` and
``INVITE_LINKED`` is emitted.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from typing import Any

from flask import Flask, Response, render_template_string, request, url_for

from .http import envelope, json_body, page
from .state import SandboxError, SandboxState, iso, now

#: The spec's ``InviteStatus``, in the order an invite moves through them (REVOKED aside).
INVITE_STATUSES = (
    "INVITED", "EMAIL_OPENED", "LANDING_PAGE_OPENED", "WINK_WIDGET_OPENED", "LINKED", "REVOKED"
)

#: ``InviteTemplatePostRequest`` / ``InviteTemplateUpdateRequest``: section -> field -> (kind, max length).
TEMPLATE_FIELDS: dict[str, dict[str, tuple[str, int]]] = {
    "company": {"name": ("str", 200), "logoUrl": ("str", 200)},
    "email": {
        "sendEmail": ("bool", 0),
        "senderName": ("str", 200),
        "replyAddress": ("email", 200),
        "subject": ("str", 200),
        "body": ("str", 5000),
    },
    "landingPage": {"header": ("str", 200), "description": ("str", 5000), "button": ("str", 200)},
    "successPage": {"header": ("str", 200), "description": ("str", 5000), "button": ("str", 200)},
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_VARIABLE = re.compile(r"\$\{(\w+)\}")


def render(text: str, variables: dict[str, str]) -> str:
    """Fill ``${name}`` placeholders from ``variables``; unknown ones stay as written."""
    return _VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def register(app: Flask, state: SandboxState) -> None:
    """Add the invitation endpoints, the outbox and the landing page to the sandbox app."""
    state.invites = {}
    state.invite_templates = {}
    state.invite_logs = []
    state.outbox = []

    # -- invite templates ------------------------------------------------------------------

    @app.post("/v1/inviteTemplates")
    def create_invite_template():
        fields = _template_fields(json_body())
        template = {"id": "tpl-" + uuid.uuid4().hex, **fields}
        with state.lock:
            state.invite_templates[template["id"]] = template
        return envelope(_copy(template), 201)

    @app.get("/v1/inviteTemplates")
    def list_invite_templates():
        with state.lock:
            items = [_copy(t) for t in state.invite_templates.values()]
        return envelope(page(items))

    @app.get("/v1/inviteTemplates/<template_id>")
    def get_invite_template(template_id: str):
        return envelope(_copy(_template(state, template_id)))

    @app.put("/v1/inviteTemplates/<template_id>")
    def update_invite_template(template_id: str):
        fields = _template_fields(json_body())
        with state.lock:
            template = _template(state, template_id)
            template.update(fields)
            return envelope(_copy(template))

    @app.delete("/v1/inviteTemplates/<template_id>")
    def delete_invite_template(template_id: str):
        with state.lock:
            _template(state, template_id)
            del state.invite_templates[template_id]
        return envelope()

    # -- invites -----------------------------------------------------------------------------

    @app.post("/v1/invites")
    def create_invite():
        body = _invite_fields(json_body())
        with state.lock:
            # The invite keeps the template as it was: editing or deleting it later changes no invite.
            template = _copy(_template(state, body["templateId"]))
        user, _token = state.create_user({})
        stamp = iso(now())
        invite = {
            "id": "inv-" + uuid.uuid4().hex,
            "createdAt": stamp,
            **body,
            "userId": user["id"],
            "status": "INVITED",
            "updatedAt": stamp,
            "invitedAt": stamp,
            "linkedAt": None,
            "_token": secrets.token_urlsafe(24),
            "_template": template,
        }
        message = None
        if template["email"]["sendEmail"]:
            variables = _variables(invite)
            message = {
                "id": "msg-" + uuid.uuid4().hex,
                "inviteId": invite["id"],
                "to": invite["email"],
                "fromName": render(template["email"]["senderName"], variables),
                "replyTo": template["email"]["replyAddress"],
                "subject": render(template["email"]["subject"], variables),
                "body": render(template["email"]["body"], variables),
                "sentAt": stamp,
                "_token": invite["_token"],
            }
        with state.lock:
            state.invites[invite["id"]] = invite
            if message is not None:
                state.outbox.append(message)
            _log(state, invite)
        state.emit("INVITE_INVITED", {"userId": invite["userId"], "inviteId": invite["id"]})
        return envelope(_public(invite), 201)

    @app.get("/v1/invites")
    def list_invites():
        with state.lock:
            items = [_public(i) for i in state.invites.values()]
        return envelope(page(items))

    @app.get("/v1/invites/<invite_id>")
    def get_invite(invite_id: str):
        with state.lock:
            return envelope(_public(_invite(state, invite_id)))

    @app.get("/v1/invites/<invite_id>/logs")
    def list_invite_logs(invite_id: str):
        with state.lock:
            _invite(state, invite_id)
            items = [dict(entry) for entry in state.invite_logs if entry["inviteId"] == invite_id]
        return envelope(page(items))

    # -- the outbox and the landing page (what the invited person sees) ----------------------

    @app.get("/outbox")
    def outbox_page():
        with state.lock:
            messages = [_message_view(m) for m in reversed(state.outbox)]
        response = Response(render_template_string(OUTBOX_HTML, messages=messages), mimetype="text/html")
        # The outbox shows invitation links with their tokens: never kept by a cache.
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/outbox.json")
    def outbox_json():
        with state.lock:
            messages = [_message_view(m, external=True) for m in reversed(state.outbox)]
        return Response(
            json.dumps({"messages": messages}),
            mimetype="application/json",
            headers={"Cache-Control": "no-store"},
        )

    @app.get("/invite/<token>")
    def landing_page(token: str):
        with state.lock:
            given = token.encode()
            invite = next(
                (i for i in state.invites.values() if secrets.compare_digest(i["_token"].encode(), given)),
                None,
            )
        if invite is None:
            return Response(
                render_template_string(GONE_HTML), status=404, mimetype="text/html"
            )
        with state.lock:
            user_id = invite["userId"] if invite["userId"] in state.users else None
        if user_id is None:  # not in this sandbox's memory any more: start the person over
            user, token_info = state.create_user({})
            with state.lock:
                invite["userId"] = user["id"]
        else:
            token_info = state.refresh_token(user_id)
        _advance(state, invite, "LANDING_PAGE_OPENED")
        template = invite["_template"]
        variables = _variables(invite)
        texts = {
            section: {k: render(v, variables) for k, v in template[section].items()}
            for section in ("landingPage", "successPage")
        }
        widget = {"userToken": token_info["accessToken"]}
        if invite.get("winkTemplateId"):
            widget["templateId"] = invite["winkTemplateId"]
        html = render_template_string(
            LANDING_HTML,
            company=template["company"],
            texts=texts,
            widget=widget,
            sdk_url=url_for("sdk_script", version=2, again=2),
            again_url=url_for("landing_page", token=token),
        )
        return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"})

    @app.after_request
    def note_widget_opened(response: Response) -> Response:
        # The widget spends the landing page's token on a session: the invite's widget is open.
        if request.path == "/widget/session" and response.status_code == 200:
            try:
                user_id = json.loads(response.get_data()).get("userId")
            except (ValueError, AttributeError):
                user_id = None
            invite = _invite_of_user(state, user_id)
            if invite is not None:
                _advance(state, invite, "WINK_WIDGET_OPENED")
        return response

    def on_event(event: dict[str, Any]) -> None:
        # Only ACCOUNT_CONNECTED is acted on, so the INVITE_LINKED emitted here never comes back.
        if event["type"] != "ACCOUNT_CONNECTED":
            return
        invite = _invite_of_user(state, event["data"].get("userId"))
        if invite is None or not _advance(state, invite, "LINKED"):
            return
        state.emit("INVITE_LINKED", {"userId": invite["userId"], "inviteId": invite["id"]})

    state.subscribe(on_event)


# -- helpers ---------------------------------------------------------------------------------


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _public(invite: dict[str, Any]) -> dict[str, Any]:
    """An invite in the shape of the spec's ``Invite`` schema."""
    view = {k: v for k, v in invite.items() if not k.startswith("_")}
    view["inviteLandingPageUrl"] = url_for("landing_page", token=invite["_token"], _external=True)
    return view


def _message_view(message: dict[str, Any], external: bool = False) -> dict[str, Any]:
    view = {k: v for k, v in message.items() if not k.startswith("_")}
    view["landingPageUrl"] = url_for("landing_page", token=message["_token"], _external=external)
    return view


def _variables(invite: dict[str, Any]) -> dict[str, str]:
    names = invite["fullName"].split()
    return {
        "companyName": invite["_template"]["company"]["name"],
        "fullName": invite["fullName"],
        "firstName": invite.get("firstName") or (names[0] if names else ""),
        "lastName": invite.get("lastName") or (names[-1] if len(names) > 1 else ""),
        "email": invite["email"],
    }


def _template(state: SandboxState, template_id: str) -> dict[str, Any]:
    template = state.invite_templates.get(template_id)
    if template is None:
        raise SandboxError(404, "MISSING_RESOURCE", f"Invite template {template_id} was not found.")
    return template


def _invite(state: SandboxState, invite_id: str) -> dict[str, Any]:
    invite = state.invites.get(invite_id)
    if invite is None:
        raise SandboxError(404, "MISSING_RESOURCE", f"Invite {invite_id} was not found.")
    return invite


def _invite_of_user(state: SandboxState, user_id: Any) -> dict[str, Any] | None:
    if not user_id:
        return None
    with state.lock:
        return next((i for i in state.invites.values() if i["userId"] == user_id), None)


def _log(state: SandboxState, invite: dict[str, Any]) -> None:
    state.invite_logs.append(
        {
            "id": "invl-" + uuid.uuid4().hex,
            "inviteId": invite["id"],
            "userId": invite["userId"],
            "inviteStatus": invite["status"],
            "createdAt": invite["updatedAt"],
        }
    )


def _advance(state: SandboxState, invite: dict[str, Any], status: str) -> bool:
    """Move the invite forward to ``status`` (never back); True when it moved."""
    with state.lock:
        if INVITE_STATUSES.index(status) <= INVITE_STATUSES.index(invite["status"]):
            return False
        stamp = iso(now())
        invite["status"], invite["updatedAt"] = status, stamp
        if status == "LINKED":
            invite["linkedAt"] = stamp
        _log(state, invite)
        return True


def _text(value: Any, label: str, high: int, problems: list[str]) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= high:
        problems.append(f"{label} (1-{high} characters)")


def _template_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The template's fields from a request body, or a 400 naming every missing or bad one."""
    problems: list[str] = []
    _text(body.get("name"), "name", 64, problems)
    fields: dict[str, Any] = {"name": body.get("name")}
    for section, spec in TEMPLATE_FIELDS.items():
        given = body.get(section)
        if not isinstance(given, dict):
            problems.append(f"{section} (an object with {', '.join(spec)})")
            continue
        fields[section] = {}
        for name, (kind, high) in spec.items():
            value, label = given.get(name), f"{section}.{name}"
            if kind == "bool":
                if not isinstance(value, bool):
                    problems.append(f"{label} (true or false)")
            else:
                _text(value, label, high, problems)
                if kind == "email" and isinstance(value, str) and not _EMAIL.match(value):
                    problems.append(f"{label} (an email address)")
            fields[section][name] = value
    if problems:
        raise SandboxError(400, "INVALID_PARAMETERS", "Missing or invalid: " + ", ".join(problems))
    return fields


def _invite_fields(body: dict[str, Any]) -> dict[str, Any]:
    """``InvitePostRequest``'s fields, or a 400 naming every missing or bad one."""
    problems: list[str] = []
    _text(body.get("fullName"), "fullName", 200, problems)
    _text(body.get("email"), "email", 200, problems)
    if isinstance(body.get("email"), str) and not _EMAIL.match(body["email"]):
        problems.append("email (an email address)")
    _text(body.get("templateId"), "templateId", 64, problems)
    fields = {k: body.get(k) for k in ("fullName", "email", "templateId")}
    for name, high in (("firstName", 64), ("lastName", 64), ("winkTemplateId", 64)):
        if body.get(name) is not None:
            _text(body[name], name, high, problems)
            fields[name] = body[name]
    if problems:
        raise SandboxError(400, "INVALID_PARAMETERS", "Missing or invalid: " + ", ".join(problems))
    return fields


# -- pages -------------------------------------------------------------------------------------

_STYLE = """
  <style>
    body { font-family: system-ui, sans-serif; margin: 0; color: #1d2433; background: #f6f7fb; }
    header { background: #1d2433; color: #fff; padding: 1rem 2rem; }
    main { padding: 1.5rem 2rem; max-width: 48rem; }
    article { background: #fff; border-radius: .6rem; padding: 1rem 1.25rem; margin: 0 0 1rem;
              box-shadow: 0 1px 3px #0001; }
    dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 .75rem; }
    dt { color: #6b7280; } dd { margin: 0; }
    .body { white-space: pre-wrap; }
    .button { display: inline-block; font: inherit; padding: .55rem 1.1rem; border-radius: .4rem; border: 0;
              background: #4453d6; color: #fff; cursor: pointer; text-decoration: none; }
    .muted { color: #6b7280; }
  </style>"""

OUTBOX_HTML = (
    """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sandbox outbox</title><link rel="icon" href="data:,">"""
    + _STYLE
    + """</head>
<body>
<header><h1>Sandbox outbox</h1><p>Invitations the sandbox would have emailed, newest first.</p></header>
<main>
{% for m in messages %}
  <article aria-label="Message to {{ m.to }}" data-invite-id="{{ m.inviteId }}">
    <h2>{{ m.subject }}</h2>
    <dl>
      <dt>To</dt><dd>{{ m.to }}</dd>
      <dt>From</dt><dd>{{ m.fromName }} (reply to {{ m.replyTo }})</dd>
      <dt>Sent</dt><dd>{{ m.sentAt }}</dd>
    </dl>
    <p class="body">{{ m.body }}</p>
    <p><a class="button" href="{{ m.landingPageUrl }}">Open invitation</a></p>
  </article>
{% else %}
  <p class="muted">No invitations have been sent yet.</p>
{% endfor %}
</main>
</body>
</html>"""
)

LANDING_HTML = (
    """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ company.name }}</title><link rel="icon" href="data:,">"""
    + _STYLE
    + """</head>
<body>
<header><h1>{{ company.name }}</h1></header>
<main>
  <article id="landing">
    <h2>{{ texts.landingPage.header }}</h2>
    <p>{{ texts.landingPage.description }}</p>
    <p><a class="button" href="{{ again_url }}">{{ texts.landingPage.button }}</a></p>
  </article>
  <article id="success" hidden>
    <h2>{{ texts.successPage.header }}</h2>
    <p>{{ texts.successPage.description }}</p>
    <p><a class="button" href="{{ again_url }}">{{ texts.successPage.button }}</a></p>
  </article>
</main>
<script src="{{ sdk_url }}"></script>
<script>
  (function () {
    var options = {{ widget|tojson }};
    options.onAccountConnected = function () {
      document.getElementById("landing").hidden = true;
      document.getElementById("success").hidden = false;
    };
    new SmileLinkModal(options).open();
  })();
</script>
</body>
</html>"""
)

GONE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Invitation not found</title></head>
<body><h1>Invitation not found</h1><p>This invitation link is not known to the sandbox.</p></body></html>"""
