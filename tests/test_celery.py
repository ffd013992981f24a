"""``WINK_HANDLE_EVENTS = "celery"``: the example app of docs/production.md ("Several hosts")
served over HTTP, its events handled by real Celery worker processes (``celery worker``, solo
pool) on the local Redis as broker, on a SQLite file and on PostgreSQL. Each test has a queue and
a Redis key prefix of its own; workers are started as subprocesses and stopped by their pid.

What is checked: webhooks are committed before their answer and handled by a worker exactly once
(never by the serving process); a task delivered again does nothing; a failing handler is retried
on the ``WINK_RETRY_*`` schedule, then dead; a worker killed (SIGKILL) mid-task leaves its event to
be handled once by another worker; a task the broker lost is sent again by the serving process's
sweep; a misconfigured celery mode stops ``Wink(app)`` with one line that says the fix.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa
from celery import Celery
from flask import Flask

from flask_wink import Wink, get_state
from flask_wink.errors import ConfigurationError
from flask_wink.provider import INBOUND
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook
from flask_wink.state import HANDED_PREFIX
from flask_wink.tasks import TASK_NAME, _run, task_id
from flask_wink.testing import serve
from postgres import fresh_postgres_database

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("WINK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "celery-webhook-secret"
#: WINK_CLAIM_LEASE of these tests, in seconds: long enough that no handler outlives it on a busy
#: machine (a handler that does is run again, by design), except where a test is about the lease.
LEASE = 10


def example_source() -> str:
    """The ``yourapp.py`` of docs/production.md, as the page shows it."""
    text = (ROOT / "docs" / "production.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(# yourapp\.py\n.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 1, "docs/production.md shows one yourapp.py"
    return blocks[0]


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class Host:
    """The example app served in this process, and Celery workers started beside it."""

    def __init__(self, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
                 lease: float = LEASE) -> None:
        self.tmp_path = tmp_path
        self.lease = lease
        #: The broker's visibility timeout: longer than a task's wait to look again (the lease).
        self.visibility = lease + 3
        self.prefix = f"wink-test-{uuid.uuid4().hex[:12]}"
        (tmp_path / "yourapp.py").write_text(example_source())
        self.env = {
            "SECRET_KEY": "celery-test",
            "API_KEY": "key",
            "API_SECRET": "secret",
            "WEBHOOK_SECRET": SECRET,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": REDIS_URL,
            # Short clocks, so that takeovers and retries happen within a test.
            "FLASK_WINK_CLAIM_LEASE": str(lease),
            "FLASK_WINK_SWEEP_INTERVAL": "1",
            "FLASK_WINK_RETRY_FIRST_DELAY": "0.5",
            "FLASK_WINK_RETRY_FACTOR": "1",
            "FLASK_WINK_RETRY_ATTEMPTS": "3",
            # A queue and Redis keys of this test's own; a message a worker took and never
            # acknowledged goes back to the queue after `visibility` s.
            "FLASK_CELERY__task_default_queue": self.prefix,
            "FLASK_CELERY__broker_connection_retry_on_startup": "true",
            "FLASK_CELERY__broker_transport_options": json.dumps({
                "global_keyprefix": f"{self.prefix}:", "visibility_timeout": self.visibility,
                "unacked_restore_interval": 1, "unacked_restore_throttle": 1,
            }),
        }
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        # The web side: the page's module, loaded under a name of its own in this process.
        spec = importlib.util.spec_from_file_location(f"yourapp_{self.prefix[-12:]}", tmp_path / "yourapp.py")
        self.module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)
        self.app: Flask = self.module.app
        self.celery: Celery = self.module.celery_app
        self.state = get_state(self.app)
        self.engine = self.state.store.engine
        self.workers: list[tuple[subprocess.Popen, Path]] = []

    # -- workers ----------------------------------------------------------------------------

    def start_worker(self, **extra_env: str) -> subprocess.Popen:
        """A ``celery worker`` process on this test's queue, once it says it is ready."""
        number = len(self.workers) + 1
        log_path = self.tmp_path / f"worker-{number}.log"
        env = {**os.environ, **self.env, **extra_env,
               "PYTHONPATH": os.pathsep.join([str(self.tmp_path), str(ROOT / "tests"), str(ROOT)])}
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "celery_worker:celery_app", "worker",
                 "--pool=solo", "--loglevel=INFO", "-n", f"{self.prefix}-{number}@%h",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=self.tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        self.workers.append((process, log_path))

        def ready() -> bool:
            assert process.poll() is None, f"the worker exited at start:\n{log_path.read_text()}"
            return " ready." in log_path.read_text()

        wait_for(ready, "the Celery worker to be ready", timeout=60)
        return process

    def worker_log(self, process: subprocess.Popen) -> str:
        return next(path for p, path in self.workers if p is process).read_text()

    def stop_workers(self) -> None:
        for process, _ in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGQUIT)  # Celery's cold shutdown: the test is over
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)

    # -- the web side -----------------------------------------------------------------------

    def deliver(self, http: httpx.Client, url: str, account_id: str, event_id: str | None = None) -> dict:
        event = make_event("ACCOUNT_CREATED", {"userId": "tenant-1", "accountId": account_id,
                                               "loginName": "x", "providers": ["grab"]}, event_id)
        body, headers = signed_webhook(event, SECRET)
        answer = http.post(f"{url}/wink/webhooks", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    # -- what happened ----------------------------------------------------------------------

    def events(self) -> dict[str, dict[str, Any]]:
        """Every stored event by its upstream id: state, attempts, claimed_by, error."""
        query = sa.text("SELECT event_id, id, state, attempts, claimed_by, error, next_attempt_at "
                        "FROM wink_events")
        with self.engine.connect() as conn:
            return {row.event_id: dict(row._mapping) for row in conn.execute(query)}

    def runs(self, event_id: str | None = None) -> list[dict[str, Any]]:
        """The handler runs the workers recorded (tests/celery_worker.py), in order."""
        if not sa.inspect(self.engine).has_table("test_celery_runs"):
            return []
        query = "SELECT event_id, attempt, pid, outcome, at FROM test_celery_runs"
        params = {}
        if event_id is not None:
            query += " WHERE event_id = :event_id"
            params["event_id"] = event_id
        with self.engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(sa.text(query), params)]
        return sorted(rows, key=lambda row: (row["at"], row["attempt"]))

    def close(self) -> None:
        self.stop_workers()
        self.state.close()
        self.celery.close()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wink.sqlite3'}"
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture
def host(request, tmp_path, database_url, monkeypatch) -> Iterator[Host]:
    """The example app; a test marked ``lease(seconds)`` runs it on a lease of its own."""
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is needed at {REDIS_URL}: `make redis` starts it, or set WINK_TEST_REDIS_URL.")
    marker = request.node.get_closest_marker("lease")
    made = Host(tmp_path, database_url, monkeypatch, *(marker.args if marker else ()))
    try:
        yield made
    finally:
        made.close()


