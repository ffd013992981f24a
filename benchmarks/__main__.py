"""``make bench``: the quickstart as ``make run`` starts it, against bare Flask routes on waitress
with the same thread count; the tuned server as an extra row; memory and the events page.

Everything runs on this machine, one measurement after another, with Debian's wrk as the load
generator. Results: a table on stdout, ``benchmarks/results/latest.json`` and ``benchmarks.png``.

Settings (environment): ``WINK_BENCH_QUICK=1`` (short runs, one round, fewer events: a smoke run),
``WINK_BENCH_SECONDS`` (each run), ``WINK_BENCH_ROUNDS``, ``WINK_BENCH_QUICKSTART_ENV`` (extra
``KEY=VALUE`` settings for the quickstart's environment, shell-quoted, e.g. to turn a feature off
for the run).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from flask import Flask, session
from flask_wtf.csrf import generate_csrf
from quickstart.__main__ import THREADS as QUICKSTART_THREADS
from quickstart.app import SESSION_COOKIE_NAME
from tests.postgres import fresh_postgres_database

from flask_wink.providers.smile_wink.testing import make_event, signed_webhook
from flask_wink.store import Store, events

from . import encryption
from .server import WEBHOOK_SECRET

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
#: The tuned server's waitress threads (the extra row).
TUNED_THREADS = 32
#: Concurrent webhook senders; concurrent callers of the token routes.
SENDERS = 32
CALLERS = 16
#: The quickstart's signing key in the runs, so the benchmark can hand out session cookies.
SECRET_KEY = "bench-secret-key"
API_KEY, API_SECRET = "bench-key", "bench-secret"
#: The kit's rate limits stay on, counted as the quickstart counts them (two windows per key, as
#: the defaults have), but set high enough for the runs: the load comes from one address and a
#: few users, which the defaults (docs/reference.md) would answer with 429.
RATE_LIMITS = {
    "WINK_RATE_LIMIT_ENABLED": "true",
    "WINK_TOKEN_RATE_LIMIT": "1000000 per minute; 100000000 per day",
    "WINK_TOKEN_ADDRESS_RATE_LIMIT": "1000000 per minute; 100000000 per day",
}


@dataclass(frozen=True)
class Settings:
    seconds: int = 10  # each wrk run
    rounds: int = 3  # rounds of runs of every route; ratios are taken within a round
    through_http: int = 20_000  # webhooks the quickstart serves before its memory is read
    events: int = 100_000  # events stored when the events page is timed
    retention_events: int = 1_000_000  # events pruned while webhooks arrive; the larger events table
    samples: int = 300  # one-caller requests per route for the p50
    databases: tuple[str, ...] = ("sqlite", "postgresql")
    quickstart_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environ(cls) -> Settings:
        quick = os.environ.get("WINK_BENCH_QUICK") == "1"
        short = {"seconds": 2, "rounds": 1, "through_http": 2_000, "events": 10_000, "samples": 50,
                 "retention_events": 100_000}
        base = cls(**short) if quick else cls()
        extra = {}
        for item in shlex.split(os.environ.get("WINK_BENCH_QUICKSTART_ENV", "")):
            key, sep, value = item.partition("=")
            if not sep:
                raise SystemExit(f"WINK_BENCH_QUICKSTART_ENV: {item!r} is not KEY=VALUE.")
            extra[key] = value
        return cls(
            seconds=int(os.environ.get("WINK_BENCH_SECONDS") or base.seconds),
            rounds=int(os.environ.get("WINK_BENCH_ROUNDS") or base.rounds),
            through_http=base.through_http,
            events=base.events,
            retention_events=int(os.environ.get("WINK_BENCH_RETENTION_EVENTS") or base.retention_events),
            databases=tuple(os.environ.get("WINK_BENCH_DATABASES", "sqlite,postgresql").split(",")),
            samples=base.samples,
            quickstart_env=extra,
        )


class Feed:
    """A file of request lines for a wrk script, handed out so that none is ever sent twice."""

    def __init__(self, path: Path, lines: Iterator[str], count: int) -> None:
        self.path, self.count, self.next = path, count, 0
        with path.open("w") as out:
            for _ in range(count):
                out.write(next(lines) + "\n")
        self._lines: list[str] | None = None

    def env(self) -> dict:
        # ingest.lua reads WINK_BENCH_BODIES, requests.lua WINK_BENCH_LINES.
        return {"WINK_BENCH_LINES": str(self.path), "WINK_BENCH_BODIES": str(self.path),
                "WINK_BENCH_START": str(self.next)}

    def take(self) -> str:
        """The next line, for a single request (the one-caller timings)."""
        if self._lines is None:
            self._lines = self.path.read_text().splitlines()
        self._check(self.next + 1)
        self.next += 1
        return self._lines[self.next - 1]

    def used(self, run: dict) -> dict:
        self._check(run["bodies_used_up_to"] + 1)
        self.next = run["bodies_used_up_to"] + 1
        return run

    def _check(self, wanted: int) -> None:
        if wanted >= self.count:
            raise RuntimeError(f"the benchmark ran out of unique lines in {self.path.name}")


def webhook_lines() -> Iterator[str]:
    i = 0
    while True:
        event = make_event(
            "ACCOUNT_CONNECTED" if i % 4 == 0 else "USER_CREATED",
            {"userId": f"tenant-{i % 1000}", "accountId": f"a-{i % 5000}", "loginName": "George",
             "providers": ["upwork"]},
        )
        body, headers = signed_webhook(event, WEBHOOK_SECRET)
        yield headers["Smile-Signature"] + " " + body.decode()
        i += 1


_FORGE = Flask("bench-sessions")
_FORGE.config["SECRET_KEY"] = SECRET_KEY


def session_headers(app_user_id: str) -> str:
    """The headers of a browser that opened the quickstart's page as ``app_user_id`` (its session
    cookie and the page's CSRF token), as a line for ``requests.lua``."""
    with _FORGE.test_request_context():
        session["wink_user"] = app_user_id
        csrf = generate_csrf()
        cookie = _FORGE.session_interface.get_signing_serializer(_FORGE).dumps(dict(session))
    return f"Cookie: {SESSION_COOKIE_NAME}={cookie}\tX-CSRFToken: {csrf}"


