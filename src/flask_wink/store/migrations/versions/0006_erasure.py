"""Erasing an app user: the audit line of each erasure, and a tombstone per erased upstream user.

- ``wink_erasures``: one row per ``flask wink users erase`` (or ``erase_user``): when, the app's
  id of the user, who ran it, counts per table and what the upstreams answered; no personal data.
- ``wink_erased_users``: ``(provider, upstream_user_id)`` of each upstream user erased, whose it
  was (so that an erasure run again finds what a late handler wrote), and how many webhooks naming
  them were dropped since.
- A trigger on ``wink_events`` drops a webhook that names an erased upstream user, inside the
  insert statement the write path sends anyway (no query of its own per webhook), and counts it;
  the insert then reports no new row, as for a redelivery, and the sender gets its 2xx. Webhooks
  that name no user, and callbacks, skip it in the trigger's ``WHEN``; so does a row without an
  event id, which the write path counts as new whatever happens (see ``statements``).
- A trigger on ``wink_users`` lifts the tombstone of an upstream user id linked again (an app that
  makes its upstream user ids from its own, say): the new link's webhooks are the user's again.

Revision ID: 0006_erasure
Revises: 0005_retry_schedule
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_erasure"
down_revision = "0005_retry_schedule"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER wink_events_drop_erased BEFORE INSERT ON wink_events
    WHEN NEW.kind = 'webhook' AND NEW.event_id IS NOT NULL AND NEW.upstream_user_id IS NOT NULL
    AND EXISTS (
        SELECT 1 FROM wink_erased_users
        WHERE provider = NEW.provider AND upstream_user_id = NEW.upstream_user_id)
    BEGIN
        UPDATE wink_erased_users SET dropped = dropped + 1
        WHERE provider = NEW.provider AND upstream_user_id = NEW.upstream_user_id;
        -- The row is skipped; the UPDATE above stays (RAISE(IGNORE) rolls nothing back).
        SELECT RAISE(IGNORE);
    END
    """,
    """
    CREATE TRIGGER wink_users_lift_tombstone AFTER INSERT ON wink_users
    BEGIN
        DELETE FROM wink_erased_users
        WHERE provider = NEW.provider AND upstream_user_id = NEW.upstream_user_id;
    END
    """,
)

POSTGRESQL_TRIGGERS = (
    """
    CREATE FUNCTION wink_drop_erased() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE wink_erased_users SET dropped = dropped + 1
        WHERE provider = NEW.provider AND upstream_user_id = NEW.upstream_user_id;
        IF FOUND THEN
            RETURN NULL;  -- the row is skipped
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER wink_events_drop_erased BEFORE INSERT ON wink_events FOR EACH ROW
    WHEN (NEW.kind = 'webhook' AND NEW.event_id IS NOT NULL AND NEW.upstream_user_id IS NOT NULL)
    EXECUTE PROCEDURE wink_drop_erased()
    """,
    """
    CREATE FUNCTION wink_lift_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM wink_erased_users
        WHERE provider = NEW.provider AND upstream_user_id = NEW.upstream_user_id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER wink_users_lift_tombstone AFTER INSERT ON wink_users FOR EACH ROW
    EXECUTE PROCEDURE wink_lift_tombstone()
    """,
)


def upgrade() -> None:
    op.create_table(
        "wink_erasures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("app_user_id", sa.String(200), nullable=False),
        sa.Column("erased_by", sa.String(200), nullable=False),
        sa.Column("counts", sa.Text, nullable=False),
        sa.Column("upstream", sa.Text, nullable=True),
    )
    op.create_table(
        "wink_erased_users",
        sa.Column("provider", sa.String(50), nullable=False),
        sa.Column("upstream_user_id", sa.String(200), nullable=False),
        sa.Column("app_user_id", sa.String(200), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dropped", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("provider", "upstream_user_id", name="pk_wink_erased_users"),
    )
    op.create_index("ix_wink_erased_users_app_user", "wink_erased_users", ["app_user_id"])
    triggers = POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)
