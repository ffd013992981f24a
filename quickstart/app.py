"""The quickstart app: the flask-wink blueprint, a dashboard, and the sandbox when there is no key.

:func:`create_app` builds it in named steps, in this order: the Flask app, Smile Wink (its sandbox
or the keys), the kit's settings and the other upstreams (Smile ID, UCW), the kit itself, who the
user is, the guards (admin pages, CORS, security headers), the routes and pages, the host's hooks,
and last the emulators mounted beside the app.
"""

from __future__ import annotations

import importlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, request
from flask_cors import CORS
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_wink import Wink, get_state, security
from flask_wink.providers.smile_wink.sandbox import create_sandbox_app

from . import home, pages
from .pages_smile_id import SANDBOX_PREFIX as SMILE_ID_SANDBOX_PREFIX
from .pages_smile_id import setup_smile_id
from .pages_ucw import UCW_SANDBOX_PREFIX, configure_ucw
from .sandbox_keys import sandbox_keys
from .sessions import SESSION_COOKIE_NAME, HttpsAwareSessions
from .settings import Settings, load_settings
from .shared import (
    ADMIN_PREFIXES,
    ADMIN_REALM,
    OWN_LISTINGS,
    SANDBOX_PREFIX,
    admin_only,
    current_user,
    is_admin,
    require_admin,
)

# Names other modules and older code import from here.
__all__ = [
    "ADMIN_PREFIXES",
    "ADMIN_REALM",
    "OWN_LISTINGS",
    "SANDBOX_PREFIX",
    "SESSION_COOKIE_NAME",
    "HttpsAwareSessions",
    "create_app",
    "is_admin",
    "require_admin",
    "unencrypted_warning",
]


@dataclass
class SmileWink:
    """How the kit reaches Smile: the built-in sandbox (``sandbox``) or Smile's API with the keys."""

    api_host: str
    api_key: str | None
    api_secret: str | None
    #: WEBHOOK_SECRET may list several (rotation); the sandbox signs with the first.
    webhook_secrets: list[str]
    sandbox: Flask | None = None


def create_app(
    settings: Settings | None = None, *, instance_path: str | Path | None = None
) -> Flask:
    """Build the quickstart for ``settings`` (default: environment, then ``.env``)."""
    settings = settings or load_settings()
    app = _flask_app(settings, instance_path)
    base_url = _own_url(settings)
    keys = sandbox_keys(app.instance_path) if settings.sandbox else {}
    smile = _smile_wink(app, settings, keys, base_url)
    _kit_settings(app, settings, base_url)
    emulators = _other_upstreams(app, settings, keys, base_url)
    wink = _start_kit(app, settings, smile)
    _identify_users(wink, settings)
    _guard(app, settings)
    home.register(app)
    _register_pages(app)
    _run_hooks(app, settings)
    _mount(app, {SANDBOX_PREFIX: smile.sandbox, **emulators})
    return app


def _flask_app(settings: Settings, instance_path: str | Path | None) -> Flask:
    """The Flask app, its secret key and its session cookie."""
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
    app.config["QUICKSTART"] = settings
    return app


def _own_url(settings: Settings) -> str:
    """How the app reaches itself (the sandbox's webhooks): loopback unless bound elsewhere."""
    own_host = settings.app_host if settings.app_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{own_host}:{settings.app_port}"


def _smile_wink(app: Flask, settings: Settings, keys: dict[str, str], base_url: str) -> SmileWink:
    """Smile's sandbox, told where to post its webhooks, in sandbox mode (``QUICKSTART_SANDBOX``);
    Smile's API in live mode."""
    app.config["QUICKSTART_SANDBOX"] = None
    webhook_secrets = [s.strip() for s in (settings.webhook_secret or "").split(",") if s.strip()]
    # In sandbox mode the instance's own (the same in a `flask wink ...` command's process).
    webhook_secrets = webhook_secrets or [keys.get("webhook_secret") or secrets.token_hex(32)]
    if not settings.sandbox:
        if not (settings.api_key and settings.api_secret):
            raise SystemExit("Live mode needs both API_KEY and API_SECRET: put both in .env.")
        return SmileWink(
            api_host=settings.open_api_host or "https://sandbox.smileapi.io/v1",
            api_key=settings.api_key,
            api_secret=settings.api_secret,
            webhook_secrets=webhook_secrets,
        )
    sandbox = create_sandbox_app(api_key=keys["smile_wink_api_key"], api_secret=keys["smile_wink_api_secret"])
    app.config["QUICKSTART_SANDBOX"] = sandbox
    sandbox_state = sandbox.extensions["wink_sandbox"]
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
    return SmileWink(
        api_host=f"{base_url}{SANDBOX_PREFIX}/v1",
        api_key=sandbox_state.api_key,
        api_secret=sandbox_state.api_secret,
        webhook_secrets=webhook_secrets,
        sandbox=sandbox,
    )


