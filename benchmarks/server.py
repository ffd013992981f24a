"""The app the benchmarks load: the kit's blueprint beside bare routes, on one waitress server.

Webhooks go to ``/wink/webhooks`` (the kit's fast path, the default) and, for comparison, to the
same receiver mounted as a plain Flask route at ``/via-flask/webhooks``.

``python -m benchmarks.server --port N --database URL --api-host URL --api-key K --api-secret S``
"""

from __future__ import annotations

import argparse
import logging

from flask import Flask, request
from waitress import serve

from flask_wink import Wink
from flask_wink.blueprint import receive_webhook

WEBHOOK_SECRET = "bench-webhook-secret"


def create_app(database: str, api_host: str, api_key: str, api_secret: str) -> Flask:
    app = Flask("bench")
    app.config.update(
        SECRET_KEY="bench",
        WTF_CSRF_ENABLED=False,
        WINK_DATABASE_URL=database,
        WINK_API_HOST=api_host,
        WINK_API_KEY=api_key,
        WINK_API_SECRET=api_secret,
        WINK_WEBHOOK_SECRETS=[WEBHOOK_SECRET],
    )
    wink = Wink(app)

    @wink.user_id_loader
    def user_from_header():
        return request.headers.get("X-User")

    @wink.events_permission
    def everyone():
        return True

    @app.post("/bare")
    def bare():
        return "", 204

    # waitress closes the connection after a 204 (it carries no Content-Length), so every request
    # to /bare opens a new one. The same do-nothing route answering 200 with an empty body keeps
    # the connection, as the webhook route does: the stricter ceiling.
    @app.post("/bare-keepalive")
    def bare_keepalive():
        return "", 200

    # The same receiver as a plain Flask route, to show what the fast path saves.
    app.add_url_rule(
        "/via-flask/webhooks", view_func=receive_webhook, methods=["POST"], defaults={"provider": None}
    )

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--api-host", default="http://127.0.0.1:9/v1")
    parser.add_argument("--api-key", default="unused")
    parser.add_argument("--api-secret", default="unused")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    logging.getLogger("waitress").setLevel(logging.ERROR)
    app = create_app(args.database, args.api_host, args.api_key, args.api_secret)
    serve(app, host="127.0.0.1", port=args.port, threads=args.threads, _quiet=True)


if __name__ == "__main__":
    main()
