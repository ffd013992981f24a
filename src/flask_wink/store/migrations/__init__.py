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

Provider tables are part of this one history: each provider's tables are created and changed by
migrations here, beside the core's (Smile Wink's archives and user data from 0001 on).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from pathlib import Path

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


@functools.cache
def script_directory() -> ScriptDirectory:
    """The kit's migration scripts (shipped in the wheel, beside this module)."""
    return ScriptDirectory(str(HERE), version_locations=[str(HERE / "versions")])


def head() -> str:
    """The newest revision."""
    return script_directory().get_current_head()


def current(engine: Engine) -> str | None:
    """The revision the database is at (None: no version table)."""
    with engine.connect() as conn:
        return _context(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` under a lock; nothing to do is cheap."""
    with _PROCESS_LOCK:
        _quiet.running.on = True
        try:
            _upgrade_locked(engine, revision)
        finally:
            _quiet.running.on = False


def _upgrade_locked(engine: Engine, revision: str) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            _upgrade(conn, revision)
        return
    with engine.connect() as conn:
        # SQLite's write lock for the whole upgrade: another process waits (busy timeout) and
        # then reads the version this one wrote.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            _upgrade(conn, revision)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def _context(conn: Connection, **opts) -> MigrationContext:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, **opts})


def _upgrade(conn: Connection, revision: str) -> None:
    script = script_directory()
    context = _context(conn)
    at = context.get_current_revision()
    if at is None and sa.inspect(conn).has_table("wink_events"):
        # Made by the first release, which kept no version.
        legacy.metadata.create_all(conn, checkfirst=True)
        context.stamp(script, FIRST_RELEASE)
        at = FIRST_RELEASE
    known = {rev.revision for rev in script.walk_revisions()}
    if at is not None and at not in known:
        raise RuntimeError(
            f"The database is at migration {at}, which this flask-wink does not know: a newer "
            "flask-wink upgraded it, so install that version."
        )
    if at == script.get_current_head() and revision == "head":
        return

    def steps(rev, _context):
        return script._upgrade_revs(revision, rev)

    context = _context(conn, fn=steps, script=script)
    with Operations.context(context):
        context.run_migrations()
    # A new database is no news; an upgraded one is.
    log.log(logging.DEBUG if at is None else logging.INFO, "database migrated from %s to %s",
            at or "nothing", context.get_current_revision())
