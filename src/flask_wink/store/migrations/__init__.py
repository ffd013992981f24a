"""The kit's versioned migrations (Alembic), run by the kit itself: no ``alembic.ini`` needed.

The version lives in ``wink_alembic_version``, never in ``alembic_version``, so the kit's history
and a host app's own Alembic history never meet in one database. Migrations go forward only and
run in one transaction under a lock (PostgreSQL: an advisory lock; SQLite: ``BEGIN IMMEDIATE``),
so several processes starting together take turns and the later ones find nothing to do. Within
one process they also take turns across databases: Alembic's ``op``, which the migration scripts
call, is one object for the whole process, so two upgrades running at once in two threads (two
apps, each on its own database) would send each other's statements to the wrong database.

A database made by the first release (its tables, no version table) is recognised, stamped at
revision 0001 (after creating any of that release's tables it lacked: some were made on first
use only) and upgraded from there.

The core's migrations live here (``versions/``: its tables, and Smile Wink's archives and user
data, from 0001 on). A provider keeps its own in its package, as one branch of the same history:
its scripts are labelled with its name (``branch_labels``), start from no revision and depend on
the core's revision they need (``depends_on``). They are found through the provider (see
:func:`location`) and run only for a provider that is enabled: a provider enabled later gets its
tables then. The version table holds one row per branch: the core's, and each provider's.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from . import legacy

VERSION_TABLE = "wink_alembic_version"
#: The first release's revision, at which a database it made is stamped.
FIRST_RELEASE = "0001"
#: PostgreSQL advisory lock key the upgrade is taken under ("wink" in ASCII).
LOCK_KEY = 0x77696E6B

HERE = Path(__file__).resolve().parent
#: The core's own scripts.
CORE_VERSIONS = HERE / "versions"
#: The entry point group providers are installed under (``extension.PROVIDER_ENTRY_POINTS``; not
#: imported from there: the extension imports the store).
PROVIDER_ENTRY_POINTS = "flask_wink.providers"

#: Revisions the linear history of earlier releases (0001, 0002, 0003_ucw, 0004_smile_id,
#: 0005_retry_schedule) ran for every database, whatever its providers, which are now the first of
#: a provider's branch, with the table each created. See :func:`_adopt_moved`.
MOVED = {"0003_ucw": "wink_ucw_connections", "0004_smile_id": "wink_smile_id_signatures"}

log = logging.getLogger("flask_wink")

#: One upgrade at a time in this process, whatever the database (see the module's docstring).
_PROCESS_LOCK = threading.Lock()


def _reset_after_fork() -> None:
    # A child forked while another thread of the parent was upgrading would find the lock held
    # for good (that thread is not in the child): the child starts with a free one.
    global _PROCESS_LOCK
    _PROCESS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_reset_after_fork)


class _QuietWhileUpgrading(logging.Filter):
    """Drops Alembic's own lines ("Context impl SQLiteImpl.") while this module runs it: the
    kit says in its own words what it did; a host app's Alembic runs keep their lines."""

    running = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.running, "on", False)


_quiet = _QuietWhileUpgrading()
logging.getLogger("alembic.runtime.migration").addFilter(_quiet)


def location(provider: Any) -> Path | None:
    """The folder of ``provider``'s migration scripts (a provider object or its class), or None.

    Its ``migrations`` attribute when it has one (a path; None: no migrations), else a
    ``migrations`` folder beside the module that defines its class, unless that folder is an
    Alembic environment of its own (an ``env.py``: a host app's, e.g. Flask-Migrate's).
    """
    if hasattr(provider, "migrations"):
        given = provider.migrations
        if given is None:
            return None
        path = Path(given).resolve()
        if not path.is_dir():
            raise RuntimeError(
                f"The provider {getattr(provider, 'name', provider)!r} names {path} as its migrations, "
                "which is not a folder: point its migrations attribute at its scripts' folder."
            )
        return path
    cls = provider if isinstance(provider, type) else type(provider)
    module_file = getattr(sys.modules.get(cls.__module__), "__file__", None)
    if module_file is None:
        return None
    beside = Path(module_file).resolve().parent / "migrations"
    if beside.is_dir() and not (beside / "env.py").exists():
        return beside
    return None


@functools.cache
def installed_locations() -> tuple[Path, ...]:
    """The migrations of every provider installed (its entry point), enabled or not: a database
    keeps the version row of a provider once enabled, which must stay a revision this knows.
    Read once per process: installing a package needs a restart anyway."""
    found = []
    for ep in sorted(entry_points(group=PROVIDER_ENTRY_POINTS), key=lambda ep: ep.name):
        try:
            where = location(ep.load())
        except Exception:  # a provider that cannot even be imported is enabled nowhere
            log.debug("the provider %s could not be imported for its migrations", ep.name, exc_info=True)
            continue
        if where is not None:
            found.append(where)
    return tuple(found)


@functools.cache
def script_directory(locations: tuple[Path, ...] = ()) -> ScriptDirectory:
    """The core's migration scripts (shipped in the wheel, beside this module), and the providers'
    in ``locations``."""
    folders = [CORE_VERSIONS, *(p for p in dict.fromkeys(locations) if p != CORE_VERSIONS)]
    return ScriptDirectory(str(HERE), version_locations=[str(p) for p in folders])


