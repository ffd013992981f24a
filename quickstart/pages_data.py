"""Quickstart pages: the current user's accounts (with revoke) and their last fetched data."""

from __future__ import annotations

import json
from datetime import datetime

from flask import abort, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from flask_wink import get_state
from flask_wink.errors import InvalidRequest, upstream_http_error
from flask_wink.providers.smile_wink import SmileError
from flask_wink.providers.smile_wink.userdata import (
    ACCOUNT_RETENTION,
    fetch_and_store,
    revoke_account,
    stored_user_data,
)

from .pages import check_csrf, link, pages
from .summaries import count_of, smile_provider_name


def _smile_user_id() -> str | None:
    state = get_state()
    return state.store.upstream_user_id("smile_wink", state.wink.current_user_id() or "")


@pages.get("/accounts")
def data_accounts():
    """The current user's linked accounts: status, connection date, when Smile deletes the data."""
    smile_user_id = _smile_user_id()
    store = get_state().store
    accounts = (
        store.list_accounts(provider="smile_wink", upstream_user_id=smile_user_id) if smile_user_id else []
    )
    rows = []
    for account in accounts:
        connected = account["connectedAt"]
        expires = None
        if connected and account["status"] == "CONNECTED":
            expires = datetime.fromisoformat(connected.replace("Z", "+00:00")) + ACCOUNT_RETENTION
        rows.append({**account, "providerName": smile_provider_name(account["institutionId"]),
                     "expiresAt": expires.strftime("%Y-%m-%d") if expires else None,
                     "connectedOn": connected[:10] if connected else None})
    return render_template("pages/data_accounts.html", accounts=rows, csrf_token=generate_csrf(),
                           revoked=request.args.get("revoked"))


@pages.post("/accounts/<account_id>/revoke")
def data_revoke_account(account_id: str):
    """Revoke one of the current user's accounts at Smile and delete its data here."""
    check_csrf()
    smile_user_id = _smile_user_id()
    account = get_state().store.account("smile_wink", account_id)
    if smile_user_id is None or account is None or account["upstreamUserId"] != smile_user_id:
        abort(404)
    try:
        revoke_account(account_id)
    except SmileError as exc:
        raise upstream_http_error(exc) from None
    return redirect(url_for("pages.data_accounts", revoked=account_id), code=303)


@pages.get("/data")
def data_document():
    """The current user's last fetched data document, with a button to fetch it again."""
    smile_user_id = _smile_user_id()
    document = stored_user_data(get_state(), smile_user_id) if smile_user_id else None
    counts: list[str] = []
    if document:
        counts = [count_of(len(v), k) for k, v in document.items() if isinstance(v, list)]
    return render_template(
        "pages/data_document.html",
        document=json.dumps(document, indent=2) if document else None,
        fetched_at=(document or {}).get("fetchedAt"),
        counts=counts,
        linked=smile_user_id is not None,
        csrf_token=generate_csrf(),
    )


@pages.post("/data/fetch")
def data_fetch():
    """Fetch the current user's data from Smile now and keep it."""
    check_csrf()
    smile_user_id = _smile_user_id()
    if smile_user_id is None:
        raise InvalidRequest("Link an account first: this browser's user has no Smile user yet.")
    try:
        fetch_and_store(get_state(), smile_user_id)
    except SmileError as exc:
        raise upstream_http_error(exc) from None
    return redirect(url_for("pages.data_document"), code=303)


link("pages.data_accounts", "Your accounts")
link("pages.data_document", "Your data")
