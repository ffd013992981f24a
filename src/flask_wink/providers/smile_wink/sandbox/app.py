"""The sandbox as a Flask app: Smile's Open API under ``/v1``, the widget SDK and its endpoints."""

from __future__ import annotations

import hmac
import ipaddress
import json
from datetime import timedelta
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request

from . import archives, invites, userdata
from .data import PROVIDERS
from .http import envelope, json_body, page
from .state import WEBHOOK_EVENT_TYPES, SandboxError, SandboxState, WebhookDispatcher


def create_sandbox_app(
    *,
    api_key: str | None = None,
    api_secret: str | None = None,
    token_ttl: timedelta | float = timedelta(hours=5),
    webhook_retry_delays: tuple[float, ...] = (1.0, 5.0),
) -> Flask:
    """A sandbox app; its :class:`SandboxState` is ``app.extensions["wink_sandbox"]``."""
    if not isinstance(token_ttl, timedelta):
        token_ttl = timedelta(seconds=token_ttl)
    state = SandboxState(token_ttl=token_ttl, dispatcher=WebhookDispatcher(webhook_retry_delays))
    if api_key:
        state.api_key = api_key
    if api_secret:
        state.api_secret = api_secret
    app = Flask(__name__)
    app.extensions["wink_sandbox"] = state
    sdk_source = resources.files(__package__).joinpath("static/smile.js").read_text("utf-8")

    @app.errorhandler(SandboxError)
    def sandbox_error(exc: SandboxError):
        return envelope({}, exc.status, exc.code, exc.message)

    @app.errorhandler(404)
    def not_found(_exc):
        return envelope({}, 404, "MISSING_RESOURCE", "No such resource.")

    @app.errorhandler(405)
    def wrong_method(_exc):
        return envelope({}, 405, "UNSUPPORTED_METHOD", "Method not allowed on this resource.")

    @app.errorhandler(500)
    def server_error(_exc):
        return envelope({}, 500, "SERVER_ERROR", "The sandbox failed on this request.")

    # -- the API under /v1: Basic auth with the sandbox key and secret --------------------

    @app.before_request
    def authenticate():
        path = request.path
        if not path.startswith("/v1/") or path == "/v1/smile.v1.js":
            return None
        given = request.authorization
        ok = (
            given is not None
            and given.type == "basic"
            and hmac.compare_digest((given.username or "").encode(), state.api_key.encode())
            and hmac.compare_digest((given.password or "").encode(), state.api_secret.encode())
        )
        if not ok:
            return envelope({}, 401, "INVALID_CREDENTIALS", "Invalid API key or secret.")
        return None

    @app.post("/v1/users")
    def create_user():
        body = json_body(optional=True)
        metadata = body.get("externalMetadata")
        if metadata is None:
            metadata = {}
        if (
            not isinstance(metadata, dict)
            or len(metadata) > 5
            or not all(
                isinstance(k, str)
                and isinstance(v, str)
                and len(k) <= 50
                and len(v) <= 500
                and k.isascii()
                and v.isascii()
                for k, v in metadata.items()
            )
        ):
            raise SandboxError(
                400,
                "INVALID_PARAMETERS",
                "externalMetadata must map at most 5 ASCII strings to ASCII strings.",
            )
        user, token = state.create_user(metadata)
        return envelope({"user": state.user(user["id"]), "token": token}, 201)

    @app.get("/v1/users")
    def list_users():
        with state.lock:
            users = [state.user(uid) for uid in state.users]
        return envelope(page(users))

    @app.get("/v1/users/<user_id>")
    def get_user(user_id: str):
        return envelope(state.user(user_id))

    @app.post("/v1/tokens")
    def refresh_token():
        user_id = request.args.get("userId", "")
        if not 1 <= len(user_id) <= 200:
            raise SandboxError(400, "INVALID_PARAMETERS", "userId is required.")
        return envelope(state.refresh_token(user_id), 201)

    @app.get("/v1/providers")
    def list_providers():
        return envelope(page(PROVIDERS))

    @app.get("/v1/providers/<provider_id>")
    def get_provider(provider_id: str):
        for provider in PROVIDERS:
            if provider["id"] == provider_id:
                return envelope(provider)
        raise SandboxError(404, "MISSING_RESOURCE", f"Provider {provider_id} was not found.")

    @app.get("/v1/accounts")
    def list_accounts():
        user_id = request.args.get("userId")
        with state.lock:
            items = [
                state.account_view(a)
                for a in state.accounts.values()
                if user_id in (None, "", a["userId"])
            ]
        return envelope(page([_public_account(a) for a in items]))

    @app.get("/v1/accounts/<account_id>")
    def get_account(account_id: str):
        return envelope(_public_account(state.account(account_id)))

    @app.delete("/v1/accounts/<account_id>")
    def revoke_account(account_id: str):
        state.revoke_account(account_id)
        return envelope()

    @app.post("/v1/webhooks")
    def create_webhook():
        body = json_body()
        _require_webhook_fields(body)
        return envelope(state.create_webhook(body))

    @app.get("/v1/webhooks")
    def list_webhooks():
        with state.lock:
            hooks = [dict(h) for h in state.webhooks.values()]
        return envelope(page(hooks))

    @app.get("/v1/webhooks/<webhook_id>")
    def get_webhook(webhook_id: str):
        return envelope(state.webhook(webhook_id))

    @app.delete("/v1/webhooks/<webhook_id>")
    def delete_webhook(webhook_id: str):
        state.delete_webhook(webhook_id)
        return envelope()

    # -- the widget SDK and the endpoints it calls with the user's Link token --------------

    @app.get("/v<int:version>/smile.v<int:again>.js")
    def sdk_script(version: int, again: int):
        if version != again or version not in (1, 2):
            return envelope({}, 404, "MISSING_RESOURCE", "No such SDK version.")
        source = sdk_source.replace("__SDK_VERSION__", str(version))
        return Response(
            source, mimetype="application/javascript", headers={"Cache-Control": "no-cache"}
        )

    @app.after_request
    def widget_cors(response: Response) -> Response:
        # The SDK runs on the host app's origin; it sends no cookies, only the token.
        if request.path.startswith("/widget/"):
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
        return response

    @app.post("/widget/session")
    def widget_session():
        body = json_body()
        return envelope_plain(state.start_session(str(body.get("token") or "")))

    @app.post("/widget/accounts")
    def widget_login():
        body = json_body()
        account = state.login(
            str(body.get("sessionId") or ""),
            str(body.get("providerId") or ""),
            str(body.get("username") or ""),
            str(body.get("password") or ""),
        )
        return envelope_plain({"account": account})

    @app.post("/widget/accounts/<account_id>/mfa")
    def widget_mfa(account_id: str):
        body = json_body()
        account = state.verify_mfa(
            str(body.get("sessionId") or ""), account_id, str(body.get("code") or "")
        )
        return envelope_plain({"account": account})

    @app.post("/widget/accounts/<account_id>/remove")
    def widget_remove(account_id: str):
        body = json_body()
        account = state.remove_account(str(body.get("sessionId") or ""), account_id)
        return envelope_plain({"account": account})

    def envelope_plain(data: dict[str, Any]) -> Response:
        return Response(json.dumps(data), mimetype="application/json")

    @app.get("/")
    def index():
        return envelope(
            {
                "name": "flask-wink sandbox",
                "api": "/v1",
                "sdk": ["/v1/smile.v1.js", "/v2/smile.v2.js"],
            }
        )

    # Further parts of Smile's API, each in a module of its own.
    userdata.register(app, state)
    archives.register(app, state)
    invites.register(app, state)
    return app


def _public_account(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k not in ("status", "errorCode", "errorMessage")}


def _deliverable(url: str) -> bool:
    """https://, or plain http:// to this machine (the sandbox's relaxation for local apps)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _require_webhook_fields(body: dict[str, Any]) -> None:
    problems = []
    if not isinstance(body.get("name"), str) or not 1 <= len(body["name"]) <= 200:
        problems.append("name (1-200 characters)")
    if (
        not isinstance(body.get("url"), str)
        or not 1 <= len(body["url"]) <= 500
        or not _deliverable(body["url"])
    ):
        problems.append("url (https://, or http:// on loopback in the sandbox)")
    types = body.get("eventTypes")
    if not isinstance(types, list) or not types or any(t not in WEBHOOK_EVENT_TYPES for t in types):
        problems.append("eventTypes (a list of Smile event types)")
    if not isinstance(body.get("active"), bool):
        problems.append("active (true or false)")
    if not isinstance(body.get("secret"), str) or not 1 <= len(body["secret"]) <= 64:
        problems.append("secret (1-64 characters)")
    if problems:
        raise SandboxError(400, "INVALID_PARAMETERS", "Missing or invalid: " + ", ".join(problems))
