"""The quickstart's one explicit mode: sandbox (an open demo) or live (admin surfaces closed,
no sandbox routes), over loopback HTTP and through `python -m quickstart`."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from quickstart.__main__ import start_lines
from quickstart.settings import load_settings

from conftest import free_port_url

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "correct horse battery staple"


def serve_live(quickstart_app, sandbox, **extra):
    """The quickstart in live mode against ``sandbox`` (Smile's keys under the extension's names)."""
    return quickstart_app.served(
        WINK_API_KEY=sandbox.api_key,  # the name the extension's docs use
        WINK_API_SECRET=sandbox.api_secret,
        OPEN_API_HOST=sandbox.api_host,
        WEBHOOK_SECRET="live-secret",
        **extra,
    )


def csrf_token(client: httpx.Client) -> str:
    page = client.get("/wink/link").text
    config = re.search(r'<script id="wink-config" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(html.unescape(config.group(1)))["csrfToken"]


# -- deciding the mode ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "environ, mode",
    [
        ({}, "sandbox"),
        ({"API_KEY": "k", "API_SECRET": "s"}, "live"),
        ({"WINK_API_KEY": "live_k", "WINK_API_SECRET": "s"}, "live"),
        ({"API_KEY": "k", "WINK_API_SECRET": "s", "MODE": "live"}, "live"),
        ({"MODE": "sandbox"}, "sandbox"),
    ],
)
def test_any_credential_under_any_name_means_live(tmp_path, environ, mode):
    assert load_settings(environ, env_file=tmp_path / "none").mode == mode


@pytest.mark.parametrize(
    "environ, named",
    [
        ({"WINK_API_KEY": "live_k"}, "API_SECRET"),
        ({"WINK_API_SECRET": "s"}, "API_KEY"),
        ({"MODE": "sandbox", "WINK_API_KEY": "live_k", "WINK_API_SECRET": "s"}, "MODE=sandbox"),
        ({"MODE": "live"}, "API_KEY and API_SECRET"),
        ({"MODE": "staging"}, "sandbox or live"),
    ],
)
def test_a_contradiction_refuses_to_start_naming_what_is_missing(tmp_path, environ, named):
    with pytest.raises(SystemExit, match=named):
        load_settings(environ, env_file=tmp_path / "none")


def test_the_start_prints_the_mode_and_how_to_enable_the_admin(sandbox, tmp_path):
    port = int(free_port_url().rsplit(":", 1)[1])
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "APP_PORT": str(port), "API_KEY": "", "API_SECRET": "",
        "WINK_API_KEY": sandbox.api_key, "WINK_API_SECRET": sandbox.api_secret,
        "OPEN_API_HOST": sandbox.api_host, "WEBHOOK_SECRET": "s", "ADMIN_PASSWORD": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'start.sqlite3'}",
    }
    process = subprocess.Popen([sys.executable, "-m", "quickstart"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first, second = process.stdout.readline(), process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert first.startswith("Mode: live ")
    assert "ADMIN_PASSWORD" in second and "off" in second


# -- live mode ---------------------------------------------------------------------------------


def test_live_mode_without_admin_password_hides_the_admin_surfaces(sandbox, quickstart_app):
    with serve_live(quickstart_app, sandbox) as live, httpx.Client(base_url=live.url) as browser:
        assert browser.get("/healthz").json() == {"status": "ok", "mode": "live"}
        for path in ("/invites", "/wink/events", "/wink/accounts", "/wink/events?user=someone-else"):
            answer = browser.get(path)
            assert answer.status_code == 404, path
            assert "ADMIN_PASSWORD" in answer.json()["message"]
        answer = browser.post("/invites/send", data={"email": "victim@example.com"})
        assert answer.status_code == 404
        for path in ("/sandbox/outbox", "/sandbox/outbox.json", "/sandbox/v1/providers"):
            assert browser.get(path).status_code == 404, path


def test_live_mode_users_see_their_own_events_and_accounts_only(sandbox, quickstart_app):
    with serve_live(quickstart_app, sandbox, ADMIN_PASSWORD=ADMIN_PASSWORD) as live:
        with httpx.Client(base_url=live.url) as alice, httpx.Client(base_url=live.url) as bob:
            assert alice.post("/api/create_link_token").status_code == 200
            alice_id = re.search(r"user=(anon-[0-9a-f]+)", alice.get("/").text).group(1)
            bob.post("/api/create_link_token")
            answer = alice.post("/wink/callbacks", json={"name": "onClose", "args": {"who": "alice"}},
                                headers={"X-CSRFToken": csrf_token(alice)})
            assert answer.status_code == 201
            own = alice.get(f"/wink/events?user={alice_id}")
            assert own.status_code == 200
            assert [e["payload"] for e in own.json()["events"]] == [{"who": "alice"}]
            assert alice.get(f"/wink/accounts?user={alice_id}").status_code == 200
            peeking = bob.get(f"/wink/events?user={alice_id}")
            assert peeking.status_code == 401
            assert peeking.headers["WWW-Authenticate"].startswith("Basic")
            assert bob.get("/wink/events").status_code == 401
            assert bob.get("/invites").status_code == 401
            assert bob.get("/invites", auth=("admin", "wrong")).status_code == 401
        with httpx.Client(base_url=live.url, auth=("admin", ADMIN_PASSWORD)) as admin:
            assert admin.get("/invites").status_code == 200
            everyone = admin.get("/wink/events")
            assert everyone.status_code == 200 and len(everyone.json()["events"]) == 1
            assert admin.get("/wink/accounts").status_code == 200


# -- sandbox mode --------------------------------------------------------------------------


def test_sandbox_mode_is_an_open_demo_and_says_so(quickstart_server):
    with httpx.Client(base_url=quickstart_server.url) as browser:
        assert browser.get("/healthz").json() == {"status": "ok", "mode": "sandbox"}
        assert "demo" in browser.get("/").text
        assert browser.get("/invites").status_code == 200
        assert browser.get("/wink/events").status_code == 200
        for path in ("/sandbox/outbox", "/sandbox/outbox.json"):
            answer = browser.get(path)
            assert answer.status_code == 200
            assert answer.headers["Cache-Control"] == "no-store"


def test_smile_id_keys_in_sandbox_mode_are_named_as_unused(tmp_path):
    given = {"SMILE_ID_PARTNER_ID": "085", "SMILE_ID_API_KEY": "a-key"}
    settings = load_settings(given, env_file=tmp_path / "none")
    lines = start_lines(settings, "http://127.0.0.1:8000")
    assert settings.mode == "sandbox"
    warning = [line for line in lines if line.startswith("Warning:")]
    assert warning and "SMILE_ID_PARTNER_ID, SMILE_ID_API_KEY" in warning[0] and "a-key" not in warning[0]
    plain = start_lines(load_settings({}, env_file=tmp_path / "none"), "http://127.0.0.1:8000")
    assert not any(line.startswith("Warning:") for line in plain)


def test_the_quickstart_passes_the_ucw_target_origin_on(quickstart_app):
    # WINK_UCW_TARGET_ORIGIN from the environment or .env reaches the kit, as docs/ucw.md says.
    from flask_wink import get_state

    app = quickstart_app(WINK_UCW_TARGET_ORIGIN="http://127.0.0.1:8766")
    assert get_state(app).providers["ucw"].target_origin == "http://127.0.0.1:8766"


def test_the_quickstart_passes_the_retry_settings_on_from_the_environment(quickstart_app):
    from flask_wink import get_state
    from flask_wink.state import RetryPolicy

    app = quickstart_app(WINK_RETRY_FIRST_DELAY="5", WINK_RETRY_FACTOR="3", WINK_RETRY_MAX_DELAY="600",
                         WINK_RETRY_ATTEMPTS="4")
    assert get_state(app).retry == RetryPolicy(first_delay=5, factor=3, max_delay=600, attempts=4)
