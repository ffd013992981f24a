"""Keep only as long as configured: handled events past WINK_EVENT_RETENTION are pruned in bounded
batches (a webhook emptied, its dedupe key kept, so a late redelivery is still a duplicate), data
fetched from upstreams expires by its own setting; through the CLI, the serving process's sweep
and the worker, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from conftest import ADMIN, WEBHOOK_SECRET, make_host_app
from flask_wink import get_state
from flask_wink.errors import ConfigurationError
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook
from flask_wink.retention import prune, schedule
from flask_wink.store import events, utcnow
from flask_wink.store.pruning import PRUNED_PAYLOAD
from flask_wink.testing import serve

BATCH = 10


def retaining_app(sandbox, tmp_path, database_url, **config):
    settings = {
        "WINK_DATABASE_URL": database_url,
        "WINK_EVENT_RETENTION": "90 days",
        # Longer than the retention, so that the tests see webhooks emptied with their keys
        # kept (with the default 30 days, a 90-day-old webhook's key is past its window: deleted).
        "WINK_EVENT_DEDUPE_WINDOW": "365 days",
        "WINK_PRUNE_BATCH": BATCH,
        **config,
    }
    app, _wink = make_host_app(sandbox, tmp_path, **settings)
    return app


def seed(app, *, count: int, age: timedelta, kind: str = "webhook", state: str = "handled",
         prefix: str = "old") -> None:
    """``count`` events received ``age`` ago, written straight into the table (as aged rows)."""
    received = utcnow() - age
    store = get_state(app).store
    store.init()
    with store.engine.begin() as conn:
        conn.execute(events.insert(), [
            {
                "kind": kind, "name": "USER_CREATED" if kind == "webhook" else "onSuccess",
                "event_id": f"{prefix}-{state}-{i}" if kind == "webhook" else None,
                "provider": "smile_wink", "app_user_id": "alice", "upstream_user_id": "smile-alice",
                "payload": json.dumps({"data": {"loginName": "George"}}), "received_at": received,
                "state": state, "attempts": 1, "error": "boom" if state in ("failed", "dead") else None,
            }
            for i in range(count)
        ])


def rows(app, **where) -> list[dict]:
    query = sa.select(events).order_by(events.c.id)
    for column, value in where.items():
        query = query.where(events.c[column] == value)
    with get_state(app).store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


class Statements:
    """Every UPDATE and DELETE of wink_events on the app's engine, with the rows it touched."""

    def __init__(self, engine) -> None:
        self.touched: list[int] = []
        self.engine = engine
        sa.event.listen(engine, "after_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        head = statement.lstrip().upper()
        if head.startswith(("UPDATE WINK_EVENTS", "DELETE FROM WINK_EVENTS")):
            self.touched.append(cursor.rowcount)

    def close(self) -> None:
        sa.event.remove(self.engine, "after_cursor_execute", self._seen)


def test_old_handled_events_are_pruned_in_bounded_batches(sandbox, tmp_path, database_url):
    app = retaining_app(sandbox, tmp_path, database_url)
    seed(app, count=35, age=timedelta(days=100))
    seed(app, count=12, age=timedelta(days=100), kind="callback")
    for waiting in ("pending", "failed", "handling"):
        seed(app, count=3, age=timedelta(days=100), state=waiting)
    seed(app, count=2, age=timedelta(days=100), state="dead")
    seed(app, count=4, age=timedelta(days=5), prefix="recent")
    statements = Statements(get_state(app).store.engine)
    try:
        result = app.test_cli_runner().invoke(args=["wink", "events", "prune"])
    finally:
        statements.close()
    assert result.exit_code == 0, result.output
    assert "37 emptied (dedupe key kept), 12 deleted, in " in result.output
    # Never one table-wide statement: each transaction touched at most a batch of rows.
    largest = int(result.output.split("(the largest: ")[1].split(")")[0])
    assert 0 < largest <= BATCH
    if not database_url.startswith("sqlite"):  # SQLite's batches ride in the group commit's cursor
        assert statements.touched and max(statements.touched) <= BATCH
        assert sum(statements.touched) == 37 + 12
    stripped = rows(app, state="pruned")
    assert len(stripped) == 37  # 35 handled and 2 dead webhooks
    assert all(r["payload"] == PRUNED_PAYLOAD and r["app_user_id"] is None and r["upstream_user_id"] is None
               and r["error"] is None and r["event_id"] for r in stripped)
    assert rows(app, kind="callback") == []
    for waiting in ("pending", "failed", "handling"):
        kept = rows(app, state=waiting)
        assert len(kept) == 3 and all("George" in r["payload"] for r in kept)
    recent = rows(app, state="handled")
    assert [r["event_id"] for r in recent] == [f"recent-handled-{i}" for i in range(4)]


def test_a_redelivery_of_a_pruned_webhook_is_answered_as_a_duplicate(sandbox, tmp_path, database_url):
    app = retaining_app(sandbox, tmp_path, database_url)
    event = make_event("USER_CREATED", {"userId": "smile-bob", "loginName": "Bob"})
    body, headers = signed_webhook(event, WEBHOOK_SECRET)
    with serve(app) as served, httpx.Client(base_url=served.url, timeout=30) as http:
        first = http.post("/wink/webhooks", content=body, headers=headers)
        assert first.status_code == 200 and first.json()["status"] != "duplicate"
        get_state(app).wait_for_handlers()
        with get_state(app).store.engine.begin() as conn:  # it arrived 100 days ago
            conn.execute(events.update().values(received_at=utcnow() - timedelta(days=100)))
        assert app.test_cli_runner().invoke(args=["wink", "events", "prune"]).exit_code == 0
        assert rows(app, event_id=event["id"])[0]["state"] == "pruned"
        again = http.post("/wink/webhooks", content=body, headers=headers)
        assert again.status_code == 200 and again.json() == {"status": "duplicate", "eventId": event["id"]}
        listed = http.get("/wink/events", headers=ADMIN).json()
    stored = rows(app, event_id=event["id"])
    assert len(stored) == 1 and stored[0]["state"] == "pruned" and "Bob" not in stored[0]["payload"]
    assert listed["events"] == []  # a pruned event is not listed


def test_a_pruned_webhook_is_deleted_once_past_the_dedupe_window(sandbox, tmp_path, database_url):
    app = retaining_app(sandbox, tmp_path, database_url, WINK_EVENT_RETENTION="1 day",
                        WINK_EVENT_DEDUPE_WINDOW="30 days")
    seed(app, count=15, age=timedelta(days=40), prefix="past")
    seed(app, count=15, age=timedelta(days=10), prefix="within")
    assert app.test_cli_runner().invoke(args=["wink", "events", "prune"]).exit_code == 0
    kept = rows(app)
    assert {r["event_id"].split("-")[0] for r in kept} == {"within"}
    assert len(kept) == 15 and {r["state"] for r in kept} == {"pruned"}
    # A later pass deletes those too, once their window has passed.
    with get_state(app).store.engine.begin() as conn:
        conn.execute(events.update().values(received_at=utcnow() - timedelta(days=31)))
    result = app.test_cli_runner().invoke(args=["wink", "events", "prune"])
    assert "0 emptied (dedupe key kept), 15 deleted, in 2 batch(es) of at most 10 rows (the largest: 10)" \
        in result.output
    assert rows(app) == []


def test_past_a_dedupe_window_shorter_than_the_retention_webhooks_are_deleted_outright(sandbox, tmp_path):
    app, _wink = make_host_app(sandbox, tmp_path, WINK_EVENT_RETENTION="90 days", WINK_PRUNE_BATCH=BATCH)
    assert get_state(app).settings.retention.dedupe_window == timedelta(days=30)
    seed(app, count=12, age=timedelta(days=91))
    result = app.test_cli_runner().invoke(args=["wink", "events", "prune"])
    assert "0 emptied (dedupe key kept), 12 deleted" in result.output and rows(app) == []


def test_pruned_events_are_listed_only_when_asked_for(sandbox, tmp_path):
    app = retaining_app(sandbox, tmp_path, f"sqlite:///{tmp_path / 'wink.sqlite3'}")
    seed(app, count=3, age=timedelta(days=100))
    seed(app, count=2, age=timedelta(days=1), prefix="recent")
    runner = app.test_cli_runner()
    runner.invoke(args=["wink", "events", "prune"])
    shown = [json.loads(line) for line in runner.invoke(args=["wink", "events"]).output.splitlines()]
    assert [e["eventId"] for e in shown] == ["recent-handled-1", "recent-handled-0"]
    pruned = runner.invoke(args=["wink", "events", "--state", "pruned", "--oneline"])
    assert pruned.exit_code == 0 and len(pruned.output.splitlines()) == 3 and "pruned" in pruned.output
    with app.test_client() as client:
        listed = client.get("/wink/events", headers=ADMIN).get_json()["events"]
    assert [e["eventId"] for e in listed] == ["recent-handled-1", "recent-handled-0"]


def test_nothing_is_pruned_when_retention_is_off(sandbox, tmp_path):
    app, _wink = make_host_app(sandbox, tmp_path)
    seed(app, count=5, age=timedelta(days=3650))
    result = app.test_cli_runner().invoke(args=["wink", "events", "prune"])
    assert "Nothing expires" in result.output and len(rows(app, state="handled")) == 5


def test_the_dry_run_says_what_expires_when_and_changes_nothing(sandbox, tmp_path):
    app = retaining_app(sandbox, tmp_path, f"sqlite:///{tmp_path / 'wink.sqlite3'}",
                        WINK_FETCHED_DATA_RETENTION="30 days")
    seed(app, count=12, age=timedelta(days=100))
    seed(app, count=1, age=timedelta(days=80), prefix="soon")
    result = app.test_cli_runner().invoke(args=["wink", "events", "prune", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("handled and dead events (payloads, user ids, errors): kept 90 days "
                               "(WINK_EVENT_RETENTION); 12 due now; the oldest kept expires ")
    assert any(line.startswith("Smile Wink: user data (identities, employments, incomes): kept 30 days")
               for line in lines)
    assert len(rows(app, state="handled")) == 13


# -- fetched data ------------------------------------------------------------------------------


def test_fetched_data_expires_by_its_own_setting(sandbox, tmp_path, database_url):
    from flask_wink.providers.smile_id.results import FINAL_RESULT
    from flask_wink.providers.smile_wink.archives import archives
    from flask_wink.providers.smile_wink.userdata import user_data
    from flask_wink.providers.ucw.connections import connections

    app = retaining_app(
        sandbox, tmp_path, database_url,
        WINK_EVENT_RETENTION=None,
        WINK_PROVIDERS="smile_wink,ucw,smile_id",
        WINK_UCW_URL="http://127.0.0.1:9",
        WINK_SMILE_ID_PARTNER_ID="085", WINK_SMILE_ID_API_KEY="k-1",
        WINK_SMILE_ID_PRIVACY_URL="https://host.test/privacy", WINK_PUBLIC_URL="http://127.0.0.1:5000",
        WINK_FETCHED_DATA_RETENTION="30 days",
        WINK_UCW_DATA_RETENTION="7 days",
    )
    now = utcnow()
    store = get_state(app).store
    store.init()
    with store.engine.begin() as conn:
        conn.execute(user_data.insert(), [
            {"upstream_user_id": f"smile-{age}", "app_user_id": "alice",
             "fetched_at": now - timedelta(days=age), "document": '{"incomes": [{"employer": "Acme"}]}'}
            for age in (40, 20)
        ])
        conn.execute(archives.insert(), [
            {"archive_id": f"ar-{age}", "upstream_user_id": "smile-40", "status": "ANALYZED",
             "file_names": '["payslip.pdf"]', "analysis": '{"netPay": 1200}',
             "created_at": now - timedelta(days=age), "updated_at": now} for age in (40, 20)
        ])
        conn.execute(connections.insert(), [
            {"account_id": f"acct-{age}", "upstream_user_id": "ucw-alice", "aggregator": "mx",
             "connection_id": f"c-{age}", "confirmed_at": now - timedelta(days=age),
             "fetched_at": now - timedelta(days=age), "document": '{"accounts": [{"accountNumber": "1234"}]}'}
            for age in (10, 3)
        ])
        conn.execute(events.insert(), [
            {"kind": "webhook", "name": FINAL_RESULT, "event_id": f"sid-{age}", "provider": "smile_id",
             "app_user_id": "alice", "payload": '{"ResultText": "Enroll User"}',
             "received_at": now - timedelta(days=age), "state": "handled", "attempts": 1}
            for age in (40, 20)
        ])
    seed(app, count=2, age=timedelta(days=400))  # events themselves are kept: WINK_EVENT_RETENTION is off
    result = app.test_cli_runner().invoke(args=["wink", "events", "prune"])
    assert result.exit_code == 0, result.output
    assert "smile_wink: user data (identities, employments, incomes): 1 row(s) expired." in result.output
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(user_data.c.upstream_user_id)).scalars().all() == ["smile-20"]
        shown = {r.archive_id: (r.file_names, r.analysis) for r in conn.execute(sa.select(archives))}
        assert shown == {"ar-40": ("[]", None), "ar-20": ('["payslip.pdf"]', '{"netPay": 1200}')}
        documents = dict(conn.execute(sa.select(connections.c.account_id, connections.c.document)).all())
        assert documents["acct-10"] is None and "1234" in documents["acct-3"]
    results = {r["event_id"]: r for r in rows(app, provider="smile_id")}
    assert results["sid-40"]["state"] == "pruned" and "Enroll" not in results["sid-40"]["payload"]
    assert results["sid-20"]["state"] == "handled"
    assert len(rows(app, provider="smile_wink", state="handled")) == 2
    schedule = app.test_cli_runner().invoke(args=["wink", "events", "prune", "--dry-run"]).output
    assert "Universal Connect Widget: FDX data (accounts, balances, transactions): kept 7 days" in schedule
    assert "handled and dead events (payloads, user ids, errors): kept until deleted (off)" in schedule


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key,value", [
    ("WINK_EVENT_RETENTION", "ninety days"),
    ("WINK_EVENT_RETENTION", "90"),
    ("WINK_EVENT_RETENTION", "0 days"),
    ("WINK_FETCHED_DATA_RETENTION", "3 fortnights"),
    ("WINK_EVENT_DEDUPE_WINDOW", "off"),
    ("WINK_PRUNE_BATCH", "lots"),
    ("WINK_PRUNE_PACE", "0"),
])
def test_a_bad_retention_setting_is_one_line_saying_the_fix(sandbox, tmp_path, key, value):
    with pytest.raises(ConfigurationError) as raised:
        make_host_app(sandbox, tmp_path, **{key: value})
    message = str(raised.value)
    assert "\n" not in message and message.startswith(key)
    assert '"30 days"' in message or '"90 days"' in message or "whole number" in message or "0.02" in message


