"""``python -m benchmarks retention``: what retention costs while the app serves.

- Ingest while pruning: the quickstart's webhook rate over a table of ``retention_events`` old
  handled events, first with retention off, then restarted with ``WINK_EVENT_RETENTION`` on, so
  that its own sweep prunes them (in batches of ``WINK_PRUNE_BATCH``, at ``WINK_PRUNE_PACE``)
  while the webhooks arrive; the same number of seconds each, back to back, each round on a
  freshly seeded table. How many it pruned meanwhile is counted.
  Seeded events are 8 to 60 days old and the retention is 7 days: the younger ones (within the
  30-day dedupe window) are emptied with their keys kept, the older ones deleted.
- The events page (``/wink/events``, the memory part's three pages) at ``events`` handled events,
  then at ``retention_events``: p50 and p99 of 100 requests each.

Rows are seeded in one INSERT ... SELECT over a generated series, inside the database.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from flask_wink.store import Store

#: The payload of a seeded event: a Smile webhook of a typical size.
PAYLOAD = (
    '{"id":"%s","version":1,"type":"USER_CREATED","createdAt":"2026-01-05T10:00:00Z",'
    '"data":{"userId":"tenant-1","accountId":"a-1","loginName":"George","providers":["upwork"]}}'
)
#: Seeded events arrive evenly between these many days ago.
OLDEST_DAYS, NEWEST_DAYS = 60, 8
RETENTION = "7 days"
PAGES = {
    "newest": "/wink/events",
    "webhooks": "/wink/events?kind=webhook",
    "one user": "/wink/events?user=nobody&after=0",
}


def seed(url: str, count: int, *, start: int = 0, old: bool = True) -> None:
    """``count`` handled webhooks (ids ``bulk-<start>`` on), received between OLDEST_DAYS and
    NEWEST_DAYS days ago (``old``) or in the last hour, in one statement."""
    store = Store(url)
    store.init()
    store.dispose()
    engine = sa.create_engine(url)
    span = (OLDEST_DAYS - NEWEST_DAYS) * 86400 if old else 3600
    newest = NEWEST_DAYS * 86400 if old else 0
    columns = "kind, name, event_id, provider, upstream_user_id, payload, received_at, state, attempts"
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(
                f"INSERT INTO wink_events ({columns}) SELECT 'webhook', 'USER_CREATED', 'bulk-' || g, "
                "'smile_wink', 'tenant-' || (g % 1000), replace(:payload, '%s', 'bulk-' || g), "
                "now() - make_interval(secs => :newest + :span * (1.0 - (g - :start)::float / :count)), "
                "'handled', 1 FROM generate_series(:start, :start + :count - 1) AS g"
            ), {"payload": PAYLOAD, "newest": newest, "span": span, "start": start, "count": count})
        else:
            conn.execute(sa.text(
                "WITH RECURSIVE g(n) AS (SELECT :start UNION ALL SELECT n + 1 FROM g "
                "WHERE n < :start + :count - 1) "
                f"INSERT INTO wink_events ({columns}) SELECT 'webhook', 'USER_CREATED', 'bulk-' || n, "
                "'smile_wink', 'tenant-' || (n % 1000), replace(:payload, '%s', 'bulk-' || n), "
                "strftime('%Y-%m-%d %H:%M:%S', 'now', "
                "'-' || CAST(:newest + :span * (1.0 - (n - :start) * 1.0 / :count) AS INTEGER) "
                "|| ' seconds') || '.000000', 'handled', 1 FROM g"
            ), {"payload": PAYLOAD, "newest": newest, "span": span, "start": start, "count": count})
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE wink_events"))
        else:
            conn.execute(sa.text("ANALYZE"))
    engine.dispose()


def counts(url: str) -> dict[str, int]:
    """The seeded events (ids ``bulk-...``) by state: the webhooks arriving meanwhile are not
    counted, or the rows they add would hide the rows the pass deleted."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = dict(conn.execute(sa.text(
            "SELECT state, count(*) FROM wink_events WHERE event_id LIKE 'bulk-%' GROUP BY state"
        )).all())
    engine.dispose()
    return {str(k): int(v) for k, v in found.items()}


