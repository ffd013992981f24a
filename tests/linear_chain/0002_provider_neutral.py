"""Provider-neutral names and keys; every upstream user ever linked is kept.

- ``wink_users``: one row per ``(provider, upstream_user_id)`` -> ``app_user_id``, with
  ``is_current`` marking the one the app user is linked to now (at most one per app user and
  provider). The old rows move over as current ones; upstream users the old table had forgotten
  (after a relink) come back from the callbacks, which stored both ids, as not current.
- ``wink_events.smile_user_id`` -> ``upstream_user_id``.
- ``wink_accounts``: keyed by ``(provider, account_id)``; ``smile_user_id`` -> ``upstream_user_id``,
  ``provider_id`` (where the account is) -> ``institution_id``; the old rows are Smile Wink's.
- Smile Wink's ``wink_archives`` and ``wink_user_data``: a ``provider`` column, and
  ``smile_user_id`` -> ``upstream_user_id``.

Tables whose key changes are made anew under a temporary name, filled from the old one, which is
then dropped, and renamed: that works alike on SQLite (which cannot change a key in place) and on
PostgreSQL, in the one transaction the upgrade runs in.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SMILE_WINK = "smile_wink"  # the one provider of the first release


def upgrade() -> None:
    _users()
    _events()
    _accounts()
    _archives()
    _user_data()


def _users() -> None:
    op.create_table(
        "wink_users_new",
        sa.Column("provider", sa.String(50), nullable=False),
        sa.Column("upstream_user_id", sa.String(200), nullable=False),
        sa.Column("app_user_id", sa.String(200), nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "upstream_user_id", name="pk_wink_users"),
    )
    op.execute(
        "INSERT INTO wink_users_new (provider, upstream_user_id, app_user_id, is_current, created_at) "
        "SELECT provider, smile_user_id, app_user_id, TRUE, created_at FROM wink_users"
    )
    # Upstream users a relink made the old table forget: a callback stored both ids.
    op.execute(
        "INSERT INTO wink_users_new (provider, upstream_user_id, app_user_id, is_current, created_at) "
        "SELECT e.provider, e.smile_user_id, MIN(e.app_user_id), FALSE, MIN(e.received_at) "
        "FROM wink_events e WHERE e.app_user_id IS NOT NULL AND e.smile_user_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM wink_users_new u "
        "WHERE u.provider = e.provider AND u.upstream_user_id = e.smile_user_id) "
        "GROUP BY e.provider, e.smile_user_id"
    )
    op.drop_table("wink_users")
    op.rename_table("wink_users_new", "wink_users")
    op.create_index(
        "uq_wink_users_current",
        "wink_users",
        ["provider", "app_user_id"],
        unique=True,
        sqlite_where=sa.text("is_current"),
        postgresql_where=sa.text("is_current"),
    )


def _events() -> None:
    op.drop_index("ix_wink_events_smile_user", table_name="wink_events")
    op.execute("ALTER TABLE wink_events RENAME COLUMN smile_user_id TO upstream_user_id")
    op.create_index("ix_wink_events_upstream_user", "wink_events", ["provider", "upstream_user_id"])


def _accounts() -> None:
    op.create_table(
        "wink_accounts_new",
        sa.Column("provider", sa.String(50), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("upstream_user_id", sa.String(200), nullable=True),
        sa.Column("institution_id", sa.String(100), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_code", sa.String(100), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "account_id", name="pk_wink_accounts"),
    )
    op.execute(
        "INSERT INTO wink_accounts_new (provider, account_id, upstream_user_id, institution_id, status, "
        "error_code, connected_at, updated_at) "
        f"SELECT '{SMILE_WINK}', account_id, smile_user_id, provider_id, status, error_code, connected_at, "
        "updated_at FROM wink_accounts"
    )
    op.drop_table("wink_accounts")
    op.rename_table("wink_accounts_new", "wink_accounts")
    op.create_index("ix_wink_accounts_upstream_user", "wink_accounts", ["provider", "upstream_user_id"])


def _archives() -> None:
    op.add_column(
        "wink_archives", sa.Column("provider", sa.String(50), nullable=False, server_default=SMILE_WINK)
    )
    op.drop_index("ix_wink_archives_smile_user", table_name="wink_archives")
    op.execute("ALTER TABLE wink_archives RENAME COLUMN smile_user_id TO upstream_user_id")
    op.create_index("ix_wink_archives_upstream_user", "wink_archives", ["provider", "upstream_user_id"])


def _user_data() -> None:
    op.add_column(
        "wink_user_data", sa.Column("provider", sa.String(50), nullable=False, server_default=SMILE_WINK)
    )
    op.execute("ALTER TABLE wink_user_data RENAME COLUMN smile_user_id TO upstream_user_id")


def downgrade() -> None:
    raise NotImplementedError("flask-wink's migrations go forward only: restore a backup to go back.")
