"""The store's versioned migrations: a database of the first release keeps every row under the new
names, new databases start at the newest revision, a host app's own Alembic table is left alone."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from conftest import child_exit_code, make_host_app
from flask_wink.providers.smile_wink.archives import archives, get_archive
from flask_wink.providers.smile_wink.userdata import user_data
from flask_wink.store import Store, migrations, provider_metadata

# -- the first release's tables, frozen here as 0.1.0 created them (store.py, archives.py, userdata.py)

old = sa.MetaData()
old_users = sa.Table(
    "wink_users", old,
    sa.Column("app_user_id", sa.String(200), primary_key=True),
    sa.Column("smile_user_id", sa.String(200), nullable=False, unique=True),
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
old_events = sa.Table(
    "wink_events", old,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("event_id", sa.String(200), nullable=True),
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("app_user_id", sa.String(200), nullable=True),
    sa.Column("smile_user_id", sa.String(200), nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("claimed_by", sa.String(100), nullable=True),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("provider", "kind", "event_id", name="uq_wink_events_delivery"),
    sa.Index("ix_wink_events_smile_user", "smile_user_id"),
    sa.Index("ix_wink_events_app_user", "app_user_id"),
    sa.Index("ix_wink_events_state", "state", "id"),
)
old_accounts = sa.Table(
    "wink_accounts", old,
    sa.Column("account_id", sa.String(200), primary_key=True),
    sa.Column("smile_user_id", sa.String(200), nullable=True),
    sa.Column("provider_id", sa.String(100), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error_code", sa.String(100), nullable=True),
    sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
old_archives = sa.Table(
    "wink_archives", old,
    sa.Column("archive_id", sa.String(200), primary_key=True),
    sa.Column("smile_user_id", sa.String(200), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("type", sa.String(50), nullable=True),
    sa.Column("file_names", sa.Text, nullable=False, server_default="[]"),
    sa.Column("analysis", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_wink_archives_smile_user", "smile_user_id"),
)
old_user_data = sa.Table(
    "wink_user_data", old,
    sa.Column("smile_user_id", sa.String(200), primary_key=True),
    sa.Column("app_user_id", sa.String(200), nullable=True),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
)

# A host app's own Alembic history in the same database.
host_alembic = sa.Table(
    "alembic_version", sa.MetaData(), sa.Column("version_num", sa.String(32), primary_key=True)
)

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def event(id_, kind, name, event_id=None, app_user_id=None, smile_user_id=None, state="handled"):
    return {"id": id_, "kind": kind, "name": name, "event_id": event_id, "provider": "smile_wink",
            "app_user_id": app_user_id, "smile_user_id": smile_user_id, "state": state, "attempts": 1,
            "payload": json.dumps({"n": id_}), "received_at": T0 + timedelta(minutes=id_)}


OLD_EVENTS = [
    # george-42 linked smile-old; Smile forgot it, the kit relinked him to smile-new (0.1.0 overwrote
    # the mapping, so only these rows still tell that smile-old was his).
    event(1, "callback", "onAccountConnected", app_user_id="george-42", smile_user_id="smile-old"),
    event(2, "webhook", "ACCOUNT_CONNECTED", "evt-old", smile_user_id="smile-old"),
    event(3, "callback", "onAccountConnected", app_user_id="george-42", smile_user_id="smile-new"),
    event(4, "webhook", "ACCOUNT_CONNECTED", "evt-new", smile_user_id="smile-new", state="failed"),
    event(5, "webhook", "USER_CREATED", "evt-alice", smile_user_id="smile-alice", state="pending"),
    event(6, "callback", "onClose"),
]


def make_first_release_database(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        old.create_all(engine)
        host_alembic.create(engine)
        with engine.begin() as conn:
            conn.execute(host_alembic.insert(), {"version_num": "hostapp0001"})
            conn.execute(old_users.insert(), [
                {"app_user_id": "george-42", "smile_user_id": "smile-new", "provider": "smile_wink",
                 "created_at": T0},
                {"app_user_id": "alice", "smile_user_id": "smile-alice", "provider": "smile_wink",
                 "created_at": T0},
            ])
            conn.execute(old_events.insert(), OLD_EVENTS)
            if engine.dialect.name == "postgresql":  # ids were given: move the sequence past them
                conn.execute(sa.text("SELECT setval('wink_events_id_seq', 6)"))
            conn.execute(old_accounts.insert(), [
                {"account_id": "a-1", "smile_user_id": "smile-new", "provider_id": "upwork",
                 "status": "CONNECTED", "error_code": None, "connected_at": T0, "updated_at": T0},
                {"account_id": "a-2", "smile_user_id": "smile-alice", "provider_id": None,
                 "status": "ERROR", "error_code": "BAD_CREDENTIALS", "connected_at": None, "updated_at": T0},
            ])
            conn.execute(old_archives.insert(), {
                "archive_id": "ar-1", "smile_user_id": "smile-alice", "status": "ANALYZED", "type": "PAYSLIP",
                "file_names": '["pay.pdf"]', "analysis": '{"net": 10}', "error": None,
                "created_at": T0, "updated_at": T0,
            })
            conn.execute(old_user_data.insert(), {
                "smile_user_id": "smile-alice", "app_user_id": "alice", "fetched_at": T0,
                "document": '{"userId": "smile-alice", "incomes": []}',
            })
    finally:
        engine.dispose()


@pytest.fixture
def upgraded(database_url):
    make_first_release_database(database_url)
    store = Store(database_url)
    store.init()
    yield store
    store.dispose()


def test_a_first_release_database_is_stamped_and_upgraded_to_the_newest_revision(upgraded):
    assert migrations.current(upgraded.engine) == migrations.head()
    with upgraded.begin() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM wink_alembic_version")) == 1


def test_a_host_apps_own_alembic_version_is_left_alone(upgraded):
    with upgraded.begin() as conn:
        assert conn.execute(sa.select(host_alembic.c.version_num)).scalars().all() == ["hostapp0001"]


def test_every_event_keeps_its_fields_under_the_new_names(upgraded):
    stored = {e.id: e for e in upgraded.list_events(limit=100)}
    assert sorted(stored) == [1, 2, 3, 4, 5, 6]
    for old_row in OLD_EVENTS:
        new = stored[old_row["id"]]
        assert (new.provider, new.kind, new.name, new.event_id, new.upstream_user_id, new.state) == (
            "smile_wink", old_row["kind"], old_row["name"], old_row["event_id"], old_row["smile_user_id"],
            old_row["state"],
        )
        assert new.payload == {"n": old_row["id"]}
        assert new.upstream_user_id == old_row["smile_user_id"]


def test_users_keep_their_current_upstream_user_and_regain_the_ones_a_relink_forgot(upgraded):
    assert upgraded.upstream_user_id("smile_wink", "george-42") == "smile-new"
    assert upgraded.upstream_user_id("smile_wink", "alice") == "smile-alice"
    assert upgraded.app_user_id("smile_wink", "smile-new") == "george-42"
    assert upgraded.app_user_id("smile_wink", "smile-old") == "george-42"  # from the callbacks


def test_a_relinked_users_old_events_still_list_under_the_app_user(upgraded):
    mine = upgraded.list_events(app_user_id="george-42")
    assert [e.id for e in mine] == [4, 3, 2, 1]
    assert {e.app_user_id for e in mine} == {"george-42"}
    # And a relink made after the upgrade keeps them too.
    upgraded.relink_user("smile_wink", "george-42", "smile-newest")
    upgraded.add_event(provider="smile_wink", kind="webhook", name="T", payload={}, event_id="evt-newest",
                       upstream_user_id="smile-newest")
    newest = [e.event_id for e in upgraded.list_events(app_user_id="george-42")]
    assert newest[:2] == ["evt-newest", "evt-new"]
    assert len(upgraded.list_events(app_user_id="george-42")) == 5


def test_accounts_move_over_with_their_provider_and_institution(upgraded):
    one = upgraded.account("smile_wink", "a-1")
    assert (one.provider, one.upstream_user_id, one.institution_id, one.status) == (
        "smile_wink", "smile-new", "upwork", "CONNECTED")
    assert one.connected_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    two = upgraded.account("smile_wink", "a-2")
    assert (two.status, two.error_code, two.connected_at) == ("ERROR", "BAD_CREDENTIALS", None)
    alices = upgraded.list_accounts(provider="smile_wink", upstream_user_id="smile-alice")
    assert [a.account_id for a in alices] == ["a-2"]


def test_archives_and_user_data_move_over(upgraded):
    archive = get_archive("ar-1", store=upgraded)
    assert (archive["smileUserId"], archive["status"], archive["fileNames"], archive["analysis"]) == (
        "smile-alice", "ANALYZED", ["pay.pdf"], {"net": 10})
    with upgraded.begin() as conn:
        assert conn.execute(sa.select(archives.c.provider)).scalar_one() == "smile_wink"
        row = conn.execute(sa.select(user_data)).mappings().one()
    assert (row["provider"], row["upstream_user_id"]) == ("smile_wink", "smile-alice")
    assert row["app_user_id"] == "alice"
    assert json.loads(row["document"])["userId"] == "smile-alice"


def test_after_the_upgrade_writes_dedupe_and_move_accounts_as_before(upgraded):
    def webhook(event_id):
        return upgraded.add_event(provider="smile_wink", kind="webhook", name="T", payload={},
                                  event_id=event_id)

    redelivered = webhook("evt-old")
    assert redelivered is None
    new = webhook("evt-7")
    assert new.id > 6  # past the old ids (PostgreSQL spends one on the refused duplicate)
    assert not upgraded.update_account("smile_wink", "a-1", "PENDING", replaces=[], connected=False)
    assert upgraded.update_account("smile_wink", "a-1", "DISCONNECTED", replaces=["CONNECTED"],
                                   connected=False)
    assert upgraded.retry_failed() == 1


def test_opening_an_upgraded_database_again_changes_nothing(upgraded, database_url):
    again = Store(database_url)
    try:
        again.init()
        assert migrations.current(again.engine) == migrations.head()
        assert again.count_events() == 6
    finally:
        again.dispose()


def test_a_new_database_starts_at_the_newest_revision_beside_a_host_apps_alembic(database_url):
    engine = sa.create_engine(database_url)
    host_alembic.create(engine)
    with engine.begin() as conn:
        conn.execute(host_alembic.insert(), {"version_num": "hostapp0001"})
    engine.dispose()
    store = Store(database_url)
    try:
        store.init()
        assert migrations.current(store.engine) == migrations.head()
        with store.begin() as conn:
            assert conn.execute(sa.select(host_alembic.c.version_num)).scalars().all() == ["hostapp0001"]
        assert sa.inspect(store.engine).has_table("wink_archives")
        assert sa.inspect(store.engine).has_table("wink_user_data")
    finally:
        store.dispose()


def init_together(stores: list[Store]) -> list[Exception]:
    """Every store's ``init`` started at the same moment, each in a thread; the errors raised."""
    barrier, errors = threading.Barrier(len(stores)), []

    def start(store):
        barrier.wait()
        try:
            store.init()
        except Exception as exc:  # collected for the caller's assertion
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_processes_starting_together_upgrade_the_database_once(database_url):
    make_first_release_database(database_url)
    stores = [Store(database_url) for _ in range(4)]  # an engine each, as separate processes have
    errors = init_together(stores)
    try:
        assert errors == []
        assert migrations.current(stores[0].engine) == migrations.head()
        assert stores[0].count_events() == 6
        assert stores[1].app_user_id("smile_wink", "smile-old") == "george-42"
    finally:
        for store in stores:
            store.dispose()


