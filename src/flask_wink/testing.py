"""A pytest plugin for apps that use flask-wink (loaded automatically once the package is installed).

Helpers:
    :func:`serve` serves any WSGI app on loopback in a thread. Each provider package adds its own
    fixtures (e.g. ``wink_sandbox`` in :mod:`flask_wink.providers.smile_wink.testing`).
    :data:`LOOPBACK_HOSTS` is what a test app's ``TRUSTED_HOSTS`` lists, so that the URLs the kit
    hands an upstream are built from the test's own requests (see :mod:`flask_wink.addresses`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from waitress import create_server

#: The hosts a test's requests name: Flask's test client (``localhost``) and :func:`serve`
#: (``127.0.0.1``). ``app.config["TRUSTED_HOSTS"] = LOOPBACK_HOSTS`` gives a test app enabling a
#: provider that hands this app's URLs to its upstream (UCW, Smile ID) the address it needs.
LOOPBACK_HOSTS = ["127.0.0.1", "localhost"]


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