HOST_APP = '''
from flask import Flask
from flask_wink import Wink

app = Flask(__name__)
app.config.update(SECRET_KEY="s", WINK_PROVIDERS="smile_wink", WINK_API_KEY="k", WINK_API_SECRET="s",
                  WINK_WEBHOOK_SECRETS="whsec",
                  WINK_EVENT_RETENTION="ninety days")
Wink(app)
'''


def test_a_bad_retention_under_the_flask_command_is_one_line(tmp_path):
    (tmp_path / "hostapp.py").write_text(HOST_APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "WINK_"))}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "hostapp", "wink", "events", "prune"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        'Error: WINK_EVENT_RETENTION must be a duration like "90 days", "12 hours" or "2 weeks" '
        "(or \"off\"), not 'ninety days'."
    ]


# -- in the background -------------------------------------------------------------------------


def test_the_serving_sweep_prunes_while_webhooks_keep_arriving(sandbox, tmp_path, database_url):
    # At a pace of 5% (a pause after each batch 19 times as long as its statements took), the 30
    # batches are done in seconds while four senders keep the writer busy.
    app = retaining_app(sandbox, tmp_path, database_url, WINK_HANDLE_EVENTS="background",
                        WINK_SWEEP_INTERVAL=0.2, WINK_PRUNE_BATCH=100, WINK_PRUNE_PACE=0.05)
    seed(app, count=3000, age=timedelta(days=100))
    answers: list[int] = []
    stop = threading.Event()

    def send() -> None:
        with httpx.Client(base_url=served.url, timeout=30) as http:
            while not stop.is_set():
                event = make_event("USER_CREATED", {"userId": "smile-x"})
                body, headers = signed_webhook(event, WEBHOOK_SECRET)
                answers.append(http.post("/wink/webhooks", content=body, headers=headers).status_code)

    with serve(app) as served:
        senders = [threading.Thread(target=send) for _ in range(4)]
        for sender in senders:
            sender.start()
        started = time.monotonic()
        while len(rows(app, state="pruned")) < 3000 and time.monotonic() < started + 60:
            time.sleep(0.2)
        took = time.monotonic() - started
        stop.set()
        for sender in senders:
            sender.join()
        get_state(app).wait_for_handlers()
    assert answers and set(answers) == {200}
    assert len(rows(app, state="pruned")) == 3000, f"{took:.1f} s"
    new = [r for r in rows(app) if r["state"] != "pruned"]
    assert len(new) == len(answers) and {r["state"] for r in new} == {"handled"}


