"""The public pytest plugin (``flask_wink.testing``): what other apps load must stop cleanly and
carry nothing of this project's own setup."""

from __future__ import annotations

import inspect
import re
import socket
import threading

from flask import Flask

import flask_wink.testing
from flask_wink.testing import serve


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
