"""Serve Smile's sandbox on its own and print the lines for ``.env``."""

from __future__ import annotations

import argparse

from waitress import create_server

from .app import create_sandbox_app


def serve_sandbox(argv: list[str], prog: str = "python -m flask_wink.sandbox") -> int:
    """Parse ``argv`` (``--host``, ``--port``, ``--api-key``, ``--api-secret``, ``--token-ttl``) and serve."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve an offline emulator of Smile's Open API (under /v1) and Wink widget.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8100, help="port to listen on")
    parser.add_argument("--api-key", help="the key clients must send (default: random)")
    parser.add_argument("--api-secret", help="the secret clients must send (default: random)")
    parser.add_argument(
        "--token-ttl",
        type=float,
        default=5 * 3600,
        help="Link token lifetime in seconds (default: 5 hours)",
    )
    args = parser.parse_args(argv)
    app = create_sandbox_app(api_key=args.api_key, api_secret=args.api_secret, token_ttl=args.token_ttl)
    state = app.extensions["wink_sandbox"]
    # Listen before printing, so whoever reads the lines can use them at once (and a port in use
    # fails before any line is printed).
    server = create_server(app, host=args.host, port=args.port, threads=8)
    print("Smile sandbox running. Paste these lines into .env:", flush=True)
    reachable = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    print(f"OPEN_API_HOST=http://{reachable}:{args.port}/v1")
    print(f"API_KEY={state.api_key}")
    print(f"API_SECRET={state.api_secret}", flush=True)
    server.run()
    return 0