def test_a_paced_pass_on_sqlite_pauses_for_its_statements_not_for_the_groups_ahead_of_it(sandbox, tmp_path):
    # Each batch rides in the store's group commit, queued behind the webhooks' groups (here
    # groups that take 0.3 s each): the pause at a pace of 5% is 19 times what the batch's
    # statements took, a few milliseconds, not 19 times its wait for its group (5.7 s a batch).
    app = retaining_app(sandbox, tmp_path, f"sqlite:///{tmp_path / 'wink.sqlite3'}", WINK_PRUNE_PACE=0.05)
    seed(app, count=4 * BATCH, age=timedelta(days=100))
    state = get_state(app)
    stop = threading.Event()

    def slow_group(conn) -> None:
        time.sleep(0.3)

    def keep_writing() -> None:
        while not stop.is_set():
            state.store.writer.run(slow_group)

    writers = [threading.Thread(target=keep_writing) for _ in range(2)]
    for writer in writers:
        writer.start()
    try:
        started = time.monotonic()
        report = prune(state, paced=True)
        took = time.monotonic() - started
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    assert report.events.stripped == 4 * BATCH and report.events.batches == 4
    assert took < 8, f"4 batches took {took:.1f} s"


def test_the_worker_prunes(sandbox, tmp_path, database_url):
    app = retaining_app(sandbox, tmp_path, database_url, WINK_HANDLE_EVENTS="worker")
    seed(app, count=25, age=timedelta(days=100))
    seed(app, count=2, age=timedelta(days=1), state="pending", prefix="new")
    result = app.test_cli_runner().invoke(args=["wink", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert len(rows(app, state="pruned")) == 25
    assert len(rows(app, state="handled")) == 2  # the pending ones, handled now, are recent: kept


# -- what expires when, where people look ------------------------------------------------------


def test_the_quickstart_dashboard_says_what_expires_when(quickstart_app):
    app = quickstart_app(WEBHOOK_SECRET="s", WINK_EVENT_RETENTION="90 days",
                         WINK_FETCHED_DATA_RETENTION="30 days", WINK_UCW_DATA_RETENTION="7 days")
    seed(app, count=2, age=timedelta(days=10))
    with app.test_client() as client:
        page = client.get("/").get_data(as_text=True)
    assert "How long data is kept" in page
    assert "handled and dead events (payloads, user ids, errors)</td>" in page
    assert "90 days <span class=\"muted\">(<code>WINK_EVENT_RETENTION</code>)</span>" in page
    oldest = rows(app)[0]["received_at"]
    assert (oldest.replace(tzinfo=None) + timedelta(days=90)).isoformat()[:16] in page
    assert "Universal Connect Widget: FDX data (accounts, balances, transactions)</td>" in page
    assert ("7 days <span class=\"muted\">(<code>WINK_UCW_DATA_RETENTION or WINK_FETCHED_DATA_RETENTION"
            "</code>)") in page


def test_smile_retention_lists_the_user_data_kept_here(sandbox, tmp_path):
    from flask_wink.providers.smile_wink.userdata import user_data

    app = retaining_app(sandbox, tmp_path, f"sqlite:///{tmp_path / 'wink.sqlite3'}",
                        WINK_SMILE_WINK_DATA_RETENTION="14 days")
    store = get_state(app).store
    store.init()
    store.link_user("smile_wink", "alice", "smile-alice")
    fetched = utcnow().replace(microsecond=0) - timedelta(days=4)
    with store.engine.begin() as conn:
        conn.execute(user_data.insert().values(upstream_user_id="smile-alice", app_user_id="alice",
                                               fetched_at=fetched, document="{}"))
    result = app.test_cli_runner().invoke(args=["wink", "retention", "--json"])
    items = [json.loads(line) for line in result.output.splitlines()]
    assert items == [{
        "kind": "stored", "id": "smile-alice", "smileUserId": "smile-alice",
        "startedAt": fetched.isoformat().replace("+00:00", "Z"),
        "expiresAt": (fetched + timedelta(days=14)).isoformat().replace("+00:00", "Z"),
        "appUserId": "alice", "secondsLeft": items[0]["secondsLeft"],
    }]
    assert 9 * 86400 < items[0]["secondsLeft"] <= 10 * 86400
    text = app.test_cli_runner().invoke(args=["wink", "retention"]).output
    assert "user data kept here smile-alice of alice (Smile smile-alice): in 9 d" in text


@pytest.mark.parametrize("filters", [{}, {"after_id": 0}])
def test_the_events_listing_skips_pruned_rows_by_its_partial_index(sandbox, tmp_path, database_url, filters):
    # Pruned rows stay for their dedupe key; the listing leaves them out through
    # ix_wink_events_listed (state <> 'pruned'), not by walking every id past them.
    app = retaining_app(sandbox, tmp_path, database_url)
    seed(app, count=3 * BATCH, age=timedelta(days=100))
    seed(app, count=2, age=timedelta(days=1), prefix="recent")
    app.test_cli_runner().invoke(args=["wink", "events", "prune"])
    store = get_state(app).store
    seen: list[tuple[str, object]] = []

    def listing(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "wink_events" in statement:
            seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", listing)
    try:
        listed = store.list_events(**filters)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", listing)
    assert sorted(e.event_id for e in listed) == ["recent-handled-0", "recent-handled-1"]
    (statement, parameters), = seen
    explain = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: the planner would read it all
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(explain + statement, parameters))
    assert "ix_wink_events_listed" in plan, plan


# -- fetched data under encryption at rest ------------------------------------------------------


def _old_archives(app, count: int) -> None:
    from flask_wink.providers.smile_wink.archives import archives

    store = get_state(app).store
    store.init()
    now = utcnow()
    with store.engine.begin() as conn:
        conn.execute(archives.insert(), [
            {"archive_id": f"ar-{i}", "upstream_user_id": "smile-1", "status": "ANALYZED",
             "file_names": '["payslip.pdf"]', "analysis": '{"netPay": 1200}',
             "created_at": now - timedelta(days=40), "updated_at": now} for i in range(count)])


def test_archives_cleared_once_under_encryption_and_a_pass_ends(sandbox, tmp_path, database_url):
    """An encrypted column holds another text at every write: 'cleared already' is decided on the
    values read, never by comparing the column in SQL (which held for every row, so each pass
    cleared the same rows again and one full batch of them never ended)."""
    from flask_wink.store.encryption import generate_key

    app = retaining_app(sandbox, tmp_path, database_url, WINK_EVENT_RETENTION=None,
                        WINK_FETCHED_DATA_RETENTION="30 days", WINK_ENCRYPTION_KEYS=[generate_key()],
                        WINK_PRUNE_BATCH=2)
    _old_archives(app, 5)
    label = "smile_wink: uploaded files' names and payslip analyses"
    passes: list[int] = []

    def run() -> None:
        with app.app_context():
            for _ in range(2):
                passes.append(prune(get_state(app)).fetched[label])

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "a pass over cleared archives did not end"
    assert passes == [5, 0]
    with app.app_context():
        assert prune(get_state(app), dry_run=True).fetched[label] == 0
        smile = [item for item in schedule(get_state(app)) if item["what"].startswith("Smile")]
    assert smile and all(item["next"] is None for item in smile if "files" in item["what"])
