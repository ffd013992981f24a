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
