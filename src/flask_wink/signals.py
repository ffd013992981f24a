"""Signals the core sends; connect with ``signal.connect(fn)``. Providers add their own
(e.g. :mod:`flask_wink.providers.smile_wink.signals`).

Every receiver gets the Flask app as sender and, except for ``token_minted``, ``event`` (a
:class:`~flask_wink.store.StoredEvent`, whose ``provider`` says whose it is) among its keyword
arguments. A receiver that raises is logged; the event is then marked failed and
``flask wink events retry`` runs its receivers again, so receivers should not mind running twice.
"""

from __future__ import annotations

import logging
from typing import Any

from blinker import Namespace

log = logging.getLogger("flask_wink")

_signals = Namespace()

#: A browser event (a widget callback) was recorded. kwargs: event, name, args.
callback_received = _signals.signal("callback-received")
#: A verified, first-seen server-to-server message (webhook) was stored. kwargs: event, type, payload.
webhook_received = _signals.signal("webhook-received")
#: An account's last known status changed. kwargs: event (None when changed through the kit),
#: provider, account_id, status, upstream_user_id.
account_status_changed = _signals.signal("account-status-changed")
#: An account was confirmed connected: by a signed message ("webhook") or by the upstream when the
#: kit asked it about a connection the browser reported ("upstream"); so for Smile usually twice.
#: Never for a browser's report alone. kwargs: event, provider, account_id, source.
account_connected = _signals.signal("account-connected")
#: A link was started for a user. kwargs: provider, app_user_id, upstream_user_id, created_user.
token_minted = _signals.signal("token-minted")


def send(app: Any, signal: Any, errors: list[str] | None = None, **kwargs: Any) -> None:
    """Send ``signal`` to each receiver for ``app``; a receiver that raises does not stop the others.

    Its error is logged and, when ``errors`` is given, added to it (the event is then marked failed).
    """
    for receiver in signal.receivers_for(app):
        try:
            receiver(app, **kwargs)
        except Exception as exc:
            event = kwargs.get("event")
            log.exception(
                "a receiver of %s failed%s", signal.name, f" for event {event.id}" if event else ""
            )
            if errors is not None:
                name = getattr(receiver, "__qualname__", repr(receiver))
                errors.append(f"{signal.name} -> {name}: {exc!r}")
