"""The tables exactly as the first release (0.1.0) created them, frozen: migration 0001 creates
them, and a database that release made (no version table) is recognised by them.

Never change this file: a later schema is a later migration.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

sa.Table(
    "wink_users",
    metadata,
    sa.Column("app_user_id", sa.String(200), primary_key=True),
    sa.Column("smile_user_id", sa.String(200), nullable=False, unique=True),
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

sa.Table(
    "wink_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("event_id", sa.String(200), nullable=True),
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("app_user_id", sa.String(200), nullable=True),
    sa.Column("smile_user_id", sa.String(200), nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("state", sa.String(20), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("claimed_by", sa.String(100), nullable=True),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("provider", "kind", "event_id", name="uq_wink_events_delivery"),
    sa.Index("ix_wink_events_smile_user", "smile_user_id"),
    sa.Index("ix_wink_events_app_user", "app_user_id"),
    sa.Index("ix_wink_events_state", "state", "id"),
)

sa.Table(
    "wink_accounts",
    metadata,
    sa.Column("account_id", sa.String(200), primary_key=True),
    sa.Column("smile_user_id", sa.String(200), nullable=True),
    sa.Column("provider_id", sa.String(100), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error_code", sa.String(100), nullable=True),
    sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Smile Wink's own tables (flask_wink.archives, flask_wink.userdata).
sa.Table(
    "wink_archives",
    metadata,
    sa.Column("archive_id", sa.String(200), primary_key=True),
    sa.Column("smile_user_id", sa.String(200), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("type", sa.String(50), nullable=True),
    sa.Column("file_names", sa.Text, nullable=False, server_default="[]"),
    sa.Column("analysis", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_wink_archives_smile_user", "smile_user_id"),
)

sa.Table(
    "wink_user_data",
    metadata,
    sa.Column("smile_user_id", sa.String(200), primary_key=True),
    sa.Column("app_user_id", sa.String(200), nullable=True),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
)
