"""``python -m quickstart`` (what ``make run`` does): serve the quickstart with waitress."""

from __future__ import annotations

import logging
import sys

from waitress import serve

from .app import create_app
from .settings import load_settings

#: waitress's worker threads: how many requests the quickstart serves at once. A webhook's or a
#: new user's request waits on its group's commit, not on the CPU, and a group holds at most as
#: many requests as there are threads: with 32 senders, 8 threads ingested 0.19x a bare 204
#: route and 16 threads 0.22x, against 0.40x with 32 (``python -m benchmarks ingest``, SQLite).
THREADS = 32


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("waitress").setLevel(logging.WARNING)
    # waitress warns of every request that waits for a free thread: under load, a log line per
    # request (what the requests wait for, not a fault). Its errors still show.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # httpx says every upstream call at INFO: a line per link token. Its warnings still show.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = load_settings()
    app = create_app(settings)
    url = f"http://127.0.0.1:{settings.app_port}"
    for line in start_lines(settings, url):
        print(line, flush=True)
    serve(app, host=settings.app_host, port=settings.app_port, **waitress_options(app))
    return 0


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


def start_lines(settings, url: str) -> list[str]:
    """What the start prints: the mode first, then what to set."""
    if settings.sandbox:
        return [
            f"Mode: sandbox (no API_KEY set: using the built-in Smile sandbox). Open {url}",
            "Sandbox mode is a demo: every page, the events and the invitations are open to anyone.",
        ]
    lines = [f"Mode: live (Smile's API at {settings.open_api_host or 'the default host'}). Open {url}"]
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
