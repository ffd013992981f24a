"""Offline emulators of the upstreams: ``python -m flask_wink.sandbox [NAME] --port N``.

Each provider package ships its own (``flask_wink.providers.<name>.sandbox``); this module finds
one by name (``__main__``) and gives them the same command line and start-up lines.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any

from waitress import create_server

__all__ = ["sandbox_arguments", "serve_and_print"]


def sandbox_arguments(prog: str, description: str, default_port: int) -> argparse.ArgumentParser:
    """An argument parser with the ``--host`` and ``--port`` every sandbox takes."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=default_port, help="port to listen on")
    return parser


def serve_and_print(
    app: Any, host: str, port: int, title: str, env_lines: Callable[[str], Iterable[str]]
) -> None:
    """Listen on ``host:port``, print ``title`` and the ``.env`` lines (``env_lines`` gets the base
    URL a client on this machine uses), then serve until stopped.

    It listens before printing, so whoever reads the lines can use them at once, and a port in use
    fails before any line is printed.
    """
    server = create_server(app, host=host, port=port, threads=8)
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    # A comment line, so that the whole output can go into .env as it is.
    print(f"# {title} running. Paste these lines into .env:", flush=True)
    for line in env_lines(f"http://{reachable}:{port}"):
        print(line, flush=True)
    server.run()
