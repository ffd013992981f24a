"""``python -m benchmarks.profile token|ingest``: where the time goes on a live path of the quickstart.

Serves the quickstart (``create_app`` and waitress, as ``python -m quickstart`` does) in this
process with every request sampled by pyinstrument in its own worker thread, drives it with wrk
(new users on ``/api/create_link_token`` against a standalone sandbox, or signed webhooks), and
prints the requests' merged profile (``WINK_PROFILE_FLAT=1``: each function's own time, summed
over every thread: where the CPU goes, with the waits as lock and socket calls). What the profile
showed is in the README.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from pyinstrument import Profiler
from pyinstrument.renderers import ConsoleRenderer
from pyinstrument.session import Session
from quickstart.__main__ import THREADS
from quickstart.app import create_app
from quickstart.settings import load_settings
from waitress.server import create_server

from .__main__ import (
    API_KEY,
    API_SECRET,
    CALLERS,
    SECRET_KEY,
    SENDERS,
    WEBHOOK_SECRET,
    Feed,
    free_port,
    process,
    webhook_lines,
    wrk,
)


class Sampled:
    """WSGI middleware: each request sampled in the thread that serves it; sessions merged."""

    def __init__(self, app) -> None:
        self.app, self.session, self.lock = app, None, threading.Lock()

    def __call__(self, environ, start_response):
        profiler = Profiler(interval=0.0002, async_mode="disabled")
        profiler.start()
        try:
            return list(self.app(environ, start_response))
        finally:
            session = profiler.stop()
            with self.lock:
                self.session = session if self.session is None else Session.combine(self.session, session)


def main() -> None:
    logging.getLogger("waitress").setLevel(logging.CRITICAL)
    what = sys.argv[1] if len(sys.argv) > 1 else "token"
    seconds = int(os.environ.get("WINK_BENCH_SECONDS", "10"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sandbox_port, port = free_port(), free_port()
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        env = {"APP_PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp / 'profile.sqlite3'}",
               "WEBHOOK_SECRET": WEBHOOK_SECRET, "SECRET_KEY": SECRET_KEY, "API_KEY": "",
               "WINK_RATE_LIMIT_ENABLED": "false"}
        if what == "token":
            env.update(API_KEY=API_KEY, API_SECRET=API_SECRET, OPEN_API_HOST=sandbox + "/v1")
        with process(["-m", "flask_wink.sandbox", "--port", str(sandbox_port), "--api-key", API_KEY,
                      "--api-secret", API_SECRET], sandbox + "/"):
            app = create_app(load_settings(env))
            sampled = Sampled(app.wsgi_app)
            app.wsgi_app = sampled
            server = create_server(app, host="127.0.0.1", port=port, threads=THREADS)
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            base = f"http://127.0.0.1:{port}"
            while True:
                try:
                    httpx.get(base + "/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            sampled.session = None
            if what == "token":
                (tmp / "cookieless.txt").write_text("\n")
                env = {"WINK_BENCH_METHOD": "GET", "WINK_BENCH_LINES": str(tmp / "cookieless.txt")}
                print(wrk(base + "/api/create_link_token", "requests.lua", CALLERS, seconds, env))
            else:
                bodies = Feed(tmp / "bodies.txt", webhook_lines(), 100_000)
                print(wrk(base + "/wink/webhooks", "ingest.lua", SENDERS, seconds, bodies.env()))
    session, sampled.session = sampled.session, None
    flat = os.environ.get("WINK_PROFILE_FLAT") == "1"
    renderer = ConsoleRenderer(unicode=True, color=False, time='percent_of_total', flat=flat, show_all=flat)
    print(renderer.render(session))


if __name__ == "__main__":
    main()
