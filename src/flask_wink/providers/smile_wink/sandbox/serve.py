"""Serve Smile's sandbox on its own and print the lines for ``.env``."""

from __future__ import annotations

from ....sandbox import sandbox_arguments, serve_and_print
from .app import create_sandbox_app


def serve_sandbox(argv: list[str], prog: str = "python -m flask_wink.sandbox") -> int:
    """Parse ``argv`` (``--host``, ``--port``, ``--api-key``, ``--api-secret``, ``--token-ttl``) and serve."""
    parser = sandbox_arguments(
        prog, "Serve an offline emulator of Smile's Open API (under /v1) and Wink widget.", 8100
    )
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
    serve_and_print(
        app,
        args.host,
        args.port,
        "Smile sandbox",
        lambda base: [
            f"OPEN_API_HOST={base}/v1",
            f"API_KEY={state.api_key}",
            f"API_SECRET={state.api_secret}",
        ],
        {"OPEN_API_HOST": "WINK_API_HOST", "API_KEY": "WINK_API_KEY", "API_SECRET": "WINK_API_SECRET"},
    )
    return 0
