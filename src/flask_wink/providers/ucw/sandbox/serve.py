"""Serve the UCW emulator on its own and print the lines for ``.env``."""

from __future__ import annotations

from ....sandbox import sandbox_arguments, serve_and_print
from .app import TOKEN_TTL, create_sandbox_app, mint_jwt


def serve_sandbox(argv: list[str], prog: str = "python -m flask_wink.sandbox ucw") -> int:
    """Parse ``argv`` (``--host``, ``--port``, ``--token`` or ``--jwt-secret`` with ``--jwt-audience``
    and ``--jwt-issuer``, ``--token-ttl``) and serve."""
    parser = sandbox_arguments(
        prog, "Serve an offline emulator of a self-hosted Universal Connect Widget (API and widget).", 8200
    )
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--token", help="require this bearer token on the API (default: no authentication)")
    auth.add_argument("--jwt-secret", help="require a JWT bearer signed (HS256) with this secret, as UCW's "
                                            "authentication does; a token good for a day is printed")
    parser.add_argument("--jwt-audience", help="the JWT's required audience (aud), with --jwt-secret")
    parser.add_argument("--jwt-issuer", help="the JWT's required issuer (iss), with --jwt-secret")
    parser.add_argument("--token-ttl", type=float, default=TOKEN_TTL,
                        help="widget token lifetime in seconds (default: 300)")
    args = parser.parse_args(argv)
    app = create_sandbox_app(bearer_token=args.token, token_ttl=args.token_ttl, jwt_secret=args.jwt_secret,
                             jwt_audience=args.jwt_audience, jwt_issuer=args.jwt_issuer)
    token = args.token
    if args.jwt_secret:
        token = mint_jwt(args.jwt_secret, audience=args.jwt_audience, issuer=args.jwt_issuer, ttl=86400)

    def env_lines(base: str) -> list[str]:
        lines = [f"UCW_URL={base}"]
        if token:
            # The sandbox's token, as given on the command line (or minted for its JWT secret).
            lines.append(f"UCW_TOKEN={token}")
        return lines

    serve_and_print(app, args.host, args.port, "UCW emulator", env_lines,
                    {"UCW_URL": "WINK_UCW_URL", "UCW_TOKEN": "WINK_UCW_TOKEN"})
    return 0
