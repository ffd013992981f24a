"""Logs: one INFO line per recorded browser event and webhook (provider, name, user, id; never a
payload, token or secret); the HTTP client's per-request lines only when asked (LOG_HTTP)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from quickstart.checks import configure_logging

from conftest import WEBHOOK_SECRET, free_port_url
from flask_wink.providers.smile_wink import sign

ROOT = Path(__file__).resolve().parent.parent


def test_one_info_line_per_recorded_callback_and_webhook(client, caplog):
    caplog.set_level(logging.INFO, logger="flask_wink")
    args = {"accountId": "a-1", "userId": "tenant-x", "providerId": "upwork", "token": "tok-secret-1"}
    answer = client.post("/wink/callbacks", json={"name": "onAccountConnected", "args": args},
                         headers={"X-User": "alice"})
    assert answer.status_code == 201
    event_id = answer.get_json()["id"]
    body = json.dumps({"id": "evt-1", "version": 1, "type": "ACCOUNT_CONNECTED",
                       "createdAt": time.strftime(
                           "%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "data": {"userId": "tenant-x", "accountId": "a-1", "providers": ["upwork"],
                                "accessToken": "tok-secret-2"}}).encode()
    headers = {"Smile-Signature": sign(body, WEBHOOK_SECRET), "Content-Type": "application/json"}
    stored = client.post("/wink/webhooks", data=body, headers=headers)
    assert stored.json["status"] == "stored"
    again = client.post("/wink/webhooks", data=body, headers=headers)
    assert again.json["status"] == "duplicate"

    recorded = [r.getMessage() for r in caplog.records if r.getMessage().startswith("recorded ")]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.getMessage().startswith("recorded "))
    assert recorded == [
        f"recorded smile_wink browser event onAccountConnected for user alice (event {event_id})",
        f"recorded smile_wink webhook ACCOUNT_CONNECTED for upstream user tenant-x "
        f"(event {stored.json['id']}, id evt-1)",
    ]
    text = caplog.text
    for secret in ("tok-secret-1", "tok-secret-2", WEBHOOK_SECRET, headers["Smile-Signature"]):
        assert secret not in text


def test_a_name_with_a_line_break_stays_on_one_line(client, caplog):
    caplog.set_level(logging.INFO, logger="flask_wink")
    body = json.dumps({"id": "evt-2\nFAKE recorded line", "version": 1, "type": "X\nY",
                       "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "data": {}}).encode()
    client.post("/wink/webhooks", data=body, headers={
        "Smile-Signature": sign(body, WEBHOOK_SECRET), "Content-Type": "application/json"})
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("recorded ")]
    assert "\n" not in line and "X\\nY" in line


def quickstart_output(tmp_path, **extra: str) -> str:
    port = int(free_port_url().rsplit(":", 1)[1])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "APP_PORT": str(port), "API_KEY": "", "API_SECRET": "",
           "WINK_API_KEY": "", "WINK_API_SECRET": "", "DATABASE_URL": "", "LOG_HTTP": "",
           "INSTANCE_PATH": str(tmp_path / "instance"), **extra}
    process = subprocess.Popen([sys.executable, "-m", "quickstart"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        with httpx.Client(base_url=url) as browser:
            assert browser.get("/api/create_link_token").status_code == 200
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not browser.get(
                    "/wink/events", params={"kind": "webhook"}).json()["events"]:
                time.sleep(0.1)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    return output


@pytest.mark.parametrize("asked", [False, True])
def test_http_client_lines_only_when_asked(tmp_path, asked):
    output = quickstart_output(tmp_path, LOG_HTTP="1" if asked else "")
    lines = output.splitlines()
    assert lines[0].startswith("Mode: sandbox ") and "Providers on: " in lines[0]
    assert any(line.startswith("INFO flask_wink: recorded smile_wink webhook USER_CREATED for upstream user "
                               "tenant-") for line in lines)
    http_lines = [line for line in lines if "HTTP Request:" in line]
    assert bool(http_lines) is asked


class _StuckStream:
    """stderr that blocks every write until released (a slow terminal, a full pipe)."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        self.released.wait(10)
        self.lines.append(text)

    def flush(self) -> None:
        pass


def test_the_quickstarts_request_threads_never_wait_for_the_log_stream(tmp_path, monkeypatch):
    from logging.handlers import QueueHandler

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    stuck = _StuckStream()
    monkeypatch.setattr(sys, "stderr", stuck)
    configure_logging({}, env_file=tmp_path / "none.env")
    (queued,) = root.handlers
    assert isinstance(queued, QueueHandler)
    start = time.monotonic()
    for n in range(3):
        logging.getLogger("flask_wink").info("recorded line %d", n)
    assert time.monotonic() - start < 1  # queued, though the stream takes nothing
    stuck.released.set()
    deadline = time.monotonic() + 5
    while len(stuck.lines) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "".join(stuck.lines) == "".join(f"INFO flask_wink: recorded line {n}\n" for n in range(3))
