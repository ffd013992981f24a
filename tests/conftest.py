"""Shared fixtures: real servers on loopback ports, a host app that mounts the kit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request

from flask_wink import Wink
from flask_wink.testing import fresh_postgres_database, run_sandbox

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
