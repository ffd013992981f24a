"""The app `flask wink init` writes, run as its user would: the command, its own tests and
`flask run`, each in a process of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
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
    the block ends; the lines it printed so far are in ``process.lines``."""
    process = subprocess.Popen([*FLASK, "--app", "myapp", "run", "--port", str(port)], cwd=directory,
                               env=clean_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    process.lines = []
    # Read as it prints, so that a full pipe never blocks it.
    def read() -> None:
        for line in process.stdout:
            process.lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/login")
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the app did not start: {''.join(process.lines)}") from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=5)


def blocks(page: Path, language: str) -> list[str]:
    """The code blocks of a Markdown page in ``language``."""
    return re.findall(rf"^```{language}\n(.*?)^```$", page.read_text("utf-8"), flags=re.MULTILINE | re.DOTALL)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
