"""Failed events retry by themselves: after a delay that grows by a factor, with jitter, up to a
cap; dead once their attempts ran out (listed, retryable by hand); run once however many workers
race for a due retry; found through an index. The clock is the app's (``WinkState.clock``), moved
by the tests instead of sleeping."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import httpx
import pytest
import sqlalchemy as sa

from conftest import WEBHOOK_SECRET, make_host_app
from flask_wink import get_state, signals
from flask_wink.pipeline import take_over_lapsed
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook
from flask_wink.providers.ucw import CONNECTED, UNCONFIRMED, connection_key
from flask_wink.providers.ucw.testing import run_ucw_sandbox
from flask_wink.store import utcnow
from flask_wink.testing import serve
from test_ucw import log_in
from ucw_host import DataApiDown, make_ucw_app


class Downstream:
    """A receiver of ``account_connected`` that raises while ``down``; ``runs``: the event ids
    it was called for, in order."""

    def __init__(self) -> None:
        self.down = True
        self.runs: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, sender, **kw) -> None:
        with self.lock:
            self.runs.append(kw["event"].id)
        if self.down:
            raise RuntimeError("downstream is down")


@pytest.fixture
def downstream():
    receiver = Downstream()
    signals.account_connected.connect(receiver)
    yield receiver
    signals.account_connected.disconnect(receiver)


class Clock:
    """The app's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def worker_app(sandbox, tmp_path, database_url, **config):
    """A host app whose events a worker handles (``flask wink worker --once``), on a clock of its own."""
    app, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=database_url, WINK_HANDLE_EVENTS="worker",
                           **config)
    clock = Clock()
    get_state(app).clock = clock
    return app, clock


def deliver(app, *account_ids: str) -> None:
    """Signed ACCOUNT_CONNECTED webhooks, over loopback."""
    with serve(app) as served, httpx.Client() as http:
        for account_id in account_ids:
            body, headers = signed_webhook(
                make_event("ACCOUNT_CONNECTED", {"userId": "tenant-1", "accountId": account_id,
                                                 "loginName": "George", "providers": ["upwork"]}),
                WEBHOOK_SECRET,
            )
            assert http.post(served.url + "/wink/webhooks", content=body, headers=headers).status_code == 200


def cli(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["wink", *args])
    assert result.exit_code == 0, result.output
    return result.output


def work(app) -> int:
    """One ``flask wink worker --once``; how many events it handled."""
    output = cli(app, "worker", "--once")
    return int(output.split("Handled ")[1].split(" ")[0])


def listed(app, *args: str) -> list[dict]:
    """``flask wink events`` as parsed JSON lines."""
    return [json.loads(line) for line in cli(app, "events", *args).splitlines()]


def wait_of(event: dict, clock: Clock) -> float:
    """Seconds from the clock's now to the event's next attempt."""
    return datetime.fromisoformat(event["nextAttemptAt"].replace("Z", "+00:00")).timestamp() - clock.now


@pytest.fixture
def make_app(sandbox, tmp_path, database_url):
    def build(**config):
        return worker_app(sandbox, tmp_path, database_url, **config)
    return build


def test_a_failed_event_is_retried_by_the_worker_once_its_delay_is_due(make_app, downstream):
    app, clock = make_app(WINK_RETRY_FIRST_DELAY=30)
    deliver(app, "a-1")
    assert work(app) == 1
    [failed] = listed(app, "--state", "failed")
    assert "downstream is down" in failed["error"]
    assert work(app) == 0  # not due yet
    clock.now += 30.01
    downstream.down = False  # the downstream is back
    assert work(app) == 1
    [handled] = listed(app)
    assert (handled["state"], handled["attempts"], handled["error"]) == ("handled", 2, None)
    assert downstream.runs == [failed["id"], failed["id"]]


def test_the_delay_grows_by_the_factor_with_jitter_up_to_the_cap(make_app, downstream):
    app, clock = make_app(WINK_RETRY_FIRST_DELAY=10, WINK_RETRY_FACTOR=3, WINK_RETRY_MAX_DELAY=100,
                          WINK_RETRY_ATTEMPTS=6)
    deliver(app, "a-1", "a-2")
    started = clock.now
    for attempt, ceiling in enumerate([10, 30, 90, 100, 100], start=1):
        assert work(app) == 2
        failed = listed(app, "--state", "failed")
        assert [e["attempts"] for e in failed] == [attempt, attempt]
        waits = [wait_of(e, clock) for e in failed]
        # Jitter: up to half the wait is taken off, at random, so the two do not come back together.
        assert all(ceiling / 2 - 0.01 <= wait <= ceiling + 0.01 for wait in waits), (attempt, waits)
        assert waits[0] != waits[1]
        clock.now += max(waits) + 0.01
    assert clock.now - started <= 10 + 30 + 90 + 100 + 100 + 1


def test_after_its_attempts_run_out_an_event_is_dead_and_only_retried_by_hand(make_app, downstream):
    app, clock = make_app(WINK_RETRY_FIRST_DELAY=1, WINK_RETRY_ATTEMPTS=2)
    deliver(app, "a-1")
    assert work(app) == 1
    clock.now += 2
    assert work(app) == 1
    [dead] = listed(app, "--state", "dead")
    assert (dead["attempts"], dead["nextAttemptAt"]) == (2, None)
    assert listed(app, "--state", "failed") == []
    clock.now += 365 * 24 * 3600
    assert work(app) == 0  # a dead event waits for someone
    downstream.down = False
    output = cli(app, "events", "retry", "--id", str(dead["id"]))
    assert "Retried 1 failed event(s); handled 1;" in output, output
    [handled] = listed(app)
    assert (handled["state"], handled["attempts"]) == ("handled", 3)


