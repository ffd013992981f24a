"""When a failed event is retried by itself: ``wink_events.next_attempt_at``.

A failed event is retried automatically, with a growing delay, until its attempts run out; it is
then parked as ``dead``. ``next_attempt_at`` is when its next attempt is due (NULL in every
other state). The index lets the sweep and the worker find the due ones without reading every
event. Events that failed before this revision have no time set: they wait for ``flask wink
events retry``, as they did.

Revision ID: 0005_retry_schedule
Revises: 0004_smile_id
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_retry_schedule"
down_revision = "0004_smile_id"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: SQLite's ALTER TABLE adds it in place (no table copy).
    op.add_column("wink_events", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    # Partial: only a failed event waiting for its retry has a time, so the write path (new
    # events, "handled" marks) never touches this index.
    op.create_index(
        "ix_wink_events_retry",
        "wink_events",
        ["next_attempt_at"],
        sqlite_where=sa.text("next_attempt_at IS NOT NULL"),
        postgresql_where=sa.text("next_attempt_at IS NOT NULL"),
    )
