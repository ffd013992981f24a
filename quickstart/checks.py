"""What ``python -m quickstart`` checks before it serves: one line per problem, saying the fix.

:func:`start` reads the settings (the environment over ``.env``), checks them (whole numbers, the
SDK version, URLs with a scheme and Smile's ``/v1``, the database URL and its driver, a free port),
names ``.env`` keys the quickstart does not read that look like ones it does (``API_KYE``), builds
the app, and in live mode makes one cheap authenticated call to each configured upstream. A problem
is printed as ``Error: ...`` and the start stops (exit status 2); a doubt as ``Warning: ...``.
"""

from __future__ import annotations

import collections
import difflib
import errno
import queue
import socket
import sys
import time
from collections.abc import Mapping
from logging.handlers import QueueListener
from pathlib import Path
from typing import IO, Any

import httpx
from flask import Flask

from .settings import KIT_SETTINGS, Settings, load_settings, port_setting, read_values, whole_number

#: Every name the quickstart reads from the environment or ``.env`` (tests/test_quickstart_checks.py
#: keeps it in step with quickstart/settings.py and .env.example).
KNOWN_SETTINGS = frozenset({
    "APP_HOST", "APP_PORT", "PORT", "API_KEY", "API_SECRET", "WINK_API_KEY", "WINK_API_SECRET", "MODE",
    "ADMIN_PASSWORD", "OPEN_API_HOST", "WINK_TEMPLATE_ID", "WINK_SDK_VERSION", "WEBHOOK_SECRET",
    "WINK_WEBHOOK_SECRETS", "SECRET_KEY", "DATABASE_URL", "ALLOWED_ORIGINS", "TOP_PROVIDERS",
    "PROVIDERS", "ENABLE_UPLOAD", "QUICKSTART_HOOKS", "UCW_URL", "UCW_TOKEN", "UCW_API_VERSION",
    "TRUST_PROXY", "INSTANCE_PATH", "LOG_HTTP", "PUBLIC_URL", "WINK_PUBLIC_URL",
    "SMILE_ID_PARTNER_ID", "SMILE_ID_API_KEY", "SMILE_ID_HOST", "SMILE_ID_PRIVACY_URL",
    "SMILE_ID_COMPANY_NAME", "SMILE_ID_CALLBACK_URL", "SMILE_ID_REVIEW_DELAY",
    *KIT_SETTINGS,
})


def near_misses(from_file: Mapping[str, Any]) -> list[str]:
    """Warnings for keys of ``.env`` the quickstart does not read but that resemble one it does."""
    lines = []
    for key in from_file:
        if key in KNOWN_SETTINGS:
            continue
        close = difflib.get_close_matches(key.upper(), KNOWN_SETTINGS, n=1, cutoff=0.75)
        if close:
            lines.append(f"Warning: .env sets {key}, which the quickstart does not read: "
                         f"did you mean {close[0]}?")
    return lines


def _url_problem(name: str, value: str | None, example: str, *, v1: bool) -> str | None:
    if not value:
        return None
    if not value.startswith(("https://", "http://")):
        return (f"{name} must start with https:// (or http:// for a local sandbox), not {value!r}: "
                f"set e.g. {name}={example}.")
    if v1 and not value.rstrip("/").endswith("/v1"):
        return f"{name} must end in /v1, not {value!r}: set {name}={value.rstrip('/')}/v1."
    return None


