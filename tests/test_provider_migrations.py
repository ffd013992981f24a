"""Providers own their tables: each provider's migrations are a branch of the kit's history, kept
in its own package and run when it is enabled; databases made before (one linear history for every
table) upgrade in place, their rows kept."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from flask import Flask, request

from acme_ledger import AcmeLedger, post_signed
from conftest import make_host_app
from example_provider import AcmeVerify
from flask_wink import Wink
from flask_wink.providers.smile_id import SmileID
from flask_wink.providers.ucw import UniversalConnect
from flask_wink.store import Store, migrations
from flask_wink.testing import serve
from test_migrations import make_first_release_database

UCW_TABLE, SMILE_ID_TABLE = "wink_ucw_connections", "wink_smile_id_signatures"
ACME_TABLE = "wink_acme_results"
#: The core's newest revision: its row in the version table once it is up to date.
CORE_HEAD = "0007_event_listing"
#: The head of each branch: Smile ID's, the core's, UCW's.
EVERY_BRANCH = ("0004_smile_id", CORE_HEAD, "0008_encryption")
#: The revisions of the linear history, in the order the releases ran them.
RELEASED = ("0003_ucw", "0004_smile_id", "0005_retry_schedule")
T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)

#: The linear history of the releases before providers owned their tables (0001 -> 0002 ->
#: 0003_ucw -> 0004_smile_id -> 0005_retry_schedule), its scripts frozen as they were released.
LINEAR_CHAIN = Path(__file__).resolve().parent / "linear_chain"


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def version_rows(url: str) -> tuple[str, ...]:
    engine = sa.create_engine(url)
    try:
        return migrations.current_heads(engine)
    finally:
        engine.dispose()


def make_linear_database(url: str, revision: str) -> None:
    """A database as an earlier release left it at ``revision``: its own scripts run by the kit's
    runner as it was (one row in ``wink_alembic_version``), then a row in each of its tables."""
    script = ScriptDirectory(str(migrations.HERE), version_locations=[str(LINEAR_CHAIN)])
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            context = MigrationContext.configure(conn, opts={
                "version_table": migrations.VERSION_TABLE, "script": script,
                "fn": lambda rev, _context: script._upgrade_revs(revision, rev),
            })
            with Operations.context(context):
                context.run_migrations()
            conn.execute(sa.text(
                "INSERT INTO wink_events (kind, name, event_id, provider, payload, received_at, state, "
                "attempts) VALUES ('webhook', 'T', 'evt-1', 'ucw', '{}', :at, 'handled', 1)"
            ), {"at": T0})
            inspector = sa.inspect(conn)
            if inspector.has_table(UCW_TABLE):
                conn.execute(sa.text(
                    f"INSERT INTO {UCW_TABLE} (account_id, upstream_user_id, aggregator, connection_id, "
                    "confirmed_at) VALUES ('acct-1', 'ucw-user', 'mx', 'claim-1', :at)"
                ), {"at": T0})
            if inspector.has_table(SMILE_ID_TABLE):
                conn.execute(sa.text(
                    f"INSERT INTO {SMILE_ID_TABLE} (digest, result_key, seen_at) VALUES ('d1', 'job-1', :at)"
                ), {"at": T0})
    finally:
        engine.dispose()


def count(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))
    finally:
        engine.dispose()


def init_db(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["wink", "init-db"])
    assert result.exit_code == 0, result.output


def acme_app(tmp_path: Path, provider: AcmeVerify, url: str) -> Flask:
    app = Flask("acme_host", instance_path=str(tmp_path / "instance"))
    app.config.update(SECRET_KEY="s", WINK_HANDLE_EVENTS="request", WINK_DATABASE_URL=url)
    wink = Wink(app, providers=[provider])

    @wink.user_id_loader
    def user():
        return request.headers.get("X-User")

    return app


# -- a provider outside the package ------------------------------------------------------------


def test_a_provider_outside_the_package_writes_to_the_table_its_own_migration_creates(
    tmp_path, database_url
):
    ledger = AcmeLedger()
    app = acme_app(tmp_path, ledger, database_url)
    body = {"jobId": "j-1", "result": "approved", "user": "acme-1", "verification": "v-1"}
    with serve(app) as served:
        answer = post_signed(served.url, ledger, body)
    assert answer.status_code == 200
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT job_id, verification, result FROM {ACME_TABLE}")).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [("j-1", "v-1", "approved")]
    assert version_rows(database_url) == (CORE_HEAD, "acme_ledger_0001")


def test_a_provider_not_enabled_gets_no_tables(sandbox, tmp_path, database_url):
    app, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=database_url)  # Smile Wink only
    init_db(app)
    assert not {UCW_TABLE, SMILE_ID_TABLE, ACME_TABLE} & tables(database_url)
    assert version_rows(database_url) == (CORE_HEAD,)


def test_enabling_a_provider_later_creates_its_tables_and_keeps_the_rows(tmp_path, database_url):
    init_db(acme_app(tmp_path, AcmeVerify(), database_url))
    engine = sa.create_engine(database_url)
    try:
        Store(engine).add_event(provider="acme_verify", kind="webhook", name="approved", payload={},
                                event_id="j-0")
    finally:
        engine.dispose()
    assert ACME_TABLE not in tables(database_url)
    init_db(acme_app(tmp_path, AcmeLedger(), database_url))
    assert ACME_TABLE in tables(database_url)
    assert count(database_url, "wink_events") == 1


def test_a_database_at_a_revision_of_a_provider_not_enabled_asks_for_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'wink.sqlite3'}"
    init_db(acme_app(tmp_path, AcmeLedger(), url))
    with pytest.raises(RuntimeError, match="at migration acme_ledger_0001, which this flask-wink and its "
                                           "providers do not know: .* or enable the provider"):
        Store(url).init()  # no provider enabled: Acme Ledger's branch is not known here


class NamedFolder:
    """A provider naming its migrations folder itself."""

    name = "acme_ledger"
    migrations = Path(__file__).resolve().parent / "acme_ledger" / "migrations"


def test_a_provider_names_its_migrations_folder_by_its_migrations_attribute(tmp_path):
    url = f"sqlite:///{tmp_path / 'wink.sqlite3'}"
    store = Store(url, providers=[NamedFolder()])
    try:
        store.init()
    finally:
        store.dispose()
    assert ACME_TABLE in tables(url)


def test_a_migrations_attribute_that_names_no_folder_is_refused_at_start(tmp_path):
    provider = NamedFolder()
    provider.migrations = tmp_path / "nowhere"
    store = Store(f"sqlite:///{tmp_path / 'wink.sqlite3'}", providers=[provider])
    try:
        with pytest.raises(RuntimeError, match="names .*nowhere as its migrations, which is not a folder"):
            store.init()
    finally:
        store.dispose()


def test_a_host_apps_own_alembic_folder_beside_a_provider_is_not_taken_for_its_migrations(
    tmp_path, monkeypatch
):
    # A provider written in a host app's package, beside that app's own Alembic environment
    # (Flask-Migrate's migrations/ with its env.py): the kit leaves that folder alone.
    package = tmp_path / "hostapp"
    (package / "migrations" / "versions").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "migrations" / "env.py").write_text("raise SystemExit('the host app's env.py ran')\n")
    (package / "provider.py").write_text("class Mine:\n    name = 'mine'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from hostapp.provider import Mine

    assert migrations.location(Mine()) is None
    store = Store(f"sqlite:///{tmp_path / 'wink.sqlite3'}", providers=[Mine()])
    try:
        store.init()
    finally:
        store.dispose()


# -- databases made before: the first release's, and the linear history's ----------------------


def test_a_first_release_database_gets_every_enabled_providers_tables(database_url):
    make_first_release_database(database_url)
    store = Store(database_url, providers=[UniversalConnect, SmileID])
    try:
        store.init()
        assert store.count_events() == 6
    finally:
        store.dispose()
    assert version_rows(database_url) == EVERY_BRANCH
    assert {UCW_TABLE, SMILE_ID_TABLE} <= tables(database_url)


@pytest.mark.parametrize("released", ["0003_ucw", "0004_smile_id", "0005_retry_schedule"])
def test_a_database_of_the_linear_history_upgrades_in_place_with_its_rows(
    sandbox, tmp_path, database_url, released
):
    make_linear_database(database_url, released)
    app, _ = make_host_app(sandbox, tmp_path, WINK_DATABASE_URL=database_url)  # Smile Wink only
    init_db(app)
    ran = RELEASED[: RELEASED.index(released) + 1]
    made = [table for revision, table in migrations.MOVED.items() if revision in ran]
    # Each table the linear history made is recorded as its provider's branch, not made again.
    # The core's branch is at its head whatever the linear history ran of it.
    providers_ran = [revision for revision in ran if revision in migrations.MOVED]
    assert version_rows(database_url) == tuple(sorted({CORE_HEAD, *providers_ran}))
    assert [count(database_url, table) for table in made] == [1] * len(made)
    assert count(database_url, "wink_events") == 1
    # Enabling every provider afterwards creates only what is missing, keeping every row.
    store = Store(database_url, providers=[UniversalConnect, SmileID])
    try:
        store.init()
        assert store.retry_failed() == 0  # 0005's column is there
    finally:
        store.dispose()
    assert version_rows(database_url) == EVERY_BRANCH
    assert [count(database_url, table) for table in made] == [1] * len(made)


def test_the_linear_history_frozen_here_is_the_one_earlier_releases_ran():
    # Every revision id the earlier releases wrote is still one the kit knows, with the same script.
    script = migrations.script_directory(migrations.installed_locations())
    for old in ScriptDirectory(str(migrations.HERE), version_locations=[str(LINEAR_CHAIN)]).walk_revisions():
        now = script.get_revision(old.revision)
        assert Path(now.path).read_text().count("def upgrade") == 1
        assert _upgrade_body(Path(old.path)) == _upgrade_body(Path(now.path))


def _upgrade_body(path: Path) -> str:
    text = path.read_text()
    return text[text.index("def upgrade"):]
