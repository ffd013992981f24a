"""A locked database fails fast and alone; work stranded by a crash is taken over."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
import sqlalchemy as sa
from quickstart.__main__ import THREADS

from conftest import ADMIN, QUICKSTART_WEBHOOK_SECRET, WEBHOOK_SECRET, make_host_app
from flask_wink import get_state
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook
from flask_wink.store import Store
from flask_wink.testing import serve
from postgres import fresh_postgres_database

GEORGE = {"X-User": "george-42"}


@contextmanager
def write_lock(path):
    """Another connection (as another process would) holding SQLite's write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def event():
    return make_event("ACCOUNT_CONNECTED", {"userId": "u-1", "accountId": "a-1"})


def test_a_held_write_lock_answers_503_after_the_configured_wait(sandbox, tmp_path):
    db = tmp_path / "locked.sqlite3"
    app, _ = make_host_app(
        sandbox, tmp_path, WINK_DATABASE_URL=f"sqlite:///{db}", WINK_DB_LOCK_TIMEOUT=0.3
    )
    client = app.test_client()
    body, headers = signed_webhook(event(), WEBHOOK_SECRET)
    assert client.post("/wink/webhooks", data=body, headers=headers).status_code == 200
    with write_lock(db):
        for path in ("/wink/webhooks", "/wink/smile-wink/webhooks"):
            body, headers = signed_webhook(event(), WEBHOOK_SECRET)
            answer = client.post(path, data=body, headers=headers)
            assert answer.status_code == 503, answer.data
            assert answer.headers["Retry-After"].isdigit()
            assert answer.get_json()["error"] == "StorageUnavailable"
        answer = client.post("/wink/callbacks", json={"name": "onClose", "args": {}}, headers=GEORGE)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"].isdigit()
        # Reading goes on while another process writes.
        listed = client.get("/wink/events", headers=ADMIN)
        assert listed.status_code == 200 and len(listed.get_json()["events"]) == 1
    body, headers = signed_webhook(event(), WEBHOOK_SECRET)
    assert client.post("/wink/webhooks", data=body, headers=headers).status_code == 200
    with app.app_context():
        get_state().store.dispose()


def test_a_bad_lock_timeout_is_one_line(sandbox, tmp_path):
    with pytest.raises(RuntimeError, match="WINK_DB_LOCK_TIMEOUT"):
        make_host_app(sandbox, tmp_path, WINK_DB_LOCK_TIMEOUT="soon")


def test_the_quickstart_stays_healthy_while_the_database_is_locked(quickstart_server, tmp_path):
    db = tmp_path / "wink.sqlite3"
    with httpx.Client(base_url=quickstart_server.url, timeout=30) as client:
        body, headers = signed_webhook(event(), QUICKSTART_WEBHOOK_SECRET)
        assert client.post("/wink/webhooks", content=body, headers=headers).status_code == 200
        with write_lock(db):
            body, headers = signed_webhook(event(), QUICKSTART_WEBHOOK_SECRET)
            answer = client.post("/wink/webhooks", content=body, headers=headers)
            assert answer.status_code == 503
            assert answer.headers["Retry-After"].isdigit()
            health = client.get("/healthz")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            assert client.get("/").status_code == 200
        body, headers = signed_webhook(event(), QUICKSTART_WEBHOOK_SECRET)
        assert client.post("/wink/webhooks", content=body, headers=headers).status_code == 200


# -- every answer within WINK_DB_LOCK_TIMEOUT, over HTTP -------------------------------------------

#: WINK_DB_LOCK_TIMEOUT in these tests, and the bound each answer must meet: the timeout and a
#: margin (a bound on behaviour, far above any commit's time, not a speed figure).
LOCK_TIMEOUT = 1
ANSWER_BOUND = LOCK_TIMEOUT + 2


def quickstart_with_lock_timeout(quickstart_app):
    """The quickstart in sandbox mode with WINK_DB_LOCK_TIMEOUT=1, served by waitress with as many
    threads as ``python -m quickstart`` gives it."""
    return quickstart_app.served(
        threads=THREADS, WEBHOOK_SECRET=QUICKSTART_WEBHOOK_SECRET, WINK_DB_LOCK_TIMEOUT=str(LOCK_TIMEOUT)
    )


def timed(send):
    """``send()``'s answer and the seconds it took."""
    started = time.monotonic()
    answer = send()
    return answer, time.monotonic() - started


def post_webhook(client: httpx.Client, event: dict, secret: str = QUICKSTART_WEBHOOK_SECRET):
    body, headers = signed_webhook(event, secret)
    return client.post("/wink/webhooks", content=body, headers=headers)


def staggered(pool: ThreadPoolExecutor, count: int, send, spread: float):
    """``send(number)`` for each number, started one by one over ``spread`` s, so that some join a
    group while an earlier one is stuck on the lock; their timed answers."""
    futures = []
    for number in range(count):
        futures.append(pool.submit(timed, lambda number=number: send(number)))
        time.sleep(spread / count)
    return [future.result() for future in futures]


