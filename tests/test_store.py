"""The store on SQLite and on PostgreSQL: dedupe, group commits, account upserts, claiming."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from flask_wink.providers.smile_wink import SMILE_WINK, AccountStatus
from flask_wink.store import Store


@pytest.fixture
def store(database_url):
    store = Store(database_url)
    store.init()
    yield store
    store.dispose()


def add(store, event_id=None, **extra):
    return store.add_event(kind="webhook" if event_id else "callback", name="T", payload={"n": 1},
                           provider="smile_wink", event_id=event_id, **extra)


def test_same_event_id_is_stored_once(store):
    assert add(store, "evt-1") is not None
    assert add(store, "evt-1") is None
    assert store.count_events(event_id="evt-1") == 1


def test_callbacks_without_event_id_never_collide(store):
    assert add(store) is not None and add(store) is not None
    assert store.count_events(kind="callback") == 2


def test_concurrent_deliveries_of_one_id_store_exactly_one(store):
    barrier = threading.Barrier(16)

    def deliver(_):
        barrier.wait()
        return add(store, "evt-race")

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(deliver, range(16)))
    assert sum(r is not None for r in results) == 1
    assert store.count_events(event_id="evt-race") == 1


def test_concurrent_writes_share_commits(store):
    commits = []
    sa.event.listen(store.engine, "commit", lambda conn: commits.append(1))
    barrier = threading.Barrier(32)

    def deliver(i):
        barrier.wait()
        return add(store, f"evt-{i}")

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(deliver, range(64)))
    assert all(r is not None for r in results)
    assert store.count_events(kind="webhook") == 64
    assert len(commits) < 64


def test_a_failing_write_in_a_group_does_not_sink_the_others(store):
    def broken(conn):
        conn.execute(sa.text("SELECT * FROM no_such_table"))

    futures = [store.writer.submit(broken)]
    futures += [store.writer.submit(lambda conn, i=i: i) for i in range(5)]
    with pytest.raises(sa.exc.DatabaseError):
        futures[0].result(10)
    assert [f.result(10) for f in futures[1:]] == [0, 1, 2, 3, 4]


def update(store, status, owner=None, **kw):
    replaces = SMILE_WINK.statuses_replaced_by(AccountStatus(status))
    return store.update_account("a-1", status, replaces=replaces, owner=owner, **kw)


def test_account_status_never_goes_back(store):
    assert update(store, "PENDING", smile_user_id="u-1", provider_id="grab")
    assert update(store, "CONNECTED")
    assert not update(store, "AWAITING_MFA")
    assert not update(store, "PENDING")
    account = store.account("a-1")
    assert (account["status"], account["smileUserId"], account["providerId"]) == ("CONNECTED", "u-1", "grab")
    assert account["connectedAt"]
    assert update(store, "DISCONNECTED")
    assert store.account("a-1")["connectedAt"] == account["connectedAt"]


def test_owner_guard_protects_other_users_accounts(store):
    update(store, "CONNECTED", smile_user_id="u-1")
    assert not update(store, "DISCONNECTED", owner="u-2")
    assert update(store, "DISCONNECTED", owner="u-1")


def test_racing_statuses_end_on_the_latest(store):
    barrier = threading.Barrier(8)
    statuses = ["PENDING", "AWAITING_MFA", "CONNECTED", "PENDING"] * 2

    def race(status):
        barrier.wait()
        update(store, status)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(race, statuses))
    assert store.account("a-1")["status"] == "CONNECTED"


def test_workers_claim_disjoint_events(store):
    for i in range(100):
        add(store, f"evt-{i}")
    barrier = threading.Barrier(4)

    def work(name):
        barrier.wait()
        taken = []
        while claimed := store.claim_events(name, limit=7):
            taken += [e.id for e in claimed]
        return taken

    with ThreadPoolExecutor(4) as pool:
        batches = list(pool.map(work, ["w1", "w2", "w3", "w4"]))
    everything = [i for batch in batches for i in batch]
    assert len(everything) == len(set(everything)) == 100


def test_an_event_claimed_by_a_dead_process_is_taken_over_after_the_lease(store):
    add(store, "evt-1", claimed_by="dead-process")
    assert store.claim_events("w", lease=300) == []
    [taken] = store.claim_events("w", lease=0)
    assert (taken.event_id, taken.attempts) == ("evt-1", 2)


def test_failed_events_can_be_made_pending_again(store):
    stored = add(store, "evt-1", claimed_by="me")
    store.mark_failed(stored.id, "boom", wait=True)
    assert store.get_event(stored.id).error == "boom"
    assert store.retry_failed() == 1
    assert store.get_event(stored.id).state == "pending"
