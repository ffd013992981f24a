"""The store on SQLite and on PostgreSQL: dedupe, group commits, account upserts, claiming."""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from conftest import child_exit_code
from flask_wink.providers.smile_wink.statuses import AccountStatus, statuses_replaced_by
from flask_wink.store import AccountChange, EventRow, Store, StoredAccount, utcnow
from postgres import fresh_postgres_database


@pytest.fixture(params=["sqlite", "postgresql+psycopg", "postgresql+psycopg2"])
def database_url(request, tmp_path):
    """The store's tests on a SQLite file and on PostgreSQL through each driver it speaks."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wink.sqlite3'}"
    else:
        with fresh_postgres_database() as url:
            yield str(sa.engine.make_url(url).set(drivername=request.param).render_as_string(False))


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
    before = store.writer.commits
    barrier = threading.Barrier(32)

    def deliver(i):
        barrier.wait()
        return add(store, f"evt-{i}")

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(deliver, range(64)))
    assert all(r is not None for r in results)
    assert store.count_events(kind="webhook") == 64
    assert 0 < store.writer.commits - before < 64


def test_a_failing_write_in_a_group_does_not_sink_the_others(store):
    def broken(conn):  # ops get the driver's own connection
        conn.cursor().execute("SELECT * FROM no_such_table")

    futures = [store.writer.submit(broken)]
    futures += [store.writer.submit(lambda conn, i=i: i) for i in range(5)]
    with pytest.raises(Exception, match="no_such_table"):
        futures[0].result(10)
    assert [f.result(10) for f in futures[1:]] == [0, 1, 2, 3, 4]


def update(store, status, owner=None, **kw):
    replaces = statuses_replaced_by(AccountStatus(status))
    connected = status == AccountStatus.CONNECTED
    return store.update_account("smile_wink", "a-1", status, replaces=replaces, connected=connected,
                                owner=owner, **kw)


def test_account_status_never_goes_back(store):
    assert update(store, "PENDING", upstream_user_id="u-1", institution_id="grab")
    assert update(store, "CONNECTED")
    assert not update(store, "AWAITING_MFA")
    assert not update(store, "PENDING")
    account = store.account("smile_wink", "a-1")
    assert (account.provider, account.status) == ("smile_wink", "CONNECTED")
    assert (account.upstream_user_id, account.institution_id) == ("u-1", "grab")
    assert account.connected_at is not None and account.connected_at.tzinfo is not None
    assert update(store, "DISCONNECTED")
    assert store.account("smile_wink", "a-1").connected_at == account.connected_at


def test_owner_guard_protects_other_users_accounts(store):
    update(store, "CONNECTED", upstream_user_id="u-1")
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
    assert store.account("smile_wink", "a-1").status == "CONNECTED"


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


def test_a_group_with_new_and_redelivered_events_maps_each_to_its_row(store):
    # One statement inserts the group; which rows are new must still be told apart exactly.
    stored = add(store, "evt-old")
    sql = store.statements
    values = dict(kind="webhook", name="T", provider="smile_wink", app_user_id=None, upstream_user_id=None,
                  payload="{}", received_at=utcnow(), state="pending", attempts=0, claimed_by=None,
                  claimed_at=None)
    rows = [
        sql.row({**values, "event_id": "evt-new-1"}),
        sql.row({**values, "event_id": "evt-old"}),
        sql.row({**values, "kind": "callback", "event_id": None}),
        sql.row({**values, "event_id": "evt-new-1"}),  # twice in one group
        sql.row({**values, "event_id": "evt-new-2"}),
    ]
    results = store.writer.run(lambda conn: EventRow.batch(conn, rows))
    assert results[1] is None and results[3] is None
    new = {rows[i].key: results[i][0] for i in (0, 2, 4)}
    assert len(set(new.values())) == 3 and stored.id not in new.values()
    assert store.get_event(new[("smile_wink", "webhook", "evt-new-1")]).event_id == "evt-new-1"
    assert store.get_event(new[("smile_wink", "webhook", "evt-new-2")]).event_id == "evt-new-2"
    assert store.get_event(new[None]).kind == "callback"
    assert store.count_events() == 4


def test_an_account_status_commits_with_its_event_and_only_once(store):
    change = AccountChange.make("smile_wink", "a-9", "CONNECTED", replaces=["PENDING"], connected=True,
                                upstream_user_id="u-9")
    first = add(store, "evt-a", account=change)
    assert first.account_changed is True
    assert store.account("smile_wink", "a-9").status == "CONNECTED"
    assert add(store, "evt-a", account=change) is None  # a redelivery changes nothing
    assert add(store, "evt-b", account=change).account_changed is False  # same status again
    older = AccountChange.make("smile_wink", "a-9", "PENDING", replaces=[], connected=False,
                               upstream_user_id="u-9")
    assert add(store, "evt-c", account=older).account_changed is False
    assert store.account("smile_wink", "a-9").status == "CONNECTED"


def test_handled_marks_are_written_by_flush(store):
    stored = add(store, "evt-1", claimed_by="me")
    store.mark_handled(stored.id)
    store.flush()
    assert store.get_event(stored.id).state == "handled"


def wait_until_handled(store, *ids):
    deadline = time.monotonic() + 5
    while {store.get_event(i).state for i in ids} != {"handled"}:
        assert time.monotonic() < deadline, "a handled mark was never written"
        time.sleep(0.01)


def test_noted_writes_are_committed_when_no_more_traffic_comes(store):
    for number in range(3):  # again after each flush: the flusher wakes for every new note
        stored = add(store, f"evt-{number}", claimed_by="me")
        store.mark_handled(stored.id)  # noted, nobody waits for it
        wait_until_handled(store, stored.id)


def test_closing_the_writer_writes_what_is_noted_then_ends_its_flusher(store):
    first = add(store, "evt-1", claimed_by="me")
    store.mark_handled(first.id)  # noted; nobody writes after the close
    thread = store.writer._flusher
    store.writer.close()
    thread.join(5)
    assert not thread.is_alive()  # a disposed store leaves no thread behind
    wait_until_handled(store, first.id)
    second = add(store, "evt-2", claimed_by="me")  # and writing goes on
    store.mark_handled(second.id)
    wait_until_handled(store, second.id)
    assert store.writer._flusher is not thread


def test_closing_the_writer_while_writes_go_on_loses_none(store):
    stop = threading.Event()

    def close_often():
        while not stop.is_set():
            store.writer.close()

    closer = threading.Thread(target=close_often)
    closer.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: add(store, f"evt-{i}"), range(400)))
    finally:
        stop.set()
        closer.join()
    assert all(r is not None for r in results)
    assert store.count_events() == 400


def test_the_writer_reconnects_after_postgresql_drops_its_connection():
    with fresh_postgres_database() as url:
        store = Store(url)
        try:
            assert add(store, "evt-1") is not None
            pid = store.writer._raw.info.backend_pid
            with store.engine.begin() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            # The group fails; each write in it is retried on a new connection.
            assert add(store, "evt-2") is not None
            assert store.writer._raw.info.backend_pid != pid
            assert store.count_events() == 2
        finally:
            store.dispose()


def test_account_changes_in_one_group_apply_in_order_and_only_for_new_events(store):
    add(store, "evt-old")
    sql = store.statements
    values = dict(kind="webhook", name="T", provider="smile_wink", app_user_id=None, upstream_user_id="u-1",
                  payload="{}", received_at=utcnow(), state="handling", attempts=1, claimed_by="me",
                  claimed_at=utcnow())

    def change(account_id, status):
        replaces = statuses_replaced_by(AccountStatus(status))
        return AccountChange.make("smile_wink", account_id, status, replaces=replaces,
                                  connected=status == AccountStatus.CONNECTED, upstream_user_id="u-1")

    rows = [
        sql.row({**values, "event_id": "e1"}, change("a-1", "CONNECTED")),
        sql.row({**values, "event_id": "e2"}, change("a-2", "CONNECTED")),
        sql.row({**values, "event_id": "e3"}, change("a-1", "DISCONNECTED")),  # same account again
        sql.row({**values, "event_id": "evt-old"}, change("a-3", "CONNECTED")),  # a redelivery
        sql.row({**values, "event_id": "e4"}, change("a-2", "PENDING")),  # would go back: held
    ]
    results = store.writer.run(lambda conn: EventRow.batch(conn, rows))
    assert [r[1] if r else r for r in results] == [True, True, True, None, False]
    assert store.account("smile_wink", "a-1").status == "DISCONNECTED"
    assert store.account("smile_wink", "a-2").status == "CONNECTED"
    assert store.account("smile_wink", "a-3") is None


def busy_writer(store):
    """A thread holding the writer's lead until the returned event is set."""
    gate, started = threading.Event(), threading.Event()

    def slow(conn):
        started.set()
        return gate.wait(10)

    thread = threading.Thread(target=store.writer.run, args=(slow,))
    thread.start()
    assert started.wait(10)
    return gate, thread


