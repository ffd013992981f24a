"""The extension's lifecycle: what it owns and closes, what the host owns, what runs once."""

from __future__ import annotations

import dataclasses
import gc
import json
import time
import weakref

import httpx
import pytest
from flask import Flask, request

from conftest import ADMIN, WEBHOOK_SECRET, make_host_app
from example_provider import SIGNATURE_HEADER, TIMESTAMP_HEADER, AcmeVerify, sign
from flask_wink import Wink, get_state
from flask_wink.providers.smile_wink import SmileWink
from flask_wink.state import RetryPolicy
from flask_wink.testing import serve

USER = {"X-User": "ada"}


def mounted(tmp_path, name: str, *providers, **config) -> Flask:
    """A host app that mounts the kit with the host's own provider objects."""
    app = Flask(name, instance_path=str(tmp_path / name))
    app.config.update(SECRET_KEY="s", WTF_CSRF_ENABLED=False, **config)
    wink = Wink(app, providers=providers)

    @wink.user_id_loader
    def user():
        return request.headers.get("X-User")

    @wink.events_permission
    def admin():
        return request.headers.get("X-Admin") == "yes"

    return app


def collect(app: weakref.ref) -> None:
    """Collect garbage; fail when the app ``app`` refers to (the caller dropped it) is still alive,
    since the test would then prove nothing."""
    gc.collect()
    assert app() is None, "the app was not collected"


def acme_callback(url: str, body: dict) -> httpx.Response:
    raw = json.dumps(body).encode()
    timestamp = str(time.time())
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: sign(raw, timestamp, "acme-secret")}
    return httpx.post(f"{url}/wink/acme-verify/webhooks", content=raw, headers=headers)


def test_a_provider_the_host_shares_stays_open_when_one_of_its_apps_is_collected(sandbox, tmp_path):
    smile = SmileWink.from_config({
        "WINK_API_KEY": sandbox.api_key, "WINK_API_SECRET": sandbox.api_secret,
        "WINK_API_HOST": sandbox.api_host, "WINK_WEBHOOK_SECRETS": [WEBHOOK_SECRET],
    })
    first = mounted(tmp_path, "first", smile)
    second = mounted(tmp_path, "second", smile)
    gone = weakref.ref(first)
    del first
    collect(gone)
    with serve(second) as served:
        answer = httpx.post(f"{served.url}/wink/token", headers=USER)
    assert answer.status_code == 201, answer.text  # minted over the shared provider's client
    assert answer.json()["userId"]
    smile.close()  # the host's provider: the host closes it


def test_a_provider_the_extension_built_is_closed_when_its_app_is_collected(sandbox, tmp_path):
    app, _wink = make_host_app(sandbox, tmp_path)
    smile = get_state(app).providers["smile_wink"]
    with serve(app) as served:
        assert httpx.post(f"{served.url}/wink/token", headers=USER).status_code == 201
    gone = weakref.ref(app)
    del app, _wink, served  # the server's record holds the app too
    collect(gone)
    with pytest.raises(RuntimeError, match="client has been closed"):
        smile.client.get_user("anyone")


def test_closing_one_app_leaves_a_shared_provider_open_for_the_others(tmp_path):
    acme = AcmeVerify()
    first = mounted(tmp_path, "first", acme, WINK_HANDLE_EVENTS="request")
    second = mounted(tmp_path, "second", acme, WINK_HANDLE_EVENTS="request")
    get_state(first).close()
    assert not acme.closed
    with serve(second) as served:
        answer = acme_callback(served.url, {"jobId": "j1", "result": "approved", "verification": "v1"})
    assert answer.status_code == 200 and answer.json()["status"] == "stored"


def test_a_transport_for_providers_passed_in_is_refused_in_one_line(tmp_path):
    app = Flask("transport", instance_path=str(tmp_path / "instance"))
    app.config["SECRET_KEY"] = "s"
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    with pytest.raises(RuntimeError, match=r"^Wink\(transport=\.\.\.\) applies only to providers built"):
        Wink(app, providers=[AcmeVerify()], transport=transport)


@pytest.mark.parametrize("mode", ["background", "request"])
def test_the_status_a_webhook_reports_is_read_from_its_provider_once(tmp_path, mode):
    acme = AcmeVerify()
    app = mounted(tmp_path, "once", acme, WINK_HANDLE_EVENTS=mode)
    with serve(app) as served:
        answer = acme_callback(served.url, {"jobId": "j1", "result": "approved", "verification": "v1"})
        assert answer.status_code == 200 and answer.json()["status"] == "stored"
        assert get_state(app).wait_for_handlers(10)
        accounts = httpx.get(f"{served.url}/wink/accounts", headers=ADMIN).json()["accounts"]
    assert [(a["accountId"], a["status"]) for a in accounts] == [("v1", "approved")]
    assert acme.handled  # the handlers ran, after the status was recorded
    assert acme.status_reads == 1


@pytest.mark.parametrize("mode", ["background", "request"])
def test_the_status_a_browser_event_reports_is_read_from_its_provider_once(tmp_path, mode):
    acme = AcmeVerify()
    app = mounted(tmp_path, "browser-once", acme, WINK_HANDLE_EVENTS=mode)
    with serve(app) as served:
        answer = httpx.post(f"{served.url}/wink/acme-verify/callbacks", headers=USER,
                            json={"name": "pageOpened", "args": {}})
        assert answer.status_code == 201 and answer.json()["status"] == "recorded"
        assert get_state(app).wait_for_handlers(10)
    assert acme.status_reads == 1


def test_a_worker_reads_the_status_of_the_events_it_handles_once(tmp_path):
    from flask_wink.pipeline import run_worker

    acme = AcmeVerify()
    app = mounted(tmp_path, "worker", acme, WINK_HANDLE_EVENTS="worker")
    with serve(app) as served:
        answer = acme_callback(served.url, {"jobId": "j1", "result": "approved", "verification": "v1"})
    assert answer.status_code == 200 and acme.status_reads == 0  # stored for the worker, unread
    assert run_worker(app, once=True) == 1
    assert acme.status_reads == 1


def test_each_providers_blueprint_is_asked_for_once_per_app(tmp_path):
    acme = AcmeVerify()
    app = mounted(tmp_path, "parts", acme, WINK_HANDLE_EVENTS="request")
    with serve(app) as served:
        assert acme_callback(served.url, {"jobId": "j1", "result": "submitted"}).status_code == 200
    assert acme.parts_asked == 1


def test_the_settings_are_parsed_once_into_a_frozen_value_the_state_reads(tmp_path):
    app = mounted(tmp_path, "settings", AcmeVerify(), WINK_HANDLE_EVENTS="worker", WINK_RETRY_ATTEMPTS=3,
                  WINK_URL_PREFIX="/link/")
    state = get_state(app)
    assert state.settings.handle_events == "worker" and not state.handles_events
    assert state.handler_name is None and state.process_name  # worker mode: stored events wait
    assert state.settings.url_prefix == "/link" and state.retry == RetryPolicy(attempts=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.settings.retry = RetryPolicy()  # type: ignore[misc]
    state.retry = RetryPolicy(attempts=1)  # what tests replace, through the state
    assert state.settings.retry.attempts == 1
