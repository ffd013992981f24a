"""Settings from the environment first, then ``.env``, then defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
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
    #: Settings of the kit given in the environment or .env (rate limits, the lock wait), as is.
    kit_config: tuple[tuple[str, str], ...] = ()

    @property
    def sandbox(self) -> bool:
        """No API key: the built-in sandbox stands in for Smile."""
        return not self.api_key


#: The kit's settings the quickstart passes on from the environment or .env when they are set.
KIT_SETTINGS = (
    "WINK_RATE_LIMIT_ENABLED",
    "WINK_RATE_LIMIT_STORAGE_URL",
    "WINK_TOKEN_RATE_LIMIT",
    "WINK_TOKEN_ADDRESS_RATE_LIMIT",
    "WINK_CALLBACK_RATE_LIMIT",
    "WINK_CALLBACK_KB_RATE_LIMIT",
    "WINK_DB_LOCK_TIMEOUT",
)


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = None
) -> Settings:
    """Read settings; ``environ`` beats the ``.env`` file, which beats the defaults."""
    env_file = env_file if env_file is not None else ROOT / ".env"
    values: dict[str, str | None] = {}
    if env_file.is_file():
        values.update(dotenv_values(env_file))
    values.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = values.get(name)
        return value if value not in (None, "") else None

    try:
        port = int(get("APP_PORT") or 8000)
        sdk_version = int(get("WINK_SDK_VERSION") or 2)
    except ValueError as exc:
        raise SystemExit(f"APP_PORT and WINK_SDK_VERSION must be whole numbers ({exc}).") from None
    return Settings(
        app_host=get("APP_HOST") or "127.0.0.1",
        app_port=port,
        api_key=get("API_KEY"),
        api_secret=get("API_SECRET"),
        open_api_host=get("OPEN_API_HOST"),
        template_id=get("WINK_TEMPLATE_ID"),
        sdk_version=sdk_version,
        webhook_secret=get("WEBHOOK_SECRET"),
        secret_key=get("SECRET_KEY"),
        database_url=get("DATABASE_URL"),
        allowed_origins=_list(get("ALLOWED_ORIGINS")),
        top_providers=_list(get("TOP_PROVIDERS")),
        providers=_list(get("PROVIDERS")),
        enable_upload=(get("ENABLE_UPLOAD") or "true").lower() in ("1", "true", "yes", "on"),
        hooks=_list(get("QUICKSTART_HOOKS")),
        kit_config=tuple((key, values[key]) for key in KIT_SETTINGS if values.get(key) is not None),
    )
