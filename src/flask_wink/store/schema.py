"""The core's tables, as the newest migration leaves them (:mod:`.migrations` creates them).

Every table names the provider (the upstream, e.g. ``"smile_wink"``) its rows come from, so that
one database holds the users, events and accounts of several upstreams side by side.

Users: one row per upstream user ever linked, keyed ``(provider, upstream_user_id)`` -> the app
user. When an upstream forgets a user and the kit makes another one for the same app user
(relinking), the old row stays, marked not current, and the new one is the current one: a
partial unique index lets each app user have at most one current upstream user per provider. So
``app_user_id(provider, old_id)`` still answers, and events stored under an old upstream user id
still list under their app user.

A provider declares its own tables on :func:`provider_metadata` (its name): its own migrations
create them when it is enabled, and :meth:`~flask_wink.store.Store.init` checks that each one exists.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "wink_users",
    metadata,
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("upstream_user_id", sa.String(200), nullable=False),
    sa.Column("app_user_id", sa.String(200), nullable=False),
    # The upstream user the app user is linked to now; older ones stay for their events.
    sa.Column("is_current", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("provider", "upstream_user_id", name="pk_wink_users"),
    sa.Index(
        "uq_wink_users_current",
        "provider",
        "app_user_id",
        unique=True,
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    ),
)

#: "The current upstream user" as queries must say it: the partial index's own condition, word for
#: word. SQLAlchemy renders ``users.c.is_current`` as ``is_current = 1`` on SQLite, which SQLite
#: does not match with the index's ``WHERE is_current``: it read every user of the provider instead.
IS_CURRENT = sa.literal_column("wink_users.is_current")

events = sa.Table(
    "wink_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20), nullable=False),  # "callback" or "webhook"
    sa.Column("name", sa.String(100), nullable=False),  # callback name or webhook type
    # The upstream's event id for webhooks; NULL for callbacks (NULLs never collide in a unique index).
    sa.Column("event_id", sa.String(200), nullable=True),
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("app_user_id", sa.String(200), nullable=True),
    sa.Column("upstream_user_id", sa.String(200), nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    # Handling: pending -> handling -> handled | failed (retried when next_attempt_at is due) ->
    # dead once its attempts ran out (failed and dead ones can be retried by hand).
    sa.Column("state", sa.String(20), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("claimed_by", sa.String(100), nullable=True),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
    # When a failed event's next automatic attempt is due; NULL in every other state.
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("provider", "kind", "event_id", name="uq_wink_events_delivery"),
    sa.Index("ix_wink_events_upstream_user", "provider", "upstream_user_id"),
    sa.Index("ix_wink_events_app_user", "app_user_id"),
    sa.Index("ix_wink_events_state", "state", "id"),
    # The due retries (next_attempt_at <= now). Only a failed event waiting for its retry has a
    # next_attempt_at, so the partial index holds those alone: new events and their "handled"
    # marks, the write path, never touch it.
    sa.Index(
        "ix_wink_events_retry",
        "next_attempt_at",
        sqlite_where=sa.text("next_attempt_at IS NOT NULL"),
        postgresql_where=sa.text("next_attempt_at IS NOT NULL"),
    ),
)

accounts = sa.Table(
    "wink_accounts",
    metadata,
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("account_id", sa.String(200), nullable=False),
    sa.Column("upstream_user_id", sa.String(200), nullable=True),
    # Where the account is: the institution or platform, as the upstream names it.
    sa.Column("institution_id", sa.String(100), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error_code", sa.String(100), nullable=True),
    sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("provider", "account_id", name="pk_wink_accounts"),
    sa.Index("ix_wink_accounts_upstream_user", "provider", "upstream_user_id"),
)

#: One row per erasure (``flask wink users erase``): the audit line. No personal data: when, the
#: app's own id of the user, who ran it, and counts (rows deleted per table, as JSON; and what
#: each upstream answered, counts and statuses only).
erasures = sa.Table(
    "wink_erasures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("app_user_id", sa.String(200), nullable=False),
    sa.Column("erased_by", sa.String(200), nullable=False),
    sa.Column("counts", sa.Text, nullable=False),  # JSON: {table: rows deleted}
    sa.Column("upstream", sa.Text, nullable=True),  # JSON: {provider: {asked, ok, answer}}; NULL: not asked
)

#: The tombstone of each erased upstream user: a webhook naming one is acknowledged and dropped
#: (by a trigger on ``wink_events``, in the insert statement itself: no query of its own), and
#: ``dropped`` counts them. A new link of the same upstream user id lifts its tombstone (a trigger
#: on ``wink_users``). Keyed like ``wink_users``, so each lookup is one index probe.
erased_users = sa.Table(
    "wink_erased_users",
    metadata,
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("upstream_user_id", sa.String(200), nullable=False),
    # Whose it was: an erasure run again finds what a late handler wrote under this upstream user.
    sa.Column("app_user_id", sa.String(200), nullable=False),
    sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("dropped", sa.Integer, nullable=False, server_default="0"),
    sa.PrimaryKeyConstraint("provider", "upstream_user_id", name="pk_wink_erased_users"),
    sa.Index("ix_wink_erased_users_app_user", "app_user_id"),
)

#: The tables of each provider, by provider name (see provider_metadata).
_PROVIDER_METADATA: dict[str, sa.MetaData] = {}


def provider_metadata(provider: str) -> sa.MetaData:
    """The MetaData the provider ``provider`` declares its own tables on (their one declaration
    at run time).

    The tables are created by the provider's own migrations (see :mod:`.migrations`), run when it
    is enabled; ``Store.init`` refuses to start when one of an enabled provider's tables has none.
    """
    return _PROVIDER_METADATA.setdefault(provider, sa.MetaData())


def provider_tables(provider: str | None = None) -> list[sa.Table]:
    """The tables declared so far by the provider ``provider``, or by every provider."""
    metas = _PROVIDER_METADATA.values() if provider is None else [_PROVIDER_METADATA.get(provider)]
    return [table for meta in metas if meta is not None for table in meta.sorted_tables]
