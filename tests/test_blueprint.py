"""The blueprint mounted in a host app, talking to the sandbox over loopback HTTP."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import ADMIN, WEBHOOK_SECRET, link_in_emulator, make_host_app
from flask_wink import get_state, signals
from flask_wink.providers.smile_wink import signals as smile_signals
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook
from flask_wink.testing import serve

GEORGE = {"X-User": "george-42"}


def post_webhook(client, event, secret=WEBHOOK_SECRET):
    body, headers = signed_webhook(event, secret)
    return client.post("/wink/webhooks", data=body, headers=headers)


# -- /wink/token ------------------------------------------------------------------------


def test_first_token_creates_a_smile_user_with_the_app_user_id(client, host, sandbox):
    response = client.post("/wink/token", headers=GEORGE)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"accessToken", "expiresAt", "mode", "userId"}
    assert body["mode"] == "SANDBOX"
    smile_user = sandbox.state.users[body["userId"]]
    assert smile_user["externalMetadata"] == {"appUserId": "george-42"}
    with host.app_context():
        assert get_state().store.upstream_user_id("smile_wink", "george-42") == body["userId"]


def test_returning_user_gets_a_fresh_token_for_the_same_smile_user(client, sandbox):
    first = client.post("/wink/token", headers=GEORGE).get_json()
    second = client.post("/wink/token", headers=GEORGE).get_json()
    assert second["userId"] == first["userId"]
    assert second["accessToken"] != first["accessToken"]
    assert len(sandbox.state.users) == 1


def test_non_ascii_app_user_ids_still_get_a_token(client, sandbox):
    response = client.post("/wink/token", headers={"X-User": "jos\u00e9".encode().decode("latin-1")})
    assert response.status_code == 201
    assert sandbox.state.users[response.get_json()["userId"]]["externalMetadata"] == {}


def test_concurrent_first_tokens_make_one_smile_user(host, sandbox):
    with serve(host) as served, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda _: httpx.post(served.url + "/wink/token", headers=GEORGE), range(8)
        ))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["userId"] for a in answers}) == 1


def test_token_without_a_user_is_401(client):
    response = client.post("/wink/token")
    assert response.status_code == 401
    assert "Sign in" in response.get_json()["message"]


def test_token_without_a_user_loader_is_a_clear_json_error(sandbox, tmp_path):
    from flask import Flask

    from flask_wink import Wink

    app = Flask("bare", instance_path=str(tmp_path))
    app.config.update(SECRET_KEY="s", WTF_CSRF_ENABLED=False)
    Wink(app, api_key=sandbox.api_key, api_secret=sandbox.api_secret, api_host=sandbox.api_host)
    response = app.test_client().post("/wink/token")
    assert response.status_code == 500
    assert "user_id_loader" in response.get_json()["message"]


def test_token_with_wrong_api_secret_is_502_with_smiles_request_id(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_API_SECRET="wrong")
    response = app.test_client().post("/wink/token", headers=GEORGE)
    assert response.status_code == 502
    body = response.get_json()
    assert body["code"] == "INVALID_CREDENTIALS"
    assert body["requestId"]
    assert "wrong" not in json.dumps(body)


def test_token_when_smile_is_unreachable_is_503(sandbox, tmp_path):
    from conftest import free_port_url

    down = free_port_url() + "/v1"
    app, _ = make_host_app(sandbox, tmp_path, WINK_API_HOST=down)
    response = app.test_client().post("/wink/token", headers=GEORGE)
    assert response.status_code == 503
    # The message names the setting to check and its value.
    assert response.get_json()["message"] == (
        f"Smile's API could not be reached: check WINK_API_HOST={down} and that it is up."
    )


def test_token_when_smile_does_not_answer_in_time_is_504(sandbox, tmp_path):
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        app, _ = make_host_app(sandbox, tmp_path, WINK_API_HOST=url, WINK_TIMEOUT=0.3)
        response = app.test_client().post("/wink/token", headers=GEORGE)
    assert response.status_code == 504
    assert response.get_json()["message"] == (
        f"Smile's API did not answer in time: check WINK_API_HOST={url} and that it is up."
    )


def test_token_needs_the_csrf_header_when_csrf_is_on(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    refused = client.post("/wink/token", headers=GEORGE)
    assert refused.status_code == 400
    assert "CSRF" in refused.get_json()["message"]
    page = client.get("/wink/link", headers=GEORGE).get_data(as_text=True)
    csrf = page.split('"csrfToken": "')[1].split('"')[0]
    accepted = client.post("/wink/token", headers={**GEORGE, "X-CSRFToken": csrf})
    assert accepted.status_code == 201


# -- /wink/link ---------------------------------------------------------------------------


def test_link_page_embeds_sdk_v2_from_the_sandbox_by_default(client, sandbox):
    page = client.get("/wink/link").get_data(as_text=True)
    assert f'src="{sandbox.url}/v2/smile.v2.js"' in page
    assert "/wink/smile-wink/static/wink.js" in page


def test_link_page_embeds_v1_on_request(client, sandbox):
    page = client.get("/wink/link?sdk=1").get_data(as_text=True)
    assert f'src="{sandbox.url}/v1/smile.v1.js"' in page


def test_link_page_refuses_an_unknown_sdk_version(client):
    response = client.get("/wink/link?sdk=7")
    assert response.status_code == 400
    assert response.get_json()["message"] == "sdk must be 1 or 2."


def test_production_api_host_uses_smiles_cdn(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_API_HOST="https://open.smileapi.io/v1",
                           WINK_TEMPLATE_ID="tpl-123")
    page = app.test_client().get("/wink/link").get_data(as_text=True)
    assert 'src="https://web.smileapi.io/v2/smile.v2.js"' in page
    assert '"templateId": "tpl-123"' in page


def test_host_app_can_override_the_link_template(sandbox, tmp_path):
    (tmp_path / "templates" / "wink" / "smile_wink").mkdir(parents=True)
    (tmp_path / "templates" / "wink" / "smile_wink" / "link.html").write_text("custom {{ wink.sdkVersion }}")
    app, _ = make_host_app(sandbox, tmp_path)
    app.template_folder = str(tmp_path / "templates")
    assert app.test_client().get("/wink/link").get_data(as_text=True) == "custom 2"


# -- /wink/callbacks ------------------------------------------------------------------------


def test_callback_is_recorded_with_user_and_smile_user(client, host):
    smile_user = client.post("/wink/token", headers=GEORGE).get_json()["userId"]
    args = {"accountId": "a-1", "userId": smile_user, "providerId": "upwork"}
    response = client.post("/wink/callbacks", json={"name": "onAccountCreated", "args": args},
                           headers=GEORGE)
    assert response.status_code == 201
    events = client.get("/wink/events?kind=callback", headers=ADMIN).get_json()["events"]
    assert events[0]["name"] == "onAccountCreated"
    assert events[0]["payload"] == args
    assert events[0]["appUserId"] == "george-42"
    assert events[0]["upstreamUserId"] == smile_user


@pytest.mark.parametrize("name", ["onTokenExpired", "onClose", "onUIEvent", "onUploadsRemoved"])
def test_every_widget_callback_name_is_accepted(client, name):
    response = client.post("/wink/callbacks", json={"name": name, "args": {}}, headers=GEORGE)
    assert response.status_code == 201


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b'{"name": "onHack", "args": {}}', 400, "name must be one of"),
        (b'[1]', 400, "JSON object"),
        (b"nonsense", 400, "must be JSON"),
        (b'{"name": "onClose", "args": [1]}', 400, "args must be a JSON object"),
        (b'{"name": "onClose", "args": {"x": "' + b"y" * 70000 + b'"}}', 413, "larger than"),
    ],
)
def test_bad_callbacks_get_a_clear_error_and_nothing_is_stored(client, body, status, message):
    response = client.post("/wink/callbacks", data=body, headers=GEORGE,
                           content_type="application/json")
    assert response.status_code == status
    assert message in response.get_json()["message"]
    assert client.get("/wink/events", headers=ADMIN).get_json()["events"] == []


@pytest.fixture
def csrf_host(sandbox, tmp_path):
    """The host app with the kit's CSRF check on, served over loopback."""
    app, _ = make_host_app(sandbox, tmp_path, WTF_CSRF_ENABLED=True)
    with serve(app) as served:
        yield served


