"""A pytest plugin for apps that use flask-wink (loaded automatically once the package is installed).

Helpers:
    :func:`serve` serves any WSGI app on loopback in a thread. Each provider package adds its own
    fixtures (e.g. ``wink_sandbox`` in :mod:`flask_wink.providers.smile_wink.testing`).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from waitress.server import create_server


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
