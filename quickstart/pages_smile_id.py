"""Quickstart pages for Smile ID (Smile Links): the "Verify your identity" panel on the dashboard,
the links admin page, and the emulator in sandbox mode.

Settings (``.env``): ``SMILE_ID_PARTNER_ID``, ``SMILE_ID_API_KEY``, ``SMILE_ID_HOST`` (default Smile
ID's sandbox), ``SMILE_ID_PRIVACY_URL``, ``SMILE_ID_COMPANY_NAME``, ``SMILE_ID_CALLBACK_URL`` (the
public URL of ``/wink/smile-id/webhooks``). The links admin page is one of the quickstart's admin
pages: open in sandbox mode, behind ``ADMIN_PASSWORD`` in live mode.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import generate_csrf

from flask_wink import get_state
from flask_wink.errors import InvalidRequest, upstream_http_error
from flask_wink.providers.smile_id import NAME, SmileIDError, verifications
from flask_wink.providers.smile_id.sandbox import create_sandbox_app

from .shared import Link, check_csrf

SANDBOX_PREFIX = "/sandbox/smile-id"


def setup_smile_id(app: Flask, settings: Any, base_url: str) -> Flask | None:
    """Set ``WINK_SMILE_ID_*`` before ``Wink(app)``: the emulator in sandbox mode, Smile ID when its
    partner id and key are set in live mode. Returns the emulator when one is to be mounted (at
    ``/sandbox/smile-id``)."""
    given = settings.smile_id
    config = app.config
    sandbox = None
    if settings.sandbox:
        sandbox = create_sandbox_app(review_delay=float(given.get("SMILE_ID_REVIEW_DELAY") or 3.0))
        state = sandbox.extensions["smile_id_sandbox"]
        partner_id, api_key = state.partner_id, state.api_key
        host = f"{base_url}{SANDBOX_PREFIX}/v1"
        # The emulator posts results to the app's own address.
        config["WINK_SMILE_ID_CALLBACK_URL"] = f"{base_url}/wink/smile-id/webhooks"
    else:
        partner_id, api_key = given.get("SMILE_ID_PARTNER_ID"), given.get("SMILE_ID_API_KEY")
        host = given.get("SMILE_ID_HOST")
        if given.get("SMILE_ID_CALLBACK_URL"):
            config["WINK_SMILE_ID_CALLBACK_URL"] = given["SMILE_ID_CALLBACK_URL"]
    enabled = bool(partner_id and api_key)
    if enabled:
        config["WINK_SMILE_ID_PARTNER_ID"] = partner_id
        config["WINK_SMILE_ID_API_KEY"] = api_key
        if host:
            config["WINK_SMILE_ID_HOST"] = host
        config["WINK_SMILE_ID_PRIVACY_URL"] = given.get("SMILE_ID_PRIVACY_URL") or f"{base_url}/privacy"
        config["WINK_SMILE_ID_COMPANY_NAME"] = given.get("SMILE_ID_COMPANY_NAME") or "flask-wink quickstart"
    config["QUICKSTART_SMILE_ID"] = enabled
    config["QUICKSTART_SMILE_ID_ADMIN"] = settings.sandbox or bool(settings.admin_password)
    config["QUICKSTART_SMILE_ID_SANDBOX"] = sandbox
    app.jinja_env.globals["smile_id_enabled"] = enabled
    return sandbox


def _enabled() -> Any:
    if not current_app.config.get("QUICKSTART_SMILE_ID"):
        abort(404)
    return get_state().providers[NAME]



def panel_context() -> dict[str, Any]:
    """What the dashboard's "Identity verification" panel shows for the current user."""
    if not current_app.config.get("QUICKSTART_SMILE_ID"):
        return {}
    state = get_state()
    found = verifications(state, state.wink.current_user_id() or "")
    return {
        "smile_id": {
            "status": found[0]["status"] if found else None,
            "verifications": found,
            "csrf_token": generate_csrf(),
            "admin": current_app.config.get("QUICKSTART_SMILE_ID_ADMIN"),
        }
    }


def _smile_id_panel() -> dict[str, Any]:
    # Only the dashboard includes the panel; the context is cheap to skip elsewhere.
    if not has_request_context() or request.endpoint != "index":
        return {}
    return panel_context()


def privacy():
    """The privacy page Smile ID's hosted page links to (the quickstart keeps no ID data)."""
    return render_template("pages/smile_id_privacy.html")


def smile_id_links():
    """Smile Links, page by page, with their counters and a Disable button (an admin page: in
    live mode the quickstart asks for ADMIN_PASSWORD before this runs)."""
    provider = _enabled()
    try:
        number = max(1, int(request.args.get("page") or 1))
    except ValueError:
        raise InvalidRequest("page must be a whole number.") from None
    try:
        answer = provider.client.list_links(number)
    except SmileIDError as exc:
        raise upstream_http_error(exc) from None
    return render_template(
        "pages/smile_id_links.html",
        links=answer.get("links") or [],
        meta=answer.get("meta") or {},
        page=number,
        csrf_token=generate_csrf(),
        disabled=request.args.get("disabled"),
    )


def smile_id_disable_link(ref_id: str):
    """Disable one link, then back to the page it was on."""
    provider = _enabled()
    check_csrf()
    try:
        provider.client.disable_link(ref_id)
    except SmileIDError as exc:
        raise upstream_http_error(exc) from None
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    page = request.form.get("page") or "1"
    return redirect(url_for("pages.smile_id_links", page=page, disabled=ref_id), 303)


#: The pages the dashboard's menu lists: none.
LINKS: tuple[Link, ...] = ()


def register(pages: Blueprint) -> None:
    """Add this part's routes and template context to the quickstart's ``pages`` blueprint."""
    pages.app_context_processor(_smile_id_panel)
    pages.add_url_rule("/privacy", view_func=privacy, methods=["GET"])
    pages.add_url_rule("/smile-id/links", view_func=smile_id_links, methods=["GET"])
    pages.add_url_rule("/smile-id/links/<ref_id>/disable", view_func=smile_id_disable_link, methods=["POST"])
