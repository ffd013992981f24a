"""What the quickstart's pages share: where Smile's sandbox is mounted, the current settings and
user, the admin check, the forms' CSRF check and how dates are written.

A leaf of the quickstart: it imports none of its other modules but :mod:`quickstart.settings`,
so :mod:`quickstart.app` and every page module may import it, and it never imports them back.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from flask import current_app, jsonify, request, session
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from flask_wink.errors import InvalidRequest

from .settings import Settings

#: Where the quickstart mounts Smile's sandbox in sandbox mode (the UCW and Smile ID emulators
#: are under it: see pages_ucw and pages_smile_id).
SANDBOX_PREFIX = "/sandbox"

#: (endpoint, label) of a page the dashboard links to.
Link = tuple[str, str]

#: Pages of the quickstart that act for the company (invitations under its name) or show every
#: user's data: in live mode only the admin (ADMIN_PASSWORD) reaches them.
ADMIN_PREFIXES = ("/invites", "/smile-id/links")
#: The kit's listings, which in live mode show a user only their own (``?user=<their id>``).
OWN_LISTINGS = ("/wink/events", "/wink/accounts")
ADMIN_REALM = 'Basic realm="flask-wink quickstart admin", charset="UTF-8"'


def current_settings() -> Settings:
    """The settings the running app was built from."""
    return current_app.config["QUICKSTART"]


def current_user() -> str:
    """This browser's user: the quickstart has no sign-in, so each browser gets an id kept in its
    session cookie."""
    if "wink_user" not in session:
        session["wink_user"] = "anon-" + secrets.token_hex(8)
        session.permanent = True
    return session["wink_user"]


# -- the admin ------------------------------------------------------------------------------------


def is_admin(settings: Settings) -> bool:
    """Whether the request carries the admin's HTTP Basic password (compared in constant time)."""
    if not settings.admin_password:
        return False
    auth = request.authorization
    if auth is None or auth.type != "basic" or auth.password is None:
        return False
    return hmac.compare_digest(auth.password.encode(), settings.admin_password.encode())


def require_admin(settings: Settings):
    """None for the admin; else 404 (no ADMIN_PASSWORD: the surface does not exist) or 401."""
    if not settings.admin_password:
        response = jsonify({"error": "NotFound", "message": "Not found. In live mode the admin pages "
                            "need ADMIN_PASSWORD in .env (then sign in as admin with it)."})
        response.status_code = 404
        return response
    if is_admin(settings):
        return None
    response = jsonify({"error": "NotSignedIn", "message": "Sign in as the admin (HTTP Basic)."})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = ADMIN_REALM
    return response


def admin_only(path: str, args) -> bool:
    """Whether a request for ``path`` is the admin's alone in live mode: an admin page, or a kit's
    listing asked for anything but the current user's own rows."""
    if any(path == p or path.startswith(p + "/") for p in ADMIN_PREFIXES):
        return True
    if path in OWN_LISTINGS:
        return args.get("user") != current_user()
    return False


# -- forms and dates ------------------------------------------------------------------------------


def check_csrf() -> None:
    """Check a form's ``csrf_token``: the quickstart does not turn on CSRFProtect for the whole
    app, so its forms check their own token."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as exc:
        raise InvalidRequest(f"CSRF check failed: {exc}. Reload the page and try again.") from None


def _moment(value: str | datetime | None) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def when(value: str | datetime | None) -> str:
    """A moment as every page writes it: ``2026-12-06 21:51 UTC`` (ISO text or a datetime in UTC)."""
    moment = _moment(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else (str(value) if value else "")


def day(value: str | datetime | None) -> str:
    """A day as every page writes it: ``2026-12-06``."""
    moment = _moment(value)
    return moment.strftime("%Y-%m-%d") if moment else (str(value)[:10] if value else "")
