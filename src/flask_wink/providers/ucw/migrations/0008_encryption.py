"""Room for encrypted values in ``wink_ucw_connections``: ``connection_id`` and
``institution_name`` become TEXT.

Both are encrypted at rest when ``WINK_ENCRYPTION_KEYS`` is set, and an encrypted value (a
Fernet token, marked) is several times longer than the 200 characters the columns held. Neither is
compared with a value in any query (a connection is found by its account id), so nothing else
changes. SQLite does not enforce a VARCHAR's length: there the columns stay as they are.

Revision ID: 0008_encryption
Revises: 0003_ucw
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_encryption"
down_revision = "0003_ucw"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for column in ("connection_id", "institution_name"):
        op.alter_column("wink_ucw_connections", column, type_=sa.Text, existing_type=sa.String(200))