def handled_or_dead(host: Host, count: int) -> Callable[[], bool]:
    def check() -> bool:
        states = [event["state"] for event in host.events().values()]
        return len(states) == count and all(state in ("handled", "dead") for state in states)

    return check


@pytest.mark.lease(3)
def test_webhooks_are_stored_before_the_answer_and_handled_once_by_a_worker(host):
    with serve(host.app) as served, httpx.Client() as http:
        answers = [host.deliver(http, served.url, f"account-{i}", f"evt-{i}") for i in range(20)]
        # No worker runs yet: each event is committed, handed to Celery, and waits for it.
        stored = host.events()
        assert [a["status"] for a in answers] == ["stored"] * 20
        assert set(stored) == {f"evt-{i}" for i in range(20)}
        assert {e["state"] for e in stored.values()} == {"handling"}
        assert all(e["claimed_by"].startswith("celery@") for e in stored.values())
        # A redelivered webhook is acknowledged, not stored again, and sends no second task.
        assert host.deliver(http, served.url, "account-3", "evt-3")["status"] == "duplicate"

        # The tasks wait in the queue past the lease (a backlog): the worker's sweep, after its
        # first task, sends the events it has not reached yet again; each is still handled once.
        time.sleep(host.lease + 1)
        worker = host.start_worker()
        wait_for(handled_or_dead(host, 20), "the worker to handle every event")

    events = host.events()
    assert {e["state"] for e in events.values()} == {"handled"}
    runs = host.runs()
    assert sorted(run["event_id"] for run in runs) == sorted(f"evt-{i}" for i in range(20))
    assert {run["pid"] for run in runs} == {worker.pid}  # the worker ran them, not this process
    again = {key: e for key, e in events.items() if e["attempts"] != 1}
    assert again == {}, host.worker_log(worker)  # no attempt was counted twice

    # Each event's task ran its handlers once (copies a sweep sent, when the worker started after
    # the lease, found their event taken: 'skipped').
    log = host.worker_log(worker)
    for event in events.values():
        done = f"Task {TASK_NAME}[{task_id(event['id'])}] succeeded"
        outcomes = [line.rsplit(": ", 1)[-1] for line in log.splitlines() if done in line]
        assert outcomes.count("'handled'") == 1 and set(outcomes) <= {"'handled'", "'skipped'"}, outcomes

    # The same task delivered again (a broker's redelivery) finds its event handled: nothing runs.
    event = events["evt-7"]
    done = f"Task {TASK_NAME}[{task_id(event['id'])}] succeeded"
    before = host.worker_log(worker).count(done)
    host.celery.send_task(TASK_NAME, args=[event["id"]], task_id=task_id(event["id"]))
    wait_for(lambda: host.worker_log(worker).count(done) > before, "the redelivered task to run")
    last = [line for line in host.worker_log(worker).splitlines() if done in line][-1]
    assert last.endswith(": 'skipped'")
    assert len(host.runs("evt-7")) == 1
    assert host.events()["evt-7"]["attempts"] == 1


