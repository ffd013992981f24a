"""Smile ID's Flask parts, registered by the core under ``<WINK_URL_PREFIX>/smile-id``:

- ``POST /start`` (CSRF): a single-use link for the signed-in user; the browser is sent there (303).
  Rate limited as token minting is (``WINK_TOKEN_RATE_LIMIT``, ``WINK_TOKEN_ADDRESS_RATE_LIMIT``).
- ``POST /callbacks``: Smile ID's signed results, received exactly as ``/webhooks`` receives them:
  the address this kit handed Smile ID for links created before ``/wink/smile-id/webhooks`` (the
  core's webhook route) became the default, kept so that their results still arrive.
- ``GET /status``: the signed-in user's verifications, for the return page and the host's pages.
- the return page's template, ``wink/smile_id/return.html`` (``GET /return`` is the core's).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from ...errors import InvalidRequest, UpstreamCallError, upstream_http_error
from ...flow import CSRF_HEADER, Delivery, receive, record_browser_event, require_user, start_link
from ...openapi import CSRF_HEADER as CSRF_PARAMETER
from ...openapi import error_responses, json_response, webhook_operation
from ...state import get_state
from .results import LINK_STARTED, NAME
from .verifications import verifications

log = logging.getLogger("flask_wink")

parts = Blueprint("wink_smile_id", __name__, template_folder="templates")


@parts.post("/start")
def start():
    """Start a verification for the signed-in user and send the browser to Smile ID's page."""
    state = get_state()
    provider = state.providers[NAME]
    _check_csrf()
    app_user_id = require_user(state, "Sign in before verifying your identity.")
    # Each start creates a Smile Link upstream: the same limits as minting a token.
    if state.rate_limits is not None:
        state.rate_limits.token(app_user_id)
    try:
        started = start_link(state, provider, app_user_id, {})
    except UpstreamCallError as exc:
        log.warning("starting a Smile ID verification failed: %s", exc)
        raise upstream_http_error(exc) from None
    record_browser_event(state, provider, app_user_id, LINK_STARTED, dict(started.details))
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"url": started.url, **started.details}), 201
    return "", 303, {"Location": started.url, "Cache-Control": "no-store"}


@parts.post("/callbacks")
def callbacks():
    """Verify, store once and hand on one of Smile ID's signed results."""
    state = get_state()
    body, status = receive(current_app._get_current_object(), state, state.providers[NAME],
                           Delivery.from_request(request))
    return jsonify(body), status


@parts.get("/status")
def status():
    """The signed-in user's verifications, newest first, and the latest one's status."""
    state = get_state()
    app_user_id = require_user(state, "Sign in to see your verification status.")
    found = verifications(state, app_user_id)
    response = jsonify({"status": found[0]["status"] if found else None, "verifications": found})
    response.headers["Cache-Control"] = "no-store"
    return response


@parts.record_once
def _exempt_callbacks(setup) -> None:
    """Smile ID signs its callbacks instead of sending a CSRF token: a host-wide CSRFProtect must
    not refuse them, whether it was set up before the kit or after it."""
    app = setup.app
    # A CSRFProtect set up before the kit checks each request in a hook that runs before any of
    # the kit's: exempt the view now. One set up later is not there yet: the hook below does it.
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(callbacks)

    @app.before_request
    def _exempt() -> None:
        if request.endpoint == "wink_smile_id.callbacks":
            csrf = app.extensions.get("csrf")
            if csrf is not None:
                csrf.exempt(callbacks)


def _check_csrf() -> None:
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    try:
        validate_csrf(request.form.get("csrf_token") or request.headers.get(CSRF_HEADER))
    except ValidationError as exc:
        reason = str(exc).rstrip(".")  # flask-wtf ends its messages with a period
        raise InvalidRequest(f"CSRF check failed: {reason}. Send the page's csrf_token.") from None


def openapi_paths(base: str, provider: Any) -> dict[str, Any]:
    """``POST <base>/start``, ``POST <base>/callbacks`` (deprecated) and ``GET <base>/status`` in the kit's
    OpenAPI document."""
    verification = {"type": "object", "additionalProperties": True}
    return {
        f"{base}/start": {"post": {
            "summary": "Start a verification for the signed-in user and send the browser to Smile ID.",
            "parameters": [CSRF_PARAMETER],
            "responses": {
                "201": json_response({"type": "object", "required": ["url"], "properties": {
                    "url": {"type": "string"}}, "additionalProperties": True},
                    "Asked with Accept: application/json: the link and the job."),
                "303": {"description": "To Smile ID's hosted page.", "headers": {
                    "Location": {"description": "The link.", "schema": {"type": "string"}}}},
                **error_responses("400", "401", "429", "502", "503", "504"),
            },
        }},
        # The address results had before the core's .../webhooks: still received, for old links.
        f"{base}/callbacks": {"post": {**webhook_operation(provider), "deprecated": True}},
        f"{base}/status": {"get": {
            "summary": "The signed-in user's verifications, newest first, and the latest one's status.",
            "responses": {
                "200": json_response({
                    "type": "object",
                    "required": ["status", "verifications"],
                    "properties": {"status": {"type": ["string", "null"]},
                                   "verifications": {"type": "array", "items": verification}},
                }, "The verifications."),
                **error_responses("401"),
            },
        }},
    }
