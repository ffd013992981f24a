"""A pytest plugin for apps that use Smile Wink (loaded automatically once the package is installed).

Fixtures:
    ``wink_sandbox``: Smile's offline sandbox served on a free loopback port, for the test's duration.

Helpers:
    :func:`make_event` builds a Smile event envelope; :func:`signed_webhook` gives the body and
    headers Smile would send for it; :func:`run_sandbox` serves a fresh sandbox for a block.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from ...testing import serve
from ...timeutil import iso, utcnow
from .sandbox import create_sandbox_app
from .signature import SIGNATURE_HEADER, sign


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
