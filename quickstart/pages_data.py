"""Quickstart pages: the current user's accounts (with revoke) and their last fetched data."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from flask_wink import get_state
from flask_wink.errors import InvalidRequest, upstream_http_error
from flask_wink.jsonshape import account_json
from flask_wink.providers.smile_id import verifications
from flask_wink.providers.smile_id.results import FINAL_RESULT, INTERIM_RESULT, verification_id
from flask_wink.providers.smile_wink import SmileError
from flask_wink.providers.smile_wink.userdata import (
    ACCOUNT_RETENTION,
    fetch_and_store,
    revoke_account,
    stored_user_data,
)
from flask_wink.providers.ucw import account_summaries, stored_data, transaction_rows, user_connections

from .pages_archives import archive_rows
from .shared import Link, check_csrf
from .summaries import action_row, count_of, institution_name, smile_provider_name, status_word
from .timeline import STATUS_GROUPS

UCW, SMILE_ID = "ucw", "smile_id"


def _smile_user_id() -> str | None:
    state = get_state()
    return state.store.upstream_user_id("smile_wink", state.wink.current_user_id() or "")


def data_accounts():
    """The current user's linked accounts: status, connection date, when Smile deletes the data."""
    smile_user_id = _smile_user_id()
    store = get_state().store
    accounts = (
        [account_json(a) for a in store.list_accounts(provider="smile_wink", upstream_user_id=smile_user_id)]
        if smile_user_id
        else []
    )
    rows = []
    for account in accounts:
        connected = account["connectedAt"]
        expires = None
        if connected and account["status"] == "CONNECTED":
            expires = datetime.fromisoformat(connected.replace("Z", "+00:00")) + ACCOUNT_RETENTION
        rows.append({**account, "providerName": smile_provider_name(account["institutionId"]),
                     "word": status_word(account["status"]),
                     "tone": STATUS_GROUPS["smile_wink"][1].get(account["status"], "info"),
                     "expiresAt": expires.strftime("%Y-%m-%d") if expires else None,
                     "connectedOn": connected[:10] if connected else None})
    return render_template("pages/data_accounts.html", accounts=rows, csrf_token=generate_csrf(),
                           revoked=request.args.get("revoked"))


def data_revoke_account(account_id: str):
    """Revoke one of the current user's accounts at Smile and delete its data here."""
    check_csrf()
    smile_user_id = _smile_user_id()
    account = get_state().store.account("smile_wink", account_id)
    if smile_user_id is None or account is None or account.upstream_user_id != smile_user_id:
        abort(404)
    try:
        revoke_account(account_id)
    except SmileError as exc:
        raise upstream_http_error(exc) from None
    return redirect(url_for("pages.data_accounts", revoked=account_id), code=303)


#: The Smile data kinds the page shows as tables; the others are counted, with their JSON.
SMILE_TABLES = ("identities", "employments", "incomes")


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _smile_data(document: dict[str, Any] | None) -> dict[str, Any] | None:
    """The Smile document as the page shows it: a table's rows per kind, the rest counted."""
    if not document:
        return None
    kinds = {k: v for k, v in document.items() if isinstance(v, list)}
    return {
        "fetchedAt": document.get("fetchedAt"),
        "counts": [count_of(len(v), k) for k, v in kinds.items()],
        "tables": {k: kinds.get(k) or [] for k in SMILE_TABLES},
        "others": [(k, count_of(len(v), k), _json(v)) for k, v in kinds.items() if k not in SMILE_TABLES],
        "json": {k: _json(kinds.get(k) or []) for k in SMILE_TABLES},
    }


def _bank_data() -> list[dict[str, Any]]:
    """Each of the user's confirmed bank connections with its accounts and latest transactions."""
    state = get_state()
    if UCW not in state.providers:
        return []
    upstream = state.store.upstream_user_id(UCW, state.wink.current_user_id() or "")
    shown = []
    for connection in user_connections(state, upstream) if upstream else []:
        document = stored_data(state, connection["key"], upstream)
        if document is None:
            continue
        shown.append({
            **connection,
            "name": institution_name(connection),
            "accounts": account_summaries(document),
            "transactions": transaction_rows(document, limit=10),
            "transactionCount": len(document.get("transactions") or []),
            "window": document.get("window"),
            "json": _json(document),
        })
    return shown


def _identity_checks() -> list[dict[str, Any]]:
    """The user's latest identity verifications (three at most), each with the Actions of its
    newest result as a checklist and that result's JSON (as the timeline shows it)."""
    state = get_state()
    provider = state.providers.get(SMILE_ID)
    if provider is None:
        return []
    user = state.wink.current_user_id() or ""
    newest: dict[str, Any] = {}
    for event in state.store.list_events(provider=SMILE_ID, app_user_id=user, limit=200):  # newest first
        payload = event.payload if isinstance(event.payload, dict) else {}
        if event.name in (FINAL_RESULT, INTERIM_RESULT) and (job := verification_id(payload)):
            newest.setdefault(job, (event, payload))
    checks = []
    for verification in verifications(state, user)[:3]:
        found = newest.get(verification["jobId"])
        if found is None:
            continue
        event, payload = found
        actions = payload.get("Actions") if isinstance(payload.get("Actions"), dict) else {}
        shown = getattr(provider, "shown_payload", None)
        checks.append({
            "status": verification["status"],
            "tone": STATUS_GROUPS[SMILE_ID][1].get(verification["status"], "info"),
            "startedAt": verification["startedAt"],
            "result": f"{payload.get('ResultCode', '')} {payload.get('ResultText', '')}".strip(),
            "final": event.name == FINAL_RESULT,
            "actions": [action_row(name, str(said)) for name, said in actions.items()],
            "json": _json(shown(event.kind, event.name, payload) if shown else payload),
        })
    return checks


def data_document():
    """What each linked service shared with the current user's app, kind by kind, as tables, each
    with its JSON behind a disclosure; with a button to fetch Smile's data again."""
    smile_user_id = _smile_user_id()
    document = stored_user_data(get_state(), smile_user_id) if smile_user_id else None
    return render_template(
        "pages/data_document.html",
        smile=_smile_data(document),
        payslips=[r for r in archive_rows() if r["employer"] or r["gross"]],
        banks=_bank_data(),
        checks=_identity_checks(),
        linked=smile_user_id is not None,
        csrf_token=generate_csrf(),
    )


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


#: The pages the dashboard's menu lists.
LINKS: tuple[Link, ...] = (
    ("pages.data_accounts", "Your accounts"),
    ("pages.data_document", "Your data"),
)


def register(pages: Blueprint) -> None:
    """Add this part's routes to the quickstart's ``pages`` blueprint."""
    pages.add_url_rule("/accounts", view_func=data_accounts, methods=["GET"])
    pages.add_url_rule("/accounts/<account_id>/revoke", view_func=data_revoke_account, methods=["POST"])
    pages.add_url_rule("/data", view_func=data_document, methods=["GET"])
    pages.add_url_rule("/data/fetch", view_func=data_fetch, methods=["POST"])
