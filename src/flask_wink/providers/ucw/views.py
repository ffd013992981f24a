"""UCW's Flask parts: the link page's template and the current user's connections as JSON."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ...errors import NotSignedIn
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
    app_user_id = state.wink.current_user_id()
    if not app_user_id:
        raise NotSignedIn("Sign in to see your connections.")
    upstream = state.store.upstream_user_id(NAME, app_user_id)
    found = user_connections(state, upstream) if upstream else []
    response = jsonify({"connections": found})
    response.headers["Cache-Control"] = "no-store"
    return response