def test_a_failing_handler_is_retried_on_the_schedule_then_dead(host):
    with serve(host.app) as served, httpx.Client() as http:
        for account in ("fail-once-1", "fail-always-1", "fine-1"):
            host.deliver(http, served.url, account, f"evt-{account}")
    host.start_worker()
    wait_for(handled_or_dead(host, 3), "the retries to run out", timeout=60)

    events = host.events()
    assert events["evt-fine-1"]["state"] == "handled"
    assert events["evt-fail-once-1"]["state"] == "handled"
    assert events["evt-fail-once-1"]["attempts"] == 2
    dead = events["evt-fail-always-1"]
    assert dead["state"] == "dead" and dead["attempts"] == 3
    assert "the downstream is down" in dead["error"] and dead["next_attempt_at"] is None

    once = host.runs("evt-fail-once-1")
    assert [(r["attempt"], r["outcome"]) for r in once] == [(1, "failed"), (2, "ok")]
    always = host.runs("evt-fail-always-1")
    assert [(r["attempt"], r["outcome"]) for r in always] == [(1, "failed"), (2, "failed"), (3, "failed")]
    # Each retry waited for its turn: 0.5 s (WINK_RETRY_FIRST_DELAY), less up to half of it.
    for runs in (once, always):
        gaps = [b["at"] - a["at"] for a, b in zip(runs, runs[1:], strict=False)]
        assert all(gap >= 0.24 for gap in gaps), gaps
    assert len(host.runs("evt-fine-1")) == 1


