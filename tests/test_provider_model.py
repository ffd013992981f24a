"""The core carries any upstream that speaks the Provider protocol: a hosted page with a redirect
and signed callbacks, and a widget with browser events only, next to Smile's widget."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from flask import Flask, request

from conftest import ADMIN, make_host_app
from example_provider import SIGNATURE_HEADER, TIMESTAMP_HEADER, AcmeVerify, WidgetOnly, sign
from flask_wink import Provider, Wink, get_state, signals
from flask_wink.providers.smile_wink import SmileWink
from flask_wink.testing import serve

USER = {"X-User": "ada"}


def acme_app(tmp_path, *providers, **config) -> tuple[Flask, AcmeVerify]:
    app = Flask("acme_host", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="s", WTF_CSRF_ENABLED=False)
    app.config.update({"WINK_HANDLE_EVENTS": "request", **config})
    acme = AcmeVerify()
    wink = Wink(app, providers=[acme, *providers])

    @wink.user_id_loader
    def user():
        return request.headers.get("X-User")

    @wink.events_permission
    def admin():
        return request.headers.get("X-Admin") == "yes"

    return app, acme


def callback(client, body: dict, *, secret="acme-secret", timestamp=None):
    raw = json.dumps(body).encode()
    timestamp = str(time.time() if timestamp is None else timestamp)
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: sign(raw, timestamp, secret)}
    return client.post("/wink/acme-verify/webhooks", data=raw, headers=headers)


def test_the_example_providers_satisfy_the_protocol():
    assert isinstance(AcmeVerify(), Provider)
    assert isinstance(WidgetOnly(), Provider)


def test_a_redirect_provider_starts_with_a_url_and_maps_the_user_once(tmp_path):
    app, acme = acme_app(tmp_path)
    client = app.test_client()
    first = client.post("/wink/acme-verify/token", headers=USER)
    again = client.post("/wink/acme-verify/token", headers=USER)
    assert first.status_code == 201 and first.get_json()["url"].startswith("https://verify.acme.test/")
    assert first.get_json() == again.get_json()
    with app.app_context():
        upstream = get_state().store.upstream_user_id("acme_verify", "ada")
    assert upstream in acme.users and first.get_json()["url"].endswith(upstream)


def test_the_default_routes_serve_the_only_provider(tmp_path):
    app, _ = acme_app(tmp_path)
    assert app.test_client().post("/wink/token", headers=USER).get_json()["url"]


def test_a_forgotten_upstream_user_is_replaced_and_old_events_stay_with_the_app_user(tmp_path):
    app, acme = acme_app(tmp_path)
    client = app.test_client()
    client.post("/wink/acme-verify/token", headers=USER)
    with app.app_context():
        old = get_state().store.upstream_user_id("acme_verify", "ada")
    submitted = {"jobId": "j-old", "result": "submitted", "user": old, "verification": "v1"}
    assert callback(client, submitted).status_code == 200
    acme.users.clear()  # the upstream forgot its users
    client.post("/wink/acme-verify/token", headers=USER)
    with app.app_context():
        new = get_state().store.upstream_user_id("acme_verify", "ada")
    assert new != old and new in acme.users
    events = client.get("/wink/events?user=ada", headers=ADMIN).get_json()["events"]
    assert "j-old" in {e["eventId"] for e in events}


def test_the_link_page_of_a_redirect_provider_sends_the_browser_on(tmp_path):
    app, _ = acme_app(tmp_path)
    page = app.test_client().get("/wink/acme-verify/link", headers=USER).get_data(as_text=True)
    assert "Continue to Acme Verify" in page and '"tokenUrl": "/wink/acme-verify/token"' in page


def test_browser_events_are_checked_by_name_and_recorded_per_provider(tmp_path):
    app, _ = acme_app(tmp_path)
    client = app.test_client()
    ok = client.post("/wink/acme-verify/callbacks", headers=USER, json={"name": "pageOpened", "args": {}})
    wrong = client.post("/wink/acme-verify/callbacks", headers=USER, json={"name": "onClose", "args": {}})
    # The path the route had before answers as it did.
    before = client.post("/wink/acme-verify/events", headers=USER, json={"name": "returned", "args": {}})
    assert ok.status_code == 201 and before.status_code == 201
    assert wrong.status_code == 400 and "Acme Verify browser events" in wrong.get_json()["message"]
    events = client.get("/wink/events?provider=acme_verify", headers=ADMIN).get_json()["events"]
    assert [(e["provider"], e["kind"], e["name"]) for e in events] == [
        ("acme_verify", "callback", "returned"), ("acme_verify", "callback", "pageOpened")
    ]


def test_the_redirect_back_is_recorded_as_an_untrusted_browser_event(tmp_path):
    app, _ = acme_app(tmp_path)
    client = app.test_client()
    page = client.get("/wink/acme-verify/return?status=success", headers=USER)
    assert page.status_code == 200 and "awaiting the result" in page.get_data(as_text=True)
    events = client.get("/wink/events", headers=ADMIN).get_json()["events"]
    assert [(e["name"], e["payload"]) for e in events] == [("returned", {"status": "success"})]
    assert client.get("/wink/accounts", headers=ADMIN).get_json()["accounts"] == []


def test_signed_callbacks_are_stored_once_and_move_the_status_forward_only(tmp_path):
    app, acme = acme_app(tmp_path)
    client = app.test_client()
    changes = []
    signals.account_status_changed.connect(lambda app, **kw: changes.append(kw["status"]), weak=False)
    try:
        first = callback(client, {"jobId": "j1", "result": "approved", "verification": "v1"})
        redelivered = callback(client, {"jobId": "j1", "result": "approved", "verification": "v1"})
        late = callback(client, {"jobId": "j0", "result": "submitted", "verification": "v1"})
    finally:
        signals.account_status_changed.receivers.clear()
    assert first.get_json()["status"] == "stored" and redelivered.get_json()["status"] == "duplicate"
    assert late.get_json()["status"] == "stored"
    assert changes == ["approved"]
    accounts = client.get("/wink/accounts?provider=acme-verify", headers=ADMIN).get_json()["accounts"]
    assert [(a["provider"], a["accountId"], a["status"]) for a in accounts] == [
        ("acme_verify", "v1", "approved")
    ]
    assert len(acme.handled) == 2  # the provider's handler ran for each stored callback


def test_forged_and_stale_callbacks_are_refused_and_not_stored(tmp_path):
    app, _ = acme_app(tmp_path)
    client = app.test_client()
    forged = callback(client, {"jobId": "j1", "result": "approved"}, secret="guess")
    stale = callback(client, {"jobId": "j2", "result": "approved"}, timestamp=time.time() - 3600)
    odd = callback(client, {"nothing": "here"})
    assert forged.status_code == 401 and forged.get_json()["error"] == "InvalidSignature"
    assert stale.status_code == 400 and "old" in stale.get_json()["message"]
    assert odd.status_code == 400 and "not an Acme result" in odd.get_json()["message"]
    with app.app_context():
        assert get_state().store.count_events() == 0


def test_a_provider_without_inbound_messages_has_no_webhook_route(tmp_path):
    app, _ = acme_app(tmp_path, WidgetOnly(), WINK_DEFAULT_PROVIDER="acme_verify")
    client = app.test_client()
    refused = client.post("/wink/widget-only/webhooks", json={})
    assert refused.status_code == 404 and refused.get_json()["error"] == "UnknownProvider"
    token = client.post("/wink/widget-only/token", headers=USER).get_json()
    assert token == {"widgetUrl": "https://w.test/"}


def test_a_browser_event_any_provider_calls_connected_is_recorded_as_an_unconfirmed_claim(tmp_path):
    # WidgetOnly's status_update says CONNECTED for its browser event: the core keeps it a claim.
    app, _ = acme_app(tmp_path, WidgetOnly(), WINK_DEFAULT_PROVIDER="acme_verify")
    got = []

    def connected(app, **kw):
        got.append(kw["account_id"])

    signals.account_connected.connect(connected)
    try:
        with serve(app) as served:
            httpx.post(served.url + "/wink/widget-only/token", headers=USER)
            answer = httpx.post(served.url + "/wink/widget-only/callbacks", headers=USER,
                                json={"name": "connected", "args": {"connectionId": "c1"}})
            listed = httpx.get(served.url + "/wink/accounts?provider=widget_only", headers=ADMIN)
    finally:
        signals.account_connected.disconnect(connected)
    assert answer.status_code == 201
    accounts = [(a["accountId"], a["status"], a["connectedAt"]) for a in listed.json()["accounts"]]
    assert accounts == [("c1", "UNCONFIRMED", None)]
    assert got == []


def test_an_unknown_provider_in_a_url_is_a_json_404(tmp_path):
    app, _ = acme_app(tmp_path)
    client = app.test_client()
    for response in (client.post("/wink/nope/token", headers=USER),
                     client.get("/wink/events?provider=nope", headers=ADMIN)):
        assert response.status_code == 404 and response.get_json()["error"] == "UnknownProvider"


def test_several_providers_side_by_side_keep_their_events_apart(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path)
    smile = get_state(app).providers["smile_wink"]
    both, _ = acme_app(tmp_path / "both", smile)
    client = both.test_client()
    callback(client, {"jobId": "j1", "result": "approved", "verification": "v1"})
    client.post("/wink/smile-wink/callbacks", headers=USER, json={"name": "onClose", "args": {}})
    client.post("/wink/smile-wink/events", headers=USER, json={"name": "onClose", "args": {}})
    events = client.get("/wink/events", headers=ADMIN).get_json()["events"]
    names = {(e["provider"], e["name"]) for e in events}
    assert names == {("acme_verify", "approved"), ("smile_wink", "onClose")}
    assert isinstance(smile, SmileWink)


def test_no_provider_configured_says_how_to_configure_one(tmp_path):
    app = Flask("bare", instance_path=str(tmp_path))
    app.config["SECRET_KEY"] = "s"
    with pytest.raises(RuntimeError, match="No provider is configured: ") as raised:
        Wink(app)
    message = str(raised.value)
    # One line naming what each installed provider needs.
    assert "\n" not in message
    for needed in ("WINK_API_KEY", "WINK_UCW_URL", "WINK_SMILE_ID_PARTNER_ID", "WINK_PROVIDERS"):
        assert needed in message


def test_providers_named_in_config_must_be_installed(tmp_path):
    app = Flask("bare", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="s", WINK_PROVIDERS="smile_wink,nope")
    with pytest.raises(RuntimeError, match="WINK_PROVIDERS names 'nope', which is not installed"):
        Wink(app)


def test_background_handling_answers_before_a_slow_handler_finishes(tmp_path):
    release = threading.Event()
    app, acme = acme_app(tmp_path, WINK_HANDLE_EVENTS="background")
    acme.handlers = (lambda app, state, event, errors: release.wait(10),)
    client = app.test_client()
    assert callback(client, {"jobId": "j1", "result": "approved", "verification": "v1"}).status_code == 200
    state = get_state(app)
    with app.app_context():
        assert state.store.list_events()[0].state == "handling"
    release.set()
    assert state.wait_for_handlers(10)
    with app.app_context():
        assert state.store.list_events()[0].state == "handled"


def test_background_handling_marks_a_failing_handler_failed(tmp_path):
    app, acme = acme_app(tmp_path, WINK_HANDLE_EVENTS="background")

    def broken(app, state, event, errors):
        raise RuntimeError("downstream is down")

    acme.handlers = (broken,)
    assert callback(app.test_client(), {"jobId": "j1", "result": "approved"}).status_code == 200
    state = get_state(app)
    assert state.wait_for_handlers(10)
    with app.app_context():
        event = state.store.list_events()[0]
    assert event.state == "failed" and "downstream is down" in event.error


def test_the_errors_verify_inbound_raises_are_importable_from_flask_wink():
    import flask_wink
    from flask_wink import errors

    for name in ("VerificationError", "MalformedMessage", "StaleMessage", "UpstreamCallError"):
        assert getattr(flask_wink, name) is getattr(errors, name) and name in flask_wink.__all__
    assert issubclass(flask_wink.MalformedMessage, flask_wink.VerificationError)
    assert issubclass(flask_wink.StaleMessage, flask_wink.VerificationError)


@pytest.mark.parametrize("mode", ["request", "background"])
def test_handlers_see_no_app_user_on_a_webhook_and_the_store_maps_its_upstream_user(wink_app, mode):
    acme = AcmeVerify()
    seen = []

    def whose(app, state, event, errors):
        seen.append((event.kind, event.app_user_id, state.store.app_user_id(event.provider,
                                                                            event.upstream_user_id)))

    acme.handlers = (whose,)
    app = wink_app(providers=[acme], handle_events=mode)
    client = app.test_client()
    wink_app.user = "ada"
    client.post("/wink/acme-verify/token")
    with app.app_context():
        upstream = get_state().store.upstream_user_id("acme_verify", "ada")
    assert client.get("/wink/acme-verify/return?status=done").status_code == 200
    submitted = {"jobId": "j-1", "result": "submitted", "user": upstream, "verification": "v1"}
    assert callback(client, submitted).status_code == 200
    get_state(app).wait_for_handlers(10)
    assert seen == [("callback", "ada", "ada"), ("webhook", None, "ada")]
    # The listing fills in the webhook's app user from the same mapping.
    listed = client.get("/wink/events?provider=acme_verify").get_json()["events"]
    assert [(e["kind"], e["appUserId"]) for e in listed] == [("webhook", "ada"), ("callback", "ada")]


def test_flask_wink_events_oneline_gives_a_provider_without_describe_a_generic_line(tmp_path):
    app, _ = acme_app(tmp_path)
    sent = callback(app.test_client(), {"jobId": "j1", "result": "approved", "verification": "v1"})
    assert sent.status_code == 200
    result = app.test_cli_runner().invoke(args=["wink", "events", "--oneline"])
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    assert line.split("  ")[2] == "acme_verify" and line.endswith("  Webhook approved")
