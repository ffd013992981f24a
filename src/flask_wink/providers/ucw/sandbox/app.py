"""An offline emulator of a self-hosted Universal Connect Widget: UCW's API (``POST /widgetUrl``,
``GET /api/token``, the data endpoints, deletes) with its validation and messages, one-use
5-minute tokens, an optional bearer check, and the widget itself, which posts UCW's events to the
``targetOrigin`` it was given."""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask import Flask, Response, abort, jsonify, request, url_for

from . import data
from .validation import (
    TARGET_ORIGIN_PROBLEM,
    escaped,
    is_http_uri,
    job_types_problem,
    peers_problem,
    widget_url_problem,
)

#: How long a widget token is good for (one load).
TOKEN_TTL = 5 * 60.0
CONNECTION_HEADER = "UCW-Connection-Id"


@dataclass
class Connection:
    id: str
    user_id: str
    aggregator: str
    institution: data.Institution
    connected: bool = False


@dataclass
class SandboxState:
    """The emulator's memory: tokens, widget sessions, users and connections."""

    bearer_token: str | None = None
    token_ttl: float = TOKEN_TTL
    clock: Callable[[], float] = time.time
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: token -> {"params", "created", "version"}
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: (aggregator, userId) -> the aggregator's id for that user
    users: dict[tuple[str, str], str] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)

    def issue_token(self, params: dict[str, Any], version: str) -> str:
        token = str(uuid.uuid4())
        with self.lock:
            self.tokens[token] = {"params": params, "created": self.clock(), "version": version}
        return token

    def use_token(self, token: str | None, version: str) -> dict[str, Any] | None:
        """The token's params, once: a used, expired or unknown token gives None."""
        with self.lock:
            found = self.tokens.pop(token or "", None)
        if found is None or found["version"] != version:
            return None
        if self.clock() - found["created"] > self.token_ttl:
            return None
        return found["params"]

    def aggregator_user(self, aggregator: str, user_id: str) -> str:
        with self.lock:
            key = (aggregator, user_id)
            if key not in self.users:
                prefix = "USR-" if aggregator == "mx" else ""
                self.users[key] = prefix + str(uuid.uuid4())
            return self.users[key]