def link_page_csrf(browser: httpx.Client) -> str:
    """The CSRF token the link page embeds for its script (its session cookie kept by ``browser``)."""
    page = browser.get("/wink/link", headers=GEORGE)
    assert page.status_code == 200
    return page.text.split('"csrfToken": "')[1].split('"')[0]


@pytest.mark.parametrize("headers, said", [
    ({}, "The CSRF token is missing"),
    ({"X-CSRFToken": "forged-token"}, "The CSRF token is invalid"),
])
def test_callbacks_without_a_valid_csrf_token_are_refused_and_not_stored(csrf_host, headers, said):
    with httpx.Client(base_url=csrf_host.url) as browser:
        link_page_csrf(browser)  # the session holds a CSRF secret; the post does not send its token
        refused = browser.post("/wink/callbacks", json={"name": "onClose", "args": {}},
                               headers={**GEORGE, **headers})
    assert refused.status_code == 400
    assert refused.json()["error"] == "InvalidRequest" and said in refused.json()["message"]
    with csrf_host.app.app_context():
        assert get_state().store.count_events() == 0


def test_callbacks_with_the_link_pages_csrf_token_are_stored(csrf_host):
    with httpx.Client(base_url=csrf_host.url) as browser:
        token = link_page_csrf(browser)
        recorded = browser.post("/wink/callbacks", json={"name": "onClose", "args": {}},
                                headers={**GEORGE, "X-CSRFToken": token})
    assert recorded.status_code == 201 and recorded.json()["status"] == "recorded"
    with csrf_host.app.app_context():
        stored = get_state().store.get_event(recorded.json()["id"])
    assert (stored.name, stored.app_user_id) == ("onClose", "george-42")


