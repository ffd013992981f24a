"""``python -m benchmarks.profile token|ingest|statements``: where the time goes on a live path
of the quickstart.

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
