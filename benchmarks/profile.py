"""``python -m benchmarks.profile token|ingest|statements|overhead``: where the time goes on a
live path of the quickstart.

Serves the quickstart (``create_app`` and waitress, as ``python -m quickstart`` does) in this
process and drives it with wrk (new users on ``/api/create_link_token`` against a standalone
sandbox, or signed webhooks).

``token`` and ``ingest`` sample every request with pyinstrument in its own worker thread and
print the requests' merged profile (``WINK_PROFILE_FLAT=1``: each function's own time, summed
over every thread: where the CPU goes, with the waits as lock and socket calls).

``statements`` drives webhooks unsampled and prints, for each kind of statement the group
commit sends, how many went per group and the wall time against the CPU time of the thread that
sent it (the difference is the wait: for the disk, or for the interpreter's lock while other
threads run), then the CPU per webhook of waitress's own thread (the loop that reads requests
and is woken for every answer written) against that of every other thread, and each kind of
thread's CPU and switches per webhook (waitress's workers, the handler pool, the log writer...).
What these showed is in benchmarks/README.md.

``overhead`` serves nothing: it calls the quickstart's token routes and the pass-through routes
(:mod:`benchmarks.reference`) as WSGI apps in this one thread, both with the upstream answered by
the same ``httpx.MockTransport``, and prints each route's CPU per request (the least of several
rounds, so the machine's other load moves it less) and Python function calls per request (which
no load moves): what the kit adds over the pass-through, without the network and the sandbox.
The SQLite file is real, so a new user's mapping is committed (and synced) as when served.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from quickstart.__main__ import THREADS
from quickstart.app import create_app
from quickstart.settings import load_settings
from waitress.server import create_server

from .__main__ import (
    API_KEY,
    API_SECRET,
    CALLERS,
    RATE_LIMITS,
    SECRET_KEY,
    SENDERS,
    WEBHOOK_SECRET,
    Feed,
    free_port,
    process,
    stat_cpu,
    webhook_lines,
    wrk,
)


class Sampled:
    """WSGI middleware: each request sampled in the thread that serves it; sessions merged."""

    def __init__(self, app) -> None:
        self.app, self.session, self.lock = app, None, threading.Lock()

    def __call__(self, environ, start_response):
        from pyinstrument import Profiler  # the bench extra; the statements mode needs none

        profiler = Profiler(interval=0.0002, async_mode="disabled")
        profiler.start()
        try:
            return list(self.app(environ, start_response))
        finally:
            session = profiler.stop()
            from pyinstrument.session import Session

            with self.lock:
                self.session = session if self.session is None else Session.combine(self.session, session)


class Timed:
    """The group commit's driver connection, timing each statement it sends (``statements``)."""

    def __init__(self, raw, table: dict) -> None:
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "_table", table)

    def cursor(self):
        return TimedCursor(self._raw.cursor(), self._table)

    def execute(self, sql, *args):
        return self.cursor().execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._raw, name)

    def __setattr__(self, name, value):
        setattr(self._raw, name, value)