def test_callback_cannot_claim_another_users_account(client, host):
    client.post("/wink/token", headers=GEORGE)
    victim = {"X-User": "victim"}
    client.post("/wink/token", headers=victim)
    with host.app_context():
        store = get_state().store
        victim_smile = store.upstream_user_id("smile_wink", "victim")
    post_webhook(client, make_event("ACCOUNT_CONNECTED", {
        "userId": victim_smile, "accountId": "a-victim", "loginName": "v", "providers": ["grab"]}))
    client.post("/wink/callbacks", headers=GEORGE, json={
        "name": "onAccountRemoved", "args": {"accountId": "a-victim", "userId": victim_smile}})
    with host.app_context():
        assert get_state().store.account("smile_wink", "a-victim").status == "CONNECTED"


# -- /wink/webhooks -------------------------------------------------------------------------


def test_signed_webhook_is_stored_and_signalled(client, host):
    seen = []
    signals.webhook_received.connect(lambda app, **kw: seen.append(kw["type"]), weak=False)
    try:
        event = make_event("USER_CREATED", {"userId": "tenant-1"})
        response = post_webhook(client, event)
    finally:
        signals.webhook_received.receivers.clear()
    assert response.status_code == 200
    assert response.get_json()["status"] == "stored"
    assert seen == ["USER_CREATED"]
    stored = client.get("/wink/events?kind=webhook", headers=ADMIN).get_json()["events"]
    assert [e["eventId"] for e in stored] == [event["id"]]


def test_forged_webhook_is_401_and_not_stored(client):
    event = make_event("ACCOUNT_CONNECTED", {"userId": "u", "accountId": "a"})
    response = post_webhook(client, event, secret="not-the-secret")
    assert response.status_code == 401
    assert "signature" in response.get_json()["message"]
    assert client.get("/wink/events", headers=ADMIN).get_json()["events"] == []


def test_unsigned_webhook_is_401(client):
    response = client.post("/wink/webhooks", json=make_event("USER_CREATED", {}))
    assert response.status_code == 401
    assert "missing" in response.get_json()["message"]


