"""Test events on demand (``flask wink trigger``, and the quickstart's "Send a test event"): a
correctly signed upstream message, made up and posted to an app, so its handlers run without
anyone clicking through a widget.

The core knows no upstream: each provider declares what it can send (its optional
``test_events``) and makes the signed messages of one (``test_messages``, see
:mod:`flask_wink.provider`); this module finds the event, works out where each message goes, posts
it and reports the app's answer. A provider whose upstream sends nothing server-to-server has
nothing to trigger.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .addresses import public_url
from .provider import Provider, TestEvent, TestMessage, member, url_segment
from .state import WinkState

#: How long the app may take to answer one message.
TIMEOUT = 30.0


class TriggerError(Exception):
    """A test event that cannot be sent as asked; the message says what to do instead."""


@dataclass(frozen=True)
class Sent:
    """One message sent and the app's answer (``status`` None when the app could not be reached)."""

    message: TestMessage
    url: str
    status: int | None
    answer: str

    @property
    def accepted(self) -> bool:
        """Whether the app took the message (a 2xx answer)."""
        return self.status is not None and 200 <= self.status < 300


def test_events(provider: Provider) -> tuple[TestEvent, ...]:
    """What ``provider`` can send on demand (its optional ``test_events``; none by default)."""
    return tuple(getattr(provider, "test_events", None) or ())


def none_reason(provider: Provider) -> str:
    """Why a provider has nothing to trigger, in a sentence."""
    if not provider.accepts_inbound:
        names = ", ".join(sorted(provider.browser_events))
        through = f"; its events reach the app through the user's browser ({names})" if names else ""
        return f"{provider.title} sends no server-to-server messages{through}."
    return f"{provider.title} declares no test events."


def find_event(state: WinkState, name: str, provider: str | None = None) -> tuple[Provider, TestEvent]:
    """The enabled provider that can send the test event ``name`` (only ``provider``'s when given)."""
    providers = [state.provider(provider)] if provider else list(state.providers.values())
    found = [(p, e) for p in providers for e in test_events(p) if e.name.lower() == name.lower()]
    if len(found) == 1:
        return found[0]
    if found:
        names = " and ".join(url_segment(p.name) for p, _ in found)
        raise TriggerError(f"{name} is a test event of {names}: say which with --provider.")
    known = [e.name for p in providers for e in test_events(p)]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]}?" if close else ""
    raise TriggerError(f"No test event {name!r}.{hint} See the list with --list.")


def target_url(provider: Provider, message: TestMessage, to: str | None = None) -> str:
    """Where ``message`` goes: ``to`` when given; else the provider's own setting for the URL its
    upstream posts to, when it has one; else the public URL of the message's endpoint, built on
    ``WINK_PUBLIC_URL`` or ``SERVER_NAME`` (:mod:`flask_wink.addresses`)."""
    if to:
        return to
    for url in (getattr(provider, "public_urls", None) or {}).values():
        if url.endpoint == message.endpoint and url.given:
            return str(url.given)
    try:
        return public_url(message.endpoint, **message.values)
    except RuntimeError:
        raise TriggerError(
            "This app's address is not known: set WINK_PUBLIC_URL (or SERVER_NAME), or pass --to URL."
        ) from None


def send(
    provider: Provider,
    event: TestEvent,
    *,
    upstream_user_id: str | None = None,
    to: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Iterator[Sent]:
    """Post each message of ``event`` in turn, each made once the one before was answered (a
    provider may make a result known to its upstream between two of them); stop at the first the
    app refuses."""
    with httpx.Client(timeout=TIMEOUT, transport=transport) as client:
        for message in member(provider, "test_messages")(event.name, upstream_user_id):
            url = target_url(provider, message, to)
            try:
                response = client.post(url, content=message.body, headers=dict(message.headers))
                sent = Sent(message, url, response.status_code, response.text)
            except httpx.HTTPError as exc:
                sent = Sent(message, url, None, f"{url} could not be reached ({type(exc).__name__}).")
            yield sent
            if not sent.accepted:
                return


def upstream_user(state: WinkState, provider: Provider, user: str | None) -> str | None:
    """The upstream user a test message names: the one ``user`` is mapped to when it is an app
    user of this app, else ``user`` itself (an upstream user id); None lets the provider make one up."""
    if not user:
        return None
    return state.store.upstream_user_id(provider.name, user) or user


def describe(sent: Sent) -> dict[str, Any]:
    """What was sent and what the app answered, for people and for JSON."""
    body = (sent.message.shown or sent.message.body).decode("utf-8", "replace")
    return {
        "url": sent.url,
        "headers": _shown_headers(sent.message.headers),
        "body": body,
        "note": sent.message.note,
        "status": sent.status,
        "answer": sent.answer,
    }


def _shown_headers(headers: Mapping[str, str]) -> dict[str, str]:
    # A signature is shown shortened: enough to see one was sent, not a reusable value.
    return {k: (v[:12] + "…" if len(v) > 24 else v) for k, v in headers.items()}
