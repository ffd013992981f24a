"""Shared fixtures: real servers on loopback ports, a host app that mounts the kit."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


class QuickstartApps:
    """Builds the quickstart as ``python -m quickstart`` does, from settings given as keyword
    arguments under the names ``.env`` uses (``WEBHOOK_SECRET="s"``, ``API_KEY=...``: sandbox mode
    unless a Smile credential is given), with no ``.env`` read. Unless given, ``APP_PORT`` is a free
    port and ``DATABASE_URL`` a SQLite file in ``folder`` (:attr:`database`, shared by the apps of
    one test); each app has its own instance folder under ``folder``. On exit, closes what each app
    opened: its sandboxes' threads and the kit's store, handlers and clients."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.database = folder / "wink.sqlite3"
        self.apps: list[Flask] = []

    def __call__(self, **settings: str) -> Flask:
        from quickstart.app import create_app
        from quickstart.settings import load_settings

        environ = {
            "APP_PORT": free_port_url().rsplit(":", 1)[1],
            "DATABASE_URL": f"sqlite:///{self.database}",
            **settings,
        }
        instance = self.folder / ("instance" if not self.apps else f"instance-{len(self.apps) + 1}")
        app = create_app(load_settings(environ, env_file=self.folder / "none.env"), instance_path=instance)
        self.apps.append(app)
        return app

    @contextmanager
    def served(self, *, threads: int = 8, **settings: str) -> Iterator[Any]:
        """The quickstart built from ``settings``, served by waitress on its ``APP_PORT``: the
        :class:`~flask_wink.testing.Served` (``.url``, ``.app``)."""
        from flask_wink.testing import serve

        app = self(**settings)
        with serve(app, port=app.config["QUICKSTART"].app_port, threads=threads) as served:
            yield served

    def __enter__(self) -> QuickstartApps:
        return self

    def __exit__(self, *exc_info: object) -> None:
        from flask_wink import get_state

        for app in self.apps:
            if (sandbox := app.config.get("QUICKSTART_SANDBOX")) is not None:
                sandbox.extensions["wink_sandbox"].dispatcher.close()
            if (smile_id := app.config.get("QUICKSTART_SMILE_ID_SANDBOX")) is not None:
                smile_id.extensions["smile_id_sandbox"].close()
            get_state(app).close()


@pytest.fixture
def quickstart_app(tmp_path) -> Iterator[QuickstartApps]:
    """``quickstart_app(**settings)``: the quickstart built from these settings (see
    :class:`QuickstartApps`), closed at teardown; ``quickstart_app.served(**settings)`` serves one."""
    with QuickstartApps(tmp_path) as apps:
        yield apps


@pytest.fixture
def quickstart_server(quickstart_app):
    """The quickstart in sandbox mode, served by waitress on a free port; ``.sandbox`` is its state."""
    with quickstart_app.served(WEBHOOK_SECRET=QUICKSTART_WEBHOOK_SECRET) as served:
        served.sandbox = served.app.config["QUICKSTART_SANDBOX"].extensions["wink_sandbox"]
        yield served


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
