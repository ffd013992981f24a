"""Personal data encrypted at rest: ``WINK_ENCRYPTION_KEYS`` and the values sealed under it.

``cryptography``'s Fernet (AES-128-CBC with an HMAC-SHA256 over it, a timestamp and a random IV)
through ``MultiFernet``: the first key seals, every key listed opens, so keys rotate without a
moment when stored values cannot be read. No cipher of our own.

A sealed value is ``wenc1:`` followed by the Fernet token. The mark tells sealed values from
ones stored before keys were set, which stay readable as they are until ``flask wink keys
rotate`` seals them. What is sealed: each event's payload and error, and the columns each provider
declares in its ``personal_data``. Ids, statuses and times stay clear: queries filter and sort by
them, and they say nothing about a person on their own.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ..errors import Misconfigured

#: What every sealed value starts with (the scheme's version: a later one gets ``wenc2:``).
MARK = "wenc1:"
#: The setting that holds the keys, named in every message.
SETTING = "WINK_ENCRYPTION_KEYS"
#: Where a store's keyring is kept on its engine's dialect, for :class:`Sealed` columns (a column
#: type sees the dialect, never the store; each engine has a dialect of its own).
DIALECT_ATTRIBUTE = "wink_keyring"


class WrongEncryptionKey(Misconfigured):
    """A stored value that no key in ``WINK_ENCRYPTION_KEYS`` opens (or keys are missing): the
    store refuses to hand back anything rather than garbage. A 500 whose one-line message says the
    fix and never shows a key or the value."""

    page_title = "This site cannot read its data"


def generate_key() -> str:
    """A new random key, as ``WINK_ENCRYPTION_KEYS`` takes it (32 bytes, URL-safe base64)."""
    return Fernet.generate_key().decode("ascii")


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


class Keyring:
    """The keys of ``WINK_ENCRYPTION_KEYS``: :meth:`seal` under the first, :meth:`open` under any."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ValueError(f"{SETTING} lists no key")
        fernets = []
        for n, key in enumerate(keys, 1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError, binascii.Error):
                # The key itself is never shown: only which one is wrong.
                raise RuntimeError(
                    f"{SETTING}: the {_ordinal(n)} key is not a Fernet key (32 bytes in URL-safe "
                    "base64, 44 characters): make one with `flask wink keys generate`."
                ) from None
        self._first = fernets[0]
        self._all = MultiFernet(fernets)
        #: How many keys it holds.
        self.size = len(fernets)

    @classmethod
    def from_setting(cls, value: Any) -> Keyring | None:
        """The keyring ``WINK_ENCRYPTION_KEYS`` holds: a list of keys or one comma-separated string;
        None when it is empty or unset (nothing is sealed)."""
        if value is None:
            return None
        if isinstance(value, str | bytes):
            text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
            keys = [part.strip() for part in text.split(",")]
        elif isinstance(value, Iterable):
            keys = [str(part).strip() for part in value]
        else:
            raise RuntimeError(f"{SETTING} must be a list of keys or a comma-separated string.")
        keys = [key for key in keys if key]
        return cls(keys) if keys else None

    def seal(self, text: str) -> str:
        """``text`` sealed under the first key, marked."""
        return MARK + self._all.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        """The clear text of a stored value: sealed ones opened by any key, clear ones as they are."""
        if not stored.startswith(MARK):
            return stored
        try:
            return self._all.decrypt(stored[len(MARK):].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise WrongEncryptionKey(
                f"A stored value was sealed under a key that {SETTING} does not list: add that key "
                "back to the list (the first key seals, every key listed opens)."
            ) from None

    def current(self, stored: str) -> bool:
        """Whether a stored value is already sealed under the first key (rotation leaves it)."""
        if not stored.startswith(MARK):
            return False
        try:
            self._first.decrypt(stored[len(MARK):].encode("ascii"))
        except InvalidToken:
            return False
        return True

    def reseal(self, stored: str) -> str:
        """A stored value (sealed under any key listed, or clear) sealed under the first key."""
        return self.seal(self.open(stored))


def reveal(keyring: Keyring | None, stored: str | None) -> str | None:
    """The clear text of a stored value for a store with ``keyring`` (None: no keys set)."""
    if stored is None or not stored.startswith(MARK):
        return stored
    if keyring is None:
        raise WrongEncryptionKey(
            f"The database holds encrypted values but {SETTING} is not set: set it to the keys "
            "they were sealed under."
        )
    return keyring.open(stored)


def is_key(text: str) -> bool:
    """Whether ``text`` is a key :func:`generate_key` could have made."""
    try:
        return len(base64.urlsafe_b64decode(text.encode("ascii"))) == 32 and len(text) == 44
    except (ValueError, binascii.Error):
        return False


class Sealed(sa.types.TypeDecorator):
    """A text column whose values are sealed on the way in and opened on the way out, under the
    keyring of the store whose engine runs the statement (none: stored as given).

    Never compare such a column with a value in SQL: a sealed value differs at every write.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        keyring = getattr(dialect, DIALECT_ATTRIBUTE, None)
        if keyring is None or value is None:
            return value
        return keyring.seal(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return reveal(getattr(dialect, DIALECT_ATTRIBUTE, None), value)


def seal_columns(tables: Iterable[sa.Table], declared: Mapping[str, Sequence[str]], owner: str) -> None:
    """Make the columns ``declared`` (table name -> column names, from a provider's
    ``personal_data``) of ``tables`` :class:`Sealed`; once per column, whatever the app."""
    by_name = {table.name: table for table in tables}
    for table_name, columns in declared.items():
        table = by_name.get(table_name)
        if table is None:
            raise RuntimeError(
                f"{owner}'s personal_data names the table {table_name}, which it does not declare."
            )
        for name in columns:
            if name not in table.c:
                raise RuntimeError(
                    f"{owner}'s personal_data names {table_name}.{name}, which is not a column."
                )
            column = table.c[name]
            if not isinstance(column.type, Sealed):
                column.type = Sealed()


def sealed_columns(tables: Iterable[sa.Table]) -> dict[sa.Table, list[sa.Column]]:
    """The :class:`Sealed` columns of ``tables``, by table (what ``flask wink keys rotate`` reseals)."""
    found: dict[sa.Table, list[sa.Column]] = {}
    for table in tables:
        columns = [c for c in table.c if isinstance(c.type, Sealed)]
        if columns:
            found[table] = columns
    return found


def reseal_table(
    engine: sa.Engine, keyring: Keyring, table: sa.Table, columns: Sequence[sa.Column], *, batch: int = 500
) -> tuple[int, int]:
    """Seal every value of ``columns`` in ``table`` under the first key: clear ones and ones sealed
    under another key listed. ``(resealed, already current)`` rows.

    ``batch`` rows at a time, each batch a short transaction of its own read by primary key after
    the last one (never one statement over the whole table), so the app goes on serving. Each
    row's update is guarded by the values it read: a row the app changed meanwhile is left as
    the app wrote it.
    """
    key = list(table.primary_key.columns)
    # The stored text as it is, past the Sealed type's own sealing and opening.
    raw = [sa.type_coerce(c, sa.Text) for c in columns]
    names = [c.name for c in columns]
    read = sa.select(*key, *raw).order_by(*key).limit(batch)
    unchanged = [c.is_not_distinct_from(sa.bindparam(f"old_{c.name}", type_=sa.Text)) for c in columns]
    update = table.update().where(
        *[k == sa.bindparam(f"k_{k.name}", type_=k.type) for k in key], *unchanged
    ).values({n: sa.bindparam(f"new_{n}", type_=sa.Text) for n in names})
    resealed = current = 0
    last: tuple[Any, ...] | None = None
    while True:
        query = read
        if last is not None:
            query = query.where(sa.tuple_(*key) > sa.tuple_(*last)) if len(key) > 1 else query.where(
                key[0] > last[0]
            )
        with engine.begin() as conn:
            rows = conn.execute(query).all()
            changes = []
            for row in rows:
                ids, values = row[: len(key)], row[len(key):]
                if all(v is None or keyring.current(v) for v in values):
                    current += 1
                    continue
                change = {f"k_{k.name}": i for k, i in zip(key, ids, strict=True)}
                for n, v in zip(names, values, strict=True):
                    change[f"old_{n}"] = v
                    change[f"new_{n}"] = None if v is None else keyring.reseal(v)
                changes.append(change)
            for change in changes:
                # One row at a time: a guarded update's row count says whether it still held.
                resealed += conn.execute(update, change).rowcount
        if len(rows) < batch:
            return resealed, current
        last = tuple(rows[-1][: len(key)])


def reclaim(engine: sa.Engine, tables: Iterable[str]) -> None:
    """Rewrite the database so that old copies of rewritten values leave the disk: an UPDATE
    leaves the old row's bytes in free pages (SQLite) or dead tuples (PostgreSQL) until then.
    SQLite: ``VACUUM`` and a truncated write-ahead log; PostgreSQL: ``VACUUM FULL`` of ``tables``.
    Writers wait while it runs."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            for table in tables:
                conn.exec_driver_sql(f'VACUUM FULL "{table}"')
