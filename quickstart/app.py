"""The quickstart app: the flask-wink blueprint, a dashboard, and the sandbox when there is no key."""

from __future__ import annotations

import hmac
import importlib
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask, abort, jsonify, render_template, request, send_from_directory, session
from flask.sessions import SecureCookieSessionInterface
from flask_cors import CORS
from itsdangerous import BadSignature
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_wink import Wink, get_state, security, start_link
from flask_wink.blueprint import link_config
from flask_wink.errors import NotAllowed, upstream_http_error
from flask_wink.providers.smile_wink import SmileError, smile_wink
from flask_wink.providers.smile_wink.sandbox import create_sandbox_app

from .pages_smile_id import SANDBOX_PREFIX as SMILE_ID_SANDBOX_PREFIX
from .pages_smile_id import setup_smile_id
from .pages_ucw import UCW_SANDBOX_PREFIX, configure_ucw
from .sandbox_keys import sandbox_keys
from .settings import ROOT, Settings, load_settings

SANDBOX_PREFIX = "/sandbox"
#: The quickstart's session cookie: its own name, not Flask's "session", which a host app on the
#: same machine uses too.
SESSION_COOKIE_NAME = "wink_quickstart_session"
FRONTEND_DIR = ROOT / "frontend"


def create_app(
    settings: Settings | None = None, *, instance_path: str | Path | None = None
) -> Flask:
    """Build the quickstart for ``settings`` (default: environment, then ``.env``)."""
    settings = settings or load_settings()
    instance_path = instance_path or settings.instance_path
    app = Flask(
        __name__,
        instance_path=str(instance_path) if instance_path else None,
        instance_relative_config=True,
    )
    app.config["SECRET_KEY"] = settings.secret_key or secrets.token_hex(32)
    # The session cookie goes with top-level navigations from other sites (a link to the app)
    # but not with their forms or scripts; it is Secure whenever the request came over https.
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # Cookies ignore ports: under Flask's "session" the quickstart and another Flask app on
    # 127.0.0.1 (the tutorial's) would overwrite each other's cookie and sign each other out.
    app.config["SESSION_COOKIE_NAME"] = SESSION_COOKIE_NAME
    app.session_interface = HttpsAwareSessions()
    # WEBHOOK_SECRET may list several (rotation); the sandbox signs with the first.
    webhook_secrets = [s.strip() for s in (settings.webhook_secret or "").split(",") if s.strip()]
    # How the app reaches itself (the sandbox's webhooks): loopback unless bound elsewhere.
    own_host = settings.app_host if settings.app_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    base_url = f"http://{own_host}:{settings.app_port}"

    sandbox = None
    keys = sandbox_keys(app.instance_path) if settings.sandbox else {}
    # In sandbox mode the instance's own (the same in a `flask wink ...` command's process).
    webhook_secrets = webhook_secrets or [keys.get("webhook_secret") or secrets.token_hex(32)]
    if settings.sandbox:
        sandbox = create_sandbox_app(
            api_key=keys["smile_wink_api_key"], api_secret=keys["smile_wink_api_secret"]
        )
        sandbox_state = sandbox.extensions["wink_sandbox"]
        api_host = f"{base_url}{SANDBOX_PREFIX}/v1"
        api_key, api_secret = sandbox_state.api_key, sandbox_state.api_secret
        # Smile would be told this URL in its portal; the sandbox is told directly.
        sandbox_state.create_webhook(
            {
                "name": "flask-wink quickstart",
                "url": f"{base_url}/wink/webhooks",
                "eventTypes": ["ALL_EVENTS"],
                "active": True,
                "secret": webhook_secrets[0],
            }
        )
    else:
        api_host = settings.open_api_host or "https://sandbox.smileapi.io/v1"
        api_key, api_secret = settings.api_key, settings.api_secret
        if not (api_key and api_secret):
            raise SystemExit("Live mode needs both API_KEY and API_SECRET: put both in .env.")

    if settings.database_url:
        app.config["WINK_DATABASE_URL"] = settings.database_url
    app.config.update(dict(settings.kit_config))
    # The address Smile ID and UCW are handed (where results, the browser and the widget's events
    # go back to): never the request's Host, which the client writes. In sandbox mode this
    # process's own; in live mode only what PUBLIC_URL says.
    public_url = settings.public_url or (base_url if settings.sandbox else None)
    if public_url:
        app.config["WINK_PUBLIC_URL"] = public_url
    smile_id_sandbox = setup_smile_id(app, settings, base_url)
    if smile_id_sandbox is not None:
        # The same partner id and key in every process of this instance (see sandbox_keys).
        smile_id_state = smile_id_sandbox.extensions["smile_id_sandbox"]
        smile_id_state.partner_id = app.config["WINK_SMILE_ID_PARTNER_ID"] = keys["smile_id_partner_id"]
        smile_id_state.api_key = app.config["WINK_SMILE_ID_API_KEY"] = keys["smile_id_api_key"]
    # So "Your data" fills by itself: fetch once Smile says a link's data is all added.
    app.config.setdefault("WINK_FETCH_ON", "TASK_FINISHED")
    ucw_sandbox = configure_ucw(app, settings, base_url)
    needing = app.config["QUICKSTART_SMILE_ID"] or (
        app.config.get("WINK_UCW_URL") and not app.config.get("WINK_UCW_TARGET_ORIGIN"))
    if not public_url and needing:
        raise SystemExit(
            "Live mode: PUBLIC_URL is not set: set it in .env to the address users reach this app at, "
            "e.g. PUBLIC_URL=https://app.example.com (Smile ID and UCW are handed this app's URLs)."
        )
    wink = Wink(
        app,
        api_key=api_key,
        api_secret=api_secret,
        api_host=api_host,
        webhook_secrets=webhook_secrets,
        template_id=settings.template_id,
        sdk_version=settings.sdk_version,
        # The quickstart serves webhooks on its own waitress: answer them before Flask's dispatch.
        webhook_fast_path=True,
    )
    if settings.trust_proxy:
        # Behind one reverse proxy: the client's address, scheme and host as the proxy saw them.
        # Wrapped after Wink(app), so that the webhook fast path (which answers in front of
        # Flask) sees them too: WINK_WEBHOOK_ALLOWED_IPS checks the sender, not the proxy.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    # Fail at start, not at the first webhook, when the database is unreachable.
    get_state(app).store.init()
    app.config["QUICKSTART"] = settings
    app.config["QUICKSTART_SANDBOX"] = sandbox

    @wink.user_id_loader
    def anonymous_user() -> str:
        # The quickstart has no sign-in: each browser gets an id kept in its session cookie.
        if "wink_user" not in session:
            session["wink_user"] = "anon-" + secrets.token_hex(8)
            session.permanent = True
        return session["wink_user"]

    @wink.events_permission
    def may_read_events() -> bool:
        # Sandbox: a demo, everyone reads everything. Live: the admin, or a user their own.
        if settings.sandbox or is_admin(settings):
            return True
        # Filters only narrow: with ?user=<their id> nobody else's row can be in the answer.
        return request.args.get("user") == anonymous_user()

    @app.before_request
    def close_admin_surfaces():
        if settings.sandbox or not _admin_only(request.path, request.args, anonymous_user):
            return None
        return require_admin(settings)

    @app.get("/")
    def index():
        sdk = request.args.get("sdk")
        return render_template(
            "index.html",
            wink=link_config(get_state(), "smile_wink", {"sdk": sdk} if sdk is not None else {}),
            sandbox=settings.sandbox,
            mode=settings.mode,
            user_id=anonymous_user(),
        )

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "mode": settings.mode})

    @app.route("/api/create_link_token", methods=["GET", "POST"])
    def create_link_token():
        """The shape of Smile's Node quickstart, so its frontend and webviews work unchanged."""
        _refuse_foreign_origins(settings)
        state = get_state()
        smile = smile_wink(state)
        user = anonymous_user()
        state.rate_limits.token(user)
        try:
            start = start_link(state, smile, user)
            token = dict(start.widget or {})
        except SmileError as exc:
            raise upstream_http_error(exc) from None
        return jsonify(
            {
                "id": start.details.get("tokenId"),
                "accessToken": token["accessToken"],
                "expiresAt": token["expiresAt"],
                "mode": token["mode"],
                "topProviders": list(settings.top_providers),
                "providers": list(settings.providers),
                "enableUpload": settings.enable_upload,
                "userId": token["userId"],
                "sdkUrl": smile.script_url(smile.sdk_version),
            }
        )

    # Cross-site calls to /api/ from ALLOWED_ORIGINS only, with credentials; preflights answered
    # by Flask-CORS. The literal origin "null" (sandboxed frames, file: pages) is never allowed.
    CORS(
        app,
        resources={r"/api/.*": {"origins": [o for o in settings.allowed_origins if o != "null"]}},
        supports_credentials=True,
        methods=["GET", "POST"],
        allow_headers=["Content-Type", "X-CSRFToken"],
        max_age=600,
        always_send=False,  # no CORS headers for requests that send no Origin
    )
    page_sources = security.provider_origins(get_state(app).providers.values())

    @app.after_request
    def headers(response):
        response.headers.setdefault("Cache-Control", "no-store")
        # App-wide, in a few lines rather than Flask-Talisman: the kit's helper already builds the
        # policy its own pages need (the widget SDK's origin, nonces), and the quickstart does not
        # redirect to https itself (a reverse proxy does, see docs/production.md).
        extra = getattr(request, "_inline_script_hashes", ())
        return security.apply(response, sources=page_sources, extra_scripts=extra)

    @app.get("/frontend/")
    @app.get("/frontend/<path:name>")
    def frontend(name: str = "index.html"):
        if not FRONTEND_DIR.is_dir():
            abort(404)
        response = send_from_directory(FRONTEND_DIR, name)
        if response.mimetype == "text/html":
            # A static page cannot carry a nonce: its own inline scripts are allowed by their hash.
            response.direct_passthrough = False
            request._inline_script_hashes = security.inline_script_hashes(response.get_data(as_text=True))
        return response

    from .pages import LINKS, pages

    app.register_blueprint(pages)
    app.jinja_env.globals["quickstart_pages"] = LINKS

    for hook in settings.hooks:
        _load_hook(hook)(app)

    mounts = {}
    if sandbox is not None:
        mounts[SANDBOX_PREFIX] = sandbox.wsgi_app
    if ucw_sandbox is not None:
        mounts[UCW_SANDBOX_PREFIX] = ucw_sandbox.wsgi_app
    if smile_id_sandbox is not None:
        mounts[SMILE_ID_SANDBOX_PREFIX] = smile_id_sandbox.wsgi_app
    if mounts:
        # The longest prefix wins: /sandbox/ucw and /sandbox/smile-id are not Smile's sandbox.
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, mounts)
    return app


