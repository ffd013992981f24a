"""Quickstart pages for the Universal Connect Widget: the emulator in sandbox mode, the user's bank
connections with refresh and delete, and each connection's accounts and latest transactions."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from flask_wink import get_state
from flask_wink.errors import upstream_http_error
from flask_wink.providers.ucw import (
    NAME,
    UcwError,
    account_summaries,
    delete_connection,
    stored_data,
    transaction_rows,
    user_connections,
)
from flask_wink.providers.ucw.sandbox import create_sandbox_app

from .settings import Settings
from .shared import Link, check_csrf
from .summaries import institution_name, status_word
from .timeline import STATUS_GROUPS

#: Where the quickstart mounts the UCW emulator in sandbox mode (Smile's sandbox is at /sandbox).
UCW_SANDBOX_PREFIX = "/sandbox/ucw"
#: What the emulator's test banks take, shown on the pages.
TEST_BANKS = (
    ("MX Bank", "mxuser", "correct", None),
    ("Sophtron Bank NoMFA", "asdf", "asdf", None),
    ("Sophtron Bank", "asdfg12X", "asdfg12X",
     "captcha asdf, security question asdf, any token channel, token asdf"),
)


def configure_ucw(app: Flask, settings: Settings, base_url: str) -> Flask | None:
    """Enable UCW before the kit starts: the UCW at UCW_URL when set, else (sandbox mode) the
    emulator mounted at /sandbox/ucw. Returns the emulator when one is to be mounted."""
    emulator = None
    if settings.ucw_url:
        app.config["WINK_UCW_URL"] = settings.ucw_url
        if settings.ucw_token:
            app.config["WINK_UCW_TOKEN"] = settings.ucw_token
    elif settings.sandbox:
        emulator = create_sandbox_app()
        app.config["WINK_UCW_URL"] = f"{base_url}{UCW_SANDBOX_PREFIX}"
    if settings.ucw_api_version:
        app.config["WINK_UCW_API_VERSION"] = settings.ucw_api_version
    app.config["QUICKSTART_UCW_SANDBOX"] = emulator
    app.jinja_env.globals["ucw_enabled"] = bool(app.config.get("WINK_UCW_URL"))
    app.jinja_env.globals["ucw_test_banks"] = TEST_BANKS if emulator is not None else ()
    return emulator



def _ucw_user() -> str | None:
    state = get_state()
    if NAME not in state.providers:
        abort(404)
    return state.store.upstream_user_id(NAME, state.wink.current_user_id() or "")


def ucw_connections():
    """The current user's bank connections, each with its accounts and latest transactions."""
    upstream = _ucw_user()
    state = get_state()
    shown = []
    for connection in user_connections(state, upstream) if upstream else []:
        document = stored_data(state, connection["key"], upstream)
        status = connection["status"]
        shown.append({**connection, "name": institution_name(connection), "word": status_word(status),
                      "tone": STATUS_GROUPS[NAME][1].get(status, "info"),
                      "accounts": account_summaries(document),
                      "transactions": transaction_rows(document, limit=10),
                      "window": (document or {}).get("window")})
    return render_template("pages/ucw.html", connections=shown, csrf_token=generate_csrf(),
                           deleted=request.args.get("deleted"))


def ucw_delete(key: str):
    """Delete one of the current user's connections at UCW and here."""
    check_csrf()
    upstream = _ucw_user()
    if upstream is None or key not in {c["key"] for c in user_connections(get_state(), upstream)}:
        abort(404)
    try:
        delete_connection(get_state(), key)
    except UcwError as exc:
        raise upstream_http_error(exc) from None
    return redirect(url_for("pages.ucw_connections", deleted="1"), code=303)


#: The pages the dashboard's menu lists.
LINKS: tuple[Link, ...] = (
    ("pages.ucw_connections", "Your bank"),
)


def register(pages: Blueprint) -> None:
    """Add this part's routes to the quickstart's ``pages`` blueprint."""
    pages.add_url_rule("/bank", view_func=ucw_connections, methods=["GET"])
    pages.add_url_rule("/bank/<key>/delete", view_func=ucw_delete, methods=["POST"])
