"""A provider's settings by convention: declared once, read from ``WINK_<PROVIDER>_<NAME>``.

A provider lists its settings as :class:`Setting` values (``settings = (...)`` on its class);
:func:`read_settings` reads each from the app's config, converts it (``str``, ``int``, ``float``,
``bool``, ``list``, :func:`URL`, or any callable that raises ``ValueError``), checks it and
raises :class:`~flask_wink.errors.ConfigurationError` in one line that says the fix:

    WINK_UCW_URL is not set: set it to your UCW's base URL, e.g. https://ucw.example.
    WINK_UCW_TIMEOUT must be a number, not 'soon'.

Plain Python, no Flask: the config is any mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError


def split_setting(value: Any) -> tuple[str, ...]:
    """A setting given as a list or a comma-separated string, as a tuple of non-empty items."""
    if not value:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(s.strip() for s in value if s and s.strip())


class Invalid(ValueError):
    """Raised by a setting's converter: what is wrong with the value, said after the setting's
    name (``Invalid("must end in /v1: set WINK_X=.../v1")``)."""


class _Must(ValueError):
    """What a value must be (``"a whole number"``), for the one-line message."""


def URL(value: Any) -> str:
    """An http(s) URL with a host (a :class:`Setting`'s ``type``)."""
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _Must("an http(s) URL like https://example.com")
    return str(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise _Must("a whole number")
    try:
        return int(str(value).strip()) if not isinstance(value, int | float) else int(value)
    except ValueError:
        raise _Must("a whole number") from None


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Must("a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Must("a number") from None


TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


def _bool(value: Any) -> bool:
    if isinstance(value, bool | int):
        return bool(value)
    wanted = str(value).strip().lower()
    if wanted in TRUE or wanted in FALSE:
        return wanted in TRUE
    raise _Must("true or false")


def _str(value: Any) -> str:
    return str(value)


def _list(value: Any) -> tuple[str, ...]:
    return split_setting(value)


#: :attr:`Setting.empty`'s default: a setting given as None or ``""`` is not set.
NOT_SET: Any = type("NotSet", (), {"__repr__": lambda self: "NOT_SET"})()

_CONVERTERS: dict[Any, Callable[[Any], Any]] = {
    str: _str, int: _int, float: _float, bool: _bool, list: _list, tuple: _list,
}


@dataclass(frozen=True)
class Setting:
    """One setting of a provider, read from ``<prefix><NAME>`` (``WINK_UCW_URL``).

    - ``type``: ``str``, ``int``, ``float``, ``bool`` (``"true"``/``"1"``/``"yes"``/``"on"`` and
      their opposites), ``list`` (a list, or a comma-separated string: a tuple of strings),
      :func:`URL`, or a callable that converts the value given and raises :class:`Invalid` (or
      ``ValueError``) saying what is wrong.
    - ``default``: the value when it is not set (None or ``""``), as it is (never converted).
    - ``required``: not setting it is a one-line error ending in ``hint`` (what to set it to).
    - ``enables``: whether setting it enables the provider when ``WINK_PROVIDERS`` is not set
      (default: ``required``).
    - ``choices``: the values it may take; ``minimum``: the lowest number it may be.
    - ``empty``: what it means when the config holds it as None or ``""`` (default: not set).
    """

    name: str
    type: Any = str
    default: Any = None
    required: bool = False
    hint: str = ""
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    enables: bool | None = None
    empty: Any = NOT_SET

    @property
    def attribute(self) -> str:
        """The key of its value in what :func:`read_settings` returns: ``name`` in lower case."""
        return self.name.lower()

    @property
    def enabling(self) -> bool:
        return self.required if self.enables is None else self.enables


def prefix_of(provider: Any) -> str:
    """Where a provider's settings are read: its ``settings_prefix``, else ``WINK_<NAME>_``."""
    given = getattr(provider, "settings_prefix", None)
    return given if given is not None else f"WINK_{provider.name.upper()}_"


def key_of(provider: Any, setting: Setting) -> str:
    """The config key of one of ``provider``'s settings."""
    return prefix_of(provider) + setting.name


def is_set(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def read_settings(provider: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    """Each of ``provider``'s declared ``settings`` (a provider class or object) read from
    ``config``, converted and checked, by its ``attribute`` (``url``, ``api_key``...)."""
    values = {}
    for setting in getattr(provider, "settings", ()):
        key = key_of(provider, setting)
        given = config.get(key)
        if is_set(given):
            values[setting.attribute] = convert(key, setting, given)
        elif key in config and setting.empty is not NOT_SET:
            values[setting.attribute] = setting.empty
        elif setting.required:
            raise ConfigurationError(f"{key} is not set: set it to {setting.hint.rstrip('.')}.")
        else:
            values[setting.attribute] = setting.default
    return values


def convert(key: str, setting: Setting, given: Any) -> Any:
    """``given`` as ``setting`` wants it, or a one-line :class:`ConfigurationError`."""
    converter = _CONVERTERS.get(setting.type, setting.type)
    try:
        value = converter(given)
    except _Must as exc:
        raise ConfigurationError(f"{key} must be {exc}, not {given!r}.") from None
    except Invalid as exc:
        raise ConfigurationError(f"{key} {str(exc).rstrip('.')}.") from None
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{key} is not valid: {str(exc).rstrip('.')}.") from None
    if setting.choices and value not in setting.choices:
        options = [str(c) for c in setting.choices]
        wanted = " or ".join(options) if len(options) <= 2 else f"one of {', '.join(options)}"
        raise ConfigurationError(f"{key} must be {wanted}, not {given!r}.")
    if setting.minimum is not None and value < setting.minimum:
        minimum = int(setting.minimum) if float(setting.minimum).is_integer() else setting.minimum
        raise ConfigurationError(f"{key} must be at least {minimum}, not {given!r}.")
    return value


def enabled_by(provider: Any, config: Mapping[str, Any]) -> bool:
    """Whether ``config`` enables ``provider``: every setting that ``enables`` it is set (False
    when it declares none)."""
    enabling = [s for s in getattr(provider, "settings", ()) if s.enabling]
    return bool(enabling) and all(is_set(config.get(key_of(provider, s))) for s in enabling)


def what_enables(provider: Any) -> str:
    """The settings ``provider`` needs, in words: ``set WINK_API_KEY and WINK_API_SECRET``; ""
    when it declares none."""
    keys = [key_of(provider, s) for s in getattr(provider, "settings", ()) if s.required or s.enabling]
    if not keys:
        return ""
    return "set " + (keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} and {keys[-1]}")


def setup_hint(provider: Any) -> str:
    """How to enable ``provider``: ``set WINK_UCW_URL for the Universal Connect Widget``."""
    needed = what_enables(provider)
    return f"{needed} for {provider.title}" if needed else ""