def test_a_cancelled_future_does_not_stop_the_writer(store):
    gate, thread = busy_writer(store)
    cancelled = store.writer.submit(lambda conn: 1)
    assert cancelled.cancel()
    gate.set()
    thread.join(10)
    assert add(store, "evt-after") is not None


def test_a_write_the_database_cannot_commit_in_time_is_a_timeout_not_a_hang(store):
    gate, thread = busy_writer(store)
    try:
        with pytest.raises(TimeoutError):
            store.writer.run(lambda conn: "late", timeout=0.2)
    finally:
        gate.set()
        thread.join(10)
    assert add(store, "evt-after") is not None


def test_postgresql_groups_of_any_size_share_prepared_statements():
    # A statement text per group size (and per number of account changes) would be parsed and
    # planned again and again; rows go as arrays instead, so group sizes add no statements. (The
    # driver prepares one per pattern of columns that are NULL in every row of a group.)
    with fresh_postgres_database() as url:
        store = Store(url)
        store.init()
        try:
            sql = store.statements
            values = dict(kind="webhook", name="T", provider="smile_wink", app_user_id=None,
                          payload="{}", received_at=utcnow(), state="handling", attempts=1,
                          claimed_by="me", claimed_at=utcnow())
            query = "SELECT count(*) FROM pg_prepared_statements WHERE statement NOT IN ('BEGIN', 'COMMIT')"
            number = 0

            def groups(sizes):
                nonlocal number
                for size in sizes * 6:
                    for upstream_user in ("u-1", None):  # two patterns of NULL columns
                        rows = []
                        for position in range(size):
                            number += 1
                            change = None
                            if position % 3 == 0:
                                change = AccountChange.make("smile_wink", f"a-{number}", "CONNECTED",
                                                            replaces=["PENDING"], connected=True)
                            row = {**values, "event_id": f"e-{number}", "upstream_user_id": upstream_user}
                            rows.append(sql.row(row, change))
                        results = store.writer.run(lambda conn, rows=rows: EventRow.batch(conn, rows))
                        assert all(r is not None and r[1] in (True, None) for r in results)
                        ids = [r[0] for r in results]
                        store.writer.run(lambda conn, ids=ids: sql.mark_handled(conn, ids))
                return store.writer.run(lambda conn: conn.execute(query).fetchone()[0])

            prepared = groups([1, 2, 3, 5, 8])
            assert 0 < prepared <= 5  # events and events with account changes, two patterns each; marks
            assert groups([13, 21, 34, 4, 7]) == prepared  # other sizes: nothing new to prepare
            assert store.count_events() == number
            assert store.count_events(state="handled") == number
        finally:
            store.dispose()


