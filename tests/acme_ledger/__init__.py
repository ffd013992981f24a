"""A provider outside the package with a table of its own: Acme Verify (example_provider.py) that
also keeps each verification's last result in ``wink_acme_results``. The table is declared once,
on ``provider_metadata``; the provider's own migrations (``migrations/`` beside this module, found
by the core with no setting) create it when the provider is enabled. No core file knows of it."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import sqlalchemy as sa

from example_provider import SIGNATURE_HEADER, TIMESTAMP_HEADER, AcmeVerify, sign
from flask_wink.store import provider_metadata

NAME = "acme_ledger"

#: Created by migrations/acme_ledger_0001.py, when the provider is enabled.
results = sa.Table(
    "wink_acme_results",
    provider_metadata(NAME),
    sa.Column("job_id", sa.String(200), primary_key=True),
    sa.Column("verification", sa.String(200), nullable=False),
    sa.Column("result", sa.String(20), nullable=False),
)


class AcmeLedger(AcmeVerify):
    """Acme Verify, writing each signed result to its own table as it is handled."""

    name = NAME
    title = "Acme Ledger"

    def remember(self, app: Any, state: Any, event: Any, errors: list[str]) -> None:
        super().remember(app, state, event, errors)
        with state.store.begin() as conn:
            conn.execute(results.insert().values(
                job_id=event.event_id, verification=str(event.payload["verification"]), result=event.name
            ))


def post_signed(base_url: str, ledger: AcmeVerify, body: dict) -> httpx.Response:
    """Deliver ``body`` to the served app at ``base_url`` as Acme signs its webhooks, now."""
    raw, timestamp = json.dumps(body).encode(), str(time.time())
    return httpx.post(base_url + "/wink/acme-ledger/webhooks", content=raw, headers={
        "Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(raw, timestamp, ledger.secret),
    })
