"""The webhook receiver answers the same through the WSGI fast path and through Flask's route."""

from __future__ import annotations

import json
import socket
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest
from flask import abort, request
from werkzeug.middleware.proxy_fix import ProxyFix

from conftest import ADMIN, WEBHOOK_SECRET, make_host_app
from flask_wink import get_state, signals
from flask_wink.providers.smile_wink import sign
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook
from flask_wink.receiver import WebhookFastPath
from flask_wink.testing import serve


@pytest.fixture(params=[True, False], ids=["fast-path", "flask-route"])
def make_app(request, sandbox, tmp_path):
    def build(**config):
        app, _ = make_host_app(sandbox, tmp_path, WINK_WEBHOOK_FAST_PATH=request.param, **config)
        assert isinstance(app.wsgi_app, WebhookFastPath) is request.param
        return app

    return build


def connected(event_id=None):
    event = make_event("ACCOUNT_CONNECTED", {"userId": "u-1", "accountId": "a-1", "providers": ["upwork"]})
    if event_id:
        event["id"] = event_id
    return event


def deliver(client, event, secret=WEBHOOK_SECRET, path="/wink/webhooks", **kwargs):
    body, headers = signed_webhook(event, secret)
    return client.post(path, data=body, headers=headers, **kwargs)


def test_a_webhook_is_stored_handled_and_a_redelivery_only_acknowledged(make_app):
    app = make_app()
    seen = []
    signals.webhook_received.connect(lambda sender, **kw: seen.append(kw["event"].event_id), app, weak=False)
    changed = []
    signals.account_status_changed.connect(lambda sender, **kw: changed.append(kw["status"]), app, weak=False)
    client = app.test_client()
    first = deliver(client, connected("evt-1"))
    assert first.status_code == 200 and first.mimetype == "application/json"
    assert first.get_json()["status"] == "stored" and first.get_json()["eventId"] == "evt-1"
    again = deliver(client, connected("evt-1"))
    assert again.status_code == 200 and again.get_json() == {"status": "duplicate", "eventId": "evt-1"}
    assert seen == ["evt-1"] and changed == ["CONNECTED"]
    events = client.get("/wink/events", headers=ADMIN).get_json()["events"]
    assert [e["eventId"] for e in events] == ["evt-1"]
    with app.app_context():
        assert get_state().store.account("smile_wink", "a-1").status == "CONNECTED"


@pytest.mark.parametrize(
    "change, status, error, words",
    [
        ({"secret": "forged"}, 401, "InvalidSignature", "does not match"),
        ({"headers": {"Smile-Signature": ""}}, 401, "InvalidSignature", "missing"),
        ({"body": b'{"hello": "world"}'}, 400, "InvalidRequest", "envelope"),
        ({"headers": {"Content-Type": "text/plain"}}, 415, "UnsupportedType", "application/json"),
        ({"config": {"WINK_WEBHOOK_MAX_BYTES": 100}}, 413, "PayloadTooLarge", "limit of 100 bytes"),
        ({"config": {"WINK_WEBHOOK_ALLOWED_IPS": "203.0.113.7"}}, 403, "NotAllowed", "address"),
        ({"clock": 10**10}, 400, "StaleEvent", "WINK_WEBHOOK_MAX_AGE"),
    ],
    ids=["forged", "unsigned", "envelope", "content-type", "too-large", "source", "stale"],
)
def test_refusals_are_json_with_a_reason_and_store_nothing(make_app, change, status, error, words):
    app = make_app(**change.get("config", {}))
    if "clock" in change:
        with app.app_context():
            get_state().clock = lambda: change["clock"]
    body, headers = signed_webhook(connected(), change.get("secret", WEBHOOK_SECRET))
    if "body" in change:
        body = change["body"]
        headers["Smile-Signature"] = sign(body, WEBHOOK_SECRET)
    headers |= change.get("headers", {})
    client = app.test_client()
    response = client.post("/wink/webhooks", data=body, headers=headers)
    assert response.status_code == status
    assert response.get_json()["error"] == error and words in response.get_json()["message"]
    assert client.get("/wink/events", headers=ADMIN).get_json()["events"] == []


