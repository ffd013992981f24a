"""A pytest plugin for apps that use flask-wink (loaded automatically once the package is installed).

Fixtures:
    ``wink_sandbox``: the offline sandbox served on a free loopback port, for the test's duration.

Helpers:
    :func:`make_event` builds a Smile event envelope; :func:`signed_webhook` gives the body and
    headers Smile would send for it; :func:`serve` serves any WSGI app on loopback in a thread.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from waitress import create_server

from .timeutil import iso, utcnow
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
    """Serve ``app`` with waitress on 127.0.0.1 in a thread; stop it on exit, kept-alive
    connections included."""
    # The server's socket map is ours, so stopping can close the connections in it too.
    sockets: dict[int, Any] = {}
    server = create_server(
        app, map=sockets, host="127.0.0.1", port=port, threads=threads, asyncore_loop_timeout=0.1
    )
    thread = threading.Thread(target=server.run, name=f"serve-{server.effective_port}", daemon=True)
    thread.start()
    try:
        port = int(server.effective_port)  # waitress gives it as a string
        yield Served(app=app, url=f"http://127.0.0.1:{port}", port=port)
    finally:

        def stop() -> None:
            server.close()  # stops listening, and closes the trigger that runs this
            # Kept-alive client connections too, or the loop would keep polling them.
            for channel in list(sockets.values()):
                channel.close()

        # The loop's own thread does the closing, so it never polls a closed socket; with the
        # map empty its loop returns.
        try:
            server.trigger.pull_trigger(stop)
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
        "createdAt": iso(utcnow(), "seconds"),
        "data": data,
    }


def signed_webhook(event: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers Smile would send for ``event`` signed with ``secret``."""
    body = json.dumps(event).encode()
    return body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)}
