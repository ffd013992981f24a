"""Shared fixtures: real servers on loopback ports, a host app that mounts the kit."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, request

from flask_wink import Wink
from flask_wink.testing import run_sandbox

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


POSTGRES_URL = os.environ.get("WINK_TEST_POSTGRES_URL", "postgresql+psycopg://wink:wink@127.0.0.1:5432/postgres")


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"wink_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is needed for these tests ({exc.orig}); run `make test`, which starts it, "
            "or set WINK_TEST_POSTGRES_URL."
        ) from None
    url = sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """The same test on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wink.sqlite3'}"
    else:
        with fresh_postgres_database() as url:
            yield url
