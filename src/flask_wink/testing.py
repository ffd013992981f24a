"""A pytest plugin for apps that use flask-wink (loaded automatically once the package is installed).

Fixtures:
    ``wink_sandbox``: the offline sandbox served on a free loopback port, for the test's duration.

Helpers:
    :func:`make_event` builds a Smile event envelope; :func:`signed_webhook` gives the body and
    headers Smile would send for it; :func:`serve` serves any WSGI app on loopback in a thread.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from waitress.server import create_server

from .webhooks import SIGNATURE_HEADER, sign


@dataclass
class Served:
    """A WSGI app served over loopback HTTP."""

    app: Any
    url: str
    port: int
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def serve(app, port: int = 0, threads: int = 8) -> Iterator[Served]:
    """Serve ``app`` with waitress on 127.0.0.1 in a thread; stop it on exit."""
    server = create_server(
        app, host="127.0.0.1", port=port, threads=threads, asyncore_loop_timeout=0.1
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Served(app=app, url=f"http://127.0.0.1:{server.effective_port}", port=server.effective_port)
    finally:
        # Close kept-alive client connections too, or the server loop would wait on them; the
        # loop's own thread does the closing so it never polls a closed socket.
        def close_all() -> None:
            for channel in list(server._map.values()):
                channel.close()

        try:
            server.trigger.pull_trigger(close_all)
        except OSError:  # the loop is already gone and took its trigger with it
            pass
        server.task_dispatcher.shutdown()
        thread.join(timeout=5)


@dataclass
class SandboxServer:
    """A running sandbox: point ``WINK_API_HOST`` at :attr:`api_host` with its key and secret."""

    url: str
    api_host: str
    api_key: str
    api_secret: str
    state: Any


@contextmanager
def run_sandbox(*, config: dict[str, Any] | None = None, **options: Any) -> Iterator[SandboxServer]:
    """Serve a fresh sandbox for the block (options go to ``create_sandbox_app``, ``config`` to its
    app config, e.g. ``{"WINK_SANDBOX_ANALYSIS_DELAY": 0.1}``)."""
    from .sandbox import create_sandbox_app

    options.setdefault("webhook_retry_delays", (0.05, 0.1))
    app = create_sandbox_app(**options)
    app.config.update(config or {})
    state = app.extensions["wink_sandbox"]
    try:
        with serve(app) as served:
            yield SandboxServer(served.url, served.url + "/v1", state.api_key, state.api_secret, state)
    finally:
        state.dispatcher.close()


@pytest.fixture
def wink_sandbox() -> Iterator[SandboxServer]:
    """The offline Smile sandbox on a free loopback port."""
    with run_sandbox() as sandbox:
        yield sandbox


def make_event(event_type: str, data: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """A Smile webhook envelope ``{id, version, type, createdAt, data}``."""
    return {
        "id": event_id or uuid.uuid4().hex,
        "version": 1,
        "type": event_type,
        "createdAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": data,
    }


def signed_webhook(event: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers Smile would send for ``event`` signed with ``secret``."""
    body = json.dumps(event).encode()
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)}


#: Where :func:`fresh_postgres_database` creates databases (a role with CREATEDB).
POSTGRES_URL = os.environ.get("WINK_TEST_POSTGRES_URL", "postgresql+psycopg://wink:wink@127.0.0.1:5432/postgres")


@contextmanager
def fresh_postgres_database(admin_url: str = POSTGRES_URL) -> Iterator[str]:
    """Create an empty PostgreSQL database for the block and drop it afterwards; yields its URL."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"wink_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise RuntimeError(
            f"PostgreSQL is needed here ({exc.orig}); `make test` starts it, or set WINK_TEST_POSTGRES_URL."
        ) from None
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
