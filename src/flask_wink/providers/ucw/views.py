"""UCW's Flask parts: the link page's template and the current user's connections as JSON."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ...flow import require_user
from ...openapi import NULLABLE_TEXT, error_responses, json_response
from ...state import get_state
from .connections import user_connections
from .events import NAME

#: Registered by the core under ``<WINK_URL_PREFIX>/ucw``; its template folder holds
#: ``wink/ucw/link.html`` (override it with a template of that name in the host app).
parts = Blueprint("wink_ucw", __name__, template_folder="templates")


@parts.get("/connections")
def my_connections():
    """The signed-in user's connections: key, institution, status (never the connection id)."""
    state = get_state()
    app_user_id = require_user(state, "Sign in to see your connections.")
    upstream = state.store.upstream_user_id(NAME, app_user_id)
    found = user_connections(state, upstream) if upstream else []
    response = jsonify({"connections": found})
    response.headers["Cache-Control"] = "no-store"
    return response


def openapi_paths(base: str) -> dict[str, Any]:
    """``GET <base>/connections`` in the kit's OpenAPI document."""
    connection = {
        "type": "object",
        "required": ["key", "status", "institutionId", "institutionName", "aggregator", "connectedAt",
                     "updatedAt", "fetchedAt"],
        "properties": {"key": {"type": "string"}, "status": {"type": "string"},
                       **{name: NULLABLE_TEXT for name in ("institutionId", "institutionName", "aggregator",
                                                           "connectedAt", "fetchedAt")},
                       "updatedAt": {"type": "string"}},
    }
    return {f"{base}/connections": {"get": {
        "summary": "The signed-in user's UCW connections (never a connection id).",
        "responses": {
            "200": json_response({"type": "object", "required": ["connections"], "properties": {
                "connections": {"type": "array", "items": connection}}}, "The connections."),
            **error_responses("401"),
        },
    }}}