def test_signed_body_that_is_not_an_envelope_is_400(client):
    body = b'{"hello": "world"}'
    from flask_wink.providers.smile_wink import sign

    response = client.post("/wink/webhooks", data=body, content_type="application/json",
                           headers={"Smile-Signature": sign(body, WEBHOOK_SECRET)})
    assert response.status_code == 400
    assert "envelope" in response.get_json()["message"]


def test_redelivered_webhook_is_acknowledged_but_stored_and_handled_once(client):
    handled = []
    signals.webhook_received.connect(lambda app, **kw: handled.append(kw["event"].id), weak=False)
    try:
        event = make_event("ACCOUNT_CREATED", {"userId": "u", "accountId": "a", "providers": []})
        first = post_webhook(client, event)
        again = post_webhook(client, event)
    finally:
        signals.webhook_received.receivers.clear()
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json()["status"] == "duplicate"
    assert len(handled) == 1
    assert len(client.get("/wink/events", headers=ADMIN).get_json()["events"]) == 1


def test_simultaneous_redeliveries_store_one_event(host):
    handled = []
    lock = threading.Lock()

    def receiver(app, **kw):
        with lock:
            handled.append(kw["event"].event_id)

    signals.webhook_received.connect(receiver)
    events = [make_event("ACCOUNT_CREATED", {"userId": "u", "accountId": f"a-{i}", "providers": []})
              for i in range(10)]
    deliveries = [signed_webhook(e, WEBHOOK_SECRET) for e in events for _ in range(6)]
    barrier = threading.Barrier(12)

    try:
        with serve(host, threads=12) as served, ThreadPoolExecutor(12) as pool:
            def send(delivery):
                barrier.wait() if deliveries.index(delivery) < 12 else None
                body, headers = delivery
                return httpx.post(served.url + "/wink/webhooks", content=body, headers=headers)

            answers = list(pool.map(send, deliveries))
    finally:
        signals.webhook_received.disconnect(receiver)
    assert {a.status_code for a in answers} == {200}
    assert sorted(handled) == sorted(e["id"] for e in events)
    with host.app_context():
        assert get_state().store.count_events(kind="webhook") == 10


def test_oversized_webhook_is_413_without_reading_the_body(sandbox, tmp_path):
    # werkzeug's server hands the app the socket stream (waitress would buffer the body first).
    import socket

    from werkzeug.serving import make_server

    app, _ = make_host_app(sandbox, tmp_path, WINK_WEBHOOK_MAX_BYTES=1024)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port)) as sock:
            # Declare 100 MB but send almost nothing: an answer proves the body was not awaited.
            sock.sendall(b"POST /wink/webhooks HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{")
            sock.settimeout(5)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
            answer = answer.decode()
    finally:
        server.shutdown()
    assert answer.split(" ")[1] == "413"
    assert "larger than the limit of 1024 bytes" in answer


def test_chunked_oversized_webhook_is_413(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_WEBHOOK_MAX_BYTES=1024)
    with serve(app) as served:
        def chunks():
            for _ in range(10):
                yield b"x" * 512

        response = httpx.post(served.url + "/wink/webhooks", content=chunks())
    assert response.status_code == 413


def test_failing_signal_receiver_does_not_lose_the_event_or_fail_the_delivery(client):
    def broken(app, **kw):
        raise RuntimeError("handler bug")

    signals.webhook_received.connect(broken)
    try:
        response = post_webhook(client, make_event("USER_CREATED", {"userId": "u"}))
    finally:
        signals.webhook_received.disconnect(broken)
    assert response.status_code == 200
    assert len(client.get("/wink/events", headers=ADMIN).get_json()["events"]) == 1


# -- account status -------------------------------------------------------------------------


