"""An offline emulator of a self-hosted Universal Connect Widget: UCW's API (``POST /widgetUrl``,
``GET /api/token``, the data endpoints and their ``/api/vc`` twins, deletes, ``/health``) with its
validation and messages, one-use 5-minute tokens, an optional bearer check, and the widget itself,
which posts UCW's events to the ``targetOrigin`` it was given."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, Response, abort, jsonify, request, url_for

from . import data
from .validation import (
    TARGET_ORIGIN_PROBLEM,
    USERLESS_AGGREGATORS,
    aggregator_problem,
    as_boolean,
    data_query_problem,
    delete_query_problem,
    escaped,
    is_http_uri,
    job_types_problem,
    peers_problem,
    plain_date,
    widget_params,
    widget_url_problem,
)

#: How long a widget token is good for (until the widget's first call uses it).
TOKEN_TTL = 5 * 60.0
CONNECTION_HEADER = "UCW-Connection-Id"
#: express.json's and express.urlencoded's default body limit (100 KB).
BODY_LIMIT = 100 * 1024
#: UCW's default transaction window when no dates are given: 120 days back to 5 days ahead.
DEFAULT_DAYS_BACK, DEFAULT_DAYS_AHEAD = 120, 5
#: The Sophtron-style step that asks which account to verify (``singleAccountSelect``).
ACCOUNT_SELECT_LABEL = "Select the account to verify"


@dataclass
class Connection:
    id: str
    user_id: str
    aggregator: str
    institution: data.Institution
    connected: bool = False
    job_types: tuple[str, ...] = ()
    #: The second-factor steps still to answer.
    pending: list[data.Challenge] = field(default_factory=list)
    selected_account: str | None = None
    job_id: str = ""
    #: The OAuth bank page's own id for this login (the page's URL never names the connection).
    oauth_state: str = ""


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
    #: The key the emulator signs its verifiable credentials with (``/api/vc/data/*``).
    vc_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def issue_token(self, params: dict[str, Any], version: str) -> str:
        token = str(uuid.uuid4())
        with self.lock:
            self.tokens[token] = {"params": params, "created": self.clock(), "version": version}
        return token

    def use_token(self, token: str | None, version: str, *, consume: bool = True) -> dict[str, Any] | None:
        """The token's params (used up unless ``consume`` is false): a used, expired or unknown
        token gives None."""
        with self.lock:
            found = self.tokens.pop(token or "", None) if consume else self.tokens.get(token or "")
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


class BodyProblem(Exception):
    """A body express's parsers refuse: the status and the parser's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _express_body() -> Any:
    """The request body as UCW's ``express.json()`` and ``express.urlencoded({extended: true})``
    hand it on: JSON objects and arrays, forms as nested values, anything else as ``{}``."""
    length = request.content_length
    if length is not None and length > BODY_LIMIT:
        raise BodyProblem(413, "request entity too large")
    mimetype = request.mimetype
    if mimetype not in ("application/json", "application/x-www-form-urlencoded"):
        return {}
    raw = request.get_data(cache=True)
    if len(raw) > BODY_LIMIT:
        raise BodyProblem(413, "request entity too large")
    text = raw.decode("utf-8", "replace")
    if mimetype == "application/x-www-form-urlencoded":
        return _form(text)
    if not text.strip():
        return {}
    first = text.lstrip(" \t\n\r")[:1]
    if first not in ("{", "["):  # body-parser's strict mode: objects and arrays only
        raise BodyProblem(400, _unexpected_token(text, len(text) - len(text.lstrip(" \t\n\r"))))
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BodyProblem(400, _json_message(text, error)) from None


def _unexpected_token(text: str, position: int) -> str:
    """V8's message: the whole text when short, else up to 10 characters each side of the token."""
    token = text[position]
    if len(text) <= 21:
        return f'Unexpected token \'{token}\', "{text}" is not valid JSON'
    start, end = max(0, position - 10), min(len(text), position + 10)
    before = "..." if start > 0 else ""
    after = "..." if end < len(text) else ""
    return f'Unexpected token \'{token}\', {before}"{text[start:end]}"{after} is not valid JSON'


