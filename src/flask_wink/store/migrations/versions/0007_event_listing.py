"""The events listing reads only listed events: ``ix_wink_events_listed``.

``/wink/events`` (and ``flask wink events``) leaves out pruned events, whose rows stay for the
dedupe window with only their key. Walking the primary key past them read every one: a poller's
``?after=`` near the oldest events read each of a million pruned rows (0.7 s) before the first
it listed. The partial index holds the ids of the listed events alone, in order, so the newest,
and the oldest after an id, are read from it whatever the pruned rows number. Its condition is
the listing's own, word for word (``state <> 'pruned'``, a literal), as the databases need to
use a partial index.

Revision ID: 0007_event_listing
Revises: 0006_erasure
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_event_listing"
down_revision = "0006_erasure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_wink_events_listed",
        "wink_events",
        ["id"],
        sqlite_where=sa.text("state <> 'pruned'"),
        postgresql_where=sa.text("state <> 'pruned'"),
    )


def downgrade() -> None:
    op.drop_index("ix_wink_events_listed", table_name="wink_events")
