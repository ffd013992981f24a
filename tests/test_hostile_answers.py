"""Headers, cookies, CORS and answers: what should be closed is closed (kit and quickstart)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from quickstart.sessions import HttpsAwareSessions

from conftest import ADMIN, WEBHOOK_SECRET, free_port_url, make_host_app
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook

ROOT = Path(__file__).resolve().parent.parent
GEORGE = {"X-User": "george-42"}


def csp_directives(value: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in value.split(";") if d.strip()}


# -- security headers --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/wink/link", "/wink/smile-wink/link"])
def test_the_kits_pages_send_a_csp_with_a_nonce_nosniff_and_referrer_policy(client, sandbox, path):
    page = client.get(path)
    assert page.status_code == 200
    policy = csp_directives(page.headers["Content-Security-Policy"])
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    html = page.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)
    sdk_origin = sandbox.url
    assert policy["script-src"][:1] == ["'self'"] and sdk_origin in policy["script-src"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert policy["frame-ancestors"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    # A new nonce for every page.
    assert nonce not in client.get(path).headers["Content-Security-Policy"]


def test_frame_ancestors_as_the_host_configures_and_the_host_app_untouched(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_FRAME_ANCESTORS="https://portal.example")

    @app.get("/host-page")
    def host_page():
        return "<p>the host's own</p>"

    client = app.test_client()
    policy = csp_directives(client.get("/wink/link").headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] == ["https://portal.example"]
    assert "Content-Security-Policy" not in client.get("/host-page").headers
    assert client.post("/wink/token", headers=GEORGE).headers["X-Content-Type-Options"] == "nosniff"


def test_smiles_hosts_are_allowed_for_the_real_widget(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_API_HOST="https://open.smileapi.io/v1")
    policy = csp_directives(app.test_client().get("/wink/link").headers["Content-Security-Policy"])
    assert "https://web.smileapi.io" in policy["script-src"]
    assert "https://*.smileapi.io" in policy["frame-src"]


def test_the_quickstart_sets_them_app_wide(quickstart_server):
    for path in ("/", "/archives", "/accounts", "/invites", "/frontend/"):
        page = httpx.get(quickstart_server.url + path)
        assert page.status_code == 200, path
        assert "script-src 'self' 'nonce-" in page.headers["Content-Security-Policy"], path
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"]
    # The static example page's inline script is allowed by its hash.
    frontend = httpx.get(quickstart_server.url + "/frontend/")
    assert "'sha256-" in frontend.headers["Content-Security-Policy"]


# -- cookies and CORS --------------------------------------------------------------------------


def test_the_session_cookie_is_lax_and_secure_behind_https(quickstart_app):
    app = quickstart_app(TRUST_PROXY="true")
    client = app.test_client()
    plain = client.get("/api/create_link_token").headers["Set-Cookie"]
    assert "SameSite=Lax" in plain and "Secure" not in plain
    proxied = app.test_client().get("/api/create_link_token", headers={"X-Forwarded-Proto": "https"})
    cookie = proxied.headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "Secure" in cookie and "HttpOnly" in cookie


def test_behind_the_proxy_webhooks_are_checked_against_the_senders_address(quickstart_app):
    # The quickstart answers webhooks in front of Flask (the fast path); with TRUST_PROXY the
    # proxy's X-Forwarded-For reaches that layer too, so WINK_WEBHOOK_ALLOWED_IPS checks the
    # sender, not the proxy (a request from the proxy alone is refused).
    app = quickstart_app(TRUST_PROXY="true", WINK_WEBHOOK_ALLOWED_IPS="203.0.113.0/24")
    client = app.test_client()
    body, headers = b'{"eventId": "e1"}', {"Content-Type": "application/json"}
    assert client.post("/wink/webhooks", data=body, headers=headers).status_code == 403
    outsider = client.post("/wink/webhooks", data=body,
                           headers={**headers, "X-Forwarded-For": "198.51.100.7"})
    assert outsider.status_code == 403
    # From an allowed sender, the next check speaks: the body carries no signature.
    sender = client.post("/wink/webhooks", data=body,
                         headers={**headers, "X-Forwarded-For": "203.0.113.7"})
    assert sender.status_code == 401 and sender.get_json()["error"] == "InvalidSignature"


@pytest.fixture
def cors_quickstart(quickstart_app):
    with quickstart_app.served(ALLOWED_ORIGINS="http://app.example, null") as served:
        yield served


def test_cors_preflight_for_allowed_origins_and_never_null(cors_quickstart):
    url = cors_quickstart.url + "/api/create_link_token"
    asks = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "Content-Type"}
    allowed = httpx.options(url, headers={"Origin": "http://app.example", **asks})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://app.example"
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "content-type" in allowed.headers["Access-Control-Allow-Headers"].lower()
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    for origin in ("null", "http://evil.example"):
        refused = httpx.options(url, headers={"Origin": origin, **asks})
        assert "Access-Control-Allow-Origin" not in refused.headers, origin
    minted = httpx.post(url, headers={"Origin": "http://app.example"})
    assert minted.status_code == 200 and minted.headers["Access-Control-Allow-Origin"] == "http://app.example"
    assert httpx.post(url, headers={"Origin": "null"}).status_code == 403


# -- JSON answers for wrong methods and oversized bodies ----------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [("GET", "/wink/token"), ("GET", "/wink/callbacks"), ("PUT", "/wink/webhooks"),
     ("DELETE", "/wink/events"), ("GET", "/wink/smile-wink/token"), ("POST", "/wink/accounts"),
     ("PATCH", "/wink/smile-wink/webhooks")],
)
def test_wrong_methods_on_the_kits_routes_answer_json_405(client, method, path):
    answer = client.open(path, method=method, headers={**GEORGE, **ADMIN})
    assert answer.status_code == 405
    assert answer.mimetype == "application/json"
    assert answer.get_json()["message"]
    assert answer.headers["Allow"]


def test_oversized_bodies_on_the_kits_routes_answer_json_413(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, MAX_CONTENT_LENGTH=1000)

    @app.post("/host-form")
    def host_form():
        from flask import request

        return str(len(request.form))

    client = app.test_client()
    big = b'{"name":"onClose","args":{"pad":"' + b"x" * 5000 + b'"}}'
    for path in ("/wink/callbacks", "/wink/smile-wink/events"):
        answer = client.post(path, data=big, headers={**GEORGE, "Content-Type": "application/json"})
        assert answer.status_code == 413 and answer.mimetype == "application/json"
    body, headers = signed_webhook(make_event("USER_CREATED", {"pad": "x" * 5000}), WEBHOOK_SECRET)
    answer = client.post("/wink/webhooks", data=body, headers=headers)
    assert answer.status_code == 413 and answer.mimetype == "application/json"
    # The host's own routes keep Flask's answers.
    host = client.post("/host-form", data={"a": "x" * 5000})
    assert host.status_code == 413 and host.mimetype == "text/html"


# -- waitress holds up --------------------------------------------------------------------------


def test_the_quickstart_survives_100_idle_connections_from_one_client(tmp_path):
    port = int(free_port_url().rsplit(":", 1)[1])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "APP_PORT": str(port), "API_KEY": "",
           "INSTANCE_PATH": str(tmp_path / "instance"),
           "API_SECRET": "", "WINK_API_KEY": "", "WINK_API_SECRET": "",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'w.sqlite3'}"}
    process = subprocess.Popen([sys.executable, "-m", "quickstart"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    idle: list[socket.socket] = []
    try:
        process.stdout.readline()
        deadline = time.monotonic() + 15
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the quickstart did not start listening"
                time.sleep(0.1)
        for _ in range(110):
            idle.append(socket.create_connection(("127.0.0.1", port)))
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=20)
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
    finally:
        for sock in idle:
            sock.close()
        process.terminate()
        process.wait(timeout=10)


# -- ownership: the signed webhook decides ------------------------------------------------------


def test_a_browser_callback_never_takes_an_account_the_webhook_assigns_to_another(client, host):
    from flask_wink import get_state

    client.post("/wink/token", headers={"X-User": "mallory"})
    client.post("/wink/token", headers={"X-User": "alice"})
    with host.app_context():
        store = get_state().store
        alice_smile = store.upstream_user_id("smile_wink", "alice")
        mallory_smile = store.upstream_user_id("smile_wink", "mallory")
    # Mallory's browser claims the account first...
    for name in ("onAccountCreated", "onAccountConnected"):
        answer = client.post("/wink/callbacks", headers={"X-User": "mallory"},
                             json={"name": name, "args": {"accountId": "a-contested", "providerId": "grab"}})
        assert answer.status_code == 201
    with host.app_context():
        assert get_state().store.account("smile_wink", "a-contested").upstream_user_id == mallory_smile
    # ...then Smile's signed webhook says whose it is.
    body, headers = signed_webhook(make_event("ACCOUNT_CONNECTED", {
        "userId": alice_smile, "accountId": "a-contested", "providers": ["grab"]}), WEBHOOK_SECRET)
    assert client.post("/wink/webhooks", data=body, headers=headers).status_code == 200
    listed = client.get(f"/wink/accounts?upstreamUserId={alice_smile}", headers=ADMIN)
    accounts = listed.get_json()["accounts"]
    assert [a["accountId"] for a in accounts] == ["a-contested"]
    assert client.get("/wink/accounts?user=mallory", headers=ADMIN).get_json()["accounts"] == []
    # Mallory's browser can no longer move it.
    client.post("/wink/callbacks", headers={"X-User": "mallory"},
                json={"name": "onAccountRemoved", "args": {"accountId": "a-contested"}})
    with host.app_context():
        account = get_state().store.account("smile_wink", "a-contested")
    assert account.upstream_user_id == alice_smile and account.status == "CONNECTED"


def test_after_the_answer_the_webhook_still_decides_the_owner_with_the_event_handled(
    sandbox, tmp_path, database_url
):
    # Handled on the background pool, the owner a signed webhook gives an account is written
    # with the event's "handled" mark (the group commit), not in a transaction of its own: once
    # the handlers have run, both are there, on SQLite and PostgreSQL.
    from flask_wink import get_state

    app, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=database_url,
                           WINK_HANDLE_EVENTS="background")
    client = app.test_client()
    client.post("/wink/token", headers={"X-User": "mallory"})
    client.post("/wink/token", headers={"X-User": "alice"})
    with app.app_context():
        store = get_state().store
        alice_smile = store.upstream_user_id("smile_wink", "alice")
        mallory_smile = store.upstream_user_id("smile_wink", "mallory")
    claim = {"name": "onAccountConnected", "args": {"accountId": "a-bg", "providerId": "grab"}}
    answer = client.post("/wink/callbacks", headers={"X-User": "mallory"}, json=claim)
    assert answer.status_code == 201
    with app.app_context():
        state = get_state()
        assert state.wait_for_handlers()
        assert state.store.account("smile_wink", "a-bg").upstream_user_id == mallory_smile
    body, headers = signed_webhook(make_event("ACCOUNT_CONNECTED", {
        "userId": alice_smile, "accountId": "a-bg", "providers": ["grab"]}), WEBHOOK_SECRET)
    assert client.post("/wink/webhooks", data=body, headers=headers).status_code == 200
    with app.app_context():
        state = get_state()
        assert state.wait_for_handlers()
        assert state.store.account("smile_wink", "a-bg").upstream_user_id == alice_smile
        assert state.store.count_events(state="handled") == 2
        assert state.store.count_events(state="handling") == 0
        state.close()


def test_an_unchanged_session_cookie_is_sent_again_only_once_it_is_a_day_old(quickstart_app, monkeypatch):
    with quickstart_app.served() as served, httpx.Client(base_url=served.url) as client:
        first = client.get("/api/create_link_token")
        assert "Expires=" in first.headers["Set-Cookie"]  # a new visitor: a permanent session
        again = client.get("/api/create_link_token")
        assert again.json()["userId"] == first.json()["userId"]  # the same visitor, from the cookie
        assert "Set-Cookie" not in again.headers  # unchanged and fresh: not signed and sent again
        monkeypatch.setattr(HttpsAwareSessions, "REFRESH_AFTER", timedelta(0))
        old = client.get("/api/create_link_token")
        assert old.json()["userId"] == first.json()["userId"] and "Expires=" in old.headers["Set-Cookie"]
        # A cookie whose signature does not match is no session: a new visitor.
        payload, rest = client.cookies["wink_quickstart_session"].split(".", 1)
        client.cookies.clear()
        tampered = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + rest
        client.cookies.set("wink_quickstart_session", tampered)
        assert client.get("/api/create_link_token").json()["userId"] != first.json()["userId"]
