"""``make bench``: the kit against a bare route, token minting against a direct call, memory.

Everything runs on this machine, one measurement after another, with Debian's wrk as the load
generator. Results: a table on stdout, ``benchmarks/results/latest.json`` and ``benchmarks.png``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from tests.postgres import fresh_postgres_database

from flask_wink.providers.smile_wink import SmileClient
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook
from flask_wink.store import Store, events

from .server import WEBHOOK_SECRET

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
SECONDS = float(os.environ.get("WINK_BENCH_SECONDS", "10"))
CONNECTIONS = 32
ROUNDS = int(os.environ.get("WINK_BENCH_ROUNDS", "5"))  # rounds of runs of each route; the median counts
SERVER_THREADS = int(os.environ.get("WINK_BENCH_SERVER_THREADS", "32"))  # waitress threads
THROUGH_HTTP = int(os.environ.get("WINK_BENCH_THROUGH_HTTP", "20000"))


class Bodies:
    """Pre-signed webhook bodies, handed out so that no stored event is ever sent twice."""

    def __init__(self, path: Path, count: int) -> None:
        self.path, self.count, self.next = path, count, 0
        write_bodies(path, count)

    def env(self) -> dict:
        return {"WINK_BENCH_BODIES": str(self.path), "WINK_BENCH_START": str(self.next)}

    def used(self, run: dict) -> dict:
        self.next = run["bodies_used_up_to"] + 1
        if self.next >= self.count:
            raise RuntimeError("the benchmark ran out of unique webhook bodies")
        return run


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
        deadline = time.monotonic() + 30
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


def wrk(url: str, script: Path, connections: int, seconds: float, env: dict | None = None) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(script), url],
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


def write_bodies(path: Path, count: int) -> None:
    with path.open("w") as out:
        for i in range(count):
            event = make_event(
                "ACCOUNT_CONNECTED" if i % 4 == 0 else "USER_CREATED",
                {
                    "userId": f"tenant-{i % 1000}",
                    "accountId": f"a-{i % 5000}",
                    "loginName": "George",
                    "providers": ["upwork"],
                },
            )
            body, headers = signed_webhook(event, WEBHOOK_SECRET)
            out.write(headers["Smile-Signature"] + " " + body.decode() + "\n")


@contextmanager
def database(kind: str, tmp: Path):
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'bench-{time.monotonic_ns()}.sqlite3'}"
    else:
        with fresh_postgres_database() as url:
            yield url


ROUTES = {  # name: (path, whether it stores the webhooks sent to it)
    "bare": ("/bare", False),
    "bare_keepalive": ("/bare-keepalive", False),
    "kit": ("/wink/webhooks", True),
    "kit_via_flask": ("/via-flask/webhooks", True),
}


def ingest(kind: str, tmp: Path, bodies: Bodies) -> dict:
    """Signed webhooks per second against bare routes on the same waitress server.

    Each round runs every route once, back to back, and the ratios are taken within a round: the
    machine's speed drifts from minute to minute, and a ratio of neighbouring runs is not fooled
    by that. The median round counts; the range shows the spread.
    """
    port = free_port()
    with database(kind, tmp) as url:
        base = f"http://127.0.0.1:{port}"
        args = ["-m", "benchmarks.server", "--port", str(port), "--threads", str(SERVER_THREADS)]
        args += ["--database", url]
        with process(args, base + "/wink/events"):
            script = HERE / "ingest.lua"
            bare_env = {"WINK_BENCH_BODIES": str(bodies.path)}  # the bare routes store nothing
            wrk(base + "/bare", script, CONNECTIONS, 2, bare_env)  # warm up
            runs: dict[str, list[dict]] = {name: [] for name in ROUTES}
            for _ in range(ROUNDS):
                for name, (path, stores) in ROUTES.items():
                    run = wrk(base + path, script, CONNECTIONS, SECONDS, bodies.env() if stores else bare_env)
                    runs[name].append(bodies.used(run) if stores else run)
            acknowledged = sum(r["requests"] - r["non2xx"] for r in runs["kit"] + runs["kit_via_flask"])
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            rows, distinct = conn.execute(
                sa.text("SELECT count(*), count(DISTINCT event_id) FROM wink_events")
            ).one()
        engine.dispose()

    def ratios(route: str, baseline: str) -> dict:
        each = [a["rps"] / b["rps"] for a, b in zip(runs[route], runs[baseline], strict=True)]
        return {"median": statistics.median(each), "min": min(each), "max": max(each), "rounds": each}

    def median_run(route: str) -> dict:  # the upper of the middle two for an even number of rounds
        ordered = sorted(runs[route], key=lambda r: r["rps"])
        return ordered[len(ordered) // 2]

    return {
        **{name: median_run(name) for name in ROUTES},
        "rounds": ROUNDS,
        "ratio": ratios("kit", "bare"),
        "ratio_keepalive": ratios("kit", "bare_keepalive"),
        "ratio_via_flask": ratios("kit_via_flask", "bare"),
        "acknowledged": acknowledged,
        "stored": rows,
        "duplicates_stored": rows - distinct,
        "every_ack_durable": rows >= acknowledged and rows == distinct,
    }


def token_minting(tmp: Path) -> dict:
    """The /wink/token round trip against a direct client call to the same sandbox."""
    sandbox_port, app_port = free_port(), free_port()
    key, secret = "bench-key", "bench-secret"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    with (
        process(
            [
                "-m",
                "flask_wink.sandbox",
                "--port",
                str(sandbox_port),
                "--api-key",
                key,
                "--api-secret",
                secret,
            ],
            sandbox_url + "/",
        ),
        database("sqlite", tmp) as url,
    ):
        args = [
            "-m",
            "benchmarks.server",
            "--port",
            str(app_port),
            "--threads",
            "32",
            "--database",
            url,
            "--api-host",
            sandbox_url + "/v1",
            "--api-key",
            key,
            "--api-secret",
            secret,
        ]
        base = f"http://127.0.0.1:{app_port}"
        with process(args, base + "/wink/events"):

            def timed(call, n=300):
                call()
                samples = []
                for _ in range(n):
                    start = time.perf_counter()
                    call()
                    samples.append((time.perf_counter() - start) * 1000)
                return statistics.median(samples)

            with httpx.Client() as http, SmileClient(sandbox_url + "/v1", key, secret) as client:
                user = http.post(base + "/wink/token", headers={"X-User": "solo"}).json()["userId"]
                kit_ms = timed(lambda: http.post(base + "/wink/token", headers={"X-User": "solo"}))
                direct_ms = timed(lambda: client.refresh_token(user))
            concurrent = wrk(base + "/wink/token", HERE / "token.lua", 16, SECONDS)
    return {
        "kit_p50_ms": kit_ms,
        "direct_p50_ms": direct_ms,
        "overhead_ms": kit_ms - direct_ms,
        "ratio": kit_ms / direct_ms,
        "concurrent16": concurrent,
    }


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def memory_and_events_page(tmp: Path, bodies: Bodies) -> dict:
    """The quickstart's resident size idle, after serving webhooks, and with 100,000 stored events.

    The first ``THROUGH_HTTP`` events arrive as signed webhooks (what the process does with them is
    what would leak); the rest are written straight into its database, since what the events
    page costs depends on the table, not on how the rows got there.
    """
    port = free_port()
    url = f"sqlite:///{tmp / 'memory.sqlite3'}"
    base = f"http://127.0.0.1:{port}"
    env = {"APP_PORT": str(port), "DATABASE_URL": url, "API_KEY": "", "WEBHOOK_SECRET": WEBHOOK_SECRET}
    target, through_http = 100_000, THROUGH_HTTP
    with process(["-m", "quickstart"], base + "/healthz", env) as proc:
        time.sleep(1)
        idle = rss_kib(proc.pid)
        store = Store(url)
        while store.count_events() < through_http:
            bodies.used(wrk(base + "/wink/webhooks", HERE / "ingest.lua", CONNECTIONS, 10, bodies.env()))
        after_http = rss_kib(proc.pid)
        served = store.count_events()
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
                    for i in range(target - served)
                ],
            )
        stored = store.count_events()
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
        "events": stored,
        "events_page": pages,
    }


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), gridspec_kw={"width_ratios": [2.2, 1, 1]})
    labels, values = [], []
    for kind, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        run = results["ingest"][kind]
        labels += [f"bare 204\n{name}", f"bare 200\n{name}", f"flask-wink\n{name}", f"via Flask\n{name}"]
        values += [run[route]["rps"] for route in ROUTES]  # in the order of the labels
    axes[0].bar(labels, values, color=["#9aa3b5", "#6d7587", "#4453d6", "#a9b1f0"] * 2)
    axes[0].set_title(f"Webhook ingest, {CONNECTIONS} senders (req/s, median round)")
    axes[0].tick_params(axis="x", labelsize=7)
    token = results["token"]
    axes[1].bar(
        ["direct client", "/wink/token"],
        [token["direct_p50_ms"], token["kit_p50_ms"]],
        color=["#9aa3b5", "#4453d6"],
    )
    axes[1].set_title("Link token round trip, p50 (ms)")
    memory = results["memory"]
    axes[2].bar(
        ["idle", f"{memory['events']:,} events"],
        [memory["idle_mib"], memory["after_mib"]],
        color=["#9aa3b5", "#4453d6"],
    )
    axes[2].set_title("Quickstart resident memory (MiB)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bodies = Bodies(tmp / "bodies.txt", 500_000)
        results: dict = {"ingest": {}}
        for kind in ("sqlite", "postgresql"):
            results["ingest"][kind] = ingest(kind, tmp, bodies)
            print(f"ingest ({kind}): {json.dumps(results['ingest'][kind])}", flush=True)
        results["token"] = token_minting(tmp)
        print(f"token: {json.dumps(results['token'])}", flush=True)
        results["memory"] = memory_and_events_page(tmp, bodies)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "seconds_per_run": SECONDS,
        "python": sys.version.split()[0],
    }
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    chart(results, RESULTS / "benchmarks.png")

    print(f"{'measurement':44} {'flask-wink':>14} {'baseline':>14} {'ratio':>7}  (range over rounds)")
    for kind, run in results["ingest"].items():
        kit, bare, keepalive, via = (run[r] for r in ("kit", "bare", "bare_keepalive", "kit_via_flask"))
        rows = [
            (f"webhook ingest req/s ({kind}), vs bare 204", kit, bare, run["ratio"]),
            ("  vs bare 200 (keeps the connection)", kit, keepalive, run["ratio_keepalive"]),
            ("  through a Flask route instead, vs bare 204", via, bare, run["ratio_via_flask"]),
        ]
        for label, ours, baseline, ratio in rows:
            spread = f"({ratio['min']:.2f}-{ratio['max']:.2f})"
            print(f"{label:44} {ours['rps']:14.0f} {baseline['rps']:14.0f} {ratio['median']:7.2f}  {spread}")
        print(
            f"{'  p50 / p99 ms':44} {kit['p50_ms']:6.1f} /{kit['p99_ms']:6.1f} "
            f"{bare['p50_ms']:6.1f} /{bare['p99_ms']:6.1f}"
        )
        print(
            f"{'  acknowledged, stored, duplicates stored':44} {run['acknowledged']:>14} {run['stored']:>14} "
            f"{run['duplicates_stored']:>7}"
        )
    token = results["token"]
    print(
        f"{'token round trip p50 ms (vs direct call)':44} {token['kit_p50_ms']:14.2f} "
        f"{token['direct_p50_ms']:14.2f} {token['ratio']:7.2f}"
    )
    print(f"{'token minting req/s, 16 users':44} {token['concurrent16']['rps']:14.0f}")
    memory = results["memory"]
    print(
        f"{'quickstart RSS MiB, after ' + format(memory['served_over_http'], ',') + ' webhooks':44} "
        f"{memory['after_http_mib']:14.1f} {memory['idle_mib']:14.1f}"
    )
    print(
        f"{'quickstart RSS MiB, idle -> ' + format(memory['events'], ',') + ' events':44} "
        f"{memory['after_mib']:14.1f} {memory['idle_mib']:14.1f}"
    )
    for name, page in memory["events_page"].items():
        print(f"{'events page p50 / p99 ms (' + name + ')':44} {page['p50_ms']:6.1f} /{page['p99_ms']:6.1f}")
    print(
        "\nreq/s and latencies: each route's median run; ratio: the median of the ratios taken within"
        " each round (so not always one column over the other), then their range."
    )
    print(f"Chart: {(RESULTS / 'benchmarks.png').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
