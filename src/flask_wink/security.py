"""Headers that close a page to what it does not need: a Content-Security-Policy with a nonce for
the page's own inline scripts, ``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy``.

The kit sets them on its own pages and answers only (``WINK_SECURITY_HEADERS``, on by default); a
host app may call :func:`apply` for its pages too (the quickstart does, app-wide). A header the
response already has is kept, so a host's own policy wins.

Templates mark their inline scripts with ``<script nonce="{{ wink_csp_nonce() }}">``.

Also the one check of a ``next`` a page sends the browser back to (:func:`same_site_path`),
in templates ``{{ wink_same_site_path(request.args.get("next")) }}``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import g, has_request_context, request
from flask.wrappers import Response

REFERRER_POLICY = "strict-origin-when-cross-origin"


def csp_nonce() -> str:
    """This request's nonce for inline scripts (made on first use; kept in the request's environ,
    which, unlike ``g``, is never shared between requests)."""
    store = request.environ if has_request_context() else g.__dict__
    nonce = store.get("flask_wink.csp_nonce")
    if nonce is None:
        nonce = store["flask_wink.csp_nonce"] = secrets.token_urlsafe(18)
    return nonce


def origin_of(url: str | None) -> str | None:
    """``https://host[:port]`` of an absolute URL; None for a relative one (it is 'self')."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


#: A path: ``/``, then anything visible in ASCII but ``/`` and a backslash, then anything visible
#: but a backslash.
SAME_SITE_PATH = re.compile(r"/(?:[\x21-\x2e\x30-\x5b\x5d-\x7e][\x21-\x5b\x5d-\x7e]*)?")


def same_site_path(value: object, default: str = "/") -> str:
    r"""``value`` when it is a path on this site (``/account?tab=2``), else ``default``: for every
    ``next`` the browser is sent back to, so that no page of the app sends it to another site.

    Browsers read more into a URL than it shows: they drop tabs and newlines anywhere
    (``/%09/evil.example`` arrives as a path whose tab they drop: ``//evil.example``, another
    host), take ``\`` for ``/``, strip leading spaces and control characters, and send ``//host``
    and ``scheme:...`` to other sites. So only visible ASCII without a backslash is accepted,
    starting with exactly one ``/``, and only when ``urllib.parse`` finds neither a scheme nor a
    host in it either.
    """
    if not isinstance(value, str) or not SAME_SITE_PATH.fullmatch(value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return default
    return value


def provider_origins(providers: Iterable[Any]) -> list[str]:
    """The origins the enabled providers' pages load from, frame or send the browser to (each
    provider's optional ``page_origins()``), for a page's policy."""
    origins: list[str] = []
    for provider in providers:
        page_origins = getattr(provider, "page_origins", None)
        if page_origins is not None:
            origins.extend(page_origins())
    return list(dict.fromkeys(origins))


def inline_script_hashes(html: str) -> list[str]:
    """``'sha256-…'`` sources for each inline script of a static page (which cannot carry a nonce)."""
    found = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.S | re.I)
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in found
        if body.strip()
    ]


def policy(
    nonce: str,
    *,
    sources: Iterable[str] = (),
    frame_ancestors: str = "'self'",
    extra_scripts: Iterable[str] = (),
) -> str:
    """The Content-Security-Policy: scripts from this origin, the nonce and ``sources`` (the widget
    SDK's origin); frames, fetches, images and where forms may lead (a provider's hosted page)
    likewise; styles may be inline (widget SDKs add
    theirs); nothing else."""
    others = " ".join(dict.fromkeys(s for s in sources if s))
    scripts = " ".join(extra_scripts)
    directives = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}' {scripts} {others}",
        "style-src 'self' 'unsafe-inline'",
        f"connect-src 'self' {others}",
        f"frame-src 'self' {others}",
        f"img-src 'self' data: {others}",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        f"form-action 'self' {others}",
        f"frame-ancestors {frame_ancestors}",
    ]
    return "; ".join(" ".join(d.split()) for d in directives)


def apply(
    response: Response,
    *,
    sources: Iterable[str] = (),
    frame_ancestors: str = "'self'",
    extra_scripts: Iterable[str] = (),
) -> Response:
    """Set the three headers on ``response`` unless it has them already (the CSP on HTML only)."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    if response.mimetype == "text/html" and "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = policy(
            csp_nonce(), sources=sources, frame_ancestors=frame_ancestors, extra_scripts=extra_scripts
        )
    return response
