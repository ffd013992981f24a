"""The quickstart's own routes, on the app itself rather than the pages' blueprint: the dashboard
(``/``), ``/healthz``, ``/api/create_link_token`` (the shape of Smile's Node quickstart) and the
plain HTML frontend (``/frontend/``)."""

from __future__ import annotations

from flask import Flask, abort, jsonify, render_template, request, send_from_directory

from flask_wink import get_state, security, start_link
from flask_wink.blueprint import link_config
from flask_wink.errors import NotAllowed, upstream_http_error
from flask_wink.providers.smile_wink import SmileError, smile_wink

from .settings import ROOT, Settings
from .shared import current_settings, current_user

FRONTEND_DIR = ROOT / "frontend"


def register(app: Flask) -> None:
    """Add the routes to ``app`` (their endpoints carry no blueprint's name: ``index``...)."""
    app.add_url_rule("/", view_func=index, methods=["GET"])
    app.add_url_rule("/healthz", view_func=healthz, methods=["GET"])
    app.add_url_rule("/api/create_link_token", view_func=create_link_token, methods=["GET", "POST"])
    app.add_url_rule("/frontend/<path:name>", view_func=frontend, methods=["GET"])
    app.add_url_rule("/frontend/", view_func=frontend, methods=["GET"])


def index():
    """The dashboard: link an account, the timeline, the status panel (see pages_dashboard)."""
    settings = current_settings()
    sdk = request.args.get("sdk")
    return render_template(
        "index.html",
        wink=link_config(get_state(), "smile_wink", {"sdk": sdk} if sdk is not None else {}),
        sandbox=settings.sandbox,
        mode=settings.mode,
        user_id=current_user(),
    )


def healthz():
    return jsonify({"status": "ok", "mode": current_settings().mode})


def create_link_token():
    """The shape of Smile's Node quickstart, so its frontend and webviews work unchanged."""
    settings = current_settings()
    _refuse_foreign_origins(settings)
    state = get_state()
    smile = smile_wink(state)
    user = current_user()
    state.rate_limits.token(user)
    try:
        start = start_link(state, smile, user)
        token = dict(start.widget or {})
    except SmileError as exc:
        raise upstream_http_error(exc) from None
    return jsonify(
        {
            "id": start.details.get("tokenId"),
            "accessToken": token["accessToken"],
            "expiresAt": token["expiresAt"],
            "mode": token["mode"],
            "topProviders": list(settings.top_providers),
            "providers": list(settings.providers),
            "enableUpload": settings.enable_upload,
            "userId": token["userId"],
            "sdkUrl": smile.script_url(smile.sdk_version),
        }
    )


def frontend(name: str = "index.html"):
    if not FRONTEND_DIR.is_dir():
        abort(404)
    response = send_from_directory(FRONTEND_DIR, name)
    if response.mimetype == "text/html":
        # A static page cannot carry a nonce: its own inline scripts are allowed by their hash.
        response.direct_passthrough = False
        request._inline_script_hashes = security.inline_script_hashes(response.get_data(as_text=True))
    return response


def _refuse_foreign_origins(settings: Settings) -> None:
    """403 before minting for a request another site's page made (a form posting text/plain, a
    script): its Origin is neither this app nor in ALLOWED_ORIGINS (``null`` never is), or, with
    no Origin, the browser says it is cross-site."""
    origin = request.headers.get("Origin")
    if origin is not None:
        # The app's own origin is worked out only when there is an Origin to compare it with.
        allowed = origin in settings.allowed_origins or origin == request.host_url.rstrip("/")
        if origin != "null" and allowed:
            return
    elif request.headers.get("Sec-Fetch-Site") != "cross-site":
        return
    raise NotAllowed("Link tokens are minted only for this app's pages and ALLOWED_ORIGINS.")