def _json_message(text: str, error: json.JSONDecodeError) -> str:
    """Python's JSON error in the words of Node's ``JSON.parse`` (which UCW's parser reports)."""
    at = error.pos
    reason = error.msg
    before = text[:at].rstrip()[-1:]
    if reason.startswith("Expecting value"):
        if at >= len(text.rstrip()):
            return "Unexpected end of JSON input"
        return _unexpected_token(text, at)
    if reason.startswith("Expecting property name"):
        if at >= len(text.rstrip()):
            return "Unexpected end of JSON input"
        return (f"Expected property name or '}}' in JSON at position {at}" if before == "{"
                else f"Expected double-quoted property name in JSON at position {at}")
    if reason.startswith("Expecting ':'"):
        return f"Expected ':' after property name in JSON at position {at}"
    if reason.startswith("Expecting ','"):
        if at >= len(text.rstrip()):
            return "Unexpected end of JSON input"
        inside = _innermost(text[:at])
        return (f"Expected ',' or ']' after array element in JSON at position {at}" if inside == "["
                else f"Expected ',' or '}}' after property value in JSON at position {at}")
    if reason.startswith("Unterminated string"):
        return f"Unterminated string in JSON at position {len(text)}"
    if reason.startswith("Invalid control character"):
        return f"Bad control character in string literal in JSON at position {at}"
    if reason.startswith("Extra data"):
        return f"Unexpected non-whitespace character after JSON at position {at}"
    return f"{reason} in JSON at position {at}"


def _innermost(text: str) -> str:
    """The innermost open bracket of a JSON prefix (strings skipped)."""
    stack: list[str] = []
    in_string = escaped_char = False
    for char in text:
        if in_string:
            escaped_char = not escaped_char and char == "\\"
            in_string = escaped_char or char != '"'
        elif char == '"':
            in_string = True
        elif char in "[{":
            stack.append(char)
        elif char in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _form(text: str) -> dict[str, Any]:
    """A form as the ``qs`` library reads it: ``a[]=x`` and repeated keys make arrays, ``a[b]=x``
    an object."""
    found: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        match = re.fullmatch(r"([^\[\]]+)\[([^\[\]]*)\]", key)
        if match and (match.group(2) == "" or match.group(2).isdigit()):
            found.setdefault(match.group(1), [])
            if isinstance(found[match.group(1)], list):
                found[match.group(1)].append(value)
        elif match:
            inner = found.setdefault(match.group(1), {})
            if isinstance(inner, dict):
                inner[match.group(2)] = value
        elif key in found:
            found[key] = [*found[key], value] if isinstance(found[key], list) else [found[key], value]
        else:
            found[key] = value
    return found


