"""``python -m quickstart`` (what ``make run`` does): serve the quickstart with waitress."""

from __future__ import annotations

import logging
import sys

from waitress import serve

from .app import create_app
from .settings import load_settings

#: waitress's worker threads: how many requests the quickstart serves at once.
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
    if settings.sandbox:
        print(f"No API_KEY set: using the built-in Smile sandbox. Open {url}", flush=True)
    else:
        print(f"Using Smile's API at {settings.open_api_host or 'the default host'}. Open {url}", flush=True)
        if not settings.webhook_secret:
            print("WEBHOOK_SECRET is not set: Smile's webhooks will be refused until it is.", flush=True)
    # waitress buffers a body before the app sees it: refuse absurd ones at the door too.
    limit = 2 * max(app.config["WINK_WEBHOOK_MAX_BYTES"], app.config["WINK_CALLBACK_MAX_BYTES"])
    serve(app, host=settings.app_host, port=settings.app_port, threads=THREADS, _quiet=True,
          max_request_body_size=limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
