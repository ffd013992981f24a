"""The kit's own HTTP endpoints as an OpenAPI 3.1 document, served at ``<prefix>/openapi.json``.

Built from the app's state (its URL prefix and enabled providers), so it describes the routes the
app really has, each provider's under its own segment. Every error is the kit's JSON error body;
the statuses listed are all those the kit answers with (a host app's hooks may add their own, e.g.
the quickstart's admin sign-in). It is as strict as the server: a request it allows is never
refused as malformed (the contract test fuzzes it with schemathesis's positive-data check).
"""

from __future__ import annotations

from typing import Any

from .jsonbody import MAX_DEPTH, MAX_INTEGER_DIGITS
from .provider import member, url_segment

ERROR = {"$ref": "#/components/schemas/Error"}
NULLABLE_TEXT = {"type": ["string", "null"]}


def json_response(
    schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A response with a JSON body of ``schema`` (for a provider's routes too)."""
    answer: dict[str, Any] = {
        "description": description, "content": {"application/json": {"schema": schema}}
    }
    if headers:
        answer["headers"] = headers
    return answer


RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}}

ERRORS = {
    "400": json_response(ERROR, "The request is refused: its body, a parameter or the CSRF token."),
    "401": json_response(ERROR, "No signed-in user, or a webhook's signature is refused."),
    "403": json_response(ERROR, "Not allowed: the app's permission hook, or the source address."),
    "404": json_response(ERROR, "No such provider (or page) on this app."),
    "405": json_response(ERROR, "Wrong method."),
    "411": json_response(ERROR, "A body without a length on a server that cannot tell where it ends."),
    "413": json_response(ERROR, "The body is over the limit."),
    "415": json_response(ERROR, "The body is not sent as application/json."),
    "429": json_response(ERROR, "Over a rate limit.", RETRY_AFTER),
    "502": json_response(ERROR, "The upstream's API refused the request."),
    "503": json_response(ERROR, "The upstream or the database is unavailable.", RETRY_AFTER),
    "504": json_response(ERROR, "The upstream's API did not answer in time."),
}


def error_responses(*codes: str) -> dict[str, Any]:
    """The kit's JSON error answers for these statuses."""
    return {code: ERRORS[code] for code in codes}


