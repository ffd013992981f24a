"""Offline emulators of the upstreams: ``python -m flask_wink.sandbox [NAME] --port N``.

Each provider package ships its own (``flask_wink.providers.<name>.sandbox``); this module finds
one by name (``__main__``) and gives them the same command line and start-up lines.
"""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Callable, Iterable, Mapping
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
    app: Any,
    host: str,
    port: int,
    title: str,
    env_lines: Callable[[str], Iterable[str]],
    host_names: Mapping[str, str] | None = None,
) -> None:
    """Listen on ``host:port``, print ``title`` and the ``.env`` lines (``env_lines`` gets the base
    URL a client on this machine uses; they use the quickstart's names), then a comment with the
    names a host app's config gives them (``host_names``: quickstart name -> ``WINK_`` name), then
    serve until stopped.

    It listens before printing, so whoever reads the lines can use them at once. A port in use (or
    an address it cannot listen on) stops it before any line is printed, with one line on stderr
    that says the fix, and exit status 2.
    """
    try:
        server = create_server(app, host=host, port=port, threads=8)
    except OSError as exc:
        print(f"Error: {_cannot_listen(host, port, exc)}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    # A comment line, so that the whole output can go into .env as it is.
    print(f"# {title} running. Paste these lines into .env:", flush=True)
    lines = list(env_lines(f"http://{reachable}:{port}"))
    for line in lines:
        print(line, flush=True)
    names = [host_names[name] for line in lines if (name := line.partition("=")[0]) in (host_names or {})]
    if names:
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        verb = "this is" if len(names) == 1 else "these are"
        print(f"# in a host app's config {verb} {listed}", flush=True)
    server.run()


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (f"Port {port} on {host} is in use (another sandbox?): stop that program, or pick a free "
                f"port, e.g. --port {port + 1}.")
    return f"Cannot listen on {host}:{port} ({exc.strerror or exc}): check --host and --port."
