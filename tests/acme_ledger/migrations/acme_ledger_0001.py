"""Acme Ledger's results: ``wink_acme_results``.

Revision ID: acme_ledger_0001
Revises:
Depends on: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "acme_ledger_0001"
down_revision = None
branch_labels = ("acme_ledger",)
depends_on = "0002"


def upgrade() -> None:
    op.create_table(
        "wink_acme_results",
        sa.Column("job_id", sa.String(200), primary_key=True),
        sa.Column("verification", sa.String(200), nullable=False),
        sa.Column("result", sa.String(20), nullable=False),
    )
