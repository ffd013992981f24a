"""The engine for a database URL, and which databases and drivers the store works with.

SQLite and PostgreSQL only. On PostgreSQL the write path needs psycopg (3) or psycopg2; a bare
``postgresql://`` or ``postgres://`` URL (the spelling Heroku and other hosts hand out) takes
whichever of them is installed, psycopg first (the ``postgres`` extra).
A URL the store cannot work with is refused here, in one sentence that says the fix, rather than
as an import traceback at start-up or a 503 on the first write.
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

#: PostgreSQL drivers the write path speaks, and what to install for each.
POSTGRES_DRIVERS = {
    "psycopg": 'pip install "flask-wink[postgres]"',
    "psycopg2": "pip install psycopg2-binary",
}
FIX = (
    "set WINK_DATABASE_URL to a sqlite:/// or postgresql+psycopg:// URL "
    '(pip install "flask-wink[postgres]")'
)


#: Seconds a write waits for another process's lock by default (``WINK_DB_LOCK_TIMEOUT``).
DEFAULT_LOCK_TIMEOUT = 5.0


def create_engine(url: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Engine:
    """An engine for ``url``; SQLite files get WAL, full fsync on commit and a busy timeout of
    ``lock_timeout`` s (a write waits that long for another process's write lock, then fails);
    PostgreSQL gets the same ``lock_timeout`` for row and table locks."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            parsed, connect_args={"timeout": lock_timeout, "check_same_thread": False}
        )

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        return engine
    driver = parsed.get_driver_name()
    try:
        return sa.create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            pool_timeout=lock_timeout,
            connect_args={"options": f"-c lock_timeout={int(lock_timeout * 1000)}"},
        )
    except ImportError:
        raise RuntimeError(
            f"The PostgreSQL driver {driver} is not installed: {POSTGRES_DRIVERS[driver]}."
        ) from None


def database_url(url: str) -> URL:
    """``url`` parsed, with the driver the store uses; a RuntimeError for anything it cannot use."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise RuntimeError(f"The database URL is not a URL SQLAlchemy understands: {FIX}.") from None
    if parsed.drivername.split("+")[0] == "postgres":
        # What Heroku and other hosts hand out; SQLAlchemy knows PostgreSQL only as postgresql.
        parsed = parsed.set(drivername="postgresql" + parsed.drivername.removeprefix("postgres"))
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed
    if backend != "postgresql":
        raise RuntimeError(f"flask-wink supports only SQLite and PostgreSQL, not {backend}: {FIX}.")
    if "+" not in parsed.drivername:
        installed = [name for name in POSTGRES_DRIVERS if _installed(name)]
        if not installed:
            raise RuntimeError(
                'No PostgreSQL driver is installed: pip install "flask-wink[postgres]" (psycopg).'
            )
        parsed = parsed.set(drivername=f"postgresql+{installed[0]}")
    check_driver(parsed.get_driver_name())
    return parsed


def check_driver(driver: str) -> None:
    """A RuntimeError unless ``driver`` is a PostgreSQL driver the write path speaks."""
    if driver not in POSTGRES_DRIVERS:
        raise RuntimeError(
            f"flask-wink talks to PostgreSQL through psycopg or psycopg2, not {driver}: use a "
            'postgresql+psycopg:// URL (pip install "flask-wink[postgres]").'
        )


def _installed(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