def assert_refused_in_time(answers) -> None:
    for answer, seconds in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"].isdigit()
        assert seconds < ANSWER_BOUND, f"answered after {seconds:.1f} s"


def test_every_webhook_is_answered_within_the_lock_timeout_while_another_process_holds_the_lock(
    quickstart_app,
):
    with quickstart_with_lock_timeout(quickstart_app) as served, httpx.Client(
        base_url=served.url, timeout=60, limits=httpx.Limits(max_connections=100)
    ) as client, ThreadPoolExecutor(40) as pool:
        assert post_webhook(client, event()).status_code == 200
        with write_lock(quickstart_app.database):
            # Forty webhooks over three timeouts: more than the server's threads, each group behind
            # a stuck one.
            answers = staggered(pool, 40, lambda _: post_webhook(client, event()), 3 * LOCK_TIMEOUT)
        assert_refused_in_time(answers)


def test_health_and_pages_answer_while_webhooks_wait_for_a_held_lock(quickstart_app):
    with quickstart_with_lock_timeout(quickstart_app) as served, httpx.Client(
        base_url=served.url, timeout=60, limits=httpx.Limits(max_connections=100)
    ) as client, ThreadPoolExecutor(48) as pool:
        assert post_webhook(client, event()).status_code == 200
        with write_lock(quickstart_app.database):
            # More webhooks at once than the quickstart has threads.
            webhooks = [pool.submit(post_webhook, client, event()) for _ in range(40)]
            time.sleep(0.2)
            for path in ("/healthz", "/", "/wink/events"):
                answer, seconds = timed(lambda path=path: client.get(path))
                assert answer.status_code == 200, path
                assert seconds < ANSWER_BOUND, f"{path} answered after {seconds:.1f} s"
            assert {future.result().status_code for future in webhooks} == {503}


def test_browser_callbacks_are_answered_within_the_lock_timeout_while_the_lock_is_held(sandbox, tmp_path):
    db = tmp_path / "locked.sqlite3"
    app, _ = make_host_app(
        sandbox, tmp_path, WINK_DATABASE_URL=f"sqlite:///{db}", WINK_DB_LOCK_TIMEOUT=LOCK_TIMEOUT
    )

    def callback(number: int):
        return client.post("/wink/callbacks", json={"name": "onClose", "args": {}},
                           headers={"X-User": f"user-{number}"})

    with serve(app, threads=16) as served, httpx.Client(base_url=served.url, timeout=60) as client, \
            ThreadPoolExecutor(16) as pool:
        assert callback(0).status_code == 201
        with write_lock(db):
            answers = staggered(pool, 16, callback, 3 * LOCK_TIMEOUT)
        assert_refused_in_time(answers)
        assert callback(0).status_code == 201
    with app.app_context():
        get_state().store.dispose()


def test_no_acknowledged_webhook_is_lost_while_another_process_takes_and_releases_the_lock(quickstart_app):
    sent: dict[str, dict] = {}
    answers: list = []
    stop = threading.Event()

    def sender(client: httpx.Client, name: str) -> None:
        number = 0
        while not stop.is_set():
            number += 1
            webhook = event()
            webhook["id"] = f"{name}-{number}"
            sent[webhook["id"]] = webhook
            answers.append((webhook["id"], *timed(lambda webhook=webhook: post_webhook(client, webhook))))
            time.sleep(0.02)

    with quickstart_with_lock_timeout(quickstart_app) as served, httpx.Client(
        base_url=served.url, timeout=60
    ) as client, ThreadPoolExecutor(8) as pool:
        senders = [pool.submit(sender, client, f"sender{n}") for n in range(8)]
        time.sleep(0.5)
        with write_lock(quickstart_app.database):
            time.sleep(2.5 * LOCK_TIMEOUT)
        time.sleep(0.5)
        stop.set()
        for future in senders:
            future.result()
        assert all(seconds < ANSWER_BOUND for _, _, seconds in answers)
        refused = {event_id for event_id, answer, _ in answers if answer.status_code == 503}
        acknowledged = {event_id for event_id, answer, _ in answers if answer.status_code == 200}
        assert refused and acknowledged and refused | acknowledged == set(sent)
        # The sender delivers every refused one again.
        for event_id in sorted(refused):
            assert post_webhook(client, sent[event_id]).json()["status"] in ("stored", "duplicate")
    with sqlite3.connect(quickstart_app.database) as db:
        stored = [row[0] for row in db.execute("SELECT event_id FROM wink_events")]
    assert sorted(stored) == sorted(sent)


