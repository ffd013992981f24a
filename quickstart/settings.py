"""Settings from the environment first, then ``.env``, then defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    app_host: str
    app_port: int
    api_key: str | None
    api_secret: str | None
    open_api_host: str | None
    template_id: str | None
    sdk_version: int
    webhook_secret: str | None
    secret_key: str | None
    database_url: str | None
    allowed_origins: tuple[str, ...]
    top_providers: tuple[str, ...]
    providers: tuple[str, ...]
    enable_upload: bool
    hooks: tuple[str, ...] = ()
    #: A Universal Connect Widget to use instead of the built-in emulator
    #: (UCW_URL, UCW_TOKEN, UCW_API_VERSION).
    ucw_url: str | None = None
    ucw_token: str | None = None
    ucw_api_version: str | None = None
    #: Smile ID (Smile Links): SMILE_ID_* settings, see quickstart/pages_smile_id.py.
    smile_id: Mapping[str, str] = field(default_factory=dict)
    #: Settings of the kit given in the environment or .env (rate limits, the lock wait), as is.
    kit_config: tuple[tuple[str, str], ...] = ()
    #: The password of the admin pages in live mode (HTTP Basic); None: they are not served.
    admin_password: str | None = None
    #: ``"sandbox"`` or ``"live"``: decided once by :func:`load_settings`.
    mode: str = "sandbox"
    #: Served behind one reverse proxy whose X-Forwarded-For/-Proto/-Host headers are trusted.
    trust_proxy: bool = False
    #: The instance folder (the SQLite database, the sandboxes' keys); None: ``instance/``.
    instance_path: str | None = None
    #: The address users reach the app at (PUBLIC_URL or WINK_PUBLIC_URL), which Smile ID and
    #: UCW are handed; None: in sandbox mode the quickstart's own, in live mode none.
    public_url: str | None = None

    @property
    def sandbox(self) -> bool:
        """No Smile credential under any name: the built-in sandbox stands in for Smile."""
        return self.mode == "sandbox"


#: The kit's settings the quickstart passes on from the environment or .env when they are set.
KIT_SETTINGS = (
    "WINK_RATE_LIMIT_ENABLED",
    "WINK_RATE_LIMIT_STORAGE_URL",
    "WINK_TOKEN_RATE_LIMIT",
    "WINK_TOKEN_ADDRESS_RATE_LIMIT",
    "WINK_CALLBACK_RATE_LIMIT",
    "WINK_CALLBACK_KB_RATE_LIMIT",
    "WINK_DB_LOCK_TIMEOUT",
    "WINK_WEBHOOK_ALLOWED_IPS",
    "WINK_UCW_TARGET_ORIGIN",
    "WINK_RETRY_FIRST_DELAY",
    "WINK_RETRY_FACTOR",
    "WINK_RETRY_MAX_DELAY",
    "WINK_RETRY_ATTEMPTS",
    "WINK_ENCRYPTION_KEYS",
)


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def read_values(
    environ: Mapping[str, str] | None = None, env_file: Path | None = None
) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """Everything set: ``environ`` over the ``.env`` file; and the file's own values."""
    env_file = env_file if env_file is not None else ROOT / ".env"
    from_file: dict[str, str | None] = dict(dotenv_values(env_file)) if env_file.is_file() else {}
    values = {**from_file, **(os.environ if environ is None else environ)}
    return values, from_file


#: Settings that are whole numbers, and an example value for the fix.
WHOLE_NUMBERS = {"APP_PORT": 8000, "PORT": 8000, "WINK_SDK_VERSION": 2}


def port_setting(values: Mapping[str, str | None]) -> str:
    """The name the port is read from: ``APP_PORT``, else ``PORT`` (what most hosts set, and what
    a ``.env`` written for another app says) when only it is set."""
    if values.get("APP_PORT") in (None, "") and values.get("PORT") not in (None, ""):
        return "PORT"
    return "APP_PORT"