@pytest.mark.lease(4)
def test_a_worker_killed_mid_task_leaves_its_event_to_be_handled_once(host):
    hang = host.tmp_path / "hanging.pid"
    with serve(host.app) as served, httpx.Client() as http:
        host.deliver(http, served.url, "hang-1", "evt-hang-1")
        host.deliver(http, served.url, "account-1", "evt-1")
    first = host.start_worker(WINK_TEST_HANG_FILE=str(hang))
    wait_for(hang.exists, "the first worker to start the handler")
    assert int(hang.read_text()) == first.pid
    os.kill(first.pid, signal.SIGKILL)  # mid-task: the message is never acknowledged
    first.wait(timeout=10)
    assert host.events()["evt-hang-1"]["state"] == "handling"

    # Celery delivers the message again (acks_late, after the visibility timeout); the new
    # worker's task takes the event over once the dead worker's claim lapsed.
    second = host.start_worker()
    wait_for(handled_or_dead(host, 2), "the second worker to handle both events", timeout=60)
    events = host.events()
    assert events["evt-hang-1"]["state"] == "handled"
    assert events["evt-hang-1"]["attempts"] == 2  # the takeover counts as an attempt
    runs = host.runs("evt-hang-1")
    assert [(r["pid"], r["attempt"]) for r in runs] == [(second.pid, 2)]
    assert [r["pid"] for r in host.runs("evt-1")] == [second.pid]
    # Later copies of the message (each restore of it, a task looking again) change nothing.
    time.sleep(host.visibility + 1)
    assert len(host.runs("evt-hang-1")) == 1 and host.events()["evt-hang-1"]["state"] == "handled"


@pytest.mark.lease(4)
def test_a_task_the_broker_lost_is_sent_again_by_the_sweep(host):
    with serve(host.app) as served, httpx.Client() as http:
        host.deliver(http, served.url, "lost-1", "evt-lost-1")
        assert host.celery.control.purge() == 1  # the broker loses the event's only message
        worker = host.start_worker()
        time.sleep(host.lease + 1)
        assert host.events()["evt-lost-1"]["state"] == "handling" and host.runs() == []
        # Any request is the serving process's next sweep: the claim lapsed, the task is sent again.
        http.get(f"{served.url}/wink/events")
        wait_for(handled_or_dead(host, 1), "the event to be handled after the sweep")
    event = host.events()["evt-lost-1"]
    assert event["state"] == "handled"
    assert event["attempts"] == 1  # sent again, not taken over: no handler had started
    assert [r["pid"] for r in host.runs("evt-lost-1")] == [worker.pid]


# -- setup, without a worker ----------------------------------------------------------------

#: A Celery app that ``WINK_CELERY_APP = "test_celery:NAMED_CELERY"`` names.
NAMED_CELERY = Celery("named", broker="memory://")


def bare_app(tmp_path, **config) -> Flask:
    app = Flask("celery_setup", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="x", WINK_API_KEY="key", WINK_API_SECRET="secret",
                      WINK_WEBHOOK_SECRETS=[SECRET], **config)
    return app


def one_line_error(app: Flask, **options) -> str:
    with pytest.raises(ConfigurationError) as caught:
        Wink(app, **options)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_celery_mode_without_a_celery_app_says_how_to_give_one(tmp_path):
    message = one_line_error(bare_app(tmp_path, WINK_HANDLE_EVENTS="celery"))
    assert "Wink(app, celery=celery_app)" in message and "WINK_CELERY_APP" in message


def test_a_celery_app_setting_that_names_nothing_says_the_form(tmp_path):
    message = one_line_error(bare_app(tmp_path, WINK_CELERY_APP="no_such_module:celery_app"))
    assert '"module:attribute"' in message
    message = one_line_error(bare_app(tmp_path, WINK_HANDLE_EVENTS="celery"), celery=object())
    assert "not a celery.Celery" in message


def test_celery_mode_without_celery_installed_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "celery", None)  # import celery now raises ImportError
    message = one_line_error(bare_app(tmp_path), celery=NAMED_CELERY)
    assert "pip install 'flask-wink[celery]'" in message