def test_a_process_forked_while_another_thread_commits_writes_on_its_own():
    # A server that forks workers must not leave a child waiting for a commit that only the
    # parent's thread could finish, nor on the parent's pooled connections. (On SQLite a child
    # forked in the middle of a transaction finds the file locked by the parent's copy of the
    # connection for good, SQLite's own rule: fork before serving.)
    with fresh_postgres_database() as url:
        store = Store(url)
        try:
            assert add(store, "evt-parent") is not None

            def backend() -> int:
                with store.engine.connect() as conn:
                    return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()

            with store.engine.connect() as conn:  # every connection of the parent, pooled ones too
                parents = set(conn.execute(sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                )).scalars())
            gate, thread = busy_writer(store)  # another thread is inside a group's transaction
            try:
                pid = os.fork()
                if pid == 0:  # the child: one thread, and a copy of the parent's writer
                    code = 1
                    try:
                        stored = add(store, "evt-child")
                        code = 0 if stored is not None and store.count_events() == 2 else 2
                        mine = {backend(), store.writer._raw.info.backend_pid}
                        code = code or (3 if mine & parents else 0)
                    finally:
                        os._exit(code)
                assert child_exit_code(pid, "the forked child never committed its write") == 0
            finally:
                gate.set()
                thread.join(10)
            assert add(store, "evt-parent-again") is not None  # the parent goes on as before
            assert store.count_events() == 3
        finally:
            store.dispose()


