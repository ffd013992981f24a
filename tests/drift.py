"""What the code offers, collected from the code itself: settings, signals, commands, endpoints.
tests/test_docs_drift.py compares each with docs/reference.md, both ways."""

from __future__ import annotations

import ast
import importlib
import re
import tempfile
from pathlib import Path
from typing import Any

import click
from blinker import NamedSignal
from flask import Flask
from flask.cli import ScriptInfo

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "flask_wink"
SETTING = re.compile(r"WINK_[A-Z][A-Z0-9_]*[A-Z0-9]")
#: WINK_* strings that are not settings: a status of Smile's invitations.
NOT_SETTINGS = {"WINK_WIDGET_OPENED"}
SIGNAL_MODULES = (
    "flask_wink.signals",
    "flask_wink.providers.smile_wink.signals",
    "flask_wink.providers.ucw.signals",
    "flask_wink.providers.smile_id.signals",
)


def settings_in_code() -> set[str]:
    """Every WINK_* key the core and the providers read: string constants of the code (not its
    docstrings or comments) that are a whole WINK_* name, and the settings each installed
    provider declares (read by convention); the ``WINK_<OPTION>`` keys that ``Wink(**options)``
    writes are the same names."""
    from importlib.metadata import entry_points

    from flask_wink.provider import PROVIDER_ENTRY_POINTS
    from flask_wink.settings import key_of

    found: set[str] = {
        key_of(provider, setting)
        for ep in entry_points(group=PROVIDER_ENTRY_POINTS)
        for provider in [ep.load()]
        for setting in getattr(provider, "settings", ())
    }
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and SETTING.fullmatch(node.value)):
                found.add(node.value)
    return found - NOT_SETTINGS


def signals_in_code() -> set[tuple[str, str]]:
    """(module, name) of every blinker signal the core and the providers define."""
    return {
        (module, name)
        for module in SIGNAL_MODULES
        for name, value in vars(importlib.import_module(module)).items()
        if isinstance(value, NamedSignal)
    }


def quickstart_app(cache: dict[str, Any] | None = None) -> Flask:
    """The quickstart in sandbox mode: every provider enabled, so every command and route exists."""
    from conftest import QuickstartApps

    if cache is not None and "__app__" in cache:
        return cache["__app__"]
    # Kept for the whole run (the docs' examples share it): never closed.
    app = QuickstartApps(Path(tempfile.mkdtemp(prefix="wink-docs-")))(APP_PORT="9")
    if cache is not None:
        cache["__app__"] = app
    return app


def command_paths(app: Flask) -> dict[str, click.Command]:
    """``"wink events retry"`` -> the command, for every command ``flask wink`` offers on ``app``
    (a group that runs by itself, like ``wink events``, counts as a command too)."""
    from flask_wink.cli import wink_cli

    info = ScriptInfo(create_app=lambda: app)
    found: dict[str, click.Command] = {}

    def walk(command: click.Command, ctx: click.Context, path: list[str]) -> None:
        if not isinstance(command, click.Group) or command.invoke_without_command:
            found[" ".join(path)] = command
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                walk(sub, click.Context(sub, parent=ctx, info_name=name, obj=info), [*path, name])

    walk(wink_cli, click.Context(wink_cli, info_name="wink", obj=info), ["wink"])
    return found


def provider_aliases(app: Flask) -> dict[str, str]:
    """Commands the default provider's group also answers without its name: ``"wink token"`` ->
    ``"wink smile-wink token"``."""
    from flask_wink import get_state
    from flask_wink.cli import wink_cli
    from flask_wink.provider import url_segment

    state = get_state(app)
    segment = url_segment(state.default_provider)
    paths = command_paths(app)
    core = set(wink_cli.commands)
    return {
        path: f"wink {segment} {path.removeprefix('wink ')}"
        for path in paths
        if path.split(" ")[1:2] and path.split(" ")[1] not in core
        and not path.startswith(tuple(f"wink {url_segment(n)}" for n in state.providers))
    }


def endpoints(app: Flask) -> set[str]:
    """``"POST /wink/token"`` for every route of the kit's blueprints (the core's and each
    provider's), methods other than HEAD and OPTIONS."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0].split("_")[0] != "wink":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.add(f"{method} {rule.rule}")
    return found


def quickstart_routes(app: Flask) -> set[str]:
    """``"GET /bank"`` for every route of the quickstart's own (not the kit's blueprints)."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0].split("_")[0] == "wink":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.add(f"{method} {rule.rule}")
    return found
