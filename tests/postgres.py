"""Fresh PostgreSQL databases for this project's own tests and benchmarks (not part of the package)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

#: Where :func:`fresh_postgres_database` creates databases (a role with CREATEDB); `make test`
#: starts a local server with such a role, WINK_TEST_POSTGRES_URL names another one.
POSTGRES_URL = os.environ.get("WINK_TEST_POSTGRES_URL", "postgresql+psycopg://wink:wink@127.0.0.1:5432/postgres")


@contextmanager
def fresh_postgres_database(admin_url: str = POSTGRES_URL) -> Iterator[str]:
    """Create an empty PostgreSQL database for the block and drop it afterwards; yields its URL."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"wink_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise RuntimeError(
            f"PostgreSQL is needed here ({exc.orig}); `make test` starts it, or set WINK_TEST_POSTGRES_URL."
        ) from None
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
