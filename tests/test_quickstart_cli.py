"""`flask --app quickstart.app wink ...` against a running quickstart in sandbox mode: the command
builds the app in its own process, reads the sandbox keys the server wrote to the instance folder,
and so reaches the server's sandboxes and database (as docs/reference.md#command-line says)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from quickstart.sandbox_keys import sandbox_keys

from conftest import free_port_url

ROOT = Path(__file__).resolve().parent.parent
FLASK = [sys.executable, "-m", "flask", "--app", "quickstart.app"]


@pytest.fixture
def running_quickstart(tmp_path):
    port = int(free_port_url().rsplit(":", 1)[1])
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "APP_PORT": str(port), "API_KEY": "", "API_SECRET": "",
        "WINK_API_KEY": "", "WINK_API_SECRET": "", "DATABASE_URL": "", "SECRET_KEY": "",
        "INSTANCE_PATH": str(tmp_path / "instance"),
    }
    process = subprocess.Popen([sys.executable, "-m", "quickstart"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url, env, tmp_path
    finally:
        process.terminate()
        process.wait(timeout=10)


def flask(env, cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*FLASK, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_the_commands_reach_the_running_quickstarts_sandboxes_and_database(running_quickstart):
    url, env, cwd = running_quickstart
    keys = json.loads((cwd / "instance" / "sandbox-keys.json").read_text())
    assert oct((cwd / "instance" / "sandbox-keys.json").stat().st_mode & 0o777) == "0o600"

    token = flask(env, cwd, "wink", "token", "alice")
    assert token.returncode == 0, token.stderr
    minted = json.loads(token.stdout)
    assert minted["mode"] == "SANDBOX" and minted["userId"].startswith("tenant-")
    # The server's sandbox made that Smile user: its USER_CREATED webhook reached the server's
    # /wink/webhooks and is in the database the server and the command share.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        events = httpx.get(f"{url}/wink/events", params={"user": "alice", "kind": "webhook"}).json()["events"]
        if events:
            break
        time.sleep(0.1)
    assert [e["name"] for e in events] == ["USER_CREATED"]
    listed = flask(env, cwd, "wink", "events", "--kind", "webhook")
    assert json.loads(listed.stdout.splitlines()[0])["upstreamUserId"] == minted["userId"]

    hooks = flask(env, cwd, "wink", "webhooks", "list")
    assert hooks.returncode == 0, hooks.stderr
    assert json.loads(hooks.stdout.splitlines()[0])["url"] == f"{url}/wink/webhooks"

    for args in (["invites", "list", "--json"], ["smile-wink", "invites", "templates", "list", "--json"]):
        done = flask(env, cwd, "wink", *args)
        assert done.returncode == 0, done.stderr

    made = flask(env, cwd, "wink", "smile-id", "links", "create", "--name", "Docs check")
    assert made.returncode == 0, made.stderr
    links = flask(env, cwd, "wink", "smile-id", "links", "list", "--json")
    assert "Docs check" in links.stdout
    # ... made in the server's emulator, under the partner id the key file holds.
    assert keys["smile_id_partner_id"] in httpx.get(f"{url}/sandbox/smile-id/").text

    revoked = flask(env, cwd, "wink", "revoke", "account", "a-unknown")
    assert revoked.returncode != 0 and "Traceback" not in revoked.stderr
    assert "401" not in revoked.stderr and "INVALID_CREDENTIALS" not in revoked.stderr


def test_a_restart_keeps_the_keys(tmp_path):
    first = sandbox_keys(tmp_path)
    assert sandbox_keys(tmp_path) == first
    (tmp_path / "sandbox-keys.json").write_text("{not json")
    remade = sandbox_keys(tmp_path)
    assert remade != first and sandbox_keys(tmp_path) == remade


def test_trigger_sends_a_test_event_the_running_quickstart_accepts(running_quickstart):
    url, env, cwd = running_quickstart
    token = flask(env, cwd, "wink", "token", "alice")
    assert token.returncode == 0, token.stderr

    sent = flask(env, cwd, "wink", "trigger", "ACCOUNT_CONNECTED", "--user", "alice")

    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert f"to {url}/wink/smile-wink/webhooks" in sent.stdout
    assert "The app answered HTTP 200" in sent.stdout
    events = httpx.get(f"{url}/wink/events", params={"user": "alice", "kind": "webhook"}).json()["events"]
    assert "ACCOUNT_CONNECTED" in [e["name"] for e in events]