def test_account_status_follows_callbacks_and_webhooks(client, host):
    smile_user = client.post("/wink/token", headers=GEORGE).get_json()["userId"]
    account = {"accountId": "a-9", "userId": smile_user, "providerId": "upwork"}

    def status():
        with host.app_context():
            return get_state().store.account("smile_wink", "a-9").status

    client.post("/wink/callbacks", headers=GEORGE, json={"name": "onAccountCreated", "args": account})
    assert status() == "PENDING"
    client.post("/wink/callbacks", headers=GEORGE, json={"name": "onUIEvent", "args": {
        "eventName": "MFA_REQUIRED", "account": {"id": "a-9", "providerId": "upwork",
                                                 "status": "AWAITING_MFA"}}})
    assert status() == "AWAITING_MFA"
    post_webhook(client, make_event("ACCOUNT_CONNECTED", {
        "userId": smile_user, "accountId": "a-9", "loginName": "George", "providers": ["upwork"]}))
    assert status() == "CONNECTED"
    # A late widget event cannot take the account back to an earlier state.
    client.post("/wink/callbacks", headers=GEORGE, json={"name": "onAccountCreated", "args": account})
    assert status() == "CONNECTED"
    post_webhook(client, make_event("ACCOUNT_DISCONNECTED", {
        "userId": smile_user, "accountId": "a-9", "providers": ["upwork"]}))
    assert status() == "DISCONNECTED"
    accounts = client.get("/wink/accounts", headers=ADMIN).get_json()["accounts"]
    assert accounts[0]["accountId"] == "a-9" and accounts[0]["connectedAt"]


def test_signals_for_closed_and_uploads(client):
    got = []
    receivers = {
        smile_signals.widget_closed: lambda app, **kw: got.append(("closed", kw["reason"])),
        smile_signals.uploads_created: lambda app, **kw: got.append(("uploads", len(kw["uploads"]))),
    }
    for signal, fn in receivers.items():
        signal.connect(fn)
    try:
        client.post("/wink/callbacks", headers=GEORGE,
                    json={"name": "onClose", "args": {"reason": "exit"}})
        client.post("/wink/callbacks", headers=GEORGE, json={
            "name": "onUploadsCreated", "args": {"uploads": [{"id": "u-1"}], "userId": "x"}})
    finally:
        for signal, fn in receivers.items():
            signal.disconnect(fn)
    assert got == [("closed", "exit"), ("uploads", 1)]


# -- /wink/events ---------------------------------------------------------------------------


def test_events_need_the_permission_hook(client):
    response = client.get("/wink/events")
    assert response.status_code == 403


def test_events_are_newest_first_and_filter_by_user_and_kind(client):
    client.post("/wink/callbacks", headers=GEORGE, json={"name": "onClose", "args": {}})
    client.post("/wink/callbacks", headers={"X-User": "ryan"}, json={"name": "onUIEvent", "args": {}})
    post_webhook(client, make_event("USER_CREATED", {"userId": "nobody"}))
    everything = client.get("/wink/events", headers=ADMIN).get_json()["events"]
    assert [e["name"] for e in everything] == ["USER_CREATED", "onUIEvent", "onClose"]
    georges = client.get("/wink/events?user=george-42", headers=ADMIN).get_json()["events"]
    assert [e["name"] for e in georges] == ["onClose"]
    webhooks = client.get("/wink/events?kind=webhook", headers=ADMIN).get_json()["events"]
    assert [e["name"] for e in webhooks] == ["USER_CREATED"]
    after = client.get(f"/wink/events?after={everything[1]['id']}", headers=ADMIN).get_json()
    assert [e["name"] for e in after["events"]] == ["USER_CREATED"]


@pytest.mark.parametrize("query", ["kind=other", "after=x", "limit=0"])
def test_bad_event_filters_are_400(client, query):
    assert client.get(f"/wink/events?{query}", headers=ADMIN).status_code == 400


def test_polling_with_after_never_skips_events(client):
    for _ in range(5):
        client.post("/wink/callbacks", headers=GEORGE, json={"name": "onUIEvent", "args": {}})
    first = client.get("/wink/events?after=0&limit=2", headers=ADMIN).get_json()["events"]
    assert [e["id"] for e in first] == [2, 1]
    second = client.get("/wink/events?after=2&limit=2", headers=ADMIN).get_json()["events"]
    assert [e["id"] for e in second] == [4, 3]