def new_sessions() -> Iterator[str]:
    i = 0
    while True:
        yield session_headers(f"bench-new-{i}")
        i += 1


def headers_of(line: str) -> dict[str, str]:
    return dict(pair.split(": ", 1) for pair in line.split("\t") if pair)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def process(args: list[str], ready_url: str, env: dict | None = None):
    """Start a Python module as its own process and wait until ``ready_url`` answers."""
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(ready_url, timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(args)} did not start") from None
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def quickstart(port: int, database_url: str, settings: Settings, **env: str):
    """``python -m quickstart`` as ``make run`` starts it: its own thread count, handlers,
    ``WINK_FETCH_ON`` and fast path; the sandbox mounted unless ``API_KEY`` is given."""
    env = {
        "APP_PORT": str(port),
        "DATABASE_URL": database_url,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SECRET_KEY": SECRET_KEY,
        "API_KEY": "",
        **RATE_LIMITS,
        **env,
        **settings.quickstart_env,
    }
    return process(["-m", "quickstart"], f"http://127.0.0.1:{port}/healthz", env)


def wrk(url: str, script: str, connections: int, seconds: int, env: dict | None = None) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(HERE / script), url],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    done = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)

    def latency(pct: str) -> float:
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    used = re.search(r"bodies-used-up-to (\d+)", out)
    return {
        "bodies_used_up_to": int(used.group(1)) if used else 0,
        "rps": rate,
        "requests": done,
        "non2xx": int(bad.group(1)) if bad else 0,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "socket_errors": errors.group(0) if errors else None,
    }