def whole_number(name: str, value: str | None) -> int:
    """``value`` as an int, or a SystemExit naming ``name`` and the fix."""
    if value in (None, ""):
        return WHOLE_NUMBERS[name]
    try:
        return int(value)
    except ValueError:
        raise SystemExit(
            f"{name} must be a whole number, not {value!r}: set e.g. {name}={WHOLE_NUMBERS[name]}."
        ) from None


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = None
) -> Settings:
    """Read settings; ``environ`` beats the ``.env`` file, which beats the defaults."""
    values, _ = read_values(environ, env_file)

    def get(name: str) -> str | None:
        value = values.get(name)
        return value if value not in (None, "") else None

    port_name = port_setting(values)
    port = whole_number(port_name, get(port_name))
    sdk_version = whole_number("WINK_SDK_VERSION", get("WINK_SDK_VERSION"))
    api_key = get("API_KEY") or get("WINK_API_KEY")
    api_secret = get("API_SECRET") or get("WINK_API_SECRET")
    mode = decide_mode(get("MODE"), api_key, api_secret)
    return Settings(
        app_host=get("APP_HOST") or "127.0.0.1",
        app_port=port,
        api_key=api_key,
        api_secret=api_secret,
        open_api_host=get("OPEN_API_HOST"),
        template_id=get("WINK_TEMPLATE_ID"),
        sdk_version=sdk_version,
        webhook_secret=get("WEBHOOK_SECRET") or get("WINK_WEBHOOK_SECRETS"),
        secret_key=get("SECRET_KEY"),
        database_url=get("DATABASE_URL"),
        allowed_origins=_list(get("ALLOWED_ORIGINS")),
        top_providers=_list(get("TOP_PROVIDERS")),
        providers=_list(get("PROVIDERS")),
        enable_upload=(get("ENABLE_UPLOAD") or "true").lower() in ("1", "true", "yes", "on"),
        hooks=_list(get("QUICKSTART_HOOKS")),
        ucw_url=get("UCW_URL"),
        ucw_token=get("UCW_TOKEN"),
        ucw_api_version=get("UCW_API_VERSION"),
        smile_id={k: v for k, v in values.items() if k.startswith("SMILE_ID_") and v not in (None, "")},
        kit_config=tuple((key, get(key)) for key in KIT_SETTINGS if get(key) is not None),
        admin_password=get("ADMIN_PASSWORD"),
        trust_proxy=(get("TRUST_PROXY") or "false").lower() in ("1", "true", "yes", "on"),
        mode=mode,
        instance_path=get("INSTANCE_PATH"),
        public_url=get("PUBLIC_URL") or get("WINK_PUBLIC_URL"),
    )


def decide_mode(asked: str | None, api_key: str | None, api_secret: str | None) -> str:
    """``"live"`` when any Smile credential is set under any name the quickstart or the kit reads
    (API_KEY, WINK_API_KEY, API_SECRET, WINK_API_SECRET), else ``"sandbox"``; ``MODE`` may say
    which, and a contradiction stops the start with a sentence naming what to fix."""
    live = bool(api_key or api_secret)
    if asked is not None and asked.lower() not in ("sandbox", "live"):
        raise SystemExit(f"MODE must be sandbox or live, not {asked!r}.")
    if asked is not None and asked.lower() == "sandbox" and live:
        raise SystemExit(
            "MODE=sandbox but a Smile credential is set (API_KEY/WINK_API_KEY or "
            "API_SECRET/WINK_API_SECRET): remove it, or set MODE=live."
        )
    if asked is not None and asked.lower() == "live" and not live:
        raise SystemExit("MODE=live needs API_KEY and API_SECRET (Smile's live credentials) in .env.")
    if live and not (api_key and api_secret):
        missing = "API_SECRET" if api_key else "API_KEY"
        raise SystemExit(f"Live mode: {missing} is not set: put both API_KEY and API_SECRET in .env.")
    return "live" if live else "sandbox"