def setting_problems(values: Mapping[str, str | None]) -> list[str]:
    """Problems found in the settings alone, before anything is built."""

    def get(name: str) -> str | None:
        value = values.get(name)
        return value if value not in (None, "") else None

    problems = []
    numbers = {}
    port_name = port_setting(values)
    for name in (port_name, "WINK_SDK_VERSION"):
        try:
            numbers[name] = whole_number(name, get(name))
        except SystemExit as exc:
            problems.append(str(exc.code))
    port = numbers.get(port_name)
    if port is not None and not 1 <= port <= 65535:
        problems.append(f"{port_name} must be between 1 and 65535, not {port}: set e.g. {port_name}=8000.")
    sdk = numbers.get("WINK_SDK_VERSION")
    if sdk is not None and sdk not in (1, 2):
        problems.append(f"WINK_SDK_VERSION must be 1 or 2, not {sdk}: set WINK_SDK_VERSION=2.")
    for problem in (
        _url_problem("OPEN_API_HOST", get("OPEN_API_HOST"), "https://sandbox.smileapi.io/v1", v1=True),
        _url_problem("SMILE_ID_HOST", get("SMILE_ID_HOST"), "https://testapi.smileidentity.com/v1", v1=True),
        _url_problem("UCW_URL", get("UCW_URL"), "https://ucw.example", v1=False),
        _url_problem("PUBLIC_URL", get("PUBLIC_URL") or get("WINK_PUBLIC_URL"), "https://app.example.com",
                     v1=False),
    ):
        if problem:
            problems.append(problem)
    database = get("DATABASE_URL")
    if database:
        from flask_wink.store.engine import create_engine

        try:
            # Parses the URL and loads its driver; connects only when used.
            create_engine(database).dispose()
        except RuntimeError as exc:
            problems.append(f"DATABASE_URL: {exc}")
        except Exception as exc:  # anything else SQLAlchemy refuses at the URL
            problems.append(f"DATABASE_URL cannot be used ({type(exc).__name__}: {exc}): "
                            "set a sqlite:/// or postgresql+psycopg:// URL.")
    host = get("APP_HOST") or "127.0.0.1"
    if port is not None and 1 <= port <= 65535:
        busy = port_problem(host, port, port_name)
        if busy:
            problems.append(busy)
    return problems