def create_sandbox_app(
    *,
    bearer_token: str | None = None,
    token_ttl: float = TOKEN_TTL,
    jwt_secret: str | None = None,
    jwt_audience: str | None = None,
    jwt_issuer: str | None = None,
) -> Flask:
    """The emulator as a WSGI app. ``bearer_token`` turns on a static bearer check;
    ``jwt_secret`` (with ``jwt_audience`` and ``jwt_issuer`` when given) UCW's own mode: a JWT
    bearer (HS256 here), refused as UCW refuses one."""
    if bearer_token is not None and jwt_secret is not None:
        raise RuntimeError("Give the UCW emulator a bearer token or a JWT secret, not both.")
    app = Flask(__name__, static_folder="static", static_url_path="/widget/static")
    state = SandboxState(bearer_token=bearer_token, token_ttl=token_ttl)
    app.extensions["ucw_sandbox"] = state

    def refuse(message: str, status: int = 400) -> Response:
        return Response(escaped(message), status=status, mimetype="text/html")

    def refuse_json(message: str) -> Response:
        """UCW's data endpoints answer their query's problem as a JSON string."""
        return Response(json.dumps(escaped(message)), status=400, mimetype="application/json")

    def not_found(message: str) -> Response:
        response = jsonify({"message": message})
        response.status_code = 404
        return response

    @app.before_request
    def check_bearer():
        # The widget's page and its own calls are not the API (v1 checks the token in its query);
        # UCW answers /health before any authentication.
        if request.path in ("/widget", "/health") or request.path.startswith(("/widget/", "/oauth/")):
            return None
        if jwt_secret is not None:
            return _jwt_refusal(request.headers.get("Authorization", ""), jwt_secret, jwt_audience,
                                jwt_issuer)
        if state.bearer_token is None:
            return None
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {state.bearer_token}".encode()):
            response = jsonify({"message": "Unauthorized"})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        return None

    @app.get("/health")
    def health():
        return Response("healthy", mimetype="text/html")

    # -- starting the widget --------------------------------------------------------------

    @app.post("/widgetUrl")
    def widget_url():
        try:
            body = _express_body()
        except BodyProblem as problem:
            return refuse(problem.message, problem.status)
        problem = widget_url_problem(body)
        if problem:
            return refuse(problem)
        token = state.issue_token(widget_params(body), "v2")
        return jsonify({"widgetUrl": url_for("widget", token=token, _external=True)})

    @app.get("/api/token")
    def api_token():
        user_id = request.args.get("userId")
        if not user_id:
            return refuse('"userId" is required')
        return jsonify({"token": state.issue_token({"userId": user_id}, "v1")})

    def widget_start(args: dict[str, str], *, consume: bool) -> tuple[dict[str, Any] | None, str, str | None]:
        """The widget's params from its URL's query: (params, version, problem). The token is
        used up only when ``consume`` (the widget's first call), never by loading the page."""
        if "token" in args and "jobTypes" not in args and "userId" not in args:  # v2
            params = state.use_token(args["token"], "v2", consume=consume)
            if params is None:
                return None, "v2", "A valid token is required"
            return params, "v2", None
        params, problem = _v1_params(state, args, consume=consume)
        return params, "v1", problem

    @app.get("/widget")
    def widget():
        # Loading the page checks the token without using it: a link preview or a prefetch
        # must not burn it; the widget's own first call (below) does, as UCW's does.
        _, _, problem = widget_start(request.args.to_dict(), consume=False)
        if problem:
            return refuse(problem)
        config = {"api": url_for("widget", _external=False) + "/api"}
        page = WIDGET_PAGE.format(
            config=json.dumps(config).replace("<", "\\u003c"),
            script=url_for("static", filename="widget.js"),
        )
        response = Response(page, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- what the widget's own script calls -----------------------------------------------

    @app.post("/widget/api/instrumentation")
    def instrumentation():
        """The widget's first call: it uses the token up and opens the widget's session."""
        body = json_object()
        if isinstance(body, Response):
            return body
        query = body.get("query")
        args = dict(parse_qsl(query if isinstance(query, str) else "", keep_blank_values=True))
        params, version, problem = widget_start(args, consume=True)
        if problem or params is None:
            return refuse(problem or "A valid token is required")
        session = secrets.token_urlsafe(24)
        institution = data.BY_GUID.get(params.get("institutionId") or "")
        with state.lock:
            state.sessions[session] = {**params, "version": version}
        return jsonify({
            "session": session,
            "version": version,
            "targetOrigin": params.get("targetOrigin") or "",
            "jobTypes": params.get("jobTypes"),
            "refresh": bool(params.get("connectionId")),
            "connectionId": params.get("connectionId"),
            "institution": _institution_json(institution) if institution else None,
        })

    def widget_session() -> dict[str, Any]:
        with state.lock:
            session = state.sessions.get(request.headers.get("X-UCW-Session", ""))
        if session is None:
            abort(Response(json.dumps({"message": "The widget session is unknown"}), 401,
                           mimetype="application/json"))
        return session

    def own_connection(session: dict[str, Any], connection_id: str) -> Any:
        """The connection ``connection_id`` if it is the widget session's user's, else None."""
        with state.lock:
            connection = state.connections.get(connection_id)
        return connection if connection is not None and connection.user_id == session["userId"] else None

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

    def answer(connection: Connection, session: dict[str, Any]) -> Response:
        """The member as the widget sees it after a step: challenged, or connected."""
        institution = connection.institution
        aggregator_user = state.aggregator_user(institution.aggregator, connection.user_id)
        if connection.pending:
            challenge = connection.pending[0]
            return jsonify(_member(connection, aggregator_user, 3, "CHALLENGED", challenge={
                "kind": challenge.kind, "label": challenge.label, "options": list(challenge.options)}))
        connection.connected = True
        return jsonify(_member(connection, aggregator_user, 6, "CONNECTED"))

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
        if institution.oauth:
            if body.get("oauth") is not True:
                return not_found("Institution not found")
        elif body.get("username") != institution.username or body.get("password") != institution.password:
            denied = Connection(existing.id if existing else _new_id(institution), user_id,
                                institution.aggregator, institution)
            return jsonify(_member(denied, aggregator_user, 2, "DENIED", message="Invalid credentials"))
        connection = existing or Connection(_new_id(institution), user_id, institution.aggregator,
                                            institution)
        connection.job_types = tuple(session.get("jobTypes") or ())
        connection.job_id = str(uuid.uuid4())
        connection.pending = list(institution.mfa)
        connection.selected_account = None
        # Sophtron asks which account to verify for account numbers unless told not to.
        if (institution.aggregator == "sophtron" and "accountNumber" in connection.job_types
                and session.get("singleAccountSelect") is not False):
            connection.pending.append(data.Challenge("options", ACCOUNT_SELECT_LABEL, options=tuple(
                f"{a.nickname} {a.number[-4:]}" for a in institution.accounts)))
        with state.lock:
            state.connections[connection.id] = connection
        if institution.oauth:
            connection.oauth_state = secrets.token_urlsafe(16)
            return jsonify(_member(connection, aggregator_user, 0, "PENDING", oauth_window_uri=url_for(
                "oauth_page", oauth_state=connection.oauth_state, _external=True)))
        return answer(connection, session)

    @app.post("/widget/api/members/<connection_id>/mfa")
    def answer_mfa(connection_id: str):
        session = widget_session()
        connection = own_connection(session, connection_id)
        if connection is None or not connection.pending:
            return not_found("Connection not found")
        body = json_object()
        if isinstance(body, Response):
            return body
        challenge = connection.pending[0]
        given = body.get("answer")
        right = given in challenge.options if challenge.kind == "options" else given == challenge.answer
        if not right:
            aggregator_user = state.aggregator_user(connection.aggregator, connection.user_id)
            return jsonify(_member(connection, aggregator_user, 2, "DENIED",
                                   message="The answer is incorrect"))
        connection.pending.pop(0)
        if challenge.label == ACCOUNT_SELECT_LABEL:
            chosen = challenge.options.index(given)
            suffix = connection.institution.accounts[chosen].suffix
            connection.selected_account = data.account_id(connection.id, suffix)
        return answer(connection, session)

    @app.get("/widget/api/members/<connection_id>")
    def member_status(connection_id: str):
        """The widget polls an OAuth member until the bank's page has answered."""
        session = widget_session()
        connection = own_connection(session, connection_id)
        if connection is None:
            return not_found("Connection not found")
        aggregator_user = state.aggregator_user(connection.aggregator, connection.user_id)
        if connection.connected:
            return jsonify(_member(connection, aggregator_user, 6, "CONNECTED"))
        return jsonify(_member(connection, aggregator_user, 0, "PENDING"))

    def oauth_connection(oauth_state: str) -> Connection | None:
        with state.lock:
            return next((c for c in state.connections.values()
                         if c.oauth_state and hmac.compare_digest(c.oauth_state, oauth_state)), None)

    @app.get("/oauth/<oauth_state>")
    def oauth_page(oauth_state: str):
        """The bank's own log-in page (OAuth), which the widget opens in a popup."""
        connection = oauth_connection(oauth_state)
        if connection is None:
            return not_found("Connection not found")
        return Response(OAUTH_PAGE.format(name=escaped(connection.institution.name),
                                          action=url_for("oauth_authorize", oauth_state=oauth_state)),
                        mimetype="text/html")

    @app.post("/oauth/<oauth_state>")
    def oauth_authorize(oauth_state: str):
        connection = oauth_connection(oauth_state)
        if connection is None:
            return not_found("Connection not found")
        connection.connected = True
        connection.oauth_state = ""  # one authorization per login
        return Response(OAUTH_DONE.format(name=escaped(connection.institution.name)), mimetype="text/html")

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

    def connection_header() -> str | None:
        return request.headers.get(CONNECTION_HEADER) or None

    def data_request(*, transactions: bool) -> tuple[str, str] | Response:
        """UCW's checks, in its order: the aggregator (text), then the query and the connection
        header (a JSON string), then the user (404 ``Can't resolve userId``)."""
        query = request.args.to_dict()
        problem = aggregator_problem(query)
        if problem:
            return refuse(problem)
        problem = data_query_problem(query, connection_header(), transactions=transactions)
        if problem:
            return refuse_json(problem)
        who = (query["aggregator"], query.get("userId", ""))
        with state.lock:
            known = who in state.users
        if not known:
            return not_found("Can't resolve userId")
        return who

    def user_connection(aggregator: str, user_id: str) -> Connection | Response:
        with state.lock:
            connection = state.connections.get(connection_header() or "")
        if (connection is None or not connection.connected or connection.user_id != user_id
                or connection.aggregator != aggregator):
            return not_found("Connection not found")
        return connection

    def accounts_answer() -> dict[str, Any] | Response:
        who = data_request(transactions=False)
        if isinstance(who, Response):
            return who
        connection = user_connection(*who)
        if isinstance(connection, Response):
            return connection
        return {"accounts": data.accounts(connection.institution, connection.id,
                                          with_numbers="accountNumber" in connection.job_types),
                "id": state.aggregator_user(*who)}

    def identity_answer() -> dict[str, Any] | Response:
        who = data_request(transactions=False)
        if isinstance(who, Response):
            return who
        connection = user_connection(*who)
        if isinstance(connection, Response):
            return connection
        return {"customers": data.customers(connection.institution, connection.id),
                "id": state.aggregator_user(*who)}

    def transactions_answer() -> dict[str, Any] | Response:
        who = data_request(transactions=True)
        if isinstance(who, Response):
            return who
        today = date.today()
        dates = {}
        for key, default in (("startDate", today - timedelta(days=DEFAULT_DAYS_BACK)),
                             ("endDate", today + timedelta(days=DEFAULT_DAYS_AHEAD))):
            given = request.args.get(key)
            dates[key] = plain_date(given) if given else default
            if dates[key] is None:  # UCW's adapters take YYYY-MM-DD only
                response = jsonify({"message": f"{key} must be a valid ISO 8601 date string"})
                response.status_code = 400
                return response
        aggregator, user_id = who
        account = request.args["accountId"]
        given = connection_header()
        with state.lock:
            mine = [c for c in state.connections.values()
                    if c.connected and c.user_id == user_id and c.aggregator == aggregator
                    and (given is None or c.id == given)]
        owner = next((c for c in mine for a in c.institution.accounts
                      if account == data.account_id(c.id, a.suffix)), None)
        if owner is None:
            return not_found("Account not found")
        return {"transactions": data.transactions(owner.institution, owner.id, account, dates["startDate"],
                                                  dates["endDate"])}

    answers = {"accounts": (accounts_answer, "FinancialAccountCredential"),
               "identity": (identity_answer, "FinancialIdentityCredential"),
               "transactions": (transactions_answer, "FinancialTransactionCredential")}

    @app.get("/api/data/<kind>")
    def data_endpoint(kind: str):
        if kind not in answers:
            return not_found("Not found")
        found = answers[kind][0]()
        return found if isinstance(found, Response) else jsonify(found)

    @app.get("/api/vc/data/<kind>")
    def vc_endpoint(kind: str):
        """The same data as a verifiable credential (a JWT the emulator signs with its own key)."""
        if kind not in answers:
            return not_found("Not found")
        build, credential = answers[kind]
        found = build()
        if isinstance(found, Response):
            return found
        return jsonify({"jwt": _vc_jwt(state.vc_key, credential, found)})

    # -- deletes --------------------------------------------------------------------------

    @app.delete("/api/connection")
    def delete_connection():
        query = request.args.to_dict()
        problem = aggregator_problem(query) or delete_query_problem(query, connection_header(), user=False)
        if problem:
            return refuse(problem)
        aggregator, user_id = query["aggregator"], query.get("userId")
        with state.lock:
            connection = state.connections.get(connection_header() or "")
            # Only that user's connection (userless aggregators name none).
            if (connection is None or connection.aggregator != aggregator
                    or (aggregator not in USERLESS_AGGREGATORS and connection.user_id != user_id)):
                connection = None
            else:
                del state.connections[connection.id]
        if connection is None:
            return not_found("Connection not found")
        return Response(status=204)

    @app.delete("/api/user")
    def delete_user():
        query = request.args.to_dict()
        problem = aggregator_problem(query) or delete_query_problem(query, None, user=True)
        if problem:
            return refuse(problem)
        who = (query["aggregator"], query["userId"])
        aggregator, user_id = who
        with state.lock:
            if who not in state.users:
                return not_found("Can't resolve userId")
            del state.users[who]
            for key in [k for k, c in state.connections.items()
                        if c.user_id == user_id and c.aggregator == aggregator]:
                del state.connections[key]
        return Response(status=204)

    return app


def _v1_params(
    state: SandboxState, args: dict[str, str], *, consume: bool
) -> tuple[dict[str, Any], str | None]:
    """The v1 widget's query (``jobTypes=a,b&userId=...``); the token is needed with authentication on."""
    job_types = [j for j in (args.get("jobTypes") or "").split(",") if j] if "jobTypes" in args else None
    problem = job_types_problem(job_types, present=job_types is not None)
    if problem is None and not args.get("userId"):
        problem = '"userId" is required'
    params: dict[str, Any] = {
        key: args[key] for key in ("userId", "institutionId", "connectionId", "aggregator", "targetOrigin")
        if args.get(key)
    }
    params["jobTypes"] = job_types
    if "singleAccountSelect" in args:
        params["singleAccountSelect"] = as_boolean(args["singleAccountSelect"])
    if problem is None and "targetOrigin" in args and not is_http_uri(args["targetOrigin"]):
        problem = TARGET_ORIGIN_PROBLEM  # as v2 answers: "*" or a javascript: origin is refused
    problem = problem or _v1_peers_problem(params)
    if problem is None and (state.bearer_token is not None or args.get("token")):
        issued = state.use_token(args.get("token"), "v1", consume=consume)
        if issued is None or issued.get("userId") != args.get("userId"):
            problem = "A valid token is required"
    return params, problem


def _v1_peers_problem(params: dict[str, Any]) -> str | None:
    """v1's refresh: the connection with its institution and aggregator, and an aggregator only with both."""
    if params.get("aggregator"):
        for peer in ("connectionId", "institutionId"):
            if not params.get(peer):
                return f"aggregator missing required peer {peer}"
    return peers_problem(params)


def _new_id(institution: data.Institution) -> str:
    return ("MBR-" if institution.aggregator == "mx" else "") + str(uuid.uuid4())


def _institution_json(institution: data.Institution) -> dict[str, Any]:
    return {"guid": institution.guid, "name": institution.name, "url": institution.url,
            "code": institution.code, "aggregator": institution.aggregator,
            "loginLabel": institution.login_label, "oauth": institution.oauth}


def _member(
    connection: Connection, aggregator_user: str, status: int, word: str, **extra: Any
) -> dict[str, Any]:
    """The member as the widget's API answers it, with the event data UCW's server adds for its
    ``memberConnected`` and ``memberStatusUpdate`` (Sophtron's job details too)."""
    shared = {"aggregator": connection.aggregator, "connectionId": connection.id,
              "aggregatorUserId": aggregator_user}
    adapter: dict[str, Any] = {}
    if connection.aggregator == "sophtron":
        adapter = {"rawStatus": {6: "Completed", 3: "SecurityQuestion", 2: "Failed"}.get(status, "Started"),
                   "selectedAccountId": connection.selected_account, "jobLastStep": word.title(),
                   "jobId": connection.job_id}
    return {"connectionId": connection.id, "aggregator": connection.aggregator,
            "ucpInstitutionId": connection.institution.guid, "aggregatorUserId": aggregator_user,
            "userGuid": aggregator_user, "connectionStatus": status, "status": word,
            "postMessageEventData": {"memberConnected": {**adapter, **shared},
                                     "memberStatusUpdate": {**adapter, **shared, "connectionStatus": status}},
            **extra}


def _jwt_refusal(
    authorization: str, secret: str, audience: str | None, issuer: str | None
) -> Response | None:
    """UCW's answer to a request whose bearer is not a good JWT (``express-oauth2-jwt-bearer``'s
    errors through UCW's error handler: 401, the error's message as text), or None."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        response = Response("Unauthorized", status=401, mimetype="text/html")
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    problem = jwt_problem(token.strip(), secret, audience, issuer)
    if problem is None:
        return None
    response = Response(problem, status=401, mimetype="text/html")
    response.headers["WWW-Authenticate"] = (
        f'Bearer realm="api", error="invalid_token", error_description="{problem}"')
    return response


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt_problem(token: str, secret: str, audience: str | None, issuer: str | None) -> str | None:
    """What is wrong with an HS256 JWT, in the words of the JWT library UCW uses, or None."""
    parts = token.split(".")
    try:
        header = json.loads(_unb64(parts[0]))
        payload = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (IndexError, ValueError):
        return "Invalid Compact JWS"
    if len(parts) != 3 or not isinstance(header, dict) or not isinstance(payload, dict):
        return "Invalid Compact JWS"
    if header.get("alg") != "HS256":
        return '"alg" (Algorithm) Header Parameter value not allowed'
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        return "signature verification failed"
    exp = payload.get("exp")
    if not isinstance(exp, (int, float)) or exp <= time.time():
        return '"exp" claim timestamp check failed'
    if issuer is not None and payload.get("iss") != issuer:
        return 'unexpected "iss" claim value'
    given = payload.get("aud")
    if audience is not None and audience not in (given if isinstance(given, list) else [given]):
        return 'unexpected "aud" claim value'
    return None


def mint_jwt(secret: str, *, audience: str | None = None, issuer: str | None = None,
             ttl: float = 3600.0, subject: str = "ucw-emulator-client") -> str:
    """An HS256 JWT the emulator's JWT mode accepts (for tests and local runs)."""
    now = int(time.time())
    payload: dict[str, Any] = {"sub": subject, "iat": now, "exp": now + int(ttl)}
    if audience is not None:
        payload["aud"] = audience
    if issuer is not None:
        payload["iss"] = issuer
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing = f"{header}.{_b64(json.dumps(payload).encode())}"
    return f"{signing}.{_b64(hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest())}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _vc_jwt(key: bytes, credential: str, subject: dict[str, Any]) -> str:
    """A verifiable credential as a compact JWT: UCW passes on the aggregator's signed one; the
    emulator signs its own with a key of its own (HS256), so clients can read it, not verify it."""
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {"vc": {"@context": ["https://www.w3.org/2018/credentials/v1"],
                      "type": ["VerifiableCredential", credential],
                      "issuer": "urn:ucw-emulator", "credentialSubject": subject},
               "iat": int(time.time())}
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{_b64(signature)}"


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
    /* 44 px touch targets, apart from each other ("Done" and "Remove this connection" sit side by side). */
    button {{ font: inherit; padding: .5rem 1rem; border-radius: .4rem; border: 1px solid #2b59c3;
              background: #2b59c3; color: #fff; cursor: pointer; margin: .25rem .5rem .25rem 0;
              min-height: 44px; min-width: 44px; }}
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


OAUTH_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{name}: log in</title><link rel="icon" href="data:,"></head>
<body style="font-family: system-ui, sans-serif; padding: 1.25rem">
  <h1>{name}</h1>
  <p>Log in at your bank to share your accounts with this app (offline emulator: no credentials).</p>
  <form method="post" action="{action}"><button type="submit">Authorize</button></form>
</body>
</html>
"""

OAUTH_DONE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{name}: authorized</title><link rel="icon" href="data:,"></head>
<body style="font-family: system-ui, sans-serif; padding: 1.25rem">
  <h1>Authorized</h1>
  <p>You can close this window and return to the app.</p>
  <script>window.close();</script>
</body>
</html>
"""