@contextmanager
def table_lock(url: str):
    """Another PostgreSQL session holding a lock that lets readers of wink_events go on and makes
    every writer wait (as a long migration or a bulk job of another process would)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("LOCK TABLE wink_events IN EXCLUSIVE MODE"))
            try:
                yield
            finally:
                conn.rollback()
    finally:
        engine.dispose()


def test_a_postgresql_write_gives_up_within_the_lock_timeout_behind_another_sessions_lock(sandbox, tmp_path):
    with fresh_postgres_database() as url:
        app, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=url, WINK_DB_LOCK_TIMEOUT=LOCK_TIMEOUT)

        def send(number: int):
            return post_webhook(client, held[number], WEBHOOK_SECRET)

        held = [event() for _ in range(16)]
        with serve(app, threads=16) as served, httpx.Client(base_url=served.url, timeout=60) as client, \
                ThreadPoolExecutor(16) as pool:
            assert post_webhook(client, event(), WEBHOOK_SECRET).status_code == 200
            with table_lock(url):
                answers = staggered(pool, 16, send, 3 * LOCK_TIMEOUT)
                listed, seconds = timed(lambda: client.get("/wink/events", headers=ADMIN))
                assert listed.status_code == 200 and seconds < ANSWER_BOUND
            assert_refused_in_time(answers)
            assert {send(number).json()["status"] for number in range(16)} == {"stored"}
        with app.app_context():
            store = get_state().store
            assert store.count_events() == 17
            store.dispose()


# -- a commit that fails ---------------------------------------------------------------------------


class CommitFails(sqlite3.Connection):
    """A SQLite connection whose COMMIT fails, as on a full disk, while ``failing`` is set."""

    failing = threading.Event()

    def cursor(self, factory=None):
        return super().cursor(factory or _CommitFailsCursor)


class _CommitFailsCursor(sqlite3.Cursor):
    def execute(self, sql, parameters=()):
        if sql == "COMMIT" and CommitFails.failing.is_set():
            raise sqlite3.OperationalError("database or disk is full")
        return super().execute(sql, parameters)


def test_a_webhook_whose_commit_fails_is_refused_and_stored_once_when_sent_again(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path)
    engine = sa.create_engine(
        f"sqlite:///{tmp_path / 'commit.sqlite3'}",
        connect_args={"factory": CommitFails, "check_same_thread": False},
    )
    with app.app_context():
        get_state().store = Store(engine, lock_timeout=LOCK_TIMEOUT)
    body, headers = signed_webhook(event(), WEBHOOK_SECRET)
    with serve(app) as served, httpx.Client(base_url=served.url, timeout=60) as client:
        CommitFails.failing.set()
        try:
            answer = client.post("/wink/webhooks", content=body, headers=headers)
        finally:
            CommitFails.failing.clear()
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"].isdigit()
        assert client.post("/wink/webhooks", content=body, headers=headers).json()["status"] == "stored"
    with app.app_context():
        store = get_state().store
        assert store.count_events() == 1
        store.dispose()


# -- work stranded by a crash --------------------------------------------------------------------


def strand(app, count: int) -> None:
    """Events a process claimed and died handling: ``handling``, claimed ten minutes ago."""
    from datetime import timedelta

    from flask_wink.store import events as events_table
    from flask_wink.timeutil import utcnow

    with app.app_context():
        store = get_state().store
        for number in range(count):
            store.add_event(
                provider="smile_wink", kind="webhook", name="ACCOUNT_CONNECTED",
                payload=make_event("ACCOUNT_CONNECTED", {"userId": "u-1", "accountId": f"a-{number}"}),
                event_id=f"stranded-{number}", claimed_by="host:1234:dead",
            )
        with store.engine.begin() as conn:
            conn.execute(events_table.update().values(claimed_at=utcnow() - timedelta(minutes=10)))


@pytest.mark.parametrize("mode", ["request", "background"])
def test_stranded_events_are_taken_over_by_the_next_process_without_anyone_acting(sandbox, tmp_path, mode):
    db = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    crashed, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=db)
    strand(crashed, 5)
    with crashed.app_context():
        get_state().store.dispose()
    # The next process start: its first request sweeps.
    restarted, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=db, WINK_HANDLE_EVENTS=mode)
    client = restarted.test_client()
    assert client.get("/wink/events", headers=ADMIN).status_code == 200
    with restarted.app_context():
        state = get_state()
        assert state.wait_for_handlers()
        assert state.store.count_events(state="handling") == 0
        assert state.store.count_events(state="handled") == 5
        assert {a.account_id for a in state.store.list_accounts()} == {f"a-{n}" for n in range(5)}
        state.store.dispose()


def test_fresh_claims_are_not_taken_over(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path, WINK_HANDLE_EVENTS="request")
    with app.app_context():
        get_state().store.add_event(
            provider="smile_wink", kind="webhook", name="ACCOUNT_CONNECTED",
            payload=make_event("ACCOUNT_CONNECTED", {}), event_id="busy", claimed_by="host:1:alive",
        )
    app.test_client().get("/wink/events", headers=ADMIN)
    with app.app_context():
        state = get_state()
        assert state.wait_for_handlers()
        assert state.store.count_events(state="handling") == 1


def test_events_retry_covers_stranded_events(sandbox, tmp_path):
    app, _ = make_host_app(sandbox, tmp_path)
    strand(app, 3)
    result = app.test_cli_runner().invoke(args=["wink", "events", "retry"])
    assert result.exit_code == 0, result.output
    assert "took over 3 stranded event(s)" in result.output
    with app.app_context():
        assert get_state().store.count_events(state="handled") == 3
