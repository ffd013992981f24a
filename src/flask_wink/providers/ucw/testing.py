"""A pytest plugin for apps that use the Universal Connect Widget provider.

Fixtures:
    ``ucw_sandbox``: the UCW emulator served on a free loopback port, for the test's duration.

Helpers:
    :func:`run_ucw_sandbox` serves a fresh emulator for a block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from ...testing import serve
from .sandbox import create_sandbox_app


@dataclass
class UcwSandbox:
    """A running emulator: point ``WINK_UCW_URL`` at :attr:`url` (and ``WINK_UCW_TOKEN`` at :attr:`token`)."""

    url: str
    token: str | None
    state: Any
    app: Any


@contextmanager
def run_ucw_sandbox(**options: Any) -> Iterator[UcwSandbox]:
    """Serve a fresh emulator for the block (options go to ``create_sandbox_app``)."""
    app = create_sandbox_app(**options)
    with serve(app) as served:
        yield UcwSandbox(served.url, options.get("bearer_token"), app.extensions["ucw_sandbox"], app)


@pytest.fixture
def ucw_sandbox() -> Iterator[UcwSandbox]:
    """The UCW emulator on a free loopback port."""
    with run_ucw_sandbox() as sandbox:
        yield sandbox
