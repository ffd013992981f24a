"""Serve the UCW emulator on its own and print the lines for ``.env``."""

from __future__ import annotations

from ....sandbox import sandbox_arguments, serve_and_print
from .app import TOKEN_TTL, create_sandbox_app


def serve_sandbox(argv: list[str], prog: str = "python -m flask_wink.sandbox ucw") -> int:
    """Parse ``argv`` (``--host``, ``--port``, ``--token``, ``--token-ttl``) and serve."""
    parser = sandbox_arguments(
        prog, "Serve an offline emulator of a self-hosted Universal Connect Widget (API and widget).", 8200
    )
    parser.add_argument("--token", help="require this bearer token on the API (default: no authentication)")
    parser.add_argument("--token-ttl", type=float, default=TOKEN_TTL,
                        help="widget token lifetime in seconds (default: 300)")
    args = parser.parse_args(argv)
    app = create_sandbox_app(bearer_token=args.token, token_ttl=args.token_ttl)

    def env_lines(base: str) -> list[str]:
        lines = [f"UCW_URL={base}"]
        if args.token:
            lines.append(f"UCW_TOKEN={args.token}")  # the sandbox's token, as given on the command line
        # Every line is valid in a .env file: the hint is a comment.
        return [*lines, "# in a host app's config these are WINK_UCW_URL and WINK_UCW_TOKEN"]

    serve_and_print(app, args.host, args.port, "UCW emulator", env_lines)
    return 0
