"""Serve the UCW emulator on its own and print the lines for ``.env``."""

from __future__ import annotations

import argparse

from waitress import create_server

from .app import TOKEN_TTL, create_sandbox_app


def serve_sandbox(argv: list[str], prog: str = "python -m flask_wink.sandbox ucw") -> int:
    """Parse ``argv`` (``--host``, ``--port``, ``--token``, ``--token-ttl``) and serve."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve an offline emulator of a self-hosted Universal Connect Widget (API and widget).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8200, help="port to listen on")
    parser.add_argument("--token", help="require this bearer token on the API (default: no authentication)")
    parser.add_argument("--token-ttl", type=float, default=TOKEN_TTL,
                        help="widget token lifetime in seconds (default: 300)")
    args = parser.parse_args(argv)
    app = create_sandbox_app(bearer_token=args.token, token_ttl=args.token_ttl)
    # Listen before printing, so the lines can be used at once (a port in use fails first).
    server = create_server(app, host=args.host, port=args.port, threads=8)
    reachable = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    print("UCW emulator running. Paste these lines into .env:", flush=True)
    print(f"UCW_URL=http://{reachable}:{args.port}")
    if args.token:
        print("UCW_TOKEN=<the token you passed with --token>")
    print("(in a host app: WINK_UCW_URL and WINK_UCW_TOKEN)", flush=True)
    server.run()
    return 0
