"""The kit's own HTTP endpoints as an OpenAPI 3.1 document, served at ``<prefix>/openapi.json``.

Built from the app's state (its URL prefix and enabled providers), so it describes the routes the
app really has. Every error is the kit's JSON error body; the statuses listed are all those the
kit answers with (a host app's hooks may add their own, e.g. the quickstart's admin sign-in).
"""

from __future__ import annotations

from typing import Any

from .jsonbody import MAX_DEPTH, MAX_INTEGER_DIGITS
from .provider import url_segment

ERROR = {"$ref": "#/components/schemas/Error"}
NULLABLE_TEXT = {"type": ["string", "null"]}


def _json(
    schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description, "content": {"application/json": {"schema": schema}}
    }
    if headers:
        answer["headers"] = headers
    return answer


RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}}

ERRORS = {
    "400": _json(ERROR, "The request is refused: its body, a parameter or the CSRF token."),
    "401": _json(ERROR, "No signed-in user, or a webhook's signature is refused."),
    "403": _json(ERROR, "Not allowed: the app's permission hook, or the source address."),
    "404": _json(ERROR, "No such provider (or page) on this app."),
    "405": _json(ERROR, "Wrong method."),
    "411": _json(ERROR, "A body without a length on a server that cannot tell where it ends."),
    "413": _json(ERROR, "The body is over the limit."),
    "415": _json(ERROR, "The body is not sent as application/json."),
    "429": _json(ERROR, "Over a rate limit.", RETRY_AFTER),
    "502": _json(ERROR, "The upstream's API refused the request."),
    "503": _json(ERROR, "The upstream or the database is unavailable.", RETRY_AFTER),
    "504": _json(ERROR, "The upstream's API did not answer in time."),
}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: ERRORS[code] for code in codes}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


CSRF_HEADER = {
    "name": "X-CSRFToken",
    "in": "header",
    "required": False,
    "description": "The page's CSRF token (required unless the app turned CSRF off).",
    "schema": {"type": "string"},
}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def document(prefix: str, providers: dict[str, Any], default: str | None) -> dict[str, Any]:
    """The OpenAPI 3.1 document for a kit mounted at ``prefix`` with ``providers`` enabled."""
    prefix = prefix.rstrip("/")
    segments = [url_segment(name) for name in providers]
    provider_param = {
        "name": "provider",
        "in": "path",
        "required": True,
        "description": "The provider's URL segment.",
        "schema": {"type": "string", "enum": segments} if segments else {"type": "string"},
    }
    signature_headers = sorted(
        {h for p in providers.values() if isinstance(h := getattr(p, "signature_header", None), str)}
    )

    token = {
        "summary": "Start a link for the current app user.",
        "parameters": [CSRF_HEADER],
        "responses": {
            "201": _json({"type": "object", "additionalProperties": True},
                         "The provider's widget settings, or {url} to send the browser to."),
            **_errors("400", "401", "404", "429", "502", "503", "504"),
        },
    }
    link = {
        "summary": "The page that opens the provider's widget.",
        "parameters": [_query("sdk", "The widget SDK version (providers that have several).")],
        "responses": {"200": _html("The link page."), **_errors("400", "404")},
    }
    callback_body = {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "description": "A browser event of the provider."},
                "args": {"type": ["object", "null"]},
            },
        }}},
    }
    callback = {
        "summary": "Record one browser event {name, args} for the current app user.",
        "parameters": [CSRF_HEADER],
        "requestBody": callback_body,
        "responses": {
            "201": _json({"type": "object", "required": ["id", "status"], "properties": {
                "id": {"type": "integer"}, "status": {"const": "recorded"},
                "accountId": {"type": "string", "description": "The key of the account the event "
                              "reports, as /accounts lists it (only when it reports one)."}}},
                "Recorded."),
            **_errors("400", "401", "404", "411", "413", "429", "503"),
        },
    }
    webhook = {
        "summary": "Verify, store and hand on one signed server-to-server message.",
        "parameters": [
            {"name": header, "in": "header", "required": False, "schema": {"type": "string"},
             "description": "The upstream's signature over the raw body."}
            for header in signature_headers
        ],
        "requestBody": {
            "required": True, "content": {"application/json": {"schema": {"type": "object"}}}
        },
        "responses": {
            "200": _json({"type": "object", "required": ["status", "eventId"], "properties": {
                "status": {"enum": ["stored", "duplicate"]},
                "id": {"type": "integer"},
                "eventId": {"type": "string"}}}, "Stored (or a redelivery, acknowledged only)."),
            **_errors("400", "401", "403", "404", "411", "413", "415", "503"),
        },
    }
    returned = {
        "summary": "Where the upstream sends the browser back (recorded as a browser event when it "
                   "matches a link the signed-in user started).",
        "responses": {
            "200": _html("The return page (it says when nothing was recorded)."),
            **_errors("400", "404", "503"),
            "429": {**_html("Over the browser-event rate limit: a page."), "headers": RETRY_AFTER},
        },
    }
    events = {
        "summary": "Recorded events, newest first.",
        "parameters": [
            _query("provider", "Only this provider's."),
            _query("user", "An app user's events."),
            _query("upstreamUserId", "The upstream's user id."),
            _query("kind", "callback or webhook."),
            _query("after", "Only events with a larger id (oldest first, listed newest first)."),
            _query("limit", "At most this many (capped at 500)."),
        ],
        "responses": {
            "200": _json({"type": "object", "required": ["events"], "properties": {
                "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}}, "Events."),
            **_errors("400", "401", "403", "404"),
        },
    }
    accounts = {
        "summary": "The last known status of each account.",
        "parameters": [
            _query("provider", "Only this provider's."),
            _query("upstreamUserId", "The upstream's user id."),
            _query("user", "An app user's accounts."),
        ],
        "responses": {
            "200": _json({"type": "object", "required": ["accounts"], "properties": {
                "accounts": {"type": "array", "items": {"$ref": "#/components/schemas/Account"}}}},
                "Accounts."),
            **_errors("401", "403", "404"),
        },
    }
    paths: dict[str, Any] = {
        f"{prefix}/{{provider}}/token": {"post": token, "parameters": [provider_param]},
        f"{prefix}/{{provider}}/link": {"get": link, "parameters": [provider_param]},
        f"{prefix}/{{provider}}/events": {"post": callback, "parameters": [provider_param]},
        f"{prefix}/{{provider}}/webhooks": {"post": webhook, "parameters": [provider_param]},
        f"{prefix}/{{provider}}/return": {"get": returned, "parameters": [provider_param]},
        f"{prefix}/events": {"get": events},
        f"{prefix}/accounts": {"get": accounts},
        f"{prefix}/csrf": {"get": {
            "summary": "A fresh CSRF token.",
            "responses": {"200": _json({
                "type": "object",
                "required": ["csrfToken", "csrfHeader"],
                "properties": {"csrfToken": {"type": "string"}, "csrfHeader": {"type": "string"}},
            }, "A token.")},
        }},
        f"{prefix}/openapi.json": {"get": {
            "summary": "This document.",
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
        }},
    }
    if default is not None:
        for path, method, operation in (
            ("token", "post", token), ("link", "get", link),
            ("callbacks", "post", callback), ("webhooks", "post", webhook),
        ):
            summary = operation["summary"] + " (default provider)"
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
