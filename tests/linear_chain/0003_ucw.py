"""The Universal Connect Widget's confirmed connections and their data: ``wink_ucw_connections``.

One row per connection UCW confirmed, keyed by the account id the connection's status is
recorded under in ``wink_accounts`` (a digest of its aggregator and connection id).

Revision ID: 0003_ucw
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_ucw"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wink_ucw_connections",
        sa.Column("account_id", sa.String(200), primary_key=True),
        sa.Column("upstream_user_id", sa.String(200), nullable=False),
        sa.Column("app_user_id", sa.String(200), nullable=True),
        sa.Column("aggregator", sa.String(100), nullable=False),
        sa.Column("connection_id", sa.String(200), nullable=False),
        sa.Column("institution_id", sa.String(100), nullable=True),
        sa.Column("institution_name", sa.String(200), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_wink_ucw_connections_upstream_user_id", "wink_ucw_connections", ["upstream_user_id"]
    )