def create_sandbox_app(*, bearer_token: str | None = None, token_ttl: float = TOKEN_TTL) -> Flask:
    """The emulator as a WSGI app; ``bearer_token`` turns authentication on."""
    app = Flask(__name__, static_folder="static", static_url_path="/widget/static")
    state = SandboxState(bearer_token=bearer_token, token_ttl=token_ttl)
    app.extensions["ucw_sandbox"] = state

    def refuse(message: str, status: int = 400) -> Response:
        return Response(escaped(message), status=status, mimetype="text/html")

    def not_found(message: str) -> Response:
        response = jsonify({"message": message})
        response.status_code = 404
        return response

    @app.before_request
    def check_bearer():
        # The widget's page and its own calls are not the API (v1 checks the token in its query).
        if state.bearer_token is None or request.path == "/widget" or request.path.startswith("/widget/"):
            return None
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {state.bearer_token}".encode()):
            response = jsonify({"message": "Unauthorized"})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        return None

    # -- starting the widget --------------------------------------------------------------

    @app.post("/widgetUrl")
    def widget_url():
        body = request.get_json(silent=True)
        problem = widget_url_problem(body)
        if problem:
            return refuse(problem)
        token = state.issue_token(dict(body), "v2")
        return jsonify({"widgetUrl": url_for("widget", token=token, _external=True)})

    @app.get("/api/token")
    def api_token():
        user_id = request.args.get("userId")
        if not user_id:
            return refuse('"userId" is required')
        return jsonify({"token": state.issue_token({"userId": user_id}, "v1")})

    @app.get("/widget")
    def widget():
        if set(request.args) == {"token"}:  # v2: everything came with the token
            params = state.use_token(request.args["token"], "v2")
            if params is None:
                return refuse("A valid token is required")
            version = "v2"
        else:
            params, problem = _v1_params(state)
            if problem:
                return refuse(problem)
            version = "v1"
        session = secrets.token_urlsafe(24)
        institution = data.BY_GUID.get(params.get("institutionId") or "")
        with state.lock:
            state.sessions[session] = {**params, "version": version}
        config = {
            "session": session,
            "version": version,
            "targetOrigin": params.get("targetOrigin") or "",
            "jobTypes": params.get("jobTypes"),
            "refresh": bool(params.get("connectionId")),
            "institution": _institution_json(institution) if institution else None,
            "api": url_for("widget", _external=False) + "/api",
        }
        page = WIDGET_PAGE.format(
            config=json.dumps(config).replace("<", "\\u003c"),
            script=url_for("static", filename="widget.js"),
        )
        response = Response(page, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- what the widget's own script calls -----------------------------------------------

    def widget_session() -> dict[str, Any]:
        with state.lock:
            session = state.sessions.get(request.headers.get("X-UCW-Session", ""))
        if session is None:
            abort(Response(json.dumps({"message": "The widget session is unknown"}), 401,
                           mimetype="application/json"))
        return session

    def json_object() -> dict[str, Any] | Response:
        """The request's JSON object body; anything else (an array, a string, no JSON) is a 400."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            response = jsonify({"message": '"value" must be of type object'})
            response.status_code = 400
            return response
        return body

    @app.get("/widget/api/institutions")
    def institutions():
        widget_session()
        found = data.search(request.args.get("search", ""))
        return jsonify({"institutions": [_institution_json(i) for i in found]})

    @app.post("/widget/api/members")
    def create_member():
        session = widget_session()
        body = json_object()
        if isinstance(body, Response):
            return body
        institution = data.BY_GUID.get(str(body.get("institutionId") or ""))
        if institution is None:
            return not_found("Institution not found")
        user_id = session["userId"]
        aggregator_user = state.aggregator_user(institution.aggregator, user_id)
        existing = None
        if session.get("connectionId"):  # a refresh: the same connection logs in again
            with state.lock:
                existing = state.connections.get(session["connectionId"])
            if existing is None or existing.user_id != user_id or existing.institution != institution:
                return not_found("Connection not found")
        if body.get("username") != institution.username or body.get("password") != institution.password:
            return jsonify(_member(institution, existing.id if existing else _new_id(institution),
                                   aggregator_user, 2, "DENIED", message="Invalid credentials"))
        connection = existing or Connection(
            _new_id(institution), user_id, institution.aggregator, institution
        )
        with state.lock:
            state.connections[connection.id] = connection
        if institution.mfa is not None:
            label = institution.mfa[0]
            return jsonify(_member(institution, connection.id, aggregator_user, 3, "CHALLENGED",
                                   challenge={"label": label, "prompt": f"Enter your {label.lower()}."}))
        connection.connected = True
        return jsonify(_member(institution, connection.id, aggregator_user, 6, "CONNECTED"))

    @app.post("/widget/api/members/<connection_id>/mfa")
    def answer_mfa(connection_id: str):
        session = widget_session()
        with state.lock:
            connection = state.connections.get(connection_id)
        mine = connection is not None and connection.user_id == session["userId"]
        if not mine or connection.institution.mfa is None:
            return not_found("Connection not found")
        body = json_object()
        if isinstance(body, Response):
            return body
        institution = connection.institution
        aggregator_user = state.aggregator_user(institution.aggregator, connection.user_id)
        if body.get("answer") != institution.mfa[1]:
            return jsonify(_member(institution, connection.id, aggregator_user, 2, "DENIED",
                                   message="The verification code is incorrect"))
        connection.connected = True
        return jsonify(_member(institution, connection.id, aggregator_user, 6, "CONNECTED"))

    @app.delete("/widget/api/members/<connection_id>")
    def delete_member(connection_id: str):
        """The widget's "Remove this connection": the user's own connection only."""
        session = widget_session()
        with state.lock:
            connection = state.connections.get(connection_id)
            mine = connection is not None and connection.user_id == session["userId"]
            if mine:
                del state.connections[connection_id]
        if not mine:
            return not_found("Connection not found")
        return jsonify({"deleted": True, "connectionId": connection_id})

    # -- data --------------------------------------------------------------------------------

    def resolve_user() -> tuple[str, str] | Response:
        for key in ("aggregator", "userId"):
            if not request.args.get(key):
                return refuse(f'"{key}" is required')
        aggregator, user_id = request.args["aggregator"], request.args["userId"]
        with state.lock:
            known = (aggregator, user_id) in state.users
        if not known:
            return not_found("Can't resolve userId")
        return aggregator, user_id

    def user_connection(
        aggregator: str, user_id: str, *, required: bool = True
    ) -> Connection | Response | None:
        connection_id = request.headers.get(CONNECTION_HEADER)
        if not connection_id:
            return refuse(f'"{CONNECTION_HEADER.lower()}" is required') if required else None
        with state.lock:
            connection = state.connections.get(connection_id)
        if (connection is None or not connection.connected or connection.user_id != user_id
                or connection.aggregator != aggregator):
            return not_found("Connection not found")
        return connection

    @app.get("/api/data/accounts")
    def data_accounts():
        who = resolve_user()
        if isinstance(who, Response):
            return who
        connection = user_connection(*who)
        if isinstance(connection, Response):
            return connection
        return jsonify({"accounts": data.accounts(connection.institution, connection.id)})

    @app.get("/api/data/identity")
    def data_identity():
        who = resolve_user()
        if isinstance(who, Response):
            return who
        connection = user_connection(*who)
        if isinstance(connection, Response):
            return connection
        aggregator_user = state.aggregator_user(*who)
        return jsonify({"customers": [data.customer(connection.institution, connection.id, aggregator_user)]})

    @app.get("/api/data/transactions")
    def data_transactions():
        who = resolve_user()
        if isinstance(who, Response):
            return who
        account = request.args.get("accountId")
        if not account:
            return refuse('"accountId" is required')
        try:
            end = date.fromisoformat(request.args["endDate"]) if request.args.get("endDate") else date.today()
            start = (date.fromisoformat(request.args["startDate"]) if request.args.get("startDate")
                     else end - timedelta(days=30))
        except ValueError:
            return refuse('"startDate" and "endDate" must be dates in YYYY-MM-DD format')
        if start > end:
            return refuse('"endDate" must be greater than or equal to "ref:startDate"')
        given = user_connection(*who, required=False)
        if isinstance(given, Response):
            return given
        aggregator, user_id = who
        with state.lock:
            mine = [c for c in state.connections.values()
                    if c.connected and c.user_id == user_id and c.aggregator == aggregator
                    and (given is None or c.id == given.id)]
        owned = any(account == data.account_id(c.id, a[0]) for c in mine for a in c.institution.accounts)
        if not owned:
            return not_found("Account not found")
        return jsonify({"transactions": data.transactions(account, start, end)})

    # -- deletes --------------------------------------------------------------------------

    @app.delete("/api/connection")
    def delete_connection():
        if not request.args.get("aggregator"):
            return refuse('"aggregator" is required')
        connection_id = request.headers.get(CONNECTION_HEADER)
        if not connection_id:
            return refuse(f'"{CONNECTION_HEADER.lower()}" is required')
        with state.lock:
            connection = state.connections.get(connection_id)
            if connection is None or connection.aggregator != request.args["aggregator"]:
                connection = None
            else:
                del state.connections[connection_id]
        if connection is None:
            return not_found("Connection not found")
        return Response(status=204)

    @app.delete("/api/user")
    def delete_user():
        who = resolve_user()
        if isinstance(who, Response):
            return who
        aggregator, user_id = who
        with state.lock:
            del state.users[who]
            for key in [k for k, c in state.connections.items()
                        if c.user_id == user_id and c.aggregator == aggregator]:
                del state.connections[key]
        return Response(status=204)

    return app


def _v1_params(state: SandboxState) -> tuple[dict[str, Any], str | None]:
    """The v1 widget's query (``jobTypes=a,b&userId=...``); the token is needed with authentication on."""
    args = request.args
    job_types = [j for j in (args.get("jobTypes") or "").split(",") if j] if "jobTypes" in args else None
    problem = job_types_problem(job_types, present=job_types is not None)
    if problem is None and not args.get("userId"):
        problem = '"userId" is required'
    params: dict[str, Any] = {
        key: args[key] for key in ("userId", "institutionId", "connectionId", "aggregator", "targetOrigin")
        if args.get(key)
    }
    params["jobTypes"] = job_types
    if problem is None and "targetOrigin" in args and not is_http_uri(args["targetOrigin"]):
        problem = TARGET_ORIGIN_PROBLEM  # as v2 answers: "*" or a javascript: origin is refused
    problem = problem or peers_problem(params)
    if problem is None and (state.bearer_token is not None or args.get("token")):
        issued = state.use_token(args.get("token"), "v1")
        if issued is None or issued.get("userId") != args.get("userId"):
            problem = "A valid token is required"
    return params, problem


def _new_id(institution: data.Institution) -> str:
    return ("MBR-" if institution.aggregator == "mx" else "") + str(uuid.uuid4())


def _institution_json(institution: data.Institution) -> dict[str, str]:
    return {"guid": institution.guid, "name": institution.name, "url": institution.url,
            "code": institution.code, "aggregator": institution.aggregator}


def _member(institution: data.Institution, connection_id: str, aggregator_user: str, status: int,
            word: str, **extra: Any) -> dict[str, Any]:
    return {"connectionId": connection_id, "aggregator": institution.aggregator,
            "ucpInstitutionId": institution.guid, "aggregatorUserId": aggregator_user,
            "connectionStatus": status, "status": word, **extra}


WIDGET_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="icon" href="data:,">
  <title>Universal Connect</title>
  <style>
    body {{ font-family: system-ui, sans-serif; margin: 0; padding: 1.25rem; color: #1d2433; }}
    h1 {{ font-size: 1.25rem; }}
    input {{ font: inherit; padding: .5rem; width: 100%; box-sizing: border-box; margin: .25rem 0 .75rem; }}
    button {{ font: inherit; padding: .5rem 1rem; border-radius: .4rem; border: 1px solid #2b59c3;
              background: #2b59c3; color: #fff; cursor: pointer; margin: .25rem 0; }}
    button.secondary {{ background: #fff; color: #2b59c3; }}
    ul {{ list-style: none; padding: 0; }}
    li {{ margin: .4rem 0; }}
    [role=alert] {{ color: #b42318; }}
    .muted {{ color: #6b7280; font-size: .85rem; }}
  </style>
</head>
<body>
  <main id="ucw" aria-live="polite"></main>
  <p class="muted">Universal Connect Widget (offline emulator)</p>
  <script id="ucw-config" type="application/json">{config}</script>
  <script src="{script}"></script>
</body>
</html>
"""
