"""The quickstart: settings, routes, and `python -m quickstart` as `make run` starts it."""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from quickstart.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_environment_beats_env_file_beats_defaults(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("APP_PORT=9001\nWINK_TEMPLATE_ID=from-file\nSECRET_KEY=file-secret\n")
    settings = load_settings({"APP_PORT": "9002"}, env_file=env_file)
    assert settings.app_port == 9002
    assert settings.template_id == "from-file"
    assert settings.secret_key == "file-secret"
    assert load_settings({}, env_file=tmp_path / "missing").app_port == 8000


def test_no_api_key_means_sandbox(tmp_path):
    assert load_settings({}, env_file=tmp_path / "none").sandbox
    assert not load_settings({"API_KEY": "k", "API_SECRET": "s"}, env_file=tmp_path / "none").sandbox


def test_api_key_without_secret_stops_with_a_sentence(tmp_path):
    with pytest.raises(SystemExit, match="API_SECRET"):
        load_settings({"API_KEY": "k"}, env_file=tmp_path / "none")


@pytest.fixture
def quickstart(quickstart_app):
    with quickstart_app.served(ALLOWED_ORIGINS="http://app.example", TOP_PROVIDERS="upwork,grab") as served:
        yield served


def test_healthz(quickstart):
    assert httpx.get(quickstart.url + "/healthz").json() == {"status": "ok", "mode": "sandbox"}


def test_create_link_token_has_the_node_quickstart_shape(quickstart):
    with httpx.Client(base_url=quickstart.url) as client:
        body = client.get("/api/create_link_token").json()
        again = client.post("/api/create_link_token").json()
    for key in ("id", "accessToken", "expiresAt", "mode", "topProviders", "providers", "enableUpload"):
        assert key in body
    assert body["mode"] == "SANDBOX"
    assert body["topProviders"] == ["upwork", "grab"]
    assert body["enableUpload"] is True
    assert body["sdkUrl"] == quickstart.url + "/sandbox/v2/smile.v2.js"
    # The same browser session is the same user.
    assert again["userId"] == body["userId"]


def test_create_link_token_is_same_origin_unless_allowed(quickstart):
    url = quickstart.url + "/api/create_link_token"
    foreign = httpx.get(url, headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in foreign.headers
    allowed = httpx.get(url, headers={"Origin": "http://app.example"})
    assert allowed.headers["access-control-allow-origin"] == "http://app.example"


def test_index_and_frontend_are_served(quickstart):
    index = httpx.get(quickstart.url + "/").text
    assert "Link an account" in index
    assert quickstart.url + "/sandbox/v2/smile.v2.js" in index
    assert "Try SDK v1" in index
    frontend = httpx.get(quickstart.url + "/frontend/").text
    assert "/api/create_link_token" in frontend


def test_sandbox_is_mounted_with_its_api(quickstart):
    refused = httpx.get(quickstart.url + "/sandbox/v1/providers")
    assert refused.status_code == 401
    assert refused.json()["code"] == "INVALID_CREDENTIALS"


def test_make_run_entry_point_serves_on_app_port(tmp_path):
    port = free_port()
    env = {**os.environ, "APP_PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}",
           "INSTANCE_PATH": str(tmp_path / "instance")}
    env["API_KEY"] = ""  # beats an API_KEY in a developer's .env
    process = subprocess.Popen([sys.executable, "-m", "quickstart"], cwd=tmp_path, env={
        **env, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first_line = process.stdout.readline()
        # The start line says the mode, the URL and which providers are on.
        assert first_line.strip() == (
            f"Mode: sandbox (no API_KEY set: using the built-in Smile sandbox). Open http://127.0.0.1:{port}"
            " Providers on: smile_id (built-in emulator), smile_wink (built-in emulator), "
            "ucw (built-in emulator)."
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the quickstart did not start listening"
                time.sleep(0.1)
        token = httpx.get(f"http://127.0.0.1:{port}/api/create_link_token")
        assert token.status_code == 200 and token.json()["accessToken"]
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- Smile ID in the quickstart ----------------------------------------------------------------


def test_sandbox_mode_mounts_the_smile_id_emulator(quickstart):
    refused = httpx.post(quickstart.url + "/sandbox/smile-id/v1/smile_links/:list", json={})
    assert refused.status_code == 400 and refused.json()["code"] == "2213"
    index = httpx.get(quickstart.url + "/").text
    assert "Verify your identity" in index and "Smile Links admin" in index
    assert httpx.get(quickstart.url + "/smile-id/links").status_code == 200


def test_live_mode_enables_smile_id_only_with_its_keys_and_keeps_the_admin_page_closed(quickstart_app):
    from flask_wink.providers.smile_id.testing import run_sandbox

    base = {"API_KEY": "k", "API_SECRET": "s"}
    without = quickstart_app(**base)
    client = without.test_client()
    assert client.post("/wink/smile-id/start").status_code == 404
    assert "Verify your identity" not in client.get("/").get_data(as_text=True)
    with run_sandbox() as emulator:
        keys = {"SMILE_ID_PARTNER_ID": emulator.partner_id, "SMILE_ID_API_KEY": emulator.api_key,
                "SMILE_ID_HOST": emulator.host, "PUBLIC_URL": "https://app.example.com"}
        closed = quickstart_app(**base, **keys)
        assert "Verify your identity" in closed.test_client().get("/").get_data(as_text=True)
        assert closed.test_client().get("/smile-id/links").status_code == 404
        opened = quickstart_app(**base, **keys, ADMIN_PASSWORD="pw")
        admin = opened.test_client()
        assert admin.get("/smile-id/links").status_code == 401
        signed_in = {"Authorization": "Basic " + base64.b64encode(b"admin:pw").decode()}
        assert admin.get("/smile-id/links", headers=signed_in).status_code == 200


def test_another_flask_apps_session_cookie_on_the_same_host_does_not_sign_the_user_out(quickstart_server):
    # Cookies ignore ports: a Flask app on 127.0.0.1:<another port> sets "session" for this host too.
    with httpx.Client(base_url=quickstart_server.url) as browser:
        first = re.search(r"user=(anon-[0-9a-f]+)", browser.get("/").text).group(1)
        assert "wink_quickstart_session" in browser.cookies
        browser.cookies.set("session", "the-host-apps-own-session", domain="127.0.0.1")
        again = browser.get("/")
        assert re.search(r"user=(anon-[0-9a-f]+)", again.text).group(1) == first
        assert "session=" not in again.headers.get("set-cookie", "").replace("_session=", "")
        assert browser.cookies.get("session") == "the-host-apps-own-session"
