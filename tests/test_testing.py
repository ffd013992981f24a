"""The public pytest plugin (``flask_wink.testing``): what other apps load must stop cleanly and
carry nothing of this project's own setup."""

from __future__ import annotations

import inspect
import re
import socket
import threading
from pathlib import Path

import pytest
from flask import Flask

import flask_wink.testing
from example_provider import AcmeVerify
from flask_wink import get_state
from flask_wink.testing import serve, wink_apps


def hello_app() -> Flask:
    app = Flask("hello")

    @app.get("/")
    def index():
        return "hello"

    return app


def read_response(sock: socket.socket) -> bytes:
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.endswith(b"hello"):
        chunk = sock.recv(4096)
        assert chunk, answer
        answer += chunk
    return answer


def test_serve_stops_with_a_kept_alive_connection_open():
    with serve(hello_app()) as served:
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200")
        name = f"serve-{served.port}"
    try:
        # The server closed the kept-alive connection and its loop returned within serve()'s exit.
        assert sock.recv(4096) == b""
        assert not any(t.name == name and t.is_alive() for t in threading.enumerate())
    finally:
        sock.close()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", served.port)) != 0  # nothing listens any more


def test_the_plugin_ships_no_credentials_and_no_private_server_attributes():
    source = inspect.getsource(flask_wink.testing)
    assert not re.search(r"\w+://[^/\s:@]+:[^/\s@]+@", source), "a URL with a password"
    assert "postgres" not in source.lower()
    assert not re.search(r"[\w)\]]\._[a-z]", source), "a private attribute"


# -- the wink_app fixture: test apps for any provider, a host's own included --------------------


def test_wink_app_mounts_a_host_provider_on_its_own_sqlite_file_with_the_user_set(wink_app, tmp_path):
    acme = AcmeVerify()
    app = wink_app(providers=[acme])
    client = app.test_client()
    assert client.post("/wink/acme-verify/token").status_code == 401  # nobody signed in yet
    wink_app.user = "ada"
    started = client.post("/wink/acme-verify/token")
    assert started.status_code == 201 and started.get_json()["url"].startswith("https://verify.acme.test/")
    state = get_state(app)
    assert state.store.engine.url.drivername == "sqlite"
    assert Path(state.store.engine.url.database).is_relative_to(tmp_path)
    # Events handled in the request: the handler has run when the answer comes.
    client.post("/wink/acme-verify/callbacks", json={"name": "pageOpened", "args": {}})
    assert len(acme.handled) == 1
    assert client.get("/wink/events").status_code == 200  # reading events is allowed
    # Another app of the same test has a database of its own.
    other = wink_app(providers=[AcmeVerify()])
    assert get_state(other).store.engine.url.database != state.store.engine.url.database
    assert wink_app.apps == [app, other]


def test_wink_app_settings_are_the_extensions_options_or_config_keys_as_given(wink_app):
    app = wink_app(providers=[AcmeVerify()], handle_events="worker", MAX_CONTENT_LENGTH=4096,
                   WINK_WEBHOOK_MAX_BYTES=2048)
    assert app.config["WINK_HANDLE_EVENTS"] == "worker"
    assert app.config["MAX_CONTENT_LENGTH"] == 4096 and app.config["WINK_WEBHOOK_MAX_BYTES"] == 2048
    assert get_state(app).handler_pool is None  # worker mode: nothing handles events in the app


def test_wink_apps_closes_every_app_it_built_and_not_the_providers_given(tmp_path):
    acme = AcmeVerify()
    with wink_apps(tmp_path) as apps:
        app = apps(providers=[acme], handle_events="background")
        pool = get_state(app).handler_pool
        assert pool.submit(int).result(timeout=5) == 0
    with pytest.raises(RuntimeError):
        pool.submit(int)  # shut down
    assert apps.apps == [] and not acme.closed  # the provider is the test's to close


def test_wink_apps_without_a_directory_removes_its_own(tmp_path):
    with wink_apps() as apps:
        app = apps(providers=[AcmeVerify()])
        database = Path(get_state(app).store.engine.url.database)
        apps.user = "ada"
        assert app.test_client().post("/wink/acme-verify/token").status_code == 201
        assert database.exists()
    assert not database.exists()
