"""``python -m quickstart`` (what ``make run`` does): serve the quickstart with waitress."""

from __future__ import annotations

import logging
import signal
import sys

from waitress import serve

from . import checks
from .app import unencrypted_warning

#: waitress's worker threads: how many requests the quickstart serves at once. A webhook's or a
#: new user's request waits on its group's commit, not on the CPU, and a group holds at most as
#: many requests as there are threads: with 32 senders, 8 threads ingested 0.19x a bare 204
#: route and 16 threads 0.22x, against 0.40x with 32 (``python -m benchmarks ingest``, SQLite).
THREADS = 32


def main() -> int:
    # SIGTERM ends the process as Ctrl-C does: the log lines still queued are written first.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    checks.configure_logging()
    started = checks.start()  # one line per problem, and no start, when something is wrong
    if started is None:
        return 2
    settings, app = started
    url = f"http://127.0.0.1:{settings.app_port}"
    for line in start_lines(settings, url, providers=checks.providers_on(app)):
        print(line, flush=True)
    if warning := unencrypted_warning(app):
        logging.getLogger("quickstart").warning(warning)
    serve(app, host=settings.app_host, port=settings.app_port, **waitress_options(app))
    return 0


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(0)


def waitress_options(app) -> dict:
    """How the quickstart's waitress holds up: idle keep-alive connections are closed after
    30 s and up to 1000 may be open at once (waitress's 100 let one client with 100 idle
    connections lock everyone out); bodies over twice the larger of the kit's body limits are
    refused before the app sees them. In production, run it behind a reverse proxy (see
    docs/production.md), which buffers slow clients and caps connections per client."""
    limit = 2 * max(app.config["WINK_WEBHOOK_MAX_BYTES"], app.config["WINK_CALLBACK_MAX_BYTES"])
    return {
        "threads": THREADS,
        "connection_limit": 1000,
        "channel_timeout": 30,
        "cleanup_interval": 10,
        "max_request_body_size": limit,
        "max_request_header_size": 64 * 1024,
        "_quiet": True,
    }


def start_lines(settings, url: str, providers: str = "") -> list[str]:
    """What the start prints: the mode, the URL and the providers on first, then what to set."""
    on = f" Providers on: {providers}." if providers else ""
    if settings.sandbox:
        lines = [
            f"Mode: sandbox (no API_KEY set: using the built-in Smile sandbox). Open {url}{on}",
            "Sandbox mode is a demo: every page, the events and the invitations are open to anyone.",
        ]
        smile_id_keys = ("SMILE_ID_PARTNER_ID", "SMILE_ID_API_KEY", "SMILE_ID_HOST")
        ignored = [k for k in smile_id_keys if settings.smile_id.get(k)]
        if ignored:
            lines.append(f"Warning: {', '.join(ignored)} are not used in sandbox mode (the Smile ID emulator "
                         "stands in): set API_KEY and API_SECRET for live mode to use them.")
        return lines
    lines = [f"Mode: live (Smile's API at {settings.open_api_host or 'the default host'}). Open {url}{on}"]
    if not settings.webhook_secret:
        lines.append("WEBHOOK_SECRET is not set: Smile's webhooks will be refused until it is.")
    if settings.admin_password:
        lines.append("Admin pages (/invites, every user's /wink/events and /wink/accounts): sign in as admin "
                     "with ADMIN_PASSWORD.")
    else:
        lines.append("Admin pages (/invites, every user's /wink/events and /wink/accounts) are off: set "
                     "ADMIN_PASSWORD in .env to enable them.")
    return lines


if __name__ == "__main__":
    sys.exit(main())