#: Pages of the quickstart that act for the company (invitations under its name) or show every
#: user's data: in live mode only the admin (ADMIN_PASSWORD) reaches them.
ADMIN_PREFIXES = ("/invites", "/smile-id/links")
#: The kit's listings, which in live mode show a user only their own (``?user=<their id>``).
OWN_LISTINGS = ("/wink/events", "/wink/accounts")
ADMIN_REALM = 'Basic realm="flask-wink quickstart admin", charset="UTF-8"'


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


def _admin_only(path: str, args, current_user) -> bool:
    if any(path == p or path.startswith(p + "/") for p in ADMIN_PREFIXES):
        return True
    if path in OWN_LISTINGS:
        return args.get("user") != current_user()
    return False


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


def _refuse_foreign_origins(settings: Settings) -> None:
    """403 before minting for a request another site's page made (a form posting text/plain, a
    script): its Origin is neither this app nor in ALLOWED_ORIGINS (``null`` never is), or, with
    no Origin, the browser says it is cross-site."""
    origin = request.headers.get("Origin")
    if origin is not None:
        # The app's own origin is worked out only when there is an Origin to compare it with.
        allowed = origin in settings.allowed_origins or origin == request.host_url.rstrip("/")
        if origin != "null" and allowed:
            return
    elif request.headers.get("Sec-Fetch-Site") != "cross-site":
        return
    raise NotAllowed("Link tokens are minted only for this app's pages and ALLOWED_ORIGINS.")


def _load_hook(spec: str):
    """``package.module:function`` from QUICKSTART_HOOKS, called with the app at start."""
    module_name, _, attribute = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute or "setup")
    except (ImportError, AttributeError) as exc:
        raise SystemExit(f"QUICKSTART_HOOKS: cannot load {spec!r} ({exc}).") from None