def test_webhook_events_name_the_app_user_once_known(client):
    smile_user = client.post("/wink/token", headers=GEORGE).get_json()["userId"]
    post_webhook(client, make_event("ACCOUNT_CREATED", {"userId": smile_user, "accountId": "a-5",
                                                        "providers": ["grab"]}))
    events = client.get("/wink/events?kind=webhook", headers=ADMIN).get_json()["events"]
    assert {e["appUserId"] for e in events if e["upstreamUserId"] == smile_user} == {"george-42"}


def test_a_smile_user_that_vanished_is_replaced(client, host, sandbox):
    first = client.post("/wink/token", headers=GEORGE).get_json()["userId"]
    del sandbox.state.users[first]  # as after a sandbox restart
    again = client.post("/wink/token", headers=GEORGE)
    assert again.status_code == 201
    assert again.get_json()["userId"] != first
    with host.app_context():
        assert get_state().store.upstream_user_id("smile_wink", "george-42") == again.get_json()["userId"]


def test_failing_token_minted_receiver_does_not_cost_the_token(client):
    def broken(app, **kw):
        raise RuntimeError("analytics down")

    signals.token_minted.connect(broken)
    try:
        response = client.post("/wink/token", headers=GEORGE)
    finally:
        signals.token_minted.disconnect(broken)
    assert response.status_code == 201


def test_webhooks_pass_a_csrf_protect_set_up_after_the_kit(sandbox, tmp_path):
    from flask_wtf.csrf import CSRFProtect

    app, _ = make_host_app(sandbox, tmp_path, WTF_CSRF_ENABLED=True)
    CSRFProtect(app)
    response = post_webhook(app.test_client(), make_event("USER_CREATED", {"userId": "tenant-1"}))
    assert response.status_code == 200


def test_a_page_of_the_apps_own_opens_the_widget_as_the_tutorial_says(host):
    # The tutorial's recipe: link_config(...) passed as `wink`, the widget partial included.
    from flask import render_template_string

    from flask_wink.blueprint import link_config

    page = '<button data-wink-open>Link</button>{% include "wink/smile_wink/_widget.html" %}'
    with host.test_request_context("/income"):
        html = render_template_string(page, wink=link_config(get_state(), options={"sdk": "1"}))
        default = link_config(get_state())
    opening = '<script id="wink-config" type="application/json">'
    config = json.loads(html.split(opening, 1)[1].split("</script>")[0])
    assert config["sdkVersion"] == 1 and config["tokenUrl"] == "/wink/smile-wink/token"
    assert config["callbacksUrl"] == "/wink/smile-wink/events"
    assert f'src="{config["sdkUrl"]}"' in html and "wink.js" in html
    assert default["sdkVersion"] == 2


def test_account_connected_is_sent_once_smile_confirms_the_widgets_report_and_once_by_its_webhook(
    client, sandbox
):
    # The widget reports the connection by onAccountConnected, a claim the kit has Smile confirm
    # (source "upstream"); its UI events that follow carry the account as it stands and are
    # recorded, but announce nothing again.
    minted = client.post("/wink/token", headers=GEORGE).get_json()
    account_id = link_in_emulator(sandbox, minted["accessToken"])
    got = []

    def connected(app, **kw):
        got.append((kw["source"], kw["event"].name))

    signals.account_connected.connect(connected)
    try:
        account = {"id": account_id, "providerId": "upwork", "status": "CONNECTED"}
        client.post("/wink/callbacks", headers=GEORGE, json={
            "name": "onAccountConnected", "args": {"accountId": account_id, "providerId": "upwork"}})
        for ui in ("ACCOUNT_CONNECTED", "DONE_CLICKED"):
            posted = client.post("/wink/callbacks", headers=GEORGE, json={
                "name": "onUIEvent", "args": {"eventName": ui, "account": account}})
            assert posted.status_code == 201
        post_webhook(client, make_event("ACCOUNT_CONNECTED", {
            "userId": minted["userId"], "accountId": account_id, "providers": ["upwork"]}))
    finally:
        signals.account_connected.disconnect(connected)
    assert got == [("upstream", "onAccountConnected"), ("webhook", "ACCOUNT_CONNECTED")]
    status = client.get("/wink/accounts", headers=ADMIN).get_json()["accounts"][0]["status"]
    assert status == "CONNECTED"