def head() -> str:
    """The core's newest revision."""
    return _branch_head(script_directory(), CORE_VERSIONS)


def _branch_head(script: ScriptDirectory, folder: Path) -> str:
    """The newest revision among the scripts of ``folder`` (one branch, one head)."""
    heads = [rev.revision for rev in map(script.get_revision, script.get_heads())
             if Path(rev.path).resolve().parent == folder]
    if len(heads) != 1:
        raise RuntimeError(
            f"The migrations in {folder} have {len(heads)} heads: each folder holds one branch, "
            "every script but the first revising the one before it."
        )
    return heads[0]


def current(engine: Engine) -> str | None:
    """The revision the core's tables are at (None: no version table)."""
    core = {rev.revision for rev in script_directory().walk_revisions()}
    return next((row for row in current_heads(engine) if row in core), None)


def current_heads(engine: Engine) -> tuple[str, ...]:
    """Every version row, sorted: the core's revision and that of each provider ever enabled."""
    with engine.connect() as conn:
        return tuple(sorted(_context(conn).get_current_heads()))


def upgrade(engine: Engine, revision: str = "head", providers: Iterable[Any] = ()) -> None:
    """Bring the core's tables to ``revision``, and those of each provider in ``providers`` (the
    enabled ones) to its newest, under a lock; nothing to do is cheap."""
    enabled = tuple(where for provider in providers if (where := location(provider)) is not None)
    with _PROCESS_LOCK:
        _quiet.running.on = True
        try:
            _upgrade_locked(engine, revision, enabled)
        finally:
            _quiet.running.on = False


def _upgrade_locked(engine: Engine, revision: str, enabled: tuple[Path, ...]) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            _upgrade(conn, revision, enabled)
        return
    with engine.connect() as conn:
        # SQLite's write lock for the whole upgrade: another process waits (busy timeout) and
        # then reads the version this one wrote.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            _upgrade(conn, revision, enabled)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def _context(conn: Connection, **opts) -> MigrationContext:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, **opts})


def _upgrade(conn: Connection, revision: str, enabled: tuple[Path, ...]) -> None:
    script = script_directory((*enabled, *installed_locations()))
    context = _context(conn)
    rows = set(context.get_current_heads())
    if not rows and sa.inspect(conn).has_table("wink_events"):
        # Made by the first release, which kept no version.
        legacy.metadata.create_all(conn, checkfirst=True)
        context.stamp(script, FIRST_RELEASE)
        rows = {FIRST_RELEASE}
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = sorted(rows - known)
    if unknown:
        raise RuntimeError(
            f"The database is at migration {unknown[0]}, which this flask-wink and its providers do not "
            "know: install the flask-wink that upgraded it, or enable the provider it belongs to."
        )
    rows = _adopt_moved(conn, script, known, rows)
    core = head() if revision == "head" else revision
    targets = (core, *(_branch_head(script, where) for where in enabled))
    if set(targets) <= rows:
        return

    def steps(rev, _context):
        return script._upgrade_revs(targets, rev)

    context = _context(conn, fn=steps, script=script)
    with Operations.context(context):
        context.run_migrations()
    # A new database is no news; an upgraded one is.
    after = ", ".join(sorted(context.get_current_heads()))
    log.log(logging.DEBUG if not rows else logging.INFO, "database migrated from %s to %s",
            ", ".join(sorted(rows)) or "nothing", after)


def _adopt_moved(conn: Connection, script: ScriptDirectory, known: set[str], rows: set[str]) -> set[str]:
    """The version rows of a database the linear history of earlier releases upgraded, rewritten
    as the branches now are; any other database's rows unchanged.

    That history ran 0003_ucw and 0004_smile_id for every database and kept one row, its last
    revision. Those revisions keep their ids, now as the first of UCW's and Smile ID's branches,
    so every row an earlier release wrote still names a known revision; but Alembic would read a
    lone ``0005_retry_schedule`` as "no provider table yet" and create them again, and a lone
    ``0004_smile_id`` as "UCW's table not yet". The row alone cannot tell the two histories apart
    (``0005_retry_schedule`` is also where a new database with no provider stands), the tables
    can: a moved revision's table exists while no row is in its branch only where the linear
    history created it, in the transaction that recorded a row past it. Such a revision gets its
    row. (A lone moved revision, the last of an earlier release, also meant the core at 0002:
    Alembic reads that from the branch's ``depends_on`` on 0002, so the core goes on from there.)
    """
    version = sa.table(VERSION_TABLE, sa.column("version_num"))
    added = set()
    for moved, table in MOVED.items():
        if moved not in known:  # its provider is not installed
            continue
        in_branch = any(
            moved in {rev.revision for rev in script.iterate_revisions(row, "base")} for row in rows
        )
        if not in_branch and sa.inspect(conn).has_table(table):
            added.add(moved)
    for row in sorted(added):
        conn.execute(version.insert().values(version_num=row))
    if added:
        log.info("provider tables an earlier release made recorded at their branches' %s",
                 ", ".join(sorted(added)))
    return rows | added