def test_stores_on_different_databases_migrate_at_once_in_one_process(tmp_path):
    # Two apps in one process (or one app's start-up beside another's first request) upgrade
    # their own databases from threads at the same time: each ends at the newest revision with
    # every table, whichever thread runs first.
    rounds, width = 5, 4
    for round_ in range(rounds):
        urls = [f"sqlite:///{tmp_path / f'db-{round_}-{n}.sqlite3'}" for n in range(width)]
        for url in urls[::2]:
            make_first_release_database(url)  # half from the first release, half new
        stores = [Store(url) for url in urls]
        errors = init_together(stores)
        try:
            assert errors == []
            for store in stores:
                assert migrations.current(store.engine) == migrations.head()
                tables = set(sa.inspect(store.engine).get_table_names())
                assert {"wink_events", "wink_users", "wink_accounts"} <= tables
                assert not {name for name in tables if name.endswith("_new")}
            assert [store.count_events() for store in stores] == [6, 0] * (width // 2)
        finally:
            for store in stores:
                store.dispose()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="a platform without fork")
def test_a_process_forked_while_an_upgrade_runs_upgrades_its_own_database(tmp_path):
    # A server forking its workers while another thread of the parent upgrades a database (so
    # holds the process-wide turn) must not leave the child waiting for that turn for good.
    url = f"sqlite:///{tmp_path / 'child.sqlite3'}"
    with migrations._PROCESS_LOCK:  # as that other thread would, at the moment of the fork
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                store = Store(url)
                store.init()
                code = 0 if migrations.current(store.engine) == migrations.head() else 2
            finally:
                os._exit(code)
        code = child_exit_code(pid, "the forked child never upgraded its database")
    assert code == 0


def test_flask_wink_init_db_upgrades_a_first_release_database(sandbox, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    make_first_release_database(url)
    app, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=url)
    result = app.test_cli_runner().invoke(args=["wink", "init-db"])
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(url)
    try:
        assert migrations.current(engine) == migrations.head()
    finally:
        engine.dispose()


class WithoutMigrations:
    """An enabled provider that declares a table and has no migration for it."""

    name = "without_migrations"
    migrations = None


def test_a_provider_table_no_migration_creates_is_refused_at_start(tmp_path):
    meta = provider_metadata(WithoutMigrations.name)
    table = sa.Table("wink_without_migration", meta, sa.Column("id", sa.Integer, primary_key=True))
    store = Store(f"sqlite:///{tmp_path / 'wink.sqlite3'}", providers=[WithoutMigrations()])
    try:
        with pytest.raises(RuntimeError, match="wink_without_migration of the provider without_migrations "
                                               "is not created by any migration"):
            store.init()
    finally:
        meta.remove(table)
        store.dispose()