def test_a_database_failure_is_503_and_nothing_is_acknowledged(make_app, tmp_path):
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"this is not a database " * 100)
    app = make_app(WINK_DATABASE_URL=f"sqlite:///{broken}")
    response = deliver(app.test_client(), connected())
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "StorageUnavailable" and "delivers it again" in body["message"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_other_methods_and_paths_go_on_to_flask(make_app):
    client = make_app().test_client()
    assert client.get("/wink/webhooks").status_code == 405
    assert client.post("/wink/webhooks/").status_code in (308, 404)  # Flask's own answers


def test_a_custom_url_prefix_is_where_webhooks_are_received(make_app):
    app = make_app(WINK_URL_PREFIX="/hooks/smile")
    assert deliver(app.test_client(), connected(), path="/hooks/smile/webhooks").status_code == 200
    assert deliver(app.test_client(), connected(), path="/wink/webhooks").status_code == 404


def test_over_real_http_a_chunked_oversized_body_is_413(make_app):
    app = make_app(WINK_WEBHOOK_MAX_BYTES=1024)
    with serve(app) as served:
        oversized = httpx.post(served.url + "/wink/webhooks", content=(b"x" * 512 for _ in range(10)))
        body, headers = signed_webhook(connected(), WEBHOOK_SECRET)
        chunked = httpx.post(served.url + "/wink/webhooks", content=iter([body]), headers=headers)
    assert oversized.status_code == 413
    assert chunked.status_code == 200 and chunked.json()["status"] == "stored"


# -- what the fast path skips, and how to keep it ----------------------------------------------


def login_required(app):
    @app.before_request
    def require_login():
        if request.headers.get("X-User") is None:
            abort(401)


def test_a_login_check_before_requests_does_not_refuse_smiles_webhooks_on_the_fast_path(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_WEBHOOK_FAST_PATH=True)
    login_required(app)
    assert deliver(app.test_client(), connected()).status_code == 200
    assert app.test_client().get("/wink/events", headers=ADMIN).status_code == 401


def test_through_flask_the_apps_request_hooks_run_for_webhooks(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_WEBHOOK_FAST_PATH=False)
    login_required(app)
    assert deliver(app.test_client(), connected()).status_code == 401


def test_middleware_wrapped_after_the_kit_sees_webhooks(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_WEBHOOK_ALLOWED_IPS="203.0.113.7")
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    body, headers = signed_webhook(connected(), WEBHOOK_SECRET)
    assert app.test_client().post("/wink/webhooks", data=body, headers=headers | forwarded).status_code == 200
    assert deliver(app.test_client(), connected()).status_code == 403


def test_receivers_run_inside_the_app_context(make_app):
    app = make_app()
    names = []

    def receiver(sender, **kw):
        from flask import current_app

        names.append(current_app.name)

    signals.webhook_received.connect(receiver, app, weak=False)
    assert deliver(app.test_client(), connected()).status_code == 200
    assert names == [app.name]


def test_fields_too_long_for_the_account_table_do_not_stop_the_event(make_app, database_url):
    app = make_app(WINK_DATABASE_URL=database_url)
    event = make_event("ACCOUNT_CONNECTED", {"userId": "u" * 300, "accountId": "a" * 201,
                                             "providers": ["p" * 150]})
    long_error = make_event("ACCOUNT_FAILED", {"userId": "u-1", "accountId": "a-2", "providers": ["p" * 150],
                                               "errorCode": "E" * 150})
    client = app.test_client()
    assert deliver(client, event).get_json()["status"] == "stored"
    assert deliver(client, long_error).get_json()["status"] == "stored"
    with app.app_context():
        store = get_state().store
        assert store.account("smile_wink", "a" * 201) is None  # not an id the store can keep: not tracked
        kept = store.account("smile_wink", "a-2")
    assert kept.institution_id == "p" * 100 and kept.error_code == "E" * 100


def test_the_apps_max_content_length_is_honoured_with_a_json_413(make_app):
    app = make_app(MAX_CONTENT_LENGTH=100)
    response = deliver(app.test_client(), connected())
    assert response.status_code == 413 and response.get_json()["error"] == "PayloadTooLarge"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def test_a_chunked_body_on_a_server_that_cannot_end_it_is_411(make_app):
    # wsgiref passes a chunked body on as it came, with no length and without marking the
    # stream terminated: the receiver cannot know where it ends.
    app = make_app()
    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    body, headers = signed_webhook(connected(), WEBHOOK_SECRET)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = (
        f"POST /wink/webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Transfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    try:
        with socket.create_connection(server.server_address, timeout=10) as sock:
            sock.sendall(request)  # in one piece, so the server has read it all when it closes
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"411"
    assert b"application/json" in head.lower()
    error = json.loads(payload)
    assert error["error"] == "LengthRequired" and "Content-Length" in error["message"]
    assert app.test_client().get("/wink/events", headers=ADMIN).get_json()["events"] == []
@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_a_webhook_is_stored_on_postgresql_through_either_driver(make_app, driver):
    import sqlalchemy as sa

    from postgres import fresh_postgres_database

    with fresh_postgres_database() as url:
        url = sa.engine.make_url(url).set(drivername=f"postgresql+{driver}").render_as_string(False)
        app = make_app(WINK_DATABASE_URL=url)
        client = app.test_client()
        try:
            first = deliver(client, connected("evt-1"))
            assert first.status_code == 200 and first.get_json()["status"] == "stored"
            assert deliver(client, connected("evt-1")).get_json()["status"] == "duplicate"
            with app.app_context():
                assert get_state().store.account("smile_wink", "a-1").status == "CONNECTED"
        finally:
            with app.app_context():
                get_state().store.dispose()
