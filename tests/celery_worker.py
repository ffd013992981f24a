"""What tests/test_celery.py runs in its Celery workers: the example app of docs/production.md
(``yourapp.py``, written next to the worker by the test), plus one receiver that records every
handler run in the database, and fails or hangs for the events whose account id says so:

- ``fail-once-…``: raises on the event's first attempt, succeeds on the next;
- ``fail-always-…``: raises on every attempt (the event ends dead);
- ``hang-…``: in a worker started with ``WINK_TEST_HANG_FILE``, writes its pid there and sleeps
  (until the test kills the worker); elsewhere it runs as usual.

``celery -A celery_worker:celery_app worker`` runs it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy as sa
from yourapp import app, celery_app

from flask_wink import get_state, signals

runs = sa.Table(
    "test_celery_runs",
    sa.MetaData(),
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)


def record(sender, event, payload, **_) -> None:
    account = str(payload.get("data", {}).get("accountId", ""))
    hang = os.environ.get("WINK_TEST_HANG_FILE")
    if hang and account.startswith("hang-"):
        Path(hang).write_text(str(os.getpid()))
        time.sleep(600)
    fails = account.startswith("fail-always-") or (account.startswith("fail-once-") and event.attempts == 1)
    with engine.begin() as conn:
        conn.execute(runs.insert().values(event_id=event.event_id, attempt=event.attempts, pid=os.getpid(),
                                          outcome="failed" if fails else "ok", at=time.time()))
    if fails:
        raise RuntimeError("the downstream is down")


engine = get_state(app).store.engine
runs.create(engine, checkfirst=True)
signals.webhook_received.connect(record, sender=app, weak=False)

__all__ = ["app", "celery_app"]
