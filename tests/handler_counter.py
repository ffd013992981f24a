"""A QUICKSTART_HOOKS hook for the multi-process tests: records every handler run in the database."""

from __future__ import annotations

import os

import sqlalchemy as sa

from flask_wink import get_state, signals

runs = sa.Table(
    "test_handler_runs",
    sa.MetaData(),
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
)


def setup(app) -> None:
    engine = get_state(app).store.engine
    try:
        runs.create(engine, checkfirst=True)
    except sa.exc.DatabaseError:
        pass  # the other process created it first

    def record(sender, event, **_):
        with engine.begin() as conn:
            conn.execute(runs.insert().values(event_id=event.event_id, pid=os.getpid()))

    signals.webhook_received.connect(record, sender=app, weak=False)
