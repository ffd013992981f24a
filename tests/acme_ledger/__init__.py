"""A provider outside the package with a table of its own: Acme Verify (example_provider.py) that
also keeps each verification's last result in ``wink_acme_results``. The table is declared once,
on ``provider_metadata``; the provider's own migrations (``migrations/`` beside this module, found
by the core with no setting) create it when the provider is enabled. No core file knows of it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from example_provider import AcmeVerify
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
