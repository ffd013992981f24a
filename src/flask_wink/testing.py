"""A pytest plugin for apps that use flask-wink (loaded automatically once the package is installed).

Fixture ``wink_app``: a factory of host apps for a test, ``wink_app(providers=[...], **settings)``,
each with the extension mounted on its own SQLite database in a temporary directory and a user
loader the test sets (``wink_app.user = "ada"``); the apps are closed when the test ends. It
serves any provider, a host's own included; :func:`wink_apps` is the same outside a fixture.

Helpers:
    :func:`serve` serves any WSGI app on loopback in a thread. Each provider package adds its own
    fixtures (e.g. ``wink_sandbox`` in :mod:`flask_wink.providers.smile_wink.testing`).
    :data:`LOOPBACK_HOSTS` is what a test app's ``TRUSTED_HOSTS`` lists, so that the URLs the kit
    hands an upstream are built from the test's own requests (see :mod:`flask_wink.addresses`).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from waitress import create_server

from .extension import Wink
from .provider import Provider
from .state import get_state

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




class WinkApps:
    """Builds host apps for tests (the ``wink_app`` fixture): ``wink_apps(providers=[...],
    **settings)`` returns a Flask app with the extension mounted, its database a SQLite file of
    its own under ``directory``.

    Settings: a lower-case keyword is one of the extension's (``handle_events="worker"`` is
    ``WINK_HANDLE_EVENTS``, as ``Wink(**options)`` reads them); an upper-case one goes to the app's
    config as it is (``TRUSTED_HOSTS=[...]``). The defaults: events handled in the request
    (``WINK_HANDLE_EVENTS="request"``), so a test sees a handler's work as soon as the request
    answers; no CSRF check; ``TRUSTED_HOSTS`` = :data:`LOOPBACK_HOSTS`, so the URLs a provider
    hands its upstream are built on the test's own requests. The user loader returns
    :attr:`user` (who is signed in, for every app built here; None: nobody); reading the events
    and accounts (``GET /wink/events``) is allowed. :meth:`close` closes every app built (the
    providers passed in stay open: they are the test's, as they are the host's in ``Wink``).
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        #: The app user id every app built here has signed in (None: nobody).
        self.user: str | None = None
        self.apps: list[Flask] = []

    def __call__(self, providers: Iterable[Provider] = (), **settings: Any) -> Flask:
        instance = self.directory / f"app{len(self.apps)}"
        instance.mkdir(parents=True, exist_ok=True)
        app = Flask(f"wink_test_app{len(self.apps)}", instance_path=str(instance))
        app.config.update(SECRET_KEY="test", WTF_CSRF_ENABLED=False, TRUSTED_HOSTS=list(LOOPBACK_HOSTS),
                          WINK_HANDLE_EVENTS="request")
        app.config.update({key if key.isupper() else f"WINK_{key.upper()}": value
                           for key, value in settings.items()})
        wink = Wink(app, providers=list(providers) or None)
        wink.user_id_loader(lambda: self.user)
        wink.events_permission(lambda: True)
        self.apps.append(app)
        return app

    def close(self) -> None:
        """Close every app built here (its handler pool and store), newest first."""
        while self.apps:
            get_state(self.apps.pop()).close()


@contextmanager
def wink_apps(directory: str | Path | None = None) -> Iterator[WinkApps]:
    """A :class:`WinkApps` whose apps live in ``directory`` (default: a new temporary one, removed
    at the end) and are closed at the end."""
    with tempfile.TemporaryDirectory(prefix="wink-test-") as temporary:
        apps = WinkApps(directory if directory is not None else temporary)
        try:
            yield apps
        finally:
            apps.close()


@pytest.fixture
def wink_app(tmp_path) -> Iterator[WinkApps]:
    """Host apps for one test: ``app = wink_app(providers=[MyProvider()], **settings)``; set
    ``wink_app.user`` to sign a user in. Closed when the test ends (see :class:`WinkApps`)."""
    with wink_apps(tmp_path / "wink") as apps:
        yield apps
