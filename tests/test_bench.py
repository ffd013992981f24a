"""``make bench``'s machinery, run briefly (``WINK_BENCH_QUICK``'s shape with one-second runs):
every row of the table comes out, and every acknowledged webhook is stored once. No timings are
asserted: speed lives in ``make bench``."""

from __future__ import annotations

import re

from benchmarks.__main__ import Settings, run, table


def test_the_bench_prints_every_row_and_checks_each_acknowledged_event_is_stored_once(tmp_path):
    settings = Settings(seconds=1, rounds=1, through_http=300, events=1_000, samples=3)
    results = run(settings, tmp_path)
    labels = [row[0] for row in table(results)]

    for kind, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        assert any(label.startswith(f"webhook ingest, {name}: quickstart (") for label in labels)
        assert f"  tuned: fast path vs the same receiver as a Flask route ({name})" in labels
        ingest = results["ingest"][kind]
        for server in ("quickstart", "tuned"):
            check = ingest["durable"][server]
            assert check["acknowledged"] > 0
            assert check["stored"] >= check["acknowledged"]
            assert check["duplicates_stored"] == 0
            assert check["stored_once"] is True
        assert f"  server CPU per webhook, ms (kernel) / thread switches / waitress loop ({name})" in labels
        for server in ("quickstart", "bare"):
            usage = ingest["usage"][server]
            assert usage["cpu_ms"] > 0 and 0 <= usage["kernel_ms"] <= usage["cpu_ms"]
            assert usage["switches"] > 0
            assert 0 <= usage["loop_ms"] <= usage["cpu_ms"]
        for route in ("quickstart", "bare", "tuned", "tuned_bare", "tuned_via_flask"):
            assert ingest[route]["non2xx"] == 0, route
        assert ingest["bare"]["requests"] > 0

    token = results["token"]
    for route in ("GET /api/create_link_token", "POST /wink/token"):
        for who in ("new users", "returning (cookie kept)"):
            matching = [label for label in labels if label.startswith(route) and who in label]
            assert len(matching) == 2, matching  # 16 callers, and one caller's p50
    for name in ("create_link_token_new", "create_link_token_returning", "wink_token_new",
                 "wink_token_returning"):
        assert token["runs"][name]["requests"] > 0
        assert token[name]["non2xx"] == 0
    assert token["runs"]["pass_new"]["non2xx"] == token["runs"]["pass_returning"]["non2xx"] == 0
    # The servers' own CPU and thread switches per request, beside the rates (read from /proc).
    assert len([label for label in labels if label.startswith("  server CPU per request")]) == 4
    assert all(usage["cpu_ms"] > 0 for usage in token["usage"].values())

    memory = results["memory"]
    assert memory["served_over_http"] >= 300
    assert memory["events"] >= 1_000
    assert set(memory["events_page"]) == {"newest", "webhooks", "one user"}
    assert any(label.startswith(f"/wink/events at {memory['events']:,} events") for label in labels)

    # Encryption at rest: ingest and the events page with keys and without, in the same run.
    encrypted = results["encryption"]
    assert encrypted["sealed"]["non2xx"] == encrypted["clear"]["non2xx"] == 0
    assert encrypted["page_p50_ms"]["sealed"] > 0 and encrypted["events"] >= 100
    assert len([label for label in labels if label.startswith("encryption at rest")]) == 2


def test_the_statement_profile_times_each_statement_of_the_group_commit():
    # python -m benchmarks.profile statements: benchmarks/README.md's account of where ingest's time goes.
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.profile", "statements"],
        capture_output=True, text=True, timeout=300, check=True,
        env={**os.environ, "WINK_BENCH_SECONDS": "1"},
    ).stdout
    lines = out.splitlines()
    head = re.match(r"(\d+) webhooks at \d+/s in (\d+) groups", lines[0])
    webhooks, groups = int(head.group(1)), int(head.group(2))
    assert webhooks > 0 and 0 < groups <= webhooks
    timed = {line.split("  ")[0] for line in lines[2:] if line.startswith(("INSERT", "BEGIN", "COMMIT"))}
    assert {"BEGIN IMMEDIATE", "INSERT INTO wink_events", "COMMIT"} <= timed
    loop, rest = re.search(r"waitress's loop ([\d.]+) ms, every other thread ([\d.]+) ms", out).groups()
    assert float(loop) > 0 and float(rest) > 0


def test_the_overhead_profile_counts_what_the_token_routes_add_over_the_pass_through():
    # python -m benchmarks.profile overhead: benchmarks/README.md's account of the token routes.
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.profile", "overhead"],
        capture_output=True, text=True, timeout=300, check=True,
        env={**os.environ, "WINK_BENCH_QUICK": "1"},
    ).stdout
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:] if line.strip()}
    routes = {f"{path}_{who}" for path in ("create_link_token", "wink_token") for who in ("new", "returning")}
    assert set(rows) == routes | {"pass_new", "pass_returning"}
    for name in routes:
        cpu, _, calls, over = rows[name]
        assert float(cpu) > 0 and int(calls) > 0 and int(over) > 0  # the kit's own work is counted