def stat_cpu(stat: Path) -> tuple[float, float]:
    """CPU seconds (user, kernel) so far in a ``/proc`` stat file (a process's or a thread's)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()  # after the name, which may hold spaces
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def process_usage(pid: int) -> tuple[float, float, int, float] | None:
    """CPU seconds (user, kernel) and thread switches so far of process ``pid``, and the CPU
    seconds of its first thread, waitress's loop (read from Linux's /proc; None elsewhere). The
    switches are summed over its threads (the process's own line counts only its first thread)."""
    try:
        user, kernel = stat_cpu(Path(f"/proc/{pid}/stat"))
        loop = sum(stat_cpu(Path(f"/proc/{pid}/task/{pid}/stat")))
        switches = 0
        for status in Path(f"/proc/{pid}/task").glob("*/status"):
            try:
                lines = status.read_text().splitlines()
            except OSError:  # a thread that just ended
                continue
            switches += sum(int(line.split()[1]) for line in lines
                            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")))
        return user, kernel, switches, loop
    except (OSError, ValueError, IndexError):
        return None


def with_usage(proc: subprocess.Popen, run: Callable[[], dict]) -> Callable[[], dict]:
    """``run``, with the CPU (ms, and of it in the kernel, and of it in waitress's loop: the
    thread that reads every request and is woken for every answer written) and thread switches
    that the server process spent per answered request during it: a figure the machine's other
    load moves far less than requests per second."""

    def measured() -> dict:
        before = process_usage(proc.pid)
        result = run()
        after = process_usage(proc.pid)
        if before is not None and after is not None and result["requests"]:
            answered = result["requests"]
            result["cpu_ms"] = (after[0] + after[1] - before[0] - before[1]) * 1000 / answered
            result["kernel_ms"] = (after[1] - before[1]) * 1000 / answered
            result["switches"] = (after[2] - before[2]) / answered
            result["loop_ms"] = (after[3] - before[3]) * 1000 / answered
        return result

    return measured


USAGE = ("cpu_ms", "kernel_ms", "switches", "loop_ms")


def usage_of(runs: list[dict]) -> dict | None:
    """The median over the rounds of each per-request usage figure."""
    measured = [r for r in runs if "cpu_ms" in r]
    if not measured:
        return None
    return {key: statistics.median(r[key] for r in measured) for key in USAGE}


@contextmanager
def database(kind: str, tmp: Path):
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'bench-{time.monotonic_ns()}.sqlite3'}"
    else:
        with fresh_postgres_database() as url:
            yield url


def stored(url: str) -> tuple[int, int]:
    """Stored webhooks, and how many distinct event ids among them."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows, distinct = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT event_id) FROM wink_events WHERE kind = 'webhook'")
        ).one()
    engine.dispose()
    return rows, distinct


def ratio_of(runs: dict[str, list[dict]], route: str, baseline: str, key: str = "rps") -> dict:
    each = [a[key] / b[key] for a, b in zip(runs[route], runs[baseline], strict=True)]
    return {"median": statistics.median(each), "min": min(each), "max": max(each), "rounds": each}


def median_run(runs: list[dict]) -> dict:  # the upper of the middle two for an even number of rounds
    return sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]


def run_rounds(settings: Settings, routes: dict[str, Callable[[], dict]]) -> dict[str, list[dict]]:
    """Each round runs every route once, back to back: a ratio of neighbouring runs is not fooled
    by the machine's speed drifting from minute to minute."""
    runs: dict[str, list[dict]] = {name: [] for name in routes}
    for _ in range(settings.rounds):
        for name, run in routes.items():
            runs[name].append(run())
    return runs


def durability(runs: list[dict], url: str) -> dict:
    acknowledged = sum(r["requests"] - r["non2xx"] for r in runs)
    rows, distinct = stored(url)
    return {
        "acknowledged": acknowledged,
        "stored": rows,
        "duplicates_stored": rows - distinct,
        # wrk stops counting with requests still in flight: those may be stored, never acknowledged.
        "stored_once": rows >= acknowledged and rows == distinct,
    }


def ingest(kind: str, tmp: Path, bodies: Feed, settings: Settings) -> dict:
    """Signed webhooks per second: the quickstart against a bare 204 route with its thread count,
    and the tuned server (32 threads, no handlers) against its own bare route, in one run."""
    qs_port, ref_port, tuned_port = free_port(), free_port(), free_port()
    with ExitStack() as stack:
        qs_db = stack.enter_context(database(kind, tmp))
        tuned_db = stack.enter_context(database(kind, tmp))
        qs_proc = stack.enter_context(quickstart(qs_port, qs_db, settings))
        ref = f"http://127.0.0.1:{ref_port}"
        ref_proc = stack.enter_context(
            process(["-m", "benchmarks.reference", "--port", str(ref_port), "--threads",
                     str(QUICKSTART_THREADS)], ref + "/pass/none")
        )
        tuned = f"http://127.0.0.1:{tuned_port}"
        stack.enter_context(
            process(["-m", "benchmarks.server", "--port", str(tuned_port), "--threads", str(TUNED_THREADS),
                     "--database", tuned_db], tuned + "/wink/events")
        )
        bare_env = {"WINK_BENCH_BODIES": str(bodies.path)}  # the bare routes store nothing

        def stores(url: str, seconds: int = settings.seconds) -> Callable[[], dict]:
            return lambda: bodies.used(wrk(url, "ingest.lua", SENDERS, seconds, bodies.env()))

        def bare(url: str, seconds: int = settings.seconds) -> Callable[[], dict]:
            return lambda: wrk(url, "ingest.lua", SENDERS, seconds, bare_env)

        qs_url = f"http://127.0.0.1:{qs_port}/wink/webhooks"
        warm = {"quickstart": [stores(qs_url, 1)()], "tuned": [stores(tuned + "/wink/webhooks", 1)()]}
        bare(ref + "/bare", 1)()
        runs = run_rounds(
            settings,
            {
                "quickstart": with_usage(qs_proc, stores(qs_url)),
                "bare": with_usage(ref_proc, bare(ref + "/bare")),
                "tuned": stores(tuned + "/wink/webhooks"),
                "tuned_bare": bare(tuned + "/bare"),
                "tuned_via_flask": stores(tuned + "/via-flask/webhooks"),
            },
        )
        # Read while the servers still run: they committed everything they acknowledged.
        durable = {
            "quickstart": durability(warm["quickstart"] + runs["quickstart"], qs_db),
            "tuned": durability(warm["tuned"] + runs["tuned"] + runs["tuned_via_flask"], tuned_db),
        }
    return {
        **{name: median_run(r) for name, r in runs.items()},
        "durable": durable,
        "rounds": settings.rounds,
        "threads": QUICKSTART_THREADS,
        "ratio": ratio_of(runs, "quickstart", "bare"),
        "usage": {"quickstart": usage_of(runs["quickstart"]), "bare": usage_of(runs["bare"])},
        "ratio_tuned": ratio_of(runs, "tuned", "tuned_bare"),
        "ratio_fast_path": ratio_of(runs, "tuned", "tuned_via_flask"),
    }


#: The token routes measured, each with the pass-through route it is measured against.
TOKEN_ROUTES = {
    # name: (quickstart path, method, new user?)
    "create_link_token_new": ("/api/create_link_token", "GET", True),
    "create_link_token_returning": ("/api/create_link_token", "GET", False),
    "wink_token_new": ("/wink/token", "POST", True),
    "wink_token_returning": ("/wink/token", "POST", False),
}


def baseline_of(name: str) -> str:
    """The pass-through route a token route is measured against (new or returning user)."""
    return "pass_new" if TOKEN_ROUTES[name][2] else "pass_returning"


def token_path(tmp: Path, settings: Settings) -> dict:
    """The quickstart's token routes against the pass-through route, both calling one standalone
    sandbox: at 16 concurrent callers, and the p50 of one caller at a time."""
    sandbox_port, qs_port, ref_port = free_port(), free_port(), free_port()
    sandbox = f"http://127.0.0.1:{sandbox_port}"
    with ExitStack() as stack:
        stack.enter_context(
            process(["-m", "flask_wink.sandbox", "--port", str(sandbox_port), "--api-key", API_KEY,
                     "--api-secret", API_SECRET], sandbox + "/")
        )
        url = stack.enter_context(database("sqlite", tmp))
        # The quickstart pointed at the standalone sandbox through its own settings, so that both
        # sides make their upstream calls to the same server.
        upstream = {"API_KEY": API_KEY, "API_SECRET": API_SECRET, "OPEN_API_HOST": sandbox + "/v1"}
        qs_proc = stack.enter_context(quickstart(qs_port, url, settings, **upstream))
        ref = f"http://127.0.0.1:{ref_port}"
        ref_proc = stack.enter_context(
            process(["-m", "benchmarks.reference", "--port", str(ref_port), "--threads",
                     str(QUICKSTART_THREADS), "--api-host", sandbox + "/v1", "--api-key", API_KEY,
                     "--api-secret", API_SECRET], ref + "/pass/none")
        )
        qs = f"http://127.0.0.1:{qs_port}"
        count = 120_000 if settings.seconds >= 5 else 20_000
        fresh = Feed(tmp / "sessions.txt", new_sessions(), count)
        # Returning callers: one session (quickstart) and one upstream user (pass-through) each,
        # linked once before the runs.
        returning = [session_headers(f"bench-returning-{i}") for i in range(CALLERS)]
        with httpx.Client() as http:
            for line in returning:
                http.post(qs + "/wink/token", headers=headers_of(line)).raise_for_status()
            upstream_users = [http.post(ref + "/pass/new").raise_for_status().json()["userId"]
                              for _ in range(CALLERS)]
        (tmp / "returning.txt").write_text("\n".join(returning) + "\n")
        (tmp / "upstream-users.txt").write_text("".join(f"X-Upstream-User: {u}\n" for u in upstream_users))
        (tmp / "cookieless.txt").write_text("\n")

        def run(url: str, method: str, lines: Path | Feed, seconds: int = settings.seconds):
            def go() -> dict:
                env = {"WINK_BENCH_METHOD": method}
                if isinstance(lines, Feed):
                    return lines.used(wrk(url, "requests.lua", CALLERS, seconds, {**env, **lines.env()}))
                return wrk(url, "requests.lua", CALLERS, seconds, {**env, "WINK_BENCH_LINES": str(lines)})
            return go

        routes = {
            "pass_new": with_usage(ref_proc, run(ref + "/pass/new", "POST", tmp / "cookieless.txt")),
            "pass_returning": with_usage(
                ref_proc, run(ref + "/pass/returning", "POST", tmp / "upstream-users.txt")),
        }
        for name, (path, method, new) in TOKEN_ROUTES.items():
            if new:
                lines = fresh if method == "POST" else tmp / "cookieless.txt"
            else:
                lines = tmp / "returning.txt"
            routes[name] = with_usage(qs_proc, run(qs + path, method, lines))
        for warm in ("pass_new", "create_link_token_new", "wink_token_returning"):
            routes[warm]()
        runs = run_rounds(settings, routes)

        # One caller at a time: each route in turn, request by request, so drift hits all alike.
        calls: dict[str, Callable[[httpx.Client], httpx.Response]] = {
            "pass_new": lambda h: h.post(ref + "/pass/new"),
            "pass_returning": lambda h: h.post(
                ref + "/pass/returning", headers={"X-Upstream-User": upstream_users[0]}),
            "create_link_token_new": lambda h: h.get(qs + "/api/create_link_token"),
            "create_link_token_returning": lambda h: h.get(
                qs + "/api/create_link_token", headers=headers_of(returning[0])),
            "wink_token_new": lambda h: h.post(qs + "/wink/token", headers=headers_of(fresh.take())),
            "wink_token_returning": lambda h: h.post(qs + "/wink/token", headers=headers_of(returning[0])),
        }
        samples: dict[str, list[float]] = {name: [] for name in calls}
        with httpx.Client() as http:
            for _ in range(settings.samples):
                for name, call in calls.items():
                    start = time.perf_counter()
                    response = call(http)
                    samples[name].append((time.perf_counter() - start) * 1000)
                    http.cookies.clear()  # cookieless callers stay cookieless
                    response.raise_for_status()
    p50 = {name: statistics.median(values) for name, values in samples.items()}
    result: dict = {"runs": {name: median_run(r) for name, r in runs.items()}, "p50_ms": p50,
                    "usage": {name: usage_of(r) for name, r in runs.items()},
                    "rounds": settings.rounds, "callers": CALLERS}
    for name in TOKEN_ROUTES:
        baseline = baseline_of(name)
        result[name] = {
            "ratio": ratio_of(runs, name, baseline),
            "p50_over_ms": p50[name] - p50[baseline],
            "non2xx": sum(r["non2xx"] for r in runs[name]),
        }
    return result


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def memory_and_events_page(tmp: Path, bodies: Feed, settings: Settings) -> dict:
    """The quickstart's resident size idle, after serving webhooks, and with many stored events.

    The first ``through_http`` events arrive as signed webhooks (what the process does with them
    is what would leak); the rest are written straight into its database, since what the events
    page costs depends on the table, not on how the rows got there.
    """
    port = free_port()
    url = f"sqlite:///{tmp / 'memory.sqlite3'}"
    base = f"http://127.0.0.1:{port}"
    with quickstart(port, url, settings) as proc:
        time.sleep(1)
        idle = rss_kib(proc.pid)
        store = Store(url)
        while store.count_events() < settings.through_http:
            seconds = min(5, settings.seconds)
            bodies.used(wrk(base + "/wink/webhooks", "ingest.lua", SENDERS, seconds, bodies.env()))
        after_http = rss_kib(proc.pid)
        served = store.count_events()
        missing = max(0, settings.events - served)
        if missing:
            with store.engine.begin() as conn:
                now = datetime.now(UTC)
                conn.execute(
                    events.insert(),
                    [
                        {
                            "kind": "webhook",
                            "name": "USER_CREATED",
                            "event_id": f"bulk-{i}",
                            "provider": "smile_wink",
                            "upstream_user_id": f"tenant-{i % 1000}",
                            "payload": '{"data": {}}',
                            "received_at": now,
                            "state": "handled",
                            "attempts": 1,
                        }
                        for i in range(missing)
                    ],
                )
        total = store.count_events()
        store.dispose()
        pages = {}
        with httpx.Client() as http:
            for name, path in {
                "newest": "/wink/events",
                "webhooks": "/wink/events?kind=webhook",
                "one user": "/wink/events?user=nobody&after=0",
            }.items():
                http.get(base + path)
                samples = []
                for _ in range(100):
                    start = time.perf_counter()
                    assert http.get(base + path).status_code == 200
                    samples.append((time.perf_counter() - start) * 1000)
                samples.sort()
                pages[name] = {"p50_ms": samples[49], "p99_ms": samples[98]}
        after = rss_kib(proc.pid)
    return {
        "idle_mib": idle / 1024,
        "after_http_mib": after_http / 1024,
        "served_over_http": served,
        "after_mib": after / 1024,
        "events": total,
        "events_page": pages,
    }


def spread(ratio: dict) -> str:
    return f"{ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f})"


def table(results: dict) -> list[tuple[str, str, str, str]]:
    """The rows printed (and quoted in benchmarks/README.md): measurement, flask-wink, reference, ratio."""
    rows: list[tuple[str, str, str, str]] = []
    threads = QUICKSTART_THREADS
    for kind, run in results.get("ingest", {}).items():
        name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
        qs, tuned = run["durable"]["quickstart"], run["durable"]["tuned"]
        rows += [
            (f"webhook ingest, {name}: quickstart ({threads} threads) vs bare 204 ({threads} threads)",
             f"{run['quickstart']['rps']:.0f}/s", f"{run['bare']['rps']:.0f}/s", spread(run["ratio"])),
            *usage_row(f"  server CPU per webhook, ms (kernel) / thread switches / waitress loop ({name})",
                       *(run.get("usage", {}).get(server) for server in ("quickstart", "bare"))),
            (f"  quickstart: acknowledged / stored / stored twice ({name})",
             f"{qs['acknowledged']} / {qs['stored']}", f"{qs['duplicates_stored']}",
             "stored once" if qs["stored_once"] else "NOT STORED ONCE"),
            (f"  tuned server ({TUNED_THREADS} threads, no handlers) vs its bare 204 ({name})",
             f"{run['tuned']['rps']:.0f}/s", f"{run['tuned_bare']['rps']:.0f}/s", spread(run["ratio_tuned"])),
            (f"  tuned: fast path vs the same receiver as a Flask route ({name})",
             f"{run['tuned']['rps']:.0f}/s", f"{run['tuned_via_flask']['rps']:.0f}/s",
             spread(run["ratio_fast_path"])),
            (f"  tuned: acknowledged / stored / stored twice ({name})",
             f"{tuned['acknowledged']} / {tuned['stored']}", f"{tuned['duplicates_stored']}",
             "stored once" if tuned["stored_once"] else "NOT STORED ONCE"),
        ]
    token = results.get("token")
    if token:
        labels = {
            "create_link_token_new": "GET /api/create_link_token, new users (cookieless)",
            "create_link_token_returning": "GET /api/create_link_token, returning (cookie kept)",
            "wink_token_new": "POST /wink/token, new users",
            "wink_token_returning": "POST /wink/token, returning (cookie kept)",
        }
        for name, label in labels.items():
            baseline = baseline_of(name)
            rows.append((f"{label}, {token['callers']} callers vs pass-through",
                         f"{token['runs'][name]['rps']:.0f}/s", f"{token['runs'][baseline]['rps']:.0f}/s",
                         spread(token[name]["ratio"])))
        usage = token.get("usage", {})
        for name, label in labels.items():
            rows += usage_row(
                f"  server CPU per request, ms (kernel) / thread switches / waitress loop: {label}",
                usage.get(name), usage.get(baseline_of(name)),
            )
        for name, label in labels.items():
            baseline = baseline_of(name)
            rows.append((f"{label}, one caller, p50 ms", f"{token['p50_ms'][name]:.2f}",
                         f"{token['p50_ms'][baseline]:.2f}", f"+{token[name]['p50_over_ms']:.2f} ms"))
    if results.get("retention"):
        from . import retention

        rows += retention.rows(results["retention"], Settings(**results["settings"]))
    memory = results.get("memory")
    if memory:
        rows += [
            (f"quickstart RSS MiB, idle -> after {memory['served_over_http']:,} webhooks",
             f"{memory['after_http_mib']:.1f}", f"{memory['idle_mib']:.1f}",
             f"{memory['after_http_mib'] / memory['idle_mib']:.2f}"),
            (f"quickstart RSS MiB, idle -> with {memory['events']:,} events",
             f"{memory['after_mib']:.1f}", f"{memory['idle_mib']:.1f}",
             f"{memory['after_mib'] / memory['idle_mib']:.2f}"),
        ]
        for name, page in memory["events_page"].items():
            rows.append((f"/wink/events at {memory['events']:,} events ({name}), p50 / p99 ms",
                         f"{page['p50_ms']:.1f} / {page['p99_ms']:.1f}", "", ""))
    if results.get("encryption"):
        rows += encryption.rows(results["encryption"], spread)
    return rows


def usage_row(label: str, mine: dict | None, reference: dict | None) -> list[tuple[str, str, str, str]]:
    """One row of per-request server usage (none where /proc could not be read)."""
    if not mine or not reference:
        return []

    def cell(u: dict) -> str:
        return f"{u['cpu_ms']:.2f} ({u['kernel_ms']:.2f}) / {u['switches']:.1f} / {u['loop_ms']:.2f}"

    return [(label, cell(mine), cell(reference), f"{mine['cpu_ms'] / reference['cpu_ms']:.2f}x the CPU")]


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    print("| measurement | flask-wink | reference | ratio (range over rounds) |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    labels, values = [], []
    for kind, run in results["ingest"].items():
        labels += [f"bare 204\n{kind}", f"quickstart\n{kind}"]
        values += [run["bare"]["rps"], run["quickstart"]["rps"]]
    axes[0].bar(labels, values, color=["#9aa3b5", "#4453d6"] * len(results["ingest"]))
    axes[0].set_title(f"Webhook ingest, {SENDERS} senders, {QUICKSTART_THREADS} threads (req/s)")
    token = results["token"]
    labels, values = [], []
    for name in TOKEN_ROUTES:
        labels.append(name.replace("_", "\n", 1))
        values.append(token["runs"][name]["rps"] / token["runs"][baseline_of(name)]["rps"])
    axes[1].bar(labels, values, color="#4453d6")
    axes[1].axhline(1.0, color="#9aa3b5")
    axes[1].set_title(f"Token routes / pass-through, {CALLERS} callers")
    axes[1].tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


#: The parts of a run, in order (``python -m benchmarks [part ...]``; default: all).
PARTS = ("ingest", "token", "memory", "encryption", "retention")


def feed(tmp: Path, name: str, count: int) -> Feed:
    """A file of ``count`` signed webhooks (at most 900,000) for one part of the run: each part
    has its own, sized for its runs at up to 5,000 a second, so a fast machine never runs out."""
    return Feed(tmp / f"{name}.txt", webhook_lines(), min(900_000, count))


def run(settings: Settings, tmp: Path, parts: tuple[str, ...] = PARTS) -> dict:
    """Every measurement (or the ``parts`` named), as one dict."""
    per_run = settings.seconds * 5_000  # the most webhooks one run may send
    results: dict = {"settings": {k: v for k, v in asdict(settings).items() if k != "quickstart_env"}}
    if "ingest" in parts:
        results["ingest"] = {}
        for kind in settings.databases:
            # Three storing routes a round, and their warm-ups.
            bodies = feed(tmp, f"ingest-{kind}", 3 * (settings.rounds + 1) * per_run)
            results["ingest"][kind] = ingest(kind, tmp, bodies, settings)
            bodies.path.unlink()
            print(f"ingest ({kind}): {json.dumps(results['ingest'][kind])}", flush=True)
    if "token" in parts:
        results["token"] = token_path(tmp, settings)
        print(f"token: {json.dumps(results['token'])}", flush=True)
    if "memory" in parts:
        bodies = feed(tmp, "memory", settings.through_http * 3 + 20_000)
        results["memory"] = memory_and_events_page(tmp, bodies, settings)
        bodies.path.unlink()
    if "retention" in parts:
        from . import retention

        # A warm-up and two runs a round, on each database.
        bodies = feed(tmp, "retention", len(settings.databases) * (2 * settings.rounds + 1) * per_run)
        results["retention"] = retention.run(tmp, bodies, settings, sys.modules[__name__])
        bodies.path.unlink()
    if "encryption" in parts:
        # Two sides a round, and a warm-up of each.
        bodies = feed(tmp, "encryption", (2 * settings.rounds + 2) * per_run)
        results["encryption"] = encryption.encryption_cost(tmp, bodies, settings, sys.modules[__name__])
        bodies.path.unlink()
        print(f"encryption: {json.dumps(results['encryption'])}", flush=True)
    return results


def main() -> None:
    """``python -m benchmarks [ingest] [token] [memory] [encryption] [retention]`` (default: all)."""
    settings = Settings.from_environ()
    parts = tuple(sys.argv[1:]) or PARTS
    unknown = set(parts) - set(PARTS)
    if unknown:
        usage = " ".join(f"[{part}]" for part in PARTS)
        raise SystemExit(f"python -m benchmarks {usage}, not {' '.join(sorted(unknown))}")
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        results = run(settings, Path(tmp_name), parts)
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    if "ingest" in results and "token" in results:
        chart(results, RESULTS / "benchmarks.png")
    print()
    print_table(table(results))
    print(
        f"\n{settings.rounds} rounds of {settings.seconds} s runs; req/s: each route's median run; ratio:"
        " the median of the ratios taken within each round, then their range."
    )
    print(f"Chart: {(RESULTS / 'benchmarks.png').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