def test_a_bare_postgresql_url_uses_an_installed_driver(monkeypatch):
    with fresh_postgres_database() as url:
        bare = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)
        for used in ("psycopg", "psycopg2"):
            store = Store(bare)
            try:
                assert store.engine.dialect.driver == used
                assert add(store, f"evt-{used}") is not None
            finally:
                store.dispose()
            monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed


def test_a_postgres_url_as_heroku_hands_out_is_postgresql_through_psycopg():
    with fresh_postgres_database() as url:
        heroku = sa.engine.make_url(url).set(drivername="postgres").render_as_string(False)
        assert heroku.startswith("postgres://")
        store = Store(heroku)
        try:
            assert (store.engine.dialect.name, store.engine.dialect.driver) == ("postgresql", "psycopg")
            assert add(store, "evt-heroku") is not None
        finally:
            store.dispose()


@pytest.mark.parametrize(
    "url, words",
    [
        ("postgresql://u@h/db", 'No PostgreSQL driver is installed: pip install "flask-wink[postgres]"'),
        ("postgresql+psycopg://u@h/db", 'psycopg is not installed: pip install "flask-wink[postgres]"'),
        ("postgresql+psycopg2://u@h/db", "driver psycopg2 is not installed: pip install psycopg2-binary"),
        ("postgresql+pg8000://u@h/db", "through psycopg or psycopg2, not pg8000"),
        ("mysql+pymysql://u@h/db", "supports only SQLite and PostgreSQL, not mysql"),
        ("not a url", "not a URL SQLAlchemy understands"),
    ],
)
def test_a_database_the_store_cannot_use_is_one_line_saying_the_fix(monkeypatch, url, words):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # neither driver installed
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    with pytest.raises(RuntimeError) as caught:
        Store(url)
    message = str(caught.value)
    assert words in message and "\n" not in message
    assert caught.value.__context__ is None or caught.value.__suppress_context__  # no import traceback


def test_a_relinked_users_events_under_every_upstream_user_list_under_the_app_user(store):
    assert store.link_user("smile_wink", "george-42", "u-old") == "u-old"
    add(store, "evt-1", upstream_user_id="u-old")  # webhooks name the upstream user only
    store.relink_user("smile_wink", "george-42", "u-new")
    add(store, "evt-2", upstream_user_id="u-new")
    add(store, "evt-other", upstream_user_id="u-other")
    assert store.upstream_user_id("smile_wink", "george-42") == "u-new"
    assert store.app_user_id("smile_wink", "u-old") == store.app_user_id("smile_wink", "u-new") == "george-42"
    mine = store.list_events(app_user_id="george-42")
    assert [(e.event_id, e.app_user_id) for e in mine] == [("evt-2", "george-42"), ("evt-1", "george-42")]
    assert store.upstream_user_id("other_provider", "george-42") is None  # users are per provider


