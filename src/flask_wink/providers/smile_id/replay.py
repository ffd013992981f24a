"""Signatures already accepted: a signature may come again only with the same result.

Smile ID's signature covers ``timestamp + partner_id``, not the result, so whoever learns one
signature could send it, within the freshness window, with another result. The kit never stores
or shows a signature; on top of that it keeps a digest of each accepted one with the result it came
with (``wink_smile_id_signatures``) and refuses the same signature with a different result. Rows
older than the freshness window (plus the allowed clock skew) can no longer match a fresh
callback and are removed as new ones arrive.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ...store import Store, provider_metadata
from .results import NAME

#: Created by Smile ID's own migrations (smile_id/migrations/, from 0004_smile_id on), when
#: Smile ID is enabled.
signatures = sa.Table(
    "wink_smile_id_signatures",
    provider_metadata(NAME),
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("result_key", sa.String(200), nullable=False),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_wink_smile_id_signatures_seen_at", "seen_at"),
)


def digest_of(signature: str) -> str:
    """What is kept of a signature: its SHA-256, which cannot be turned back into it."""
    return hashlib.sha256(signature.encode()).hexdigest()


def accept_once(store: Store, signature: str, result_key: str, now: float, keep_for: float) -> bool:
    """Record ``signature`` as accepted with ``result_key``; False when it was accepted before
    with another result (a replay). The same signature with the same result (a redelivery) is
    accepted again."""
    digest = digest_of(signature)
    moment = datetime.fromtimestamp(now, UTC)
    with store.begin() as conn:
        conn.execute(signatures.delete().where(signatures.c.seen_at < moment - timedelta(seconds=keep_for)))
    row = {"digest": digest, "result_key": result_key[:200], "seen_at": moment}
    try:
        with store.begin() as conn:
            conn.execute(signatures.insert().values(**row))
        return True
    except IntegrityError:
        pass
    with store.begin() as conn:
        earlier = conn.scalar(sa.select(signatures.c.result_key).where(signatures.c.digest == digest))
    return earlier is None or earlier == result_key[:200]
