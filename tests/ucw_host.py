"""A host app with the UCW provider only, against the emulator; the user comes from a header or a cookie."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from flask_wink import Wink
from flask_wink.testing import LOOPBACK_HOSTS


def make_ucw_app(ucw_url: str, tmp_path, **config: Any) -> Flask:
    app = Flask("ucw_host", instance_path=str(tmp_path / "instance"))
    app.config.update(
        SECRET_KEY="test-secret",
        WINK_PROVIDERS="ucw",
        WINK_UCW_URL=ucw_url,
        WINK_DATABASE_URL=f"sqlite:///{tmp_path / 'wink.sqlite3'}",
        TRUSTED_HOSTS=LOOPBACK_HOSTS,  # the widget's targetOrigin is the test's own host
    )
    app.config.update(config)
    wink = Wink(app)

    @wink.user_id_loader
    def user():
        return request.headers.get("X-User") or request.cookies.get("user")

    @wink.events_permission
    def admin():
        return request.headers.get("X-Admin") == "yes"

    return app


class DataApiDown:
    """WSGI middleware for the UCW emulator: its data API (``/api/data/*``) answers 503 while
    ``down``. Put it in front with ``ucw.app.wsgi_app = DataApiDown(ucw.app.wsgi_app)``."""

    def __init__(self, app: Any, *, down: bool = False) -> None:
        self.app = app
        self.down = down

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if self.down and environ.get("PATH_INFO", "").startswith("/api/data/"):
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"message": "down for maintenance"}']
        return self.app(environ, start_response)