def test_where_the_celery_app_comes_from(tmp_path):
    given = Celery("given", broker="memory://")
    app = bare_app(tmp_path)
    Wink(app, celery=given)
    assert get_state(app).settings.handle_events == "celery"  # a Celery app given: celery mode
    assert TASK_NAME in given.tasks
    assert get_state(app).hand_off.celery_app is given

    app = bare_app(tmp_path, WINK_CELERY_APP="test_celery:NAMED_CELERY")
    Wink(app)
    assert get_state(app).hand_off.celery_app is NAMED_CELERY

    app = bare_app(tmp_path, WINK_HANDLE_EVENTS="celery")
    app.extensions["celery"] = own = Celery("own", broker="memory://")  # Flask's Celery pattern
    Wink(app)
    assert get_state(app).hand_off.celery_app is own

    # Another mode chosen explicitly: the task is registered (a worker may serve other
    # processes), but this process handles its own events.
    other = Celery("other", broker="memory://")
    app = bare_app(tmp_path, WINK_HANDLE_EVENTS="background")
    Wink(app, celery=other)
    assert get_state(app).hand_off is None and get_state(app).handles_events
    assert TASK_NAME in other.tasks


# -- the task's decisions, in this process (a stand-in for Celery's task object) -------------


class Retried(Exception):
    """What the stand-in's ``retry`` returns for the task to raise, as Celery's does."""


class StandInTask:
    def __init__(self, celery_app: Celery) -> None:
        self.app = celery_app
        self.retries: list[dict[str, Any]] = []

    def retry(self, **options: Any) -> Retried:
        self.retries.append(options)
        return Retried(options)


def stored_event(state, account_id: str, claimed_by: str | None) -> int:
    event = make_event("ACCOUNT_CREATED", {"userId": "tenant-1", "accountId": account_id})
    stored = state.store.add_event(provider="smile_wink", kind=INBOUND, name=event["type"], payload=event,
                                   event_id=event["id"], claimed_by=claimed_by)
    return stored.id


def test_a_task_finding_its_event_in_a_live_workers_hands_looks_again_when_that_claim_would_lapse(tmp_path):
    celery_app = Celery("decisions", broker="memory://")
    app = bare_app(tmp_path)
    Wink(app, celery=celery_app)
    state = get_state(app)
    task = StandInTask(celery_app)
    handed = stored_event(state, "a-1", state.handler_name)
    assert state.handler_name.startswith(HANDED_PREFIX)

    assert _run(task, handed) == "handled"
    assert _run(task, handed) == "skipped"  # delivered again: its event is handled
    assert task.retries == [] and state.store.get_event(handed).attempts == 1

    # Another worker took this one (and may have died since): look again when its claim lapses.
    held = stored_event(state, "a-2", state.handler_name)
    assert state.store.claim_event(held, "other-host:1:abc", handed_prefix=HANDED_PREFIX) is not None
    with pytest.raises(Retried):
        _run(task, held)
    assert task.retries[-1]["args"] == [held]
    assert state.claim_lease < task.retries[-1]["countdown"] <= state.claim_lease + 2
    moved = time.time() + state.claim_lease + 5
    state.clock = lambda: moved  # the claim lapsed: the worker that held it died
    assert _run(task, held) == "handled"
    assert state.store.get_event(held).attempts == 2  # a takeover counts an attempt
    state.close()


def test_a_broker_that_is_down_changes_no_answer_and_loses_no_event(tmp_path, caplog):
    down = Celery("down", broker="redis://127.0.0.1:9/0")  # nothing listens there
    down.conf.update(task_publish_retry=False, broker_connection_timeout=1, broker_connection_retry=False)
    app = bare_app(tmp_path)
    Wink(app, celery=down)
    with serve(app) as served, httpx.Client() as http:
        event = make_event("ACCOUNT_CREATED", {"userId": "u", "accountId": "b-1"})
        body, headers = signed_webhook(event, SECRET)
        answer = http.post(f"{served.url}/wink/webhooks", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json()["status"] == "stored"
    event = get_state(app).store.get_event(answer.json()["id"])
    assert event.state == "handling"  # committed, handed over; sent again once the claim lapses
    assert "could not be handed to Celery" in caplog.text
    get_state(app).close()
