"""Smile ID's accepted callback signatures: ``wink_smile_id_signatures``.

Smile ID signs a callback over its timestamp and partner id only, not over the result it carries.
Each accepted signature is kept (as a digest, never the signature itself) with the result it came
with, for as long as a callback with it could still be fresh, so that the same signature cannot
be sent again with another result.

The first revision of Smile ID's own branch (labelled ``smile_id``), run when Smile ID is enabled. It keeps
the id it had in the core's linear history of earlier releases, so the version row those wrote
still names a revision this knows (``flask_wink.store.migrations._adopt_moved`` completes it). The
columns are frozen here as this revision made them; the table's one declaration at run time is
smile_id/replay.py.

Revision ID: 0004_smile_id
Revises:
Depends on: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_smile_id"
down_revision = None
branch_labels = ("smile_id",)
depends_on = "0002"


def upgrade() -> None:
    op.create_table(
        "wink_smile_id_signatures",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("result_key", sa.String(200), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_wink_smile_id_signatures_seen_at", "wink_smile_id_signatures", ["seen_at"])
