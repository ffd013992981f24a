"""Handling after storing, worker mode, retries and webhook hardening, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import ADMIN, WEBHOOK_SECRET, make_host_app
from flask_wink import get_state, signals
from flask_wink.pipeline import run_worker
from flask_wink.providers.smile_wink.testing import make_event, signed_webhook
from flask_wink.testing import serve


@pytest.fixture
def make_app(sandbox, tmp_path, database_url):
    def build(**config):
        app, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=database_url, **config)
        return app
    return build


def deliver(client, event, secret=WEBHOOK_SECRET):
    body, headers = signed_webhook(event, secret)
    return client.post("/wink/webhooks", data=body, headers=headers)


def connected(account_id="a-1", user="tenant-1"):
    return make_event("ACCOUNT_CONNECTED", {"userId": user, "accountId": account_id,
                                            "loginName": "George", "providers": ["upwork"]})


def stored_event(app, event_id):
    with app.app_context():
        store = get_state().store
        store.flush()
        [event] = [e for e in store.list_events(limit=1000) if e.event_id == event_id]
        return event


def test_handled_event_is_marked_handled(make_app):
    app = make_app()
    event = connected()
    assert deliver(app.test_client(), event).status_code == 200
    assert stored_event(app, event["id"]).state == "handled"


def test_in_request_mode_the_answer_comes_once_the_outcome_is_committed(make_app):
    # The thread that commits writes nobody waits for is held off for the test's length: what
    # the admin API reads right after the answer was committed by the request itself.
    app = make_app()
    with app.app_context():
        writer = get_state().store.writer
    writer.FLUSHER_DELAY = writer.NOTES_MAX_AGE = 60.0

    def failing(sender, **kw):
        raise RuntimeError("downstream is down")

    client = app.test_client()
    handled, failed = connected("a-1"), connected("a-2")
    assert deliver(client, handled).status_code == 200
    signals.account_connected.connect(failing)
    try:
        assert deliver(client, failed).status_code == 200
    finally:
        signals.account_connected.disconnect(failing)
    listed = client.get("/wink/events?kind=webhook", headers=ADMIN).get_json()["events"]
    states = {e["eventId"]: e["state"] for e in listed}
    assert (states[handled["id"]], states[failed["id"]]) == ("handled", "failed")


def test_failing_handler_marks_the_event_failed_and_retry_runs_it_again(make_app):
    app = make_app()
    calls = []

    def flaky(sender, **kw):
        calls.append(kw["event"].event_id)
        if len(calls) == 1:
            raise RuntimeError("downstream is down")

    signals.account_connected.connect(flaky)
    try:
        event = connected()
        response = deliver(app.test_client(), event)
        assert response.status_code == 200
        failed = stored_event(app, event["id"])
        assert failed.state == "failed"
        assert "downstream is down" in failed.error
        listing = app.test_cli_runner().invoke(args=["wink", "events", "--state", "failed"])
        assert event["id"] in listing.output
        result = app.test_cli_runner().invoke(args=["wink", "events", "retry"])
        expected = "Retried 1 failed event(s); handled 1; took over 0 stranded event(s); 0 still failed."
        assert expected in result.output, result.output
    finally:
        signals.account_connected.disconnect(flaky)
    assert calls == [event["id"], event["id"]]
    retried = stored_event(app, event["id"])
    assert (retried.state, retried.error, retried.attempts) == ("handled", None, 2)


def test_worker_mode_stores_in_the_request_and_handles_in_the_worker(make_app):
    app = make_app(WINK_HANDLE_EVENTS="worker")
    seen = []
    signals.webhook_received.connect(lambda sender, **kw: seen.append(kw["type"]), weak=False)
    try:
        event = connected()
        assert deliver(app.test_client(), event).status_code == 200
        assert seen == []
        assert stored_event(app, event["id"]).state == "pending"
        assert run_worker(app, once=True) == 1
    finally:
        signals.webhook_received.receivers.clear()
    assert seen == ["ACCOUNT_CONNECTED"]
    assert stored_event(app, event["id"]).state == "handled"
    with app.app_context():
        assert get_state().store.account("smile_wink", "a-1").status == "CONNECTED"


def test_the_worker_takes_over_a_stranded_event_after_wink_claim_lease(make_app):
    # A worker died while handling: the event stays "handling". `flask wink worker` takes it
    # over once the claim is older than WINK_CLAIM_LEASE (here 1 s), with no --lease given.
    app = make_app(WINK_HANDLE_EVENTS="worker", WINK_CLAIM_LEASE=1)
    event = connected()
    assert deliver(app.test_client(), event).status_code == 200
    with app.app_context():
        [claimed] = get_state().store.claim_events("a-worker-that-died", limit=5, lease=300)
    assert stored_event(app, event["id"]).state == "handling"
    time.sleep(1.2)
    result = app.test_cli_runner().invoke(args=["wink", "worker", "--once"])
    assert "Handled 1 event(s)." in result.output, result.output
    assert stored_event(app, event["id"]).state == "handled"


def test_several_workers_handle_each_event_exactly_once(make_app):
    app = make_app(WINK_HANDLE_EVENTS="worker")
    client = app.test_client()
    events = [connected(account_id=f"a-{i}") for i in range(120)]
    for event in events:
        assert deliver(client, event).status_code == 200
    runs = []
    lock = threading.Lock()

    def count(sender, **kw):
        with lock:
            runs.append(kw["event"].event_id)

    signals.webhook_received.connect(count)
    try:
        with ThreadPoolExecutor(3) as pool:
            totals = list(pool.map(lambda _: run_worker(app, once=True, batch=5), range(3)))
    finally:
        signals.webhook_received.disconnect(count)
    assert sum(totals) == 120
    assert sorted(runs) == sorted(e["id"] for e in events)


def test_concurrent_redeliveries_over_http_store_and_handle_once(make_app):
    app = make_app()
    runs = []
    lock = threading.Lock()

    def count(sender, **kw):
        with lock:
            runs.append(kw["event"].event_id)

    events = [connected(account_id=f"a-{i}") for i in range(40)]
    deliveries = [signed_webhook(e, WEBHOOK_SECRET) for e in events for _ in range(4)]
    signals.webhook_received.connect(count)
    try:
        with serve(app, threads=16) as served, ThreadPoolExecutor(16) as pool, httpx.Client() as http:
            answers = list(pool.map(
                lambda d: http.post(served.url + "/wink/webhooks", content=d[0], headers=d[1]), deliveries
            ))
    finally:
        signals.webhook_received.disconnect(count)
    assert {a.status_code for a in answers} == {200}
    assert sorted(a.json()["status"] for a in answers).count("stored") == 40
    assert sorted(runs) == sorted(e["id"] for e in events)
    with app.app_context():
        assert get_state().store.count_events(kind="webhook") == 40


def test_rotation_accepts_old_and_new_secret_until_the_old_is_dropped(make_app):
    rotating = make_app(WINK_WEBHOOK_SECRETS="old-secret, new-secret")
    assert deliver(rotating.test_client(), connected("a-1"), "old-secret").status_code == 200
    assert deliver(rotating.test_client(), connected("a-2"), "new-secret").status_code == 200
    rotated = make_app(WINK_WEBHOOK_SECRETS=["new-secret"])
    assert deliver(rotated.test_client(), connected("a-3"), "old-secret").status_code == 401


def test_events_older_than_the_replay_window_are_refused(make_app):
    app = make_app(WINK_WEBHOOK_MAX_AGE=600)
    event = connected()
    with app.app_context():
        get_state().clock = lambda: time.time() + 601
    response = deliver(app.test_client(), event)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "StaleEvent" and "WINK_WEBHOOK_MAX_AGE" in body["message"]
    with app.app_context():
        get_state().clock = time.time
    assert deliver(app.test_client(), event).status_code == 200


def test_unparseable_created_at_is_400(make_app):
    app = make_app()
    event = connected()
    event["createdAt"] = "yesterday"
    assert deliver(app.test_client(), event).status_code == 400


def test_webhooks_must_be_json(make_app):
    app = make_app()
    body, headers = signed_webhook(connected(), WEBHOOK_SECRET)
    headers["Content-Type"] = "text/plain"
    response = app.test_client().post("/wink/webhooks", data=body, headers=headers)
    assert response.status_code == 415


def test_source_allow_list(make_app):
    closed = make_app(WINK_WEBHOOK_ALLOWED_IPS="203.0.113.7")
    refused = deliver(closed.test_client(), connected())
    assert refused.status_code == 403
    assert closed.test_client().get("/wink/events", headers=ADMIN).get_json()["events"] == []
    opened = make_app(WINK_WEBHOOK_ALLOWED_IPS=["203.0.113.7", "127.0.0.0/8"])
    assert deliver(opened.test_client(), connected()).status_code == 200


def test_bad_allow_list_is_a_setup_error(sandbox, tmp_path):
    with pytest.raises(RuntimeError, match="WINK_WEBHOOK_ALLOWED_IPS"):
        make_host_app(sandbox, tmp_path, WINK_WEBHOOK_ALLOWED_IPS="not-an-ip")


def test_background_handlers_drain_every_event_of_a_burst_once(make_app):
    # After the answer, events wait in one queue that at most WINK_HANDLER_THREADS threads drain:
    # a burst from many senders is handled once each, a handler that raises fails only its own
    # event, and once done no thread is counted as draining (the next event starts one again).
    app = make_app(WINK_HANDLE_EVENTS="background", WINK_HANDLER_THREADS=2)
    runs = []
    lock = threading.Lock()

    def count(sender, **kw):
        with lock:
            runs.append(kw["event"].event_id)
        if kw["event"].event_id.endswith("-7"):
            raise RuntimeError("boom")

    events = [connected(account_id=f"a-{i}") for i in range(60)]
    for i, event in enumerate(events):
        event["id"] = f"burst-{i}"
    deliveries = [signed_webhook(e, WEBHOOK_SECRET) for e in events]
    signals.webhook_received.connect(count)
    try:
        with serve(app, threads=16) as served, ThreadPoolExecutor(16) as pool, httpx.Client() as http:
            answers = list(pool.map(
                lambda d: http.post(served.url + "/wink/webhooks", content=d[0], headers=d[1]), deliveries
            ))
            with app.app_context():
                state = get_state()
                assert state.wait_for_handlers()
                assert state.draining == 0 and not state.handler_queue
                failing = [e for e in events if e["id"].endswith("-7")]
                assert state.store.count_events(state="failed") == len(failing)
                assert state.store.count_events(state="handled") == len(events) - len(failing)
            # The next event after the burst starts a thread again.
            late = connected(account_id="a-late")
            late["id"] = "late"
            body, headers = signed_webhook(late, WEBHOOK_SECRET)
            assert http.post(served.url + "/wink/webhooks", content=body, headers=headers).status_code == 200
            with app.app_context():
                assert get_state().wait_for_handlers()
                assert get_state().store.count_events(state="handled") == len(events) - len(failing) + 1
    finally:
        signals.webhook_received.disconnect(count)
    assert {a.status_code for a in answers} == {200}
    assert sorted(runs) == sorted([e["id"] for e in events] + ["late"])
