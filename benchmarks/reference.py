"""The reference the quickstart is measured against: bare Flask routes on waitress, with the
quickstart's own thread count.

- ``POST /bare`` answers 204 and does nothing (the ceiling for webhook ingest).
- ``GET|POST /pass/new`` makes the upstream call a new user's link token needs (``POST /users``)
  with one ``httpx.Client`` and returns its token; ``/pass/returning`` makes a returning user's
  (``POST /tokens?userId=``, the user named in ``X-Upstream-User``). Nothing else: no session,
  no mapping, no lock, no signal.

``python -m benchmarks.reference --port N --threads T [--api-host URL --api-key K --api-secret S]``
"""

from __future__ import annotations

import argparse
import logging

import httpx
from flask import Flask, jsonify, request
from waitress import serve


def create_app(api_host: str, api_key: str, api_secret: str) -> Flask:
    app = Flask("reference")
    upstream = httpx.Client(
        base_url=api_host.rstrip("/") + "/",
        auth=httpx.BasicAuth(api_key, api_secret),
        headers={"Accept": "application/json"},
        timeout=10.0,
    )

    @app.post("/bare")
    def bare():
        return "", 204

    def answer(token: dict, user_id: str):
        return jsonify(
            {
                "accessToken": token["accessToken"],
                "expiresAt": token["expiresAt"],
                "mode": token.get("mode", ""),
                "userId": user_id,
            }
        )

    @app.route("/pass/new", methods=["GET", "POST"])
    def new_user():
        data = upstream.post("users", json={"externalMetadata": {}}).raise_for_status().json()["data"]
        return answer(data["token"], data["user"]["id"])

    @app.route("/pass/returning", methods=["GET", "POST"])
    def returning_user():
        user_id = request.headers["X-Upstream-User"]
        data = upstream.post("tokens", params={"userId": user_id}).raise_for_status().json()["data"]
        return answer(data, user_id)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--api-host", default="http://127.0.0.1:9/v1")
    parser.add_argument("--api-key", default="unused")
    parser.add_argument("--api-secret", default="unused")
    args = parser.parse_args()
    logging.getLogger("waitress").setLevel(logging.ERROR)
    app = create_app(args.api_host, args.api_key, args.api_secret)
    serve(app, host="127.0.0.1", port=args.port, threads=args.threads, _quiet=True)


if __name__ == "__main__":
    main()
