"""The Flask extension: configuration, per-app state and the hooks a host app sets."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from flask import Flask, current_app, request

from . import signals
from .client import SmileClient
from .errors import SmileNotFound
from .pipeline import process_name
from .providers.smile_wink import SMILE_WINK, LinkToken, SmileWinkProvider
from .store import Store

log = logging.getLogger("flask_wink")

DEFAULT_API_HOST = "https://sandbox.smileapi.io/v1"

UserIdLoader = Callable[[], "str | None"]
Permission = Callable[[], bool]


@dataclass
class WinkState:
    """What one app needs at request time; lives in ``app.extensions["wink"]``."""

    wink: Wink
    provider: SmileWinkProvider
    client: SmileClient
    store: Store
    api_host: str
    sdk_version: int
    sdk_url: str | None
    template_id: str | None
    webhook_secrets: tuple[str, ...]
    webhook_max_bytes: int
    callback_max_bytes: int
    webhook_max_age: float | None = None
    webhook_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    #: Who handles events in requests (None: a worker does, see ``WINK_HANDLE_EVENTS``).
    claim_name: str | None = None
    #: Seconds since the epoch; replaceable so tests need no sleeping.
    clock: Callable[[], float] = time.time
    _known_users: dict[str, str] = field(default_factory=dict)
    _user_locks: tuple[threading.Lock, ...] = field(
        default_factory=lambda: tuple(threading.Lock() for _ in range(64))
    )

    def script_url(self, version: int) -> str:
        """The widget SDK script for ``version`` (``WINK_SDK_URL`` may hold ``{version}``)."""
        if self.sdk_url:
            return self.sdk_url.format(version=version)
        return self.provider.sdk_url(version, self.api_host)

    def _relink(self, app_user_id: str, gone: str) -> LinkToken:
        """Smile no longer knows ``gone`` (deleted, or another sandbox): use or make another user."""
        stored = self.store.upstream_user_id(self.provider.name, app_user_id)
        if stored and stored != gone:
            # Another process relinked already (this one remembered the old user).
            return self.provider.mint_link_token(self.client, stored, app_user_id)
        log.warning("Smile user of app user %s is gone; making a new one", app_user_id)
        token = self.provider.mint_link_token(self.client, None, app_user_id)
        self.store.relink_user(self.provider.name, app_user_id, token.smile_user_id)
        return token

    def mint_link_token(self, app_user_id: str) -> LinkToken:
        """A Link token for ``app_user_id``; makes the Smile user the first time, never twice."""
        lock = self._user_locks[hash(app_user_id) % len(self._user_locks)]
        with lock:
            known = self._known_users.get(app_user_id) or self.store.upstream_user_id(
                self.provider.name, app_user_id
            )
            try:
                token = self.provider.mint_link_token(self.client, known, app_user_id)
            except SmileNotFound:
                if known is None:
                    raise
                token = self._relink(app_user_id, known)
                known = token.smile_user_id
            created = known is None
            if created:
                kept = self.store.link_user(self.provider.name, app_user_id, token.smile_user_id)
                if kept != token.smile_user_id:
                    # Another process linked this user first: use its Smile user.
                    token = self.provider.mint_link_token(self.client, kept, app_user_id)
                    created = False
            if len(self._known_users) >= 10_000:
                self._known_users.clear()
            # The mapping only changes here (relinking), so this process may remember it.
            self._known_users[app_user_id] = token.smile_user_id
        app = current_app._get_current_object()
        for receiver in signals.token_minted.receivers_for(app):
            try:
                receiver(
                    app, app_user_id=app_user_id, smile_user_id=token.smile_user_id, created_user=created
                )
            except Exception:  # the token is good; a receiver's bug must not cost the user it
                log.exception("a receiver of token-minted failed")
        return token


class Wink:
    """Mounts the account-linking blueprint on an app: ``Wink(app)`` or ``wink.init_app(app)``.

    Constructor arguments win over ``WINK_*`` config keys, which win over defaults.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        api_host: str | None = None,
        webhook_secrets: list[str] | str | None = None,
        database_url: str | None = None,
        url_prefix: str | None = None,
        template_id: str | None = None,
        sdk_version: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._options = {
            "WINK_API_KEY": api_key,
            "WINK_API_SECRET": api_secret,
            "WINK_API_HOST": api_host,
            "WINK_WEBHOOK_SECRETS": webhook_secrets,
            "WINK_DATABASE_URL": database_url,
            "WINK_URL_PREFIX": url_prefix,
            "WINK_TEMPLATE_ID": template_id,
            "WINK_SDK_VERSION": sdk_version,
        }
        self._transport = transport
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
        if self._user_id_loader is None:
            return None
        user_id = self._user_id_loader()
        return None if user_id is None else str(user_id)

    def may_read_events(self) -> bool:
        return bool(self._events_permission and self._events_permission())

    # -- setup --------------------------------------------------------------------------

    def init_app(self, app: Flask) -> None:
        """Read config, open the client and the store, and register the blueprint."""
        for key, value in self._options.items():
            if value is not None:
                app.config[key] = value
        config = app.config
        config.setdefault("WINK_API_HOST", DEFAULT_API_HOST)
        config.setdefault("WINK_URL_PREFIX", "/wink")
        config.setdefault("WINK_SDK_VERSION", 2)
        config.setdefault("WINK_SDK_URL", None)
        config.setdefault("WINK_TEMPLATE_ID", None)
        config.setdefault("WINK_WEBHOOK_SECRETS", None)
        config.setdefault("WINK_WEBHOOK_MAX_BYTES", 5 * 1024 * 1024)
        config.setdefault("WINK_CALLBACK_MAX_BYTES", 64 * 1024)
        config.setdefault("WINK_TIMEOUT", 10.0)
        config.setdefault("WINK_WEBHOOK_MAX_AGE", 3 * 24 * 3600)
        config.setdefault("WINK_WEBHOOK_ALLOWED_IPS", None)
        config.setdefault("WINK_HANDLE_EVENTS", "request")
        config.setdefault("WINK_WEBHOOK_FAST_PATH", True)
        config.setdefault("WINK_DATABASE_URL", f"sqlite:///{Path(app.instance_path) / 'wink.sqlite3'}")

        for key in ("WINK_API_KEY", "WINK_API_SECRET"):
            if not config.get(key):
                raise RuntimeError(
                    f"{key} is not set: put {key.removeprefix('WINK_')} in .env, set "
                    f"app.config[{key!r}], or pass {key.removeprefix('WINK_').lower()}=... to Wink()."
                )
        if not config.get("SECRET_KEY"):
            raise RuntimeError(
                "SECRET_KEY is not set: the widget page's CSRF token needs it. "
                "Set app.config['SECRET_KEY'] (the quickstart reads SECRET_KEY from .env)."
            )
        sdk_version = int(config["WINK_SDK_VERSION"])
        if sdk_version not in SMILE_WINK.sdk_versions:
            raise RuntimeError(f"WINK_SDK_VERSION must be 1 or 2, not {sdk_version}.")

        handle_events = config["WINK_HANDLE_EVENTS"]
        if handle_events not in ("request", "worker"):
            raise RuntimeError(f"WINK_HANDLE_EVENTS must be 'request' or 'worker', not {handle_events!r}.")
        try:
            allowed = _secrets(config["WINK_WEBHOOK_ALLOWED_IPS"])
            networks = tuple(ipaddress.ip_network(item, strict=False) for item in allowed)
        except ValueError as exc:
            raise RuntimeError(f"WINK_WEBHOOK_ALLOWED_IPS holds a bad address or network: {exc}") from None

        database_url = config["WINK_DATABASE_URL"]
        if database_url.startswith("sqlite:///") and database_url != "sqlite:///:memory:":
            Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

        client = SmileClient(
            config["WINK_API_HOST"],
            config["WINK_API_KEY"],
            config["WINK_API_SECRET"],
            timeout=httpx.Timeout(float(config["WINK_TIMEOUT"]), connect=5.0),
            transport=self._transport,
        )
        store = Store(database_url)
        state = WinkState(
            wink=self,
            provider=SMILE_WINK,
            client=client,
            store=store,
            api_host=config["WINK_API_HOST"],
            sdk_version=sdk_version,
            sdk_url=config["WINK_SDK_URL"],
            template_id=config["WINK_TEMPLATE_ID"] or None,
            webhook_secrets=_secrets(config["WINK_WEBHOOK_SECRETS"]),
            webhook_max_bytes=int(config["WINK_WEBHOOK_MAX_BYTES"]),
            callback_max_bytes=int(config["WINK_CALLBACK_MAX_BYTES"]),
            webhook_max_age=float(config["WINK_WEBHOOK_MAX_AGE"] or 0) or None,
            webhook_networks=networks,
            claim_name=process_name() if handle_events == "request" else None,
        )
        app.extensions["wink"] = state
        weakref.finalize(app, _close, client, store)
        if not state.webhook_secrets:
            log.warning("WINK_WEBHOOK_SECRETS is not set: every webhook will be refused with 401.")

        from .blueprint import bp, receive_webhook
        from .cli import wink_cli
        from .receiver import WebhookFastPath

        app.register_blueprint(bp, url_prefix=config["WINK_URL_PREFIX"])
        if config["WINK_WEBHOOK_FAST_PATH"]:
            # Webhooks are answered before Flask's dispatch (see flask_wink.receiver).
            path = config["WINK_URL_PREFIX"].rstrip("/") + "/webhooks"
            app.wsgi_app = WebhookFastPath(app, app.wsgi_app, path)
        if "wink" not in app.cli.commands:
            app.cli.add_command(wink_cli)
        # Smile signs webhooks instead of sending a CSRF token: a host-wide CSRFProtect must not
        # refuse them, whether it was set up before this extension or after it.
        _exempt_from_csrf(app, receive_webhook)

        @app.before_request
        def _exempt_webhooks_late() -> None:
            if request.endpoint == "wink.receive_webhook":
                _exempt_from_csrf(app, receive_webhook)


def _exempt_from_csrf(app: Flask, view) -> None:
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(view)


def _secrets(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(s.strip() for s in value if s and s.strip())


def _close(client: SmileClient, store: Store) -> None:
    client.close()
    store.dispose()


def get_state(app: Flask | None = None) -> WinkState:
    """The :class:`WinkState` of ``app`` (default: the current app)."""
    app = app or current_app
    try:
        return app.extensions["wink"]
    except KeyError:
        raise RuntimeError(
            "flask-wink is not set up on this app: call Wink(app) or wink.init_app(app)."
        ) from None
