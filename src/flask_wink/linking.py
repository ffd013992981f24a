"""Starting a link for an app user: the user mapping, a per-user lock, relinking, ``token_minted``."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import current_app

from . import signals
from .addresses import link_urls
from .provider import LinkStart, LinkURLs, Provider, UpstreamUserGone, call_start_link
from .state import WinkState

log = logging.getLogger("flask_wink")

#: How many (provider, app user) -> upstream user mappings a process remembers.
KNOWN_USERS_MAX = 10_000


def start_link(
    state: WinkState, provider: Provider, app_user_id: str, options: Mapping[str, str] | None = None
) -> LinkStart:
    """Start a link for ``app_user_id``; makes the upstream user the first time, never twice.

    The upstream user is remembered per (provider, app user). When the upstream no longer knows
    it (deleted, or a restarted sandbox), a new one is made and mapped instead; events stored
    under the old one still belong to the app user.
    """
    options = options or {}
    urls = link_urls(provider)
    key = (provider.name, app_user_id)
    lock = state.user_locks[hash(key) % len(state.user_locks)]
    with lock:
        known = state.known_users.get(key) or state.store.upstream_user_id(provider.name, app_user_id)
        try:
            start = call_start_link(provider, app_user_id, known, options, urls)
        except UpstreamUserGone:
            start = _relink(state, provider, app_user_id, known, options, urls)
            known = start.upstream_user_id
        created = known is None
        if created:
            kept = state.store.link_user(provider.name, app_user_id, start.upstream_user_id)
            if kept != start.upstream_user_id:
                # Another process linked this user first: use its upstream user.
                start = call_start_link(provider, app_user_id, kept, options, urls)
                created = False
        if len(state.known_users) >= KNOWN_USERS_MAX:
            state.known_users.clear()
        # The mapping only changes here (relinking), so this process may remember it.
        state.known_users[key] = start.upstream_user_id
    signals.send(
        current_app._get_current_object(),
        signals.token_minted,
        provider=provider.name,
        app_user_id=app_user_id,
        upstream_user_id=start.upstream_user_id,
        created_user=created,
    )
    return start


def _relink(
    state: WinkState, provider: Provider, app_user_id: str, gone: str | None, options: Mapping[str, str],
    urls: LinkURLs,
) -> LinkStart:
    stored = state.store.upstream_user_id(provider.name, app_user_id)
    if stored and stored != gone:
        # Another process relinked already (this one remembered the old user).
        return call_start_link(provider, app_user_id, stored, options, urls)
    log.warning("the %s user of app user %s is gone; making a new one", provider.title, app_user_id)
    start = call_start_link(provider, app_user_id, None, options, urls)
    state.store.relink_user(provider.name, app_user_id, start.upstream_user_id)
    return start