def _kit_settings(app: Flask, settings: Settings, base_url: str) -> None:
    """The kit's settings the quickstart passes on: the database, those given in the environment
    or ``.env``, the public address, and fetching a user's data once Smile has it all."""
    if settings.database_url:
        app.config["WINK_DATABASE_URL"] = settings.database_url
    app.config.update(dict(settings.kit_config))
    # The address Smile ID and UCW are handed (where results, the browser and the widget's events
    # go back to): never the request's Host, which the client writes. In sandbox mode this
    # process's own; in live mode only what PUBLIC_URL says.
    public_url = settings.public_url or (base_url if settings.sandbox else None)
    if public_url:
        app.config["WINK_PUBLIC_URL"] = public_url
    # So "Your data" fills by itself: fetch once Smile says a link's data is all added.
    app.config.setdefault("WINK_FETCH_ON", "TASK_FINISHED")


def _other_upstreams(app: Flask, settings: Settings, keys: dict[str, str], base_url: str) -> dict[str, Flask]:
    """Smile ID and UCW: in sandbox mode their emulators (returned by where they are mounted),
    in live mode their settings, where both need the public address."""
    emulators = {}
    smile_id_sandbox = setup_smile_id(app, settings, base_url)
    if smile_id_sandbox is not None:
        # The same partner id and key in every process of this instance (see sandbox_keys).
        smile_id_state = smile_id_sandbox.extensions["smile_id_sandbox"]
        smile_id_state.partner_id = app.config["WINK_SMILE_ID_PARTNER_ID"] = keys["smile_id_partner_id"]
        smile_id_state.api_key = app.config["WINK_SMILE_ID_API_KEY"] = keys["smile_id_api_key"]
        emulators[SMILE_ID_SANDBOX_PREFIX] = smile_id_sandbox
    ucw_sandbox = configure_ucw(app, settings, base_url)
    if ucw_sandbox is not None:
        emulators[UCW_SANDBOX_PREFIX] = ucw_sandbox
    needing = app.config["QUICKSTART_SMILE_ID"] or (
        app.config.get("WINK_UCW_URL") and not app.config.get("WINK_UCW_TARGET_ORIGIN"))
    if not app.config.get("WINK_PUBLIC_URL") and needing:
        raise SystemExit(
            "Live mode: PUBLIC_URL is not set: set it in .env to the address users reach this app at, "
            "e.g. PUBLIC_URL=https://app.example.com (Smile ID and UCW are handed this app's URLs)."
        )
    return emulators


def _start_kit(app: Flask, settings: Settings, smile: SmileWink) -> Wink:
    """``Wink(app)``, behind ProxyFix when TRUST_PROXY says so; its database is reached now, so an
    unreachable one fails the start rather than the first webhook."""
    wink = Wink(
        app,
        api_key=smile.api_key,
        api_secret=smile.api_secret,
        api_host=smile.api_host,
        webhook_secrets=smile.webhook_secrets,
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
    get_state(app).store.init()
    return wink


def unencrypted_warning(app: Flask) -> str | None:
    """The start's warning when live mode stores personal data in clear (no
    ``WINK_ENCRYPTION_KEYS``); None otherwise. Sandbox mode holds made-up people only."""
    if app.config["QUICKSTART"].sandbox or get_state(app).store.keyring is not None:
        return None
    return ("Personal data (events, user data, bank data) is stored unencrypted: run `flask wink keys "
            "generate` and set WINK_ENCRYPTION_KEYS to the key in .env.")


def _identify_users(wink: Wink, settings: Settings) -> None:
    """Who the user is (this browser's id), and who may read the kit's listings."""
    wink.user_id_loader(current_user)

    @wink.events_permission
    def may_read_events() -> bool:
        # Sandbox: a demo, everyone reads everything. Live: the admin, or a user their own.
        if settings.sandbox or is_admin(settings):
            return True
        # Filters only narrow: with ?user=<their id> nobody else's row can be in the answer.
        return request.args.get("user") == current_user()


def _guard(app: Flask, settings: Settings) -> None:
    """The admin pages closed in live mode; cross-site calls to ``/api/`` from ALLOWED_ORIGINS
    only; the security headers on every answer."""

    @app.before_request
    def close_admin_surfaces():
        if settings.sandbox or not admin_only(request.path, request.args):
            return None
        return require_admin(settings)

    # Preflights answered by Flask-CORS, with credentials. The literal origin "null" (sandboxed
    # frames, file: pages) is never allowed.
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


def _register_pages(app: Flask) -> None:
    """The pages' blueprint, and the menu of them every page shows."""
    app.register_blueprint(pages.blueprint())
    app.jinja_env.globals["quickstart_pages"] = pages.links()


def _run_hooks(app: Flask, settings: Settings) -> None:
    for hook in settings.hooks:
        _load_hook(hook)(app)


def _load_hook(spec: str):
    """``package.module:function`` from QUICKSTART_HOOKS, called with the app at start."""
    module_name, _, attribute = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute or "setup")
    except (ImportError, AttributeError) as exc:
        raise SystemExit(f"QUICKSTART_HOOKS: cannot load {spec!r} ({exc}).") from None


def _mount(app: Flask, emulators: dict[str, Flask | None]) -> None:
    """The emulators beside the app, by path; the longest prefix wins (/sandbox/ucw and
    /sandbox/smile-id are not Smile's sandbox)."""
    mounts = {prefix: emulator.wsgi_app for prefix, emulator in emulators.items() if emulator is not None}
    if mounts:
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, mounts)