def ingest_while_pruning(kind: str, tmp: Path, bodies: Any, settings: Any, h: Any) -> dict:
    """Rounds of: seed a fresh table, ingest with retention off, ingest while the sweep prunes."""
    runs: dict[str, list[dict]] = {"off": [], "pruning": []}
    pruned: list[dict] = []
    for _ in range(settings.rounds):
        with ExitStack() as stack:
            url = stack.enter_context(h.database(kind, tmp))
            seed(url, settings.retention_events)
            port = h.free_port()
            with h.quickstart(port, url, settings):
                bodies.used(h.wrk(_webhooks(port), "ingest.lua", h.SENDERS, 1, bodies.env()))
                runs["off"].append(_stores(port, bodies, settings, h)())
            port = h.free_port()
            before = counts(url)
            with h.quickstart(port, url, settings, WINK_EVENT_RETENTION=RETENTION):
                # The first request starts the sweep, which starts pruning in its own thread.
                started = time.monotonic()
                runs["pruning"].append(_stores(port, bodies, settings, h)())
                after = counts(url)
                took = time.monotonic() - started
            done = _pruned(before, after)
            pruned.append({
                "before": before, "after_run": after, "pruned_during_run": done,
                "per_second": done / took,
            })
    ratios = [p["rps"] / o["rps"] for o, p in zip(runs["off"], runs["pruning"], strict=True)]
    return {
        "off": h.median_run(runs["off"]),
        "pruning": h.median_run(runs["pruning"]),
        "ratio": {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
                  "rounds": ratios},
        "pruned": pruned,
        "seeded": settings.retention_events,
        "non2xx": sum(r["non2xx"] for r in runs["off"] + runs["pruning"]),
    }


def _webhooks(port: int) -> str:
    return f"http://127.0.0.1:{port}/wink/webhooks"


def _stores(port: int, bodies: Any, settings: Any, h: Any) -> Callable[[], dict]:
    """One run of signed webhooks, each body new, for ``settings.seconds``."""
    url = _webhooks(port)
    return lambda: bodies.used(h.wrk(url, "ingest.lua", h.SENDERS, settings.seconds, bodies.env()))


def _pruned(before: dict[str, int], after: dict[str, int]) -> int:
    """Seeded rows emptied or deleted between two counts (the seeded rows are all handled)."""
    return before.get("handled", 0) - after.get("handled", 0)


def events_page(kind: str, tmp: Path, settings: Any, h: Any) -> dict:
    """The events page's p50/p99 at ``settings.events`` handled events, then at ``retention_events``."""
    pages: dict[str, dict] = {}
    with ExitStack() as stack:
        url = stack.enter_context(h.database(kind, tmp))
        seeded = 0
        for total in (settings.events, settings.retention_events):
            seed(url, total - seeded, start=seeded, old=False)
            seeded = total
            port = h.free_port()
            base = f"http://127.0.0.1:{port}"
            with h.quickstart(port, url, settings), httpx.Client(base_url=base) as http:
                measured = {}
                for name, path in PAGES.items():
                    http.get(path)
                    samples = []
                    for _ in range(100):
                        start = time.perf_counter()
                        assert http.get(path).status_code == 200
                        samples.append((time.perf_counter() - start) * 1000)
                    samples.sort()
                    measured[name] = {"p50_ms": samples[49], "p99_ms": samples[98]}
            pages[str(total)] = measured
    return pages


def run(tmp: Path, bodies: Any, settings: Any, h: Any) -> dict:
    """Both measurements on each database."""
    found: dict[str, dict] = {}
    for kind in settings.databases:
        found[kind] = {
            "ingest": ingest_while_pruning(kind, tmp, bodies, settings, h),
            "events_page": events_page(kind, tmp, settings, h),
        }
        print(f"retention ({kind}): {found[kind]}", flush=True)
    return found


def rows(results: dict, settings: Any) -> list[tuple[str, str, str, str]]:
    """The table's rows for this part."""
    out: list[tuple[str, str, str, str]] = []
    for kind, found in results.items():
        name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
        ingest = found["ingest"]
        ratio = ingest["ratio"]
        during = [p["pruned_during_run"] for p in ingest["pruned"]]
        out.append((
            f"webhook ingest while the sweep prunes {ingest['seeded']:,} events vs without pruning ({name})",
            f"{ingest['pruning']['rps']:.0f}/s", f"{ingest['off']['rps']:.0f}/s",
            f"{ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f})",
        ))
        out.append((
            f"  events pruned during each {settings.seconds} s run, and per second ({name})",
            " / ".join(f"{n:,}" for n in during),
            " / ".join(f"{p['per_second']:.0f}/s" for p in ingest["pruned"]), "",
        ))
        small, large = (found["events_page"][k] for k in sorted(found["events_page"], key=int))
        sizes = sorted(found["events_page"], key=int)
        for page in PAGES:
            out.append((
                f"/wink/events ({page}) p50 / p99 ms at {int(sizes[1]):,} vs {int(sizes[0]):,} events "
                f"({name})",
                f"{large[page]['p50_ms']:.1f} / {large[page]['p99_ms']:.1f}",
                f"{small[page]['p50_ms']:.1f} / {small[page]['p99_ms']:.1f}",
                f"{large[page]['p50_ms'] / small[page]['p50_ms']:.2f}x the p50",
            ))
    return out
