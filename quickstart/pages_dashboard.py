"""The dashboard's timeline and status panel (``/``), their live updates (``/timeline.json``), and
the favicon.

Live updates are polled with an ETag rather than streamed (Server-Sent Events): waitress serves the
quickstart with a fixed pool of threads, and a stream would hold one for as long as a tab stays
open. A poll that finds nothing new is answered ``304 Not Modified`` with no body, after two small
queries (the newest event's id, the user's accounts); a hidden tab does not poll.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for

from flask_wink import get_state
from flask_wink.erasure import dropped_webhooks
from flask_wink.errors import InvalidRequest
from flask_wink.jsonshape import account_json
from flask_wink.providers.ucw import institution_names
from flask_wink.retention import schedule

from .shared import Link, is_admin
from .summaries import PROVIDER_TITLES
from .timeline import TIMELINE_EVENTS, build_rows, status_groups, version_tag

KINDS = {"callback": "Browser events", "webhook": "Webhooks"}
ALL_USERS = "*"
UCW = "ucw"

FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#4453d6"/>'
    '<circle cx="11" cy="13" r="2.6" fill="#fff"/>'
    '<path d="M18.5 13.2h5.5" stroke="#fff" stroke-width="2.6" stroke-linecap="round"/>'
    '<path d="M9 19.5c2 3.6 12 3.6 14 0" fill="none" stroke="#fff" '
    'stroke-width="2.6" stroke-linecap="round"/>'
    "</svg>"
)


def favicon():
    """The quickstart's icon (an SVG, which browsers take for /favicon.ico too)."""
    response = Response(FAVICON, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def _sees_everyone() -> bool:
    """Sandbox mode (a demo), or the admin in live mode: any user's timeline may be shown."""
    settings = current_app.config["QUICKSTART"]
    if settings.sandbox:
        return True
    return is_admin(settings)


def _filters() -> dict[str, str]:
    """The timeline's filters from the query: ``provider``, ``kind`` and ``user`` (the current
    browser's user unless another may be seen; ``*`` for everyone)."""
    state = get_state()
    provider = request.args.get("provider") or ""
    if provider and provider not in state.providers:
        raise InvalidRequest(f"provider must be one of: {', '.join(sorted(state.providers))}.")
    kind = request.args.get("kind") or ""
    if kind and kind not in KINDS:
        raise InvalidRequest("kind must be 'callback' or 'webhook'.")
    own = state.wink.current_user_id() or ""
    user = request.args.get("user") or own
    if user != own and not _sees_everyone():
        user = own  # in live mode a user sees only their own
    return {"provider": provider, "kind": kind, "user": user}


def _accounts(user: str) -> list[dict[str, Any]]:
    store = get_state().store
    # As the JSON API shows them: the pages, the timeline and the live updates read the same keys.
    return [account_json(a) for a in store.list_accounts(app_user_id=None if user == ALL_USERS else user)]


def _bank_names(accounts: list[dict[str, Any]]) -> dict[str, str]:
    """The institution name UCW gave for each of these bank connections, by key."""
    state = get_state()
    if UCW not in state.providers:
        return {}
    users = {a["upstreamUserId"] for a in accounts if a["provider"] == UCW and a.get("upstreamUserId")}
    return institution_names(state, users)


def _newest_event_id(filters: dict[str, str]) -> int:
    newest = get_state().store.list_events(**_event_query(filters), limit=1)
    return newest[0].id if newest else 0


def _event_query(filters: dict[str, str]) -> dict[str, Any]:
    user = filters["user"]
    return {
        "provider": filters["provider"] or None,
        "kind": filters["kind"] or None,
        "app_user_id": None if user == ALL_USERS else user,
    }


def timeline_context(filters: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything the timeline and the status panel show, and the ETag that stands for it."""
    state = get_state()
    filters = filters or _filters()
    accounts = _accounts(filters["user"])
    events = state.store.list_events(**_event_query(filters), limit=TIMELINE_EVENTS)
    newest = events[0].id if events else 0
    return {
        "filters": filters,
        "rows": build_rows(events, state.providers, accounts),
        "groups": status_groups(accounts, state.providers, _bank_names(accounts)),
        "etag": version_tag(newest, accounts, filters),
        "show_user": filters["user"] == ALL_USERS,
    }


def _user_choices(filters: dict[str, str]) -> list[tuple[str, str]]:
    """The user filter's options: this browser's user, everyone, and users seen lately."""
    own = get_state().wink.current_user_id() or ""
    choices = [(own, f"You ({own})"), (ALL_USERS, "All users")]
    seen = {own, ALL_USERS}
    for event in get_state().store.list_events(limit=TIMELINE_EVENTS):
        if event.app_user_id and event.app_user_id not in seen:
            seen.add(event.app_user_id)
            choices.append((event.app_user_id, event.app_user_id))
    if filters["user"] not in seen:
        choices.append((filters["user"], filters["user"]))
    return choices


def _dashboard() -> dict[str, Any]:
    # Only the dashboard shows the timeline.
    if request.endpoint != "index":
        return {}
    context = timeline_context()
    filters = context["filters"]
    return {
        "dashboard": {
            **context,
            "providers": [(p, PROVIDER_TITLES.get(p, p)) for p in get_state().providers],
            "kinds": list(KINDS.items()),
            "users": _user_choices(filters) if _sees_everyone() else [],
            "live_url": url_for("pages.timeline_json", **{k: v for k, v in filters.items() if v}),
            # Webhooks naming an erased user: acknowledged and dropped, never stored (a count only).
            "dropped": dropped_webhooks(get_state()),
            # What expires when (WINK_EVENT_RETENTION and the rest), for whoever sees everyone.
            "retention": schedule(get_state(), counts=False) if _sees_everyone() else [],
        }
    }


def timeline_json():
    """The timeline and status panel as HTML parts, for the dashboard's live updates:
    ``304 Not Modified`` while the ``If-None-Match`` ETag still stands."""
    filters = _filters()
    etag = version_tag(_newest_event_id(filters), _accounts(filters["user"]), filters)
    if request.if_none_match.contains(etag):
        response = Response(status=304)
        response.set_etag(etag)
        return response
    context = timeline_context(filters)
    response = jsonify(
        {
            "parts": {
                "events": render_template("pages/_timeline_rows.html", **context),
                "accounts": render_template("pages/_status.html", **context),
            },
            "count": len(context["rows"]),
        }
    )
    response.set_etag(context["etag"])
    response.headers["Cache-Control"] = "no-cache"
    return response


#: The pages the dashboard's menu lists: none.
LINKS: tuple[Link, ...] = ()


def register(pages: Blueprint) -> None:
    """Add this part's routes and template context to the quickstart's ``pages`` blueprint."""
    # /favicon.svg first: url_for builds this one.
    pages.add_url_rule("/favicon.svg", view_func=favicon, methods=["GET"])
    pages.add_url_rule("/favicon.ico", view_func=favicon, methods=["GET"])
    pages.app_context_processor(_dashboard)
    pages.add_url_rule("/timeline.json", view_func=timeline_json, methods=["GET"])
