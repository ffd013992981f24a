"""The quickstart's session cookie: Flask's signed cookie, under its own name, Secure over https,
and signed again only once a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

#: The quickstart's session cookie: its own name, not Flask's "session", which a host app on the
#: same machine uses too.
SESSION_COOKIE_NAME = "wink_quickstart_session"


class HttpsAwareSessions(SecureCookieSessionInterface):
    """Flask's signed cookie session, with three differences:

    - the cookie is ``Secure`` when the request came over https (directly, or through a proxy
      that ProxyFix trusts), or when ``SESSION_COOKIE_SECURE`` says so;
    - a permanent session's unchanged cookie is sent again (its expiry moved on) once it is
      older than ``REFRESH_AFTER``, not on every request: signing it anew cost about 0.3 ms of
      each token request, a sixth of the whole request;
    - the signing serializer is built once per key, not twice per request.
    """

    REFRESH_AFTER = timedelta(days=1)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def get_signing_serializer(self, app: Flask):
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = getattr(self, "_serializer", None)
        if cached is None or cached[0] != key:
            cached = self._serializer = (key, super().get_signing_serializer(app))
        return cached[1]

    def open_session(self, app: Flask, request):
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, issued = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        opened = self.session_class(data)
        opened.issued_at = issued
        return opened

    def should_set_cookie(self, app: Flask, session) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        issued = getattr(session, "issued_at", None)
        return issued is None or datetime.now(UTC) - issued >= self.REFRESH_AFTER
