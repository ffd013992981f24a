"""The routes: each provider's token, link page, callbacks (browser events), webhooks and return
page; every provider's events and accounts.

Data flows one way: request -> view -> provider -> store -> pipeline -> signal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request, session, url_for
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms import ValidationError

from .errors import (
    InvalidRequest,
    Misconfigured,
    NotAllowed,
    NotSignedIn,
    RateLimited,
    UnknownProvider,
    UpstreamCallError,
    upstream_http_error,
)
from .jsonbody import BodyRefused, check
from .jsonshape import account_json, event_json
from .linking import start_link
from .pipeline import change_of, start_handling, status_update
from .provider import CALLBACK, WEBHOOK, Provider, member, url_segment
from .receiver import Delivery, check_body, loggable, read_body, receive, storage_errors
from .state import WinkState, get_state
from .store import StoredEvent

log = logging.getLogger("flask_wink")

bp = Blueprint("wink", __name__, template_folder="templates")

CSRF_HEADER = "X-CSRFToken"
MAX_EVENTS_PAGE = 500


# -- one provider's routes: /<provider>/token, /link, /callbacks, /webhooks, /return ---------
# The un-prefixed /token, /link, /callbacks and /webhooks serve the default provider (Smile Wink
# whenever it is enabled, else the only one, or WINK_DEFAULT_PROVIDER; see
# flask_wink.extension.default_provider): the URLs the kit had before it carried several.


@bp.post("/<provider>/token")
@bp.post("/token", defaults={"provider": None})
def mint_token(provider: str | None):
    """Start a link for the current app user: 201 with the provider's widget settings (e.g.
    ``{accessToken, expiresAt, mode, userId}``) or ``{url}`` to send the browser to."""
    state = get_state()
    chosen = _provider(state, provider)
    _check_csrf()
    app_user_id = _require_user(state)
    if state.rate_limits is not None:
        state.rate_limits.token(app_user_id)
    try:
        start = start_link(state, chosen, app_user_id, request.args)
    except UpstreamCallError as exc:
        log.warning("starting a %s link failed: %s", chosen.title, exc)
        raise upstream_http_error(exc) from None
    body = dict(start.widget or {})
    if start.url:
        body["url"] = start.url
    response = jsonify(body)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<provider>/link")
@bp.get("/link", defaults={"provider": None})
def link_page(provider: str | None):
    """The page that opens the provider's widget (``templates/wink/<provider>/link.html``, else
    ``wink/link.html``, which sends the browser to the URL the provider starts a link with)."""
    state = get_state()
    chosen = _provider(state, provider)
    # The provider's own page, else the kit's page for providers that send the browser away.
    templates = [f"wink/{chosen.name}/link.html", "wink/link.html"]
    return render_template(templates, wink=link_config(state, chosen, request.args), provider=chosen)


def link_config(
    state: WinkState, provider: Provider | str | None = None, options: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What the browser side needs to open a provider's widget; also used by pages of the host app."""
    if not isinstance(provider, Provider):
        provider = _provider(state, provider)
    try:
        settings = member(provider, "page_settings")(options or {})
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    segment = url_segment(provider.name)
    return {
        "provider": provider.name,
        **settings,
        "tokenUrl": url_for("wink.mint_token", provider=segment),
        "callbacksUrl": url_for("wink.record_callback", provider=segment),
        "csrfToken": generate_csrf(),
        "csrfUrl": url_for("wink.fresh_csrf"),
        "csrfHeader": CSRF_HEADER,
        "callbacks": list(provider.browser_events),
    }


@bp.get("/openapi.json")
def openapi_document():
    """The kit's own endpoints on this app as an OpenAPI 3.1 document."""
    from .openapi import document

    state = get_state()
    prefix = current_app.config["WINK_URL_PREFIX"]
    return jsonify(document(prefix, state.providers, state.default_provider))


@bp.get("/csrf")
def fresh_csrf():
    """A fresh CSRF token for a page left open past the old one's lifetime (the widget's script
    asks once when a post is refused for its token, then sends it again)."""
    response = jsonify({"csrfToken": generate_csrf(), "csrfHeader": CSRF_HEADER})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<provider>/callbacks")
