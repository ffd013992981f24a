"""Invitations: the sandbox's /invites and /inviteTemplates, outbox and landing page; kit, CLI, pages."""

from __future__ import annotations

import re

import httpx
import pytest

from conftest import WEBHOOK_SECRET, make_host_app
from flask_wink import get_state
from flask_wink.providers.smile_wink import SmileNotFound, smile_wink
from flask_wink.providers.smile_wink import signals as smile_signals
from flask_wink.providers.smile_wink.client import SmileClient
from flask_wink.providers.smile_wink.invites import (
    InviteTemplateMissing,
    invite_template,
    list_invites,
    send_invite,
    update_invite_template,
)
from flask_wink.testing import serve

# Copied from Smile's spec (smile-openapi-v1.yaml), so the tests need no file at run time.
INVITE_REQUIRED = ("id", "createdAt", "fullName", "email", "templateId", "userId", "status",
                   "updatedAt", "invitedAt", "linkedAt")
INVITE_STATUSES = ("INVITED", "EMAIL_OPENED", "LANDING_PAGE_OPENED", "WINK_WIDGET_OPENED", "LINKED",
                   "REVOKED")
TEMPLATE_REQUIRED = ("id", "name", "company", "email", "landingPage", "successPage")
TEMPLATE_SECTION_REQUIRED = {
    "company": ("name", "logoUrl"),
    "email": ("sendEmail", "senderName", "replyAddress", "subject", "body"),
    "landingPage": ("header", "description", "button"),
    "successPage": ("header", "description", "button"),
}
INVITE_LOG_REQUIRED = ("id", "inviteId", "userId", "inviteStatus", "createdAt")
INVITE_EVENT_REQUIRED = ("id", "version", "type", "createdAt", "data")
INVITE_EVENT_DATA_REQUIRED = ("userId", "inviteId")
DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

TEMPLATE = {
    "name": "Email Template v1",
    "company": {"name": "XYZ Bank", "logoUrl": "https://xyzbank.co/logo.png"},
    "email": {
        "sendEmail": True,
        "senderName": "XYZ Bank",
        "replyAddress": "replies@xyz.co",
        "subject": "${fullName}, connect your work account for ${companyName}",
        "body": "Hello ${fullName}! ${companyName} works with Smile API. ${unknown} stays.",
    },
    "landingPage": {"header": "Share your data with ${companyName}", "description": "Quick.",
                    "button": "START NOW"},
    "successPage": {"header": "Thank you, ${fullName}", "description": "Done.", "button": "Again"},
}


@pytest.fixture
def api(sandbox):
    """Raw HTTP to the sandbox's API with its Basic auth."""
    with httpx.Client(base_url=sandbox.api_host + "/", auth=(sandbox.api_key, sandbox.api_secret)) as http:
        yield http


