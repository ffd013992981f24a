"""Smile Wink's Flask parts: the link page's template and the script that opens the widget."""

from __future__ import annotations

from flask import Blueprint

#: Registered by the core under ``<WINK_URL_PREFIX>/smile-wink``; its template folder holds
#: ``wink/smile_wink/link.html`` (override it with a template of that name in the host app).
parts = Blueprint(
    "wink_smile_wink",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