@bp.post("/<provider>/events")  # the path it had before
@bp.post("/callbacks", defaults={"provider": None})
def record_callback(provider: str | None):
    """Record one callback (a browser event) ``{name, args}`` of the provider for the current
    app user. (Smile ID's own ``/smile-id/callbacks`` route, the address its signed results had
    before ``/smile-id/webhooks``, is matched first: Smile ID reports no browser events.)"""
    state = get_state()
    chosen = _provider(state, provider)
    if not chosen.browser_events:
        # As /webhooks and /return answer for a provider that has none: no body could be recorded.
        raise UnknownProvider(f"{chosen.title} reports no browser events.")
    body = _read_body(state.callback_max_bytes)
    _check_csrf()
    app_user_id = _require_user(state)
    if state.rate_limits is not None:
        state.rate_limits.callback(app_user_id, len(body))
    payload = _json_object(body)
    name = payload.get("name")
    if not isinstance(name, str) or name not in chosen.browser_events:
        raise InvalidRequest(
            f"name must be one of the {chosen.title} browser events: {', '.join(chosen.browser_events)}."
        )
    args = payload.get("args")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise InvalidRequest("args must be a JSON object.")
    event = record_browser_event(state, chosen, app_user_id, name, args)
    answer: dict[str, Any] = {"id": event.id, "status": "recorded"}
    update = event.status_update
    if not event.status_read:
        update = status_update(chosen, CALLBACK, name, event.payload)
    if update is not None:
        # The key the account is recorded under (UCW's is a digest, not the connection id), so
        # the page can follow the status of the very account it reported.
        answer["accountId"] = update.account_id
    return jsonify(answer), 201


def record_browser_event(
    state: WinkState, provider: Provider, app_user_id: str, name: str, args: dict[str, Any]
) -> StoredEvent:
    """Store a browser event for ``app_user_id`` and hand it on."""
    try:
        check([name, args])  # the rules at the door, for events read from a query string too
    except BodyRefused as exc:
        raise InvalidRequest(f"The event is refused: {exc}.") from None
    # The browser may claim any user id; the one we made for this app user is the truth.
    with storage_errors("The event could not be stored"):
        upstream_user_id = state.store.upstream_user_id(provider.name, app_user_id)
        # A provider may keep out of the events table what must never sit there (UCW: a
        # connection id), keeping it where it belongs itself, before the event is stored.
        args = member(provider, "stored_args")(name, args, upstream_user_id)
        # The status it reports is read from the provider once, here, as for webhooks, and
        # carried with the stored event to the pipeline and the answer (a worker reads it later).
        handles = state.handles_events
        update = status_update(provider, CALLBACK, name, args) if handles else None
        event = state.store.add_event(
            provider=provider.name,
            kind=CALLBACK,
            name=name,
            payload=args,
            app_user_id=app_user_id,
            upstream_user_id=upstream_user_id,
            claimed_by=state.handler_name,
            account=change_of(provider.name, CALLBACK, update, upstream_user_id),
            status_update=update,
            status_read=handles,
        )
    # One line per recorded event: who and what, never the payload (it may hold tokens).
    log.info("recorded %s browser event %s for user %s (event %s)",
             provider.name, loggable(name), loggable(app_user_id), event.id)
    start_handling(current_app._get_current_object(), state, event)
    return event


@bp.get("/<provider>/return")
def return_page(provider: str):
    """Where the upstream sends the browser back: recorded as an untrusted browser event when it
    belongs to a link the signed-in user started; the page then waits for the upstream's signed
    result. Any site can link here, so a return makes nothing else: no user, and no event when it
    matches no open link of the user's (the page says so)."""
    state = get_state()
    chosen = _provider(state, provider)
    reported = member(chosen, "return_event")(request.args)
    if reported is None:
        raise UnknownProvider(f"{chosen.title} does not send the browser back to this app.")
    app_user_id = _returning_user(state)
    event = None
    if app_user_id:
        if state.rate_limits is not None:
            try:
                state.rate_limits.callback(app_user_id, len(request.query_string))
            except RateLimited as exc:
                # A browser navigation: a page, not the JSON answer the kit's API routes give.
                page = render_template("wink/rate_limited.html", provider=chosen, retry_after=exc.retry_after)
                return page, 429, {"Retry-After": str(exc.retry_after)}
        with storage_errors("The return could not be recorded"):
            matched = member(chosen, "match_return")(state, app_user_id, reported)
        if matched is not None:
            event = record_browser_event(state, chosen, app_user_id, matched.name, dict(matched.args))
    return render_template(
        [f"wink/{chosen.name}/return.html", "wink/return.html"],
        provider=chosen,
        reported=reported,
        said=reported,  # its name before: templates of host apps may read it
        event=event,
        signed_in=app_user_id is not None,
    )


@bp.post("/<provider>/webhooks")
@bp.post("/webhooks", defaults={"provider": None})
def receive_webhook(provider: str | None):
    """Verify, store and hand on one inbound message; a redelivered event id is acknowledged only.

    With ``WINK_WEBHOOK_FAST_PATH`` the kit's WSGI layer answers webhooks before Flask routes
    them here; both run :func:`flask_wink.receiver.receive`.
    """
    state = get_state()
    chosen = _provider(state, provider)
    body, status = receive(current_app._get_current_object(), state, chosen, Delivery.from_request(request))
    return _json(body, status)


# -- shared: every provider's events and accounts ----------------------------------------