def test_two_workers_racing_for_a_due_retry_run_it_once(sandbox, tmp_path, database_url, downstream):
    # Two apps on one database, each with its own engine and process name (as two processes
    # have), sweep at the same moment for the same due retries.
    first, clock = worker_app(sandbox, tmp_path / "one", database_url, WINK_RETRY_FIRST_DELAY=1)
    second, _ = worker_app(sandbox, tmp_path / "two", database_url, WINK_RETRY_FIRST_DELAY=1)
    get_state(second).clock = clock
    deliver(first, *[f"a-{i}" for i in range(20)])
    assert work(first) == 20
    downstream.down = False
    downstream.runs.clear()
    clock.now += 2
    barrier = threading.Barrier(2)
    taken: list[int] = []

    def sweep(app):
        barrier.wait()
        taken.append(take_over_lapsed(app, get_state(app), batch=3))

    threads = [threading.Thread(target=sweep, args=(app,)) for app in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(taken) == 20
    assert sorted(downstream.runs) == sorted(set(downstream.runs)) and len(downstream.runs) == 20
    assert {e["state"] for e in listed(first, "--limit", "50")} == {"handled"}


def test_claiming_finds_the_due_retries_through_their_index(make_app):
    app, _ = make_app()
    with app.app_context():
        store = get_state().store
        store.init()
    claimable = store._due_retries(utcnow()).limit(50)
    query = store.statements.driver_statement(claimable)
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if store.dialect == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + query.sql, query.params())
            plan = " ".join(row[-1] for row in cursor.fetchall())
        else:
            cursor.execute("SET enable_seqscan = off")  # a near empty table: the plan, not the cost
            cursor.execute("EXPLAIN " + query.sql, query.params())
            plan = " ".join(row[0] for row in cursor.fetchall())
    finally:
        raw.close()
    assert "ix_wink_events_retry" in plan and "SCAN wink_events" not in plan, plan


SECONDS = "must be a number of seconds, not"
FACTOR = "must be a number of 1 or more (2 doubles each wait), not"
ATTEMPTS = "must be a whole number, 1 or more (1: no retries), not"


@pytest.mark.parametrize(("key", "value", "said"), [
    ("WINK_RETRY_FIRST_DELAY", "soon", f"WINK_RETRY_FIRST_DELAY {SECONDS} 'soon'."),
    ("WINK_RETRY_MAX_DELAY", -1, f"WINK_RETRY_MAX_DELAY {SECONDS} -1."),
    ("WINK_RETRY_MAX_DELAY", "inf", f"WINK_RETRY_MAX_DELAY {SECONDS} 'inf'."),
    ("WINK_RETRY_FACTOR", 0.5, f"WINK_RETRY_FACTOR {FACTOR} 0.5."),
    ("WINK_RETRY_ATTEMPTS", 0, f"WINK_RETRY_ATTEMPTS {ATTEMPTS} 0."),
    ("WINK_RETRY_ATTEMPTS", 2.5, f"WINK_RETRY_ATTEMPTS {ATTEMPTS} 2.5."),
])
def test_a_bad_retry_setting_stops_the_app_with_one_line(sandbox, tmp_path, key, value, said):
    with pytest.raises(RuntimeError) as refused:
        make_host_app(sandbox, tmp_path, **{key: value})
    assert str(refused.value) == said


def test_the_retry_column_and_index_are_made_by_the_migration(make_app):
    app, _ = make_app()
    with app.app_context():
        store = get_state().store
        store.init()
        inspector = sa.inspect(store.engine)
        columns = {c["name"] for c in inspector.get_columns("wink_events")}
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("wink_events")}
    assert "next_attempt_at" in columns
    assert indexes["ix_wink_events_retry"] == ["next_attempt_at"]
    assert indexes["ix_wink_events_state"] == ["state", "id"]


# -- UCW: a confirmation that failed while UCW's data API was down ---------------------------------


def test_a_confirmation_that_failed_while_ucw_was_down_is_retried_by_the_sweep(tmp_path):
    with run_ucw_sandbox() as ucw:
        outage = ucw.app.wsgi_app = DataApiDown(ucw.app.wsgi_app, down=True)
        # The serving process handles events after the answer (the default) and sweeps on every
        # request (the interval is made tiny here: the clock of the retries is moved by hand).
        app = make_ucw_app(ucw.url, tmp_path, WTF_CSRF_ENABLED=False, WINK_SWEEP_INTERVAL=0.001)
        state = get_state(app)
        clock = state.clock = Clock()
        with serve(app) as host, httpx.Client(base_url=host.url, headers={"X-User": "ada"}) as http:
            widget = http.post("/wink/ucw/token").json()
            _, member = log_in(widget["widgetUrl"])
            metadata = {k: member[k] for k in ("ucpInstitutionId", "aggregator", "connectionId")}
            relayed = http.post("/wink/ucw/callbacks",
                                json={"name": "connect/memberConnected", "args": metadata})
            assert relayed.status_code == 201
            key = connection_key("mx", member["connectionId"])

            def status() -> str:
                assert state.wait_for_handlers(30)
                [mine] = http.get("/wink/ucw/connections").json()["connections"]
                assert mine["key"] == key
                return mine["status"]

            assert status() == UNCONFIRMED
            with app.app_context():
                event = state.store.get_event(relayed.json()["id"])
            assert event.state == "failed" and "503" in event.error
            outage.down = False
            assert status() == UNCONFIRMED  # the retry is not due yet: these sweeps leave it
            clock.now += 30.01
            http.get("/wink/ucw/connections")  # a request: its sweep runs the due retry
            assert status() == CONNECTED
            with app.app_context():
                event = state.store.get_event(relayed.json()["id"])
            assert (event.state, event.attempts) == ("handled", 2)