def port_problem(host: str, port: int, setting: str = "APP_PORT") -> str | None:
    """A problem when nothing can listen on ``host:port`` (another program has it); ``setting``
    names where the port came from (``APP_PORT`` or ``PORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As waitress binds: a port left in TIME_WAIT is free, one another program listens on is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"Port {port} on {host} is in use (another quickstart?): stop that program, "
                        f"or set {setting} to a free port, e.g. {setting}={port + 1}.")
            return f"Cannot listen on {host}:{port} ({exc.strerror}): check APP_HOST and {setting}."
    return None


def upstream_problems(app: Flask, settings: Settings) -> list[str]:
    """A UCW at UCW_URL answers at all (in either mode: a standalone emulator in sandbox mode);
    in live mode, one cheap authenticated call to each configured upstream."""
    from flask_wink import get_state
    from flask_wink.errors import (
        UpstreamAuthRefused,
        UpstreamCallError,
        UpstreamNotFound,
        UpstreamUnreachable,
    )

    providers = get_state(app).providers
    problems = ucw_problems(settings) if "ucw" in providers else []
    if settings.sandbox:
        return problems
    calls = []
    if "smile_wink" in providers:
        smile = providers["smile_wink"].client
        calls.append(("Smile's API", smile.base_url, "API_KEY and API_SECRET", "OPEN_API_HOST",
                      lambda: smile.list_webhooks(size=1)))
    if "smile_id" in providers:
        smile_id = providers["smile_id"].client
        calls.append(("Smile ID", smile_id.host, "SMILE_ID_PARTNER_ID and SMILE_ID_API_KEY",
                      "SMILE_ID_HOST", lambda: smile_id.list_links(1)))
    for name, where, keys, host_setting, call in calls:
        try:
            call()
        except UpstreamAuthRefused:
            problems.append(f"{name} at {where} refused {keys}: copy both again from its portal into .env.")
        except UpstreamNotFound:
            problems.append(f"{name} at {where} answered 404: {host_setting} is not its API's base URL "
                            "(it ends in /v1).")
        except UpstreamUnreachable as exc:
            problems.append(f"{name} at {where} could not be reached ({exc.message}): check {host_setting} "
                            "and the network.")
        except UpstreamCallError as exc:
            problems.append(f"{name} at {where} answered an error ({exc}): check {host_setting} and {keys}.")
    return problems


def ucw_problems(settings: Settings) -> list[str]:
    """The UCW at UCW_URL answers at all (UCW has no read-only authenticated call)."""
    if not settings.ucw_url:
        return []
    try:
        httpx.get(settings.ucw_url, timeout=10.0)
    except httpx.HTTPError as exc:
        return [f"UCW at {settings.ucw_url} could not be reached ({type(exc).__name__}): "
                "check UCW_URL and that UCW is running."]
    return []


def start(
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = None,
    out: IO[str] | None = None,
) -> tuple[Settings, Flask] | None:
    """The settings and the app, checked; None after printing why the quickstart cannot start."""
    out = out or sys.stderr
    values, from_file = read_values(environ, env_file)
    for line in near_misses(from_file):
        print(line, file=out, flush=True)

    def stop(problems: list[str]) -> None:
        for problem in problems:
            print(f"Error: {problem}", file=out, flush=True)

    problems = setting_problems(values)
    if problems:
        stop(problems)
        return None
    try:
        settings = load_settings(environ, env_file)
        from .app import create_app

        app = create_app(settings)
    except SystemExit as exc:  # a sentence from the settings (a contradictory mode, a bad hook)
        if not isinstance(exc.code, str):
            raise
        stop([exc.code])
        return None
    except RuntimeError as exc:  # the kit's one-line misconfiguration errors
        stop([str(exc)])
        return None
    except Exception as exc:  # e.g. the database refused the connection
        stop([f"cannot start ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
              "check DATABASE_URL and the settings above."])
        return None
    problems = upstream_problems(app, settings)
    if problems:
        stop(problems)
        return None
    return settings, app


def providers_on(app: Flask) -> str:
    """The enabled providers for the start line, e.g. ``smile_wink, ucw (emulator), smile_id``."""
    from flask_wink import get_state

    emulated = {
        "smile_wink": app.config.get("QUICKSTART_SANDBOX") is not None,
        "ucw": app.config.get("QUICKSTART_UCW_SANDBOX") is not None,
        "smile_id": app.config.get("QUICKSTART_SMILE_ID_SANDBOX") is not None,
    }
    return ", ".join(
        f"{name} (built-in emulator)" if emulated.get(name) else name for name in get_state(app).providers
    )


class BatchedListener(QueueListener):
    """The thread that writes the quickstart's log records: once a record wakes it, it lets the
    others gather for :attr:`PAUSE` s and writes them all. Under load a request thread that
    queues a record then finds it writing or asleep in ``time.sleep``, not waiting on the queue,
    and wakes no thread: the plain QueueListener was woken for most records, about one thread
    switch per logged webhook (``python -m benchmarks ingest``). A record waits at most that
    long; the records queued at exit are all written."""

    PAUSE = 0.05

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._batch: collections.deque = collections.deque()

    def dequeue(self, block: bool):
        if not self._batch:
            self._batch.append(self.queue.get(block))
            time.sleep(self.PAUSE)
            try:
                while True:
                    self._batch.append(self.queue.get_nowait())
            except queue.Empty:
                pass
        return self._batch.popleft()


def configure_logging(environ: Mapping[str, str] | None = None, env_file: Path | None = None) -> None:
    """INFO lines from the kit (one per recorded callback, browser event and webhook); the HTTP
    client's per-request lines only at WARNING unless ``LOG_HTTP`` is true.

    Request threads only queue their records; one thread writes them to stderr (the standard
    library's QueueHandler and QueueListener). With every thread writing itself, the threads
    queued for the stream's lock: under 32 concurrent webhooks that cost about 0.5 ms of CPU
    and 20 thread switches per webhook, a third of the webhook's whole cost. That thread
    takes the records in batches (:class:`BatchedListener`). The queue is written out when the
    process exits (SIGTERM included, see ``__main__``).
    """
    import atexit
    import logging
    import queue
    from logging.handlers import QueueHandler

    values, _ = read_values(environ, env_file)
    root = logging.getLogger()
    if not any(isinstance(h, QueueHandler) for h in root.handlers):
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        records: queue.SimpleQueue = queue.SimpleQueue()
        listener = BatchedListener(records, stream, respect_handler_level=True)
        listener.start()
        atexit.register(listener.stop)
        root.addHandler(QueueHandler(records))
    root.setLevel(logging.INFO)
    logging.getLogger("waitress").setLevel(logging.WARNING)
    # waitress warns of every request that waits for a free thread: under load, a log line per
    # request (what the requests wait for, not a fault). Its errors still show.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    http = (values.get("LOG_HTTP") or "").lower() in ("1", "true", "yes", "on")
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.INFO if http else logging.WARNING)
