"""Serve the Smile ID emulator on its own and print the lines for ``.env``."""

from __future__ import annotations

from ....sandbox import sandbox_arguments, serve_and_print
from .app import create_sandbox_app

#: The names a host app's config gives the printed lines.
HOST_NAMES = {name: f"WINK_{name}" for name in
              ("SMILE_ID_PARTNER_ID", "SMILE_ID_API_KEY", "SMILE_ID_HOST", "SMILE_ID_PRIVACY_URL")}


def serve_sandbox(argv: list[str], prog: str = "python -m flask_wink.sandbox smile-id") -> int:
    """Parse ``argv`` (``--host``, ``--port``, ``--partner-id``, ``--api-key``) and serve."""
    parser = sandbox_arguments(
        prog, "Serve an offline emulator of Smile ID's Smile Links (API under /v1).", 8300
    )
    parser.add_argument("--partner-id", help="the partner id clients must send (default: random)")
    parser.add_argument("--api-key", help="the API key requests are signed with (default: random)")
    parser.add_argument("--review-delay", type=float, default=2.0,
                        help="seconds between an interim result and the final one (default: 2)")
    args = parser.parse_args(argv)
    app = create_sandbox_app(partner_id=args.partner_id, api_key=args.api_key, review_delay=args.review_delay)
    state = app.extensions["smile_id_sandbox"]
    try:
        serve_and_print(
            app,
            args.host,
            args.port,
            "Smile ID sandbox",
            lambda base: [
                f"SMILE_ID_PARTNER_ID={state.partner_id}",
                f"SMILE_ID_API_KEY={state.api_key}",
                f"SMILE_ID_HOST={base}/v1",
                # Smile ID shows a privacy policy on every link: the emulator's stand-in page.
                f"SMILE_ID_PRIVACY_URL={base}/privacy",
            ],
            HOST_NAMES,
        )
    finally:
        state.close()
    return 0
