"""The dashboard's "Send a test event" (sandbox mode only): a correctly signed upstream message,
made up on the spot and sent to the quickstart's own URL for it, by the code that runs
``flask wink trigger`` (:mod:`flask_wink.triggers`); the timeline then shows the event."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, current_app, flash, get_flashed_messages, redirect, request, url_for
from flask_wtf.csrf import generate_csrf

from flask_wink import get_state, start_link, triggers
from flask_wink.errors import InvalidRequest, UpstreamCallError, upstream_http_error

from .shared import Link, check_csrf
from .summaries import PROVIDER_TITLES

#: What the select starts on: the event most apps handle first.
DEFAULT_EVENT = "smile_wink:ACCOUNT_CONNECTED"
#: The flash category of the outcome, so no other page's message shows in the panel.
CATEGORY = "test-event"


def _sandbox() -> bool:
    return bool(current_app.config["QUICKSTART"].sandbox)


def event_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The select's options by provider: (provider title, [(value, label)])."""
    groups = []
    for provider in get_state().providers.values():
        events = triggers.test_events(provider)
        if events:
            title = PROVIDER_TITLES.get(provider.name, provider.title)
            groups.append((title, [(f"{provider.name}:{e.name}", f"{e.name}: {e.summary}") for e in events]))
    return groups


def _test_event_panel() -> dict[str, Any]:
    # Only the dashboard shows the panel, and only in sandbox mode.
    if request.endpoint != "index" or not _sandbox():
        return {}
    choices = event_choices()
    # The event sent last stays chosen, so it can be sent again with one click.
    chosen = request.args.get("test_event")
    known = {value for _title, options in choices for value, _label in options}
    return {
        "test_event": {
            "choices": choices,
            "default": chosen if chosen in known else DEFAULT_EVENT,
            "csrf_token": generate_csrf(),
            "sent": get_flashed_messages(category_filter=[CATEGORY]),
        }
    }


def _shown_as(state: Any, sent: triggers.Sent, user: str) -> bool:
    """Whether the event the app stored for ``sent`` is ``user``'s (so their timeline shows it)."""
    try:
        stored_id = json.loads(sent.answer).get("id")
    except (ValueError, AttributeError):
        return True  # not the kit's answer: nothing to say
    if not isinstance(stored_id, int):
        return True  # a redelivery, or nothing stored
    events = state.store.list_events(app_user_id=user, after_id=stored_id - 1, limit=50)
    return any(event.id == stored_id for event in events)


def send_test_event():
    """Send the chosen test event for the current browser's user to this app's own URL, then back
    to the dashboard (303) with what the app answered."""
    if not _sandbox():
        abort(404)
    check_csrf()
    state = get_state()
    provider_name, _, name = (request.form.get("event") or "").partition(":")
    if provider_name not in state.providers:
        raise InvalidRequest("Choose one of the listed events.")
    try:
        provider, event = triggers.find_event(state, name, provider_name)
    except triggers.TriggerError as exc:
        raise InvalidRequest(str(exc)) from None
    user = state.wink.current_user_id()
    # The message names this user's upstream user, so the timeline shows it as theirs: one is
    # made the first time, as a link would make it.
    upstream_user_id = state.store.upstream_user_id(provider.name, user)
    try:
        if upstream_user_id is None:
            upstream_user_id = start_link(state, provider, user).upstream_user_id
        sent = list(triggers.send(provider, event, upstream_user_id=upstream_user_id))
    except UpstreamCallError as exc:
        raise upstream_http_error(exc) from None
    except triggers.TriggerError as exc:
        raise InvalidRequest(str(exc)) from None
    answers = ", ".join("no answer" if s.status is None else f"HTTP {s.status}" for s in sent)
    message = f"Sent {event.name} ({provider.title}): the app answered {answers}."
    if any(not _shown_as(state, s, user) for s in sent if s.accepted):
        # Some of Smile's event types name no user (a session's or a record's events).
        message += " It names no user of this app, so the timeline shows it under All users."
    flash(message, CATEGORY)
    return redirect(url_for("index", test_event=f"{provider.name}:{event.name}"), 303)


#: The pages the dashboard's menu lists: none.
LINKS: tuple[Link, ...] = ()


def register(pages: Blueprint) -> None:
    """Add this part's routes and template context to the quickstart's ``pages`` blueprint."""
    pages.app_context_processor(_test_event_panel)
    pages.add_url_rule("/test-event", view_func=send_test_event, methods=["POST"])
