"""What encryption at rest costs: the quickstart with ``WINK_ENCRYPTION_KEYS`` set against the same
quickstart without, back to back on SQLite: webhook ingest (32 senders) and the events page's p50
with as many events stored in each (``python -m benchmarks encryption``)."""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from flask_wink.providers.smile_wink.testing import make_event
from flask_wink.store import Keyring, Store, events
from flask_wink.store.encryption import generate_key

#: The two quickstarts: without keys, and with one.
SIDES = ("clear", "sealed")


def fill(url: str, total: int, keyring: Keyring | None) -> int:
    """Top the database at ``url`` up to ``total`` events, written straight into it (sealed under
    ``keyring`` when given, as the kit would store them); how many it holds."""
    store = Store(url)
    missing = max(0, total - store.count_events())
    now = datetime.now(UTC)
    rows = []
    for i in range(missing):
        text = json.dumps(make_event("USER_CREATED", {"userId": f"tenant-{i % 1000}", "loginName": "George",
                                                      "providers": ["upwork"]}), separators=(",", ":"))
        rows.append({
            "kind": "webhook", "name": "USER_CREATED", "event_id": f"enc-bulk-{i}", "provider": "smile_wink",
            "upstream_user_id": f"tenant-{i % 1000}", "payload": keyring.seal(text) if keyring else text,
            "received_at": now, "state": "handled", "attempts": 1,
        })
    for start in range(0, len(rows), 10_000):
        with store.engine.begin() as conn:
            conn.execute(events.insert(), rows[start:start + 10_000])
    count = store.count_events()
    store.dispose()
    return count


def stored_events(url: str) -> int:
    store = Store(url)
    try:
        return store.count_events()
    finally:
        store.dispose()


def page_p50(http: httpx.Client, url: str, samples: int = 100) -> float:
    http.get(url)
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        assert http.get(url).status_code == 200
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2]


def encryption_cost(tmp: Path, bodies: Any, settings: Any, bench: Any) -> dict:
    """Ingest rates and the events page's p50, with keys and without (``bench``: the benchmarks'
    main module, for its quickstart, wrk and rounds)."""
    key = generate_key()
    keyring = Keyring([key])
    with ExitStack() as stack:
        ports = {side: bench.free_port() for side in SIDES}
        stamp = time.monotonic_ns()
        urls = {side: f"sqlite:///{tmp / f'encryption-{side}-{stamp}.sqlite3'}" for side in SIDES}
        for side in SIDES:
            extra = {"WINK_ENCRYPTION_KEYS": key} if side == "sealed" else {}
            stack.enter_context(bench.quickstart(ports[side], urls[side], settings, **extra))
        bases = {side: f"http://127.0.0.1:{ports[side]}" for side in SIDES}

        def stores(side: str, seconds: int = settings.seconds):
            url = bases[side] + "/wink/webhooks"
            return lambda: bodies.used(bench.wrk(url, "ingest.lua", bench.SENDERS, seconds, bodies.env()))

        for side in SIDES:
            stores(side, 1)()
        runs = bench.run_rounds(settings, {side: stores(side) for side in SIDES})
        total = max(settings.events // 10, *(stored_events(u) for u in urls.values()))
        counts = {side: fill(urls[side], total, keyring if side == "sealed" else None) for side in SIDES}
        pages: dict[str, list[float]] = {side: [] for side in SIDES}
        with httpx.Client() as http:
            for _ in range(3):  # interleaved, so both sides see the same machine
                for side in SIDES:
                    pages[side].append(page_p50(http, bases[side] + "/wink/events", settings.samples))
    p50 = {side: sorted(values)[1] for side, values in pages.items()}
    return {
        **{side: bench.median_run(r) for side, r in runs.items()},
        "ratio": bench.ratio_of(runs, "sealed", "clear"),
        "events": min(counts.values()),
        "page_p50_ms": p50,
        "page_ratio": p50["sealed"] / p50["clear"],
    }


def rows(result: dict, spread: Any) -> list[tuple[str, str, str, str]]:
    """The table's rows: measurement, with keys, without, ratio."""
    page = result["page_p50_ms"]
    return [
        ("encryption at rest, SQLite ingest: quickstart with WINK_ENCRYPTION_KEYS vs without",
         f"{result['sealed']['rps']:.0f}/s", f"{result['clear']['rps']:.0f}/s", spread(result["ratio"])),
        (f"encryption at rest: /wink/events at {result['events']:,} events, p50 ms, with keys vs without",
         f"{page['sealed']:.2f}", f"{page['clear']:.2f}", f"{result['page_ratio']:.2f}x"),
    ]