@bp.get("/events")
def list_events():
    """Recorded events, newest first; ``?provider=``, ``?user=``, ``?kind=``, ``?after=``, ``?limit=``."""
    state = get_state()
    _require_events_permission(state)
    kind = request.args.get("kind") or None
    if kind not in (None, CALLBACK, WEBHOOK):
        raise InvalidRequest(f"kind must be {CALLBACK!r} or {WEBHOOK!r}.")
    name = request.args.get("provider") or None
    provider = state.provider(name).name if name else None
    after = _int_arg("after", minimum=0)
    limit = _int_arg("limit", minimum=1) or 100
    events = state.store.list_events(
        provider=provider,
        kind=kind,
        # The app user's events include those stored under upstream users it had before a relink.
        app_user_id=request.args.get("user") or None,
        upstream_user_id=request.args.get("upstreamUserId") or None,
        after_id=after,
        limit=min(limit, MAX_EVENTS_PAGE),
    )
    return jsonify({"events": [_shown(state, e) for e in events]})


@bp.get("/accounts")
def list_accounts():
    """The last known status of each account; ``?provider=``, ``?upstreamUserId=`` and ``?user=``
    (the app user's accounts) filter."""
    state = get_state()
    _require_events_permission(state)
    name = request.args.get("provider") or None
    accounts = state.store.list_accounts(
        provider=state.provider(name).name if name else None,
        upstream_user_id=request.args.get("upstreamUserId") or None,
        app_user_id=request.args.get("user") or None,
    )
    return jsonify({"accounts": [account_json(a) for a in accounts]})


# -- helpers ------------------------------------------------------------------------------


def _shown(state: WinkState, event: StoredEvent) -> dict:
    """An event as the listing shows it: its provider may hide what must not reach a page (an
    optional ``shown_payload(kind, name, payload)``); the stored row keeps everything."""
    shown = event_json(event)
    provider = state.providers.get(event.provider)
    if provider is not None and event.payload_error is None:
        shown["payload"] = member(provider, "shown_payload")(event.kind, event.name, event.payload)
    return shown


def _provider(state: WinkState, name: str | None) -> Provider:
    if name is None:
        if state.default_provider is None:
            raise UnknownProvider("No provider is enabled on this app.")
        return state.providers[state.default_provider]
    return state.provider(name)


def _require_loader(state: WinkState) -> None:
    if state.wink._user_id_loader is None:
        log.error("no user_id_loader: decorate a function with @wink.user_id_loader")
        raise Misconfigured(
            "The app has not told flask-wink who the user is: decorate a function with @wink.user_id_loader."
        )


def _require_user(state: WinkState) -> str:
    _require_loader(state)
    return require_user(state)


def require_user(state: WinkState, message: str = "Sign in before linking an account.") -> str:
    """The signed-in app user's id (as the host's ``user_id_loader`` says), or
    :class:`~flask_wink.errors.NotSignedIn` (401) with ``message``."""
    app_user_id = state.wink.current_user_id()
    if not app_user_id:
        raise NotSignedIn(message)
    return app_user_id


def _returning_user(state: WinkState) -> str | None:
    """The signed-in app user a return belongs to, or None. A request without any cookie belongs
    to no browser session: a user the loader made for it (an anonymous user kept in a new session,
    as the quickstart makes one per browser) is not kept, and neither is that session, so a link
    from anywhere, or a script, cannot make users. (Any cookie at all, e.g. a remember-me cookie
    that a login extension signs the user in again from, and the loader's word stands.)"""
    _require_loader(state)
    app_user_id = state.wink.current_user_id()
    if app_user_id and not request.cookies and session:
        session.clear()
        session.modified = False  # nothing to save, so no cookie is set
        return None
    return app_user_id


def _require_events_permission(state: WinkState) -> None:
    if not state.wink.may_read_events():
        raise NotAllowed("Reading events is not allowed: the app's events_permission refused.")


def _check_csrf() -> None:
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    try:
        validate_csrf(request.headers.get(CSRF_HEADER))
    except ValidationError as exc:
        why = str(exc).rstrip(".")  # flask-wtf ends its messages with a period
        raise InvalidRequest(f"CSRF check failed: {why}. Send the page's token in {CSRF_HEADER}.") from None


def _read_body(limit: int) -> bytes:
    """The raw body, refused with 413 past ``limit`` without reading it whole."""
    return read_body(request.stream, request.content_length, limit)


def _json_object(raw: bytes) -> dict[str, Any]:
    value = check_body(raw)
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return value


def _int_arg(name: str, *, minimum: int) -> int | None:
    value = request.args.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number.") from None
    if number < minimum:
        raise InvalidRequest(f"{name} must be at least {minimum}.")
    return number


_JSON_HEADERS = {"Content-Type": "application/json"}


def _json(body: dict[str, Any], status: int = 200) -> tuple[str, int, dict[str, str]]:
    # The webhook answer is on the hot path: plain json.dumps, without jsonify's options.
    return json.dumps(body), status, _JSON_HEADERS