def html_response(description: str) -> dict[str, Any]:
    """A response that is an HTML page."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


CSRF_HEADER = {
    "name": "X-CSRFToken",
    "in": "header",
    "required": False,
    "description": "The page's CSRF token (required unless the app turned CSRF off).",
    "schema": {"type": "string"},
}


def query_parameter(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """An optional query parameter (a string unless ``schema`` says more)."""
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


#: A string the door accepts: no NUL character (it refuses one in any string of a body, keys
#: included; lone surrogates cannot be sent as UTF-8 at all).
TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}
#: Any JSON value the door accepts. Numbers stay within MAX_INTEGER_DIGITS digits (the door
#: counts an integer's digits; a schema can only bound its value); the depth is in the
#: document's description, as JSON Schema has no word for it.
JSON_VALUE = {"$ref": "#/components/schemas/JsonValue"}
JSON_OBJECT = {"type": "object", "propertyNames": TEXT, "additionalProperties": JSON_VALUE}
_LARGEST = 10**MAX_INTEGER_DIGITS - 1


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A required JSON request body of ``schema``."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _absent(summary: str) -> dict[str, Any]:
    """A route every provider has, which this one does not use: always 404."""
    return {"summary": summary, "responses": error_responses("404")}


def webhook_operation(provider: Any) -> dict[str, Any]:
    """Receiving one of ``provider``'s signed messages (``.../webhooks``, or a route of its own
    that receives them the same way)."""
    header = getattr(provider, "signature_header", None)
    return {
        "summary": f"Verify, store and hand on one signed message of {provider.title}.",
        "parameters": [
            {"name": header, "in": "header", "required": False, "schema": {"type": "string"},
             "description": "The upstream's signature over the raw body."}
        ] if isinstance(header, str) else [],
        "requestBody": json_body(JSON_OBJECT),
        "responses": {
            "200": json_response({"type": "object", "required": ["status", "eventId"], "properties": {
                "status": {"enum": ["stored", "duplicate"]},
                "id": {"type": "integer"},
                "eventId": {"type": "string"}}}, "Stored (or a redelivery, acknowledged only)."),
            **error_responses("400", "401", "403", "404", "411", "413", "415", "503"),
        },
    }


def _operations(provider: Any, parameters: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """``{route: (method, operation)}`` of one provider's core routes (token, link, callbacks and
    ``events``, the path it had before, webhooks, return), each as strict as the server is for
    that provider."""
    title = provider.title
    token = {
        "summary": f"Start a {title} link for the current app user.",
        "parameters": [CSRF_HEADER, *parameters.get("token", [])],
        "responses": {
            "201": json_response({"type": "object", "additionalProperties": True},
                         "The provider's widget settings, or {url} to send the browser to."),
            **error_responses("400", "401", "404", "429", "502", "503", "504"),
        },
    }
    link = {
        "summary": f"The page that opens {title}'s widget.",
        "parameters": parameters.get("link", []),
        "responses": {"200": html_response("The link page."), **error_responses("400", "404")},
    }
    if provider.browser_events:
        events: dict[str, Any] = {
            "summary": f"Record one {title} callback (a browser event) {{name, args}} for the current "
                       "app user.",
            "parameters": [CSRF_HEADER],
            "requestBody": json_body({
                **JSON_OBJECT,
                "required": ["name"],
                "properties": {
                    "name": {"enum": list(provider.browser_events),
                             "description": f"A browser event of {title}."},
                    "args": {"anyOf": [{"type": "null"}, JSON_OBJECT]},
                },
            }),
            "responses": {
                "201": json_response({"type": "object", "required": ["id", "status"], "properties": {
                    "id": {"type": "integer"}, "status": {"const": "recorded"},
                    "accountId": {"type": "string", "description": "The key of the account the event "
                                  "reports, as /accounts lists it (only when it reports one)."}}},
                    "Recorded."),
                **error_responses("400", "401", "404", "411", "413", "429", "503"),
            },
        }
    else:
        events = _absent(f"{title} reports no browser events.")
    if provider.accepts_inbound:
        webhook = webhook_operation(provider)
    else:
        webhook = _absent(f"{title} sends no server-to-server messages.")
    if member(provider, "return_event")({}) is not None:
        returned: dict[str, Any] = {
            "summary": f"Where {title} sends the browser back (recorded as a browser event when it "
                       "matches a link the signed-in user started).",
            "parameters": parameters.get("return", []),
            "responses": {
                "200": html_response("The return page (it says when nothing was recorded)."),
                **error_responses("400", "404", "503"),
                "429": {**html_response("Over the browser-event rate limit: a page."),
                        "headers": RETRY_AFTER},
            },
        }
    else:
        returned = _absent(f"{title} does not send the browser back to this app.")
    alias = {**events, "deprecated": True, "summary": events["summary"] + " (the path /callbacks had before)"}
    return {"token": ("post", token), "link": ("get", link), "callbacks": ("post", events),
            "events": ("post", alias),
            "webhooks": ("post", webhook), "return": ("get", returned)}


def document(prefix: str, providers: dict[str, Any], default: str | None) -> dict[str, Any]:
    """The OpenAPI 3.1 document for a kit mounted at ``prefix`` with ``providers`` enabled.

    Each provider's routes are listed under its own URL segment, with what only it takes (a
    provider's optional ``openapi(base)``: ``{"parameters": {"token"|"link"|"return": [...]},
    "paths": {...}}`` for the query parameters of those routes and the routes of its own Flask
    parts under ``base``, ``<prefix>/<segment>``)."""
    prefix = prefix.rstrip("/")
    names = [""] + sorted({*providers, *(url_segment(name) for name in providers)})
    paths: dict[str, Any] = {}
    by_provider: dict[str, dict[str, Any]] = {}
    for name, provider in providers.items():
        base = f"{prefix}/{url_segment(name)}"
        describe = getattr(provider, "openapi", None)
        own = describe(base) if describe is not None else {}
        by_provider[name] = _operations(provider, own.get("parameters", {}))
        for route, (method, operation) in by_provider[name].items():
            paths[f"{base}/{route}"] = {method: operation}
        paths.update(own.get("paths", {}))
    events = {
        "summary": "Recorded events, newest first.",
        "parameters": [
            query_parameter("provider", "Only this provider's (its name or URL segment).", {"enum": names}),
            query_parameter("user", "An app user's events.", TEXT),
            query_parameter("upstreamUserId", "The upstream's user id.", TEXT),
            query_parameter("kind", "callback or webhook.", {"enum": ["", "callback", "webhook"]}),
            query_parameter("after", "Only events with a larger id (oldest first, listed newest first).",
                   {"type": "string", "pattern": "^[0-9]{0,18}$"}),
            query_parameter("limit", "At most this many (capped at 500).",
                   {"type": "string", "pattern": "^(0*[1-9][0-9]{0,17})?$"}),
        ],
        "responses": {
            "200": json_response({"type": "object", "required": ["events"], "properties": {
                "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}}, "Events."),
            **error_responses("400", "401", "403", "404"),
        },
    }
    accounts = {
        "summary": "The last known status of each account.",
        "parameters": [
            query_parameter("provider", "Only this provider's (its name or URL segment).", {"enum": names}),
            query_parameter("upstreamUserId", "The upstream's user id.", TEXT),
            query_parameter("user", "An app user's accounts.", TEXT),
        ],
        "responses": {
            "200": json_response({"type": "object", "required": ["accounts"], "properties": {
                "accounts": {"type": "array", "items": {"$ref": "#/components/schemas/Account"}}}},
                "Accounts."),
            **error_responses("401", "403", "404"),
        },
    }
    paths.update({
        f"{prefix}/events": {"get": events},
        f"{prefix}/accounts": {"get": accounts},
        f"{prefix}/csrf": {"get": {
            "summary": "A fresh CSRF token.",
            "responses": {"200": json_response({
                "type": "object",
                "required": ["csrfToken", "csrfHeader"],
                "properties": {"csrfToken": {"type": "string"}, "csrfHeader": {"type": "string"}},
            }, "A token.")},
        }},
        f"{prefix}/openapi.json": {"get": {
            "summary": "This document.",
            "responses": {"200": json_response({"type": "object"}, "The OpenAPI document.")},
        }},
    })
    if default is not None:
        for path, route in (("token", "token"), ("link", "link"), ("callbacks", "callbacks"),
                            ("webhooks", "webhooks")):
            method, operation = by_provider[default][route]
            summary = operation["summary"] + " (the default provider's)"
            paths[f"{prefix}/{path}"] = {method: {**operation, "summary": summary}}
    for path, item in paths.items():
        for method in [m for m in item if m != "parameters"]:
            item[method] = {**item[method], "operationId": f"{method} {path}"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "flask-wink",
            "version": "1",
            "description": (
                "Account linking endpoints of the flask-wink kit. Bodies are UTF-8 JSON (no byte order "
                f"mark), nested at most {MAX_DEPTH} deep, integers of at most {MAX_INTEGER_DIGITS} digits, "
                "no NaN/Infinity, lone surrogates or NUL characters; anything else is answered 400."
            ),
        },
        "paths": paths,
        "components": {"schemas": {
            "JsonValue": {"anyOf": [
                {"type": ["null", "boolean"]},
                {"type": "number", "minimum": -_LARGEST, "maximum": _LARGEST},
                TEXT,
                {"type": "array", "items": JSON_VALUE},
                JSON_OBJECT,
            ]},
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {
                    "error": {"type": "string"},
                    "message": {"type": ["string", "null"]},
                    "code": {"type": "string"},
                    "requestId": {"type": "string"},
                },
            },
            "Event": {
                "type": "object",
                "required": ["id", "provider", "kind", "name", "eventId", "appUserId", "upstreamUserId",
                             "payload", "receivedAt", "state", "attempts", "error"],
                "properties": {
                    "id": {"type": "integer"},
                    "provider": {"type": "string"},
                    "kind": {"enum": ["callback", "webhook"]},
                    "name": {"type": "string"},
                    "eventId": NULLABLE_TEXT,
                    "appUserId": NULLABLE_TEXT,
                    "upstreamUserId": NULLABLE_TEXT,
                    "payload": {},
                    "receivedAt": {"type": "string"},
                    "state": {"enum": ["pending", "handling", "handled", "failed", "dead"]},
                    "attempts": {"type": "integer"},
                    "error": NULLABLE_TEXT,
                    "nextAttemptAt": NULLABLE_TEXT,
                    "payloadError": {"type": "string"},
                },
            },
            "Account": {
                "type": "object",
                "required": ["provider", "accountId", "status", "updatedAt"],
                "properties": {
                    "provider": {"type": "string"},
                    "accountId": {"type": "string"},
                    "upstreamUserId": NULLABLE_TEXT,
                    "institutionId": NULLABLE_TEXT,
                    "status": {"type": "string"},
                    "errorCode": NULLABLE_TEXT,
                    "connectedAt": NULLABLE_TEXT,
                    "updatedAt": {"type": "string"},
                },
            },
        }},
    }
