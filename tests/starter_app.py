"""The app `flask wink init` writes, run as its user would: the command, its own tests and
`flask run`, each in a process of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

FLASK = [sys.executable, "-m", "flask"]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any FLASK_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def wink_init(directory: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*FLASK, "wink", "init", str(directory)], cwd=directory.parent, env=clean_env(),
                          capture_output=True, text=True, timeout=60)


@contextmanager
def flask_run(directory: Path, port: int, **env: str) -> Iterator[subprocess.Popen]:
    """`flask --app myapp run` in ``directory`` (which loads its .env; ``env`` wins over it) until
    the block ends; its output is in ``process.stdout``."""
    process = subprocess.Popen([*FLASK, "--app", "myapp", "run", "--port", str(port)], cwd=directory,
                               env=clean_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/login")
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the app did not start: {process.stdout.read()}") from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
