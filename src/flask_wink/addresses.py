"""This app's public address: where the URLs the kit hands an upstream point.

Smile ID posts its signed results to the callback URL it was given and sends the browser to the
redirect URL; UCW's widget posts its events to the target origin. Were they taken from the
request's ``Host`` header, which the client writes (and most servers accept whatever it says),
a link started with ``Host: attacker.example`` would hand the attacker the upstream's signed
result. So they come, in this order, from:

1. the provider's own setting for that URL (``WINK_SMILE_ID_CALLBACK_URL``...);
2. ``WINK_PUBLIC_URL``, the address users reach the app at (``https://app.example.com``, with
   the path the app is mounted at, if any);
3. Flask's ``SERVER_NAME``;
4. the request's own host, only when ``TRUSTED_HOSTS`` lists it (Flask refuses the others).

With none of 2-4 set and a provider that needs one of its URLs built, ``Wink(app)`` refuses to
start (:func:`check_public_address`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_request_context, request
from werkzeug.exceptions import SecurityError
from werkzeug.sansio.utils import host_is_trusted

from . import security
from .provider import LinkURLs, Provider, PublicURL

#: Said when nothing gives this app's address, at start and when a URL is asked for.
NOT_SET = (
    "WINK_PUBLIC_URL is not set: set it to the address users reach this app at "
    "(https://app.example.com), or set TRUSTED_HOSTS"
)


def public_urls(provider: Provider) -> dict[str, str]:
    """The URLs ``provider`` hands its upstream (its optional ``public_urls``), by name: its own
    setting when given, else built from this app's public address."""
    declared: Mapping[str, PublicURL] = getattr(provider, "public_urls", None) or {}
    return {name: url.given or public_url(url.endpoint, **url.values) for name, url in declared.items()}


def link_urls(provider: Provider) -> LinkURLs:
    """This app's own URLs for ``start_link``: the app's origin, ``provider``'s return and webhook
    routes, and its ``public_urls``, each built when first read."""
    declared: Mapping[str, PublicURL] = getattr(provider, "public_urls", None) or {}
    return LinkURLs(provider.name, declared, lambda url: public_url(url.endpoint, **url.values))


def public_url(endpoint: str | None, **values: Any) -> str:
    """The public URL of ``endpoint`` (with ``values``), or this app's origin when it is None.
    Raises ``SecurityError`` (400) for a request whose host ``TRUSTED_HOSTS`` does not list, and
    ``RuntimeError`` when nothing gives the address."""
    root = _public_root()
    if endpoint is None:
        return security.origin_of(root) or root
    app = current_app
    app.inject_url_defaults(endpoint, values)
    # The path inside the app: the root above already holds where the app is mounted.
    path = app.url_map.bind("localhost", script_name="/").build(endpoint, values)
    return root + path


def check_public_address(config: Mapping[str, Any], providers: Iterable[Provider]) -> None:
    """At start: a one-line ``RuntimeError`` when ``WINK_PUBLIC_URL`` is not a usable URL, or when
    a provider needs one of its URLs built and nothing gives this app's address."""
    configured = config.get("WINK_PUBLIC_URL")
    if configured:
        parts = urlsplit(str(configured))
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise RuntimeError(
                "WINK_PUBLIC_URL must be the http(s) address users reach this app at, like "
                f"https://app.example.com, not {configured!r}."
            )
        return
    if config.get("SERVER_NAME") or config.get("TRUSTED_HOSTS"):
        return
    needing = [
        provider.title
        for provider in providers
        if any(url.given is None for url in (getattr(provider, "public_urls", None) or {}).values())
    ]
    if needing:
        raise RuntimeError(f"{NOT_SET} (the URLs handed to {' and '.join(needing)} are built on it).")


def _public_root() -> str:
    """``scheme://host[:port][/mount path]`` of this app, without a trailing slash."""
    config = current_app.config
    configured = config.get("WINK_PUBLIC_URL")
    if configured:
        return str(configured).rstrip("/")
    server_name = config.get("SERVER_NAME")
    if has_request_context():
        if not server_name:
            trusted = config.get("TRUSTED_HOSTS")
            if not trusted:
                raise RuntimeError(f"{NOT_SET}.")
            # Flask 3.1 refuses such a request before any view runs; this holds on Flask 3.0 too.
            if not host_is_trusted(request.host, trusted):
                raise SecurityError(f"Host {request.host!r} is not trusted.")
        return f"{request.scheme}://{server_name or request.host}{request.script_root}"
    if server_name:
        root = str(config.get("APPLICATION_ROOT") or "/").rstrip("/")
        return f"{config.get('PREFERRED_URL_SCHEME') or 'http'}://{server_name}{root}"
    raise RuntimeError(
        "WINK_PUBLIC_URL is not set and there is no request here to take this app's address from: "
        "set it to the address users reach this app at (https://app.example.com)."
    )
