"""The first release's tables (0.1.0), created as that release created them.

Revision ID: 0001
Revises:
"""

from alembic import op

from flask_wink.store.migrations import legacy

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    legacy.metadata.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    legacy.metadata.drop_all(op.get_bind())