def make_template(api, **changes) -> dict:
    response = api.post("inviteTemplates", json={**TEMPLATE, **changes})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def make_invite(api, template_id: str, **changes) -> dict:
    body = {"email": "ann@example.com", "fullName": "Ann Lee", "templateId": template_id, **changes}
    response = api.post("invites", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def assert_template_shape(template: dict) -> None:
    for key in TEMPLATE_REQUIRED:
        assert key in template, key
    assert isinstance(template["id"], str) and isinstance(template["name"], str)
    for section, keys in TEMPLATE_SECTION_REQUIRED.items():
        for key in keys:
            assert key in template[section], f"{section}.{key}"
    assert isinstance(template["email"]["sendEmail"], bool)


def assert_invite_shape(invite: dict) -> None:
    for key in INVITE_REQUIRED:
        assert key in invite, key
    for key in ("id", "fullName", "email", "templateId", "userId"):
        assert isinstance(invite[key], str), key
    assert invite["status"] in INVITE_STATUSES
    for key in ("createdAt", "updatedAt", "invitedAt"):
        assert DATE_TIME.match(invite[key]), key
    # linkedAt is required but has no value until the invite is linked: null until then.
    assert invite["linkedAt"] is None or DATE_TIME.match(invite["linkedAt"])
    assert isinstance(invite["inviteLandingPageUrl"], str)


def link_through_widget(sandbox, landing_url: str) -> str:
    """What the widget on the landing page does: session, Upwork login as George, code 1234."""
    page = httpx.get(landing_url)
    assert page.status_code == 200
    token = re.search(r'"userToken": "([^"]+)"', page.text).group(1)
    session = httpx.post(sandbox.url + "/widget/session", json={"token": token}).json()
    account = httpx.post(sandbox.url + "/widget/accounts", json={
        "sessionId": session["sessionId"], "providerId": "upwork", "username": "George", "password": "123456",
    }).json()["account"]
    connected = httpx.post(sandbox.url + f"/widget/accounts/{account['id']}/mfa",
                           json={"sessionId": session["sessionId"], "code": "1234"}).json()["account"]
    assert connected["connectionStatus"] == "CONNECTED"
    return session["userId"]


# -- sandbox: invite templates --------------------------------------------------------------------


def test_template_create_answers_201_with_the_spec_fields(api):
    response = api.post("inviteTemplates", json=TEMPLATE)
    assert response.status_code == 201
    body = response.json()
    assert (body["code"], body["message"]) == ("OK", "Success") and body["requestId"]
    assert_template_shape(body["data"])
    assert body["data"]["company"] == TEMPLATE["company"]


def test_templates_list_get_update_and_delete(api):
    first, second = make_template(api, name="one"), make_template(api, name="two")
    page = api.get("inviteTemplates", params={"size": 1}).json()["data"]
    assert [t["id"] for t in page["items"]] == [first["id"]]
    rest = api.get("inviteTemplates", params={"size": 1, "cursor": page["nextCursor"]}).json()["data"]
    assert [t["id"] for t in rest["items"]] == [second["id"]] and rest["nextCursor"] is None
    assert api.get(f"inviteTemplates/{first['id']}").json()["data"] == first

    changed = {**TEMPLATE, "name": "renamed", "email": {**TEMPLATE["email"], "subject": "New subject"}}
    updated = api.put(f"inviteTemplates/{first['id']}", json=changed)
    assert updated.status_code == 200
    assert_template_shape(updated.json()["data"])
    assert updated.json()["data"]["name"] == "renamed"
    assert api.get(f"inviteTemplates/{first['id']}").json()["data"]["email"]["subject"] == "New subject"

    deleted = api.delete(f"inviteTemplates/{first['id']}")
    assert (deleted.status_code, deleted.json()["code"]) == (200, "OK")
    gone = api.get(f"inviteTemplates/{first['id']}")
    assert (gone.status_code, gone.json()["code"]) == (404, "MISSING_RESOURCE")
    assert api.delete(f"inviteTemplates/{first['id']}").status_code == 404


def test_template_with_missing_fields_is_refused_naming_them(api):
    body = {**TEMPLATE, "email": {"sendEmail": "yes", "senderName": "", "replyAddress": "not-an-address"}}
    del body["successPage"]
    response = api.post("inviteTemplates", json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "INVALID_PARAMETERS" and error["requestId"]
    for name in ("email.sendEmail", "email.senderName", "email.replyAddress", "email.subject", "successPage"):
        assert name in error["message"]


def test_template_update_needs_every_field_like_the_spec(api):
    template = make_template(api)
    response = api.put(f"inviteTemplates/{template['id']}", json={"name": "only a name"})
    assert response.status_code == 400 and "company" in response.json()["message"]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]"])
def test_a_body_that_is_not_a_json_object_is_refused(api, body):
    for path in ("inviteTemplates", "invites"):
        response = api.post(path, content=body, headers={"Content-Type": "application/json"})
        assert (response.status_code, response.json()["code"]) == (400, "INVALID_PARAMETERS")


def test_the_api_needs_the_key_and_secret(sandbox):
    for path in ("invites", "inviteTemplates"):
        response = httpx.get(f"{sandbox.api_host}/{path}")
        assert (response.status_code, response.json()["code"]) == (401, "INVALID_CREDENTIALS")


# -- sandbox: invites -----------------------------------------------------------------------------


def test_invite_create_answers_201_with_the_spec_fields(api, sandbox):
    template = make_template(api)
    invite = make_invite(api, template["id"], firstName="Ann", winkTemplateId="wtpl-1")
    assert_invite_shape(invite)
    assert invite["status"] == "INVITED" and invite["linkedAt"] is None
    assert (invite["firstName"], invite["winkTemplateId"]) == ("Ann", "wtpl-1")
    assert "lastName" not in invite  # optional and not given
    assert invite["userId"] in sandbox.state.users  # the invited person's Smile user
    assert invite["inviteLandingPageUrl"].startswith(sandbox.url + "/invite/")


def test_invites_list_pages_and_get_finds_one(api):
    template = make_template(api)
    invites = [make_invite(api, template["id"], email=f"p{i}@example.com") for i in range(3)]
    first = api.get("invites", params={"size": 2}).json()["data"]
    second = api.get("invites", params={"size": 2, "cursor": first["nextCursor"]}).json()["data"]
    assert [i["id"] for i in first["items"] + second["items"]] == [i["id"] for i in invites]
    assert second["nextCursor"] is None
    for item in first["items"]:
        assert_invite_shape(item)
    assert api.get(f"invites/{invites[1]['id']}").json()["data"] == invites[1]
    missing = api.get("invites/inv-nope")
    assert (missing.status_code, missing.json()["code"]) == (404, "MISSING_RESOURCE")
    assert api.get("invites", params={"size": "lots"}).status_code == 400


def test_invite_without_required_fields_is_refused_naming_them(api):
    response = api.post("invites", json={"email": "no-at-sign", "firstName": ""})
    assert response.status_code == 400
    message = response.json()["message"]
    for name in ("fullName", "email", "templateId", "firstName"):
        assert name in message


def test_invite_with_an_unknown_template_is_refused(api):
    response = api.post("invites", json={"email": "a@b.co", "fullName": "A B", "templateId": "tpl-nope"})
    assert (response.status_code, response.json()["code"]) == (404, "MISSING_RESOURCE")
    assert "tpl-nope" in response.json()["message"]


def test_sending_renders_company_and_full_name_into_the_outbox(api, sandbox):
    template = make_template(api)
    invite = make_invite(api, template["id"], fullName="Ann Marie Lee")
    messages = httpx.get(sandbox.url + "/outbox.json").json()["messages"]
    assert len(messages) == 1
    message = messages[0]
    assert message["inviteId"] == invite["id"] and message["to"] == "ann@example.com"
    assert message["subject"] == "Ann Marie Lee, connect your work account for XYZ Bank"
    assert message["body"] == "Hello Ann Marie Lee! XYZ Bank works with Smile API. ${unknown} stays."
    assert message["landingPageUrl"] == invite["inviteLandingPageUrl"]

    html = httpx.get(sandbox.url + "/outbox").text
    assert "Hello Ann Marie Lee! XYZ Bank works with Smile API." in html
    link = re.search(r'href="([^"]+)">Open invitation</a>', html).group(1)
    assert invite["inviteLandingPageUrl"].endswith(link)


def test_outbox_escapes_what_the_template_and_invite_say(api, sandbox):
    template = make_template(api, company={"name": "<b>Bank</b>", "logoUrl": "https://x.co/l.png"})
    make_invite(api, template["id"], fullName="<script>alert(1)</script>")
    html = httpx.get(sandbox.url + "/outbox").text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_a_template_that_does_not_email_leaves_the_outbox_empty(api, sandbox):
    template = make_template(api, email={**TEMPLATE["email"], "sendEmail": False})
    make_invite(api, template["id"])
    assert httpx.get(sandbox.url + "/outbox.json").json()["messages"] == []
    assert "No invitations have been sent yet." in httpx.get(sandbox.url + "/outbox").text


def test_landing_page_opens_the_widget_for_the_invited_user(api, sandbox):
    template = make_template(api)
    invite = make_invite(api, template["id"], winkTemplateId="wtpl-7")
    page = httpx.get(invite["inviteLandingPageUrl"])
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Share your data with XYZ Bank" in page.text and "START NOW" in page.text
    assert '<script src="/v2/smile.v2.js"></script>' in page.text
    assert "new SmileLinkModal(options).open()" in page.text
    assert '"templateId": "wtpl-7"' in page.text
    token = re.search(r'"userToken": "([^"]+)"', page.text).group(1)
    session = httpx.post(sandbox.url + "/widget/session", json={"token": token}).json()
    assert session["userId"] == invite["userId"]  # reused, not a new user
    assert api.get(f"invites/{invite['id']}").json()["data"]["status"] == "WINK_WIDGET_OPENED"


def test_an_unknown_invitation_link_is_a_404_page(sandbox):
    response = httpx.get(sandbox.url + "/invite/not-a-token")
    assert response.status_code == 404 and "Invitation not found" in response.text
    assert httpx.get(sandbox.url + "/invite/%C3%A9t%C3%A9").status_code == 404


def test_connecting_an_account_links_the_invite_once(api, sandbox):
    template = make_template(api)
    invite = make_invite(api, template["id"])
    other = make_invite(api, template["id"], email="bob@example.com")
    assert link_through_widget(sandbox, invite["inviteLandingPageUrl"]) == invite["userId"]
    linked = api.get(f"invites/{invite['id']}").json()["data"]
    assert linked["status"] == "LINKED" and DATE_TIME.match(linked["linkedAt"])
    assert api.get(f"invites/{other['id']}").json()["data"]["status"] == "INVITED"

    link_through_widget(sandbox, invite["inviteLandingPageUrl"])  # a second account: still one event
    events = [e for e in sandbox.state.events if e["type"] == "INVITE_LINKED"]
    assert len(events) == 1
    for key in INVITE_EVENT_REQUIRED:
        assert key in events[0]
    assert events[0]["data"] == {"userId": invite["userId"], "inviteId": invite["id"]}
    types = [e["type"] for e in sandbox.state.events]
    assert types.index("INVITE_LINKED") > types.index("ACCOUNT_CONNECTED")

    logs = api.get(f"invites/{invite['id']}/logs").json()["data"]["items"]
    for entry in logs:
        for key in INVITE_LOG_REQUIRED:
            assert key in entry
    assert [e["inviteStatus"] for e in logs] == [
        "INVITED", "LANDING_PAGE_OPENED", "WINK_WIDGET_OPENED", "LINKED"
    ]


def test_a_connection_of_a_user_without_an_invite_emits_no_invite_event(sandbox):
    user, token = sandbox.state.create_user({})
    session = httpx.post(sandbox.url + "/widget/session", json={"token": token["accessToken"]}).json()
    httpx.post(sandbox.url + "/widget/accounts", json={
        "sessionId": session["sessionId"], "providerId": "sss", "username": "George", "password": "123456",
    })
    types = [e["type"] for e in sandbox.state.events]
    assert "ACCOUNT_CONNECTED" in types and "INVITE_LINKED" not in types


# -- webhooks reach the app that mounts the kit ---------------------------------------------------


@pytest.fixture
def served_host(sandbox, tmp_path):
    """A host app served on loopback, subscribed to every sandbox event."""
    app, _wink = make_host_app(sandbox, tmp_path)
    with serve(app) as served:
        sandbox.state.create_webhook({
            "name": "host", "url": served.url + "/wink/webhooks", "eventTypes": ["ALL_EVENTS"],
            "active": True, "secret": WEBHOOK_SECRET,
        })
        yield served


def test_invite_invited_and_linked_are_delivered_signed_and_signalled(api, sandbox, served_host):
    app = served_host.app
    seen: list[tuple[str, str, str]] = []

    def on_sent(sender, event, invite_id, smile_user_id):
        seen.append(("sent", invite_id, smile_user_id))

    def on_linked(sender, event, invite_id, smile_user_id):
        seen.append(("linked", invite_id, smile_user_id))

    smile_signals.invite_sent.connect(on_sent, app)
    smile_signals.invite_linked.connect(on_linked, app)
    try:
        template = make_template(api)
        invite = make_invite(api, template["id"])
        link_through_widget(sandbox, invite["inviteLandingPageUrl"])
        assert sandbox.state.dispatcher.wait_idle()
    finally:
        smile_signals.invite_sent.disconnect(on_sent, app)
        smile_signals.invite_linked.disconnect(on_linked, app)

    with app.app_context():
        stored = {e.name: e for e in get_state().store.list_events(kind="webhook", limit=100)}
    for name in ("INVITE_INVITED", "INVITE_LINKED"):
        event = stored[name].payload  # stored only after the signature was verified
        for key in INVITE_EVENT_REQUIRED:
            assert key in event
        for key in INVITE_EVENT_DATA_REQUIRED:
            assert isinstance(event["data"][key], str)
        assert event["data"] == {"userId": invite["userId"], "inviteId": invite["id"]}
    assert seen == [("sent", invite["id"], invite["userId"]), ("linked", invite["id"], invite["userId"])]
    refused = [d for d in sandbox.state.dispatcher.deliveries if not d.delivered]
    assert refused == []


# -- the client and the kit ------------------------------------------------------------------------


@pytest.fixture
def client(sandbox):
    with SmileClient(sandbox.api_host, sandbox.api_key, sandbox.api_secret) as smile:
        yield smile


def test_client_covers_templates_and_invites(client):
    template = client.create_invite_template(TEMPLATE)
    assert client.get_invite_template(template["id"]) == template
    assert [t["id"] for t in client.list_invite_templates()["items"]] == [template["id"]]
    updated = client.update_invite_template(template["id"], {**TEMPLATE, "name": "v2"})
    assert updated["name"] == "v2"
    invite = client.create_invite("ann@example.com", "Ann Lee", template["id"], last_name="Lee")
    assert invite["lastName"] == "Lee" and "firstName" not in invite
    assert client.get_invite(invite["id"]) == invite
    assert client.list_invites(size=5)["items"] == [invite]
    assert client.list_invite_logs(invite["id"])["items"][0]["inviteStatus"] == "INVITED"
    client.delete_invite_template(template["id"])
    with pytest.raises(SmileNotFound, match="was not found"):
        client.get_invite_template(template["id"])


def test_client_escapes_ids_into_one_path_segment(client):
    for bad in ("../invites", "a/b", "x?y", ".."):
        with pytest.raises(SmileNotFound):
            client.get_invite(bad)
        with pytest.raises(SmileNotFound):
            client.delete_invite_template(bad)


@pytest.fixture
def kit(sandbox, tmp_path):
    """A host app's context: the kit's functions use its client."""
    app, _wink = make_host_app(sandbox, tmp_path)
    with app.app_context():
        yield app


def test_send_invite_uses_the_only_template_when_none_is_named(kit):
    with pytest.raises(InviteTemplateMissing, match="none yet"):
        send_invite("ann@example.com", "Ann Lee")
    template = smile_wink(get_state()).client.create_invite_template(
        invite_template("Default", "XYZ Bank", "https://xyz.co/logo.png", "replies@xyz.co")
    )
    invite = send_invite("ann@example.com", "Ann Lee", first_name="Ann")
    assert invite["templateId"] == template["id"] and invite["firstName"] == "Ann"
    smile_wink(get_state()).client.create_invite_template(
        invite_template("Second", "XYZ Bank", "https://xyz.co/logo.png", "replies@xyz.co")
    )
    with pytest.raises(InviteTemplateMissing, match="several"):
        send_invite("bob@example.com", "Bob")
    kit.config["WINK_INVITE_TEMPLATE_ID"] = template["id"]
    assert send_invite("bob@example.com", "Bob")["templateId"] == template["id"]
    assert [i["email"] for i in list_invites()] == ["ann@example.com", "bob@example.com"]


def test_invite_template_defaults_use_the_variables(kit, sandbox):
    body = invite_template("Default", "XYZ Bank", "https://xyz.co/logo.png", "replies@xyz.co",
                           landingPage={"button": "GO"})
    assert body["email"]["senderName"] == "XYZ Bank" and body["landingPage"]["button"] == "GO"
    template = smile_wink(get_state()).client.create_invite_template(body)
    send_invite("ann@example.com", "Ann Lee", template["id"])
    message = httpx.get(sandbox.url + "/outbox.json").json()["messages"][0]
    assert "Ann Lee" in message["body"] and "XYZ Bank" in message["body"] and "${" not in message["body"]
    with pytest.raises(TypeError, match="no section"):
        invite_template("x", "y", "z", "w", company={"name": "n"})


def test_update_invite_template_changes_only_what_is_given(kit):
    template = smile_wink(get_state()).client.create_invite_template(TEMPLATE)
    updated = update_invite_template(template["id"], {"name": "v2", "email": {"subject": "New"}})
    assert updated["name"] == "v2" and updated["email"]["subject"] == "New"
    assert updated["email"]["body"] == TEMPLATE["email"]["body"]
    assert updated["landingPage"] == TEMPLATE["landingPage"]


# -- flask wink invites ... ------------------------------------------------------------------------


def run(app, *args):
    return app.test_cli_runner().invoke(args=["wink", "invites", *args])


def test_cli_manages_templates_and_sends_invites(kit, sandbox):
    created = run(kit, "templates", "create", "--name", "CLI", "--company", "XYZ Bank",
                  "--logo-url", "https://xyz.co/logo.png", "--reply-to", "replies@xyz.co",
                  "--subject", "Hi ${fullName}")
    assert created.exit_code == 0, created.output
    template_id = created.output.split("\t")[0]
    listed = run(kit, "templates", "list")
    assert listed.output.startswith(f"{template_id}\tCLI\tXYZ Bank")
    updated = run(kit, "templates", "update", template_id, "--name", "Renamed", "--landing-button", "GO")
    assert updated.exit_code == 0 and "Renamed" in updated.output
    stored = smile_wink(get_state()).client.get_invite_template(template_id)
    assert (stored["landingPage"]["button"], stored["email"]["subject"]) == ("GO", "Hi ${fullName}")

    sent = run(kit, "send", "ann@example.com", "--name", "Ann Lee")
    assert sent.exit_code == 0, sent.output
    assert "status INVITED" in sent.output and f"{sandbox.url}/invite/" in sent.output
    listed = run(kit, "list")
    assert "\tINVITED\tann@example.com\tAnn Lee" in listed.output
    assert '"fullName": "Ann Lee"' in run(kit, "list", "--json").output

    deleted = run(kit, "templates", "delete", template_id)
    assert deleted.exit_code == 0 and run(kit, "templates", "list").output == "No invite templates.\n"
    assert run(kit, "templates", "list", "--json").output == ""  # JSON lines: none


def test_cli_says_when_there_is_nothing_to_list_and_which_options_are_required(kit):
    assert run(kit, "templates", "list").output == "No invite templates.\n"
    assert run(kit, "list").output == "No invites.\n"
    create_help = run(kit, "templates", "create", "--help").output
    assert "required: email.replyAddress" in " ".join(create_help.split())
    update_help = run(kit, "templates", "update", "--help").output
    assert "replyAddress" in update_help and "required" not in update_help


def test_cli_errors_are_smiles_message_not_a_traceback(kit):
    for args, expected in [
        (("send", "ann@example.com", "--name", "Ann", "--template", "tpl-nope"),
         "Smile refused: Invite template tpl-nope was not found. (MISSING_RESOURCE)"),
        (("send", "not-an-email", "--name", "Ann", "--template", "tpl-x"), "email (an email address)"),
        (("send", "ann@example.com", "--name", "Ann"), "none yet"),
        (("templates", "delete", "tpl-nope"), "Invite template tpl-nope was not found."),
        (("templates", "update", "tpl-nope", "--name", "x"), "was not found"),
        (("templates", "update", "tpl-nope"), "Nothing to change"),
        (("templates", "create", "--name", "x", "--company", "y", "--logo-url", "z"), "--reply-to"),
    ]:
        result = run(kit, *args)
        assert result.exit_code != 0, args
        assert expected in result.output, (args, result.output)
        assert "Traceback" not in result.output and not isinstance(result.exception, KeyError)


def test_cli_says_when_smile_cannot_be_reached(sandbox, tmp_path):
    from conftest import free_port_url

    app, _wink = make_host_app(sandbox, tmp_path, WINK_API_HOST=free_port_url() + "/v1")
    result = run(app, "list")
    assert result.exit_code == 1 and "Could not reach Smile" in result.output


# -- the quickstart's /invites page ----------------------------------------------------------------


@pytest.fixture
def quickstart(quickstart_app):
    """The quickstart in sandbox mode, served (its kit reaches the sandbox over HTTP)."""
    with quickstart_app.served() as served:
        yield served


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def field_errors(html: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for field, message in re.findall(r'<p class="error" id="([\w-]+)-error">([^<]+)</p>', html):
        found.setdefault(field, []).append(message.replace("&#39;", "'"))
    return found


TEMPLATE_FORM = {
    "name": "Quickstart", "company_name": "XYZ Bank", "logo_url": "https://xyz.co/logo.png",
    "send_email": "y",
    "sender_name": "XYZ Bank", "reply_address": "replies@xyz.co", "subject": "Hi ${fullName}",
    "body": "Hello ${fullName}, ${companyName} invites you.", "landing_header": "Share with ${companyName}",
    "landing_description": "Quick.", "landing_button": "START NOW", "success_header": "Thanks",
    "success_description": "Done.", "success_button": "Again",
}


@pytest.fixture
def browser_session(quickstart):
    """An HTTP session holding the quickstart's cookie, and the page's CSRF token."""
    with httpx.Client(base_url=quickstart.url, follow_redirects=True) as http:
        page = http.get("/invites")
        assert page.status_code == 200
        http.csrf = csrf_token(page.text)
        yield http


def test_invites_page_is_linked_from_the_dashboard_and_the_outbox(quickstart, browser_session):
    assert 'href="/invites">Invitations</a>' in browser_session.get("/").text
    page = browser_session.get("/invites").text
    assert 'href="/sandbox/outbox">Sandbox outbox</a>' in page
    assert "Create an invite template first" in page


def test_template_form_shows_each_error_next_to_its_field(browser_session):
    response = browser_session.post("/invites/templates", data={
        "csrf_token": browser_session.csrf, **TEMPLATE_FORM,
        "name": "", "logo_url": "not a url", "reply_address": "nobody", "body": "x" * 5001,
    })
    assert response.status_code == 400
    errors = field_errors(response.text)
    assert errors == {
        "name": ["Enter a template name."],
        "logo_url": ["Enter a URL like https://..."],
        "reply_address": ["Enter an email address like name@example.com."],
        "body": ["Field cannot be longer than 5000 characters."],
    }
    field = re.search(r'<input [^>]*id="reply_address"[^>]*>', response.text).group(0)
    assert 'value="nobody"' in field and 'aria-invalid="true"' in field


def test_forms_without_the_csrf_token_are_refused(browser_session, quickstart):
    created = browser_session.post("/invites/templates", data=TEMPLATE_FORM)
    assert created.status_code == 400 and "The CSRF token is missing." in created.text
    forged = browser_session.post("/invites/templates", data={**TEMPLATE_FORM, "csrf_token": "forged"})
    assert forged.status_code == 400 and "The CSRF token is invalid." in forged.text
    with httpx.Client(base_url=quickstart.url) as stranger:  # another browser's token does not count
        assert stranger.post("/invites/templates", data={**TEMPLATE_FORM, "csrf_token": browser_session.csrf}
                             ).status_code == 400
    assert "No invite templates yet." in browser_session.get("/invites").text
    sent = browser_session.post("/invites/send",
                                data={"email": "a@b.co", "full_name": "A", "template_id": "x"})
    assert sent.status_code == 400 and "The CSRF token is missing." in sent.text


def test_templates_are_created_edited_and_deleted_from_the_page(browser_session):
    created = browser_session.post("/invites/templates", data={"csrf_token": browser_session.csrf,
                                                                **TEMPLATE_FORM})
    assert created.status_code == 200 and "Created invite template Quickstart" in created.text
    template_id = re.search(r'data-template-id="([^"]+)"', created.text).group(1)

    edit = browser_session.get(f"/invites/templates/{template_id}/edit")
    assert edit.status_code == 200 and 'value="Quickstart"' in edit.text
    invalid = browser_session.post(f"/invites/templates/{template_id}/edit",
                                   data={"csrf_token": browser_session.csrf, **TEMPLATE_FORM, "subject": ""})
    assert invalid.status_code == 400 and field_errors(invalid.text) == {"subject": ["Enter a subject."]}
    saved = browser_session.post(f"/invites/templates/{template_id}/edit",
                                 data={"csrf_token": browser_session.csrf, **TEMPLATE_FORM,
                                       "name": "Renamed"})
    assert saved.status_code == 200 and "Saved invite template Renamed." in saved.text
    assert "<td>Renamed</td>" in saved.text

    refused = browser_session.post(f"/invites/templates/{template_id}/delete")
    assert refused.status_code == 400 and "Renamed" in refused.text
    deleted = browser_session.post(f"/invites/templates/{template_id}/delete",
                                   data={"csrf_token": browser_session.csrf})
    assert deleted.status_code == 200 and "No invite templates yet." in deleted.text
    missing = browser_session.get(f"/invites/templates/{template_id}/edit")
    assert missing.status_code == 404 and "was not found" in missing.text


def test_send_form_validates_then_sends_and_lists_the_invite(browser_session):
    browser_session.post("/invites/templates", data={"csrf_token": browser_session.csrf, **TEMPLATE_FORM})
    template_id = re.search(r'data-template-id="([^"]+)"', browser_session.get("/invites").text).group(1)
    invalid = browser_session.post("/invites/send", data={
        "csrf_token": browser_session.csrf, "email": "ann", "full_name": " ", "template_id": "tpl-other",
    })
    assert invalid.status_code == 400
    assert field_errors(invalid.text) == {
        "email": ["Enter an email address like name@example.com."],
        "full_name": ["Enter the person's full name."],
        "template_id": ["Not a valid choice."],
    }
    sent = browser_session.post("/invites/send", data={
        "csrf_token": browser_session.csrf, "email": "ann@example.com", "full_name": "Ann Lee",
        "template_id": template_id,
    })
    assert sent.status_code == 200 and "Invited ann@example.com" in sent.text
    row = re.search(r'<tr data-invite-id="[^"]+">(.*?)</tr>', sent.text, re.S).group(1)
    assert "ann@example.com" in row and "Ann Lee" in row and "INVITED" in row
    outbox = browser_session.get("/sandbox/outbox").text
    assert "Hello Ann Lee, XYZ Bank invites you." in outbox
    landing = browser_session.get(re.search(r'href="([^"]+)">Open invitation', outbox).group(1))
    assert landing.status_code == 200 and '<script src="/sandbox/v2/smile.v2.js"></script>' in landing.text


def test_send_invite_with_a_client_needs_no_app_context(client):
    template = client.create_invite_template(
        invite_template("Default", "XYZ Bank", "https://xyz.co/logo.png", "replies@xyz.co")
    )
    invite = send_invite("ann@example.com", "Ann Lee", client=client)
    assert invite["templateId"] == template["id"] and invite["email"] == "ann@example.com"
