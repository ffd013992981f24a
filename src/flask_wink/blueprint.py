"""The views: token, link page, callbacks, webhooks, events.

Data flows one way: request -> view -> provider/client -> store -> signal.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms import ValidationError

from .errors import (
    InvalidRequest,
    Misconfigured,
    NotAllowed,
    NotSignedIn,
    SmileError,
    upstream_http_error,
)
from .extension import WinkState, get_state
from .receiver import Delivery, account_now, handle_now, read_body, receive

log = logging.getLogger("flask_wink")

bp = Blueprint(
    "wink", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
)

CSRF_HEADER = "X-CSRFToken"
MAX_EVENTS_PAGE = 500


@bp.post("/token")
def mint_token():
    """Mint a Link token for the current app user: 201 ``{accessToken, expiresAt, mode, userId}``."""
    state = get_state()
    _check_csrf()
    app_user_id = _require_user(state)
    try:
        token = state.mint_link_token(app_user_id)
    except SmileError as exc:
        log.warning("minting a Link token failed: %s", exc)
        raise upstream_http_error(exc) from None
    body = {
        "accessToken": token.access_token,
        "expiresAt": token.expires_at,
        "mode": token.mode,
        "userId": token.smile_user_id,
    }
    response = jsonify(body)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/link")
def link_page():
    """The page that opens Smile's Wink widget (SDK v2, or v1 with ``?sdk=1``)."""
    state = get_state()
    return render_template("wink/link.html", wink=link_config(state, request.args.get("sdk")))


def link_config(state: WinkState, sdk: str | None = None) -> dict[str, Any]:
    """What the browser side needs to open the widget; also used by pages of the host app."""
    version = state.sdk_version
    if sdk is not None:
        if sdk not in {str(v) for v in state.provider.sdk_versions}:
            raise InvalidRequest("sdk must be 1 or 2.")
        version = int(sdk)
    return {
        "sdkVersion": version,
        "sdkUrl": state.script_url(version),
        "templateId": state.template_id,
        "tokenUrl": url_for("wink.mint_token"),
        "callbacksUrl": url_for("wink.record_callback"),
        "csrfToken": generate_csrf(),
        "csrfHeader": CSRF_HEADER,
        "callbacks": list(state.provider.callbacks),
    }


@bp.post("/callbacks")
def record_callback():
    """Record one widget callback ``{name, args}`` for the current app user."""
    state = get_state()
    body = _read_body(state.callback_max_bytes)
    _check_csrf()
    app_user_id = _require_user(state)
    payload = _json_object(body)
    name = payload.get("name")
    if name not in state.provider.callbacks:
        raise InvalidRequest(
            f"name must be one of the widget callbacks: {', '.join(state.provider.callbacks)}."
        )
    args = payload.get("args")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise InvalidRequest("args must be a JSON object.")
    # The browser may claim any userId; the one we made for this app user is the truth.
    smile_user_id = state.store.upstream_user_id(state.provider.name, app_user_id)
    event = state.store.add_event(
        kind="callback",
        name=name,
        payload=args,
        provider=state.provider.name,
        app_user_id=app_user_id,
        upstream_user_id=smile_user_id,
        claimed_by=state.claim_name,
        account=account_now(state, "callback", name, args, smile_user_id),
    )
    handle_now(current_app._get_current_object(), state, event)
    return jsonify({"id": event.id, "status": "recorded"}), 201


@bp.post("/webhooks")
def receive_webhook():
    """Verify, store and hand on one Smile webhook; a redelivered event id is acknowledged only.

    With ``WINK_WEBHOOK_FAST_PATH`` (the default) the kit's WSGI layer answers webhooks before
    Flask routes them here; both run :func:`flask_wink.receiver.receive`.
    """
    body, status = receive(current_app._get_current_object(), get_state(), Delivery.from_request(request))
    return _json(body, status)


@bp.get("/events")
def list_events():
    """Recorded callbacks and webhooks, newest first; ``?user=``, ``?kind=``, ``?after=``, ``?limit=``."""
    state = get_state()
    _require_events_permission(state)
    kind = request.args.get("kind") or None
    if kind not in (None, "callback", "webhook"):
        raise InvalidRequest("kind must be 'callback' or 'webhook'.")
    after = _int_arg("after", minimum=0)
    limit = _int_arg("limit", minimum=1) or 100
    events = state.store.list_events(
        provider=request.args.get("provider") or None,
        kind=kind,
        # The app user's events include those stored under upstream users it had before a relink.
        app_user_id=request.args.get("user") or None,
        upstream_user_id=request.args.get("upstreamUserId") or None,
        after_id=after,
        limit=min(limit, MAX_EVENTS_PAGE),
    )
    return jsonify({"events": [e.as_dict() for e in events]})


@bp.get("/accounts")
def list_accounts():
    """The last known status of each account; ``?provider=`` and ``?upstreamUserId=`` filter."""
    state = get_state()
    _require_events_permission(state)
    accounts = state.store.list_accounts(
        provider=request.args.get("provider") or None,
        upstream_user_id=request.args.get("upstreamUserId") or None,
    )
    return jsonify({"accounts": accounts})


# -- helpers ------------------------------------------------------------------------------


def _require_user(state: WinkState) -> str:
    if state.wink._user_id_loader is None:
        log.error("no user_id_loader: decorate a function with @wink.user_id_loader")
        raise Misconfigured(
            "The app has not told flask-wink who the user is: decorate a function with @wink.user_id_loader."
        )
    app_user_id = state.wink.current_user_id()
    if not app_user_id:
        raise NotSignedIn("Sign in before linking an account.")
    return app_user_id


def _require_events_permission(state: WinkState) -> None:
    if not state.wink.may_read_events():
        raise NotAllowed("Reading events is not allowed: the app's events_permission refused.")


def _check_csrf() -> None:
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    try:
        validate_csrf(request.headers.get(CSRF_HEADER))
    except ValidationError as exc:
        raise InvalidRequest(f"CSRF check failed: {exc}. Send the page's token in {CSRF_HEADER}.") from None


def _read_body(limit: int) -> bytes:
    """The raw body, refused with 413 past ``limit`` without reading it whole."""
    return read_body(request.stream, request.content_length, limit)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidRequest("The body must be JSON.") from None
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return value


def _int_arg(name: str, *, minimum: int) -> int | None:
    value = request.args.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number.") from None
    if number < minimum:
        raise InvalidRequest(f"{name} must be at least {minimum}.")
    return number


_JSON_HEADERS = {"Content-Type": "application/json"}


def _json(body: dict[str, Any], status: int = 200) -> tuple[str, int, dict[str, str]]:
    # The webhook answer is on the hot path: plain json.dumps, without jsonify's options.
    return json.dumps(body), status, _JSON_HEADERS