def test_linking_an_app_user_twice_keeps_the_first_upstream_user(store):
    barrier = threading.Barrier(8)

    def link(i):
        barrier.wait()
        return store.link_user("smile_wink", "george-42", f"u-{i}")

    with ThreadPoolExecutor(8) as pool:
        kept = set(pool.map(link, range(8)))
    assert len(kept) == 1 and store.upstream_user_id("smile_wink", "george-42") in kept


def test_accounts_and_events_are_keyed_per_provider(store):
    for provider in ("smile_wink", "ucw"):
        assert store.add_event(provider=provider, kind="webhook", name="T", payload={}, event_id="evt-1")
        assert store.update_account(provider, "a-1", "CONNECTED", replaces=[], connected=True)
    assert store.count_events(event_id="evt-1") == 2
    assert [e.provider for e in store.list_events(provider="ucw")] == ["ucw"]
    assert {a.provider for a in store.list_accounts()} == {"smile_wink", "ucw"}
    assert [a.provider for a in store.list_accounts(provider="ucw")] == ["ucw"]
    assert store.account("ucw", "a-1").connected_at


def test_reading_a_users_current_upstream_user_uses_the_index_not_a_scan(tmp_path):
    # The read every new user's token makes: with the partial index's condition said another way
    # (is_current = 1), SQLite read every user of the provider, a cost growing with the users.
    store = Store(f"sqlite:///{tmp_path / 'wink.sqlite3'}")
    store.init()
    read = store._user_links._current
    with store.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + read.sql, tuple(read.params(provider="smile_wink", app_user_id="george"))
        ).all()
    store.dispose()
    wanted = "USING INDEX uq_wink_users_current (provider=? AND app_user_id=?)"
    assert any(wanted in row[-1] for row in plan), plan


def test_a_new_store_migrates_once_on_first_use_from_many_threads(database_url, monkeypatch):
    # No init(): whichever method comes first, from whichever thread, brings the tables up to
    # date, once; the others wait for it and go on.
    from flask_wink.store import migrations

    upgrades = []
    upgrade = migrations.upgrade

    def counted(*args, **kwargs):
        upgrades.append(threading.get_ident())
        time.sleep(0.05)  # long enough for every thread to arrive while it runs
        return upgrade(*args, **kwargs)

    monkeypatch.setattr(migrations, "upgrade", counted)
    store = Store(database_url)
    calls = [
        lambda: add(store, "evt-1"),
        lambda: store.list_events(),
        lambda: store.flush(),
        lambda: store.upstream_user_id("smile_wink", "ada"),
        lambda: store.claim_events("w-1", pending=False),
        lambda: store.account("smile_wink", "a-1"),
        lambda: store.assign_account("smile_wink", "a-1", "u-1"),
        lambda: store.mark_handled(1, wait=True),
    ]
    try:
        start = threading.Barrier(len(calls))

        def call(function):
            start.wait()
            return function()

        with ThreadPoolExecutor(len(calls)) as pool:
            list(pool.map(call, calls))
        assert len(upgrades) == 1
        assert store.count_events() == 1
    finally:
        store.dispose()


def test_an_event_row_names_its_columns(store):
    # The row's values are named: one missing or unknown is an error where the row is built,
    # not a value written to the wrong column.
    values = dict(kind="webhook", name="T", event_id="e-1", provider="smile_wink", app_user_id=None,
                  upstream_user_id="u-1", payload="{}", received_at=utcnow(), state="pending",
                  attempts=0, claimed_by=None, claimed_at=None)
    row = store.statements.row(values)
    assert row.values.upstream_user_id == "u-1" and row.key == ("smile_wink", "webhook", "e-1")
    with pytest.raises(TypeError):
        store.statements.row({k: v for k, v in values.items() if k != "payload"})
    with pytest.raises(TypeError):
        store.statements.row({**values, "colour": "red"})
    [(new_id, _)] = store.writer.run(lambda conn: EventRow.batch(conn, [row]))
    stored = store.get_event(new_id)
    assert (stored.event_id, stored.upstream_user_id, stored.name) == ("e-1", "u-1", "T")


