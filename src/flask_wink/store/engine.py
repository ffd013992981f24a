"""The engine for a database URL: SQLite files get WAL, full fsync and a busy timeout."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def create_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, full fsync on commit and a busy timeout."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
