"""Shared fixtures: real servers on loopback ports, a host app that mounts the kit."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request

from flask_wink import Wink
from flask_wink.providers.smile_wink.testing import run_sandbox
from postgres import fresh_postgres_database

WEBHOOK_SECRET = "whsec-test-0123456789"


@pytest.fixture
def sandbox():
    """The sandbox served on a free port (fast webhook retries)."""
    with run_sandbox() as served:
        yield served


def make_host_app(sandbox, tmp_path, **config: Any) -> tuple[Flask, Wink]:
    """A host app as a user would write it: the user comes from the X-User header."""
    app = Flask("host_app", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SECRET_KEY="test-secret",
        WTF_CSRF_ENABLED=False,
        WINK_API_KEY=sandbox.api_key,
        WINK_API_SECRET=sandbox.api_secret,
        WINK_API_HOST=sandbox.api_host,
        WINK_WEBHOOK_SECRETS=[WEBHOOK_SECRET],
        # Handlers run in the request here, so a test can assert what they did without waiting;
        # the default ("background") has tests of its own in test_pipeline.py.
        WINK_HANDLE_EVENTS="request",
    )
    app.config.update(config)
    wink = Wink(app)

    @wink.user_id_loader
    def user_from_header():
        return request.headers.get("X-User")

    @wink.events_permission
    def may_read():
        return request.headers.get("X-Admin") == "yes"

    return app, wink


@pytest.fixture
def host(sandbox, tmp_path) -> Flask:
    app, _wink = make_host_app(sandbox, tmp_path)
    return app


@pytest.fixture
def app(host):
    """The host app, for pytest-flask's ``client`` fixture."""
    return host


ADMIN = {"X-Admin": "yes"}


def child_exit_code(pid: int, failure: str, timeout: float = 30) -> int:
    """The exit code of forked child ``pid``; the test fails with ``failure`` (the child killed)
    when it has not ended within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail(failure)
        time.sleep(0.05)
    return os.waitstatus_to_exitcode(done[1])


def free_port_url() -> str:
    """A loopback URL where nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """The same test on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wink.sqlite3'}"
    else:
        with fresh_postgres_database() as url:
            yield url


# -- browser tests: one Chromium (Debian's) for the whole run, the quickstart on a free port ---------

CHROMIUM = os.environ.get("WINK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
QUICKSTART_WEBHOOK_SECRET = "quickstart-test-secret"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def quickstart_server(tmp_path):
    """The quickstart in sandbox mode, served by waitress on a free port; ``.sandbox`` is its state."""
    from quickstart.app import create_app
    from quickstart.settings import load_settings

    from flask_wink.testing import serve

    port = int(free_port_url().rsplit(":", 1)[1])
    settings = load_settings(
        {
            "APP_PORT": str(port),
            "WEBHOOK_SECRET": QUICKSTART_WEBHOOK_SECRET,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'wink.sqlite3'}",
        },
        env_file=tmp_path / "none.env",
    )
    app = create_app(settings, instance_path=tmp_path / "instance")
    with serve(app, port=port) as served:
        served.sandbox = app.config["QUICKSTART_SANDBOX"].extensions["wink_sandbox"]
        yield served
        served.sandbox.dispatcher.close()


def link_in_widget(dialog, provider="Upwork", username="George", password="123456", code="1234"):
    """Go through the sandbox widget as a person would: agree, pick, log in, enter the code."""
    dialog.get_by_role("button", name="Agree").click()
    dialog.get_by_role("button", name=provider, exact=True).click()
    dialog.get_by_label("Username").fill(username)
    dialog.get_by_label("Password").fill(password)
    dialog.get_by_role("button", name="Continue").click()
    if code is not None:
        dialog.get_by_label("Verification code").fill(code)
        dialog.get_by_role("button", name="Continue").click()


def link_in_emulator(sandbox, access_token: str) -> str:
    """Link George's Upwork account through the sandbox's widget endpoints, as the widget does but
    without a browser: the account id Smile made."""
    import httpx

    widget = sandbox.url + "/widget"
    session = httpx.post(widget + "/session", json={"token": access_token}).json()["sessionId"]
    login = {"sessionId": session, "providerId": "upwork", "username": "George", "password": "123456"}
    account = httpx.post(widget + "/accounts", json=login).json()["account"]
    account = httpx.post(widget + f"/accounts/{account['id']}/mfa",
                         json={"sessionId": session, "code": "1234"}).json()["account"]
    assert account["status"] == "CONNECTED", account
    return account["id"]