def test_an_account_is_a_plain_value_and_the_json_views_shape_it(store):
    from flask_wink.jsonshape import account_json, event_json

    assert update(store, "CONNECTED", upstream_user_id="u-1", institution_id="grab")
    account = store.account("smile_wink", "a-1")
    assert isinstance(account, StoredAccount) and store.list_accounts() == [account]
    assert (account.account_id, account.status, account.error_code) == ("a-1", "CONNECTED", None)
    assert account.connected_at.tzinfo is not None and account.updated_at.tzinfo is not None
    shown = account_json(account)
    assert shown == {
        "provider": "smile_wink", "accountId": "a-1", "upstreamUserId": "u-1", "institutionId": "grab",
        "status": "CONNECTED", "errorCode": None, "connectedAt": shown["connectedAt"],
        "updatedAt": shown["updatedAt"],
    }
    assert shown["updatedAt"].endswith("Z") and shown["connectedAt"].endswith("Z")
    # Code written for the dicts the store returned before still reads them, warned.
    with pytest.warns(DeprecationWarning, match="account.status"):
        assert account["accountId"] == "a-1" and account.get("connectedAt") == shown["connectedAt"]
    event = add(store, "evt-1")
    with pytest.warns(DeprecationWarning, match="event_json"):
        assert event.as_dict() == event_json(event)
    assert event_json(event)["eventId"] == "evt-1" and event_json(event)["receivedAt"].endswith("Z")


def test_noted_marks_and_owners_go_as_one_statement_each_and_all_commit(store):
    # A handler notes an account's owner, then its event's "handled" mark: taken in order they
    # alternate; the group sends the marks together, then the owners, and every one commits.
    from flask_wink.store.operations import AccountOwner, HandledMark, gathered

    events = []
    for number in range(6):
        account = f"a-{number}"
        store.update_account("smile_wink", account, "CONNECTED", replaces=[], connected=True)
        events.append(add(store, f"evt-{number}", claimed_by="me"))
        store.assign_account("smile_wink", account, f"u-{number}", wait=False)
        store.mark_handled(events[-1].id)
    store.flush()
    assert {store.get_event(e.id).state for e in events} == {"handled"}
    assert [store.account("smile_wink", f"a-{n}").upstream_user_id for n in range(6)] == [
        f"u-{n}" for n in range(6)
    ]
    sql = store.statements
    noted = [AccountOwner("p", "a", "u", sql), HandledMark(1, sql), AccountOwner("p", "b", "v", sql),
             HandledMark(2, sql)]
    assert [type(op) for op in gathered(noted)] == [HandledMark, HandledMark, AccountOwner, AccountOwner]
    assert [op.row_id for op in gathered(noted)[:2]] == [1, 2]  # each kind in the order noted
    other = [*noted, lambda conn: None]
    assert gathered(other) == other  # anything else: all in order


def test_events_read_back_carry_their_time_zone_on_every_database(store):
    stored = add(store, "evt-tz", claimed_by="w")
    store.mark_failed(stored.id, "boom", retry_at=utcnow(), wait=True)
    [listed] = store.list_events()
    for event in (listed, store.get_event(stored.id)):
        assert event.received_at.tzinfo is not None
        assert event.received_at.utcoffset().total_seconds() == 0
        assert abs((utcnow() - event.received_at).total_seconds()) < 60  # comparable with aware times
        assert event.next_attempt_at is not None and event.next_attempt_at.tzinfo is not None
