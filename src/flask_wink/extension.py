"""The Flask extension: the core's ``WINK_*`` settings, the enabled providers, routes and CLI."""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import weakref
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import SecurityError

from .addresses import check_public_address
from .errors import ConfigurationError, error_page
from .pipeline import handler_pool, process_name, sweep_if_due
from .provider import PROVIDER_ENTRY_POINTS, Provider, blueprint_of, url_segment
from .ratelimits import RateLimits
from .settings import split_setting
from .state import RetryPolicy, WinkSettings, WinkState, get_state
from .store import Keyring, Store
from .store.engine import DEFAULT_LOCK_TIMEOUT
from .tasks import CeleryHandOff, celery_app_for, register

log = logging.getLogger("flask_wink")

UserIdLoader = Callable[[], "str | None"]
Permission = Callable[[], bool]

HANDLE_EVENTS = ("background", "request", "worker", "celery")


class Wink:
    """Mounts account linking on an app: ``Wink(app)`` or ``wink.init_app(app)``.

    Keyword options become config keys (``api_key=...`` -> ``WINK_API_KEY``) and win over the
    app's config, which wins over defaults. ``providers`` enables provider objects directly
    (otherwise ``WINK_PROVIDERS`` names them, or every installed provider whose settings are
    present is enabled); ``transport`` is handed to the HTTP clients of the providers built from
    config (tests): one ``httpx`` transport for all of them, or ``{provider name: transport}``
    for each its own (a provider left out gets none: it calls its upstream). ``celery`` is the
    host's Celery app: events are then handled by its workers (``WINK_HANDLE_EVENTS`` defaults
    to ``"celery"``; see :mod:`flask_wink.tasks`).
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        providers: Iterable[Provider] | None = None,
        transport: Any = None,
        celery: Any = None,
        **options: Any,
    ) -> None:
        self._options = {f"WINK_{key.upper()}": value for key, value in options.items()}
        self._providers = list(providers) if providers is not None else None
        self._transport = transport
        self._celery = celery
        self._user_id_loader: UserIdLoader | None = None
        self._events_permission: Permission | None = None
        if app is not None:
            self.init_app(app)

    # -- hooks the host app sets --------------------------------------------------------

    def user_id_loader(self, fn: UserIdLoader) -> UserIdLoader:
        """Decorate the function that returns the current app user's id (or None)."""
        self._user_id_loader = fn
        return fn

    def events_permission(self, fn: Permission) -> Permission:
        """Decorate the function that says whether this request may read ``/events``."""
        self._events_permission = fn
        return fn

    def current_user_id(self) -> str | None:
        """The current app user's id, as the host's ``user_id_loader`` says."""
        if self._user_id_loader is None:
            return None
        user_id = self._user_id_loader()
        return None if user_id is None else str(user_id)

    def may_read_events(self) -> bool:
        """Whether the host's ``events_permission`` lets this request read events and accounts."""
        return bool(self._events_permission and self._events_permission())

    # -- setup --------------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Read config, build the providers and the store, and register routes and commands.

        A setting the kit cannot use raises :class:`~flask_wink.errors.ConfigurationError` (a
        ``RuntimeError``) in one line that says the fix; ``flask run`` and ``flask wink ...``
        print just that line."""
        try:
            self._init_app(app)
        except RuntimeError as exc:
            if type(exc) is not RuntimeError:  # already the kit's, or the host's own kind
                raise
            raise ConfigurationError(str(exc)) from None

    def _init_app(self, app: Flask) -> None:
        for key, value in self._options.items():
            if value is not None:
                app.config[key] = value
        config = app.config
        config.setdefault("WINK_URL_PREFIX", "/wink")
        config.setdefault("WINK_PROVIDERS", None)
        config.setdefault("WINK_DEFAULT_PROVIDER", None)
        config.setdefault("WINK_PUBLIC_URL", None)
        config.setdefault("WINK_WEBHOOK_MAX_BYTES", 5 * 1024 * 1024)
        config.setdefault("WINK_CALLBACK_MAX_BYTES", 64 * 1024)
        config.setdefault("WINK_WEBHOOK_ALLOWED_IPS", None)
        config.setdefault("WINK_CELERY_APP", None)
        given_celery = self._celery is not None or config["WINK_CELERY_APP"] is not None
        config.setdefault("WINK_HANDLE_EVENTS", "celery" if given_celery else "background")
        config.setdefault("WINK_HANDLER_THREADS", 4)
        config.setdefault("WINK_WEBHOOK_FAST_PATH", False)
        config.setdefault("WINK_CLAIM_LEASE", 300.0)
        config.setdefault("WINK_SECURITY_HEADERS", True)
        config.setdefault("WINK_FRAME_ANCESTORS", "'self'")
        config.setdefault("WINK_CSP_SOURCES", None)
        config.setdefault("WINK_SWEEP_INTERVAL", 60.0)
        config.setdefault("WINK_RETRY_FIRST_DELAY", 30.0)
        config.setdefault("WINK_RETRY_FACTOR", 2.0)
        config.setdefault("WINK_RETRY_MAX_DELAY", 3600.0)
        config.setdefault("WINK_RETRY_ATTEMPTS", 10)
        config.setdefault("WINK_ENCRYPTION_KEYS", None)
        config.setdefault("WINK_DATABASE_URL", f"sqlite:///{Path(app.instance_path) / 'wink.sqlite3'}")

        if not config.get("SECRET_KEY"):
            raise RuntimeError(
                "SECRET_KEY is not set: the widget page's CSRF token needs it. "
                "Set app.config['SECRET_KEY'] (the quickstart reads SECRET_KEY from .env)."
            )
        handle_events = config["WINK_HANDLE_EVENTS"]
        if handle_events not in HANDLE_EVENTS:
            raise RuntimeError(
                f"WINK_HANDLE_EVENTS must be one of {', '.join(map(repr, HANDLE_EVENTS))}, "
                f"not {handle_events!r}."
            )
        celery_app = celery_app_for(app, self._celery)
        try:
            allowed = split_setting(config["WINK_WEBHOOK_ALLOWED_IPS"])
            networks = tuple(ipaddress.ip_network(item, strict=False) for item in allowed)
        except ValueError as exc:
            raise RuntimeError(f"WINK_WEBHOOK_ALLOWED_IPS holds a bad address or network: {exc}") from None

        providers = self._build_providers(app)
        default = default_provider(config["WINK_DEFAULT_PROVIDER"], providers)
        check_public_address(config, providers.values())

        database_url = config["WINK_DATABASE_URL"]
        if database_url.startswith("sqlite:///") and database_url != "sqlite:///:memory:":
            Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        lock_setting = config.setdefault("WINK_DB_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)
        try:
            lock_timeout = float(lock_setting)
        except (TypeError, ValueError):
            raise RuntimeError(
                f"WINK_DB_LOCK_TIMEOUT must be a number of seconds, not {lock_setting!r}."
            ) from None
        keyring = Keyring.from_setting(config["WINK_ENCRYPTION_KEYS"])
        threads = max(1, int(config["WINK_HANDLER_THREADS"]))
        settings = WinkSettings(
            url_prefix=config["WINK_URL_PREFIX"].rstrip("/"),
            default_provider=default,
            webhook_max_bytes=int(config["WINK_WEBHOOK_MAX_BYTES"]),
            callback_max_bytes=int(config["WINK_CALLBACK_MAX_BYTES"]),
            webhook_networks=networks,
            handle_events=handle_events,
            handler_threads=threads,
            claim_lease=_seconds(config, "WINK_CLAIM_LEASE"),
            sweep_interval=_seconds(config, "WINK_SWEEP_INTERVAL"),
            retry=_retry_policy(config),
        )
        # The app's own resources: its store, its handler pool, the providers built from its
        # config. A provider the host passed in is the host's, shared by every app it mounts.
        state = WinkState(
            wink=self,
            settings=settings,
            store=Store(
                database_url, lock_timeout=lock_timeout, providers=providers.values(), keyring=keyring
            ),
            providers=providers,
            owned_providers=frozenset(providers) if self._providers is None else frozenset(),
            process_name=process_name(),
            handler_pool=handler_pool(threads) if handle_events == "background" else None,
            rate_limits=RateLimits(app),
            hand_off=CeleryHandOff(celery_app) if handle_events == "celery" else None,
        )
        if celery_app is not None:
            register(app, celery_app)
        app.extensions["wink"] = state
        # Closed when the app is collected; the finalizer holds the state, never the app.
        weakref.finalize(app, state.close)
        self._register(app, state)

    def _build_providers(self, app: Flask) -> dict[str, Provider]:
        config = app.config
        if self._providers is not None:
            if self._transport is not None:
                raise RuntimeError(
                    "Wink(transport=...) applies only to providers built from config: "
                    "hand the transport to your provider's own HTTP client instead."
                )
            built = list(self._providers)
        else:
            factories = {ep.name: ep for ep in entry_points(group=PROVIDER_ENTRY_POINTS)}
            wanted = split_setting(config["WINK_PROVIDERS"])
            for name in wanted:
                if name not in factories:
                    raise RuntimeError(
                        f"WINK_PROVIDERS names {name!r}, which is not installed: "
                        f"pick from {', '.join(sorted(factories)) or 'none installed'}."
                    )
            chosen = wanted or [name for name, ep in factories.items() if _configured(ep, config)]
            transports = _transports(self._transport, chosen)
            built = [factories[name].load().from_config(config, transport=transports.get(name),
                                                        instance_path=app.instance_path)
                     for name in chosen]
        if not built:
            raise RuntimeError(f"No provider is configured: {_setup_hints()}.")
        providers: dict[str, Provider] = {}
        for provider in built:
            if not isinstance(provider, Provider):
                raise RuntimeError(f"{provider!r} is not a provider: see flask_wink.provider.Provider.")
            providers[provider.name] = provider
        return providers

    def _register(self, app: Flask, state: WinkState) -> None:
        from .blueprint import bp, receive_webhook
        from .cli import wink_cli
        from .receiver import WebhookFastPath

        prefix = state.settings.url_prefix
        app.register_blueprint(bp, url_prefix=prefix or "/")
        # Each provider's blueprint, asked for once per app.
        parts = {name: blueprint_of(p) for name, p in state.providers.items()}
        parts_names = {"wink"}
        for name, blueprint in parts.items():
            if blueprint is not None:
                app.register_blueprint(blueprint, url_prefix=f"{prefix}/{url_segment(name)}")
                parts_names.add(blueprint.name)
        if app.config["WINK_WEBHOOK_FAST_PATH"]:
            # Webhooks are answered before Flask's dispatch (see flask_wink.receiver).
            paths = {f"{prefix}/{url_segment(name)}/webhooks": name for name in state.providers}
            paths[f"{prefix}/webhooks"] = state.default_provider
            app.wsgi_app = WebhookFastPath(app, app.wsgi_app, paths)
        self._register_answers(app, state, prefix, parts_names)
        if "wink" not in app.cli.commands:
            app.cli.add_command(wink_cli)
        # Upstreams sign webhooks instead of sending a CSRF token: a host-wide CSRFProtect must
        # not refuse them, whether it was set up before this extension or after it.
        _exempt_from_csrf(app, receive_webhook)

        @app.before_request
        def _exempt_webhooks_late() -> None:
            if request.endpoint == "wink.receive_webhook":
                _exempt_from_csrf(app, receive_webhook)
            # The first request after a start, then one every WINK_SWEEP_INTERVAL s, takes over
            # events whose process died while handling them (no one has to run a command).
            sweep_if_due(app, state)


    def _register_answers(self, app: Flask, state: WinkState, prefix: str, names: set[str]) -> None:
        """Security headers on the kit's own pages (the blueprints called ``names``); 405 and 413
        on the kit's own paths answered as the kit's errors are (JSON, or the error page to a
        browser's navigation)."""
        from . import security

        sources: list[str] = list(split_setting(app.config["WINK_CSP_SOURCES"]))
        sources.extend(security.provider_origins(state.providers.values()))
        app.jinja_env.globals.setdefault("wink_csp_nonce", security.csp_nonce)
        app.jinja_env.globals.setdefault("wink_same_site_path", security.same_site_path)
        # What the providers' partials (wink/<provider>/_button.html) need in any host template,
        # with or without Flask-WTF's CSRFProtect (which alone defines csrf_token()).
        app.jinja_env.globals.setdefault("wink_csrf_token", generate_csrf)
        app.jinja_env.globals.setdefault("wink_link_config", template_link_config)

        @app.after_request
        def _kit_headers(response):
            if app.config["WINK_SECURITY_HEADERS"] and request.blueprint in names:
                security.apply(response, sources=sources, frame_ancestors=app.config["WINK_FRAME_ANCESTORS"])
            return response

        def on_kit_path() -> bool:
            return request.path == prefix or request.path.startswith(prefix + "/")

        def json_answer(exc):
            if not on_kit_path():
                return exc
            page = error_page(exc, request.environ)  # a browser's navigation: the kit's page
            if page is not None:
                return page
            body = {"error": type(exc).__name__, "message": exc.description}
            response = app.response_class(json.dumps(body), status=exc.code, mimetype="application/json")
            for name, value in exc.get_headers():
                if name.lower() != "content-type":
                    response.headers[name] = value
            return response

        for code in (405, 413):
            if code not in app.error_handler_spec.get(None, {}):  # the host's own handler wins
                app.register_error_handler(code, json_answer)
        # A Host that TRUSTED_HOSTS does not list (Flask refuses it, see flask_wink.addresses).
        if 400 not in app.error_handler_spec.get(None, {}):
            app.register_error_handler(SecurityError, json_answer)


def template_link_config(provider: str | None = None, **options: str) -> dict[str, Any]:
    """``wink_link_config(provider, **options)`` in templates: :func:`~flask_wink.link_config` for
    this app, so that a partial needs nothing from the view that renders the page."""
    from .blueprint import link_config

    return link_config(get_state(), provider, options)


def default_provider(asked: str | None, providers: dict[str, Provider]) -> str:
    """The provider the un-prefixed routes serve: ``WINK_DEFAULT_PROVIDER`` when set; else the
    enabled provider that owns them (``owns_unprefixed_routes``: Smile Wink, whose own docs and
    clients use them); else the only one. Never "the first", so that enabling, disabling or
    reordering a provider does not change what another provider's URLs do."""
    if asked:
        if asked not in providers:
            raise RuntimeError(
                f"WINK_DEFAULT_PROVIDER is {asked!r}, which is not enabled: "
                f"pick one of {', '.join(providers)}."
            )
        return asked
    owners = [name for name, p in providers.items() if getattr(p, "owns_unprefixed_routes", False)]
    if len(owners) == 1:
        return owners[0]
    if len(providers) == 1:
        return next(iter(providers))
    which = f"{' and '.join(owners)} each claim" if owners else "none owns"
    raise RuntimeError(
        f"Several providers are enabled ({', '.join(providers)}) and {which} the un-prefixed routes: "
        "set WINK_DEFAULT_PROVIDER to the one /wink/token, /wink/link, /wink/callbacks and "
        "/wink/webhooks serve."
    )


def _seconds(config: Any, key: str) -> float:
    try:
        value = float(config[key] or 0)
    except (TypeError, ValueError):
        value = -1.0
    if value < 0:
        raise RuntimeError(f"{key} must be a number of seconds, not {config[key]!r}.")
    return value


def _retry_policy(config: Any) -> RetryPolicy:
    """The ``WINK_RETRY_*`` settings, each checked (a RuntimeError in one line that says the fix)."""
    first = _finite_seconds(config, "WINK_RETRY_FIRST_DELAY")
    cap = _finite_seconds(config, "WINK_RETRY_MAX_DELAY")
    given = config["WINK_RETRY_FACTOR"]
    try:
        factor = float(given)
    except (TypeError, ValueError):
        factor = math.nan
    if not (1 <= factor < math.inf) or isinstance(given, bool):
        raise RuntimeError(
            f"WINK_RETRY_FACTOR must be a number of 1 or more (2 doubles each wait), not {given!r}."
        )
    given = config["WINK_RETRY_ATTEMPTS"]
    try:
        attempts = int(str(given).strip())
    except ValueError:
        attempts = 0
    if attempts < 1 or isinstance(given, bool | float):
        raise RuntimeError(
            f"WINK_RETRY_ATTEMPTS must be a whole number, 1 or more (1: no retries), not {given!r}."
        )
    return RetryPolicy(first_delay=first, factor=factor, max_delay=cap, attempts=attempts)


def _finite_seconds(config: Any, key: str) -> float:
    value = _seconds(config, key)
    if value == math.inf or value != value:  # NaN is not equal to itself
        raise RuntimeError(f"{key} must be a number of seconds, not {config[key]!r}.")
    return value


def _configured(entry_point: Any, config: Any) -> bool:
    """Whether a provider's settings are present (its factory's ``configured``, if it has one)."""
    factory = entry_point.load()
    check = getattr(factory, "configured", None)
    return bool(check(config)) if check is not None else False


def _exempt_from_csrf(app: Flask, view) -> None:
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(view)


def _transports(given: Any, names: list[str]) -> dict[str, Any]:
    """``Wink(transport=...)`` for each provider built: one transport for every provider, or a
    mapping by provider name whose names must be among those enabled."""
    if not isinstance(given, Mapping):
        return dict.fromkeys(names, given)
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise RuntimeError(
            f"Wink(transport={{...}}) names {', '.join(map(repr, unknown))}, which is not enabled: "
            f"use the names of the providers enabled ({', '.join(names)})."
        )
    return dict(given)


def _setup_hints() -> str:
    """How to configure each installed provider, in one line."""
    hints = []
    for ep in sorted(entry_points(group=PROVIDER_ENTRY_POINTS), key=lambda ep: ep.name):
        try:
            hint = getattr(ep.load(), "setup_hint", None)
        except Exception:  # an installed provider that cannot load still leaves the others
            hint = None
        if hint:
            hints.append(hint)
    hints.append("name providers in WINK_PROVIDERS, or pass providers=[...] to Wink()")
    return "; or ".join(hints)
