"""A locked database fails fast and alone; work stranded by a crash is taken over."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import httpx
import pytest

from conftest import ADMIN, QUICKSTART_WEBHOOK_SECRET, WEBHOOK_SECRET, make_host_app
from flask_wink import get_state
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook

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
        assert {a["accountId"] for a in state.store.list_accounts()} == {f"a-{n}" for n in range(5)}
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