class TimedCursor:
    def __init__(self, cursor, table: dict) -> None:
        self._cursor, self._table = cursor, table

    def execute(self, sql, *args):
        wall, cpu = time.perf_counter(), time.thread_time()
        self._cursor.execute(sql, *args)
        entry = self._table.setdefault(" ".join(sql.split()[:3]), [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - wall
        entry[2] += time.thread_time() - cpu
        return self

    def __getattr__(self, name):
        return getattr(self._cursor, name)


def thread_cpu() -> dict[int, float]:
    """CPU seconds so far of each thread of this process (Linux's /proc)."""
    times = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            times[int(task.name)] = sum(stat_cpu(task / "stat"))
        except OSError:  # a thread that just ended
            continue
    return times


def thread_switches() -> dict[int, tuple[int, int]]:
    """Voluntary and involuntary switches so far of each thread of this process (Linux's /proc)."""
    counts = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            lines = (task / "status").read_text().splitlines()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in lines if "ctxt_switches" in line)
        counts[int(task.name)] = (int(fields["voluntary_ctxt_switches"]),
                                  int(fields["nonvoluntary_ctxt_switches"]))
    return counts


def kind_of(thread: threading.Thread) -> str:
    """A thread's kind: its name without the numbers (waitress-3 and waitress-12 are waitress)."""
    return re.sub(r"[-_ ]?\d+", "", thread.name) or thread.name


def statements(app, base: str, tmp: Path, seconds: int) -> None:
    from flask_wink.state import get_state
    from flask_wink.store.group_commit import GroupCommitter

    table: dict = {}
    writer = get_state(app).store.writer
    plain = GroupCommitter._connection

    def timed(self):
        raw = plain(self)
        if self is writer and not isinstance(raw, Timed):
            raw = self._raw = Timed(raw, table)
        return raw

    GroupCommitter._connection = timed
    bodies = Feed(tmp / "bodies.txt", webhook_lines(), 100_000)
    wrk(base + "/wink/webhooks", "ingest.lua", SENDERS, 1, bodies.env())  # warm up
    bodies.next = 60_000
    table.clear()
    commits, before, switched = writer.commits, thread_cpu(), thread_switches()
    run = wrk(base + "/wink/webhooks", "ingest.lua", SENDERS, seconds, bodies.env())
    after, groups, switches = thread_cpu(), writer.commits - commits, thread_switches()
    webhooks = run["requests"]
    print(f"{webhooks} webhooks at {run['rps']:.0f}/s in {groups} groups "
          f"({webhooks / max(groups, 1):.1f} a group)")
    print(f"{'statement':<28} {'per group':>9} {'wall ms':>8} {'CPU ms':>7}")
    for sql, (count, wall, cpu) in sorted(table.items(), key=lambda item: -item[1][1]):
        per_group = count / max(groups, 1)
        print(f"{sql:<28} {per_group:>9.2f} {wall / count * 1e3:>8.3f} {cpu / count * 1e3:>7.3f}")
    main_thread = threading.main_thread().native_id
    spent = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    loop = spent.pop(main_thread, 0.0)
    print(f"CPU per webhook: waitress's loop {loop / webhooks * 1e3:.3f} ms, "
          f"every other thread {sum(spent.values()) / webhooks * 1e3:.3f} ms")
    # Who switches: each waking of a thread (a lock, a queue, the interpreter's lock taken back
    # after a wait) is a switch; per webhook, by kind of thread.
    kinds: dict[str, list[float]] = {}
    for thread in threading.enumerate():
        tid = thread.native_id
        if tid not in switches:
            continue
        was = switched.get(tid, (0, 0))
        entry = kinds.setdefault(kind_of(thread), [0, 0.0, 0, 0])
        entry[0] += 1
        entry[1] += after.get(tid, 0.0) - before.get(tid, 0.0)
        entry[2] += switches[tid][0] - was[0]
        entry[3] += switches[tid][1] - was[1]
    print(f"{'threads':<28} {'count':>5} {'CPU ms':>7} {'voluntary':>9} {'involuntary':>11}  (per webhook)")
    for kind, (count, cpu, voluntary, involuntary) in sorted(kinds.items(), key=lambda item: -item[1][2]):
        print(f"{kind:<28} {count:>5} {cpu / webhooks * 1e3:>7.3f} {voluntary / webhooks:>9.2f} "
              f"{involuntary / webhooks:>11.2f}")


def _upstream(request: httpx.Request) -> httpx.Response:
    """Smile's answers to ``POST /users`` and ``POST /tokens`` (the overhead mode's upstream)."""
    import secrets

    token = {"id": "tok-" + secrets.token_hex(6), "accessToken": secrets.token_urlsafe(32),
             "expiresAt": "2030-01-01T00:00:00Z", "mode": "sandbox"}
    data = {"user": {"id": "user-" + secrets.token_hex(6)}, "token": token}
    return httpx.Response(200, json={"code": 0, "message": "OK", "requestId": "r", "data":
                                     data if request.url.path.endswith("/users") else token})


def overhead(tmp: Path, rounds: int = 7, requests: int = 200) -> None:
    import cProfile
    import itertools
    import pstats

    from werkzeug.test import EnvironBuilder

    from flask_wink.state import get_state

    from . import reference
    from .__main__ import headers_of, session_headers

    host = "http://upstream.invalid/v1"
    env = {"APP_PORT": "8000", "DATABASE_URL": f"sqlite:///{tmp / 'overhead.sqlite3'}",
           "WEBHOOK_SECRET": WEBHOOK_SECRET, "SECRET_KEY": SECRET_KEY, "API_KEY": API_KEY,
           "API_SECRET": API_SECRET, "OPEN_API_HOST": host, **RATE_LIMITS}
    app = create_app(load_settings(env))
    get_state(app).providers["smile_wink"].client._http._transport = httpx.MockTransport(_upstream)
    bare = reference.create_app(host, API_KEY, API_SECRET)
    for cell in bare.view_functions["new_user"].__closure__:
        if isinstance(cell.cell_contents, httpx.Client):
            cell.cell_contents._transport = httpx.MockTransport(_upstream)

    def environ(path: str, method: str = "GET", headers: dict | None = None) -> dict:
        return EnvironBuilder(path=path, method=method, headers=headers or {},
                              environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()

    def call(wsgi, env: dict) -> None:
        status = []
        b"".join(wsgi(env, lambda code, headers, exc_info=None: status.append(code)))
        if not status[0].startswith("2"):
            raise RuntimeError(f"{env['PATH_INFO']} answered {status[0]}")

    returning = headers_of(session_headers("bench-returning-0"))
    call(app, environ("/wink/token", "POST", returning))
    fresh = (headers_of(session_headers(f"bench-new-{i}")) for i in itertools.count())
    routes = {
        "pass_new": lambda: (bare, environ("/pass/new", "POST")),
        "pass_returning": lambda: (bare, environ("/pass/returning", "POST", {"X-Upstream-User": "u"})),
        "create_link_token_new": lambda: (app, environ("/api/create_link_token")),
        "create_link_token_returning": lambda: (app, environ("/api/create_link_token", "GET", returning)),
        "wink_token_new": lambda: (app, environ("/wink/token", "POST", next(fresh))),
        "wink_token_returning": lambda: (app, environ("/wink/token", "POST", returning)),
    }
    cpu: dict[str, list[float]] = {name: [] for name in routes}
    calls: dict[str, float] = {}
    for name, make in routes.items():  # warm up, then count the calls once
        for _ in range(20):
            call(*make())
        prepared = [make() for _ in range(requests)]
        profiler = cProfile.Profile()
        profiler.enable()
        for wsgi, env in prepared:
            call(wsgi, env)
        profiler.disable()
        calls[name] = pstats.Stats(profiler).total_calls / requests
    for _ in range(rounds):
        for name, make in routes.items():
            prepared = [make() for _ in range(requests)]
            start = time.thread_time()
            for wsgi, env in prepared:
                call(wsgi, env)
            cpu[name].append((time.thread_time() - start) * 1000 / requests)
    print(f"{'route':<28} {'CPU ms':>7} {'over':>7} {'calls':>6} {'over':>6}")
    for name in routes:
        baseline = "pass_new" if name.endswith("_new") else "pass_returning"
        mine, theirs = min(cpu[name]), min(cpu[baseline])
        print(f"{name:<28} {mine:>7.3f} {mine - theirs:>+7.3f} {calls[name]:>6.0f} "
              f"{calls[name] - calls[baseline]:>+6.0f}")


def main() -> None:
    logging.getLogger("waitress").setLevel(logging.CRITICAL)
    what = sys.argv[1] if len(sys.argv) > 1 else "token"
    if what == "overhead":
        quick = os.environ.get("WINK_BENCH_QUICK") == "1"
        with tempfile.TemporaryDirectory() as tmp_name:
            overhead(Path(tmp_name), *((1, 20) if quick else ()))
        return
    seconds = int(os.environ.get("WINK_BENCH_SECONDS", "10"))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sandbox_port, port = free_port(), free_port()
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        env = {"APP_PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp / 'profile.sqlite3'}",
               "WEBHOOK_SECRET": WEBHOOK_SECRET, "SECRET_KEY": SECRET_KEY, "API_KEY": "",
               **RATE_LIMITS}
        if what == "token":
            env.update(API_KEY=API_KEY, API_SECRET=API_SECRET, OPEN_API_HOST=sandbox + "/v1")
        with process(["-m", "flask_wink.sandbox", "--port", str(sandbox_port), "--api-key", API_KEY,
                      "--api-secret", API_SECRET], sandbox + "/"):
            app = create_app(load_settings(env))
            server = create_server(app, host="127.0.0.1", port=port, threads=THREADS)
            if what == "statements":  # waitress's loop in the main thread, as in python -m quickstart
                thread = threading.Thread(target=lambda: statements(app, f"http://127.0.0.1:{port}",
                                                                    tmp, seconds) or server.close())
                thread.start()
                try:
                    server.run()
                except OSError:  # closed by the measuring thread
                    pass
                thread.join()
                return
            # Flask calls app.wsgi_app per request, so the server serves the sampled app.
            sampled = app.wsgi_app = Sampled(app.wsgi_app)
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
    from pyinstrument.renderers import ConsoleRenderer

    session, sampled.session = sampled.session, None
    flat = os.environ.get("WINK_PROFILE_FLAT") == "1"
    renderer = ConsoleRenderer(unicode=True, color=False, time='percent_of_total', flat=flat, show_all=flat)
    print(renderer.render(session))


if __name__ == "__main__":
    main()
