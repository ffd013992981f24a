"""``python -m flask_wink.sandbox NAME``: each of the three emulators says a busy port in one line,
and prints its ``.env`` lines the same way (the quickstart's names, then the host app's)."""

from __future__ import annotations

import io
import queue
import socket
import subprocess
import sys
import threading

import pytest
from dotenv import dotenv_values

SANDBOXES = ["smile-wink", "ucw", "smile-id"]


def first_lines(process: subprocess.Popen, count: int, timeout: float = 15) -> list[str]:
    """The first ``count`` lines the process prints; fewer when it prints no more within ``timeout``."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in process.stdout],
                     daemon=True).start()
    found = []
    try:
        while len(found) < count:
            found.append(lines.get(timeout=timeout))
    except queue.Empty:
        pass
    return found


@pytest.mark.parametrize("name", SANDBOXES)
def test_a_busy_port_is_one_line_saying_the_fix(name):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "flask_wink.sandbox", name, "--port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"Error: Port {port} on 127.0.0.1 is in use (another sandbox?): stop that program, or pick a free "
        f"port, e.g. --port {port + 1}."
    ]


@pytest.mark.parametrize("name, host_names", [
    ("smile-wink", {"OPEN_API_HOST": "WINK_API_HOST", "API_KEY": "WINK_API_KEY",
                    "API_SECRET": "WINK_API_SECRET"}),
    ("ucw", {"UCW_URL": "WINK_UCW_URL", "UCW_TOKEN": "WINK_UCW_TOKEN"}),
    ("smile-id", {name: f"WINK_{name}" for name in
                  ("SMILE_ID_PARTNER_ID", "SMILE_ID_API_KEY", "SMILE_ID_HOST", "SMILE_ID_PRIVACY_URL")}),
])
def test_every_emulator_prints_its_env_lines_then_the_host_apps_names(name, host_names):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    extra = ["--token", "t-1"] if name == "ucw" else []
    command = [sys.executable, "-m", "flask_wink.sandbox", name, "--port", str(port), *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        lines = first_lines(process, len(host_names) + 2)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert lines[0].startswith("# ") and "Paste these lines into .env" in lines[0]
    assert list(dotenv_values(stream=io.StringIO("\n".join(lines)))) == list(host_names)
    *_, last = host_names.values()
    listed = ", ".join(list(host_names.values())[:-1]) + f" and {last}"
    assert lines[-1] == f"# in a host app's config these are {listed}"
