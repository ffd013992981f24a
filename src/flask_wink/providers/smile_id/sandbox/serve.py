"""Serve the Smile ID emulator on its own and print the lines for ``.env``."""

from __future__ import annotations

import argparse

from waitress import create_server

from .app import create_sandbox_app


def serve_sandbox(argv: list[str], prog: str = "python -m flask_wink.sandbox smile-id") -> int:
    """Parse ``argv`` (``--host``, ``--port``, ``--partner-id``, ``--api-key``) and serve."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Serve an offline emulator of Smile ID's Smile Links (API under /v1)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8200, help="port to listen on")
    parser.add_argument("--partner-id", help="the partner id clients must send (default: random)")
    parser.add_argument("--api-key", help="the API key requests are signed with (default: random)")
    parser.add_argument("--review-delay", type=float, default=2.0,
                        help="seconds between an interim result and the final one (default: 2)")
    args = parser.parse_args(argv)
    app = create_sandbox_app(partner_id=args.partner_id, api_key=args.api_key, review_delay=args.review_delay)
    state = app.extensions["smile_id_sandbox"]
    # Listen before printing: whoever reads the lines can use them at once.
    server = create_server(app, host=args.host, port=args.port, threads=8)
    reachable = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    print("Smile ID sandbox running. Paste these lines into .env:", flush=True)
    print(f"SMILE_ID_PARTNER_ID={state.partner_id}")
    print(f"SMILE_ID_API_KEY={state.api_key}")
    print(f"SMILE_ID_HOST=http://{reachable}:{args.port}/v1", flush=True)
    try:
        server.run()
    finally:
        state.close()
    return 0
